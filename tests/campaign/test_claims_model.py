"""Workers sharing one shard's claims on a real Redis, against a model of the provider.

Each example is one campaign shard run by waves of workers: the workers of a wave run the
shard at once (as a redelivered Celery task does), each with its own answers (sent, refused
before the provider acted, throttled, an answer lost before or after the provider acted, a
refusal of the chunk or of the whole job, the owner's stop, a worker killed mid-request or
as an answer comes), concurrency and retries, and a sender with or without idempotency
keys (and, for the whole shard, per-number limits that some numbers reached just before);
the next wave runs the shard again, as ``resume`` does. A last worker answers everything.
The provider's ledger is what it really sent, and the properties are the batch journal's,
across processes:

- no number is ever sent twice, by one worker or several;
- a worker's run that ends gives every recipient one outcome, true to the ledger (``sent``
  means sent; ``failed`` and ``skipped`` mean not sent), except that a chunk a stopped run
  left unsent (code ``not_sent``) may have been sent by another worker meanwhile: that is
  what the run did, and the shard's outcomes in the store are the other worker's;
- ``unknown`` only ever follows a request that may have reached the provider with that
  recipient in it;
- at the end, no recipient is left unsent by a stopped run (a chunk that failed stays
  failed: a campaign's shards never resend failed chunks).

A second test has the provider's reports arrive between waves, and workers resend the
recipients no report confirmed (at-least-once): only then is a number sent again.

A killed worker's claims stay until their lease runs out; the lease is short so that the
next wave takes them over soon. A lease that runs out under a live worker (a slow machine)
changes which outcomes are ``unknown``, never a property.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Sequence

import anyio
import attrs
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from crowdsms import RetryPolicy
from crowdsms.batch import NOT_SENT, NUMBER_LIMITED, BatchOutcome, BatchReport, BatchSender
from crowdsms.campaign import ClaimJournal, ClaimStore, Durability, RedisDeliveryStore, connect
from crowdsms.deliveries import OptOutWords, ProviderReport, ReportKind
from crowdsms.limits import NumberLimits, RedisNumberLimiter
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
PROVIDER = "fake"
CREATED = time.time()
"""When the campaigns were created (the reports the journals read came after)."""


@attrs.define
class WorkerPlan:
    answers: list[Answer]
    keyed: bool
    concurrency: int
    attempts: int
    jitter: int = 0
    resend_unconfirmed: bool = False  # resend_unconfirmed_after=0: at-least-once
    killed_with_answer: int | None = None  # killed as the answer to this request comes


@attrs.define
class Worker:
    """One worker's run of the shard."""

    token: str
    plan: WorkerPlan
    provider: Provider
    ambiguous: set[str]
    owner: Owner = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.owner = Owner(
            self.provider, self.ambiguous, ctrl_c_with_answer=self.plan.killed_with_answer
        )

    async def answer(self, call: Call, given: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
        return await self.owner.play(self.plan.answers, call, given, jitter=self.plan.jitter)

    async def run(
        self,
        store: ClaimStore,
        people: list[Recipient],
        chunk_size: int,
        deliveries: RedisDeliveryStore | None = None,
        limiter: RedisNumberLimiter | None = None,
    ) -> list[BatchOutcome] | None:
        """Run the shard as the campaign's workers do; its outcomes, or ``None`` if killed.

        With ``deliveries``, the journal reads the provider's reports from there."""
        plan = self.plan
        fake = FakeChunkSender(
            max_chunk_size=50, keyed=plan.keyed, references=True, script=self.answer
        )
        self.owner.sender = sender = BatchSender(
            fake,
            concurrency=plan.concurrency,
            chunk_size=chunk_size,
            chunk_retry=RetryPolicy(max_attempts=plan.attempts, jitter=0.0),
            resend_failed_chunks=False,  # as a campaign's shards run
            resend_unconfirmed_after=0.0 if plan.resend_unconfirmed else None,
            number_limiter=limiter,
            runtime=FakeTime().runtime(),
        )
        journal = ClaimJournal(
            store,
            token=self.token,
            lease=LEASE,
            deliveries=deliveries,
            provider=PROVIDER,
            created=CREATED,
        )
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


WORKER = {  # what varies in every worker's run
    "answers": st.lists(st.sampled_from(Answer), max_size=6),
    "keyed": st.booleans(),
    "concurrency": st.integers(1, 3),
    "attempts": st.integers(1, 3),
    "jitter": st.integers(0, 3),
    "killed_with_answer": st.none() | st.integers(0, 4),
}
workers = st.builds(WorkerPlan, **WORKER)


@settings(max_examples=examples(40), deadline=None, suppress_health_check=list(HealthCheck))
@given(
    count=st.integers(1, 8),
    chunk_size=st.integers(1, 3),
    waves=st.lists(st.lists(workers, min_size=1, max_size=3), min_size=1, max_size=3),
    refused=st.sets(st.integers(0, 7), max_size=2),
    limited=st.none() | st.sets(st.integers(0, 7), max_size=3),
)
def test_workers_sharing_claims_never_send_twice_and_lose_nothing(
    redis_server: RedisServer,
    count: int,
    chunk_size: int,
    waves: list[list[WorkerPlan]],
    refused: set[int],
    limited: set[int] | None,
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
        limiter = None
        if limited is not None:  # per-number limits; these numbers had a message just now
            limiter = RedisNumberLimiter(client, NumberLimits(), prefix=uuid.uuid4().hex)
            await limiter.acquire_many(phone_at(position) for position in limited)

        async def run(worker: Worker) -> None:
            outcomes = await worker.run(store, people, chunk_size, limiter=limiter)
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
    for position in (limited or set()) & set(range(count)):  # a message just now: no other
        assert phone_at(position) not in provider.ledger
        assert outcomes[position].outcome.code == NUMBER_LIMITED, outcomes[position]
    for item in outcomes:
        # A campaign keeps a chunk's failure (its shards never resend failed chunks); what
        # a stopped run left unsent, the last worker sends.
        assert item.outcome.code != NOT_SENT, item


resending = st.builds(WorkerPlan, **WORKER, resend_unconfirmed=st.booleans())


@settings(max_examples=examples(30), deadline=None, suppress_health_check=list(HealthCheck))
@given(
    count=st.integers(1, 6),
    chunk_size=st.integers(1, 3),
    waves=st.lists(
        st.tuples(st.lists(resending, min_size=1, max_size=2), st.integers(0, 2)),
        min_size=1,
        max_size=3,
    ),
)
def test_workers_resend_only_what_no_report_confirmed(
    redis_server: RedisServer,
    count: int,
    chunk_size: int,
    waves: list[tuple[list[WorkerPlan], int]],
) -> None:
    """With ``resend_unconfirmed_after``, a number gets a second message only from a wave
    that asked for resends, only while no report of it had come, and once per wave at most
    (two workers never resend a chunk at once). Before each wave the provider's reports of
    none (0), every other one (1) or all (2) of the messages not reported yet arrive."""
    if not redis_server.running:
        redis_server.start()
    people = [Recipient(phone_at(position)) for position in range(count)]
    provider = Provider(refuses=frozenset())
    ambiguous: set[str] = set()
    reported: set[str] = set()

    async def shard() -> None:
        client = connect(redis_server.url)
        store = ClaimStore(client, f"resends-{uuid.uuid4().hex}", Durability.FSYNC_ALWAYS)
        deliveries = RedisDeliveryStore(client, Durability.FSYNC_ALWAYS)
        ended: list[list[BatchOutcome]] = []

        async def run(worker: Worker) -> None:
            outcomes = await worker.run(store, people, chunk_size, deliveries)
            if outcomes is not None:
                ended.append(outcomes)

        try:
            number = 0
            for plans, how in waves:
                due = [sent for sent in provider.sent_with if sent[0] not in reported]
                chosen = due[::2] if how == 1 else due if how == 2 else []
                await deliveries.record(
                    [
                        ProviderReport(
                            provider=PROVIDER, kind=ReportKind.DELIVERED, phone=phone, reference=ref
                        )
                        for phone, ref in chosen
                    ],
                    words=OptOutWords(),
                )
                reported.update(phone for phone, _ in chosen)
                confirmed, before = set(reported), Counter(provider.ledger)
                ended.clear()
                async with anyio.create_task_group() as group:
                    for plan in plans:
                        number += 1
                        group.start_soon(run, Worker(f"w{number}", plan, provider, ambiguous))
                resent_by = any(plan.resend_unconfirmed for plan in plans)
                for phone, times in (Counter(provider.ledger) - before).items():
                    again = times if before[phone] else times - 1  # beyond its first message
                    if again:
                        assert resent_by, f"{phone} sent again without asking"
                        assert phone not in confirmed, f"{phone} sent again after its report"
                        assert again == 1, f"{phone} sent again {again} times in one wave"
                        event("a number was sent again")
                for outcomes in ended:
                    assert_true_to_ledger(outcomes, people, provider, others_send=len(plans) > 1)
                    for item in outcomes:
                        if item.outcome.status is OutcomeStatus.UNKNOWN:
                            assert item.outcome.phone in ambiguous, item.outcome
        finally:
            await client.aclose()

    anyio.run(shard)
