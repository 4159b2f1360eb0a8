"""The batch sender's view of ``sendn`` (private; see :meth:`SmsEndpoints.sendn_chunks`)."""

from __future__ import annotations

from collections.abc import Sequence

from crowdsms._transport import Transport
from crowdsms.outcomes import Recipient, RecipientOutcome
from crowdsms.providers.sendcloud._sms_requests import SmsSettings, prepare_sendn
from crowdsms.providers.sendcloud._validation import check_recipient

__all__ = ["SendCloudChunkSender"]


class SendCloudChunkSender:
    """Sends chunks of recipients through ``sendn`` for one template.

    Implements :class:`crowdsms.outcomes.ChunkSender`; get one from
    ``client.sms.sendn_chunks(template_id=...)``. The batch sender's idempotency key goes to
    the provider as ``sendRequestId``, so a chunk whose answer was lost can be sent again
    without sending anything twice. Each chunk is the same request as
    :meth:`SmsEndpoints.sendn`, checked the same way.
    """

    def __init__(
        self,
        transport: Transport,
        settings: SmsSettings,
        *,
        template_id: int,
        max_connections: int | None,
    ) -> None:
        self._transport = transport
        self._settings = settings
        self._template_id = template_id
        self._max_connections = max_connections

    def __repr__(self) -> str:
        return f"<SendCloudChunkSender template_id={self._template_id}>"

    @property
    def template_id(self) -> int:
        """The template every chunk is sent with."""
        return self._template_id

    @property
    def max_chunk_size(self) -> int:
        """The client's ``max_sendn_recipients`` setting."""
        return self._settings.max_sendn_recipients

    @property
    def max_connections(self) -> int | None:
        """The client's ``max_connections``: how many chunks can be in flight at once.

        ``None`` when the client was given its own HTTP client or transport.
        """
        return self._max_connections

    @property
    def supports_idempotency_key(self) -> bool:
        """Always true: the key is sent as ``sendRequestId``."""
        return True

    @property
    def supports_reference(self) -> bool:
        """Always false: a ``reference`` passed to :meth:`send_chunk` is ignored.

        SendCloud's reports are matched by the ``smsId`` each recipient gets, and a chunk
        whose answer was lost is safe to send again with the same ``sendRequestId`` (the
        idempotency key) to learn them without sending anything twice.
        """
        return False

    def validate(self, recipient: Recipient, *, position: int) -> Recipient:
        """The recipient with its number normalized and its variables checked."""
        return check_recipient(
            recipient, position=position, max_length=self._settings.max_var_length
        )

    async def send_chunk(
        self,
        recipients: Sequence[Recipient],
        *,
        idempotency_key: str | None = None,
        reference: str | None = None,
    ) -> Sequence[RecipientOutcome]:
        """Send one ``sendn`` request; one outcome per recipient, in order.

        ``reference`` is accepted so the batch sender may always pass it, and ignored (see
        :attr:`supports_reference`).
        """
        prepared = prepare_sendn(
            self._settings,
            template_id=self._template_id,
            recipients=recipients,
            send_request_id=idempotency_key,
        )
        result = await prepared.submit(self._transport)
        return result.outcomes
