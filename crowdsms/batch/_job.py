"""One batch job: a fixed pool of workers that read, send and emit in input order.

::

    input --> [read + screen + cut a block] --> order (at most 4 x concurrency blocks)
                     one worker at a time          |            ^
                                                   v            |
                                worker: send the block, finish it, emit the done head

Each worker loops: it takes the *reader's turn* (one worker at a time reads the input,
screens each item, cuts the next block and records it in the journal), appends the block to
``order``, sends it, and then emits every finished block at the head of ``order``, in input
order, to the report and the sink. Whoever finishes the head block emits it and whatever
finished after it; one worker emits at a time, and a worker that finds another emitting goes
back to work (the emitting one picks its block up). No task sits between a plain input and
the workers and no stream hands each block over: a chunk costs a few deque operations. An
async input is the exception: an async generator may hold a cancel scope, a lock or context
variables across its ``yield``, so one task of its own reads it (and closes it) and hands
the workers batches of ``chunk_size`` items, one batch ahead at most. The reader lets other
tasks run, and a cancellation in, at least every 16 blocks.

``order`` is the reorder buffer. The reader waits while it holds ``4 x concurrency`` blocks,
so the blocks read but not yet emitted are at most ``4 x concurrency + 2`` (the buffer, one
being built and one being emitted), each spanning at most ``4 x chunk_size`` positions:
memory is proportional to the concurrency, never to the size of the job (apart from the
compact set of numbers seen, see :mod:`._screen`). A slow sink or stream consumer slows the
whole pipeline down; the sink and the progress callback are called by whichever worker
emits, so with ``concurrency=1`` a slow sink delays the next request.
"""

from __future__ import annotations

