"""The shapes of SendCloud's answers and the one cattrs converter that reads them (private).

The converter's primitive hooks are strict: a string where a number belongs (other than a
string of digits, which the provider sends for some ids), a number where a string belongs,
or a string where a boolean belongs is a parse error, not silently coerced. Times in the
answers are ``yyyy-MM-dd HH:mm:ss`` in China time.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.errors import IterableValidationError, IterableValidationNote
from cattrs.gen import make_dict_structure_fn, override
from cattrs.v import format_exception

from crowdsms._parsing import parse_error
from crowdsms._time import CHINA_TIME
from crowdsms._transport import ApiResponse
from crowdsms.providers.sendcloud._models import ContactListTask

__all__ = [
    "Envelope",
    "FailedItem",
    "SendInfo",
    "TaskInfo",
    "TimestampInfo",
    "converter",
    "structure",
]


@attrs.frozen
class Envelope:
    """``{"result": bool, "statusCode": int, "message": str, "info": {...}}``."""

    result: bool
    status_code: int
    message: str = ""
    info: dict[str, Any] | None = None


@attrs.frozen
class FailedItem:
    """One refused recipient in ``info.items``: ``{phone, vars, message}``."""

    phone: str
    message: str = ""


@attrs.frozen
class SendInfo:
    """``info`` of a send: ids of the accepted recipients, and the refused ones.

    ``sms_ids`` is ``None`` when the answer has no ``smsIds`` at all (the 2015 documents'
    shape), which is not the same as an empty list.
    """

    sms_ids: list[str] | None = None
    items: list[FailedItem] = attrs.field(factory=list)
    success_count: int | None = None
    failed_count: int | None = None


@attrs.frozen
class TimestampInfo:
    """``info`` of ``timestamp/get``."""

    timestamp: int


@attrs.frozen
class TaskInfo:
    """``info`` of the contact-list task endpoints: the task is under ``smsTask``."""

    sms_task: ContactListTask


T = TypeVar("T")

_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def _str(value: Any, _type: Any) -> str:
    if isinstance(value, str):
        return value
    raise TypeError(f"expected a string, got {type(value).__name__} {value!r:.40}")


def _int(value: Any, _type: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value)
    raise TypeError(f"expected an integer, got {type(value).__name__} {value!r:.40}")


def _bool(value: Any, _type: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise TypeError(f"expected true or false, got {type(value).__name__} {value!r:.40}")


def _optional_int(value: Any, _type: Any) -> int | None:
    if value is None or value == "":
        return None
    return _int(value, int)


def _optional_str(value: Any, _type: Any) -> str | None:
    if value is None or value == "":
        return None
    return _str(value, str)


def _optional_time(value: Any, _type: Any) -> dt.datetime | None:
    if value is None or value == "":
        return None
    text = _str(value, str)
    try:
        return dt.datetime.strptime(text.strip(), _TIME_FORMAT).replace(tzinfo=CHINA_TIME)
    except ValueError:
        raise ValueError(f"expected a time as yyyy-MM-dd HH:mm:ss, got {text!r:.40}") from None


def _is_list(type_: Any) -> bool:
    return getattr(type_, "__origin__", None) is list


def _is_dict(type_: Any) -> bool:
    return getattr(type_, "__origin__", None) is dict


def _strict_dict(value: Any, type_: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"expected an object, got {type(value).__name__} {value!r:.40}")
    return dict(value)


_WIRE_NAMES: dict[str, str] = {}
"""Attribute names to the provider's names, so that errors show the names in the answer."""


def _renamed(**names: str) -> dict[str, Any]:
    _WIRE_NAMES.update(names)
    return {attribute: override(rename=wire) for attribute, wire in names.items()}


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=False)

    def strict_list(value: Any, type_: Any) -> list[Any]:
        # cattrs would happily iterate a string into a list of characters.
        if not isinstance(value, list):
            raise TypeError(f"expected a list, got {type(value).__name__} {value!r:.40}")
        (item_type,) = type_.__args__
        items: list[Any] = []
        errors: list[Exception] = []
        for index, item in enumerate(value):
            try:
                items.append(conv.structure(item, item_type))
            except Exception as exc:  # collected with its index, like cattrs does
                note = IterableValidationNote(f"Structuring item @ index {index}", index, item_type)
                notes = [*getattr(exc, "__notes__", []), note]
                exc.__notes__ = notes  # type: ignore[attr-defined]  # PEP 678, set by hand on 3.10
                errors.append(exc)
        if errors:
            raise IterableValidationError(f"While structuring {type_!r}", errors, type_)
        return items

    conv.register_structure_hook_func(_is_list, strict_list)
    conv.register_structure_hook_func(_is_dict, _strict_dict)  # only dict[str, Any] is used
    conv.register_structure_hook(str, _str)
    conv.register_structure_hook(int, _int)
    conv.register_structure_hook(bool, _bool)
    conv.register_structure_hook_func(lambda t: t == (int | None), _optional_int)
    conv.register_structure_hook_func(lambda t: t == (str | None), _optional_str)
    conv.register_structure_hook_func(lambda t: t == (dt.datetime | None), _optional_time)
    conv.register_structure_hook(
        Envelope,
        make_dict_structure_fn(Envelope, conv, **_renamed(status_code="statusCode")),
    )
    conv.register_structure_hook(FailedItem, make_dict_structure_fn(FailedItem, conv))
    conv.register_structure_hook(
        SendInfo,
        make_dict_structure_fn(
            SendInfo,
            conv,
            **_renamed(sms_ids="smsIds", success_count="successCount", failed_count="failedCount"),
        ),
    )
    conv.register_structure_hook(TimestampInfo, make_dict_structure_fn(TimestampInfo, conv))
    conv.register_structure_hook(
        ContactListTask,
        make_dict_structure_fn(
            ContactListTask,
            conv,
            **_renamed(
                task_id="taskId",
                task_name="taskName",
                template_id="templateId",
                status_text="status",
                contact_list_name="contactListName",
                label_id="labelId",
                sender_name="senderName",
                member_count="memberCount",
                create_time="createTime",
                end_time="endTime",
            ),
        ),
    )
    conv.register_structure_hook(
        TaskInfo, make_dict_structure_fn(TaskInfo, conv, **_renamed(sms_task="smsTask"))
    )
    return conv


converter = _make_converter()


_SEGMENT = re.compile(r"\.([A-Za-z_]\w*)")


def _describe(exc: BaseException, type_: type | None) -> str:
    if isinstance(exc, KeyError):
        return "required field missing"
    if isinstance(exc, (TypeError, ValueError)) and str(exc).startswith("expected"):
        return str(exc)
    return format_exception(exc, type_)


def structure(data: Any, cls: type[T], response: ApiResponse, *, path: str = "$") -> T:
    """``data`` as ``cls``; any mismatch becomes a parse error naming the provider's field."""
    try:
        return converter.structure(data, cls)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError, AttributeError) as exc:
        if isinstance(exc, cattrs.BaseValidationError):
            problems = cattrs.transform_error(exc, path, _describe)
        else:
            problems = [f"{_describe(exc, None)} @ {path}"]
        detail = "; ".join(
            _SEGMENT.sub(lambda m: "." + _WIRE_NAMES.get(m.group(1), m.group(1)), problem)
            for problem in problems
        )
        raise parse_error(
            response, f"the answer does not have the expected shape ({detail[:300]})"
        ) from exc
