"""The probes of a batch job: a span per job and per chunk, recipient counts, pacing.

Each is a wrapper the batch package applies in one line: :func:`observe_job` around a
job's run, :func:`observe_chunk` and :func:`observe_chunk_request` on the dispatcher's
methods that send a chunk and make one of its requests, :func:`observe_pace` on the wait
for the rate limits, :func:`observe_emitted` on the count of the outcomes a job emits. When
nothing records they call straight through.

The job's span is current while it runs, so its workers' chunk spans are its children;
each chunk's span is current while the chunk is sent, so its calls' spans are the
chunk's children.
"""

from __future__ import annotations

import functools
import operator
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, Protocol, TypeVar

from crowdsms.errors import DeliveryCertainty
from crowdsms.outcomes import OutcomeStatus, RecipientOutcome
from crowdsms.telemetry import _names as names
from crowdsms.telemetry._current import CURRENT_CHUNK, CURRENT_JOB, JobScope, is_live
from crowdsms.telemetry._hooks import call_hooks
from crowdsms.telemetry._records import ChunkDetails
from crowdsms.telemetry._state import STATE

if TYPE_CHECKING:
    from crowdsms.telemetry._otel import ContextToken, Instruments, Span

__all__ = [
    "observe_chunk",
    "observe_chunk_request",
    "observe_emitted",
    "observe_job",
    "observe_pace",
]

_clock = time.perf_counter

_status = operator.attrgetter("status")

_P = ParamSpec("_P")
_R = TypeVar("_R")


class _Block(Protocol):
    @property
    def chunk_index(self) -> int | None: ...

    @property
    def recipients(self) -> Sequence[object]: ...


class _Report(Protocol):
    @property
    def total(self) -> int: ...
    @property
    def sent(self) -> int: ...
    @property
    def failed(self) -> int: ...
    @property
    def unknown(self) -> int: ...
    @property
    def skipped(self) -> int: ...
    @property
    def requests(self) -> int: ...
    @property
    def retries(self) -> int: ...
    @property
    def resumed(self) -> bool: ...
    @property
    def stopped(self) -> str | None: ...
    @property
    def interrupted(self) -> bool: ...


class _Paced(Protocol):
    @property
    def bucket(self) -> object | None: ...

    @property
    def shared(self) -> object | None: ...


_S = TypeVar("_S")
_B = TypeVar("_B", bound=_Block)
_Q = TypeVar("_Q", bound=_Paced)
_ReportT = TypeVar("_ReportT", bound=_Report)


async def observe_job(
    run: Awaitable[_ReportT], *, job_id: str, chunk_size: int, concurrency: int
) -> _ReportT:
    """Await a job's ``run`` inside its span (current in its workers); end it with the report.

    Whether the job is recorded is decided here, once: its chunks and calls follow.
    """
    if not STATE.active:
        return await run
    live = STATE.live()
    token = CURRENT_JOB.set(JobScope(job_id, live))
    if not live:  # its chunks and calls skip their probes too
        try:
            return await run
        finally:
            CURRENT_JOB.reset(token)
    otel = STATE.otel()
    span: Span | None = None
    context: ContextToken | None = None
    if otel is not None:
        span = otel.start_span(
            names.JOB_SPAN,
            {
                names.JOB_ID: job_id,
                names.CHUNK_SIZE: chunk_size,
                names.CONCURRENCY: concurrency,
            },
        )
        context = otel.attach(span)
    try:
        report = await run
    except BaseException as error:
        if otel is not None and span is not None:
            otel.detach(context)
            otel.end(span, {}, names.error_type(error))
        raise
    finally:
        CURRENT_JOB.reset(token)
    if otel is not None and span is not None:
        otel.detach(context)
        otel.end(span, _report_attributes(report), None)
    return report


