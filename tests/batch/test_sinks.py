"""Where outcomes go: files, callbacks, an async iterator; progress; the blocking entry point."""

from __future__ import annotations

import csv
import json
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from crowdsms.batch import (
    BatchOutcome,
    BatchProgress,
    BatchSender,
    CsvSink,
    JsonlSink,
    run_batch_blocking,
    send_batch,
)
from crowdsms.blocking._runner import EventLoopBlockedError
from crowdsms.errors import CrowdSMSError
from crowdsms.outcomes import OutcomeStatus, Recipient

from .fakes import FakeChunkSender, FakeTime, phone_at, recipients


def mixed_input() -> list[Recipient]:
    return [Recipient(phone_at(0), {"n": "0"}), Recipient("bad"), Recipient(phone_at(2))]


@pytest.mark.asyncio
async def test_jsonl_sink_writes_one_object_per_line_in_order(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    (tmp_path / "out.jsonl").write_text("left over from an earlier run\n")
    await send_batch(FakeChunkSender(), mixed_input(), sink=JsonlSink(path))
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [line["position"] for line in lines] == [0, 1, 2]
    assert lines[0] == {
        "position": 0,
        "input_phone": phone_at(0),
        "phone": phone_at(0),
        "status": "sent",
        "message_id": f"id-{phone_at(0)}",
        "fee": 1.0,
        "code": None,
        "message": None,
        "retryable": False,
        "confirmed": False,
        "delivery": None,
        "delivery_code": None,
        "provider": None,
    }
    assert (lines[1]["status"], lines[1]["code"], lines[1]["input_phone"]) == (
        "skipped",
        "invalid",
        "bad",
    )


@pytest.mark.asyncio
async def test_csv_sink_writes_a_header_and_rows(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    await send_batch(FakeChunkSender(), mixed_input(), sink=CsvSink(path))
    with path.open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [row["position"] for row in rows] == ["0", "1", "2"]
    assert rows[0]["status"] == "sent"
    assert rows[0]["message_id"] == f"id-{phone_at(0)}"
    assert (rows[1]["status"], rows[1]["code"]) == ("skipped", "invalid")
    assert rows[1]["message_id"] == ""

    # Appending keeps the existing rows and does not repeat the header.
    await send_batch(FakeChunkSender(), mixed_input(), sink=CsvSink(path, append=True))
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 7
    assert lines[0].startswith("position,input_phone,phone,status")
    assert not lines[4].startswith("position")


@pytest.mark.asyncio
async def test_async_callback_and_sink_lifecycle_on_failure() -> None:
    seen: list[int] = []

    async def callback(item: BatchOutcome) -> None:
        await anyio.lowlevel.checkpoint()
        seen.append(item.position)

    await send_batch(FakeChunkSender(max_chunk_size=7), recipients(100), sink=callback)
    assert seen == list(range(100))

    events: list[str] = []

    class Recording:
        async def open(self) -> None:
            events.append("open")

        async def write(self, outcomes: Sequence[BatchOutcome]) -> None:
            events.append("write")

        async def close(self) -> None:
            events.append("close")

    def failing() -> Iterator[Recipient]:
        yield from recipients(60)
        raise OSError("the input file went away")

    with pytest.raises(OSError, match="went away"):
        await send_batch(FakeChunkSender(max_chunk_size=10), failing(), sink=Recording())
    assert events[0] == "open"
    assert events[-1] == "close"


@pytest.mark.anyio
async def test_stream_yields_outcomes_in_order_and_then_the_report() -> None:
    fake = FakeChunkSender(max_chunk_size=10, jitter=5)
    async with BatchSender(fake, concurrency=4) as sender:
        stream = sender.stream(recipients(250), job_id="stream-job")
        with pytest.raises(CrowdSMSError, match="has not finished"):
            _ = stream.report
        positions = [item.position async for item in stream]
    assert positions == list(range(250))
    assert stream.report.sent == 250
    assert stream.report.job_id == "stream-job"


@pytest.mark.anyio
async def test_closing_a_stream_early_stops_the_job() -> None:
    fake = FakeChunkSender(max_chunk_size=10)
    read = 0

    def counted() -> Iterator[Recipient]:
        nonlocal read
        for recipient in recipients(100_000):
            read += 1
            yield recipient

    async with BatchSender(fake, concurrency=2) as sender:
        async with sender.stream(counted()) as stream:
            async for item in stream:
                if item.position == 25:
                    break
        for _ in range(50):
            await anyio.lowlevel.checkpoint()
        calls_after_close = len(fake.calls)
        for _ in range(50):
            await anyio.lowlevel.checkpoint()
        assert len(fake.calls) == calls_after_close  # nothing more is sent
    assert read < 1_000
    assert len(fake.calls) < 100


@pytest.mark.anyio
async def test_stream_raises_the_jobs_error() -> None:
    def failing() -> Iterator[Recipient]:
        yield from recipients(30)
        raise ValueError("row 31 is corrupt")

    received: list[int] = []

    async def consume(sender: BatchSender) -> None:
        async for item in sender.stream(failing()):
            received.append(item.position)

    async with BatchSender(FakeChunkSender(max_chunk_size=10)) as sender:
        with pytest.raises(ValueError, match="row 31"):
            await consume(sender)
    assert received == list(range(len(received)))


@pytest.mark.asyncio
async def test_stream_needs_async_with() -> None:
    sender = BatchSender(FakeChunkSender())
    with pytest.raises(CrowdSMSError, match="async with BatchSender"):
        sender.stream(recipients(3))
    assert "FakeChunkSender" in repr(sender)


@pytest.mark.asyncio
async def test_leaving_the_sender_cancels_unfinished_streams() -> None:
    fake = FakeChunkSender(max_chunk_size=10)
    async with BatchSender(fake) as sender:
        stream = sender.stream(recipients(10_000))
        first = await stream.__anext__()
        assert first.position == 0
    with pytest.raises(CrowdSMSError, match="has not finished"):
        _ = stream.report
    assert len(fake.calls) < 100


@pytest.mark.asyncio
async def test_progress_is_throttled_and_ends_with_a_final_snapshot() -> None:
    snapshots: list[BatchProgress] = []

    async def progress(snapshot: BatchProgress) -> None:
        snapshots.append(snapshot)

    time = FakeTime()
    report = await send_batch(
        FakeChunkSender(max_chunk_size=10),
        [*recipients(95), Recipient("bad")],
        progress=progress,
        progress_interval=10.0,
        runtime=time.runtime(),
        job_id="p",
    )
    # The clock never moves: one call for the first chunk, then only the final one.
    assert len(snapshots) == 2
    assert snapshots[0].done == 10
    assert not snapshots[0].finished
    final = snapshots[-1]
    assert final.finished
    assert (final.done, final.sent, final.skipped, final.job_id) == (96, 95, 1, "p")
    assert final.concurrency_limit == 8
    assert final.rate_limit is None
    assert str(report) == (
        "job p: 96 recipients, 95 sent, 0 failed, 0 unknown, 1 skipped; codes invalid x1; "
        "fees 95; 10 requests, 0 retries, 0.0 s"
    )


def test_run_batch_blocking_runs_the_job_on_a_new_loop_or_a_given_runner() -> None:
    fake = FakeChunkSender(max_chunk_size=10)
    report = run_batch_blocking(fake, recipients(35))
    assert report.sent == 35
    assert len(fake.calls) == 4

    used: list[str] = []

    def runner(job: Callable[[], Awaitable[object]]) -> object:
        used.append("runner")
        return anyio.run(job, backend="trio")

    report = run_batch_blocking(fake, recipients(5), runner=runner)  # type: ignore[arg-type]
    assert used == ["runner"]
    assert report.sent == 5


@pytest.mark.asyncio
async def test_run_batch_blocking_refuses_to_block_a_running_loop() -> None:
    fake = FakeChunkSender()
    with pytest.raises(EventLoopBlockedError, match="await send_batch"):
        run_batch_blocking(fake, recipients(5))
    assert fake.calls == []


def test_outcome_shortcuts() -> None:
    from crowdsms.outcomes import RecipientOutcome

    item = BatchOutcome(3, "+86 139", RecipientOutcome(phone="139", status=OutcomeStatus.SENT))
    assert item.status is OutcomeStatus.SENT
    assert item.to_dict()["input_phone"] == "+86 139"
