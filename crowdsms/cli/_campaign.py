"""``crowdsms campaign``: start, follow, export, cancel and resume campaigns run by Celery.

The campaign store (Redis, with AOF and ``appendfsync always``) is ``--store`` or
``$CROWDSMS_CAMPAIGN_STORE``; the Celery broker is ``--broker`` or
``$CROWDSMS_CAMPAIGN_BROKER``. Workers are ordinary Celery workers of an app that called
:func:`crowdsms.campaign.celery.install` (``celery -A yourapp worker``).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from crowdsms.batch import CsvSink, JsonlSink
from crowdsms.batch._sinks import OutcomeSink
from crowdsms.cli._app import cli, console, notes, provider_option, run
from crowdsms.cli._limits import per_number_option
from crowdsms.cli._send import choose_message, message_options
from crowdsms.limits import NumberLimits
from crowdsms.providers import _registry

__all__ = ["campaign"]

T = TypeVar("T")


def _store_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--store",
        envvar="CROWDSMS_CAMPAIGN_STORE",
        required=True,
        help="Redis URL of the campaign store (default: $CROWDSMS_CAMPAIGN_STORE).",
    )(command)


def _extra(module: str, extra: str) -> None:
    try:
        __import__(module)
    except ImportError as exc:
        raise click.ClickException(
            f"campaigns need {module}, part of the {extra} extra; install it with: "
            f"python -m pip install 'crowdsms[{extra}]'"
        ) from exc


async def _with_campaign(store: str, campaign_id: str, job: Callable[[Any], Awaitable[T]]) -> T:
    from crowdsms.campaign import Campaign, connect

    redis = connect(store)
    try:
        return await job(Campaign(redis, campaign_id))
    finally:
        await redis.aclose()


@cli.group()
def campaign() -> None:
    """Campaigns across processes and machines, run by Celery workers."""
    _extra("redis", "campaign")


@campaign.command()
@click.argument("recipients", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--id", "campaign_id", required=True, help="The campaign's id (its name).")
@provider_option()
@message_options
@click.option("--chunk-size", type=click.IntRange(min=1), help="Recipients per request.")
@click.option("--concurrency", type=click.IntRange(min=1), default=4, show_default=True)
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    help="Recipients per second for every worker together.",
)
@click.option("--shard-rows", type=click.IntRange(min=1), default=5000, show_default=True)
@per_number_option(
    "Per-number limits, e.g. 1/m,5/h,10/d: counted in the store for the provider's account, "
    "by every worker and any other sender using the same keys; a number that reached one is "
    "skipped (code number_limited)."
)
@_store_option
@click.option(
    "--broker",
    envvar="CROWDSMS_CAMPAIGN_BROKER",
    required=True,
    help="The Celery broker's URL (default: $CROWDSMS_CAMPAIGN_BROKER).",
)
def start(
    recipients: Path,
    campaign_id: str,
    provider: str,
    chunk_size: int | None,
    concurrency: int,
    rate: float | None,
    shard_rows: int,
    per_number: NumberLimits | None,
    store: str,
    broker: str,
    **options: Any,
) -> None:
    """Plan a campaign from a CSV file every worker can read, and queue its shards.

    Starting the same --id again queues only the shards not done (its plan is kept).
    """
    _extra("celery", "celery")
    from celery import Celery

    from crowdsms.campaign.celery import start as start_campaign

    chosen = choose_message(recipients, provider, options)
    spec = _registry.get(provider)
    app = Celery("crowdsms", broker=broker)
    start_campaign(
        app,
        campaign_id=campaign_id,
        provider=provider,
        message=chosen.message,
        path=os.path.abspath(recipients),
        store=store,
        phone_column=chosen.phone_column,
        var_columns={column: spec.var_name(column) for column in chosen.message.columns},
        chunk_size=chunk_size,
        concurrency=concurrency,
        rate=rate,
        shard_rows=shard_rows,
        per_number=per_number,
        encoding=chosen.encoding,
    )
    console.print(f"campaign {campaign_id} started")
    notes.print(f"Follow it with: crowdsms campaign status {campaign_id}")


@campaign.command()
@click.argument("campaign_id")
@_store_option
def status(campaign_id: str, store: str) -> None:
    """Counts by outcome, pace, shards done/running/left and the time left."""

    async def job(campaign: Any) -> Any:
        return await campaign.status()

    state = run(lambda: _with_campaign(store, campaign_id, job))
    left = state.shards - state.shards_done
    console.print(f"campaign {campaign_id}: {state.rows_done:,} of {state.rows:,} rows done")
    console.print(
        f"shards: {state.shards_done} done, {left} left; chunks: {state.chunks_done:,} done, "
        f"{state.chunks_started:,} in flight, {state.chunks_expired:,} expired (unknown)"
    )
    counts = ", ".join(f"{count:,} {name}" for name, count in sorted(state.by_status.items()))
    console.print(f"outcomes: {counts or 'none yet'}")
    eta = "done" if state.done else (f"{state.eta:,.0f} s" if state.eta is not None else "-")
    console.print(f"pace: {state.per_second:,.1f} rows/s; time left: {eta}")
    if state.cancelled:
        console.print("cancelled: crowdsms campaign resume continues it")


@campaign.command()
@click.argument("campaign_id")
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The outcomes file: .jsonl or .csv, one line per input row, in input order.",
)
@_store_option
def report(campaign_id: str, output: Path, store: str) -> None:
    """Write every row's outcome, in input order, once the campaign is done."""
    if output.suffix not in (".jsonl", ".csv"):
        raise click.BadParameter("must end in .jsonl or .csv", param_hint="--output")
    sink: OutcomeSink = JsonlSink(output) if output.suffix == ".jsonl" else CsvSink(output)

    async def job(campaign: Any) -> int:
        count = 0
        await sink.open()
        try:
            batch = []
            async for item in campaign.outcomes():
                batch.append(item)
                count += 1
                if len(batch) >= 1000:
                    await sink.write(batch)
                    batch = []
            await sink.write(batch)
        finally:
            await sink.close()
        return count

    count = run(lambda: _with_campaign(store, campaign_id, job))
    console.print(f"{count:,} outcomes written to {output}")


