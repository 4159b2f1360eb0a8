"""A full disk fails the journal first, then the sink: the report says the sink failed."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pytest

from crowdsms.batch import BatchOutcome, BatchSender, report_of
from crowdsms.batch._journal import Journal, JournalError
from crowdsms.outcomes import RecipientOutcome

from .fakes import FakeChunkSender, FakeTime, recipients


class DiskSink:
    """Counts what it wrote, until its disk is full."""

    def __init__(self) -> None:
        self.full = False
        self.written = 0

    async def open(self) -> None:
        pass

    async def write(self, outcomes: Sequence[BatchOutcome]) -> None:
        if self.full:
            raise OSError(28, "No space left on device")
        self.written += len(outcomes)

    async def close(self) -> None:
        pass


@pytest.mark.anyio
async def test_a_sink_that_fails_after_the_journal_is_reported_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = DiskSink()
    real = Journal.mark_done

    async def mark_done(self: Journal, index: int, outcomes: Sequence[RecipientOutcome]) -> None:
        if index == 3:
            sink.full = True  # the same disk, full for both

            def full() -> None:
                raise sqlite3.OperationalError("database or disk is full")

            await self._run(full)
        await real(self, index, outcomes)

    monkeypatch.setattr(Journal, "mark_done", mark_done)
    sender = BatchSender(
        FakeChunkSender(max_chunk_size=10), concurrency=1, runtime=FakeTime().runtime()
    )
    with pytest.raises(JournalError) as raised:  # the journal's error, which came first
        await sender.send(recipients(100), sink=sink, journal=tmp_path / "j", job_id="j1")
    report = report_of(raised.value)
    assert report is not None
    assert report.sent > sink.written  # some outcomes are not in the output...
    assert report.sink_failed  # ...and the report says so
