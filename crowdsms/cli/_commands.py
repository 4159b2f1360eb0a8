"""The ``crowdsms`` commands: send, demo, sandbox, providers, balance, reports, time."""

from __future__ import annotations

import csv
import logging
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import attrs
import click
from rich.console import Console

from crowdsms import __version__
from crowdsms._client import DEFAULT_MAX_CONNECTIONS, AsyncClientBase
from crowdsms._suggest import did_you_mean
from crowdsms.batch import (
    BatchReport,
    BatchSender,
    CsvSink,
    JournalError,
    JsonlSink,
    journal_has_job,
    read_recipients_csv,
)
from crowdsms.batch._sinks import OutcomeSink
from crowdsms.cli._config import require_credentials
from crowdsms.cli._render import SendProgress, summary_table
from crowdsms.cli._sample import write_sample_csv
from crowdsms.cli._targets import make_client, sandbox_credentials, var_keys
from crowdsms.errors import InvalidInputError
from crowdsms.outcomes import OutcomeStatus
from crowdsms.providers import _registry
from crowdsms.providers._spec import MessageOptions

__all__ = ["cli"]

T = TypeVar("T")

console = Console(stderr=False, highlight=False)
notes = Console(stderr=True, highlight=False)


@attrs.frozen(kw_only=True)
class SendJob:
    """Everything ``crowdsms send`` was asked to do."""

    recipients: Path
    provider: str
    message: MessageOptions
    phone_column: str
    var_columns: tuple[str, ...]
    chunk_size: int | None
    concurrency: int
    rate: float | None
    journal: Path | None
    job_id: str | None
    output: Path | None
    use_sandbox: bool
    config: Path | None
    show_progress: bool


@attrs.define
class CliState:
    """What the group's options set for every command."""

    config: Path | None = None


def _set_config(ctx: click.Context, _: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.ensure_object(CliState).config = value


_CONFIG_HELP = "TOML credentials (default: $CROWDSMS_CONFIG or ~/.config/crowdsms/config.toml)."


def config_option(command: Callable[..., None]) -> Callable[..., None]:
    """``--config``, accepted after the command's name as well as before it."""
    return click.option(
        "--config",
        type=click.Path(path_type=Path, dir_okay=False),
        expose_value=False,
        is_eager=True,
        callback=_set_config,
        help=_CONFIG_HELP,
    )(command)


def sandbox_option(command: Callable[..., None]) -> Callable[..., None]:
    """``--sandbox``: talk to the embedded sandbox instead of the configured provider."""
    return click.option(
        "--sandbox",
        "use_sandbox",
        is_flag=True,
        help="Use the embedded sandbox on loopback (nothing leaves this machine).",
    )(command)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=__version__, prog_name="crowdsms", message="%(prog)s %(version)s")
@click.option(
    "--config",
    type=click.Path(path_type=Path, dir_okay=False),
    expose_value=False,
    is_eager=True,
    callback=_set_config,
    help=_CONFIG_HELP,
)
@click.option("-v", "--verbose", count=True, help="Log more (-v info, -vv debug; never secrets).")
@click.pass_context
def cli(ctx: click.Context, verbose: int) -> None:
    """Send SMS and crowd tasks through every registered provider (crowdsms providers).

    Commands that talk to a provider use the credentials configured for it and never fall
    back to anything else: without credentials they stop and say where they looked.
    ``--sandbox`` asks for the embedded sandbox (nothing leaves this machine); ``demo``
    always uses it.
    """
    ctx.ensure_object(CliState)
    if verbose:
        logging.basicConfig(
            level=logging.DEBUG if verbose > 1 else logging.INFO,
            format="%(asctime)s %(name)s %(levelname)s %(message)s",
        )


if TYPE_CHECKING:  # click >= 8.5 types ParamType as a generic; older click does not
    _ParamType = click.ParamType[str, Any]
else:
    _ParamType = click.ParamType


