"""Tracing, metrics and hooks: what crowdsms's calls and batch jobs report as they run.

**OpenTelemetry** (``pip install 'crowdsms[otel]'``, the ``opentelemetry-api`` package only):
when it is installed, crowdsms takes its tracer and meter from the global providers
(``opentelemetry.trace.get_tracer("crowdsms", version)``), so configuring OpenTelemetry as
usual is all it takes; with no SDK configured, nothing is recorded and it costs nothing
measurable. :func:`use_opentelemetry` switches it off, or points it at other providers.

- A ``CLIENT`` span per provider call, named after the operation, current while the call
  runs (so clock measurements and token fetches it makes are its children): attributes
  ``crowdsms.provider``, ``crowdsms.operation``, ``crowdsms.attempts``,
  ``http.request.method``, ``http.response.status_code``, ``server.address``,
  ``server.port``, ``url.path`` (never the query), and for a failure ``error.type``,
  ``crowdsms.delivery_certainty`` (``not_sent`` or ``unknown``) and
  ``crowdsms.provider.code``; an event ``crowdsms.attempt_failed`` per failed attempt.
- A span ``crowdsms.batch.job`` per batch job and ``crowdsms.batch.chunk`` per chunk (its
  index, recipient count, requests, resend number, idempotency, time waiting for the rate
  limits, outcome counts, and the failure of its last request, with the provider's code).
- Metrics: ``http.client.request.duration`` (seconds, per attempt),
  ``crowdsms.client.call.duration`` (seconds, per call), ``crowdsms.retries`` (by
  ``crowdsms.retry.scope``: ``request`` or ``chunk``), ``crowdsms.recipients`` (by
  ``crowdsms.outcome.status``) and ``crowdsms.batch.pace.duration`` (seconds waited for the
  rate limits).

**Hooks**, with or without OpenTelemetry::

    from crowdsms import telemetry

    def on_call(call: telemetry.CallDetails) -> None:
        statsd.timing(f"sms.{call.operation}", call.duration)

    hook = telemetry.add_hook(on_call=on_call)   # or: with telemetry.add_hook(...):
    ...
    hook.remove()

Hooks are called synchronously on the event loop with small frozen records
(:class:`AttemptDetails`, :class:`CallDetails`, :class:`ChunkDetails`); one that raises is
logged and ignored, never breaking a send.

Never recorded, in any span, event, metric, record or log: a phone number, a template
variable, a message text, a credential or a query string. Errors are recorded by type and
provider code, never by message (which may quote a provider's answer).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crowdsms.errors import ConfigurationError
from crowdsms.telemetry._hooks import Hook
from crowdsms.telemetry._records import AttemptDetails, CallDetails, ChunkDetails
from crowdsms.telemetry._state import OPENTELEMETRY_INSTALLED, STATE

__all__ = [
    "OPENTELEMETRY_INSTALLED",
    "AttemptDetails",
    "CallDetails",
    "ChunkDetails",
    "Hook",
    "add_hook",
    "remove_hook",
    "use_opentelemetry",
]


def add_hook(
    *,
    on_attempt: Callable[[AttemptDetails], object] | None = None,
    on_call: Callable[[CallDetails], object] | None = None,
    on_chunk: Callable[[ChunkDetails], object] | None = None,
) -> Hook:
    """Call these functions after every HTTP attempt, provider call and batch chunk.

    Returns the :class:`Hook`: ``hook.remove()`` (or :func:`remove_hook`, or leaving a
    ``with`` block) stops it. Hooks apply to every client of the process, blocking ones
    included (called on their event loop's thread).
    """
    if on_attempt is None and on_call is None and on_chunk is None:
        raise ConfigurationError(
            "add_hook needs at least one of on_attempt, on_call and on_chunk",
            action="Pass the function to call, e.g. add_hook(on_call=print)",
        )
    for name, value in (("on_attempt", on_attempt), ("on_call", on_call), ("on_chunk", on_chunk)):
        if value is not None and not callable(value):
            raise ConfigurationError(
                f"add_hook's {name} must be callable, not {type(value).__name__}",
                action=f"Pass a function taking one argument as {name}",
            )
    hook = Hook(on_attempt=on_attempt, on_call=on_call, on_chunk=on_chunk)
    hook._remove = STATE.remove
    STATE.add(hook)
    return hook


def remove_hook(hook: Hook) -> None:
    """Stop calling ``hook`` (removing one that is not registered does nothing)."""
    STATE.remove(hook)


def use_opentelemetry(
    enabled: bool = True, *, tracer_provider: Any = None, meter_provider: Any = None
) -> None:
    """Switch crowdsms's OpenTelemetry spans and metrics on or off.

    On by default when ``opentelemetry-api`` is installed, with the global providers;
    ``tracer_provider`` and ``meter_provider`` replace them (as OpenTelemetry's own
    instrumentations accept). Switching on without OpenTelemetry installed raises
    :class:`~crowdsms.errors.ConfigurationError`.
    """
    if enabled and not OPENTELEMETRY_INSTALLED:
        raise ConfigurationError(
            "OpenTelemetry is not installed",
            action="Install it with pip install 'crowdsms[otel]' (opentelemetry-api)",
        )
    STATE.use_opentelemetry(enabled, tracer_provider=tracer_provider, meter_provider=meter_provider)
