"""Reconciling a campaign: the store's delivery reports applied to every shard's chunks.

Each shard is read back as :meth:`Campaign.outcomes` reads it (its chunks cut again, nothing
sent), with a journal that applies a :class:`~crowdsms.deliveries.Matcher` of the shard's
batch job to each recorded chunk and keeps what changed (a compare-and-set: a chunk a worker
changed meanwhile is read again, one being resent is left to its worker). The reports are
read once and indexed, so each shard's matcher sees only the reports that name its job (by
reference) or one of its numbers.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from crowdsms.batch._journal import RecordedChunk
from crowdsms.campaign._claims import ClaimStore
from crowdsms.campaign._journal import interrupted_outcomes
from crowdsms.campaign._reading import ReplayJournal
from crowdsms.deliveries._match import Matcher
from crowdsms.deliveries._reference import job_hash, parse_reference
from crowdsms.deliveries._reports import ProviderReport
from crowdsms.deliveries._summary import DeliverySummary
from crowdsms.outcomes import OutcomeStatus, RecipientOutcome

__all__ = [
    "IN_FLIGHT",
    "NOT_STARTED",
    "ReconcilingJournal",
    "ReportIndex",
    "counted",
    "merge_summaries",
    "status_counts",
    "summary_from_json",
    "summary_to_json",
]

NOT_STARTED = "crowdsms-reconcile:not-started"
"""The code of the placeholder outcomes of chunks no worker has claimed yet (not counted)."""
IN_FLIGHT = "crowdsms-reconcile:in-flight"
"""The code of the placeholder outcomes of chunks being sent or resent (counted in flight)."""

_ATTEMPTS = 3


class ReportIndex:
    """A campaign's reports, indexed by the job their reference names, and by number."""

    def __init__(self, reports: Iterable[ProviderReport], *, started: float | None = None) -> None:
        self._started = started
        """When the campaign was created (Unix seconds): see :attr:`Matcher.started`."""
        self._by_job: dict[str, list[ProviderReport]] = defaultdict(list)
        self._by_phone: dict[str, list[ProviderReport]] = defaultdict(list)
        self._phoneless: list[ProviderReport] = []
        self.keys: set[str] = set()
        """The key of every report."""
        for report in reports:
            self.keys.add(report.key)
            reference = parse_reference(report.reference)
            if reference is not None:
                self._by_job[reference.job].append(report)
            elif report.phone:
                self._by_phone[report.phone].append(report)
            else:
                self._phoneless.append(report)

    def matcher(self, job_id: str) -> Matcher:
        """A matcher of ``job_id`` with the reports naming it; numbers' are added per chunk."""
        matcher = Matcher(job_id, self._started)
        matcher.add(self._by_job.get(job_hash(job_id), ()))
        matcher.add(self._phoneless)
        return matcher

    def add_numbers(self, matcher: Matcher, phones: Iterable[str]) -> None:
        """Give ``matcher`` the reports without a reference of ``phones``."""
        matcher.add(report for phone in phones for report in self._by_phone.get(phone, ()))


def _placeholders(phones: Sequence[str], code: str) -> list[RecipientOutcome]:
    return [
        RecipientOutcome(phone=phone, status=OutcomeStatus.UNKNOWN, code=code) for phone in phones
    ]


def _done(outcomes: Sequence[RecipientOutcome]) -> RecordedChunk:
    return RecordedChunk(state="done", idempotency_key=None, outcomes=list(outcomes))


