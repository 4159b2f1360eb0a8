"""Pulling queued reports and replies from a provider that keeps them for pulling.

Some providers queue delivery reports and replies until they are pulled, and a pull removes
what it returns: whatever is pulled must be stored before the next pull, or it is gone.
:func:`pull_into` stores each batch (durably) before it asks for the next one.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeAlias

from crowdsms.deliveries._optout import OptOutWords
from crowdsms.deliveries._recorder import ReportRecorder
from crowdsms.deliveries._store import DeliveryStore
from crowdsms.webhooks._events import Event

__all__ = ["MAX_PULLS", "PullEvents", "pull_into"]

PullEvents: TypeAlias = Callable[[str | None], Awaitable[Sequence[Event]]]
"""Pulls one batch of queued reports and replies (replies of an SMS sign, if given) as
webhook events; an empty batch when the queues are empty. E.g. the
``client.reports.pull_events`` of a provider that queues reports."""

logger = logging.getLogger("crowdsms.deliveries")

MAX_PULLS = 1000
"""The most pulls one call makes (a queue that never empties is someone else's problem)."""


async def pull_into(
    pull: PullEvents,
    store: DeliveryStore,
    *,
    sign: str | None = None,
    words: OptOutWords | None = None,
) -> int:
    """Pull queued reports and replies with ``pull`` into ``store``; how many were pulled.

    Each batch is stored (durably) before the next pull, since a pull removes them at the
    provider.
    """
    recorder = ReportRecorder(store, opt_out_words=words)
    pulled = 0
    for _ in range(MAX_PULLS):
        events = await pull(sign)
        if not events:
            break
        await recorder.record_events(events)
        pulled += len(events)
    else:
        logger.warning("deliveries: the queues still had reports after %d pulls", MAX_PULLS)
    return pulled
