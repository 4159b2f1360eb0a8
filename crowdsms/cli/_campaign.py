"""``crowdsms campaign``: start, follow, reconcile, export, cancel and resume Celery campaigns.

The campaign store (Redis, with AOF and ``appendfsync always``) is ``--store`` or
``$CROWDSMS_CAMPAIGN_STORE``; the Celery broker is ``--broker`` or
``$CROWDSMS_CAMPAIGN_BROKER``. Workers are ordinary Celery workers of an app that called
:func:`crowdsms.campaign.celery.install` (``celery -A yourapp worker``).
"""

from __future__ import annotations

import difflib
import os
import shutil
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from crowdsms.batch import CsvSink, JsonlSink
from crowdsms.batch._sinks import OutcomeSink
from crowdsms.cli._app import (
    CliState,
    cli,
    config_option,
    console,
    notes,
    open_target,
    provider_option,
    run,
)
from crowdsms.cli._duration import Duration, format_duration
from crowdsms.cli._limits import per_number_option
from crowdsms.cli._reconcile import summary_of_deliveries
from crowdsms.cli._send import choose_message, message_options
from crowdsms.limits import NumberLimits
from crowdsms.providers import _registry

__all__ = ["campaign"]

T = TypeVar("T")


def _ago(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


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


def _no_campaign(campaign_id: str, suggestion: str | None) -> click.ClickException:
    close = f" (did you mean {suggestion!r}?)" if suggestion is not None else ""
    return click.ClickException(
        f"no campaign {campaign_id!r} in this store{close}; nothing was done. "
        "crowdsms campaign start creates one"
    )


@contextmanager
def _known_campaign() -> Iterator[None]:
    """A campaign that is not in the store, as a one-line error."""
    from crowdsms.campaign import CampaignNotFoundError

    try:
        yield
    except CampaignNotFoundError as error:
        raise _no_campaign(error.campaign_id, error.suggestion) from None


class _Unreachable(Exception):
    """The store did not answer a PING: the command has done nothing."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


async def _reach(client: Any) -> None:
    from redis.exceptions import RedisError

    try:
        await client.ping()
    except RedisError as error:
        raise _Unreachable(error) from error


async def _reachable(store: str) -> None:
    """Raise :class:`_Unreachable` unless the store answers (before a command that writes)."""
    from crowdsms.campaign import connect

    client = connect(store)
    try:
        await _reach(client)
    finally:
        await client.aclose()


def _reason(error: BaseException, url: str) -> str:
    """``error``'s message on one line, ``url``'s password masked."""
    from crowdsms.campaign._redis import scrubbed

    text = " ".join(str(error).split()).rstrip(".") or type(error).__name__
    return scrubbed(text, url)


@contextmanager
def _store_errors(store: str, *, writes: bool) -> Iterator[None]:
    """The store's errors as one line, the URL's password masked: exit status 2 when the
    command did nothing (the store could not be reached, or the command only reads), else 1."""
    from redis.exceptions import RedisError

    from crowdsms.campaign._redis import shown_url

    try:
        yield
    except _Unreachable as unreachable:
        reason = _reason(unreachable.error, store)
        raise click.ClickException(
            f"cannot use the campaign store {shown_url(store)}: {reason}; nothing was done. "
            "Check that its Redis server is running and that --store (or "
            "$CROWDSMS_CAMPAIGN_STORE) is its URL"
        ) from None
    except RedisError as error:
        reason = _reason(error, store)
        what = f"the campaign store {shown_url(store)} failed: {reason}"
        if not writes:
            raise click.ClickException(
                f"{what}; nothing was changed. Run the command again once that is fixed"
            ) from None
        click.echo(
            f"crowdsms: error: {what}; the command may be partly done. Run it again once that "
            "is fixed: it is safe to repeat",
            err=True,
        )
        raise SystemExit(1) from None


@contextmanager
def _broker_errors(app: Any, broker: str) -> Iterator[None]:
    """Check that the broker answers (else exit status 2: nothing was done), then turn its
    errors while the shards are queued into one line (exit status 1: some may be queued)."""
    from kombu.exceptions import OperationalError

    from crowdsms.campaign._redis import shown_url

    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0)
    except (OperationalError, OSError) as error:
        raise click.ClickException(
            f"cannot reach the Celery broker {shown_url(broker)}: {_reason(error, broker)}; "
            "nothing was done. Check that it is running and that --broker (or "
            "$CROWDSMS_CAMPAIGN_BROKER) is its URL"
        ) from None
    try:
        yield
    except OperationalError as error:  # kombu's, for any transport's connection error
        click.echo(
            f"crowdsms: error: the Celery broker {shown_url(broker)} failed: "
            f"{_reason(error, broker)}; some shards may not be queued. Run the command again "
            "once the broker answers: it queues the shards not done",
            err=True,
        )
        raise SystemExit(1) from None


async def _with_campaign(store: str, campaign_id: str, job: Callable[[Any], Awaitable[T]]) -> T:
    from crowdsms.campaign import Campaign, connect

    redis = connect(store)
    try:
        await _reach(redis)
        with _known_campaign():
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
@click.option(
    "--ignore-opt-outs",
    is_flag=True,
    help=(
        "Send to numbers that replied to opt out (退订) too: only for messages the recipient "
        "expects regardless, e.g. verification codes."
    ),
)
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
    ignore_opt_outs: bool,
    per_number: NumberLimits | None,
    store: str,
    broker: str,
    **options: Any,
) -> None:
    """Plan a campaign from a CSV file every worker can read, and queue its shards.

    Starting the same --id again queues only the shards not done (its plan is kept).
    Numbers that replied to opt out before the campaign starts are skipped (opted_out).
    """
    _extra("celery", "celery")
    from celery import Celery

    from crowdsms.campaign.celery import start as start_campaign

    chosen = choose_message(recipients, provider, options)
    spec = _registry.get(provider)
    app = Celery("crowdsms", broker=broker)
    with _store_errors(store, writes=True):
        run(lambda: _reachable(store))
    with _store_errors(store, writes=True), _broker_errors(app, broker):
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
            honour_opt_outs=not ignore_opt_outs,
            short_rows="skip",  # as `send` does: never a blank where a value should be
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

    with _store_errors(store, writes=False):
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
    deliveries = state.deliveries
    if deliveries is not None:
        ago = _ago(max(0.0, time.time() - (state.reconciled_at or time.time())))
        console.print(
            f"deliveries (reconciled {ago} ago): {deliveries.delivered:,} delivered, "
            f"{deliveries.undelivered:,} undelivered, {deliveries.awaiting:,} awaiting a "
            f"report; {deliveries.confirmed:,} confirmed by reports, "
            f"{deliveries.unknown:,} still unknown"
        )
    for shard, reason in sorted(state.stopped.items()):
        console.print(
            f"shard {shard} stopped: {reason}; fix that, then crowdsms campaign resume sends "
            "the rest"
        )
    if state.cancelled:
        console.print("cancelled: crowdsms campaign resume continues it")


def _print_summary(campaign_id: str, summary: Any) -> None:
    console.print(summary_of_deliveries(summary, title=f"campaign {campaign_id}: deliveries"))
    if summary.unknown:
        notes.print(
            f"{summary.unknown:,} recipients are still unknown: their request may have reached "
            "the provider, and no report says so yet. Reports can take minutes; run this "
            "again later. To send them again (at-least-once: some may get the message twice): "
            f"crowdsms campaign resume {campaign_id} --resend-unconfirmed-after 30m",
            markup=False,
        )


@campaign.command()
@click.argument("campaign_id")
@click.option("--sign", help="Pull the replies of this SMS signature too (where asked for).")
@click.option(
    "--no-pull",
    "no_pull",
    is_flag=True,
    help="Do not pull queued reports from the provider; apply the stored ones only.",
)
@config_option
@_store_option
def reconcile(campaign_id: str, sign: str | None, no_pull: bool, store: str) -> None:
    """Apply the delivery reports to the campaign's outcomes and count its deliveries.

    Reports pushed to a WebhookApp recording into the store are applied; where the provider
    queues them for pulling, they are pulled first (with the provider's configured
    credentials). Unknown recipients with a report become sent (confirmed). Safe while the
    campaign runs. Exit status 0 when no recipient is unknown, 1 otherwise.
    """
    config = click.get_current_context().ensure_object(CliState).config

    async def job(campaign: Any) -> Any:
        provider = (await campaign.manifest()).provider
        if no_pull or _registry.get(provider).pull_events is None:
            return await campaign.reconcile()
        async with AsyncExitStack() as stack:
            client = await open_target(
                stack, provider, config, use_sandbox=False, sandbox_option=False
            )
            return await campaign.reconcile(client, sign)

    with _store_errors(store, writes=True):
        summary = run(lambda: _with_campaign(store, campaign_id, job))
    _print_summary(campaign_id, summary)
    if summary.unknown:
        raise SystemExit(1)


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
    """Write every row's outcome, in input order, once the campaign is done.

    The file is written under a temporary name next to it and renamed into place at the
    end: when the report fails, an existing file of that name is left as it was.
    """
    if output.suffix not in (".jsonl", ".csv"):
        raise click.BadParameter("must end in .jsonl or .csv", param_hint="--output")
    target = Path(os.path.realpath(output))  # a symbolic link keeps pointing at the report
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        temporary.open("x").close()  # the permissions a new file gets (the umask)
        if target.exists():
            shutil.copymode(target, temporary)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise click.BadParameter(
            f"cannot write in {str(target.parent)!r}: {error.strerror or error}",
            param_hint="--output",
        ) from None
    sink: OutcomeSink = JsonlSink(temporary) if output.suffix == ".jsonl" else CsvSink(temporary)

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

    try:
        with _store_errors(store, writes=False):
            count = run(lambda: _with_campaign(store, campaign_id, job))
        try:
            os.replace(temporary, target)
        except OSError as error:
            raise click.ClickException(
                f"cannot replace {str(output)!r}: {error.strerror or error}"
            ) from None
    finally:
        temporary.unlink(missing_ok=True)
    console.print(f"{count:,} outcomes written to {output}")


@campaign.command()
@click.argument("campaign_id")
@_store_option
def cancel(campaign_id: str, store: str) -> None:
    """Stop the campaign: no new chunks; requests in flight finish.

    An id the store does not hold is refused (exit status 2), with the closest one it holds.
    """

    async def job(campaign: Any) -> None:
        await campaign.cancel()

    with _store_errors(store, writes=True):
        run(lambda: _with_campaign(store, campaign_id, job))
    console.print(f"campaign {campaign_id} cancelled; resume it with crowdsms campaign resume")


@campaign.command()
@click.argument("campaign_id")
@_store_option
@click.option("--broker", envvar="CROWDSMS_CAMPAIGN_BROKER", required=True)
@click.option(
    "--resend-unconfirmed-after",
    "resend_after",
    type=Duration(),
    help=(
        "AT-LEAST-ONCE: also send again the recipients still unknown (no delivery report "
        "confirmed them) this long after they were sent, e.g. 30m. A recipient whose report "
        "was lost or is late gets the message twice. Run crowdsms campaign reconcile first."
    ),
)
def resume(campaign_id: str, store: str, broker: str, resend_after: float | None) -> None:
    """Undo a cancel and queue the shards not done again.

    With --resend-unconfirmed-after, shards with unknown recipients are queued too, and
    their workers send those recipients again: at-least-once, never by default.
    """
    _extra("celery", "celery")
    from celery import Celery

    from crowdsms.campaign.celery import resume as resume_campaign

    app = Celery("crowdsms", broker=broker)
    with _store_errors(store, writes=True):
        run(lambda: _reachable(store))
    with _store_errors(store, writes=True), _broker_errors(app, broker), _known_campaign():
        shards = resume_campaign(
            app, campaign_id=campaign_id, store=store, resend_unconfirmed_after=resend_after
        )
    console.print(f"campaign {campaign_id}: {len(shards)} shards queued again")
    if resend_after is not None:
        notes.print(
            f"Recipients still unknown {format_duration(resend_after)} after they were sent "
            "will be sent again: at-least-once, some may get the message twice."
        )


@campaign.command()
@click.argument("campaign_id")
@_store_option
def delete(campaign_id: str, store: str) -> None:
    """Delete the campaign's keys from the store (write its report first).

    An id the store holds no key of is refused (exit status 2).
    """

    async def job(campaign: Any) -> int:
        deleted: int = await campaign.delete()
        if not deleted:
            known = await campaign.ids(campaign.redis)
            close = difflib.get_close_matches(campaign_id, known, n=1)
            raise _no_campaign(campaign_id, close[0] if close else None)
        return deleted

    with _store_errors(store, writes=True):
        deleted = run(lambda: _with_campaign(store, campaign_id, job))
    console.print(f"campaign {campaign_id}: {deleted:,} keys deleted")
