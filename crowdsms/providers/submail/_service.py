"""SUBMAIL's service endpoints (``client.service``): ``service/timestamp``."""

from __future__ import annotations

from crowdsms.providers.submail._converter import parse_timestamp
from crowdsms.providers.submail._requests import SubmailRequests, timestamp_request

__all__ = ["ServiceEndpoints"]


class ServiceEndpoints:
    """SUBMAIL's service endpoints (``client.service``)."""

    def __init__(self, requests: SubmailRequests) -> None:
        self._requests = requests

    def __repr__(self) -> str:
        return "<ServiceEndpoints>"

    async def timestamp(self) -> int:
        """SUBMAIL's current Unix time in seconds (``GET /service/timestamp``, unsigned).

        The call is idempotent, so it is retried after any failure. To correct the
        client's clock from it, call ``client.measure_clock()`` instead.
        """
        value, response = await self._requests.call(timestamp_request())
        return parse_timestamp(value, response)
