"""`DeliverySummary`: a job's recipients counted by outcome and delivery state."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

import attrs

from crowdsms.outcomes import DeliveryState, OutcomeStatus, RecipientOutcome

__all__ = ["DeliverySummary"]


@attrs.frozen(kw_only=True)
class DeliverySummary:
    """A job's recipients after reconciliation.

    ``sent`` counts every sent recipient, ``confirmed`` those among them that were
    ``unknown`` until a report proved the provider had them. ``delivered``,
    ``undelivered`` and ``awaiting`` split ``sent`` by delivery state;
    ``undelivered_codes`` counts the carriers' codes. ``unknown`` recipients still have no
    report: sending them again may deliver twice. ``in_flight`` counts recipients of chunks
    being sent (or interrupted) when the summary was made; ``reports`` the reports that
    matched this job and ``unmatched_reports`` those (since the job began) that matched none.
    """

    job_id: str
    recipients: int = 0
    sent: int = 0
    confirmed: int = 0
    failed: int = 0
    unknown: int = 0
    skipped: int = 0
    in_flight: int = 0
    delivered: int = 0
    undelivered: int = 0
    awaiting: int = 0
    undelivered_codes: Mapping[str, int] = attrs.field(factory=dict)
    reports: int = 0
    unmatched_reports: int = 0
    pulled: int = 0
    """Reports and replies pulled from the provider by this reconciliation."""

    @classmethod
    def count(
        cls,
        job_id: str,
        outcomes: Iterable[RecipientOutcome],
        *,
        in_flight: int = 0,
        reports: int = 0,
        unmatched_reports: int = 0,
        pulled: int = 0,
    ) -> DeliverySummary:
        """Count ``outcomes`` (every recorded recipient of the job)."""
        status: Counter[OutcomeStatus] = Counter()
        states: Counter[DeliveryState] = Counter()
        codes: Counter[str] = Counter()
        confirmed = 0
        for outcome in outcomes:
            status[outcome.status] += 1
            if outcome.status is not OutcomeStatus.SENT:
                continue
            confirmed += outcome.confirmed
            state = outcome.delivery.state if outcome.delivery else DeliveryState.AWAITING
            states[state] += 1
            if state is DeliveryState.UNDELIVERED:
                assert outcome.delivery is not None
                codes[outcome.delivery.code or "?"] += 1
        return cls(
            job_id=job_id,
            recipients=sum(status.values()) + in_flight,
            sent=status[OutcomeStatus.SENT],
            confirmed=confirmed,
            failed=status[OutcomeStatus.FAILED],
            unknown=status[OutcomeStatus.UNKNOWN],
            skipped=status[OutcomeStatus.SKIPPED],
            in_flight=in_flight,
            delivered=states[DeliveryState.DELIVERED],
            undelivered=states[DeliveryState.UNDELIVERED],
            awaiting=states[DeliveryState.AWAITING],
            undelivered_codes=dict(codes.most_common()),
            reports=reports,
            unmatched_reports=unmatched_reports,
            pulled=pulled,
        )

    def __str__(self) -> str:
        parts = [
            f"job {self.job_id}: {self.recipients} recipients",
            f"{self.sent} sent ({self.confirmed} confirmed by reports)",
            f"{self.delivered} delivered",
            f"{self.undelivered} undelivered",
            f"{self.awaiting} awaiting a report",
            f"{self.unknown} unknown",
            f"{self.failed} failed",
        ]
        if self.in_flight:
            parts.append(f"{self.in_flight} in flight")
        return ", ".join(parts)
