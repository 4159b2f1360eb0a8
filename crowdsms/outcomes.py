"""Recipients and what happened to each of them.

A multi-recipient send answers per recipient: some sent, some refused. crowdsms reports that
as one :class:`RecipientOutcome` per recipient, in the order they were given, never as an
exception for the whole request. The batch sender uses the same type, plus ``skipped`` for
recipients it refused before sending.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NoReturn, Protocol

import attrs
from typing_extensions import Self

from crowdsms.errors import CrowdSMSError, DeliveryCertainty, ProviderError, RequestError

__all__ = [
    "CheckedRecipients",
    "ChunkSender",
    "Delivery",
    "DeliveryState",
    "OutcomeStatus",
    "PreSkipped",
    "Recipient",
    "RecipientOutcome",
    "is_checked_by",
    "outcomes_for_error",
]


class OutcomeStatus(str, enum.Enum):
    """What happened to one recipient."""

    SENT = "sent"
    """The provider accepted the message for this recipient."""
    FAILED = "failed"
    """The provider refused it, or the request failed before the provider acted."""
    UNKNOWN = "unknown"
    """The request may have been processed: check delivery reports before sending again."""
    SKIPPED = "skipped"
    """Not sent: the recipient was invalid or a duplicate."""


def _vars(value: Mapping[str, object]) -> Mapping[str, str]:
    return {str(key): str(item) for key, item in value.items()}


@attrs.frozen
class Recipient:
    """A phone number and the template variables for it."""

    phone: str
    vars: Mapping[str, str] = attrs.field(factory=dict, converter=_vars)


@attrs.frozen
class PreSkipped:
    """An input item already judged: the batch sender skips it with ``code`` and ``message``.

    A campaign's shard yields one for a number whose first occurrence is in another shard, so
    duplicates are skipped campaign-wide, not per shard.
    """

    phone: str
    code: str
    message: str


class DeliveryState(str, enum.Enum):
    """What the provider's delivery reports say became of a sent message."""

    DELIVERED = "delivered"
    """The handset received it."""
    UNDELIVERED = "undelivered"
    """The carrier could not deliver it (see :attr:`Delivery.code`)."""
    AWAITING = "awaiting"
    """Sent, but no final report has arrived (yet)."""


@attrs.frozen(kw_only=True)
class Delivery:
    """The delivery state of one sent recipient, from the provider's reports.

    ``code`` is the carrier's (or provider's) code of an undelivered message; ``at`` when
    the report says it happened (Unix seconds), when it says.
    """

    state: DeliveryState
    code: str | None = None
    at: float | None = None


@attrs.frozen(kw_only=True)
class RecipientOutcome:
    """The result for one recipient.

    ``phone`` is the number as sent (normalized) or, for a skipped recipient, as given.
    ``message_id`` and ``fee`` are the provider's, when sent. ``code`` and ``message`` say
    why it failed or was skipped; ``retryable`` whether trying again later could help.

    After reconciliation with the provider's reports (see :mod:`crowdsms.deliveries`),
    ``confirmed`` says the recipient was ``unknown`` (the send's answer was lost) and a
    report proved the provider had the message, so it is now ``sent``; ``delivery`` is the
    delivery state of a sent recipient (``None`` before any reconciliation).

    ``provider`` names the provider whose answer the outcome is: the one that sent it,
    refused it last, or may have sent it (``unknown``). Senders that choose between
    providers set it (:class:`~crowdsms.failover.FailoverChunkSender` sets the name or
    label each provider was given); ``None`` where no provider was chosen or none answered
    for the recipient (a request that failed as a whole, a skipped recipient).
    """

    phone: str
    status: OutcomeStatus
    message_id: str | None = None
    fee: float | None = None
    code: str | None = None
    message: str | None = None
    retryable: bool = False
    confirmed: bool = False
    delivery: Delivery | None = None
    provider: str | None = None

    @classmethod
    def sent(cls, phone: str, message_id: str | None, fee: float | None = None) -> Self:
        """``RecipientOutcome(phone=phone, status=SENT, message_id=message_id, fee=fee)``.

        The same outcome, made in about a third of the machine instructions: reading a
        provider's answer makes one per recipient sent. It is filled in as an
        :class:`_OutcomeInTheMaking` (the same slots, set by plain assignment) and then
        made a ``RecipientOutcome``.
        """
        if cls is not RecipientOutcome:  # a subclass may have fields of its own
            return cls(phone=phone, status=_SENT, message_id=message_id, fee=fee)
        outcome: Any = _new(_OutcomeInTheMaking)
        outcome.phone = phone
        outcome.status = _SENT
        outcome.message_id = message_id
        outcome.fee = fee
        outcome.code = None
        outcome.message = None
        outcome.retryable = False
        outcome.confirmed = False
        outcome.delivery = None
        outcome.provider = None
        outcome.__class__ = RecipientOutcome
        return outcome  # type: ignore[no-any-return]


