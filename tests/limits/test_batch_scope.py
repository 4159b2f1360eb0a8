"""Per-number limits in a batch job: whose permits a chunk gets, when they are dated, and
what a limiter that cannot take permits back costs (nothing but those numbers' counts)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest

from crowdsms.batch import NUMBER_LIMITED, BatchOutcome, BatchSender
from crowdsms.limits import NumberLimiter, NumberLimits, NumberPermit
from crowdsms.outcomes import OutcomeStatus, Recipient, RecipientOutcome
from tests.batch.fakes import Call, FakeChunkSender, FakeTime, recipients, sent

ONE_A_DAY = NumberLimits(per_minute=None, per_hour=None, per_day=1)


@pytest.mark.anyio
async def test_another_job_reusing_the_job_id_never_gets_the_earlier_jobs_permits() -> None:
    limiter = NumberLimiter(ONE_A_DAY)
    first, second = FakeChunkSender(), FakeChunkSender()
    for fake in (first, second):
        sender = BatchSender(fake, number_limiter=limiter, runtime=FakeTime().runtime())
        report = await sender.send(recipients(5), job_id="daily-reminder")
    assert len(first.phones_received()) == 5
    assert second.phones_received() == []  # 1 a day: the second job is limited
    assert report.by_code[NUMBER_LIMITED] == 5


@pytest.mark.anyio
async def test_a_daily_journal_under_a_fixed_job_id_is_another_job_but_a_resume_is_not(
    tmp_path: Path,
) -> None:
    limiter = NumberLimiter(ONE_A_DAY)
    monday, tuesday = FakeChunkSender(), FakeChunkSender()
    for day, fake in (("monday", monday), ("tuesday", tuesday)):
        await BatchSender(fake, number_limiter=limiter, runtime=FakeTime().runtime()).send(
            recipients(5), journal=tmp_path / f"{day}.sqlite", job_id="newsletter"
        )
    assert (len(monday.phones_received()), tuesday.phones_received()) == (5, [])
    # Monday's job resumed (replayed: nothing sent again, nothing counted twice).
    again = FakeChunkSender()
    report = await BatchSender(again, number_limiter=limiter, runtime=FakeTime().runtime()).send(
        recipients(5), journal=tmp_path / "monday.sqlite", job_id="newsletter"
    )
    assert (report.sent, again.calls) == (5, [])


@pytest.mark.anyio
async def test_a_chunk_held_by_the_send_window_takes_its_permits_when_the_window_opens() -> None:
    time = FakeTime()
    limiter = NumberLimiter(
        NumberLimits(per_minute=1, per_hour=None, per_day=None), clock=time.monotonic
    )
    fake = FakeChunkSender()
    sender = BatchSender(
        fake, number_limiter=limiter, runtime=time.runtime(), send_window="08:00-21:00"
    )  # the fake clock starts at 06:13 China time
    report = await sender.send(recipients(1))
    assert report.sent == 1
    assert time.now > 3600  # the chunk waited for 08:00
    # Its number got its message just now: one a minute refuses another one.
    admission = limiter.acquire_many_nowait(fake.phones_received())
    assert admission.allowed == {}


class ReleaseFails(NumberLimiter):
    async def release_many(self, permits: Iterable[NumberPermit]) -> None:
        raise ConnectionError("the limiter store went away")


@pytest.mark.anyio
async def test_a_limiter_that_cannot_take_permits_back_loses_no_outcome() -> None:
    async def script(call: Call, chunk: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
        return [
            RecipientOutcome(phone=r.phone, status=OutcomeStatus.FAILED, code="blocked")
            if offset == 0
            else sent(r)
            for offset, r in enumerate(chunk)
        ]

    fake = FakeChunkSender(script=script)
    outcomes: list[BatchOutcome] = []
    report = await BatchSender(
        fake, number_limiter=ReleaseFails(ONE_A_DAY), runtime=FakeTime().runtime()
    ).send(recipients(4), sink=outcomes.append)
    assert [item.outcome.status for item in outcomes] == [OutcomeStatus.FAILED] + [
        OutcomeStatus.SENT
    ] * 3
    assert (report.sent, report.unknown, report.stopped) == (3, 0, None)
