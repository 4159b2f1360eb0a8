"""The error of a number that reached its limit, and how numbers are shown in messages."""

from __future__ import annotations

import math

from crowdsms.errors import CrowdSMSError

__all__ = ["NumberLimitedError", "mask_phone"]


def mask_phone(phone: str) -> str:
    """``13800138000`` -> ``138****8000``: enough to tell numbers apart in a log, no more."""
    if len(phone) < 8:
        return "****"
    return f"{phone[:3]}****{phone[-4:]}"


def _wait(seconds: float) -> str:
    seconds = max(1, math.ceil(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{math.ceil(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


class NumberLimitedError(CrowdSMSError):
    """A number reached one of its per-number limits (:mod:`crowdsms.limits`): do not send.

    Raised by a limiter before any request, never by a provider, so nothing was sent and
    nothing was charged. ``phone`` is the number (the message shows it masked, ``138****8000``),
    ``count`` and ``seconds`` the window that refused (the one that frees up last when
    several do), ``window`` that window in words (``1 per minute``), and ``retry_after`` the
    seconds until the number may get a message again.
    """

    def __init__(
        self, *, phone: str, count: int, seconds: float, window: str, retry_after: float
    ) -> None:
        self.phone = phone
        self.count = count
        self.seconds = seconds
        self.window = window
        self.retry_after = retry_after
        super().__init__(
            f"{mask_phone(phone)} reached its per-number limit ({window.rstrip('. ')}); "
            "nothing was sent",
            action=(
                f"It may get a message again in {_wait(retry_after)}; ask the user to wait "
                "that long rather than sending again"
            ),
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(phone={mask_phone(self.phone)!r}, window={self.window!r}, "
            f"retry_after={self.retry_after:.3f})"
        )
