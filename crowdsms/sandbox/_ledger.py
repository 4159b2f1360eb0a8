"""The ledger: everything the sandbox really "sent", one entry per message (or task).

Tests read it to prove that nothing was lost and nothing was sent twice: an entry is written
when a provider endpoint processes a message, and never for a request that was rejected, or
dropped before processing. A request that is processed and then dropped (the ambiguous
failure) does leave its entries.

A ledger may grow to hundreds of thousands of entries: :meth:`Ledger.page` (and the
``offset``/``limit`` of :meth:`Ledger.entries`) read a window of it without copying it all.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from crowdsms.sandbox._fault_log import note_phone

__all__ = ["Ledger", "LedgerEntry", "LedgerPage"]


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
    """What it cost, in SMS segments (one up to 70 characters, else one per 67)."""
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


@attrs.frozen(kw_only=True)
class LedgerPage:
    """A window of the ledger: ``entries`` from ``offset``, and how many there are in all."""

    count: int
    """How many entries (of the provider asked for) the ledger holds in all."""
    offset: int
    """The position of the first of ``entries`` among them (0 is the oldest)."""
    limit: int | None
    """The most entries the page could hold (``None``: no limit)."""
    entries: list[LedgerEntry]
    """The entries, oldest first."""


def _check_window(offset: int, limit: int | None) -> None:
    if offset < 0:
        raise ValueError(f"offset must be 0 or more, not {offset}")
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be 0 or more (or None for no limit), not {limit}")


class Ledger:
    """An append-only, thread-safe list of :class:`LedgerEntry`."""

    def __init__(self) -> None:
        self._entries: list[LedgerEntry] = []
        self._lock = threading.Lock()

    def record(self, entry: LedgerEntry) -> None:
        """Append ``entry`` (and note its number for the fault log, within a faulted request)."""
        with self._lock:
            self._entries.append(entry)
        note_phone(entry.phone)

    def entries(
        self, *, provider: str | None = None, offset: int = 0, limit: int | None = None
    ) -> list[LedgerEntry]:
        """A snapshot of the entries, oldest first, of one provider or of all.

        ``offset`` skips that many of them and ``limit`` caps how many are returned (all
        of them by default); :meth:`page` also says how many there are in all.
        """
        return self.page(provider=provider, offset=offset, limit=limit).entries

    def page(
        self, *, provider: str | None = None, offset: int = 0, limit: int | None = None
    ) -> LedgerPage:
        """Up to ``limit`` entries from ``offset`` (of one provider or of all), and the count.

        The count and the entries are read at the same moment. Raises ``ValueError`` for a
        negative ``offset`` or ``limit``.
        """
        _check_window(offset, limit)
        stop = None if limit is None else offset + limit
        if provider is None:
            with self._lock:
                return LedgerPage(
                    count=len(self._entries),
                    offset=offset,
                    limit=limit,
                    entries=self._entries[offset:stop],
                )
        with self._lock:
            snapshot = list(self._entries)
        matching = [entry for entry in snapshot if entry.provider == provider]
        return LedgerPage(
            count=len(matching), offset=offset, limit=limit, entries=matching[offset:stop]
        )

    def count(self, *, provider: str | None = None) -> int:
        """How many entries there are, of one provider or of all."""
        if provider is None:
            return len(self)
        with self._lock:
            return sum(1 for entry in self._entries if entry.provider == provider)

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
