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

from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar

from crowdsms._parsing import parse_error
from crowdsms._transport import ApiRequest, ApiResponse, BodyEncoding
from crowdsms.errors import ResponseParseError
from crowdsms.providers.paasw._context import Context
from crowdsms.providers.paasw._envelope import read_answer
from crowdsms.providers.paasw._errors import ReportFormatError, ReportsParseError
from crowdsms.providers.paasw._models import DeliveryReport, Reply
from crowdsms.providers.paasw._report_parsing import parse_delivery_reports, parse_replies
from crowdsms.providers.paasw._validate import check_sign

__all__ = ["ReportEndpoints"]

DELIVER_PATH: Final = "/sms/deliver"
REPLIES_PATH: Final = "/sms/smsUp"

# Where an envelope object might hold the list (the seed shows bare arrays only).
_LIST_KEYS: Final = ("data", "list", "result", "rows", "records")

T = TypeVar("T")


class ReportEndpoints:
    """Pulling delivery reports and replies: ``client.reports``."""

    def __init__(self, context: Context) -> None:
        self._context = context

    def __repr__(self) -> str:
        return "<paasw ReportEndpoints>"

    async def pull_deliveries(self, *, sign: str | None = None) -> list[DeliveryReport]:
        """Take the waiting delivery reports off the queue (``GET /sms/deliver``).

        ``sign`` limits them to one SMS signature. Returns an empty list when none wait.
        """
        fields = {} if sign is None else {"sign": check_sign(sign)}
        response = await self._pull(DELIVER_PATH, "paasw.reports.pull_deliveries", fields)
        return _parse_pulled(response, parse_delivery_reports)

    async def pull_replies(self, *, sign: str) -> list[Reply]:
        """Take the waiting replies (上行) for ``sign`` off the queue (``GET /sms/smsUp``)."""
        fields = {"sign": check_sign(sign)}
        response = await self._pull(REPLIES_PATH, "paasw.reports.pull_replies", fields)
        return _parse_pulled(response, parse_replies)

    async def _pull(self, path: str, operation: str, fields: Mapping[str, str]) -> ApiResponse:
        request = ApiRequest(
            method="GET",
            path=path,
            operation=operation,
            fields=fields,
            encoding=BodyEncoding.QUERY,
            idempotent=False,  # pulling dequeues: see the module's docstring
        )
        return await self._context.call(request)


def _parse_pulled(response: ApiResponse, parse: Callable[[Any], list[T]]) -> list[T]:
    if not response.content.strip() and response.status_code < 300:
        return []  # nothing waiting
    try:
        items = _items(response, read_answer(response))
        return parse(items)
    except ReportFormatError as exc:
        cause = parse_error(response, exc.what)
        raise ReportsParseError(cause, body=response.content) from exc
    except ResponseParseError as exc:
        raise ReportsParseError(exc, body=response.content) from exc


def _items(response: ApiResponse, data: Any) -> list[Any]:
    """The list of items: a bare array, or the list inside a successful envelope."""
    if isinstance(data, list):
        return data
    if not isinstance(data, dict) or "code" not in data:
        raise parse_error(response, "the answer is neither a JSON array nor the gateway's envelope")
    for key in _LIST_KEYS:
        if key in data:
            value = data[key]
            if value is None:
                return []
            if isinstance(value, list):
                return value
            raise parse_error(response, f"the answer's {key!r} is not a JSON array")
    lists = [value for value in data.values() if isinstance(value, list)]
    if len(lists) == 1:
        return lists[0]
    if not lists:
        return []  # a success envelope with nothing in it: nothing waiting
    raise parse_error(response, "the answer holds several arrays; crowdsms cannot tell which")
