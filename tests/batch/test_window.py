"""Quiet hours: a job sends only inside its daily window, pauses outside it, and stops there
when asked. Time is injected (a fake clock that moves only when something sleeps)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time

import anyio
import pytest

from crowdsms._time import CHINA_TIME
from crowdsms._transport import Runtime
from crowdsms.batch import NOT_SENT, BatchSender, SendWindow
from crowdsms.errors import InvalidInputError
from crowdsms.outcomes import OutcomeStatus, Recipient, RecipientOutcome
from tests.batch.fakes import Call, FakeChunkSender, recipients, sent


def at(text: str) -> float:
    """Unix time of ``YYYY-MM-DD HH:MM:SS`` in China."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA_TIME).timestamp()


class Clock:
    """Wall and monotonic time that move only when the job sleeps."""

    def __init__(self, start: float) -> None:
        self.now = start
        self.slept = 0.0
        self.on_sleep: list[object] = []

    async def sleep(self, delay: float) -> None:
        self.now += max(0.0, delay)
        self.slept += max(0.0, delay)
        for hook in list(self.on_sleep):
            assert callable(hook)
            hook()
        await anyio.lowlevel.checkpoint()

    def runtime(self) -> Runtime:
        return Runtime(
            wall_time=lambda: self.now,
            monotonic=lambda: self.now,
            sleep=self.sleep,
            random=lambda: 0.0,
        )


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [("08:00-21:00", time(8), time(21)), (" 22:30 - 06:00 ", time(22, 30), time(6))],
)
def test_a_window_parses(text: str, start: time, end: time) -> None:
    assert SendWindow.parse(text) == SendWindow(start, end)


@pytest.mark.parametrize("text", ["8-21", "08:00", "25:00-26:00", "08:60-09:00", "09:00-09:00"])
def test_a_bad_window_is_a_clear_error(text: str) -> None:
    with pytest.raises(InvalidInputError, match="send window") as caught:
        SendWindow.parse(text)
    assert "08:00-21:00" in str(caught.value)


@pytest.mark.parametrize(
    ("now", "until"),
    [
        ("2026-12-02 08:00:00", 0.0),
        ("2026-12-02 20:59:59", 0.0),
        ("2026-12-02 21:00:00", 11 * 3600.0),
        ("2026-12-02 07:30:00", 1800.0),
        ("2026-12-02 23:00:00", 9 * 3600.0),
    ],
)
def test_seconds_until_a_day_window_opens(now: str, until: float) -> None:
    assert SendWindow.parse("08:00-21:00").seconds_until_open(at(now)) == until


@pytest.mark.parametrize(
    ("now", "until"),
    [
        ("2026-12-02 23:00:00", 0.0),
        ("2026-12-03 05:59:00", 0.0),
        ("2026-12-03 06:00:00", 16 * 3600.0),
        ("2026-12-03 21:59:00", 60.0),
    ],
)
def test_a_window_may_cross_midnight(now: str, until: float) -> None:
    assert SendWindow.parse("22:00-06:00").seconds_until_open(at(now)) == until


@pytest.mark.asyncio
async def test_a_job_outside_its_window_waits_for_it_and_sends_only_inside() -> None:
    clock = Clock(at("2026-12-02 20:59:58"))
    chunks = FakeChunkSender(max_chunk_size=10, clock=lambda: clock.now)
    sender = BatchSender(
        chunks,
        concurrency=1,
        rate=5,  # two chunks per 4 s: the window closes after the first one
        send_window="08:00-21:00",
        runtime=clock.runtime(),
    )
    report = await sender.send(recipients(40))
    assert report.sent == 40
    window = SendWindow.parse("08:00-21:00")
    assert all(window.is_open(call.time) for call in chunks.calls)
    assert chunks.calls[0].time < at("2026-12-02 21:00:00")
    assert chunks.calls[-1].time >= at("2026-12-03 08:00:00")
    assert clock.slept >= 11 * 3600 - 10


@pytest.mark.asyncio
async def test_a_paused_job_stops_at_once_when_asked() -> None:
    clock = Clock(at("2026-12-02 22:00:00"))
    chunks = FakeChunkSender(max_chunk_size=10)
    sender = BatchSender(chunks, send_window="08:00-21:00", runtime=clock.runtime())
    clock.on_sleep.append(lambda: sender.stop("stopped while paused"))
    report = await sender.send(recipients(30))
    assert chunks.calls == []
    assert report.interrupted
    assert set(report.by_code) == {NOT_SENT}  # input not read yet gets no outcome
    assert report.sent == 0
    assert clock.slept <= 1.0  # one check, not ten hours


@pytest.mark.asyncio
async def test_a_window_object_and_no_window_send_at_once() -> None:
    clock = Clock(at("2026-12-02 12:00:00"))

    async def script(call: Call, given: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
        return [sent(recipient) for recipient in given]

    chunks = FakeChunkSender(max_chunk_size=10, script=script)
    window = SendWindow(time(9), time(18))
    report = await BatchSender(chunks, send_window=window, runtime=clock.runtime()).send(
        recipients(20)
    )
    assert report.by_status[OutcomeStatus.SENT] == 20
    assert clock.slept == 0.0
