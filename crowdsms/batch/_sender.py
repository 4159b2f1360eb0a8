"""The public entry points: :class:`BatchSender`, :func:`send_batch`, :func:`run_batch_blocking`."""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from decimal import Decimal
from types import TracebackType
from typing import Any, Literal, TypedDict

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from typing_extensions import Self, Unpack

from crowdsms._loops import refuse_inside_event_loop
from crowdsms._transport.policy import RetryPolicy
from crowdsms._transport.runtime import Runtime
from crowdsms.batch._budget import spend_cap
from crowdsms.batch._control import SharedPace
from crowdsms.batch._dispatch import DEFAULT_CHUNK_RETRY
from crowdsms.batch._input import RecipientSource, check_source
from crowdsms.batch._job import JobConfig, ProgressCallback, run_job
from crowdsms.batch._journal import JobJournal
from crowdsms.batch._preview import Preview, check_price
from crowdsms.batch._previewer import DEFAULT_LONGEST, run_preview
from crowdsms.batch._report import BatchOutcome, BatchReport
from crowdsms.batch._sinks import CallbackSink, OutcomeCallback, OutcomeSink
from crowdsms.batch._stop import JobStop
from crowdsms.batch._target import check_target, target_of
from crowdsms.batch._window import SendWindow
from crowdsms.errors import ConfigurationError, CrowdSMSError, InvalidInputError
from crowdsms.limits import NumberLimiting
from crowdsms.outcomes import ChunkSender, Recipient
from crowdsms.phones import normalize_mainland_mobile

__all__ = [
    "DEFAULT_CONCURRENCY",
    "BatchOptions",
    "BatchSender",
    "BlockingRunner",
    "OutcomeStream",
    "preview_batch",
    "run_batch_blocking",
    "send_batch",
]

DEFAULT_CONCURRENCY = 8
"""Requests in flight at once, by default: modest, and well inside every provider's limits."""


class BatchOptions(TypedDict, total=False):
    """The settings of :class:`BatchSender`, as keyword arguments of :func:`send_batch`."""

    concurrency: int
    rate: float | None
    burst: float | None
    chunk_size: int | None
    chunk_retry: RetryPolicy
    slow_down: float
    recovery: float
    progress: ProgressCallback | None
    progress_interval: float
    stop_on_job_wide_error: bool
    resend_failed_chunks: bool
    shared_pace: SharedPace | None
    honour_opt_outs: bool
    opted_out: Collection[str]
    resend_unconfirmed_after: float | None
    send_window: SendWindow | str | None
    max_segments: int | None
    max_cost: float | Decimal | None
    price_per_segment: float | Decimal | None
    number_limiter: NumberLimiting | None
    target: Mapping[str, str] | None
    runtime: Runtime | None


def _opted_out(chunk_sender: ChunkSender, numbers: Collection[str]) -> set[str]:
    """The numbers in the form the chunk sender sends them (invalid ones cannot be sent).

    A chunk sender whose recipients need variables refuses a bare number: such numbers are
    normalized as mainland mobile numbers instead.
    """
    normalized = set()
    for number in numbers:
        try:
            normalized.add(chunk_sender.validate(Recipient(number), position=0).phone)
        except InvalidInputError:
            try:
                normalized.add(normalize_mainland_mobile(number))
            except InvalidInputError:
                continue
    return normalized


def _check(ok: bool, field: str, value: object, what: str, action: str) -> None:
    if not ok:
        raise InvalidInputError(what, field=field, received=repr(value)[:60], action=action)


