"""SUBMAIL's SMS endpoints (``client.sms``): ``sms/send``, ``sms/multisend``, chunk senders."""

from __future__ import annotations

from collections.abc import Sequence

from crowdsms.errors import InvalidInputError
from crowdsms.outcomes import Recipient
from crowdsms.phones import normalize_mainland_mobile
from crowdsms.providers.submail._chunks import SubmailChunkSender
from crowdsms.providers.submail._converter import parse_multisend, parse_send
from crowdsms.providers.submail._models import MultisendResult, SendResult
from crowdsms.providers.submail._requests import (
    SEND_OPERATION,
    SubmailRequests,
    multisend_request,
    post,
)
from crowdsms.providers.submail._validation import check_content, check_recipients, check_tag

__all__ = ["SmsEndpoints"]


class SmsEndpoints:
    """SUBMAIL's SMS endpoints (``client.sms``).

    Sends are not idempotent (SUBMAIL has no idempotency key): a send that may have reached
    SUBMAIL (a read timeout, a 500) is never repeated silently; its error says so.
    """

    def __init__(self, requests: SubmailRequests) -> None:
        self._requests = requests

    def __repr__(self) -> str:
        return "<SmsEndpoints>"

    async def send(self, *, to: str, content: str, tag: str | None = None) -> SendResult:
        """Send ``content`` to one number (``sms/send``).

        ``content`` starts with your SMS signature in 【】 (2 to 10 characters) and has at
        most 1000 characters; ``tag`` (at most 32 characters) comes back in SUBHOOK
        events. Raises :class:`~crowdsms.errors.InvalidInputError` before any request for
        bad arguments, and a :class:`~crowdsms.errors.ProviderError` subclass with
        SUBMAIL's code when SUBMAIL refuses the message.
        """
        phone = normalize_mainland_mobile(to, field="to")
        checked = check_content(content)
        if checked.placeholders:
            raise InvalidInputError(
                "the content has @var(...) placeholders, which sms/send does not fill",
                field="content",
                received=", ".join(f"@var({key})" for key in checked.placeholders),
                action="Use client.sms.multisend with Recipient(phone, vars={...}) instead",
            )
        fields = {"to": phone, "content": checked.text}
        checked_tag = check_tag(tag)
        if checked_tag is not None:
            fields["tag"] = checked_tag
        request = post("sms/send", fields, operation=SEND_OPERATION)
        value, response = await self._requests.call(request)
        return parse_send(value, response, to=phone)

    async def multisend(
        self, *, content: str, recipients: Sequence[Recipient], tag: str | None = None
    ) -> MultisendResult:
        """Send ``content`` to several numbers in one request (``sms/multisend``).

        ``content`` may use ``@var(key)`` placeholders; every recipient must give a value
        for every key used. At most ``max_multisend_recipients`` (50 by default) recipients
        per call: for more, use :meth:`multisend_chunks` with the batch sender. Returns one
        :class:`~crowdsms.providers.submail.MultisendItem` per recipient, in order; some
        may have failed while others were sent.
        """
        checked = check_content(content)
        checked_tag = check_tag(tag)
        valid = check_recipients(
            recipients,
            placeholders=checked.placeholders,
            limit=self._requests.max_multisend_recipients,
        )
        request = multisend_request(checked, valid, checked_tag)
        value, response = await self._requests.call(request)
        return parse_multisend(value, response, phones=[item.phone for item in valid])

    def multisend_chunks(self, *, content: str, tag: str | None = None) -> SubmailChunkSender:
        """A :class:`~crowdsms.outcomes.ChunkSender` of ``content`` for the batch sender.

        ``content`` and ``tag`` are checked now, so a bad template fails before any send.
        """
        return SubmailChunkSender(self._requests, check_content(content), check_tag(tag))
