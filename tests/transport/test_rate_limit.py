"""``TokenBucket``: rate, burst, rate changes and fairness, on fake time and on real time."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest

from crowdsms._transport import TokenBucket

pytestmark = pytest.mark.anyio


class FakeClock:
    """A clock that moves only when the bucket sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await anyio.lowlevel.checkpoint()


def _bucket(rate: float, clock: FakeClock, burst: float | None = None) -> TokenBucket:
    return TokenBucket(rate, burst=burst, clock=clock.time, sleep=clock.sleep)


async def test_a_full_bucket_serves_the_burst_without_waiting() -> None:
    clock = FakeClock()
    bucket = _bucket(10.0, clock, burst=5.0)
    for _ in range(5):
        await bucket.acquire()
    assert clock.sleeps == []


async def test_after_the_burst_the_rate_is_kept() -> None:
    clock = FakeClock()
    bucket = _bucket(10.0, clock, burst=5.0)
    start = clock.now
    for _ in range(25):
        await bucket.acquire()
    # 5 from the burst, then 20 more at 10 a second: 2 seconds.
    assert clock.now - start == pytest.approx(2.0)
    assert all(delay == pytest.approx(0.1) for delay in clock.sleeps)
    assert len(clock.sleeps) == 20


async def test_idle_time_refills_up_to_the_burst_only() -> None:
    clock = FakeClock()
    bucket = _bucket(10.0, clock, burst=3.0)
    for _ in range(3):
        await bucket.acquire()
    clock.now += 60.0  # a minute idle earns 600 tokens, but the bucket holds 3
    for _ in range(3):
        await bucket.acquire()
    assert clock.sleeps == []
    await bucket.acquire()
    assert clock.sleeps == [pytest.approx(0.1)]


async def test_a_request_for_several_tokens_waits_for_all_of_them() -> None:
    clock = FakeClock()
    bucket = _bucket(50.0, clock, burst=50.0)
    await bucket.acquire(50)  # the whole burst
    start = clock.now
    await bucket.acquire(25)
    assert clock.now - start == pytest.approx(0.5)


async def test_a_request_larger_than_the_burst_is_paced_too() -> None:
    clock = FakeClock()
    bucket = _bucket(10.0, clock, burst=10.0)
    start = clock.now
    await bucket.acquire(30)  # takes the full bucket and goes 20 into debt
    assert clock.now == start
    await bucket.acquire(1)  # must wait for the debt and one token: 2.1 s
    assert clock.now - start == pytest.approx(2.1)


async def test_set_rate_applies_from_now_on() -> None:
    clock = FakeClock()
    bucket = _bucket(10.0, clock, burst=1.0)
    await bucket.acquire()
    await bucket.acquire()
    assert clock.sleeps == [pytest.approx(0.1)]
    bucket.set_rate(2.0)
    assert bucket.rate == 2.0
    await bucket.acquire()
    assert clock.sleeps[-1] == pytest.approx(0.5)


async def test_zero_tokens_never_wait() -> None:
    clock = FakeClock()
    bucket = _bucket(1.0, clock, burst=1.0)
    await bucket.acquire()
    await bucket.acquire(0)
    assert clock.sleeps == []


async def test_waiters_are_served_in_arrival_order() -> None:
    clock = FakeClock()
    bucket = _bucket(1.0, clock, burst=1.0)
    await bucket.acquire()  # empty the bucket: everyone below has to wait
    served: list[int] = []

    async def waiter(index: int, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        task_status.started()
        await bucket.acquire()
        served.append(index)

    async with anyio.create_task_group() as tg:
        for index in range(6):
            await tg.start(waiter, index)
    assert served == [0, 1, 2, 3, 4, 5]
    assert clock.now == pytest.approx(106.0)


@pytest.mark.parametrize(("rate", "burst"), [(0.0, None), (-1.0, None), (1.0, 0.0), (1.0, -5.0)])
def test_nonsense_rates_are_refused(rate: float, burst: float | None) -> None:
    with pytest.raises(ValueError, match="must be > 0"):
        TokenBucket(rate, burst=burst)


def test_set_rate_refuses_nonsense() -> None:
    bucket = TokenBucket(1.0)
    with pytest.raises(ValueError, match="must be > 0"):
        bucket.set_rate(0.0)
    assert bucket.rate == 1.0


async def test_it_works_on_real_time_on_each_backend(anyio_backend: str) -> None:
    # Default clock and sleep (anyio's): a fast rate, so the test waits a few milliseconds.
    bucket = TokenBucket(2000.0, burst=2.0)
    done: list[int] = []

    async def take(index: int) -> None:
        await bucket.acquire()
        done.append(index)

    with anyio.fail_after(30):  # fail-safe only
        async with anyio.create_task_group() as tg:
            for index in range(10):
                tg.start_soon(take, index)
    assert sorted(done) == list(range(10))
    assert bucket.rate == 2000.0
    assert bucket.burst == 2.0