class BatchSender:
    """Sends messages to many recipients through a :class:`~crowdsms.outcomes.ChunkSender`.

    Settings (all keyword-only):

    - ``concurrency`` (8): requests in flight at once, each on a worker of a fixed pool.
    - ``rate`` (``None``, no limit): recipients per second across all workers, with bursts of
      up to ``burst`` (default: one second's worth). Set it to the provider's limit.
    - ``chunk_size`` (the chunk sender's ``max_chunk_size``): recipients per request; may be
      smaller than the provider's maximum, not larger.
    - ``chunk_retry``: resends of chunks that failed ``NOT_SENT`` after the transport's own
      retries (3 attempts in all, backoff from 2 s, ``Retry-After`` honoured).
    - ``slow_down`` (0.5) and ``recovery`` (0.05): after a 429 the rate (or, with no rate,
      the concurrency) is multiplied by ``slow_down``; each successful request then gives
      back ``recovery`` of the configured rate (or one slot per ``concurrency`` requests).
    - ``progress``: called (sync or async) with a :class:`~crowdsms.batch.BatchProgress`
      at most once per chunk and once per ``progress_interval`` seconds (0.5), and at the end.
    - ``stop_on_job_wide_error`` (``True``): after the first answer that would fail every
      request the same way (refused credentials or signature, an exhausted balance, content
      or a setting the provider refuses for the whole job), send no more chunks: requests in
      flight finish, every recipient still gets one outcome (the unsent ones ``failed`` with
      code ``"not_sent"``), and the report's ``stopped`` says why. ``False`` sends every
      chunk anyway.
    - ``resend_failed_chunks`` (``True``): when a journaled job is resumed, chunks that
      failed as a whole in an earlier run (none of their recipients was sent: a wrong key,
      an exhausted balance, a network failure, or each recipient refused on its own) are
      sent again; their failure proves nothing was sent. A chunk whose every recipient was
      refused one by one (blocked numbers, say) is sent again too, and is likely refused
      again: the journal does not tell the two apart. Per-recipient refusals inside a chunk
      the provider otherwise accepted keep their outcome, as do ``unknown`` chunks, which
      are never resent without an idempotency key. ``False`` replays every recorded
      outcome.
    - ``shared_pace``: a rate limit shared with other processes (e.g.
      :class:`crowdsms.campaign.SharedRateLimiter`), on top of ``rate``: each chunk takes
      its permits before it is claimed in the journal and sent, and a 429 slows every
      process sharing it.
    - ``honour_opt_outs`` (``True``): skip (code ``"opted_out"``) every number on the
      suppression list: the journal's (numbers on it when the job was created, copied into
      the journal then; see :mod:`crowdsms.deliveries`) and ``opted_out``. ``False``
      sends to them anyway, for messages the recipient expects regardless, such as
      verification codes.
    - ``resend_unconfirmed_after`` (``None``): when a journaled job resumes, recipients
      still ``unknown`` (no report confirmed their send) this many seconds after they were
      sent are sent again. **At-least-once**: a message whose report was lost or is late
      arrives twice. Never set by default; each resend is logged as a warning and counted in
      the report's ``resent``. Reports in the journal are applied first (a resumed job always
      applies them), so confirmed recipients are never resent.
    - ``send_window`` (``None``): quiet hours, as ``"08:00-21:00"`` (China time) or a
      :class:`SendWindow`: outside it, each chunk waits before its request until the window
      opens (requests in flight finish), so a job that reaches the end of the day pauses
      and continues the next morning.
    - ``max_segments`` and ``max_cost`` (``None``): a spend cap, in SMS segments or in CNY
      (turned into segments at ``price_per_segment``; with both, the smaller wins). Before
      each chunk's request its segments are reserved (each recipient's message, as the
      chunk sender's ``render`` gives it, counted with
      :func:`~crowdsms.segments.count_segments`); the job stops before a chunk that would
      take spent plus reserved past the cap, even with many requests in flight, and the
      recipients not sent are ``failed`` with code ``"spend_cap"``. A journaled job records
      what each chunk spent, so a resumed job keeps its budget: resume with a higher cap to
      send the rest. See :mod:`crowdsms.batch._budget` for what counts.
    - ``price_per_segment`` (the chunk sender's default estimate, e.g. 0.05): CNY per
      segment, for ``max_cost`` and :meth:`preview`'s estimated cost.
    - ``number_limiter`` (``None``): a per-number limiter (:mod:`crowdsms.limits`). Just
      before each chunk is sent its recipients take permits; a number a limit refuses is
      ``skipped`` with code ``"number_limited"`` (the message names the window and when the
      number may get a message again) and the rest of the chunk is sent. Permits of
      recipients that end ``failed`` (provably not sent) are given back. A resumed job
      replays done chunks without taking permits again, and reports a chunk that was in
      flight as ``unknown`` even with an idempotency key. Resends of unconfirmed
      recipients (``resend_unconfirmed_after``) take permits of their own: each is another
      message to each number. Permits are taken once the send window is open, under a key
      of the job's own (its id and when its journal created it), so another job reusing
      the id never gets them back.
    - ``target`` (the chunk sender's ``target``): where the job sends, with nothing secret
      in it (``provider``, ``base_url``, ``account``; any other texts you add, e.g.
      ``"sandbox": "yes"``). A journaled job records it, and a resume whose target differs
      in a key both have is refused with :class:`JournalMismatchError` before anything is
      sent: the chunks done elsewhere (a rehearsal against a sandbox) would be replayed as
      ``sent`` while this provider never got them. A key only one side has is unknown and
      accepted (journals of earlier versions record no target).
    - ``runtime``: the clock, sleep and randomness (tests inject fakes).

    Use :meth:`send` to run a job to a sink, or :meth:`stream` (inside ``async with``) to
    iterate its outcomes. :meth:`stop` stops the running jobs taking new chunks.
    :meth:`preview` tells what a job would do, without sending anything.
    """

    def __init__(
        self,
        chunk_sender: ChunkSender,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        rate: float | None = None,
        burst: float | None = None,
        chunk_size: int | None = None,
        chunk_retry: RetryPolicy = DEFAULT_CHUNK_RETRY,
        slow_down: float = 0.5,
        recovery: float = 0.05,
        progress: ProgressCallback | None = None,
        progress_interval: float = 0.5,
        stop_on_job_wide_error: bool = True,
        resend_failed_chunks: bool = True,
        shared_pace: SharedPace | None = None,
        honour_opt_outs: bool = True,
        opted_out: Collection[str] = (),
        resend_unconfirmed_after: float | None = None,
        send_window: SendWindow | str | None = None,
        max_segments: int | None = None,
        max_cost: float | Decimal | None = None,
        price_per_segment: float | Decimal | None = None,
        number_limiter: NumberLimiting | None = None,
        target: Mapping[str, str] | None = None,
        runtime: Runtime | None = None,
    ) -> None:
        maximum = chunk_sender.max_chunk_size
        size = maximum if chunk_size is None else chunk_size
        _check(
            isinstance(size, int) and 1 <= size <= maximum,
            "chunk_size",
            chunk_size,
            f"chunk_size must be a whole number from 1 to {maximum} (this provider's limit)",
            f"Pass chunk_size=None to use {maximum}",
        )
        _check(
            isinstance(concurrency, int) and concurrency >= 1,
            "concurrency",
            concurrency,
            "concurrency must be a whole number >= 1",
            f"Pass e.g. concurrency={DEFAULT_CONCURRENCY}",
        )
        connections = getattr(chunk_sender, "max_connections", None)
        if isinstance(connections, int) and concurrency > connections:
            raise ConfigurationError(
                f"concurrency={concurrency} needs {concurrency} connections, but the client "
                f"keeps at most {connections} (max_connections): the batch would silently "
                f"run {connections} requests at a time",
                action=(
                    f"Create the client with max_connections={concurrency}, or pass "
                    f"concurrency={connections}"
                ),
            )
        for name, value in (("rate", rate), ("burst", burst)):
            _check(
                value is None or (math.isfinite(value) and value > 0),
                name,
                value,
                f"{name} must be a positive number of recipients per second, or None",
                f"Pass e.g. {name}=100, or None for no limit",
            )
        _check(
            0 < slow_down < 1,
            "slow_down",
            slow_down,
            "slow_down must be between 0 and 1 (the factor applied to the pace after a 429)",
            "Pass e.g. slow_down=0.5",
        )
        _check(
            0 < recovery <= 1,
            "recovery",
            recovery,
            "recovery must be in (0, 1] (the share of the pace regained per success)",
            "Pass e.g. recovery=0.05",
        )
        _check(
            progress_interval >= 0,
            "progress_interval",
            progress_interval,
            "progress_interval must be >= 0 seconds",
            "Pass e.g. progress_interval=0.5",
        )
        _check(
            resend_unconfirmed_after is None
            or (math.isfinite(resend_unconfirmed_after) and resend_unconfirmed_after >= 0),
            "resend_unconfirmed_after",
            resend_unconfirmed_after,
            "resend_unconfirmed_after must be a number of seconds >= 0, or None",
            "Pass e.g. resend_unconfirmed_after=1800 (30 minutes), or None never to resend",
        )
        _check(
            not isinstance(opted_out, str),
            "opted_out",
            opted_out,
            "opted_out must be a collection of numbers, not one text",
            "Pass e.g. opted_out={'13800138000'}",
        )
        price = check_price(price_per_segment)
        cap = spend_cap(
            chunk_sender, max_segments=max_segments, max_cost=max_cost, price_per_segment=price
        )
        self._price = (
            price
            if price is not None
            else check_price(getattr(chunk_sender, "price_per_segment", None))
        )
        _check(
            number_limiter is None or isinstance(number_limiter, NumberLimiting),
            "number_limiter",
            number_limiter,
            "number_limiter must be a per-number limiter (with acquire_many and release_many)",
            "Pass crowdsms.limits.NumberLimiter() or RedisNumberLimiter(redis), or None",
        )
        self.chunk_sender = chunk_sender
        self.config = JobConfig(
            chunk_size=size,
            concurrency=concurrency,
            rate=rate,
            burst=burst,
            slow_down=slow_down,
            recovery=recovery,
            chunk_retry=chunk_retry,
            runtime=runtime or Runtime(),
            progress=progress,
            progress_interval=progress_interval,
            stop_on_job_wide_error=stop_on_job_wide_error,
            resend_failed_chunks=resend_failed_chunks,
            shared_pace=shared_pace,
            resend_unconfirmed_after=resend_unconfirmed_after,
            honour_opt_outs=honour_opt_outs,
            opted_out=frozenset(_opted_out(chunk_sender, opted_out)),
            send_window=SendWindow.parse(send_window)
            if isinstance(send_window, str)
            else send_window,
            spend_cap=cap,
            number_limiter=number_limiter,
            target=check_target(target) if target is not None else target_of(chunk_sender),
        )
        self._group: TaskGroup | None = None
        self._streams: list[OutcomeStream] = []
        self._running: set[JobStop] = set()

    def stop(self, reason: str = "stopped by the caller") -> None:
        """Stop the running jobs taking new chunks; requests in flight finish.

        Each job then ends normally: recipients of chunks not sent are ``failed`` with code
        ``"not_sent"`` (input not read yet gets no outcome), the report says ``interrupted``,
        and with a journal those chunks stay pending, so running the job again sends them.
        """
        for stop in list(self._running):
            stop.interrupt(reason)

    async def _run(self, recipients: RecipientSource, **arguments: Any) -> BatchReport:
        stop = JobStop()
        self._running.add(stop)
        try:
            return await run_job(
                self.chunk_sender, recipients, config=self.config, stop=stop, **arguments
            )
        finally:
            self._running.discard(stop)

    async def preview(
        self,
        recipients: RecipientSource,
        *,
        journal: str | os.PathLike[str] | JobJournal | None = None,
        job_id: str | None = None,
        price_per_segment: float | Decimal | None = None,
        longest: int = DEFAULT_LONGEST,
    ) -> Preview:
        """What :meth:`send` would do with ``recipients``, without sending anything.

        Reads the whole input and screens and chunks it exactly as a job would (validation,
        duplicates, and the suppression list: ``opted_out`` and, with ``journal``, the
        journal's, read without changing the file; ``job_id`` names the job to resume, whose
        list is the one as of its start). Returns a :class:`~crowdsms.batch.Preview`: counts,
        invalid recipients by reason, requests, SMS segments (each message as the chunk
        sender's ``render`` gives it) with a histogram and the ``longest`` messages (numbers
        masked), and the estimated cost at ``price_per_segment`` CNY (default: the sender's,
        else the chunk sender's estimate). Segments are ``None`` when the chunk sender
        cannot give the text (the preview's ``segments_note`` says why). Memory stays flat:
        nothing is kept per recipient but the duplicate check's number. An input that
        cannot be read raises its :class:`InvalidInputError`.
        """
        price = check_price(price_per_segment)
        config = self.config
        return await run_preview(
            self.chunk_sender,
            recipients,
            chunk_size=config.chunk_size,
            price=price if price is not None else self._price,
            journal=journal,
            job_id=job_id,
            opted_out=config.opted_out,
            honour_opt_outs=config.honour_opt_outs,
            longest=longest,
        )

    def __repr__(self) -> str:
        config = self.config
        return (
            f"{type(self).__name__}({type(self.chunk_sender).__name__}, "
            f"chunk_size={config.chunk_size}, concurrency={config.concurrency}, "
            f"rate={config.rate})"
        )

    async def __aenter__(self) -> Self:
        group = anyio.create_task_group()
        await group.__aenter__()
        self._group = group
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        group, self._group = self._group, None
        if group is None:
            return None
        group.cancel_scope.cancel()  # streams not iterated to the end are stopped
        try:
            return await group.__aexit__(exc_type, exc, traceback)
        finally:
            streams, self._streams = self._streams, []
            for stream in streams:
                stream._close()

    async def send(
        self,
        recipients: RecipientSource,
        *,
        sink: OutcomeSink | OutcomeCallback | None = None,
        journal: str | os.PathLike[str] | JobJournal | None = None,
        job_id: str | None = None,
    ) -> BatchReport:
        """Send to every recipient; return the report when all have an outcome.

        ``recipients`` is any iterable or async iterable of
        :class:`~crowdsms.outcomes.Recipient` (or phone strings), read lazily. Outcomes go to
        ``sink`` in input order: an :class:`OutcomeSink` (:class:`JsonlSink`,
        :class:`CsvSink`...) or a function called with each :class:`BatchOutcome` (sync or
        async); ``None`` keeps only the counts of the report.

        ``journal`` is the path of a SQLite file recording each chunk before and after it is
        sent; ``job_id`` names the job in it (required with a journal). Running again with
        the same journal, job id and input resumes the job: see :mod:`crowdsms.batch`.
        Without a journal, ``job_id`` defaults to a random id. ``journal`` may also be an
        open :class:`~crowdsms.batch.JobJournal` (a campaign's shared claims), which the
        caller closes.

        Raises :class:`InvalidInputError` for bad arguments (bad recipients only get
        ``skipped`` outcomes) and :class:`JournalMismatchError` when the journal was
        recorded for another input. Cancelling leaves the journal consistent.

        An error met once the job has started (a row of ``recipients`` that cannot be read,
        an :class:`InvalidInputError`, or whatever else the input raises; a chunk the journal
        recorded differently, a :class:`JournalMismatchError`; a journal that can no longer
        be written, a :class:`JournalStorageError`; ``sink`` or ``progress`` failing, with its
        own error) stops the job as :meth:`stop` does: no new chunks are sent, requests in
        flight finish and are journaled, and the outcomes of every chunk read so far are
        counted (and written, but after a sink's failure). A chunk whose outcomes the journal
        could not record keeps them in the report and the sink, and stays started in the
        journal (``unknown`` on resume). Only then is the error raised, carrying the job's
        report: :func:`~crowdsms.batch.report_of` returns it, with ``stopped`` saying why,
        ``requests`` how many requests this run made (some may have been sent, unlike an
        error raised before the job started, which carries none) and ``sink_failed``
        whether the error is the sink's. With a journal, running the job again once the
        cause is fixed resumes it. Only a cancellation cancels the requests in flight.
        """
        check_source(recipients)
        return await self._run(
            recipients,
            sink=_as_sink(sink),
            job_id=_job_id(job_id, journal),
            journal_path=os.fspath(journal) if isinstance(journal, (str, os.PathLike)) else None,
            journal=None if journal is None or isinstance(journal, (str, os.PathLike)) else journal,
        )

    def stream(
        self,
        recipients: RecipientSource,
        *,
        journal: str | os.PathLike[str] | None = None,
        job_id: str | None = None,
    ) -> OutcomeStream:
        """Start a job and iterate its outcomes in input order: ``async for o in stream``.

        Needs ``async with BatchSender(...) as sender``: the job runs in the sender's task
        group. Arguments as for :meth:`send`. The stream's :attr:`OutcomeStream.report` is
        set once it is exhausted; an error of the job is raised by the iteration. Closing the
        stream early (``aclose``, or leaving ``async with stream``) or leaving the sender's
        ``async with`` cancels the job, leaving its journal consistent.
        """
        group = self._group
        if group is None:
            raise CrowdSMSError(
                "BatchSender.stream() needs a running sender",
                action=(
                    "Use `async with BatchSender(...) as sender:` and iterate "
                    "`sender.stream(...)` inside it, or call `await sender.send(...)`"
                ),
            )
        check_source(recipients)
        identifier = _job_id(job_id, journal)
        path = os.fspath(journal) if journal is not None else None
        send, receive = anyio.create_memory_object_stream[BatchOutcome](self.config.chunk_size)
        stream = OutcomeStream(receive, job_id=identifier)
        self._streams = [item for item in self._streams if not item.closed]
        self._streams.append(stream)
        group.start_soon(self._stream_job, recipients, identifier, path, send, stream)
        return stream

    async def _stream_job(
        self,
        recipients: RecipientSource,
        job_id: str,
        journal: str | None,
        send: MemoryObjectSendStream[BatchOutcome],
        stream: OutcomeStream,
    ) -> None:
        with stream._scope:
            try:
                stream._report = await self._run(
                    recipients,
                    sink=_StreamSink(send),
                    job_id=job_id,
                    journal_path=journal,
                )
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                pass  # the consumer closed the stream
            except Exception as exc:
                stream._error = exc
            finally:
                send.close()


