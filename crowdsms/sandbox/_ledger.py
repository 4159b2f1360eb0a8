"""The ledger: everything the sandbox really "sent", one entry per message (or task).

Tests read it to prove that nothing was lost and nothing was sent twice: an entry is written
when a provider endpoint processes a message, and never for a request that was rejected, or
dropped before processing. A request that is processed and then dropped (the ambiguous
failure) does leave its entries.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

import attrs

__all__ = ["Ledger", "LedgerEntry"]


@attrs.frozen(kw_only=True)
class LedgerEntry:
    """One message (or task) a provider endpoint processed."""

    provider: str
    """The provider's registry name."""
    endpoint: str
    """The endpoint that sent it, e.g. ``sms/multisend`` or ``sendContactListTask``."""
    account: str
    """The account (app id, user, access id) the request came from."""
    phone: str | None
    """The 11-digit number (``None`` for a task that is not a message)."""
    content: str | None
    """The final text, with variables substituted (``None`` for a task)."""
    template: str | None
    """The template id or content template, if the request used one."""
    vars: Mapping[str, str]
    """The variables of this message or task."""
    message_id: str
    """The id the provider returned for it."""
    fee: int
    """What it cost, in SMS segments of 70 characters."""
    time: float
    """When it was processed, on the sandbox's clock."""
    request_id: str | None = None
    """An idempotency key or batch id the request carried, if any."""

    def to_json(self) -> dict[str, Any]:
        """The entry as JSON-ready values."""
        return {
            "provider": self.provider,
            "endpoint": self.endpoint,
            "account": self.account,
            "phone": self.phone,
            "content": self.content,
            "template": self.template,
            "vars": dict(self.vars),
            "message_id": self.message_id,
            "fee": self.fee,
            "time": self.time,
            "request_id": self.request_id,
        }


class Ledger:
    """An append-only, thread-safe list of :class:`LedgerEntry`."""

    def __init__(self) -> None:
        self._entries: list[LedgerEntry] = []
        self._lock = threading.Lock()

    def record(self, entry: LedgerEntry) -> None:
        """Append ``entry``."""
        with self._lock:
            self._entries.append(entry)

    def entries(self, *, provider: str | None = None) -> list[LedgerEntry]:
        """A snapshot of the entries, oldest first, of one provider or of all."""
        with self._lock:
            snapshot = list(self._entries)
        if provider is None:
            return snapshot
        return [entry for entry in snapshot if entry.provider == provider]

    def phones(self, *, provider: str | None = None) -> list[str | None]:
        """The phone number of each entry, in order."""
        return [entry.phone for entry in self.entries(provider=provider)]

    def duplicates(
        self, *, provider: str | None = None
    ) -> dict[tuple[str, str | None, str | None], int]:
        """``(provider, phone, content)`` keys recorded more than once, with their counts."""
        counts = Counter(
            (entry.provider, entry.phone, entry.content)
            for entry in self.entries(provider=provider)
        )
        return {key: count for key, count in counts.items() if count > 1}

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[LedgerEntry]:
        return iter(self.entries())

    def __repr__(self) -> str:
        return f"<Ledger: {len(self)} entries>"
