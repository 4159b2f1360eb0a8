"""``client.timestamp``: the provider's clock."""

from __future__ import annotations

from crowdsms._transport import Transport
from crowdsms.providers.sendcloud._models import ServerTime
from crowdsms.providers.sendcloud._server_time import parse_server_time, server_time_request

__all__ = ["TimestampEndpoints"]


class TimestampEndpoints:
    """Reading SendCloud's clock (``client.timestamp``)."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def __repr__(self) -> str:
        return f"<TimestampEndpoints {self._transport.base_url}>"

    async def get(self) -> ServerTime:
        """The provider's current time (``GET timestamp/get``, unsigned).

        This only reads the clock; the client measures its offset by itself when the
        provider rejects a timestamp, or on demand with ``client.measure_clock()``.
        """
        response = await self._transport.request(server_time_request())
        return parse_server_time(response)
