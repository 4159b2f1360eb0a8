"""2. Latency bound, and 3. what users write today, with the sandbox answering after 100 ms.

With 100 ms per answer and ``concurrency`` requests of 50 recipients in flight, no client can
do better than ``concurrency x 50 / 0.1`` recipients a second (16,000 at 32): this measures
whether crowdsms keeps every slot busy, against loop (b) in the same rounds.

Section 3 is the loop many users have today: a plain ``httpx.Client`` sending one
50-recipient request at a time, form-encoded, and waiting for each answer. It runs a bounded
number of requests and its rate is extrapolated (it is constant: one request per 100 ms plus
the client's own time).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import httpx

from benchmarks._contenders import CONTENDERS
from benchmarks._measure import Run, median, run_once
from benchmarks._sandbox import SandboxProcess
from benchmarks._submail import CHUNK, PATH, count_sent, form_fields, make_recipients
from benchmarks._table import Row, rate, ratio

__all__ = ["LATENCY", "LatencyResult", "measure_latency", "measure_sequential"]

LATENCY = 0.1


@dataclass
class LatencyResult:
    """The runs of section 2 and the rate of section 3."""

    concurrency: int
    runs: dict[str, list[Run]]
    sequential_rate: float | None
    sequential_requests: int

    @property
    def crowdsms_rate(self) -> float:
        """crowdsms's median throughput, recipients per second."""
        return median([run.throughput for run in self.runs["crowdsms"]])

    @property
    def ideal(self) -> float:
        """Recipients per second with every request slot always busy."""
        return self.concurrency * CHUNK / LATENCY

    def rows(self) -> list[Row]:
        """Sections 2 and 3 of the table."""
        crowdsms, best = self.runs["crowdsms"], self.runs["best"]
        best_rate = median([run.throughput for run in best])
        versus_best = median(
            [a.throughput / b.throughput for a, b in zip(crowdsms, best, strict=True)]
        )
        recipients = crowdsms[0].recipients
        at = f"c={self.concurrency}, {recipients:,} recipients, 100 ms latency"
        fraction = self.crowdsms_rate / self.ideal
        rows = [
            Row("2", f"{at}: crowdsms throughput", rate(self.crowdsms_rate)),
            Row("2", f"{at}: (b) best httpx throughput", rate(best_rate)),
            Row(
                "2",
                "crowdsms throughput / (b)'s (same rounds)",
                ratio(versus_best),
                ">= 0.98x",
                versus_best >= 0.98,
            ),
            Row("2", f"crowdsms throughput / ideal ({rate(self.ideal)})", f"{fraction:.1%}"),
        ]
        if self.sequential_rate is None:
            return rows
        speedup = self.crowdsms_rate / self.sequential_rate
        return [
            *rows,
            Row(
                "3",
                f"sequential blocking `httpx.Client` loop, 50 per request, form body "
                f"({self.sequential_requests} requests, extrapolated)",
                rate(self.sequential_rate),
            ),
            Row(
                "3",
                "crowdsms (section 2) / the sequential blocking loop",
                ratio(speedup),
                ">= 25x",
                speedup >= 25,
            ),
        ]


def measure_latency(
    sandbox: SandboxProcess, *, recipients: int, concurrency: int, rounds: int
) -> dict[str, list[Run]]:
    """crowdsms and loop (b), alternately, ``rounds`` times each, at 100 ms latency."""
    people = make_recipients(recipients)
    sandbox.set_latency(LATENCY)
    runs: dict[str, list[Run]] = {"crowdsms": [], "best": []}
    try:
        for round_number in range(rounds):
            order = ["crowdsms", "best"] if round_number % 2 == 0 else ["best", "crowdsms"]
            for name in order:
                run = run_once(name, CONTENDERS[name], sandbox, people, concurrency)
                runs[name].append(run)
                print(
                    f"  [2] round {round_number + 1}/{rounds} {name:<9} "
                    f"{run.throughput:8,.0f} recipients/s",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        sandbox.set_latency(0.0)
    return runs


def measure_sequential(sandbox: SandboxProcess, *, requests: int) -> float:
    """Recipients per second of one-request-at-a-time blocking sends at 100 ms latency."""
    people = make_recipients(requests * CHUNK)
    url = f"{sandbox.submail_url}/{PATH}"
    sandbox.reset()
    sandbox.set_latency(LATENCY)
    try:
        with httpx.Client(timeout=30) as client:
            started = time.perf_counter()
            for start in range(0, len(people), CHUNK):
                chunk = people[start : start + CHUNK]
                response = client.post(url, data=form_fields(chunk, now=time.time()))
                response.raise_for_status()
                count_sent(response.json(), len(chunk))
            elapsed = time.perf_counter() - started
    finally:
        sandbox.set_latency(0.0)
    sequential_rate = len(people) / elapsed
    print(f"  [3] sequential: {sequential_rate:,.0f} recipients/s", file=sys.stderr, flush=True)
    return sequential_rate
