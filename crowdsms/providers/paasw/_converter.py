"""The paasw converter: the gateway's JSON shapes, structured strictly.

cattrs' defaults coerce (``str(x)`` for any ``x``, ``bool("false")`` is true); the hooks
here accept only what the gateway plausibly sends and refuse the rest, so a wrong shape
becomes a :class:`~crowdsms.errors.ResponseParseError` instead of a silently wrong value.

Field names are matched after :func:`snake_keys`: the seed shows camelCase (``phoneNumber``,
``bizId``) and another edition snake_case (``phone_number``); both end up the same.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Final, NewType

import attrs
import cattrs

__all__ = [
    "CHINA_TIME",
    "DEFAULT_EXPIRES_IN",
    "BalanceAnswer",
    "Code",
    "SendAnswer",
    "TokenAnswer",
    "WireReply",
    "WireReport",
    "converter",
    "snake_keys",
]

CHINA_TIME: Final = timezone(timedelta(hours=8), "UTC+08:00")
"""The zone of the gateway's timestamps (mainland China has one zone and no DST)."""

DEFAULT_EXPIRES_IN: Final = 7200
"""The token lifetime the seed documents, used when an answer leaves ``expires_in`` out."""

Code = NewType("Code", str)
"""A code the gateway sends as a string or a number; always a string once structured."""

Identifier = NewType("Identifier", str)
"""An id or a phone number, sent as a string or a number; a string once structured."""

Count = NewType("Count", int)
"""A non-negative integer, sent as a number or a string of digits."""

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def snake_keys(item: Mapping[str, Any]) -> dict[str, Any]:
    """``item`` with camelCase keys turned to snake_case (the first spelling of a key wins)."""
    result: dict[str, Any] = {}
    for key, value in item.items():
        name = _CAMEL_BOUNDARY.sub("_", key).lower() if isinstance(key, str) else key
        result.setdefault(name, value)
    return result


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _text(value: Any, _: type) -> str:
    if isinstance(value, str):
        return value
    raise TypeError(f"expected a string, got {_type_name(value)}")


def _code(value: Any, _: type) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"expected a code (string or integer), got {_type_name(value)}")


def _identifier(value: Any, _: type) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"expected an id (string or integer), got {_type_name(value)}")


def _count(value: Any, _: type) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise TypeError(f"expected a non-negative integer, got {value!r:.40}")


def _flag(value: Any, _: type) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise TypeError(f"expected true or false, got {value!r:.40}")


def _decimal(value: Any, _: type) -> Decimal:
    if isinstance(value, bool):
        raise TypeError("expected a number, got bool")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float) and math.isfinite(value):
        return Decimal(repr(value))  # the shortest text that reads back as the JSON number
    if isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            pass
        else:
            if amount.is_finite():
                return amount
    raise TypeError(f"expected a number, got {value!r:.40}")


_TIME_FORMATS: Final = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y%m%d%H%M%S")


def _time(value: Any, _: type) -> datetime | None:
    """Lenient on purpose: a time in an unknown format must not lose a pulled report."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    for pattern in _TIME_FORMATS:
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=CHINA_TIME)
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=CHINA_TIME)


@attrs.frozen
class TokenAnswer:
    """The fields of a successful ``/api/token`` answer."""

    token: str
    expires_in: Count = Count(DEFAULT_EXPIRES_IN)


@attrs.frozen
class SendAnswer:
    """The fields of a successful ``/sms/send`` or ``/sms/sendTemplate`` answer."""

    biz_id: Identifier


@attrs.frozen
class BalanceAnswer:
    """The fields of a successful ``/sms/balance`` answer."""

    balance: Decimal


@attrs.frozen
class WireReport:
    """One delivery report item, keys in snake_case."""

    phone_number: Identifier
    code: Code
    biz_id: Identifier | None = None
    success: bool | None = None
    message: str | None = None
    send_time: datetime | None = None
    report_time: datetime | None = None
    sms_size: Count | None = None


@attrs.frozen
class WireReply:
    """One reply item, keys in snake_case."""

    phone_number: Identifier
    content: str
    send_time: datetime | None = None
    sequence_id: Identifier | None = None
    sign: str | None = None


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter()
    conv.register_structure_hook(str, _text)
    conv.register_structure_hook(bool, _flag)
    conv.register_structure_hook(Decimal, _decimal)
    conv.register_structure_hook(datetime, _time)
    conv.register_structure_hook(Code, _code)
    conv.register_structure_hook(Identifier, _identifier)
    conv.register_structure_hook(Count, _count)
    return conv


converter: Final = _make_converter()
"""The one cattrs converter of the paasw provider."""
