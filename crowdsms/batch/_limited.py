"""Per-number limits in a batch job: a chunk's recipients take permits just before it is sent.

Where the check goes: in the worker that sends the chunk, after the chunk has been cut and
recorded in the journal as pending and the send window (if any) is open, just before it
waits for the flow control (a slot of the concurrency, the rate) and makes its request; a
permit's time is earlier than the request by that wait, and by the backoff of the chunk's
own retries (seconds, a few minutes under a ``Retry-After``). A chunk queued while the
window is closed takes its permits when it opens. One exception is left: a chunk that took
its permits just before the window closed and then waited past the close (a retry's
backoff, say) is sent when the window opens again, counted from the evening before.

The check is not made when screening the input: the numbers a limit refuses change over
time, and a chunk's recipients must not (a resumed job cuts the same chunks and
the journal checks them with a fingerprint). So the chunk keeps every recipient; those a
limit refuses get a ``skipped`` outcome with code :data:`NUMBER_LIMITED`, the others are
sent in one request (the chunk's index and idempotency key, a subset of its recipients, as
a resend of unconfirmed recipients does), and the journal records the chunk's outcomes
merged, one per recipient, when it is done.

Permits are taken once per chunk, not per attempt (the chunk's own retries of a
``NOT_SENT`` failure reuse them), under a key naming the chunk (:func:`chunk_key`, from the
job's identity and the chunk's index): whoever asks again for the same chunk (a resumed job whose
earlier run took the permits and crashed, a second worker of a campaign running the same
shard at once) gets the same permits, and the numbers are not counted twice. Once the
chunk's outcomes are known, the permits of recipients not sent are given back: ``failed``
(refused, or never sent because the job stopped) and, when another process took the chunk
first (a campaign's claims) and its outcomes are used, ``skipped``; ``sent`` and
``unknown`` ones keep theirs. A job's identity is its id and when its journal created it
(:func:`permit_scope`): another job that reuses the id (a daily job with a fixed id, a
campaign deleted and created again under its id) is another job, and its chunks never get
the earlier job's permits back, which would let its numbers past their limits.

With a journal, nothing is counted twice and no outcome is lost on resume: a ``done``
chunk is replayed from the journal without taking permits; a ``pending`` one never reached
its request, and takes its permits (again, under its key), as does a chunk none of whose
recipients was sent (each failed, or was limited; see ``resend_failed_chunks``). A chunk
that was in flight (``started``) is reported ``unknown`` (code ``interrupted``) even where
the provider has idempotency keys: its request may have carried only the recipients the
limit allowed, so sending the chunk again with its key could reach a number the limit
refused. Where the journal records which recipients the limits kept out of the request
(``mark_started_limited``: the SQLite journal does, and so do a campaign's claims), those
keep their ``skipped`` outcomes; only the recipients the request carried are ``unknown``.
"""

from __future__ import annotations

import hashlib
import logging
import math
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime

import anyio

from crowdsms._time import CHINA_TIME
from crowdsms._transport.runtime import Runtime
from crowdsms.batch._chunking import Block
from crowdsms.batch._dispatch import ChunkStates
from crowdsms.batch._journal import ChunkReleasedError, ChunkTakenError, JobJournal
from crowdsms.batch._stop import JobStop
from crowdsms.batch._window import SendWindow, wait_for_window
from crowdsms.limits import NumberLimitedError, NumberLimiting, NumberPermit, mask_phone
from crowdsms.limits._protocol import distinct_numbers
from crowdsms.outcomes import OutcomeStatus, RecipientOutcome

__all__ = [
    "NUMBER_LIMITED",
    "ChunkLimits",
    "LimitedStates",
    "chunk_key",
    "number_limited_outcome",
]

logger = logging.getLogger("crowdsms.batch")

_NOT_SENT = (OutcomeStatus.FAILED, OutcomeStatus.SKIPPED)

NUMBER_LIMITED = "number_limited"
"""The ``code`` of a recipient skipped because its number reached a per-number limit."""


def number_limited_outcome(
    position: int, phone: str, error: NumberLimitedError, *, now: float
) -> RecipientOutcome:
    """The ``skipped`` outcome of the recipient at ``position`` (``phone``), refused by ``error``.

    ``now`` is the wall clock (Unix seconds): the message says when the number may get a
    message again, in China time, as well as how long that is from the refusal.
    """
    due = datetime.fromtimestamp(now + error.retry_after, CHINA_TIME)
    wait = math.ceil(error.retry_after)
    return RecipientOutcome(
        phone=phone,
        status=OutcomeStatus.SKIPPED,
        code=NUMBER_LIMITED,
        message=(
            f"recipients[{position}]: {mask_phone(error.phone)} reached its per-number limit "
            f"({error.window}); not sent. It may get a message again from "
            f"{due:%Y-%m-%d %H:%M:%S} China time ({wait} s after this attempt)"
        ),
        retryable=True,
    )


