"""``crowdsms send`` and ``crowdsms demo``: a batch job from a CSV file."""

from __future__ import annotations

import os
import shlex
import signal
import tempfile
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import attrs
import click

from crowdsms._suggest import did_you_mean
from crowdsms.batch import (
    BatchReport,
    BatchSender,
    CsvSink,
    JournalError,
    JsonlSink,
    SendWindow,
    journal_has_job,
    read_csv_header,
    read_recipients_csv,
    report_of,
)
from crowdsms.batch._target import target_of
from crowdsms.cli._app import (
    CliState,
    as_cli,
    cli,
    config_option,
    console,
    notes,
    one_line,
    open_target,
    provider_option,
    require_sandbox,
    run,
    sandbox_option,
    send_option_help,
)
from crowdsms.cli._dry_run import Balance, DryRun, dry_run_notes, preview_tables
from crowdsms.cli._duration import Duration, format_duration
from crowdsms.cli._limits import per_number_option
from crowdsms.cli._output import DeferredSink
from crowdsms.cli._render import SendProgress, stop_notes, summary_table
from crowdsms.cli._resume import resume_line
from crowdsms.cli._sample import write_sample_csv
from crowdsms.cli._targets import var_keys
from crowdsms.errors import CrowdSMSError, InvalidInputError
from crowdsms.limits import NumberLimiter, NumberLimits
from crowdsms.providers import _registry
from crowdsms.providers._spec import MessageOptions, ProviderSpec

__all__ = ["SendJob", "SentJob", "demo", "run_send", "send"]


@attrs.frozen(kw_only=True)
class SendJob:
    """Everything ``crowdsms send`` was asked to do."""

    recipients: Path
    provider: str
    message: MessageOptions
    phone_column: str
    var_columns: tuple[str, ...]
    encoding: str | None
    chunk_size: int | None
    concurrency: int
    rate: float | None
    journal: Path | None
    job_id: str | None
    output: Path | None
    use_sandbox: bool
    config: Path | None
    show_progress: bool
    resume_line: str | None = None
    """The command that resumes this job (journaled jobs only)."""
    honour_opt_outs: bool = True
    resend_unconfirmed_after: float | None = None
    send_window: SendWindow | None = None
    dry_run: bool = False
    max_segments: int | None = None
    max_cost: float | None = None
    price: float | None = None
    """CNY per SMS segment (``--price``); ``None``: the provider's default estimate."""
    per_number: NumberLimits | None = None
    """Per-number limits, counted in this process (an in-memory limiter)."""


EXIT_CODES = """Exit status: 0 when every recipient that was not skipped was sent; 1 when some
failed, are unknown, or were not sent because the job stopped early (the summary says why),
also when an error stopped it after its first request (a row that cannot be decoded, an
--output or --journal that cannot be written, e.g. a full disk): the requests in flight
finish, the summary shows what was sent, and with --journal the printed command resumes the
job; 2 for bad input or configuration, before any request (nothing was sent); 130 when
interrupted (Ctrl-C)."""


_MESSAGE_OPTIONS: tuple[Callable[[Callable[..., Any]], Callable[..., Any]], ...] = (
    click.option("--content", help=send_option_help("content", "Message text.")),
    click.option("--tag", help=send_option_help("tag", "A tag the provider keeps with the send.")),
    click.option("--template-id", type=int, help=send_option_help("template_id", "Template id.")),
    click.option("--sign", help=send_option_help("sign", "SMS signature.")),
    click.option(
        "--kind", type=click.Choice(["1", "2", "3"]), help=send_option_help("kind", "Message kind.")
    ),
    click.option("--project-id", type=int, help=send_option_help("project_id", "Project id.")),
    click.option(
        "--template-text",
        help=send_option_help(
            "template_text",
            "The template's text, to count segments of a template kept at the provider.",
        ),
    ),
    click.option(
        "--phone-column", default="phone", show_default=True, help="CSV column of numbers."
    ),
    click.option(
        "--var-column",
        "var_columns",
        multiple=True,
        help=(
            "CSV column used as a template variable (repeatable). Default: every other column, "
            "for providers whose messages vary per recipient; none for the others."
        ),
    ),
    click.option("--no-vars", is_flag=True, help="Use no column as a variable."),
    click.option(
        "--encoding",
        help="The CSV file's encoding, e.g. gb18030 or utf-8 (default: detected: UTF-8, with or "
        "without BOM, else GB18030).",
    ),
)


