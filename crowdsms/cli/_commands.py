"""The ``crowdsms`` commands: send, demo, sandbox, balance, reports, time."""

from __future__ import annotations

import csv
import logging
import sqlite3
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TypeVar

import anyio
import attrs
import click
from rich.console import Console

from crowdsms._client import AsyncClientBase
from crowdsms.batch import BatchReport, BatchSender, CsvSink, JsonlSink, read_recipients_csv
from crowdsms.batch._sinks import OutcomeSink
from crowdsms.cli._config import PROVIDER_NAMES, Credentials, ProviderName, load_credentials
from crowdsms.cli._render import SendProgress, summary_table
from crowdsms.cli._sample import write_sample_csv
from crowdsms.cli._targets import (
    Message,
    make_chunk_sender,
    make_client,
    sandbox_credentials,
    var_keys,
)
from crowdsms.errors import InvalidInputError
from crowdsms.outcomes import OutcomeStatus
from crowdsms.providers.paasw import AsyncPaasw
from crowdsms.providers.sendcloud import AsyncSendCloud
from crowdsms.providers.submail import AsyncSubmail

__all__ = ["cli"]

T = TypeVar("T")

console = Console(stderr=False, highlight=False)
notes = Console(stderr=True, highlight=False)

DEMO_CONTENT = "【SANDBOX】@var(name)，您好，您的取货码为 @var(code)"


@attrs.frozen(kw_only=True)
class SendJob:
    """Everything ``crowdsms send`` was asked to do."""

    recipients: Path
    provider: ProviderName
    message: Message
    phone_column: str
    var_columns: tuple[str, ...]
    chunk_size: int | None
    concurrency: int
    rate: float | None
    journal: Path | None
    job_id: str | None
    output: Path | None
    force_sandbox: bool
    config: Path | None
    show_progress: bool


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="TOML credentials (default: $CROWDSMS_CONFIG or ~/.config/crowdsms/config.toml).",
)
@click.option("-v", "--verbose", count=True, help="Log more (-v info, -vv debug; never secrets).")
@click.pass_context
def cli(ctx: click.Context, config: Path | None, verbose: int) -> None:
    """Send SMS and crowd tasks through SUBMAIL, SendCloud, CrowdTask and paasw.

    With no credentials configured, commands run against an embedded sandbox on loopback:
    nothing leaves this machine.
    """
    ctx.obj = config
    if verbose:
        logging.basicConfig(
            level=logging.DEBUG if verbose > 1 else logging.INFO,
            format="%(asctime)s %(name)s %(levelname)s %(message)s",
        )


def _provider_option() -> Callable[[Callable[..., None]], Callable[..., None]]:
    return click.option(
        "--provider",
        type=click.Choice(PROVIDER_NAMES),
        default="submail",
        show_default=True,
        help="Which provider to send through.",
    )


