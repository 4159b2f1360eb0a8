"""The batch sender's view of ``sendn`` (private; see :meth:`SmsEndpoints.sendn_chunks`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from crowdsms.outcomes import Recipient, RecipientOutcome
from crowdsms.providers.sendcloud._settings import Settings
from crowdsms.providers.sendcloud._validation import check_recipient

if TYPE_CHECKING:
    from crowdsms.providers.sendcloud._sms import SmsEndpoints

__all__ = ["SendnChunkSender"]


class SendnChunkSender:
    """Sends chunks of recipients through ``sendn`` for one template.

    Implements :class:`crowdsms.outcomes.ChunkSender`. The batch sender's idempotency key
    goes to the provider as ``sendRequestId``, so a chunk whose answer was lost can be sent
    again without sending anything twice.
    """

    def __init__(self, sms: SmsEndpoints, *, template_id: int, settings: Settings) -> None:
        self._sms = sms
        self._template_id = template_id
        self._settings = settings

    def __repr__(self) -> str:
        return f"<SendnChunkSender template_id={self._template_id}>"

    @property
    def template_id(self) -> int:
        """The template every chunk is sent with."""
        return self._template_id

    @property
    def max_chunk_size(self) -> int:
        """The client's ``max_sendn_recipients`` setting."""
        return self._settings.max_sendn_recipients

    @property
    def supports_idempotency_key(self) -> bool:
        """Always true: the key is sent as ``sendRequestId``."""
        return True

    def validate(self, recipient: Recipient, *, position: int) -> Recipient:
        """The recipient with its number normalized and its variables checked."""
        return check_recipient(
            recipient, position=position, max_length=self._settings.max_var_length
        )

    async def send_chunk(
        self, recipients: Sequence[Recipient], *, idempotency_key: str | None = None
    ) -> Sequence[RecipientOutcome]:
        """Send one ``sendn`` request; one outcome per recipient, in order."""
        result = await self._sms.sendn(
            template_id=self._template_id,
            recipients=recipients,
            send_request_id=idempotency_key,
        )
        return result.outcomes
