"""A campaign journal looks chunks up ahead, in one round trip, and never hashes a chunk.

What is read ahead can only go stale one way: a chunk nobody had claimed is claimed since.
The claim then finds it, and the job takes that claim's outcomes, never sending it again.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import anyio
import pytest
import redis.asyncio

from crowdsms.batch import BatchSender, ChunkReleasedError, ChunkTakenError
from crowdsms.batch import _job as job_module
from crowdsms.campaign import ClaimJournal, ClaimStore, Durability
from crowdsms.campaign._journal import READ_AHEAD, interrupted_outcomes
from crowdsms.errors import CrowdSMSError, InvalidInputError
from crowdsms.outcomes import OutcomeStatus, Recipient, RecipientOutcome
from tests.batch.fakes import FakeChunkSender, phone_at
from tests.waiting import scaled, wait_until

MODE = Durability.FSYNC_ALWAYS


def sent(index: int, worker: str) -> list[RecipientOutcome]:
    return [RecipientOutcome(phone=phone_at(index), status=OutcomeStatus.SENT, message_id=worker)]


class CountingStore(ClaimStore):
    """A claim store that counts the calls the journal makes of it, by name."""

    def __init__(self, client: redis.asyncio.Redis, campaign_id: str) -> None:
        super().__init__(client, campaign_id, MODE)
        self.calls: dict[str, int] = {}

    def __getattribute__(self, name: str) -> Any:
        value = super().__getattribute__(name)
        if name in ("chunk", "unclaimed", "claim", "finish"):
            counts: dict[str, int] = super().__getattribute__("calls")

            def counted(*args: Any, **kwargs: Any) -> Awaitable[Any]:
                counts[name] = counts.get(name, 0) + 1
                result: Awaitable[Any] = value(*args, **kwargs)
                return result

            return counted
        return value


async def prepare(journal: ClaimJournal, index: int) -> str | None:
    """What ``prepare`` says of chunk ``index``: None (send it) or the recorded state."""
    recorded = await journal.prepare(
        index,
        positions=[index],
        phones=[phone_at(index)],
        fingerprint="",
        idempotency_key=None,
    )
    return None if recorded is None else recorded.state


@pytest.mark.asyncio
async def test_unclaimed_lists_the_chunks_nobody_ever_claimed(
    redis: redis.asyncio.Redis,
) -> None:
    store = ClaimStore(redis, "ahead", MODE)
    assert await store.claim(1, "a", 30) == await store.claim(1, "a", 30)
    await store.claim(2, "a", 30)
    assert await store.finish(2, "a", sent(2, "a"))
    await store.claim(3, "a", 30)
    assert await store.release(3, "a")  # given back: as if never claimed
    assert await store.unclaimed(0, 5) == [0, 3, 4]
    assert await store.unclaimed(2, 1) == []
    with pytest.raises(InvalidInputError, match="count"):
        await store.unclaimed(0, 0)
    with pytest.raises(InvalidInputError, match="chunk_index"):
        await store.unclaimed(-1, 3)


@pytest.mark.asyncio
async def test_a_shard_looks_its_chunks_up_in_one_round_trip_per_read_ahead(
    redis: redis.asyncio.Redis,
) -> None:
    store = CountingStore(redis, "ahead-count")
    journal = ClaimJournal(store, token="w1", lease=30)
    chunks = READ_AHEAD + 3
    for index in range(chunks):
        assert await prepare(journal, index) is None
        await journal.mark_started(index)
        await journal.mark_done(index, sent(index, "w1"))
    # two reads ahead (chunks 0-31 and 32-63), no chunk read one by one
    assert store.calls == {"unclaimed": 2, "claim": chunks, "finish": chunks}
    assert not journal.resumed


@pytest.mark.asyncio
async def test_chunks_recorded_before_the_read_ahead_are_read_one_by_one(
    redis: redis.asyncio.Redis,
) -> None:
    store = ClaimStore(redis, "ahead-recorded", MODE)
    await store.claim(1, "earlier", 30)
    await store.finish(1, "earlier", sent(1, "earlier"))
    journal = ClaimJournal(store, token="w1", lease=30)
    assert await prepare(journal, 0) is None
    assert await prepare(journal, 1) == "done"
    assert journal.recorded_chunks == 1


@pytest.mark.asyncio
async def test_a_chunk_claimed_after_the_read_ahead_is_not_sent_again(
    redis: redis.asyncio.Redis,
) -> None:
    store = ClaimStore(redis, "ahead-stale", MODE)
    journal = ClaimJournal(store, token="w1", lease=30)
    assert await prepare(journal, 0) is None  # reads chunks 0 to 31 ahead: none claimed
    # meanwhile another worker (a redelivered shard) sends chunk 1 and finishes it
    await store.claim(1, "w2", 30)
    await store.finish(1, "w2", sent(1, "w2"))
    assert await prepare(journal, 1) is None  # stale, and so sent...
    with pytest.raises(ChunkTakenError):
        await journal.mark_started(1)  # ...only if the claim is this worker's: it is not
    assert await journal.wait_outcomes(1, [phone_at(1)]) == sent(1, "w2")
    assert await store.outcomes(1) == tuple(sent(1, "w2"))


@pytest.mark.asyncio
async def test_a_campaign_job_sends_each_chunk_once_without_hashing_chunks(
    redis: redis.asyncio.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_fingerprint(*_: object) -> str:
        raise AssertionError("a campaign journal compares no fingerprints")

    monkeypatch.setattr(job_module, "fingerprint", no_fingerprint)
    store = ClaimStore(redis, "ahead-job", MODE)
    # chunk 2 was finished by another worker before this one started
    await store.claim(2, "w2", 30)
    await store.finish(2, "w2", [*sent(4, "w2"), *sent(5, "w2")])
    chunk_sender = FakeChunkSender(max_chunk_size=2)
    sender = BatchSender(chunk_sender, chunk_size=2, concurrency=2)
    rows = [Recipient(phone_at(position)) for position in range(8)]
    journal = ClaimJournal(store, token="w1", lease=30)
    report = await sender.send(rows, journal=journal, job_id="ahead-job")
    assert report.by_status[OutcomeStatus.SENT] == 8
    assert sorted(chunk_sender.phones_received()) == [
        phone_at(position) for position in (0, 1, 2, 3, 6, 7)
    ]
    outcomes = [await store.outcomes(index) for index in range(4)]
    assert [outcome[0].message_id if outcome else None for outcome in outcomes] == [
        f"id-{phone_at(0)}",
        f"id-{phone_at(2)}",
        "w2",
        f"id-{phone_at(6)}",
    ]


@pytest.mark.asyncio
async def test_a_chunk_given_back_unsent_is_claimed_by_the_run_waiting_for_it(
    redis: redis.asyncio.Redis,
) -> None:
    store = ClaimStore(redis, "released", MODE)
    holder = ClaimJournal(store, token="w2", lease=30)
    waiter = ClaimJournal(store, token="w1", lease=30)
    await holder.mark_started(0)
    with pytest.raises(ChunkTakenError):
        await waiter.mark_started(0)
    # The holder's request is refused before the provider acts (a 429), it gives the claim
    # back to wait, and then stops: no outcome will ever come.
    await holder.mark_pending(0)
    with anyio.fail_after(scaled(10)), pytest.raises(ChunkReleasedError):
        await waiter.wait_outcomes(0, [phone_at(0)])
    await waiter.mark_started(0)  # the waiter may claim it now


@pytest.mark.asyncio
async def test_a_job_sends_a_chunk_its_holder_gave_back_unsent(
    redis: redis.asyncio.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ClaimStore(redis, "released-job", MODE)
    raced = anyio.Event()
    claim = ClaimStore.claim

    async def raced_claim(self: ClaimStore, index: int, token: str, lease: float) -> object:
        if token != "w1" or index != 0 or raced.is_set():
            return await claim(self, index, token, lease)
        raced.set()
        await claim(self, 0, "w2", 30)  # another run claims chunk 0 just before this one
        refused = await claim(self, index, token, lease)
        assert await store.release(0, "w2")  # and gives it back unsent (a 429), then stops
        return refused

    monkeypatch.setattr(ClaimStore, "claim", raced_claim)
    chunk_sender = FakeChunkSender(max_chunk_size=2)
    rows = [Recipient(phone_at(position)) for position in range(4)]
    journal = ClaimJournal(store, token="w1", lease=30)
    with anyio.fail_after(scaled(20)):
        report = await BatchSender(chunk_sender, chunk_size=2, concurrency=1).send(
            rows, journal=journal, job_id="released-job"
        )
    assert raced.is_set()
    assert report.by_status[OutcomeStatus.SENT] == 4
    assert sorted(chunk_sender.phones_received()) == [phone_at(p) for p in range(4)]


async def outlived_by_its_lease(store: ClaimStore) -> ClaimJournal:
    """A run that claimed chunk 0 and is still sending it when its lease runs out; another
    run has recorded the chunk's recipients ``unknown`` meanwhile (a dead holder, as far as
    it can tell). Returns the slow run's journal."""
    slow = ClaimJournal(store, token="w-slow", lease=0.2)
    assert await prepare(slow, 0) is None
    await slow.mark_started(0)

    async def lapsed() -> bool:
        record = await store.chunk(0)
        return record is not None and (record.lease_left or 0) <= 0

    await wait_until(lapsed, missing=lambda: "the slow worker's lease to run out")
    other = ClaimJournal(store, token="w-other", lease=30)
    assert await prepare(other, 0) == "started"
    await other.mark_done(0, interrupted_outcomes(0, [phone_at(0)]))
    return slow