def chunk_key(job_id: str, index: int) -> str:
    """The limiter key of chunk ``index`` of the job ``job_id`` names (its
    :func:`permit_scope`): the same in every run and process of that job."""
    digest = hashlib.sha256(job_id.encode()).hexdigest()[:16]
    return f"chunk:{digest}:{index}"


def permit_scope(job_id: str, journal: object) -> str:
    """What names a job's permits: its id and when its journal created it, the same in every
    run and process of the job, and another for a job that reuses the id.

    Without a journal nothing is resumed: each run is a job of its own. A journal that
    records no creation time (one of another library) gives the id alone.
    """
    if journal is None:
        return f"{job_id}#{uuid.uuid4().hex}"
    created = getattr(journal, "created", None)
    if isinstance(created, float | int) and created > 0:
        return f"{job_id}@{float(created)!r}"
    return job_id


def merge(
    fixed: Mapping[int, RecipientOutcome],
    offsets: Sequence[int],
    results: Sequence[RecipientOutcome],
) -> list[RecipientOutcome]:
    """The chunk's outcomes: ``fixed`` ones at their offsets, ``results`` at ``offsets``."""
    merged: list[RecipientOutcome | None] = [None] * (len(fixed) + len(offsets))
    for offset, outcome in fixed.items():
        merged[offset] = outcome
    for offset, outcome in zip(offsets, results, strict=True):
        merged[offset] = outcome
    assert all(outcome is not None for outcome in merged)
    return [outcome for outcome in merged if outcome is not None]


async def mark_started_limited(
    journal: ChunkStates, index: int, kept_out: Mapping[int, RecipientOutcome]
) -> None:
    """``journal.mark_started(index)``, recording ``kept_out`` too where the journal can
    (``mark_started_limited``; both journals of crowdsms can): a resumed job then reports
    those recipients ``skipped`` rather than ``unknown``."""
    record = getattr(journal, "mark_started_limited", None)
    if record is None:
        await journal.mark_started(index)
    else:
        await record(index, kept_out)


class LimitedStates:
    """The journal of a chunk sent in part: records the merged outcomes when it is done."""

    def __init__(
        self,
        journal: ChunkStates,
        *,
        phones: Sequence[str],
        fixed: Mapping[int, RecipientOutcome],
        offsets: Sequence[int],
    ) -> None:
        self._journal = journal
        self._phones = list(phones)
        self._fixed = dict(fixed)
        self._offsets = list(offsets)
        self.taken = False
        """Whether another process took the chunk (its outcomes are :attr:`merged`)."""
        self.merged: list[RecipientOutcome] | None = None

    async def mark_started(self, index: int) -> None:
        """Record that the chunk is about to be sent (a campaign's claim), and, where the
        journal can, which recipients the limits kept out of its request."""
        await mark_started_limited(self._journal, index, self._fixed)

    async def mark_pending(self, index: int) -> None:
        """Record that the chunk was not sent after all."""
        await self._journal.mark_pending(index)

    async def mark_done(self, index: int, outcomes: Sequence[RecipientOutcome]) -> None:
        """Record the outcomes of the recipients sent, merged with the skipped ones."""
        self.merged = merge(self._fixed, self._offsets, outcomes)
        await self._journal.mark_done(index, self.merged)

    async def wait_outcomes(self, index: int, phones: Sequence[str]) -> list[RecipientOutcome]:
        """Another process took the chunk: its outcomes (of the recipients sent here)."""
        outcomes = await self._journal.wait_outcomes(index, self._phones)
        self.taken = True
        self.merged = list(outcomes)
        return [outcomes[offset] for offset in self._offsets]


