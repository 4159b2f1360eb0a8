"""``client.sms``: sending one content to many numbers, plainly or from a template."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from crowdsms.providers.paasw._chunks import PaaswChunkSender
from crowdsms.providers.paasw._converter import parse_send_answer
from crowdsms.providers.paasw._models import SendResult, SmsKind
from crowdsms.providers.paasw._requests import (
    PaaswRequests,
    send_request,
    send_template_request,
)
from crowdsms.providers.paasw._validation import (
    check_content,
    check_kind,
    check_sign,
    check_template_id,
    encode_params,
    normalize_phone_list,
)

__all__ = ["SmsEndpoints"]


class SmsEndpoints:
    """Sending messages: ``client.sms``.

    Sends are not idempotent (the gateway has no idempotency key): a send whose request
    may have reached the gateway (a read timeout, a 500) is never repeated silently; the
    error says so with ``certainty=UNKNOWN``.
    """

    def __init__(self, requests: PaaswRequests) -> None:
        self._requests = requests

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
        numbers = normalize_phone_list(phones)
        checked_sign = check_sign(sign)
        checked_content = check_content(content, sign=checked_sign)
        checked_kind = check_kind(kind)
        request = send_request(
            numbers, sign=checked_sign, content=checked_content, kind=checked_kind
        )
        return parse_send_answer(await self._requests.call(request), numbers)

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
        ``kind`` is as for :meth:`send` (the gateway's documents describe ``sendTemplate``
        as the fields of ``send`` plus ``templateId`` and ``paramJson``): required when the
        account has several kinds, left out when it has one.
        """
        numbers = normalize_phone_list(phones)
        checked_template = check_template_id(template_id)
        param_json = encode_params(params)
        checked_sign = check_sign(sign)
        checked_content = check_content(content, sign=None)
        checked_kind = check_kind(kind)
        request = send_template_request(
            numbers,
            template_id=checked_template,
            param_json=param_json,
            sign=checked_sign,
            content=checked_content,
            kind=checked_kind,
        )
        return parse_send_answer(await self._requests.call(request), numbers)

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
            self._requests, sign=checked_sign, content=checked_content, kind=check_kind(kind)
        )
