"""The probe the attempt loop reports a provider call to: a span, metrics and hooks.

:func:`start_call` returns :data:`NO_CALL`, whose methods do nothing, unless something
records (an OpenTelemetry SDK configured, or a hook); then a :class:`Call`,
which opens a client span (current while the call runs, so nested calls and the user's
own HTTP instrumentation are its children), records ``http.client.request.duration`` per
attempt, counts retries and calls the hooks.
"""

from __future__ import annotations

import functools
import time
import urllib.parse
from typing import TYPE_CHECKING, Any, Protocol

from crowdsms.errors import DeliveryCertainty
from crowdsms.telemetry import _names as names
from crowdsms.telemetry._current import CURRENT_CHUNK, is_live
from crowdsms.telemetry._hooks import call_hooks
from crowdsms.telemetry._records import AttemptDetails, CallDetails
from crowdsms.telemetry._state import STATE

if TYPE_CHECKING:
    from crowdsms.telemetry._otel import ContextToken, Instruments, Span

__all__ = ["NO_CALL", "Call", "CallProbe", "start_call"]

_clock = time.perf_counter


class CallRequest(Protocol):
    """What the probe reads of a request: never its fields, query or headers."""

    @property
    def method(self) -> str:
        """The HTTP method."""
        ...

    @property
    def path(self) -> str:
        """The path below the base URL."""
        ...

    @property
    def operation(self) -> str:
        """The operation's name."""
        ...


class CallProbe(Protocol):
    """What the attempt loop tells about one call."""

    def sending(self) -> None:
        """An attempt's request is about to go out."""
        ...

    def attempt_done(self, status_code: int | None, error: BaseException | None) -> None:
        """An attempt ended with this HTTP status (if any) and this failure (if any)."""
        ...

    def succeeded(self, status_code: int) -> None:
        """The call returns the answer of this status."""
        ...

    def failed(self, error: BaseException) -> None:
        """The call raises ``error``."""
        ...


class _NoCall:
    """The probe when nothing records."""

    __slots__ = ()

    def sending(self) -> None:
        """Nothing to do."""

    def attempt_done(self, status_code: int | None, error: BaseException | None) -> None:
        """Nothing to do."""

    def succeeded(self, status_code: int) -> None:
        """Nothing to do."""

    def failed(self, error: BaseException) -> None:
        """Nothing to do."""


NO_CALL: CallProbe = _NoCall()


@functools.lru_cache(maxsize=64)
def _server(base_url: str) -> tuple[str, int | None, str]:
    """The host, port and path (never the query) of a base URL."""
    parts = urllib.parse.urlsplit(base_url)
    port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
    return parts.hostname or "", port, parts.path.rstrip("/")


def start_call(provider: str, base_url: str, request: CallRequest) -> CallProbe:
    """The probe of a call of ``request`` to ``provider`` at ``base_url``."""
    if not STATE.active or not is_live(STATE.live):
        return NO_CALL
    return Call(provider, base_url, request)


def _status_error(status_code: int | None) -> str | None:
    return str(status_code) if status_code is not None and status_code >= 400 else None


