"""Matching reports to a job's recipients: the heart of reconciliation, with no I/O.

A report belongs to a recipient of job ``J`` when one of these holds, strongest first:

1. its reference names ``J``'s chunk and its phone is the recipient's (a provider that
   repeats a caller's tag in its reports);
2. its message id (and phone, when it has one) is the recipient's (a per-recipient id, or a
   per-request id with the phone);
3. the recipient is ``unknown`` (its request's answer was lost, so crowdsms never learned a
   message id), the report carries no crowdsms reference, its phone is the recipient's, it
   arrived after the chunk was sent and, when the provider dates the event, the event came
   after it too (after the job began, :attr:`Matcher.started`, for a chunk resent since:
   its first send's report still counts; all less :data:`CLOCK_MARGIN`), and it
   is the provider's that may have sent it when the outcome names one (a failover route's
   name: a route with a label of its own is then matched by (1) or (2) only). A job
   sends a number once, so within the job the phone is enough; a report for the same
   number from another job sending concurrently through the same account could be taken
   for this one, which is why (1) and (2) come first.

What the matched reports mean:

- an ``unknown`` recipient with any report becomes ``sent``, ``confirmed=True``: the
  provider had the message, so sending it again would deliver it twice;
- every ``sent`` recipient carries a :class:`~crowdsms.outcomes.Delivery`: delivered if a
  report says so, else undelivered (with the latest failure's code) if one says that, else
  awaiting.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

import attrs

from crowdsms.deliveries._reference import job_hash, parse_reference
from crowdsms.deliveries._reports import ProviderReport, ReportKind
from crowdsms.outcomes import Delivery, DeliveryState, OutcomeStatus, RecipientOutcome

__all__ = ["CLOCK_MARGIN", "CONFIRMED_MESSAGE", "Matcher"]

CLOCK_MARGIN = 5.0
"""Seconds a report may seem to arrive before its chunk was sent (clocks of two machines)."""

CONFIRMED_MESSAGE = (
    "the send's answer was lost, but the provider's report proves it had the message: "
    "sent (confirmed); do not send it again"
)


def _when(report: ProviderReport) -> float:
    return report.occurred_at if report.occurred_at is not None else report.received_at


def _delivery(reports: Sequence[ProviderReport]) -> Delivery:
    delivered = [r for r in reports if r.kind is ReportKind.DELIVERED]
    if delivered:
        latest = max(delivered, key=_when)
        return Delivery(state=DeliveryState.DELIVERED, at=_when(latest))
    undelivered = [r for r in reports if r.kind is ReportKind.UNDELIVERED]
    if undelivered:
        latest = max(undelivered, key=_when)
        return Delivery(state=DeliveryState.UNDELIVERED, code=latest.code, at=_when(latest))
    return Delivery(state=DeliveryState.AWAITING)


@attrs.define
class Matcher:
    """Matches one job's recipients with the reports a store holds.

    ``reports`` are every report that may concern the job (its provider's, received since
    the job began); reports of other jobs are recognized by their reference and left alone.
    """

    job_id: str
    started: float | None = None
    """When the job began (Unix seconds), if known: for a chunk that was resent (whose send
    time is the resend's), a report of an event dated before it is about an earlier
    message; one dated after may be the first send's."""
    _by_reference: dict[tuple[int, str | None], list[ProviderReport]] = attrs.field(
        init=False, factory=lambda: defaultdict(list)
    )
    _by_id: dict[tuple[str, str | None], list[ProviderReport]] = attrs.field(
        init=False, factory=lambda: defaultdict(list)
    )
    _loose: dict[str, list[ProviderReport]] = attrs.field(
        init=False, factory=lambda: defaultdict(list)
    )
    matched: set[str] = attrs.field(init=False, factory=set)
    """The keys of the reports matched so far."""

    @classmethod
    def of(
        cls, job_id: str, reports: Iterable[ProviderReport], *, started: float | None = None
    ) -> Matcher:
        """A matcher of ``job_id`` (begun at ``started``) over ``reports``."""
        matcher = cls(job_id, started)
        matcher.add(reports)
        return matcher

    def add(self, reports: Iterable[ProviderReport]) -> None:
        """Take more reports into account."""
        own = job_hash(self.job_id)
        for report in reports:
            reference = parse_reference(report.reference)
            if reference is not None:
                if reference.job == own:
                    self._by_reference[(reference.chunk, report.phone)].append(report)
                continue
            if report.message_id:
                self._by_id[(report.message_id, report.phone)].append(report)
            if report.phone:
                self._loose[report.phone].append(report)

    def _candidates(
        self, chunk: int, started_at: float | None, outcome: RecipientOutcome, *, resent: bool
    ) -> list[ProviderReport]:
        found = list(self._by_reference.get((chunk, outcome.phone), ()))
        if outcome.message_id:
            found += self._by_id.get((outcome.message_id, outcome.phone), ())
            found += self._by_id.get((outcome.message_id, None), ())
        if outcome.status is OutcomeStatus.UNKNOWN and started_at is not None:
            since = started_at - CLOCK_MARGIN
            # Dated events: after the chunk was sent, never about an earlier message; after the
            # job began for a resent chunk (its send time is the resend's; the first send's
            # report still counts).
            first = self.started if resent and self.started is not None else started_at
            dated_since = first - CLOCK_MARGIN
            provider = outcome.provider
            found += [
                r
                for r in self._loose.get(outcome.phone, ())
                if r.received_at >= since
                and (r.occurred_at is None or r.occurred_at >= dated_since)
                and (provider is None or r.provider == provider)
            ]
        return found

    def apply(
        self,
        chunk: int,
        started_at: float | None,
        outcomes: Sequence[RecipientOutcome],
        *,
        resent: bool = False,
    ) -> list[RecipientOutcome]:
        """The chunk's outcomes with the reports applied (the same objects where unchanged).

        ``started_at`` is when the chunk was (last) sent, Unix seconds; ``None`` when not
        known, in which case an ``unknown`` recipient is matched only by reference.
        ``resent`` says the chunk's unconfirmed recipients were sent again since its first
        send (see :attr:`started`).
        """
        updated = []
        for outcome in outcomes:
            if outcome.status not in (OutcomeStatus.SENT, OutcomeStatus.UNKNOWN):
                updated.append(outcome)
                continue
            found = self._candidates(chunk, started_at, outcome, resent=resent)
            self.matched.update(report.key for report in found)
            if not found:
                if outcome.status is OutcomeStatus.SENT and outcome.delivery is None:
                    outcome = attrs.evolve(outcome, delivery=Delivery(state=DeliveryState.AWAITING))
                updated.append(outcome)
                continue
            delivery = _delivery(found)
            if outcome.status is OutcomeStatus.UNKNOWN:
                message_id = outcome.message_id or next(
                    (r.message_id for r in found if r.message_id), None
                )
                outcome = attrs.evolve(
                    outcome,
                    status=OutcomeStatus.SENT,
                    confirmed=True,
                    message_id=message_id,
                    code=None,
                    message=CONFIRMED_MESSAGE,
                    retryable=False,
                    delivery=delivery,
                )
            elif outcome.delivery != delivery:
                outcome = attrs.evolve(outcome, delivery=delivery)
            updated.append(outcome)
        return updated
