"""SUBMAIL's SMS endpoints: ``sms/send``, ``sms/multisend`` and its chunk sender."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from crowdsms._transport import ApiResponse
from crowdsms.errors import InvalidInputError
from crowdsms.outcomes import Recipient, RecipientOutcome
from crowdsms.phones import normalize_mainland_mobile
from crowdsms.providers.submail._api import SubmailApi
from crowdsms.providers.submail._models import (
    MultisendResult,
    SendResult,
    parse_multisend,
    parse_multisend_outcomes,
    parse_send,
)
from crowdsms.providers.submail._validation import (
    CheckedContent,
    check_content,
    check_recipient,
    check_recipients,
    check_tag,
)

__all__ = ["AsyncSubmailSms", "MultisendChunkSender"]

SEND_OPERATION = "submail.sms.send"
MULTISEND_OPERATION = "submail.sms.multisend"


class AsyncSubmailSms:
    """SUBMAIL's SMS endpoints (``client.sms``).

    Sends are not idempotent (SUBMAIL has no idempotency key): a send that may have reached
    SUBMAIL (a read timeout, a 500) is never repeated silently; its error says so.
    """

    def __init__(self, api: SubmailApi) -> None:
        self._api = api

    def __repr__(self) -> str:
        return "<AsyncSubmailSms>"

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
        request = self._api.post("sms/send", fields, operation=SEND_OPERATION)
        value, response = await self._api.call(request)
        return parse_send(value, response, to=phone)

    async def multisend(
        self, *, content: str, recipients: Sequence[Recipient], tag: str | None = None
    ) -> MultisendResult:
        """Send ``content`` to several numbers in one request (``sms/multisend``).

        ``content`` may use ``@var(key)`` placeholders; every recipient must give a value
        for every key used. At most ``max_multisend_recipients`` (50 by default) recipients
        per call: for more, use :meth:`multisend_chunks` with the batch sender. Returns one
        :class:`MultisendItem` per recipient, in order; some may have failed while others
        were sent.
        """
        checked = check_content(content)
        checked_tag = check_tag(tag)
        valid = check_recipients(
            recipients,
            placeholders=checked.placeholders,
            limit=self._api.max_multisend_recipients,
        )
        return await self._multisend(checked, valid, checked_tag)

    def multisend_chunks(self, *, content: str, tag: str | None = None) -> MultisendChunkSender:
        """A :class:`~crowdsms.outcomes.ChunkSender` of ``content`` for the batch sender.

        ``content`` and ``tag`` are checked now, so a bad template fails before any send.
        """
        return MultisendChunkSender(self, check_content(content), check_tag(tag))

    async def _multisend(
        self, content: CheckedContent, recipients: Sequence[Recipient], tag: str | None
    ) -> MultisendResult:
        value, response = await self._call_multisend(content, recipients, tag)
        return parse_multisend(value, response, phones=[item.phone for item in recipients])

    async def _multisend_outcomes(
        self, content: CheckedContent, recipients: Sequence[Recipient], tag: str | None
    ) -> list[RecipientOutcome]:
        value, response = await self._call_multisend(content, recipients, tag)
        phones = [item.phone for item in recipients]
        return parse_multisend_outcomes(value, response, phones=phones)

    async def _call_multisend(
        self, content: CheckedContent, recipients: Sequence[Recipient], tag: str | None
    ) -> tuple[Any, ApiResponse]:
        fields = {"content": content.text, "multi": _multi(content, recipients)}
        if tag is not None:
            fields["tag"] = tag
        request = self._api.post("sms/multisend", fields, operation=MULTISEND_OPERATION)
        return await self._api.call(request)

    @property
    def _max_multisend_recipients(self) -> int:
        return self._api.max_multisend_recipients


def _multi(content: CheckedContent, recipients: Sequence[Recipient]) -> str:
    """The ``multi`` JSON array; only the variables the content uses are sent."""
    keys = content.placeholders
    items: list[dict[str, object]] = []
    append = items.append
    for recipient in recipients:
        if keys:
            variables = recipient.vars
            # Most recipients have exactly the content's variables, in its order: send their
            # dict as it is rather than building an equal one.
            if type(variables) is not dict or tuple(variables) != keys:
                variables = {key: variables[key] for key in keys}
            append({"to": recipient.phone, "vars": variables})
        else:
            append({"to": recipient.phone})
    return json.dumps(items, ensure_ascii=False, separators=(",", ":"))


class MultisendChunkSender:
    """Sends one fixed content to chunks of recipients, for the batch sender.

    Implements :class:`crowdsms.outcomes.ChunkSender`. SUBMAIL has no idempotency key, so
    ``supports_idempotency_key`` is false and a key passed to :meth:`send_chunk` is ignored.
    """

    def __init__(self, sms: AsyncSubmailSms, content: CheckedContent, tag: str | None) -> None:
        self._sms = sms
        self._content = content
        self._tag = tag

    def __repr__(self) -> str:
        return f"<MultisendChunkSender max_chunk_size={self.max_chunk_size}>"

    @property
    def max_chunk_size(self) -> int:
        """The most recipients one request carries (the client's max_multisend_recipients)."""
        return self._sms._max_multisend_recipients

    @property
    def supports_idempotency_key(self) -> bool:
        """Always false: SUBMAIL does not deduplicate sends."""
        return False

    @property
    def placeholders(self) -> tuple[str, ...]:
        """The ``@var`` keys the content uses, in order of first use."""
        return self._content.placeholders

    def validate(self, recipient: Recipient, *, position: int) -> Recipient:
        """Return ``recipient`` with its phone normalized; raise InvalidInputError if bad."""
        return check_recipient(
            recipient, position=position, placeholders=self._content.placeholders
        )

    async def send_chunk(
        self, recipients: Sequence[Recipient], *, idempotency_key: str | None = None
    ) -> Sequence[RecipientOutcome]:
        """Send one ``sms/multisend`` request; one outcome per recipient, in order.

        A failure of the whole request is raised (the batch sender turns it into outcomes).
        """
        valid = check_recipients(
            recipients, placeholders=self._content.placeholders, limit=self.max_chunk_size
        )
        return await self._sms._multisend_outcomes(self._content, valid, self._tag)
