"""Sending one chunk: pace it, journal it, send it, retry what is safe, and classify.

Every recipient of the chunk ends with exactly one outcome:

- the chunk sender's outcomes, when it returns one per recipient;
- ``unknown`` for all, when it returns the wrong number of outcomes (the request was made,
  so any of them may have been sent; code ``"wrong_outcome_count"``), or when it raises an
  exception that is not a :class:`~crowdsms.errors.CrowdSMSError` (a bug in the sender;
  the request may have been made; the error is logged and the job goes on);
- :func:`~crowdsms.outcomes.outcomes_for_error` for a :class:`~crowdsms.errors.CrowdSMSError`:
  ``unknown`` when its certainty is ``UNKNOWN``, ``failed`` otherwise; but never ``failed``
  after an earlier attempt that may have been sent (``unknown``, with that attempt's
  error), nor for a chunk an earlier run's request may have sent (``unknown``, code
  ``"interrupted"``, or ``sent`` where a report confirmed it), which the journal keeps
  started for a later run to resend with its key.

Retrying: the transport has already retried each request per its policy. A chunk that
still failed with certainty ``NOT_SENT`` (the provider provably did not act: a 429, a
refused connection, an exhausted retry budget...) is sent again by the batch sender later,
after a backoff (``chunk_retry``, by default 3 attempts in all, waits of 2 s then 4 s, or
the provider's ``Retry-After``), when a later attempt may succeed: any ``NOT_SENT``
transport error, and provider errors the code table marks retryable. ``UNKNOWN`` failures
are resent only when the chunk carries an idempotency key (the same key on every
attempt), which makes the provider drop a second copy; without one
they are never resent, and their recipients are reported ``unknown``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import anyio
import anyio.lowlevel

from crowdsms._transport.policy import RetryPolicy
from crowdsms._transport.runtime import Runtime
from crowdsms.batch._chunking import Block
from crowdsms.batch._control import FlowControl
from crowdsms.batch._journal import ChunkReleasedError, ChunkTakenError, JobJournal
from crowdsms.batch._report import Tally
from crowdsms.batch._stop import JobStop, is_job_wide, unsent_outcomes
from crowdsms.batch._window import SendWindow, wait_for_window
from crowdsms.deliveries._reference import chunk_reference
from crowdsms.errors import (
    CrowdSMSError,
    DeliveryCertainty,
    ProviderError,
    RateLimitedError,
    RequestError,
)
from crowdsms.outcomes import (
    CheckedRecipients,
    ChunkSender,
    OutcomeStatus,
    Recipient,
    RecipientOutcome,
    outcomes_for_error,
)
from crowdsms.telemetry._batch import observe_chunk, observe_chunk_request

__all__ = [
    "DEFAULT_CHUNK_RETRY",
    "WRONG_OUTCOME_COUNT",
    "ChunkStates",
    "Dispatcher",
    "unknown_outcomes",
]

logger = logging.getLogger("crowdsms.batch")

DEFAULT_CHUNK_RETRY = RetryPolicy(
    max_attempts=3, initial_delay=2.0, max_delay=30.0, jitter=0.25, max_retry_after=300.0
)
"""Chunk-level retries of ``NOT_SENT`` failures, on top of the transport's own retries."""

REPEATED_REFUSALS = 3
"""Whole chunks refused in a row with the same unknown code after which a job stops."""

WRONG_OUTCOME_COUNT = "wrong_outcome_count"
"""The ``code`` of outcomes of a chunk whose sender answered with the wrong count."""


def unknown_outcomes(
    block: Block, *, code: str, message: str, retryable: bool = False
) -> list[RecipientOutcome]:
    """``unknown`` for every recipient of the block."""
    return [
        RecipientOutcome(
            phone=recipient.phone,
            status=OutcomeStatus.UNKNOWN,
            code=code,
            message=message,
            retryable=retryable,
        )
        for recipient in block.recipients
    ]


