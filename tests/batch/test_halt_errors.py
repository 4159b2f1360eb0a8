"""Errors met once a job has started that are not the input's, the sink's or a journal
mismatch: a journal that can no longer be written (a full disk), a progress callback or an
input that raises. Each halts the job like a stop (requests in flight finish and keep their
outcomes), and the error is raised with the report; a resume sends nothing twice."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from crowdsms.batch import NOT_SENT, BatchOutcome, BatchProgress, BatchSender, report_of
from crowdsms.batch._journal import Journal, JournalError
from crowdsms.outcomes import OutcomeStatus, Recipient, RecipientOutcome

from .fakes import Call, FakeChunkSender, FakeTime, recipients, sent
from .test_stop import COUNT, run


def sender_for(fake: FakeChunkSender, concurrency: int, **options: object) -> BatchSender:
    return BatchSender(
        fake,
        concurrency=concurrency,
        chunk_size=10,
        runtime=FakeTime().runtime(),
        **options,  # type: ignore[arg-type]
    )


async def all_in_flight(fake: FakeChunkSender, count: int) -> None:
    while fake.in_flight < count:
        await anyio.lowlevel.checkpoint()


@pytest.mark.anyio
async def test_a_journal_that_cannot_be_written_keeps_the_outcomes_in_flight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = tmp_path / "j.sqlite"
    others = anyio.Event()  # the other chunks in flight answer once chunk 0's write failed
    real_mark_done = Journal.mark_done
    failed: list[int] = []

    async def mark_done(self: Journal, index: int, outcomes: Sequence[RecipientOutcome]) -> None:
        if not failed:
            failed.append(index)
            others.set()

            def full() -> None:
                raise sqlite3.OperationalError("database or disk is full")

            await self._run(full)
        await real_mark_done(self, index, outcomes)

    monkeypatch.setattr(Journal, "mark_done", mark_done)

    async def script(call: Call, chunk: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
        if call.number == 0:
            await all_in_flight(fake, 4)
        else:
            await others.wait()
        return [sent(recipient) for recipient in chunk]

    fake = FakeChunkSender(max_chunk_size=10, script=script)
    outcomes: list[BatchOutcome] = []
    with pytest.raises(JournalError, match="database or disk is full") as raised:
        await sender_for(fake, 4).send(
            recipients(COUNT), sink=outcomes.append, journal=journal, job_id="job-1"
        )
    assert type(raised.value).__name__ == "JournalStorageError"
    assert "resume" in str(raised.value)
    assert isinstance(raised.value.__cause__, sqlite3.OperationalError)
    report = report_of(raised.value)
    assert report is not None
    assert (report.requests, report.sent, report.unknown) == (4, 40, 0)
    assert report.stopped is not None
    assert f"chunk {failed[0]}: its outcomes could not be recorded" in report.stopped
    assert not report.sink_failed
    assert sum(o.status is OutcomeStatus.SENT for o in outcomes) == 40  # none lost

    monkeypatch.setattr(Journal, "mark_done", real_mark_done)
    again = FakeChunkSender(max_chunk_size=10)
    _, resumed = await run(again, journal=journal)
    # The chunk whose outcomes were not recorded stays started: unknown, never resent
    # unkeyed; the other three were recorded and are not sent again.
    assert resumed.unknown == 10
    sent_first = {phone for call in fake.calls for phone in call.phones}
    assert not sent_first & set(again.phones_received())
    assert resumed.sent == COUNT - 10


@pytest.mark.anyio
async def test_a_journal_that_cannot_record_a_start_sends_nothing_more(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = tmp_path / "j.sqlite"
    real_mark_started = Journal.mark_started

    async def mark_started(self: Journal, index: int) -> None:
        if index == 2:

            def full() -> None:
                raise sqlite3.OperationalError("database or disk is full")

            await self._run(full)
        await real_mark_started(self, index)

    monkeypatch.setattr(Journal, "mark_started", mark_started)
    fake = FakeChunkSender(max_chunk_size=10)
    with pytest.raises(JournalError) as raised:
        await sender_for(fake, 1).send(recipients(COUNT), journal=journal, job_id="job-1")
    report = report_of(raised.value)
    assert report is not None
    assert (report.requests, report.sent, report.unknown) == (2, 20, 0)
    monkeypatch.setattr(Journal, "mark_started", real_mark_started)
    again = FakeChunkSender(max_chunk_size=10)
    _, resumed = await run(again, journal=journal)
    assert (resumed.sent, resumed.unknown) == (COUNT, 0)
    assert len(again.calls) == 8  # chunks 2-9, nothing twice


@pytest.mark.anyio
async def test_a_progress_callback_that_raises_lets_the_requests_in_flight_finish(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "j.sqlite"
    answered = anyio.Event()

    async def script(call: Call, chunk: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
        if call.number == 1:
            await answered.wait()  # in flight when the callback raises
        return [sent(recipient) for recipient in chunk]

    def progress(snapshot: BatchProgress) -> None:
        answered.set()
        raise RuntimeError("the progress bar broke")

    fake = FakeChunkSender(max_chunk_size=10, script=script)
    sender = sender_for(fake, 2, progress=progress, progress_interval=0.0)
    with pytest.raises(RuntimeError, match="progress bar broke") as raised:
        await sender.send(recipients(COUNT), journal=journal, job_id="job-1")
    report = report_of(raised.value)
    assert report is not None
    assert report.stopped is not None
    assert "progress callback" in report.stopped
    assert report.unknown == 0
    assert report.sent == 10 * len(fake.calls)
    again = FakeChunkSender(max_chunk_size=10)
    _, resumed = await run(again, journal=journal)
    assert (resumed.sent, resumed.unknown) == (COUNT, 0)
    assert len(fake.calls) + len(again.calls) == 10  # nothing twice


@pytest.mark.parametrize("asynchronous", [False, True])
@pytest.mark.anyio
async def test_an_input_that_raises_halts_with_the_report(
    tmp_path: Path, asynchronous: bool
) -> None:
    journal = tmp_path / "j.sqlite"
    rows = list(recipients(COUNT))

    def broken() -> Iterator[Recipient]:
        yield from rows[:45]
        raise OSError("the network share went away")

    async def broken_async():  # type: ignore[no-untyped-def]
        for row in broken():
            yield row

    source = broken_async() if asynchronous else broken()
    fake = FakeChunkSender(max_chunk_size=10)
    outcomes: list[BatchOutcome] = []
    with pytest.raises(OSError, match="network share") as raised:
        await sender_for(fake, 2).send(
            source, sink=outcomes.append, journal=journal, job_id="job-1"
        )
    report = report_of(raised.value)
    assert report is not None
    assert report.stopped is not None
    assert "could not be read after" in report.stopped
    assert report.unknown == 0
    assert report.sent == sum(o.status is OutcomeStatus.SENT for o in outcomes) > 0
    again = FakeChunkSender(max_chunk_size=10)
    _, resumed = await run(again, journal=journal)
    assert (resumed.sent, resumed.unknown) == (COUNT, 0)
    assert len(set(fake.phones_received()) & set(again.phones_received())) == 0


class PaceStoreDown:
    """A shared pace whose store goes away: ``acquire`` raises from its ``fail_at``-th call
    on, and ``recovered`` raises once ``recovery_fails`` (after the request it follows)."""

    rate = 100.0

    def __init__(self, *, fail_at: int | None = None, recovery_fails: bool = False) -> None:
        self.acquired = 0
        self._fail_at = fail_at
        self._recovery_fails = recovery_fails
        self._slowed = False

    async def acquire(self, n: int = 1) -> object:
        self.acquired += 1
        if self._fail_at is not None and self.acquired >= self._fail_at:
            raise ConnectionError("the rate store went away")
        return type("Permit", (), {"rate": 50.0 if self._slowed else 100.0})()

    async def slow_down(
        self, factor: float = 0.5, *, retry_after: float | None = None, permit: object = None
    ) -> bool:
        self._slowed = True
        return True

    async def recovered(self) -> float:
        if self._recovery_fails:
            raise ConnectionError("the rate store went away")
        self._slowed = False
        return 100.0


@pytest.mark.anyio
async def test_a_chunk_that_fails_before_its_request_is_reported_not_sent_and_resent_on_resume(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "j.sqlite"
    fake = FakeChunkSender(max_chunk_size=10)
    outcomes: list[BatchOutcome] = []
    sender = sender_for(fake, 1, shared_pace=PaceStoreDown(fail_at=3))
    with pytest.raises(ConnectionError, match="rate store") as raised:
        await sender.send(recipients(COUNT), sink=outcomes.append, journal=journal, job_id="job-1")
    report = report_of(raised.value)
    assert report is not None
    assert (report.requests, report.sent, report.unknown) == (2, 20, 0)
    chunk_2 = outcomes[20:30]
    assert {(o.status, o.outcome.code) for o in chunk_2} == {(OutcomeStatus.FAILED, NOT_SENT)}
    assert "before its request was made" in (chunk_2[0].outcome.message or "")
    assert len(outcomes) == 30  # each recipient read has its one outcome; no more is read
    again = FakeChunkSender(max_chunk_size=10)
    _, resumed = await run(again, journal=journal)
    assert (resumed.sent, resumed.unknown) == (COUNT, 0)
    assert len(again.calls) == 8  # chunks 2-9, as this run's output said: not sent
    assert not set(fake.phones_received()) & set(again.phones_received())


@pytest.mark.anyio
async def test_a_chunk_whose_send_raised_after_its_request_stays_unknown(tmp_path: Path) -> None:
    from crowdsms.errors import RateLimitedError

    async def script(call: Call, chunk: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
        if call.number == 0:
            raise RateLimitedError("slow down", status_code=429, retry_after=0.5)
        return [sent(recipient) for recipient in chunk]

    fake = FakeChunkSender(max_chunk_size=10, script=script)
    outcomes: list[BatchOutcome] = []
    sender = sender_for(fake, 1, shared_pace=PaceStoreDown(recovery_fails=True))
    with pytest.raises(ConnectionError, match="rate store") as raised:
        await sender.send(
            recipients(COUNT), sink=outcomes.append, journal=tmp_path / "j.sqlite", job_id="job-1"
        )
    report = report_of(raised.value)
    assert report is not None
    assert len(fake.calls) == 2  # the 429, then the request that went through
    chunk_0 = outcomes[:10]
    assert {o.status for o in chunk_0} == {OutcomeStatus.UNKNOWN}
    assert "the request may have been made" in (chunk_0[0].outcome.message or "")
