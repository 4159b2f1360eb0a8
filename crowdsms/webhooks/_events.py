"""The typed events a push turns into, for every provider.

Four provider-neutral bases let one handler serve several providers:

- :class:`Event`: every event; ``provider``, ``kind`` (the provider's own name for it, as
  received) and ``raw`` (the pushed fields, for anything the typed fields leave out).
- :class:`MessageEvent`: about one sent message: ``message_id``, ``phone``, ``occurred_at``,
  and ``reference`` (the matching reference the send carried, where the provider echoes one).
- :class:`DeliveryEvent`: a delivery report; adds ``outcome`` (delivered, failed, unknown)
  and ``carrier_code`` (why an undelivered message was not delivered, where the push says).
- :class:`ReplyEvent`: an SMS a recipient sent back (上行): ``phone``, ``content``.

Event kinds crowdsms does not know become :class:`UnknownEvent`, never dropped. ``raw`` is
left out of ``repr`` and of equality.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

__all__ = [
    "DeliveryEvent",
    "DeliveryOutcome",
    "Event",
    "MessageEvent",
    "ReplyEvent",
    "UnknownEvent",
]


class DeliveryOutcome(enum.Enum):
    """What a delivery report says became of a message."""

    DELIVERED = "delivered"
    """The handset received the message."""
    FAILED = "failed"
    """The message was not delivered (dropped, refused, blocked, ...)."""
    UNKNOWN = "unknown"
    """The carrier did not say whether the message arrived."""


def _raw() -> Any:
    return attrs.field(factory=dict, repr=False, eq=False)


# -- provider-neutral bases ------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Event:
    """One pushed event.

    ``provider`` is the provider's registry name; ``kind`` the provider's name for the
    event as received (``"report"`` or ``"reply"`` for pushes that carry no name); ``raw``
    the pushed fields as received (a JSON object, or the form fields; a field sent twice in
    a form holds a list).
    """

    provider: str
    kind: str
    raw: Mapping[str, Any] = _raw()


@attrs.frozen(kw_only=True)
class MessageEvent(Event):
    """An event about one sent message.

    ``message_id`` is the id the send returned for it (for a provider whose ids name a
    whole batch, pair it with ``phone``); ``occurred_at`` an aware
    datetime, when the push says.
    """

    message_id: str | None = None
    phone: str | None = None
    occurred_at: datetime | None = None

    @property
    def reference(self) -> str | None:
        """The matching reference the send request carried, as the push echoes it.

        crowdsms sets it, where the provider takes one, to identify the job and chunk a
        message was sent in, so a report can be matched to a send whose answer was lost.
        ``None`` where the provider echoes no reference, or the request carried none.
        """
        return None


@attrs.frozen(kw_only=True)
class DeliveryEvent(MessageEvent):
    """A delivery report: what became of one message (see :class:`DeliveryOutcome`)."""

    outcome: DeliveryOutcome

    @property
    def delivered(self) -> bool:
        """Whether the message reached the handset."""
        return self.outcome is DeliveryOutcome.DELIVERED

    @property
    def carrier_code(self) -> str | None:
        """The carrier's (or provider's) code for why the message was not delivered.

        ``None`` when it was delivered, or when the push gives no code.
        """
        return None


@attrs.frozen(kw_only=True)
class ReplyEvent(Event):
    """An SMS a recipient sent back (上行, "MO"): from ``phone``, saying ``content``."""

    phone: str | None = None
    content: str = ""
    occurred_at: datetime | None = None


@attrs.frozen(kw_only=True)
class UnknownEvent(Event):
    """A verified event of a kind crowdsms does not know; everything is in ``raw``."""
