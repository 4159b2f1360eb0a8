"""A campaign: a batch job cut into shards that any number of workers run, safely.

The coordinator plans the input once (:func:`~crowdsms.campaign._plan.plan_input`) and
stores the manifest in Redis; the engine (Celery, first) hands shards to workers; each
worker runs its shard as an ordinary batch job whose journal is the campaign's claims
(:class:`~crowdsms.campaign._journal.ClaimJournal`). A shard delivered twice never sends a
claimed chunk again. Outcomes are read back in input order when the campaign is done.

Delivery reports of every campaign of a store go to its
:class:`~crowdsms.campaign.RedisDeliveryStore` (:attr:`Campaign.deliveries`):
:meth:`Campaign.reconcile` applies them to the campaign's outcomes, and
``resume(resend_unconfirmed_after=...)`` sends recipients no report confirmed again
(at-least-once). Numbers that opted out before the campaign was created are skipped
(``opted_out``) unless it was created with ``honour_opt_outs=False``.
"""

from __future__ import annotations

import difflib
import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import attrs
import redis.asyncio
import redis.exceptions

from crowdsms._credentials import require_credentials
from crowdsms._transport.backends import aiohttp_installed
from crowdsms._transport.connections import shared_ssl_context
from crowdsms.batch import (
    BatchOutcome,
    BatchReport,
    BatchSender,
    JournalMismatchError,
    ShortRows,
)
from crowdsms.batch._target import (
    MAY_HAVE_REACHED,
    UNSENT_MAY_CHANGE,
    describe_target,
    target_differences,
)
from crowdsms.campaign._claims import ClaimStore
from crowdsms.campaign._codec import decode_outcomes
from crowdsms.campaign._deliveries import RedisDeliveryStore
from crowdsms.campaign._journal import DEFAULT_LEASE, ClaimJournal
from crowdsms.campaign._limiter import SharedRateLimiter
from crowdsms.campaign._manifest import CampaignStatus, Manifest
from crowdsms.campaign._plan import (
    ShardPlan,
    plan_input,
    plan_recipients,
    shard_rows,
)
from crowdsms.campaign._reading import ReadOnlyJournal, read_shard, reader_of
from crowdsms.campaign._reconcile import (
    ReconcilingJournal,
    ReportIndex,
    counted,
    merge_summaries,
    status_counts,
    summary_from_json,
    summary_to_json,
)
from crowdsms.campaign._redis import Durability, LuaScript, connected_replicas, durability
from crowdsms.deliveries._match import CLOCK_MARGIN
from crowdsms.deliveries._optout import OptOutWords
from crowdsms.deliveries._pull import pull_into
from crowdsms.deliveries._summary import DeliverySummary
from crowdsms.errors import ConfigurationError, InvalidInputError
from crowdsms.limits import NumberLimits
from crowdsms.limits._windows import check_limits
from crowdsms.outcomes import ChunkSender, PreSkipped, Recipient
from crowdsms.providers import _registry
from crowdsms.providers._spec import MessageOptions
from crowdsms.webhooks._events import Event

if TYPE_CHECKING:
    from crowdsms.limits._redis import RedisNumberLimiter

__all__ = ["DEFAULT_SHARD_ROWS", "Campaign", "CampaignNotFoundError", "CampaignStatus"]

logger = logging.getLogger("crowdsms.campaign")

_CANCEL_POLL = 0.5

DEFAULT_SHARD_ROWS = 5_000
"""Rows per shard: at 200 recipients/s shared by 4 workers, about 100 s of work, well inside
a broker's visibility timeout of several minutes (a shard outliving it is delivered again,
which the claims make harmless but wasteful)."""


