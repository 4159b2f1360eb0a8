"""The paasw SMS gateway (``openapi.gateway.paasw.com``).

Token authentication (no signatures): :class:`AsyncPaasw` exchanges the app id and secret
for an access token, caches it, refreshes it before it expires and once when the gateway
refuses it, with one fetch in flight at a time. Endpoints: ``client.sms.send``,
``client.sms.send_template``, ``client.sms.send_chunks`` (for the batch sender),
``client.reports.pull_deliveries``, ``client.reports.pull_replies`` and
``client.account.balance``. :func:`parse_delivery_reports` and :func:`parse_replies` read
the pushed reports too.
"""

from __future__ import annotations

from crowdsms.providers.paasw._account import AccountEndpoints
from crowdsms.providers.paasw._blocking import Paasw
from crowdsms.providers.paasw._chunks import PaaswChunkSender
from crowdsms.providers.paasw._client import DEFAULT_BASE_URL, AsyncPaasw
from crowdsms.providers.paasw._codes import DEFAULT_TOKEN_REJECTED_CODES, REQUEST_CODES
from crowdsms.providers.paasw._errors import ReportFormatError, ReportsParseError, TokenFetchError
from crowdsms.providers.paasw._events import PaaswDeliveryReport, PaaswReply
from crowdsms.providers.paasw._limits import (
    MAX_CHUNK_SIZE,
    MAX_CONTENT_LENGTH,
    MAX_PARAM_JSON_LENGTH,
    MAX_PHONE_FIELD_LENGTH,
    MAX_PHONES,
    MAX_SIGN_LENGTH,
    MAX_TEMPLATE_ID_LENGTH,
)
from crowdsms.providers.paasw._models import (
    Balance,
    DeliveryReport,
    DeliveryStatus,
    Reply,
    SendResult,
    SmsKind,
)
from crowdsms.providers.paasw._report_parsing import parse_delivery_reports, parse_replies
from crowdsms.providers.paasw._reports import ReportEndpoints
from crowdsms.providers.paasw._sms import SmsEndpoints
from crowdsms.providers.paasw._token import MAX_REFRESH_MARGIN, refresh_margin
from crowdsms.providers.paasw._webhooks import (
    PAASW_DELIVERY_ACK,
    PAASW_REPLY_ACK,
    PaaswDeliveryWebhook,
    PaaswReplyWebhook,
    PaaswWebhook,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_TOKEN_REJECTED_CODES",
    "MAX_CHUNK_SIZE",
    "MAX_CONTENT_LENGTH",
    "MAX_PARAM_JSON_LENGTH",
    "MAX_PHONES",
    "MAX_PHONE_FIELD_LENGTH",
    "MAX_REFRESH_MARGIN",
    "MAX_SIGN_LENGTH",
    "MAX_TEMPLATE_ID_LENGTH",
    "PAASW_DELIVERY_ACK",
    "PAASW_REPLY_ACK",
    "REQUEST_CODES",
    "AccountEndpoints",
    "AsyncPaasw",
    "Balance",
    "DeliveryReport",
    "DeliveryStatus",
    "Paasw",
    "PaaswChunkSender",
    "PaaswDeliveryReport",
    "PaaswDeliveryWebhook",
    "PaaswReply",
    "PaaswReplyWebhook",
    "PaaswWebhook",
    "Reply",
    "ReportEndpoints",
    "ReportFormatError",
    "ReportsParseError",
    "SendResult",
    "SmsEndpoints",
    "SmsKind",
    "TokenFetchError",
    "parse_delivery_reports",
    "parse_replies",
    "refresh_margin",
]
