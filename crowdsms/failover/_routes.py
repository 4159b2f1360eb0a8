"""One provider of a failover sender: its name, its chunk sender, its codes, its variables."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias

import attrs

from crowdsms._codes import CodeInfo
from crowdsms.errors import ConfigurationError
from crowdsms.outcomes import ChunkSender, Recipient
from crowdsms.providers import _registry
from crowdsms.providers._spec import MessageOptions

__all__ = ["FailoverRoute", "RouteLike", "check_routes"]

_SENDER_PARTS = ("max_chunk_size", "supports_idempotency_key", "validate", "send_chunk")


@attrs.frozen(kw_only=True)
class FailoverRoute:
    """One provider a :class:`~crowdsms.failover.FailoverChunkSender` may send with.

    ``name`` is what outcomes' ``provider`` says (a registry name, or a label of yours, e.g.
    for two accounts of one provider). ``sender`` is the provider's chunk sender, made with
    that provider's own message definition (its content, template or sign). ``codes`` is the
    provider's code table, which says which of its per-recipient refusals may go to the next
    provider (none, when empty). ``var_name`` turns the recipients' variable names (your
    column names, e.g. ``code``) into the provider's (``%code%`` where templates write them
    so); ``None`` keeps them.

    :meth:`from_registry` fills ``codes`` and ``var_name`` from the provider registry; a
    ``(name, sender)`` pair given to the failover sender gets them too when ``name`` is a
    registered provider's.
    """

    name: str = attrs.field()
    sender: ChunkSender
    codes: Mapping[str, CodeInfo] = attrs.field(factory=dict, repr=False)
    var_name: Callable[[str], str] | None = attrs.field(default=None, repr=False)

    @name.validator
    def _check_name(self, _attribute: object, value: object) -> None:
        if not isinstance(value, str) or not value.strip():
            raise ConfigurationError(
                f"a failover provider's name must be a non-empty string, not {value!r:.40}",
                action="Name each provider by its registry name or a label of yours",
            )

    @classmethod
    def registered(cls, name: str, sender: ChunkSender) -> FailoverRoute:
        """A route for ``sender``, with the registry's codes and variable names if ``name``
        is a registered provider's (else none)."""
        if name in _registry.names():
            spec = _registry.get(name)
            return cls(name=name, sender=sender, codes=spec.codes, var_name=spec.var_name)
        return cls(name=name, sender=sender)

    @classmethod
    def from_registry(
        cls, provider: str, client: Any, message: MessageOptions, *, label: str | None = None
    ) -> FailoverRoute:
        """The route of registered ``provider``: its chunk sender for ``message``, built from
        ``client`` as the command line builds it, with its codes and variable names.

        ``message`` is that provider's own :class:`~crowdsms.providers._spec.MessageOptions`
        (see the provider's ``send_options``); ``label`` names the route instead of
        ``provider``. Raises :class:`~crowdsms.errors.ConfigurationError` for an unknown
        provider or a message missing what the provider needs.
        """
        spec = _registry.get(provider)
        sender = spec.chunk_sender(client, message)
        return cls(
            name=provider if label is None else label,
            sender=sender,
            codes=spec.codes,
            var_name=spec.var_name,
        )

    def recipient(self, recipient: Recipient) -> Recipient:
        """``recipient`` with its variables named as this provider names them."""
        rename = self.var_name
        if rename is None or not recipient.vars:
            return recipient
        return Recipient(
            phone=recipient.phone,
            vars={rename(key): value for key, value in recipient.vars.items()},
        )


RouteLike: TypeAlias = FailoverRoute | tuple[str, ChunkSender]
"""A :class:`FailoverRoute`, or a ``(name, chunk sender)`` pair."""


def _route(item: object, position: int) -> FailoverRoute:
    if isinstance(item, FailoverRoute):
        route = item
    elif isinstance(item, tuple) and len(item) == 2:
        name, sender = item
        route = FailoverRoute.registered(name, sender)
    else:
        raise ConfigurationError(
            f"failover provider {position} must be a (name, chunk sender) pair or a "
            f"FailoverRoute, not {type(item).__name__}",
            action='Pass e.g. [("primary", sender1), ("backup", sender2)]',
        )
    missing = [part for part in _SENDER_PARTS if not hasattr(route.sender, part)]
    if missing:
        raise ConfigurationError(
            f"failover provider {route.name!r} is not a chunk sender: it has no "
            f"{', '.join(missing)}",
            action="Pass each provider's chunk sender (e.g. client.sms.multisend_chunks(...))",
        )
    return route


def check_routes(routes: Sequence[RouteLike]) -> tuple[FailoverRoute, ...]:
    """The routes, checked: at least one, names distinct, each a chunk sender."""
    given: object = routes
    if isinstance(given, (str, bytes)) or not isinstance(given, Sequence):
        raise ConfigurationError(
            f"failover providers must be a list, not {type(routes).__name__}",
            action='Pass e.g. [("primary", sender1), ("backup", sender2)], in order of preference',
        )
    checked = tuple(_route(item, position) for position, item in enumerate(routes))
    if not checked:
        raise ConfigurationError(
            "a failover sender needs at least one provider",
            action="Pass the providers' chunk senders in order of preference",
        )
    names = [route.name for route in checked]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ConfigurationError(
            f"failover provider names must differ; repeated: {', '.join(repeated)}",
            action="Give each provider its own name (a label for a second account)",
        )
    return checked
