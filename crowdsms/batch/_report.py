"""What a batch job hands back: one outcome per input position, progress, a final report."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TypeVar

import attrs

from crowdsms.outcomes import DeliveryState, OutcomeStatus, RecipientOutcome
from crowdsms.telemetry._batch import observe_emitted

__all__ = ["BatchOutcome", "BatchProgress", "BatchReport", "report_of", "with_report"]

_ATTRIBUTE = "batch_report"
"""The attribute of an error that carries the report of the job it stopped."""


@attrs.frozen
class BatchOutcome:
    """The outcome of the recipient at ``position`` (0-based) in the input.

    ``input_phone`` is the number exactly as it was given; ``outcome.phone`` is the number as
    sent (normalized), or as given for a skipped recipient.
    """

    position: int
    input_phone: str
    outcome: RecipientOutcome

    @property
    def status(self) -> OutcomeStatus:
        """Shortcut for ``outcome.status``."""
        return self.outcome.status

    @property
    def phone(self) -> str:
        """Shortcut for ``outcome.phone``: the number as sent (or as given, if skipped)."""
        return self.outcome.phone

    def to_dict(self) -> dict[str, object]:
        """A flat, JSON-ready dict (the format of the JSONL and CSV sinks).

        ``confirmed``, ``delivery`` (``delivered``, ``undelivered``, ``awaiting``, or null
        before any reconciliation), ``delivery_code`` and ``provider`` come last, so CSV
        readers of the earlier columns are unaffected.
        """
        outcome = self.outcome
        return {
            "position": self.position,
            "input_phone": self.input_phone,
            "phone": outcome.phone,
            "status": outcome.status.value,
            "message_id": outcome.message_id,
            "fee": outcome.fee,
            "code": outcome.code,
            "message": outcome.message,
            "retryable": outcome.retryable,
            "confirmed": outcome.confirmed,
            "delivery": outcome.delivery.state.value if outcome.delivery else None,
            "delivery_code": outcome.delivery.code if outcome.delivery else None,
            "provider": outcome.provider,
        }


@attrs.frozen(kw_only=True)
class BatchProgress:
    """A snapshot of a running job, for progress bars.

    ``done`` recipients have their outcome (``sent + failed + unknown + skipped``);
    ``per_second`` is ``done / elapsed``. ``rate_limit`` and ``concurrency_limit`` are the
    current limits, lower than configured while the sender is slowing down after a 429.
    ``finished`` is true for the last call.
    """

    job_id: str
    done: int
    sent: int
    failed: int
    unknown: int
    skipped: int
    elapsed: float
    per_second: float
    rate_limit: float | None
    concurrency_limit: int
    finished: bool = False


@attrs.frozen(kw_only=True)
class BatchReport:
    """The summary of a finished job.

    ``by_status`` and ``by_code`` count outcomes (``by_code`` only those with a code:
    failed, unknown and skipped ones, e.g. ``"invalid"``, ``"duplicate"``, a provider's
    code). ``fees`` adds up the provider's fees of sent messages. ``requests`` counts the
    chunk requests made by this run; ``retries`` the retries known to it (chunks resent by
    the batch sender, plus the transport's retries reported by errors; retries inside
    calls that succeeded are not reported by providers and not counted). ``replayed`` counts
    outcomes re-emitted from the journal of an earlier run of the same job (they are also in
    ``by_status``). ``duration`` is in seconds.
    """

    job_id: str
    total: int
    by_status: Mapping[OutcomeStatus, int]
    by_code: Mapping[str, int]
    fees: float
    requests: int
    retries: int
    replayed: int
    duration: float
    resumed: bool = False
    stopped: str | None = None
    """Why the job stopped taking new chunks before the end, if it did: the error every chunk
    would have met, the owner's request, or an error the job raised with this report
    (:func:`report_of`). Its unsent recipients are ``failed`` with code ``"not_sent"``, and a
    resumed job sends them."""
    interrupted: bool = False
    """Whether the owner stopped it (Ctrl-C, :meth:`BatchSender.stop`) rather than an error."""
    examples: Mapping[str, str] = attrs.field(factory=dict)
    """One message for each code in ``by_code`` (the first seen), to say why."""
    confirmed: int = 0
    """Sent recipients that were ``unknown`` until a provider's report confirmed them."""
    resent: int = 0
    """Recipients this run sent again because no report confirmed them in time
    (``resend_unconfirmed_after``): at-least-once, they may have got the message twice."""
    by_delivery: Mapping[DeliveryState, int] = attrs.field(factory=dict)
    """Sent recipients by delivery state, for those whose state is known (a resumed job
    applies the reports its journal holds)."""
    sink_failed: bool = False
    """Whether the sink failed: the outcomes from then on were counted here but not
    written. The error raised with this report (:func:`report_of`) is the sink's, unless
    another one stopped the job first (a journal on the same full disk, say)."""

    @property
    def complete(self) -> bool:
        """Whether every recipient that was not skipped was sent (a job that stopped early
        never is: it may not have read all of its input)."""
        return (
            self.sent + self.skipped == self.total and not self.interrupted and self.stopped is None
        )

    @property
    def sent(self) -> int:
        """Recipients the provider accepted."""
        return self.by_status.get(OutcomeStatus.SENT, 0)

    @property
    def failed(self) -> int:
        """Recipients the provider refused or that could not be sent."""
        return self.by_status.get(OutcomeStatus.FAILED, 0)

    @property
    def unknown(self) -> int:
        """Recipients that may have been sent: check delivery reports before resending."""
        return self.by_status.get(OutcomeStatus.UNKNOWN, 0)

    @property
    def skipped(self) -> int:
        """Recipients not sent because they were invalid or duplicates."""
        return self.by_status.get(OutcomeStatus.SKIPPED, 0)

    def __str__(self) -> str:
        text = (
            f"job {self.job_id}: {self.total} recipients, {self.sent} sent, "
            f"{self.failed} failed, {self.unknown} unknown, {self.skipped} skipped"
        )
        if self.by_code:
            top = sorted(self.by_code.items(), key=lambda item: -item[1])[:5]
            text += "; codes " + ", ".join(f"{code} x{count}" for code, count in top)
        text += (
            f"; fees {self.fees:g}; {self.requests} requests, {self.retries} retries, "
            f"{self.duration:.1f} s"
        )
        if self.replayed:
            text += f"; {self.replayed} from the journal"
        if self.confirmed:
            text += f"; {self.confirmed} confirmed by reports"
        if self.resent:
            text += f"; {self.resent} resent without a report (at-least-once)"
        if self.by_delivery:
            text += "; delivery " + ", ".join(
                f"{state.value} {count}" for state, count in self.by_delivery.items()
            )
        if self.stopped is not None:
            text += f"; stopped early: {self.stopped}"
        return text


