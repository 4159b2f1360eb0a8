"""``crowdsms send --dry-run``: the preview table, the balance, and what the caps would do.

Nothing here sends a message: the preview reads and screens the CSV without a request, and
the balance is read only where the provider has a call for it.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import attrs
from rich.markup import escape
from rich.table import Table

from crowdsms.batch import BalanceUnit, Preview
from crowdsms.batch._budget import SpendCap
from crowdsms.providers._spec import ProviderSpec

__all__ = ["Balance", "DryRun", "dry_run_notes", "preview_tables"]

_TEXT_EXCERPT = 48


@attrs.frozen(kw_only=True)
class Balance:
    """The account's balance as the provider told it, or why it is not known."""

    value: str | None = None
    unit: str | None = None
    problem: str | None = None
    """Why it could not be read (the dry run goes on without it)."""


@attrs.frozen(kw_only=True)
class DryRun:
    """What ``send --dry-run`` found."""

    preview: Preview
    balance: Balance | None
    """``None`` where the provider cannot tell the balance."""
    cap: SpendCap | None


def _excerpt(text: str) -> str:
    if len(text) <= _TEXT_EXCERPT:
        return text
    return text[: _TEXT_EXCERPT - 1] + "…"


def _money(value: Decimal) -> str:
    return f"CNY {value:,.2f}"


def _segments_rows(table: Table, preview: Preview, spec: ProviderSpec) -> None:
    if preview.segments is None:
        table.add_row("segments", "unknown", escape(preview.segments_note or ""))
        table.add_row("estimated cost", "unknown", "")
        return
    table.add_row("segments", f"{preview.segments:,}", "what the messages are billed as")
    for size, count in preview.histogram.items():
        unit = "segment" if size == 1 else "segments"
        table.add_row(f"  {size} {unit} each", f"{count:,}", "messages")
    cost = preview.estimated_cost
    if cost is None:
        table.add_row("estimated cost", "unknown", "no price per segment: pass --price")
        return
    if preview.price_per_segment == _default_price(spec):
        source = "a default estimate, not a quote: --price sets your price"
    else:
        source = "--price"
    table.add_row(
        "estimated cost", _money(cost), f"at CNY {preview.price_per_segment} a segment ({source})"
    )


def _default_price(spec: ProviderSpec) -> Decimal | None:
    price = spec.price_per_segment
    return None if price is None else Decimal(str(price))


def preview_tables(dry: DryRun, spec: ProviderSpec, *, source: str) -> list[Table]:
    """The preview as tables: the counts, then the longest messages (numbers masked)."""
    preview = dry.preview
    table = Table(
        title=f"dry run of {source} ({spec.title}): nothing was sent",
        show_header=True,
        header_style="bold",
    )
    table.add_column("")
    table.add_column("count", justify="right")
    table.add_column("notes", overflow="fold")
    table.add_row("recipients", f"{preview.recipients:,}", "rows read")
    table.add_row("  to send", f"[green]{preview.valid:,}[/]", "")
    table.add_row("  invalid", f"{preview.invalid:,}", "skipped")
    for reason, count in preview.invalid_reasons.items():
        table.add_row("", f"{count:,}", escape(reason))
    table.add_row("  duplicates", f"{preview.duplicates:,}", "skipped: the first is sent")
    table.add_row("  opted out", f"{preview.opted_out:,}", "skipped: they replied to stop")
    for code, count in preview.other_skipped.items():
        table.add_row(f"  {escape(code)}", f"{count:,}", "skipped")
    table.add_section()
    table.add_row(
        "requests", f"{preview.requests:,}", f"up to {preview.chunk_size} recipients each"
    )
    _segments_rows(table, preview, spec)
    if dry.cap is not None:
        table.add_row("spend cap", dry.cap.describe(), "")
    balance = dry.balance
    if balance is not None:
        shown = balance.value if balance.value is not None else "unknown"
        unit = f" {balance.unit}" if balance.unit and balance.value is not None else ""
        table.add_row("balance", f"{shown}{unit}", escape(balance.problem or ""))
    tables = [table]
    if preview.longest:
        longest = Table(title="longest messages", show_header=True, header_style="bold")
        for column in ("#", "number", "characters", "segments", "text"):
            longest.add_column(column, justify="right" if column != "text" else "left")
        for message in preview.longest:
            longest.add_row(
                f"{message.position + 1:,}",  # the recipient's place in the file, from 1
                message.phone,
                f"{message.characters:,}",
                f"{message.segments}",
                escape(_excerpt(message.text)),
            )
        tables.append(longest)
    return tables


def _balance_warning(dry: DryRun) -> str | None:
    balance = dry.balance
    if balance is None or balance.value is None or balance.unit not in ("segments", "CNY"):
        return None
    try:
        value = Decimal(balance.value)
    except InvalidOperation:
        return None
    unit: BalanceUnit = "segments" if balance.unit == "segments" else "CNY"
    missing = dry.preview.shortfall(value, unit=unit)
    if not missing:
        return None
    need = dry.preview.segments if unit == "segments" else dry.preview.estimated_cost
    assert need is not None
    return (
        f"Warning: the balance ({balance.value} {unit}) does not cover this job "
        f"({_amount(Decimal(need), unit)}): it lacks {_amount(missing, unit)}. The job would "
        "stop when the balance runs out; top up first, or cap the job with --max-segments "
        "or --max-cost."
    )


def _amount(value: Decimal, unit: BalanceUnit) -> str:
    if unit == "CNY":
        return _money(value)
    return f"{value.normalize():,f} segments"


def dry_run_notes(dry: DryRun) -> list[str]:
    """Warnings for stderr: a balance that does not cover the job, a cap it would reach."""
    notes = []
    warning = _balance_warning(dry)
    if warning is not None:
        notes.append(warning)
    segments = dry.preview.segments
    if dry.cap is not None and segments is not None and segments > dry.cap.segments:
        notes.append(
            f"The spend cap of {dry.cap.describe()} would stop the job before it ends: it "
            f"needs {segments:,} segments. The recipients not sent would be 'failed' with "
            "code spend_cap; resuming with a higher cap sends them."
        )
    notes.append("Nothing was sent. Run the same command without --dry-run to send.")
    return notes
