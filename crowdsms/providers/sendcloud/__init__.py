"""SendCloud SMS: template sends, per-recipient sends and contact-list tasks.

Facts and settled ambiguities are in PROVIDERS.md ("SendCloud SMS"). Use
:class:`AsyncSendCloud`::

    async with AsyncSendCloud(sms_user="user", sms_key="key") as client:
        result = await client.sms.sendn(
            template_id=1,
            recipients=[Recipient("13800138000", {"%name%": "Lucy"})],
            send_request_id="order-42",
        )
"""

from __future__ import annotations

from crowdsms._time import CHINA_TIME
from crowdsms.providers.sendcloud._blocking import SendCloud
from crowdsms.providers.sendcloud._chunks import SendnChunkSender
from crowdsms.providers.sendcloud._client import DEFAULT_BASE_URL, AsyncSendCloud
from crowdsms.providers.sendcloud._codes import CODES, error_for_code, explain
from crowdsms.providers.sendcloud._contact_tasks import ContactTaskEndpoints
from crowdsms.providers.sendcloud._events import (
    SendCloudDelivered,
    SendCloudFailed,
    SendCloudRequest,
)
from crowdsms.providers.sendcloud._models import (
    ContactListTask,
    SendResult,
    ServerTime,
    TaskStatus,
)
from crowdsms.providers.sendcloud._settings import SendnEndpoint
from crowdsms.providers.sendcloud._signer import SendCloudSigner
from crowdsms.providers.sendcloud._signing import (
    SIGN_TYPES,
    SignType,
    compute_signature,
    encode_json,
    string_to_sign,
)
from crowdsms.providers.sendcloud._sms import SmsEndpoints
from crowdsms.providers.sendcloud._timestamp import TimestampEndpoints
from crowdsms.providers.sendcloud._validation import MAX_SEND_PHONES, MAX_SEND_REQUEST_ID_LENGTH
from crowdsms.providers.sendcloud._webhooks import SENDCLOUD_EVENT_KINDS, SendCloudWebhook

__all__ = [
    "CHINA_TIME",
    "CODES",
    "DEFAULT_BASE_URL",
    "MAX_SEND_PHONES",
    "MAX_SEND_REQUEST_ID_LENGTH",
    "SENDCLOUD_EVENT_KINDS",
    "SIGN_TYPES",
    "AsyncSendCloud",
    "ContactListTask",
    "ContactTaskEndpoints",
    "SendCloud",
    "SendCloudDelivered",
    "SendCloudFailed",
    "SendCloudRequest",
    "SendCloudSigner",
    "SendCloudWebhook",
    "SendResult",
    "SendnChunkSender",
    "SendnEndpoint",
    "ServerTime",
    "SignType",
    "SmsEndpoints",
    "TaskStatus",
    "TimestampEndpoints",
    "compute_signature",
    "encode_json",
    "error_for_code",
    "explain",
    "string_to_sign",
]
