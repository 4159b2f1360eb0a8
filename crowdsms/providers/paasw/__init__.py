"""The paasw SMS gateway (``openapi.gateway.paasw.com``).

Token authentication (no signatures): :class:`AsyncPaasw` exchanges the app id and secret
for an access token, caches it, refreshes it before it expires and once when the gateway
refuses it, with one fetch in flight at a time. Endpoints: ``client.sms.send``,
``client.sms.send_template``, ``client.sms.send_chunks`` (for the batch sender),
``client.reports.pull_deliveries``, ``client.reports.pull_replies`` and
``client.account.balance``. :func:`parse_delivery_reports` and :func:`parse_replies` read
the pushed reports too; :class:`PaaswWebhook` receives them. :class:`Paasw` is the blocking
twin, for code that is not async.

Example::

    from crowdsms.providers.paasw import AsyncPaasw, SmsKind

    async with AsyncPaasw(app_id="0189457543", secret="...") as client:
        result = await client.sms.send(
            phones=["13800138000"],
            sign="圆通快递",
            content="【圆通快递】您的快件已签收",
            kind=SmsKind.NOTICE,
        )
        print(result.biz_id)  # the delivery reports carry it
        for report in await client.reports.pull_deliveries():
            print(report.phone, report.status.name)
"""

from __future__ import annotations

from crowdsms.providers.paasw._account import AccountEndpoints
from crowdsms.providers.paasw._blocking import Paasw, PaaswAccount, PaaswReports, PaaswSms
from crowdsms.providers.paasw._chunks import PaaswChunkSender
from crowdsms.providers.paasw._client import DEFAULT_BASE_URL, AsyncPaasw
from crowdsms.providers.paasw._codes import (
    CODES,
    DEFAULT_TOKEN_REJECTED_CODES,
    SUCCESS_CODE,
    explain,
)
from crowdsms.providers.paasw._errors import ReportFormatError, ReportsParseError, TokenFetchError
from crowdsms.providers.paasw._events import PaaswDeliveryReport, PaaswReply
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
from crowdsms.providers.paasw._validation import (
    MAX_CHUNK_SIZE,
    MAX_CONTENT_LENGTH,
    MAX_PARAM_JSON_LENGTH,
    MAX_PHONE_FIELD_LENGTH,
    MAX_PHONES,
    MAX_SIGN_LENGTH,
    MAX_TEMPLATE_ID_LENGTH,
)
from crowdsms.providers.paasw._webhooks import (
    PAASW_DELIVERY_ACK,
    PAASW_REPLY_ACK,
    PaaswDeliveryWebhook,
    PaaswReplyWebhook,
    PaaswWebhook,
)

__all__ = [
    "CODES",
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
    "SUCCESS_CODE",
    "AccountEndpoints",
    "AsyncPaasw",
    "Balance",
    "DeliveryReport",
    "DeliveryStatus",
    "Paasw",
    "PaaswAccount",
    "PaaswChunkSender",
    "PaaswDeliveryReport",
    "PaaswDeliveryWebhook",
    "PaaswReply",
    "PaaswReplyWebhook",
    "PaaswReports",
    "PaaswSms",
    "PaaswWebhook",
    "Reply",
    "ReportEndpoints",
    "ReportFormatError",
    "ReportsParseError",
    "SendResult",
    "SmsEndpoints",
    "SmsKind",
    "TokenFetchError",
    "explain",
    "parse_delivery_reports",
    "parse_replies",
    "refresh_margin",
]
