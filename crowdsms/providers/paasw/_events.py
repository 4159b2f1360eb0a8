"""paasw push events: delivery reports and replies."""

from __future__ import annotations

import attrs

from crowdsms.providers.paasw._models import DeliveryReport, DeliveryStatus, Reply
from crowdsms.webhooks._events import DeliveryEvent, ReplyEvent

__all__ = [
    "PaaswDeliveryReport",
    "PaaswReply",
]


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

    @property
    def carrier_code(self) -> str | None:
        """The gateway's delivery :attr:`code` of an undelivered message; ``None`` if delivered."""
        return None if self.delivered else self.report.code


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