class ReconcilingJournal(ReplayJournal):
    """Replays one shard's chunks with its reports applied, keeping what they changed.

    Chunks no worker has claimed yet replay as :data:`NOT_STARTED` placeholders, chunks
    being sent (or resent) as :data:`IN_FLIGHT` ones (but for the recipients per-number
    limits kept out of the request, ``skipped``); a chunk whose worker died mid-request
    is counted with the reports applied in memory (a worker's next run of the shard records
    it, ``unknown``).
    """

    def __init__(
        self,
        store: ClaimStore,
        *,
        index: ReportIndex,
        job_id: str,
        opted_out: Iterable[str] = (),
    ) -> None:
        super().__init__(store, opted_out)
        self._index = index
        self.matcher = index.matcher(job_id)
        self.not_started = 0
        """Recipients of chunks no worker has claimed yet."""
        self.in_flight = 0
        """Recipients of chunks being sent or resent."""
        self.updated = 0
        """Chunks whose outcomes the reports changed (and the claims now keep)."""

    async def prepare(
        self, index: int, *, phones: Sequence[str] = (), **_: Any
    ) -> RecordedChunk | None:
        """Chunk ``index`` with the reports applied (its changes kept), or a placeholder."""
        self._index.add_numbers(self.matcher, phones)
        placeholders = _placeholders(phones, IN_FLIGHT)
        for _attempt in range(_ATTEMPTS):
            record = await self._store.chunk(index)
            if record is None:
                self.not_started += len(phones)
                return _done(_placeholders(phones, NOT_STARTED))
            if not record.finished:
                if (record.lease_left or 0) > 0:
                    # Being sent: those limits kept out of its request are settled (skipped).
                    for offset, outcome in (record.kept_out or {}).items():
                        placeholders[offset] = outcome
                    break
                interrupted = interrupted_outcomes(index, phones, record.kept_out)
                resent = record.resends > 0
                return _done(
                    self.matcher.apply(index, record.started_at, interrupted, resent=resent)
                )
            if record.resending:
                break
            recorded = list(record.outcomes)
            settled = self.matcher.apply(
                index, record.started_at, recorded, resent=record.resends > 0
            )
            if settled == recorded:
                return _done(recorded)
            result = await self._store.update_outcomes(index, settled, expected=record.stored)
            if result == "updated":
                self.updated += 1
                return _done(settled)
            if result == "resending":
                break
            # changed meanwhile (a worker finished a resend, another reconcile): read again
        self.in_flight += sum(1 for outcome in placeholders if outcome.code == IN_FLIGHT)
        return _done(placeholders)


def counted(outcomes: Iterable[RecipientOutcome]) -> list[RecipientOutcome]:
    """``outcomes`` without the placeholders of chunks not started or in flight."""
    return [outcome for outcome in outcomes if outcome.code not in (NOT_STARTED, IN_FLIGHT)]


def status_counts(summary: DeliverySummary) -> dict[str, int]:
    """A shard's summary as the shard counts of a finished run (``{"sent": 95, ...}``)."""
    counts = {
        OutcomeStatus.SENT.value: summary.sent,
        OutcomeStatus.FAILED.value: summary.failed,
        OutcomeStatus.UNKNOWN.value: summary.unknown,
        OutcomeStatus.SKIPPED.value: summary.skipped,
    }
    return {name: count for name, count in counts.items() if count}


_COUNTS = (
    "recipients",
    "sent",
    "confirmed",
    "failed",
    "unknown",
    "skipped",
    "in_flight",
    "delivered",
    "undelivered",
    "awaiting",
)


def merge_summaries(
    job_id: str,
    summaries: Iterable[DeliverySummary],
    *,
    reports: int,
    unmatched_reports: int,
    pulled: int,
) -> DeliverySummary:
    """The shards' summaries added up into the campaign's."""
    totals: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    for summary in summaries:
        for name in _COUNTS:
            totals[name] += getattr(summary, name)
        codes.update(summary.undelivered_codes)
    return DeliverySummary(
        job_id=job_id,
        **{name: totals[name] for name in _COUNTS},
        undelivered_codes=dict(codes.most_common()),
        reports=reports,
        unmatched_reports=unmatched_reports,
        pulled=pulled,
    )


def summary_to_json(summary: DeliverySummary, at: float) -> str:
    """The summary (and when it was made, Unix seconds) as JSON, for the campaign's status."""
    data = attrs.asdict(summary)
    data["at"] = at
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def summary_from_json(text: str | bytes) -> tuple[DeliverySummary, float]:
    """The summary :func:`summary_to_json` wrote, and when it was made."""
    data: dict[str, Any] = json.loads(text)
    at = float(data.pop("at"))
    codes: Mapping[str, int] = data.pop("undelivered_codes", {})
    fields = {field.name for field in attrs.fields(DeliverySummary)}
    known = {name: value for name, value in data.items() if name in fields}
    return DeliverySummary(**known, undelivered_codes=dict(codes)), at
