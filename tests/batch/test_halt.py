"""A job that cannot go on once it has started: an input that cannot be read further, a
journal that does not match the input further on, a sink that fails.

It stops like an interrupted job: no new chunks, requests in flight finish and are
journaled, every chunk read so far has its outcomes. Then the error is raised, carrying the
job's report (``report_of``), and a resume sends the rest, nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import anyio
import pytest

from crowdsms.batch import (
    NOT_SENT,
    BatchOutcome,
    BatchSender,
    JournalMismatchError,
    report_of,
)
from crowdsms.errors import InvalidInputError
from crowdsms.outcomes import OutcomeStatus, Recipient, RecipientOutcome

from .fakes import Call, FakeChunkSender, FakeTime, recipients, sent
from .test_stop import COUNT, RefuseFrom, refused, run


def sender_for(fake: FakeChunkSender, concurrency: int = 1) -> BatchSender:
    return BatchSender(fake, concurrency=concurrency, chunk_size=10, runtime=FakeTime().runtime())


@pytest.mark.anyio
async def test_unreadable_input_raises_with_the_report_of_what_was_sent(tmp_path: Path) -> None:
    def broken() -> Iterator[Recipient]:
        for index, recipient in enumerate(recipients(COUNT)):
            if index == 45:
                raise InvalidInputError("row 47 cannot be decoded", field="encoding")
            yield recipient

    fake = FakeChunkSender(max_chunk_size=10)
    outcomes: list[BatchOutcome] = []
    with pytest.raises(InvalidInputError, match="row 47") as raised:
        await sender_for(fake).send(
            broken(), sink=outcomes.append, journal=tmp_path / "j.sqlite", job_id="job-1"
        )
    report = report_of(raised.value)
    assert report is not None
    assert report.sent == report.total == 40 == len(outcomes)
    assert report.requests == 4
    assert report.stopped is not None
    assert "could not be read after 45 recipients" in report.stopped
    assert "row 47" in report.stopped
    assert not report.interrupted  # an error, not the owner's request
    assert not report.complete  # the rest of the input was never read


@pytest.mark.anyio
async def test_a_sink_that_fails_lets_the_requests_in_flight_finish(tmp_path: Path) -> None:
    journal = tmp_path / "job.sqlite"
    held = anyio.Event()  # a request is in flight
    failed = anyio.Event()  # the sink has failed
    gate = anyio.Event()  # the request in flight may finish

    async def first_fast_then_held(
        call: Call, chunk: Sequence[Recipient]
    ) -> Sequence[RecipientOutcome]:
        if call.number > 0:
            held.set()
            await gate.wait()  # in flight until the sink has failed
        return [sent(recipient) for recipient in chunk]

    class FullDisk:
        async def open(self) -> None:
            pass

        async def write(self, outcomes: Sequence[BatchOutcome]) -> None:
            await held.wait()  # fails with another request in flight
            failed.set()
            raise OSError(28, "No space left on device")

        async def close(self) -> None:
            pass

    async def answer_once_the_sink_failed() -> None:
        await failed.wait()
        gate.set()

    fake = FakeChunkSender(max_chunk_size=10, script=first_fast_then_held)
    async with anyio.create_task_group() as group:
        group.start_soon(answer_once_the_sink_failed)
        with pytest.raises(OSError, match="No space left") as raised:
            await sender_for(fake, concurrency=4).send(
                recipients(COUNT), sink=FullDisk(), journal=journal, job_id="job-1"
            )
    first = fake.phones_received()
    assert len(first) >= 20  # the first chunk, and at least one held in flight

    again = FakeChunkSender(max_chunk_size=10)
    outcomes, resumed = await run(again, journal=journal)
    assert resumed.unknown == 0  # the requests in flight finished: none was cancelled
    assert resumed.sent == COUNT
    assert resumed.replayed == len(first)  # journaled as done, not left in flight
    assert set(first).isdisjoint(again.phones_received())
    assert sorted(first + again.phones_received()) == sorted(r.phone for r in recipients(COUNT))
    assert [o.position for o in outcomes] == list(range(COUNT))

    report = report_of(raised.value)
    assert report is not None
    assert report.stopped is not None
    assert "outcomes could not be written" in report.stopped
    assert report.sink_failed
    assert report.unknown == 0
    assert report.sent == len(first)
    assert report.requests == len(fake.calls)
    assert report.total == report.sent + report.by_code.get(NOT_SENT, 0)
    assert not report.complete


@pytest.mark.anyio
async def test_a_journal_mismatch_mid_resume_raises_with_the_report(tmp_path: Path) -> None:
    journal = tmp_path / "job.sqlite"
    # chunks 0-4 sent, 5 refused, 6-9 recorded but not sent
    await run(FakeChunkSender(max_chunk_size=10, script=RefuseFrom(5, refused())), journal=journal)

    def changed() -> Iterator[Recipient]:
        for index, recipient in enumerate(recipients(COUNT)):
            yield Recipient("13900099999") if index == 75 else recipient

    fake = FakeChunkSender(max_chunk_size=10)
    outcomes: list[BatchOutcome] = []
    with pytest.raises(JournalMismatchError, match="chunk 7") as raised:
        await sender_for(fake).send(
            changed(), sink=outcomes.append, journal=journal, job_id="job-1"
        )
    assert len(fake.calls) == 2  # chunks 5 and 6
    report = report_of(raised.value)
    assert report is not None
    assert (report.sent, report.replayed, report.requests) == (70, 50, 2)
    assert [o.position for o in outcomes] == list(range(70))
    assert report.stopped is not None
    assert "chunk 7 does not match the journal" in report.stopped

    again = FakeChunkSender(max_chunk_size=10)
    _, fixed = await run(again, journal=journal)
    assert fixed.sent == COUNT
    assert len(again.calls) == 3  # chunks 7-9: nothing twice


@pytest.mark.anyio
async def test_an_input_that_got_shorter_is_refused_with_the_report(tmp_path: Path) -> None:
    journal = tmp_path / "job.sqlite"
    await run(FakeChunkSender(max_chunk_size=10, script=RefuseFrom(5, refused())), journal=journal)
    fake = FakeChunkSender(max_chunk_size=10)
    with pytest.raises(JournalMismatchError, match="input ended after 8 chunks") as raised:
        await sender_for(fake).send(recipients(80), journal=journal, job_id="job-1")
    report = report_of(raised.value)
    assert report is not None
    assert (report.total, report.sent, report.requests) == (80, 80, 3)
    assert report.by_status[OutcomeStatus.UNKNOWN] == 0


@pytest.mark.anyio
async def test_a_sink_that_fails_to_close_raises_with_the_report() -> None:
    class CloseFails:
        async def open(self) -> None:
            pass

        async def write(self, outcomes: Sequence[BatchOutcome]) -> None:
            pass

        async def close(self) -> None:
            raise OSError(28, "No space left on device")

    fake = FakeChunkSender(max_chunk_size=10)
    with pytest.raises(OSError, match="No space left") as raised:
        await sender_for(fake).send(recipients(COUNT), sink=CloseFails())
    report = report_of(raised.value)
    assert report is not None
    assert report.sink_failed
    assert (report.sent, report.requests) == (COUNT, 10)
