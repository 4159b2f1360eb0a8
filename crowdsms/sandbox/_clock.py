"""The sandbox's clock: the wall clock plus an offset that tests set or advance.

Every time the sandbox uses (timestamp windows, token expiry, contact-list task progress, the
``Date`` header, the timestamp endpoints) comes from this clock, so a test can skew the
server against the client (``set_offset(-30)``) or let hours pass (``advance(7201)``).
Advancing is the same as skewing: the server's time moves away from the client's, exactly as
it would against a real provider, and the client's clock correction must cope.
"""

from __future__ import annotations

import datetime
import email.utils
import threading
import time
from collections.abc import Callable

from crowdsms._time import CHINA_TIME

__all__ = ["CHINA_TIME", "SandboxClock", "china_time_text"]

"""The providers format wall-clock times in China Standard Time (UTC+8)."""


def china_time_text(unix: float) -> str:
    """``unix`` as ``yyyy-MM-dd HH:mm:ss`` in China Standard Time."""
    return datetime.datetime.fromtimestamp(unix, CHINA_TIME).strftime("%Y-%m-%d %H:%M:%S")


class SandboxClock:
    """Unix time as the sandbox's providers see it."""

    def __init__(self, offset: float = 0.0, *, wall_time: Callable[[], float] = time.time) -> None:
        self._wall_time = wall_time
        self._offset = float(offset)
        self._lock = threading.Lock()
        self._date_second = -1
        self._date_text = b""

    @property
    def offset(self) -> float:
        """Seconds added to the wall clock."""
        return self._offset

    def set_offset(self, seconds: float) -> None:
        """Put the sandbox's clock ``seconds`` ahead of the wall clock (behind if negative)."""
        with self._lock:
            self._offset = float(seconds)

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass at once (the offset grows by ``seconds``)."""
        with self._lock:
            self._offset += float(seconds)

    def now(self) -> float:
        """The sandbox's current Unix time, in seconds."""
        return self._wall_time() + self._offset

    def now_ms(self) -> int:
        """The sandbox's current Unix time, in whole milliseconds."""
        return int(self.now() * 1000)

    def http_date(self) -> bytes:
        """The sandbox's current time as an HTTP ``Date`` header value (cached per second)."""
        second = int(self.now())
        if second != self._date_second:
            self._date_text = email.utils.formatdate(second, usegmt=True).encode("ascii")
            self._date_second = second
        return self._date_text
