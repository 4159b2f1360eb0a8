"""The claims journal and delivery reports, on a real Redis: reports of the shard, opt-outs,
outcomes confirmed by reports (compare-and-set), and resends that two workers never share."""

from __future__ import annotations

import time

import anyio
import pytest
import redis.asyncio

from crowdsms.batch import ChunkTakenError
from crowdsms.campaign import ClaimJournal, ClaimStore, Durability, RedisDeliveryStore
from crowdsms.deliveries import CLOCK_MARGIN, OptOutWords, ProviderReport, ReportKind
from crowdsms.deliveries import chunk_reference as reference_of
from crowdsms.outcomes import OutcomeStatus, RecipientOutcome
from tests.waiting import wait_until

MODE = Durability.FSYNC_ALWAYS


def phone(i: int) -> str:
    return f"138{i:08d}"


def outcome(i: int, status: OutcomeStatus = OutcomeStatus.SENT) -> RecipientOutcome:
    sent = status is OutcomeStatus.SENT
    return RecipientOutcome(
        phone=phone(i),
        status=status,
        message_id=f"m{i}" if sent else None,
        code=None if sent else "ConnectionFailedError",
    )


def mixed() -> list[RecipientOutcome]:
    """A chunk of 4: two sent, two unknown (the answer to their request was lost)."""
    return [
        outcome(0),
        outcome(1, OutcomeStatus.UNKNOWN),
        outcome(2),
        outcome(3, OutcomeStatus.UNKNOWN),
    ]


@pytest.fixture
def store(redis: redis.asyncio.Redis) -> ClaimStore:
    return ClaimStore(redis, "promo/0", MODE)


def journal(store: ClaimStore, token: str, **options: object) -> ClaimJournal:
    return ClaimJournal(store, token=token, lease=30, **options)  # type: ignore[arg-type]


async def prepare(journal: ClaimJournal, index: int = 0) -> list[RecipientOutcome] | None:
    recorded = await journal.prepare(
        index,
        positions=range(4),
        phones=[phone(i) for i in range(4)],
        fingerprint="f",
        idempotency_key=None,
    )
    return None if recorded is None else recorded.outcomes


async def finished_chunk(store: ClaimStore, outcomes: list[RecipientOutcome]) -> None:
    sender = journal(store, "first-run")
    assert await prepare(sender) is None
    await sender.mark_started(0)
    await sender.mark_done(0, outcomes)


async def until_resend_lease_ran_out(store: ClaimStore) -> None:
    async def ran_out() -> bool:
        record = await store.chunk(0)
        assert record is not None
        return not record.resending

    await wait_until(ran_out, missing=lambda: "the dead resender's lease to run out")


@pytest.mark.asyncio
async def test_the_reports_of_a_shard_are_those_since_the_campaign_began(
    redis: redis.asyncio.Redis, store: ClaimStore
) -> None:
    deliveries = RedisDeliveryStore(redis, MODE)
    created = time.time() - 60

    def report(i: int, at: float, **fields: object) -> ProviderReport:
        return ProviderReport(
            provider=str(fields.pop("provider", "p1")),
            kind=ReportKind.DELIVERED,
            phone=phone(i),
            received_at=at,
            **fields,  # type: ignore[arg-type]
        )

    ours = report(1, created + 1, reference=reference_of("promo/0", 0))
    loose = report(2, created - CLOCK_MARGIN + 1)
    too_early = report(3, created - CLOCK_MARGIN - 1)
    other_shard = report(4, created + 1, reference=reference_of("promo/1", 0))
    other_provider = report(5, created + 1, provider="p2")
    await deliveries.record(
        [ours, loose, too_early, other_shard, other_provider], words=OptOutWords()
    )
    shard = journal(store, "w", deliveries=deliveries, provider="p1", created=created)
    assert sorted(await shard.reports(), key=lambda r: r.phone or "") == [ours, loose]
    assert await journal(store, "w").reports() == []  # no delivery store: no reports
    fixed = journal(store, "w", opted_out={phone(7)})
    assert await fixed.opted_out() == {phone(7)}