class OutcomeStream:
    """The outcomes of a running job, in input order (from :meth:`BatchSender.stream`)."""

    def __init__(self, receive: MemoryObjectReceiveStream[BatchOutcome], *, job_id: str) -> None:
        self._receive = receive
        self._scope = anyio.CancelScope()
        self._report: BatchReport | None = None
        self._error: Exception | None = None
        self._closed = False
        self.job_id = job_id
        """The job's id (generated when none was given)."""

    @property
    def closed(self) -> bool:
        """Whether the stream was exhausted or closed."""
        return self._closed

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> BatchOutcome:
        try:
            return await self._receive.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            self._close()
            if self._error is not None:
                raise self._error from None
            raise StopAsyncIteration from None

    @property
    def report(self) -> BatchReport:
        """The job's report, once every outcome has been iterated."""
        if self._report is None:
            raise CrowdSMSError(
                f"job {self.job_id} has not finished, so it has no report yet",
                action="Iterate the stream to its end before reading its report",
            )
        return self._report

    async def aclose(self) -> None:
        """Stop the job (if still running) and close the stream."""
        self._scope.cancel()
        self._close()

    def _close(self) -> None:
        self._closed = True
        self._receive.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


class _StreamSink:
    """Feeds a job's outcomes to an :class:`OutcomeStream`."""

    def __init__(self, send: MemoryObjectSendStream[BatchOutcome]) -> None:
        self._send = send

    async def open(self) -> None:
        pass

    async def write(self, outcomes: Sequence[BatchOutcome]) -> None:
        for outcome in outcomes:
            await self._send.send(outcome)

    async def close(self) -> None:
        pass


