"""``python -m benchmarks`` (or ``nox -s bench``): every benchmark, and one table of results.

Sections (``--only`` picks some):

1. ``overhead``: client CPU per recipient of crowdsms's batch sender and hand-written loops;
2. ``latency``: throughput with 100 ms answers, against the best hand-written loop;
3. ``sequential``: a one-request-at-a-time blocking loop, as many users write today;
4. ``facade``: a call through the blocking ``Submail`` against ``await AsyncSubmail``;
5. ``memory``: peak RSS of jobs of 100,000 and 1,000,000 recipients from CSV;
6. ``server``: the sandbox's own request rate;
7. ``campaign``: a campaign run by 1, 2 and 4 worker processes at 100 ms latency, and what
   its Redis store costs per chunk and per recipient (needs ``redis-server``), with a paper
   extrapolation to 10,000,000 recipients under the table;
8. ``preview``: peak RSS and rows per second of ``crowdsms send --dry-run`` on CSV files
   of 100,000 and 1,000,000 rows.
9. ``telemetry``: client CPU per recipient of section 1's batch job with OpenTelemetry off,
   with its API and no SDK, and with the SDK recording everything in memory.
10. ``stages``: client CPU per recipient of each stage of section 1's batch job run alone
    (screening, chunking, building the request, parsing the answer, the report), and its
    share of section 1's figure; runs with ``overhead``.
11. ``instructions``: the client's machine instructions per recipient of section 1's
    crowdsms runs, (b) and (c), counted by valgrind's callgrind at c=16
    (``--instructions-concurrency``): within 0.2% from run to run of the same code, where
    CPU time moves by 10% (needs ``valgrind``; a whole run without it says so in the
    table). Then the blocking facade's extra instructions per call over ``await``, from
    the main thread and from a worker thread, ``--facade-calls`` calls of each endpoint,
    and plain asyncio's price of a task run from outside the loop.

The sandbox runs in its own process on a free loopback port. Benchmarks are not tests:
nothing here asserts a timing. A run that does not do what it measures (an answer that is
not a success for every recipient, a message the sandbox did not charge for) stops with an
error instead.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

from benchmarks._table import Row, render

SECTIONS = (
    "overhead",
    "latency",
    "sequential",
    "facade",
    "memory",
    "server",
    "campaign",
    "preview",
    "telemetry",
    "stages",
    "instructions",
)

_DEFAULTS = {
    "recipients": 25_000,
    "rounds": 11,
    "latency_recipients": 96_000,
    "latency_rounds": 3,
    "sequential_requests": 30,
    "facade_calls": 500,
    "memory_sizes": [100_000, 1_000_000],
    "server_requests": 2_000,
    "campaign_recipients": 16_000,
    "campaign_rounds": 3,
    "campaign_chunks": 2_000,
    "preview_sizes": [100_000, 1_000_000],
    "telemetry_recipients": 25_000,
    "telemetry_rounds": 11,
    "instructions_recipients": 10_000,
}
_QUICK = {
    "recipients": 5_000,
    "rounds": 3,
    "latency_recipients": 16_000,
    "latency_rounds": 1,
    "sequential_requests": 10,
    "facade_calls": 100,
    "memory_sizes": [20_000, 200_000],
    "server_requests": 500,
    "campaign_recipients": 4_000,
    "campaign_rounds": 1,
    "campaign_chunks": 500,
    "preview_sizes": [20_000, 200_000],
    "telemetry_recipients": 5_000,
    "telemetry_rounds": 3,
    "instructions_recipients": 2_000,
}
LATENCY_CONCURRENCY = 32


def parser() -> argparse.ArgumentParser:
    """The command line."""
    cli = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="crowdsms benchmarks against the sandbox on loopback; prints a table.",
    )
    cli.add_argument("--quick", action="store_true", help="small sizes, about a minute")
    cli.add_argument("--only", nargs="+", choices=SECTIONS, help="sections to run (all)")
    cli.add_argument("--recipients", type=int, help="recipients per run, section 1 (default 25000)")
    cli.add_argument("--rounds", type=int, help="rounds of section 1 (default 11)")
    cli.add_argument(
        "--concurrency", type=int, nargs="+", default=[16, 64], help="section 1 (16 64)"
    )
    cli.add_argument(
        "--no-extras",
        dest="extras",
        action="store_false",
        help="section 1 without the informational contenders",
    )
    cli.add_argument(
        "--latency-recipients",
        type=int,
        help="recipients per run, section 2 (default 96000; a multiple of 32 x 50)",
    )
    cli.add_argument("--latency-rounds", type=int, help="rounds of section 2 (default 3)")
    cli.add_argument("--sequential-requests", type=int, help="requests of section 3 (default 30)")
    cli.add_argument("--facade-calls", type=int, help="calls per client, sections 4 and 11 (500)")
    cli.add_argument(
        "--memory-sizes", type=int, nargs="+", help="job sizes, section 5 (100000 1000000)"
    )
    cli.add_argument("--server-requests", type=int, help="requests of section 6 (2000)")
    cli.add_argument(
        "--campaign-recipients",
        type=int,
        help="recipients per worker, section 7 (default 16000: each run about 10 s)",
    )
    cli.add_argument("--campaign-rounds", type=int, help="rounds of section 7 (default 3)")
    cli.add_argument(
        "--campaign-workers", type=int, nargs="+", default=[1, 2, 4], help="section 7 (1 2 4)"
    )
    cli.add_argument(
        "--campaign-chunks", type=int, help="claims timed one at a time, section 7 (2000)"
    )
    cli.add_argument(
        "--preview-sizes", type=int, nargs="+", help="CSV rows, section 8 (100000 1000000)"
    )
    cli.add_argument(
        "--telemetry-recipients", type=int, help="recipients per run, section 9 (25000)"
    )
    cli.add_argument("--telemetry-rounds", type=int, help="rounds of section 9 (default 11)")
    cli.add_argument(
        "--instructions-recipients",
        type=int,
        help="recipients of the counted run, section 11 (default 10000)",
    )
    cli.add_argument(
        "--instructions-concurrency",
        type=int,
        nargs="+",
        default=[16],
        help="section 11 (16; each concurrency adds about 5 minutes)",
    )
    cli.add_argument(
        "--no-pin",
        dest="pin",
        action="store_false",
        help="do not pin the client and the sandbox to separate CPUs",
    )
    return cli


def _settings(args: argparse.Namespace) -> argparse.Namespace:
    args.chosen = args.only is not None  # the sections were named, not every one run
    if args.only is None:
        args.only = list(SECTIONS)
    base = _QUICK if args.quick else _DEFAULTS
    for name, value in base.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    wave = LATENCY_CONCURRENCY * 50
    if args.latency_recipients % wave:
        args.latency_recipients += wave - args.latency_recipients % wave
    return args


def _versions() -> str:
    names = ("crowdsms", "httpx", "httpcore", "anyio", "aiohttp", "uvicorn")
    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def _load() -> str:
    try:
        return ", ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def _pin(server_pid: int) -> str:
    """Put the sandbox on the last CPU and this process on the others, if possible.

    Each process then keeps its CPU and caches instead of being moved around: the figures
    vary less from run to run. Returns what was done, for the output.
    """
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cpus) < 2:
        return "processes not pinned (fewer than 2 CPUs available)"
    try:
        os.sched_setaffinity(server_pid, {cpus[-1]})
        os.sched_setaffinity(0, set(cpus[:-1]))
    except OSError as exc:
        return f"processes not pinned ({exc})"
    client = ",".join(str(cpu) for cpu in cpus[:-1])
    return f"client pinned to CPU {client}, sandbox to CPU {cpus[-1]}"


@contextmanager
def _unpinned(server_pid: int) -> Iterator[None]:
    """Let this process, its children and the sandbox use every CPU for a while.

    For the campaign section: pinned, its worker processes and Redis would all share the
    client's one CPU (on a 2-CPU machine) while the sandbox, about a quarter busy, kept the
    other to itself, so the 4-worker run would measure how much fits on one CPU rather
    than how the campaign scales. Restores the pinning afterwards.
    """
    if not hasattr(os, "sched_getaffinity"):
        yield
        return
    client, server = os.sched_getaffinity(0), os.sched_getaffinity(server_pid)
    every = client | server
    try:
        os.sched_setaffinity(server_pid, every)
        os.sched_setaffinity(0, every)
    except OSError:
        pass
    try:
        yield
    finally:
        try:
            os.sched_setaffinity(0, client)
            os.sched_setaffinity(server_pid, server)
        except OSError:
            pass


def _check_dependencies(sections: list[str]) -> None:
    missing = []
    # aiohttp is for section 1's and 11's contenders (raw, and crowdsms's aiohttp lanes);
    # the sandbox needs uvicorn and starlette.
    needed = ("aiohttp",) if {"overhead", "instructions"} & set(sections) else ()
    if "telemetry" in sections:  # (b) and (c) need the API and the SDK
        needed += ("opentelemetry.sdk",)
    for module in (*needed, "uvicorn", "starlette"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise SystemExit(
            f"missing {', '.join(missing)}: run `nox -s bench`, or install the `bench` "
            "dependency group and the `sandbox` extra (pip install -e '.[sandbox,aiohttp]' "
            "opentelemetry-sdk)"
        )


def _check_redis_server() -> None:
    from tests.redis_server import RedisServerUnavailable, find_server_binary

    try:
        find_server_binary()
    except RedisServerUnavailable as error:
        raise SystemExit(f"section campaign: {error}") from None


def _instructions(args: argparse.Namespace) -> list[Row]:
    from benchmarks._facade_instructions import count_facade_instructions
    from benchmarks._instructions import count_instructions, valgrind_missing

    missing = valgrind_missing()
    if missing is not None:
        what = "instructions per recipient, and the facade's per call"
        return [Row("11", what, f"not counted: {missing}")]
    rows: list[Row] = []
    for concurrency in args.instructions_concurrency:
        try:
            counted = count_instructions(
                recipients=args.instructions_recipients, concurrency=concurrency
            )
        except RuntimeError as error:  # keep the other sections' table
            return [*rows, Row("11", "instructions per recipient", f"not counted: {error}")]
        rows += counted.rows()
    try:
        facade = count_facade_instructions(calls=args.facade_calls)
    except RuntimeError as error:
        return [*rows, Row("11", "facade instructions per call", f"not counted: {error}")]
    return rows + facade.rows()


def main(argv: list[str] | None = None) -> int:
    """Run the chosen sections and print the table."""
    args = _settings(parser().parse_args(argv))
    _check_dependencies(args.only)
    if "campaign" in args.only:
        _check_redis_server()
    from benchmarks._instructions import valgrind_missing

    no_valgrind = valgrind_missing()
    if "instructions" in args.only and args.chosen and no_valgrind:
        raise SystemExit(f"section instructions: {no_valgrind}")
    from benchmarks._facade import measure_facade
    from benchmarks._latency import LatencyResult, measure_latency, measure_sequential
    from benchmarks._measure import RERUNS
    from benchmarks._memory import measure_memory
    from benchmarks._overhead import measure_overhead
    from benchmarks._sandbox import SandboxProcess
    from benchmarks._server import measure_server, server_rows

    started = time.perf_counter()
    load_before = _load()
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    print(f"benchmarks starting; load average {load_before}", file=sys.stderr, flush=True)
    rows: list[Row] = []
    notes: list[str] = []
    pinning = "processes not pinned (--no-pin)"
    with SandboxProcess() as sandbox:
        if args.pin:
            pinning = _pin(sandbox.pid)
        overhead = None
        if "overhead" in args.only:
            overhead = measure_overhead(
                sandbox,
                recipients=args.recipients,
                concurrencies=args.concurrency,
                rounds=args.rounds,
                extras=args.extras,
            )
            rows += overhead.rows()
        if "overhead" in args.only or "stages" in args.only:
            from benchmarks._stages import measure_stages

            stages = measure_stages(
                sandbox, recipients=args.recipients, rounds=args.rounds, overhead=overhead
            )
            rows += stages.rows()
        if "latency" in args.only or "sequential" in args.only:  # 3 compares with 2
            runs = measure_latency(
                sandbox,
                recipients=args.latency_recipients,
                concurrency=LATENCY_CONCURRENCY,
                rounds=args.latency_rounds,
            )
            sequential = (
                measure_sequential(sandbox, requests=args.sequential_requests)
                if "sequential" in args.only
                else None
            )
            result = LatencyResult(LATENCY_CONCURRENCY, runs, sequential, args.sequential_requests)
            rows += result.rows()
        if "facade" in args.only:
            rows += measure_facade(sandbox, calls=args.facade_calls).rows()
        if "campaign" in args.only:
            from benchmarks._campaign import measure_campaign

            with _unpinned(sandbox.pid):
                campaign = measure_campaign(
                    sandbox,
                    recipients_per_worker=args.campaign_recipients,
                    workers=args.campaign_workers,
                    rounds=args.campaign_rounds,
                    store_chunks=args.campaign_chunks,
                )
            rows += campaign.rows()
            notes += campaign.notes()
            if args.pin:
                pinning += "; section 7's processes not pinned"
        if "telemetry" in args.only:
            from benchmarks._telemetry import measure_telemetry

            rows += measure_telemetry(
                sandbox,
                recipients=args.telemetry_recipients,
                concurrency=args.concurrency[0],
                rounds=args.telemetry_rounds,
            ).rows()
        if "server" in args.only:
            per_second = measure_server(sandbox, requests=args.server_requests)
            server = server_rows(per_second, args.server_requests)
        else:
            server = []
    if "memory" in args.only:
        with tempfile.TemporaryDirectory(prefix="crowdsms-bench-") as directory:
            rows += measure_memory(args.memory_sizes, directory=Path(directory)).rows()
    if "preview" in args.only:
        from benchmarks._preview import measure_preview

        with tempfile.TemporaryDirectory(prefix="crowdsms-bench-") as directory:
            rows += measure_preview(args.preview_sizes, directory=Path(directory)).rows()
    if cpus is not None:  # section 11's children, and their sandboxes, on every CPU again
        os.sched_setaffinity(0, cpus)
    if "instructions" in args.only:
        rows += _instructions(args)
    rows += server
    rows.sort(key=lambda row: int(row.section))  # stable: sections in order, rows as added

    elapsed = time.perf_counter() - started
    given = sys.argv[1:] if argv is None else argv
    command = "nox -s bench" + (f" -- {shlex.join(given)}" if given else "")
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print()
    print(f"### crowdsms benchmarks ({today})")
    print()
    print(
        f"{platform.python_implementation()} {platform.python_version()} on "
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs; {_versions()}."
    )
    print(
        f"Load average {load_before} before, {_load()} after (1, 5, 15 min); "
        f"{elapsed / 60:.1f} minutes. Sandbox in its own process on loopback ({pinning}); "
        "CPU is the client process's `time.process_time`. Figures are medians over "
        "alternating rounds; ratios are medians of the ratios within each round."
    )
    if RERUNS:
        print(f"{len(RERUNS)} run(s) lost a connection and were run again: " + "; ".join(RERUNS))
    print()
    print(render(rows))
    print()
    if notes:
        print("\n".join(notes))
        print()
    print(f"Reproduce: `{command}` (or `python -m benchmarks ...`; `--help` for sizes).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