_E = TypeVar("_E", bound=BaseException)


def with_report(error: _E, report: BatchReport) -> _E:
    """``error``, carrying ``report`` for :func:`report_of`."""
    setattr(error, _ATTRIBUTE, report)
    return error


def report_of(error: BaseException) -> BatchReport | None:
    """The report of the batch job that stopped on ``error`` after it had started, if it did.

    A job that cannot go on (its input cannot be read further, its journal was recorded
    for another input, its sink failed) stops as :meth:`BatchSender.stop
    <crowdsms.batch.BatchSender.stop>` does: no new chunks, requests in flight finish and
    are journaled, and every recipient of a chunk read so far has its outcome, counted in
    the report and written to the sink (but after the sink's own failure). Then it raises
    the error, which carries the job's report: its ``stopped`` says why, its ``requests``
    whether this run made any (``0``: nothing was sent), its ``sink_failed`` whether the
    sink failed (the outcomes from then on are not in it). This holds for any
    :class:`Exception` met once the job has started (a journal that can no longer be
    written, a progress callback or an input that raises). ``None`` for an error raised
    before the job started (bad arguments, a sink or journal that cannot be opened), or by
    a job that was cancelled (Ctrl-C, a cancel scope: requests in flight are cancelled too).
    """
    report = getattr(error, _ATTRIBUTE, None)
    return report if isinstance(report, BatchReport) else None


