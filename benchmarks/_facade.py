"""4. The blocking facade: what a call through ``Submail`` costs next to ``await AsyncSubmail``.

``Submail`` runs ``AsyncSubmail`` on an event loop of its own. On asyncio, each call runs
that loop in the calling thread until the call's coroutine is done: nothing is handed to
another thread. The difference per call is a task per call, entering and leaving the loop,
and the blocking client's own bookkeeping (the Ctrl-C guard, the count of calls in flight).

Both clients make the same calls, one at a time, against the sandbox at latency 0, after a
few warm-up calls (the first connection, the first clock reading). CPU time counts every
thread of this process (here the blocking client starts none of its own). The two clients
live side by side and take turns in blocks of up to 50 calls, the order flipping each time,
so that both see the same machine: on a shared machine the CPU a call costs drifts by more
than the difference measured here, within seconds. The difference reported is the median of
the differences between neighbouring blocks; the async blocks each run under one
``run_until_complete``, which adds under 1 us per call to the async side.

A third kind of block awaits each async call in a task of its own (``await
loop.create_task(...)``), inside one running loop: what asyncio charges for starting a call
in a task of its own, which the blocking client needs for each call (the call then sees the
calling thread's context variables) and a loop already running does not. For
``service.timestamp`` (a plain GET, unsigned) two more kinds of block make the same GET
through a bare ``aiohttp.ClientSession``, awaited directly and in a task of its own: the
same price with no crowdsms code at all.

The blocking and async blocks are run once more from a worker thread, both clients made
and called there, as a web server's request threads call them: Python runs signal handlers
in the main thread only, so there the blocking client does not install its Ctrl-C guard.

Then the mechanism alone: a coroutine that does nothing, run to its end by plain asyncio (a
task, and ``run_forever`` until the task stops the loop) and by the blocking client's loop
(the same, plus its cancel scope, its Ctrl-C guard and its count of calls), in alternating
blocks: the difference is what crowdsms itself adds to each blocking call.

Last, a count that does not depend on the machine's speed: the Python-level calls
(functions and built-ins, counted by :mod:`cProfile`) that one call makes through each
client, for each endpoint and for the coroutine that does nothing. It still moves a little
from run to run (by up to 20 calls): how many passes the event loop makes depends on when
the answers arrive. If the blocking client adds about as many calls to a real call as to
one that does nothing, none of what it adds grows with the request: the rest of its extra
CPU is the event loop's own (its passes, its system calls), not Python work of crowdsms's.
"""

from __future__ import annotations

import asyncio
import cProfile
import functools
import pstats
import signal
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from benchmarks._measure import median
from benchmarks._sandbox import SandboxProcess
from benchmarks._table import Row, ratio, us
from crowdsms import Submail
from crowdsms.providers.submail import AsyncSubmail
from crowdsms.sandbox.emulators.submail import SUBMAIL_APPID, SUBMAIL_APPKEY

__all__ = [
    "FacadeResult",
    "call_blocks",
    "clients",
    "in_worker_thread",
    "measure_facade",
    "plain_asyncio_block",
]

_WARM_UP = 20
_BLOCK = 50
_TEXT = "【沙箱】您的验证码是4321，10分钟内有效。"
_PHONE = "13800138000"


@dataclass(frozen=True)
class PerCall:
    """Client CPU and wall time per call, in seconds."""

    cpu: float
    wall: float


@dataclass(frozen=True)
class Costs:
    """Per-call costs of one endpoint through both clients, and their paired differences."""

    blocking: PerCall
    direct: PerCall
    extra: PerCall
    """Median over neighbouring blocks of blocking minus async."""
    fresh_task: PerCall
    """Median over neighbouring blocks of async-in-a-fresh-task minus async."""
    bare_fresh_task: PerCall | None = None
    """The same for a bare aiohttp GET (``service.timestamp`` only)."""
    worker_thread_extra: PerCall | None = None
    """Blocking minus async as :attr:`extra`, both called from a worker thread."""


@dataclass(frozen=True)
class Mechanism:
    """CPU per call of a coroutine that does nothing, through plain asyncio and the client."""

    asyncio_alone: float
    blocking: float
    extra: float
    """Median over neighbouring blocks of the blocking client's minus asyncio's."""


@dataclass(frozen=True)
class CallCounts:
    """Python-level calls (functions and built-ins) per call, through each client."""

    blocking: float
    direct: float
    """``await`` on the async client, inside a running loop."""


