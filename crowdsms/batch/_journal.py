"""The job journal: a SQLite file that lets a stopped job resume without sending twice.

Each chunk of a job goes through three states, each committed before the next step:

- ``pending``: recorded when the chunk is cut, with its recipients' positions, normalized
  numbers and a fingerprint of the recipients (numbers and variables). Not sent yet.
- ``started``: recorded just before the request is made. From here on the provider may
  have the request.
- ``done``: recorded with the outcome of every recipient, once they are known.

A resumed job (same ``job_id``) re-emits the outcomes of ``done`` chunks, sends ``pending``
ones, and reports ``started`` ones as ``unknown``: the request may have reached the provider
and sending it again could deliver twice. When the chunk sender supports idempotency keys,
a ``started`` chunk is resent instead, with the same key (derived from the job id and the
chunk's index), so the provider drops it if it had it. A journal whose recorded chunks do
not match the input (different fingerprint or different chunking settings) is refused.
One journal file serves one running job at a time: a run holds an exclusive lock on
``<journal>.lock`` (POSIX ``flock``; the system releases it if the process dies), so two
overlapping runs cannot both send the pending chunks.

Blocking calls: sqlite3 is blocking and every state change is committed with
``synchronous=FULL`` (an ``fsync``) so that it survives a crash of the process or of the
machine. An ``fsync`` can take milliseconds, far too long for the event loop, so every call
runs in a worker thread (``anyio.to_thread.run_sync``), one at a time through a private
capacity limiter (one connection; SQLite serializes writers anyway), without using the
default thread pool's tokens. Worker threads are not abandoned on cancellation, so a
statement that has started always finishes: a chunk is always in exactly one state. WAL
mode lets readers (a status command) look at the file while a job writes it.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from typing import IO, Literal, Protocol, TypeVar

import anyio
import anyio.to_thread
import attrs

from crowdsms.batch._spend_store import SpendStore
from crowdsms.batch._target import (
    MAY_HAVE_REACHED,
    UNSENT_MAY_CHANGE,
    describe_target,
    target_differences,
)
from crowdsms.deliveries._match import CLOCK_MARGIN
from crowdsms.deliveries._reports import ProviderReport
from crowdsms.deliveries._store import load_opt_outs, load_reports, prepare_connection
from crowdsms.errors import CrowdSMSError
from crowdsms.outcomes import Delivery, DeliveryState, OutcomeStatus, RecipientOutcome

__all__ = [
    "ChunkReleasedError",
    "ChunkState",
    "ChunkTakenError",
    "JobJournal",
    "Journal",
    "JournalBusyError",
    "JournalError",
    "JournalMismatchError",
    "JournalStorageError",
    "RecordedChunk",
    "journal_has_job",
    "load_job_opt_outs",
]

T = TypeVar("T")

ChunkState = Literal["pending", "started", "done"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    settings TEXT NOT NULL,
    created REAL NOT NULL,
    finished REAL
);
CREATE TABLE IF NOT EXISTS chunks (
    job_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'started', 'done')),
    positions TEXT NOT NULL,
    phones TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    idempotency_key TEXT,
    outcomes TEXT,
    updated REAL NOT NULL,
    started_at REAL,
    resends INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, idx)
);
CREATE TABLE IF NOT EXISTS job_opt_outs (
    job_id TEXT NOT NULL,
    phone TEXT NOT NULL,
    PRIMARY KEY (job_id, phone)
) WITHOUT ROWID;
"""

_ADDED_COLUMNS = {
    "started_at": "REAL",
    "resends": "INTEGER NOT NULL DEFAULT 0",
    "sent_at": "REAL",
    "kept_out": "TEXT",
}
"""Columns journals written by earlier versions lack; added when such a journal is opened."""

_ADDED_JOB_COLUMNS = {"opt_outs_copied": "INTEGER"}
"""Columns of ``jobs`` journals written by earlier versions lack. ``opt_outs_copied`` is 1
for a job whose suppression list was copied into ``job_opt_outs`` when it was created;
NULL for a job an earlier version created (it has no copy)."""


class JournalError(CrowdSMSError):
    """The journal cannot be used: unreadable, busy, or recorded for another input."""


