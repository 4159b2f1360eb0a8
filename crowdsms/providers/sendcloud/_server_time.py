"""Reading SendCloud's clock: the unsigned ``GET timestamp/get`` (private)."""

from __future__ import annotations

from crowdsms._parsing import parse_error
from crowdsms._transport import ApiRequest, ApiResponse, BodyEncoding
from crowdsms.providers.sendcloud._envelope import info_as, parse_envelope, require_success
from crowdsms.providers.sendcloud._models import ServerTime
from crowdsms.providers.sendcloud._wire import TimestampInfo

__all__ = ["parse_server_time", "server_time_request"]

OPERATION = "sendcloud.timestamp.get"


def server_time_request() -> ApiRequest:
    """The unsigned, idempotent request for the provider's clock."""
    return ApiRequest(
        method="GET",
        path="timestamp/get",
        operation=OPERATION,
        encoding=BodyEncoding.QUERY,
        idempotent=True,
        authenticate=False,
    )


def parse_server_time(response: ApiResponse) -> ServerTime:
    """The provider's time from the answer to :func:`server_time_request`."""
    envelope = parse_envelope(response)
    require_success(envelope, response)
    info = info_as(envelope, TimestampInfo, response)
    if info.timestamp <= 0:
        raise parse_error(response, "the server time in info.timestamp is not a positive number")
    return ServerTime(milliseconds=info.timestamp)
