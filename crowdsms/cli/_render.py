"""What the command shows: a progress bar while sending, a summary table at the end."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from crowdsms.batch import (
    INTERRUPTED,
    NOT_SENT,
    SKIPPED_DUPLICATE,
    SKIPPED_INVALID,
    SPEND_CAP,
    BatchProgress,
    BatchReport,
)
from crowdsms.outcomes import OutcomeStatus
from crowdsms.providers._spec import ProviderSpec

__all__ = ["SendProgress", "explain", "stop_notes", "summary_table"]


class SendProgress:
    """A rich progress bar fed by the batch sender's progress callback."""

    def __init__(self, console: Console, *, total: int | None, enabled: bool) -> None:
        self._progress = Progress(
            BarColumn(bar_width=16),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}/s"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[counts]}"),
            console=console,
            disable=not enabled,
            transient=False,
        )
        self._task: TaskID = self._progress.add_task("send", total=total, rate="-", counts="")

    def __enter__(self) -> SendProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def update(self, snapshot: BatchProgress) -> None:
        """Show a snapshot: recipients done, rate, and outcomes so far."""
        counts = (
            f"[green]{snapshot.sent}[/] sent [red]{snapshot.failed}[/] failed "
            f"[yellow]{snapshot.unknown}[/] unknown {snapshot.skipped} skipped"
        )
        self._progress.update(
            self._task,
            completed=snapshot.done,
            rate=f"{snapshot.per_second:,.0f}",
            counts=counts,
        )


_STYLE = {
    OutcomeStatus.SENT: "green",
    OutcomeStatus.FAILED: "red",
    OutcomeStatus.UNKNOWN: "yellow",
    OutcomeStatus.SKIPPED: "dim",
}


_BATCH_CODES = {
    SKIPPED_INVALID: "not a valid mainland China mobile number",
    SKIPPED_DUPLICATE: "the number appeared earlier in the input (the first one was sent)",
    NOT_SENT: "not sent: the job stopped before this chunk; resuming the job sends it",
    INTERRUPTED: "was being sent when an earlier run stopped: check delivery reports first",
    SPEND_CAP: "not sent: the spend cap would have been exceeded; resume with a higher cap",
}


def explain(code: str, spec: ProviderSpec) -> str:
    """What ``code`` means: a batch code, or the provider's."""
    return _BATCH_CODES.get(code) or spec.explain(code)


_CONNECTIONS = {
    "aiohttp": "aiohttp lanes (the default on asyncio with crowdsms[aiohttp])",
    "httpx": "httpx lanes (pip install 'crowdsms[aiohttp]' for faster ones on asyncio)",
}


def summary_table(
    report: BatchReport, spec: ProviderSpec, *, http_backend: str | None = None
) -> Table:
    """The end-of-job summary: outcomes, codes with their meaning and an example, fees.

    ``http_backend`` (the client's :attr:`http_backend`) adds a row naming the HTTP library.
    """
    table = Table(title=f"job {report.job_id}", show_header=True, header_style="bold")
    table.add_column("outcome")
    table.add_column("recipients", justify="right")
    table.add_column("why", overflow="fold")
    for status in OutcomeStatus:
        count = report.by_status.get(status, 0)
        table.add_row(f"[{_STYLE[status]}]{status.value}[/]", f"{count:,}", "")
    table.add_row("[bold]total[/]", f"[bold]{report.total:,}[/]", "")
    for code, count in sorted(report.by_code.items(), key=lambda item: -item[1])[:8]:
        why = explain(code, spec)
        example = report.examples.get(code)
        if example and example != why:
            why = f"{why}. For example: {example}"
        table.add_row(f"  code {code}", f"{count:,}", escape(why))
    rate = report.total / report.duration if report.duration > 0 else 0.0
    table.add_section()
    if spec.fee_unit is not None:
        table.add_row("fees", f"{report.fees:g} {spec.fee_unit}", "as the provider reported them")
    else:
        table.add_row("fees", "-", f"{spec.title} reports no fee per message")
    table.add_row("requests", f"{report.requests:,}", "")
    table.add_row("retries", f"{report.retries:,}", "")
    table.add_row("duration", f"{report.duration:.2f} s", f"{rate:,.0f} recipients/s")
    if http_backend is not None:
        table.add_row("connections", http_backend, escape(_CONNECTIONS.get(http_backend, "")))
    if report.replayed:
        table.add_row("from the journal", f"{report.replayed:,}", "outcomes of an earlier run")
    if report.confirmed:
        table.add_row(
            "confirmed", f"{report.confirmed:,}", "sent: were unknown until a report confirmed them"
        )
    if report.resent:
        table.add_row(
            "resent",
            f"{report.resent:,}",
            "sent again without a report (at-least-once: may have arrived twice)",
        )
    for state, count in report.by_delivery.items():
        table.add_row(f"  {state.value}", f"{count:,}", "delivery state, from the reports")
    return table


def stop_notes(report: BatchReport, spec: ProviderSpec, *, resumable: bool) -> list[str]:
    """Why a job stopped early and what to do, as lines for the terminal.

    ``resumable``: whether the job has a journal. Without one, running the command again
    is a new job that sends to every recipient again, and the lines say so.
    """
    if report.stopped is None or report.interrupted:
        return []
    lines = [f"The job stopped early: {report.stopped}"]
    lowered = report.stopped.lower()
    lines += [f"What to do: {hint}" for word, hint in spec.hints.items() if word in lowered]
    capped = bool(report.by_code.get(SPEND_CAP))
    code = SPEND_CAP if capped else "not_sent"
    if not resumable:
        lines.append(
            f"The recipients not sent are 'failed' (code {code}, or the provider's code for "
            "the requests it refused). Without a journal the job cannot be resumed: running "
            "the command again sends to every recipient again, those sent included. Send "
            "only the recipients whose status is 'failed'."
        )
    elif capped:
        lines.append(
            "The recipients not sent are 'failed' with code spend_cap; resuming the job with a "
            "higher --max-segments or --max-cost sends them."
        )
    else:
        lines.append(
            "Nothing was sent after that answer; the recipients not sent are 'failed' with "
            "code not_sent, and resuming the job sends them."
        )
    return lines