class JournalMismatchError(JournalError):
    """A job cannot resume: the journal was recorded for a different input or settings."""


class JournalBusyError(JournalError):
    """Another job (in this or another process) is using the same journal file."""


class JournalStorageError(JournalError):
    """The journal file could not be written (or read) once opened: a full disk, a file
    removed or made read-only. A job that meets it stops like a stopped job and raises it
    with its report; it can be resumed once the storage is fixed."""


def _lock(path: str) -> IO[bytes] | None:
    """Hold an exclusive lock on ``<journal>.lock`` (POSIX only) until it is closed.

    Two runs of a job at once (a cron job overlapping a manual resume) would both send the
    pending chunks. The operating system drops the lock when the process dies, even when it
    is killed, so a crashed run never blocks its resumption.
    """
    try:
        import fcntl
    except ImportError:  # Windows: no guard
        return None
    file = open(path + ".lock", "ab")  # noqa: SIM115
    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        file.close()
        raise JournalBusyError(
            "another job is running with this journal",
            received=repr(path),
            action=(
                "Wait for the other run to finish (or stop it) before resuming; "
                "one journal file serves one running job at a time"
            ),
        ) from None
    return file


@attrs.frozen
class RecordedChunk:
    """A chunk already in the journal."""

    state: ChunkState
    idempotency_key: str | None
    outcomes: list[RecipientOutcome] | None
    started_at: float | None = None
    """When the first request of the chunk's last send began (Unix seconds), if the journal
    knows: delivery reports dated before it are not the chunk's. A resend with the same
    idempotency key of a chunk left in flight keeps it (the provider may have acted on the
    first request)."""
    resends: int = 0
    """How often its unconfirmed recipients were sent again."""
    sent_at: float | None = None
    """When its last request may have been sent, if the journal knows and it is not
    ``started_at`` (a resend with the same key of a chunk left in flight)."""

    @property
    def last_sent(self) -> float | None:
        """When its last request may have been sent, if the journal knows: the time a
        resend of its unconfirmed recipients waits from. The later of ``sent_at`` and
        ``started_at``: a version of crowdsms without ``sent_at`` moves only
        ``started_at`` when it sends the chunk again."""
        times = [t for t in (self.sent_at, self.started_at) if t is not None]
        return max(times) if times else None

    kept_out: Mapping[int, RecipientOutcome] | None = None
    """Of a ``started`` chunk sent with per-number limits, if the journal knows: the
    recipients the limits kept out of its request (by their offset in the chunk), with
    their ``skipped`` outcomes. The request carried every other recipient."""


class ChunkTakenError(JournalError):
    """Another process claimed the chunk first: this one must not send it.

    Raised by :meth:`JobJournal.mark_started` of a journal shared by several processes
    (a campaign's claims); the batch sender then waits for the other process's outcomes
    with :meth:`JobJournal.wait_outcomes`.
    """


class ChunkReleasedError(JournalError):
    """The process that held the chunk gave it back unsent: claim it again and send it.

    Raised by :meth:`JobJournal.wait_outcomes` when the holder's request was provably not
    made (refused before the provider acted, then the holder stopped): no outcome will come.
    """


