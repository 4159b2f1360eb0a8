"""Running one contender once, and measuring it: client CPU, wall time, server CPU.

The client's CPU time is ``time.process_time()`` of this process (every thread of it), read
around the job inside the event loop, so creating and closing the loop is not counted but
creating and closing the contender's clients is. The sandbox runs in another process; its
CPU time is read from ``/proc/<pid>/stat`` (Linux; ``None`` elsewhere), to show how the two
cores were shared.

Before each run the garbage collector is run and the objects alive at that point (the
prepared recipients, above all) are frozen out of later collections, so that each
contender's collections cost what its own garbage costs, not a traversal of the input.
"""

from __future__ import annotations

import asyncio
import gc
import os
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from benchmarks._contenders import Contender
from benchmarks._sandbox import SandboxProcess
from benchmarks._submail import BenchmarkError, ConnectionLostError
from crowdsms.outcomes import Recipient

__all__ = ["RERUNS", "Run", "median", "process_cpu", "run_once", "spread"]


@dataclass(frozen=True)
class Run:
    """One run of one contender."""

    contender: str
    concurrency: int
    recipients: int
    cpu: float
    """Client CPU seconds."""
    wall: float
    """Seconds from start to end of the job."""
    server_cpu: float | None
    """Sandbox CPU seconds during the run, if known."""

    @property
    def cpu_per_recipient(self) -> float:
        """Client CPU microseconds per recipient."""
        return self.cpu / self.recipients * 1e6

    @property
    def server_cpu_per_recipient(self) -> float | None:
        """Sandbox CPU microseconds per recipient."""
        if self.server_cpu is None:
            return None
        return self.server_cpu / self.recipients * 1e6

    @property
    def throughput(self) -> float:
        """Recipients per second."""
        return self.recipients / self.wall


def process_cpu(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` (Linux ``/proc``), else ``None``."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as file:
            fields = file.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


RERUNS: list[str] = []
"""Runs that lost a connection and were run again (reported with the results)."""

_ATTEMPTS = 3


def run_once(
    name: str,
    contender: Contender,
    sandbox: SandboxProcess,
    recipients: Sequence[Recipient],
    concurrency: int,
) -> Run:
    """Run ``contender`` on ``recipients``; check the sandbox charged for every one.

    A run that loses a connection (rare, on a loaded machine) is discarded and run again,
    at most twice, and noted in :data:`RERUNS`; any other failure stops the benchmarks.
    """
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            return _run(name, contender, sandbox, recipients, concurrency)
        except ConnectionLostError as exc:
            if attempt == _ATTEMPTS:
                raise
            RERUNS.append(f"{name} (c={concurrency}): {exc}")
            print(f"  {name}: lost a connection ({exc}); running again", file=sys.stderr)
    raise AssertionError("unreachable")


def _run(
    name: str,
    contender: Contender,
    sandbox: SandboxProcess,
    recipients: Sequence[Recipient],
    concurrency: int,
) -> Run:
    sandbox.reset()
    balance = sandbox.submail_balance()
    gc.collect()
    gc.freeze()
    server_before = process_cpu(sandbox.pid)

    async def job() -> tuple[int, float, float]:
        cpu, wall = time.process_time(), time.perf_counter()
        sent = await contender(sandbox.submail_url, recipients, concurrency)
        return sent, time.process_time() - cpu, time.perf_counter() - wall

    try:
        sent, cpu, wall = asyncio.run(job())
    finally:
        gc.unfreeze()
    server_after = process_cpu(sandbox.pid)
    if sent != len(recipients):
        raise BenchmarkError(f"{name}: {sent} of {len(recipients)} recipients sent")
    charged = balance - sandbox.submail_balance()
    if charged != len(recipients):  # every message is one segment
        raise BenchmarkError(
            f"{name}: the sandbox charged {charged} segments for {len(recipients)} messages"
        )
    server_cpu = (
        server_after - server_before
        if server_before is not None and server_after is not None
        else None
    )
    return Run(name, concurrency, len(recipients), cpu, wall, server_cpu)


def median(values: Sequence[float]) -> float:
    """The median (the middle run: robust to one disturbed run)."""
    return statistics.median(values)


def spread(values: Sequence[float]) -> tuple[float, float]:
    """The smallest and largest value."""
    return min(values), max(values)
