"""Issues 6 and 10: a journaled job killed with SIGKILL, then resumed in a new process.

The job (``resumable_job.py``) runs in a subprocess against a sandbox served by this
process in a thread, one chunk at a time. The kill comes at one of three points, read
from the journal, each made exact: right after the journal was created (the job's input
is held back, so no chunk exists yet), when some chunks are done (the sandbox holds the
request of the next chunk) and when all but the last are done (it holds the last one).
A held request reaches the sandbox after the kill, as a request that was on the wire
when a process died does. A second process resumes the job. Then:

- the resumed run's output has one outcome per recipient, in input order;
- the ledger has no number twice: chunks done before the kill were not sent again;
- the only ``unknown`` outcomes are the recipients of the chunks that were in flight at the
  kill (``started`` in the journal), with code ``interrupted``; everything else is sent.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import attrs
import pytest

from crowdsms.batch import INTERRUPTED
from crowdsms.sandbox import Sandbox, create_app, serve_in_thread

from ._requests import RequestLog, record_sends
from ._support import assert_ledger_has_no_duplicates

SCRIPT = Path(__file__).with_name("resumable_job.py")
COUNT = 1000
CHUNK = 50  # SUBMAIL's multisend chunk
CHUNKS = COUNT // CHUNK
JOB_ID = "reliability-resume"


def number(index: int) -> str:
    return f"139{index:08d}"  # as resumable_job.py numbers its recipients


Chunks = dict[int, tuple[str, list[str]]]


def read_journal(path: Path) -> tuple[bool, Chunks]:
    """Whether the job is recorded, and each chunk's state and numbers (read-only)."""
    if not path.exists():
        return False, {}
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
    try:
        jobs = connection.execute("SELECT count(*) FROM jobs WHERE job_id = ?", (JOB_ID,))
        recorded = jobs.fetchone()[0] == 1
        rows = connection.execute(
            "SELECT idx, state, phones FROM chunks WHERE job_id = ?", (JOB_ID,)
        ).fetchall()
    except sqlite3.OperationalError:  # created but no tables yet
        return False, {}
    finally:
        connection.close()
    return recorded, {idx: (state, json.loads(phones)) for idx, state, phones in rows}


def done_count(chunks: Chunks) -> int:
    return sum(state == "done" for state, _ in chunks.values())


@attrs.frozen
class KillPoint:
    hold_input: bool  # hold the job's input back: the journal exists, no chunk does
    held_chunk: int | None  # the chunk whose request the sandbox holds until the kill

    def reached(self, recorded: bool, chunks: Chunks, log: RequestLog) -> bool:
        if self.held_chunk is None:
            return recorded
        state = chunks.get(self.held_chunk, ("", []))[0]
        first = number(self.held_chunk * CHUNK)
        # The held chunk is started, and its request has reached the sandbox (a kill
        # between the journal's "started" and the request would leave it unsent).
        arrived = any(first in record.phones for record in log.records)
        return state == "started" and done_count(chunks) == self.held_chunk and arrived


KILL_POINTS = {
    "journal_created": KillPoint(hold_input=True, held_chunk=None),
    "some_chunks_done": KillPoint(hold_input=False, held_chunk=5),
    "all_but_last_done": KillPoint(hold_input=False, held_chunk=CHUNKS - 1),
}


def start_job(
    sandbox: Sandbox, tmp_path: Path, output: Path, *, hold: bool
) -> subprocess.Popen[str]:
    args = [
        sys.executable,
        str(SCRIPT),
        "--base-url",
        sandbox.base_url("submail"),
        "--journal",
        str(tmp_path / "job.sqlite"),
        "--job-id",
        JOB_ID,
        "--output",
        str(output),
        "--count",
        str(COUNT),
        "--concurrency",
        "1",  # one chunk in flight at a time: "all but the last done" is a real moment
    ]
    if hold:
        args += ["--hold", str(tmp_path / "never-created")]
    return subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path
    )


