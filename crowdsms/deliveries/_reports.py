"""What the store keeps of a provider's event: a report about a sent message, or a reply.

Pushed events (from :class:`~crowdsms.webhooks.WebhookApp`) and pulled ones become the same
two records, so the store and the matching never care how a report arrived:

- :class:`ProviderReport`: the provider had a message (``accepted``), delivered it
  (``delivered``), could not (``undelivered``, with the carrier's code), or does not know
  (``unknown``). It carries what can tie it to a send: the message id, the phone, and the
  reference the request carried (a job and chunk, where the provider repeats one).
- :class:`InboundReply`: an SMS a recipient sent back, which may mean "stop".
"""

from __future__ import annotations

import enum
import hashlib
import time

import attrs

from crowdsms.phones import normalize_mainland_mobile
from crowdsms.webhooks._events import (
    DeliveryEvent,
    DeliveryOutcome,
    Event,
    MessageEvent,
    ReplyEvent,
)

__all__ = ["InboundReply", "ProviderReport", "ReportKind", "record_of", "report_phone"]


class ReportKind(str, enum.Enum):
    """What a report says of one message."""

    ACCEPTED = "accepted"
    """The provider had the request (e.g. a ``request`` or ``sending`` event)."""
    DELIVERED = "delivered"
    """The handset received it."""
    UNDELIVERED = "undelivered"
    """The carrier could not deliver it."""
    UNKNOWN = "unknown"
    """The carrier did not say whether it arrived (the provider still had it)."""

    @property
    def final(self) -> bool:
        """Whether it ends the message's delivery (delivered or undelivered)."""
        return self in (ReportKind.DELIVERED, ReportKind.UNDELIVERED)


def report_phone(raw: str | None) -> str | None:
    """The phone of a report as the SDK sends it (11 digits), or as received if not mainland."""
    if raw is None:
        return None
    text = raw.strip()
    if not text:
        return None
    try:
        return normalize_mainland_mobile(text)
    except ValueError:
        return text


def _key(*parts: object) -> str:
    digest = hashlib.sha256("\x1f".join("" if p is None else str(p) for p in parts).encode())
    return digest.hexdigest()[:32]


@attrs.frozen(kw_only=True)
class ProviderReport:
    """A provider's report about one sent message, as the store keeps it.

    ``reference`` is the reference the request carried (crowdsms sets it to name the job
    and chunk, where the provider repeats one); ``code`` the carrier's code of an
    undelivered message; ``occurred_at`` the provider's time of the event and
    ``received_at`` when crowdsms received it (Unix seconds). ``key`` identifies the report,
    so a push received twice is stored once.
    """

    provider: str
    kind: ReportKind
    phone: str | None
    message_id: str | None = None
    reference: str | None = None
    code: str | None = None
    occurred_at: float | None = None
    received_at: float = attrs.field(factory=time.time)

    @property
    def key(self) -> str:
        """A stable id of the report: the same event received twice has the same key."""
        return _key(
            self.provider,
            self.kind.value,
            self.phone,
            self.message_id,
            self.reference,
            self.code,
            self.occurred_at if self.occurred_at is not None else self.received_at,
        )


@attrs.frozen(kw_only=True)
class InboundReply:
    """An SMS ``phone`` sent back to the account, saying ``content``.

    ``received_at`` is when the provider says the reply came (Unix seconds), else when
    crowdsms received it: it dates the reply, and names it in :attr:`key`. Whether an
    opt-out applies to a job does not depend on it: a store keeps when it recorded each
    opt-out, and a job skips those recorded by its creation.
    """

    provider: str
    phone: str
    content: str
    received_at: float = attrs.field(factory=time.time)

    @property
    def key(self) -> str:
        """A stable id of the reply (the same push twice has the same key)."""
        return _key(self.provider, self.phone, self.content, self.received_at)


_KIND_OF_OUTCOME = {
    DeliveryOutcome.DELIVERED: ReportKind.DELIVERED,
    DeliveryOutcome.FAILED: ReportKind.UNDELIVERED,
    DeliveryOutcome.UNKNOWN: ReportKind.UNKNOWN,
}


def record_of(
    event: Event, *, received_at: float | None = None
) -> ProviderReport | InboundReply | None:
    """The record of ``event``; ``None`` for an event that is neither a report nor a reply.

    A :class:`~crowdsms.webhooks.DeliveryEvent` becomes a report of its outcome; any other
    :class:`~crowdsms.webhooks.MessageEvent` (a request accepted, a message being sent) an
    ``accepted`` report; a :class:`~crowdsms.webhooks.ReplyEvent` with a phone a reply.
    """
    now = time.time() if received_at is None else received_at
    if isinstance(event, ReplyEvent):
        phone = report_phone(event.phone)
        if phone is None:
            return None
        occurred = event.occurred_at.timestamp() if event.occurred_at is not None else now
        return InboundReply(
            provider=event.provider, phone=phone, content=event.content, received_at=occurred
        )
    if not isinstance(event, MessageEvent):
        return None
    if isinstance(event, DeliveryEvent):
        kind = _KIND_OF_OUTCOME[event.outcome]
        code = getattr(event, "carrier_code", None) if kind is ReportKind.UNDELIVERED else None
    else:
        kind, code = ReportKind.ACCEPTED, None
    return ProviderReport(
        provider=event.provider,
        kind=kind,
        phone=report_phone(event.phone),
        message_id=event.message_id,
        reference=getattr(event, "reference", None),
        code=code,
        occurred_at=event.occurred_at.timestamp() if event.occurred_at is not None else None,
        received_at=now,
    )
