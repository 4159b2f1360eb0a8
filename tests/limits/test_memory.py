"""The in-process limiter on an injected clock: windows, refusals, refunds, memory, threads."""

from __future__ import annotations

import threading

import anyio
import anyio.lowlevel
import pytest

from crowdsms.errors import ConnectionFailedError, DeliveryCertainty, InvalidInputError
from crowdsms.limits import NumberLimitedError, NumberLimiter, NumberLimits, limited_blocking

PHONE = "13800138000"


class Clock:
    """A clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limiter(limits: NumberLimits | None = None) -> tuple[NumberLimiter, Clock]:
    clock = Clock()
    return NumberLimiter(limits, clock=clock), clock


def allowed(limiter: NumberLimiter, phone: str = PHONE) -> bool:
    try:
        limiter.acquire_nowait(phone)
    except NumberLimitedError:
        return False
    return True


def test_the_default_rule_one_a_minute_five_an_hour_ten_a_day() -> None:
    numbers, clock = limiter()
    start = clock.now
    assert allowed(numbers)
    assert not allowed(numbers)  # the same minute
    clock.now += 59.999
    assert not allowed(numbers)
    clock.now = start + 60  # the first send has left the minute
    assert allowed(numbers)
    for minute in (2, 3, 4):
        clock.now = start + 60 * minute
        assert allowed(numbers)
    clock.now = start + 300  # a sixth send within the hour
    with pytest.raises(NumberLimitedError) as caught:
        numbers.acquire_nowait(PHONE)
    error = caught.value
    assert (error.count, error.seconds, error.window) == (5, 3600.0, "5 per hour")
    assert error.retry_after == pytest.approx(3300.0)  # the first send leaves the hour then
    clock.now = start + 3600
    assert allowed(numbers)


def test_ten_a_day() -> None:
    numbers, clock = limiter()
    start = clock.now
    for hour in range(10):  # one an hour: every minute and hour window allows it
        clock.now = start + 3600 * hour
        assert allowed(numbers)
    clock.now = start + 3600 * 10
    with pytest.raises(NumberLimitedError) as caught:
        numbers.acquire_nowait(PHONE)
    assert caught.value.window == "10 per day"
    assert caught.value.retry_after == pytest.approx(86400 - 36000)
    clock.now = start + 86400
    assert allowed(numbers)


def test_the_error_names_the_window_that_frees_up_last() -> None:
    numbers, clock = limiter(NumberLimits.of([(1, 60), (2, 600)]))
    assert allowed(numbers)
    clock.now += 60
    assert allowed(numbers)
    clock.now += 1  # both windows are full: the minute frees up in 59 s, the 10 min in 539 s
    with pytest.raises(NumberLimitedError) as caught:
        numbers.acquire_nowait(PHONE)
    assert caught.value.window == "2 per 10 minutes"
    assert caught.value.retry_after == pytest.approx(539.0)
    assert "138****8000" in str(caught.value)
    assert PHONE not in str(caught.value)
    assert PHONE not in repr(caught.value)
    assert caught.value.phone == PHONE


def test_a_refused_attempt_does_not_use_up_quota() -> None:
    numbers, clock = limiter(NumberLimits.of([(1, 60)]))
    start = clock.now
    assert allowed(numbers)
    for second in range(1, 60):  # a bot trying every second
        clock.now = start + second
        assert not allowed(numbers)
    clock.now = start + 60  # the next message is due a minute after the first, not later
    assert allowed(numbers)


def test_numbers_are_normalized_and_counted_apart() -> None:
    numbers, _ = limiter()
    assert allowed(numbers, "+86 138-0013-8000")
    assert not allowed(numbers, "13800138000")
    assert allowed(numbers, "13900139000")


def test_bad_numbers_get_a_clear_error() -> None:
    numbers, _ = limiter()
    with pytest.raises(InvalidInputError, match="phone"):
        numbers.acquire_nowait("12345")
    with pytest.raises(InvalidInputError, match=r"phones.*appears twice"):
        numbers.acquire_many_nowait([PHONE, "+86" + PHONE])
    with pytest.raises(InvalidInputError, match="not one text"):
        numbers.acquire_many_nowait(PHONE)
    assert len(numbers) == 0  # nothing was recorded


def test_acquire_many_decides_each_number() -> None:
    numbers, _ = limiter()
    assert allowed(numbers, "13900139000")
    admission = numbers.acquire_many_nowait([PHONE, "+86 139 0013 9000", "13700137000"])
    assert list(admission.allowed) == [PHONE, "13700137000"]
    assert list(admission.refused) == ["13900139000"]
    assert admission.refused["13900139000"].window == "1 per minute"
    assert admission.allowed[PHONE].phone == PHONE


def test_release_gives_the_quota_back() -> None:
    numbers, clock = limiter(NumberLimits.of([(2, 60)]))
    first = numbers.acquire_nowait(PHONE)
    clock.now += 10
    second = numbers.acquire_nowait(PHONE)
    assert not allowed(numbers)
    numbers.release_nowait(second)
    clock.now += 1
    third = numbers.acquire_nowait(PHONE)  # the refunded send no longer counts
    numbers.release_nowait(second)  # twice: nothing more happens
    assert not allowed(numbers)
    clock.now = first.at + 60  # only the first send left the window: one free slot
    assert allowed(numbers)
    assert third.at == first.at + 11


def test_memory_is_bounded_old_numbers_are_forgotten() -> None:
    numbers, clock = limiter()
    for n in range(5000):
        numbers.acquire_nowait(f"1380000{n:04d}")
    assert len(numbers) == 5000
    clock.now += 86400 - 1
    numbers.acquire_nowait("13900139000")
    assert len(numbers) == 5001  # still inside the longest window
    clock.now += 1
    numbers.acquire_nowait("13700137000")
    assert len(numbers) == 2  # the 5000 left the day
    numbers.reset("13700137000")
    assert len(numbers) == 1
    assert allowed(numbers, "13700137000")


@pytest.mark.anyio
async def test_50_concurrent_callers_for_one_number_in_one_process() -> None:
    numbers, clock = limiter(NumberLimits.of([(3, 60), (5, 3600)]))
    granted: list[float] = []
    refused: list[NumberLimitedError] = []

    async def caller() -> None:
        for _ in range(3):
            try:
                permit = await numbers.acquire(PHONE)
            except NumberLimitedError as error:
                refused.append(error)
            else:
                granted.append(permit.at)
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as group:
        for _ in range(50):
            group.start_soon(caller)
    assert len(granted) == 3
    assert len(refused) == 147
    clock.now += 60
    async with anyio.create_task_group() as group:
        for _ in range(50):
            group.start_soon(caller)
    assert len(granted) == 5  # 3 more a minute, but only 5 an hour


def test_50_threads_for_one_number() -> None:
    numbers, _ = limiter(NumberLimits.of([(7, 60)]))
    results: list[bool] = []
    start = threading.Barrier(50)

    def caller() -> None:
        start.wait()
        for _ in range(20):
            results.append(allowed(numbers))

    threads = [threading.Thread(target=caller) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 7
    assert len(results) == 1000


def test_limited_blocking_refunds_only_what_was_provably_not_sent() -> None:
    numbers, _ = limiter(NumberLimits.of([(1, 60)]))
    with pytest.raises(ConnectionFailedError), limited_blocking(numbers, PHONE):
        raise ConnectionFailedError("refused", certainty=DeliveryCertainty.NOT_SENT)
    with pytest.raises(ConnectionFailedError), limited_blocking(numbers, PHONE):
        raise ConnectionFailedError("lost", certainty=DeliveryCertainty.UNKNOWN)
    with pytest.raises(NumberLimitedError), limited_blocking(numbers, PHONE):
        pytest.fail("not reached: the unknown send counts")
    with (
        pytest.raises(InvalidInputError, match="takes a NumberLimiter"),
        limited_blocking(object(), PHONE),  # type: ignore[arg-type]
    ):
        pytest.fail("not reached")


def test_asking_again_under_the_same_key_counts_once() -> None:
    numbers, clock = limiter(NumberLimits.of([(2, 60)]))
    first = numbers.acquire_many_nowait([PHONE, "13900139000"], key="chunk-7")
    clock.now += 5
    again = numbers.acquire_many_nowait([PHONE, "13900139000"], key="chunk-7")
    assert again.allowed == first.allowed  # the same permits, with their first time
    assert numbers.acquire_nowait(PHONE, key="chunk-8").at == clock.now  # another send
    with pytest.raises(NumberLimitedError):
        numbers.acquire_nowait(PHONE, key="chunk-9")
    assert numbers.acquire_nowait(PHONE, key="chunk-7") == first.allowed[PHONE]
    numbers.release_nowait(first.allowed[PHONE])
    assert numbers.acquire_nowait(PHONE, key="chunk-9").token == "chunk-9"
    clock.now += 60  # once a send left every window, its key counts as a new send
    renewed = numbers.acquire_nowait("13900139000", key="chunk-7")
    assert renewed.at == clock.now


@pytest.mark.parametrize("key", ["", "x" * 201, 7])
def test_a_bad_key_gets_a_clear_error(key: object) -> None:
    numbers, _ = limiter()
    with pytest.raises(InvalidInputError, match="key: a key is a non-empty text"):
        numbers.acquire_nowait(PHONE, key=key)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="key: a key is a non-empty text"):
        numbers.acquire_many_nowait([PHONE], key=key)  # type: ignore[arg-type]
    assert len(numbers) == 0
