"""Lanes: one connection each, handed out from a stack, so concurrency stays cheap.

httpcore's connection pool spends time proportional to the number of connections it holds
on every request (connection assignment, expiry checks): with 64 connections in one pool its
cost per request doubles compared to 16 (measured on a 2-core machine; see
docs/architecture.md). crowdsms therefore never puts many connections in one pool.
:class:`LanePool` keeps ``size`` lanes, each holding a single keep-alive connection, and
hands out an idle lane per request from a stack (the most recently used first, so its
connection is warm). Checking a lane out and back in is O(1) whatever the size.

Three kinds of lane, all sharing one ``ssl.SSLContext`` (creating one loads the CA bundle,
about 30 ms):

- :class:`HttpcoreLane`, the default: one ``httpcore`` HTTP/1.1 connection, driven directly.
  httpcore is the engine under httpx; skipping httpx's request and response objects and its
  pool saves about a fifth of the client's CPU per request. Runs on asyncio and trio; on
  asyncio its connections sit straight on asyncio's sockets
  (:mod:`crowdsms._transport.asyncio_stream`), not on anyio's streams.
- :class:`HttpxLane`: an ``httpx.AsyncHTTPTransport`` limited to one connection, for a
  proxy (httpx's proxy support) or a transport a test builds.
- :class:`~crowdsms._transport.aiohttp_lane.AiohttpLane`, the fast one on asyncio.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import Protocol

import anyio
import anyio.lowlevel
import httpcore
import httpx
import sniffio

from crowdsms._transport.asyncio_stream import AsyncioBackend
from crowdsms._transport.classify import UnsentWriteTimeout
from crowdsms._transport.connections import (
    AttemptState,
    Received,
    read_body,
    read_limited,
    shared_ssl_context,
)
from crowdsms._transport.wire import WireRequest

__all__ = [
    "KEEPALIVE_EXPIRY",
    "HttpcoreLane",
    "HttpxLane",
    "Lane",
    "LanePool",
    "httpx_error_for",
]

KEEPALIVE_EXPIRY = 4.0
"""Seconds an idle connection is kept: shorter than the idle timeout of common servers
(uvicorn 5 s, nginx 75 s), so that we close an idle connection before the server does and
never write a request into a dying one."""


class Lane(Protocol):
    """One connection's worth of sending: at most one request at a time."""

    async def send(self, request: WireRequest, *, max_body: int) -> Received:
        """Send ``request`` and read its answer; raise httpx errors as they come."""
        ...

    @property
    def connections_open(self) -> int:
        """How many connections the lane holds open (0 or 1)."""
        ...

    async def aclose(self) -> None:
        """Close the lane's connection."""
        ...


class HttpxLane:
    """A lane over an ``httpx.AsyncBaseTransport`` (limited to one connection by its maker)."""

    def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
        self.transport = transport

    async def send(self, request: WireRequest, *, max_body: int) -> Received:
        """Send through the transport."""
        response = await self.transport.handle_async_request(request.to_httpx())
        return await read_limited(response, max_body=max_body, operation=request.operation)

    @property
    def connections_open(self) -> int:
        """The connections in the transport's pool (0 for transports without one)."""
        pool = getattr(self.transport, "_pool", None)
        return len(getattr(pool, "connections", ()))

    async def aclose(self) -> None:
        """Close the transport."""
        await self.transport.aclose()


def _httpx_errors() -> dict[type[Exception], type[httpx.HTTPError]]:
    """httpcore's exceptions and httpx's of the same name (httpx maps them the same way)."""
    mapping: dict[type[Exception], type[httpx.HTTPError]] = {}
    for name in (
        "ConnectTimeout",
        "ReadTimeout",
        "WriteTimeout",
        "PoolTimeout",
        "TimeoutException",
        "ConnectError",
        "ReadError",
        "WriteError",
        "NetworkError",
        "ProxyError",
        "UnsupportedProtocol",
        "RemoteProtocolError",
        "LocalProtocolError",
        "ProtocolError",
    ):
        mapping[getattr(httpcore, name)] = getattr(httpx, name)
    return mapping


_HTTPX_ERRORS = _httpx_errors()


def httpx_error_for(exc: Exception) -> httpx.HTTPError | None:
    """The httpx error of the same meaning as httpcore's ``exc`` (``None``: not httpcore's)."""
    for kind in type(exc).__mro__:
        error = _HTTPX_ERRORS.get(kind)
        if error is not None:
            return error(str(exc))
    return None


