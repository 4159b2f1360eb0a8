"""5. Memory: peak RSS of a batch job streaming recipients from a CSV file.

Each job runs in a fresh process (``python -m benchmarks._memory --csv FILE``), so that its
peak resident set size (``ru_maxrss``) is its own. The job is the real thing except for the
network: ``read_recipients_csv`` streams the file, ``BatchSender`` validates every number
with SUBMAIL's chunk sender (the same ``validate`` as a real send), deduplicates, cuts
chunks, runs 16 workers, reorders the outcomes and writes them to a ``JsonlSink`` (on the
null device); the chunk sender's ``send_chunk`` answers every recipient ``sent`` at once
instead of making a request. Without the network, the job runs at the speed of the batch
machinery, which is what makes memory grow if anything in it holds on to recipients.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio.lowlevel

from benchmarks._submail import CONTENT
from benchmarks._table import Row
from crowdsms.batch import BatchSender, JsonlSink, read_recipients_csv
from crowdsms.outcomes import OutcomeStatus, Recipient, RecipientOutcome
from crowdsms.providers.submail import AsyncSubmail, SubmailChunkSender
from crowdsms.sandbox.emulators.submail import SUBMAIL_APPID, SUBMAIL_APPKEY

__all__ = ["MemoryResult", "measure_memory", "write_csv"]

_ROOT = Path(__file__).resolve().parent.parent


class InstantChunkSender:
    """SUBMAIL's chunk sender for everything but the request: each recipient is sent at once."""

    supports_idempotency_key = False

    def __init__(self, real: SubmailChunkSender) -> None:
        self._real = real
        self.max_chunk_size = real.max_chunk_size
        self._ids = 0

    def validate(self, recipient: Recipient, *, position: int) -> Recipient:
        """The real SUBMAIL validation and normalization."""
        return self._real.validate(recipient, position=position)

    async def send_chunk(
        self, recipients: Sequence[Recipient], *, idempotency_key: str | None = None
    ) -> list[RecipientOutcome]:
        """``sent`` for every recipient, with a 32-character id like SUBMAIL's."""
        await anyio.lowlevel.checkpoint()
        first, self._ids = self._ids, self._ids + len(recipients)
        return [
            RecipientOutcome(
                phone=recipient.phone,
                status=OutcomeStatus.SENT,
                message_id=f"{first + index:032x}",
                fee=1,
            )
            for index, recipient in enumerate(recipients)
        ]


def write_csv(path: Path, rows: int) -> None:
    """A CSV of ``rows`` distinct valid recipients: ``phone,name,code``."""
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["phone", "name", "code"])
        writer.writerows(
            (f"138{number:08d}", f"客户{number % 1000}", f"{number % 10000:04d}")
            for number in range(rows)
        )


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as file:
            for line in file:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _peak_kb() -> int:
    """This process's peak RSS in KB.

    ``ru_maxrss`` where it is this process's own; on Linux it also counts the parent's
    RSS at the moment of the fork (a forked child starts with the parent's memory), which
    here is the benchmark process, larger than the job. ``VmHWM``, the high-water mark of
    this program's own memory since ``exec``, is what ``ru_maxrss`` would be for a process
    started from scratch, so it is used when available.
    """
    high_water = _status_kb("VmHWM")
    if high_water is not None:
        return high_water
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


async def _job(path: str, concurrency: int) -> dict[str, object]:
    async with AsyncSubmail(
        app_id=SUBMAIL_APPID, app_key=SUBMAIL_APPKEY, base_url="http://127.0.0.1:9/submail"
    ) as client:
        sender = InstantChunkSender(client.sms.multisend_chunks(content=CONTENT))
        baseline = _status_kb("VmRSS") or 0
        cpu, wall = time.process_time(), time.perf_counter()
        report = await BatchSender(sender, concurrency=concurrency).send(
            read_recipients_csv(path, phone_column="phone"), sink=JsonlSink(os.devnull)
        )
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {
        "recipients": report.total,
        "sent": report.sent,
        "baseline_kb": baseline,
        "peak_kb": _peak_kb(),
        "cpu": cpu,
        "wall": wall,
    }


@dataclass
class MemoryResult:
    """Each job's figures, by number of recipients."""

    jobs: dict[int, dict[str, float]]

    def rows(self) -> list[Row]:
        """Section 5 of the table."""
        rows = []
        for size, job in self.jobs.items():
            rows.append(
                Row(
                    "5",
                    f"peak RSS, {size:,} recipients from CSV (instant fake chunk sender)",
                    f"{job['peak_kb'] / 1024:.1f} MB (after imports and client: "
                    f"{job['baseline_kb'] / 1024:.1f} MB); "
                    f"{job['cpu'] / size * 1e6:.1f} us CPU/recipient",
                )
            )
        sizes = sorted(self.jobs)
        if len(sizes) >= 2:
            small, large = self.jobs[sizes[0]], self.jobs[sizes[-1]]
            growth = (large["peak_kb"] - small["peak_kb"]) / 1024
            rows.append(
                Row(
                    "5",
                    f"peak RSS growth from {sizes[0]:,} to {sizes[-1]:,} recipients",
                    f"{growth:+.1f} MB",
                    "<= 10 MB" if (sizes[0], sizes[-1]) == (100_000, 1_000_000) else "",
                    growth <= 10 if (sizes[0], sizes[-1]) == (100_000, 1_000_000) else None,
                )
            )
        return rows


def measure_memory(sizes: Sequence[int], *, directory: Path, concurrency: int = 16) -> MemoryResult:
    """Write a CSV of each size, run a fresh job process on it, read its figures."""
    jobs: dict[int, dict[str, float]] = {}
    for size in sizes:
        path = directory / f"recipients-{size}.csv"
        write_csv(path, size)
        command = [
            sys.executable,
            "-m",
            "benchmarks._memory",
            "--csv",
            str(path),
            "--concurrency",
            str(concurrency),
        ]
        finished = subprocess.run(command, cwd=_ROOT, capture_output=True, text=True, check=False)
        if finished.returncode != 0:
            raise RuntimeError(f"the memory job failed:\n{finished.stderr[-2000:]}")
        job = json.loads(finished.stdout.strip().splitlines()[-1])
        if job["sent"] != size or job["recipients"] != size:
            raise RuntimeError(f"the memory job sent {job['sent']} of {size}: {job}")
        jobs[size] = job
        path.unlink()
        print(
            f"  [5] {size:,} recipients: peak {job['peak_kb'] / 1024:.1f} MB",
            file=sys.stderr,
            flush=True,
        )
    return MemoryResult(jobs)


def main() -> None:
    """Run one memory job and print its figures as JSON (the last line of output)."""
    cli = argparse.ArgumentParser(description="one batch job from a CSV file, for its memory")
    cli.add_argument("--csv", required=True)
    cli.add_argument("--concurrency", type=int, default=16)
    args = cli.parse_args()
    print(json.dumps(asyncio.run(_job(args.csv, args.concurrency))))


if __name__ == "__main__":
    main()
