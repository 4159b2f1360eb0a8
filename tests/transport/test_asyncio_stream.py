"""httpcore over asyncio's own sockets (the httpx lanes on asyncio): TLS, reuse, errors.

Real servers on loopback, started by each test; the client is httpcore itself with
:class:`AsyncioBackend`, so what is checked is the stream httpcore gets.
"""

from __future__ import annotations

import asyncio
import select
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import anyio
import httpcore
import pytest
import trustme

from crowdsms._transport.asyncio_stream import AsyncioBackend, AsyncioStream, _Protocol
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
    server_context, client_context = _tls_contexts()
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


@pytest.mark.asyncio
async def test_an_early_answer_and_a_lingering_close_while_the_body_is_sent_is_the_answer() -> None:
    # A server that refuses a body it has not read yet (nginx's 413) answers, half-closes
    # and reads on to drain the body before it closes: the client's transport may close
    # itself after flushing, and the stream must still close without error.
    answer = b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(answer)
        writer.write_eof()
        await asyncio.sleep(0.2)  # the client sees the end while it still holds the body
        while await reader.read(1 << 20):  # drain what comes, until the client closes
            pass

    statuses = []
    async with _server(handler) as port:
        for _ in range(3):
            async with _pool() as pool:
                response = await pool.request(
                    "POST",
                    f"http://127.0.0.1:{port}/",
                    content=b"q" * (32 * 1024 * 1024),  # more than loopback's buffers hold
                    extensions={"timeout": {"write": 30.0, "read": 30.0}},
                )
                statuses.append(response.status)
    assert statuses == [413, 413, 413]


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_the_httpx_lanes_use_asyncio_sockets_on_asyncio_and_httpcores_default_on_trio(
    anyio_backend: str,
) -> None:
    backend = _network_backend()
    if anyio_backend == "asyncio":
        assert isinstance(backend, AsyncioBackend)
    else:
        assert backend is None  # httpcore's default, which on trio is its trio backend


@pytest.mark.asyncio
@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
async def test_a_request_whose_write_timed_out_never_reaches_the_server_later(tls: bool) -> None:
    # Under TLS the last bytes wait in the socket's transport below TLS, which TLS alone
    # hears from: the write must still wait for them, time out, and drop them.
    server_context, client_context = _tls_contexts() if tls else (None, None)
    body = b"x" * (32 * 1024 * 1024)  # more than loopback's socket buffers hold
    timed_out = asyncio.Event()
    finished = asyncio.Event()
    received = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal received
        await timed_out.wait()  # read nothing until the client gave up
        try:
            while chunk := await reader.read(1 << 20):
                received += len(chunk)
        except (ConnectionError, ssl.SSLError):
            pass
        finished.set()  # the client's end: nothing more can come

    url, pool_options = (
        ("https://localhost", {"ssl_context": client_context}) if tls else ("http://127.0.0.1", {})
    )
    async with _server(handler, tls=server_context) as port:
        async with _pool(**pool_options) as pool:
            with pytest.raises(httpcore.WriteTimeout):
                await pool.request(
                    "POST",
                    f"{url}:{port}/",
                    content=body,
                    extensions={"timeout": {"write": 0.3, "read": 30.0}},
                )
        timed_out.set()
        with anyio.fail_after(60):  # a bound on a hang, not a timing assertion
            await finished.wait()
    # what the kernel had taken arrives; what the client still held back is dropped
    assert received < len(body)
    if not tls:  # (under TLS, a cut-off record decrypts to nothing)
        assert received > 0


@pytest.mark.asyncio
async def test_tls_over_a_connection_the_server_already_closed_fails_instead_of_hanging() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async with _server(handler) as port:
        stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)
        assert isinstance(stream, AsyncioStream)
        await wait_until(
            lambda: stream._protocol.lost,  # asyncio has closed its transport
            missing=lambda: "the client has not seen the server close the connection",
        )
        with anyio.fail_after(20):  # a bound on a hang, not a timing assertion
            with pytest.raises(httpcore.ConnectError, match="closed the connection"):
                await stream.start_tls(ssl.create_default_context(), "localhost", timeout=None)