class _OutcomeInTheMaking(RecipientOutcome):
    """A :class:`RecipientOutcome` being filled in by :meth:`RecipientOutcome.sent`.

    The same slots, with ``object``'s own attribute setting instead of the frozen class's:
    an assignment writes the slot directly, where the frozen class's fields can be set
    only through each slot's ``__set__`` (a call of its own, about five times the cost).
    Once every field is set, the instance's ``__class__`` becomes ``RecipientOutcome``,
    which Python allows between classes of the same layout (this one adds no slot). No
    instance of this class outlives that one function; the class itself shows only in
    ``RecipientOutcome.__subclasses__()``.
    """

    __slots__ = ()
    __setattr__ = object.__setattr__
    __delattr__ = object.__delattr__


# RecipientOutcome.sent() sets every field by name: the fields must be these.
_FIELDS = (
    "phone",
    "status",
    "message_id",
    "fee",
    "code",
    "message",
    "retryable",
    "confirmed",
    "delivery",
    "provider",
)
if tuple(field.name for field in attrs.fields(RecipientOutcome)) != _FIELDS or any(
    field.converter is not None or field.validator is not None
    for field in attrs.fields(RecipientOutcome)
):
    raise AssertionError("RecipientOutcome.sent() does not set the class's fields")
_new = object.__new__
_SENT = OutcomeStatus.SENT


class CheckedRecipients(tuple[Recipient, ...]):
    """Recipients a chunk sender's ``validate`` returned, so its ``send_chunk`` skips them.

    ``checked_by`` is that chunk sender. The batch sender validates every recipient at most
    once, when it screens the input (not at all one that the chunk sender's
    ``valid_as_given_with_vars`` promise says is its own validated form), and hands each
    chunk to ``send_chunk`` as a ``CheckedRecipients`` checked by the same chunk sender; a
    chunk sender then skips its check of each recipient (see :func:`is_checked_by`) and
    keeps its checks of the chunk as a whole (its size, numbers given twice). Anything else,
    a plain list above all, gets every check, with the same errors.

    Make one only of recipients exactly as ``checked_by.validate`` returned them (or, by its
    promise, would return them), for ``checked_by`` itself: validation depends on the sender
    (its template's variables, its provider's rules). An immutable tuple: a slice, a copy or
    a pickle of one is a plain tuple, so the mark never outlives the objects it was made
    for.
    """

    _checked_by: object

    def __new__(cls, recipients: Iterable[Recipient], *, checked_by: object) -> Self:
        """``recipients``, marked as validated by ``checked_by``."""
        checked = super().__new__(cls, recipients)
        object.__setattr__(checked, "_checked_by", checked_by)
        return checked

    @property
    def checked_by(self) -> object:
        """The chunk sender whose ``validate`` returned these recipients."""
        return self._checked_by

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __reduce__(self) -> tuple[Any, ...]:
        return (tuple, (tuple(self),))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({tuple.__repr__(self)}, "
            f"checked_by=<{type(self._checked_by).__name__}>)"
        )


def is_checked_by(recipients: Sequence[Recipient], sender: object) -> bool:
    """Whether ``recipients`` are :class:`CheckedRecipients` that ``sender`` validated.

    A chunk sender's ``send_chunk`` asks this with itself as ``sender`` before it skips
    checking each recipient again.
    """
    return isinstance(recipients, CheckedRecipients) and recipients.checked_by is sender


