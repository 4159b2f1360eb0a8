"""``crowdsms send --output``: the file is replaced only once the job has outcomes."""

from __future__ import annotations

from pathlib import Path

import pytest

from crowdsms.batch import CsvSink, JsonlSink
from crowdsms.cli._output import DeferredSink


@pytest.mark.anyio
async def test_a_job_that_fails_before_any_outcome_leaves_the_file_as_it_was(
    tmp_path: Path,
) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text("earlier\n")
    sink = DeferredSink(JsonlSink(path))
    await sink.open()
    await sink.close()  # the job failed: no outcome, no finish()
    assert path.read_text() == "earlier\n"


@pytest.mark.anyio
async def test_a_job_that_ended_without_outcomes_still_replaces_the_file(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    path.write_text("earlier\n")
    sink = DeferredSink(CsvSink(path))
    await sink.open()
    await sink.close()
    await sink.finish()
    assert path.read_text().splitlines()[0].startswith("position,")  # the header alone
    assert len(path.read_text().splitlines()) == 1