class HttpcoreLane:
    """One HTTP/1.1 connection driven through httpcore, reopened when it closes or expires."""

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self._ssl_context = ssl_context
        self._connection: httpcore.AsyncHTTPConnection | None = None
        self._drops_unsent = False  # the connection's stream drops what a timed-out write held
        self._urls: dict[str, tuple[httpcore.URL, bytes]] = {}

    @property
    def connections_open(self) -> int:
        """1 while a connection is open, else 0."""
        connection = self._connection
        return 0 if connection is None or connection.is_closed() else 1

    def _target(self, request: WireRequest) -> tuple[httpcore.URL, bytes]:
        """httpcore's URL and the ``Host`` header for the request (built once per URL; the
        query string, new on each signed attempt, appended to the target)."""
        known = self._urls.get(request.url_text)
        if known is None:
            url = request.url
            if len(self._urls) > 256:
                self._urls.clear()
            known = self._urls[request.url_text] = (
                httpcore.URL(
                    scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
                ),
                url.netloc,  # the Host header as httpx writes it: "[::1]:8080" for IPv6
            )
        query = request.query
        if not query:
            return known
        base, host_header = known
        target = base.target + b"?" + query.encode("ascii")
        return (
            httpcore.URL(scheme=base.scheme, host=base.host, port=base.port, target=target),
            host_header,
        )

    async def _connection_for(self, origin: httpcore.Origin) -> httpcore.AsyncHTTPConnection:
        connection = self._connection
        if connection is not None and (
            connection.is_closed()
            or connection.has_expired()
            or not connection.can_handle_request(origin)
        ):
            self._connection = None
            await connection.aclose()
            connection = None
        if connection is None:
            ssl_context = self._ssl_context
            if ssl_context is None and origin.scheme == b"https":
                ssl_context = shared_ssl_context()
            backend = _network_backend()
            # Only these streams provably drop what a timed-out write had not sent (ours
            # aborts; trio's sockets keep nothing back): anyio's on asyncio leave it in the
            # loop's buffer, written on until the stream's close.
            self._drops_unsent = backend is _ASYNCIO_BACKEND or (
                sniffio.current_async_library() == "trio"
            )
            connection = self._connection = httpcore.AsyncHTTPConnection(
                origin,
                ssl_context=ssl_context,
                keepalive_expiry=KEEPALIVE_EXPIRY,
                network_backend=backend,
            )
        return connection

    async def send(self, request: WireRequest, *, max_body: int) -> Received:
        """Send on this lane's connection, opening it first if needed."""
        url, host = self._target(request)
        content = request.content
        headers = [(b"host", host)]
        for name, value in request.headers:
            headers.append((name.encode("ascii"), value.encode("utf-8")))
        if content or request.method not in ("GET", "HEAD"):
            headers.append((b"content-length", str(len(content)).encode("ascii")))
        wire = httpcore.Request(
            request.method,
            url,
            headers=headers,
            content=content,
            extensions={"timeout": request.timeout_dict},
        )
        try:
            connection = await self._connection_for(url.origin)
            response = await connection.handle_async_request(wire)
            try:
                return await _read(response, max_body=max_body, operation=request.operation)
            finally:
                await response.aclose()
        except Exception as exc:
            if isinstance(exc, httpcore.WriteTimeout) and self._drops_unsent:
                raise UnsentWriteTimeout(str(exc)) from exc
            error = httpx_error_for(exc)
            if error is None:
                raise
            raise error from exc

    async def aclose(self) -> None:
        """Close the connection."""
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.aclose()


def _network_backend() -> httpcore.AsyncNetworkBackend | None:
    """httpcore's backend for a new connection: straight on asyncio's sockets under
    Python's own selector event loop, else httpcore's default (anyio's streams on uvloop
    and Windows' proactor loop, httpcore's trio backend on trio).

    The asyncio backend counts on how the selector loop's transports report what they
    still hold (see :mod:`crowdsms._transport.asyncio_stream`); other loops' transports
    count differently, so they keep anyio's streams.
    """
    if sniffio.current_async_library() == "asyncio" and isinstance(
        asyncio.get_running_loop(), asyncio.SelectorEventLoop
    ):
        return _ASYNCIO_BACKEND
    return None


_ASYNCIO_BACKEND = AsyncioBackend()


async def _read(response: httpcore.Response, *, max_body: int, operation: str) -> Received:
    headers = httpx.Headers(response.headers)
    content = await read_body(
        response.aiter_stream(),
        declared=headers.get("content-length"),
        max_body=max_body,
        operation=operation,
    )
    return Received(response.status, headers, content)


class LanePool:
    """``size`` single-connection lanes; each request takes an idle lane or waits for one.

    ``make_lane`` builds a lane (an ``httpx.AsyncBaseTransport`` is wrapped in
    :class:`HttpxLane`); by default an :class:`HttpcoreLane`, or an :class:`HttpxLane`
    through ``proxy`` when one is set. ``backend`` names the HTTP library, for reprs.
    """

    def __init__(
        self,
        size: int,
        *,
        proxy: str | None = None,
        verify: ssl.SSLContext | bool = True,
        make_lane: Callable[[], Lane | httpx.AsyncBaseTransport] | None = None,
        backend: str = "httpx",
    ) -> None:
        if size < 1:
            raise ValueError(f"a client needs at least 1 connection, got max_connections={size}")
        self.size = size
        self.backend = backend
        self._proxy = proxy
        self._verify = verify
        self._make_lane = make_lane or self._default_lane
        self._idle: list[Lane] = []
        self._all: list[Lane] = []
        self._free = anyio.Semaphore(size)
        self._closed = False

    def __repr__(self) -> str:
        return f"<LanePool {self.backend} size={self.size} open={len(self._all)}>"

    def _default_lane(self) -> Lane | httpx.AsyncBaseTransport:
        verify: ssl.SSLContext | bool = self._verify
        if verify is True:
            verify = shared_ssl_context()
        if self._proxy is None:
            return HttpcoreLane(ssl_context=verify if isinstance(verify, ssl.SSLContext) else None)
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

    @property
    def connections_open(self) -> int:
        """How many connections the lanes hold open."""
        return sum(lane.connections_open for lane in self._all)

    async def send(self, request: WireRequest, *, max_body: int, state: AttemptState) -> Received:
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
                return await lane.send(request, max_body=max_body)
            finally:
                self._idle.append(lane)
        finally:
            self._free.release()

    def _new_lane(self) -> Lane:
        made = self._make_lane()
        lane: Lane = HttpxLane(made) if isinstance(made, httpx.AsyncBaseTransport) else made
        self._all.append(lane)
        return lane

    async def aclose(self) -> None:
        """Close every lane's connection."""
        self._closed = True
        lanes, self._all, self._idle = self._all, [], []
        for lane in lanes:
            await lane.aclose()
