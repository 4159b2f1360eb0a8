"""What a capped job spent, chunk by chunk, in its journal file (table ``chunk_spend``).

A job with a spend cap records, for each chunk, the segments ``reserved`` for it durably
*before* its request, and adds what it really cost to ``spent`` after the answer (clearing
the reservation). A resumed job starts from the sum of both over every chunk of the job, so
its budget is known before it sends anything, whatever order its chunks finished in. A
reservation left by a run that stopped with the chunk in flight counts as spent (the
request may have been processed). If the chunk is sent again with the same idempotency key
(the provider drops a second copy), the new reservation replaces it; if its recipients are
reported ``unknown`` instead, it becomes spent, and a later resend of them adds to it.

Only a capped job writes here (two more commits per chunk); the table is created by the
first one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

import attrs

__all__ = ["Runner", "SpendRecord", "SpendStore"]

T = TypeVar("T")


class Runner(Protocol):
    """Runs a blocking function on the journal's thread: ``await run(func)``."""

    def __call__(self, func: Callable[[], T], /) -> Awaitable[T]:
        """``func()``'s result, computed in a worker thread."""
        ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS chunk_spend (
    job_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    spent INTEGER NOT NULL DEFAULT 0,
    reserved INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, idx)
);
"""


@attrs.frozen
class SpendRecord:
    """What a job's earlier runs spent: the total, and the reservations still open."""

    total: int
    """Segments spent or reserved by every chunk of the job."""
    reserved: dict[int, int]
    """Chunk index -> segments reserved by a run that stopped before the chunk's answer."""


class SpendStore:
    """A job's ``chunk_spend`` rows, written through the journal's connection and thread."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        run: Runner,
        *,
        job_id: str,
    ) -> None:
        self._connection = connection
        self._run = run
        self._job_id = job_id

    async def load(self) -> SpendRecord:
        """Create the table if needed; what the job's earlier runs recorded."""

        def work() -> SpendRecord:
            self._connection.executescript(_SCHEMA)
            (total,) = self._connection.execute(
                "SELECT COALESCE(SUM(spent + reserved), 0) FROM chunk_spend WHERE job_id = ?",
                (self._job_id,),
            ).fetchone()
            rows = self._connection.execute(
                "SELECT idx, reserved FROM chunk_spend WHERE job_id = ? AND reserved > 0",
                (self._job_id,),
            )
            return SpendRecord(total=int(total), reserved={int(i): int(r) for i, r in rows})

        return await self._run(work)

    async def reserve(self, index: int, segments: int) -> None:
        """Record ``segments`` reserved for chunk ``index`` (replacing an older reservation)."""

        def work() -> None:
            self._connection.execute(
                "INSERT INTO chunk_spend (job_id, idx, reserved) VALUES (?, ?, ?) "
                "ON CONFLICT (job_id, idx) DO UPDATE SET reserved = excluded.reserved",
                (self._job_id, index, segments),
            )

        await self._run(work)

    async def settle(self, index: int, segments: int) -> None:
        """Add ``segments`` spent to chunk ``index`` and clear its reservation."""

        def work() -> None:
            self._connection.execute(
                "INSERT INTO chunk_spend (job_id, idx, spent) VALUES (?, ?, ?) "
                "ON CONFLICT (job_id, idx) DO UPDATE SET spent = spent + excluded.spent, "
                "reserved = 0",
                (self._job_id, index, segments),
            )

        await self._run(work)

    async def recorded(self, index: int) -> bool:
        """Whether chunk ``index`` has a row (a capped run sent or reserved it)."""

        def work() -> bool:
            row = self._connection.execute(
                "SELECT 1 FROM chunk_spend WHERE job_id = ? AND idx = ?", (self._job_id, index)
            ).fetchone()
            return row is not None

        return await self._run(work)