import inspect
import logging
import math
import uuid
from collections import deque
from collections.abc import (
    AsyncIterable,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from typing import Any, cast

import anyio
import anyio.lowlevel
import attrs
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from crowdsms._transport.policy import RetryPolicy
from crowdsms._transport.runtime import Runtime
from crowdsms.batch._budget import Budget, SpendCap
from crowdsms.batch._chunking import Block, Chunker, fingerprint, idempotency_key
from crowdsms.batch._confirm import (
    JobReports,
    Resend,
    ResendingJournal,
    ResendStates,
    unconfirmed_block,
)
from crowdsms.batch._control import FlowControl, SharedPace
from crowdsms.batch._dispatch import Dispatcher
from crowdsms.batch._input import RecipientSource, check_source
from crowdsms.batch._journal import (
    JobJournal,
    Journal,
    JournalError,
    JournalMismatchError,
    RecordedChunk,
)
from crowdsms.batch._limited import NUMBER_LIMITED, ChunkLimits
from crowdsms.batch._report import BatchProgress, BatchReport, Tally, report_of, with_report
from crowdsms.batch._screen import Screener, input_phone_of
from crowdsms.batch._sinks import OutcomeSink
from crowdsms.batch._stop import (
    JobStop,
    interrupted_outcomes,
    not_sent_outcomes,
    unsent_outcomes,
)
from crowdsms.batch._target import MAY_HAVE_REACHED
from crowdsms.batch._window import SendWindow
from crowdsms.errors import CrowdSMSError
from crowdsms.limits import NumberLimiting
from crowdsms.outcomes import ChunkSender, OutcomeStatus, Recipient, RecipientOutcome
from crowdsms.telemetry._batch import observe_job

__all__ = ["JOURNAL_FORMAT", "JobConfig", "ProgressCallback", "run_job"]

logger = logging.getLogger("crowdsms.batch")

ProgressCallback = Callable[[BatchProgress], "Awaitable[None] | None"]
"""Called with a :class:`BatchProgress`; may be a coroutine function."""

JOURNAL_FORMAT = 1

_Work = tuple[Block, "str | None", "Resend | None"]
_Batch = list[object] | Exception

_YIELD_EVERY = 16
"""A worker lets other tasks run at least once every this many chunks."""


@attrs.frozen(kw_only=True)
class JobConfig:
    """The settings of a job, checked by :class:`~crowdsms.batch.BatchSender`."""

    chunk_size: int
    concurrency: int
    rate: float | None
    burst: float | None
    slow_down: float
    recovery: float
    chunk_retry: RetryPolicy
    runtime: Runtime
    progress: ProgressCallback | None
    progress_interval: float
    stop_on_job_wide_error: bool = True
    resend_failed_chunks: bool = True
    shared_pace: SharedPace | None = None
    resend_unconfirmed_after: float | None = None
    honour_opt_outs: bool = True
    opted_out: frozenset[str] = frozenset()
    send_window: SendWindow | None = None
    spend_cap: SpendCap | None = None
    number_limiter: NumberLimiting | None = None
    target: Mapping[str, str] | None = None
    """Where the job sends (nothing secret), recorded in the journal and checked on resume."""

    @property
    def window(self) -> int:
        """Blocks the order stream buffers ahead of the emitter."""
        return 4 * self.concurrency


async def run_job(
    chunk_sender: ChunkSender,
    source: RecipientSource,
    *,
    config: JobConfig,
    sink: OutcomeSink | None,
    job_id: str,
    journal_path: str | None,
    stop: JobStop | None = None,
    journal: JobJournal | None = None,
) -> BatchReport:
    """Run one job to the end and return its report.

    ``journal_path`` opens (and closes) a SQLite journal; ``journal`` is one the caller
    opened and closes itself (a campaign's claims).

    ``stop``, when given, lets the caller stop the job taking new chunks
    (:meth:`JobStop.interrupt`); the job also stops itself after an error every chunk would
    meet, unless ``config.stop_on_job_wide_error`` is false.
    """
    check_source(source)
    owned = journal is None
    if journal_path is not None and journal is None:
        settings: dict[str, object] = {
            "format": JOURNAL_FORMAT,
            "chunk_size": config.chunk_size,
            "max_span": Chunker(config.chunk_size).max_span,
        }
        if config.target is not None:
            settings["target"] = dict(config.target)
        journal = await Journal.open(journal_path, job_id=job_id, settings=settings)
        if journal.resumed:
            logger.info(
                "batch: resuming job %s (%d chunks in the journal)",
                job_id,
                journal.recorded_chunks,
            )
    try:
        if sink is not None:
            await sink.open()
        try:
            job = _Job(
                chunk_sender,
                config=config,
                sink=sink,
                job_id=job_id,
                journal=journal,
                stop=stop if stop is not None else JobStop(),
            )
            report = await observe_job(
                job.run(source),
                job_id=job_id,
                chunk_size=config.chunk_size,
                concurrency=config.concurrency,
            )
        except BaseException as error:
            if sink is not None and not await _close_after_error(sink, job_id):
                stopped = report_of(error)
                if stopped is not None:  # its last outcomes may not have been written
                    with_report(error, attrs.evolve(stopped, sink_failed=True))
            raise
        if sink is not None:
            try:
                with anyio.CancelScope(shield=True):
                    await sink.close()
            except Exception as error:  # the last outcomes may not have been written
                with_report(error, attrs.evolve(report, sink_failed=True))
                raise
        return report
    finally:
        if journal is not None and owned:
            await journal.aclose()


async def _close_after_error(sink: OutcomeSink, job_id: str) -> bool:
    """Close ``sink`` after the job failed; whether it closed. A failure to close is
    logged; the job's error stands."""
    try:
        with anyio.CancelScope(shield=True):
            await sink.close()
    except Exception as error:
        logger.warning(
            "batch: job %s: the sink could not be closed either (%s: %s)",
            job_id,
            type(error).__name__,
            error,
        )
        return False
    return True


def _iterate(items: Any) -> Iterator[object]:
    """The items of an iterator that has ``__next__`` but no ``__iter__``."""
    while True:
        try:
            yield next(items)
        except StopIteration:
            return


def _all_failed(outcomes: Sequence[RecipientOutcome]) -> bool:
    """Whether no recipient of the chunk was sent: every one failed (or, with per-number
    limits, some were skipped as ``number_limited`` and every other one failed)."""
    failed = [o for o in outcomes if o.code != NUMBER_LIMITED]
    return bool(failed) and all(o.status is OutcomeStatus.FAILED for o in failed)


class _Job:
    def __init__(
        self,
        chunk_sender: ChunkSender,
        *,
        config: JobConfig,
        sink: OutcomeSink | None,
        job_id: str,
        journal: JobJournal | None,
        stop: JobStop,
    ) -> None:
        self._stop = stop
        self._error: Exception | None = None
        """The error that halted the job (see :meth:`_halt`), raised once it has drained."""
        self._sink_failed = False
        """Whether the sink failed: outcomes are still counted, no longer written."""
        self._progress_failed = False
        """Whether the progress callback raised: it is called no more."""
        self._items: Iterator[object] = iter(())
        """A plain input's items; for an async input, the batch being read."""
        self._batches: MemoryObjectReceiveStream[_Batch] | None = None
        """An async input's items, in batches its own task reads (see :meth:`_pump`)."""
        self._blocks_read = 0
        self._position = 0
        """Items read from the input so far."""
        self._input_done = False
        self._reading = False
        """Whether a worker has the reader's turn."""
        self._waiting: deque[anyio.Event] = deque()
        """Workers waiting for the reader's turn, first come first served: the turn is
        handed to one of them at a time (waking them all would cost each wake-up a task
        switch per block, O(concurrency) per block)."""
        self._order: deque[Block] = deque()
        """The reorder buffer: blocks read and not yet emitted, in input order."""
        self._room: anyio.Event | None = None
        """Set when a block leaves a full reorder buffer, if the reader waits for room."""
        self._emitting = False
        self._chunk_sender = chunk_sender
        self._config = config
        self._sink = sink
        self._job_id = job_id
        self._journal = journal
        self._fingerprinted = bool(getattr(journal, "checks_fingerprints", True))
        """Whether the journal compares chunk fingerprints (a campaign's does not)."""
        self._clock = config.runtime.monotonic
        self._started = self._clock()
        self._last_progress = -math.inf
        self._tally = Tally()
        self._screener = Screener.for_chunk_sender(chunk_sender)
        self._chunker = Chunker(config.chunk_size)
        self._keyed = bool(chunk_sender.supports_idempotency_key)
        self._control = FlowControl(
            concurrency=config.concurrency,
            rate=config.rate,
            burst=config.burst,
            slow_down=config.slow_down,
            recovery=config.recovery,
            clock=config.runtime.monotonic,
            sleep=config.runtime.sleep,
            shared=config.shared_pace,
            shared_rate=getattr(config.shared_pace, "rate", None),
        )
        self._dispatcher = Dispatcher(
            chunk_sender=chunk_sender,
            control=self._control,
            journal=journal,
            retry=config.chunk_retry,
            runtime=config.runtime,
            tally=self._tally,
            stop=stop,
            stop_on_job_wide_error=config.stop_on_job_wide_error,
            job_id=job_id,
            send_window=config.send_window,
            validated=True,  # the screener validated every recipient (or its promise did)
            on_journal_error=self._halt,
        )
        self._reports: JobReports | None = None
        self._budget = (
            Budget(config.spend_cap, chunk_sender, stop=stop, job_id=job_id)
            if config.spend_cap is not None
            else None
        )
        self._limits = (
            ChunkLimits(
                config.number_limiter,
                send=self._send,
                journal=journal,
                wall_time=config.runtime.wall_time,
                job_id=job_id,
                stop=stop,
                requested=self._dispatcher.requested,
                send_window=config.send_window,
                runtime=config.runtime,
            )
            if config.number_limiter is not None
            else None
        )

    async def _prepare(self) -> None:
        """Load the suppression list and, for a resumed job, the reports of its journal."""
        config = self._config
        journal = self._journal
        suppressed: frozenset[str] = frozenset()
        if config.honour_opt_outs:
            suppressed = frozenset(config.opted_out)
            read = getattr(journal, "opted_out", None) if journal is not None else None
            if read is not None:
                # The journal's list (100k numbers or more) is used as read, not copied,
                # unless numbers are also given.
                listed: frozenset[str] = await read()
                suppressed = suppressed | listed if suppressed else listed
        self._screener.suppressed = suppressed
        if self._budget is not None:
            await self._budget.load(journal)
        if journal is not None and (journal.resumed or config.resend_unconfirmed_after is not None):
            self._reports = JobReports(
                journal, job_id=self._job_id, resend_after=config.resend_unconfirmed_after
            )
            await self._reports.load()

    async def run(self, source: RecipientSource) -> BatchReport:
        failures: list[Exception] = []
        await self._prepare()
        logger.info(
            "batch: job %s starting (chunk_size=%d, concurrency=%d, rate=%s)",
            self._job_id,
            self._config.chunk_size,
            self._config.concurrency,
            self._config.rate,
        )
        async with anyio.create_task_group() as group:

            async def guarded(func: Callable[..., Awaitable[None]], *args: Any) -> None:
                try:
                    await func(*args)
                except Exception as exc:
                    # A failure the job did not expect (the expected ones halt it, see
                    # _halt): the job is broken off; it is raised as it is, not in an
                    # exception group, with what was counted so far.
                    failures.append(exc)
                    group.cancel_scope.cancel()

            pump = anyio.CancelScope()
            if isinstance(source, AsyncIterable):
                batches, self._batches = anyio.create_memory_object_stream[_Batch](1)
                group.start_soon(guarded, self._pump, source, batches, pump)
            else:
                assert isinstance(source, Iterable)
                items: object = iter(source)
                # An iterator without __iter__ (only __next__) is still read, as it was.
                self._items = items if isinstance(items, Iterator) else _iterate(items)
            async with anyio.create_task_group() as workers:
                for _ in range(self._config.concurrency):
                    workers.start_soon(guarded, self._work)
            pump.cancel()  # the job reads no more: stop reading ahead
        if self._batches is not None:
            self._batches.close()
        if failures:
            failure = failures[0]
            self._stop.halt(
                f"broken off by an unexpected {type(failure).__name__}: requests in flight "
                "were cancelled, and their recipients are unknown on resume"
            )
            raise with_report(failure, self._final_report())
        await self._emit_ready()  # what a failure while emitting left
        assert not self._order, "every block read was emitted"
        if self._journal is not None and not self._stop.halted:
            try:
                await self._journal.finish(self._chunker.chunks)
            except JournalError as exc:  # the input got shorter (all of it was sent), or
                self._halt(exc, "the job could not be marked finished")  # a full disk
        if not self._progress_failed:
            try:
                await self._report_progress(finished=True)
            except Exception as exc:
                self._halt(exc, "the progress callback raised")
        error = self._error
        report = self._final_report()
        logger.info("batch: %s", report)
        if error is not None:
            raise with_report(error, report)
        return report

    def _final_report(self) -> BatchReport:
        return self._tally.report(
            job_id=self._job_id,
            duration=self._clock() - self._started,
            resumed=self._journal is not None and self._journal.resumed,
            stopped=self._stop.reason,
            interrupted=self._stop.interrupted,
            sink_failed=self._sink_failed,
        )

    # -- reading: one worker at a time ------------------------------------------------------

    async def _next_work(self) -> _Work | None:
        """The next block to send, read from the input in the reader's turn; ``None`` at the end.

        Blocks that need no request (only skipped recipients, replayed from the journal,
        or cut after the job stopped) are finished and emitted on the way.
        """
        if self._reading:  # another worker has the reader's turn: wait to be handed it
            await self._wait_for_turn()
        else:
            self._reading = True
        try:
            if self._input_done:
                return None
            while True:
                block = await self._read_block()
                if block is None:
                    self._input_done = True
                    return None
                self._blocks_read += 1
                if self._blocks_read % _YIELD_EVERY == 0:
                    # Let other tasks run, and a cancellation in, at least this often: a
                    # chunk sender that never waits, or a long run of blocks that need no
                    # request (invalid rows, or the rest of a stopped job), would otherwise
                    # keep the event loop to itself.
                    await anyio.lowlevel.checkpoint()
                try:
                    work = await self._submit(block)
                except Exception as error:
                    # The chunk could not be recorded (a journal recorded for another input,
                    # or that cannot be written): no request for it; the job drains and
                    # raises the error.
                    if self._order and self._order[-1] is block and not block.done:
                        self._order.pop()  # no outcome: a resumed job reads it again
                    self._halt(error, self._unrecorded(error, block))
                    self._input_done = True
                    return None
                if work is not None:
                    return work
        except BaseException:
            self._input_done = True  # the input failed: no other worker reads on
            raise
        finally:
            self._pass_turn()

    async def _wait_for_turn(self) -> None:
        """Wait until the worker reading hands this one the reader's turn."""
        handed = anyio.Event()
        self._waiting.append(handed)
        try:
            await handed.wait()
        except BaseException:
            if handed.is_set():
                self._pass_turn()  # handed the turn as it was cancelled: pass it on
            else:
                self._waiting.remove(handed)
            raise

    def _pass_turn(self) -> None:
        """Give the reader's turn up: to the first worker waiting for it, if any."""
        if self._waiting:
            self._waiting.popleft().set()  # still reading, in that worker's name
        else:
            self._reading = False

    async def _read_block(self) -> Block | None:
        """Read items until a block closes; ``None`` once the input is done (or stopped)."""
        if self._input_done:
            return None
        window = self._config.window
        while len(self._order) >= window:  # the reorder buffer is full: wait for the emitter
            if self._room is None:
                self._room = anyio.Event()
            await self._room.wait()
        position = self._position
        stop = self._stop
        screen = self._screener.screen
        add = self._chunker.add
        try:
            while True:
                # Once per recipient: no call here that the usual item does not need.
                for item in self._items:  # a plain input, or the batch of an async one
                    if stop.halted:
                        break
                    if type(item) is Recipient and type(item.phone) is str:
                        input_phone = item.phone  # what input_phone_of(item) would return
                    else:
                        input_phone = input_phone_of(item)
                    block = add(position, screen(item, position, input_phone), input_phone)
                    position += 1
                    if block is not None:
                        return block
                else:
                    if self._batches is None:
                        break  # a plain input, read to its end
                    batch = await self._next_batch()
                    if batch is None:
                        break  # an async input, read to its end
                    self._items = iter(batch)
                    continue
                break  # stopped
        except Exception as exc:  # InvalidInputError, or whatever the input raised
            self._unreadable(exc, position)
        finally:
            self._position = position
        block = self._chunker.flush(position)
        if block is not None and not stop.halted:
            self._input_done = True  # read to the end: this last block is all that is left
            return block
        return None

    async def _next_batch(self) -> list[object] | None:
        """The next batch of an async input; ``None`` at its end. Raises what made it unreadable."""
        assert self._batches is not None
        try:
            batch = await self._batches.receive()
        except anyio.EndOfStream:
            return None
        if isinstance(batch, Exception):
            raise batch
        return batch

    async def _pump(
        self,
        source: AsyncIterable[object],
        batches: MemoryObjectSendStream[_Batch],
        scope: anyio.CancelScope,
    ) -> None:
        """Read an async input in one task of its own, in batches of ``chunk_size`` items.

        An async generator may hold a cancel scope, a lock or context variables across its
        ``yield``: it must be iterated, and closed, by one task. Workers take whole batches
        from this one, a batch ahead of the reader at most.
        """
        size = self._config.chunk_size
        try:
            with scope, batches:
                batch: list[object] = []
                try:
                    async for item in source:
                        batch.append(item)
                        if len(batch) >= size:
                            await batches.send(batch)
                            batch = []
                except Exception as error:  # InvalidInputError, or whatever the input raised
                    if batch:
                        await batches.send(batch)
                    await batches.send(error)
                    return
                if batch:
                    await batches.send(batch)
        except anyio.BrokenResourceError:
            pass  # the job stopped reading
        finally:
            close = getattr(source, "aclose", None)
            if close is not None:
                with anyio.CancelScope(shield=True):
                    await close()

    def _unrecorded(self, error: Exception, block: Block) -> str:
        """Why ``block`` could not be put in the reorder buffer, in words."""
        if isinstance(error, JournalMismatchError):
            return f"chunk {block.chunk_index} does not match the journal"
        if isinstance(error, JournalError):
            return f"chunk {block.chunk_index} could not be recorded in the journal"
        return f"chunk {block.chunk_index} could not be prepared for sending"

    def _unreadable(self, error: Exception, position: int) -> None:
        """The input could not be read past ``position``: stop, and raise ``error`` once
        drained (see :meth:`_halt`), so the job can be resumed once the input is fixed."""
        self._halt(error, f"the input could not be read after {position} recipients")

    def _halt(self, error: Exception, reason: str) -> None:
        """Stop like an interrupted job, because of ``error`` (the first one stands).

        No new chunks are taken and no more input is read; requests in flight finish and
        are journaled, and every block read so far is emitted. Then :meth:`run` raises
        ``error`` with the job's report (:func:`~crowdsms.batch.report_of`).
        """
        detail = (
            error.what if isinstance(error, CrowdSMSError) else f"{type(error).__name__}: {error}"
        )
        logger.warning(
            "batch: job %s: %s (%s); stopping once the requests in flight finish",
            self._job_id,
            reason,
            detail,
        )
        if self._error is None:
            self._error = error
        self._stop.halt(f"{reason} ({detail})")

    def _broken_off(
        self, block: Block, error: Exception, *, requested: bool
    ) -> list[RecipientOutcome]:
        """The outcomes of ``block`` when sending it raised ``error`` (not the chunk
        sender's, which makes outcomes); the journal keeps the chunk as it last had it.

        ``unknown`` if this run had begun its request (``requested``), or an earlier run's
        may have reached the provider; otherwise ``failed`` (not sent), as the journal has it
        pending: a spend cap's, a limiter's or a rate store's error before the request, say.
        A resumed job sends those, and only those.
        """
        what = f"sending chunk {block.chunk_index} of job {self._job_id!r} raised " + (
            f"{type(error).__name__} ({str(error)[:200]})"
        )
        if not requested:
            if block.earlier is not None:  # an earlier run's request may have reached it
                return list(block.earlier)
            return not_sent_outcomes(block.recipients, f"{what} before its request was made")
        message = (
            f"{what}; the request may have been made. "
            "Check the provider's delivery reports before sending these recipients again"
        )
        return [
            RecipientOutcome(
                phone=recipient.phone,
                status=OutcomeStatus.UNKNOWN,
                code=type(error).__name__,
                message=message,
            )
            for recipient in block.recipients
        ]

    async def _submit(self, block: Block) -> _Work | None:
        """Put ``block`` in the reorder buffer; return it as work if it needs a request."""
        self._order.append(block)
        index = block.chunk_index
        if index is None:  # only skipped recipients: already done
            await self._emit_ready()
            return None
        key = idempotency_key(self._job_id, index) if self._keyed else None
        resend: Resend | None = None
        if self._journal is not None:
            key, resend = await self._resume(block, index, key)
        if block.done:
            await self._emit_ready()
            return None
        if self._stop:
            assert self._stop.reason is not None
            if resend is not None:
                assert resend.states.previous is not None
                block.finish(resend.states.previous, replayed=True)
            else:  # unknown if an earlier run may have sent it (the journal keeps it started)
                block.finish(unsent_outcomes(block, self._stop))
            await self._emit_ready()
            return None
        return block, key, resend

    async def _settle(
        self,
        block: Block,
        index: int,
        key: str | None,
        outcomes: list[RecipientOutcome],
        recorded: RecordedChunk,
        *,
        replayed: bool = True,
    ) -> tuple[str | None, Resend | None]:
        """Apply the journal's reports to a recorded chunk; resend what is due, or replay."""
        if self._budget is not None:
            await self._budget.replayed(block, outcomes)
        reports = self._reports
        if reports is not None:
            outcomes = await reports.settle(
                index, recorded.started_at, outcomes, resent=recorded.resends > 0
            )
            if reports.due(recorded.last_sent, outcomes):
                assert reports.resend_after is not None
                sub, offsets = unconfirmed_block(block, outcomes)
                journal = self._journal
                assert journal is not None
                states = ResendStates(
                    cast("ResendingJournal", journal),
                    previous=outcomes,
                    offsets=offsets,
                    after=reports.resend_after,
                )
                number = recorded.resends + 1
                logger.warning(
                    "batch: job %s: chunk %d: %d recipients still unknown %.0f s after they "
                    "were sent, with no report; sending them again (resend %d, at-least-once: "
                    "some may get the message twice)",
                    self._job_id,
                    index,
                    len(offsets),
                    reports.resend_after,
                    number,
                )
                resend = Resend(block=block, sub=sub, states=states, number=number)
                return self._recorded_key(recorded, key), resend
        block.finish(outcomes, replayed=replayed)
        return key, None

    def _recorded_key(self, recorded: RecordedChunk, key: str | None) -> str | None:
        """The idempotency key to send a recorded chunk with: the one it was recorded with,
        if this job's chunk sender takes keys at all (a journal of a keyed run may be
        resumed with a sender that has none, where a key would make a lost answer look
        safe to retry)."""
        if not self._keyed:
            return None
        return recorded.idempotency_key or key

    async def _resume(
        self, block: Block, index: int, key: str | None
    ) -> tuple[str | None, Resend | None]:
        """Record the chunk in the journal, or act on what an earlier run recorded."""
        journal = self._journal
        assert journal is not None
        recorded = await journal.prepare(
            index,
            positions=block.positions,
            phones=[recipient.phone for recipient in block.recipients],
            fingerprint=fingerprint(block) if self._fingerprinted else "",
            idempotency_key=key,
        )
        if recorded is None:
            return key, None
        if recorded.state == "pending":
            # Its recorded key: a chunk reopened after failing has a fresh one, which the
            # provider may have seen since (the job's key it refused may still be remembered).
            sent_with = self._recorded_key(recorded, key)
            record_key = getattr(journal, "record_key", None)
            if sent_with != recorded.idempotency_key and record_key is not None:
                # A resumed job resends a chunk left started with its recorded key, which
                # must be the one the request carried: a key it did not carry (this sender
                # takes none) would not make the provider drop the copy; and one it did
                # carry, left unrecorded, would make the chunk unknown instead of resent.
                await record_key(index, sent_with)
            return sent_with, None
        if recorded.state == "done":
            assert recorded.outcomes is not None
            if self._config.resend_failed_chunks and _all_failed(recorded.outcomes):
                # The provider accepted none of them (refused, or never sent): safe to send
                # again, under a new key in case the provider remembers the refused one.
                fresh = f"{key}-{uuid.uuid4().hex[:8]}" if key is not None else None
                await journal.reopen(index, idempotency_key=fresh)
                logger.info(
                    "batch: job %s: chunk %d failed as a whole in an earlier run; sending it again",
                    self._job_id,
                    index,
                )
                return fresh, None
            return await self._settle(block, index, key, recorded.outcomes, recorded)
        # "started": the request may have reached the provider. With per-number limits it
        # may have carried part of the chunk only, so it is not sent again (see _limited);
        # the recipients the journal says the limits kept out of it are skipped, as they were.
        kept_out = recorded.kept_out or {}
        results = interrupted_outcomes(block, self._job_id, kept_out)
        if (
            self._keyed
            and recorded.idempotency_key is not None
            and self._limits is None
            and not kept_out
        ):
            if self._reports is not None:  # what reports confirm needs no resend
                results = await self._reports.settle(
                    index, recorded.started_at, results, resent=recorded.resends > 0
                )
            if any(outcome.status is OutcomeStatus.UNKNOWN for outcome in results):
                logger.info(
                    "batch: job %s: chunk %d was in flight when the job stopped; resending "
                    "it with the same idempotency key",
                    self._job_id,
                    index,
                )
                block.earlier = results  # if this run cannot send it
                return recorded.idempotency_key, None
        unknown = sum(outcome.status is OutcomeStatus.UNKNOWN for outcome in results)
        if unknown:
            logger.warning(
                "batch: job %s: chunk %d was in flight when the job stopped; %d of its %d "
                "recipients are reported as unknown",
                self._job_id,
                index,
                unknown,
                len(block.recipients),
            )
        elif len(kept_out) == len(results):
            logger.info(
                "batch: job %s: chunk %d: per-number limits had kept each of its recipients "
                "out of its request; they stay skipped",
                self._job_id,
                index,
            )
        else:
            logger.info(
                "batch: job %s: chunk %d was in flight when the job stopped; delivery "
                "reports confirm each of its recipients, so it is not sent again",
                self._job_id,
                index,
            )
        with anyio.CancelScope(shield=True):
            await journal.mark_done(index, results)
        return await self._settle(block, index, key, results, recorded, replayed=False)

    # -- workers ----------------------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            work = await self._next_work()
            if work is None:
                return
            block, key, resend = work
            requested = self._dispatcher.requested
            try:
                await self._send_block(block, key, resend)
            except Exception as error:
                if not block.done:
                    if resend is not None:
                        merged = resend.states.merged
                        block.finish(merged if merged is not None else resend.states.previous)
                    else:
                        block.finish(
                            self._broken_off(block, error, requested=block.chunk_index in requested)
                        )
                self._halt(error, f"sending chunk {block.chunk_index} failed")
            requested.discard(cast(int, block.chunk_index))
            await self._emit_ready()

    async def _send_block(self, block: Block, key: str | None, resend: Resend | None) -> None:
        """Send ``block`` (or resend its unconfirmed recipients) and finish it."""
        if resend is None:
            if self._limits is not None:
                block.finish(await self._limits.send(block, key))
            else:
                block.finish(await self._send(block, key))
        else:
            if self._limits is not None:  # a resend is another message to each number
                results = await self._limits.send(
                    resend.sub, key, journal=resend.states, resend=resend.number
                )
            else:
                results = await self._send(
                    resend.sub, key, journal=resend.states, resend=resend.number
                )
            merged = resend.states.merged
            if merged is None:  # stopped before the request: nothing was resent
                merged = resend.states.previous
            elif resend.states.resent_here:  # not another process's resend
                self._tally.resent += sum(result.status in MAY_HAVE_REACHED for result in results)
            block.finish(merged)

    async def _send(self, block: Block, key: str | None, **options: Any) -> list[RecipientOutcome]:
        """Send through the dispatcher, within the spend cap if there is one."""
        if self._budget is None:
            return await self._dispatcher.send(block, key, **options)
        return await self._budget.send(self._dispatcher, block, key, **options)

    # -- emitting ---------------------------------------------------------------------------

    async def _emit_ready(self) -> None:
        """Emit every finished block at the head of the reorder buffer, in input order.

        One worker emits at a time; another that finishes a block meanwhile returns at
        once, and the emitting one reaches its block in the same loop.
        """
        if self._emitting:
            return
        self._emitting = True
        try:
            order = self._order
            while order and order[0].done:
                block = order.popleft()
                room = self._room
                if room is not None:
                    self._room = None
                    room.set()
                replayed = len(block.recipients) if block.replayed else 0
                sink = self._sink
                if sink is None and not block.skipped:
                    # Only the counts are kept, and no skipped ones to count in input order:
                    # count the chunk's outcomes without merging them into BatchOutcomes.
                    self._tally.add_results(block.results or [], replayed=replayed)
                else:
                    outcomes = block.outcomes()
                    self._tally.add(outcomes, replayed=replayed)
                    if sink is not None and not self._sink_failed:
                        try:
                            await sink.write(outcomes)
                        except Exception as error:
                            # The outcomes are still counted; requests in flight finish and
                            # are journaled, then the job raises the error.
                            self._sink_failed = True
                            self._halt(error, "the outcomes could not be written")
                if not self._progress_failed:
                    try:
                        await self._report_progress()
                    except Exception as error:  # called no more; the job halts
                        self._progress_failed = True
                        self._halt(error, "the progress callback raised")
        finally:
            self._emitting = False

    async def _report_progress(self, *, finished: bool = False) -> None:
        callback = self._config.progress
        if callback is None:
            return
        now = self._clock()
        if not finished and now - self._last_progress < self._config.progress_interval:
            return
        self._last_progress = now
        snapshot = self._tally.progress(
            job_id=self._job_id,
            elapsed=now - self._started,
            rate_limit=self._control.rate_limit,
            concurrency_limit=self._control.concurrency_limit,
            finished=finished,
        )
        result = callback(snapshot)
        if inspect.isawaitable(result):
            await result