class ChunkLimits:
    """Applies a per-number limiter to each chunk a job sends (see the module's text)."""

    def __init__(
        self,
        limiter: NumberLimiting,
        *,
        send: Callable[..., Awaitable[list[RecipientOutcome]]],
        journal: JobJournal | None,
        wall_time: Callable[[], float],
        job_id: str,
        stop: JobStop,
        requested: set[int] | None = None,
        send_window: SendWindow | None = None,
        runtime: Runtime | None = None,
    ) -> None:
        self._stop = stop
        self._window = send_window
        self._runtime = runtime
        self._scope = permit_scope(job_id, journal)
        self._requested = requested if requested is not None else set()
        """The job's chunks whose request may have been made (the dispatcher's set): a
        chunk another process took joins it, since that process may be sending it."""
        self._limiter = limiter
        self._send = send
        """Sends a block (the job's dispatcher, within its spend cap if it has one)."""
        self._journal = journal
        self._wall_time = wall_time
        self._job_id = job_id

    async def send(
        self,
        block: Block,
        key: str | None,
        *,
        journal: ChunkStates | None = None,
        resend: int = 0,
    ) -> list[RecipientOutcome]:
        """Take the chunk's permits, send the recipients allowed, return every outcome.

        A resend of a chunk's unconfirmed recipients (``resend``, its number, and
        ``journal``, its states) takes permits of its own: each resend is another message
        to each number it reaches.
        """
        assert block.chunk_index is not None
        index = block.chunk_index
        states_of: ChunkStates | None = journal if journal is not None else self._journal
        if self._window is not None and self._runtime is not None:
            # Permits are dated when taken: not hours before the window lets the chunk go.
            await wait_for_window(self._window, self._runtime, self._stop)
        if self._stop:  # the job stopped: no permits for a chunk it will not send
            return await self._send(block, key, journal=journal, resend=resend)
        phones = [recipient.phone for recipient in block.recipients]
        numbers = distinct_numbers(phones)  # as the limiter keys them (the same, normally)
        permits_key = chunk_key(self._scope, index) + (f".r{resend}" if resend else "")
        admission = await self._limiter.acquire_many(numbers, key=permits_key)
        now = self._wall_time()
        fixed = {
            offset: number_limited_outcome(
                block.positions[offset], phones[offset], admission.refused[number], now=now
            )
            for offset, number in enumerate(numbers)
            if number in admission.refused
        }
        offsets = [offset for offset in range(len(phones)) if offset not in fixed]
        if fixed:
            logger.info(
                "batch: job %s: chunk %d: %d of its %d recipients reached a per-number limit; "
                "they are skipped as %s",
                self._job_id,
                index,
                len(fixed),
                len(phones),
                NUMBER_LIMITED,
            )
        if not offsets:
            return await self._record_unsent(states_of, index, phones, merge(fixed, [], []))
        sub = block if not fixed else _part(block, offsets)
        states = (
            LimitedStates(states_of, phones=phones, fixed=fixed, offsets=offsets)
            if states_of is not None
            else None
        )
        results = await self._send(sub, key, journal=states, resend=resend)
        if states is not None and states.taken:
            assert states.merged is not None
            final = states.merged  # another process sent the chunk (its permits are ours too)
        else:
            final = merge(fixed, offsets, results)
        unsent = [
            admission.allowed[number]
            for offset, number in enumerate(numbers)
            if number in admission.allowed and final[offset].status in _NOT_SENT
        ]
        try:
            await self._release(unsent)
        except Exception as error:
            # The outcomes are known (and journaled): a limiter that cannot take the
            # permits back only keeps those numbers counted, the safe side.
            logger.warning(
                "batch: job %s: chunk %d: %d permits of recipients not sent could not be "
                "given back (%s: %s); those numbers stay counted until their windows pass",
                self._job_id,
                index,
                len(unsent),
                type(error).__name__,
                str(error)[:200],
            )
        return final

    async def _release(self, permits: Sequence[NumberPermit]) -> None:
        if permits:
            with anyio.CancelScope(shield=True):
                await self._limiter.release_many(permits)

    async def _record_unsent(
        self,
        journal: ChunkStates | None,
        index: int,
        phones: Sequence[str],
        outcomes: list[RecipientOutcome],
    ) -> list[RecipientOutcome]:
        """Every recipient was refused: no request; the journal records the chunk done."""
        if journal is None:
            return outcomes
        while True:
            try:
                with anyio.CancelScope(shield=True):
                    # a campaign's claim: nobody else sends it
                    await mark_started_limited(journal, index, dict(enumerate(outcomes)))
            except ChunkTakenError:
                self._requested.add(index)  # the process that took it may be sending it
                try:
                    return list(await journal.wait_outcomes(index, phones))
                except ChunkReleasedError:
                    self._requested.discard(index)  # given back unsent: claim it again
                    continue
            break
        with anyio.CancelScope(shield=True):
            await journal.mark_done(index, outcomes)
        return outcomes


def _part(block: Block, offsets: Sequence[int]) -> Block:
    """A block of the chunk's recipients at ``offsets`` (same chunk index and span)."""
    return Block(
        start=block.start,
        end=block.end,
        chunk_index=block.chunk_index,
        positions=[block.positions[i] for i in offsets],
        input_phones=[block.input_phones[i] for i in offsets],
        recipients=[block.recipients[i] for i in offsets],
    )
