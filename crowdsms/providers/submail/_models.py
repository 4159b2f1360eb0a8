"""Results of SUBMAIL calls: what ``sms/send`` and ``sms/multisend`` return."""

from __future__ import annotations

from collections.abc import Iterator

import attrs

from crowdsms.outcomes import OutcomeStatus, RecipientOutcome

__all__ = ["MultisendItem", "MultisendResult", "SendResult"]


@attrs.frozen(kw_only=True)
class SendResult:
    """SUBMAIL accepted a ``sms/send`` message.

    ``send_id`` identifies it in SUBHOOK delivery reports, ``to`` is the number as sent
    (11 digits), ``fee`` the number of billed messages (a long text counts several) and
    ``sms_credits`` the SMS credits left on the account, when SUBMAIL says.
    """

    send_id: str
    to: str
    fee: int | None = None
    sms_credits: int | None = None


@attrs.frozen(kw_only=True)
class MultisendItem:
    """What happened to one recipient of a ``sms/multisend`` request.

    ``position`` is the recipient's index in the request and ``phone`` the number as sent.
    A sent item has ``send_id`` and ``fee``; a failed one has SUBMAIL's ``code``, its
    ``message``, crowdsms's English ``explanation`` and whether a later retry could help.
    """

    position: int
    phone: str
    status: OutcomeStatus
    send_id: str | None = None
    fee: int | None = None
    code: str | None = None
    message: str | None = None
    explanation: str | None = None
    retryable: bool = False

    @property
    def ok(self) -> bool:
        """Whether SUBMAIL accepted the message for this recipient."""
        return self.status is OutcomeStatus.SENT

    def to_outcome(self) -> RecipientOutcome:
        """This item as the provider-neutral :class:`~crowdsms.outcomes.RecipientOutcome`."""
        return RecipientOutcome(
            phone=self.phone,
            status=self.status,
            message_id=self.send_id,
            fee=self.fee,
            code=self.code,
            message=self.message,
            retryable=self.retryable,
        )


@attrs.frozen(kw_only=True)
class MultisendResult:
    """The answer to one ``sms/multisend`` request: one item per recipient, in order.

    Some recipients may have failed while others were sent; that is a result, not an
    exception. Look at :attr:`failed` (or :attr:`all_sent`) before assuming success.
    """

    items: tuple[MultisendItem, ...]

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[MultisendItem]:
        return iter(self.items)

    @property
    def sent(self) -> tuple[MultisendItem, ...]:
        """The recipients SUBMAIL accepted."""
        return tuple(item for item in self.items if item.ok)

    @property
    def failed(self) -> tuple[MultisendItem, ...]:
        """The recipients SUBMAIL refused, with their codes."""
        return tuple(item for item in self.items if not item.ok)

    @property
    def all_sent(self) -> bool:
        """Whether every recipient was accepted."""
        return all(item.ok for item in self.items)

    @property
    def total_fee(self) -> int:
        """The billed messages over all accepted recipients (missing fees count as 0)."""
        return sum(item.fee or 0 for item in self.items if item.ok)

    @property
    def outcomes(self) -> tuple[RecipientOutcome, ...]:
        """One :class:`~crowdsms.outcomes.RecipientOutcome` per recipient, in order."""
        return tuple(item.to_outcome() for item in self.items)