class Call:
    """The probe of one call while something records."""

    __slots__ = (
        "_address",
        "_attempts",
        "_base",
        "_hooks",
        "_last_error",
        "_method",
        "_operation",
        "_otel",
        "_path",
        "_port",
        "_provider",
        "_sent_at",
        "_span",
        "_started",
        "_status",
        "_token",
    )

    def __init__(self, provider: str, base_url: str, request: CallRequest) -> None:
        self._provider = provider
        self._operation = operation = request.operation
        self._method = request.method
        self._address, self._port, base_path = _server(base_url)
        self._path = base_path + "/" + request.path.partition("?")[0].lstrip("/")
        self._hooks = STATE.hooks
        self._attempts = 0
        self._status: int | None = None
        self._sent_at: float | None = None
        self._last_error: str | None = None
        self._base: dict[str, Any] = {
            names.PROVIDER: provider,
            names.OPERATION: operation,
            names.HTTP_METHOD: self._method,
            names.SERVER_ADDRESS: self._address,
        }
        if self._port is not None:
            self._base[names.SERVER_PORT] = self._port
        chunk = CURRENT_CHUNK.get()
        if chunk is not None:
            chunk.saw_call(provider, operation)
        otel = self._otel = STATE.otel()
        self._span: Span | None = None
        self._token: ContextToken | None = None
        if otel is not None:
            self._span = otel.start_span(
                operation, {**self._base, names.URL_PATH: self._path}, client=True
            )
            self._token = otel.attach(self._span)
        self._started = _clock()

    def sending(self) -> None:
        """Stamp the start of the HTTP exchange."""
        self._sent_at = _clock()

    def attempt_done(self, status_code: int | None, error: BaseException | None) -> None:
        """Record the attempt: its duration, a retry, an event, the hooks."""
        sent_at, self._sent_at = self._sent_at, None
        duration = _clock() - sent_at if sent_at is not None else 0.0
        self._attempts += 1
        attempt = self._attempts
        if status_code is None and error is not None:
            status_code = getattr(error, "status_code", None)
        self._status = status_code
        kind = names.error_type(error) if error is not None else _status_error(status_code)
        certainty: DeliveryCertainty | None = getattr(error, "certainty", None)
        code = names.provider_code(error) if error is not None else None
        otel = self._otel
        if otel is not None:
            self._record_attempt(otel, attempt, duration, sent_at is not None, kind, error)
        self._last_error = kind
        if self._hooks.attempt:
            details = AttemptDetails(
                provider=self._provider,
                operation=self._operation,
                attempt=attempt,
                status_code=status_code,
                duration=duration,
                error_type=kind,
                certainty=certainty,
                code=code,
            )
            call_hooks(self._hooks.attempt, _on_attempt, details)

    def _record_attempt(
        self,
        otel: Instruments,
        attempt: int,
        duration: float,
        sent: bool,
        kind: str | None,
        error: BaseException | None,
    ) -> None:
        status = self._status
        if sent:
            attributes = dict(self._base)
            if status is not None:
                attributes[names.HTTP_STATUS] = status
            if kind is not None:
                attributes[names.ERROR_TYPE] = kind
            otel.request_duration.record(duration, attributes)
        if attempt > 1:
            retry = {
                names.PROVIDER: self._provider,
                names.OPERATION: self._operation,
                names.RETRY_SCOPE: "request",
            }
            if self._last_error is not None:
                retry[names.ERROR_TYPE] = self._last_error
            otel.retries.add(1, retry)
        span = self._span
        if error is not None and span is not None and span.is_recording():
            event: dict[str, Any] = {names.ATTEMPT: attempt, names.ERROR_TYPE: kind}
            if status is not None:
                event[names.HTTP_STATUS] = status
            _add_failure(event, error)
            span.add_event("crowdsms.attempt_failed", event)

    def succeeded(self, status_code: int) -> None:
        """End the call with its answer."""
        self._status = status_code
        self._finish(_status_error(status_code), None)

    def failed(self, error: BaseException) -> None:
        """End the call with the error it raises."""
        status = getattr(error, "status_code", None)
        if status is not None:
            self._status = status
        self._finish(names.error_type(error), error)

    def _finish(self, kind: str | None, error: BaseException | None) -> None:
        duration = _clock() - self._started
        otel = self._otel
        if otel is not None:
            final: dict[str, Any] = {}
            if self._status is not None:
                final[names.HTTP_STATUS] = self._status
            if kind is not None:
                final[names.ERROR_TYPE] = kind
            otel.call_duration.record(duration, {**self._base, **final})
            if self._span is not None:
                final[names.ATTEMPTS] = self._attempts
                if error is not None:
                    _add_failure(final, error)
                otel.detach(self._token)
                otel.end(self._span, final, kind)
        if self._hooks.call:
            details = CallDetails(
                provider=self._provider,
                operation=self._operation,
                method=self._method,
                server_address=self._address,
                url_path=self._path,
                attempts=self._attempts,
                status_code=self._status,
                duration=duration,
                error_type=kind,
                certainty=getattr(error, "certainty", None),
                code=names.provider_code(error) if error is not None else None,
            )
            call_hooks(self._hooks.call, _on_call, details)


def _add_failure(attributes: dict[str, Any], error: BaseException) -> None:
    """Add the certainty and the provider's code of ``error``, where it has them."""
    certainty = getattr(error, "certainty", None)
    if isinstance(certainty, DeliveryCertainty):
        attributes[names.CERTAINTY] = certainty.value
    code = names.provider_code(error)
    if code is not None:
        attributes[names.CODE] = code


def _on_attempt(hook: Any) -> Any:
    return hook.on_attempt


def _on_call(hook: Any) -> Any:
    return hook.on_call
