"""8. Telemetry: client CPU per recipient of the batch sender, with and without tracing.

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

The ratios are medians of the ratios within each round. This process never sets
OpenTelemetry's global providers (the SDK's are handed to crowdsms), so (b) stays the
no-SDK case for the whole run.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks._contenders import crowdsms_batch
from benchmarks._measure import Run, median, run_once, spread
from benchmarks._sandbox import SandboxProcess
from benchmarks._submail import CHUNK, BenchmarkError, make_recipients
from benchmarks._table import Row, rate, ratio, us
from crowdsms import telemetry
from crowdsms.outcomes import Recipient

__all__ = ["MODES", "TelemetryResult", "measure_telemetry"]

MODES = ("off", "api", "sdk")
LABELS = {
    "off": "(a) no OpenTelemetry (switched off: the code path without the package)",
    "api": "(b) OpenTelemetry API, no SDK configured (no-op)",
    "sdk": "(c) OpenTelemetry SDK, every span and metric recorded in memory",
}
_WARM_UP = 2_000


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


def _contender(mode: str, sdk: _Sdk) -> Any:
    async def contender(base_url: str, recipients: Sequence[Recipient], concurrency: int) -> int:
        sdk.exporter.clear()
        if mode == "off":
            telemetry.use_opentelemetry(False)
        elif mode == "api":
            telemetry.use_opentelemetry()
        else:
            telemetry.use_opentelemetry(
                tracer_provider=sdk.tracer_provider, meter_provider=sdk.meter_provider
            )
        sent = await crowdsms_batch(base_url, recipients, concurrency)
        expected = -(-len(recipients) // CHUNK) if mode == "sdk" else 0
        if sdk.chunk_spans() != expected:  # each mode does what it says
            raise BenchmarkError(f"{mode}: {sdk.chunk_spans()} chunk spans, not {expected}")
        return sent

    return contender


@dataclass
class TelemetryResult:
    """The runs of section 8, by mode."""

    concurrency: int
    runs: dict[str, list[Run]]

    def rows(self) -> list[Row]:
        """Each mode's figures, then (b) and (c) against (a)."""
        at = f"c={self.concurrency}"
        rows = []
        for mode, runs in self.runs.items():
            cpu = [run.cpu_per_recipient for run in runs]
            low, high = spread(cpu)
            measured = (
                f"{us(median(cpu))} CPU/recipient ({us(low)} to {us(high)}); "
                f"{rate(median([run.throughput for run in runs]))}"
            )
            rows.append(Row("8", f"{at}: {LABELS[mode]}", measured))
        api = _paired(self.runs["api"], self.runs["off"])
        rows.append(
            Row("8", f"{at}: (b)'s CPU per recipient / (a)'s", ratio(api), "<= 1.03x", api <= 1.03)
        )
        sdk = _paired(self.runs["sdk"], self.runs["off"])
        rows.append(Row("8", f"{at}: (c)'s CPU per recipient / (a)'s", ratio(sdk), "", None))
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
    runs: dict[str, list[Run]] = {mode: [] for mode in MODES}
    try:
        for mode in MODES:  # warm-up: the SDK's and crowdsms's first spans and instruments
            run_once(mode, contenders[mode], sandbox, people[:_WARM_UP], concurrency)
        for round_number in range(rounds):
            shift = round_number % len(MODES)
            for mode in MODES[shift:] + MODES[:shift]:
                run = run_once(mode, contenders[mode], sandbox, people, concurrency)
                runs[mode].append(run)
                print(
                    f"  [8] c={concurrency} round {round_number + 1}/{rounds} {mode:<4} "
                    f"{run.cpu_per_recipient:6.1f} us CPU/recipient, "
                    f"{run.throughput:8,.0f} recipients/s",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        if telemetry.OPENTELEMETRY_INSTALLED:
            telemetry.use_opentelemetry()  # as the other sections found it
        sdk.shutdown()
    return TelemetryResult(concurrency, runs)
