"""``client.timestamp``: the provider's clock, ``GET timestamp/get`` (unsigned)."""

from __future__ import annotations

from crowdsms._transport import ApiRequest, BodyEncoding, Transport
from crowdsms.providers.sendcloud._answers import parse_server_time
from crowdsms.providers.sendcloud._models import ServerTime

__all__ = ["TimestampEndpoints", "server_time_request"]


def server_time_request() -> ApiRequest:
    """The unsigned, idempotent request for the provider's clock.

    :meth:`TimestampEndpoints.get` makes it, and so does the transport (through the signer)
    when it measures the clock offset.
    """
    return ApiRequest(
        method="GET",
        path="timestamp/get",
        operation="sendcloud.timestamp.get",
        encoding=BodyEncoding.QUERY,
        idempotent=True,
        authenticate=False,
    )


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
