"""SUBMAIL (https://www.mysubmail.com): SMS to mainland China numbers.

:class:`AsyncSubmail` is the client and :class:`Submail` its blocking twin.
``client.sms.send`` sends one message, ``client.sms.multisend`` one content to up to 50
recipients with their own ``@var(name)`` values, ``client.sms.multisend_chunks`` gives the
batch sender a :class:`SubmailChunkSender`, and ``client.service.timestamp`` reads SUBMAIL's
clock. Requests are signed with the app key (``sign_type`` md5, sha1 or normal, always
``sign_version=2``), sent as JSON and answered in JSON.

Example::

    from crowdsms import Recipient
    from crowdsms.providers.submail import AsyncSubmail

    async with AsyncSubmail(app_id="12345", app_key="your-app-key") as client:
        result = await client.sms.multisend(
            content="【SUBMAIL】您好，@var(name)",
            recipients=[Recipient("13800138000", {"name": "kevin"})],
        )
        for outcome in result.outcomes:
            print(outcome.phone, outcome.status.value, outcome.message_id)
"""

from __future__ import annotations

from crowdsms.providers.submail._blocking import Submail, SubmailService, SubmailSms
from crowdsms.providers.submail._chunks import SubmailChunkSender
from crowdsms.providers.submail._client import (
    DEFAULT_BASE_URL,
    DEFAULT_MAX_MULTISEND_RECIPIENTS,
    DEFAULT_SIGN_TYPE,
    AsyncSubmail,
)
from crowdsms.providers.submail._codes import CLOCK_CODES, CODES, explain
from crowdsms.providers.submail._events import (
    SubmailDelivered,
    SubmailDropped,
    SubmailReply,
    SubmailRequest,
    SubmailSending,
    SubmailTemplateAccepted,
    SubmailTemplateRejected,
    SubmailUnknownStatus,
)
from crowdsms.providers.submail._models import MultisendItem, MultisendResult, SendResult
from crowdsms.providers.submail._service import ServiceEndpoints
from crowdsms.providers.submail._signing import (
    SIGN_TYPES,
    SIGN_VERSION,
    SignType,
    compute_signature,
)
from crowdsms.providers.submail._sms import SmsEndpoints
from crowdsms.providers.submail._validation import MAX_CONTENT_CHARS, MAX_TAG_CHARS
from crowdsms.providers.submail._webhooks import SUBMAIL_EVENT_KINDS, SubmailWebhook

__all__ = [
    "CLOCK_CODES",
    "CODES",
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_MULTISEND_RECIPIENTS",
    "DEFAULT_SIGN_TYPE",
    "MAX_CONTENT_CHARS",
    "MAX_TAG_CHARS",
    "SIGN_TYPES",
    "SIGN_VERSION",
    "SUBMAIL_EVENT_KINDS",
    "AsyncSubmail",
    "MultisendItem",
    "MultisendResult",
    "SendResult",
    "ServiceEndpoints",
    "SignType",
    "SmsEndpoints",
    "Submail",
    "SubmailChunkSender",
    "SubmailDelivered",
    "SubmailDropped",
    "SubmailReply",
    "SubmailRequest",
    "SubmailSending",
    "SubmailService",
    "SubmailSms",
    "SubmailTemplateAccepted",
    "SubmailTemplateRejected",
    "SubmailUnknownStatus",
    "SubmailWebhook",
    "compute_signature",
    "explain",
]
