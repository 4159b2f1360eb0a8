"""Stopping a job early without losing or repeating anything.

A job stops taking new chunks when its owner asks (the first Ctrl-C of the command line,
:meth:`~crowdsms.batch.BatchSender.stop`) or, by default, after the first answer that would
fail every request the same way: refused credentials or signature, an exhausted balance, a
content or setting the provider refuses for the whole job (an error whose ``job_wide`` is
true). Requests already in flight finish and their answers are kept; every chunk not yet
sent ends with ``failed`` outcomes of code :data:`NOT_SENT`, which stay pending in a
journal, so resuming the job sends them. A chunk an earlier run's request may have sent
(which this run was to resend with its idempotency key) is never ``failed``: its
recipients are ``unknown`` (code :data:`INTERRUPTED`, or ``sent`` where a delivery report
confirmed them), and it stays started in the journal, for a later run to resend.

A job also stops when it cannot go on (:meth:`JobStop.halt`: an input that cannot be read
further, a sink that failed): as after the owner's request, it reads no more input, requests
in flight finish, and the job raises the error once drained, with its report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from crowdsms.batch._chunking import Block
from crowdsms.errors import CrowdSMSError
from crowdsms.outcomes import OutcomeStatus, Recipient, RecipientOutcome

__all__ = [
    "INTERRUPTED",
    "NOT_SENT",
    "JobStop",
    "interrupted_outcomes",
    "is_job_wide",
    "not_sent_outcomes",
    "unsent_outcomes",
]

NOT_SENT = "not_sent"
"""The ``code`` of the outcomes of recipients a stopped job did not send."""

INTERRUPTED = "interrupted"
"""The ``code`` of ``unknown`` outcomes of a chunk that was in flight when its job stopped."""


def is_job_wide(error: CrowdSMSError) -> bool:
    """Whether ``error`` would fail every request of the job the same way."""
    return bool(getattr(error, "job_wide", False))


class JobStop:
    """Whether, and why, one job stopped taking new chunks."""

    def __init__(self) -> None:
        self.reason: str | None = None
        """Why the job stopped, in a sentence; ``None`` while it runs."""
        self.error: CrowdSMSError | None = None
        """The error that stopped it, if one did."""
        self.interrupted = False
        """Whether its owner stopped it (rather than an error)."""
        self.halted = False
        """Whether it reads no more input: its owner stopped it, or an error it raises once
        drained did (:meth:`halt`)."""
        self.code = NOT_SENT
        """The ``code`` of the outcomes of chunks it did not send."""

    def __bool__(self) -> bool:
        return self.reason is not None

    def interrupt(self, reason: str) -> None:
        """Stop taking new chunks, because the owner asked (the first one to ask wins)."""
        if self.reason is None:
            self.reason = reason
            self.interrupted = True
            self.halted = True

    def halt(self, reason: str) -> None:
        """Stop taking new chunks and reading the input, because of an error the job raises
        once its requests in flight have finished (an input that cannot be read on, a
        journal recorded for another input, a sink that failed). The reason of an earlier
        stop stands."""
        self.halted = True
        if self.reason is None:
            self.reason = reason

    def fail(self, error: CrowdSMSError, *, code: str = NOT_SENT) -> None:
        """Stop taking new chunks after ``error``, which would fail them all the same way.

        The chunks not sent get outcomes of ``code`` (e.g. ``spend_cap``).
        """
        if self.reason is None:
            self.error = error
            self.reason = str(error)
            self.code = code


def not_sent_outcomes(
    recipients: Sequence[Recipient], reason: str, *, code: str = NOT_SENT
) -> list[RecipientOutcome]:
    """``failed`` (code :data:`NOT_SENT`, or ``code``) for recipients of a chunk a stopped
    job never sent."""
    message = f"not sent: the job stopped before this chunk ({reason})"
    return [
        RecipientOutcome(
            phone=recipient.phone,
            status=OutcomeStatus.FAILED,
            code=code,
            message=message,
            retryable=True,
        )
        for recipient in recipients
    ]


def interrupted_outcomes(
    block: Block, job_id: str, kept_out: Mapping[int, RecipientOutcome] | None = None
) -> list[RecipientOutcome]:
    """``unknown`` (code :data:`INTERRUPTED`) for every recipient of a chunk an earlier run
    of the job was sending when it stopped: the provider may have sent it; but for those
    per-number limits kept out of its request (``kept_out``, by offset), which keep their
    outcomes."""
    assert block.chunk_index is not None
    message = (
        f"chunk {block.chunk_index} of job {job_id!r} was being sent when the job stopped, so "
        "the provider may have sent it. Check its delivery reports before sending these "
        "recipients again"
    )
    outcomes = [
        RecipientOutcome(
            phone=recipient.phone, status=OutcomeStatus.UNKNOWN, code=INTERRUPTED, message=message
        )
        for recipient in block.recipients
    ]
    for offset, outcome in (kept_out or {}).items():
        outcomes[offset] = outcome
    return outcomes


def unsent_outcomes(block: Block, stop: JobStop) -> list[RecipientOutcome]:
    """The outcomes of a chunk that ``stop``'s job does not send: ``failed`` (not sent), or
    if an earlier run's request for it may have reached the provider, what that request
    left (:attr:`Block.earlier <crowdsms.batch._chunking.Block.earlier>`)."""
    if block.earlier is not None:
        return list(block.earlier)
    assert stop.reason is not None
    return not_sent_outcomes(block.recipients, stop.reason, code=stop.code)
