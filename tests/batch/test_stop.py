"""Stopping a job early: after an error every chunk would meet, or when the owner asks.

Requests in flight finish; every recipient still gets exactly one outcome; the unsent ones
are ``failed`` with code ``not_sent`` and stay pending in the journal, so a resumed job
sends them; chunks that failed as a whole are sent again on resume (their failure proves
nothing was sent).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from crowdsms.batch import NOT_SENT, BatchOutcome, BatchProgress, BatchReport, BatchSender
from crowdsms.errors import (
    AuthenticationError,
    DeliveryCertainty,
    InvalidInputError,
    ProviderError,
)
from crowdsms.outcomes import OutcomeStatus, PreSkipped, Recipient, RecipientOutcome

from .fakes import Call, FakeChunkSender, FakeTime, recipients, sent

COUNT = 100  # ten chunks of ten


def refused(code: str = "108", *, job_wide: bool | None = None) -> ProviderError:
    cls = AuthenticationError if job_wide is None else ProviderError
    return cls(
        provider="fake",
        code=code,
        provider_message="Invalid signature",
        explanation="the key is wrong",
        operation="sms.multisend",
        certainty=DeliveryCertainty.NOT_SENT,
        job_wide=job_wide,
    )


class RefuseFrom:
    """Refuse every call from call number ``first`` on with ``error``."""

    def __init__(self, first: int, error: ProviderError) -> None:
        self.first = first
        self.error = error

    async def __call__(self, call: Call, chunk: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
        if call.number >= self.first:
            raise self.error
        return [sent(recipient) for recipient in chunk]


async def run(
    fake: FakeChunkSender, *, journal: Path | None = None, **options: object
) -> tuple[list[BatchOutcome], BatchReport]:
    outcomes: list[BatchOutcome] = []
    sender = BatchSender(
        fake,
        concurrency=1,
        chunk_size=10,
        runtime=FakeTime().runtime(),
        **options,  # type: ignore[arg-type]
    )
    report = await sender.send(
        recipients(COUNT),
        sink=outcomes.append,
        journal=journal,
        job_id="job-1" if journal is not None else None,
    )
    return outcomes, report


@pytest.mark.anyio
async def test_refused_credentials_stop_the_job_after_the_first_answer() -> None:
    fake = FakeChunkSender(max_chunk_size=10, script=RefuseFrom(0, refused()))
    outcomes, report = await run(fake)
    assert len(fake.calls) == 1
    assert [o.position for o in outcomes] == list(range(COUNT))
    codes = [o.outcome.code for o in outcomes]
    assert codes[:10] == ["108"] * 10
    assert codes[10:] == [NOT_SENT] * 90
    assert {o.status for o in outcomes} == {OutcomeStatus.FAILED}
    assert report.stopped is not None
    assert "108" in report.stopped
    assert not report.complete
    assert not report.interrupted


@pytest.mark.anyio
async def test_the_stop_can_be_turned_off() -> None:
    fake = FakeChunkSender(max_chunk_size=10, script=RefuseFrom(0, refused()))
    outcomes, report = await run(fake, stop_on_job_wide_error=False)
    assert len(fake.calls) == 10
    assert report.stopped is None
    assert all(o.outcome.code == "108" for o in outcomes)


@pytest.mark.anyio
async def test_an_error_that_is_not_job_wide_does_not_stop_the_job() -> None:
    class OneBadChunk:
        async def __call__(
            self, call: Call, chunk: Sequence[Recipient]
        ) -> Sequence[RecipientOutcome]:
            if call.number == 2:
                raise refused("999", job_wide=False)
            return [sent(recipient) for recipient in chunk]

    fake = FakeChunkSender(max_chunk_size=10, script=OneBadChunk())
    outcomes, report = await run(fake)
    assert len(fake.calls) == 10
    assert report.stopped is None
    assert [o.outcome.code for o in outcomes].count("999") == 10


@pytest.mark.anyio
async def test_an_unknown_code_stops_the_job_after_three_whole_chunks_in_a_row() -> None:
    fake = FakeChunkSender(max_chunk_size=10, script=RefuseFrom(2, refused("777", job_wide=False)))
    outcomes, report = await run(fake)
    assert len(fake.calls) == 5  # two sent, then three refusals in a row
    assert report.sent == 20
    assert [o.outcome.code for o in outcomes].count(NOT_SENT) == 50


@pytest.mark.anyio
async def test_after_fixing_the_key_a_resume_sends_what_was_refused_and_not_sent(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "job.sqlite"
    broken = FakeChunkSender(max_chunk_size=10, script=RefuseFrom(0, refused()))
    await run(broken, journal=journal)
    fixed = FakeChunkSender(max_chunk_size=10)
    outcomes, report = await run(fixed, journal=journal)
    assert report.sent == COUNT
    assert sorted(fixed.phones_received()) == sorted(r.phone for r in recipients(COUNT))
    assert all(o.status is OutcomeStatus.SENT for o in outcomes)


@pytest.mark.anyio
async def test_replaying_failures_instead_is_an_option(tmp_path: Path) -> None:
    journal = tmp_path / "job.sqlite"
    broken = FakeChunkSender(max_chunk_size=10, script=RefuseFrom(0, refused()))
    await run(broken, journal=journal)
    fixed = FakeChunkSender(max_chunk_size=10)
    outcomes, _ = await run(fixed, journal=journal, resend_failed_chunks=False)
    # the refused chunk is replayed from the journal; the chunks never sent are sent now
    assert len(fixed.calls) == 9
    assert [o.outcome.code for o in outcomes[:10]] == ["108"] * 10


@pytest.mark.anyio
async def test_a_chunk_with_some_recipients_sent_is_never_resent(tmp_path: Path) -> None:
    journal = tmp_path / "job.sqlite"

    class HalfRefused:
        async def __call__(
            self, call: Call, chunk: Sequence[Recipient]
        ) -> Sequence[RecipientOutcome]:
            return [
                sent(r)
                if i % 2
                else RecipientOutcome(phone=r.phone, status=OutcomeStatus.FAILED, code="251")
                for i, r in enumerate(chunk)
            ]

    await run(FakeChunkSender(max_chunk_size=10, script=HalfRefused()), journal=journal)
    again = FakeChunkSender(max_chunk_size=10)
    outcomes, report = await run(again, journal=journal)
    assert again.calls == []
    assert report.replayed == COUNT
    assert [o.outcome.code for o in outcomes].count("251") == COUNT // 2


@pytest.mark.anyio
async def test_the_owner_can_stop_a_job_and_resume_it(tmp_path: Path) -> None:
    journal = tmp_path / "job.sqlite"
    fake = FakeChunkSender(max_chunk_size=10)
    outcomes: list[BatchOutcome] = []
    sender: BatchSender

    def progress(snapshot: BatchProgress) -> None:
        if snapshot.sent >= 30:
            sender.stop("the owner pressed Ctrl-C")

    sender = BatchSender(
        fake,
        concurrency=1,
        chunk_size=10,
        runtime=FakeTime().runtime(),
        progress=progress,
        progress_interval=0,
    )
    report = await sender.send(
        recipients(COUNT), sink=outcomes.append, journal=journal, job_id="job-1"
    )
    assert report.interrupted
    assert report.stopped == "the owner pressed Ctrl-C"
    sent_first = set(fake.phones_received())
    assert 30 <= len(sent_first) < COUNT
    assert all(o.status is OutcomeStatus.SENT or o.outcome.code == NOT_SENT for o in outcomes)

    again = FakeChunkSender(max_chunk_size=10)
    outcomes, report2 = await run(again, journal=journal)
    assert report2.sent == COUNT
    assert sent_first.isdisjoint(again.phones_received())
    assert sorted(sent_first | set(again.phones_received())) == sorted(
        r.phone for r in recipients(COUNT)
    )


@pytest.mark.anyio
async def test_unreadable_input_drains_the_job_and_a_resume_finishes_it(tmp_path: Path) -> None:
    journal = tmp_path / "job.sqlite"

    def broken() -> Iterator[Recipient]:
        for index, recipient in enumerate(recipients(COUNT)):
            if index == 45:
                raise InvalidInputError("row 47 cannot be decoded", field="encoding")
            yield recipient

    fake = FakeChunkSender(max_chunk_size=10)
    sender = BatchSender(fake, concurrency=1, chunk_size=10, runtime=FakeTime().runtime())
    with pytest.raises(InvalidInputError, match="row 47"):
        await sender.send(broken(), journal=journal, job_id="job-1")
    first = fake.phones_received()
    assert first == [r.phone for r in recipients(40)]  # whole chunks read before the bad row

    again = FakeChunkSender(max_chunk_size=10)
    _, report = await run(again, journal=journal)
    assert report.sent == COUNT
    assert set(first).isdisjoint(again.phones_received())
    assert len(first) + len(again.phones_received()) == COUNT


@pytest.mark.anyio
async def test_an_item_judged_before_the_job_is_skipped_as_it_says() -> None:
    fake = FakeChunkSender(max_chunk_size=10)
    items: list[Recipient | PreSkipped] = list(recipients(5))
    items.insert(2, PreSkipped("13700000001", "duplicate", "first at row 7 of shard 0"))
    outcomes: list[BatchOutcome] = []
    await BatchSender(fake, runtime=FakeTime().runtime()).send(items, sink=outcomes.append)
    assert [o.status for o in outcomes].count(OutcomeStatus.SKIPPED) == 1
    skipped = outcomes[2]
    assert (skipped.phone, skipped.outcome.code) == ("13700000001", "duplicate")
    assert skipped.outcome.message == "first at row 7 of shard 0"
    assert "13700000001" not in fake.phones_received()


class RecordingPace:
    """A shared pace that grants at once and records what the batch sender tells it."""

    rate = 100.0

    def __init__(self) -> None:
        self.events: list[str] = []
        self.slowed = False

    async def acquire(self, n: int = 1) -> object:
        self.events.append(f"acquire {n}")
        return type("Permit", (), {"rate": 50.0 if self.slowed else 100.0})()

    async def slow_down(
        self, factor: float = 0.5, *, retry_after: float | None = None, permit: object = None
    ) -> bool:
        self.events.append(f"slow_down {retry_after}")
        self.slowed = True
        return True

    async def recovered(self) -> float:
        self.events.append("recovered")
        self.slowed = False
        return 100.0


@pytest.mark.anyio
async def test_a_shared_pace_is_asked_first_and_told_of_429s_and_recoveries() -> None:
    from crowdsms.errors import RateLimitedError

    class OneRateLimit:
        async def __call__(
            self, call: Call, chunk: Sequence[Recipient]
        ) -> Sequence[RecipientOutcome]:
            if call.number == 1:
                raise RateLimitedError("slow down", status_code=429, retry_after=0.5)
            return [sent(r) for r in chunk]

    pace = RecordingPace()
    fake = FakeChunkSender(max_chunk_size=10, script=OneRateLimit())
    sender = BatchSender(
        fake, concurrency=1, chunk_size=10, shared_pace=pace, runtime=FakeTime().runtime()
    )
    report = await sender.send(recipients(30))
    assert report.sent == 30
    assert pace.events == [
        "acquire 10",
        "acquire 10",
        "slow_down 0.5",
        "acquire 10",  # the refused chunk, sent again
        "recovered",
        "acquire 10",
    ]
