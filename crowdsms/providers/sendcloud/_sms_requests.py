"""The sms group's settings and its two send requests, ``send`` and ``sendn`` (private).

:class:`~crowdsms.providers.sendcloud.SmsEndpoints` and the batch sender's
:class:`~crowdsms.providers.sendcloud.SendCloudChunkSender` both build their requests here
and read the answers with the same function, so the two cannot differ in what they check,
send or conclude.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final, Literal

import attrs

from crowdsms._transport import ApiRequest, BodyEncoding, Transport
from crowdsms.outcomes import Recipient
from crowdsms.providers.sendcloud._answers import parse_send_result
from crowdsms.providers.sendcloud._models import SendResult
from crowdsms.providers.sendcloud._signing import encode_json
from crowdsms.providers.sendcloud._validation import (
    MAX_SEND_PHONES,
    check_checked_recipients,
    check_msg_type,
    check_phones,
    check_positive,
    check_recipients,
    check_send_request_id,
    check_vars,
)

__all__ = [
    "SENDN_ENDPOINTS",
    "PreparedSend",
    "SendnEndpoint",
    "SmsSettings",
    "prepare_send",
    "prepare_sendn",
]

SendnEndpoint = Literal["sendn", "sendx"]
"""The path of the multi-recipient endpoint: ``sendn`` (2015 docs) or ``sendx`` (later)."""

SENDN_ENDPOINTS: Final[tuple[SendnEndpoint, ...]] = ("sendn", "sendx")
"""Every accepted value of the client's ``sendn_endpoint`` setting."""


@attrs.frozen(kw_only=True)
class SmsSettings:
    """The client settings the sms group reads: guesses about the provider users may change."""

    sendn_endpoint: SendnEndpoint
    max_sendn_recipients: int
    max_var_length: int | None


@attrs.frozen
class PreparedSend:
    """A checked ``send`` or ``sendn`` request and its numbers, in the order sent."""

    request: ApiRequest
    phones: tuple[str, ...]

    async def submit(self, transport: Transport) -> SendResult:
        """Make the request; one outcome per number, in order."""
        response = await transport.request(self.request)
        return parse_send_result(
            response, self.phones, send_request_id=self.request.idempotency_key
        )


def prepare_send(
    settings: SmsSettings,
    *,
    template_id: int,
    phones: Sequence[str],
    vars: Mapping[str, str] | None,
    msg_type: int | None,
    send_request_id: str | None,
) -> PreparedSend:
    """The ``send`` request: one template and one ``vars`` for every number in ``phones``."""
    check_positive(template_id, field="template_id")
    key = check_send_request_id(send_request_id)
    normalized = check_phones(phones, limit=MAX_SEND_PHONES)
    fields = {"templateId": str(template_id), "phone": ",".join(normalized)}
    if vars is not None:
        values = check_vars(vars, field="vars", max_length=settings.max_var_length)
        fields["vars"] = encode_json(values)
    if msg_type is not None:
        fields["msgType"] = str(check_msg_type(msg_type))
    if key is not None:
        fields["sendRequestId"] = key
    request = ApiRequest(
        method="POST",
        path="send",
        operation="sendcloud.sms.send",
        fields=fields,
        encoding=BodyEncoding.FORM,
        idempotency_key=key,
    )
    return PreparedSend(request, tuple(normalized))


def prepare_sendn(
    settings: SmsSettings,
    *,
    template_id: int,
    recipients: Sequence[Recipient],
    send_request_id: str | None,
    checked: bool = False,
) -> PreparedSend:
    """The ``sendn`` (or ``sendx``) request: one template, each recipient with its vars.

    ``checked`` says each recipient was already checked by ``check_recipient`` with these
    settings (the batch sender's chunks): then only the list as a whole is checked.
    """
    check_positive(template_id, field="template_id")
    key = check_send_request_id(send_request_id)
    if checked:
        valid = check_checked_recipients(recipients, limit=settings.max_sendn_recipients)
    else:
        valid = check_recipients(
            recipients,
            limit=settings.max_sendn_recipients,
            max_length=settings.max_var_length,
        )
    tos = [{"phone": r.phone, "vars": dict(r.vars)} for r in valid]
    fields = {"templateId": str(template_id), "tos": encode_json(tos)}
    if key is not None:
        fields["sendRequestId"] = key
    request = ApiRequest(
        method="POST",
        path=settings.sendn_endpoint,
        operation=f"sendcloud.sms.{settings.sendn_endpoint}",
        fields=fields,
        encoding=BodyEncoding.FORM,
        idempotency_key=key,
    )
    return PreparedSend(request, tuple(r.phone for r in valid))
