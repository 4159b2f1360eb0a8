"""SMSHook events: what each SendCloud push turns into."""

from __future__ import annotations

from typing import Literal

import attrs

from crowdsms.webhooks._events import DeliveryEvent, MessageEvent, ReplyEvent

__all__ = [
    "SendCloudDelivered",
    "SendCloudFailed",
    "SendCloudFailure",
    "SendCloudReply",
    "SendCloudRequest",
]

SendCloudFailure = Literal["worker", "delivery"]
"""Where a SendCloud message failed: ``worker`` (SendCloud did not send it: ``workererror``,
code 4, suppressed) or ``delivery`` (the carrier could not deliver it: ``delivererror``,
code 5)."""


@attrs.frozen(kw_only=True)
class SendCloudRequest(MessageEvent):
    """SendCloud ``request`` (code 1): the send request was accepted for this message."""

    sms_user: str | None = None
    template_id: str | None = None
    message: str | None = None


@attrs.frozen(kw_only=True)
class SendCloudDelivered(DeliveryEvent):
    """SendCloud ``deliver`` (code 2; 20 in the international edition): delivered."""

    sms_user: str | None = None
    template_id: str | None = None
    message: str | None = None


@attrs.frozen(kw_only=True)
class SendCloudFailed(DeliveryEvent):
    """SendCloud ``workererror`` or ``delivererror`` (codes 4 and 5): not delivered.

    ``failure`` says where it failed (see :data:`SendCloudFailure`; ``None`` for a kind
    that does not say); ``message`` is SendCloud's reason, and ``code`` the carrier's code
    where the push carries one.
    """

    sms_user: str | None = None
    template_id: str | None = None
    message: str | None = None
    failure: SendCloudFailure | None = None
    code: str | None = None

    @property
    def carrier_code(self) -> str | None:
        """The push's ``code`` if it has one, else its ``message`` (``UNDELIV``, ...)."""
        return self.code or self.message


@attrs.frozen(kw_only=True)
class SendCloudReply(ReplyEvent):
    """SendCloud ``reply`` (code 6): a recipient's SMS back to the account ``sms_user``."""

    sms_user: str | None = None
