"""SUBHOOK events: what each SUBMAIL push turns into."""

from __future__ import annotations

from datetime import datetime

import attrs

from crowdsms.webhooks._events import DeliveryEvent, Event, MessageEvent, ReplyEvent

__all__ = [
    "SubmailDelivered",
    "SubmailDropped",
    "SubmailReply",
    "SubmailRequest",
    "SubmailSending",
    "SubmailTemplateAccepted",
    "SubmailTemplateRejected",
    "SubmailUnknownStatus",
]


@attrs.frozen(kw_only=True)
class SubmailRequest(MessageEvent):
    """SUBMAIL ``request``: the send request was received. ``content`` is the full text."""

    app: str | None = None
    tag: str | None = None
    content: str | None = None

    @property
    def reference(self) -> str | None:
        """The request's ``tag``: the matching reference SUBHOOK echoes."""
        return self.tag


@attrs.frozen(kw_only=True)
class SubmailSending(MessageEvent):
    """SUBMAIL ``sending``: the message is on its way."""

    app: str | None = None
    tag: str | None = None

    @property
    def reference(self) -> str | None:
        """The request's ``tag``: the matching reference SUBHOOK echoes."""
        return self.tag


@attrs.frozen(kw_only=True)
class SubmailDelivered(DeliveryEvent):
    """SUBMAIL ``delivered``; ``operator`` and ``location`` describe the number, if sent."""

    app: str | None = None
    tag: str | None = None
    operator: str | None = None
    location: str | None = None

    @property
    def reference(self) -> str | None:
        """The request's ``tag``: the matching reference SUBHOOK echoes."""
        return self.tag


@attrs.frozen(kw_only=True)
class SubmailDropped(DeliveryEvent):
    """SUBMAIL ``dropped``: not delivered; ``report`` is the carrier's code (``UNDELIV``...)."""

    app: str | None = None
    tag: str | None = None
    report: str | None = None

    @property
    def reference(self) -> str | None:
        """The request's ``tag``: the matching reference SUBHOOK echoes."""
        return self.tag

    @property
    def carrier_code(self) -> str | None:
        """The carrier's ``report`` code (``UNDELIV``, ``BLACK``, ...)."""
        return self.report


@attrs.frozen(kw_only=True)
class SubmailUnknownStatus(DeliveryEvent):
    """SUBMAIL ``unknown``: SUBMAIL could not get a delivery report from the carrier."""

    app: str | None = None
    tag: str | None = None
    report: str | None = None

    @property
    def reference(self) -> str | None:
        """The request's ``tag``: the matching reference SUBHOOK echoes."""
        return self.tag

    @property
    def carrier_code(self) -> str | None:
        """The carrier's ``report`` code (``UNDELIV``, ``BLACK``, ...)."""
        return self.report


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
