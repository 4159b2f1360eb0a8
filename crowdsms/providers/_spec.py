"""What the rest of the SDK knows about a provider: one :class:`ProviderSpec` per provider.

Each provider folder defines its spec in ``_provider.py``; :mod:`crowdsms.providers._registry`
collects them. The command line, config loading, the sandbox's routing and settings and the
contract test suite loop over the registry instead of naming providers, so a new provider is
one folder, one registry entry and one emulator in the sandbox.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from crowdsms._client import AsyncClientBase
from crowdsms._codes import CodeInfo, explain_code
from crowdsms.errors import ConfigurationError
from crowdsms.outcomes import ChunkSender

if TYPE_CHECKING:
    # Only a type here: importing the webhooks package when the registry loads is not needed.
    from crowdsms.webhooks._events import Event

__all__ = [
    "CredentialField",
    "MessageOptions",
    "ProviderSpec",
    "SignatureVector",
    "require_option",
]


@attrs.frozen(kw_only=True)
class CredentialField:
    """One credential a client takes: its constructor keyword, also its config-file key."""

    name: str
    """The constructor keyword and the config key, e.g. ``app_id``."""
    secret: bool = False
    """Whether it is a secret (masked everywhere, wrapped in :class:`~crowdsms.Secret`)."""

    def env_var(self, provider: str) -> str:
        """The environment variable that sets it: ``CROWDSMS_<PROVIDER>_<NAME>``."""
        return f"CROWDSMS_{provider.upper()}_{self.name.upper()}"


@attrs.frozen(kw_only=True)
class MessageOptions:
    """What the command line was asked to send; each provider reads the options it needs.

    ``content``, ``tag``, ``template_id``, ``sign``, ``kind``, ``project_id``,
    ``template_text`` (each provider's ``send_options`` say which it reads and what they
    mean); ``columns`` are the CSV columns that become variables.
    """

    content: str | None = None
    tag: str | None = None
    template_id: int | None = None
    sign: str | None = None
    kind: int | None = None
    project_id: int | None = None
    columns: tuple[str, ...] = ()
    template_text: str | None = None


def require_option(value: object, option: str, provider: str) -> None:
    """Raise :class:`ConfigurationError` when a command-line option a provider needs is unset."""
    if value is None:
        raise ConfigurationError(
            f"{provider} needs {option}", action=f"Pass {option} (see crowdsms send --help)"
        )


@attrs.frozen(kw_only=True)
class SignatureVector:
    """A published example: ``compute_signature(**arguments) == expected``."""

    arguments: Mapping[str, Any]
    expected: str
    source: str = ""
    """Where the example comes from (the provider's documents)."""


def _identity(column: str) -> str:
    return column


def _unknown_variables(message: MessageOptions) -> frozenset[str] | None:
    return None


@attrs.frozen(kw_only=True)
class ProviderSpec:
    """Everything the SDK outside a provider's folder needs to know about that provider."""

    name: str
    """The registry name: lower case, used in URLs, config tables and environment variables."""
    title: str
    """How people write it (the provider's own spelling)."""
    async_client: Callable[..., AsyncClientBase]
    """The async client class (called with credentials, ``base_url`` and client options)."""
    blocking_client: type[Any]
    """The blocking twin (a :class:`~crowdsms.blocking.BlockingClientBase` subclass)."""
    credentials: tuple[CredentialField, ...]
    """The constructor's credentials, identity first; config keys and variables follow."""
    default_base_url: str
    sandbox_prefix: str
    """Where the sandbox serves it, below the sandbox's URL: ``/{name}`` or longer."""
    emulator: str | type[Any]
    """The sandbox's emulator class, or ``module:Class`` to import it only when a sandbox
    starts (the built-in providers do, so the SDK does not need the sandbox's packages)."""
    chunk_sender: Callable[[Any, MessageOptions], ChunkSender]
    """Builds the batch sender's chunk sender from a client and the command-line options."""
    demo_message: MessageOptions
    """What ``crowdsms demo`` sends (its CSV has ``name`` and ``code`` columns)."""
    send_options: Mapping[str, str] = attrs.field(factory=dict)
    """The :class:`MessageOptions` fields it reads, each with what it means for it."""
    var_name: Callable[[str], str] = _identity
    """The template variable a CSV column fills (some providers write them ``%name%``)."""
    per_recipient_variables: bool = True
    """Whether a message can vary per recipient (the CLI's default variable columns)."""
    template_variables: Callable[[MessageOptions], frozenset[str] | None] = _unknown_variables
    """The variables a message uses, as CSV column names, when the SDK can tell (``None``
    when the template lives at the provider); checked against the CSV before any send."""
    fee_unit: str | None = None
    """What the provider's ``fee`` counts, if it reports one (e.g. ``SMS segments``)."""
    price_per_segment: float | None = None
    """The default estimate of one SMS segment's price, in CNY, for previews and cost caps
    (``--price`` overrides it); ``None`` where messages are not billed per segment."""
    balance_unit: str | None = None
    """What :attr:`read_balance`'s number counts, ``"segments"`` or ``"CNY"``, so a preview
    can say whether it covers the job; ``None`` when unknown (the balance is only shown)."""
    hints: Mapping[str, str] = attrs.field(factory=dict)
    """Words in an error that stopped a job -> what to do on the command line."""
    compute_signature: Callable[..., str] | None = None
    """The provider's exported signing function (keyword-only); ``None`` if it signs nothing."""
    signature_vectors: tuple[SignatureVector, ...] = ()
    codes: Mapping[str, CodeInfo] = attrs.field(factory=dict)
    """The provider's documented codes."""
    webhooks: tuple[type[Any], ...] = ()
    """Its webhook receiver classes (for :class:`~crowdsms.webhooks.WebhookApp`)."""
    read_clock: Callable[[Any], Awaitable[float]] | None = None
    """Reads the provider's clock, in Unix seconds, where it has an endpoint for that."""
    read_balance: Callable[[Any], Awaitable[str]] | None = None
    """Reads the account's balance, where the provider can tell it."""
    pull_reports: Callable[[Any, str, str | None], Awaitable[Sequence[str]]] | None = None
    """Pulls ``deliveries`` or ``replies`` (with an optional sign) as printable lines."""
    pull_events: Callable[[Any, str | None], Awaitable[Sequence[Event]]] | None = None
    """Pulls one batch of queued delivery reports and replies (with an optional SMS sign for
    replies) as webhook events: the same classes the provider's pushes become, so stored
    reports and pushed ones are handled alike. An empty result means the queues are empty.
    Pulling removes them at the provider, so the caller must store them before pulling
    again. ``None`` where the provider has no queues to pull."""
    check_credentials: Callable[[Any], Awaitable[str]] | None = None
    """Proves the credentials work without sending a message; returns what it checked.
    Raises :class:`~crowdsms.errors.AuthenticationError` (or ``SignatureError``) if refused."""
    cannot_check: str = ""
    """Why the credentials cannot be checked without sending, when ``check_credentials``
    is ``None``."""

    def explain(self, code: str | int) -> str:
        """What the provider's ``code`` means, in English."""
        return explain_code(self.codes, code, provider=self.title)

    @property
    def identity_field(self) -> CredentialField:
        """The credential that names the account (the first one)."""
        return self.credentials[0]

    def make_client(
        self,
        credentials: Mapping[str, object],
        *,
        base_url: str | None = None,
        **options: Any,
    ) -> AsyncClientBase:
        """An async client from credential values keyed by :attr:`CredentialField.name`."""
        return self.async_client(
            **credentials, base_url=base_url or self.default_base_url, **options
        )