@pytest.mark.asyncio
async def test_a_finished_chunk_says_when_it_was_sent_and_how_often_resent(
    store: ClaimStore,
) -> None:
    before = time.time()
    await finished_chunk(store, mixed())
    recorded = await journal(store, "later").prepare(
        0, positions=range(4), phones=[], fingerprint="f", idempotency_key=None
    )
    assert recorded is not None
    assert recorded.state == "done"
    assert recorded.started_at is not None
    assert before - 1 <= recorded.started_at <= time.time() + 1
    assert recorded.resends == 0


@pytest.mark.asyncio
async def test_reports_change_only_finished_chunks_and_only_as_read(store: ClaimStore) -> None:
    confirmed = [outcome(i) for i in range(4)]
    holder = journal(store, "holder")
    await prepare(holder)
    await holder.mark_started(0)
    await holder.update_outcomes(0, confirmed)  # started: not finished, nothing changes
    record = await store.chunk(0)
    assert record is not None
    assert record.state == "started"
    await holder.mark_done(0, mixed())

    first, second = journal(store, "a"), journal(store, "b")
    assert await prepare(first) == mixed()
    assert await prepare(second) == mixed()
    await first.update_outcomes(0, confirmed)
    assert await store.outcomes(0) == tuple(confirmed)
    # the second read the chunk before the first changed it: its stale view is refused
    stale = [*confirmed[:3], outcome(3, OutcomeStatus.FAILED)]
    await second.update_outcomes(0, stale)
    assert await store.outcomes(0) == tuple(confirmed)
    assert await store.update_outcomes(0, stale, expected=None) == "updated"
    assert await store.update_outcomes(5, stale, expected=None) == "not_finished"


@pytest.mark.asyncio
async def test_two_workers_never_resend_a_chunk_at_once(store: ClaimStore) -> None:
    await finished_chunk(store, mixed())
    first, second, third = journal(store, "a"), journal(store, "b"), journal(store, "c")
    for worker in (first, second, third):
        assert await prepare(worker) == mixed()
    await first.mark_resending(0)
    await first.mark_resending(0)  # repeated (an answer lost): still the first's, counted once
    with pytest.raises(ChunkTakenError, match="another worker"):
        await second.mark_resending(0)
    # reports cannot change a chunk while another worker resends it
    await second.update_outcomes(0, [outcome(i) for i in range(4)])
    assert await store.outcomes(0) == tuple(mixed())
    phones = [phone(i) for i in range(4)]
    with anyio.move_on_after(0.5) as waiting:  # the second waits while the resend runs...
        await second.wait_outcomes(0, phones)
    assert waiting.cancelled_caught
    merged = [outcome(0), outcome(1), outcome(2), outcome(3, OutcomeStatus.FAILED)]
    await first.mark_done(0, merged)
    assert await second.wait_outcomes(0, phones) == merged  # ...and takes the merged outcomes
    record = await store.chunk(0)
    assert record is not None
    assert (record.resends, record.resending) == (1, False)
    # the third read the chunk before the resend: resending from that view is refused
    with pytest.raises(ChunkTakenError, match="changed"):
        await third.mark_resending(0)


@pytest.mark.asyncio
async def test_a_resend_whose_worker_died_leaves_its_recipients_unknown(
    store: ClaimStore,
) -> None:
    await finished_chunk(store, mixed())
    dead = ClaimJournal(store, token="dead", lease=0.3)
    await prepare(dead)
    await dead.mark_resending(0)
    before = await store.chunk(0)
    assert before is not None
    assert before.resending
    await until_resend_lease_ran_out(store)
    waiter = journal(store, "waiter")
    phones = [phone(i) for i in range(4)]
    assert await waiter.wait_outcomes(0, phones) == mixed()  # still unknown, not lost
    # another worker may resend them now (at-least-once), and the late one's outcomes lose
    taker = journal(store, "taker")
    await prepare(taker)
    await taker.mark_resending(0)
    record = await store.chunk(0)
    assert record is not None
    assert (record.resends, record.resend_token) == (2, "taker")
    assert record.started_at is not None
    assert record.started_at >= (before.started_at or 0)
    await dead.mark_done(0, [outcome(i) for i in range(4)])
    assert await store.outcomes(0) == tuple(mixed())
    taken = [outcome(0), outcome(1), outcome(2), outcome(3)]
    await taker.mark_done(0, taken)
    assert await store.outcomes(0) == tuple(taken)
