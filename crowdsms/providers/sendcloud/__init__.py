"""SendCloud SMS: template sends, per-recipient sends and contact-list tasks.

Requests are signed with ``smsUser``, a millisecond ``timestamp`` and a ``signature``
(md5 by default, sha256 as the current SDKs use). ``send`` takes one template and one set of
variables for up to 2000 numbers; ``sendn`` gives each recipient its own variables (the
later documents call the endpoint ``sendx``: the ``sendn_endpoint`` setting). A
``send_request_id`` makes a send idempotent, so ambiguous failures may be retried. Use
:class:`AsyncSendCloud` (or its blocking twin :class:`SendCloud`)::

    from crowdsms import Recipient
    from crowdsms.providers.sendcloud import AsyncSendCloud

    async with AsyncSendCloud(sms_user="user", sms_key="key") as client:
        result = await client.sms.sendn(
            template_id=1,
            recipients=[Recipient("13800138000", {"%name%": "Lucy"})],
            send_request_id="order-42",
        )
        for outcome in result.outcomes:
            print(outcome.phone, outcome.status)
"""

from __future__ import annotations

from crowdsms._time import CHINA_TIME
from crowdsms.providers.sendcloud._blocking import (
    SendCloud,
    SendCloudContactTasks,
    SendCloudSms,
    SendCloudTimestamp,
)
from crowdsms.providers.sendcloud._chunks import SendCloudChunkSender
from crowdsms.providers.sendcloud._client import (
    DEFAULT_BASE_URL,
    DEFAULT_MAX_SENDN_RECIPIENTS,
    DEFAULT_MAX_VAR_LENGTH,
    DEFAULT_SENDN_ENDPOINT,
    DEFAULT_SIGN_TYPE,
    AsyncSendCloud,
)
from crowdsms.providers.sendcloud._codes import (
    ALL_FAILED,
    CLOCK_REJECTED,
    CODES,
    PARTIAL_SUCCESS,
    SUCCESS,
    error_for_code,
    explain,
)
from crowdsms.providers.sendcloud._contact_tasks import ContactTaskEndpoints
from crowdsms.providers.sendcloud._events import (
    SendCloudDelivered,
    SendCloudFailed,
    SendCloudFailure,
    SendCloudReply,
    SendCloudRequest,
)
from crowdsms.providers.sendcloud._models import (
    ContactListTask,
    SendResult,
    ServerTime,
    TaskStatus,
)
from crowdsms.providers.sendcloud._signer import SendCloudSigner
from crowdsms.providers.sendcloud._signing import (
    SIGN_TYPES,
    SignType,
    compute_signature,
    encode_json,
    string_to_sign,
)
from crowdsms.providers.sendcloud._sms import SmsEndpoints
from crowdsms.providers.sendcloud._sms_requests import SENDN_ENDPOINTS, SendnEndpoint
from crowdsms.providers.sendcloud._timestamp import TimestampEndpoints
from crowdsms.providers.sendcloud._validation import MAX_SEND_PHONES, MAX_SEND_REQUEST_ID_LENGTH
from crowdsms.providers.sendcloud._webhooks import SENDCLOUD_EVENT_KINDS, SendCloudWebhook

__all__ = [
    "ALL_FAILED",
    "CHINA_TIME",
    "CLOCK_REJECTED",
    "CODES",
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_SENDN_RECIPIENTS",
    "DEFAULT_MAX_VAR_LENGTH",
    "DEFAULT_SENDN_ENDPOINT",
    "DEFAULT_SIGN_TYPE",
    "MAX_SEND_PHONES",
    "MAX_SEND_REQUEST_ID_LENGTH",
    "PARTIAL_SUCCESS",
    "SENDCLOUD_EVENT_KINDS",
    "SENDN_ENDPOINTS",
    "SIGN_TYPES",
    "SUCCESS",
    "AsyncSendCloud",
    "ContactListTask",
    "ContactTaskEndpoints",
    "SendCloud",
    "SendCloudChunkSender",
    "SendCloudContactTasks",
    "SendCloudDelivered",
    "SendCloudFailed",
    "SendCloudFailure",
    "SendCloudReply",
    "SendCloudRequest",
    "SendCloudSigner",
    "SendCloudSms",
    "SendCloudTimestamp",
    "SendCloudWebhook",
    "SendResult",
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
