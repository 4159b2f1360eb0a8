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

from crowdsms.providers.paasw._models import DeliveryReport, Reply
from crowdsms.providers.paasw._report_parsing import parse_pulled_deliveries, parse_pulled_replies
from crowdsms.providers.paasw._requests import (
    DELIVER_PATH,
    REPLIES_PATH,
    PaaswRequests,
    pull_request,
)
from crowdsms.providers.paasw._validation import check_sign

__all__ = ["ReportEndpoints"]


class ReportEndpoints:
    """Pulling delivery reports and replies: ``client.reports``."""

    def __init__(self, requests: PaaswRequests) -> None:
        self._requests = requests

    def __repr__(self) -> str:
        return "<paasw ReportEndpoints>"

    async def pull_deliveries(self, *, sign: str | None = None) -> list[DeliveryReport]:
        """Take the waiting delivery reports off the queue (``GET /sms/deliver``).

        ``sign`` limits them to one SMS signature. Returns an empty list when none wait.
        """
        fields = {} if sign is None else {"sign": check_sign(sign)}
        request = pull_request(
            DELIVER_PATH, operation="paasw.reports.pull_deliveries", fields=fields
        )
        return parse_pulled_deliveries(await self._requests.call(request))

    async def pull_replies(self, *, sign: str) -> list[Reply]:
        """Take the waiting replies (上行) for ``sign`` off the queue (``GET /sms/smsUp``)."""
        fields = {"sign": check_sign(sign)}
        request = pull_request(REPLIES_PATH, operation="paasw.reports.pull_replies", fields=fields)
        return parse_pulled_replies(await self._requests.call(request))
