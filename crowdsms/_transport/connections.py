"""Connections that stay cheap under concurrency.

httpcore's connection pool spends time proportional to the number of connections it holds
on every request (connection assignment, expiry checks): with 64 connections in one pool its
cost per request doubles compared to 16 (measured on a 2-core machine; see
docs/architecture.md). crowdsms therefore does not put many connections in one httpx pool.
:class:`LanePool` keeps ``size`` lanes, each
an ``httpx.AsyncHTTPTransport`` holding a single keep-alive connection, and hands out an
idle lane per request from a stack (the most recently used first, so its connection is warm).
Checking a lane out and back in is O(1) whatever the size.

The lanes share one ``ssl.SSLContext`` (creating one loads the CA bundle, about 30 ms) and
read the proxy settings from the environment once, not per lane.

A user who brings an ``httpx.AsyncClient`` or a transport (for instance ``httpx-aiohttp``'s,
or a respx mock) gets :class:`ClientSender` or :class:`TransportSender` instead.
"""

from __future__ import annotations

import ssl
import urllib.request
from collections.abc import Callable
from typing import Protocol

import anyio
import anyio.lowlevel
import attrs
import httpx

from crowdsms._transport.httpx_log import redact_httpx_log
from crowdsms.errors import DeliveryCertainty, ResponseParseError

__all__ = [
    "AttemptState",
    "ClientSender",
    "LanePool",
    "Received",
    "Sender",
    "TransportSender",
    "environment_proxy",
]

# Shorter than the idle timeout of common servers (uvicorn 5 s, nginx 75 s), so that we close
# an idle connection before the server does and never write a request into a dying one.
KEEPALIVE_EXPIRY = 4.0


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

    async def send(self, request: httpx.Request, *, max_body: int, state: AttemptState) -> Received:
        """Send ``request`` and return the answer; raise httpx errors as they come."""
        ...

    async def aclose(self) -> None:
        """Close every connection this sender owns."""
        ...


async def read_limited(response: httpx.Response, *, max_body: int, operation: str) -> Received:
    """Read ``response``'s body, refusing one larger than ``max_body`` bytes."""
    try:
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_body:
            raise _too_large(int(declared), max_body, operation)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > max_body:
                raise _too_large(size, max_body, operation)
            chunks.append(chunk)
    finally:
        await response.aclose()
    return Received(response.status_code, response.headers, b"".join(chunks))


def _too_large(size: int, limit: int, operation: str) -> ResponseParseError:
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


def _operation(request: httpx.Request) -> str:
    value = request.extensions.get("crowdsms_operation", "")
    return value if isinstance(value, str) else ""


class TransportSender:
    """Sends through one shared ``httpx.AsyncBaseTransport`` (aiohttp's, a mock, ...)."""

    def __init__(self, transport: httpx.AsyncBaseTransport, *, owned: bool) -> None:
        self._transport = transport
        self._owned = owned

    async def send(self, request: httpx.Request, *, max_body: int, state: AttemptState) -> Received:
        """Send through the shared transport."""
        state.started = True
        response = await self._transport.handle_async_request(request)
        return await read_limited(response, max_body=max_body, operation=_operation(request))

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

    async def send(self, request: httpx.Request, *, max_body: int, state: AttemptState) -> Received:
        """Send through the user's client."""
        state.started = True
        response = await self._client.send(request, stream=True)
        return await read_limited(response, max_body=max_body, operation=_operation(request))

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


class LanePool:
    """``size`` single-connection lanes; each request takes an idle lane or waits for one."""

    def __init__(
        self,
        size: int,
        *,
        proxy: str | None = None,
        verify: ssl.SSLContext | bool = True,
        make_lane: Callable[[], httpx.AsyncBaseTransport] | None = None,
    ) -> None:
        if size < 1:
            raise ValueError(f"a client needs at least 1 connection, got max_connections={size}")
        self.size = size
        self._proxy = proxy
        self._verify = verify
        self._make_lane = make_lane or self._default_lane
        self._idle: list[httpx.AsyncBaseTransport] = []
        self._all: list[httpx.AsyncBaseTransport] = []
        self._free = anyio.Semaphore(size)
        self._closed = False

    def _default_lane(self) -> httpx.AsyncBaseTransport:
        verify: ssl.SSLContext | bool = self._verify
        if verify is True:
            verify = shared_ssl_context()
        return httpx.AsyncHTTPTransport(
            verify=verify,
            trust_env=False,
            proxy=self._proxy,
            limits=httpx.Limits(
                max_connections=1, max_keepalive_connections=1, keepalive_expiry=KEEPALIVE_EXPIRY
            ),
        )

    @property
    def lanes_open(self) -> int:
        """How many lanes exist (each holds at most one connection)."""
        return len(self._all)

    async def send(self, request: httpx.Request, *, max_body: int, state: AttemptState) -> Received:
        """Send on an idle lane, waiting for one if all are busy."""
        if self._closed:
            raise RuntimeError("this client is closed; create a new one")
        # ``async with self._free`` would also yield to the event loop after taking a free
        # lane, once per request; checking for cancellation is all that is needed first.
        await anyio.lowlevel.checkpoint_if_cancelled()
        try:
            self._free.acquire_nowait()
        except anyio.WouldBlock:
            await self._free.acquire()
        try:
            lane = self._idle.pop() if self._idle else self._new_lane()
            try:
                state.started = True
                response = await lane.handle_async_request(request)
                return await read_limited(
                    response, max_body=max_body, operation=_operation(request)
                )
            finally:
                self._idle.append(lane)
        finally:
            self._free.release()

    def _new_lane(self) -> httpx.AsyncBaseTransport:
        lane = self._make_lane()
        self._all.append(lane)
        return lane

    async def aclose(self) -> None:
        """Close every lane's connection."""
        self._closed = True
        lanes, self._all, self._idle = self._all, [], []
        for lane in lanes:
            await lane.aclose()
