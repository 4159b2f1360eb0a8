"""9. Telemetry: client CPU per recipient of the batch sender, with and without tracing.

The same job as section 1's crowdsms contender (``BatchSender`` + ``AsyncSubmail``, default
settings, 50 recipients a request) in three modes, each round running all three in an
order rotated from round to round:

- (a) ``off``: ``crowdsms.telemetry.use_opentelemetry(False)`` and no hook, the very code
  path of an installation without ``opentelemetry-api`` (the probes are no-op objects);
- (b) ``api``: OpenTelemetry's API installed and on, but no SDK configured (the global
  providers are OpenTelemetry's proxies: spans do not record, instruments do nothing);
- (c) ``sdk``: the SDK recording every span (``SimpleSpanProcessor`` into an
  ``InMemorySpanExporter``) and metric (``InMemoryMetricReader``), what an application
  exporting everything pays before its exporter's own cost.

The same three modes run twice: against the sandbox process on loopback, as section 1, and
in process, with an ``httpx.MockTransport`` answering as SUBMAIL does (no sockets, no
server sharing the cores). Last, the probes alone: the telemetry code one chunk runs (a
chunk span, its call and attempt, the outcomes counted) around nothing, 20,000 chunks per
mode and round, which is what (b) adds to (a) without the noise of everything else, given
as a share of (a)'s CPU per recipient in process. The ratios are medians of the ratios
within each round. This process never sets OpenTelemetry's global providers (the SDK's are
handed to crowdsms), so (b) stays the no-SDK case for the whole run.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from benchmarks._contenders import crowdsms_batch
from benchmarks._measure import Run, median, run_once, spread
from benchmarks._sandbox import SandboxProcess
from benchmarks._submail import CHUNK, CONTENT, BenchmarkError, make_recipients
from benchmarks._table import Row, rate, ratio, us
from crowdsms import telemetry
from crowdsms.batch import BatchSender
from crowdsms.outcomes import OutcomeStatus, Recipient, RecipientOutcome
from crowdsms.providers.submail import AsyncSubmail
from crowdsms.sandbox.emulators.submail import SUBMAIL_APPID, SUBMAIL_APPKEY
from crowdsms.telemetry._batch import (
    observe_chunk,
    observe_chunk_request,
    observe_emitted,
    observe_job,
)
from crowdsms.telemetry._call import start_call

__all__ = ["MODES", "TelemetryResult", "measure_telemetry"]

MODES = ("off", "api", "sdk")
LABELS = {
    "off": "(a) no OpenTelemetry (switched off: the code path without the package)",
    "api": "(b) OpenTelemetry API, no SDK configured (no-op)",
    "sdk": "(c) OpenTelemetry SDK, every span and metric recorded in memory",
}
_WARM_UP = 2_000
LOOPBACK, IN_PROCESS = "sandbox on loopback", "in process"
PROBES_TARGET = 0.01
"""What (b)'s probes may add to (a)'s CPU per recipient: nothing measurable.

The whole jobs' ratios carry no target: on a shared machine single runs vary by more than
what the probes cost, which the probes' own row measures."""


class _Sdk:
    """The SDK's providers, recording in memory; emptied before each run."""

    def __init__(self) -> None:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader], shutdown_on_exit=False)

    def chunk_spans(self) -> int:
        spans = self.exporter.get_finished_spans()
        return sum(span.name == "crowdsms.batch.chunk" for span in spans)

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


def _switch(mode: str, sdk: _Sdk) -> None:
    sdk.exporter.clear()
    if mode == "off":
        telemetry.use_opentelemetry(False)
    elif mode == "api":
        telemetry.use_opentelemetry()
    else:
        telemetry.use_opentelemetry(
            tracer_provider=sdk.tracer_provider, meter_provider=sdk.meter_provider
        )


