"""`ReportRecorder`: the webhook handler that stores every report and reply it is given."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from crowdsms.deliveries._optout import OptOutWords
from crowdsms.deliveries._reports import InboundReply, ProviderReport, record_of
from crowdsms.deliveries._store import DeliveryStore, RecordResult
from crowdsms.webhooks._events import Event

__all__ = ["ReportRecorder"]

logger = logging.getLogger("crowdsms.deliveries")


class ReportRecorder:
    """Stores the delivery reports and replies of webhook events (and pulled ones).

    Give it to :class:`~crowdsms.webhooks.WebhookApp` as ``on_event=recorder`` (or as the
    handler of ``DeliveryEvent``, ``MessageEvent`` and ``ReplyEvent``): every report is
    kept, whether or not the store knows the message yet, and a reply that means "stop"
    (see :class:`OptOutWords`) puts its number on the suppression list. Events that are
    neither (template reviews) are ignored. A store error propagates, so the webhook app
    answers 500 and the provider pushes again: nothing acknowledged is lost.
    """

    def __init__(self, store: DeliveryStore, *, opt_out_words: OptOutWords | None = None) -> None:
        self.store = store
        self.words = opt_out_words or OptOutWords()

    def __repr__(self) -> str:
        return f"ReportRecorder({self.store!r})"

    async def __call__(self, event: Event) -> None:
        """Record ``event`` if it is a report or a reply."""
        await self.record_events([event])

    async def record_events(self, events: Iterable[Event]) -> RecordResult:
        """Record every report and reply among ``events`` in one write."""
        now = time.time()
        records: list[ProviderReport | InboundReply] = []
        for event in events:
            record = record_of(event, received_at=now)
            if record is not None:
                records.append(record)
        result = await self.store.record(records, words=self.words)
        for phone in result.opted_out:
            logger.info("deliveries: a number ending %s opted out", phone[-4:])
        return result
