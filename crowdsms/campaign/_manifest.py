"""A campaign's manifest (what every worker needs) and its status (where it stands)."""

from __future__ import annotations

import json
from collections.abc import Mapping

import attrs

from crowdsms.campaign._journal import DEFAULT_LEASE
from crowdsms.campaign._plan import CampaignPlan
from crowdsms.deliveries._summary import DeliverySummary
from crowdsms.providers._spec import MessageOptions

__all__ = ["CampaignStatus", "Manifest"]


@attrs.frozen(kw_only=True)
class CampaignStatus:
    """Where a campaign stands: shards, chunks, outcomes of the finished shards, pace."""

    campaign_id: str
    rows: int
    shards: int
    shards_done: int
    chunks_started: int
    chunks_done: int
    chunks_expired: int
    by_status: Mapping[str, int]
    """Outcomes of the finished shards, by status (``sent``, ``failed``, ...)."""
    elapsed: float
    """Seconds since the campaign was created."""
    cancelled: bool = False
    stopped: Mapping[int, str] = attrs.field(factory=dict)
    """The shards an error every chunk would get stopped (a wrong key, an empty balance),
    with the reason: not done, and run again by :meth:`Campaign.resume`. A shard another
    run of it finished meanwhile is done, not stopped."""
    deliveries: DeliverySummary | None = None
    """What the last :meth:`Campaign.reconcile` found (delivered, undelivered, awaiting,
    confirmed, ...), if the campaign was reconciled."""
    reconciled_at: float | None = None
    """When it was reconciled last (Unix seconds)."""

    @property
    def done(self) -> bool:
        """Whether every shard has finished."""
        return self.shards_done == self.shards

    @property
    def rows_done(self) -> int:
        """Rows of the finished shards."""
        return sum(self.by_status.values())

    @property
    def per_second(self) -> float:
        """Rows finished per second so far."""
        return self.rows_done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds until the last row, at the pace so far (``None`` before any shard ends)."""
        if self.done:
            return 0.0
        rate = self.per_second
        return (self.rows - self.rows_done) / rate if rate > 0 else None


@attrs.frozen(kw_only=True)
class Manifest:
    """What every worker needs to run a shard."""

    campaign_id: str
    provider: str
    message: MessageOptions
    chunk_size: int | None
    concurrency: int
    rate: float | None
    plan: CampaignPlan
    lease: float = DEFAULT_LEASE
    created: float = 0.0
    """When it was created (Unix seconds)."""
    honour_opt_outs: bool = True
    """Whether numbers on the suppression list when it was created are skipped."""
    snapshot: str = ""
    """Names the keys of each shard's opted-out numbers (this plan's own)."""
    per_number: str | None = None
    """Per-number limits (``1/m,5/h,10/d``), shared through the store by every worker."""

    def to_json(self) -> str:
        """The manifest as JSON."""
        data = {
            "campaign_id": self.campaign_id,
            "provider": self.provider,
            "message": attrs.asdict(self.message),
            "chunk_size": self.chunk_size,
            "concurrency": self.concurrency,
            "rate": self.rate,
            "lease": self.lease,
            "created": self.created,
            "honour_opt_outs": self.honour_opt_outs,
            "snapshot": self.snapshot,
            "plan": self.plan.to_json(),
        }
        if self.per_number is not None:
            data["per_number"] = self.per_number
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        """The manifest :meth:`to_json` wrote."""
        data = json.loads(text)
        message = dict(data["message"])
        message["columns"] = tuple(message["columns"])
        return cls(
            campaign_id=data["campaign_id"],
            provider=data["provider"],
            message=MessageOptions(**message),
            chunk_size=data["chunk_size"],
            concurrency=data["concurrency"],
            rate=data["rate"],
            plan=CampaignPlan.from_json(data["plan"]),
            lease=data.get("lease", DEFAULT_LEASE),
            created=data.get("created", 0.0),
            honour_opt_outs=data.get("honour_opt_outs", True),
            snapshot=data.get("snapshot", ""),
            per_number=data.get("per_number"),
        )
