"""SUBMAIL's service endpoints (``client.service``)."""

from __future__ import annotations

from crowdsms.providers.submail._api import SubmailApi
from crowdsms.providers.submail._models import parse_timestamp

__all__ = ["AsyncSubmailService"]


class AsyncSubmailService:
    """SUBMAIL's service endpoints (``client.service``)."""

    def __init__(self, api: SubmailApi) -> None:
        self._api = api

    def __repr__(self) -> str:
        return "<AsyncSubmailService>"

    async def timestamp(self) -> int:
        """SUBMAIL's current Unix time in seconds (``GET /service/timestamp``, unsigned).

        The call is idempotent, so it is retried after any failure. To correct the
        client's clock from it, call ``client.measure_clock()`` instead.
        """
        value, response = await self._api.call(self._api.signer.server_time_request())
        return parse_timestamp(value, response)
