"""The journal: cancel a job halfway, resume it, never send a number twice."""

from __future__ import annotations

import contextlib
import sqlite3
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import anyio
import anyio.lowlevel
import attrs
import pytest

from crowdsms.batch import (
    INTERRUPTED,
    BatchOutcome,
    BatchReport,
    JournalBusyError,
    JournalError,
    JournalMismatchError,
    idempotency_key,
    send_batch,
)
from crowdsms.batch._journal import Journal
from crowdsms.errors import (
    ConnectionFailedError,
    DeliveryCertainty,
    InvalidInputError,
    RateLimitedError,
)
from crowdsms.outcomes import OutcomeStatus, Recipient, RecipientOutcome

from .fakes import Call, CheckpointPace, FakeChunkSender, FakeTime, phone_at, sent

JOB = "campaign-2024-05"
INVALID = {17, 90}
DUPLICATES = {55: 54, 131: 3}  # position -> the earlier position with the same number


def job_input(count: int = 200) -> list[Recipient]:
    items = []
    for position in range(count):
        if position in INVALID:
            items.append(Recipient("not a number"))
        elif position in DUPLICATES:
            items.append(Recipient(phone_at(DUPLICATES[position]), {"n": str(position)}))
        else:
            items.append(Recipient(phone_at(position), {"n": str(position)}))
    return items


def states(path: Path, job_id: str = JOB) -> Counter[str]:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        rows = connection.execute("SELECT state FROM chunks WHERE job_id = ?", (job_id,))
        return Counter(state for (state,) in rows)


