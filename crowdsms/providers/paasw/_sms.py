"""``client.sms``: sending one content to many numbers, plainly or from a template."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from crowdsms._parsing import parse_error, structure
from crowdsms._transport import ApiRequest, ApiResponse, BodyEncoding
from crowdsms.providers.paasw._chunks import PaaswChunkSender
from crowdsms.providers.paasw._context import Context
from crowdsms.providers.paasw._converter import SendAnswer, converter, snake_keys
from crowdsms.providers.paasw._envelope import answer_message, read_object
from crowdsms.providers.paasw._models import SendResult, SmsKind
from crowdsms.providers.paasw._validate import (
    check_content,
    check_kind,
    check_phones,
    check_sign,
    check_template_id,
    encode_params,
)

__all__ = ["SmsEndpoints"]

SEND_PATH: Final = "/sms/send"
SEND_TEMPLATE_PATH: Final = "/sms/sendTemplate"


class SmsEndpoints:
    """Sending messages: ``client.sms``.

    Sends are not idempotent (the gateway has no idempotency key): a send whose request
    may have reached the gateway (a read timeout, a 500) is never repeated silently; the
    error says so with ``certainty=UNKNOWN``.
    """

    def __init__(self, context: Context) -> None:
        self._context = context

    def __repr__(self) -> str:
        return "<paasw SmsEndpoints>"

    async def send(
        self,
        *,
        phones: Sequence[str],
        sign: str,
        content: str,
        kind: SmsKind | None = None,
    ) -> SendResult:
        """Send ``content`` to every number in ``phones`` (``POST /sms/send``).

        - ``phones``: mainland mobile numbers in any usual spelling (``+86 138 0013 8000``);
          at most 1000, and at most 1500 characters once normalized and joined with commas
          (125 numbers). Duplicates are refused.
        - ``sign``: the approved SMS signature without 【】, at most 20 characters.
        - ``content``: the text, at most 1000 characters, containing ``【sign】``.
        - ``kind``: required by the gateway when the account has several kinds, and to be
          left out when it has one.

        Returns the batch's ``bizId``, which the delivery reports carry.
        """
        numbers = check_phones(phones)
        checked_sign = check_sign(sign)
        checked_content = check_content(content, sign=checked_sign)
        checked_kind = check_kind(kind)
        return await self._send_checked(
            numbers, sign=checked_sign, content=checked_content, kind=checked_kind
        )

    async def send_template(
        self,
        *,
        phones: Sequence[str],
        template_id: str,
        params: Sequence[Mapping[str, str]] | Mapping[str, str],
        sign: str,
        content: str,
        kind: SmsKind | None = None,
    ) -> SendResult:
        """Send an approved template to every number (``POST /sms/sendTemplate``).

        ``params`` fills the template: a list of mappings (sent as the JSON array the seed
        shows, ``[{"name":"value"}]``) or one mapping (a JSON object); at most 100
        characters as compact JSON. ``template_id`` has at most 20 characters. ``phones``
        and ``sign`` follow the rules of :meth:`send`; ``content`` (at most 1000
        characters) is not required to contain the 【sign】 here, as the seed does not say.
        ``kind`` is as for :meth:`send` (PROVIDERS.md: ``sendTemplate`` takes the fields
        of ``send`` plus ``templateId`` and ``paramJson``): required when the account has
        several kinds, left out when it has one.
        """
        numbers = check_phones(phones)
        checked_template = check_template_id(template_id)
        param_json = encode_params(params)
        checked_sign = check_sign(sign)
        checked_content = check_content(content, sign=None)
        checked_kind = check_kind(kind)
        fields = {
            "phoneNumbers": ",".join(numbers),
            "templateId": checked_template,
            "paramJson": param_json,
            "sign": checked_sign,
            "content": checked_content,
        }
        if checked_kind is not None:
            fields["kind"] = checked_kind.value
        request = ApiRequest(
            method="POST",
            path=SEND_TEMPLATE_PATH,
            operation="paasw.sms.send_template",
            fields=fields,
            encoding=BodyEncoding.FORM,
        )
        response = await self._context.call(request)
        return _send_result(response, numbers)

    def send_chunks(
        self, *, sign: str, content: str, kind: SmsKind | None = None
    ) -> PaaswChunkSender:
        """A :class:`~crowdsms.outcomes.ChunkSender` of one shared content, for the batch sender.

        The arguments are checked now, as in :meth:`send`. Each chunk is one
        ``/sms/send`` request of at most 125 numbers; recipients may not have variables.
        """
        checked_sign = check_sign(sign)
        checked_content = check_content(content, sign=checked_sign)
        return PaaswChunkSender(
            self, sign=checked_sign, content=checked_content, kind=check_kind(kind)
        )

    async def _send_checked(
        self, numbers: Sequence[str], *, sign: str, content: str, kind: SmsKind | None
    ) -> SendResult:
        """Send already checked arguments (used by :meth:`send` and the chunk sender)."""
        fields = {"phoneNumbers": ",".join(numbers), "sign": sign, "content": content}
        if kind is not None:
            fields["kind"] = kind.value
        request = ApiRequest(
            method="POST",
            path=SEND_PATH,
            operation="paasw.sms.send",
            fields=fields,
            encoding=BodyEncoding.FORM,
        )
        response = await self._context.call(request)
        return _send_result(response, tuple(numbers))


def _send_result(response: ApiResponse, numbers: tuple[str, ...]) -> SendResult:
    data = read_object(response)
    answer = structure(converter, snake_keys(data), SendAnswer, response)
    if not answer.biz_id:
        raise parse_error(response, "the gateway accepted the send but its bizId is empty")
    return SendResult(biz_id=answer.biz_id, phones=numbers, provider_message=answer_message(data))