def _report_attributes(report: _Report) -> dict[str, Any]:
    return {
        names.BATCH_RECIPIENTS: report.total,
        names.BATCH_SENT: report.sent,
        names.BATCH_FAILED: report.failed,
        names.BATCH_UNKNOWN: report.unknown,
        names.BATCH_SKIPPED: report.skipped,
        names.BATCH_REQUESTS: report.requests,
        names.BATCH_RETRIES: report.retries,
        names.BATCH_RESUMED: report.resumed,
        names.BATCH_STOPPED: report.stopped is not None,
        names.BATCH_INTERRUPTED: report.interrupted,
    }


class _Chunk:
    """What happens to one chunk while it is sent."""

    __slots__ = (
        "attempts",
        "error",
        "idempotent",
        "index",
        "job_id",
        "operation",
        "otel",
        "pace_wait",
        "provider",
        "recipients",
        "resend",
        "span",
        "started",
        "token",
    )

    def __init__(self, block: _Block, *, idempotent: bool, resend: int) -> None:
        self.index = block.chunk_index if block.chunk_index is not None else -1
        self.recipients = len(block.recipients)
        self.idempotent = idempotent
        self.resend = resend
        job = CURRENT_JOB.get()
        self.job_id = job.job_id if job is not None else None
        self.attempts = 0
        self.error: BaseException | None = None
        self.pace_wait = 0.0
        self.provider: str | None = None
        self.operation: str | None = None
        self.otel: Instruments | None = STATE.otel()
        self.span: Span | None = None
        self.token: ContextToken | None = None
        if self.otel is not None:
            self.span = self.otel.start_span(
                names.CHUNK_SPAN,
                {
                    names.CHUNK_INDEX: self.index,
                    names.CHUNK_RECIPIENTS: self.recipients,
                    names.CHUNK_RESEND: resend,
                    names.CHUNK_IDEMPOTENT: idempotent,
                },
            )
            self.token = self.otel.attach(self.span)
        self.started = _clock()

    def saw_call(self, provider: str, operation: str) -> None:
        """Remember the provider and operation of the chunk's requests."""
        self.provider = provider
        self.operation = operation

    def request_done(self, result: object) -> None:
        """One request of the chunk ended: with outcomes, or with an error."""
        self.attempts += 1
        self.error = result if isinstance(result, BaseException) else None

    def finish(
        self, results: Sequence[RecipientOutcome] | None, raised: BaseException | None
    ) -> None:
        """Count the outcomes; end the span; record the metrics; call the hooks."""
        duration = _clock() - self.started
        counts = Counter(map(_status, results or ()))
        sent = counts[OutcomeStatus.SENT]
        failed = counts[OutcomeStatus.FAILED]
        unknown = counts[OutcomeStatus.UNKNOWN]
        error = raised if raised is not None else self.error
        kind = names.error_type(error) if error is not None else None
        certainty = getattr(error, "certainty", None)
        code = names.provider_code(error) if error is not None else None
        if self.otel is not None:
            self._record(self.otel, sent, failed, unknown, kind, certainty, code)
        hooks = STATE.hooks.chunk
        if hooks:
            details = ChunkDetails(
                job_id=self.job_id,
                chunk_index=self.index,
                recipients=self.recipients,
                attempts=self.attempts,
                sent=sent,
                failed=failed,
                unknown=unknown,
                resend=self.resend,
                idempotent=self.idempotent,
                duration=duration,
                pace_wait=self.pace_wait,
                provider=self.provider,
                operation=self.operation,
                error_type=kind,
                certainty=certainty if isinstance(certainty, DeliveryCertainty) else None,
                code=code,
            )
            call_hooks(hooks, _on_chunk, details)

    def _record(
        self,
        otel: Instruments,
        sent: int,
        failed: int,
        unknown: int,
        kind: str | None,
        certainty: object,
        code: str | None,
    ) -> None:
        common: dict[str, Any] = {}
        if self.provider is not None and self.operation is not None:
            common = {names.PROVIDER: self.provider, names.OPERATION: self.operation}
        if self.attempts > 1:
            otel.retries.add(self.attempts - 1, {**common, names.RETRY_SCOPE: "chunk"})
        if self.span is None:
            return
        final: dict[str, Any] = {
            **common,
            names.CHUNK_ATTEMPTS: self.attempts,
            names.CHUNK_PACE_WAIT: self.pace_wait,
            names.BATCH_SENT: sent,
            names.BATCH_FAILED: failed,
            names.BATCH_UNKNOWN: unknown,
        }
        if kind is not None:
            final[names.ERROR_TYPE] = kind
        if isinstance(certainty, DeliveryCertainty):
            final[names.CERTAINTY] = certainty.value
        if code is not None:
            final[names.CODE] = code
        otel.detach(self.token)
        otel.end(self.span, final, kind)


