"""Quiet hours: a daily window (China time by default) outside which a job sends nothing.

Marketing messages in China are expected during the day; many teams send them only between
08:00 and 21:00. ``BatchSender(send_window="08:00-21:00")`` makes each chunk wait, just
before its request, until the window is open: a job that reaches 21:00 pauses (requests in
flight finish) and continues at 08:00 the next morning. A window may cross midnight
(``"22:00-06:00"``). The wait checks every second whether the job was stopped, so Ctrl-C or
:meth:`~crowdsms.batch.BatchSender.stop` ends a paused job at once (its chunks stay
``not_sent``, and resuming sends them).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, time, timedelta, tzinfo

import attrs

from crowdsms._time import CHINA_TIME
from crowdsms._transport.runtime import Runtime
from crowdsms.batch._stop import JobStop
from crowdsms.errors import InvalidInputError

__all__ = ["SendWindow", "wait_for_window"]

logger = logging.getLogger("crowdsms.batch")

_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_CHECK_EVERY = 1.0
"""Seconds between checks for a stop while waiting for the window."""


def _refuse(text: object, why: str) -> InvalidInputError:
    return InvalidInputError(
        f"the send window {why}",
        field="send_window",
        received=repr(text)[:40],
        action='Give it as "HH:MM-HH:MM" in China time, e.g. "08:00-21:00"',
    )


@attrs.frozen
class SendWindow:
    """The hours of each day during which a job may send: from ``start`` to ``end``.

    ``end`` is excluded; ``end`` before ``start`` means the window crosses midnight. Times
    are in ``tz`` (China time by default, the recipients' time).
    """

    start: time
    end: time
    tz: tzinfo = CHINA_TIME

    def __attrs_post_init__(self) -> None:
        if self.start == self.end:
            raise _refuse(f"{self.start}-{self.end}", "is empty (its start and end are equal)")

    @classmethod
    def parse(cls, text: str) -> SendWindow:
        """``"08:00-21:00"`` (China time)."""
        match = _CLOCK.match(text) if isinstance(text, str) else None
        if match is None:
            raise _refuse(text, 'must look like "08:00-21:00"')
        hours = (int(match.group(1)), int(match.group(3)))
        minutes = (int(match.group(2)), int(match.group(4)))
        if any(h > 23 for h in hours) or any(m > 59 for m in minutes):
            raise _refuse(text, "has a time that does not exist")
        return cls(time(hours[0], minutes[0]), time(hours[1], minutes[1]))

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def is_open(self, now: float) -> bool:
        """Whether the window is open at ``now`` (Unix seconds)."""
        return self.seconds_until_open(now) == 0.0

    def seconds_until_open(self, now: float) -> float:
        """0 while the window is open, else the seconds until it opens."""
        local = datetime.fromtimestamp(now, self.tz)
        clock = local.time()
        if self.start < self.end:
            inside = self.start <= clock < self.end
        else:
            inside = clock >= self.start or clock < self.end
        if inside:
            return 0.0
        opens = datetime.combine(local.date(), self.start, tzinfo=self.tz)
        if opens <= local:
            opens += timedelta(days=1)
        return (opens - local).total_seconds()


async def wait_for_window(window: SendWindow, runtime: Runtime, stop: JobStop) -> None:
    """Return once ``window`` is open, or at once if the job is stopped meanwhile."""
    delay = window.seconds_until_open(runtime.wall_time())
    if delay == 0.0:
        return
    logger.info(
        "batch: outside the send window %s: pausing %.0f min until it opens",
        window,
        delay / 60,
    )
    while delay > 0.0 and not stop:
        await runtime.sleep(min(delay, _CHECK_EVERY))
        delay = window.seconds_until_open(runtime.wall_time())