def _as_sink(sink: OutcomeSink | OutcomeCallback | None) -> OutcomeSink | None:
    if sink is None or isinstance(sink, OutcomeSink):
        return sink
    if callable(sink):
        return CallbackSink(sink)
    raise InvalidInputError(
        f"sink must be an OutcomeSink or a function, not {type(sink).__name__}",
        field="sink",
        received=repr(sink)[:60],
        action="Pass JsonlSink(path), CsvSink(path), or a function taking a BatchOutcome",
    )


def _job_id(job_id: str | None, journal: object) -> str:
    if job_id is None:
        if journal is not None:
            raise InvalidInputError(
                "a journal needs a job_id, so that the job can be resumed by it",
                field="job_id",
                received="None",
                action="Pass job_id='...' (e.g. the campaign's name) together with journal=",
            )
        return uuid.uuid4().hex
    if not isinstance(job_id, str) or not job_id.strip():
        raise InvalidInputError(
            "job_id must be a non-empty string",
            field="job_id",
            received=repr(job_id)[:60],
            action="Pass job_id='...' (e.g. the campaign's name and date)",
        )
    return job_id


async def send_batch(
    chunk_sender: ChunkSender,
    recipients: RecipientSource,
    *,
    sink: OutcomeSink | OutcomeCallback | None = None,
    journal: str | os.PathLike[str] | None = None,
    job_id: str | None = None,
    **options: Unpack[BatchOptions],
) -> BatchReport:
    """Send to every recipient through ``chunk_sender`` and return the report.

    A shortcut for ``await BatchSender(chunk_sender, **options).send(recipients, ...)``;
    see :class:`BatchSender` for the options and :meth:`BatchSender.send` for the rest.
    """
    sender = BatchSender(chunk_sender, **options)
    return await sender.send(recipients, sink=sink, journal=journal, job_id=job_id)


