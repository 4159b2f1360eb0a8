"""The rate limit and the adaptive slow-down after a 429, on an injected clock."""

from __future__ import annotations

from collections.abc import Sequence

import anyio.lowlevel
import pytest

from crowdsms._transport import RetryPolicy
from crowdsms.batch import BatchProgress, send_batch
from crowdsms.batch._control import FlowControl
from crowdsms.errors import RateLimitedError
from crowdsms.outcomes import OutcomeStatus, Recipient, RecipientOutcome

from .fakes import Call, FakeChunkSender, FakeTime, phone_at, sent

NO_WAIT_RETRY = RetryPolicy(max_attempts=3, initial_delay=0.0, max_delay=0.0)


@pytest.mark.anyio
async def test_rate_halves_after_a_429_and_recovers_additively() -> None:
    time = FakeTime()

    async def script(call: Call, recipients: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
        if call.number == 2:
            raise RateLimitedError("too many requests", status_code=429, retry_after=None)
        return [sent(recipient) for recipient in recipients]

    fake = FakeChunkSender(script=script, clock=time.monotonic, strict=False)
    progress: list[BatchProgress] = []
    report = await send_batch(
        fake,
        [Recipient(phone_at(i)) for i in range(50 * 16)],
        concurrency=1,
        rate=100,
        burst=50,
        chunk_retry=NO_WAIT_RETRY,
        runtime=time.runtime(),
        progress=progress.append,
        progress_interval=0,
    )

    assert report.sent == 800
    assert report.retries == 1
    # 100 recipients/s in chunks of 50: a request every 0.5 s. The third one gets a 429, so
    # the rate halves to 50/s (its resend waits 1 s), then each success adds 5% of 100/s.
    expected = [0.0, 0.5, 1.0, 2.0]
    rate, now = 50.0, 2.0
    for _ in range(13):
        rate = min(100.0, rate + 5.0)
        now += 50 / rate
        expected.append(now)
    assert [call.time for call in fake.calls] == pytest.approx(expected)
    assert fake.calls[2].phones == fake.calls[3].phones  # the refused chunk was resent
    limits = [snapshot.rate_limit for snapshot in progress]
    assert min(limit for limit in limits if limit is not None) == pytest.approx(55.0)
    assert limits[-1] == pytest.approx(100.0)
    assert progress[-1].finished
    assert progress[-1].elapsed == pytest.approx(expected[-1])


@pytest.mark.anyio
async def test_without_a_rate_the_concurrency_halves_once_per_burst_of_429s(
    caplog: pytest.LogCaptureFixture,
) -> None:
    concurrency = 4
    completed_ok = 0
    started_after: list[tuple[int, int, int]] = []  # (call number, successes, in flight)

    async def script(call: Call, recipients: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
        nonlocal completed_ok
        started_after.append((call.number, completed_ok, call.in_flight))
        for _ in range(500):  # overlap: wait until every worker is busy (bounded)
            if fake.in_flight >= concurrency:
                break
            await anyio.lowlevel.checkpoint()
        for _ in range(20):
            await anyio.lowlevel.checkpoint()
        if call.number < concurrency:
            raise RateLimitedError("too many requests", status_code=429, retry_after=None)
        completed_ok += 1
        return [sent(recipient) for recipient in recipients]

    fake = FakeChunkSender(script=script, max_chunk_size=5, strict=False)
    progress: list[BatchProgress] = []
    report = await send_batch(
        fake,
        [Recipient(phone_at(i)) for i in range(5 * 60)],
        concurrency=concurrency,
        chunk_retry=NO_WAIT_RETRY,
        runtime=FakeTime().runtime(),
        progress=progress.append,
        progress_interval=0,
    )

    assert report.sent == 300
    # Four 429s of requests sent together: one slow-down (4 -> 2), not four.
    slow_downs = [r.getMessage() for r in caplog.records if "slow down" in r.getMessage()]
    assert slow_downs == ["batch: provider asked to slow down; concurrency now 2 (was 4)"]
    assert progress[-1].concurrency_limit == concurrency
    first_wave = [entry for entry in started_after if entry[0] < concurrency]
    assert max(in_flight for _, _, in_flight in first_wave) == concurrency
    # Then at most 2 at once until 4 successes, 3 until 8, and back to 4.
    for number, successes, in_flight in started_after:
        if number >= concurrency and successes < 4:
            assert in_flight <= 2
        elif number >= concurrency and successes < 8:
            assert in_flight <= 3
    assert max(in_flight for _, successes, in_flight in started_after if successes >= 8) == 4
    assert all(s.sent + s.failed + s.unknown + s.skipped == s.done for s in progress)
    assert progress[-1].sent == 300


@pytest.mark.asyncio
async def test_flow_control_floor_and_stale_generations() -> None:
    time = FakeTime()
    control = FlowControl(
        concurrency=8,
        rate=200.0,
        burst=None,
        slow_down=0.5,
        recovery=0.05,
        clock=time.monotonic,
        sleep=time.sleep,
    )
    for _ in range(10):
        control.rate_limited(control.generation)
    assert control.rate_limit == pytest.approx(10.0)  # never below 1/20 of the rate
    stale = control.generation - 1
    control.succeeded()
    control.rate_limited(stale)  # sent before the last slow-down: ignored
    assert control.rate_limit == pytest.approx(20.0)
    for _ in range(100):
        control.succeeded()
    assert control.rate_limit == pytest.approx(200.0)  # never above the configured rate
    assert control.concurrency_limit == 8  # with a rate, the concurrency is left alone


@pytest.mark.asyncio
async def test_all_429_gives_failed_retryable_outcomes() -> None:
    async def script(call: Call, recipients: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
        raise RateLimitedError("too many requests", status_code=429, retry_after=600.0)

    time = FakeTime()
    fake = FakeChunkSender(script=script, max_chunk_size=10)
    received: list[OutcomeStatus] = []
    report = await send_batch(
        fake,
        [Recipient(phone_at(i)) for i in range(10)],
        runtime=time.runtime(),
        sink=lambda item: received.append(item.status),
    )
    # The provider asked for a longer wait than chunk_retry allows (300 s): no resend.
    assert len(fake.calls) == 1
    assert time.sleeps == []
    assert received == [OutcomeStatus.FAILED] * 10
    assert report.by_code == {"RateLimitedError": 10}
