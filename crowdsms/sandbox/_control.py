"""`Sandbox`: one sandbox's state, emulators and the controls tests use at runtime.

The admin endpoints (``/_sandbox/...``) call the same methods, so a setting changed over
HTTP and one changed in Python behave the same. When the sandbox runs in a background
thread (:func:`~crowdsms.sandbox.serve_in_thread`), every control runs on the server's event
loop through a blocking portal, so calling them from the test's thread is safe.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Final, TypeVar

import anyio
import anyio.from_thread
import attrs

from crowdsms._suggest import did_you_mean
from crowdsms.providers import _registry
from crowdsms.sandbox._clock import SandboxClock
from crowdsms.sandbox._fault_log import FaultRecord
from crowdsms.sandbox._faults import FaultInjector, FaultKind, FaultSettings
from crowdsms.sandbox._ledger import Ledger, LedgerEntry
from crowdsms.sandbox._settings import SandboxSettings
from crowdsms.sandbox._state import Reply, SandboxState
from crowdsms.sandbox._webhooks import PushRecord
from crowdsms.sandbox.emulators import emulator_classes

__all__ = ["Sandbox", "prefixes"]

T = TypeVar("T")

_RUNTIME_FIELDS: Final = frozenset(
    {
        "latency",
        "delivery_failure_rate",
        "blocked_numbers",
        "strict_phone_format",
        "segment_length",
        "long_segment_length",
        "webhooks",
        "reply_webhooks",
        "webhook_attempts",
        "webhook_retry_delay",
        "webhook_timeout",
        "webhook_delay",
        "providers",
    }
)


def prefixes() -> dict[str, str]:
    """Where each registered provider is served, below the sandbox's URL."""
    return {spec.name: spec.sandbox_prefix for spec in _registry.providers()}


