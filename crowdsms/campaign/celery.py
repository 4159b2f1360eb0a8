"""Celery as the campaign engine: shards are tasks, run by ordinary Celery workers.

Add it to an existing Celery app in a few lines::

    # tasks.py of your project
    from celery import Celery
    from crowdsms.campaign.celery import install

    app = Celery("shop", broker="redis://127.0.0.1:6379/0")
    install(app, store="redis://127.0.0.1:6379/1")   # the campaign store: AOF, fsync always

Run workers as usual (``celery -A tasks worker``), each with the provider's credentials in
its environment (``CROWDSMS_<PROVIDER>_<FIELD>``, as for the command line). Start a campaign
from anywhere::

    from crowdsms.campaign.celery import start
    from crowdsms.providers._spec import MessageOptions

    campaign_id = start(
        app,
        campaign_id="2026-12-promo",
        provider=name,                    # a registered provider's name
        message=MessageOptions(content="【小店】@var(name)，新品到货", columns=("name",)),
        path="/shared/contacts.csv",      # a file every worker can read
        rate=200,                         # recipients per second, for every worker together
    )

Celery delivers a task again when a worker dies (``acks_late``) and sometimes while the first
worker still runs it (the broker's visibility timeout): crowdsms's claims, not the engine,
make that harmless. A shard whose store could not be reached (Redis restarting, a network
outage) is retried after a pause, for as long as it takes: Celery would otherwise count it
as failed and drop it. A shard's rows never travel through the broker: a task carries the
campaign id and the shard's number.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import celery.signals

from crowdsms.batch import ShortRows
from crowdsms.campaign._campaign import DEFAULT_SHARD_ROWS, Campaign, load_transport
from crowdsms.campaign._journal import DEFAULT_LEASE, STORE_ERRORS
from crowdsms.campaign._redis import connect
from crowdsms.limits import NumberLimits
from crowdsms.providers._spec import MessageOptions

__all__ = ["SHARD_TASK", "install", "resume", "start"]

SHARD_TASK = "crowdsms.campaign.run_shard"
"""The name of the task that runs one shard."""

STORE_SETTING = "crowdsms_campaign_store"
"""The Celery setting (``app.conf``) that may hold the campaign store's Redis URL.

``install(app, store=...)`` keeps the URL out of ``app.conf``: Celery shows its settings
(``celery report``, ``inspect conf``) and masks only names such as ``*_PASSWORD``, so a
password in the URL would show there.
"""

_STORES: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
"""The store URL each app was installed with (``install(app, store=...)``)."""

STORE_RETRY_DELAY = 1.0
"""Seconds before a shard that could not reach its store runs again; doubled for each
further attempt, up to :data:`STORE_RETRY_MAX_DELAY`."""
STORE_RETRY_MAX_DELAY = 60.0


def _store_url(app: Any, store: str | None) -> str:
    url = store or _configured_store(app)
    if not url:
        raise RuntimeError("pass store= (the campaign store's Redis URL) or install() it first")
    return str(url)


def _configured_store(app: Any) -> str | None:
    """The store URL ``app`` was installed with, else its setting, else the environment's."""
    url = _STORES.get(app) or app.conf.get(STORE_SETTING)
    return str(url) if url else os.environ.get("CROWDSMS_CAMPAIGN_STORE")


def _store_unreachable(error: BaseException) -> bool:
    """Whether ``error`` says the store could not be reached (a group: all of its errors).

    A shard that fails so is run again: the claims its run wrote are on disk, and the chunks
    it held when the store went away are waited for (their lease), then reported ``unknown``.
    """
    if isinstance(error, STORE_ERRORS):
        return True
    inner = getattr(error, "exceptions", None)  # an exception group, from a task group
    return (
        isinstance(inner, tuple)
        and bool(inner)
        and all(isinstance(item, BaseException) and _store_unreachable(item) for item in inner)
    )


def _load_transport_at_start(**_: object) -> None:
    load_transport()


