"""The replay stores' contract: claim, complete, release; leases and keeping run out.

In memory and in the SQLite delivery store (the Redis one: tests/campaign/test_deliveries.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio

from crowdsms.deliveries import SQLiteDeliveryStore
from crowdsms.errors import ConfigurationError
from crowdsms.webhooks import MemoryReplayStore, PushState, ReplayStore

KEY = "submail:0f1e2d3c"


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


StoreFactory = Callable[[Clock], AsyncIterator[ReplayStore]]


async def memory(clock: Clock) -> AsyncIterator[ReplayStore]:
    yield MemoryReplayStore(clock=clock)


async def sqlite(clock: Clock, directory: Path) -> AsyncIterator[ReplayStore]:
    store = await SQLiteDeliveryStore.open(directory / "job.sqlite", clock=clock)
    try:
        yield store
    finally:
        await store.aclose()


@pytest_asyncio.fixture(params=[memory, sqlite], ids=["memory", "sqlite"])
async def made(request: pytest.FixtureRequest, tmp_path: Path):
    clock = Clock()
    factory = request.param
    stores = factory(clock, tmp_path) if factory.__code__.co_argcount == 2 else factory(clock)
    store = await anext(stores)
    yield store, clock
    await stores.aclose()


@pytest.mark.asyncio
async def test_a_key_is_claimed_once_until_released(made):
    store, _ = made
    assert await store.claim_push(KEY, owner="a", lease=60) is PushState.NEW
    assert await store.claim_push(KEY, owner="b", lease=60) is PushState.HANDLING
    assert await store.claim_push(KEY, owner="a", lease=60) is PushState.NEW  # sent twice
    await store.release_push(KEY, owner="b")  # not b's claim: kept
    assert await store.claim_push(KEY, owner="b", lease=60) is PushState.HANDLING
    await store.release_push(KEY, owner="a")
    assert await store.claim_push(KEY, owner="b", lease=60) is PushState.NEW


@pytest.mark.asyncio
async def test_a_completed_key_is_handled_for_everyone_until_kept_no_longer(made):
    store, clock = made
    assert await store.claim_push(KEY, owner="a", lease=60) is PushState.NEW
    await store.complete_push(KEY, keep=3600)
    await store.release_push(KEY, owner="a")  # too late: it was handled
    assert await store.claim_push(KEY, owner="a", lease=60) is PushState.HANDLED
    assert await store.claim_push(KEY, owner="b", lease=60) is PushState.HANDLED
    clock.now += 3599
    assert await store.claim_push(KEY, owner="b", lease=60) is PushState.HANDLED
    clock.now += 2
    assert await store.claim_push(KEY, owner="b", lease=60) is PushState.NEW


@pytest.mark.asyncio
async def test_the_claim_of_a_request_that_died_runs_out_with_its_lease(made):
    store, clock = made
    assert await store.claim_push(KEY, owner="dead", lease=300) is PushState.NEW
    clock.now += 299
    assert await store.claim_push(KEY, owner="b", lease=300) is PushState.HANDLING
    clock.now += 2
    assert await store.claim_push(KEY, owner="b", lease=300) is PushState.NEW
    await store.release_push(KEY, owner="dead")  # the first request ends: b's claim stays
    assert await store.claim_push(KEY, owner="c", lease=300) is PushState.HANDLING


def test_the_memory_is_bounded_and_checked():
    store = MemoryReplayStore(capacity=2)
    for key in "abc":
        store.complete(key, keep=60)
    assert len(store) == 2
    assert store.claim("a", owner="x", lease=60) is PushState.NEW  # pushed out
    with pytest.raises(ConfigurationError):
        MemoryReplayStore(capacity=0)


@pytest.mark.asyncio
async def test_a_claim_is_extended_only_by_its_owner_while_it_lives(made):
    store, clock = made
    assert await store.claim_push(KEY, owner="a", lease=300) is PushState.NEW
    clock.now += 200
    assert await store.extend_push(KEY, owner="a", lease=300) is True
    assert await store.extend_push(KEY, owner="b", lease=300) is False  # not b's
    clock.now += 299  # 499 s after the claim: alive, as extended
    assert await store.claim_push(KEY, owner="b", lease=300) is PushState.HANDLING
    clock.now += 2
    assert await store.extend_push(KEY, owner="a", lease=300) is False  # ran out: not revived
    assert await store.claim_push(KEY, owner="b", lease=300) is PushState.NEW
    assert await store.extend_push(KEY, owner="a", lease=300) is False  # taken over
    assert await store.claim_push(KEY, owner="c", lease=300) is PushState.HANDLING
    await store.complete_push(KEY, keep=3600)
    assert await store.extend_push(KEY, owner="b", lease=300) is False  # handled: stays so
    assert await store.claim_push(KEY, owner="c", lease=300) is PushState.HANDLED


@pytest.mark.asyncio
async def test_push_handled_reads_the_state_without_claiming(made):
    store, clock = made
    assert await store.push_handled(KEY) is False
    assert await store.claim_push(KEY, owner="a", lease=60) is PushState.NEW
    assert await store.push_handled(KEY) is False  # being handled is not handled
    await store.complete_push(KEY, keep=3600)
    assert await store.push_handled(KEY) is True
    clock.now += 3601
    assert await store.push_handled(KEY) is False
    assert await store.claim_push(KEY, owner="b", lease=60) is PushState.NEW