class Tally:
    """Running counts for one job (private to the batch package)."""

    def __init__(self) -> None:
        self.by_status: Counter[OutcomeStatus] = Counter()
        self.by_code: Counter[str] = Counter()
        self.fees = 0.0
        self.total = 0
        self.replayed = 0
        self.requests = 0
        self.retries = 0
        self.confirmed = 0
        self.resent = 0
        self.by_delivery: Counter[DeliveryState] = Counter()
        self.examples: dict[str, str] = {}
        """The first message seen for each code."""

    @observe_emitted
    def add(self, outcomes: Sequence[BatchOutcome], *, replayed: int) -> None:
        """Count emitted outcomes, ``replayed`` of which came from the journal."""
        self._count(item.outcome for item in outcomes)
        self.total += len(outcomes)
        self.replayed += replayed

    @observe_emitted
    def add_results(self, results: Sequence[RecipientOutcome], *, replayed: int) -> None:
        """Count a chunk's outcomes, in order (a block without skipped recipients)."""
        self._count(results)
        self.total += len(results)
        self.replayed += replayed

    def _count(self, outcomes: Iterable[RecipientOutcome]) -> None:
        by_status = self.by_status
        sent = OutcomeStatus.SENT
        sent_count = 0  # most outcomes: counted at the end, not one by one
        fees = self.fees  # added in the same order as one by one: the same float
        for outcome in outcomes:
            status = outcome.status
            if status is sent:
                sent_count += 1
                fee = outcome.fee
                if fee is not None:
                    fees += fee
                if outcome.delivery is not None:
                    self.by_delivery[outcome.delivery.state] += 1
                    self.confirmed += outcome.confirmed
                continue
            by_status[status] += 1
            if outcome.code is not None:
                self.by_code[outcome.code] += 1
                if outcome.code not in self.examples and outcome.message:
                    self.examples[outcome.code] = outcome.message
        self.fees = fees
        if sent_count:
            by_status[sent] += sent_count

    def progress(
        self,
        *,
        job_id: str,
        elapsed: float,
        rate_limit: float | None,
        concurrency_limit: int,
        finished: bool = False,
    ) -> BatchProgress:
        """A snapshot for the progress callback."""
        return BatchProgress(
            job_id=job_id,
            done=self.total,
            sent=self.by_status[OutcomeStatus.SENT],
            failed=self.by_status[OutcomeStatus.FAILED],
            unknown=self.by_status[OutcomeStatus.UNKNOWN],
            skipped=self.by_status[OutcomeStatus.SKIPPED],
            elapsed=elapsed,
            per_second=self.total / elapsed if elapsed > 0 else 0.0,
            rate_limit=rate_limit,
            concurrency_limit=concurrency_limit,
            finished=finished,
        )

    def report(
        self,
        *,
        job_id: str,
        duration: float,
        resumed: bool,
        stopped: str | None = None,
        interrupted: bool = False,
        sink_failed: bool = False,
    ) -> BatchReport:
        """The final report."""
        return BatchReport(
            job_id=job_id,
            total=self.total,
            by_status={status: self.by_status[status] for status in OutcomeStatus},
            by_code=dict(self.by_code),
            fees=self.fees,
            requests=self.requests,
            retries=self.retries,
            replayed=self.replayed,
            duration=duration,
            resumed=resumed,
            stopped=stopped,
            interrupted=interrupted,
            examples=dict(self.examples),
            confirmed=self.confirmed,
            resent=self.resent,
            by_delivery=dict(self.by_delivery),
            sink_failed=sink_failed,
        )
