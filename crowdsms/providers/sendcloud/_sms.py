"""``client.sms``: one template to many numbers (``send``) or per-recipient vars (``sendn``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from crowdsms._transport import ApiRequest, BodyEncoding, Transport
from crowdsms.errors import InvalidInputError
from crowdsms.outcomes import Recipient
from crowdsms.providers.sendcloud._chunks import SendnChunkSender
from crowdsms.providers.sendcloud._envelope import parse_envelope
from crowdsms.providers.sendcloud._models import SendResult
from crowdsms.providers.sendcloud._results import send_result
from crowdsms.providers.sendcloud._settings import Settings
from crowdsms.providers.sendcloud._signing import encode_json
from crowdsms.providers.sendcloud._validation import (
    MAX_SEND_PHONES,
    check_phones,
    check_positive,
    check_recipients,
    check_send_request_id,
    check_vars,
)

__all__ = ["SmsEndpoints"]


class SmsEndpoints:
    """Sending template messages (``client.sms``).

    Sends are not idempotent: an attempt that may have reached the provider (a read timeout,
    a connection lost after the body was written) is not repeated, unless the call carries
    a ``send_request_id``, which the provider uses to drop duplicates.
    """

    def __init__(self, transport: Transport, settings: Settings) -> None:
        self._transport = transport
        self._settings = settings

    def __repr__(self) -> str:
        return f"<SmsEndpoints {self._transport.base_url}>"

    async def send(
        self,
        *,
        template_id: int,
        phones: Sequence[str],
        vars: Mapping[str, str] | None = None,
        msg_type: int | None = None,
        send_request_id: str | None = None,
    ) -> SendResult:
        """Send template ``template_id`` with the same ``vars`` to every number in ``phones``.

        At most 2000 numbers, each a mainland mobile number (normalized to 11 digits), none
        twice. ``msg_type`` is passed through as the provider's ``msgType`` (0 is SMS).
        ``send_request_id`` (at most 128 characters) is an idempotency key: the provider
        drops a second request with the same key, so crowdsms may retry ambiguous failures.

        Returns one outcome per number, in order; a partial success (311) or a total failure
        (312) is a result, not an exception. Raises :class:`~crowdsms.errors.InvalidInputError`
        before any request for bad arguments, and the typed
        :class:`~crowdsms.errors.ProviderError` for a refusal of the whole request.
        """
        check_positive(template_id, field="template_id")
        key = check_send_request_id(send_request_id)
        normalized = check_phones(phones, limit=MAX_SEND_PHONES)
        fields = {"templateId": str(template_id), "phone": ",".join(normalized)}
        if vars is not None:
            values = check_vars(vars, field="vars", max_length=self._settings.max_var_length)
            fields["vars"] = encode_json(values)
        if msg_type is not None:
            fields["msgType"] = str(_check_msg_type(msg_type))
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
        response = await self._transport.request(request)
        return send_result(parse_envelope(response), normalized, response, send_request_id=key)

    async def sendn(
        self,
        *,
        template_id: int,
        recipients: Sequence[Recipient],
        send_request_id: str | None = None,
    ) -> SendResult:
        """Send template ``template_id`` to each recipient with its own variables.

        At most ``max_sendn_recipients`` (a client setting, 200 by default) per request;
        each variable value at most ``max_var_length`` characters. The path is the client's
        ``sendn_endpoint`` setting (``sendn`` or ``sendx``). Outcomes, idempotency and
        errors are as for :meth:`send`.
        """
        check_positive(template_id, field="template_id")
        key = check_send_request_id(send_request_id)
        settings = self._settings
        checked = check_recipients(
            recipients,
            limit=settings.max_sendn_recipients,
            max_length=settings.max_var_length,
        )
        tos = [{"phone": r.phone, "vars": dict(r.vars)} for r in checked]
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
        response = await self._transport.request(request)
        return send_result(
            parse_envelope(response), [r.phone for r in checked], response, send_request_id=key
        )

    def sendn_chunks(self, *, template_id: int) -> SendnChunkSender:
        """The batch sender's view of :meth:`sendn` for one template."""
        check_positive(template_id, field="template_id")
        return SendnChunkSender(self, template_id=template_id, settings=self._settings)


def _check_msg_type(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInputError(
            "must be a non-negative integer",
            field="msg_type",
            received=repr(value)[:40],
            action="Pass 0 for SMS, or leave it out",
        )
    return value
