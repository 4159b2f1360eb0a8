"""What every sender shares: the answer, the attempt's progress, the body size limit.

The default senders are lanes (:mod:`crowdsms._transport.lanes`). A user who brings an
``httpx.AsyncClient`` or an httpx transport (a respx mock, a proxy setup) gets
:class:`ClientSender` or :class:`TransportSender` instead.
"""

from __future__ import annotations

import ssl
import urllib.request
from collections.abc import AsyncIterable
from typing import Protocol

import attrs
import httpx

from crowdsms._transport.httpx_log import redact_httpx_log
from crowdsms._transport.wire import WireRequest
from crowdsms.errors import DeliveryCertainty, ResponseParseError

__all__ = [
    "AttemptState",
    "ClientSender",
    "Received",
    "Sender",
    "TransportSender",
    "environment_proxy",
    "read_body",
    "shared_ssl_context",
    "too_large",
]


@attrs.define
class AttemptState:
    """What one attempt got to; tells a deadline hit before sending from one after."""

    started: bool = False


@attrs.frozen
class Received:
    """A complete answer: status, headers and the body read up to the size limit."""

    status_code: int
    headers: httpx.Headers
    content: bytes


class Sender(Protocol):
    """Sends one request and reads its answer in full."""

    async def send(self, request: WireRequest, *, max_body: int, state: AttemptState) -> Received:
        """Send ``request`` and return the answer; raise httpx errors as they come.

        Senders over other libraries raise the httpx error of the same meaning, so that one
        classification (:mod:`crowdsms._transport.classify`) serves every sender.
        """
        ...

    async def aclose(self) -> None:
        """Close every connection this sender owns."""
        ...


async def read_body(
    chunks: AsyncIterable[bytes], *, declared: str | None, max_body: int, operation: str
) -> bytes:
    """The whole body from ``chunks``, refusing one larger than ``max_body`` bytes.

    ``declared`` is the answer's ``Content-Length``: one over the limit is refused before
    reading anything. Every sender reads its library's body stream through this.
    """
    if declared is not None and declared.isdigit() and int(declared) > max_body:
        raise too_large(int(declared), max_body, operation)
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > max_body:
            raise too_large(size, max_body, operation)
        parts.append(chunk)
    return parts[0] if len(parts) == 1 else b"".join(parts)


async def read_limited(response: httpx.Response, *, max_body: int, operation: str) -> Received:
    """Read ``response``'s body, refusing one larger than ``max_body`` bytes."""
    try:
        content = await read_body(
            response.aiter_bytes(),
            declared=response.headers.get("content-length"),
            max_body=max_body,
            operation=operation,
        )
    finally:
        await response.aclose()
    return Received(response.status_code, response.headers, content)


def too_large(size: int, limit: int, operation: str) -> ResponseParseError:
    """The error for an answer over ``limit`` bytes (``size``: what was seen so far)."""
    return ResponseParseError(
        f"the answer is larger than the limit of {limit} bytes",
        certainty=DeliveryCertainty.UNKNOWN,
        operation=operation,
        received=f"at least {size} bytes",
        action=(
            "The provider or a proxy sent far more than any API answer needs; if that is "
            "expected, raise the client's max_response_bytes"
        ),
    )


class TransportSender:
    """Sends through one shared ``httpx.AsyncBaseTransport`` (aiohttp's, a mock, ...)."""

    def __init__(self, transport: httpx.AsyncBaseTransport, *, owned: bool) -> None:
        self._transport = transport
        self._owned = owned

    async def send(self, request: WireRequest, *, max_body: int, state: AttemptState) -> Received:
        """Send through the shared transport."""
        state.started = True
        response = await self._transport.handle_async_request(request.to_httpx())
        return await read_limited(response, max_body=max_body, operation=request.operation)

    async def aclose(self) -> None:
        """Close the transport if this client created it."""
        if self._owned:
            await self._transport.aclose()


class ClientSender:
    """Sends through a user-supplied ``httpx.AsyncClient`` (its pool, proxies, hooks).

    The client logs each request's URL at INFO; credentials in query strings are masked
    in those records (:func:`~crowdsms._transport.httpx_log.redact_httpx_log`).
    """

    def __init__(self, client: httpx.AsyncClient, *, owned: bool) -> None:
        self._client = client
        self._owned = owned
        redact_httpx_log()

    async def send(self, request: WireRequest, *, max_body: int, state: AttemptState) -> Received:
        """Send through the user's client."""
        state.started = True
        # Never a redirect, whatever the client was made with: the request would carry its
        # signature or token to wherever the answer points.
        response = await self._client.send(request.to_httpx(), stream=True, follow_redirects=False)
        return await read_limited(response, max_body=max_body, operation=request.operation)

    async def aclose(self) -> None:
        """Close the client only if this SDK created it; a user's client is the user's."""
        if self._owned:
            await self._client.aclose()


def environment_proxy(base_url: str) -> str | None:
    """The proxy the environment asks for when reaching ``base_url`` (read once per client)."""
    url = httpx.URL(base_url)
    if urllib.request.proxy_bypass_environment(url.host):  # type: ignore[attr-defined]
        return None
    proxies: dict[str, str] = urllib.request.getproxies_environment()
    return proxies.get(url.scheme) or proxies.get("all")


_shared_ssl_context: ssl.SSLContext | None = None


def shared_ssl_context() -> ssl.SSLContext:
    """One default TLS context for every lane of every client (built on first use)."""
    global _shared_ssl_context
    if _shared_ssl_context is None:
        _shared_ssl_context = httpx.create_ssl_context()
    return _shared_ssl_context