@pytest.mark.asyncio
async def test_bytes_in_the_socket_the_loop_has_not_read_yet_make_a_connection_readable() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)
        server_side, _ = listener.accept()  # the connection waits in the backlog: no block
        with server_side:
            assert stream.get_extra_info("is_readable") is False
            server_side.sendall(b"HTTP/1.1 408 Request Timeout\r\n\r\n")
            # wait for the bytes in the kernel without letting the event loop read them
            client_side = stream.get_extra_info("socket")
            ready, _, _ = select.select([client_side], [], [], 10)
            assert ready, "the bytes never reached the client's socket"
            assert stream.get_extra_info("is_readable") is True
            await stream.aclose()


@pytest.mark.asyncio
async def test_a_socket_option_the_system_refuses_is_a_connect_error() -> None:
    async with _server(_answer_once) as port:
        with pytest.raises(httpcore.ConnectError, match="socket option"):
            await AsyncioBackend().connect_tcp(
                "127.0.0.1", port, timeout=5, socket_options=[(socket.SOL_SOCKET, 987654, 1)]
            )


@pytest.mark.asyncio
async def test_a_cancelled_read_leaves_the_stream_readable() -> None:
    send = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await send.wait()
        writer.write(b"late")
        await writer.drain()
        await reader.read()

    async with _server(handler) as port:
        stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)
        assert isinstance(stream, AsyncioStream)
        reading = asyncio.ensure_future(stream.read(100, timeout=None))
        await wait_until(
            lambda: stream._protocol.reader is not None,
            missing=lambda: "the read never waited",
        )
        reading.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reading
        send.set()
        with anyio.fail_after(20):
            assert await stream.read(100, timeout=None) == b"late"
        await stream.aclose()


@pytest.mark.asyncio
async def test_a_large_answer_over_tls_pauses_and_resumes_reading_and_arrives_whole() -> None:
    body = bytes(range(256)) * 4096  # 1 MiB: reading pauses and resumes on the TLS transport
    server_context, client_context = _tls_contexts()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        await writer.drain()
        await reader.read()

    received = bytearray()
    async with (
        _server(handler, tls=server_context) as port,
        _pool(ssl_context=client_context) as pool,
        pool.stream("GET", f"https://localhost:{port}/") as response,
    ):
        async for chunk in response.aiter_stream():
            received += chunk
            await asyncio.sleep(0)  # a slow reader: the buffer fills and reading pauses
    assert bytes(received) == body


async def _answer_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_request(reader)
    writer.write(_ANSWER)
    await writer.drain()