@pytest.mark.asyncio
async def test_an_answer_after_the_lease_ran_out_replaces_the_unknown_placeholders(
    redis: redis.asyncio.Redis,
) -> None:
    store = ClaimStore(redis, "overrun", MODE)
    slow = await outlived_by_its_lease(store)
    assert [o.status for o in await store.outcomes(0) or ()] == [OutcomeStatus.UNKNOWN]

    await slow.mark_done(0, sent(0, "w-slow"))  # the provider's answer came after all
    assert await store.outcomes(0) == tuple(sent(0, "w-slow"))


@pytest.mark.asyncio
async def test_a_late_answer_replaces_the_placeholders_around_what_limits_kept_out(
    redis: redis.asyncio.Redis,
) -> None:
    """As above, for a chunk whose request a per-number limit kept its second number out
    of: the other run recorded that one ``skipped`` (from the claim), the first ``unknown``;
    the slow run's answer still replaces the placeholder."""
    store = ClaimStore(redis, "overrun-kept", MODE)
    phones = [phone_at(0), phone_at(1)]
    limited = RecipientOutcome(phone=phones[1], status=OutcomeStatus.SKIPPED, code="limited")
    slow = ClaimJournal(store, token="w-slow", lease=0.2)
    where = {"positions": [0, 1], "phones": phones, "fingerprint": "", "idempotency_key": None}
    assert await slow.prepare(0, **where) is None  # type: ignore[arg-type]
    await slow.mark_started_limited(0, {1: limited})

    async def lapsed() -> bool:
        record = await store.chunk(0)
        return record is not None and (record.lease_left or 0) <= 0

    await wait_until(lapsed, missing=lambda: "the slow worker's lease to run out")
    other = ClaimJournal(store, token="w-other", lease=30)
    recorded = await other.prepare(0, **where)  # type: ignore[arg-type]
    assert recorded is not None
    assert recorded.kept_out == {1: limited}
    await other.mark_done(0, interrupted_outcomes(0, phones, recorded.kept_out))
    assert [o.status for o in await store.outcomes(0) or ()] == [
        OutcomeStatus.UNKNOWN,
        OutcomeStatus.SKIPPED,
    ]

    answered = [*sent(0, "w-slow"), limited]
    await slow.mark_done(0, answered)  # the provider's answer came after all
    assert await store.outcomes(0) == tuple(answered)