async def _mark_sent_again(states: ChunkStates, index: int) -> None:
    """Have the journal record when a chunk an earlier run left started is sent again with
    its key, if it can (an optional method): a resend of unconfirmed recipients waits from
    then, while reports are still dated against the earlier request."""
    mark = getattr(states, "mark_sent_again", None)
    if mark is not None:
        with anyio.CancelScope(shield=True):
            await mark(index)


def _unanswered(block: Block, error: CrowdSMSError) -> list[RecipientOutcome]:
    """The outcomes of a chunk whose last attempt failed with ``error``; for a chunk an
    earlier run's request may have sent, never ``failed``, and ``sent`` where a delivery
    report confirmed it (see :func:`_after_earlier`)."""
    results = outcomes_for_error(block.recipients, error)
    if block.earlier is not None:
        results = _after_earlier(block.earlier, results, answered=False)
    return results


def _after_earlier(
    earlier: Sequence[RecipientOutcome],
    results: Sequence[RecipientOutcome],
    *,
    answered: bool,
) -> list[RecipientOutcome]:
    """The outcomes of a chunk an earlier run's request may have sent (``earlier``: each
    ``unknown``, or ``sent`` where a delivery report confirmed it), after this run's last
    attempt (``results``; ``answered`` if the chunk sender answered for each recipient).

    What a report confirmed stays ``sent`` whatever this run met, unless this run's answer
    says ``sent`` too. This run's ``failed`` stands only as the provider's answer (with the
    same idempotency key, it answers as it did the first time); from an error, it says
    nothing of the earlier request: the earlier outcome stands.
    """
    merged = []
    for before, now in zip(earlier, results, strict=True):
        confirmed = before.status is OutcomeStatus.SENT
        unsent_now = now.status is OutcomeStatus.FAILED and not answered
        keep = now.status is not OutcomeStatus.SENT and (confirmed or unsent_now)
        merged.append(before if keep else now)
    return merged


def _provably_not_sent(error: CrowdSMSError) -> bool:
    """Whether the request that failed with ``error`` provably never reached the provider."""
    return not isinstance(error, RequestError) or error.certainty is DeliveryCertainty.NOT_SENT


def _retryable(error: CrowdSMSError, *, keyed: bool) -> bool:
    if not isinstance(error, RequestError):
        return False  # e.g. InvalidInputError raised by send_chunk before any request
    if error.certainty is not DeliveryCertainty.NOT_SENT:
        return keyed  # the provider drops a second request with the same key
    if isinstance(error, ProviderError):
        return error.retryable
    return True


async def _acquire(limiter: anyio.CapacityLimiter) -> None:
    """``limiter.acquire()``, without yielding to the event loop when a token is free.

    anyio's ``acquire`` always lets other tasks run after taking a free token; once per
    request that is a measurable part of a batch job's CPU time, and the request itself
    yields soon enough. Cancellation is still checked first, as ``acquire`` does.
    """
    await anyio.lowlevel.checkpoint_if_cancelled()
    try:
        limiter.acquire_nowait()
    except anyio.WouldBlock:
        await limiter.acquire()


class ChunkStates(Protocol):
    """The part of a journal that sending one chunk uses."""

    async def mark_started(self, index: int) -> None:
        """Record that chunk ``index`` is about to be sent."""
        ...

    async def mark_pending(self, index: int) -> None:
        """Record that chunk ``index`` was not sent after all."""
        ...

    async def mark_done(self, index: int, outcomes: Sequence[RecipientOutcome]) -> None:
        """Record the outcomes of chunk ``index``."""
        ...

    async def wait_outcomes(self, index: int, phones: Sequence[str]) -> list[RecipientOutcome]:
        """The outcomes of a chunk another process took."""
        ...