@cli.command()
@click.argument("recipients", type=click.Path(path_type=Path, dir_okay=False))
@_provider_option()
@click.option("--content", help="Message text (SUBMAIL: with @var(name); paasw: one text).")
@click.option("--tag", help="SUBMAIL tag, at most 32 characters.")
@click.option("--template-id", type=int, help="SendCloud template id.")
@click.option("--sign", help="paasw SMS signature, without 【】.")
@click.option(
    "--kind",
    type=click.Choice(["1", "2", "3"]),
    help="paasw message kind: 1 verification code, 2 notice, 3 marketing.",
)
@click.option("--project-id", type=int, help="CrowdTask project id.")
@click.option("--phone-column", default="phone", show_default=True, help="CSV column of numbers.")
@click.option(
    "--var-column",
    "var_columns",
    multiple=True,
    help="CSV column used as a template variable (repeatable; default: every other column).",
)
@click.option("--chunk-size", type=click.IntRange(min=1), help="Recipients per request.")
@click.option("--concurrency", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--rate", type=click.FloatRange(min=0, min_open=True), help="Recipients/second.")
@click.option("--journal", type=click.Path(path_type=Path, dir_okay=False), help="SQLite journal.")
@click.option("--job-id", help="Name of the job in the journal.")
@click.option("--resume", is_flag=True, help="Resume the job recorded in --journal.")
@click.option(
    "--output", type=click.Path(path_type=Path, dir_okay=False), help="Outcomes: .jsonl or .csv."
)
@click.option("--sandbox", "force_sandbox", is_flag=True, help="Use the embedded sandbox.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_obj
def send(
    config: Path | None,
    recipients: Path,
    provider: ProviderName,
    content: str | None,
    tag: str | None,
    template_id: int | None,
    sign: str | None,
    kind: str | None,
    project_id: int | None,
    phone_column: str,
    var_columns: Sequence[str],
    chunk_size: int | None,
    concurrency: int,
    rate: float | None,
    journal: Path | None,
    job_id: str | None,
    resume: bool,
    output: Path | None,
    force_sandbox: bool,
    quiet: bool,
) -> None:
    """Send one campaign to every recipient in a CSV file (a header row, then one per line)."""
    columns = _header(recipients, phone_column)
    chosen = tuple(var_columns) or tuple(c for c in columns if c != phone_column)
    _check_journal(journal, job_id, resume)
    if output is not None and output.suffix not in (".jsonl", ".csv"):
        raise click.BadParameter("must end in .jsonl or .csv", param_hint="--output")
    job = SendJob(
        recipients=recipients,
        provider=provider,
        message=Message(
            content=content,
            tag=tag,
            template_id=template_id,
            sign=sign,
            kind=int(kind) if kind is not None else None,
            project_id=project_id,
            columns=chosen,
        ),
        phone_column=phone_column,
        var_columns=chosen,
        chunk_size=chunk_size,
        concurrency=concurrency,
        rate=rate,
        journal=journal,
        job_id=job_id,
        output=output,
        force_sandbox=force_sandbox,
        config=config,
        show_progress=not quiet,
    )
    report = _run(lambda: run_send(job))
    _finish(report, job)


@cli.command()
@click.option(
    "--recipients", "count", type=click.IntRange(min=1), default=10_000, show_default=True
)
@_provider_option()
@click.option("--concurrency", type=click.IntRange(min=1), default=16, show_default=True)
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), default=None)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_obj
def demo(
    config: Path | None,
    count: int,
    provider: ProviderName,
    concurrency: int,
    output: Path | None,
    quiet: bool,
) -> None:
    """Send a sample campaign to COUNT generated recipients through the embedded sandbox."""
    with tempfile.TemporaryDirectory(prefix="crowdsms-demo-") as folder:
        sample = write_sample_csv(Path(folder) / "recipients.csv", count)
        notes.print(f"Wrote {count:,} sample recipients to a temporary CSV file.")
        message = {
            "submail": Message(content=DEMO_CONTENT),
            "sendcloud": Message(template_id=1),
            "crowdtask": Message(project_id=1, columns=("name", "code")),
            "paasw": Message(content="【SANDBOX】您的订单已发货", sign="SANDBOX", kind=2),
        }[provider]
        var_columns = (
            ()
            if provider == "paasw"
            else ("code",)
            if provider == "sendcloud"
            else (
                "name",
                "code",
            )
        )
        job = SendJob(
            recipients=sample,
            provider=provider,
            message=message,
            phone_column="phone",
            var_columns=var_columns,
            chunk_size=None,
            concurrency=concurrency,
            rate=None,
            journal=None,
            job_id=None,
            output=output,
            force_sandbox=True,
            config=config,
            show_progress=not quiet,
        )
        report = _run(lambda: run_send(job))
        _finish(report, job)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
def sandbox(host: str, port: int) -> None:
    """Run the sandbox (an emulator of all four providers) in the foreground."""
    from crowdsms.sandbox import run

    notes.print(f"Sandbox on http://{host}:{port} (Ctrl-C stops it).")
    run(host=host, port=port)


@cli.command()
@click.pass_obj
def balance(config: Path | None) -> None:
    """Show the paasw account balance."""

    async def job(client: AsyncClientBase) -> str:
        assert isinstance(client, AsyncPaasw)
        return str((await client.account.balance()).balance)

    console.print(f"balance: {_run(lambda: _with_client('paasw', config, job))}")


@cli.command()
@click.argument("kind", type=click.Choice(["deliveries", "replies"]))
@click.option("--sign", help="Only this SMS signature (required for replies).")
@click.pass_obj
def reports(config: Path | None, kind: str, sign: str | None) -> None:
    """Pull paasw delivery reports or replies (pulling removes them from the queue)."""
    if kind == "replies" and not sign:
        raise click.BadParameter("replies need --sign", param_hint="--sign")

    async def job(client: AsyncClientBase) -> list[str]:
        assert isinstance(client, AsyncPaasw)
        if kind == "deliveries":
            got = await client.reports.pull_deliveries(sign=sign)
            return [f"{r.phone}\t{r.biz_id}\t{r.code}\t{r.status.name}" for r in got]
        assert sign is not None
        replies = await client.reports.pull_replies(sign=sign)
        return [f"{r.phone}\t{r.send_time}\t{r.content}" for r in replies]

    lines = _run(lambda: _with_client("paasw", config, job))
    for line in lines:
        console.print(line, markup=False)
    notes.print(f"{len(lines)} {kind}")


@cli.command(name="time")
@click.option(
    "--provider", type=click.Choice(["submail", "sendcloud"]), default="submail", show_default=True
)
@click.pass_obj
def server_time(config: Path | None, provider: ProviderName) -> None:
    """Show the provider's clock and how far this machine's clock is off."""

    async def job(client: AsyncClientBase) -> str:
        if isinstance(client, AsyncSubmail):
            stamp = float(await client.service.timestamp())
        else:
            assert isinstance(client, AsyncSendCloud)
            stamp = (await client.timestamp.get()).seconds
        offset = await client.measure_clock()
        return f"server time: {stamp:.0f} (this machine is {-offset:+.3f} s off)"

    console.print(_run(lambda: _with_client(provider, config, job)))


