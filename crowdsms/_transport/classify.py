"""Turn what went wrong in one attempt into a typed error with a delivery certainty.

The rule: a failure is ``NOT_SENT`` only when the provider provably did not see a complete
request (the connection was never made, we could not finish writing the body, we waited for
a free connection) or it said so itself (429, 503, 408). Everything after the body was
written, a read timeout, a connection lost while waiting for the answer, a 500, is
``UNKNOWN``: the provider may have processed it and sent the messages.

A write that timed out is ``NOT_SENT`` only when the connection provably dropped what it had
not sent yet (:class:`UnsentWriteTimeout`, raised by crowdsms's own lanes). httpx's plain
``WriteTimeout`` is ``UNKNOWN``: over anyio's streams on asyncio (a proxy, a transport of the
user's, uvloop, Windows' proactor loop), the rest of the request sits in the event loop's
buffer when the wait for it to drain times out, and the loop goes on writing it until the
connection is aborted.
"""

from __future__ import annotations

import httpx

from crowdsms._transport.request import ApiResponse
from crowdsms.errors import (
    ConfigurationError,
    ConnectionFailedError,
    CrowdSMSError,
    DeliveryCertainty,
    HTTPStatusError,
    RateLimitedError,
    RequestError,
    RequestTimeoutError,
    ResponseParseError,
    excerpt,
)

__all__ = ["UnsentWriteTimeout", "error_for_exception", "error_for_status"]

NOT_SENT = DeliveryCertainty.NOT_SENT
UNKNOWN = DeliveryCertainty.UNKNOWN


class UnsentWriteTimeout(httpx.WriteTimeout):
    """Writing the request timed out and the connection was dropped with the rest unsent.

    Raised only where that is certain: httpcore's trio backend (trio's sockets hand bytes
    straight to the kernel and keep none back), or crowdsms's asyncio stream, which aborts
    the connection before raising.
    """


_TIMEOUTS: tuple[tuple[type[httpx.TimeoutException], DeliveryCertainty, str], ...] = (
    (httpx.ConnectTimeout, NOT_SENT, "connecting to the provider timed out"),
    (httpx.PoolTimeout, NOT_SENT, "no free connection became available in time"),
    (UnsentWriteTimeout, NOT_SENT, "sending the request body timed out"),
    (
        httpx.WriteTimeout,
        UNKNOWN,
        "sending the request timed out, and what was written may still reach the provider",
    ),
    (httpx.ReadTimeout, UNKNOWN, "the provider took too long to answer"),
)

_TRANSPORT_ERRORS: tuple[tuple[type[httpx.TransportError], DeliveryCertainty, str], ...] = (
    (httpx.ConnectError, NOT_SENT, "could not connect to the provider"),
    (httpx.ProxyError, NOT_SENT, "the proxy refused the connection"),
    (httpx.WriteError, NOT_SENT, "the connection broke while the request was being written"),
    (httpx.LocalProtocolError, NOT_SENT, "the request could not be written as valid HTTP"),
    (httpx.ReadError, UNKNOWN, "the connection broke while waiting for the answer"),
    (
        httpx.RemoteProtocolError,
        UNKNOWN,
        "the provider closed the connection or answered with invalid HTTP",
    ),
)


def error_for_exception(exc: Exception, *, operation: str, url: str | None = None) -> CrowdSMSError:
    """Map an exception raised by httpx during one attempt to a crowdsms error.

    ``url`` (the base URL and path, never the query, which may hold a credential) is named
    in connection and timeout errors, so a wrong host or port is visible.
    """
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    where = f" ({url})" if url else ""
    if isinstance(exc, httpx.TimeoutException):
        for kind, certainty, what in _TIMEOUTS:
            if isinstance(exc, kind):
                return RequestTimeoutError(
                    what + where, certainty=certainty, operation=operation, received=detail
                )
        return RequestTimeoutError(
            "the request timed out", certainty=UNKNOWN, operation=operation, received=detail
        )
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
        return ConfigurationError(
            f"{operation}: the base URL cannot be used",
            received=detail,
            action="Check the client's base_url setting (scheme http or https, host, path)",
        )
    if isinstance(exc, httpx.DecodingError):
        return ResponseParseError(
            "the answer's content encoding is invalid",
            certainty=UNKNOWN,
            operation=operation,
            received=detail,
        )
    for error_kind, certainty, what in _TRANSPORT_ERRORS:
        if isinstance(exc, error_kind):
            return ConnectionFailedError(
                what + where, certainty=certainty, operation=operation, received=detail
            )
    return ConnectionFailedError(
        "the request failed in transit" + where,
        certainty=UNKNOWN,
        operation=operation,
        received=detail,
    )


def error_for_status(
    response: ApiResponse,
    *,
    certainty: DeliveryCertainty,
    retry_after: float | None,
) -> RequestError:
    """The error for an HTTP status the transport does not hand to the endpoint."""
    status = response.status_code
    received = f"HTTP {status}, body {excerpt(response.content)}"
    if status == 429:
        return RateLimitedError(
            "the provider is rate limiting us (HTTP 429)",
            status_code=status,
            retry_after=retry_after,
            operation=response.operation,
            received=received,
        )
    what = (
        f"the provider did not process the request (HTTP {status})"
        if certainty is NOT_SENT
        else f"the provider failed while handling the request (HTTP {status})"
    )
    return HTTPStatusError(
        what,
        status_code=status,
        certainty=certainty,
        operation=response.operation,
        received=received,
    )
