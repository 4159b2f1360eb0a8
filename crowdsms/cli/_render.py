"""What the command shows: a progress bar while sending, a summary table at the end."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from crowdsms.batch import BatchProgress, BatchReport
from crowdsms.outcomes import OutcomeStatus

__all__ = ["SendProgress", "summary_table"]


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


def summary_table(report: BatchReport) -> Table:
    """The end-of-job summary: outcomes, codes, fees, requests, retries, duration."""
    table = Table(title=f"job {report.job_id}", show_header=True, header_style="bold")
    table.add_column("outcome")
    table.add_column("recipients", justify="right")
    for status in OutcomeStatus:
        count = report.by_status.get(status, 0)
        table.add_row(f"[{_STYLE[status]}]{status.value}[/]", f"{count:,}")
    table.add_row("[bold]total[/]", f"[bold]{report.total:,}[/]")
    for code, count in sorted(report.by_code.items(), key=lambda item: -item[1])[:8]:
        table.add_row(f"  code {code}", f"{count:,}")
    rate = report.total / report.duration if report.duration > 0 else 0.0
    table.add_section()
    table.add_row("fees", f"{report.fees:g}")
    table.add_row("requests", f"{report.requests:,}")
    table.add_row("retries", f"{report.retries:,}")
    table.add_row("duration", f"{report.duration:.2f} s ({rate:,.0f} recipients/s)")
    if report.replayed:
        table.add_row("from the journal", f"{report.replayed:,}")
    return table
