"""SMSHook events: what each SendCloud push turns into."""

from __future__ import annotations

import attrs

from crowdsms.webhooks._events import DeliveryEvent, MessageEvent

__all__ = [
    "SendCloudDelivered",
    "SendCloudFailed",
    "SendCloudRequest",
]


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
