"""``http_backend``: which library the lanes use, and the same behaviour over each of them.

The behaviour tests run one tiny scripted HTTP server on loopback and the same client calls
over httpx's lanes and aiohttp's: a refused connection is ``NOT_SENT``, a connection closed
after the request was read is ``UNKNOWN`` and not retried, an answer over the size limit is
refused, a read timeout is ``UNKNOWN``.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import anyio
import anyio.abc
import httpx
import pytest

from crowdsms._transport import AutoLanes, RetryPolicy
from crowdsms.errors import (
    ConfigurationError,
    ConnectionFailedError,
    DeliveryCertainty,
    RequestTimeoutError,
    ResponseParseError,
)

from .fakes import DemoClient, FakeTime, read_request, send_request

pytestmark = pytest.mark.anyio

Handler = Callable[[anyio.abc.SocketStream], Awaitable[None]]


@asynccontextmanager
async def _server(handler: Handler) -> AsyncIterator[str]:
    """Serve ``handler`` on a free loopback port; yield the base URL."""
    async with (
        await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0) as listener,
        anyio.create_task_group() as tg,
    ):
        port = listener.extra(anyio.abc.SocketAttribute.local_port)  # noqa: S610
        tg.start_soon(listener.serve, handler)
        yield f"http://127.0.0.1:{port}"
        tg.cancel_scope.cancel()


async def _read_head(stream: anyio.abc.SocketStream) -> bytes:
    """Read until the end of the request (head, and a body of its Content-Length)."""
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        buffer += await stream.receive()
    head, _, body = buffer.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        body += await stream.receive()
    return head


def _answer(body: bytes, *, declared: int | None = None) -> bytes:
    length = len(body) if declared is None else declared
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {length}\r\n\r\n".encode()
        + body
    )


def _client(base_url: str, backend: str, **options: object) -> DemoClient:
    return DemoClient(
        base_url=base_url,
        runtime=FakeTime().runtime,
        http_backend=backend,  # type: ignore[typeddict-item]
        retry_policy=RetryPolicy(max_attempts=3, jitter=0.0),
        **options,  # type: ignore[arg-type]
    )


_BOTH = pytest.mark.parametrize(
    "backend", ["httpx", pytest.param("aiohttp", marks=pytest.mark.aiohttp)]
)
_ASYNCIO = pytest.mark.parametrize("anyio_backend", ["asyncio"])


@_ASYNCIO
@_BOTH
async def test_an_answer_is_read_over_either_library(backend: str) -> None:
    seen: list[bytes] = []

    async def handler(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            seen.append(await _read_head(stream))
            await stream.send(_answer(b'{"ok":true}'))

    async with _server(handler) as url, _client(url, backend) as client:
        response = await client.call(send_request())
        assert client.http_backend == backend
        assert f"http={backend!r}" in repr(client)
    assert response.status_code == 200
    assert response.content == b'{"ok":true}'
    head = seen[0].lower()
    assert head.startswith(b"post /send http/1.1")
    assert b"user-agent: crowdsms/" in head
    assert b"content-type: application/x-www-form-urlencoded" in head
    assert b"accept-encoding" not in head  # neither library adds headers of its own


@asynccontextmanager
async def _sender_options(sender: str) -> AsyncIterator[dict[str, object]]:
    """Client options that send through ``sender``: a library's lanes, or a user's httpx
    transport or client (closed here: a client never closes what its user gave it)."""
    if sender == "transport":
        async with httpx.AsyncHTTPTransport() as transport:
            yield {"transport": transport}
    elif sender == "client":
        async with httpx.AsyncClient(trust_env=False) as http_client:
            yield {"http_client": http_client}
    else:
        yield {"http_backend": sender}


@_ASYNCIO
@pytest.mark.parametrize(
    "sender",
    ["httpx", pytest.param("aiohttp", marks=pytest.mark.aiohttp), "transport", "client"],
)
async def test_a_query_goes_on_the_wire_as_httpx_encodes_it(sender: str) -> None:
    # The query string is kept apart from the URL until each sender appends it: every
    # sender must send exactly the target httpx would build from the same parameters.
    seen: list[bytes] = []

    async def handler(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            while True:
                try:
                    seen.append(await _read_head(stream))
                except anyio.EndOfStream:
                    return
                await stream.send(_answer(b'{"ok":true}'))

    fields = {"q": "a b&c=d/?#+%20", "中文": "值", "empty": ""}
    async with (
        _server(handler) as url,
        _sender_options(sender) as options,
        DemoClient(
            base_url=url,
            runtime=FakeTime().runtime,
            retry_policy=RetryPolicy(max_attempts=1),
            **options,  # type: ignore[arg-type]
        ) as client,
    ):
        await client.call(read_request(fields=fields, query={"token": "t", "q": "over"}))
        await client.call(send_request(query={"token": "t"}))
        await client.call(read_request(fields={}))  # no query string at all
    get = httpx.Request("GET", f"{url}/status", params={"token": "t", **fields})
    post = httpx.Request("POST", f"{url}/send", params={"token": "t"})
    lines = [head.split(b"\r\n")[0] for head in seen]
    assert lines == [
        b"GET " + get.url.raw_path + b" HTTP/1.1",
        b"POST " + post.url.raw_path + b" HTTP/1.1",
        b"GET /status HTTP/1.1",
    ]
    assert b"q=a+b%26c%3Dd%2F%3F%23%2B%2520" in lines[0]  # the fields' value, not the query's


_QUERY_SECRET = "query-secret-Zq81"
"""A credential as a query string may carry one (paasw's token request carries its secret)."""


async def _answer_not_http(stream: anyio.abc.SocketStream) -> None:
    """Read the request, answer with bytes that are not HTTP."""
    async with stream:
        await _read_head(stream)
        await stream.send(b"HELLO, this is not HTTP\r\n\r\n")


def _chain(error: BaseException) -> list[BaseException]:
    """``error`` and every exception a traceback of it would show (causes, contexts)."""
    chain = [error]
    while True:
        last = chain[-1]
        following = last.__cause__ or (None if last.__suppress_context__ else last.__context__)
        if following is None or following in chain:
            return chain
        chain.append(following)


@_ASYNCIO
@_BOTH
async def test_a_query_never_shows_in_the_error_of_an_invalid_answer(
    backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    # aiohttp's own message for an answer that is not HTTP names the URL with its query,
    # which may carry a credential (paasw's token request carries its secret there).
    caplog.set_level(logging.DEBUG)

    async with _server(_answer_not_http) as url, _client(url, backend) as client:
        with pytest.raises(ConnectionFailedError) as caught:
            await client.call(read_request(query={"token": _QUERY_SECRET}))
    shown = [part for error in _chain(caught.value) for part in (str(error), repr(error))]
    shown += [record.getMessage() for record in caplog.records]
    assert any("/status" in text for text in shown)  # the request is named, its query not
    assert not [text for text in shown if _QUERY_SECRET in text]


@_ASYNCIO
@pytest.mark.aiohttp
async def test_the_aiohttp_lane_leaves_the_query_out_of_its_errors_and_their_causes() -> None:
    from crowdsms._transport.aiohttp_lane import AiohttpLane
    from crowdsms._transport.encode import to_wire_request

    lane = AiohttpLane()
    async with _server(_answer_not_http) as url:
        wire = to_wire_request(
            read_request(query={"token": _QUERY_SECRET}),
            base_url=url,
            timeout=httpx.Timeout(5.0),
            user_agent="test",
        )
        try:
            with pytest.raises(httpx.RemoteProtocolError) as caught:
                await lane.send(wire, max_body=1 << 20)
        finally:
            await lane.aclose()
    chain = _chain(caught.value)
    assert "ClientResponseError" in str(chain[0])  # aiohttp's error, told in its own words
    assert not [error for error in chain if _QUERY_SECRET in f"{error}{error!r}"]


@_ASYNCIO
@_BOTH
async def test_a_refused_connection_is_not_sent(backend: str) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with _client(f"http://127.0.0.1:{port}", backend) as client:
        with pytest.raises(ConnectionFailedError) as caught:
            await client.call(send_request())
    assert caught.value.certainty is DeliveryCertainty.NOT_SENT
    assert caught.value.attempts == 3  # safe to retry, and retried


@_ASYNCIO
@_BOTH
async def test_a_connection_closed_after_the_request_is_unknown_and_not_retried(
    backend: str,
) -> None:
    requests = 0

    async def handler(stream: anyio.abc.SocketStream) -> None:
        nonlocal requests
        async with stream:
            await _read_head(stream)
            requests += 1  # read in full, then the connection drops without an answer

    async with _server(handler) as url, _client(url, backend) as client:
        with pytest.raises(ConnectionFailedError) as caught:
            await client.call(send_request())
    assert caught.value.certainty is DeliveryCertainty.UNKNOWN
    assert requests == 1


@_ASYNCIO
@_BOTH
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_reused_connection_closed_after_a_request_is_unknown_and_not_repeated(
    backend: str, method: str
) -> None:
    """A GET may act at the provider (a pull takes reports off its queue): neither library
    repeats it on its own when the kept-alive connection drops after the request was read
    (aiohttp would, for GET, by default); the transport decides, and it says ``UNKNOWN``."""
    requests = 0

    async def handler(stream: anyio.abc.SocketStream) -> None:
        nonlocal requests
        async with stream:
            while True:
                await _read_head(stream)
                requests += 1
                if requests == 2:
                    return  # read in full (the queue handed out), then the connection drops
                await stream.send(_answer(b'{"ok":true}'))

    pull = read_request(method=method, idempotent=False, operation="reports.pull")
    async with _server(handler) as url, _client(url, backend) as client:
        await client.call(pull)  # opens the connection the next call reuses
        with pytest.raises(ConnectionFailedError) as caught:
            await client.call(pull)
    assert caught.value.certainty is DeliveryCertainty.UNKNOWN
    assert requests == 2


@_ASYNCIO
@_BOTH
@pytest.mark.parametrize("declared", [True, False])
async def test_an_answer_over_the_size_limit_is_refused(backend: str, declared: bool) -> None:
    body = b"x" * 5000

    async def handler(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            await _read_head(stream)
            if declared:
                await stream.send(_answer(body))
            else:  # chunked: the size is only known while reading
                await stream.send(
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + b"%x\r\n" % len(body)
                    + body
                    + b"\r\n0\r\n\r\n"
                )

    async with (
        _server(handler) as url,
        _client(url, backend, max_response_bytes=1000) as client,
    ):
        with pytest.raises(ResponseParseError, match="larger than the limit of 1000 bytes"):
            await client.call(send_request())


@_ASYNCIO
@_BOTH
async def test_a_read_timeout_is_unknown(backend: str) -> None:
    async def handler(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            await _read_head(stream)
            await anyio.sleep_forever()

    async with (
        _server(handler) as url,
        _client(url, backend, timeout=httpx.Timeout(10.0, read=0.05)) as client,
    ):
        with anyio.fail_after(30):  # fail-safe bound; nothing here asserts timing
            with pytest.raises(RequestTimeoutError) as caught:
                await client.call(send_request())
    assert caught.value.certainty is DeliveryCertainty.UNKNOWN


# --- the choice ------------------------------------------------------------------------------


@pytest.mark.aiohttp
@_ASYNCIO
async def test_auto_picks_aiohttp_on_asyncio_when_installed() -> None:
    async with DemoClient() as client:
        assert client.http_backend == "aiohttp"


@pytest.mark.aiohttp
async def test_auto_picks_httpx_on_trio_even_with_aiohttp_installed(anyio_backend: str) -> None:
    async with DemoClient() as client:
        expected = "aiohttp" if anyio_backend == "asyncio" else "httpx"
        assert client.http_backend == expected


async def test_auto_picks_httpx_without_aiohttp() -> None:
    # This test is not marked ``aiohttp``: the fixture makes aiohttp look not installed.
    async with DemoClient() as client:
        assert client.http_backend == "httpx"


@pytest.mark.aiohttp
@_ASYNCIO
async def test_auto_picks_httpx_with_a_proxy() -> None:
    async with DemoClient(proxy="http://127.0.0.1:3128") as client:
        assert client.http_backend == "httpx"


@pytest.mark.aiohttp
@_ASYNCIO
async def test_a_client_created_outside_an_event_loop_chooses_at_its_first_request() -> None:
    async def handler(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            await _read_head(stream)
            await stream.send(_answer(b"{}"))

    async with _server(handler) as url:
        client = await anyio.to_thread.run_sync(lambda: DemoClient(base_url=url))
        assert client.http_backend == "auto"
        assert "http='auto'" in repr(client)
        async with client:
            await client.call(send_request())
            assert client.http_backend == "aiohttp"


@pytest.mark.parametrize("anyio_backend", ["trio"])
@pytest.mark.aiohttp
async def test_aiohttp_asked_for_on_trio_is_refused_clearly() -> None:
    with pytest.raises(ConfigurationError, match="asyncio only") as caught:
        DemoClient(http_backend="aiohttp")  # created inside trio: refused at once
    assert 'http_backend="httpx"' in str(caught.value)
    # Created outside an event loop, it is refused at its first request.
    client = await anyio.to_thread.run_sync(lambda: DemoClient(http_backend="aiohttp"))
    async with client:
        with pytest.raises(ConfigurationError, match="asyncio only"):
            await client.call(send_request())


def test_aiohttp_asked_for_without_it_installed_is_refused_clearly() -> None:
    with pytest.raises(ConfigurationError, match="not installed") as caught:
        DemoClient(http_backend="aiohttp")
    assert "crowdsms[aiohttp]" in str(caught.value)


@pytest.mark.aiohttp
def test_aiohttp_with_a_proxy_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="proxy"):
        DemoClient(http_backend="aiohttp", proxy="http://127.0.0.1:3128")


def test_an_unknown_backend_is_refused_with_the_choices() -> None:
    with pytest.raises(ConfigurationError, match="'auto', 'httpx', 'aiohttp'"):
        DemoClient(http_backend="requests")  # type: ignore[typeddict-item]


def test_a_backend_with_your_own_transport_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="not both"):
        DemoClient(
            http_backend="httpx", transport=httpx.MockTransport(lambda r: httpx.Response(200))
        )


async def test_a_closed_client_refuses_requests_before_choosing() -> None:
    client = await anyio.to_thread.run_sync(DemoClient)
    assert isinstance(client._transport.sender, AutoLanes)
    await client.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await client.call(send_request())
