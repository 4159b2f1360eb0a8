"""A chunk another worker holds (and may be sending) stays ``unknown`` for a second run of its
shard when the store cannot be reached while it waits for the outcomes: never
``failed``/``not_sent``, which would invite sending it again."""

from __future__ import annotations

import pytest
import redis.asyncio
from redis.exceptions import ConnectionError as StoreDown

from crowdsms.batch import BatchOutcome, BatchSender, report_of
from crowdsms.campaign import ClaimJournal, ClaimStore, Durability
from crowdsms.outcomes import OutcomeStatus, Recipient
from tests.batch.fakes import FakeChunkSender, phone_at


@pytest.mark.asyncio
async def test_a_chunk_held_by_another_worker_is_never_failed(
    redis: redis.asyncio.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ClaimStore(redis, "held/0", Durability.FSYNC_ALWAYS)
    await store.claim(0, "w1", 300)  # worker 1 holds chunk 0: its request is on its way

    async def stale_read_ahead(self: ClaimStore, first: int, count: int) -> list[int]:
        return list(range(first, first + count))  # read before worker 1 claimed chunk 0

    async def store_down(self: ClaimStore, index: int) -> object:
        raise StoreDown("store down")  # for longer than the journal's patience

    monkeypatch.setattr(ClaimStore, "unclaimed", stale_read_ahead)
    monkeypatch.setattr(ClaimStore, "chunk", store_down)
    journal = ClaimJournal(store, token="w2", lease=30, patience=0.2)
    fake = FakeChunkSender(max_chunk_size=2)
    outcomes: list[BatchOutcome] = []
    with pytest.raises(StoreDown) as raised:
        await BatchSender(fake, chunk_size=2, concurrency=1).send(
            [Recipient(phone_at(0)), Recipient(phone_at(1))],
            sink=outcomes.append,
            journal=journal,
            job_id="held/0",
        )
    assert report_of(raised.value) is not None
    assert fake.calls == []
    assert {o.status for o in outcomes} == {OutcomeStatus.UNKNOWN}, [
        (o.status, o.outcome.code) for o in outcomes
    ]