class JobJournal(Protocol):
    """What a batch job needs from its journal: SQLite on one machine, claims for campaigns.

    Each chunk is ``prepare``d (recorded as pending, or its earlier state returned),
    ``mark_started`` just before its request (durably: a chunk marked started is never
    sent by anyone else), ``mark_pending`` again if it was provably not sent, and
    ``mark_done`` with its outcomes.

    Optional, used where present (both journals of crowdsms have them): ``opted_out()``
    (the suppression list as of the job's start), ``reports()`` (the delivery reports
    since the job began) and ``update_outcomes(index, outcomes)`` (a resumed job applies
    them), and ``mark_resending(index)`` (records a resend of a done chunk's unconfirmed
    recipients before its request; needed by ``resend_unconfirmed_after``), and
    ``mark_sent_again(index)`` (the SQLite journal's: records when a chunk left started is
    sent again with its key, which a resend of unconfirmed recipients waits from),
    ``record_key(index, idempotency_key)`` (the SQLite journal's; a campaign's never returns
    a pending chunk: records the key, or ``None``, that a pending chunk's next request
    carries when it is not the recorded one, since a resumed job resends a chunk left
    started with its recorded key, which must be the one its request carried; without it,
    a chunk a keyed run recorded and a run without keys left started could be resent by a
    keyed run, and sent twice), and
    ``mark_started_limited(index, kept_out)`` (``mark_started`` that also records which
    recipients per-number limits kept out of the request, with their outcomes, so that a
    resumed job, or a campaign's worker that finds the holder dead, reports them
    ``skipped``, not ``unknown``), and
    ``spend_store()`` (where a job with a spend cap records what each chunk spent, so that
    a resumed job keeps its budget; see :mod:`crowdsms.batch._spend_store`), and
    ``checks_fingerprints`` (a bool, true when absent): false for a journal that never
    compares a chunk's fingerprint (a campaign's, whose plan fixes each chunk's rows), so
    the job passes ``""`` instead of hashing every chunk.
    """

    @property
    def resumed(self) -> bool:
        """Whether the journal held this job before this run."""
        ...

    @property
    def recorded_chunks(self) -> int:
        """How many chunks it held when this run started."""
        ...

    async def prepare(
        self,
        index: int,
        *,
        positions: Sequence[int],
        phones: Sequence[str],
        fingerprint: str,
        idempotency_key: str | None,
    ) -> RecordedChunk | None:
        """Record chunk ``index`` as pending, or return what was recorded for it."""
        ...

    async def mark_started(self, index: int) -> None:
        """Record that chunk ``index`` is about to be sent; :class:`ChunkTakenError` if taken."""
        ...

    async def mark_pending(self, index: int) -> None:
        """Record that chunk ``index`` was not sent after all."""
        ...

    async def mark_done(self, index: int, outcomes: Sequence[RecipientOutcome]) -> None:
        """Record the outcomes of chunk ``index``."""
        ...

    async def reopen(self, index: int, *, idempotency_key: str | None) -> None:
        """Make a done chunk pending again (it failed as a whole)."""
        ...

    async def wait_outcomes(self, index: int, phones: Sequence[str]) -> list[RecipientOutcome]:
        """The outcomes of a chunk another process took, once it has them.

        If that process dies first (its claim's lease runs out), the chunk's recipients
        (``phones``) are ``unknown``: it may have sent them. If it gives the chunk back
        unsent, :class:`ChunkReleasedError`.
        """
        ...

    async def finish(self, chunks_seen: int) -> None:
        """Mark the job finished after ``chunks_seen`` chunks."""
        ...

    async def aclose(self) -> None:
        """Release the journal's resources."""
        ...


def _outcome_to_json(outcome: RecipientOutcome) -> dict[str, object]:
    data: dict[str, object] = {"phone": outcome.phone, "status": outcome.status.value}
    for name in ("message_id", "fee", "code", "message", "provider"):
        value = getattr(outcome, name)
        if value is not None:
            data[name] = value
    if outcome.retryable:
        data["retryable"] = True
    if outcome.confirmed:
        data["confirmed"] = True
    if outcome.delivery is not None:
        delivery: dict[str, object] = {"state": outcome.delivery.state.value}
        if outcome.delivery.code is not None:
            delivery["code"] = outcome.delivery.code
        if outcome.delivery.at is not None:
            delivery["at"] = outcome.delivery.at
        data["delivery"] = delivery
    return data


def _delivery_from_json(data: object) -> Delivery | None:
    if not isinstance(data, dict):
        return None
    at = data.get("at")
    return Delivery(
        state=DeliveryState(data["state"]),
        code=_optional_str(data.get("code")),
        at=float(at) if isinstance(at, (int, float)) else None,
    )


def _outcome_from_json(data: Mapping[str, object]) -> RecipientOutcome:
    fee = data.get("fee")
    return RecipientOutcome(
        phone=str(data["phone"]),
        status=OutcomeStatus(data["status"]),
        message_id=_optional_str(data.get("message_id")),
        fee=float(fee) if isinstance(fee, (int, float)) else None,
        code=_optional_str(data.get("code")),
        message=_optional_str(data.get("message")),
        retryable=bool(data.get("retryable", False)),
        confirmed=bool(data.get("confirmed", False)),
        delivery=_delivery_from_json(data.get("delivery")),
        provider=_optional_str(data.get("provider")),
    )


