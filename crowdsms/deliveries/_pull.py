"""Pulling queued reports and replies from a provider that keeps them for pulling.

Some providers queue delivery reports and replies until they are pulled, and a pull removes
what it returns: whatever is pulled must be stored before the next pull, or it is gone.
:func:`pull_into` stores each batch (durably) before it asks for the next one.
"""

from __future__ import annotations

import logging
from typing import Any

from crowdsms.deliveries._optout import OptOutWords
from crowdsms.deliveries._recorder import ReportRecorder
from crowdsms.deliveries._store import DeliveryStore
from crowdsms.providers import _registry

__all__ = ["MAX_PULLS", "can_pull", "pull_into"]

logger = logging.getLogger("crowdsms.deliveries")

MAX_PULLS = 1000
"""The most pulls one call makes (a queue that never empties is someone else's problem)."""


def can_pull(provider: str) -> bool:
    """Whether ``provider``'s reports can be pulled (rather than only pushed)."""
    return getattr(_registry.get(provider), "pull_events", None) is not None


async def pull_into(
    client: Any,
    store: DeliveryStore,
    *,
    provider: str,
    sign: str | None = None,
    words: OptOutWords | None = None,
) -> int:
    """Pull ``provider``'s queued reports and replies into ``store``; how many were pulled.

    Each batch is stored before the next pull. A provider whose reports are only pushed
    pulls nothing (0).
    """
    pull = getattr(_registry.get(provider), "pull_events", None)
    if pull is None:
        return 0
    recorder = ReportRecorder(store, opt_out_words=words)
    pulled = 0
    for _ in range(MAX_PULLS):
        events = await pull(client, sign)
        if not events:
            break
        await recorder.record_events(events)
        pulled += len(events)
    else:
        logger.warning("deliveries: %s still had reports after %d pulls", provider, MAX_PULLS)
    return pulled
