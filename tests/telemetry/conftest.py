"""Fixtures of the telemetry tests: OpenTelemetry's SDK with in-memory exporters, hooks.

The SDK's providers are handed to crowdsms (``use_opentelemetry(tracer_provider=...)``)
rather than set globally, which OpenTelemetry allows once per process; the global path is
tested in a subprocess. Each test leaves crowdsms's telemetry as it found it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import attrs
import pytest
import pytest_asyncio
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from crowdsms import telemetry
from crowdsms.sandbox import Sandbox, serve


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """anyio-marked tests here run on asyncio and on trio."""
    backend: str = request.param
    return backend


@attrs.define
class Otel:
    """The SDK's providers and what they exported."""

    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    tracer_provider: TracerProvider

    def spans(self, name: str | None = None) -> list[ReadableSpan]:
        """Finished spans, oldest first (those named ``name`` if given)."""
        found = list(self.exporter.get_finished_spans())
        return [span for span in found if name is None or span.name == name]

    def span(self, name: str) -> ReadableSpan:
        """The one finished span named ``name``."""
        found = self.spans(name)
        assert len(found) == 1, [span.name for span in self.spans()]
        return found[0]

    def points(self, metric: str) -> list[Any]:
        """The data points of ``metric`` (empty if it was never recorded)."""
        data = self.reader.get_metrics_data()
        points: list[Any] = []
        for resource in data.resource_metrics if data is not None else ():
            for scope in resource.scope_metrics:
                for found in scope.metrics:
                    if found.name == metric:
                        points.extend(found.data.data_points)
        return points

    def total(self, metric: str, **attributes: Any) -> float:
        """The sum of a counter's points (or a histogram's counts) with these attributes."""
        total = 0.0
        for point in self.points(metric):
            if all(point.attributes.get(key) == value for key, value in attributes.items()):
                total += getattr(point, "value", None) or getattr(point, "count", 0)
        return total


@pytest.fixture
def otel() -> Iterator[Otel]:
    """crowdsms recording into an SDK with in-memory span and metric exporters."""
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    telemetry.use_opentelemetry(tracer_provider=tracer_provider, meter_provider=meter_provider)
    try:
        yield Otel(exporter, reader, tracer_provider)
    finally:
        telemetry.use_opentelemetry()  # back to the global providers
        tracer_provider.shutdown()
        meter_provider.shutdown()


@attrs.define
class Recorded:
    """What the hooks received."""

    attempts: list[telemetry.AttemptDetails] = attrs.Factory(list)
    calls: list[telemetry.CallDetails] = attrs.Factory(list)
    chunks: list[telemetry.ChunkDetails] = attrs.Factory(list)

    def all(self) -> list[object]:
        return [*self.attempts, *self.calls, *self.chunks]


@pytest.fixture
def recorded() -> Iterator[Recorded]:
    """A hook recording every record, removed after the test."""
    seen = Recorded()
    with telemetry.add_hook(
        on_attempt=seen.attempts.append, on_call=seen.calls.append, on_chunk=seen.chunks.append
    ):
        yield seen


@pytest_asyncio.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    """A sandbox on a free loopback port."""
    async with serve() as served:
        yield served