def encode_outcomes(outcomes: Sequence[RecipientOutcome]) -> str:
    """The JSON text the journal stores for a chunk's outcomes."""
    return json.dumps([_outcome_to_json(item) for item in outcomes], ensure_ascii=False)


def decode_outcomes(text: str) -> list[RecipientOutcome]:
    """The outcomes of :func:`encode_outcomes` text."""
    return [_outcome_from_json(item) for item in json.loads(text)]


def encode_kept_out(kept_out: Mapping[int, RecipientOutcome], *, started_at: float) -> str:
    """The JSON text the journal stores for a started chunk's recipients kept out of its
    request, tied to the time it was started (see :func:`decode_kept_out`)."""
    items = [[offset, _outcome_to_json(outcome)] for offset, outcome in kept_out.items()]
    return json.dumps({"started_at": started_at, "kept_out": items}, ensure_ascii=False)


def decode_kept_out(
    text: str, *, started_at: float | None, sent_at: float | None
) -> dict[int, RecipientOutcome] | None:
    """The recipients kept out of a started chunk's request, or ``None`` if the record may
    not be of its last request: a version of crowdsms that does not write it started the
    chunk since (``started_at`` moved), or sent it again with its key (``sent_at``; this
    version never resends with its key a chunk that limits kept recipients out of)."""
    if sent_at is not None:
        return None
    data = json.loads(text)
    if not isinstance(data, dict) or data.get("started_at") != started_at:
        return None
    return {int(offset): _outcome_from_json(item) for offset, item in data["kept_out"]}


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)


def _unusable(path: str, error: Exception) -> JournalError:
    return JournalError(
        "the journal file cannot be opened as a crowdsms journal",
        received=f"{path!r}: {error}",
        action=(
            "Check that the directory exists and is writable, and that the path names a "
            "journal written by crowdsms (or a new file)"
        ),
    )