def hanging_sender(scope: anyio.CancelScope, *, keyed: bool, hang_from: int) -> FakeChunkSender:
    """Answers ``hang_from`` calls, then hangs every call; cancels the job when 4 hang."""
    hung: list[int] = []

    async def script(call: Call, recipients: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
        if call.number < hang_from:
            return [sent(recipient, "a") for recipient in recipients]
        hung.append(call.number)
        if len(hung) == 4:
            scope.cancel()  # Ctrl-C while four requests are in flight
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    return FakeChunkSender(max_chunk_size=10, keyed=keyed, script=script)


async def cancelled_run(path: Path, *, keyed: bool) -> FakeChunkSender:
    with anyio.CancelScope() as scope:
        first = hanging_sender(scope, keyed=keyed, hang_from=8)
        await send_batch(first, job_input(), concurrency=4, journal=path, job_id=JOB)
    assert scope.cancelled_caught
    return first


async def run(
    fake: FakeChunkSender, path: Path, items: list[Recipient] | None = None, **options: int
) -> tuple[BatchReport, list[BatchOutcome]]:
    received: list[BatchOutcome] = []
    report = await send_batch(
        fake,
        job_input() if items is None else items,
        sink=received.append,
        journal=path,
        job_id=JOB,
        concurrency=options.get("concurrency", 4),
        chunk_size=options.get("chunk_size"),
    )
    return report, received


@pytest.mark.anyio
async def test_a_cancelled_job_resumes_without_sending_anyone_twice(tmp_path: Path) -> None:
    path = tmp_path / "job.sqlite"
    first = await cancelled_run(path, keyed=False)

    # The journal is consistent: 8 chunks done, the 4 in flight started, the rest pending.
    recorded = states(path)
    assert recorded["done"] == 8
    assert recorded["started"] == 4
    assert set(recorded) <= {"done", "started", "pending"}
    in_flight = {phone for call in first.calls[8:] for phone in call.phones}
    done_before = {phone for call in first.calls[:8] for phone in call.phones}
    assert len(in_flight) == 40

    second = FakeChunkSender(max_chunk_size=10, prefix="b")
    report, received = await run(second, path)

    assert [item.position for item in received] == list(range(200))
    sendable = {phone_at(p) for p in range(200) if p not in INVALID and p not in DUPLICATES}
    # Nobody was given to the fakes twice: the in-flight chunks were not resent.
    given = first.phones_received() + second.phones_received()
    assert len(given) == len(set(given))
    assert set(second.phones_received()) == sendable - in_flight - done_before
    for item in received:
        outcome = item.outcome
        if item.position in INVALID:
            assert (outcome.status, outcome.code) == (OutcomeStatus.SKIPPED, "invalid")
        elif item.position in DUPLICATES:
            assert (outcome.status, outcome.code) == (OutcomeStatus.SKIPPED, "duplicate")
        elif outcome.phone in in_flight:
            assert (outcome.status, outcome.code) == (OutcomeStatus.UNKNOWN, INTERRUPTED)
            assert "delivery reports" in (outcome.message or "")
        elif outcome.phone in done_before:
            assert outcome.message_id == f"a-{outcome.phone}"  # re-emitted from the journal
        else:
            assert outcome.message_id == f"b-{outcome.phone}"
    assert report.resumed
    assert report.replayed == len(done_before)
    assert report.unknown == 40
    assert report.by_code[INTERRUPTED] == 40
    assert report.requests == len(second.calls)
    assert states(path) == Counter({"done": 20})

    # Running the finished job again sends nothing and gives the same outcomes.
    third = FakeChunkSender(max_chunk_size=10, prefix="c")
    again, replayed = await run(third, path)
    assert third.calls == []

    # the same outcomes; a resumed job also marks its sent ones "awaiting" a report
    def without_delivery(items: list[BatchOutcome]) -> list[dict[str, object]]:
        return [{k: v for k, v in item.to_dict().items() if k != "delivery"} for item in items]

    assert without_delivery(replayed) == without_delivery(received)
    assert {item.to_dict()["delivery"] for item in replayed if item.status.value == "sent"} == {
        "awaiting"
    }
    assert again.replayed == len(sendable)
    assert again.by_status == report.by_status


@pytest.mark.anyio
async def test_in_flight_chunks_are_resent_with_the_same_idempotency_key(
    tmp_path: Path,
) -> None:
    path = tmp_path / "job.sqlite"
    first = await cancelled_run(path, keyed=True)
    keys = [call.key for call in first.calls]
    assert keys == [idempotency_key(JOB, index) for index in range(12)]

    second = FakeChunkSender(max_chunk_size=10, keyed=True, prefix="b")
    report, received = await run(second, path)

    resent = {tuple(call.phones): call.key for call in second.calls}
    for call in first.calls[8:]:
        assert resent[tuple(call.phones)] == call.key  # same request, same key
    assert all(call.key is not None and len(call.key) <= 128 for call in second.calls)
    assert len({call.key for call in first.calls + second.calls}) == 20  # one per chunk
    done_before = {phone for call in first.calls[:8] for phone in call.phones}
    assert not done_before & set(second.phones_received())
    assert report.unknown == 0
    assert report.sent == 200 - len(INVALID) - len(DUPLICATES)
    assert [item.position for item in received] == list(range(200))


def test_idempotency_keys_are_stable_short_and_distinct() -> None:
    long_id = "x" * 1_000
    assert idempotency_key(long_id, 12) == idempotency_key(long_id, 12)
    assert len(idempotency_key(long_id, 10**12)) <= 128
    assert idempotency_key(JOB, 1) != idempotency_key(JOB, 2)
    assert idempotency_key("a", 1) != idempotency_key("b", 1)


@pytest.mark.asyncio
async def test_resume_over_changed_input_is_refused_before_sending(tmp_path: Path) -> None:
    path = tmp_path / "job.sqlite"
    await run(FakeChunkSender(max_chunk_size=10), path, job_input(50))

    for changed in (
        [Recipient(phone_at(999)) if i == 3 else r for i, r in enumerate(job_input(50))],
        [
            Recipient(r.phone, {"n": "changed"}) if i == 3 else r
            for i, r in enumerate(job_input(50))
        ],
        job_input(50)[1:],
    ):
        fake = FakeChunkSender(max_chunk_size=10)
        with pytest.raises(JournalMismatchError, match=r"chunk 0 \(input positions 0 to") as info:
            await run(fake, path, changed)
        assert fake.calls == []
        assert "the input changed" in str(info.value)
        assert "new job_id" in str(info.value)


@pytest.mark.asyncio
async def test_resume_with_other_chunking_or_a_shorter_or_longer_input_is_refused(
    tmp_path: Path,
) -> None:
    path = tmp_path / "job.sqlite"
    await run(FakeChunkSender(max_chunk_size=10), path, job_input(45))

    fake = FakeChunkSender(max_chunk_size=10)
    with pytest.raises(JournalMismatchError, match="other chunking settings") as info:
        await run(fake, path, job_input(45), chunk_size=5)
    assert '"chunk_size": 10' in str(info.value)
    assert fake.calls == []

    with pytest.raises(JournalMismatchError, match="input ended after 3 chunks"):
        await run(fake, path, job_input(31))  # ends where chunk 2 ends
    assert fake.calls == []

    with pytest.raises(JournalMismatchError, match="chunk 4"):
        await run(fake, path, job_input(55))  # the last chunk would now hold 10
    assert fake.calls == []

    # Another job id in the same file is a separate job.
    report = await send_batch(fake, job_input(45), journal=path, job_id="another")
    assert report.sent == 45 - 1  # position 17 is invalid
    assert not report.resumed


@pytest.mark.asyncio
async def test_a_journal_needs_a_job_id(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="job_id") as info:
        await send_batch(FakeChunkSender(), job_input(5), journal=tmp_path / "j.sqlite")
    assert info.value.field == "job_id"
    assert not (tmp_path / "j.sqlite").exists()


@pytest.mark.asyncio
async def test_each_state_is_committed_before_the_next_step(tmp_path: Path) -> None:
    path = tmp_path / "job.sqlite"
    seen: list[Counter[str]] = []

    async def script(call: Call, recipients: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
        # Read the journal from another connection while the request is being made.
        seen.append(states(path))
        return [sent(recipient) for recipient in recipients]

    fake = FakeChunkSender(max_chunk_size=10, script=script)
    await send_batch(fake, job_input(30), concurrency=1, journal=path, job_id=JOB)
    # During each request, its chunk (and only it) is started, earlier ones are done.
    for index, counts in enumerate(seen):
        assert counts["started"] == 1
        assert counts["done"] == index
    assert states(path) == Counter({"done": 3})


@pytest.mark.asyncio
async def test_two_runs_cannot_use_one_journal_at_once(tmp_path: Path) -> None:
    path = tmp_path / "job.sqlite"
    started = anyio.Event()
    release = anyio.Event()

    async def script(call: Call, recipients: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
        started.set()
        await release.wait()
        return [sent(recipient) for recipient in recipients]

    second = FakeChunkSender(max_chunk_size=10)
    async with anyio.create_task_group() as group:
        group.start_soon(run, FakeChunkSender(max_chunk_size=10, script=script), path)
        await started.wait()
        with pytest.raises(JournalBusyError, match="another job is running"):
            await run(second, path)
        release.set()
    assert second.calls == []
    # Once the first run has finished, the journal can be used again.
    report, _ = await run(second, path)
    assert report.replayed == 200 - len(INVALID) - len(DUPLICATES)


@pytest.mark.asyncio
async def test_a_file_that_is_not_a_journal_is_refused_clearly(tmp_path: Path) -> None:
    garbage = tmp_path / "notes.txt"
    garbage.write_bytes(b"these are my notes, not a database" * 100)
    for path in (garbage, tmp_path / "missing-dir" / "job.sqlite"):
        with pytest.raises(JournalError, match="cannot be opened as a crowdsms journal") as info:
            await run(FakeChunkSender(), path)
        assert str(path) in str(info.value)


@pytest.mark.anyio
async def test_cancelled_between_started_and_the_request_goes_back_to_pending(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "job.sqlite"
    original = Journal.mark_started

    with anyio.CancelScope() as scope:

        async def mark_started_then_cancel(self: Journal, index: int) -> None:
            await original(self, index)
            scope.cancel()  # Ctrl-C right after "started" was committed

        monkeypatch.setattr(Journal, "mark_started", mark_started_then_cancel)
        first = FakeChunkSender(max_chunk_size=10)
        await send_batch(first, job_input(), concurrency=1, journal=path, job_id=JOB)
    monkeypatch.undo()

    assert first.calls == []
    assert states(path)["started"] == 0
    assert states(path)["pending"] >= 1
    second = FakeChunkSender(max_chunk_size=10)
    report, _ = await run(second, path)
    assert report.unknown == 0
    assert report.sent == 200 - len(INVALID) - len(DUPLICATES)


@pytest.mark.asyncio
async def test_a_chunk_waiting_to_be_resent_is_pending_not_started(tmp_path: Path) -> None:
    path = tmp_path / "job.sqlite"
    during_wait: list[Counter[str]] = []

    async def script(call: Call, recipients: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
        if call.number == 0:
            raise ConnectionFailedError("refused", certainty=DeliveryCertainty.NOT_SENT)
        return [sent(recipient) for recipient in recipients]

    time = FakeTime()

    async def sleep(delay: float) -> None:
        during_wait.append(states(path))
        await time.sleep(delay)

    fake = FakeChunkSender(max_chunk_size=10, script=script)
    runtime = attrs.evolve(time.runtime(), sleep=sleep)
    report = await send_batch(
        fake, job_input(10), concurrency=1, journal=path, job_id=JOB, runtime=runtime
    )
    assert during_wait == [Counter({"pending": 1})]
    assert report.sent == 10
    assert len(fake.calls) == 2
    assert fake.calls[0].phones == fake.calls[1].phones


@pytest.mark.asyncio
@pytest.mark.parametrize("keyed", [False, True])
async def test_ctrl_c_as_a_refused_chunk_goes_back_to_pending_still_records_it(
    tmp_path: Path, keyed: bool
) -> None:
    """Ctrl-C comes just as the provider refuses the request: the chunk was provably not
    sent, so the journal records it pending and the next run sends it (it is not left
    started, its recipients unknown)."""
    path = tmp_path / "job.sqlite"

    with anyio.CancelScope() as scope:

        async def refused(
            call: Call, recipients: Sequence[Recipient]
        ) -> Sequence[RecipientOutcome]:
            scope.cancel()  # delivered at the job's next checkpoint: recording it pending
            raise ConnectionFailedError("refused", certainty=DeliveryCertainty.NOT_SENT)

        first = FakeChunkSender(max_chunk_size=10, keyed=keyed, script=refused)
        await send_batch(first, job_input(10), concurrency=1, journal=path, job_id=JOB)
    assert scope.cancelled_caught
    assert len(first.calls) == 1
    assert states(path) == Counter({"pending": 1})
    second = FakeChunkSender(max_chunk_size=10, keyed=keyed)
    report, _ = await run(second, path, job_input(10))
    assert report.sent == 10
    assert report.unknown == 0


@pytest.mark.asyncio
@pytest.mark.parametrize("answer", ["429", "sent"])
async def test_ctrl_c_while_telling_a_shared_limit_how_a_request_went_keeps_the_journal_true(
    tmp_path: Path, answer: str
) -> None:
    """Ctrl-C comes as the job tells the shared rate limit of a 429 (provably not sent) or
    of a success: the journal has the chunk pending, or done with its outcomes, first."""
    path = tmp_path / "job.sqlite"
    pace = CheckpointPace()

    with anyio.CancelScope() as scope:

        async def script(call: Call, recipients: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
            scope.cancel()  # delivered at the job's next checkpoint: telling the limit
            if answer == "429":
                raise RateLimitedError("slow down", status_code=429, retry_after=0.5)
            return [sent(recipient) for recipient in recipients]

        first = FakeChunkSender(max_chunk_size=10, script=script)
        await send_batch(
            first, job_input(10), concurrency=1, journal=path, job_id=JOB, shared_pace=pace
        )
    assert scope.cancelled_caught
    assert pace.told == ["slow_down" if answer == "429" else "recovered"]
    assert states(path) == Counter({"pending" if answer == "429" else "done": 1})
    second = FakeChunkSender(max_chunk_size=10)
    report, _ = await run(second, path, job_input(10))
    assert (report.sent, report.unknown) == (10, 0)
    assert len(second.calls) == (1 if answer == "429" else 0)