class Dispatcher:
    """Sends blocks for one job; shared by its workers.

    Where the chunk sender has ``supports_reference``, each request carries the chunk's
    reference (see :func:`~crowdsms.deliveries.chunk_reference`), which the provider repeats
    in its reports, so that reports name the chunk even when the answer was lost.

    ``validated`` says that every block's recipients are ones ``chunk_sender.validate``
    returned, or by its ``valid_as_given_with_vars`` promise would return (the job's
    screener checked them): each chunk then goes to ``send_chunk`` as
    :class:`~crowdsms.outcomes.CheckedRecipients` of that chunk sender, which does not check
    them again.
    """

    def __init__(
        self,
        *,
        chunk_sender: ChunkSender,
        control: FlowControl,
        journal: JobJournal | None,
        retry: RetryPolicy,
        runtime: Runtime,
        tally: Tally,
        stop: JobStop,
        stop_on_job_wide_error: bool,
        job_id: str = "",
        send_window: SendWindow | None = None,
        validated: bool = False,
        on_journal_error: Callable[[Exception, str], None] | None = None,
    ) -> None:
        self._job_id = job_id
        self._on_journal_error = on_journal_error
        """Called (with the error and why) when a journal write fails; the job then halts
        and the chunk's outcomes are kept in memory. Without it, the error is raised."""
        self._validated = validated
        self._window = send_window
        self._referenced = bool(getattr(chunk_sender, "supports_reference", False))
        self._stop = stop
        self._stop_on_job_wide_error = stop_on_job_wide_error
        self._refusals: tuple[str, int] = ("", 0)
        """The code of the last whole-chunk refusals in a row, and how many."""
        self._chunk_sender = chunk_sender
        self._control = control
        self._journal = journal
        self._retry = retry
        self._runtime = runtime
        self._tally = tally
        self.requested: set[int] = set()
        """The chunks whose request this run has begun, or that another process took (it
        may be sending them), and whose send has not returned: a chunk not in it when its
        send raised was never requested (the job removes each chunk once its send returns
        or raised)."""

    @observe_chunk
    async def send(
        self,
        block: Block,
        key: str | None,
        *,
        journal: ChunkStates | None = None,
        resend: int = 0,
    ) -> list[RecipientOutcome]:
        """Send the block's chunk (with retries) and return one outcome per recipient.

        With a journal, the chunk is ``started`` before each request, ``pending`` again
        while waiting to resend after a ``NOT_SENT`` failure, and ``done`` with its outcomes
        after the last request; ``started`` and ``done`` are written even if the job is
        being cancelled. A chunk an earlier run left started (``block.earlier``) stays
        started, with that run's send time, until an answer comes: a request of this run
        that provably did not go leaves it as it was. ``journal`` replaces the job's journal
        for this chunk (a resend records its states its own way); ``resend`` numbers a
        resend in the reference.
        """
        assert block.chunk_index is not None
        states: ChunkStates | None = journal if journal is not None else self._journal
        index = block.chunk_index
        reference = chunk_reference(self._job_id, index, resend) if self._referenced else None
        # A chunk an earlier run left started keeps that run's mark (and send time).
        started = block.earlier is not None
        ambiguous: CrowdSMSError | None = None  # an earlier attempt that may have been sent
        record = True  # the outcomes go to the journal (the chunk is done)
        told: tuple[Any, CrowdSMSError | None] | None = None  # for the shared limit
        attempt = 0
        while True:
            attempt += 1
            limiter = self._control.limiter
            await _acquire(limiter)
            try:
                permit = await self._control.pace(len(block.recipients))
                if self._window is not None:  # after the pace, which may wait too
                    await wait_for_window(self._window, self._runtime, self._stop)
                if self._stop:
                    return self._stopped(block, ambiguous)
                if states is not None and block.earlier is not None:
                    try:
                        await _mark_sent_again(states, index)
                    except Exception as failure:
                        self._journal_failed(failure, index, "its new send could not be recorded")
                        return self._stopped(block, ambiguous)
                if states is not None and not started:
                    try:
                        await self._mark_started(states, index)
                    except ChunkTakenError:
                        # Another process claimed it first: it sends it; take its outcomes.
                        # Requested, as far as this run can tell: that process may be
                        # sending it, so an error while waiting leaves it unknown.
                        self.requested.add(index)
                        phones = [recipient.phone for recipient in block.recipients]
                        try:
                            return list(await states.wait_outcomes(index, phones))
                        except ChunkReleasedError:
                            attempt -= 1  # given back unsent: claim it again, send it here
                            if ambiguous is None:  # no request of this run either
                                self.requested.discard(index)
                            continue
                    except Exception as failure:
                        # Nothing sent: the journal keeps the chunk as it had it (pending, or
                        # started if the write went through after all: unknown on resume).
                        self._journal_failed(failure, index, "its request could not be recorded")
                        return self._stopped(block, ambiguous)
                    started = True
                generation = self._control.generation
                self.requested.add(index)
                outcome = await self._attempt(block, key, reference)
            finally:
                limiter.release()
            if isinstance(outcome, list):
                results = outcome
                if block.earlier is not None:  # what reports confirmed stays confirmed
                    results = _after_earlier(block.earlier, results, answered=True)
                self._refusals = ("", 0)
                told = (permit, None)
                break
            error = outcome
            self._tally.retries += max(0, getattr(error, "attempts", 1) - 1)
            # The shared limit hears of a 429 once the journal has the chunk's state: a
            # Ctrl-C while telling it must not leave a chunk provably not sent started.
            told = (permit, error) if isinstance(error, RateLimitedError) else None
            if isinstance(error, RateLimitedError):
                self._control.rate_limited(generation)
            if not _provably_not_sent(error):
                ambiguous = error
            delay = self._retry_delay(error, attempt, keyed=key is not None)
            if delay is None:
                # A refusal after an attempt that may have been sent proves nothing about
                # that one: the recipients are unknown, never failed (failed invites a resend).
                results = _unanswered(block, ambiguous or error)
                if block.earlier is not None and ambiguous is None:
                    # This run sent nothing: the chunk stays started, as the earlier run
                    # left it, for a later run to resend with its key.
                    record = False
                    block.left_in_flight = True
                if self._stop_on_job_wide_error and self._stops_the_job(error):
                    if not self._stop:
                        logger.warning(
                            "batch: chunk %d failed in a way every chunk would (%s); "
                            "the job sends no more chunks",
                            index,
                            error,
                        )
                    self._stop.fail(error)
                break
            logger.info(
                "batch: chunk %d not sent (%s); trying again in %.1f s",
                index,
                type(error).__name__,
                delay,
            )
            self._tally.retries += 1
            if ambiguous is None:
                self.requested.discard(index)  # no request of this run may have reached it
            if states is not None and ambiguous is None and block.earlier is None:
                # Provably not sent: while waiting, the chunk is pending again, so a crash
                # during the wait sends it instead of making its recipients unknown. A keyed
                # chunk that may have been sent stays started: a resumed job then resends it
                # with its recorded key, or (with per-number limits, where the request may
                # have carried part of the chunk only) reports it unknown. Shielded: a
                # Ctrl-C now must not leave it started, and its recipients unknown.
                try:
                    with anyio.CancelScope(shield=True):
                        await states.mark_pending(index)
                except Exception as failure:
                    # The journal keeps it started (unknown on resume, the safe side).
                    self._journal_failed(failure, index, "its retry could not be recorded")
                    block.left_in_flight = True
                    if told is not None:
                        await self._control.shared_answer(*told)
                    return unsent_outcomes(block, self._stop)
                started = False
            if told is not None:
                await self._control.shared_answer(*told)
            await self._runtime.sleep(delay)
        if states is not None and record:
            try:
                with anyio.CancelScope(shield=True):  # the outcomes of a sent chunk are kept
                    await states.mark_done(index, results)
            except Exception as failure:
                # Its outcomes are kept in memory (counted, written to the sink); the journal
                # keeps the chunk started, so a resumed job reports it unknown (or resends it
                # with its key), never sends it as new.
                self._journal_failed(failure, index, "its outcomes could not be recorded")
                block.left_in_flight = True
        if told is not None:
            await self._control.shared_answer(*told)
        return results

    def _stopped(self, block: Block, ambiguous: CrowdSMSError | None) -> list[RecipientOutcome]:
        """The outcomes of a chunk this run sends no more because the job stopped."""
        if ambiguous is not None:
            # An earlier attempt may have been sent: its recipients are unknown, and the
            # journal keeps the chunk started (in flight).
            block.left_in_flight = True
            return _unanswered(block, ambiguous)
        # Never sent by this run (a chunk waiting to be resent is pending again): a resumed
        # job sends it. Unknown if an earlier run's request may have reached the provider
        # (the journal keeps it started).
        block.left_in_flight = block.earlier is not None
        return unsent_outcomes(block, self._stop)

    def _journal_failed(self, error: Exception, index: int, what: str) -> None:
        """A journal write for chunk ``index`` failed: halt the job (raise without a job)."""
        if self._on_journal_error is None:
            raise error
        self._on_journal_error(error, f"chunk {index}: {what} in the journal")

    def _stops_the_job(self, error: CrowdSMSError) -> bool:
        """Whether ``error`` (a chunk's final one) means every chunk would fail alike.

        Known job-wide refusals stop at once; a provider code crowdsms does not know stops
        once it has refused :data:`REPEATED_REFUSALS` whole chunks in a row.
        """
        if is_job_wide(error):
            return True
        if not isinstance(error, ProviderError):
            return False
        if error.certainty is not DeliveryCertainty.NOT_SENT or error.retryable:
            return False
        code, count = self._refusals
        count = count + 1 if code == error.code else 1
        self._refusals = (error.code, count)
        return count >= REPEATED_REFUSALS

    async def _mark_started(self, journal: ChunkStates, index: int) -> None:
        with anyio.CancelScope(shield=True):
            await journal.mark_started(index)
        try:
            await anyio.lowlevel.checkpoint_if_cancelled()
        except anyio.get_cancelled_exc_class():
            # Cancelled before the request was made: the chunk is still only pending.
            with anyio.CancelScope(shield=True):
                await journal.mark_pending(index)
            raise

    def _retry_delay(self, error: CrowdSMSError, attempt: int, *, keyed: bool) -> float | None:
        if not _retryable(error, keyed=keyed) or attempt >= self._retry.max_attempts:
            return None
        retry_after = getattr(error, "retry_after", None)
        return self._retry.delay(attempt, retry_after, self._runtime.random)

    @observe_chunk_request
    async def _attempt(
        self, block: Block, key: str | None, reference: str | None = None
    ) -> list[RecipientOutcome] | CrowdSMSError:
        """One request: the outcomes, or the CrowdSMSError to handle."""
        index = block.chunk_index
        count = len(block.recipients)
        self._tally.requests += 1
        sender = self._chunk_sender
        recipients: Sequence[Recipient] = block.recipients
        if self._validated:
            recipients = CheckedRecipients(recipients, checked_by=sender)
        try:
            if reference is None:
                results = await sender.send_chunk(recipients, idempotency_key=key)
            else:
                send: Any = sender.send_chunk
                results = await send(recipients, idempotency_key=key, reference=reference)
        except CrowdSMSError as exc:
            return exc
        except Exception as exc:
            logger.exception(
                "batch: chunk %d: the chunk sender raised %s; its %d recipients are reported "
                "as unknown",
                index,
                type(exc).__name__,
                count,
            )
            return unknown_outcomes(
                block,
                code=type(exc).__name__,
                message=(
                    f"sending chunk {index} raised an unexpected {type(exc).__name__} "
                    f"({str(exc)[:200]}); the request may have been sent. Check the "
                    "provider's delivery reports before sending these recipients again, "
                    "and report this error"
                ),
            )
        if len(results) != count:
            logger.error(
                "batch: chunk %d: the chunk sender returned %d outcomes for %d recipients; "
                "they are reported as unknown",
                index,
                len(results),
                count,
            )
            return unknown_outcomes(
                block,
                code=WRONG_OUTCOME_COUNT,
                message=(
                    f"the chunk sender returned {len(results)} outcomes for {count} "
                    "recipients, so they cannot be matched; the request was sent, so each "
                    "recipient may have got the message. Check the provider's delivery "
                    "reports before sending again"
                ),
            )
        self._control.succeeded()
        return list(results)
