"""BatchSender(number_limiter=...): refused numbers are skipped and never sent; journals.

The limiter runs on an injected clock; the chunk senders are the batch tests' fakes.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

import anyio
import pytest

from crowdsms.batch import (
    INTERRUPTED,
    NOT_SENT,
    NUMBER_LIMITED,
    BatchOutcome,
    BatchReport,
    BatchSender,
    reconcile,
)
from crowdsms.batch._job import JOURNAL_FORMAT
from crowdsms.batch._journal import ChunkTakenError, Journal, encode_kept_out
from crowdsms.batch._limited import chunk_key
from crowdsms.errors import DeliveryCertainty, InvalidInputError, RequestTimeoutError
from crowdsms.limits import NumberAdmission, NumberLimiter, NumberLimits, NumberPermit
from crowdsms.outcomes import OutcomeStatus, Recipient, RecipientOutcome
from tests.batch.fakes import Call, FakeChunkSender, FakeTime, phone_at, recipients, sent
from tests.waiting import wait_until

JOB = "limited-job"


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


class CountingLimiter(NumberLimiter):
    """A NumberLimiter that counts the permits it granted and took back."""

    def __init__(self, limits: NumberLimits | None = None) -> None:
        self.clock = Clock()
        super().__init__(limits, clock=self.clock)
        self.asked: list[str] = []
        self.keys: list[str | None] = []
        self.granted = 0
        self.released: list[str] = []

    async def acquire_many(
        self, phones: Iterable[str], *, key: str | None = None
    ) -> NumberAdmission:
        phones = list(phones)
        self.asked += phones
        self.keys.append(key)
        admission = await super().acquire_many(phones, key=key)
        self.granted += len(admission.allowed)
        return admission

    async def release_many(self, permits: Iterable[NumberPermit]) -> None:
        permits = list(permits)
        self.released += [permit.phone for permit in permits]
        await super().release_many(permits)


async def run(
    fake: FakeChunkSender,
    items: Iterable[Recipient],
    limiter: NumberLimiter,
    *,
    journal: Path | None = None,
    **options: object,
) -> tuple[list[BatchOutcome], BatchReport]:
    outcomes: list[BatchOutcome] = []
    time = FakeTime()
    sender = BatchSender(
        fake,
        number_limiter=limiter,
        runtime=time.runtime(),
        concurrency=options.pop("concurrency", 3),  # type: ignore[arg-type]
        **options,  # type: ignore[arg-type]
    )
    report = await sender.send(
        items, sink=outcomes.append, journal=journal, job_id=JOB if journal else None
    )
    return outcomes, report


@pytest.mark.anyio
async def test_refused_numbers_are_skipped_and_never_sent() -> None:
    limiter = CountingLimiter()
    busy = {3, 4, 60, 61, 62}  # already got their message this minute
    for position in busy:
        limiter.acquire_nowait(phone_at(position))
    fake = FakeChunkSender(max_chunk_size=10)
    outcomes, report = await run(fake, recipients(100), limiter, chunk_size=10)

    assert [item.position for item in outcomes] == list(range(100))
    assert sorted(fake.phones_received()) == [phone_at(p) for p in range(100) if p not in busy]
    for item in outcomes:
        if item.position in busy:
            outcome = item.outcome
            assert (outcome.status, outcome.code) == (OutcomeStatus.SKIPPED, NUMBER_LIMITED)
            assert outcome.retryable
            assert outcome.message is not None
            assert f"recipients[{item.position}]" in outcome.message
            assert "1 per minute" in outcome.message
            assert "China time (60 s after" in outcome.message
        else:
            assert item.outcome.status is OutcomeStatus.SENT
    assert report.sent == 95
    assert report.skipped == 5
    assert report.by_code[NUMBER_LIMITED] == 5
    assert report.complete  # skipped by policy, like opted_out
    assert report.requests == 10  # the rest of each chunk was still sent, in one request
    assert limiter.released == []


@pytest.mark.anyio
async def test_a_chunk_every_number_of_which_is_refused_makes_no_request() -> None:
    limiter = CountingLimiter()
    for position in range(10, 20):
        limiter.acquire_nowait(phone_at(position))
    fake = FakeChunkSender(max_chunk_size=10)
    outcomes, report = await run(fake, recipients(30), limiter, chunk_size=10)
    assert len(fake.calls) == 2
    assert {item.outcome.code for item in outcomes[10:20]} == {NUMBER_LIMITED}
    assert report.skipped == 10
    assert report.sent == 20


@pytest.mark.anyio
async def test_a_number_twice_in_a_job_is_a_duplicate_not_a_limited_one() -> None:
    limiter = CountingLimiter()
    items = [Recipient(phone_at(1)), Recipient("+86 " + phone_at(1)), Recipient(phone_at(2))]
    outcomes, _ = await run(FakeChunkSender(), items, limiter)
    assert [item.outcome.code for item in outcomes] == [None, "duplicate", None]
    assert limiter.asked == [phone_at(1), phone_at(2)]


@pytest.mark.anyio
async def test_permits_of_recipients_provably_not_sent_are_given_back() -> None:
    refused = {phone_at(2), phone_at(7)}

    async def script(call: Call, chunk: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
        return [
            RecipientOutcome(phone=r.phone, status=OutcomeStatus.FAILED, code="blocked")
            if r.phone in refused
            else RecipientOutcome(phone=r.phone, status=OutcomeStatus.UNKNOWN, code="lost")
            if r.phone == phone_at(5)
            else sent(r)
            for r in chunk
        ]

    limiter = CountingLimiter()
    await run(FakeChunkSender(script=script), recipients(10), limiter)
    assert sorted(limiter.released) == sorted(refused)
    for position in range(10):  # sent and unknown ones keep their permits
        again = limiter.acquire_many_nowait([phone_at(position)])
        assert bool(again.allowed) is (phone_at(position) in refused)


class StoppingTime(FakeTime):
    """Fake time whose first sleep (a chunk waiting for the rate) stops the job."""

    def __init__(self) -> None:
        super().__init__()
        self.sender: BatchSender | None = None

    async def sleep(self, delay: float) -> None:
        if self.sender is not None:
            self.sender.stop("enough")
        await super().sleep(delay)


@pytest.mark.anyio
async def test_a_stopped_job_gives_back_the_permits_of_the_chunk_it_did_not_send() -> None:
    limiter = CountingLimiter()
    time = StoppingTime()
    fake = FakeChunkSender(max_chunk_size=10)
    # chunk 0 takes the burst; chunk 1 has its permits when it waits for the rate, and the
    # job stops during that wait
    sender = BatchSender(
        fake, number_limiter=limiter, concurrency=1, rate=10, burst=10, runtime=time.runtime()
    )
    time.sender = sender
    outcomes: list[BatchOutcome] = []
    report = await sender.send(recipients(30), sink=outcomes.append)
    assert report.interrupted
    assert fake.phones_received() == [phone_at(p) for p in range(10)]
    not_sent = [item.outcome.phone for item in outcomes if item.outcome.code == NOT_SENT]
    assert not_sent[:10] == [phone_at(p) for p in range(10, 20)]
    assert limiter.asked == [phone_at(p) for p in range(20)]
    assert limiter.released == [phone_at(p) for p in range(10, 20)]
    assert len(limiter) == 10  # only the numbers really sent are remembered


@pytest.mark.anyio
async def test_a_resumed_job_neither_counts_twice_nor_loses_outcomes(tmp_path: Path) -> None:
    path = tmp_path / "job.sqlite"
    limiter = CountingLimiter()  # one limiter for both runs: the same process
    busy = {12, 25}
    for position in busy:
        limiter.acquire_nowait(phone_at(position))
    sender: BatchSender | None = None

    async def stop_after_two(call: Call, chunk: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
        assert sender is not None
        if call.number == 1:
            sender.stop("Ctrl-C")
        return [sent(recipient, "a") for recipient in chunk]

    first = FakeChunkSender(max_chunk_size=10, script=stop_after_two)
    sender = BatchSender(first, number_limiter=limiter, concurrency=1, runtime=FakeTime().runtime())
    report = await sender.send(recipients(50), journal=path, job_id=JOB)
    assert report.interrupted
    assert len(first.calls) == 2  # chunks 0 and 1 (12 skipped) sent; 2 to 4 not

    # only the numbers sent keep a permit (if chunk 2 took its permits before the stop came,
    # it gave them back), besides the two busy ones
    assert len(limiter) == 19 + len(busy)
    assert set(limiter.released) <= {phone_at(p) for p in range(20, 30)}
    asked = len(limiter.asked)

    second = FakeChunkSender(max_chunk_size=10, prefix="b")
    outcomes, report = await run(second, recipients(50), limiter, journal=path, concurrency=2)
    assert report.resumed
    # Done chunks were replayed without taking permits again (1 a minute would refuse them)
    assert sorted(limiter.asked[asked:]) == [phone_at(p) for p in range(20, 50)]
    assert set(second.phones_received()) == {phone_at(p) for p in range(20, 50)} - {phone_at(25)}
    for item in outcomes:
        outcome = item.outcome
        if item.position in busy:
            assert outcome.code == NUMBER_LIMITED
        elif item.position < 20:
            assert outcome.message_id == f"a-{outcome.phone}"
        else:
            assert outcome.message_id == f"b-{outcome.phone}"
    assert report.replayed == 20

    # Once finished, running it again sends nothing and replays the limited ones as they were.
    third = FakeChunkSender(max_chunk_size=10, prefix="c")
    asked = len(limiter.asked)
    again, _ = await run(third, recipients(50), limiter, journal=path)
    assert third.calls == []
    assert len(limiter.asked) == asked

    def kept(items: list[BatchOutcome]) -> list[tuple[object, ...]]:
        return [
            (o.phone, o.status, o.code, o.message, o.message_id) for o in (i.outcome for i in items)
        ]

    assert kept(again) == kept(outcomes)


@pytest.mark.anyio
@pytest.mark.parametrize("number_limiter", [True, False])
async def test_a_chunk_in_flight_is_unknown_on_resume_even_with_a_key(
    tmp_path: Path, number_limiter: bool
) -> None:
    path = tmp_path / "job.sqlite"
    items = list(recipients(10))
    # Another run recorded chunk 0 as started (cut as this run cuts it), then crashed.
    await run(FakeChunkSender(keyed=True), items, CountingLimiter(), journal=path)
    settings = {"format": JOURNAL_FORMAT, "chunk_size": 50, "max_span": 200}
    journal = await Journal.open(str(path), job_id=JOB, settings=settings)
    await journal.mark_started(0)
    await journal.aclose()

    fake = FakeChunkSender(keyed=True, prefix="b")
    outcomes: list[BatchOutcome] = []
    limiter = CountingLimiter() if number_limiter else None
    await BatchSender(fake, number_limiter=limiter, runtime=FakeTime().runtime()).send(
        items, sink=outcomes.append, journal=path, job_id=JOB
    )
    if number_limiter:  # the request may have carried part of the chunk: never resent
        assert fake.calls == []
        assert {item.outcome.code for item in outcomes} == {INTERRUPTED}
        assert limiter is not None
        assert limiter.asked == []
    else:  # without limits the whole chunk was the request: resent with its key
        assert len(fake.calls) == 1
        assert {item.outcome.status for item in outcomes} == {OutcomeStatus.SENT}


@pytest.mark.anyio
async def test_a_resend_of_a_whole_failed_chunk_takes_permits_afresh(tmp_path: Path) -> None:
    path = tmp_path / "job.sqlite"

    async def refuse(call: Call, chunk: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
        return [RecipientOutcome(phone=r.phone, status=OutcomeStatus.FAILED) for r in chunk]

    limiter = CountingLimiter()
    await run(FakeChunkSender(script=refuse), recipients(5), limiter, journal=path)
    assert len(limiter) == 0  # every permit given back
    fake = FakeChunkSender(prefix="b")
    _outcomes, report = await run(fake, recipients(5), limiter, journal=path)
    assert report.sent == 5
    assert len(limiter) == 5


@pytest.mark.anyio
async def test_a_chunk_that_failed_but_for_its_limited_numbers_is_sent_again(
    tmp_path: Path,
) -> None:
    path = tmp_path / "job.sqlite"

    async def refuse(call: Call, chunk: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
        return [RecipientOutcome(phone=r.phone, status=OutcomeStatus.FAILED) for r in chunk]

    limiter = CountingLimiter()
    busy = limiter.acquire_nowait(phone_at(1))
    outcomes, _ = await run(FakeChunkSender(script=refuse), recipients(5), limiter, journal=path)
    assert [item.outcome.code for item in outcomes][:2] == [None, NUMBER_LIMITED]
    limiter.release_nowait(busy)  # the number is free again by the time the job resumes
    fake = FakeChunkSender(prefix="b")
    outcomes, report = await run(fake, recipients(5), limiter, journal=path)
    assert fake.phones_received() == [phone_at(p) for p in range(5)]
    assert report.sent == 5


def test_a_wrong_limiter_is_refused_clearly() -> None:
    with pytest.raises(InvalidInputError, match="number_limiter must be a per-number limiter"):
        BatchSender(FakeChunkSender(), number_limiter=NumberLimits())  # type: ignore[arg-type]


async def answer_first_then_hang(
    call: Call, chunk: Sequence[Recipient]
) -> Sequence[RecipientOutcome]:
    """Sends the first chunk; every later request hangs (until the job is cancelled)."""
    if call.number == 0:
        return [sent(recipient, "a") for recipient in chunk]
    await anyio.sleep_forever()
    raise AssertionError("unreachable")


@pytest.mark.anyio
async def test_cancelling_a_job_keeps_the_journal_consistent(tmp_path: Path) -> None:
    path = tmp_path / "job.sqlite"
    limiter = CountingLimiter()
    limiter.acquire_nowait(phone_at(3))

    with anyio.move_on_after(1):
        await run(
            FakeChunkSender(max_chunk_size=5, script=answer_first_then_hang),
            recipients(10),
            limiter,
            journal=path,
            concurrency=1,
        )
    outcomes, _ = await run(
        FakeChunkSender(max_chunk_size=5, prefix="b"), recipients(10), limiter, journal=path
    )
    assert [item.outcome.code for item in outcomes[:5]] == [None, None, None, NUMBER_LIMITED, None]
    assert {item.outcome.code for item in outcomes[5:]} == {INTERRUPTED}


@pytest.mark.anyio
@pytest.mark.parametrize("keyed", [False, True])
@pytest.mark.parametrize("limits_on_resume", [True, False])
async def test_a_chunk_in_flight_keeps_the_numbers_its_limits_kept_out_skipped(
    tmp_path: Path, keyed: bool, limits_on_resume: bool
) -> None:
    """Ctrl-C with a chunk in flight whose request a limit kept number 7 out of: resumed, 7
    is still ``skipped`` (never in a request) and only the numbers the request carried are
    ``unknown``; nothing is sent again, not even with the chunk's key by a run without
    limits (the key's request carried part of the chunk only)."""
    path = tmp_path / "job.sqlite"
    limiter = CountingLimiter()
    limiter.acquire_nowait(phone_at(7))

    first = FakeChunkSender(max_chunk_size=5, keyed=keyed, script=answer_first_then_hang)
    async with anyio.create_task_group() as group:
        group.start_soon(lambda: run(first, recipients(10), limiter, journal=path, concurrency=1))
        await wait_until(lambda: len(first.calls) == 2, missing=lambda: "the second request")
        # The job runs, its second chunk in flight: 7 is settled (skipped), the rest is not.
        summary = await reconcile(path, JOB)
        assert (summary.sent, summary.in_flight, summary.skipped) == (5, 4, 1)
        group.cancel_scope.cancel()
    assert first.phones_received()[5:] == [phone_at(p) for p in (5, 6, 8, 9)]
    summary = await reconcile(path, JOB)  # the job stopped: its chunk in flight is counted
    assert (summary.sent, summary.unknown, summary.skipped) == (5, 4, 1)

    second = FakeChunkSender(max_chunk_size=5, keyed=keyed, prefix="b")
    outcomes: list[BatchOutcome] = []
    await BatchSender(
        second,
        number_limiter=limiter if limits_on_resume else None,
        runtime=FakeTime().runtime(),
    ).send(recipients(10), sink=outcomes.append, journal=path, job_id=JOB)
    assert second.calls == []
    codes = [item.outcome.code for item in outcomes[5:]]
    assert codes == [INTERRUPTED, INTERRUPTED, NUMBER_LIMITED, INTERRUPTED, INTERRUPTED]
    assert outcomes[7].outcome.status is OutcomeStatus.SKIPPED
    assert outcomes[7].outcome.message is not None
    assert "per-number limit" in outcomes[7].outcome.message


@pytest.mark.anyio
async def test_what_limits_kept_out_is_trusted_only_for_the_start_that_recorded_it(
    tmp_path: Path,
) -> None:
    """A version of crowdsms that does not record it may start the chunk again (without
    limits, carrying every recipient): the record then no longer says what was sent."""
    path = tmp_path / "job.sqlite"
    settings = {"format": JOURNAL_FORMAT, "chunk_size": 50, "max_span": 200}
    journal = await Journal.open(str(path), job_id=JOB, settings=settings)
    prepared = {"positions": [0, 1], "phones": [phone_at(0), phone_at(1)], "fingerprint": "f"}
    await journal.prepare(0, idempotency_key=None, **prepared)  # type: ignore[arg-type]
    skipped = RecipientOutcome(phone=phone_at(1), status=OutcomeStatus.SKIPPED, code="x")
    await journal.mark_started_limited(0, {1: skipped})
    recorded = await journal.prepare(0, idempotency_key=None, **prepared)  # type: ignore[arg-type]
    assert recorded is not None
    assert recorded.kept_out == {1: skipped}
    await journal.aclose()
    for change, trusted in (
        ("", True),
        ("UPDATE chunks SET started_at = started_at + 1", False),  # another version's start
        ("UPDATE chunks SET sent_at = started_at + 1", False),  # its resend with the key
    ):
        with contextlib.closing(sqlite3.connect(path)) as connection:
            kept = encode_kept_out({1: skipped}, started_at=1)
            connection.execute(
                "UPDATE chunks SET state = 'started', started_at = 1, sent_at = NULL, kept_out = ?",
                (kept,),
            )
            if change:
                connection.execute(change)
            connection.commit()
        journal = await Journal.open(str(path), job_id=JOB, settings=settings)
        recorded = await journal.prepare(0, idempotency_key=None, **prepared)  # type: ignore[arg-type]
        assert recorded is not None
        assert recorded.state == "started"
        assert recorded.kept_out == ({1: skipped} if trusted else None), change
        if trusted:
            await journal.mark_started(0)  # a start without limits forgets it too
            again = await journal.prepare(0, idempotency_key=None, **prepared)  # type: ignore[arg-type]
            assert again is not None
            assert again.kept_out is None
        await journal.aclose()


class TakenJournal:
    """A shared journal (a campaign's claims) in which another worker claims every chunk."""

    resumed = False
    recorded_chunks = 0

    def __init__(self) -> None:
        self.done: dict[int, list[RecipientOutcome]] = {}

    async def prepare(self, index: int, **_: object) -> None:
        return None

    async def mark_started(self, index: int) -> None:
        raise ChunkTakenError(f"chunk {index} was claimed by another worker first")

    async def mark_pending(self, index: int) -> None:
        raise AssertionError("never reached")

    async def mark_done(self, index: int, outcomes: Sequence[RecipientOutcome]) -> None:
        raise AssertionError("never reached: the other worker records the chunk")

    async def reopen(self, index: int, *, idempotency_key: str | None) -> None:
        raise AssertionError("never reached")

    async def wait_outcomes(self, index: int, phones: Sequence[str]) -> list[RecipientOutcome]:
        """The other worker sent each chunk but its first number, which it had to skip."""
        return [
            RecipientOutcome(phone=phone, status=OutcomeStatus.SKIPPED, code=NUMBER_LIMITED)
            if offset == 0
            else RecipientOutcome(
                phone=phone, status=OutcomeStatus.SENT, message_id=f"other-{phone}"
            )
            for offset, phone in enumerate(phones)
        ]

    async def finish(self, chunks_seen: int) -> None:
        return None

    async def aclose(self) -> None:
        return None


@pytest.mark.anyio
async def test_a_chunk_another_worker_took_keeps_the_permits_of_what_it_sent() -> None:
    limiter = CountingLimiter()
    for position in range(5, 10):  # chunk 1: every number refused here
        limiter.acquire_nowait(phone_at(position))
    limiter.acquire_nowait(phone_at(2))
    fake = FakeChunkSender(max_chunk_size=5)
    outcomes: list[BatchOutcome] = []
    await BatchSender(fake, number_limiter=limiter, runtime=FakeTime().runtime()).send(
        recipients(10), sink=outcomes.append, journal=TakenJournal(), job_id=JOB
    )
    assert fake.calls == []
    assert [item.outcome.message_id for item in outcomes] == [
        None if p in (0, 5) else f"other-{phone_at(p)}" for p in range(10)
    ]
    # Chunk 0: the other worker sent 1 to 4 (the same sends: the permits taken here under
    # the chunk's key are theirs) and skipped 0, whose permit goes back.
    assert limiter.released == [phone_at(0)]
    assert sorted(limiter.keys) == [chunk_key(JOB, 0), chunk_key(JOB, 1)]
    assert len(limiter) == 6 + 3  # busy before the job: 2, 5 to 9; sent by the other: 1, 3, 4


@pytest.mark.asyncio
async def test_a_resend_of_unconfirmed_recipients_takes_permits_of_its_own(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "job.sqlite"
    clock = Clock()
    limiter = NumberLimiter(NumberLimits.parse("1/m"), clock=clock)  # one a minute

    async def lost(call: Call, given: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
        raise RequestTimeoutError("read timeout", certainty=DeliveryCertainty.UNKNOWN)

    first = await BatchSender(
        FakeChunkSender(max_chunk_size=3, script=lost), number_limiter=limiter
    ).send(recipients(3), journal=journal, job_id=JOB)
    assert first.unknown == 3  # each number keeps its permit: it may have had the message

    # Within the minute, the at-least-once resend would be a second message to each number.
    early = FakeChunkSender(max_chunk_size=3)
    got: list[BatchOutcome] = []
    report = await BatchSender(early, number_limiter=limiter, resend_unconfirmed_after=0).send(
        recipients(3), journal=journal, job_id=JOB, sink=got.append
    )
    assert early.calls == []
    assert report.unknown == 3
    assert report.resent == 0
    assert all("did not go out" in (item.outcome.message or "") for item in got)

    clock.now += 120  # two minutes later the limit allows one more
    later = FakeChunkSender(max_chunk_size=3)
    report = await BatchSender(later, number_limiter=limiter, resend_unconfirmed_after=0).send(
        recipients(3), journal=journal, job_id=JOB
    )
    assert later.phones_received() == [phone_at(i) for i in range(3)]
    assert report.sent == 3
    assert report.resent == 3
