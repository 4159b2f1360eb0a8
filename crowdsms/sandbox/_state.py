"""State the four provider emulators share: clock, ledger, faults, balances, reports, pushes.

Provider-specific state (tokens, scheduled tasks) lives in each
provider's emulator; this module holds what is common, and the one place where a processed
message becomes a ledger entry and a delivery report.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import threading
from collections import Counter
from collections.abc import Callable, Iterable

import attrs

from crowdsms.sandbox._clock import SandboxClock
from crowdsms.sandbox._drop import ConnectionRegistry
from crowdsms.sandbox._fault_log import FaultLog, FaultRecord
from crowdsms.sandbox._faults import FaultInjector
from crowdsms.sandbox._ledger import Ledger, LedgerEntry
from crowdsms.sandbox._settings import SandboxSettings
from crowdsms.sandbox._webhooks import Push, PushRetryPolicy, WebhookDispatcher

__all__ = ["DeliveryReport", "Reply", "SandboxState"]


@attrs.frozen(kw_only=True)
class DeliveryReport:
    """The fate of one sent message, as the carrier reports it."""

    entry: LedgerEntry
    delivered: bool
    blocked: bool
    """Failed because the number is on the sandbox's block list."""
    reported_at: float
    segments: int
    tag: str | None = None
    """The request's tag or SMS signature, where the provider has one, for pushes and filters."""


@attrs.frozen(kw_only=True)
class Reply:
    """An inbound message (MO) from a phone to an account."""

    provider: str
    account: str
    phone: str
    content: str
    sign: str | None
    received_at: float
    sequence_id: int


class SandboxState:
    """The shared, mutable state of one sandbox."""

    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        """The current settings; replaced as a whole when they change at runtime."""
        self.clock = SandboxClock(settings.clock_offset)
        self.ledger = Ledger()
        self.faults = FaultInjector(settings.faults)
        self.fault_records = FaultLog()
        """Every injected fault, in order (the middleware adds them)."""
        self.webhooks = WebhookDispatcher(self._retry_policy)
        self.rng = random.Random(settings.seed)
        """Seeded randomness for tokens and delivery outcomes."""
        self.lock = threading.Lock()
        self.tickers: list[Callable[[], None]] = []
        """Called by :meth:`tick`: emulators whose state moves with time register here."""
        self.requests: Counter[str] = Counter()
        """Requests received per provider (before any fault), for tests to count."""
        self.connections: ConnectionRegistry | None = None
        """Live connections, set by the server so that faults can drop them."""
        self._balances: dict[tuple[str, str], int] = {}
        self._ids = itertools.count(1)
        self._id_prefix = hashlib.md5(
            str(settings.seed).encode(), usedforsecurity=False
        ).hexdigest()[:8]

    def _retry_policy(self) -> PushRetryPolicy:
        settings = self.settings
        return PushRetryPolicy(
            attempts=settings.webhook_attempts,
            first_delay=settings.webhook_retry_delay,
            timeout=settings.webhook_timeout,
        )

    # -- ids and time -------------------------------------------------------------------

    def next_number(self) -> int:
        """A new positive integer, unique in this sandbox."""
        return next(self._ids)

    def hex_id(self) -> str:
        """A new 32-character lower-case hex id (deterministic for a given request order)."""
        return f"{self._id_prefix}{self.next_number():024x}"

    def tick(self) -> None:
        """Let every time-driven state catch up with the clock."""
        for ticker in list(self.tickers):
            ticker()

    def fault_log(self) -> list[FaultRecord]:
        """Every injected fault so far (the latest 100,000), oldest first."""
        return self.fault_records.records()

    # -- balances -----------------------------------------------------------------------

    def balance(self, provider: str, account: str) -> int:
        """The balance of ``account`` at ``provider``, in SMS segments."""
        with self.lock:
            return self._balances.get((provider, account), self.settings.initial_balance)

    def charge(self, provider: str, account: str, amount: int) -> bool:
        """Take ``amount`` from the balance; ``False`` (and nothing taken) if it is too low."""
        with self.lock:
            balance = self._balances.get((provider, account), self.settings.initial_balance)
            if amount > balance:
                return False
            self._balances[(provider, account)] = balance - amount
            return True

    def top_up(self, provider: str, account: str, amount: int) -> int:
        """Add ``amount`` (may be negative) to the balance; return the new balance."""
        with self.lock:
            balance = self._balances.get((provider, account), self.settings.initial_balance)
            self._balances[(provider, account)] = balance + amount
            return balance + amount

    # -- sending ------------------------------------------------------------------------

    def blocked(self, number: str) -> bool:
        """Whether ``number`` is on the block list."""
        return number in self.settings.blocked_numbers

    def record(
        self, entries: Iterable[LedgerEntry], *, tag: str | None = None, reports: bool = True
    ) -> list[DeliveryReport]:
        """Write ``entries`` to the ledger and decide each one's delivery report.

        With ``reports=False`` (nobody will read them: no webhook, no pull queue) only the
        ledger is written, which keeps large sends cheap.
        """
        if not reports:
            for entry in entries:
                self.ledger.record(entry)
            return []
        decided = []
        failure_rate = self.settings.delivery_failure_rate
        now = self.clock.now()
        for entry in entries:
            self.ledger.record(entry)
            blocked = entry.phone is not None and self.blocked(entry.phone)
            failed = blocked or (failure_rate > 0.0 and self.rng.random() < failure_rate)
            decided.append(
                DeliveryReport(
                    entry=entry,
                    delivered=not failed,
                    blocked=blocked,
                    reported_at=now,
                    segments=entry.fee,
                    tag=tag,
                )
            )
        return decided

    def webhook_url(self, provider: str, kind: str) -> str | None:
        """Where pushes of ``kind`` (``report`` or ``reply``) for ``provider`` go, if anywhere."""
        settings = self.settings
        if kind == "reply" and provider in settings.reply_webhooks:
            return settings.reply_webhooks[provider]
        return settings.webhooks.get(provider)

    def push(
        self,
        *,
        provider: str,
        kind: str,
        body: bytes,
        content_type: str,
        delayed: bool | None = None,
    ) -> None:
        """Queue a push of ``body`` to ``provider``'s webhook for ``kind``, if one is set.

        A delayed push waits ``webhook_delay`` seconds before its first attempt; by default
        delivery reports (``kind="report"``) are delayed and replies are not. An event that
        is not a delivery report but goes to the report webhook (a request event) passes
        ``delayed=False``.
        """
        url = self.webhook_url(provider, kind)
        if url is not None:
            if delayed is None:
                delayed = kind == "report"
            delay = self.settings.webhook_delay if delayed else 0.0
            self.webhooks.submit(
                Push(provider=provider, kind=kind, url=url, body=body, content_type=content_type),
                delay=delay,
            )
