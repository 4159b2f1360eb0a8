"""Pulling queued reports and replies from a provider that keeps them for pulling.

Some providers queue delivery reports and replies until they are pulled, and a pull removes
what it returns: whatever is pulled must be stored before the next pull, or it is gone.
:func:`pull_into` stores each batch (durably) before it asks for the next one.

An item the provider's client cannot read (an :class:`~crowdsms.webhooks.UnknownEvent`)
is removed from the queue too, but no store can keep it: it is not counted as
pulled, and once every batch is stored :func:`pull_into` raises
:class:`UnreadablePulledError` carrying those items (their ``raw`` fields), so they are not
lost without trace.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeAlias

from crowdsms.deliveries._optout import OptOutWords
from crowdsms.deliveries._recorder import ReportRecorder
from crowdsms.deliveries._store import DeliveryStore
from crowdsms.errors import CrowdSMSError
from crowdsms.webhooks._events import Event, UnknownEvent

__all__ = ["MAX_PULLS", "PullEvents", "UnreadablePulledError", "pull_into"]

PullEvents: TypeAlias = Callable[[str | None], Awaitable[Sequence[Event]]]
"""Pulls one batch of queued reports and replies (replies of an SMS sign, if given) as
webhook events; an empty batch when the queues are empty. E.g. the
``client.reports.pull_events`` of a provider that queues reports."""

logger = logging.getLogger("crowdsms.deliveries")

MAX_PULLS = 1000
"""The most pulls one call makes (a queue that never empties is someone else's problem)."""


class UnreadablePulledError(CrowdSMSError):
    """Pulled items the provider's client could not read: the provider removed them from
    its queue and no store kept them. Raised by :func:`pull_into` after every readable
    report and reply was stored.

    ``events`` holds them (each ``raw`` as the provider sent it: it may hold phone numbers,
    so keep it out of logs), ``pulled`` how many reports and replies were pulled.
    """

    def __init__(self, events: Sequence[UnknownEvent], *, pulled: int) -> None:
        super().__init__(
            f"{len(events)} pulled item(s) could not be read and were not stored; the "
            "provider no longer queues them",
            received=f"{pulled} readable report(s) and reply(ies) pulled and stored",
            action=(
                "Check the provider client's warnings for what is wrong with them; their "
                "fields are in this error's events. The next pull goes on with the queue"
            ),
        )
        self.events = tuple(events)
        self.pulled = pulled


async def pull_into(
    pull: PullEvents,
    store: DeliveryStore,
    *,
    sign: str | None = None,
    words: OptOutWords | None = None,
) -> int:
    """Pull queued reports and replies with ``pull`` into ``store``; how many were pulled.

    Each batch is stored (durably) before the next pull, since a pull removes them at the
    provider. Items the client could not read (:class:`~crowdsms.webhooks.UnknownEvent`)
    are not counted: once the queues are emptied and the rest stored, they are logged (their
    count) and raised as :class:`UnreadablePulledError`.
    """
    recorder = ReportRecorder(store, opt_out_words=words)
    pulled = 0
    unreadable: list[UnknownEvent] = []
    for _ in range(MAX_PULLS):
        events = await pull(sign)
        if not events:
            break
        await recorder.record_events(events)
        unknown = [event for event in events if isinstance(event, UnknownEvent)]
        unreadable += unknown
        pulled += len(events) - len(unknown)
    else:
        logger.warning("deliveries: the queues still had reports after %d pulls", MAX_PULLS)
    if unreadable:
        logger.warning(
            "deliveries: %d pulled item(s) could not be read and were not stored "
            "(raised as UnreadablePulledError)",
            len(unreadable),
        )
        raise UnreadablePulledError(unreadable, pulled=pulled)
    return pulled