@attrs.frozen(kw_only=True)
class ChosenMessage:
    """What the message options chose: the message, and how to read the CSV."""

    message: MessageOptions
    phone_column: str
    encoding: str | None


def message_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options of what to send and how to read the CSV (``send``, ``campaign start``)."""
    for option in reversed(_MESSAGE_OPTIONS):
        command = option(command)
    return command


def choose_message(recipients: Path, provider: str, options: dict[str, Any]) -> ChosenMessage:
    """The message from :func:`message_options`' values (taken out of ``options``), checked
    against the CSV's header: every variable the message uses must be a column."""
    spec = _registry.get(provider)
    phone_column: str = options.pop("phone_column")
    encoding: str | None = options.pop("encoding")
    columns = _header(recipients, phone_column, encoding)
    chosen = _variable_columns(
        spec, columns, phone_column, tuple(options.pop("var_columns")), options.pop("no_vars")
    )
    kind = options.pop("kind")
    message = MessageOptions(
        content=options.pop("content"),
        tag=options.pop("tag"),
        template_id=options.pop("template_id"),
        sign=options.pop("sign"),
        kind=int(kind) if kind is not None else None,
        project_id=options.pop("project_id"),
        columns=chosen,
        template_text=options.pop("template_text"),
    )
    _check_variables(spec, message, columns, chosen)
    return ChosenMessage(message=message, phone_column=phone_column, encoding=encoding)


