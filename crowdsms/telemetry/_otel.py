"""The OpenTelemetry side: one tracer, the instruments, and span helpers.

Imported only when OpenTelemetry is installed and wanted (see :mod:`._state`), the first
time crowdsms has something to record. The tracer and meter come from the global providers
unless :func:`crowdsms.telemetry.use_opentelemetry` was given others; with no SDK
configured they are OpenTelemetry's no-op proxies, and spans are not recording.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextvars import Token
from typing import Any, TypeAlias

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

__all__ = ["REQUEST_DURATION_BUCKETS", "ContextToken", "Instruments", "Span"]

REQUEST_DURATION_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
)
"""The bucket boundaries the semantic conventions advise for ``http.client.request.duration``."""

Attributes = Mapping[str, Any]
ContextToken: TypeAlias = "Token[Context]"


def _histogram(
    meter: metrics.Meter, name: str, description: str, buckets: Sequence[float] | None
) -> metrics.Histogram:
    if buckets is not None:
        try:  # the advisory argument is in opentelemetry-api 1.23 and later
            return meter.create_histogram(
                name, unit="s", description=description, explicit_bucket_boundaries_advisory=buckets
            )
        except TypeError:
            pass
    return meter.create_histogram(name, unit="s", description=description)


try:  # OpenTelemetry's placeholder until a meter provider is set (the API has no public name)
    from opentelemetry.metrics._internal import _ProxyMeterProvider as _ProxyMeters
except ImportError:  # pragma: no cover - then every meter provider counts as configured
    _ProxyMeters = ()  # type: ignore[assignment,misc]

_UNCONFIGURED_TRACERS = (trace.ProxyTracerProvider, trace.NoOpTracerProvider)
_UNCONFIGURED_METERS = (_ProxyMeters, metrics.NoOpMeterProvider)


class Instruments:
    """crowdsms's tracer and metric instruments, from the given or the global providers."""

    def __init__(
        self,
        *,
        version: str,
        tracer_provider: trace.TracerProvider | None,
        meter_provider: metrics.MeterProvider | None,
    ) -> None:
        self._tracer_provider = tracer_provider
        self._meter_provider = meter_provider
        self.tracer = trace.get_tracer("crowdsms", version, tracer_provider=tracer_provider)
        meter = metrics.get_meter("crowdsms", version, meter_provider=meter_provider)
        self.request_duration = _histogram(
            meter,
            "http.client.request.duration",
            "Duration of HTTP client requests (one per attempt).",
            REQUEST_DURATION_BUCKETS,
        )
        self.call_duration = _histogram(
            meter,
            "crowdsms.client.call.duration",
            "Duration of provider calls, every attempt and the waits between them included.",
            REQUEST_DURATION_BUCKETS,
        )
        self.retries = meter.create_counter(
            "crowdsms.retries",
            unit="{retry}",
            description="Requests made again: by the attempt loop, or chunks by the batch sender.",
        )
        self.recipients = meter.create_counter(
            "crowdsms.recipients",
            unit="{recipient}",
            description="Batch recipients by final status.",
        )
        self.pace_wait = _histogram(
            meter,
            "crowdsms.batch.pace.duration",
            "Time a chunk waited for the rate limits before its request.",
            None,
        )

    def configured(self) -> bool:
        """Whether a real (SDK) tracer or meter provider is behind the instruments now."""
        tracers = self._tracer_provider or trace.get_tracer_provider()
        meters = self._meter_provider or metrics.get_meter_provider()
        return not isinstance(tracers, _UNCONFIGURED_TRACERS) or not isinstance(
            meters, _UNCONFIGURED_METERS
        )

    def start_span(self, name: str, attributes: Attributes, *, client: bool = False) -> Span:
        """A new span, child of the current one; exceptions are never recorded on it."""
        return self.tracer.start_span(
            name,
            kind=SpanKind.CLIENT if client else SpanKind.INTERNAL,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        )

    @staticmethod
    def attach(span: Span) -> ContextToken | None:
        """Make ``span`` the current span (if it records); the token for :meth:`detach`."""
        if not span.is_recording():
            return None
        return otel_context.attach(trace.set_span_in_context(span))

    @staticmethod
    def detach(token: ContextToken | None) -> None:
        """Undo :meth:`attach`."""
        if token is not None:
            otel_context.detach(token)

    @staticmethod
    def end(span: Span, attributes: Attributes, error_type: str | None) -> None:
        """Set the final attributes and the status (the error's type, never its message)."""
        if span.is_recording():
            span.set_attributes(attributes)
            if error_type is not None:
                span.set_status(Status(StatusCode.ERROR, error_type))
        span.end()
