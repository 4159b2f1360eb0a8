"""``client.sms``: one template to many numbers (``send``) or per-recipient vars (``sendn``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from crowdsms._transport import Transport
from crowdsms.outcomes import Recipient
from crowdsms.providers.sendcloud._chunks import SendCloudChunkSender
from crowdsms.providers.sendcloud._models import SendResult
from crowdsms.providers.sendcloud._sms_requests import SmsSettings, prepare_send, prepare_sendn
from crowdsms.providers.sendcloud._validation import check_positive

__all__ = ["SmsEndpoints"]


class SmsEndpoints:
    """Sending template messages (``client.sms``).

    Sends are not idempotent: an attempt that may have reached the provider (a read timeout,
    a connection lost after the body was written) is not repeated, unless the call carries
    a ``send_request_id``, which the provider uses to drop duplicates.
    """

    def __init__(
        self, transport: Transport, settings: SmsSettings, *, max_connections: int | None
    ) -> None:
        self._transport = transport
        self._settings = settings
        self._max_connections = max_connections

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
        prepared = prepare_send(
            self._settings,
            template_id=template_id,
            phones=phones,
            vars=vars,
            msg_type=msg_type,
            send_request_id=send_request_id,
        )
        return await prepared.submit(self._transport)

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
        prepared = prepare_sendn(
            self._settings,
            template_id=template_id,
            recipients=recipients,
            send_request_id=send_request_id,
        )
        return await prepared.submit(self._transport)

    def sendn_chunks(
        self, *, template_id: int, template_text: str | None = None
    ) -> SendCloudChunkSender:
        """The batch sender's view of :meth:`sendn` for one template.

        ``template_text``, the template's text as approved (``%name%`` variables, 【signature】
        included), is only used to count segments (previews, spend caps); it is not sent.
        """
        check_positive(template_id, field="template_id")
        return SendCloudChunkSender(
            self._transport,
            self._settings,
            template_id=template_id,
            max_connections=self._max_connections,
            template_text=template_text,
        )
