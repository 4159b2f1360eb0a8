"""``SubmailChunkSender``: ``sms/multisend`` requests for the batch sender."""

from __future__ import annotations

from collections.abc import Sequence

from crowdsms.outcomes import Recipient, RecipientOutcome
from crowdsms.providers.submail._converter import parse_multisend_outcomes
from crowdsms.providers.submail._requests import SubmailRequests, multisend_request
from crowdsms.providers.submail._validation import (
    CheckedContent,
    check_recipient,
    check_recipients,
)

__all__ = ["SubmailChunkSender"]


class SubmailChunkSender:
    """Sends one fixed content to chunks of recipients, for the batch sender.

    Implements :class:`crowdsms.outcomes.ChunkSender`; get one from
    ``client.sms.multisend_chunks(content=..., tag=...)``. SUBMAIL has no idempotency key,
    so ``supports_idempotency_key`` is false and a key passed to :meth:`send_chunk` is
    ignored.
    """

    def __init__(self, requests: SubmailRequests, content: CheckedContent, tag: str | None) -> None:
        self._requests = requests
        self._content = content
        self._tag = tag

    def __repr__(self) -> str:
        return f"<SubmailChunkSender max_chunk_size={self.max_chunk_size}>"

    @property
    def max_chunk_size(self) -> int:
        """The most recipients one request carries (the client's max_multisend_recipients)."""
        return self._requests.max_multisend_recipients

    @property
    def max_connections(self) -> int | None:
        """How many requests the client keeps in flight at once (``None``: your transport's)."""
        return self._requests.max_connections

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
        request = multisend_request(self._content, valid, self._tag)
        value, response = await self._requests.call(request)
        return parse_multisend_outcomes(
            value, response, phones=[recipient.phone for recipient in valid]
        )
