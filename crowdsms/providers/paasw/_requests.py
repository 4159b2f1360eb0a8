"""paasw requests: building them, and making them with the credentials masked on the way back.

The endpoint groups and the batch sender's chunk sender share these. Sends go as form
bodies, reads as query strings; the signer adds the access token to each attempt. Sends
are not idempotent (the gateway has no idempotency key), and neither are the pulls of the
report queues (pulling takes the reports off the queue).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

import attrs

from crowdsms._transport import ApiRequest, ApiResponse, BodyEncoding, Transport
from crowdsms.errors import CrowdSMSError
from crowdsms.providers.paasw._models import SmsKind
from crowdsms.providers.paasw._signer import PaaswSigner

__all__ = [
    "BALANCE_PATH",
    "DELIVER_PATH",
    "REPLIES_PATH",
    "SEND_PATH",
    "SEND_TEMPLATE_PATH",
    "PaaswRequests",
    "balance_request",
    "pull_request",
    "send_request",
    "send_template_request",
]

SEND_PATH: Final = "/sms/send"
SEND_TEMPLATE_PATH: Final = "/sms/sendTemplate"
BALANCE_PATH: Final = "/sms/balance"
DELIVER_PATH: Final = "/sms/deliver"
REPLIES_PATH: Final = "/sms/smsUp"


@attrs.frozen(kw_only=True)
class PaaswRequests:
    """What one client's endpoint groups and chunk senders share: its transport and settings."""

    transport: Transport
    signer: PaaswSigner
    """Masks the secret and the tokens in answers and errors."""
    max_connections: int | None
    """The client's :attr:`~crowdsms._client.AsyncClientBase.max_connections`."""

    def __repr__(self) -> str:
        return f"<PaaswRequests {self.transport.base_url}>"

    async def call(self, request: ApiRequest) -> ApiResponse:
        """Make ``request``; the answer and any error come back with credentials masked."""
        try:
            response = await self.transport.request(request)
        except CrowdSMSError as error:
            self.signer.redact_error(error)
            raise
        return self.signer.redact(response)


def send_request(
    numbers: Sequence[str], *, sign: str, content: str, kind: SmsKind | None
) -> ApiRequest:
    """``POST /sms/send`` of checked arguments (``numbers`` normalized)."""
    fields = {"phoneNumbers": ",".join(numbers), "sign": sign, "content": content}
    if kind is not None:
        fields["kind"] = kind.value
    return ApiRequest(
        method="POST",
        path=SEND_PATH,
        operation="paasw.sms.send",
        fields=fields,
        encoding=BodyEncoding.FORM,
    )


def send_template_request(
    numbers: Sequence[str],
    *,
    template_id: str,
    param_json: str,
    sign: str,
    content: str,
    kind: SmsKind | None,
) -> ApiRequest:
    """``POST /sms/sendTemplate`` of checked arguments (``param_json`` already encoded)."""
    fields = {
        "phoneNumbers": ",".join(numbers),
        "templateId": template_id,
        "paramJson": param_json,
        "sign": sign,
        "content": content,
    }
    if kind is not None:
        fields["kind"] = kind.value
    return ApiRequest(
        method="POST",
        path=SEND_TEMPLATE_PATH,
        operation="paasw.sms.send_template",
        fields=fields,
        encoding=BodyEncoding.FORM,
    )


def balance_request() -> ApiRequest:
    """``GET /sms/balance`` (a read: idempotent)."""
    return ApiRequest(
        method="GET",
        path=BALANCE_PATH,
        operation="paasw.account.balance",
        encoding=BodyEncoding.QUERY,
        idempotent=True,
    )


def pull_request(path: str, *, operation: str, fields: Mapping[str, str]) -> ApiRequest:
    """``GET`` of a report queue (``DELIVER_PATH`` or ``REPLIES_PATH``).

    Not idempotent: pulling dequeues, so an attempt whose answer was lost may have taken
    reports that will never come again, and retrying it would hide that loss.
    """
    return ApiRequest(
        method="GET",
        path=path,
        operation=operation,
        fields=fields,
        encoding=BodyEncoding.QUERY,
        idempotent=False,
    )