@pytest.mark.asyncio
async def test_a_late_answer_leaves_outcomes_that_changed_since_alone(
    redis: redis.asyncio.Redis,
) -> None:
    store = ClaimStore(redis, "overrun-changed", MODE)
    slow = await outlived_by_its_lease(store)
    confirmed = sent(0, "report")  # a delivery report confirmed it meanwhile
    record = await store.chunk(0)
    assert record is not None
    assert await store.update_outcomes(0, confirmed, expected=record.stored) == "updated"

    await slow.mark_done(0, sent(0, "w-slow"))
    assert await store.outcomes(0) == tuple(confirmed)


@pytest.mark.asyncio
async def test_a_run_whose_campaign_is_deleted_under_it_stops_instead_of_sending_again(
    redis: redis.asyncio.Redis,
) -> None:
    store = ClaimStore(redis, "deleted", MODE)
    for index in range(3):  # an earlier run sent every chunk
        await store.claim(index, "w1", 30)
        await store.finish(index, "w1", sent(index, "w1"))
    planned = [True]

    async def still_planned() -> bool:
        return planned[0]

    journal = ClaimJournal(store, token="w2", lease=30, planned=still_planned)
    assert await prepare(journal, 0) == "done"  # looked up while the campaign still exists
    # The campaign is deleted, its claims with it: chunk 1 now looks never claimed.
    await redis.delete(*(store.chunk_key(index) for index in range(3)))
    planned[0] = False
    with pytest.raises(CrowdSMSError, match="deleted"):
        await prepare(journal, 1)
    late = ClaimJournal(store, token="w3", lease=30, planned=still_planned)
    with pytest.raises(CrowdSMSError, match="deleted"):  # its first look-up finds it gone
        await prepare(late, 0)
