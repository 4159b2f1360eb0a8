"""A campaign: a batch job cut into shards that any number of workers run, safely.

The coordinator plans the input once (:func:`~crowdsms.campaign._plan.plan_input`) and
stores the manifest in Redis; the engine (Celery, first) hands shards to workers; each
worker runs its shard as an ordinary batch job whose journal is the campaign's claims
(:class:`~crowdsms.campaign._journal.ClaimJournal`). A shard delivered twice never sends a
claimed chunk again. Outcomes are read back in input order when the campaign is done.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import attrs
import redis.asyncio

from crowdsms._credentials import require_credentials
from crowdsms._transport.connections import shared_ssl_context
from crowdsms.batch import BatchOutcome, BatchReport, BatchSender
from crowdsms.batch._journal import RecordedChunk
from crowdsms.campaign._claims import ClaimStore, Done
from crowdsms.campaign._journal import DEFAULT_LEASE, ClaimJournal
from crowdsms.campaign._limiter import SharedRateLimiter
from crowdsms.campaign._plan import (
    CampaignPlan,
    ShardPlan,
    plan_input,
    plan_recipients,
    shard_rows,
)
from crowdsms.campaign._redis import Durability, durability
from crowdsms.errors import ConfigurationError, CrowdSMSError
from crowdsms.limits import NumberLimits
from crowdsms.limits._windows import check_limits
from crowdsms.outcomes import ChunkSender, Recipient, RecipientOutcome
from crowdsms.providers import _registry
from crowdsms.providers._spec import MessageOptions

if TYPE_CHECKING:
    from crowdsms.limits._redis import RedisNumberLimiter

__all__ = ["Campaign", "CampaignStatus"]

logger = logging.getLogger("crowdsms.campaign")

_CANCEL_POLL = 0.5

DEFAULT_SHARD_ROWS = 5_000
"""Rows per shard: at 200 recipients/s shared by 4 workers, about 100 s of work, well inside
a broker's visibility timeout of several minutes (a shard outliving it is delivered again,
which the claims make harmless but wasteful)."""


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
            per_number=data.get("per_number"),
        )


class Campaign:
    """One campaign's state in Redis: its manifest, its shards and its chunks' claims."""

    def __init__(
        self, redis: redis.asyncio.Redis, campaign_id: str, *, prefix: str = "crowdsms"
    ) -> None:
        self.redis = redis
        self.campaign_id = campaign_id
        self._base = f"{prefix}:campaign:{{{campaign_id}}}"
        self._prefix = prefix

    @property
    def manifest_key(self) -> str:
        """The Redis key of the manifest."""
        return f"{self._base}:manifest"

    @property
    def shards_key(self) -> str:
        """The Redis key of the shards' states (index -> ``done``)."""
        return f"{self._base}:shards"

    @property
    def cancel_key(self) -> str:
        """The Redis key that says the campaign was cancelled."""
        return f"{self._base}:cancelled"

    async def cancel(self) -> None:
        """Stop the campaign: running shards take no new chunks; pending ones send nothing.

        Requests in flight finish. :meth:`resume` lets the shards run again, and chunks that
        were not sent are sent then.
        """
        await self.redis.set(self.cancel_key, "1")

    async def resume(self) -> list[int]:
        """Undo :meth:`cancel`; return the shards not done (to hand to workers again)."""
        await self.redis.delete(self.cancel_key)
        manifest = await self.manifest()
        done = {int(key) for key in await self.redis.hkeys(self.shards_key)}
        return [shard.index for shard in manifest.plan.shards if shard.index not in done]

    async def delete(self) -> int:
        """Delete every key of the campaign (manifest, rows, claims, outcomes); return how many.

        Finished chunks keep their outcomes until then (about 70 bytes per recipient): delete a
        campaign once its report is written. Workers still running one of its shards fail.
        """
        escaped = self.campaign_id.replace("\\", "\\\\")
        for char in "*?[]":
            escaped = escaped.replace(char, "\\" + char)
        patterns = (
            f"{self._prefix}:campaign:{{{escaped}}}:*",
            f"{self._prefix}:campaign:{{{escaped}/*}}:*",
        )
        deleted = 0
        for pattern in patterns:
            batch: list[Any] = []
            async for key in self.redis.scan_iter(pattern, count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    deleted += await self.redis.delete(*batch)
                    batch = []
            if batch:
                deleted += await self.redis.delete(*batch)
        return int(deleted)

    async def cancelled(self) -> bool:
        """Whether the campaign was cancelled (and not resumed)."""
        return bool(await self.redis.exists(self.cancel_key))

    @classmethod
    async def create(
        cls,
        redis: redis.asyncio.Redis,
        *,
        campaign_id: str,
        provider: str,
        message: MessageOptions,
        path: str | Path | None = None,
        recipients: Iterable[Recipient] | AsyncIterable[Recipient] | None = None,
        phone_column: str = "phone",
        var_columns: Mapping[str, str] | None = None,
        chunk_size: int | None = None,
        concurrency: int = 4,
        rate: float | None = None,
        shard_rows: int = DEFAULT_SHARD_ROWS,
        encoding: str | None = None,
        lease: float = DEFAULT_LEASE,
        per_number: NumberLimits | None = None,
    ) -> Campaign:
        """Plan the input and store the manifest; the same id again keeps the first plan.

        The input is ``path``, a CSV file every worker can read, or ``recipients``, an
        iterable this coordinator pushes to Redis shard by shard (for input that is no
        shared file; it costs Redis memory). Submitting a campaign twice is harmless: the
        second submission finds the manifest and the claims of the first, and sends nothing
        that was claimed.

        ``per_number`` limits every number's messages, counted in the store under
        ``{prefix}:numbers:{provider}:{account}`` (:class:`~crowdsms.limits.RedisNumberLimiter`),
        with any other sender using that prefix (a verification-code service): a number
        that reached a limit is skipped with code ``number_limited``.
        """
        if (path is None) == (recipients is None):
            raise ConfigurationError(
                "a campaign needs its input: path= (a CSV file) or recipients=, not both",
                action="Pass path='/shared/contacts.csv' or recipients=[Recipient(...), ...]",
            )
        campaign = cls(redis, campaign_id)
        if await redis.exists(campaign.manifest_key):
            return campaign
        spec = _registry.get(provider)
        validator = spec.chunk_sender(
            spec.make_client({f.name: "x" for f in spec.credentials}), message
        )
        if recipients is not None:
            stale = [key async for key in redis.scan_iter(f"{campaign._base}:rows:*")]
            if stale:  # rows of a plan that never got stored (a crashed coordinator)
                await redis.delete(*stale)
            plan = await plan_recipients(
                redis,
                f"{campaign._base}:rows",
                recipients,
                validate=validator.validate,
                shard_rows=shard_rows,
                var_columns=message.columns,
            )
        else:
            assert path is not None
            plan = plan_input(
                path,
                phone_column=phone_column,
                var_columns=var_columns
                if var_columns is not None
                else {c: spec.var_name(c) for c in message.columns},
                validate=validator.validate,
                shard_rows=shard_rows,
                encoding=encoding,
            )
        manifest = Manifest(
            campaign_id=campaign_id,
            provider=provider,
            message=message,
            chunk_size=chunk_size,
            concurrency=concurrency,
            rate=rate,
            plan=plan,
            lease=lease,
            created=time.time(),
            per_number=str(check_limits(per_number)) if per_number is not None else None,
        )
        # Each shard's duplicates are stored apart, so a worker reads only its own (a
        # manifest holding them all would be read whole by every shard of a big campaign).
        lean = attrs.evolve(
            plan, shards=tuple(attrs.evolve(shard, duplicates={}) for shard in plan.shards)
        )
        async with redis.pipeline(transaction=False) as pipe:
            for shard in plan.shards:
                if shard.duplicates:
                    pipe.set(
                        campaign._duplicates_key(shard.index),
                        json.dumps([[k, v] for k, v in shard.duplicates.items()]),
                    )
            await pipe.execute()
        await redis.set(campaign.manifest_key, attrs.evolve(manifest, plan=lean).to_json(), nx=True)
        return campaign

    def _duplicates_key(self, shard: int) -> str:
        return f"{self._base}:duplicates:{shard}"

    async def _shard_plan(self, manifest: Manifest, shard: int) -> ShardPlan:
        """One shard's plan, with its duplicates (stored apart from the manifest)."""
        plan = manifest.plan.shards[shard]
        text = await self.redis.get(self._duplicates_key(shard))
        if text is None:
            return plan
        return attrs.evolve(plan, duplicates={int(k): int(v) for k, v in json.loads(text)})

    async def manifest(self) -> Manifest:
        """The stored manifest; :class:`ConfigurationError` if there is none."""
        text = await self.redis.get(self.manifest_key)
        if text is None:
            raise ConfigurationError(
                f"there is no campaign {self.campaign_id!r} in this Redis",
                action="Create it first (Campaign.create or crowdsms.campaign.celery.start)",
            )
        return Manifest.from_json(text)

    def claims(self, shard: int, mode: Durability) -> ClaimStore:
        """The claims of one shard's chunks."""
        return ClaimStore(self.redis, f"{self.campaign_id}/{shard}", mode, prefix=self._prefix)

    async def run_shard(
        self,
        shard: int,
        *,
        token: str | None = None,
        credentials: Mapping[str, object] | None = None,
        base_url: str | None = None,
    ) -> BatchReport:
        """Run one shard to its end (any worker, any number of times, even at once).

        ``credentials`` default to the provider's configured ones (environment variables or
        the config file, as for the command line).
        """
        manifest = await self.manifest()
        spec = _registry.get(manifest.provider)
        if credentials is None:
            configured = require_credentials(manifest.provider)
            credentials, base_url = configured.values, base_url or configured.base_url
        mode = await durability(self.redis)
        _load_transport()
        plan = manifest.plan
        shard_plan = await self._shard_plan(manifest, shard)
        journal = ClaimJournal(
            self.claims(shard, mode),
            token=token or f"{uuid.uuid4().hex}/{shard}",
            lease=manifest.lease,
        )
        async with spec.make_client(
            credentials, base_url=base_url, max_connections=manifest.concurrency
        ) as client:
            chunk_sender: ChunkSender = spec.chunk_sender(client, manifest.message)
            limiter = None
            if manifest.rate is not None:
                account = credentials_id(spec, credentials)
                limiter = SharedRateLimiter(
                    self.redis,
                    f"{self._prefix}:rate:{manifest.provider}:{account}",
                    rate=manifest.rate,
                )
            sender = BatchSender(
                chunk_sender,
                concurrency=manifest.concurrency,
                chunk_size=manifest.chunk_size,
                resend_failed_chunks=False,
                shared_pace=limiter,  # permits before the claim: the lease never waits
                number_limiter=self.number_limiter(manifest, credentials),
            )
            if await self.cancelled():
                sender.stop("the campaign was cancelled")
            async with anyio.create_task_group() as group:
                group.start_soon(self._watch_cancel, sender, group.cancel_scope)
                report = await sender.send(
                    shard_rows(plan, shard_plan, self.redis),
                    journal=journal,
                    job_id=f"{self.campaign_id}/{shard}",
                )
                group.cancel_scope.cancel()
        if report.interrupted:
            logger.info("campaign %s shard %d: cancelled: %s", self.campaign_id, shard, report)
            return report
        counts = {status.value: count for status, count in report.by_status.items()}
        await self.redis.hset(self.shards_key, str(shard), json.dumps(counts))
        logger.info("campaign %s shard %d: %s", self.campaign_id, shard, report)
        return report

    def number_limiter(
        self, manifest: Manifest, credentials: Mapping[str, object]
    ) -> RedisNumberLimiter | None:
        """The campaign's per-number limiter, if it has limits: counted per account."""
        if manifest.per_number is None:
            return None
        from crowdsms.limits._redis import RedisNumberLimiter

        account = credentials_id(_registry.get(manifest.provider), credentials)
        return RedisNumberLimiter(
            self.redis,
            NumberLimits.parse(manifest.per_number),
            prefix=f"{self._prefix}:numbers:{manifest.provider}:{account}",
        )

    async def _watch_cancel(self, sender: BatchSender, scope: anyio.CancelScope) -> None:
        while not scope.cancel_called:
            if await self.cancelled():
                sender.stop("the campaign was cancelled")
                return
            await anyio.sleep(_CANCEL_POLL)

    async def status(self) -> CampaignStatus:
        """Shards done and chunk counts, from any process."""
        manifest = await self.manifest()
        finished = await self.redis.hvals(self.shards_key)
        by_status: Counter[str] = Counter()
        for text in finished:
            by_status.update(json.loads(text))
        mode = Durability.VOLATILE  # reading counts needs no durability
        started = chunks_done = expired = 0
        for shard in manifest.plan.shards:
            counts = await self.claims(shard.index, mode).counts()
            started += counts.started
            chunks_done += counts.done
            expired += counts.expired
        return CampaignStatus(
            campaign_id=self.campaign_id,
            rows=manifest.plan.rows,
            shards=len(manifest.plan.shards),
            shards_done=len(finished),
            chunks_started=started,
            chunks_done=chunks_done,
            chunks_expired=expired,
            by_status=dict(by_status),
            elapsed=time.time() - manifest.created if manifest.created else 0.0,
            cancelled=await self.cancelled(),
        )

    async def outcomes(self) -> AsyncIterator[BatchOutcome]:
        """Every row's outcome, in input order (positions are the input's), once it is done.

        Rebuilds each shard's chunks as its workers did and reads their recorded outcomes;
        nothing is sent. Raises :class:`CrowdSMSError` if a chunk is not finished yet.
        """
        manifest = await self.manifest()
        spec = _registry.get(manifest.provider)
        client = spec.make_client({f.name: "x" for f in spec.credentials})
        reader = _Recorded(spec.chunk_sender(client, manifest.message))
        for lean in manifest.plan.shards:
            shard = await self._shard_plan(manifest, lean.index)
            store = self.claims(shard.index, Durability.VOLATILE)
            collected: list[BatchOutcome] = []
            await BatchSender(
                reader, chunk_size=manifest.chunk_size, resend_failed_chunks=False
            ).send(
                shard_rows(manifest.plan, shard, self.redis),
                sink=collected.append,
                journal=_ReadOnlyJournal(store),
                job_id=f"{self.campaign_id}/{shard.index}",
            )
            for item in collected:
                yield attrs.evolve(item, position=shard.first_position + item.position)


def _load_transport() -> None:
    """Load now, before any chunk is claimed, what the first request would load.

    httpx imports httpcore when the first connection is made, and crowdsms builds its TLS
    context then: about 150 ms with the event loop blocked, in a fresh worker process. The
    shard's other chunks, their permits of the shared rate limit granted meanwhile, would go
    out together once it is over: a burst above the campaign's rate.
    """
    import httpcore  # noqa: F401 (the import is the point)

    shared_ssl_context()


def credentials_id(spec: Any, credentials: Mapping[str, object]) -> str:
    """The account a rate limit belongs to: the identity credential (never the secret)."""
    return str(credentials[spec.identity_field.name])


class _Recorded:
    """A chunk sender that refuses to send: reading outcomes back must never send."""

    def __init__(self, inner: ChunkSender) -> None:
        self._inner = inner
        self.max_chunk_size = inner.max_chunk_size
        self.supports_idempotency_key = False

    def validate(self, recipient: Recipient, *, position: int) -> Recipient:
        return self._inner.validate(recipient, position=position)

    async def send_chunk(
        self, recipients: Sequence[Recipient], *, idempotency_key: str | None = None
    ) -> Sequence[RecipientOutcome]:
        raise CrowdSMSError(
            "a chunk of the campaign is not finished yet",
            action="Wait until the campaign's status says every shard is done",
        )


class _ReadOnlyJournal:
    """Replays finished chunks; any other chunk is an error (see :class:`_Recorded`)."""

    resumed = True
    recorded_chunks = 0

    def __init__(self, store: ClaimStore) -> None:
        self._store = store

    async def prepare(self, index: int, **_: Any) -> RecordedChunk | None:
        state = await self._store.peek(index)
        if isinstance(state, Done):
            return RecordedChunk(state="done", idempotency_key=None, outcomes=list(state.outcomes))
        raise CrowdSMSError(
            f"chunk {index} of the campaign is not finished yet",
            action="Wait until the campaign's status says every shard is done",
        )

    async def mark_started(self, index: int) -> None:
        raise AssertionError("never reached: every chunk is replayed")

    async def mark_pending(self, index: int) -> None:
        raise AssertionError("never reached")

    async def mark_done(self, index: int, outcomes: Sequence[RecipientOutcome]) -> None:
        raise AssertionError("never reached")

    async def reopen(self, index: int, *, idempotency_key: str | None) -> None:
        raise AssertionError("never reached")

    async def wait_outcomes(self, index: int, phones: Sequence[str]) -> list[RecipientOutcome]:
        raise AssertionError("never reached")

    async def finish(self, chunks_seen: int) -> None:
        return None

    async def aclose(self) -> None:
        return None