def _check(mode: str, sdk: _Sdk, recipients: int) -> None:
    """Each mode does what it says: spans in (c) only, one per chunk."""
    expected = -(-recipients // CHUNK) if mode == "sdk" else 0
    if sdk.chunk_spans() != expected:
        raise BenchmarkError(f"{mode}: {sdk.chunk_spans()} chunk spans, not {expected}")


def _contender(mode: str, sdk: _Sdk) -> Any:
    async def contender(base_url: str, recipients: Sequence[Recipient], concurrency: int) -> int:
        _switch(mode, sdk)
        sent = await crowdsms_batch(base_url, recipients, concurrency)
        _check(mode, sdk, len(recipients))
        return sent

    return contender


def _answer(request: httpx.Request) -> httpx.Response:
    """SUBMAIL's answer to a multisend: a success item per recipient, in order."""
    fields = json.loads(request.content)
    items = [
        {"status": "success", "to": item["to"], "send_id": f"{n:032x}", "fee": 1}
        for n, item in enumerate(json.loads(fields["multi"]))
    ]
    return httpx.Response(200, json=items)


async def _in_process(recipients: Sequence[Recipient], concurrency: int) -> int:
    async with AsyncSubmail(
        app_id=SUBMAIL_APPID,
        app_key=SUBMAIL_APPKEY,
        base_url="https://api.example.test",
        transport=httpx.MockTransport(_answer),
    ) as client:
        sender = BatchSender(client.sms.multisend_chunks(content=CONTENT), concurrency=concurrency)
        report = await sender.send(recipients)
    if report.sent != len(recipients):
        raise BenchmarkError(f"in process: {report}")
    return report.sent


def _run_in_process(mode: str, sdk: _Sdk, recipients: Sequence[Recipient], concurrency: int) -> Run:
    _switch(mode, sdk)
    gc.collect()
    gc.freeze()

    async def job() -> tuple[float, float]:
        cpu, wall = time.process_time(), time.perf_counter()
        await _in_process(recipients, concurrency)
        return time.process_time() - cpu, time.perf_counter() - wall

    try:
        cpu, wall = asyncio.run(job())
    finally:
        gc.unfreeze()
    _check(mode, sdk, len(recipients))
    return Run(mode, concurrency, len(recipients), cpu, wall, None)


class _Probed:
    """The probes of one chunk as the batch sender and the transport run them, alone.

    A chunk span around a request, the request's call with one attempt, the emitted
    outcomes counted: what (b) adds to (a) per chunk, without the noise of the rest.
    """

    class Request:
        method = "POST"
        path = "sms/multisend.json"
        operation = "submail.sms.multisend"

    class Block:
        chunk_index = 0
        recipients: Sequence[object] = [object()] * CHUNK

    class Report:
        total = sent = failed = unknown = skipped = requests = retries = 0
        resumed = interrupted = False
        stopped = None

    def __init__(self) -> None:
        self.results = [RecipientOutcome(phone="", status=OutcomeStatus.SENT)] * CHUNK

    @observe_chunk
    async def send(self, block: Any, key: str | None) -> list[RecipientOutcome]:
        return await self._attempt(block, key)

    @observe_chunk_request
    async def _attempt(self, block: Any, key: str | None) -> list[RecipientOutcome]:
        call = start_call("submail", "https://api.example.test", self.Request())
        call.sending()
        call.attempt_done(200, None)
        call.succeeded(200)
        return self.results

    @observe_emitted
    def add(self, outcomes: Sequence[RecipientOutcome], *, replayed: int) -> None:
        pass

    async def chunks(self, count: int) -> Any:
        block = self.Block()
        for _ in range(count):
            self.add(await self.send(block, None), replayed=0)
        return self.Report()

    def per_chunk(self, count: int) -> float:
        """Microseconds of CPU per chunk, over ``count`` chunks of one job."""

        async def job() -> float:
            cpu = time.process_time()
            await observe_job(self.chunks(count), job_id="probes", chunk_size=50, concurrency=1)
            return time.process_time() - cpu

        return asyncio.run(job()) / count * 1e6


def measure_probes(sdk: _Sdk, *, chunks: int, rounds: int) -> dict[str, list[float]]:
    """CPU per chunk of the probes alone in each mode, rounds alternating."""
    probed = _Probed()
    found: dict[str, list[float]] = {mode: [] for mode in MODES}
    for round_number in range(rounds):
        shift = round_number % len(MODES)
        for mode in MODES[shift:] + MODES[:shift]:
            _switch(mode, sdk)
            found[mode].append(probed.per_chunk(chunks // 10 if mode == "sdk" else chunks))
    return found


@dataclass
class TelemetryResult:
    """The runs of section 9, by where (loopback or in process) and mode."""

    concurrency: int
    runs: dict[str, dict[str, list[Run]]]
    probes: dict[str, list[float]]

    def rows(self) -> list[Row]:
        """Each mode's figures, then (b) and (c) against (a), for each place."""
        rows = []
        for place, by_mode in self.runs.items():
            at = f"c={self.concurrency}, {place}"
            for mode, runs in by_mode.items():
                cpu = [run.cpu_per_recipient for run in runs]
                low, high = spread(cpu)
                measured = (
                    f"{us(median(cpu))} CPU/recipient ({us(low)} to {us(high)}); "
                    f"{rate(median([run.throughput for run in runs]))}"
                )
                rows.append(Row("9", f"{at}: {LABELS[mode]}", measured))
            api = _paired(by_mode["api"], by_mode["off"])
            rows.append(Row("9", f"{at}: (b)'s CPU per recipient / (a)'s", ratio(api)))
            sdk = _paired(by_mode["sdk"], by_mode["off"])
            rows.append(Row("9", f"{at}: (c)'s CPU per recipient / (a)'s", ratio(sdk)))
        off = median([run.cpu_per_recipient for run in self.runs[IN_PROCESS]["off"]])
        extra = median(self.probes["api"]) - median(self.probes["off"])
        share = extra / CHUNK / off
        rows.append(
            Row(
                "9",
                "the probes alone, (b) - (a) per chunk of 50 (share of (a)'s CPU in process)",
                f"{extra:+.2f} us ({median(self.probes['off']):.2f} vs "
                f"{median(self.probes['api']):.2f} us; (c) {median(self.probes['sdk']):.0f} us)"
                f" = {share:+.2%}",
                f"<= {PROBES_TARGET:.0%}",
                share <= PROBES_TARGET,
            )
        )
        return rows


def _paired(numerators: Sequence[Run], denominators: Sequence[Run]) -> float:
    return median([a.cpu / b.cpu for a, b in zip(numerators, denominators, strict=True)])


def measure_telemetry(
    sandbox: SandboxProcess, *, recipients: int, concurrency: int, rounds: int
) -> TelemetryResult:
    """Run each mode ``rounds`` times, the order rotated per round."""
    people = make_recipients(recipients)
    sandbox.set_latency(0.0)
    sdk = _Sdk()
    contenders = {mode: _contender(mode, sdk) for mode in MODES}

    def loopback(mode: str, chosen: Sequence[Recipient]) -> Run:
        return run_once(mode, contenders[mode], sandbox, chosen, concurrency)

    def in_process(mode: str, chosen: Sequence[Recipient]) -> Run:
        return _run_in_process(mode, sdk, chosen, concurrency)

    runs: dict[str, dict[str, list[Run]]] = {}
    try:
        for place, run in ((LOOPBACK, loopback), (IN_PROCESS, in_process)):
            by_mode: dict[str, list[Run]] = {mode: [] for mode in MODES}
            runs[place] = by_mode
            for mode in MODES:  # warm-up: the SDK's and crowdsms's first spans, instruments
                run(mode, people[:_WARM_UP])
            for round_number in range(rounds):
                shift = round_number % len(MODES)
                for mode in MODES[shift:] + MODES[:shift]:
                    done = run(mode, people)
                    by_mode[mode].append(done)
                    print(
                        f"  [9] c={concurrency} {place} round {round_number + 1}/{rounds} "
                        f"{mode:<4} {done.cpu_per_recipient:6.1f} us CPU/recipient, "
                        f"{done.throughput:8,.0f} recipients/s",
                        file=sys.stderr,
                        flush=True,
                    )
        probes = measure_probes(sdk, chunks=20_000, rounds=max(rounds, 5))
    finally:
        if telemetry.OPENTELEMETRY_INSTALLED:
            telemetry.use_opentelemetry()  # as the other sections found it
        sdk.shutdown()
    return TelemetryResult(concurrency, runs, probes)
