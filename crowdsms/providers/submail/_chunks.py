"""``SubmailChunkSender``: ``sms/multisend`` requests for the batch sender."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from crowdsms.outcomes import Recipient, RecipientOutcome, is_checked_by
from crowdsms.providers.submail._converter import parse_multisend_outcomes
from crowdsms.providers.submail._requests import SubmailRequests, multisend_request
from crowdsms.providers.submail._validation import (
    CheckedContent,
    check_distinct,
    check_recipient,
    check_recipient_count,
    check_recipients,
    check_tag,
)

__all__ = ["PRICE_PER_SEGMENT", "SubmailChunkSender"]

PRICE_PER_SEGMENT: Final = 0.05
"""The default estimate of one SMS segment's price, in CNY, for previews and ``max_cost``:
an order of magnitude of SUBMAIL's published domestic prices, not a quote. Pass your
contract's price (``price_per_segment=``, ``--price``) for a real estimate."""

_PLACEHOLDER = re.compile(r"@var\(([^()]*)\)")


class SubmailChunkSender:
    """Sends one fixed content to chunks of recipients, for the batch sender.

    Implements :class:`crowdsms.outcomes.ChunkSender`; get one from
    ``client.sms.multisend_chunks(content=..., tag=...)``. SUBMAIL has no idempotency key,
    so ``supports_idempotency_key`` is false and a key passed to :meth:`send_chunk` is
    ignored.

    ``supports_reference`` is true: a ``reference`` passed to :meth:`send_chunk` is sent as
    the request's ``tag``, which SUBHOOK repeats in every event of the request, so delivery
    reports can be matched to their chunk even when the send's answer was lost.
    """

    def __init__(self, requests: SubmailRequests, content: CheckedContent, tag: str | None) -> None:
        self._requests = requests
        self._content = content
        self._tag = tag
        self._valid_as_given_with_vars = frozenset(content.placeholders)
        self._parts = _PLACEHOLDER.split(content.text)
        """Literal text and ``@var`` names, alternately (``render`` joins them)."""

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
    def target(self) -> dict[str, str]:
        """Where the chunks go, with nothing secret (the provider, the base URL and the
        account): a batch job's journal records it, and a resume elsewhere is refused."""
        return self._requests.transport.target

    @property
    def supports_idempotency_key(self) -> bool:
        """Always false: SUBMAIL does not deduplicate sends."""
        return False

    @property
    def supports_reference(self) -> bool:
        """Always true: :meth:`send_chunk` sends its ``reference`` as the ``tag``."""
        return True

    @property
    def placeholders(self) -> tuple[str, ...]:
        """The ``@var`` keys the content uses, in order of first use."""
        return self._content.placeholders

    @property
    def valid_as_given_with_vars(self) -> frozenset[str] | None:
        """The content's ``@var`` keys: :meth:`validate` returns a recipient itself when its
        number is a wire-form one of a known prefix (:func:`crowdsms.phones.is_known_mobile`)
        and it has a value for each of these keys, so the batch sender need not call it.

        ``None`` (no promise) in a subclass that overrides :meth:`validate`: the promise is
        about this class's.
        """
        if type(self).validate is not SubmailChunkSender.validate:
            return None
        return self._valid_as_given_with_vars

    @property
    def segments_note(self) -> str | None:
        """``None``: :meth:`render` always gives the text, so segments can be counted."""
        return None

    @property
    def price_per_segment(self) -> float:
        """The default price estimate of one segment, in CNY (:data:`PRICE_PER_SEGMENT`)."""
        return PRICE_PER_SEGMENT

    def render(self, recipient: Recipient) -> str:
        """The text ``recipient`` gets: the content with each ``@var(name)`` filled in.

        A placeholder without a value stays as written: validation refuses a recipient
        without a value, and one written with spaces (``@var( name )``) gets none, because
        the value is sent under the name without them. SUBMAIL bills this text, signature
        included.
        """
        parts = self._parts
        if len(parts) == 1:
            return parts[0]
        values = recipient.vars
        text = []
        for index, part in enumerate(parts):
            if index % 2 == 0:
                text.append(part)
            else:
                # Variables go out under their names without spaces, and SUBMAIL fills in
                # @var(name) by the name as written: @var( name ) gets no value.
                value = values.get(part) if part == part.strip() else None
                text.append(f"@var({part})" if value is None else value)
        return "".join(text)

    def validate(self, recipient: Recipient, *, position: int) -> Recipient:
        """Return ``recipient`` with its phone normalized; raise InvalidInputError if bad."""
        return check_recipient(
            recipient, position=position, placeholders=self._content.placeholders
        )

    async def send_chunk(
        self,
        recipients: Sequence[Recipient],
        *,
        idempotency_key: str | None = None,
        reference: str | None = None,
    ) -> Sequence[RecipientOutcome]:
        """Send one ``sms/multisend`` request; one outcome per recipient, in order.

        ``reference``, when given, is sent as the request's ``tag`` *instead of* the tag
        the sender was made with (SUBMAIL takes one tag per request); ``None`` sends the
        configured tag, if any. Like that tag it is not signed, and it is refused with
        :class:`~crowdsms.errors.InvalidInputError` (field ``reference``) before any
        request if it is longer than 32 characters. A failure of the whole request is
        raised (the batch sender turns it into outcomes).

        Each recipient is checked as :meth:`validate` checks it, unless ``recipients`` are
        :class:`~crowdsms.outcomes.CheckedRecipients` this sender validated (the batch
        sender's chunks); their count is checked either way.
        """
        tag = self._tag if reference is None else check_tag(reference, field="reference")
        if is_checked_by(recipients, self):
            valid = check_recipient_count(recipients, limit=self.max_chunk_size)
            check_distinct(valid)
        else:
            valid = check_recipients(
                recipients, placeholders=self._content.placeholders, limit=self.max_chunk_size
            )
        request = multisend_request(self._content, valid, tag)
        value, response = await self._requests.call(request)
        return parse_multisend_outcomes(
            value, response, phones=[recipient.phone for recipient in valid]
        )
