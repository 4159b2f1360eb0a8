"""Chunk claims on a real Redis: one winner, only the holder finishes, leases, restarts."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import anyio
import anyio.to_thread
import pytest
import redis.asyncio
import redis.exceptions

from crowdsms.batch import INTERRUPTED, NUMBER_LIMITED, BatchOutcome, BatchSender
from crowdsms.campaign import (
    ClaimCounts,
    Claimed,
    ClaimJournal,
    ClaimStore,
    Done,
    Durability,
    Held,
    connect,
    durability,
    encode_outcomes,
)
from crowdsms.errors import InvalidInputError
from crowdsms.limits import NumberLimiter
from crowdsms.outcomes import OutcomeStatus, Recipient, RecipientOutcome
from tests.batch.fakes import Call, FakeChunkSender, FakeTime, phone_at, recipients
from tests.redis_server import RedisServer
from tests.waiting import scaled, wait_until

RUNNING_LEASE = scaled(2.0)
"""A lease that is still running two calls to the store later, however loaded the machine."""


async def until_lease_lapsed(store: ClaimStore, index: int) -> Held:
    """Wait until another worker's claim of chunk ``index`` finds its lease run out (on the
    server's clock); return what that claim saw."""
    seen: list[Held] = []

    async def lapsed() -> bool:
        held = await store.claim(index, "worker-b", 30)
        assert isinstance(held, Held), held
        seen[:] = [held]
        return held.lease_expired

    await wait_until(lapsed, missing=lambda: f"chunk {index}'s lease to run out ({seen})")
    return seen[0]


def phone(i: int) -> str:
    return f"138{i:08d}"


def sent_chunk(size: int, start: int = 0) -> list[RecipientOutcome]:
    """Outcomes as SUBMAIL answers them: 32-character send ids and a fee of 1."""
    return [
        RecipientOutcome(
            phone=phone(start + i),
            status=OutcomeStatus.SENT,
            message_id=f"{start + i:032x}",
            fee=1.0,
        )
        for i in range(size)
    ]


def unknown_chunk(size: int) -> list[RecipientOutcome]:
    return [
        RecipientOutcome(
            phone=phone(i),
            status=OutcomeStatus.UNKNOWN,
            code="lease_expired",
            message="holder died",
        )
        for i in range(size)
    ]


@pytest.fixture
def store(redis: redis.asyncio.Redis) -> ClaimStore:
    return ClaimStore(redis, "promo-2024-05", Durability.FSYNC_ALWAYS)


@pytest.mark.asyncio
async def test_the_first_claim_wins_and_the_holder_may_claim_again(store: ClaimStore) -> None:
    assert await store.claim(0, "worker-a", 30) == Claimed("worker-a", 30.0)
    held = await store.claim(0, "worker-b", 5)
    assert isinstance(held, Held)
    assert held.holder_token == "worker-a"
    assert held.state == "started"
    assert 29 < held.lease_left <= 30
    assert not held.lease_expired
    # a repeated claim (an answer lost to a connection error) renews the holder's lease
    assert await store.claim(0, "worker-a", 60) == Claimed("worker-a", 60.0)
    renewed = await store.claim(0, "worker-b", 5)
    assert isinstance(renewed, Held)
    assert renewed.lease_left > 59
    assert await store.counts() == ClaimCounts(started=1, done=0, expired=0)


@pytest.mark.asyncio
async def test_of_concurrent_claimers_on_separate_connections_exactly_one_wins(
    redis_url: str,
) -> None:
    clients = [connect(redis_url) for _ in range(4)]
    stores = [ClaimStore(client, "race", Durability.FSYNC_ALWAYS) for client in clients]
    try:
        chunks = range(40)
        results = await asyncio.gather(
            *(
                store.claim(chunk, f"worker-{number}", 30)
                for chunk in chunks
                for number, store in enumerate(stores)
            )
        )
    finally:
        for client in clients:
            await client.aclose()
    for chunk in chunks:
        answers = results[chunk * 4 : chunk * 4 + 4]
        winners = [answer for answer in answers if isinstance(answer, Claimed)]
        assert len(winners) == 1
        held = [answer for answer in answers if isinstance(answer, Held)]
        assert len(held) == 3
        assert {answer.holder_token for answer in held} == {winners[0].token}


