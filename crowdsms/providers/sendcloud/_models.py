"""The values SendCloud's endpoints return."""

from __future__ import annotations

import datetime as dt
import enum

import attrs

from crowdsms.outcomes import OutcomeStatus, RecipientOutcome

__all__ = ["ContactListTask", "SendResult", "ServerTime", "TaskStatus"]


@attrs.frozen(kw_only=True)
class SendResult:
    """The answer to ``sms.send`` or ``sms.sendn``: one outcome per recipient, in order.

    ``status_code`` is 200 (all accepted), 311 (some accepted) or 312 (none accepted);
    ``message`` is the provider's own words. A sent outcome's ``message_id`` is the
    provider's SMS id (it ends in ``$<phone>``); a failed one's ``message`` the provider's
    reason for that recipient. ``send_request_id`` echoes the idempotency key, if one was
    sent.
    """

    status_code: int
    message: str
    outcomes: tuple[RecipientOutcome, ...]
    send_request_id: str | None = None

    @property
    def sent(self) -> tuple[RecipientOutcome, ...]:
        """The outcomes of the recipients the provider accepted."""
        return tuple(o for o in self.outcomes if o.status is OutcomeStatus.SENT)

    @property
    def failed(self) -> tuple[RecipientOutcome, ...]:
        """The outcomes of the recipients the provider refused."""
        return tuple(o for o in self.outcomes if o.status is OutcomeStatus.FAILED)

    @property
    def all_sent(self) -> bool:
        """Whether every recipient was accepted."""
        return all(o.status is OutcomeStatus.SENT for o in self.outcomes)

    @property
    def sms_ids(self) -> tuple[str, ...]:
        """The provider's SMS ids of the accepted recipients that have one, in order."""
        return tuple(o.message_id for o in self.outcomes if o.message_id is not None)


class TaskStatus(str, enum.Enum):
    """The state of a contact-list task (the provider sends it in Chinese)."""

    WAITING = "waiting"
    """等待执行: scheduled, not started yet."""
    RUNNING = "running"
    """执行中: sending now."""
    SUCCEEDED = "succeeded"
    """执行成功: finished."""
    FAILED = "failed"
    """执行失败: the task failed."""

    @classmethod
    def from_provider(cls, text: str) -> TaskStatus | str:
        """The status for the provider's Chinese text, or the text itself if unknown."""
        return _STATUS_TEXT.get(text.strip(), text)


_STATUS_TEXT = {
    "等待执行": TaskStatus.WAITING,
    "执行中": TaskStatus.RUNNING,
    "执行成功": TaskStatus.SUCCEEDED,
    "执行失败": TaskStatus.FAILED,
}


@attrs.frozen(kw_only=True)
class ContactListTask:
    """A contact-list task: a template sent to every member of one or more contact lists.

    ``status_text`` is the provider's Chinese status as received; :attr:`status` the typed
    value (a :class:`TaskStatus`, or the raw text for a status crowdsms does not know).
    Times are aware datetimes in China time (``CHINA_TIME``, UTC+8);
    ``end_time`` is ``None`` until the task ends.
    """

    task_id: int
    task_name: str
    template_id: int
    status_text: str
    contact_list_name: str = ""
    label_id: int | None = None
    sender_name: str | None = None
    member_count: int | None = None
    create_time: dt.datetime | None = None
    end_time: dt.datetime | None = None

    @property
    def status(self) -> TaskStatus | str:
        """The typed status, or the provider's text if it is not one crowdsms knows."""
        return TaskStatus.from_provider(self.status_text)

    @property
    def contact_list_names(self) -> tuple[str, ...]:
        """The contact lists of the task (the provider joins them with ``;``)."""
        return tuple(name for name in self.contact_list_name.split(";") if name)


@attrs.frozen
class ServerTime:
    """The provider's clock, as ``timestamp/get`` reported it."""

    milliseconds: int
    """Milliseconds since the Unix epoch."""

    @property
    def seconds(self) -> float:
        """Seconds since the Unix epoch."""
        return self.milliseconds / 1000.0

    def as_datetime(self) -> dt.datetime:
        """The time as an aware UTC datetime."""
        return dt.datetime.fromtimestamp(self.seconds, tz=dt.timezone.utc)
