"""A per-client clock corrected for the difference between our time and the provider's.

Signed requests carry a timestamp that must fall within a few seconds of the provider's own
time (from 6 seconds to 5 minutes, depending on the provider). A machine whose
clock is off would have every request rejected, so each client keeps an offset:

- measured from the provider's timestamp endpoint, taking the midpoint of the moments the
  request was sent and the answer came back as the moment the server read its clock;
- measured from ``Date`` headers of ordinary answers, which have a one-second resolution, so
  the offset is changed only when it is off by more than ``threshold`` seconds; answers with
  an ``Age`` header came from a cache and say nothing about the server's clock now;
- or set by the user.
"""

from __future__ import annotations

import datetime
import email.utils
import logging
from collections.abc import Callable, Mapping

import httpx

__all__ = ["SkewClock"]

logger = logging.getLogger("crowdsms.clock")


class SkewClock:
    """Unix time as the provider sees it: our wall clock plus a measured offset."""

    def __init__(
        self,
        wall_time: Callable[[], float],
        *,
        offset: float = 0.0,
        threshold: float = 2.0,
    ) -> None:
        self._wall_time = wall_time
        self._offset = float(offset)
        self.threshold = threshold
        # The last Date header parsed and its Unix time: it changes once a second, while a
        # busy client reads hundreds of answers a second.
        self._last_date: tuple[str, float] | None = None

    @property
    def offset(self) -> float:
        """Seconds to add to our wall clock to get the provider's time."""
        return self._offset

    def set_offset(self, seconds: float) -> None:
        """Set the offset by hand (for a known skew, or in tests)."""
        self._offset = float(seconds)

    def now(self) -> float:
        """The provider's current Unix time, in seconds, as best we know it."""
        return self._wall_time() + self._offset

    def observe_server_time(
        self, server_time: float, *, sent_at: float, received_at: float
    ) -> None:
        """Adopt the offset measured from a timestamp endpoint's answer.

        ``sent_at`` and ``received_at`` are our wall-clock readings around the request.
        """
        midpoint = (sent_at + received_at) / 2.0
        self._set(server_time - midpoint, source="timestamp endpoint")

    def observe_date_header(
        self,
        headers: Mapping[str, str],
        *,
        sent_at: float,
        received_at: float,
        force: bool = False,
    ) -> bool:
        """Adjust the offset from an answer's ``Date`` header; return whether it changed.

        Ignored when the answer has an ``Age`` header (it came from a cache) or no parseable
        date. Unless ``force`` is set, the offset changes only if it is off by more than
        ``threshold`` seconds, since ``Date`` has a resolution of one second.
        """
        if not isinstance(headers, httpx.Headers):
            headers = httpx.Headers(headers)  # header names are case-insensitive
        if "age" in headers:
            return False
        raw = headers.get("date")
        if not raw:
            return False
        last = self._last_date
        if last is not None and last[0] == raw:
            server_time = last[1]
        else:
            try:
                when = email.utils.parsedate_to_datetime(raw)
            except (TypeError, ValueError, IndexError):
                return False
            if when.tzinfo is None:  # HTTP dates are GMT (the asctime form carries no zone)
                when = when.replace(tzinfo=datetime.timezone.utc)
            # Date truncates to the second: the server's clock read somewhere in [t, t + 1).
            server_time = when.timestamp() + 0.5
            self._last_date = (raw, server_time)
        measured = server_time - (sent_at + received_at) / 2.0
        if not force and abs(measured - self._offset) <= self.threshold:
            return False
        self._set(measured, source="Date header")
        return True

    def _set(self, offset: float, *, source: str) -> None:
        if abs(offset - self._offset) > 0.5:
            logger.info(
                "clock offset changed from %.3f s to %.3f s (%s)", self._offset, offset, source
            )
        self._offset = offset