@pytest.mark.asyncio
async def test_only_the_holder_finishes_and_then_everyone_sees_the_outcomes(
    store: ClaimStore,
) -> None:
    outcomes = sent_chunk(50)
    assert await store.claim(3, "worker-a", 30) == Claimed("worker-a", 30.0)
    assert await store.outcomes(3) is None
    assert not await store.finish(3, "worker-b", outcomes)
    assert not await store.finish(4, "worker-a", outcomes)  # never claimed
    assert await store.finish(3, "worker-a", outcomes)
    assert await store.finish(3, "worker-a", outcomes)  # repeated: still true, nothing changes
    assert await store.claim(3, "worker-b", 30) == Done(tuple(outcomes))
    assert await store.claim(3, "worker-a", 30) == Done(tuple(outcomes))
    assert await store.outcomes(3) == tuple(outcomes)
    assert not await store.expire(3, "worker-a", unknown_chunk(50))
    assert await store.counts() == ClaimCounts(started=0, done=1, expired=0)


@pytest.mark.asyncio
async def test_a_claim_expires_only_after_its_lease_and_only_for_the_token_seen(
    store: ClaimStore,
) -> None:
    assert isinstance(await store.claim(0, "worker-a", RUNNING_LEASE), Claimed)
    held = await store.claim(0, "worker-b", 30)
    assert isinstance(held, Held)
    assert not await store.expire(0, held.holder_token, unknown_chunk(2))  # lease running
    lapsed = await until_lease_lapsed(store, 0)
    assert lapsed.lease_expired
    assert lapsed.lease_left <= 0
    assert not await store.expire(0, "worker-b", unknown_chunk(2))  # not the holder's token
    assert await store.expire(0, lapsed.holder_token, unknown_chunk(2))
    assert await store.expire(0, lapsed.holder_token, unknown_chunk(2))  # repeated
    done = await store.claim(0, "worker-b", 30)
    assert done == Done(tuple(unknown_chunk(2)), expired=True)
    # the late holder's own outcomes come too late: the expired ones stay
    assert not await store.finish(0, "worker-a", sent_chunk(2))
    assert await store.outcomes(0) == tuple(unknown_chunk(2))
    assert await store.counts() == ClaimCounts(started=0, done=1, expired=1)


@pytest.mark.asyncio
async def test_a_holder_past_its_lease_may_still_finish_until_someone_expires_it(
    store: ClaimStore,
) -> None:
    assert isinstance(await store.claim(0, "worker-a", 0.1), Claimed)
    await until_lease_lapsed(store, 0)
    assert await store.finish(0, "worker-a", sent_chunk(1))
    assert await store.claim(0, "worker-b", 30) == Done(tuple(sent_chunk(1)))


@pytest.mark.asyncio
async def test_a_released_claim_can_be_claimed_again(store: ClaimStore) -> None:
    assert isinstance(await store.claim(0, "worker-a", 30), Claimed)
    assert not await store.release(0, "worker-b")
    assert await store.release(0, "worker-a")
    assert await store.counts() == ClaimCounts(started=0, done=0, expired=0)
    assert await store.claim(0, "worker-b", 30) == Claimed("worker-b", 30.0)


@pytest.mark.asyncio
async def test_campaigns_do_not_share_chunks_and_keys_carry_a_hash_tag(
    redis: redis.asyncio.Redis,
) -> None:
    first = ClaimStore(redis, "first", Durability.FSYNC_ALWAYS)
    second = ClaimStore(redis, "second", Durability.FSYNC_ALWAYS, prefix="app")
    assert isinstance(await first.claim(0, "a", 30), Claimed)
    assert isinstance(await second.claim(0, "b", 30), Claimed)
    assert first.chunk_key(0) == "crowdsms:campaign:{first}:chunk:0"
    assert second.counts_key == "app:campaign:{second}:counts"
    assert sorted(await redis.keys("*")) == sorted(
        key.encode()
        for key in [first.chunk_key(0), first.counts_key, second.chunk_key(0), second.counts_key]
    )


