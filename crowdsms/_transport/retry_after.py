"""Parse how long a server asks us to wait: ``retry-after-ms`` and ``Retry-After``.

``Retry-After`` is either a number of seconds or an HTTP date (RFC 9110 section 10.2.3).
``retry-after-ms`` is the millisecond variant some APIs send; it wins when both are present
because it is more precise.
"""

from __future__ import annotations

import datetime
import email.utils
import math
from collections.abc import Mapping

import httpx

__all__ = ["parse_retry_after"]


def parse_retry_after(headers: Mapping[str, str], *, now: float) -> float | None:
    """Return the delay in seconds the headers ask for, or ``None`` if they ask for none.

    ``now`` is the current Unix time, used to turn an HTTP date into a delay. Negative delays
    become zero; unparseable or non-finite values are ignored. Header names are matched
    case-insensitively, whatever kind of mapping ``headers`` is.
    """
    if not isinstance(headers, httpx.Headers):
        headers = httpx.Headers(headers)
    millis = _number(headers.get("retry-after-ms"))
    if millis is not None:
        return max(millis / 1000.0, 0.0)
    raw = headers.get("retry-after")
    if raw is None:
        return None
    seconds = _number(raw)
    if seconds is not None:
        return max(seconds, 0.0)
    try:
        when = email.utils.parsedate_to_datetime(raw.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT (asctime has no zone): treat as such
        when = when.replace(tzinfo=datetime.timezone.utc)
    return max(when.timestamp() - now, 0.0)


def _number(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    return value