@dataclass
class FacadeResult:
    """Per-call costs of each endpoint through each client, and of the mechanism alone."""

    calls: int
    costs: dict[str, Costs]
    mechanism: Mechanism
    counts: dict[str, CallCounts]
    """By endpoint, and ``"nothing"`` for the coroutine that does nothing."""

    def rows(self) -> list[Row]:
        """Section 4 of the table."""
        mechanism = self.mechanism
        rows = [
            Row(
                "4",
                "a coroutine that does nothing, per call: plain asyncio (a task, "
                "`run_forever` until it stops the loop)",
                f"{mechanism.asyncio_alone * 1e6:,.1f} us CPU",
            ),
            Row(
                "4",
                "the same through the blocking client's loop (plus its cancel scope, Ctrl-C "
                "guard and count of calls)",
                f"{mechanism.blocking * 1e6:,.1f} us CPU ({mechanism.extra * 1e6:+,.1f} us: "
                "crowdsms's own part of a blocking call)",
            ),
        ]
        for endpoint, cost in self.costs.items():
            blocking, direct, extra = cost.blocking, cost.direct, cost.extra
            rows.append(
                Row(
                    "4",
                    f"`{endpoint}`, {self.calls} sequential calls: `Submail` (blocking) per call",
                    f"{us(blocking.cpu * 1e6)} CPU, {us(blocking.wall * 1e6)} wall",
                )
            )
            rows.append(
                Row(
                    "4",
                    f"`{endpoint}`: `await AsyncSubmail` per call",
                    f"{us(direct.cpu * 1e6)} CPU, {us(direct.wall * 1e6)} wall",
                )
            )
            rows.append(
                Row(
                    "4",
                    f"`{endpoint}`: blocking / async, per call",
                    f"{ratio(blocking.cpu / direct.cpu)} CPU "
                    f"({extra.cpu * 1e6:+,.0f} us), "
                    f"{ratio(blocking.wall / direct.wall)} wall "
                    f"({extra.wall * 1e6:+,.0f} us)",
                )
            )
            rows.append(
                Row(
                    "4",
                    f"`{endpoint}`: `await` in a task of its own per call, in a running loop "
                    "(as the facade starts each call), over `await AsyncSubmail`",
                    f"{cost.fresh_task.cpu * 1e6:+,.0f} us CPU, "
                    f"{cost.fresh_task.wall * 1e6:+,.0f} us wall",
                )
            )
            worker = cost.worker_thread_extra
            if worker is not None:
                rows.append(
                    Row(
                        "4",
                        f"`{endpoint}`: blocking over async, both called from a worker thread "
                        "(as in a web server's request threads, where the Ctrl-C guard is not "
                        "installed)",
                        f"{worker.cpu * 1e6:+,.0f} us CPU, {worker.wall * 1e6:+,.0f} us wall",
                    )
                )
            bare = cost.bare_fresh_task
            if bare is not None:
                rows.append(
                    Row(
                        "4",
                        f"`{endpoint}`'s GET through a bare `aiohttp.ClientSession` (no "
                        "crowdsms): in a task of its own per call, over awaiting it directly",
                        f"{bare.cpu * 1e6:+,.0f} us CPU, {bare.wall * 1e6:+,.0f} us wall",
                    )
                )
        for what, counts in self.counts.items():
            label = "a coroutine that does nothing" if what == "nothing" else f"`{what}`"
            rows.append(
                Row(
                    "4",
                    f"{label}: Python-level calls per call (cProfile), blocking / `await`",
                    f"{counts.blocking:,.0f} / {counts.direct:,.0f} "
                    f"({counts.blocking - counts.direct:+,.0f})",
                )
            )
        return rows


def _timed(run: Callable[[int], None], calls: int) -> PerCall:
    cpu, wall = time.process_time(), time.perf_counter()
    run(calls)
    return PerCall((time.process_time() - cpu) / calls, (time.perf_counter() - wall) / calls)


@contextmanager
def clients(base_url: str) -> Iterator[tuple[asyncio.AbstractEventLoop, AsyncSubmail, Submail]]:
    """An event loop with an ``AsyncSubmail`` on it, and a ``Submail``; all closed after."""
    loop = asyncio.new_event_loop()

    async def open_async() -> AsyncSubmail:
        return AsyncSubmail(app_id=SUBMAIL_APPID, app_key=SUBMAIL_APPKEY, base_url=base_url)

    direct = loop.run_until_complete(open_async())
    try:
        with Submail(app_id=SUBMAIL_APPID, app_key=SUBMAIL_APPKEY, base_url=base_url) as client:
            yield loop, direct, client
    finally:
        loop.run_until_complete(direct.aclose())
        loop.close()


