"""The batch sender's view of ``sendn`` (private; see :meth:`SmsEndpoints.sendn_chunks`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from crowdsms._transport import Transport
from crowdsms.errors import InvalidInputError
from crowdsms.outcomes import Recipient, RecipientOutcome, is_checked_by
from crowdsms.providers.sendcloud._sms_requests import SmsSettings, prepare_sendn
from crowdsms.providers.sendcloud._validation import check_recipient

__all__ = ["PRICE_PER_SEGMENT", "SendCloudChunkSender", "check_template_text"]

PRICE_PER_SEGMENT: Final = 0.05
"""The default estimate of one SMS segment's price, in CNY, for previews and ``max_cost``:
an order of magnitude of SendCloud's published domestic prices, not a quote. Pass your
contract's price (``price_per_segment=``, ``--price``) for a real estimate."""


def check_template_text(text: object) -> str | None:
    """``text`` (the template's text, for counting segments), or InvalidInputError."""
    if text is None:
        return None
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError(
            "must be the template's text as a non-empty str",
            field="template_text",
            received=repr(text)[:40],
            action=(
                "Copy the approved template's text, 【signature】 and %name% variables "
                "included, from the SendCloud console; or pass None"
            ),
        )
    return text


def _fill(template: str, variables: Sequence[tuple[str, str]]) -> str:
    for key, value in variables:
        name = key if len(key) > 1 and key.startswith("%") and key.endswith("%") else f"%{key}%"
        template = template.replace(name, value)
    return template


class SendCloudChunkSender:
    """Sends chunks of recipients through ``sendn`` for one template.

    Implements :class:`crowdsms.outcomes.ChunkSender`; get one from
    ``client.sms.sendn_chunks(template_id=...)``. The batch sender's idempotency key goes to
    the provider as ``sendRequestId``, so a chunk whose answer was lost can be sent again
    without sending anything twice. Each chunk is the same request as
    :meth:`SmsEndpoints.sendn`, checked the same way.

    SendCloud keeps the template's text; ``template_text`` (the same text, copied from the
    console) lets :meth:`render` give each recipient's message, so that previews and spend
    caps can count segments. Without it they cannot (:attr:`segments_note`).
    """

    def __init__(
        self,
        transport: Transport,
        settings: SmsSettings,
        *,
        template_id: int,
        max_connections: int | None,
        template_text: str | None = None,
    ) -> None:
        self._transport = transport
        self._settings = settings
        self._template_id = template_id
        self._max_connections = max_connections
        self.template_text = check_template_text(template_text)
        """The template's text, if given: what :meth:`render` fills in."""

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
    def target(self) -> dict[str, str]:
        """Where the chunks go, with nothing secret (the provider, the base URL and the
        account): a batch job's journal records it, and a resume elsewhere is refused."""
        return self._transport.target

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

    @property
    def segments_note(self) -> str | None:
        """Why :meth:`render` gives no text (no ``template_text``), or ``None``."""
        if self.template_text is not None:
            return None
        return (
            "SendCloud sends template "
            f"{self._template_id} by its id, and crowdsms does not know the template's text, "
            "so segments and cost are unknown. Give the text to count them: "
            "template_text= (--template-text on the command line)"
        )

    @property
    def price_per_segment(self) -> float:
        """The default price estimate of one segment, in CNY (:data:`PRICE_PER_SEGMENT`)."""
        return PRICE_PER_SEGMENT

    def render(self, recipient: Recipient) -> str | None:
        """The text ``recipient`` gets: ``template_text`` with each ``%name%`` filled in.

        ``None`` without ``template_text``. Variables may be named ``code`` or ``%code%``.
        """
        if self.template_text is None:
            return None
        return _fill(self.template_text, list(recipient.vars.items()))

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

        Each recipient is checked as :meth:`validate` checks it, unless ``recipients`` are
        :class:`~crowdsms.outcomes.CheckedRecipients` this sender validated (the batch
        sender's chunks); the chunk's size and numbers given twice are checked either way.
        """
        prepared = prepare_sendn(
            self._settings,
            template_id=self._template_id,
            recipients=recipients,
            send_request_id=idempotency_key,
            checked=is_checked_by(recipients, self),
        )
        result = await prepared.submit(self._transport)
        return result.outcomes
