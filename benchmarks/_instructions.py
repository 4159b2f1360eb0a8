"""11. Instructions: the client's machine instructions per recipient, counted by callgrind.

Section 1's figure is CPU time, and CPU time on a shared or throttled machine moves from
minute to minute (a whole contender's time by up to 2x, and a ratio by 10% from one round
to the next). This section counts instead: each contender runs in a child process under
valgrind's callgrind (``valgrind --tool=callgrind``), which executes the client's machine
code instruction by instruction and counts them. The same code, inputs and versions gave
counts per recipient within 0.2% of each other in repeated runs, however busy the machine
was, where CPU time moved by 10% and more. They are not exact: how many answers wait at
each turn of the event loop depends on timing, and with it how many turns a run takes.

Each contender runs twice: once with no measured run (start-up, the sandbox's start, a
warm-up of 1,000 recipients) and once with one measured run of ``recipients`` more; the
difference, divided by ``recipients``, is its instructions per recipient. The sandbox is
a child of the child, started normally (callgrind does not follow it), so only the client
is counted. An instruction count is not a time (a cache miss costs more than an addition),
and under callgrind the client runs about fifty times slower than the sandbox, so answers
are always waiting and the event loop turns fewer times per request than at full speed;
it is a steady proxy for comparing two clients, not a replacement for section 1.

Needs ``valgrind`` on the PATH (Debian and Ubuntu: ``apt-get install valgrind``).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from benchmarks._table import Row, ratio

__all__ = [
    "CONTENDERS",
    "InstructionsResult",
    "callgrind_instructions",
    "count_instructions",
    "valgrind_missing",
]

CONTENDERS = ("crowdsms_aiohttp", "crowdsms", "best", "aiohttp")
_LABELS = {
    "crowdsms_aiohttp": "crowdsms, aiohttp lanes",
    "crowdsms": "crowdsms, httpx lanes",
    "best": "(b) best httpx",
    "aiohttp": "(c) raw aiohttp",
}
_WARM_UP = 1_000
_COLLECTED = re.compile(r"Collected : (\d+)")


def valgrind_missing() -> str | None:
    """What to do if valgrind is not installed; ``None`` if it is."""
    if shutil.which("valgrind") is None:
        return (
            "valgrind is not on the PATH: install it (Debian and Ubuntu: "
            "apt-get install valgrind) to count instructions"
        )
    return None


@dataclass
class InstructionsResult:
    """Instructions per recipient by contender, at one concurrency."""

    concurrency: int
    recipients: int
    per_recipient: dict[str, float]

    def rows(self) -> list[Row]:
        """A row per contender, then crowdsms's ratios to (b) and (c)."""
        counted = self.per_recipient
        where = f"c={self.concurrency}, {self.recipients:,} recipients"
        rows = [
            Row("11", f"{where}: {_LABELS[name]}, instructions per recipient", f"{value:,.0f}")
            for name, value in counted.items()
        ]
        for ours in ("crowdsms", "crowdsms_aiohttp"):
            for theirs in ("best", "aiohttp"):
                rows.append(
                    Row(
                        "11",
                        f"{where}: {_LABELS[ours]} / {_LABELS[theirs]}, instructions",
                        ratio(counted[ours] / counted[theirs]),
                    )
                )
        return rows


def callgrind_instructions(arguments: Sequence[str], *, what: str) -> int:
    """Instructions callgrind counted in ``python <arguments>``; ``what`` names it in errors."""
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable]
    # One hash seed for every child: dicts and sets then collide the same way in each.
    environment = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(
        [*command, *arguments], capture_output=True, text=True, check=False, env=environment
    )
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(
            f"{what} under callgrind failed (exit {done.returncode}): {done.stderr[-2000:]}"
        )
    return int(found.group(1))


def _run_counted(contender: str, rounds: int, recipients: int, concurrency: int) -> int:
    """Instructions callgrind counted in a child that runs ``contender`` ``rounds`` times."""
    arguments = ["-m", "benchmarks._instructions", contender, str(rounds), str(recipients)]
    return callgrind_instructions([*arguments, str(concurrency)], what=contender)


def count_instructions(*, recipients: int, concurrency: int) -> InstructionsResult:
    """Count every contender's instructions per recipient (two children each, in parallel)."""
    jobs = [(name, rounds) for name in CONTENDERS for rounds in (0, 1)]
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    workers = max(1, min(len(jobs), cpus or 1))
    print(
        f"  [11] {len(jobs)} runs under callgrind, {workers} at a time", file=sys.stderr, flush=True
    )
    with ThreadPoolExecutor(workers) as pool:
        counts = dict(
            zip(
                jobs,
                pool.map(lambda job: _run_counted(job[0], job[1], recipients, concurrency), jobs),
                strict=True,
            )
        )
    per_recipient = {name: (counts[name, 1] - counts[name, 0]) / recipients for name in CONTENDERS}
    return InstructionsResult(concurrency, recipients, per_recipient)


def _child(contender: str, rounds: int, recipients: int, concurrency: int) -> None:
    """Run ``contender`` against a sandbox of its own: a warm-up, then ``rounds`` runs."""
    from benchmarks._contenders import CONTENDERS as RUNNERS
    from benchmarks._sandbox import SandboxProcess
    from benchmarks._submail import make_recipients

    people = make_recipients(recipients)
    run = RUNNERS[contender]
    with SandboxProcess() as sandbox:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(run(sandbox.submail_url, people[:_WARM_UP], concurrency))
            sandbox.reset()  # in every child, measured runs or not: it is not counted
            for number in range(rounds):
                if number:
                    sandbox.reset()
                sent = loop.run_until_complete(run(sandbox.submail_url, people, concurrency))
                if sent != recipients:
                    raise SystemExit(f"{contender} sent {sent} of {recipients}")
        finally:
            loop.close()


def _main(argv: Sequence[str]) -> None:
    contender, rounds, recipients, concurrency = argv
    _child(contender, int(rounds), int(recipients), int(concurrency))


if __name__ == "__main__":
    _main(sys.argv[1:])