def call_blocks(
    loop: asyncio.AbstractEventLoop, direct: AsyncSubmail, client: Submail, endpoint: str | None
) -> dict[str, Callable[[int], None]]:
    """Blocks of calls of ``endpoint`` (``None``: a coroutine that does nothing): through the
    blocking client, awaited on ``loop``, and awaited each in a task of its own."""
    blocking_call: Callable[[], object]
    direct_call: Callable[[], Coroutine[Any, Any, object]]
    if endpoint is None:
        # the blocking client's loop, as its methods use it
        blocking_call, direct_call = functools.partial(client._runner.call, _nothing), _nothing
    elif endpoint == "timestamp":
        blocking_call, direct_call = client.service.timestamp, direct.service.timestamp
    else:
        blocking_call = functools.partial(client.sms.send, to=_PHONE, content=_TEXT)
        direct_call = functools.partial(direct.sms.send, to=_PHONE, content=_TEXT)

    def blocking_block(size: int) -> None:
        for _ in range(size):
            blocking_call()

    direct_block, fresh_task_block = _awaited(loop, direct_call)
    return {"blocking": blocking_block, "async": direct_block, "fresh": fresh_task_block}


def _awaited(
    loop: asyncio.AbstractEventLoop, call: Callable[[], Coroutine[Any, Any, object]]
) -> tuple[Callable[[int], None], Callable[[int], None]]:
    """Blocks of ``call()`` awaited on ``loop``: one after another in one task, and each in
    a task of its own."""

    async def direct_calls(size: int) -> None:
        for _ in range(size):
            await call()

    async def fresh_task_calls(size: int) -> None:
        for _ in range(size):
            await loop.create_task(call())

    return (
        lambda size: loop.run_until_complete(direct_calls(size)),
        lambda size: loop.run_until_complete(fresh_task_calls(size)),
    )


def _measure(base_url: str, calls: int, rounds: int, endpoint: str) -> Costs:
    with clients(base_url) as (loop, direct, client):
        runs = call_blocks(loop, direct, client, endpoint)
        close_bare = None
        if endpoint == "timestamp":
            bare_runs, close_bare = _bare_get(loop, f"{base_url}/service/timestamp.json")
            runs.update(bare_runs)
        try:
            samples = _alternate(runs, calls, rounds)
        finally:
            if close_bare is not None:
                loop.run_until_complete(close_bare())
    return Costs(
        blocking=_median(samples["blocking"]),
        direct=_median(samples["async"]),
        extra=_extra(samples["blocking"], samples["async"]),
        fresh_task=_extra(samples["fresh"], samples["async"]),
        bare_fresh_task=(
            _extra(samples["bare fresh"], samples["bare"]) if "bare" in samples else None
        ),
    )


def _from_worker_thread(base_url: str, calls: int, rounds: int, endpoint: str) -> PerCall:
    """:attr:`Costs.extra` measured in a worker thread: both clients made and called there."""
    extras: list[PerCall] = []

    def measure() -> None:
        with clients(base_url) as (loop, direct, client):
            runs = call_blocks(loop, direct, client, endpoint)
            samples = _alternate(
                {"blocking": runs["blocking"], "async": runs["async"]}, calls, rounds
            )
        extras.append(_extra(samples["blocking"], samples["async"]))

    in_worker_thread(measure, what=f"the measurement of {endpoint}")
    return extras[0]


def in_worker_thread(work: Callable[[], None], *, what: str) -> None:
    """Run ``work`` in a thread of its own and wait for it; raise what it raised."""
    failed: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as error:
            failed.append(error)

    worker = threading.Thread(target=run, name="facade benchmark")
    worker.start()
    worker.join()
    if failed:
        raise RuntimeError(f"{what} in a worker thread failed") from failed[0]


def _bare_get(
    loop: asyncio.AbstractEventLoop, url: str
) -> tuple[dict[str, Callable[[int], None]], Callable[[], Coroutine[Any, Any, None]]]:
    """Blocks of GETs of ``url`` through one bare aiohttp session, awaited directly and in a
    task each; and the coroutine function that closes the session (on ``loop``)."""
    import aiohttp  # the bench group installs it

    async def open_session() -> aiohttp.ClientSession:
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1))

    session = loop.run_until_complete(open_session())

    async def get() -> None:
        async with session.get(url) as answer:
            answer.raise_for_status()
            await answer.read()

    direct_block, fresh_task_block = _awaited(loop, get)
    return {"bare": direct_block, "bare fresh": fresh_task_block}, session.close


