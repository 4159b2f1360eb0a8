"""Workers sharing one shard's claims on a real Redis, against a model of the provider.

Each example is one campaign shard run by waves of workers: the workers of a wave run the
shard at once (as a redelivered Celery task does), each with its own answers (sent, refused
before the provider acted, throttled, an answer lost before or after the provider acted, a
refusal of the chunk or of the whole job, the owner's stop, a worker killed mid-request),
concurrency and retries, and a sender with or without idempotency keys; the next wave runs
the shard again, as ``resume`` does. A last worker answers everything. The provider's
ledger is what it really sent, and the properties are the batch journal's, across
processes:

- no number is ever sent twice, by one worker or several;
- a worker's run that ends gives every recipient one outcome, true to the ledger (``sent``
  means sent; ``failed`` and ``skipped`` mean not sent), except that a chunk a stopped run
  left unsent (code ``not_sent``) may have been sent by another worker meanwhile: that is
  what the run did, and the shard's outcomes in the store are the other worker's;
- ``unknown`` only ever follows a request that may have reached the provider with that
  recipient in it;
- at the end, no recipient is left unsent by a stopped run (a chunk that failed stays
  failed: a campaign's shards never resend failed chunks).

A killed worker's claims stay until their lease runs out; the lease is short so that the
next wave takes them over soon. A lease that runs out under a live worker (a slow machine)
changes which outcomes are ``unknown``, never a property.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import anyio
import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crowdsms import RetryPolicy
from crowdsms.batch import NOT_SENT, BatchOutcome, BatchReport, BatchSender
from crowdsms.campaign import ClaimJournal, ClaimStore, Durability, connect
from crowdsms.outcomes import OutcomeStatus, Recipient, RecipientOutcome
from tests.batch.fakes import Call, FakeChunkSender, FakeTime, phone_at
from tests.batch.ledger import (
    Answer,
    Owner,
    Provider,
    assert_true_to_ledger,
    examples,
    never_twice,
)
from tests.redis_server import RedisServer

LEASE = 0.5
"""Seconds: how long a killed worker's claims hold up the next wave."""


@attrs.define
class WorkerPlan:
    answers: list[Answer]
    keyed: bool
    concurrency: int
    attempts: int
    jitter: int = 0


@attrs.define
class Worker:
    """One worker's run of the shard."""

    token: str
    plan: WorkerPlan
    provider: Provider
    ambiguous: set[str]
    owner: Owner = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.owner = Owner(self.provider, self.ambiguous)

    async def answer(self, call: Call, given: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
        return await self.owner.play(self.plan.answers, call, given, jitter=self.plan.jitter)

    async def run(
        self, store: ClaimStore, people: list[Recipient], chunk_size: int
    ) -> list[BatchOutcome] | None:
        """Run the shard as the campaign's workers do; its outcomes, or ``None`` if killed."""
        plan = self.plan
        fake = FakeChunkSender(
            max_chunk_size=50,
            keyed=plan.keyed,
            script=self.answer,
        )
        self.owner.sender = sender = BatchSender(
            fake,
            concurrency=plan.concurrency,
            chunk_size=chunk_size,
            chunk_retry=RetryPolicy(max_attempts=plan.attempts, jitter=0.0),
            resend_failed_chunks=False,  # as a campaign's shards run
            runtime=FakeTime().runtime(),
        )
        journal = ClaimJournal(store, token=self.token, lease=LEASE)
        got: list[BatchOutcome] = []
        report: BatchReport | None = None
        with self.owner.scope:
            report = await sender.send(
                people, sink=got.append, journal=journal, job_id=store.campaign_id
            )
        if report is None:
            return None
        assert report.total == len(got) == sum(report.by_status.values())
        if report.stopped is None:
            assert len(got) == len(people)
        return got


workers = st.builds(
    WorkerPlan,
    answers=st.lists(st.sampled_from(Answer), max_size=6),
    keyed=st.booleans(),
    concurrency=st.integers(1, 3),
    attempts=st.integers(1, 3),
    jitter=st.integers(0, 3),
)


@settings(max_examples=examples(40), deadline=None, suppress_health_check=list(HealthCheck))
@given(
    count=st.integers(1, 8),
    chunk_size=st.integers(1, 3),
    waves=st.lists(st.lists(workers, min_size=1, max_size=3), min_size=1, max_size=3),
    refused=st.sets(st.integers(0, 7), max_size=2),
)
def test_workers_sharing_claims_never_send_twice_and_lose_nothing(
    redis_server: RedisServer,
    count: int,
    chunk_size: int,
    waves: list[list[WorkerPlan]],
    refused: set[int],
) -> None:
    if not redis_server.running:  # another test stopped it: bring it back
        redis_server.start()
    people = [Recipient(phone_at(position)) for position in range(count)]
    provider = Provider(refuses=frozenset(phone_at(position) for position in refused))
    ambiguous: set[str] = set()
    last = WorkerPlan(answers=[], keyed=False, concurrency=2, attempts=3)

    async def shard() -> list[BatchOutcome]:
        client = connect(redis_server.url)
        store = ClaimStore(client, f"model-{uuid.uuid4().hex}", Durability.FSYNC_ALWAYS)
        ended: list[list[BatchOutcome]] = []

        async def run(worker: Worker) -> None:
            outcomes = await worker.run(store, people, chunk_size)
            if outcomes is not None:
                ended.append(outcomes)

        try:
            number = 0
            for wave in [*waves, [last]]:
                ended.clear()
                async with anyio.create_task_group() as group:
                    for plan in wave:
                        number += 1
                        group.start_soon(run, Worker(f"w{number}", plan, provider, ambiguous))
                never_twice(provider)
                for outcomes in ended:
                    assert_true_to_ledger(outcomes, people, provider, others_send=len(wave) > 1)
                    for item in outcomes:
                        if item.outcome.status is OutcomeStatus.UNKNOWN:
                            assert item.outcome.phone in ambiguous, (
                                f"{item.outcome} was never in a request"
                            )
        finally:
            await client.aclose()
        assert len(ended) == 1  # the last worker
        return ended[0]

    outcomes = anyio.run(shard)
    assert len(outcomes) == len(people)
    for item in outcomes:
        # A campaign keeps a chunk's failure (its shards never resend failed chunks); what
        # a stopped run left unsent, the last worker sends.
        assert item.outcome.code != NOT_SENT, item