class CampaignNotFoundError(ConfigurationError):
    """The store holds no campaign of that id (never created, or deleted).

    ``suggestion`` is the closest id the store does hold, if one is close (a typo), else None.
    """

    def __init__(self, campaign_id: str, suggestion: str | None) -> None:
        self.campaign_id = campaign_id
        self.suggestion = suggestion
        close = f" (did you mean {suggestion!r}?)" if suggestion is not None else ""
        super().__init__(
            f"there is no campaign {campaign_id!r} in this Redis{close}",
            action="Create it first (Campaign.create or crowdsms.campaign.celery.start)",
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
    def deliveries(self) -> RedisDeliveryStore:
        """The store's delivery reports, replies and opt-outs (shared by its campaigns).

        Its writes are durable only as :func:`~crowdsms.campaign.durability` found the
        server; :meth:`reconcile` checks before it pulls.
        """
        return RedisDeliveryStore(self.redis, Durability.VOLATILE, prefix=self._prefix)

    @property
    def reconciled_key(self) -> str:
        """The Redis key of the last reconciliation's summary."""
        return f"{self._base}:reconciled"

    @property
    def stopped_key(self) -> str:
        """The Redis hash of the shards a job-wide error stopped: shard -> why."""
        return f"{self._base}:stopped"

    @property
    def target_key(self) -> str:
        """The Redis key of where the campaign sends (provider, base URL, account; nothing
        secret), recorded by the first shard that runs."""
        return f"{self._base}:target"

    async def _check_target(self, target: Mapping[str, str] | None, manifest: Manifest) -> None:
        """Record where the campaign sends, or refuse a shard that would send elsewhere.

        A claim recorded done is never sent again: run against another base URL or account
        (a sandbox, then the real provider), its recipients would be reported sent while
        the provider never got them. A key one side lacks is unknown and accepted.

        The target stays as recorded even when nothing the campaign sent may have reached
        a provider (a first worker with a mistyped account): another worker may still be
        sending with it between two claims. The error then says so, and that deleting the
        campaign and starting it again sends nothing twice.
        """
        if target is None:
            return
        if await self.redis.set(self.target_key, json.dumps(dict(target), sort_keys=True), nx=True):
            return
        stored = await self.redis.get(self.target_key)
        try:
            recorded = json.loads(stored) if stored is not None else None
        except ValueError:
            recorded = None
        differences = target_differences(recorded if isinstance(recorded, dict) else None, target)
        if not differences:
            return
        action = (
            "Run its shards with the credentials and base URL it was started with. "
            "Or start a new campaign with a new id, knowing that it sends to every "
            "recipient again, including those this campaign already sent"
        )
        if all(key in UNSENT_MAY_CHANGE for key, _, _ in differences) and not (
            await self._may_have_sent(manifest)
        ):
            action = (
                "Nothing this campaign sent may have reached a provider: no chunk is being "
                "sent, and every recipient so far failed or was skipped (a mistyped account, "
                "say). Stop the workers that run it with the old settings, delete it "
                f"(crowdsms campaign delete {self.campaign_id}) and start it again with "
                "these credentials: that sends nothing twice"
            )
        raise JournalMismatchError(
            f"campaign {self.campaign_id!r} cannot run here: its shards were run sending "
            "elsewhere, so the chunks recorded done would be reported sent while this "
            "provider or account never got them",
            received=describe_target(differences),
            action=action,
        )

    async def _may_have_sent(self, manifest: Manifest) -> bool:
        """Whether a request of the campaign may have reached its provider: a chunk held
        (being sent) or expired now, or one done with a recipient ``sent`` or ``unknown``
        or resent. Reads each shard's counts, then scans the claims of the shards with
        chunks done, in one pass over the keyspace: only for a shard refused for its target."""
        mode = Durability.VOLATILE  # reading needs no durability
        stores: dict[str, ClaimStore] = {}  # the shards with chunks done, by their number
        for shard in manifest.plan.shards:
            store = self.claims(shard.index, mode)
            counts = await store.counts()
            if counts.started or counts.expired:
                return True
            if counts.done:
                stores[str(shard.index)] = store
        if not stores:
            return False
        prefix, escaped = _glob_literal(self._prefix), _glob_literal(self.campaign_id)
        pattern = f"{prefix}:campaign:{{{escaped}/*}}:chunk:*"
        async for key in self.redis.scan_iter(pattern, count=1000):
            text = key.decode() if isinstance(key, bytes) else str(key)
            head, _, index = text.rpartition("}:chunk:")
            done = stores.get(head.rpartition("/")[2])
            record = await done.chunk(int(index)) if done is not None else None
            if record is None:
                continue
            if record.state != "done" or record.stored is None or record.resends:
                return True
            if any(
                outcome.status in MAY_HAVE_REACHED for outcome in decode_outcomes(record.stored)
            ):
                return True
        return False

    @property
    def cancel_key(self) -> str:
        """The Redis key that says the campaign was cancelled."""
        return f"{self._base}:cancelled"

    async def cancel(self) -> None:
        """Stop the campaign: running shards take no new chunks; pending ones send nothing.

        Requests in flight finish. :meth:`resume` lets the shards run again, and chunks that
        were not sent are sent then. Raises :class:`CampaignNotFoundError` (and changes
        nothing) if the store holds no such campaign: the manifest's existence is checked and
        the cancel recorded in one step, so no cancel outlives a :meth:`delete` it races.
        """
        if not await _CANCEL_IF_PLANNED.run(self.redis, [self.manifest_key, self.cancel_key], []):
            raise await self._not_found()

    async def resume(self, *, resend_unconfirmed_after: float | None = None) -> list[int]:
        """Undo :meth:`cancel`; return the shards not done (to hand to workers again).

        That includes the shards an error stopped (:attr:`CampaignStatus.stopped`): fix its
        cause first (the key, the balance); their chunks not sent are sent then.

        With ``resend_unconfirmed_after`` (seconds), the finished shards that still have
        ``unknown`` recipients are returned too, and are no longer counted done until they
        have run again: run them with the same ``resend_unconfirmed_after`` to send those
        recipients again once no report confirmed them that long after they were sent.
        **At-least-once**: a recipient whose report was lost or is late gets the message
        twice. Apply the reports first (:meth:`reconcile`).
        """
        if resend_unconfirmed_after is not None and not (
            isinstance(resend_unconfirmed_after, (int, float)) and resend_unconfirmed_after >= 0
        ):
            raise InvalidInputError(
                "must be a number of seconds >= 0, or None",
                field="resend_unconfirmed_after",
                received=repr(resend_unconfirmed_after),
            )
        manifest = await self.manifest()  # an unknown campaign: nothing is changed
        await self.redis.delete(self.cancel_key, self.stopped_key)  # they run again
        done = {
            int(key): json.loads(value)
            for key, value in (await self.redis.hgetall(self.shards_key)).items()
        }
        shards = [shard.index for shard in manifest.plan.shards if shard.index not in done]
        if resend_unconfirmed_after is None:
            return shards
        unconfirmed = sorted(index for index, counts in done.items() if counts.get("unknown"))
        if unconfirmed:
            await self.redis.hdel(self.shards_key, *map(str, unconfirmed))
        return sorted(shards + unconfirmed)

    async def delete(self) -> int:
        """Delete every key of the campaign (manifest, rows, claims, outcomes); return how many.

        Finished chunks keep their outcomes until then (about 70 bytes per recipient): delete a
        campaign once its report is written. Workers still running one of its shards fail, at
        the latest when they next look chunks up (every 32 chunks), never sending a chunk
        again because its record went with the campaign. Returns 0 if there is no such
        campaign.
        """
        prefix, escaped = _glob_literal(self._prefix), _glob_literal(self.campaign_id)
        patterns = (
            f"{prefix}:campaign:{{{escaped}}}:*",
            f"{prefix}:campaign:{{{escaped}/*}}:*",
        )
        # The manifest first: a cancel from then on is refused, and one recorded before is
        # found by the scans below (which start after), so no cancel key outlives the campaign.
        deleted = int(await self.redis.delete(self.manifest_key))
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

    @classmethod
    async def ids(cls, redis: redis.asyncio.Redis, *, prefix: str = "crowdsms") -> list[str]:
        """The ids of the campaigns the store holds (their manifests), sorted.

        Scans the keyspace (``SCAN``, 1000 keys a round trip): meant for people (a list, a
        suggestion), not for a hot path.
        """
        pattern = f"{_glob_literal(prefix)}:campaign:{{*}}:manifest"
        head, tail = f"{prefix}:campaign:{{", "}:manifest"
        found: set[str] = set()
        async for key in redis.scan_iter(pattern, count=1000):
            text = key.decode() if isinstance(key, bytes) else str(key)
            campaign_id = text[len(head) : -len(tail)]
            if cls(redis, campaign_id, prefix=prefix).manifest_key == text:
                found.add(campaign_id)
        return sorted(found)

    async def _not_found(self) -> CampaignNotFoundError:
        """The error for this campaign's missing manifest, naming a close id if there is one."""
        try:
            known = await self.ids(self.redis, prefix=self._prefix)
        except redis.exceptions.RedisError:  # SCAN not allowed (an ACL): no suggestion
            known = []
        close = difflib.get_close_matches(self.campaign_id, known, n=1)
        return CampaignNotFoundError(self.campaign_id, close[0] if close else None)

    def _planned_as(self, text: bytes | str) -> Callable[[], Awaitable[bool]]:
        """Whether the stored manifest is still ``text``, the one a shard run began with:
        not deleted, nor deleted and created again under the same id (whose chunks a run of
        the old campaign must not claim)."""

        async def planned() -> bool:
            return bool(await self.redis.get(self.manifest_key) == text)

        return planned

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
        honour_opt_outs: bool = True,
        per_number: NumberLimits | None = None,
        short_rows: ShortRows = "empty",
    ) -> Campaign:
        """Plan the input and store the manifest; the same id again keeps the first plan.

        The input is ``path``, a CSV file every worker can read, or ``recipients``, an
        iterable this coordinator pushes to Redis shard by shard (for input that is no
        shared file; it costs Redis memory). Submitting a campaign twice is harmless: the
        second submission finds the manifest and the claims of the first, and sends nothing
        that was claimed.

        ``short_rows`` says what a row of ``path`` with fewer fields than the header
        becomes: empty values for the variables it lacks (``"empty"``, as
        :func:`~crowdsms.batch.read_recipients_csv` does by default), or ``skipped`` with
        code ``short_row`` (``"skip"``, as the command line does). Every worker reads the
        rows the same way: the choice is part of the plan.

        Numbers on the store's suppression list now (:attr:`deliveries`: they replied "stop")
        are skipped with code ``opted_out``, by every run of every shard, even if they opt
        in again later; ``honour_opt_outs=False`` sends to them, for messages the recipient
        expects regardless (verification codes). The whole list is read once, here.

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
        created = time.time()
        # The keys this plan writes are its own: a coordinator planning the same campaign at
        # the same time (whose manifest may win) never writes into them, nor it into theirs.
        snapshot = uuid.uuid4().hex[:12]
        suppressed: frozenset[str] = frozenset()
        if honour_opt_outs:
            suppressed = await campaign.deliveries.opted_out()
        if recipients is not None:
            plan = await plan_recipients(
                redis,
                campaign._rows_key(snapshot),
                recipients,
                validate=validator.validate,
                shard_rows=shard_rows,
                var_columns=message.columns,
                suppressed=suppressed,
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
                suppressed=suppressed,
                short_rows=short_rows,
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
            created=created,
            honour_opt_outs=honour_opt_outs,
            per_number=str(check_limits(per_number)) if per_number is not None else None,
            snapshot=snapshot,
        )
        # Each shard's duplicates and opted-out numbers are stored apart, so a worker reads
        # only its own (a manifest holding them all would be read whole by every shard).
        lean = attrs.evolve(
            plan,
            shards=tuple(attrs.evolve(shard, duplicates={}, opted_out=()) for shard in plan.shards),
        )
        async with redis.pipeline(transaction=False) as pipe:
            for shard in plan.shards:
                if shard.duplicates:
                    pipe.set(
                        campaign._duplicates_key(manifest, shard.index),
                        json.dumps([[k, v] for k, v in shard.duplicates.items()]),
                    )
                if shard.opted_out:
                    key = campaign._opted_out_key(manifest, shard.index)
                    pipe.set(key, json.dumps(shard.opted_out))
            await pipe.execute()
        manifest = attrs.evolve(manifest, plan=lean)
        # A campaign of this id that was deleted may have left state behind (a cancel, a
        # stop, shards counted done, written after its keys were deleted): a new manifest
        # starts without it, in the same step.
        won = bool(
            await _CREATE.run(
                redis,
                [
                    campaign.manifest_key,
                    campaign.cancel_key,
                    campaign.stopped_key,
                    campaign.shards_key,
                    campaign.reconciled_key,
                    campaign.target_key,
                ],
                [manifest.to_json()],
            )
        )
        # The loser deletes its own keys; the winner the rows of any other plan (a crashed
        # coordinator's, or a loser's still being pushed: never read).
        await campaign._delete_plans_other_than(manifest.snapshot if won else None, snapshot)
        return campaign

    async def _delete_plans_other_than(self, kept: str | None, ours: str) -> None:
        """Delete every plan's pushed rows, duplicates and opted-out keys but ``kept``'s
        (``None``: only ``ours``, the plan that lost)."""
        stale: list[Any] = []
        base = _glob_literal(self._base)
        for name in ("rows", "duplicates", "opted_out"):
            pattern = f"{base}:{name}:{_glob_literal(ours) if kept is None else '*'}:*"
            async for key in self.redis.scan_iter(pattern, count=1000):
                text = key.decode() if isinstance(key, bytes) else str(key)
                if kept is None or not text.startswith(f"{self._base}:{name}:{kept}:"):
                    stale.append(key)
        for start in range(0, len(stale), 1000):
            await self.redis.delete(*stale[start : start + 1000])

    def _rows_key(self, snapshot: str) -> str:
        return f"{self._base}:rows:{snapshot}"

    def _duplicates_key(self, manifest: Manifest, shard: int) -> str:
        if not manifest.snapshot:  # a manifest of an earlier version
            return f"{self._base}:duplicates:{shard}"
        return f"{self._base}:duplicates:{manifest.snapshot}:{shard}"

    def _opted_out_key(self, manifest: Manifest, shard: int) -> str:
        return f"{self._base}:opted_out:{manifest.snapshot}:{shard}"

    async def _shard_plan(self, manifest: Manifest, shard: int) -> ShardPlan:
        """One shard's plan, with its duplicates and opted-out numbers (stored apart)."""
        plan = manifest.plan.shards[shard]
        duplicates, opted_out = await self.redis.mget(
            self._duplicates_key(manifest, shard), self._opted_out_key(manifest, shard)
        )
        if duplicates is not None:
            found = {int(k): int(v) for k, v in json.loads(duplicates)}
            plan = attrs.evolve(plan, duplicates=found)
        if opted_out is not None:
            plan = attrs.evolve(plan, opted_out=tuple(json.loads(opted_out)))
        return plan

    async def manifest(self) -> Manifest:
        """The stored manifest; :class:`ConfigurationError` if there is none."""
        text = await self.redis.get(self.manifest_key)
        if text is None:
            raise await self._not_found()
        return Manifest.from_json(text)

    def job_id(self, shard: int) -> str:
        """The batch job id of one shard (the same in every run: chunk references name it)."""
        return f"{self.campaign_id}/{shard}"

    def claims(self, shard: int, mode: Durability, *, replicas: int = 0) -> ClaimStore:
        """The claims of one shard's chunks (each write on ``replicas`` replicas before it is
        acted on)."""
        return ClaimStore(
            self.redis,
            f"{self.campaign_id}/{shard}",
            mode,
            prefix=self._prefix,
            replicas=replicas,
        )

    async def run_shard(
        self,
        shard: int,
        *,
        token: str | None = None,
        credentials: Mapping[str, object] | None = None,
        base_url: str | None = None,
        resend_unconfirmed_after: float | None = None,
    ) -> BatchReport:
        """Run one shard to its end (any worker, any number of times, even at once).

        ``credentials`` default to the provider's configured ones (environment variables or
        the config file, as for the command line). ``resend_unconfirmed_after`` (seconds)
        sends the shard's recipients still ``unknown`` that long after they were sent, with
        no report confirming them, again: **at-least-once** (see :meth:`resume`).
        """
        text = await self.redis.get(self.manifest_key)
        if text is None:
            raise await self._not_found()
        manifest = Manifest.from_json(text)
        spec = _registry.get(manifest.provider)
        if credentials is None:
            configured = require_credentials(manifest.provider, sandbox_hint=False)
            credentials, base_url = configured.values, base_url or configured.base_url
        mode = await durability(self.redis)
        replicas = await connected_replicas(self.redis)
        load_transport()
        plan = manifest.plan
        shard_plan = await self._shard_plan(manifest, shard)
        job_id = self.job_id(shard)
        journal = ClaimJournal(
            self.claims(shard, mode, replicas=replicas),
            token=token or f"{uuid.uuid4().hex}/{shard}",
            lease=manifest.lease,
            deliveries=RedisDeliveryStore(self.redis, mode, prefix=self._prefix),
            provider=manifest.provider,
            created=manifest.created,
            job_id=job_id,
            opted_out=shard_plan.opted_out,
            planned=self._planned_as(text),
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
                honour_opt_outs=manifest.honour_opt_outs,
                resend_unconfirmed_after=resend_unconfirmed_after,
                number_limiter=self.number_limiter(manifest, credentials),
            )
            await self._check_target(sender.config.target, manifest)
            async with anyio.create_task_group() as group:
                group.start_soon(self._watch_cancel, sender, group.cancel_scope)
                report = await sender.send(
                    self._rows_unless_cancelled(sender, shard_rows(plan, shard_plan, self.redis)),
                    journal=journal,
                    job_id=job_id,
                )
                group.cancel_scope.cancel()
        if report.interrupted:
            logger.info("campaign %s shard %d: cancelled: %s", self.campaign_id, shard, report)
            return report
        if report.stopped is not None:
            # An error every chunk would get (a wrong key, an empty balance): the chunks after
            # it were never sent. The shard is not done; resuming the campaign runs it again.
            await self.redis.hset(self.stopped_key, str(shard), report.stopped[:500])
            logger.warning(
                "campaign %s shard %d stopped: %s; its chunks not sent are sent when the "
                "campaign is resumed, once the cause is fixed",
                self.campaign_id,
                shard,
                report.stopped,
            )
            return report
        counts = {status.value: count for status, count in report.by_status.items()}
        await self.redis.hset(self.shards_key, str(shard), json.dumps(counts))
        await self.redis.hdel(self.stopped_key, str(shard))
        logger.info("campaign %s shard %d: %s", self.campaign_id, shard, report)
        return report

    async def _rows_unless_cancelled(
        self, sender: BatchSender, rows: AsyncIterator[Recipient | PreSkipped]
    ) -> AsyncIterator[Recipient | PreSkipped]:
        """``rows``, the job stopped first if the campaign is cancelled.

        Checked when the job reads its first row: only a running job can be stopped
        (:meth:`BatchSender.stop` before :meth:`BatchSender.send` stops nothing).
        """
        if await self.cancelled():
            sender.stop("the campaign was cancelled")
        async for row in rows:
            yield row

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
                sender.stop("the campaign was cancelled")  # again each time: idempotent
            await anyio.sleep(_CANCEL_POLL)

    async def status(self) -> CampaignStatus:
        """Shards done and chunk counts, from any process."""
        manifest = await self.manifest()
        finished = await self.redis.hgetall(self.shards_key)
        by_status: Counter[str] = Counter()
        for text in finished.values():
            by_status.update(json.loads(text))
        mode = Durability.VOLATILE  # reading counts needs no durability
        started = chunks_done = expired = 0
        for shard in manifest.plan.shards:
            counts = await self.claims(shard.index, mode).counts()
            started += counts.started
            chunks_done += counts.done
            expired += counts.expired
        deliveries: DeliverySummary | None = None
        reconciled_at: float | None = None
        stored = await self.redis.get(self.reconciled_key)
        if stored is not None:
            deliveries, reconciled_at = summary_from_json(stored)
        # A run stopped by an error while another run of the shard finished it (two workers
        # at once) may record the stop last: a shard that is done is not stopped.
        stopped = {
            int(key): value.decode() if isinstance(value, bytes) else str(value)
            for key, value in (await self.redis.hgetall(self.stopped_key)).items()
            if key not in finished
        }
        return CampaignStatus(
            stopped=stopped,
            deliveries=deliveries,
            reconciled_at=reconciled_at,
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

    async def reconcile(
        self,
        client: Any = None,
        sign: str | None = None,
        *,
        opt_out_words: OptOutWords | None = None,
    ) -> DeliverySummary:
        """Apply the store's delivery reports to every shard's chunks; return the counts.

        With ``client`` (a client of the campaign's provider), reports and replies the
        provider queues for pulling are pulled into :attr:`deliveries` first, each batch
        stored before the next pull (``sign``: the replies of that SMS signature, where the
        provider needs one); a provider that only pushes its reports pulls nothing. Then
        every finished chunk's ``unknown`` recipients with a report become ``sent``
        (confirmed), and every sent one gets its delivery state; the claims keep the
        result, so the campaign's outcomes, its status and a resend agree. Safe while
        shards run: chunks being sent are counted ``in_flight``, chunks a worker changes
        meanwhile are read again. Chunks no worker has claimed yet are not counted.
        """
        manifest = await self.manifest()
        mode = await durability(self.redis)
        store = RedisDeliveryStore(self.redis, mode, prefix=self._prefix)
        pulled = 0
        pull_events = _registry.get(manifest.provider).pull_events
        if client is not None and pull_events is not None:

            async def pull(sign: str | None) -> Sequence[Event]:
                assert pull_events is not None
                return await pull_events(client, sign)

            pulled = await pull_into(pull, store, sign=sign, words=opt_out_words)
        since = manifest.created - CLOCK_MARGIN
        index = ReportIndex(
            await store.reports(since=since, provider=manifest.provider),
            started=manifest.created or None,
        )
        reader = reader_of(_registry.get(manifest.provider), manifest.message)
        summaries: list[DeliverySummary] = []
        matched: set[str] = set()
        for lean in manifest.plan.shards:
            shard = await self._shard_plan(manifest, lean.index)
            job_id = self.job_id(shard.index)
            journal = ReconcilingJournal(
                self.claims(shard.index, mode),
                index=index,
                job_id=job_id,
                opted_out=shard.opted_out,
            )
            items = await read_shard(
                reader,
                shard_rows(manifest.plan, shard, self.redis),
                journal=journal,
                job_id=job_id,
                chunk_size=manifest.chunk_size,
                honour_opt_outs=manifest.honour_opt_outs,
            )
            summary = DeliverySummary.count(
                job_id,
                counted(item.outcome for item in items),
                in_flight=journal.in_flight,
            )
            summaries.append(summary)
            matched |= journal.matcher.matched
            if journal.updated and not (journal.in_flight or journal.not_started):
                # a finished shard's counts, as its run wrote them: now with the reports
                await _SET_IF_DONE.run(
                    self.redis,
                    [self.shards_key],
                    [str(shard.index), json.dumps(status_counts(summary))],
                )
        total = merge_summaries(
            self.campaign_id,
            summaries,
            reports=len(matched),
            unmatched_reports=len(index.keys - matched),
            pulled=pulled,
        )
        await self.redis.set(self.reconciled_key, summary_to_json(total, time.time()))
        logger.info("campaign %s reconciled: %s", self.campaign_id, total)
        return total

    async def outcomes(self) -> AsyncIterator[BatchOutcome]:
        """Every row's outcome, in input order (positions are the input's), once it is done.

        Rebuilds each shard's chunks as its workers did and reads their recorded outcomes;
        nothing is sent. Raises :class:`CrowdSMSError` if a chunk is not finished yet.
        """
        manifest = await self.manifest()
        reader = reader_of(_registry.get(manifest.provider), manifest.message)
        for lean in manifest.plan.shards:
            shard = await self._shard_plan(manifest, lean.index)
            store = self.claims(shard.index, Durability.VOLATILE)
            collected = await read_shard(
                reader,
                shard_rows(manifest.plan, shard, self.redis),
                journal=ReadOnlyJournal(store, shard.opted_out),
                job_id=self.job_id(shard.index),
                chunk_size=manifest.chunk_size,
                honour_opt_outs=manifest.honour_opt_outs,
            )
            for item in collected:
                yield attrs.evolve(item, position=shard.first_position + item.position)


# KEYS[1] the shards' states; ARGV[1] shard, ARGV[2] counts. Sets them if the shard is done.
_SET_IF_DONE = LuaScript(
    """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""
)


# KEYS[1] the manifest, KEYS[2] the cancel key. Cancels the campaign if it exists.
_CANCEL_IF_PLANNED = LuaScript(
    """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SET', KEYS[2], '1')
return 1
"""
)

# KEYS[1] the manifest, KEYS[2..] the keys a new campaign starts without; ARGV[1] the
# manifest. Writes it unless one is stored; returns whether it did.
_CREATE = LuaScript(
    """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX') then return 0 end
redis.call('DEL', unpack(KEYS, 2))
return 1
"""
)


def load_transport() -> None:
    """Load now what a shard's client and its first request would load.

    httpx imports httpcore when the first connection is made, and crowdsms builds its TLS
    context then: about 150 ms with the event loop blocked, in a fresh worker process. The
    shard's other chunks, their permits of the shared rate limit granted meanwhile, would go
    out together once it is over: a burst above the campaign's rate. With aiohttp installed
    (the default lanes on asyncio), importing it costs a fresh process about 0.3 s of CPU
    more. The Celery integration calls this when each worker process starts, so no shard
    pays for it; every shard calls it too (at no cost once loaded).
    """
    import httpcore  # noqa: F401 (the import is the point)

    shared_ssl_context()
    if aiohttp_installed():
        import crowdsms._transport.aiohttp_lane  # noqa: F401


def credentials_id(spec: Any, credentials: Mapping[str, object]) -> str:
    """The account a rate limit belongs to: the identity credential (never the secret)."""
    return str(credentials[spec.identity_field.name])


def _glob_literal(text: str) -> str:
    """``text`` as a Redis glob pattern that matches it alone (``*?[]`` and ``\\`` escaped)."""
    escaped = text.replace("\\", "\\\\")
    for char in "*?[]":
        escaped = escaped.replace(char, "\\" + char)
    return escaped
