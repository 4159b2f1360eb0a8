"""httpcore over asyncio's own sockets (the httpx lanes on asyncio): TLS, reuse, errors.

Real servers on loopback, started by each test; the client is httpcore itself with
:class:`AsyncioBackend`, so what is checked is the stream httpcore gets.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import anyio
import httpcore
import pytest
import trustme

from crowdsms._transport.asyncio_stream import AsyncioBackend, AsyncioStream
from crowdsms._transport.lanes import _network_backend
from tests.waiting import wait_until

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


@asynccontextmanager
async def _server(handler: Handler, tls: ssl.SSLContext | None = None) -> AsyncIterator[int]:
    """Serve ``handler`` on a free loopback port (each connection closed after it)."""
    handlers: set[asyncio.Task[None]] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            await handler(reader, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass  # the client went away, or the test ended
        finally:
            writer.close()
            handlers.discard(task)

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=tls)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for task in list(handlers):
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"\r\n\r\n")


def _pool(**options: object) -> httpcore.AsyncConnectionPool:
    return httpcore.AsyncConnectionPool(network_backend=AsyncioBackend(), **options)  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_a_request_over_tls_is_answered_on_an_asyncio_stream() -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    requests: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        requests.append(await _read_request(reader))
        writer.write(_ANSWER)
        await writer.drain()
        await reader.read()  # kept open until the client closes it

    async with (
        _server(handler, tls=server_context) as port,
        _pool(ssl_context=client_context) as pool,
    ):
        response = await pool.request("GET", f"https://localhost:{port}/ping")
        stream = response.extensions["network_stream"]
        assert isinstance(stream, AsyncioStream)
        assert stream.get_extra_info("ssl_object") is not None
    assert response.status == 200
    assert response.content == b"ok"
    assert requests[0].startswith(b"GET /ping HTTP/1.1")


@pytest.mark.asyncio
async def test_a_certificate_nobody_vouches_for_fails_to_connect() -> None:
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("localhost").configure_cert(server_context)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async with (
        _server(handler, tls=server_context) as port,
        _pool(ssl_context=ssl.create_default_context()) as pool,
    ):
        with pytest.raises(httpcore.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await pool.request("GET", f"https://localhost:{port}/")


@pytest.mark.asyncio
async def test_an_idle_connection_the_server_closed_is_not_reused() -> None:
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await _read_request(reader)
        writer.write(_ANSWER)  # keep-alive, as far as the client knows...
        await writer.drain()
        writer.close()  # ...but the server closes it at once

    async with _server(handler) as port, _pool() as pool:
        first = await pool.request("GET", f"http://127.0.0.1:{port}/")
        stream = first.extensions["network_stream"]
        await wait_until(
            lambda: bool(stream.get_extra_info("is_readable")),
            missing=lambda: "the client has not seen the server close the connection",
        )
        second = await pool.request("GET", f"http://127.0.0.1:{port}/")
    assert (first.status, second.status) == (200, 200)
    assert connections == 2  # the closed connection was left, not written into


@pytest.mark.asyncio
async def test_a_kept_alive_connection_is_reused() -> None:
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        for _ in range(3):
            await _read_request(reader)
            writer.write(_ANSWER)
            await writer.drain()
        writer.close()

    async with _server(handler) as port, _pool() as pool:
        answers = [(await pool.request("GET", f"http://127.0.0.1:{port}/")).status for _ in "abc"]
    assert answers == [200, 200, 200]
    assert connections == 1


@pytest.mark.asyncio
async def test_a_silent_server_is_a_read_timeout_and_a_dropped_one_a_disconnection() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        await asyncio.sleep(30)

    async def dropping(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.close()

    async with _server(silent) as port, _pool() as pool:
        with anyio.fail_after(20):  # a bound, not a timing assertion
            with pytest.raises(httpcore.ReadTimeout):
                await pool.request(
                    "GET", f"http://127.0.0.1:{port}/", extensions={"timeout": {"read": 0.05}}
                )
    async with _server(dropping) as port, _pool() as pool:
        with pytest.raises(httpcore.RemoteProtocolError, match="disconnected"):
            await pool.request("GET", f"http://127.0.0.1:{port}/")


@pytest.mark.asyncio
async def test_a_refused_connection_is_a_connect_error() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    async with _pool() as pool:
        with pytest.raises(httpcore.ConnectError):
            await pool.request("GET", f"http://127.0.0.1:{port}/")


@pytest.mark.asyncio
async def test_a_large_answer_arrives_whole_through_the_read_buffer() -> None:
    body = bytes(range(256)) * 4096  # 1 MiB: more than the buffer holds before pausing

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        await writer.drain()
        writer.close()

    async with _server(handler) as port, _pool() as pool:
        response = await pool.request("GET", f"http://127.0.0.1:{port}/")
    assert response.content == body


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_the_httpx_lanes_use_asyncio_sockets_on_asyncio_and_anyio_on_trio(
    anyio_backend: str,
) -> None:
    backend = _network_backend()
    if anyio_backend == "asyncio":
        assert isinstance(backend, AsyncioBackend)
    else:
        assert backend is None  # httpcore's default: anyio, which runs on trio