class ChunkSender(Protocol):
    """What the batch sender needs from a multi-recipient endpoint.

    ``max_chunk_size`` is the most recipients one request may carry. ``send_chunk`` sends
    one request and returns exactly one outcome per recipient, in the same order. A failure
    of the whole request is raised as a :class:`~crowdsms.errors.CrowdSMSError`; the batch
    sender turns it into per-recipient outcomes with :func:`outcomes_for_error`.
    ``idempotency_key`` is passed where the provider deduplicates sends.

    A chunk sender may also have ``max_connections`` (``int | None``): how many requests
    its client can keep in flight. The batch sender refuses a ``concurrency`` above it, which
    would otherwise be capped without a word.

    A chunk sender may also have ``supports_reference`` (``bool``): whether the provider can
    carry a reference of the caller's into its delivery reports. When it is true, the batch
    sender calls ``send_chunk(recipients, idempotency_key=..., reference=...)`` with a short
    text (at most 32 ASCII characters) naming the job and the chunk; the provider repeats it
    in every report of that request, so the reports can be matched to the chunk even when
    the send's answer was lost. Callers read it as ``getattr(sender, "supports_reference",
    False)`` and pass a ``reference`` only where it is true, so a chunk sender without it
    keeps working. Every built-in chunk sender declares it and takes the ``reference``
    keyword (ignored where it is false), so ``reference=None`` can always be passed to one.

    A chunk sender may also have ``render(recipient) -> str | None``: the final text that
    recipient gets (variables filled in, signature included), which previews and spend caps
    count in segments (:func:`crowdsms.segments.count_segments`); ``None`` when it cannot
    tell, with the reason in ``segments_note`` (``str | None``). ``price_per_segment``
    (``float | None``) is its provider's default price estimate of one segment, in CNY.
    All three are read with ``getattr``, so a chunk sender without them keeps working (its
    previews say the segments are unknown).

    A chunk sender may also have ``target`` (``Mapping[str, str]``): where its chunks go,
    with nothing secret in it: ``provider``, ``base_url`` (no user name, password or query)
    and ``account`` (the identity it signs with, e.g. an app id; never a key, nor anything
    derived from one). A journaled job records it and refuses to resume with a chunk sender
    whose target differs in a key both have (see :class:`~crowdsms.batch.BatchSender`'s
    ``target``). Read with ``getattr``: a chunk sender without it is not checked.

    A chunk sender may also have ``valid_as_given_with_vars`` (``frozenset[str] | None``): a
    promise about its ``validate``. When it is a set of variable names, ``validate`` returns
    the recipient itself, unchanged, whenever the recipient is a plain :class:`Recipient`
    whose ``phone`` passes :func:`crowdsms.phones.is_known_mobile` (11 ASCII digits with a
    prefix already accepted) and whose ``vars`` hold every one of those names. The batch
    sender then checks that much itself and calls ``validate`` only for the other
    recipients (about 2,300 machine instructions saved per recipient covered, a few
    percent of a batch job's client CPU). ``None``, or no such attribute, promises nothing. Only
    a promise the chunk sender holds itself counts, not one a wrapper forwards through
    ``__getattr__`` from the sender it wraps; a subclass that overrides ``validate`` must
    not inherit one (a built-in chunk sender's promise is ``None`` then).

    Validation happens at most once per recipient: the batch sender calls ``validate`` for
    each recipient the promise does not cover when it screens the input (an invalid one is
    ``skipped``, never sent), and passes each chunk of validated recipients to
    ``send_chunk`` of the same chunk sender as :class:`CheckedRecipients` with
    ``checked_by`` that chunk sender. ``send_chunk`` may then skip its own check of each
    recipient (:func:`is_checked_by`); it still refuses a chunk too large. Given anything
    else (a plain list from your own code), it checks every recipient as ``validate`` does
    and raises the same :class:`~crowdsms.errors.InvalidInputError`.
    """

    @property
    def max_chunk_size(self) -> int:
        """The most recipients one request may carry."""
        ...

    @property
    def supports_idempotency_key(self) -> bool:
        """Whether ``send_chunk`` passes ``idempotency_key`` to the provider."""
        ...

    def validate(self, recipient: Recipient, *, position: int) -> Recipient:
        """Return the recipient normalized, or raise InvalidInputError before any send."""
        ...

    async def send_chunk(
        self, recipients: Sequence[Recipient], *, idempotency_key: str | None = None
    ) -> Sequence[RecipientOutcome]:
        """Send one request for ``recipients``; one outcome each, in order.

        Recipients it did not validate itself are checked first (see the class).
        """
        ...


def outcomes_for_error(
    recipients: Sequence[Recipient], error: CrowdSMSError
) -> list[RecipientOutcome]:
    """One outcome per recipient for a request that failed as a whole.

    ``UNKNOWN`` certainty becomes ``unknown`` (the provider may have sent it); anything
    else becomes ``failed``.
    """
    certainty = getattr(error, "certainty", DeliveryCertainty.NOT_SENT)
    status = (
        OutcomeStatus.UNKNOWN if certainty is DeliveryCertainty.UNKNOWN else OutcomeStatus.FAILED
    )
    if isinstance(error, ProviderError):
        code, retryable = error.code, error.retryable
    elif isinstance(error, RequestError):
        code, retryable = type(error).__name__, certainty is DeliveryCertainty.NOT_SENT
    else:
        code, retryable = type(error).__name__, False
    return [
        RecipientOutcome(
            phone=recipient.phone,
            status=status,
            code=code,
            message=str(error),
            retryable=retryable,
        )
        for recipient in recipients
    ]