def kill_at(
    process: subprocess.Popen[str], journal: Path, point: KillPoint, log: RequestLog
) -> None:
    """Poll the journal (at most 30 s) and SIGKILL ``process`` once ``point`` is reached."""
    deadline = time.monotonic() + 30.0
    while True:
        recorded, chunks = read_journal(journal)
        if point.reached(recorded, chunks, log):
            break
        if process.poll() is not None:
            _, err = process.communicate()
            pytest.fail(f"the job ended before the kill point ({process.returncode}): {err}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the kill point never came; journal: {read_journal(journal)}")
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    # Killed, not finished: the job was still running at the kill point.
    assert process.returncode == -signal.SIGKILL


def wait_idle(log: RequestLog, *, within: float) -> None:
    deadline = time.monotonic() + within
    while not all(record.finished for record in log.records):
        assert time.monotonic() < deadline, "the sandbox is still handling requests"
        time.sleep(0.01)


@pytest.mark.parametrize("kill_point", list(KILL_POINTS))
def test_killed_job_resumes_without_sending_twice(kill_point: str, tmp_path: Path) -> None:
    point = KILL_POINTS[kill_point]
    journal = tmp_path / "job.sqlite"
    app = create_app()
    log = record_sends(app)
    if point.held_chunk is not None:
        first_of_held = number(point.held_chunk * CHUNK)
        log.hold = lambda record: first_of_held in record.phones
    with serve_in_thread(app=app) as sandbox:
        first = start_job(sandbox, tmp_path, tmp_path / "first.jsonl", hold=point.hold_input)
        try:
            kill_at(first, journal, point, log)
        finally:
            log.release()  # the request on the wire at the kill reaches the sandbox

        recorded, at_kill = read_journal(journal)
        assert recorded
        states = {idx: state for idx, (state, _) in at_kill.items()}
        if point.held_chunk is None:
            assert at_kill == {}  # killed before the first chunk was cut
        else:
            # Killed with exactly the held chunk in flight, all before it done.
            assert {idx for idx, state in states.items() if state == "done"} == set(
                range(point.held_chunk)
            )
            assert {idx for idx, state in states.items() if state == "started"} == {
                point.held_chunk
            }
        in_flight = {idx for idx, state in states.items() if state == "started"}
        done_at_kill = sum(state == "done" for state in states.values())

        wait_idle(log, within=10)
        sent_before_resume = {entry.phone for entry in sandbox.ledger.entries()}
        output = tmp_path / "resumed.jsonl"
        second = start_job(sandbox, tmp_path, output, hold=False)
        stdout, stderr = second.communicate(timeout=120)
        assert second.returncode == 0, stderr
        wait_idle(log, within=10)
        ledger = assert_ledger_has_no_duplicates(sandbox.ledger, provider="submail")

    report = json.loads(stdout.strip().splitlines()[-1])
    assert report["resumed"] is True
    assert report["total"] == COUNT
    outcomes = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert [item["position"] for item in outcomes] == list(range(COUNT))
    assert [item["input_phone"] for item in outcomes] == [number(i) for i in range(COUNT)]

    unknown = {item["phone"] for item in outcomes if item["status"] == "unknown"}
    sent = {item["phone"] for item in outcomes if item["status"] == "sent"}
    assert len(unknown) + len(sent) == COUNT  # nothing failed or skipped
    assert {item["code"] for item in outcomes if item["status"] == "unknown"} <= {INTERRUPTED}
    # The only unknowns: the chunk in flight at the kill (none if killed before any).
    assert unknown == {phone for idx in in_flight for phone in at_kill[idx][1]}
    assert report["unknown"] == len(unknown)
    # The ledger: every recipient once, the interrupted chunk included (its request was
    # processed after the kill), and the chunks done before the kill were not sent again.
    assert set(ledger) == sent | unknown
    assert len(ledger) == COUNT
    assert len(sent_before_resume) == (done_at_kill + len(in_flight)) * CHUNK
    requested = [phone for record in log.records for phone in record.phones]
    assert len(requested) == len(set(requested))