class Sandbox:
    """One sandbox: settings, clock, faults, ledger, and an emulator per registered provider."""

    def __init__(self, settings: SandboxSettings | None = None) -> None:
        self.state = SandboxState(settings or SandboxSettings())
        self.emulators: dict[str, Any] = {
            name: cls(self.state) for name, cls in emulator_classes().items()
        }
        """Each provider's emulator, by registry name."""
        self._url: str | None = None
        self._portal: anyio.from_thread.BlockingPortal | None = None
        self._loop_thread: int | None = None

    def __repr__(self) -> str:
        return f"<Sandbox url={self._url!r} ledger={len(self.state.ledger)}>"

    # -- where it runs ------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The server's root URL, e.g. ``http://127.0.0.1:54321``."""
        if self._url is None:
            raise RuntimeError("the sandbox is not being served; use serve() or serve_in_thread()")
        return self._url

    def emulator(self, provider: str) -> Any:
        """The emulator of ``provider``."""
        try:
            return self.emulators[provider]
        except KeyError:
            raise ValueError(
                f"the sandbox has no provider {provider!r}"
                f"{did_you_mean(provider, self.emulators)}; it has {', '.join(self.emulators)}"
            ) from None

    def base_url(self, provider: str) -> str:
        """The base URL to give ``provider``'s client: the URL and the entry's prefix."""
        self.emulator(provider)
        return self.url + _registry.get(provider).sandbox_prefix

    def credentials(self, provider: str, account: str | None = None) -> dict[str, str]:
        """The credential keywords of ``provider``'s client for an account of this sandbox."""
        emulator = self.emulator(provider)
        return dict(emulator.client_credentials(account or self.default_account(provider)))

    def client(self, provider: str, *, account: str | None = None, **options: Any) -> Any:
        """A new async client of ``provider`` for this sandbox (close it when done).

        ``options`` go to the client's constructor, e.g. ``max_connections=32``.
        """
        spec = _registry.get(provider)
        return spec.make_client(
            self.credentials(provider, account), base_url=self.base_url(provider), **options
        )

    def _attach(self, url: str | None, *, loop_thread: int | None = None) -> None:
        self._url = url
        self._loop_thread = loop_thread

    def _attach_portal(self, portal: anyio.from_thread.BlockingPortal | None) -> None:
        self._portal = portal

    def _call(self, function: Callable[..., T], *args: Any) -> T:
        portal = self._portal
        if portal is not None and threading.get_ident() != self._loop_thread:
            return portal.call(function, *args)
        return function(*args)

    # -- reading ------------------------------------------------------------------------

    @property
    def settings(self) -> SandboxSettings:
        """The current settings."""
        return self.state.settings

    @property
    def clock(self) -> SandboxClock:
        """The sandbox's clock."""
        return self.state.clock

    @property
    def faults(self) -> FaultInjector:
        """The fault injector (its ``injected`` counter says what was injected)."""
        return self.state.faults

    @property
    def ledger(self) -> Ledger:
        """Everything sent so far (time-driven work is brought up to date first)."""
        self.tick()
        return self.state.ledger

    def fault_log(self) -> list[FaultRecord]:
        """Every fault injected so far (the latest 100,000), oldest first.

        A ``drop_after`` record's ``phones`` are the numbers its request wrote to the ledger:
        sent, though the client never saw the answer.
        """
        return self.state.fault_log()

    def requests(self, provider: str | None = None) -> int:
        """How many requests the sandbox received (for ``provider``), faults included."""
        counts = self.state.requests
        return counts[provider] if provider is not None else sum(counts.values())

    @property
    def webhook_records(self) -> list[PushRecord]:
        """What became of each webhook push so far, oldest first."""
        return list(self.state.webhooks.records)

    async def wait_for_ledger(
        self, count: int, *, provider: str | None = None, within: float = 5.0
    ) -> list[LedgerEntry]:
        """Wait until the ledger holds ``count`` entries (of ``provider``); return them.

        Raises ``TimeoutError`` after ``within`` seconds. Call it on the server's loop.
        """
        with anyio.fail_after(within):
            while True:
                self.tick()
                entries = self.state.ledger.entries(provider=provider)
                if len(entries) >= count:
                    return entries
                await anyio.sleep(0.005)

    # -- changing -----------------------------------------------------------------------

    def configure(self, **changes: Any) -> SandboxSettings:
        """Change settings at runtime, e.g. ``configure(latency=0.05, webhooks={...})``.

        ``clock_offset`` and ``faults`` have their own methods; accounts and keys of the
        provider settings (``providers={...}``) may change too; secrets through
        :meth:`reset_secret`.
        """
        unknown = set(changes) - _RUNTIME_FIELDS
        if unknown:
            raise ValueError(f"these settings cannot change at runtime: {sorted(unknown)}")

        def apply() -> SandboxSettings:
            self.state.settings = attrs.evolve(self.state.settings, **changes)
            return self.state.settings

        return self._call(apply)

    def set_faults(self, settings: FaultSettings | None = None, **fields: Any) -> FaultSettings:
        """Replace the fault settings (``set_faults(rates={"drop": 0.1}, seed=7)``)."""
        new = settings if settings is not None else FaultSettings(**fields)
        self._call(self.state.faults.configure, new)
        return new

    def force_fault(
        self,
        kind: FaultKind | str,
        *,
        count: int = 1,
        provider: str | None = None,
        path: str | None = None,
    ) -> None:
        """Make the next ``count`` matching provider requests fail with ``kind``."""
        if provider is not None:
            self.emulator(provider)
        self.state.faults.force(kind, count=count, provider=provider, path=path)

    def set_clock_offset(self, seconds: float) -> None:
        """Put the sandbox's clock ``seconds`` ahead of the wall clock (behind if negative)."""
        self._call(self.state.clock.set_offset, seconds)
        self.tick()

    def advance_clock(self, seconds: float) -> None:
        """Let ``seconds`` pass on the sandbox's clock (tokens expire, tasks progress)."""
        self._call(self.state.clock.advance, seconds)
        self.tick()

    def tick(self) -> None:
        """Bring time-driven state (contact-list tasks) up to the clock."""
        self._call(self.state.tick)

    def reset_secret(
        self, provider: str, account: str | None = None, secret: str | None = None
    ) -> str:
        """Give an account a new secret (returned) and kill its tokens, where tokens exist."""
        emulator = self.emulator(provider)
        reset = getattr(emulator, "reset_secret", None)
        if reset is None:
            raise ValueError(f"{provider} has no secret reset in the sandbox")
        new_secret: str = self._call(reset, account or self.default_account(provider), secret)
        return new_secret

    def default_account(self, provider: str) -> str:
        """The first configured account of ``provider`` (its app id, user or access id)."""
        accounts: list[str] = self.emulator(provider).accounts()
        return accounts[0]

    def balance(self, provider: str, account: str | None = None) -> int:
        """An account's balance, in SMS segments."""
        return self.state.balance(provider, account or self.default_account(provider))

    def top_up(self, provider: str, amount: int, account: str | None = None) -> int:
        """Add ``amount`` (negative to take away) to an account's balance; return it."""
        return self._call(
            self.state.top_up, provider, account or self.default_account(provider), amount
        )

    def add_reply(
        self,
        provider: str,
        phone: str,
        content: str,
        *,
        account: str | None = None,
        sign: str | None = None,
    ) -> Reply:
        """An inbound SMS from ``phone``, delivered as the provider delivers replies.

        Providers whose emulator has ``push_reply`` take replies (queued for pulling,
        pushed to the reply webhook, or both, as the provider does); others raise
        ``ValueError``.
        """
        emulator = self.emulator(provider)
        if not hasattr(emulator, "push_reply"):
            repliers = [name for name, e in self.emulators.items() if hasattr(e, "push_reply")]
            raise ValueError(f"{provider} has no replies in the sandbox ({', '.join(repliers)} do)")

        def add() -> Reply:
            reply = Reply(
                provider=provider,
                account=account or self.default_account(provider),
                phone=phone,
                content=content,
                sign=sign,
                received_at=self.state.clock.now(),
                sequence_id=self.state.next_number(),
            )
            emulator.push_reply(reply)
            return reply

        return self._call(add)
