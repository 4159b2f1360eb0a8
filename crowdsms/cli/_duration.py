"""A click type for durations: ``90`` or ``90s``, ``30m``, ``2h``, ``1d``."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import click

__all__ = ["Duration", "format_duration"]

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)


if TYPE_CHECKING:  # click >= 8.5 types ParamType as a generic; older click does not
    _ParamType = click.ParamType[float, Any]
else:
    _ParamType = click.ParamType


class Duration(_ParamType):
    """Seconds, given as ``90``, ``90s``, ``30m``, ``2h`` or ``1d``."""

    name = "duration"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        """The duration in seconds."""
        if isinstance(value, (int, float)):
            return float(value)
        match = _PATTERN.match(str(value))
        if match is None:
            self.fail(
                f"{value!r} is not a duration: write a number with s, m, h or d, e.g. 30m",
                param,
                ctx,
            )
        number, unit = match.groups()
        return float(number) * _UNITS[(unit or "s").lower()]


def format_duration(seconds: float) -> str:
    """``1800`` -> ``30m``; the largest unit that divides it."""
    for unit in ("d", "h", "m"):
        if seconds >= _UNITS[unit] and seconds % _UNITS[unit] == 0:
            return f"{seconds / _UNITS[unit]:g}{unit}"
    return f"{seconds:g}s"
