"""paasw gateway pushes: JSON arrays of delivery reports, and of replies (上行).

The pushes have the shapes of the pull answers (``/sms/deliver``, ``/sms/smsUp``), in
camelCase or snake_case; :func:`crowdsms.providers.paasw.parse_delivery_reports` and
:func:`~crowdsms.providers.paasw.parse_replies` read them. The gateway does not sign its
pushes: put the receiver behind a path nobody can guess, or an IP allow-list.

Each kind expects its own acknowledgement (seed 002): deliveries
``{"code": 10000, "msg": "操作成功"}`` (a number), replies ``{"code": "10000", "msg": "请求成功"}``
(a string).

An odd item never costs the others: a descriptive field of an unexpected type is ``None``
in its event (``raw`` keeps it), and an item that is not a report at all (no number, no
code) becomes an :class:`~crowdsms.webhooks.UnknownEvent` with the item as ``raw``, logged
as a warning. Only a push with not one readable item is refused (400).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Final

from crowdsms.errors import excerpt
from crowdsms.providers.paasw._errors import ReportFormatError
from crowdsms.providers.paasw._events import PaaswDeliveryReport, PaaswReply
from crowdsms.providers.paasw._models import DeliveryReport, DeliveryStatus, Reply
from crowdsms.providers.paasw._report_parsing import (
    Unreadable,
    read_delivery_reports,
    read_replies,
    warn_unreadable,
)
from crowdsms.webhooks._body import Body, Headers, decode_json
from crowdsms.webhooks._errors import WebhookFormatError
from crowdsms.webhooks._events import DeliveryOutcome, Event, UnknownEvent
from crowdsms.webhooks._receiver import Acknowledgement, WebhookRoute

__all__ = [
    "PAASW_DELIVERY_ACK",
    "PAASW_REPLY_ACK",
    "PaaswDeliveryWebhook",
    "PaaswReplyWebhook",
    "PaaswWebhook",
    "delivery_events",
    "reply_events",
]

PAASW_DELIVERY_ACK: Final = Acknowledgement.json({"code": 10000, "msg": "操作成功"})
"""What the gateway expects after a push of delivery reports (seed 002)."""

PAASW_REPLY_ACK: Final = Acknowledgement.json({"code": "10000", "msg": "请求成功"})
"""What the gateway expects after a push of replies (seed 002)."""


def _decode(body: Body, noun: str) -> list[Any] | dict[str, Any]:
    data: Any = decode_json(body, provider="paasw")
    if not isinstance(data, (list, dict)):
        raise WebhookFormatError(
            f"expected a JSON array of {noun}, got {type(data).__name__}",
            provider="paasw",
            received=excerpt(bytes(body) if not isinstance(body, str) else body),
            action="This receiver expects the gateway's JSON array; check what posts to it",
        )
    return data


def _format_error(error: ReportFormatError) -> WebhookFormatError:
    return WebhookFormatError(
        error.what,
        provider="paasw",
        received=error.received,
        action="This receiver expects the gateway's JSON array; check what posts to it",
    )


def _outcome(report: DeliveryReport) -> DeliveryOutcome:
    if report.status is DeliveryStatus.DELIVERED:
        return DeliveryOutcome.DELIVERED
    if report.status is DeliveryStatus.UNKNOWN:
        return DeliveryOutcome.UNKNOWN
    if report.status is DeliveryStatus.UNRECOGNIZED and report.success is not False:
        return DeliveryOutcome.DELIVERED if report.success else DeliveryOutcome.UNKNOWN
    return DeliveryOutcome.FAILED


def _unknown(item: Unreadable, kind: str, noun: str, total: int) -> list[Event]:
    """An unreadable object as an ``UnknownEvent`` (logged); anything else only logged."""
    if isinstance(item.raw, Mapping):
        warn_unreadable(item, noun, total=total, fate="handed on as an UnknownEvent")
        return [UnknownEvent(provider="paasw", kind=kind, raw=item.raw)]
    warn_unreadable(item, noun, total=total, fate="left out (it holds no fields)")
    return []


def delivery_events(items: Sequence[DeliveryReport | Unreadable]) -> list[Event]:
    """The events of pushed or pulled delivery reports: a ``PaaswDeliveryReport`` each, and
    an ``UnknownEvent`` for each unreadable object."""
    events: list[Event] = []
    for item in items:
        if isinstance(item, Unreadable):
            events += _unknown(item, "report", "delivery report", len(items))
            continue
        events.append(
            PaaswDeliveryReport(
                provider="paasw",
                kind="report",
                raw=item.raw,
                message_id=item.biz_id,
                phone=item.phone,
                occurred_at=item.report_time or item.send_time,
                outcome=_outcome(item),
                report=item,
            )
        )
    return events


def reply_events(items: Sequence[Reply | Unreadable]) -> list[Event]:
    """The events of pushed or pulled replies: a ``PaaswReply`` each, and an
    ``UnknownEvent`` for each unreadable object."""
    events: list[Event] = []
    for item in items:
        if isinstance(item, Unreadable):
            events += _unknown(item, "reply", "reply", len(items))
            continue
        events.append(
            PaaswReply(
                provider="paasw",
                kind="reply",
                raw=item.raw,
                phone=item.phone,
                content=item.content,
                occurred_at=item.send_time,
                reply=item,
            )
        )
    return events


class _UnsignedReceiver:
    """What both paasw receivers share: an acknowledgement, and no replay memory."""

    provider: ClassVar[str] = "paasw"

    def __init__(self, *, acknowledgement: Acknowledgement) -> None:
        self._acknowledgement = acknowledgement

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    @property
    def acknowledgement(self) -> Acknowledgement:
        """What the gateway expects back once the push is handled."""
        return self._acknowledgement

    def forget(self, headers: Headers, body: Body) -> None:
        """Nothing to forget: unsigned pushes are not remembered."""


class PaaswDeliveryWebhook(_UnsignedReceiver):
    """Receives pushed paasw delivery reports (JSON arrays; unsigned).

    Each report becomes a :class:`~crowdsms.webhooks.PaaswDeliveryReport`. A code outside
    the published list counts as delivered when the report says ``success: true``, unknown
    otherwise (unless ``success`` is ``false``: failed).
    """

    def __init__(self, *, acknowledgement: Acknowledgement = PAASW_DELIVERY_ACK) -> None:
        super().__init__(acknowledgement=acknowledgement)

    def parse(self, headers: Headers, body: Body) -> list[Event]:
        """The pushed reports, one event each; :class:`~crowdsms.webhooks.WebhookFormatError`
        if the body is not a JSON array of reports.

        An item that is not a report (no ``phoneNumber`` or ``code``) becomes an
        :class:`~crowdsms.webhooks.UnknownEvent` and the others are kept; a push of which
        no item is a report is refused.
        """
        data = _decode(body, "delivery reports")
        try:
            items = read_delivery_reports(data)
        except ReportFormatError as exc:
            raise _format_error(exc) from exc
        return delivery_events(items)


class PaaswReplyWebhook(_UnsignedReceiver):
    """Receives pushed paasw replies (上行; JSON arrays; unsigned)."""

    def __init__(self, *, acknowledgement: Acknowledgement = PAASW_REPLY_ACK) -> None:
        super().__init__(acknowledgement=acknowledgement)

    def parse(self, headers: Headers, body: Body) -> list[Event]:
        """The pushed replies, one event each; :class:`~crowdsms.webhooks.WebhookFormatError`
        if the body is not a JSON array of replies.

        An item that is not a reply (no ``phoneNumber`` or ``content``) becomes an
        :class:`~crowdsms.webhooks.UnknownEvent` and the others are kept; a push of which
        no item is a reply is refused.
        """
        data = _decode(body, "replies")
        try:
            items = read_replies(data)
        except ReportFormatError as exc:
            raise _format_error(exc) from exc
        return reply_events(items)


class PaaswWebhook:
    """The paasw gateway's two pushes: :attr:`deliveries` and :attr:`replies`.

    Each is a receiver of its own (``parse``, ``acknowledgement``), mounted by
    :class:`~crowdsms.webhooks.WebhookApp` at its own path.
    """

    provider: ClassVar[str] = "paasw"

    def __init__(
        self,
        *,
        deliveries: PaaswDeliveryWebhook | None = None,
        replies: PaaswReplyWebhook | None = None,
    ) -> None:
        self.deliveries = deliveries if deliveries is not None else PaaswDeliveryWebhook()
        """Receives pushed delivery reports."""
        self.replies = replies if replies is not None else PaaswReplyWebhook()
        """Receives pushed replies."""

    def routes(self) -> tuple[WebhookRoute, ...]:
        """Deliveries at ``/deliver`` and replies at ``/replies``, below ``/paasw``."""
        return (WebhookRoute("/deliver", self.deliveries), WebhookRoute("/replies", self.replies))

    def __repr__(self) -> str:
        return "PaaswWebhook()"

    def parse_deliveries(self, headers: Headers, body: Body) -> list[Event]:
        """``self.deliveries.parse(headers, body)``."""
        return self.deliveries.parse(headers, body)

    def parse_replies(self, headers: Headers, body: Body) -> list[Event]:
        """``self.replies.parse(headers, body)``."""
        return self.replies.parse(headers, body)
