"""Where reports, replies and opt-outs are kept: the protocol, and the SQLite store.

On one machine the store is the job journal's SQLite file: the webhook app (usually another
process, beside the batch job) records into it while the job runs, and the job and
``reconcile`` read it. SQLite in WAL mode lets one writer and many readers share the file;
writes are short and wait up to ``busy_timeout`` for each other. The job's lock on
``<journal>.lock`` guards only against two runs of a job, so recording never takes it.
Campaigns keep the same records in their shared Redis store, behind the same protocol.

Every write is committed with ``synchronous=FULL`` before it returns: a pulled report (which
the provider has already forgotten) or an acknowledged push survives a crash. Calls run in
a worker thread, one at a time, like the journal's.

The SQLite store is also a :class:`~crowdsms.webhooks.ReplayStore` (table ``webhook_pushes``):
``WebhookApp(replay=store)`` remembers the pushes it handled in the same file, for every
process that opens it and across restarts.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, TypeVar

import anyio
import anyio.to_thread
import attrs

from crowdsms.deliveries._optout import OptOutWords
from crowdsms.deliveries._reports import InboundReply, ProviderReport, ReportKind
from crowdsms.errors import CrowdSMSError
from crowdsms.webhooks._replay import PushState, ReplayKey

__all__ = [
    "DELIVERY_SCHEMA",
    "DeliveryStore",
    "RecordResult",
    "SQLiteDeliveryStore",
    "load_opt_outs",
    "load_reports",
    "prepare_connection",
]

T = TypeVar("T")

DELIVERY_SCHEMA = """
CREATE TABLE IF NOT EXISTS reports (
    key TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    kind TEXT NOT NULL,
    phone TEXT,
    message_id TEXT,
    reference TEXT,
    code TEXT,
    occurred_at REAL,
    received_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS reports_received ON reports (received_at);
CREATE TABLE IF NOT EXISTS replies (
    key TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    phone TEXT NOT NULL,
    content TEXT NOT NULL,
    received_at REAL NOT NULL,
    opted_out INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS opt_outs (
    phone TEXT PRIMARY KEY,
    provider TEXT,
    reply TEXT,
    at REAL NOT NULL,
    recorded_at REAL
);
CREATE TABLE IF NOT EXISTS webhook_pushes (
    key TEXT PRIMARY KEY,
    owner TEXT,
    expires REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_pushes_expires ON webhook_pushes (expires);
"""
"""The tables of the delivery records (created in the journal file beside its own), and the
webhook app's replay memory (``owner`` is the request handling a push, NULL once handled;
``expires`` the end of its lease, or of its keeping, in Unix seconds).

``opt_outs.at`` is when the number opted out as the provider dates its reply (or when it
was added by hand), for people to read; ``recorded_at`` when this store recorded it. A
batch job copies the list into its journal when it is created (``job_opt_outs``, see
:mod:`crowdsms.batch._journal`); ``recorded_at`` decides the list only of the jobs an
earlier version created, which have no copy (see :func:`load_opt_outs`).
"""

_PURGE = 100
"""Expired push keys removed per claim, at most (as pushes arrive, old keys go)."""


@attrs.frozen
class RecordResult:
    """What a :meth:`DeliveryStore.record` call added."""

    reports: int = 0
    """New reports (a report received before is not counted again)."""
    replies: int = 0
    """New replies."""
    opted_out: tuple[str, ...] = ()
    """Numbers that opted out with these replies."""


class DeliveryStore(Protocol):
    """Keeps reports, replies and opt-outs: a journal file, or a campaign's shared store."""

    async def record(
        self, records: Sequence[ProviderReport | InboundReply], *, words: OptOutWords
    ) -> RecordResult:
        """Store ``records`` (each once); a reply that is one of ``words`` opts its number out."""
        ...

    async def reports(self, *, since: float, provider: str | None = None) -> list[ProviderReport]:
        """The reports received since ``since`` (Unix seconds), of ``provider`` if given."""
        ...

    async def opted_out(self, *, before: float | None = None) -> frozenset[str]:
        """The numbers opted out (with ``before``, those the store recorded at or before it:
        a reply recorded later counts from then, whatever time the provider gives it)."""
        ...

    async def opt_out(self, phones: Iterable[str], *, reason: str = "added by hand") -> None:
        """Add ``phones`` to the suppression list."""
        ...

    async def opt_in(self, phones: Iterable[str]) -> int:
        """Remove ``phones`` from the suppression list; how many were on it."""
        ...

    async def aclose(self) -> None:
        """Release the store's resources."""
        ...


def _write(
    connection: sqlite3.Connection,
    records: Sequence[ProviderReport | InboundReply],
    words: OptOutWords,
) -> RecordResult:
    reports = replies = 0
    opted: list[str] = []
    connection.execute("BEGIN IMMEDIATE")
    try:
        # Taken holding the write lock: a job created after this time (its creation is a
        # write too) finds these opt-outs committed, so every run of it reads the same list.
        recorded_at = time.time()
        for record in records:
            if isinstance(record, ProviderReport):
                cursor = connection.execute(
                    "INSERT OR IGNORE INTO reports (key, provider, kind, phone, message_id, "
                    "reference, code, occurred_at, received_at) VALUES (?,?,?,?,?,?,?,?,?)",
                    (
                        record.key,
                        record.provider,
                        record.kind.value,
                        record.phone,
                        record.message_id,
                        record.reference,
                        record.code,
                        record.occurred_at,
                        record.received_at,
                    ),
                )
                reports += cursor.rowcount
                continue
            stop = words.means_stop(record.content)
            cursor = connection.execute(
                "INSERT OR IGNORE INTO replies (key, provider, phone, content, received_at, "
                "opted_out) VALUES (?,?,?,?,?,?)",
                (
                    record.key,
                    record.provider,
                    record.phone,
                    record.content,
                    record.received_at,
                    int(stop),
                ),
            )
            replies += cursor.rowcount
            if stop and cursor.rowcount:
                connection.execute(
                    "INSERT OR IGNORE INTO opt_outs (phone, provider, reply, at, recorded_at) "
                    "VALUES (?,?,?,?,?)",
                    (
                        record.phone,
                        record.provider,
                        record.content[:200],
                        record.received_at,
                        recorded_at,
                    ),
                )
                opted.append(record.phone)
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return RecordResult(reports=reports, replies=replies, opted_out=tuple(opted))


def load_reports(
    connection: sqlite3.Connection, *, since: float, provider: str | None = None
) -> list[ProviderReport]:
    """The reports in ``connection``'s store received since ``since`` (blocking)."""
    query = (
        "SELECT provider, kind, phone, message_id, reference, code, occurred_at, received_at "
        "FROM reports WHERE received_at >= ?"
    )
    params: tuple[object, ...] = (since,)
    if provider is not None:
        query += " AND provider = ?"
        params += (provider,)
    return [
        ProviderReport(
            provider=row[0],
            kind=ReportKind(row[1]),
            phone=row[2],
            message_id=row[3],
            reference=row[4],
            code=row[5],
            occurred_at=row[6],
            received_at=row[7],
        )
        for row in connection.execute(query + " ORDER BY received_at", params)
    ]


def load_opt_outs(connection: sqlite3.Connection, *, before: float | None = None) -> frozenset[str]:
    """The opted-out numbers in ``connection``'s store (blocking): with ``before``, those
    recorded at or before it (the list of a job an earlier version created; a job created
    now reads the copy made with it).

    A job reads the list as of its creation, and a reply dated before the job but recorded
    after it (pulled by a later ``reconcile``, a late push) must not change what a resumed
    run skips; a reply dated ahead of the job (a provider's clock or parsing error) must not
    keep its number off the list of every later job. So the time that counts is when the
    store recorded the opt-out (``recorded_at``), not the provider's (``at``).
    """
    if before is None:
        rows = connection.execute("SELECT phone FROM opt_outs")
    elif _RECORDED_AT in _columns(connection, "opt_outs"):
        # A row without it was written by an earlier crowdsms after this file was upgraded
        # (a webhook app not yet updated): it is read as that version read it.
        rows = connection.execute(
            "SELECT phone FROM opt_outs WHERE COALESCE(recorded_at, at) <= ?", (before,)
        )
    else:
        # A file no version with the column has opened yet, read without changing it (a
        # preview): what _upgrade_opt_outs would give for a job created before now.
        rows = connection.execute("SELECT phone FROM opt_outs WHERE at <= ?", (before,))
    return frozenset(row[0] for row in rows)


class SQLiteDeliveryStore:
    """The delivery records of a journal file; create it with :meth:`open`.

    Safe to use from a process other than the job's (the webhook app beside a batch job).
    """

    def __init__(
        self,
        connection: sqlite3.Connection,
        path: str,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._connection = connection
        self._limiter = anyio.CapacityLimiter(1)
        self._clock = clock
        self.path = path

    def __repr__(self) -> str:
        return f"SQLiteDeliveryStore({self.path!r})"

    @classmethod
    async def open(
        cls, path: str | os.PathLike[str], *, clock: Callable[[], float] = time.time
    ) -> SQLiteDeliveryStore:
        """Open the delivery records of the journal at ``path`` (creating them if needed).

        ``clock`` (Unix seconds) times the webhook replay memory's leases and keeping.
        """
        name = os.fspath(path)

        def work() -> sqlite3.Connection:
            try:
                connection = sqlite3.connect(name, check_same_thread=False, isolation_level=None)
            except sqlite3.Error as exc:
                raise _unusable(name, exc) from exc
            try:
                prepare_connection(connection)
            except sqlite3.Error as exc:
                connection.close()
                raise _unusable(name, exc) from exc
            return connection

        with anyio.CancelScope(shield=True):
            connection = await anyio.to_thread.run_sync(work)
        return cls(connection, name, clock=clock)

    async def _run(self, func: Callable[[], T]) -> T:
        return await anyio.to_thread.run_sync(func, limiter=self._limiter)

    async def record(
        self, records: Sequence[ProviderReport | InboundReply], *, words: OptOutWords
    ) -> RecordResult:
        """Store ``records`` (each once); a reply that is one of ``words`` opts its number out."""
        if not records:
            return RecordResult()
        with anyio.CancelScope(shield=True):  # what was pulled must not be half-stored
            result = await self._run(lambda: _write(self._connection, records, words))
        return result  # noqa: RET504 (mypy: a cancel scope may swallow the return)

    async def reports(self, *, since: float, provider: str | None = None) -> list[ProviderReport]:
        """The reports received since ``since`` (Unix seconds), of ``provider`` if given."""
        return await self._run(
            lambda: load_reports(self._connection, since=since, provider=provider)
        )

    async def replies(self, *, since: float = 0.0) -> list[InboundReply]:
        """The replies received since ``since``, oldest first."""

        def work() -> list[InboundReply]:
            rows = self._connection.execute(
                "SELECT provider, phone, content, received_at FROM replies "
                "WHERE received_at >= ? ORDER BY received_at",
                (since,),
            )
            return [
                InboundReply(provider=r[0], phone=r[1], content=r[2], received_at=r[3])
                for r in rows
            ]

        return await self._run(work)

    async def opted_out(self, *, before: float | None = None) -> frozenset[str]:
        """The numbers opted out (with ``before``, those recorded at or before it)."""
        return await self._run(lambda: load_opt_outs(self._connection, before=before))

    async def opt_out(self, phones: Iterable[str], *, reason: str = "added by hand") -> None:
        """Add ``phones`` to the suppression list."""
        wanted = list(phones)

        def work() -> None:
            with contextlib.closing(self._connection.cursor()) as cursor:
                cursor.execute("BEGIN IMMEDIATE")
                now = time.time()  # holding the write lock, as _write does
                cursor.executemany(
                    "INSERT OR IGNORE INTO opt_outs (phone, provider, reply, at, recorded_at) "
                    "VALUES (?,?,?,?,?)",
                    [(phone, None, reason, now, now) for phone in wanted],
                )
                cursor.execute("COMMIT")

        await self._run(work)

    async def opt_in(self, phones: Iterable[str]) -> int:
        """Remove ``phones`` from the suppression list; how many were on it."""
        wanted = [(phone,) for phone in phones]

        def work() -> int:
            before = self._connection.total_changes
            self._connection.executemany("DELETE FROM opt_outs WHERE phone = ?", wanted)
            return self._connection.total_changes - before

        return await self._run(work)

    # -- the webhook app's replay memory (crowdsms.webhooks.ReplayStore) --------------------

    async def claim_push(self, key: ReplayKey, *, owner: str, lease: float) -> PushState:
        """Claim ``key`` for ``lease`` seconds if it is not claimed or handled; say which."""

        def work() -> PushState:
            now = self._clock()
            connection = self._connection
            connection.execute("BEGIN IMMEDIATE")
            try:
                row = connection.execute(
                    "SELECT owner, expires FROM webhook_pushes WHERE key = ?", (key,)
                ).fetchone()
                if row is not None and row[1] > now and row[0] != owner:
                    state = PushState.HANDLED if row[0] is None else PushState.HANDLING
                else:
                    connection.execute(
                        "INSERT OR REPLACE INTO webhook_pushes (key, owner, expires) "
                        "VALUES (?,?,?)",
                        (key, owner, now + lease),
                    )
                    state = PushState.NEW
                connection.execute(
                    "DELETE FROM webhook_pushes WHERE key IN (SELECT key FROM webhook_pushes "
                    "WHERE expires <= ? LIMIT ?)",
                    (now, _PURGE),
                )
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            return state

        with anyio.CancelScope(shield=True):
            state = await self._run(work)
        return state  # noqa: RET504 (mypy: a cancel scope may swallow the return)

    async def complete_push(self, key: ReplayKey, *, keep: float) -> None:
        """Mark ``key`` handled for ``keep`` seconds (committed before it returns)."""

        def work() -> None:
            self._connection.execute(
                "INSERT OR REPLACE INTO webhook_pushes (key, owner, expires) VALUES (?,NULL,?)",
                (key, self._clock() + keep),
            )

        with anyio.CancelScope(shield=True):
            await self._run(work)

    async def release_push(self, key: ReplayKey, *, owner: str) -> None:
        """Drop ``owner``'s claim on ``key``, so that the provider's retry is handled."""

        def work() -> None:
            self._connection.execute(
                "DELETE FROM webhook_pushes WHERE key = ? AND owner = ?", (key, owner)
            )

        with anyio.CancelScope(shield=True):
            await self._run(work)

    async def extend_push(self, key: ReplayKey, *, owner: str, lease: float) -> bool:
        """Make ``owner``'s live claim on ``key`` last ``lease`` seconds from now; False when
        ``owner`` no longer holds it."""

        def work() -> bool:
            now = self._clock()
            cursor = self._connection.execute(
                "UPDATE webhook_pushes SET expires = ? WHERE key = ? AND owner = ? AND expires > ?",
                (now + lease, key, owner, now),
            )
            return cursor.rowcount == 1

        with anyio.CancelScope(shield=True):
            held = await self._run(work)
        return held  # noqa: RET504 (mypy: a cancel scope may swallow the return)

    async def push_handled(self, key: ReplayKey) -> bool:
        """Whether ``key`` is marked handled (and still kept)."""

        def work() -> bool:
            row = self._connection.execute(
                "SELECT 1 FROM webhook_pushes WHERE key = ? AND owner IS NULL AND expires > ?",
                (key, self._clock()),
            ).fetchone()
            return row is not None

        return await self._run(work)

    async def aclose(self) -> None:
        """Close the connection."""
        with anyio.CancelScope(shield=True):
            await self._run(self._connection.close)


def prepare_connection(connection: sqlite3.Connection) -> None:
    """WAL, durable commits, patience with other writers, and the delivery tables."""
    connection.execute("PRAGMA busy_timeout=10000")
    connection.execute("PRAGMA journal_mode=WAL").fetchone()
    connection.execute("PRAGMA synchronous=FULL")
    connection.executescript(DELIVERY_SCHEMA)
    _upgrade_opt_outs(connection)


_RECORDED_AT = "recorded_at"


def _columns(connection: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}


def _upgrade_opt_outs(connection: sqlite3.Connection) -> None:
    """Add ``opt_outs.recorded_at`` to a file an earlier version of crowdsms wrote.

    When its rows were recorded is not known, only that it was before now: each gets the
    earlier of its ``at`` and now. A job created before now (by the earlier version) then
    skips exactly the numbers it skipped before (those with ``at`` up to its creation), and
    a row dated ahead of now applies to the jobs created from now on.
    """
    if _RECORDED_AT in _columns(connection, "opt_outs"):
        return
    # The webhook app and the job open the file at the same time: one of them adds it.
    connection.execute("BEGIN IMMEDIATE")
    try:
        if _RECORDED_AT not in _columns(connection, "opt_outs"):
            connection.execute(f"ALTER TABLE opt_outs ADD COLUMN {_RECORDED_AT} REAL")
            connection.execute("UPDATE opt_outs SET recorded_at = MIN(at, ?)", (time.time(),))
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


def _unusable(path: str, error: Exception) -> CrowdSMSError:
    return CrowdSMSError(
        "the journal file cannot be opened to record delivery reports",
        received=f"{path!r}: {error}",
        action=(
            "Check that the path names the job's journal (or a new file) in a directory this "
            "process can write"
        ),
    )
