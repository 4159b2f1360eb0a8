"""A click type for per-number limits: ``1/m,5/h,10/d`` (see :mod:`crowdsms.limits`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from crowdsms.errors import InvalidInputError
from crowdsms.limits import NumberLimits

__all__ = ["PerNumber", "per_number_option"]

if TYPE_CHECKING:  # click >= 8.5 types ParamType as a generic; older click does not
    _ParamType = click.ParamType[NumberLimits, Any]
else:
    _ParamType = click.ParamType


class PerNumber(_ParamType):
    """Per-number limits, given as ``COUNT/LENGTH`` items: ``1/m,5/h,10/d``, ``2/30s``."""

    name = "limits"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> NumberLimits:
        """The limits, or a usage error that says what is wrong with the text."""
        if isinstance(value, NumberLimits):
            return value
        try:
            return NumberLimits.parse(str(value))
        except InvalidInputError as error:
            what = str(error).removeprefix("per_number: ")
            return self.fail(what, param, ctx)


def per_number_option(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--per-number LIMITS``."""
    return click.option(
        "--per-number",
        type=PerNumber(),
        metavar="LIMITS",
        help=help_text,
    )
