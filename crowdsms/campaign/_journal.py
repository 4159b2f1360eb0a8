"""A batch job's journal on a campaign's claims: the same job, run safely by many workers.

A campaign shard is an ordinary batch job (screening, chunking, retries, the 429 slow-down,
the stop on errors every chunk would meet) whose journal is :class:`ClaimJournal` instead of
a SQLite file. Its :meth:`~ClaimJournal.mark_started` is the chunk's claim, durable in
Redis before the request is made, so when the engine hands the same shard to two workers
(a redelivery, a resubmitted campaign) only one of them sends each chunk:

- a chunk nobody claimed is claimed and sent by whoever reaches it first;
- a chunk another worker holds (a live holder) is waited for, and its outcomes are used;
- a chunk whose holder died mid-request (its lease ran out while ``started``) is reported
  ``unknown``, exactly as the single-machine journal reports a chunk that was in flight;
- a finished chunk is replayed from its recorded outcomes.

Delivery reports (see :mod:`crowdsms.deliveries`): :meth:`ClaimJournal.reports` reads the
campaign store's reports that may concern the shard, received since the campaign was
created; :meth:`~ClaimJournal.update_outcomes` keeps what they confirmed (only for finished
chunks, with a compare-and-set, so a chunk changed meanwhile is left alone);
:meth:`~ClaimJournal.mark_resending` claims a finished chunk's resend of its ``unknown``
recipients (``resend_unconfirmed_after``) with a lease of its own, so two workers never
resend one chunk at once. :meth:`~ClaimJournal.opted_out` is the shard's suppression list,
fixed when the campaign was planned, so every run of a shard skips the same numbers.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from functools import partial
from typing import TypeVar

import anyio
import redis.exceptions

from crowdsms.batch import INTERRUPTED, ChunkReleasedError, ChunkTakenError
from crowdsms.batch._journal import RecordedChunk
from crowdsms.campaign._claims import Claimed, ClaimStore, Held
from crowdsms.campaign._codec import encode_outcomes
from crowdsms.campaign._redis import ReplicasBehindError
from crowdsms.deliveries._match import CLOCK_MARGIN
from crowdsms.deliveries._reports import ProviderReport
from crowdsms.deliveries._store import DeliveryStore
from crowdsms.errors import CrowdSMSError
from crowdsms.outcomes import OutcomeStatus, RecipientOutcome

__all__ = [
    "DEFAULT_LEASE",
    "READ_AHEAD",
    "STORE_ERRORS",
    "STORE_PATIENCE",
    "ClaimJournal",
    "interrupted_outcomes",
]

logger = logging.getLogger("crowdsms.campaign")

DEFAULT_LEASE = 300.0
"""Seconds a claim lasts: longer than one chunk's request can take with its retries (the
transport's deadline is 60 s), so a live holder is never taken for a dead one."""

_POLL = 0.2

READ_AHEAD = 32
"""Chunks whose claims :meth:`ClaimJournal.prepare` looks up in one round trip."""

STORE_PATIENCE = 30.0
"""Seconds a journal call keeps retrying while the store cannot be reached (a Redis restart
takes a fraction of a second): every claim operation is safe to repeat for its token."""

STORE_ERRORS = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    ReplicasBehindError,  # a replica's link is down: as good as no store, for a claim
)
"""The errors that say the store cannot be reached (for now): waited out, then retried."""

T = TypeVar("T")


async def _patiently(call: Callable[[], Awaitable[T]], *, patience: float) -> T:
    """``call()``, again after a pause while the store cannot be reached, for ``patience`` s.

    A short outage (a restart, a failover) then costs a pause instead of the shard's run:
    ending the run would leave the chunks it holds to expire as ``unknown``.
    """
    deadline = anyio.current_time() + patience
    delay = 0.05
    while True:
        try:
            return await call()
        except STORE_ERRORS:
            if anyio.current_time() + delay > deadline:
                raise
            logger.warning(
                "campaign: the store cannot be reached, or its replicas are behind; trying "
                "again in %.2f s",
                delay,
            )
            await anyio.sleep(delay)
            delay = min(delay * 2, 2.0)


def interrupted_outcomes(
    index: int,
    phones: Sequence[str],
    kept_out: Mapping[int, RecipientOutcome] | None = None,
) -> list[RecipientOutcome]:
    """The outcomes of chunk ``index`` whose worker stopped during its request: ``unknown``,
    but for those per-number limits kept out of the request (``kept_out``, by offset), which
    keep their outcomes."""
    outcomes = [
        RecipientOutcome(
            phone=phone,
            status=OutcomeStatus.UNKNOWN,
            code=INTERRUPTED,
            message=(
                f"chunk {index} was being sent by a worker that stopped; the "
                "provider may have sent it. Check its delivery reports before "
                "sending these recipients again"
            ),
        )
        for phone in phones
    ]
    for offset, outcome in (kept_out or {}).items():
        outcomes[offset] = outcome
    return outcomes