def install(app: Any, *, store: str | None = None) -> Any:
    """Register the shard task on ``app``; return it.

    ``store`` is the Redis URL of the campaign store (default: the app's
    ``crowdsms_campaign_store`` setting, else ``$CROWDSMS_CAMPAIGN_STORE``). The task acks
    late and is requeued when its worker is lost, so a killed worker's shard runs again; it
    is retried (without limit, after 1 s, 2 s, ... up to 60 s) when the store cannot be
    reached. Its keyword ``resend_unconfirmed_after`` (seconds; see :func:`resume`) resends
    the shard's recipients no delivery report confirmed: at-least-once.
    """
    if store is not None:
        _STORES[app] = store
    # The transport's libraries and TLS context are loaded once, when the worker starts
    # (before its pool forks), not by the first shard each process runs.
    celery.signals.worker_init.connect(_load_transport_at_start, weak=False)

    @app.task(  # type: ignore[untyped-decorator]
        bind=True,
        name=SHARD_TASK,
        acks_late=True,
        reject_on_worker_lost=True,
        ignore_result=True,
        max_retries=None,
    )
    def run_shard(
        task: Any, campaign_id: str, shard: int, resend_unconfirmed_after: float | None = None
    ) -> dict[str, int]:
        url = _configured_store(app)
        if not url:
            raise RuntimeError(
                "the campaign store is not configured: pass store= to install() or set "
                "CROWDSMS_CAMPAIGN_STORE"
            )

        async def job() -> dict[str, int]:
            redis = connect(url)
            try:
                report = await Campaign(redis, campaign_id).run_shard(
                    shard, resend_unconfirmed_after=resend_unconfirmed_after
                )
            finally:
                await redis.aclose()
            return {"sent": report.sent, "failed": report.failed, "unknown": report.unknown}

        try:
            return anyio.run(job)
        except Exception as error:
            if not _store_unreachable(error):
                raise
            delay = min(STORE_RETRY_MAX_DELAY, STORE_RETRY_DELAY * 2**task.request.retries)
            raise task.retry(exc=error, countdown=delay) from error

    return run_shard


def start(
    app: Any,
    *,
    campaign_id: str,
    provider: str,
    message: MessageOptions,
    path: str | Path,
    store: str | None = None,
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
) -> str:
    """Plan the campaign (once: the same id again keeps its plan) and queue its shards.

    Returns the campaign id. Shards already done are not queued again, so calling it again
    after a crash, or after :meth:`Campaign.resume`, continues the campaign. Numbers that
    opted out are skipped unless ``honour_opt_outs=False``; ``per_number`` counts each
    number's messages in the store; ``short_rows="skip"`` skips a row that lacks a
    variable's field (see :meth:`Campaign.create` for all three).
    """
    url = _store_url(app, store)

    async def plan() -> list[int]:
        redis = connect(url)
        try:
            campaign = await Campaign.create(
                redis,
                campaign_id=campaign_id,
                provider=provider,
                message=message,
                path=path,
                phone_column=phone_column,
                var_columns=var_columns,
                chunk_size=chunk_size,
                concurrency=concurrency,
                rate=rate,
                shard_rows=shard_rows,
                encoding=encoding,
                lease=lease,
                honour_opt_outs=honour_opt_outs,
                per_number=per_number,
                short_rows=short_rows,
            )
            return await campaign.resume()
        finally:
            await redis.aclose()

    for shard in anyio.run(plan):
        app.send_task(SHARD_TASK, args=(campaign_id, shard))
    return campaign_id


def resume(
    app: Any,
    *,
    campaign_id: str,
    store: str | None = None,
    resend_unconfirmed_after: float | None = None,
) -> list[int]:
    """Undo a cancel and queue the shards not done again; return them.

    With ``resend_unconfirmed_after`` (seconds), shards with ``unknown`` recipients are queued
    too, and their workers send those recipients again when no delivery report confirmed
    them that long after they were sent. **At-least-once**: a recipient whose report was
    lost or is late gets the message twice. Reconcile first
    (:meth:`Campaign.reconcile`, ``crowdsms campaign reconcile``).
    """
    url = _store_url(app, store)

    async def queued() -> list[int]:
        redis = connect(url)
        try:
            campaign = Campaign(redis, campaign_id)
            return await campaign.resume(resend_unconfirmed_after=resend_unconfirmed_after)
        finally:
            await redis.aclose()

    shards = anyio.run(queued)
    after = resend_unconfirmed_after
    kwargs = {} if after is None else {"resend_unconfirmed_after": float(after)}
    for shard in shards:
        app.send_task(SHARD_TASK, args=(campaign_id, shard), kwargs=kwargs)
    return shards
