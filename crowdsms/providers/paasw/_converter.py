"""The paasw converter and the gateway's answers: the envelope, and each answer's fields.

cattrs' defaults coerce (``str(x)`` for any ``x``, ``bool("false")`` is true); the hooks
here accept only what the gateway plausibly sends and refuse the rest, so a wrong shape
becomes a :class:`~crowdsms.errors.ResponseParseError` instead of a silently wrong value.

Field names are matched after :func:`snake_keys`: the seed shows camelCase (``phoneNumber``,
``bizId``) and another edition snake_case (``phone_number``); both end up the same.

Every answer is an envelope ``{"code": "10000", "message": ..., ...}``. Success is ``code ==
"10000"`` (a string in the seed; the integer is accepted too). Every other code refuses the
request before it was processed, so its error is ``NOT_SENT``. An HTTP error status without
such an envelope (a proxy's HTML page, a 404) becomes an
:class:`~crowdsms.errors.HTTPStatusError`. Delivery reports and replies are parsed in
:mod:`crowdsms.providers.paasw._report_parsing`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final, NewType

import attrs
import cattrs

from crowdsms._parsing import decode_json, parse_error, structure
from crowdsms._time import CHINA_TIME
from crowdsms._transport import ApiResponse
from crowdsms.errors import DeliveryCertainty, HTTPStatusError, ResponseParseError, excerpt
from crowdsms.providers.paasw._codes import SUCCESS_CODE, error_for_code
from crowdsms.providers.paasw._models import Balance, SendResult

__all__ = [
    "DEFAULT_EXPIRES_IN",
    "Code",
    "Count",
    "Identifier",
    "TokenAnswer",
    "answer_code",
    "answer_message",
    "converter",
    "http_status_error",
    "loose_time",
    "parse_balance_answer",
    "parse_send_answer",
    "read_answer",
    "read_object",
    "snake_keys",
]

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
    return loose_time(value)


def loose_time(value: Any) -> datetime | None:
    """A gateway time (China time), or ``None`` for anything else.

    Lenient on purpose: a time in an unknown format must not lose a pulled report.
    """
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


def answer_code(data: Mapping[str, Any]) -> str | None:
    """The envelope's code as a string, or ``None`` if it has none of a usable type."""
    code = data.get("code")
    if isinstance(code, str):
        return code.strip()
    if isinstance(code, int) and not isinstance(code, bool):
        return str(code)
    return None


def answer_message(data: Mapping[str, Any]) -> str:
    """The envelope's message (``message``, or ``msg`` as in the push answers)."""
    for key in ("message", "msg"):
        value = data.get(key)
        if isinstance(value, str):
            return value
    return ""


def http_status_error(response: ApiResponse) -> HTTPStatusError:
    """The error for an HTTP status other than 2xx whose body is not the gateway's envelope.

    A 4xx refused the request before processing (``NOT_SENT``). A 3xx is ``UNKNOWN``:
    crowdsms follows no redirects, and a redirect after a send ("processed, see there") may
    come after the gateway acted on it.
    """
    status = response.status_code
    redirect = status < 400
    return HTTPStatusError(
        f"the gateway answered HTTP {status}{' (a redirect)' if redirect else ''} without its "
        "usual answer",
        status_code=status,
        certainty=DeliveryCertainty.UNKNOWN if redirect else DeliveryCertainty.NOT_SENT,
        operation=response.operation,
        received=f"HTTP {status}, body {excerpt(response.content)}",
        action=_REDIRECTED if redirect else _REFUSED,
    )


_REDIRECTED = (
    "The gateway may have acted on the request before redirecting: check its delivery reports "
    "before sending again, and point base_url at the address that answers without a redirect"
)
_REFUSED = (
    "The request was refused before processing; check the client's base_url and that nothing "
    "between you and the gateway (a proxy) rewrites requests"
)


def read_answer(response: ApiResponse) -> Any:
    """The decoded JSON answer, with a refusing envelope raised as its typed error.

    Returns any JSON value (objects of every endpoint, the bare arrays of the report
    queues); only an object carrying a code other than ``"10000"`` raises here.
    """
    try:
        data = decode_json(response)
    except ResponseParseError as exc:
        if response.status_code >= 300:
            raise http_status_error(response) from exc
        raise
    if isinstance(data, dict) and "code" in data:
        _require_success(response, data)
    if response.status_code >= 300:
        raise http_status_error(response)
    return data


def _require_success(response: ApiResponse, data: Mapping[str, Any]) -> None:
    """Raise the typed error unless ``data``'s code is the success code."""
    code = answer_code(data)
    if code is None:
        raise parse_error(
            response, f"the answer's code is missing or not a string ({data.get('code')!r:.40})"
        )
    if code != SUCCESS_CODE:
        raise error_for_code(code=code, message=answer_message(data), operation=response.operation)


def read_object(response: ApiResponse) -> dict[str, Any]:
    """The answer as a successful envelope object, or the right error."""
    data = read_answer(response)
    if not isinstance(data, dict):
        raise parse_error(response, f"the answer is a JSON {type(data).__name__}, not an object")
    if "code" not in data:
        raise parse_error(response, "the answer has no code")
    return data


def parse_send_answer(response: ApiResponse, numbers: tuple[str, ...]) -> SendResult:
    """The result of a ``/sms/send`` or ``/sms/sendTemplate`` answer for ``numbers``."""
    data = read_object(response)
    answer = structure(converter, snake_keys(data), SendAnswer, response)
    if not answer.biz_id:
        raise parse_error(response, "the gateway accepted the send but its bizId is empty")
    return SendResult(biz_id=answer.biz_id, phones=numbers, provider_message=answer_message(data))


def parse_balance_answer(response: ApiResponse) -> Balance:
    """The balance in a ``/sms/balance`` answer."""
    data = read_object(response)
    answer = structure(converter, snake_keys(data), BalanceAnswer, response)
    return Balance(balance=answer.balance, provider_message=answer_message(data))