def _on_chunk(hook: Any) -> Any:
    return hook.on_chunk


def observe_chunk(
    send: Callable[Concatenate[_S, _B, _P], Awaitable[list[RecipientOutcome]]],
) -> Callable[Concatenate[_S, _B, _P], Awaitable[list[RecipientOutcome]]]:
    """Wrap the method sending a chunk (``send(block, key, ..., resend=n)``) in its span."""

    @functools.wraps(send)
    async def observed(
        self: _S, block: _B, /, *args: _P.args, **kwargs: _P.kwargs
    ) -> list[RecipientOutcome]:
        if not STATE.active or not is_live(STATE.live):
            return await send(self, block, *args, **kwargs)
        key = args[0] if args else kwargs.get("key")
        resend = kwargs.get("resend", 0)
        chunk = _Chunk(
            block, idempotent=key is not None, resend=resend if isinstance(resend, int) else 0
        )
        token = CURRENT_CHUNK.set(chunk)
        try:
            results = await send(self, block, *args, **kwargs)
        except BaseException as error:
            chunk.finish(None, error)
            raise
        finally:
            CURRENT_CHUNK.reset(token)
        chunk.finish(results, None)
        return results

    return observed


def observe_chunk_request(
    attempt: Callable[_P, Awaitable[_R]],
) -> Callable[_P, Awaitable[_R]]:
    """Wrap the method making one request of a chunk (it returns outcomes or the error)."""

    @functools.wraps(attempt)
    async def observed(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        result = await attempt(*args, **kwargs)
        chunk = CURRENT_CHUNK.get()
        if isinstance(chunk, _Chunk):
            chunk.request_done(result)
        return result

    return observed


class _HasStatus(Protocol):
    @property
    def status(self) -> OutcomeStatus: ...


_O = TypeVar("_O", bound=Sequence[_HasStatus])


def observe_emitted(
    add: Callable[Concatenate[_S, _O, _P], None],
) -> Callable[Concatenate[_S, _O, _P], None]:
    """Wrap the count of a job's emitted outcomes (``add(outcomes, replayed=n)``).

    Adds them to ``crowdsms.recipients`` by status, but for a block replayed from the
    journal of an earlier run (which counted them when it emitted them).
    """

    @functools.wraps(add)
    def observed(self: _S, outcomes: _O, /, *args: _P.args, **kwargs: _P.kwargs) -> None:
        add(self, outcomes, *args, **kwargs)
        if not STATE.active or kwargs.get("replayed") or not is_live(STATE.live):
            return
        otel = STATE.otel()
        if otel is None:
            return
        for status, count in Counter(map(_status, outcomes)).items():
            otel.recipients.add(count, {names.OUTCOME_STATUS: status.value})

    return observed


def observe_pace(
    pace: Callable[Concatenate[_Q, _P], Awaitable[_R]],
) -> Callable[Concatenate[_Q, _P], Awaitable[_R]]:
    """Wrap the wait for the rate limits: time it when there is a limit to wait for."""

    @functools.wraps(pace)
    async def observed(self: _Q, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        if (
            not STATE.active
            or (self.bucket is None and self.shared is None)
            or not is_live(STATE.live)
        ):
            return await pace(self, *args, **kwargs)
        started = _clock()
        try:
            return await pace(self, *args, **kwargs)
        finally:
            waited = _clock() - started
            chunk = CURRENT_CHUNK.get()
            if isinstance(chunk, _Chunk):
                chunk.pace_wait += waited
            otel = STATE.otel()
            if otel is not None:
                otel.pace_wait.record(waited)

    return observed