def _header(path: Path, phone_column: str) -> list[str]:
    if not path.is_file():
        raise click.BadParameter(f"no such file: {path}", param_hint="RECIPIENTS")
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle), None)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise click.BadParameter(f"{path} is not a UTF-8 CSV file ({exc})") from exc
    if not header:
        raise click.BadParameter(f"{path} is empty: it needs a header row", param_hint="RECIPIENTS")
    if phone_column not in header:
        raise click.BadParameter(
            f"{path} has no column {phone_column!r} (columns: {', '.join(header)})",
            param_hint="--phone-column",
        )
    return header


def _check_journal(journal: Path | None, job_id: str | None, resume: bool) -> None:
    if resume and (journal is None or job_id is None):
        raise click.BadParameter("--resume needs --journal and --job-id", param_hint="--resume")
    if journal is not None and job_id is None:
        raise click.BadParameter("--journal needs --job-id", param_hint="--job-id")
    if journal is None or job_id is None:
        return
    exists = _journal_has_job(journal, job_id)
    if resume and not exists:
        raise click.BadParameter(
            f"{journal} has no job {job_id!r} to resume", param_hint="--job-id"
        )
    if exists and not resume:
        raise click.BadParameter(
            f"{journal} already holds job {job_id!r}: pass --resume to continue it, "
            "or choose another --job-id",
            param_hint="--job-id",
        )


def _journal_has_job(journal: Path, job_id: str) -> bool:
    if not journal.is_file():
        return False
    try:
        with sqlite3.connect(f"file:{journal}?mode=ro", uri=True) as db:
            row = db.execute("SELECT 1 FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
    except sqlite3.Error as exc:
        raise click.BadParameter(f"{journal} is not a crowdsms journal ({exc})") from exc
    return row is not None


def _sink(path: Path | None) -> OutcomeSink | None:
    if path is None:
        return None
    return JsonlSink(path) if path.suffix == ".jsonl" else CsvSink(path)


def _count_rows(path: Path) -> int:
    with path.open("rb") as handle:
        return max(sum(1 for line in handle if line.strip()) - 1, 0)


async def _open_target(
    stack: AsyncExitStack,
    provider: ProviderName,
    config: Path | None,
    *,
    force_sandbox: bool,
    max_connections: int = 16,
) -> AsyncClientBase:
    credentials: Credentials | None = None
    if not force_sandbox:
        credentials = load_credentials(provider, config=config)
    if credentials is None:
        from crowdsms.sandbox import serve

        running = await stack.enter_async_context(serve())
        credentials = sandbox_credentials(provider, running.url)
        notes.print(
            f"[bold]No {provider} credentials configured[/]: using the embedded sandbox at "
            f"{running.url} (nothing leaves this machine)."
        )
    client = make_client(credentials, max_connections=max_connections)
    return await stack.enter_async_context(client)


async def _with_client(
    provider: ProviderName, config: Path | None, job: Callable[[AsyncClientBase], Awaitable[T]]
) -> T:
    async with AsyncExitStack() as stack:
        client = await _open_target(stack, provider, config, force_sandbox=False)
        return await job(client)


async def run_send(job: SendJob) -> BatchReport:
    """Run one ``send`` (or ``demo``) job; return its report."""
    async with AsyncExitStack() as stack:
        client = await _open_target(
            stack,
            job.provider,
            job.config,
            force_sandbox=job.force_sandbox,
            max_connections=job.concurrency,
        )
        chunk_sender = make_chunk_sender(client, job.message)
        recipients = read_recipients_csv(
            job.recipients,
            phone_column=job.phone_column,
            var_columns=var_keys(job.provider, job.var_columns),
        )
        total = _count_rows(job.recipients)
        with SendProgress(notes, total=total, enabled=job.show_progress) as bar:
            sender = BatchSender(
                chunk_sender,
                concurrency=job.concurrency,
                rate=job.rate,
                chunk_size=job.chunk_size,
                progress=bar.update,
            )
            return await sender.send(
                recipients, sink=_sink(job.output), journal=job.journal, job_id=job.job_id
            )


def _run(func: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await func()

    return anyio.run(main)


def _finish(report: BatchReport, job: SendJob) -> None:
    console.print(summary_table(report))
    if job.output is not None:
        notes.print(f"Outcomes written to {job.output}")
    if report.by_status.get(OutcomeStatus.UNKNOWN):
        notes.print(
            "[yellow]Some recipients are 'unknown': their request may have been processed. "
            "Check the provider's delivery reports before sending to them again.[/]"
        )
    if report.failed or report.unknown:
        raise SystemExit(1)


def input_error_line(error: InvalidInputError) -> str:
    """One line for a bad-input error."""
    return str(error).splitlines()[0]