def _alternate(
    runs: dict[str, Callable[[int], None]], calls: int, rounds: int
) -> dict[str, list[PerCall]]:
    """Each run's per-call costs, in blocks of up to 50 calls taken in turn, the order
    reversed every other time (after a warm-up of each)."""
    for run in runs.values():
        run(_WARM_UP)
    size = min(_BLOCK, calls)
    samples: dict[str, list[PerCall]] = {kind: [] for kind in runs}
    kinds = list(runs)
    for number in range(max(1, calls // size) * rounds):
        for kind in kinds if number % 2 == 0 else kinds[::-1]:
            samples[kind].append(_timed(runs[kind], size))
    return samples


def _extra(kind: list[PerCall], base: list[PerCall]) -> PerCall:
    """The median of the differences between neighbouring blocks of ``kind`` and ``base``."""
    pairs = list(zip(kind, base, strict=True))
    return PerCall(
        median([k.cpu - b.cpu for k, b in pairs]), median([k.wall - b.wall for k, b in pairs])
    )


def _median(samples: list[PerCall]) -> PerCall:
    return PerCall(median([s.cpu for s in samples]), median([s.wall for s in samples]))


async def _nothing() -> None:
    return None


async def _nothing_then_stop(loop: asyncio.AbstractEventLoop) -> None:
    """Await a coroutine that does nothing, then stop ``loop`` from inside the task, as the
    blocking client's calls do: a done callback would cost one more pass of the loop."""
    await _nothing()
    loop.stop()


def plain_asyncio_block(loop: asyncio.AbstractEventLoop) -> Callable[[int], None]:
    """Blocks of a coroutine that does nothing, each run to its end by plain asyncio from
    outside ``loop``: a task, and ``run_forever`` until the task stops the loop."""

    def block(size: int) -> None:
        for _ in range(size):
            task = loop.create_task(_nothing_then_stop(loop))
            loop.run_forever()
            task.result()

    return block


def _mechanism(base_url: str, calls: int, rounds: int) -> Mechanism:
    """A coroutine that does nothing, through plain asyncio and through a blocking client."""
    with clients(base_url) as (loop, direct, client):
        blocking_block = call_blocks(loop, direct, client, None)["blocking"]
        samples = _alternate(
            {"asyncio": plain_asyncio_block(loop), "blocking": blocking_block}, calls, rounds
        )
    return Mechanism(
        asyncio_alone=_median(samples["asyncio"]).cpu,
        blocking=_median(samples["blocking"]).cpu,
        extra=_extra(samples["blocking"], samples["asyncio"]).cpu,
    )


def _calls_per_call(run: Callable[[int], None], calls: int) -> float:
    """Python-level calls (functions and built-ins) that ``run`` makes per call, by cProfile."""
    run(_WARM_UP)
    profile = cProfile.Profile()
    profile.enable()
    run(calls)
    profile.disable()
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]  # not in the stubs
    assert isinstance(stats, dict)
    return sum(int(counts[1]) for counts in stats.values()) / calls


def _count(base_url: str, calls: int, endpoint: str | None) -> CallCounts:
    """Calls per call of ``endpoint`` (``None``: a coroutine that does nothing), both clients."""
    with clients(base_url) as (loop, direct, client):
        runs = call_blocks(loop, direct, client, endpoint)
        return CallCounts(
            blocking=_calls_per_call(runs["blocking"], calls),
            direct=_calls_per_call(runs["async"], calls),
        )


def measure_facade(sandbox: SandboxProcess, *, calls: int, rounds: int = 5) -> FacadeResult:
    """``service.timestamp`` and ``sms.send`` through both clients, ``calls * rounds`` each,
    and a coroutine that does nothing through plain asyncio and the blocking client."""
    sandbox.set_latency(0.0)
    # Python's own Ctrl-C handler, as in a terminal, for the section's length (a command
    # started in the background ignores SIGINT): the blocking client's main-thread calls
    # then put their Ctrl-C guard in and take it out, as they do for users.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return _measure_all(sandbox, calls=calls, rounds=rounds)
    finally:
        signal.signal(signal.SIGINT, previous)


def _measure_all(sandbox: SandboxProcess, *, calls: int, rounds: int) -> FacadeResult:
    costs: dict[str, Costs] = {}
    for endpoint, label in (("timestamp", "service.timestamp"), ("send", "sms.send")):
        sandbox.reset()
        costs[label] = replace(
            _measure(sandbox.submail_url, calls, rounds, endpoint),
            worker_thread_extra=_from_worker_thread(sandbox.submail_url, calls, rounds, endpoint),
        )
        print(f"  [4] {label}: {costs[label]}", file=sys.stderr, flush=True)
    mechanism = _mechanism(sandbox.submail_url, calls, rounds)
    print(f"  [4] a coroutine that does nothing: {mechanism}", file=sys.stderr, flush=True)
    counts = {
        "service.timestamp": _count(sandbox.submail_url, calls, "timestamp"),
        "sms.send": _count(sandbox.submail_url, calls, "send"),
        "nothing": _count(sandbox.submail_url, calls, None),
    }
    print(f"  [4] Python-level calls per call: {counts}", file=sys.stderr, flush=True)
    return FacadeResult(calls, costs, mechanism, counts)
