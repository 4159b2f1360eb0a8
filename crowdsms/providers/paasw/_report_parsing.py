"""Delivery reports and replies from their JSON, pulled or pushed (the shapes are the same).

The seed shows the items in camelCase (``phoneNumber``, ``sendTime``, ``bizId``,
``smsSize``, ``sequenceId``); another edition of the gateway's documents uses snake_case
(``phone_number``, ...). Both are accepted, item by item.

Each item is read on its own. Only what makes it a report must be there and of its type:
the number and the ``code`` (a reply: the number and the ``content``). Every other field is
descriptive and read leniently: a value of an unexpected type (``"smsSize": ""``,
``"message": null``) becomes ``None`` in the typed report, and ``raw`` keeps it. An item
that still cannot be read becomes an :class:`Unreadable`, never the end of its array: a
pushed or pulled array holds reports the gateway will not send again.

A pulled answer is a bare JSON array in the seed; a success envelope holding the array
(under ``data``, ``list``, ...) is accepted too. Pulling takes the reports off the gateway's
queue, so an answer that cannot be parsed at all (not an array, or not one item readable)
raises :class:`ReportsParseError` with the whole body attached.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, TypeVar

import attrs

from crowdsms._parsing import parse_error
from crowdsms._transport import ApiResponse
from crowdsms.errors import ResponseParseError, excerpt
from crowdsms.providers.paasw._converter import (
    Code,
    Identifier,
    converter,
    loose_time,
    read_answer,
    snake_keys,
)
from crowdsms.providers.paasw._errors import ReportFormatError, ReportsParseError
from crowdsms.providers.paasw._models import DeliveryReport, DeliveryStatus, Reply
from crowdsms.webhooks._fields import keys_of

__all__ = [
    "Unreadable",
    "parse_delivery_reports",
    "parse_pulled_deliveries",
    "parse_pulled_replies",
    "parse_replies",
    "read_delivery_reports",
    "read_replies",
    "readable",
    "warn_unreadable",
]

logger = logging.getLogger("crowdsms.providers.paasw")

# Where an envelope object might hold the list (the seed shows bare arrays only).
_LIST_KEYS: Final = ("data", "list", "result", "rows", "records")

T = TypeVar("T")

_LEFT_OUT: Final = "left out, the others kept"


@attrs.frozen
class Unreadable:
    """An item of an array of reports or replies that crowdsms cannot read.

    ``position`` is its index in the array; ``reason`` says what is wrong with it, naming
    fields but never their values (it may be logged: the values hold phone numbers);
    ``raw`` is the item as received (an object, or whatever else stood in the array).
    """

    position: int
    reason: str
    raw: Any = attrs.field(repr=False)


class _NotAReport(Exception):
    """An item lacks a field it cannot go without (the text says which, and why)."""


def read_delivery_reports(data: Any) -> list[DeliveryReport | Unreadable]:
    """Each item of a JSON array of delivery reports, read, or :class:`Unreadable`.

    Raises :class:`ReportFormatError` when ``data`` is not a JSON array (a single object is
    taken as an array of one), or when it holds items and none of them can be read (it is
    then not delivery reports: replies posted to the reports' URL, say).
    """
    return _read(data, _report, "delivery report")


def read_replies(data: Any) -> list[Reply | Unreadable]:
    """Each item of a JSON array of replies, read, or :class:`Unreadable`.

    Raises :class:`ReportFormatError` as :func:`read_delivery_reports` does.
    """
    return _read(data, _reply, "reply")


def parse_delivery_reports(data: Any) -> list[DeliveryReport]:
    """Delivery reports from a JSON array (decoded, or as ``bytes``/``str``).

    A field that describes a report (``smsSize``, ``success``, ``message``, the times,
    ``bizId``) is ``None`` when its value is of an unexpected type; ``raw`` keeps it. An
    item without a usable ``phoneNumber`` or ``code`` is left out, with a warning naming
    its position and fields (never their values), and the others are returned.

    Raises :class:`ReportFormatError` (a ``ValueError``) when ``data`` is not a list of
    report objects (a single object is taken as a list of one), or when none of its items
    can be read.
    """
    return readable(read_delivery_reports(data), "delivery report", fate=_LEFT_OUT)


def parse_replies(data: Any) -> list[Reply]:
    """Replies (上行) from a JSON array (decoded, or as ``bytes``/``str``).

    Leniency as in :func:`parse_delivery_reports`: an item without a usable
    ``phoneNumber`` or ``content`` is left out with a warning, the others returned.

    Raises :class:`ReportFormatError` (a ``ValueError``) when ``data`` is not a list of
    reply objects (a single object is taken as a list of one), or when none of its items
    can be read.
    """
    return readable(read_replies(data), "reply", fate=_LEFT_OUT)


def warn_unreadable(item: Unreadable, noun: str, *, total: int, fate: str) -> None:
    """Log ``item`` as a warning: where it stood, what is wrong, its field names (never
    their values), and ``fate``, what became of it."""
    fields = f" ({keys_of(item.raw)})" if isinstance(item.raw, Mapping) else ""
    logger.warning(
        "paasw: %s [%d] of %d %s%s; %s", noun, item.position, total, item.reason, fields, fate
    )


def readable(items: Sequence[T | Unreadable], noun: str, *, fate: str) -> list[T]:
    """The items read; each unreadable one is logged with ``fate`` (what became of it)."""
    results: list[T] = []
    for item in items:
        if isinstance(item, Unreadable):
            warn_unreadable(item, noun, total=len(items), fate=fate)
        else:
            results.append(item)
    return results


def _report(fields: Mapping[str, Any], raw: Mapping[str, Any]) -> DeliveryReport:
    code = _required(fields, "code", "code", _code)
    return DeliveryReport(
        phone=_required(fields, "phone_number", "phoneNumber", _identifier),
        code=code,
        status=DeliveryStatus.from_code(code),
        biz_id=_loose_identifier(fields.get("biz_id")),
        success=_loose_flag(fields.get("success")),
        message=_loose_text(fields.get("message")),
        send_time=loose_time(fields.get("send_time")),
        report_time=loose_time(fields.get("report_time")),
        sms_size=_loose_count(fields.get("sms_size")),
        raw=raw,
    )


def _reply(fields: Mapping[str, Any], raw: Mapping[str, Any]) -> Reply:
    return Reply(
        phone=_required(fields, "phone_number", "phoneNumber", _identifier),
        content=_required(fields, "content", "content", _content),
        send_time=loose_time(fields.get("send_time")),
        sequence_id=_loose_identifier(fields.get("sequence_id")),
        sign=_loose_text(fields.get("sign")),
        raw=raw,
    )


# -- what makes an item a report: strict --------------------------------------------------


def _identifier(value: Any) -> str:
    return str(converter.structure(value, Identifier))


def _code(value: Any) -> str:
    return str(converter.structure(value, Code))


def _content(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # a reply of digits, sent as a number
    raise TypeError("not a string")


def _required(fields: Mapping[str, Any], key: str, shown: str, read: Callable[[Any], str]) -> str:
    value = fields.get(key)
    if value is None:
        raise _NotAReport(f"has no {shown}" if key not in fields else f"has a null {shown}")
    try:
        return read(value)
    except (TypeError, ValueError) as exc:
        raise _NotAReport(f"has a {shown} that is {_json_type(value)}") from exc


# -- what describes it: lenient (None, with the value kept in raw) ---------------------------


def _loose_text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _loose_identifier(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _loose_flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
    return None


def _loose_count(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float):
        return int(value) if value.is_integer() and value >= 0 else None
    if isinstance(value, str):
        text = value.strip()
        return int(text) if text.isascii() and text.isdigit() else None
    return None


# -- arrays ----------------------------------------------------------------------------------


def _read(
    data: Any, build: Callable[[Mapping[str, Any], Mapping[str, Any]], T], noun: str
) -> list[T | Unreadable]:
    if isinstance(data, (bytes, bytearray, str)):
        data = _decode(data, noun)
    if isinstance(data, Mapping):
        data = [data]
    if not isinstance(data, list):
        raise ReportFormatError(
            f"expected a JSON array of {noun} objects, got {_json_type(data)}",
            received=_show(data),
            action="Pass the decoded JSON array the gateway sent",
        )
    results: list[T | Unreadable] = []
    for position, item in enumerate(data):
        if not isinstance(item, Mapping):
            results.append(Unreadable(position, f"is {_json_type(item)}, not an object", item))
            continue
        try:
            results.append(build(snake_keys(item), dict(item)))
        except _NotAReport as exc:
            reason = f"does not have the expected fields (it {exc})"
            results.append(Unreadable(position, reason, dict(item)))
    if data and all(isinstance(result, Unreadable) for result in results):
        first = results[0]
        assert isinstance(first, Unreadable)
        more = f" (and {len(data) - 1} more like it)" if len(data) > 1 else ""
        raise ReportFormatError(
            f"{noun} [{first.position}] {first.reason}{more}",
            received=_show(first.raw),
            action="Check what the gateway sent against its documented format",
        )
    return results


def _decode(data: bytes | bytearray | str, noun: str) -> Any:
    try:
        return json.loads(data)
    except ValueError as exc:
        raise ReportFormatError(
            f"the {noun}s are not valid JSON",
            received=excerpt(bytes(data) if not isinstance(data, str) else data),
            action="Pass the body the gateway sent, unchanged",
        ) from exc


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _show(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, default=repr)
    except ValueError:
        text = repr(value)
    return excerpt(text)


def parse_pulled_deliveries(response: ApiResponse) -> list[DeliveryReport | Unreadable]:
    """The delivery reports of a ``/sms/deliver`` answer (``[]`` when none wait), each
    read or :class:`Unreadable`."""
    return _parse_pulled(response, read_delivery_reports)


def parse_pulled_replies(response: ApiResponse) -> list[Reply | Unreadable]:
    """The replies of a ``/sms/smsUp`` answer (``[]`` when none wait), each read or
    :class:`Unreadable`."""
    return _parse_pulled(response, read_replies)


def _parse_pulled(
    response: ApiResponse, read: Callable[[Any], list[T | Unreadable]]
) -> list[T | Unreadable]:
    if not response.content.strip() and response.status_code < 300:
        return []  # nothing waiting
    try:
        items = _items(response, read_answer(response))
        return read(items)
    except ReportFormatError as exc:
        cause = parse_error(response, exc.what)
        raise ReportsParseError(cause, body=response.content) from exc
    except ResponseParseError as exc:
        raise ReportsParseError(exc, body=response.content) from exc


def _items(response: ApiResponse, data: Any) -> list[Any]:
    """The list of items: a bare array, or the list inside a successful envelope."""
    if isinstance(data, list):
        return data
    if not isinstance(data, dict) or "code" not in data:
        raise parse_error(response, "the answer is neither a JSON array nor the gateway's envelope")
    for key in _LIST_KEYS:
        if key in data:
            value = data[key]
            if value is None:
                return []
            if isinstance(value, list):
                return value
            raise parse_error(response, f"the answer's {key!r} is not a JSON array")
    lists = [value for value in data.values() if isinstance(value, list)]
    if len(lists) == 1:
        return lists[0]
    if not lists:
        return []  # a success envelope with nothing in it: nothing waiting
    raise parse_error(response, "the answer holds several arrays; crowdsms cannot tell which")
