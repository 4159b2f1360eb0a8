"""The fault log: every injected fault, in order, with the numbers a faulted request sent.

The middleware adds a :class:`FaultRecord` as it injects a fault. A request that is
processed in spite of its fault (``drop_after``, ``slow``) runs inside
:func:`collecting_phones`: while it runs, a context variable holds a list to which the
ledger adds the number of every entry it records, so the record can say exactly which
numbers the request sent, though its client never saw the answer. Work outside a request
(a contact-list task run by the clock) is never counted.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Iterator
from typing import Any, Final

import attrs

from crowdsms.sandbox._faults import FaultKind

__all__ = ["FaultLog", "FaultRecord", "collecting_phones", "note_phone"]

_KEPT: Final = 100_000
"""The most records kept; older ones are forgotten, a tenth of them at a time."""

_PHONES: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "crowdsms_sandbox_phones", default=None
)


@attrs.frozen(kw_only=True)
class FaultRecord:
    """One injected fault: which, where, when, and what the request sent in spite of it."""

    kind: FaultKind
    """The fault."""
    provider: str
    """The provider (registry name) the request was for."""
    path: str
    """The request's path: the provider's prefix and the endpoint."""
    time: float
    """When the fault was injected, on the sandbox's clock (Unix seconds)."""
    processed: bool
    """Whether the request was processed all the same (``drop_after``, ``slow``)."""
    phones: tuple[str, ...] = ()
    """The numbers the request's processing wrote to the ledger, in order; empty for a
    fault that came before processing (``drop``, ``reject``, ``rate_limit``)."""

    def to_json(self) -> dict[str, Any]:
        """The record as JSON-ready values."""
        return {
            "kind": self.kind.value,
            "provider": self.provider,
            "path": self.path,
            "time": self.time,
            "processed": self.processed,
            "phones": list(self.phones),
        }


class FaultLog:
    """The latest injected faults, oldest first; thread-safe."""

    def __init__(self) -> None:
        self._records: list[FaultRecord] = []
        self._forgotten = 0
        """How many records were dropped from the front, to keep at most ``_KEPT``."""
        self._lock = threading.Lock()

    def add(self, record: FaultRecord) -> int:
        """Append ``record``; return its number, for :meth:`complete`."""
        with self._lock:
            self._records.append(record)
            number = self._forgotten + len(self._records) - 1
            if len(self._records) > _KEPT + _KEPT // 10:
                excess = len(self._records) - _KEPT
                del self._records[:excess]
                self._forgotten += excess
            return number

    def complete(self, number: int, phones: tuple[str, ...]) -> None:
        """Set the numbers record ``number`` sent (nothing if it was forgotten meanwhile)."""
        with self._lock:
            position = number - self._forgotten
            if 0 <= position < len(self._records):
                self._records[position] = attrs.evolve(self._records[position], phones=phones)

    def records(self) -> list[FaultRecord]:
        """A snapshot of the records, oldest first."""
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        """Forget every record."""
        with self._lock:
            self._forgotten += len(self._records)
            self._records.clear()

    def __len__(self) -> int:
        return len(self._records)


@contextlib.contextmanager
def collecting_phones() -> Iterator[list[str]]:
    """Collect, into the list yielded, the number of every ledger entry written meanwhile.

    Only work in the current context counts (the request's task, and what it starts).
    """
    phones: list[str] = []
    token = _PHONES.set(phones)
    try:
        yield phones
    finally:
        _PHONES.reset(token)


def note_phone(phone: str | None) -> None:
    """Add ``phone`` to the numbers being collected, if a collection is under way."""
    if phone is not None:
        phones = _PHONES.get()
        if phones is not None:
            phones.append(phone)