class ProviderChoice(_ParamType):
    """A registered provider's name, checked against the registry when the command runs.

    ``feature`` keeps only the providers whose registry entry has it (e.g. ``read_balance``).
    """

    name = "provider"

    def __init__(self, feature: str | None = None) -> None:
        self.feature = feature

    def names(self) -> list[str]:
        """The names this option accepts now."""
        return [
            spec.name
            for spec in _registry.providers()
            if self.feature is None or getattr(spec, self.feature) is not None
        ]

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        """The registered names, ``[a|b|...]``, in the help."""
        return "[" + "|".join(self.names()) + "]"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> str:
        """Accept a registered name; refuse anything else with the list and a suggestion."""
        names = self.names()
        if value in names:
            return str(value)
        return self.fail(
            f"{value!r} is not one of {', '.join(names)}{did_you_mean(str(value), names)}",
            param,
            ctx,
        )


def _provider_option(
    feature: str | None = None, *, what: str = "send through"
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    choice = ProviderChoice(feature)
    names = choice.names()
    return click.option(
        "--provider",
        type=choice,
        default=names[0] if names else None,
        show_default=True,
        help=f"Which provider to {what}.",
    )


def _uses(option: str, text: str) -> str:
    """``text``, then what ``option`` means for each provider that reads it."""
    uses = [
        f"{spec.name}: {meaning}"
        for spec in _registry.providers()
        if (meaning := spec.send_options.get(option))
    ]
    return f"{text} {'; '.join(uses)}." if uses else text


@cli.command()
@click.argument("recipients", type=click.Path(path_type=Path, dir_okay=False))
@_provider_option()
@click.option("--content", help=_uses("content", "Message text."))
@click.option("--tag", help=_uses("tag", "A tag the provider keeps with the send."))
@click.option("--template-id", type=int, help=_uses("template_id", "Template id."))
@click.option("--sign", help=_uses("sign", "SMS signature."))
@click.option("--kind", type=click.Choice(["1", "2", "3"]), help=_uses("kind", "Message kind."))
@click.option("--project-id", type=int, help=_uses("project_id", "Project id."))
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
@sandbox_option
@click.option("--quiet", is_flag=True, help="No progress bar.")
@config_option
@click.pass_obj
def send(
    state: CliState,
    recipients: Path,
    provider: str,
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
    use_sandbox: bool,
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
        message=MessageOptions(
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
        use_sandbox=use_sandbox,
        config=state.config,
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
    state: CliState,
    count: int,
    provider: str,
    concurrency: int,
    output: Path | None,
    quiet: bool,
) -> None:
    """Send a sample campaign to COUNT generated recipients through the embedded sandbox."""
    message = _registry.get(provider).demo_message
    with tempfile.TemporaryDirectory(prefix="crowdsms-demo-") as folder:
        sample = write_sample_csv(Path(folder) / "recipients.csv", count)
        notes.print(f"Wrote {count:,} sample recipients to a temporary CSV file.")
        job = SendJob(
            recipients=sample,
            provider=provider,
            message=message,
            phone_column="phone",
            var_columns=message.columns,
            chunk_size=None,
            concurrency=concurrency,
            rate=None,
            journal=None,
            job_id=None,
            output=output,
            use_sandbox=True,
            config=state.config,
            show_progress=not quiet,
        )
        report = _run(lambda: run_send(job))
        _finish(report, job)


@cli.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.pass_context
def sandbox(ctx: click.Context) -> None:
    """Run the sandbox (an emulator of every provider) in the foreground.

    The same command as ``python -m crowdsms.sandbox``: ``crowdsms sandbox --help`` lists its
    options (port, latency, faults, webhooks).
    """
    from crowdsms.sandbox._cli import main as sandbox_main

    raise SystemExit(sandbox_main(ctx.args))


@cli.command()
def providers() -> None:
    """List the providers, with their config keys and environment variables."""
    for spec in _registry.providers():
        console.print(f"[bold]{spec.name}[/] ({spec.title}): {spec.default_base_url}")
        for field in (*spec.credentials,):
            kind = "secret" if field.secret else "identity"
            console.print(f"  {field.name:<20} {field.env_var(spec.name):<40} {kind}")
        console.print(f"  {'base_url':<20} CROWDSMS_{spec.name.upper()}_BASE_URL")


@cli.command()
@_provider_option("read_balance", what="ask")
@sandbox_option
@config_option
@click.pass_obj
def balance(state: CliState, provider: str, use_sandbox: bool) -> None:
    """Show the account balance (where the provider can tell it)."""
    read = _registry.get(provider).read_balance
    assert read is not None
    value = _run(lambda: _with_client(provider, state.config, read, use_sandbox=use_sandbox))
    console.print(f"balance: {value}")


@cli.command()
@click.argument("kind", type=click.Choice(["deliveries", "replies"]))
@_provider_option("pull_reports", what="pull from")
@click.option("--sign", help="Only this SMS signature (required for replies).")
@sandbox_option
@config_option
@click.pass_obj
def reports(state: CliState, kind: str, provider: str, sign: str | None, use_sandbox: bool) -> None:
    """Pull delivery reports or replies (pulling removes them from the queue)."""
    if kind == "replies" and not sign:
        raise click.BadParameter("replies need --sign", param_hint="--sign")
    pull = _registry.get(provider).pull_reports
    assert pull is not None

    async def job(client: AsyncClientBase) -> Sequence[str]:
        assert pull is not None
        return await pull(client, kind, sign)

    lines = _run(lambda: _with_client(provider, state.config, job, use_sandbox=use_sandbox))
    for line in lines:
        console.print(line, markup=False)
    notes.print(f"{len(lines)} {kind}")


@cli.command(name="time")
@_provider_option("read_clock", what="ask")
@sandbox_option
@config_option
@click.pass_obj
def server_time(state: CliState, provider: str, use_sandbox: bool) -> None:
    """Show the provider's clock and how far this machine's clock is off."""
    read = _registry.get(provider).read_clock
    assert read is not None

    async def job(client: AsyncClientBase) -> str:
        assert read is not None
        stamp = await read(client)
        offset = await client.measure_clock()
        return f"server time: {stamp:.0f} (this machine is {-offset:+.3f} s off)"

    console.print(_run(lambda: _with_client(provider, state.config, job, use_sandbox=use_sandbox)))


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
    try:
        exists = journal_has_job(journal, job_id)
    except JournalError as exc:
        raise click.BadParameter(
            f"{journal} is not a crowdsms journal", param_hint="--journal"
        ) from exc
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


def _sink(path: Path | None) -> OutcomeSink | None:
    if path is None:
        return None
    return JsonlSink(path) if path.suffix == ".jsonl" else CsvSink(path)


def _count_rows(path: Path) -> int:
    with path.open("rb") as handle:
        return max(sum(1 for line in handle if line.strip()) - 1, 0)


async def _open_target(
    stack: AsyncExitStack,
    provider: str,
    config: Path | None,
    *,
    use_sandbox: bool,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
) -> AsyncClientBase:
    if use_sandbox:
        from crowdsms.sandbox import serve

        running = await stack.enter_async_context(serve())
        credentials = sandbox_credentials(provider, running)
        notes.print(f"Using the embedded sandbox at {running.url} (nothing leaves this machine).")
    else:
        credentials = require_credentials(provider, config=config)
    client = make_client(credentials, max_connections=max_connections)
    return await stack.enter_async_context(client)


async def _with_client(
    provider: str,
    config: Path | None,
    job: Callable[[AsyncClientBase], Awaitable[T]],
    *,
    use_sandbox: bool,
) -> T:
    async with AsyncExitStack() as stack:
        client = await _open_target(stack, provider, config, use_sandbox=use_sandbox)
        return await job(client)


async def run_send(job: SendJob) -> BatchReport:
    """Run one ``send`` (or ``demo``) job; return its report."""
    async with AsyncExitStack() as stack:
        client = await _open_target(
            stack,
            job.provider,
            job.config,
            use_sandbox=job.use_sandbox,
            max_connections=job.concurrency,
        )
        chunk_sender = _registry.get(job.provider).chunk_sender(client, job.message)
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