def _parse_window(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> SendWindow | None:
    if value is None:
        return None
    try:
        return SendWindow.parse(value)
    except InvalidInputError:
        raise click.BadParameter(
            f"{value!r} is not a daily window: write HH:MM-HH:MM in China time with a start "
            "and an end that differ, e.g. 08:00-21:00"
        ) from None


@cli.command(epilog=EXIT_CODES)
@click.argument("recipients", type=click.Path(path_type=Path, dir_okay=False))
@provider_option()
@message_options
@click.option("--chunk-size", type=click.IntRange(min=1), help="Recipients per request.")
@click.option("--concurrency", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--rate", type=click.FloatRange(min=0, min_open=True), help="Recipients/second.")
@click.option("--journal", type=click.Path(path_type=Path, dir_okay=False), help="SQLite journal.")
@click.option("--job-id", help="Name of the job in the journal.")
@click.option(
    "--resume",
    is_flag=True,
    help="Resume the job recorded in --journal: chunks sent before are not sent again; chunks "
    "never sent, and chunks none of whose recipients was sent (failed as a whole, or each "
    "recipient refused), are sent.",
)
@click.option(
    "--resend-unconfirmed-after",
    type=Duration(),
    metavar="DURATION",
    help="With --resume: send AGAIN the recipients still unknown (no delivery report "
    "confirmed them) this long after they were sent, e.g. 30m. At-least-once: a recipient "
    "whose report was lost or late gets the message twice.",
)
@click.option(
    "--send-window",
    callback=_parse_window,
    metavar="HH:MM-HH:MM",
    help="Quiet hours: send only inside this daily window, China time (e.g. 08:00-21:00); "
    "outside it the job pauses and continues when the window opens.",
)
@click.option(
    "--ignore-opt-outs",
    is_flag=True,
    help="Send to numbers that replied to opt out (e.g. for verification codes, which "
    "recipients expect regardless). Without it they are skipped as opted_out.",
)
@per_number_option(
    "Per-number limits, e.g. 1/m,5/h,10/d (1 a minute, 5 an hour, 10 a day): a number that "
    "reached one is skipped (code number_limited) and the rest of its chunk is sent. Counted "
    "in this run only, which sends each number once anyway; limits that hold across runs and "
    "processes need a shared store (campaign start --per-number, or "
    "crowdsms.limits.RedisNumberLimiter)."
)
@click.option(
    "--output", type=click.Path(path_type=Path, dir_okay=False), help="Outcomes: .jsonl or .csv."
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Send nothing: read and check every row as the job would, then print the counts, "
    "SMS segments, requests, estimated cost and (where the provider tells it) the balance.",
)
@click.option(
    "--max-segments",
    type=click.IntRange(min=1),
    help="Spend cap in SMS segments: the job stops before a request that could pass it "
    "(resume with a higher cap to send the rest).",
)
@click.option(
    "--max-cost",
    type=click.FloatRange(min=0, min_open=True),
    help="Spend cap in CNY, at --price per segment (with --max-segments, the smaller wins).",
)
@click.option(
    "--price",
    type=click.FloatRange(min=0),
    help="CNY per SMS segment, for --dry-run's estimate and --max-cost (default: the "
    "provider's estimate; see crowdsms providers).",
)
@sandbox_option
@click.option("--quiet", is_flag=True, help="No progress bar.")
@config_option
@click.pass_obj
def send(
    state: CliState,
    /,
    recipients: Path,
    provider: str,
    chunk_size: int | None,
    concurrency: int,
    rate: float | None,
    journal: Path | None,
    job_id: str | None,
    resume: bool,
    resend_unconfirmed_after: float | None,
    send_window: SendWindow | None,
    ignore_opt_outs: bool,
    per_number: NumberLimits | None,
    output: Path | None,
    dry_run: bool,
    max_segments: int | None,
    max_cost: float | None,
    price: float | None,
    use_sandbox: bool,
    quiet: bool,
    **options: Any,
) -> None:
    """Send one campaign to every recipient in a CSV file (a header row, then one per line).

    Every variable the message uses is checked against the CSV's columns before anything is
    sent. A job stops after the first answer that every request would get (refused
    credentials, an exhausted balance, a refused template): requests in flight finish, the
    rest are not sent, and the summary says why. With --journal, Ctrl-C stops taking new
    chunks and waits for the requests in flight (a second Ctrl-C stops at once), then prints
    the command that resumes the job. --dry-run sends nothing and prints what the job would
    do and cost; --max-segments and --max-cost cap what it may spend.
    """
    chosen = choose_message(recipients, provider, options)
    if dry_run and resume:
        raise click.BadParameter(
            "--dry-run previews a whole job from the CSV; it cannot tell what a resumed job "
            "still has to send (the journal's done chunks are not counted). Run --resume "
            "without --dry-run to continue the job, or --dry-run without --resume (and "
            "without --journal) to preview the whole file",
            param_hint="--dry-run",
        )
    _check_journal(journal, job_id, resume)
    if resend_unconfirmed_after is not None:
        if not resume:
            raise click.BadParameter(
                "only a resumed job has unconfirmed recipients to resend: add --resume "
                "(with --journal and --job-id)",
                param_hint="--resend-unconfirmed-after",
            )
        notes.print(
            "[bold yellow]At-least-once:[/] recipients still unknown "
            f"{format_duration(resend_unconfirmed_after)} after their send, with no delivery "
            "report, will be sent again. If a report was merely lost or late, they get the "
            "message twice."
        )
    if output is not None and output.suffix not in (".jsonl", ".csv"):
        raise click.BadParameter("must end in .jsonl or .csv", param_hint="--output")
    check_output(output)
    job = SendJob(
        recipients=recipients,
        provider=provider,
        message=chosen.message,
        phone_column=chosen.phone_column,
        var_columns=chosen.message.columns,
        encoding=chosen.encoding,
        chunk_size=chunk_size,
        concurrency=concurrency,
        rate=rate,
        journal=journal,
        job_id=job_id,
        output=output,
        use_sandbox=use_sandbox,
        config=state.config,
        show_progress=not quiet,
        resume_line=_resume_line(state) if journal is not None else None,
        honour_opt_outs=not ignore_opt_outs,
        resend_unconfirmed_after=resend_unconfirmed_after,
        send_window=send_window,
        dry_run=dry_run,
        max_segments=max_segments,
        max_cost=max_cost,
        price=price,
        per_number=per_number,
    )
    if dry_run:
        _show_dry_run(run(lambda: run_dry_run(job)), job)
        return
    state.resume_line = job.resume_line
    _finish(run(lambda: run_send(job)), job)


@cli.command(epilog=EXIT_CODES)
@click.option(
    "--recipients", "count", type=click.IntRange(min=1), default=10_000, show_default=True
)
@provider_option()
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
    require_sandbox()
    check_output(output)
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
            encoding=None,
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
        _finish(run(lambda: run_send(job)), job)


def _resume_line(state: CliState) -> str:
    options = [param for param in send.params if isinstance(param, click.Option)]
    paths = {"--journal", "--output", "--config"}
    values = {name for param in options if not param.is_flag for name in param.opts}
    return resume_line(state.argv, path_options=paths, value_options=values | {"--config"})


def _header(path: Path, phone_column: str, encoding: str | None) -> list[str]:
    """The file's columns, read as the job will read them (the reader's own code)."""
    if not path.is_file():
        raise click.BadParameter(f"no such file: {path}", param_hint="RECIPIENTS")
    try:
        header = read_csv_header(path, encoding)
    except InvalidInputError as exc:
        hint = "--encoding" if exc.field == "encoding" else "RECIPIENTS"
        raise click.BadParameter(str(exc), param_hint=hint) from None
    if phone_column not in header:
        raise click.BadParameter(
            f"{path} has no column {phone_column!r}{did_you_mean(phone_column, header)} "
            f"(columns: {', '.join(header)})",
            param_hint="--phone-column",
        )
    return header


def _variable_columns(
    spec: ProviderSpec,
    columns: Sequence[str],
    phone_column: str,
    given: tuple[str, ...],
    no_vars: bool,
) -> tuple[str, ...]:
    if no_vars and given:
        raise click.BadParameter("--no-vars and --var-column contradict each other")
    for column in given:
        if column not in columns:
            raise click.BadParameter(
                f"the CSV has no column {column!r}{did_you_mean(column, columns)} "
                f"(columns: {', '.join(columns)})",
                param_hint="--var-column",
            )
    if given and not spec.per_recipient_variables:
        raise click.BadParameter(
            f"{spec.name} messages have no per-recipient variables", param_hint="--var-column"
        )
    if given or no_vars or not spec.per_recipient_variables:
        return given
    return tuple(column for column in columns if column != phone_column)


def _check_variables(
    spec: ProviderSpec, message: MessageOptions, columns: Sequence[str], chosen: Sequence[str]
) -> None:
    """Every variable the message uses must be a chosen column: checked before any send."""
    used = spec.template_variables(message)
    if used is None:
        return
    for name in sorted(used):
        if name in chosen:
            continue
        if name in columns:
            raise click.BadParameter(
                f"the message uses the variable {name!r}, but --var-column does not include "
                f"that column (variables: {', '.join(chosen) or 'none'})",
                param_hint="--var-column",
            )
        raise click.BadParameter(
            f"the message uses the variable {name!r}, but the CSV has no such column"
            f"{did_you_mean(name, columns)} (columns: {', '.join(columns)})",
            param_hint="--content",
        )


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
            f"{journal} already holds job {job_id!r}: pass --resume to continue it (chunks "
            "already sent are not sent again). Another --job-id starts a new job that sends "
            "to every recipient again, including those this job already sent",
            param_hint="--job-id",
        )


def check_output(path: Path | None) -> None:
    """Refuse an ``--output`` that cannot be written (its directory missing or read-only),
    before anything is sent: the job would otherwise fail once it has sent."""
    if path is None:
        return
    folder = path.parent
    if not folder.is_dir():
        what = "is not a directory" if folder.exists() else "does not exist"
        raise click.BadParameter(f"the directory {folder} {what}", param_hint="--output")
    target = path if path.exists() else folder
    if not os.access(target, os.W_OK):
        raise click.BadParameter(f"{target} is not writable", param_hint="--output")


def _sink(path: Path | None) -> DeferredSink | None:
    """The ``--output`` sink: it replaces the file only once the job has outcomes."""
    if path is None:
        return None
    return DeferredSink(JsonlSink(path) if path.suffix == ".jsonl" else CsvSink(path))


def _count_rows(path: Path) -> int:
    with path.open("rb") as handle:
        return max(sum(1 for line in handle if line.strip()) - 1, 0)


async def _watch_interrupts(sender: BatchSender, hard_stop: anyio.CancelScope) -> None:
    """The first Ctrl-C stops taking new chunks; the second stops at once."""
    with anyio.open_signal_receiver(signal.SIGINT) as signals:
        count = 0
        async for _ in signals:
            count += 1
            if count == 1:
                notes.print(
                    "Stopping: no new requests; waiting for the ones in flight so that their "
                    "answers are kept. Press Ctrl-C again to stop at once."
                )
                sender.stop("interrupted (Ctrl-C)")
            else:
                hard_stop.cancel()
                return


@attrs.frozen
class SentJob:
    """What a ``send`` job did, and over which HTTP library (for the summary)."""

    report: BatchReport
    http_backend: str
    error: Exception | None = None
    """The error that stopped the job after its first request (the report says what was
    sent until then)."""


async def run_send(job: SendJob) -> SentJob:
    """Run one ``send`` (or ``demo``) job; return its report and the client's HTTP library.

    Raises ``KeyboardInterrupt`` after a second Ctrl-C (the journal stays consistent).
    """
    spec = _registry.get(job.provider)
    async with AsyncExitStack() as stack:
        client = await open_target(
            stack,
            job.provider,
            job.config,
            use_sandbox=job.use_sandbox,
            max_connections=job.concurrency,
        )
        chunk_sender = spec.chunk_sender(client, job.message)
        if job.chunk_size is not None and job.chunk_size > chunk_sender.max_chunk_size:
            raise click.BadParameter(
                f"{job.provider} takes at most {chunk_sender.max_chunk_size} recipients a "
                f"request, not {job.chunk_size}",
                param_hint="--chunk-size",
            )
        recipients = read_recipients_csv(
            job.recipients,
            phone_column=job.phone_column,
            var_columns=var_keys(job.provider, job.var_columns),
            encoding=job.encoding,
            short_rows="skip",
        )
        total = _count_rows(job.recipients)
        with SendProgress(notes, total=total, enabled=job.show_progress) as bar:
            sender = BatchSender(
                chunk_sender,
                target=_target(chunk_sender, use_sandbox=job.use_sandbox),
                concurrency=job.concurrency,
                rate=job.rate,
                chunk_size=job.chunk_size,
                progress=bar.update,
                honour_opt_outs=job.honour_opt_outs,
                resend_unconfirmed_after=job.resend_unconfirmed_after,
                send_window=job.send_window,
                max_segments=job.max_segments,
                max_cost=job.max_cost,
                price_per_segment=_price(job, spec),
                number_limiter=NumberLimiter(job.per_number) if job.per_number else None,
            )
            report: BatchReport | None = None
            error: Exception | None = None
            sink = _sink(job.output)
            async with anyio.create_task_group() as group:
                group.start_soon(_watch_interrupts, sender, group.cancel_scope)
                try:
                    report = await sender.send(
                        recipients, sink=sink, journal=job.journal, job_id=job.job_id
                    )
                    if sink is not None:
                        await sink.finish()
                except Exception as exc:  # raised as itself, not in an exception group
                    error = exc
                group.cancel_scope.cancel()
            backend = getattr(client, "http_backend", "httpx")
            if error is not None:
                stopped = report_of(error)
                if stopped is not None and stopped.requests:
                    return SentJob(stopped, backend, error)  # some may have been sent
                if stopped is not None and not isinstance(error, CrowdSMSError):
                    # No request was made (exit 2 says so).
                    raise click.ClickException(_error_text(error, job, stopped)) from error
                raise error  # before any request (or none made): nothing was sent
            if report is None:
                raise KeyboardInterrupt
            return SentJob(report, backend)


def _error_text(error: Exception, job: SendJob, report: BatchReport | None) -> str:
    """What stopped a job, in a sentence: the sink's error (an output that cannot be
    written; the batch layer raises it as it is, its report says so), or another one."""
    if report is not None and report.sink_failed and not isinstance(error, CrowdSMSError):
        return f"the outcomes could not be written to {job.output} ({error})"
    if isinstance(error, CrowdSMSError):
        return as_cli(str(error))
    return f"the job stopped on an unexpected {type(error).__name__} ({error})"


def _target(chunk_sender: object, *, use_sandbox: bool) -> dict[str, str]:
    """Where the job sends, as its journal records it: the chunk sender's provider, base
    URL and account, and whether it is the embedded sandbox (whose port changes with every
    run, so its base URL is not recorded)."""
    target = dict(target_of(chunk_sender) or {})
    target["sandbox"] = "yes" if use_sandbox else "no"
    if use_sandbox:
        target["base_url"] = "embedded sandbox"
    return target


def _price(job: SendJob, spec: ProviderSpec) -> float | None:
    return job.price if job.price is not None else spec.price_per_segment


async def _balance(spec: ProviderSpec, client: Any) -> Balance | None:
    """The balance, where the provider can tell it; a failure to read it is only noted."""
    if spec.read_balance is None:
        return None
    try:
        value = await spec.read_balance(client)
    except CrowdSMSError as error:
        return Balance(problem=f"could not be read: {error}")
    return Balance(value=value, unit=spec.balance_unit)


async def run_dry_run(job: SendJob) -> DryRun:
    """Preview ``job`` (no message is sent) and read the balance where the provider tells it."""
    spec = _registry.get(job.provider)
    async with AsyncExitStack() as stack:
        client = await open_target(
            stack, job.provider, job.config, use_sandbox=job.use_sandbox, max_connections=1
        )
        chunk_sender = spec.chunk_sender(client, job.message)
        sender = BatchSender(
            chunk_sender,
            chunk_size=job.chunk_size,
            concurrency=1,
            honour_opt_outs=job.honour_opt_outs,
            max_segments=job.max_segments,
            max_cost=job.max_cost,
            price_per_segment=_price(job, spec),
        )
        recipients = read_recipients_csv(
            job.recipients,
            phone_column=job.phone_column,
            var_columns=var_keys(job.provider, job.var_columns),
            encoding=job.encoding,
            short_rows="skip",
        )
        preview = await sender.preview(recipients, journal=job.journal, job_id=job.job_id)
        balance = await _balance(spec, client)
        return DryRun(preview=preview, balance=balance, cap=sender.config.spend_cap)


def _show_dry_run(dry: DryRun, job: SendJob) -> None:
    spec = _registry.get(job.provider)
    for table in preview_tables(dry, spec, source=job.recipients.name):
        console.print(table)
    if job.output is not None:
        notes.print(f"A dry run has no outcomes: {job.output} was not written.", markup=False)
    for line in dry_run_notes(dry):
        notes.print(line, markup=False)


def _finish(sent: SentJob, job: SendJob) -> None:
    spec = _registry.get(job.provider)
    report = sent.report
    console.print(summary_table(report, spec, http_backend=sent.http_backend))
    sink_failed = sent.error is not None and report.sink_failed
    if job.output is not None:
        until = " until writing failed (the summary counts them all)" if sink_failed else ""
        notes.print(f"Outcomes written to {job.output}{until}", markup=False)
    if sent.error is None:
        for line in stop_notes(report, spec, resumable=job.resume_line is not None):
            notes.print(line, markup=False)
    if report.unknown:
        where = (
            f"`crowdsms reconcile {shlex.quote(job.job_id or '')} --journal "
            f"{shlex.quote(str(job.journal))}` applies the "
            "provider's delivery reports to them"
            if job.journal is not None
            else "Check the provider's delivery reports before sending to them again"
        )
        notes.print(
            f"Some recipients are 'unknown': their request may have been processed. {where}.",
            markup=False,
        )
    if sent.error is not None:
        _stopped_by_error(sent.error, report, job)
    if report.interrupted:
        if job.resume_line is not None:
            click.echo(f"crowdsms: interrupted. Resume with: {job.resume_line}", err=True)
        else:
            click.echo(
                "crowdsms: interrupted. Without --journal the job cannot be resumed.", err=True
            )
        raise SystemExit(130)
    if not report.complete:
        if job.resume_line is not None and report.stopped is not None:
            click.echo(f"crowdsms: once fixed, resume with: {job.resume_line}", err=True)
        raise SystemExit(1)


def _stopped_by_error(error: Exception, report: BatchReport, job: SendJob) -> None:
    """The job stopped on ``error`` after its first request: say so, and how to go on."""
    click.echo(f"crowdsms: error: {one_line(_error_text(error, job, report))}", err=True)
    click.echo(
        "crowdsms: the job stopped there: the requests in flight finished and no more were "
        f"made; {report.sent:,} recipients were sent (see the summary).",
        err=True,
    )
    if job.resume_line is not None:
        click.echo(f"crowdsms: once fixed, resume with: {job.resume_line}", err=True)
    else:
        click.echo(
            "crowdsms: without --journal the job cannot be resumed: running it again sends "
            "again to the recipients already sent.",
            err=True,
        )
    raise SystemExit(1)