@pytest.mark.asyncio
async def test_retention_lets_finished_chunks_expire_from_redis(
    redis: redis.asyncio.Redis,
) -> None:
    store = ClaimStore(redis, "short", Durability.FSYNC_ALWAYS, retention=3600)
    assert isinstance(await store.claim(0, "a", 30), Claimed)
    assert await redis.ttl(store.chunk_key(0)) == -1  # a held claim never expires
    assert await store.finish(0, "a", sent_chunk(1))
    assert 3590 < await redis.ttl(store.chunk_key(0)) <= 3600
    assert 3590 < await redis.ttl(store.counts_key) <= 3600


@pytest.mark.asyncio
async def test_bad_arguments_are_refused_before_any_request(
    store: ClaimStore, redis: redis.asyncio.Redis
) -> None:
    with pytest.raises(InvalidInputError, match=r"campaign_id"):
        ClaimStore(redis, "{tag}", Durability.FSYNC_ALWAYS)
    with pytest.raises(InvalidInputError, match=r"campaign_id"):
        ClaimStore(redis, "", Durability.FSYNC_ALWAYS)
    with pytest.raises(InvalidInputError, match=r"chunk_index"):
        await store.claim(-1, "a", 30)
    with pytest.raises(InvalidInputError, match=r"token"):
        await store.claim(0, "", 30)
    with pytest.raises(InvalidInputError, match=r"lease_seconds"):
        await store.claim(0, "a", 0)
    with pytest.raises(InvalidInputError, match=r"holder_token"):
        await store.expire(0, "x" * 201, [])


@pytest.mark.asyncio
async def test_a_finished_chunk_of_50_takes_little_memory_per_recipient(
    store: ClaimStore, redis: redis.asyncio.Redis, record_property: Callable[[str, object], None]
) -> None:
    assert isinstance(await store.claim(0, "3f2a9c0e5b7d4e61a8c2f0b9d6e4a1c7", 30), Claimed)
    assert await store.finish(0, "3f2a9c0e5b7d4e61a8c2f0b9d6e4a1c7", sent_chunk(50))
    used = await redis.memory_usage(store.chunk_key(0))
    assert used is not None
    per_recipient = used / 50
    json_per_recipient = len(encode_outcomes(sent_chunk(50)).encode()) / 50
    record_property("redis_bytes_per_recipient", per_recipient)
    print(
        f"\nMEMORY USAGE of a finished chunk of 50: {used} bytes, {per_recipient:.1f} a "
        f"recipient, of which JSON {json_per_recipient:.1f}"
    )
    assert json_per_recipient < 58  # ["13800000000","s","<32 hex>",1],
    assert per_recipient < 80


@pytest.mark.asyncio
async def test_claims_and_outcomes_survive_a_redis_crash(
    server_factory: Callable[..., RedisServer],
) -> None:
    server = server_factory()
    client = connect(server.url)
    try:
        store = ClaimStore(client, "crash", await durability(client))
        assert isinstance(await store.claim(0, "worker-a", 600), Claimed)
        assert isinstance(await store.claim(1, "worker-a", 600), Claimed)
        assert await store.finish(1, "worker-a", sent_chunk(3))
        server.restart(kill=True)  # SIGKILL: no clean shutdown
        held = await store.claim(0, "worker-b", 600)
        assert isinstance(held, Held)
        assert held.holder_token == "worker-a"
        assert await store.claim(1, "worker-b", 600) == Done(tuple(sent_chunk(3)))
        assert await store.counts() == ClaimCounts(started=1, done=1, expired=0)
    finally:
        await client.aclose()


