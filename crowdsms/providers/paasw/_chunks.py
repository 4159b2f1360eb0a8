"""The batch sender's view of ``/sms/send``: one shared content, chunks of 125 numbers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from crowdsms.errors import InvalidInputError
from crowdsms.outcomes import Recipient, RecipientOutcome, is_checked_by
from crowdsms.phones import normalize_recipient_phone
from crowdsms.providers.paasw._converter import parse_send_answer
from crowdsms.providers.paasw._models import SmsKind
from crowdsms.providers.paasw._requests import PaaswRequests, send_request
from crowdsms.providers.paasw._validation import (
    MAX_CHUNK_SIZE,
    check_normalized_phone_list,
    normalize_phone_list,
)

__all__ = ["PRICE_PER_SEGMENT", "PaaswChunkSender"]

PRICE_PER_SEGMENT: Final = 0.05
"""The default estimate of one SMS segment's price, in CNY, for previews and ``max_cost``:
a typical domestic price, not a quote (the gateway publishes none). Pass your contract's
price (``price_per_segment=``, ``--price``) for a real estimate."""


class PaaswChunkSender:
    """Sends one content to chunks of recipients (:class:`~crowdsms.outcomes.ChunkSender`).

    ``max_chunk_size`` is 125: the most 11-digit numbers that fit both of the gateway's
    limits on ``phoneNumbers`` (1000 numbers, 1500 characters with the commas). A chunk is
    one ``/sms/send`` request; on success every recipient is ``sent`` with the batch's
    ``bizId`` as its ``message_id`` (the gateway answers per batch, not per number).
    Recipients' ``vars`` are refused: this endpoint sends the same text to everyone.
    The gateway has no idempotency key.

    Create it with ``client.sms.send_chunks(sign=..., content=..., kind=...)``.
    """

    def __init__(
        self, requests: PaaswRequests, *, sign: str, content: str, kind: SmsKind | None
    ) -> None:
        self._requests = requests
        self.sign = sign
        self.content = content
        self.kind = kind

    def __repr__(self) -> str:
        return f"<PaaswChunkSender sign={self.sign!r} kind={self.kind}>"

    @property
    def max_chunk_size(self) -> int:
        """The most recipients one request may carry (125)."""
        return MAX_CHUNK_SIZE

    @property
    def max_connections(self) -> int | None:
        """How many requests the client keeps in flight at once (``None``: your transport's).

        The batch sender refuses a ``concurrency`` above it.
        """
        return self._requests.max_connections

    @property
    def target(self) -> dict[str, str]:
        """Where the chunks go, with nothing secret (the provider, the base URL and the
        account): a batch job's journal records it, and a resume elsewhere is refused."""
        return self._requests.transport.target

    @property
    def supports_idempotency_key(self) -> bool:
        """``False``: the gateway does not deduplicate sends."""
        return False

    @property
    def supports_reference(self) -> bool:
        """``False``: a ``reference`` passed to :meth:`send_chunk` is ignored.

        The gateway has no field its reports would repeat; they are matched by ``bizId``,
        the id of the request, which every recipient's outcome carries as ``message_id``.
        """
        return False

    @property
    def segments_note(self) -> str | None:
        """``None``: :meth:`render` always gives the text, so segments can be counted."""
        return None

    @property
    def price_per_segment(self) -> float:
        """The default price estimate of one segment, in CNY (:data:`PRICE_PER_SEGMENT`)."""
        return PRICE_PER_SEGMENT

    def render(self, recipient: Recipient) -> str:
        """The text every recipient gets: the content, 【signature】 included."""
        return self.content

    def validate(self, recipient: Recipient, *, position: int) -> Recipient:
        """``recipient`` with its number normalized; refuses variables and bad numbers."""
        if recipient.vars:
            names = ", ".join(sorted(recipient.vars))
            raise InvalidInputError(
                "per-recipient variables are not supported: the paasw gateway sends one "
                "shared content to every number",
                field=f"recipients[{position}].vars",
                position=position,
                received=f"{len(recipient.vars)} variables ({names[:60]})",
                action=(
                    "Put the final text in content and give recipients without vars, or use "
                    "a provider whose messages have per-recipient variables"
                ),
            )
        phone = normalize_recipient_phone(recipient.phone, position)
        return recipient if phone == recipient.phone else Recipient(phone=phone)

    async def send_chunk(
        self,
        recipients: Sequence[Recipient],
        *,
        idempotency_key: str | None = None,
        reference: str | None = None,
    ) -> Sequence[RecipientOutcome]:
        """Send one request for ``recipients``: one outcome each, in order.

        A failure of the request as a whole is raised (the batch sender turns it into
        outcomes). ``idempotency_key`` must be ``None``: the gateway has none.
        ``reference`` is accepted so the batch sender may always pass it, and ignored (see
        :attr:`supports_reference`).

        Each recipient is checked as :meth:`validate` checks it, unless ``recipients`` are
        :class:`~crowdsms.outcomes.CheckedRecipients` this sender validated (the batch
        sender's chunks); the list of numbers as a whole is checked either way.
        """
        if idempotency_key is not None:
            raise InvalidInputError(
                "is not supported: the paasw gateway does not deduplicate sends",
                field="idempotency_key",
                action="Pass None (supports_idempotency_key is False)",
            )
        if not recipients:
            return []
        phones = [recipient.phone for recipient in recipients]
        if is_checked_by(recipients, self):
            numbers = check_normalized_phone_list(phones, field="recipients", item_suffix=".phone")
        else:
            for position, recipient in enumerate(recipients):
                if recipient.vars:
                    self.validate(recipient, position=position)  # raises the clear error
            numbers = normalize_phone_list(phones, field="recipients", item_suffix=".phone")
        request = send_request(numbers, sign=self.sign, content=self.content, kind=self.kind)
        result = parse_send_answer(await self._requests.call(request), numbers)
        return [RecipientOutcome.sent(phone, result.biz_id) for phone in numbers]
