"""11, the facade: the machine instructions a blocking call adds to an awaited one, by callgrind.

Section 4 times the blocking facade's extra CPU per call, a difference of a few tens of
microseconds between two figures of close to a millisecond each, which the machine's drift
moves by as much. Counted instructions do not drift: each way of calling runs in a child
process under callgrind, once with no measured call (start-up, a sandbox of its own, the
warm-up calls) and once with ``calls`` more; the difference, divided by ``calls``, is its
instructions per call. As in the rest of section 11, only the client is counted, and an
instruction count is a steady proxy for CPU, not a time. Two runs of the same process
differ by some tens of thousands of instructions in all, so a figure per call carries that
divided by ``calls``: too much to show an ``await`` of a coroutine that does nothing (about
a thousand), nothing next to a blocking call's extra.

The ways of calling, for ``service.timestamp``, ``sms.send`` and a coroutine that does
nothing: ``await`` on ``AsyncSubmail`` in a running loop; ``Submail`` from the main thread;
``Submail`` from a worker thread (where no Ctrl-C can come, so no Ctrl-C guard is
installed); and, for the coroutine that does nothing, plain asyncio's price of running a
coroutine to its end from outside the loop (a task, and ``run_forever`` until the coroutine
stops the loop), the floor of any blocking call that runs each call in a task of its own.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from benchmarks._instructions import callgrind_instructions
from benchmarks._table import Row

__all__ = ["FacadeInstructions", "count_facade_instructions"]

_ENDPOINTS = ("service.timestamp", "sms.send", "nothing")
_WAYS = ("await", "main thread", "worker thread")
_FLOOR = "plain asyncio"
_WARM_UP = 20
_SECTION_4_NAMES = {"service.timestamp": "timestamp", "sms.send": "send", "nothing": None}
"""Section 4's name of each endpoint (``None``: the coroutine that does nothing)."""


@dataclass
class FacadeInstructions:
    """Instructions per call, by endpoint and way of calling."""

    calls: int
    per_call: dict[tuple[str, str], float]

    def rows(self) -> list[Row]:
        """The blocking calls' extra over ``await``, by endpoint; then the floor."""
        rows = []
        for endpoint in _ENDPOINTS:
            awaited = self.per_call[endpoint, "await"]
            main = self.per_call[endpoint, "main thread"] - awaited
            worker = self.per_call[endpoint, "worker thread"] - awaited
            extras = f"{main:+,.0f} / {worker:+,.0f}"
            if endpoint == "nothing":  # awaited: a thousand or so, within the count's noise
                what, measured = "a coroutine that does nothing: a blocking call's", extras
            else:
                what = f"`{endpoint}`: instructions per `await`; a blocking call's"
                measured = f"{awaited:,.0f}; {extras}"
            rows.append(
                Row(
                    "11",
                    f"facade, {what} extra, from the main thread / a worker thread "
                    f"({self.calls} calls each)",
                    measured,
                )
            )
        floor = self.per_call["nothing", _FLOOR] - self.per_call["nothing", "await"]
        rows.append(
            Row(
                "11",
                "facade: plain asyncio's extra for running a coroutine that does nothing in a "
                "task of its own from outside the loop (`create_task`, `run_forever`)",
                f"{floor:+,.0f}",
            )
        )
        return rows


def count_facade_instructions(*, calls: int) -> FacadeInstructions:
    """Count every way of calling every endpoint (two children each, in parallel)."""
    jobs = [(endpoint, way) for endpoint in _ENDPOINTS for way in _WAYS]
    jobs.append(("nothing", _FLOOR))
    runs = [(endpoint, way, measured) for endpoint, way in jobs for measured in (0, calls)]
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    workers = max(1, min(len(runs), cpus or 1))
    print(
        f"  [11] facade: {len(runs)} runs under callgrind, {workers} at a time",
        file=sys.stderr,
        flush=True,
    )

    def count(run: tuple[str, str, int]) -> int:
        endpoint, way, measured = run
        what = f"the facade's {way} {endpoint}"
        arguments = ["-m", "benchmarks._facade_instructions", endpoint, way, str(measured)]
        return callgrind_instructions(arguments, what=what)

    with ThreadPoolExecutor(workers) as pool:
        counted = dict(zip(runs, pool.map(count, runs), strict=True))
    per_call = {
        (endpoint, way): (counted[endpoint, way, calls] - counted[endpoint, way, 0]) / calls
        for endpoint, way in jobs
    }
    return FacadeInstructions(calls, per_call)


def _child(endpoint: str, way: str, calls: int) -> None:
    """Make both clients on a sandbox of its own, warm up, then make ``calls`` calls."""
    from benchmarks._facade import call_blocks, clients, in_worker_thread, plain_asyncio_block
    from benchmarks._sandbox import SandboxProcess

    # Python's own Ctrl-C handler, as in a terminal, whatever this child inherited (a
    # command started in the background ignores SIGINT): the main thread's calls then put
    # the blocking client's Ctrl-C guard in and take it out, as they do for users.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with SandboxProcess() as sandbox, clients(sandbox.submail_url) as (loop, direct, client):
        blocks = call_blocks(loop, direct, client, _SECTION_4_NAMES[endpoint])
        count = _WARM_UP + calls
        if way == "await":
            blocks["async"](count)
        elif way == _FLOOR:
            plain_asyncio_block(loop)(count)
        elif way == "main thread":
            blocks["blocking"](count)
        else:
            in_worker_thread(lambda: blocks["blocking"](count), what=f"{endpoint}'s calls")


def _main(argv: Sequence[str]) -> None:
    endpoint, way, calls = argv
    _child(endpoint, way, int(calls))


if __name__ == "__main__":
    _main(sys.argv[1:])