class ClaimJournal:
    """A :class:`~crowdsms.batch.JobJournal` backed by a :class:`ClaimStore`.

    ``token`` identifies this worker's run of the shard (unique per run). With
    ``deliveries`` (the campaign store's :class:`~crowdsms.campaign.RedisDeliveryStore`),
    :meth:`reports` reads the reports of ``provider`` received since ``created`` (when the
    campaign was created, Unix seconds) that may concern ``job_id`` (the shard's batch job
    id; by default the store's id). ``opted_out`` is the shard's suppression list.
    ``planned`` says whether the campaign still exists: a run of a campaign deleted under
    it (its claims with it) stops with an error instead of taking every chunk for unsent.
    """

    checks_fingerprints = False
    """A shard's chunks are fixed by the campaign's plan (byte offsets into one input), so
    the job need not hash each chunk for the journal to compare."""

    def __init__(
        self,
        store: ClaimStore,
        *,
        token: str,
        lease: float = DEFAULT_LEASE,
        patience: float = STORE_PATIENCE,
        deliveries: DeliveryStore | None = None,
        provider: str | None = None,
        created: float = 0.0,
        job_id: str | None = None,
        opted_out: Collection[str] = (),
        planned: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        self._planned = planned
        self._patience = patience
        self._store = store
        self._token = token
        self._lease = lease
        self._dead_holders: dict[int, str] = {}
        self._recorded = 0
        self._deliveries = deliveries
        self._provider = provider
        self.created = created
        """When the campaign was created (Unix seconds)."""
        self.job_id = job_id if job_id is not None else store.campaign_id
        self._opted_out = frozenset(opted_out)
        self._stored: dict[int, bytes | tuple[RecipientOutcome, ...]] = {}
        """Each finished chunk's outcomes as last read (stored bytes) or written (encoded
        only if a compare-and-set needs them: :meth:`_expected`) by this run."""
        self._resending: set[int] = set()
        self._unclaimed: set[int] = set()
        """Chunks never claimed when last looked up (read ahead), not yet prepared."""
        self._read_up_to = 0
        """The first chunk the read-ahead has not looked up."""

    def _expected(self, index: int) -> bytes | None:
        """Chunk ``index``'s outcomes as the store holds them, if this run read or wrote them."""
        stored = self._stored.get(index)
        if stored is None or isinstance(stored, bytes):
            return stored
        return encode_outcomes(stored).encode()  # what finish wrote: the encoding is fixed

    async def _call(self, call: Callable[[], Awaitable[T]]) -> T:
        return await _patiently(call, patience=self._patience)

    @property
    def resumed(self) -> bool:
        """Whether chunks of this shard were recorded before this run reached them."""
        return self._recorded > 0

    @property
    def recorded_chunks(self) -> int:
        """How many of this shard's chunks this run found recorded already."""
        return self._recorded

    async def prepare(
        self,
        index: int,
        *,
        positions: Sequence[int],
        phones: Sequence[str],
        fingerprint: str,
        idempotency_key: str | None,
    ) -> RecordedChunk | None:
        """What the claims say of chunk ``index``: nothing yet, done, or started by a dead holder.

        A chunk held by a live worker is waited for until it is done (or its lease runs out).
        Chunks are looked up :data:`READ_AHEAD` at a time: one never claimed when looked up
        is sent without reading it again, since a claim made since then is what
        :meth:`mark_started` finds (and the job then takes that claim's outcomes).
        """
        if index >= self._read_up_to:
            self._read_up_to = index + READ_AHEAD
            read = partial(self._store.unclaimed, index, READ_AHEAD)
            self._unclaimed.update(await self._call(read))
            await self._check_planned()  # after the read: what it found is not a deletion's
        if index in self._unclaimed:
            self._unclaimed.discard(index)
            return None
        while True:
            record = await self._call(partial(self._store.chunk, index))
            if record is None:
                await self._check_planned()  # given back unsent, or deleted with its campaign
                return None
            self._recorded += 1
            if record.finished:
                assert record.stored is not None
                self._stored[index] = record.stored
                return RecordedChunk(
                    state="done",
                    idempotency_key=None,
                    outcomes=list(record.outcomes),
                    started_at=record.started_at,
                    resends=record.resends,
                )
            if (record.lease_left or 0) <= 0:
                self._dead_holders[index] = record.token or ""
                return RecordedChunk(
                    state="started",
                    idempotency_key=None,
                    outcomes=None,
                    started_at=record.started_at,
                    resends=record.resends,
                    kept_out=record.kept_out,
                )
            self._recorded -= 1
            await anyio.sleep(min(_POLL, max(record.lease_left or 0, 0.01)))

    async def _check_planned(self) -> None:
        """Raise :class:`~crowdsms.errors.CrowdSMSError` if the campaign was deleted."""
        if self._planned is not None and not await self._call(self._planned):
            raise CrowdSMSError(
                f"the campaign of {self.job_id!r} was deleted while this run was sending it "
                "(and perhaps created again under its id), and its record of what was sent "
                "went with it",
                action=(
                    "Nothing more is sent. Delete a campaign only once its shards are done "
                    "and its report written"
                ),
            )

    async def mark_started(self, index: int) -> None:
        """Claim chunk ``index``, durably; :class:`ChunkTakenError` if another worker has it.

        If the store cannot take the claim durably in time (it cannot be reached, or its
        replicas stay behind), the claim the server may hold is given back, as far as the
        store allows, before the error is raised: no request was made, and a claim left
        held would make the chunk ``unknown`` once its lease ran out.
        """
        await self.mark_started_limited(index, {})

    async def mark_started_limited(
        self, index: int, kept_out: Mapping[int, RecipientOutcome]
    ) -> None:
        """:meth:`mark_started`, the claim recording the recipients per-number limits kept
        out of the request (by offset, with their ``skipped`` outcomes): a worker that
        finds the claim's holder dead reports them so, not ``unknown``."""
        claim = partial(self._store.claim, index, self._token, self._lease)
        if kept_out:
            claim = partial(claim, kept_out=kept_out)
        try:
            result = await self._call(claim)
        except STORE_ERRORS:
            try:
                await self._store.release(index, self._token)
            except STORE_ERRORS:
                logger.warning(
                    "campaign: chunk %d's claim may not have been given back everywhere; if "
                    "not, it is reported unknown once its lease runs out, though it was "
                    "not sent",
                    index,
                )
            raise
        if not isinstance(result, Claimed):
            raise ChunkTakenError(f"chunk {index} was claimed by another worker first")

    async def mark_pending(self, index: int) -> None:
        """Give the claim back: the chunk was provably not sent."""
        await self._call(partial(self._store.release, index, self._token))

    async def mark_done(self, index: int, outcomes: Sequence[RecipientOutcome]) -> None:
        """Record the chunk's outcomes (or, for a dead holder's chunk, its ``unknown`` ones;
        for a resend, the chunk's outcomes with the resent recipients' new ones)."""
        if index in self._resending:
            self._resending.discard(index)
            call = partial(self._store.finish_resend, index, self._token, outcomes)
            if await self._call(call):
                self._stored[index] = tuple(outcomes)
            else:
                logger.error(
                    "campaign: the resend of chunk %d ran past its lease and another worker "
                    "took it over; the chunk's outcomes are that worker's",
                    index,
                )
            return
        holder = self._dead_holders.pop(index, None)
        if holder is not None:
            if await self._call(partial(self._store.expire, index, holder, outcomes)):
                self._stored[index] = tuple(outcomes)
            return
        if await self._call(partial(self._store.finish, index, self._token, outcomes)):
            self._stored[index] = tuple(outcomes)
        elif await self._replace_placeholder(index, outcomes):
            logger.warning(
                "campaign: chunk %d's lease ran out while this worker was sending it, and "
                "another worker recorded its recipients unknown; the provider's answer came "
                "after all, and its outcomes replace those",
                index,
            )
        else:
            logger.error(
                "campaign: chunk %d was finished by another worker (this one's lease ran out "
                "while it was sending); its outcomes are that worker's",
                index,
            )

    async def _replace_placeholder(self, index: int, outcomes: Sequence[RecipientOutcome]) -> bool:
        """Put ``outcomes`` (this worker's, from the provider's answer) in place of the
        ``unknown`` ones another worker recorded when this one's lease ran out, if the chunk
        still holds those and nothing else (no report confirmed any, no resend began), but
        for the recipients per-number limits kept out of the request, recorded as here."""
        record = await self._call(partial(self._store.chunk, index))
        if record is None or not record.finished or record.resending or record.stored is None:
            return False
        placeholders = record.outcomes
        if len(placeholders) != len(outcomes) or not all(
            (placeholder.status is OutcomeStatus.UNKNOWN and placeholder.code == INTERRUPTED)
            or (placeholder.status is OutcomeStatus.SKIPPED and placeholder == outcome)
            for placeholder, outcome in zip(placeholders, outcomes, strict=True)
        ):
            return False
        update = partial(
            self._store.update_outcomes, index, outcomes, expected=record.stored, token=self._token
        )
        if await self._call(update) != "updated":
            return False
        self._stored[index] = tuple(outcomes)
        return True

    async def reopen(self, index: int, *, idempotency_key: str | None) -> None:
        """Never called: campaign shards do not resend chunks that failed as a whole."""
        raise NotImplementedError("campaign shards run with resend_failed_chunks=False")

    async def wait_outcomes(self, index: int, phones: Sequence[str]) -> list[RecipientOutcome]:
        """The outcomes of a chunk another worker claimed (or is resending), once it is done.

        If that worker dies first (its lease runs out), the chunk is expired here with
        ``unknown`` outcomes: it may have been sent, so it is never sent again. A resend whose
        worker died leaves the chunk's outcomes as they were (its recipients ``unknown``).
        A chunk its worker gave back (provably not sent) raises :class:`ChunkReleasedError`:
        this run claims it and sends it.
        """
        while True:
            record = await self._call(partial(self._store.chunk, index))
            if record is None:
                await self._check_planned()  # not given back: deleted with its campaign
                raise ChunkReleasedError(f"chunk {index} was given back unsent by its holder")
            if record is not None and record.finished:
                if record.resending and record.resend_token != self._token:
                    await anyio.sleep(_POLL)
                    continue
                assert record.stored is not None
                self._stored[index] = record.stored
                return list(record.outcomes)
            if record is not None and (record.lease_left or 0) <= 0:
                unknown = interrupted_outcomes(index, phones, record.kept_out)
                holder = record.token or ""
                await self._call(partial(self._store.expire, index, holder, unknown))
                continue  # read what was recorded: ours, or another waiter's
            await anyio.sleep(_POLL)

    # -- delivery reports -----------------------------------------------------------------

    async def reports(self) -> list[ProviderReport]:
        """The reports that may concern this shard, received since the campaign was created
        (less :data:`~crowdsms.deliveries.CLOCK_MARGIN`); none without a delivery store."""
        store = self._deliveries
        if store is None:
            return []
        since = self.created - CLOCK_MARGIN
        read_job = getattr(store, "job_reports", None)
        if read_job is not None:
            reports: list[ProviderReport] = await self._call(
                partial(read_job, self.job_id, since=since, provider=self._provider)
            )
            return reports
        return await self._call(partial(store.reports, since=since, provider=self._provider))

    async def opted_out(self) -> frozenset[str]:
        """The numbers this shard skips as ``opted_out``: fixed when the campaign was planned
        (opted out before it was created), so every run of the shard skips the same."""
        return self._opted_out

    async def update_outcomes(self, index: int, outcomes: Sequence[RecipientOutcome]) -> None:
        """Keep what reports changed of finished chunk ``index``'s outcomes.

        Only if they are still what this run read (a compare-and-set) and no other worker
        is resending the chunk; otherwise the chunk is left as it is.
        """
        expected = self._expected(index)
        call = partial(
            self._store.update_outcomes, index, outcomes, expected=expected, token=self._token
        )
        result = await self._call(call)
        if result == "updated":
            self._stored[index] = tuple(outcomes)
        else:
            logger.debug("campaign: chunk %d not updated from reports: %s", index, result)

    async def mark_resending(self, index: int) -> None:
        """Claim the resend of finished chunk ``index``'s ``unknown`` recipients, durably.

        :class:`~crowdsms.batch.ChunkTakenError` if another worker is resending it, or its
        outcomes changed since this run read them (another worker resent it, or reports
        confirmed some): the job then takes the chunk's outcomes as they are, and resends
        nothing of it. The chunk's outcomes stay as they are until :meth:`mark_done`.
        """
        expected = self._expected(index)
        if expected is None:
            raise ChunkTakenError(f"chunk {index} was not read by this run; not resending it")
        call = partial(self._store.claim_resend, index, self._token, self._lease, expected=expected)
        result = await self._call(call)
        if not isinstance(result, Claimed):
            why = "being resent by another worker" if isinstance(result, Held) else result
            raise ChunkTakenError(f"chunk {index} cannot be resent by this worker: {why}")
        self._resending.add(index)

    async def finish(self, chunks_seen: int) -> None:
        """Nothing to record: the campaign counts finished chunks itself."""

    async def aclose(self) -> None:
        """Nothing to release: the Redis connection belongs to the caller."""
