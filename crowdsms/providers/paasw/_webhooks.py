"""paasw gateway pushes: JSON arrays of delivery reports, and of replies (上行).

The pushes have the shapes of the pull answers (``/sms/deliver``, ``/sms/smsUp``), in
camelCase or snake_case; :func:`crowdsms.providers.paasw.parse_delivery_reports` and
:func:`~crowdsms.providers.paasw.parse_replies` read them. The gateway does not sign its
pushes: put the receiver behind a path nobody can guess, or an IP allow-list.

Each kind expects its own acknowledgement (seed 002): deliveries
``{"code": 10000, "msg": "操作成功"}`` (a number), replies ``{"code": "10000", "msg": "请求成功"}``
(a string).
"""

from __future__ import annotations

from typing import Any, ClassVar, Final

from crowdsms.errors import excerpt
from crowdsms.providers.paasw._errors import ReportFormatError
from crowdsms.providers.paasw._events import PaaswDeliveryReport, PaaswReply
from crowdsms.providers.paasw._models import DeliveryReport, DeliveryStatus
from crowdsms.providers.paasw._report_parsing import parse_delivery_reports, parse_replies
from crowdsms.webhooks._body import Body, Headers, decode_json
from crowdsms.webhooks._errors import WebhookFormatError
from crowdsms.webhooks._events import DeliveryOutcome, Event
from crowdsms.webhooks._receiver import Acknowledgement, WebhookRoute

__all__ = [
    "PAASW_DELIVERY_ACK",
    "PAASW_REPLY_ACK",
    "PaaswDeliveryWebhook",
    "PaaswReplyWebhook",
    "PaaswWebhook",
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
        if the body is not a JSON array of reports."""
        data = _decode(body, "delivery reports")
        try:
            reports = parse_delivery_reports(data)
        except ReportFormatError as exc:
            raise _format_error(exc) from exc
        return [
            PaaswDeliveryReport(
                provider=self.provider,
                kind="report",
                raw=report.raw,
                message_id=report.biz_id,
                phone=report.phone,
                occurred_at=report.report_time or report.send_time,
                outcome=_outcome(report),
                report=report,
            )
            for report in reports
        ]


class PaaswReplyWebhook(_UnsignedReceiver):
    """Receives pushed paasw replies (上行; JSON arrays; unsigned)."""

    def __init__(self, *, acknowledgement: Acknowledgement = PAASW_REPLY_ACK) -> None:
        super().__init__(acknowledgement=acknowledgement)

    def parse(self, headers: Headers, body: Body) -> list[Event]:
        """The pushed replies, one event each; :class:`~crowdsms.webhooks.WebhookFormatError`
        if the body is not a JSON array of replies."""
        data = _decode(body, "replies")
        try:
            replies = parse_replies(data)
        except ReportFormatError as exc:
            raise _format_error(exc) from exc
        return [
            PaaswReply(
                provider=self.provider,
                kind="reply",
                raw=reply.raw,
                phone=reply.phone,
                content=reply.content,
                occurred_at=reply.send_time,
                reply=reply,
            )
            for reply in replies
        ]


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
