"""``client.reports``: pulling the queues of delivery reports and replies.

Pulling is not a pure read: the gateway takes the reports it returns off its queue. The
calls are therefore declared non-idempotent. An attempt whose answer was lost (a read
timeout, a 500) may have dequeued reports that will never come again; retrying it would
return the *next* reports and hide that loss, so crowdsms raises the error with
``certainty=UNKNOWN`` instead and lets you decide (pushes to your URL carry the same
reports). For the same reason an answer that cannot be parsed raises
:class:`ReportsParseError` with the whole body attached.
"""

from __future__ import annotations

import logging

from crowdsms.errors import CrowdSMSError
from crowdsms.providers.paasw._models import DeliveryReport, Reply
from crowdsms.providers.paasw._report_parsing import (
    Unreadable,
    parse_pulled_deliveries,
    parse_pulled_replies,
    readable,
)
from crowdsms.providers.paasw._requests import (
    DELIVER_PATH,
    REPLIES_PATH,
    PaaswRequests,
    pull_request,
)
from crowdsms.providers.paasw._validation import check_sign
from crowdsms.providers.paasw._webhooks import delivery_events, reply_events
from crowdsms.webhooks._events import Event

__all__ = ["ReportEndpoints"]

logger = logging.getLogger("crowdsms.providers.paasw")

_LEFT_OUT = "left out (pull_events returns it as an UnknownEvent)"


class ReportEndpoints:
    """Pulling delivery reports and replies: ``client.reports``."""

    def __init__(self, requests: PaaswRequests) -> None:
        self._requests = requests

    def __repr__(self) -> str:
        return "<paasw ReportEndpoints>"

    async def pull_deliveries(self, *, sign: str | None = None) -> list[DeliveryReport]:
        """Take the waiting delivery reports off the queue (``GET /sms/deliver``).

        ``sign`` limits them to one SMS signature. Returns an empty list when none wait. An
        item without a usable ``phoneNumber`` or ``code`` is left out with a warning (see
        :meth:`pull_events`, which keeps it).
        """
        return readable(await self._pull_deliveries(sign), "delivery report", fate=_LEFT_OUT)

    async def pull_replies(self, *, sign: str) -> list[Reply]:
        """Take the waiting replies (上行) for ``sign`` off the queue (``GET /sms/smsUp``).

        An item without a usable ``phoneNumber`` or ``content`` is left out with a warning
        (see :meth:`pull_events`, which keeps it).
        """
        return readable(await self._pull_replies(sign), "reply", fate=_LEFT_OUT)

    async def _pull_deliveries(self, sign: str | None) -> list[DeliveryReport | Unreadable]:
        fields = {} if sign is None else {"sign": check_sign(sign)}
        request = pull_request(
            DELIVER_PATH, operation="paasw.reports.pull_deliveries", fields=fields
        )
        return parse_pulled_deliveries(await self._requests.call(request))

    async def _pull_replies(self, sign: str) -> list[Reply | Unreadable]:
        fields = {"sign": check_sign(sign)}
        request = pull_request(REPLIES_PATH, operation="paasw.reports.pull_replies", fields=fields)
        return parse_pulled_replies(await self._requests.call(request))

    async def pull_events(self, sign: str | None = None) -> list[Event]:
        """Pull one batch of delivery reports, and of replies to ``sign``, as webhook events.

        The events are those a push of the same reports becomes (``PaaswDeliveryReport``
        with the batch's ``bizId`` as ``message_id``, ``PaaswReply``), so pulled and pushed
        reports are handled alike (e.g. by :class:`crowdsms.deliveries.ReportRecorder`).
        One ``/sms/deliver`` pull (reports of every sign), then, when ``sign`` is given, one
        ``/sms/smsUp`` pull of the replies to it. An empty list means both queues were empty.
        An item that is not a report or a reply (no number, no code or content) comes as an
        :class:`~crowdsms.webhooks.UnknownEvent` holding it, logged as a warning.
        Store what it returns before pulling again: the gateway has forgotten it.

        A failed delivery pull is raised (see the module's docstring for why it is not
        retried). If the reply pull fails after delivery reports were taken off their queue,
        the reports are returned rather than lost, and the failure is logged as a warning:
        the next pull asks for the replies again (and raises if that is all it gets).
        """
        if sign is not None:
            check_sign(sign)  # refused before anything is taken off a queue
        events = delivery_events(await self._pull_deliveries(None))
        if sign is None:
            return events
        try:
            replies = await self._pull_replies(sign)
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
        return events + reply_events(replies)