def journal_has_job(path: str | os.PathLike[str], job_id: str) -> bool:
    """Whether the journal at ``path`` records ``job_id`` (read-only; a missing file: no).

    Raises :class:`JournalError` for a file that is not a crowdsms journal.
    """
    if not os.path.isfile(path):
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"file:{os.fspath(path)}?mode=ro", uri=True)) as db:
            row = db.execute("SELECT 1 FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
    except sqlite3.Error as exc:
        raise _unusable(os.fspath(path), exc) from exc
    return row is not None


def prepare_journal(connection: sqlite3.Connection) -> None:
    """WAL, durable commits, the journal's tables (upgraded) and the delivery records'."""
    prepare_connection(connection)
    connection.executescript(_SCHEMA)
    present = {row[1] for row in connection.execute("PRAGMA table_info(chunks)")}
    for column, kind in _ADDED_COLUMNS.items():
        if column not in present:
            connection.execute(f"ALTER TABLE chunks ADD COLUMN {column} {kind}")
    present = {row[1] for row in connection.execute("PRAGMA table_info(jobs)")}
    for column, kind in _ADDED_JOB_COLUMNS.items():
        if column not in present:
            connection.execute(f"ALTER TABLE jobs ADD COLUMN {column} {kind}")


def _start(
    connection: sqlite3.Connection, job_id: str, settings: str
) -> tuple[bool, int, float, bool]:
    """Set the connection up; record the job or check it.

    ``(resumed, chunks recorded, when the job was created, whether its suppression list
    was copied when it was created)``.
    """
    prepare_journal(connection)
    # One write transaction: the suppression list is copied with the job's row, and no
    # opt-out recorded by another process (the webhook app, reconcile) slips in between.
    connection.execute("BEGIN IMMEDIATE")
    try:
        result = _record_or_check(connection, job_id, settings)
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return result


def _record_or_check(
    connection: sqlite3.Connection, job_id: str, settings: str
) -> tuple[bool, int, float, bool]:
    row = connection.execute(
        "SELECT settings, created, opt_outs_copied FROM jobs WHERE job_id = ?", (job_id,)
    ).fetchone()
    if row is None:
        created = time.time()
        connection.execute(
            "INSERT INTO jobs (job_id, settings, created, opt_outs_copied) VALUES (?, ?, ?, 1)",
            (job_id, settings, created),
        )
        # The job's suppression list, fixed now: every run of it (and its preview) reads
        # this copy, whatever the list or the clock do later. Copied inside SQLite.
        connection.execute(
            "INSERT INTO job_opt_outs (job_id, phone) SELECT ?, phone FROM opt_outs", (job_id,)
        )
        return False, 0, created, True
    if row[0] != settings:
        _check_settings(connection, job_id, row[0], settings)
    (recorded,) = connection.execute(
        "SELECT COUNT(*) FROM chunks WHERE job_id = ?", (job_id,)
    ).fetchone()
    return True, int(recorded), float(row[1]), row[2] is not None


def load_job_opt_outs(
    connection: sqlite3.Connection, job_id: str, *, created: float, copied: bool
) -> frozenset[str]:
    """Job ``job_id``'s suppression list (blocking): the copy made when it was created.

    A job an earlier version of crowdsms created has no copy (``copied`` false): it keeps
    the rule that version gave it, the numbers the store recorded on the list by the time
    it was created (``recorded_at``, or the reply's date for rows without one; see
    :func:`~crowdsms.deliveries._store.load_opt_outs`). That rule depends on the clock and
    on the list keeping its rows: an opt-in by hand, or a clock stepped back, can still
    change what such a job's resume skips.
    """
    if not copied:
        return load_opt_outs(connection, before=created)
    rows = connection.execute("SELECT phone FROM job_opt_outs WHERE job_id = ?", (job_id,))
    return frozenset(row[0] for row in rows)


def _may_have_sent(connection: sqlite3.Connection, job_id: str) -> bool:
    """Whether a request of the job may have reached its provider: a chunk left started, or
    one done with a recipient ``sent`` or ``unknown`` (not only failed or skipped ones)."""
    rows = connection.execute(
        "SELECT state, outcomes FROM chunks WHERE job_id = ? AND state != 'pending'", (job_id,)
    )
    for state, text in rows:
        if state != "done" or text is None:
            return True
        if any(outcome.status in MAY_HAVE_REACHED for outcome in decode_outcomes(text)):
            return True
    return False


def _decoded(settings: str) -> tuple[dict[str, object], dict[str, object] | None]:
    """``(chunking settings, target)`` of encoded settings (no target: ``None``)."""
    try:
        decoded = json.loads(settings)
    except ValueError:
        return {"unreadable": settings}, None
    if not isinstance(decoded, dict):
        return {"unreadable": settings}, None
    target = decoded.pop("target", None)
    return decoded, target if isinstance(target, dict) else None


def _check_settings(
    connection: sqlite3.Connection, job_id: str, recorded: str, settings: str
) -> None:
    """Refuse a resume with other chunking settings or another target (where it sends).

    A target key only one side has is unknown and accepted (a journal of an earlier version
    records no target); the keys this run adds are then recorded, so later resumes are
    checked against them. Another account or base URL is accepted, and recorded, while
    nothing the job sent may have reached its provider (see :func:`_may_have_sent`).
    """
    old_chunking, old_target = _decoded(recorded)
    new_chunking, new_target = _decoded(settings)
    if old_chunking != new_chunking:
        raise JournalMismatchError(
            f"job {job_id!r} cannot resume: the journal recorded it with other chunking "
            "settings, so its chunks would not line up",
            received=(
                f"recorded {json.dumps(old_chunking, sort_keys=True)}, "
                f"this run {json.dumps(new_chunking, sort_keys=True)}"
            ),
            action=(
                "Resume with the same chunk_size (and the same chunk sender), or start a new "
                "job with a new job_id"
            ),
        )
    differences = target_differences(old_target, new_target)
    if differences and (
        any(key not in UNSENT_MAY_CHANGE for key, _, _ in differences)
        or _may_have_sent(connection, job_id)
    ):
        raise JournalMismatchError(
            f"job {job_id!r} cannot resume: it was recorded sending elsewhere, so the chunks "
            "recorded done would be reported sent while this provider or account never got "
            "them",
            received=describe_target(differences),
            action=(
                "Resume with the same provider, base URL and account as the job was recorded "
                "with (on the command line: the same --provider, credentials and --sandbox "
                "setting). Or start a new job with a new job_id, knowing that it sends to "
                "every recipient again, including those this job already sent"
            ),
        )
    # Nothing reached the provider under a target that differs (a mistyped account, say,
    # refused for the whole job): the job sends from here on where this run sends.
    if new_target is not None:
        merged = {**(old_target or {}), **new_target}
        if merged != old_target:
            connection.execute(
                "UPDATE jobs SET settings = ? WHERE job_id = ?",
                (json.dumps({**new_chunking, "target": merged}, sort_keys=True), job_id),
            )


class Journal:
    """The journal of one job in a SQLite file. Create it with :meth:`open`."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        *,
        lock: IO[bytes] | None,
        limiter: anyio.CapacityLimiter,
        job_id: str,
        resumed: bool,
        recorded: int,
        created: float = 0.0,
        opt_outs_copied: bool = False,
    ) -> None:
        self._connection = connection
        self.created = created
        """When the job was first recorded (Unix seconds)."""
        self._opt_outs_copied = opt_outs_copied
        self._lock = lock
        self._limiter = limiter
        self.job_id = job_id
        self.resumed = resumed
        """Whether the job was already in the journal (this run resumes it)."""
        self.recorded_chunks = recorded
        """How many chunks the journal held when the job was opened."""

    @classmethod
    async def open(
        cls,
        path: str | os.PathLike[str],
        *,
        job_id: str,
        settings: Mapping[str, object],
    ) -> Journal:
        """Open (or create) the journal at ``path`` for ``job_id``.

        Raises :class:`JournalMismatchError` when the job was recorded with other chunking
        ``settings`` (its chunks would not line up with this run's),
        :class:`JournalBusyError` when another job is using the file, and
        :class:`JournalError` when it cannot be opened as a journal.
        """
        limiter = anyio.CapacityLimiter(1)
        encoded = json.dumps(dict(settings), sort_keys=True)
        name = os.fspath(path)

        def work() -> tuple[sqlite3.Connection, IO[bytes] | None, bool, int, float, bool]:
            try:
                lock = _lock(name)
            except OSError as exc:
                raise _unusable(name, exc) from exc
            try:
                connection = sqlite3.connect(name, check_same_thread=False, isolation_level=None)
                try:
                    resumed, recorded, created, copied = _start(connection, job_id, encoded)
                except BaseException:
                    connection.close()
                    raise
            except BaseException as exc:
                if lock is not None:
                    lock.close()
                if isinstance(exc, sqlite3.Error):
                    raise _unusable(name, exc) from exc
                raise
            return connection, lock, resumed, recorded, created, copied

        with anyio.CancelScope(shield=True):  # never leave an opened connection behind
            connection, lock, resumed, recorded, created, copied = await anyio.to_thread.run_sync(
                work, limiter=limiter
            )
        return cls(
            connection,
            lock=lock,
            limiter=limiter,
            job_id=job_id,
            resumed=resumed,
            recorded=recorded,
            created=created,
            opt_outs_copied=copied,
        )

    async def _run(self, func: Callable[[], T]) -> T:
        try:
            return await anyio.to_thread.run_sync(func, limiter=self._limiter)
        except sqlite3.Error as exc:
            raise JournalStorageError(
                f"the journal of job {self.job_id!r} could not be written or read",
                received=f"{type(exc).__name__}: {exc}",
                action=(
                    "Fix the journal's storage (free disk space; check that the file is still "
                    "there and writable), then resume the job: chunks whose outcomes could "
                    "not be recorded are reported 'unknown' when it resumes"
                ),
            ) from exc

    async def prepare(
        self,
        index: int,
        *,
        positions: Sequence[int],
        phones: Sequence[str],
        fingerprint: str,
        idempotency_key: str | None,
    ) -> RecordedChunk | None:
        """Record chunk ``index`` as pending, or return it if it is already recorded.

        Raises :class:`JournalMismatchError` if the recorded chunk has another fingerprint.
        """

        def work() -> RecordedChunk | None:
            row = self._connection.execute(
                "SELECT state, fingerprint, idempotency_key, outcomes, started_at, resends, "
                "sent_at, kept_out FROM chunks "
                "WHERE job_id = ? AND idx = ?",
                (self.job_id, index),
            ).fetchone()
            if row is None:
                self._connection.execute(
                    "INSERT INTO chunks (job_id, idx, state, positions, phones, fingerprint, "
                    "idempotency_key, updated) VALUES (?, ?, 'pending', ?, ?, ?, ?, ?)",
                    (
                        self.job_id,
                        index,
                        json.dumps(list(positions)),
                        json.dumps(list(phones)),
                        fingerprint,
                        idempotency_key,
                        time.time(),
                    ),
                )
                return None
            state, recorded_fingerprint, key, outcomes, started_at, resends, sent_at, kept = row
            if recorded_fingerprint != fingerprint:
                raise JournalMismatchError(
                    f"job {self.job_id!r} cannot resume: chunk {index} (input positions "
                    f"{positions[0]} to {positions[-1]}) does not match the journal, so the "
                    "input changed since the job was recorded",
                    received="a different fingerprint of the chunk's numbers and variables",
                    action=(
                        "Resume with exactly the same input in the same order, or start a "
                        "new job with a new job_id"
                    ),
                )
            decoded = decode_outcomes(outcomes) if outcomes is not None else None
            return RecordedChunk(
                state=state,
                idempotency_key=key,
                outcomes=decoded,
                started_at=started_at,
                resends=resends or 0,
                sent_at=sent_at,
                kept_out=(
                    decode_kept_out(kept, started_at=started_at, sent_at=sent_at)
                    if state == "started" and kept is not None
                    else None
                ),
            )

        return await self._run(work)

    async def _set_state(
        self,
        index: int,
        state: ChunkState,
        outcomes: Sequence[RecipientOutcome] | None,
        *,
        kept_out: Mapping[int, RecipientOutcome] | None = None,
    ) -> None:
        encoded = encode_outcomes(outcomes) if outcomes is not None else None

        def work() -> None:
            now = time.time()
            if state == "started":
                kept = encode_kept_out(kept_out, started_at=now) if kept_out is not None else None
                self._connection.execute(
                    "UPDATE chunks SET state = ?, outcomes = NULL, updated = ?, started_at = ?, "
                    "sent_at = NULL, kept_out = ? WHERE job_id = ? AND idx = ?",
                    (state, now, now, kept, self.job_id, index),
                )
                return
            self._connection.execute(
                "UPDATE chunks SET state = ?, outcomes = ?, updated = ?, kept_out = NULL "
                "WHERE job_id = ? AND idx = ?",
                (state, encoded, now, self.job_id, index),
            )

        await self._run(work)

    async def mark_started(self, index: int) -> None:
        """Record that chunk ``index`` is about to be sent (and when)."""
        await self._set_state(index, "started", None)

    async def mark_started_limited(
        self, index: int, kept_out: Mapping[int, RecipientOutcome]
    ) -> None:
        """Record that chunk ``index`` is about to be sent without the recipients per-number
        limits kept out (their offsets in the chunk, with their ``skipped`` outcomes)."""
        await self._set_state(index, "started", None, kept_out=kept_out)

    async def mark_resending(self, index: int) -> None:
        """Record that done chunk ``index``'s unconfirmed recipients are about to be resent.

        Its outcomes stay as they are (the resent recipients are still ``unknown``), so a
        crash during the resend leaves them ``unknown``, never the others; the time of the
        resend and the count of resends are recorded.
        """

        def work() -> None:
            now = time.time()
            self._connection.execute(
                "UPDATE chunks SET resends = resends + 1, started_at = ?, sent_at = NULL, "
                "updated = ? "
                "WHERE job_id = ? AND idx = ? AND state = 'done'",
                (now, now, self.job_id, index),
            )

        await self._run(work)

    async def update_outcomes(self, index: int, outcomes: Sequence[RecipientOutcome]) -> None:
        """Replace done chunk ``index``'s outcomes (reports confirmed or resolved some)."""
        encoded = encode_outcomes(outcomes)

        def work() -> None:
            self._connection.execute(
                "UPDATE chunks SET outcomes = ?, updated = ? "
                "WHERE job_id = ? AND idx = ? AND state = 'done'",
                (encoded, time.time(), self.job_id, index),
            )

        await self._run(work)

    async def reports(self) -> list[ProviderReport]:
        """The delivery reports in the journal file received since the job began."""
        since = self.created - CLOCK_MARGIN
        return await self._run(lambda: load_reports(self._connection, since=since))

    async def opted_out(self) -> frozenset[str]:
        """The job's suppression list: the numbers on the list when the job was created,
        copied into the journal then (every run of it skips the same, whatever the list
        or the clock do later)."""
        return await self._run(
            lambda: load_job_opt_outs(
                self._connection, self.job_id, created=self.created, copied=self._opt_outs_copied
            )
        )

    def spend_store(self) -> SpendStore:
        """Where a job with a spend cap records what each chunk spent (a table of its own)."""
        return SpendStore(self._connection, self._run, job_id=self.job_id)

    async def mark_pending(self, index: int) -> None:
        """Record that chunk ``index`` was not sent after all (cancelled before the send)."""
        await self._set_state(index, "pending", None)

    async def reopen(self, index: int, *, idempotency_key: str | None) -> None:
        """Make done chunk ``index`` pending again, to be resent with ``idempotency_key``.

        Only for a chunk none of whose recipients the provider accepted: its outcomes are
        dropped, and the new key (a provider may remember the refused one) is recorded.
        """

        def work() -> None:
            self._connection.execute(
                "UPDATE chunks SET state = 'pending', outcomes = NULL, idempotency_key = ?, "
                "updated = ? WHERE job_id = ? AND idx = ? AND state = 'done'",
                (idempotency_key, time.time(), self.job_id, index),
            )

        await self._run(work)

    async def record_key(self, index: int, idempotency_key: str | None) -> None:
        """Record the key (or ``None``) the next request of pending chunk ``index`` carries."""

        def work() -> None:
            self._connection.execute(
                "UPDATE chunks SET idempotency_key = ?, updated = ? "
                "WHERE job_id = ? AND idx = ? AND state = 'pending'",
                (idempotency_key, time.time(), self.job_id, index),
            )

        await self._run(work)

    async def mark_sent_again(self, index: int) -> None:
        """Record that chunk ``index``, left started by an earlier run, is about to be sent
        again with its idempotency key (its ``started_at`` stays)."""

        def work() -> None:
            now = time.time()
            self._connection.execute(
                "UPDATE chunks SET sent_at = ?, updated = ? "
                "WHERE job_id = ? AND idx = ? AND state = 'started'",
                (now, now, self.job_id, index),
            )

        await self._run(work)

    async def mark_done(self, index: int, outcomes: Sequence[RecipientOutcome]) -> None:
        """Record the outcomes of chunk ``index``."""
        await self._set_state(index, "done", outcomes)

    async def wait_outcomes(self, index: int, phones: Sequence[str]) -> list[RecipientOutcome]:
        """Never needed: one process holds a SQLite journal, so no chunk is taken by another."""
        raise ChunkTakenError(f"chunk {index} was taken by another process")

    async def finish(self, chunks_seen: int) -> None:
        """Check that the input had every recorded chunk, and mark the job finished.

        Raises :class:`JournalMismatchError` if the journal holds chunks beyond the end of
        this run's input (the input got shorter).
        """

        def work() -> None:
            (extra,) = self._connection.execute(
                "SELECT COUNT(*) FROM chunks WHERE job_id = ? AND idx >= ?",
                (self.job_id, chunks_seen),
            ).fetchone()
            if extra:
                raise JournalMismatchError(
                    f"job {self.job_id!r}: the input ended after {chunks_seen} chunks but "
                    f"the journal records {extra} more, so the input changed since the job "
                    "was recorded",
                    received=f"{chunks_seen} chunks in this run's input",
                    action=(
                        "Resume with exactly the same input; check the journal's chunks "
                        "beyond the end, which were recorded by an earlier run"
                    ),
                )
            self._connection.execute(
                "UPDATE jobs SET finished = ? WHERE job_id = ?", (time.time(), self.job_id)
            )

        await self._run(work)

    async def aclose(self) -> None:
        """Close the SQLite connection (even when the job is being cancelled)."""
        with anyio.CancelScope(shield=True):
            await self._run(self._connection.close)
            if self._lock is not None:
                await self._run(self._lock.close)
