"""Reading typed values out of pushed fields, strictly where security depends on them.

Fields that are signed or checked (token, signature, timestamp) must be present and of the
right type, or the push is malformed. Descriptive fields are read leniently: a value of an
unexpected type becomes ``None`` in the typed event (``raw`` keeps it), so that an odd field
never loses a delivery report.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, Final

from crowdsms._time import CHINA_TIME
from crowdsms.errors import excerpt
from crowdsms.webhooks._errors import WebhookFormatError
from crowdsms.webhooks._replay import timestamp_seconds

__all__ = [
    "CHINA_TIME",
    "china_time",
    "keys_of",
    "number_text",
    "optional_text",
    "required_text",
    "unix_time",
]

"""The zone of the providers' wall-clock times (mainland China: one zone, no DST)."""

_TIME_FORMATS: Final = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y%m%d%H%M%S")


def keys_of(fields: Mapping[str, Any]) -> str:
    """The field names of a push, for an error message (never the values)."""
    names = sorted(str(name) for name in fields)
    shown = ", ".join(names[:12])
    return f"fields {shown}" + (f" and {len(names) - 12} more" if len(names) > 12 else "")


def optional_text(fields: Mapping[str, Any], *names: str) -> str | None:
    """The first of ``names`` present as a string (or an integer, as digits), else ``None``."""
    for name in names:
        value = fields.get(name)
        if isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    return None


def required_text(fields: Mapping[str, Any], name: str, *, provider: str) -> str:
    """Field ``name`` as a non-empty string; :class:`WebhookFormatError` otherwise."""
    value = fields.get(name)
    if isinstance(value, str) and value:
        return value
    problem = "is missing" if value is None else "is empty" if value == "" else "is not a string"
    raise WebhookFormatError(
        f"the field {name!r} {problem}",
        provider=provider,
        received=keys_of(fields),
        action="Signed pushes carry token, signature and timestamp; check what posts here",
    )


def number_text(fields: Mapping[str, Any], name: str, *, provider: str) -> tuple[str, float]:
    """Field ``name`` as sent and as a number; :class:`WebhookFormatError` unless it is
    1 to 16 ASCII digits (a Unix timestamp).

    Only digits: a signed text such as ``timestamp + token`` must have one spelling, or a
    push could be signed alike with a timestamp of ``1765000000e0`` and a shorter token.
    """
    value = fields.get(name)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value), float(value)
    if isinstance(value, str) and 1 <= len(value) <= 16 and value.isascii() and value.isdigit():
        return value, float(value)
    problem = (
        "is missing"
        if value is None
        else f"is not a Unix timestamp in digits ({excerpt(str(value), 40)})"
    )
    raise WebhookFormatError(
        f"the field {name!r} {problem}",
        provider=provider,
        received=keys_of(fields),
        action="Signed pushes carry a Unix timestamp; check what posts here",
    )


def unix_time(value: float | None) -> datetime | None:
    """An aware UTC datetime from Unix seconds or milliseconds; ``None`` if out of range."""
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(timestamp_seconds(value), timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def china_time(text: str | None) -> datetime | None:
    """A provider's wall-clock time (``2017-01-01 00:00:00``, China time) as an aware datetime."""
    if text is None:
        return None
    stripped = text.strip()
    for pattern in _TIME_FORMATS:
        try:
            return datetime.strptime(stripped, pattern).replace(tzinfo=CHINA_TIME)
        except ValueError:
            continue
    return None
