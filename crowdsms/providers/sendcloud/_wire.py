"""The shapes of SendCloud's answers as they come over the wire (private)."""

from __future__ import annotations

from typing import Any

import attrs

from crowdsms.providers.sendcloud._models import ContactListTask

__all__ = ["Envelope", "FailedItem", "SendInfo", "TaskInfo", "TimestampInfo"]


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
