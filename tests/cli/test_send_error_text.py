"""What `crowdsms send` says about an error that stopped a job after its first request:
the sink is blamed only when the report says the sink failed."""

from __future__ import annotations

from pathlib import Path

import pytest

from crowdsms.batch import BatchReport
from crowdsms.cli._send import SentJob, _finish
from crowdsms.outcomes import OutcomeStatus


class Job:  # what _finish reads of a SendJob
    provider = "submail"
    output = Path("out.jsonl")
    job_id = "job-1"
    journal = Path("job.sqlite")
    resume_line = "crowdsms send contacts.csv --journal job.sqlite --job-id job-1 --resume"


def stopped_report(stopped: str) -> BatchReport:
    return BatchReport(
        job_id="job-1",
        total=20,
        by_status={OutcomeStatus.SENT: 10, OutcomeStatus.FAILED: 10},
        by_code={"not_sent": 10},
        fees=10.0,
        requests=1,
        retries=0,
        replayed=0,
        duration=0.0,
        stopped=stopped,
    )


def test_an_error_that_is_not_the_sinks_is_not_blamed_on_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    error = RuntimeError("the progress bar broke")
    report = stopped_report("the progress callback raised (RuntimeError: the progress bar broke)")
    with pytest.raises(SystemExit) as done:
        _finish(SentJob(report, "httpx", error), Job())  # type: ignore[arg-type]
    assert done.value.code == 1
    err = capsys.readouterr().err
    assert "could not be written" not in err
    assert "until writing failed" not in err
    assert "unexpected RuntimeError (the progress bar broke)" in err
    assert "resume with: " in err
