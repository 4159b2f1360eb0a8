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
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import TypeVar

import anyio
import redis.exceptions

from crowdsms.batch import INTERRUPTED, ChunkTakenError
from crowdsms.batch._journal import RecordedChunk
from crowdsms.campaign._claims import Claimed, ClaimStore, Done, Held
from crowdsms.outcomes import OutcomeStatus, RecipientOutcome

__all__ = ["DEFAULT_LEASE", "STORE_PATIENCE", "ClaimJournal"]

logger = logging.getLogger("crowdsms.campaign")

DEFAULT_LEASE = 300.0
"""Seconds a claim lasts: longer than one chunk's request can take with its retries (the
transport's deadline is 60 s), so a live holder is never taken for a dead one."""

_POLL = 0.2

STORE_PATIENCE = 30.0
"""Seconds a journal call keeps retrying while the store cannot be reached (a Redis restart
takes a fraction of a second): every claim operation is safe to repeat for its token."""

_STORE_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)

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
        except _STORE_ERRORS:
            if anyio.current_time() + delay > deadline:
                raise
            logger.warning("campaign: the store cannot be reached; trying again in %.2f s", delay)
            await anyio.sleep(delay)
            delay = min(delay * 2, 2.0)


class ClaimJournal:
    """A :class:`~crowdsms.batch.JobJournal` backed by a :class:`ClaimStore`.

    ``token`` identifies this worker's run of the shard (unique per run).
    """

    def __init__(
        self,
        store: ClaimStore,
        *,
        token: str,
        lease: float = DEFAULT_LEASE,
        patience: float = STORE_PATIENCE,
    ) -> None:
        self._patience = patience
        self._store = store
        self._token = token
        self._lease = lease
        self._dead_holders: dict[int, str] = {}
        self._recorded = 0

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
        """
        while True:
            state = await self._call(partial(self._store.peek, index))
            if state is None:
                return None
            self._recorded += 1
            if isinstance(state, Done):
                return RecordedChunk(
                    state="done", idempotency_key=None, outcomes=list(state.outcomes)
                )
            assert isinstance(state, Held)
            if state.lease_expired:
                self._dead_holders[index] = state.holder_token
                return RecordedChunk(state="started", idempotency_key=None, outcomes=None)
            self._recorded -= 1
            await anyio.sleep(min(_POLL, max(state.lease_left, 0.01)))

    async def mark_started(self, index: int) -> None:
        """Claim chunk ``index``, durably; :class:`ChunkTakenError` if another worker has it."""
        result = await self._call(partial(self._store.claim, index, self._token, self._lease))
        if not isinstance(result, Claimed):
            raise ChunkTakenError(f"chunk {index} was claimed by another worker first")

    async def mark_pending(self, index: int) -> None:
        """Give the claim back: the chunk was provably not sent."""
        await self._call(partial(self._store.release, index, self._token))

    async def mark_done(self, index: int, outcomes: Sequence[RecipientOutcome]) -> None:
        """Record the chunk's outcomes (or, for a dead holder's chunk, its ``unknown`` ones)."""
        holder = self._dead_holders.pop(index, None)
        if holder is not None:
            await self._call(partial(self._store.expire, index, holder, outcomes))
            return
        if not await self._call(partial(self._store.finish, index, self._token, outcomes)):
            logger.error(
                "campaign: chunk %d was finished by another worker (this one's lease ran out "
                "while it was sending); its outcomes are that worker's",
                index,
            )

    async def reopen(self, index: int, *, idempotency_key: str | None) -> None:
        """Never called: campaign shards do not resend chunks that failed as a whole."""
        raise NotImplementedError("campaign shards run with resend_failed_chunks=False")

    async def wait_outcomes(self, index: int, phones: Sequence[str]) -> list[RecipientOutcome]:
        """The outcomes of a chunk another worker claimed, once it has finished it.

        If that worker dies first (its lease runs out), the chunk is expired here with
        ``unknown`` outcomes: it may have been sent, so it is never sent again.
        """
        while True:
            state = await self._call(partial(self._store.peek, index))
            if isinstance(state, Done):
                return list(state.outcomes)
            if isinstance(state, Held) and state.lease_expired:
                unknown = [
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
                await self._call(partial(self._store.expire, index, state.holder_token, unknown))
                continue  # read what was recorded: ours, or another waiter's
            await anyio.sleep(_POLL)

    async def finish(self, chunks_seen: int) -> None:
        """Nothing to record: the campaign counts finished chunks itself."""

    async def aclose(self) -> None:
        """Nothing to release: the Redis connection belongs to the caller."""