async def preview_batch(
    chunk_sender: ChunkSender,
    recipients: RecipientSource,
    *,
    journal: str | os.PathLike[str] | None = None,
    job_id: str | None = None,
    longest: int = DEFAULT_LONGEST,
    **options: Unpack[BatchOptions],
) -> Preview:
    """What :func:`send_batch` would do, without sending anything: a :class:`Preview`.

    A shortcut for ``await BatchSender(chunk_sender, **options).preview(recipients, ...)``.
    """
    sender = BatchSender(chunk_sender, **options)
    return await sender.preview(recipients, journal=journal, job_id=job_id, longest=longest)


BlockingRunner = Callable[[Callable[[], Awaitable[BatchReport]]], BatchReport]
"""Runs a coroutine function to completion from blocking code (e.g. a portal's ``call``)."""


def run_batch_blocking(
    chunk_sender: ChunkSender,
    recipients: RecipientSource,
    *,
    sink: OutcomeSink | OutcomeCallback | None = None,
    journal: str | os.PathLike[str] | None = None,
    job_id: str | None = None,
    runner: BlockingRunner | None = None,
    backend: Literal["asyncio", "trio"] = "asyncio",
    **options: Unpack[BatchOptions],
) -> BatchReport:
    """:func:`send_batch` for blocking code: runs the job and returns its report.

    ``runner`` runs the job's coroutine function, e.g. the ``call`` of the blocking portal
    that owns the chunk sender's client (its connections live on that loop). Without one,
    the job runs on a new event loop (``anyio.run`` with ``backend``), which only suits a
    chunk sender not yet bound to a loop. Calling this from inside a running event loop
    raises :class:`~crowdsms.EventLoopBlockedError`: await
    :func:`send_batch` there instead.
    """

    async def job() -> BatchReport:
        return await send_batch(
            chunk_sender, recipients, sink=sink, journal=journal, job_id=job_id, **options
        )

    refuse_inside_event_loop(
        "run_batch_blocking()",
        action="In async code use `await send_batch(...)` or `BatchSender(...).send(...)`",
    )
    if runner is not None:
        return runner(job)
    return anyio.run(job, backend=backend)
