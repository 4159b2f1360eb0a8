"""SUBMAIL (https://www.mysubmail.com): SMS to mainland China numbers.

``AsyncSubmail`` is the client; ``client.sms.send``, ``client.sms.multisend`` and
``client.sms.multisend_chunks`` (for the batch sender) send messages, and
``client.service.timestamp`` reads SUBMAIL's clock. See PROVIDERS.md for the provider's
rules this package follows.
"""

from __future__ import annotations

from crowdsms.providers.submail._blocking import Submail, SubmailService, SubmailSms
from crowdsms.providers.submail._client import DEFAULT_BASE_URL, AsyncSubmail, SubmailBodyEncoding
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
from crowdsms.providers.submail._formats import ResponseFormat
from crowdsms.providers.submail._models import MultisendItem, MultisendResult, SendResult
from crowdsms.providers.submail._service import AsyncSubmailService
from crowdsms.providers.submail._signing import SignType
from crowdsms.providers.submail._sms import AsyncSubmailSms, MultisendChunkSender
from crowdsms.providers.submail._webhooks import SUBMAIL_EVENT_KINDS, SubmailWebhook
from crowdsms.providers.submail.codes import SUBMAIL_CODES

__all__ = [
    "DEFAULT_BASE_URL",
    "SUBMAIL_CODES",
    "SUBMAIL_EVENT_KINDS",
    "AsyncSubmail",
    "AsyncSubmailService",
    "AsyncSubmailSms",
    "MultisendChunkSender",
    "MultisendItem",
    "MultisendResult",
    "ResponseFormat",
    "SendResult",
    "SignType",
    "Submail",
    "SubmailBodyEncoding",
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
]