@pytest.mark.slow
@pytest.mark.asyncio
async def test_a_journal_waits_out_a_store_restart_instead_of_failing(
    server_factory: Callable[..., RedisServer],
) -> None:
    from crowdsms.campaign import ClaimJournal, connect, durability

    server = server_factory()
    client = connect(server.url)
    try:
        store = ClaimStore(client, "outage", await durability(client))
        journal = ClaimJournal(store, token="w1", lease=30)
        await journal.mark_started(0)
        server.stop(kill=True)  # the store is gone while the request is in flight...

        async def come_back() -> None:
            # longer than redis-py's own retries (3, at most 1 s apart) ride out alone
            await anyio.sleep(4.0)
            await anyio.to_thread.run_sync(server.start)

        async with anyio.create_task_group() as group:
            group.start_soon(come_back)
            # ...and the journal records the chunk's outcome once it is back: no failure
            await journal.mark_done(0, sent_chunk(1))
        assert await store.outcomes(0) == tuple(sent_chunk(1))
        impatient = ClaimJournal(store, token="w2", lease=30, patience=0.2)
        server.stop(kill=True)
        with pytest.raises(redis.exceptions.ConnectionError):
            await impatient.mark_started(1)
    finally:
        await client.aclose()


@pytest.mark.asyncio
async def test_a_claim_records_what_per_number_limits_kept_out(
    store: ClaimStore, redis: redis.asyncio.Redis
) -> None:
    skipped = RecipientOutcome(phone=phone(1), status=OutcomeStatus.SKIPPED, code="limited")
    assert isinstance(await store.claim(0, "worker-a", 30, kept_out={1: skipped}), Claimed)
    record = await store.chunk(0)
    assert record is not None
    assert record.kept_out == {1: skipped}
    assert await store.finish(0, "worker-a", [*sent_chunk(1), skipped])
    fields = await redis.hkeys(store.chunk_key(0))
    assert {b"kept_at", b"kept"}.isdisjoint(fields), fields  # the outcomes hold them now
    assert isinstance(await store.claim(1, "worker-a", 30), Claimed)
    record = await store.chunk(1)
    assert record is not None
    assert record.kept_out is None


@pytest.mark.asyncio
@pytest.mark.parametrize("keyed", [False, True])
async def test_a_dead_workers_limited_chunk_keeps_the_numbers_kept_out_skipped(
    store: ClaimStore, keyed: bool
) -> None:
    """A worker dies with a chunk in flight whose request a limit kept number 1 out of: the
    worker that finds its lease run out reports 1 ``skipped`` (it was in no request), the
    others ``unknown``, and sends nothing."""
    limiter = NumberLimiter()
    limiter.acquire_nowait(phone_at(1))

    with anyio.CancelScope() as killed:

        async def hang(call: Call, given: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
            killed.cancel()  # the worker dies with the request in flight
            await anyio.sleep_forever()
            raise AssertionError("unreachable")

        first = FakeChunkSender(max_chunk_size=3, keyed=keyed, script=hang)
        await BatchSender(first, number_limiter=limiter, runtime=FakeTime().runtime()).send(
            recipients(3), journal=ClaimJournal(store, token="w1", lease=0.2), job_id="shard"
        )
    assert first.phones_received() == [phone_at(0), phone_at(2)]
    await until_lease_lapsed(store, 0)

    second = FakeChunkSender(max_chunk_size=3, keyed=keyed)
    got: list[BatchOutcome] = []
    await BatchSender(second, number_limiter=limiter, runtime=FakeTime().runtime()).send(
        recipients(3),
        sink=got.append,
        journal=ClaimJournal(store, token="w2", lease=30),
        job_id="shard",
    )
    assert second.calls == []
    assert [item.outcome.code for item in got] == [INTERRUPTED, NUMBER_LIMITED, INTERRUPTED]
    assert got[1].outcome.status is OutcomeStatus.SKIPPED