def _tls_contexts() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a certificate for localhost, and a client one that trusts it."""
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    return server_context, client_context


async def _read_post(reader: asyncio.StreamReader) -> bytes:
    head = await _read_request(reader)
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return await reader.readexactly(length)


@pytest.mark.asyncio
async def test_posts_one_after_another_over_one_kept_alive_tls_connection_all_succeed() -> None:
    server_context, client_context = _tls_contexts()
    connections = 0
    bodies: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while True:
            bodies.append(await _read_post(reader))
            writer.write(_ANSWER)
            await writer.drain()

    async with (
        _server(handler, tls=server_context) as port,
        _pool(ssl_context=client_context) as pool,
    ):
        with anyio.fail_after(30):  # a bound on a hang, not a timing assertion
            statuses = [
                (
                    await pool.request(
                        "POST",
                        f"https://localhost:{port}/send",
                        content=b"message %d" % number,
                        extensions={"timeout": {"write": 5.0}},
                    )
                ).status
                for number in range(6)
            ]
    assert statuses == [200] * 6
    assert bodies == [b"message %d" % number for number in range(6)]
    assert connections == 1


@pytest.mark.asyncio
async def test_a_tls_post_answered_after_the_write_timeout_is_not_a_write_timeout() -> None:
    server_context, client_context = _tls_contexts()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await _read_post(reader)
            await asyncio.sleep(0.3)  # the server takes its time: the write is long done
            writer.write(_ANSWER)
            await writer.drain()

    async with (
        _server(handler, tls=server_context) as port,
        _pool(ssl_context=client_context) as pool,
    ):
        for _ in range(2):  # the first request, then one on the kept-alive connection
            response = await pool.request(
                "POST",
                f"https://localhost:{port}/send",
                content=b"hello",
                extensions={"timeout": {"write": 0.1, "read": 10.0}},
            )
            assert response.status == 200


class _HoldingTransport(asyncio.Transport):
    """A transport that holds what it is given until the test says it went, or was lost."""

    def __init__(self, protocol: asyncio.Protocol) -> None:
        super().__init__()
        self.protocol = protocol
        self.held = 0
        self.aborted = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.held += len(data)
        self.protocol.pause_writing()

    def get_write_buffer_size(self) -> int:
        return self.held

    def is_closing(self) -> bool:
        return self.aborted

    def abort(self) -> None:
        self.aborted = True

    def hand_on(self) -> None:
        """The socket took every byte held."""
        self.held = 0
        self.protocol.resume_writing()

    def lose(self) -> None:
        """The connection broke (asyncio drops what it still held)."""
        self.held = 0
        self.protocol.connection_lost(ConnectionResetError("reset by peer"))


def _holding_stream() -> tuple[AsyncioStream, _HoldingTransport]:
    protocol = _Protocol()
    transport = _HoldingTransport(protocol)
    protocol.transport = transport
    return AsyncioStream(transport, protocol), transport


@pytest.mark.asyncio
async def test_a_write_that_times_out_aborts_the_connection_before_it_raises() -> None:
    stream, transport = _holding_stream()
    with pytest.raises(httpcore.WriteTimeout):
        await stream.write(b"POST /send HTTP/1.1\r\n", timeout=0.01)
    # aborted inside write: nothing held back can follow while httpcore closes up
    assert transport.aborted


@pytest.mark.asyncio
async def test_a_write_cancelled_halfway_aborts_the_connection() -> None:
    stream, transport = _holding_stream()
    with anyio.move_on_after(0.01):
        await stream.write(b"POST /send HTTP/1.1\r\n", timeout=None)
    assert transport.aborted


@pytest.mark.asyncio
async def test_a_connection_lost_after_every_byte_went_is_not_a_write_error() -> None:
    stream, transport = _holding_stream()
    loop = asyncio.get_running_loop()
    loop.call_soon(transport.hand_on)
    loop.call_soon(transport.lose)
    await stream.write(b"POST /send HTTP/1.1\r\n", timeout=5)  # may have arrived: no error
    assert not transport.aborted


@pytest.mark.asyncio
async def test_a_connection_lost_while_bytes_were_held_is_a_write_error() -> None:
    stream, transport = _holding_stream()
    asyncio.get_running_loop().call_soon(transport.lose)
    with pytest.raises(httpcore.WriteError, match="reset by peer"):
        await stream.write(b"POST /send HTTP/1.1\r\n", timeout=5)


@pytest.mark.asyncio
async def test_bytes_that_went_as_the_write_timer_fired_are_written() -> None:
    stream, transport = _holding_stream()

    def went_without_a_word() -> None:
        transport.held = 0  # handed on, the timer fires before any resume_writing

    asyncio.get_running_loop().call_soon(went_without_a_word)
    await stream.write(b"POST /send HTTP/1.1\r\n", timeout=0.01)
    assert not transport.aborted


@pytest.mark.asyncio
async def test_event_loops_other_than_pythons_selector_loop_keep_anyios_streams(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert isinstance(_network_backend(), AsyncioBackend)

    class OtherLoop:  # uvloop's, or Windows' proactor loop: not a selector loop
        pass

    monkeypatch.setattr(asyncio, "SelectorEventLoop", OtherLoop)
    assert _network_backend() is None
