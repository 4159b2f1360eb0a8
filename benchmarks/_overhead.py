"""1. SDK overhead: client CPU per recipient of crowdsms's batch sender and hand-written loops.

Client and sandbox share the machine's cores, so throughput at latency 0 says as much about
the server and the scheduler as about the client; the client's own CPU time per recipient
is the figure that measures the SDK. Each round runs every contender once on the same
recipients, in an order rotated from round to round; the table gives the median over the
rounds, and each ratio is the median of the ratios within a round (runs close in time, so
a change in the machine's load affects both sides of a ratio).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

from benchmarks._contenders import CONTENDERS
from benchmarks._measure import Run, median, run_once, spread
from benchmarks._sandbox import SandboxProcess
from benchmarks._submail import make_recipients
from benchmarks._table import Row, rate, ratio, us

__all__ = ["LABELS", "OverheadResult", "measure_overhead"]

LABELS = {
    "crowdsms": (
        "crowdsms `BatchSender` + `AsyncSubmail`, httpx lanes "
        "(the default on trio or without aiohttp)"
    ),
    "naive": "(a) naive httpx: one shared `AsyncClient` pool, form bodies",
    "best": "(b) best httpx: one single-connection transport per worker, JSON",
    "aiohttp": "(c) raw aiohttp, one session, JSON",
    "client": "httpx: one single-connection `AsyncClient` per worker, JSON",
    "chunks": "crowdsms chunk sender alone (`send_chunk` from hand-written workers)",
    "crowdsms_aiohttp": (
        "crowdsms `BatchSender` + `AsyncSubmail`, aiohttp lanes "
        "(the default on asyncio with `crowdsms[aiohttp]`)"
    ),
}
MAIN = ("crowdsms", "crowdsms_aiohttp", "naive", "best", "aiohttp")
EXTRAS = ("chunks", "client")
DEFAULT_VERSUS_BEST = 1.25
"""Target: crowdsms over its httpx lanes costs at most this much (b)'s CPU per recipient."""
FAST_VERSUS_BEST = 1.0
"""Target: over its aiohttp lanes, crowdsms costs no more than (b), typing every outcome."""
FAST_VERSUS_AIOHTTP = 1.8
"""Target: over its aiohttp lanes, crowdsms costs at most this much raw aiohttp (c)."""

_WARM_UP = 2_000


@dataclass
class OverheadResult:
    """The runs of section 1, by concurrency and contender."""

    runs: dict[int, dict[str, list[Run]]]

    def rows(self) -> list[Row]:
        """The table rows: every contender's figures, then the ratios and their targets."""
        rows: list[Row] = []
        for concurrency, by_name in self.runs.items():
            for name, runs in by_name.items():
                rows.append(_figure_row(name, concurrency, runs))
            rows.extend(self._ratio_rows(concurrency, by_name))
        return rows

    def _ratio_rows(self, concurrency: int, by_name: dict[str, list[Run]]) -> list[Row]:
        at = f"c={concurrency}"
        crowdsms = by_name["crowdsms"]
        rows = []
        versus_best = _paired(crowdsms, by_name["best"])
        rows.append(
            Row(
                "1",
                f"{at}: crowdsms (httpx lanes) CPU per recipient / (b)'s",
                ratio(versus_best),
                f"<= {DEFAULT_VERSUS_BEST:.2f}x",
                versus_best <= DEFAULT_VERSUS_BEST,
            )
        )
        fast = by_name["crowdsms_aiohttp"]
        fast_versus_best = _paired(fast, by_name["best"])
        rows.append(
            Row(
                "1",
                f"{at}: crowdsms (aiohttp lanes) CPU per recipient / (b)'s",
                ratio(fast_versus_best),
                f"<= {FAST_VERSUS_BEST:.2f}x",
                fast_versus_best <= FAST_VERSUS_BEST,
            )
        )
        fast_versus_floor = _paired(fast, by_name["aiohttp"])
        rows.append(
            Row(
                "1",
                f"{at}: crowdsms (aiohttp lanes) CPU per recipient / (c)'s",
                ratio(fast_versus_floor),
                f"<= {FAST_VERSUS_AIOHTTP:.1f}x",
                fast_versus_floor <= FAST_VERSUS_AIOHTTP,
            )
        )
        naive_gain = _paired(by_name["naive"], crowdsms)
        rows.append(
            Row(
                "1",
                f"{at}: (a)'s CPU per recipient / crowdsms (httpx lanes)'s",
                ratio(naive_gain),
                ">= 3x at c=64" if concurrency == 64 else "(>= 3x at c=64)",
                naive_gain >= 3 if concurrency == 64 else None,
            )
        )
        if "chunks" in by_name:
            alone = _paired(by_name["chunks"], by_name["best"])
            rows.append(
                Row("1", f"{at}: crowdsms chunk sender alone / (b)", ratio(alone), "", None)
            )
        return rows


def _figure_row(name: str, concurrency: int, runs: list[Run]) -> Row:
    cpu = [run.cpu_per_recipient for run in runs]
    low, high = spread(cpu)
    server = [run.server_cpu_per_recipient for run in runs]
    known = [value for value in server if value is not None]
    measured = (
        f"{us(median(cpu))} CPU/recipient ({us(low)} to {us(high)}); "
        f"{us(median(cpu) * 50)}/request; {rate(median([run.throughput for run in runs]))}"
    )
    if known:
        measured += f"; sandbox {us(median(known))}/recipient"
    return Row("1", f"c={concurrency}: {LABELS[name]}", measured)


def _paired(numerators: Sequence[Run], denominators: Sequence[Run]) -> float:
    """The median over rounds of the ratio of client CPU times within each round."""
    return median([a.cpu / b.cpu for a, b in zip(numerators, denominators, strict=True)])


def measure_overhead(
    sandbox: SandboxProcess,
    *,
    recipients: int,
    concurrencies: Sequence[int],
    rounds: int,
    extras: bool,
) -> OverheadResult:
    """Run every contender ``rounds`` times at each concurrency, order rotated per round."""
    names = [*MAIN, *(EXTRAS if extras else ())]
    people = make_recipients(recipients)
    sandbox.set_latency(0.0)
    for concurrency in concurrencies:  # warm-up: imports, caches, first connections
        for name in names:
            run_once(name, CONTENDERS[name], sandbox, people[:_WARM_UP], concurrency)
    results: dict[int, dict[str, list[Run]]] = {}
    for concurrency in concurrencies:
        by_name: dict[str, list[Run]] = {name: [] for name in names}
        for round_number in range(rounds):
            shift = round_number % len(names)
            for name in names[shift:] + names[:shift]:
                run = run_once(name, CONTENDERS[name], sandbox, people, concurrency)
                by_name[name].append(run)
                print(
                    f"  [1] c={concurrency} round {round_number + 1}/{rounds} {name:<17} "
                    f"{run.cpu_per_recipient:6.1f} us CPU/recipient, "
                    f"{run.throughput:8,.0f} recipients/s",
                    file=sys.stderr,
                    flush=True,
                )
        results[concurrency] = by_name
    return OverheadResult(results)
