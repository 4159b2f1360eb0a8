"""The typed events a push turns into, for every provider.

Four provider-neutral bases let one handler serve several providers:

- :class:`Event`: every event; ``provider``, ``kind`` (the provider's own name for it, as
  received) and ``raw`` (the pushed fields, for anything the typed fields leave out).
- :class:`MessageEvent`: about one sent message: ``message_id``, ``phone``, ``occurred_at``.
- :class:`DeliveryEvent`: a delivery report; adds ``outcome`` (delivered, failed, unknown).
- :class:`ReplyEvent`: an SMS a recipient sent back (上行): ``phone``, ``content``.

Event kinds crowdsms does not know become :class:`UnknownEvent`, never dropped. ``raw`` is
left out of ``repr`` and of equality.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from crowdsms.providers.paasw import DeliveryReport, DeliveryStatus, Reply

__all__ = [
    "DeliveryEvent",
    "DeliveryOutcome",
    "Event",
    "MessageEvent",
    "PaaswDeliveryReport",
    "PaaswReply",
    "ReplyEvent",
    "SendCloudDelivered",
    "SendCloudFailed",
    "SendCloudRequest",
    "SubmailDelivered",
    "SubmailDropped",
    "SubmailReply",
    "SubmailRequest",
    "SubmailSending",
    "SubmailTemplateAccepted",
    "SubmailTemplateRejected",
    "SubmailUnknownStatus",
    "UnknownEvent",
]


class DeliveryOutcome(enum.Enum):
    """What a delivery report says became of a message."""

    DELIVERED = "delivered"
    """The handset received the message."""
    FAILED = "failed"
    """The message was not delivered (dropped, refused, blocked, ...)."""
    UNKNOWN = "unknown"
    """The carrier did not say whether the message arrived."""


def _raw() -> Any:
    return attrs.field(factory=dict, repr=False, eq=False)


# -- provider-neutral bases ------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Event:
    """One pushed event.

    ``provider`` is ``"submail"``, ``"sendcloud"`` or ``"paasw"``; ``kind`` the provider's
    name for the event as received (``"delivered"``, ``"deliver"``, ``"mo"``, ...; paasw
    pushes have no name: ``"report"`` or ``"reply"``); ``raw`` the pushed fields as received
    (a JSON object, or the form fields; a field sent twice in a form holds a list).
    """

    provider: str
    kind: str
    raw: Mapping[str, Any] = _raw()


@attrs.frozen(kw_only=True)
class MessageEvent(Event):
    """An event about one sent message.

    ``message_id`` is the id the send returned for it (SUBMAIL ``send_id``, SendCloud
    ``smsId``; paasw ``bizId``, a batch id: pair it with ``phone``); ``occurred_at`` an aware
    datetime, when the push says.
    """

    message_id: str | None = None
    phone: str | None = None
    occurred_at: datetime | None = None


@attrs.frozen(kw_only=True)
class DeliveryEvent(MessageEvent):
    """A delivery report: what became of one message (see :class:`DeliveryOutcome`)."""

    outcome: DeliveryOutcome

    @property
    def delivered(self) -> bool:
        """Whether the message reached the handset."""
        return self.outcome is DeliveryOutcome.DELIVERED


@attrs.frozen(kw_only=True)
class ReplyEvent(Event):
    """An SMS a recipient sent back (上行, "MO"): from ``phone``, saying ``content``."""

    phone: str | None = None
    content: str = ""
    occurred_at: datetime | None = None


@attrs.frozen(kw_only=True)
class UnknownEvent(Event):
    """A verified event of a kind crowdsms does not know; everything is in ``raw``."""


# -- SUBMAIL SUBHOOK -------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class SubmailRequest(MessageEvent):
    """SUBMAIL ``request``: the send request was received. ``content`` is the full text."""

    app: str | None = None
    tag: str | None = None
    content: str | None = None


@attrs.frozen(kw_only=True)
class SubmailSending(MessageEvent):
    """SUBMAIL ``sending``: the message is on its way."""

    app: str | None = None
    tag: str | None = None


@attrs.frozen(kw_only=True)
class SubmailDelivered(DeliveryEvent):
    """SUBMAIL ``delivered``; ``operator`` and ``location`` describe the number, if sent."""

    app: str | None = None
    tag: str | None = None
    operator: str | None = None
    location: str | None = None


@attrs.frozen(kw_only=True)
class SubmailDropped(DeliveryEvent):
    """SUBMAIL ``dropped``: not delivered; ``report`` is the carrier's code (``UNDELIV``...)."""

    app: str | None = None
    tag: str | None = None
    report: str | None = None


@attrs.frozen(kw_only=True)
class SubmailUnknownStatus(DeliveryEvent):
    """SUBMAIL ``unknown``: SUBMAIL could not get a delivery report from the carrier."""

    app: str | None = None
    tag: str | None = None
    report: str | None = None


@attrs.frozen(kw_only=True)
class SubmailReply(ReplyEvent):
    """SUBMAIL ``mo``: a recipient's reply to the SMS app ``app``."""

    app: str | None = None


@attrs.frozen(kw_only=True)
class SubmailTemplateAccepted(Event):
    """SUBMAIL ``template_accept``: an SMS template passed review."""

    app: str | None = None
    template_id: str | None = None
    occurred_at: datetime | None = None


@attrs.frozen(kw_only=True)
class SubmailTemplateRejected(Event):
    """SUBMAIL ``template_reject``: an SMS template failed review, for ``reason``."""

    app: str | None = None
    template_id: str | None = None
    reason: str | None = None
    occurred_at: datetime | None = None


# -- SendCloud SMSHook -----------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class SendCloudRequest(MessageEvent):
    """SendCloud ``request``: the send request was accepted for this message."""

    sms_user: str | None = None
    template_id: str | None = None
    message: str | None = None


@attrs.frozen(kw_only=True)
class SendCloudDelivered(DeliveryEvent):
    """SendCloud ``deliver``: the message was delivered."""

    sms_user: str | None = None
    template_id: str | None = None
    message: str | None = None


@attrs.frozen(kw_only=True)
class SendCloudFailed(DeliveryEvent):
    """SendCloud ``workererror`` (or a suppressed/failed code): not delivered, for ``message``."""

    sms_user: str | None = None
    template_id: str | None = None
    message: str | None = None


# -- paasw -----------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class PaaswDeliveryReport(DeliveryEvent):
    """A pushed paasw delivery report; ``report`` is the full parsed report.

    ``message_id`` is the batch's ``bizId`` (one per send call): correlate with ``phone``.
    """

    report: DeliveryReport

    @property
    def code(self) -> str:
        """The gateway's delivery code (``"10000"`` delivered, ``"4"`` failed, ...)."""
        return self.report.code

    @property
    def status(self) -> DeliveryStatus:
        """The meaning of :attr:`code`."""
        return self.report.status


@attrs.frozen(kw_only=True)
class PaaswReply(ReplyEvent):
    """A pushed paasw reply (上行); ``reply`` is the full parsed reply."""

    reply: Reply

    @property
    def sign(self) -> str | None:
        """The SMS signature the reply answers."""
        return self.reply.sign

    @property
    def sequence_id(self) -> str | None:
        """The gateway's id of the reply."""
        return self.reply.sequence_id
