"""The gateway's report queues pulled as webhook events (the registry's ``pull_events``).

A pulled report becomes exactly the event its push would: the pulled items go through the
push receivers' own parsing (:class:`PaaswDeliveryWebhook`, :class:`PaaswReplyWebhook`), so
``PaaswDeliveryReport`` events with the batch's ``bizId`` as ``message_id``, and
``PaaswReply`` events, with the same outcomes and times.

Pulling takes the reports off the gateway's queues: what a pull returned is gone from the
gateway, so the caller stores it before pulling again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from crowdsms.errors import CrowdSMSError
from crowdsms.providers.paasw._client import AsyncPaasw
from crowdsms.providers.paasw._validation import check_sign
from crowdsms.providers.paasw._webhooks import PaaswDeliveryWebhook, PaaswReplyWebhook
from crowdsms.webhooks._events import Event

__all__ = ["pull_events"]

logger = logging.getLogger("crowdsms.providers.paasw")

_DELIVERIES = PaaswDeliveryWebhook()
_REPLIES = PaaswReplyWebhook()


def _as_events(
    receiver: PaaswDeliveryWebhook | PaaswReplyWebhook, items: Sequence[Mapping[str, Any]]
) -> list[Event]:
    """The events a push of ``items`` (pulled, already checked) becomes."""
    if not items:
        return []
    return receiver.parse((), json.dumps(list(items), ensure_ascii=False))


async def pull_events(client: AsyncPaasw, sign: str | None = None) -> list[Event]:
    """Pull one batch of delivery reports, and of replies to ``sign``, as events.

    One ``/sms/deliver`` pull (reports of every sign), then, when ``sign`` is given, one
    ``/sms/smsUp`` pull of the replies to it (the gateway queues replies per sign, and the
    client has no default sign). An empty list means both queues were empty.

    A failed delivery pull is raised (see :mod:`crowdsms.providers.paasw._reports` for why
    it is not retried). If the reply pull fails after delivery reports were taken off
    their queue, the reports are returned rather than lost, and the failure is logged as a
    warning: the next pull asks for the replies again (and raises if that is all it gets).
    """
    if sign is not None:
        check_sign(sign)  # refused before anything is taken off a queue
    reports = await client.reports.pull_deliveries()
    events = _as_events(_DELIVERIES, [report.raw for report in reports])
    if sign is None:
        return events
    try:
        replies = await client.reports.pull_replies(sign=sign)
    except CrowdSMSError as exc:
        if not events:
            raise
        logger.warning(
            "paasw: returning %d pulled delivery reports without the replies, whose pull "
            "failed (%s: %s); the next pull asks for them again",
            len(events),
            type(exc).__name__,
            exc,
        )
        return events
    return events + _as_events(_REPLIES, [reply.raw for reply in replies])