@campaign.command()
@click.argument("campaign_id")
@_store_option
def cancel(campaign_id: str, store: str) -> None:
    """Stop the campaign: no new chunks; requests in flight finish."""

    async def job(campaign: Any) -> None:
        await campaign.cancel()

    run(lambda: _with_campaign(store, campaign_id, job))
    console.print(f"campaign {campaign_id} cancelled; resume it with crowdsms campaign resume")


@campaign.command()
@click.argument("campaign_id")
@_store_option
@click.option("--broker", envvar="CROWDSMS_CAMPAIGN_BROKER", required=True)
def resume(campaign_id: str, store: str, broker: str) -> None:
    """Undo a cancel and queue the shards not done again."""
    _extra("celery", "celery")
    from celery import Celery

    from crowdsms.campaign.celery import SHARD_TASK

    async def job(campaign: Any) -> list[int]:
        shards: list[int] = await campaign.resume()
        return shards

    shards = run(lambda: _with_campaign(store, campaign_id, job))
    app = Celery("crowdsms", broker=broker)
    for shard in shards:
        app.send_task(SHARD_TASK, args=(campaign_id, shard))
    console.print(f"campaign {campaign_id}: {len(shards)} shards queued again")


@campaign.command()
@click.argument("campaign_id")
@_store_option
def delete(campaign_id: str, store: str) -> None:
    """Delete the campaign's keys from the store (write its report first)."""

    async def job(campaign: Any) -> int:
        deleted: int = await campaign.delete()
        return deleted

    deleted = run(lambda: _with_campaign(store, campaign_id, job))
    console.print(f"campaign {campaign_id}: {deleted:,} keys deleted")
