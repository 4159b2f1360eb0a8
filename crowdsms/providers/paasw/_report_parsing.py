"""Delivery reports and replies from their JSON, pulled or pushed (the shapes are the same).

The seed shows the items in camelCase (``phoneNumber``, ``sendTime``, ``bizId``,
``smsSize``, ``sequenceId``); another edition of the gateway's documents uses snake_case
(``phone_number``, ...). Both are accepted, item by item.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import cattrs

from crowdsms.errors import excerpt
from crowdsms.providers.paasw._converter import WireReply, WireReport, converter, snake_keys
from crowdsms.providers.paasw._errors import ReportFormatError
from crowdsms.providers.paasw._models import DeliveryReport, DeliveryStatus, Reply

__all__ = ["parse_delivery_reports", "parse_replies"]

T = TypeVar("T")
W = TypeVar("W")


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
