"""How many messages one number may get: a few windows of ``count`` messages in ``seconds``.

The common rule in China (Aliyun's default for one signature, and close to what the
providers refuse with their own per-number codes) is 1 message a minute, 5 an hour and
10 a day to one number: :class:`NumberLimits` with no arguments. A number may get another
message only if *every* window allows it.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable

import attrs

from crowdsms.errors import InvalidInputError

__all__ = [
    "DEFAULT_PER_DAY",
    "DEFAULT_PER_HOUR",
    "DEFAULT_PER_MINUTE",
    "MAX_WINDOW",
    "NumberLimits",
    "Window",
    "check_limits",
]

DEFAULT_PER_MINUTE = 1
"""Messages one number may get in any minute, by default."""
DEFAULT_PER_HOUR = 5
"""Messages one number may get in any hour, by default."""
DEFAULT_PER_DAY = 10
"""Messages one number may get in any 24 hours, by default."""

MAX_WINDOW = 366 * 86400.0
"""The longest window accepted (a year): what a limiter remembers grows with the longest."""

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_NAMES = {1.0: "second", 60.0: "minute", 3600.0: "hour", 86400.0: "day"}
_ITEM = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)?\s*([smhd])\s*$", re.IGNORECASE)
_SPEC_EXAMPLE = "1/m,5/h,10/d"


def _period(seconds: float) -> str:
    """``60`` -> ``minute``, ``600`` -> ``10 minutes``, ``90`` -> ``90 seconds``."""
    for unit in (86400.0, 3600.0, 60.0, 1.0):
        if seconds % unit == 0 and seconds >= unit:
            amount = seconds / unit
            name = _NAMES[unit]
            return name if amount == 1 else f"{amount:g} {name}s"
    return f"{seconds:g} s"


def _length(seconds: float) -> str:
    """``60`` -> ``1 minute``, ``600`` -> ``10 minutes``."""
    period = _period(seconds)
    return period if period[0].isdigit() else f"1 {period}"


def _short(seconds: float) -> str:
    """``60`` -> ``m``, ``600`` -> ``10m``, ``1.5`` -> ``1.5s`` (the form :meth:`parse` reads)."""
    for letter in ("d", "h", "m", "s"):
        unit = _UNITS[letter]
        if seconds % unit == 0 and seconds >= unit:
            amount = seconds / unit
            return letter if amount == 1 else f"{amount:g}{letter}"
    return f"{seconds:g}s"


@attrs.frozen
class Window:
    """At most ``count`` messages to one number in any ``seconds`` (a sliding window)."""

    count: int
    seconds: float

    def describe(self) -> str:
        """``1 per minute``, ``5 per hour``, ``3 per 10 minutes``."""
        return f"{self.count} per {_period(self.seconds)}"

    def __str__(self) -> str:
        return f"{self.count}/{_short(self.seconds)}"


def _window(item: object, field: str) -> Window:
    if isinstance(item, Window):
        count, seconds = item.count, item.seconds
    elif isinstance(item, tuple) and len(item) == 2:
        count, seconds = item
    else:
        raise InvalidInputError(
            "each window is a (count, seconds) pair",
            field=field,
            received=repr(item)[:60],
            action="Pass e.g. windows=[(1, 60), (5, 3600), (10, 86400)]",
        )
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise InvalidInputError(
            "a window's count must be a whole number of messages, at least 1",
            field=field,
            received=repr(count)[:60],
            action="Pass e.g. 5 (messages); leave the window out to have no such limit",
        )
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, (int, float))
        or not math.isfinite(seconds)
        or not 0 < seconds <= MAX_WINDOW
    ):
        raise InvalidInputError(
            f"a window's length must be a number of seconds above 0 and at most "
            f"{MAX_WINDOW:g} (a year)",
            field=field,
            received=repr(seconds)[:60],
            action="Pass e.g. 3600 for an hour",
        )
    return Window(count, float(seconds))


@attrs.frozen(init=False)
class NumberLimits:
    """The windows one number's messages must fit in, all at once.

    ``NumberLimits()`` is the common rule: 1 a minute, 5 an hour, 10 a day
    (:data:`DEFAULT_PER_MINUTE`, :data:`DEFAULT_PER_HOUR`, :data:`DEFAULT_PER_DAY`). Pass
    ``None`` to drop one (``NumberLimits(per_hour=None, per_day=None)``: 1 a minute only),
    :meth:`of` for windows of any length, or :meth:`parse` for the command line's text
    (``"1/m,5/h,10/d"``). ``windows`` are sorted by length; :attr:`longest` is how long a
    limiter remembers a send.
    """

    windows: tuple[Window, ...]

    def __init__(
        self,
        per_minute: int | None = DEFAULT_PER_MINUTE,
        per_hour: int | None = DEFAULT_PER_HOUR,
        per_day: int | None = DEFAULT_PER_DAY,
    ) -> None:
        windows = [
            _window((count, seconds), name)
            for name, count, seconds in (
                ("per_minute", per_minute, 60.0),
                ("per_hour", per_hour, 3600.0),
                ("per_day", per_day, 86400.0),
            )
            if count is not None
        ]
        self.__attrs_init__(_checked(windows, "per_minute, per_hour, per_day"))

    @classmethod
    def of(cls, windows: Iterable[tuple[int, float] | Window]) -> NumberLimits:
        """Limits of any windows: ``NumberLimits.of([(1, 30), (3, 600)])`` (count, seconds)."""
        given: object = windows
        if isinstance(given, (str, bytes)):
            raise InvalidInputError(
                "windows are (count, seconds) pairs, not text",
                field="windows",
                received=repr(windows)[:60],
                action=f"Pass e.g. [(1, 60), (5, 3600)], or NumberLimits.parse({_SPEC_EXAMPLE!r})",
            )
        return cls._of(windows, "windows")

    @classmethod
    def _of(cls, windows: Iterable[object], field: str) -> NumberLimits:
        limits = cls.__new__(cls)
        limits.__attrs_init__(_checked(windows, field))
        return limits

    @classmethod
    def parse(cls, text: str, *, field: str = "per_number") -> NumberLimits:
        """Limits from text such as ``"1/m,5/h,10/d"`` or ``"2/30s,3/10m"``.

        Each item is ``COUNT/LENGTH``: a unit ``s``, ``m``, ``h`` or ``d``, with an optional
        number before it. ``field`` names the input in the error.
        """
        if not isinstance(text, str) or not text.strip():
            raise InvalidInputError(
                "per-number limits are a list such as 1/m,5/h,10/d",
                field=field,
                received=repr(text)[:60],
                action=f"Pass e.g. {_SPEC_EXAMPLE!r} (1 a minute, 5 an hour, 10 a day)",
            )
        pairs: list[tuple[int, float]] = []
        for item in text.split(","):
            match = _ITEM.match(item)
            if match is None:
                raise InvalidInputError(
                    f"{item.strip()!r} is not COUNT/LENGTH (a count of messages, a slash, "
                    "then a length in s, m, h or d)",
                    field=field,
                    received=repr(text)[:60],
                    action=f"Write e.g. {_SPEC_EXAMPLE!r} or '3/10m'",
                )
            count, amount, unit = match.groups()
            pairs.append((int(count), float(amount or 1) * _UNITS[unit.lower()]))
        return cls._of(pairs, field)

    @property
    def longest(self) -> float:
        """The longest window, in seconds: how long a send is remembered."""
        return self.windows[-1].seconds

    def describe(self) -> str:
        """``1 per minute, 5 per hour and 10 per day``."""
        parts = [window.describe() for window in self.windows]
        return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]

    def __str__(self) -> str:
        return ",".join(str(window) for window in self.windows)


def _checked(items: Iterable[object], field: str) -> tuple[Window, ...]:
    windows = sorted((_window(item, field) for item in items), key=lambda w: w.seconds)
    if not windows:
        raise InvalidInputError(
            "per-number limits need at least one window",
            field=field,
            received="no window",
            action="Pass e.g. NumberLimits() for 1 a minute, 5 an hour and 10 a day",
        )
    for earlier, later in itertools.pairwise(windows):
        if earlier.seconds == later.seconds:
            raise InvalidInputError(
                f"two windows of {_length(later.seconds)} contradict each other",
                field=field,
                received=f"{earlier} and {later}",
                action="Keep one count per window length",
            )
    return tuple(windows)


def check_limits(limits: object) -> NumberLimits:
    """``limits`` if it is :class:`NumberLimits`, else a clear :class:`InvalidInputError`."""
    if not isinstance(limits, NumberLimits):
        raise InvalidInputError(
            f"limits must be NumberLimits, not {type(limits).__name__}",
            field="limits",
            received=repr(limits)[:60],
            action=f"Pass e.g. NumberLimits() or NumberLimits.parse({_SPEC_EXAMPLE!r})",
        )
    return limits
