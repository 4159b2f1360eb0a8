"""The one table the benchmarks print: every figure and ratio, its target, and the verdict."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Row", "rate", "ratio", "render", "us"]


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    section: str
    figure: str
    measured: str
    target: str = ""
    met: bool | None = None
    """``None`` for a figure without a target."""


def _verdict(met: bool | None) -> str:
    if met is None:
        return ""
    return "yes" if met else "**no**"


def render(rows: list[Row]) -> str:
    """The rows as a GitHub-flavoured markdown table."""
    lines = ["| # | figure | measured | target | met |", "| --- | --- | --- | --- | --- |"]
    for row in rows:
        cells = [row.section, row.figure, row.measured, row.target or "", _verdict(row.met)]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


def us(value: float) -> str:
    """Microseconds, rounded for reading."""
    return f"{value:,.1f} us" if value < 100 else f"{value:,.0f} us"


def rate(value: float) -> str:
    """Recipients per second."""
    return f"{value:,.0f}/s"


def ratio(value: float) -> str:
    """A ratio with two decimals."""
    return f"{value:.2f}x"
