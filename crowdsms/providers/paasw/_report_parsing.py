"""Delivery reports and replies from their JSON, pulled or pushed (the shapes are the same).

The seed shows the items in camelCase (``phoneNumber``, ``sendTime``, ``bizId``,
``smsSize``, ``sequenceId``); another edition of the gateway's documents uses snake_case
(``phone_number``, ...). Both are accepted, item by item.

A pulled answer is a bare JSON array in the seed; a success envelope holding the array
(under ``data``, ``list``, ...) is accepted too. Pulling takes the reports off the gateway's
queue, so an answer that cannot be parsed raises :class:`ReportsParseError` with the whole
body attached.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final, TypeVar

import attrs
import cattrs

from crowdsms._parsing import parse_error
from crowdsms._transport import ApiResponse
from crowdsms.errors import ResponseParseError, excerpt
from crowdsms.providers.paasw._converter import (
    Code,
    Count,
    Identifier,
    converter,
    read_answer,
    snake_keys,
)
from crowdsms.providers.paasw._errors import ReportFormatError, ReportsParseError
from crowdsms.providers.paasw._models import DeliveryReport, DeliveryStatus, Reply

__all__ = [
    "WireReply",
    "WireReport",
    "parse_delivery_reports",
    "parse_pulled_deliveries",
    "parse_pulled_replies",
    "parse_replies",
]

# Where an envelope object might hold the list (the seed shows bare arrays only).
_LIST_KEYS: Final = ("data", "list", "result", "rows", "records")

T = TypeVar("T")
W = TypeVar("W")


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


def parse_delivery_reports(data: Any) -> list[DeliveryReport]:
    """Delivery reports from a JSON array (decoded, or as ``bytes``/``str``).

    Raises :class:`ReportFormatError` (a ``ValueError``) when ``data`` is not a list of
    report objects; a single object is taken as a list of one.
    """
    return _parse(data, WireReport, _report, "delivery report")


def parse_replies(data: Any) -> list[Reply]:
    """Replies (上行) from a JSON array (decoded, or as ``bytes``/``str``).

    Raises :class:`ReportFormatError` (a ``ValueError``) when ``data`` is not a list of
    reply objects; a single object is taken as a list of one.
    """
    return _parse(data, WireReply, _reply, "reply")


def _report(wire: WireReport, raw: Mapping[str, Any]) -> DeliveryReport:
    return DeliveryReport(
        phone=wire.phone_number,
        code=wire.code,
        status=DeliveryStatus.from_code(wire.code),
        biz_id=wire.biz_id,
        success=wire.success,
        message=wire.message,
        send_time=wire.send_time,
        report_time=wire.report_time,
        sms_size=wire.sms_size,
        raw=raw,
    )


def _reply(wire: WireReply, raw: Mapping[str, Any]) -> Reply:
    return Reply(
        phone=wire.phone_number,
        content=wire.content,
        send_time=wire.send_time,
        sequence_id=wire.sequence_id,
        sign=wire.sign,
        raw=raw,
    )


def _parse(
    data: Any, wire_type: type[W], build: Callable[[W, Mapping[str, Any]], T], noun: str
) -> list[T]:
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
    results: list[T] = []
    for position, item in enumerate(data):
        if not isinstance(item, Mapping):
            raise ReportFormatError(
                f"{noun} [{position}] is {_json_type(item)}, not an object",
                received=_show(item),
                action="Check what the gateway sent; each item must be a JSON object",
            )
        try:
            wire = converter.structure(snake_keys(item), wire_type)
        except (cattrs.BaseValidationError, ValueError, TypeError) as exc:
            detail = (
                "; ".join(cattrs.transform_error(exc, path=f"[{position}]"))
                if isinstance(exc, cattrs.BaseValidationError)
                else str(exc)
            )
            raise ReportFormatError(
                f"{noun} [{position}] does not have the expected fields ({detail[:200]})",
                received=_show(item),
                action="Check what the gateway sent against its documented format",
            ) from exc
        results.append(build(wire, dict(item)))
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


def parse_pulled_deliveries(response: ApiResponse) -> list[DeliveryReport]:
    """The delivery reports of a ``/sms/deliver`` answer (``[]`` when none wait)."""
    return _parse_pulled(response, parse_delivery_reports)


def parse_pulled_replies(response: ApiResponse) -> list[Reply]:
    """The replies of a ``/sms/smsUp`` answer (``[]`` when none wait)."""
    return _parse_pulled(response, parse_replies)


def _parse_pulled(response: ApiResponse, parse: Callable[[Any], list[T]]) -> list[T]:
    if not response.content.strip() and response.status_code < 300:
        return []  # nothing waiting
    try:
        items = _items(response, read_answer(response))
        return parse(items)
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
