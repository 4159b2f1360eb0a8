"""``crowdsms reconcile``: apply a job's delivery reports and print where its recipients are."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AsyncExitStack
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from crowdsms.batch import reconcile as reconcile_job
from crowdsms.cli._app import (
    CliState,
    ProviderChoice,
    cli,
    config_option,
    console,
    notes,
    open_target,
    run,
)
from crowdsms.deliveries import DeliverySummary
from crowdsms.providers import _registry
from crowdsms.webhooks import Event

__all__ = ["reconcile", "summary_of_deliveries"]


def summary_of_deliveries(summary: DeliverySummary, *, title: str | None = None) -> Table:
    """The recipients of a job (or a campaign) by outcome and delivery state."""
    table = Table(title=title or f"job {summary.job_id}: deliveries", header_style="bold")
    table.add_column("recipients")
    table.add_column("count", justify="right")
    table.add_column("meaning", overflow="fold")
    rows = [
        ("recipients", summary.recipients, "in all"),
        ("sent", summary.sent, "the provider accepted them"),
        ("  confirmed", summary.confirmed, "were unknown; a report proved the provider had them"),
        ("  delivered", summary.delivered, "the handset received the message"),
        ("  undelivered", summary.undelivered, "the carrier could not deliver it"),
        ("  awaiting", summary.awaiting, "no final report yet"),
        ("unknown", summary.unknown, "no report yet: sending again may deliver twice"),
        ("failed", summary.failed, "refused, or not sent"),
        ("skipped", summary.skipped, "invalid, duplicate, opted out or limited: not sent"),
        ("in flight", summary.in_flight, "being sent by the running job, or interrupted"),
    ]
    for name, count, meaning in rows:
        table.add_row(name, f"{count:,}", meaning)
    for code, count in list(summary.undelivered_codes.items())[:8]:
        table.add_row(f"  code {escape(code)}", f"{count:,}", "undelivered with this code")
    table.add_section()
    table.add_row("reports matched", f"{summary.reports:,}", "")
    if summary.unmatched_reports:
        table.add_row("reports of other sends", f"{summary.unmatched_reports:,}", "")
    if summary.pulled:
        table.add_row("pulled", f"{summary.pulled:,}", "reports and replies pulled and stored")
    return table


@cli.command()
@click.argument("job_id")
@click.option(
    "--journal",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The job's SQLite journal (where the webhook app records reports).",
)
@click.option(
    "--provider",
    type=ProviderChoice(),
    help="Apply only this provider's reports, and pull its queued ones first if it has any.",
)
@click.option("--sign", help="The SMS signature whose replies to pull (providers that need it).")
@click.option("--no-pull", is_flag=True, help="Apply the stored reports only; pull nothing.")
@config_option
@click.pass_obj
def reconcile(
    state: CliState,
    /,
    job_id: str,
    journal: Path,
    provider: str | None,
    sign: str | None,
    no_pull: bool,
) -> None:
    """Apply the delivery reports of job JOB_ID and show where its recipients are.

    Reports pushed to the webhook app (recorded into the journal) and, with --provider,
    reports the provider queues for pulling (pulled and stored first) turn 'unknown'
    recipients whose request the provider had into 'sent' (confirmed), and give every sent
    recipient its delivery state. Safe while the job runs. Exit status 0 when no recipient is
    unknown, 1 otherwise.
    """
    pull_events = None if provider is None or no_pull else _registry.get(provider).pull_events

    async def job() -> DeliverySummary:
        if pull_events is None:
            return await reconcile_job(journal, job_id, provider=provider)
        assert provider is not None
        async with AsyncExitStack() as stack:
            client = await open_target(
                stack, provider, state.config, use_sandbox=False, sandbox_option=False
            )

            async def pull(sign: str | None) -> Sequence[Event]:
                assert pull_events is not None
                return await pull_events(client, sign)

            return await reconcile_job(journal, job_id, provider=provider, pull=pull, sign=sign)

    summary = run(job)
    console.print(summary_of_deliveries(summary))
    if summary.unknown:
        notes.print(
            f"{summary.unknown:,} recipients are still unknown: no report says the provider "
            "had them. Reports can take minutes; run this again later. To send them again "
            "(at-least-once: some may get the message twice), resume the job with "
            "--resend-unconfirmed-after.",
            markup=False,
        )
        raise SystemExit(1)
