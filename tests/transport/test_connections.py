"""Connections: no leak after timeouts or cancellation, ``LanePool`` limits, body size limit."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

import anyio
import anyio.abc
import anyio.lowlevel
import attrs
import httpx
import pytest

from crowdsms._transport import (
    AttemptState,
    AutoLanes,
    LanePool,
    NoSigning,
    RetryPolicy,
    Transport,
    TransportSender,
    WireRequest,
)
from crowdsms._transport.lanes import Lane
from crowdsms.errors import DeadlineExceededError, DeliveryCertainty, ResponseParseError

from .fakes import BASE_URL, DemoClient, FakeTime, read_request, send_request

pytestmark = pytest.mark.anyio

_OK = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}'


class LoopbackServer:
    """A tiny HTTP/1.1 server: the first ``silent`` connections never answer.

    It counts accepted connections and the ones that ended (EOF or reset from the client),
    so a test can wait, with a fail-safe bound, until every connection was closed.
    """

    def __init__(self, *, silent: int) -> None:
        self.silent = silent
        self.accepted = 0
        self.ended = 0
        self.requests: list[int] = []  # the connection index of each request
        self._changed = anyio.Event()

    async def handle(self, stream: anyio.abc.SocketStream) -> None:
        index = self.accepted
        self.accepted += 1
        buffer = b""
        try:
            while True:
                try:
                    data = await stream.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError, OSError):
                    return
                buffer += data
                while b"\r\n\r\n" in buffer:  # GET requests: the head is the whole request
                    _, buffer = buffer.split(b"\r\n\r\n", 1)
                    self.requests.append(index)
                    if index >= self.silent:
                        await stream.send(_OK)
        finally:
            self.ended += 1
            self._changed.set()
            await stream.aclose()

    async def wait_until_ended(self, count: int) -> None:
        while self.ended < count:
            self._changed = anyio.Event()
            await self._changed.wait()


def _lane_connections(lanes: list[Lane]) -> int:
    return sum(lane.connections_open for lane in lanes)


def _get(url: str = BASE_URL) -> WireRequest:
    return WireRequest("GET", httpx.URL(url), [], b"", timeout=httpx.Timeout(5.0), operation="t")


async def test_retried_read_timeouts_leak_no_connections() -> None:
    await _retried_read_timeouts_leak_no_connections("httpx")


@pytest.mark.aiohttp
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # aiohttp runs on asyncio only
async def test_retried_read_timeouts_leak_no_aiohttp_connections() -> None:
    await _retried_read_timeouts_leak_no_connections("aiohttp")


async def _retried_read_timeouts_leak_no_connections(backend: str) -> None:
    server = LoopbackServer(silent=2)
    fake = FakeTime()
    async with (
        await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0) as listener,
        anyio.create_task_group() as tg,
    ):
        port = listener.extra(anyio.abc.SocketAttribute.local_port)  # noqa: S610
        tg.start_soon(listener.serve, server.handle)
        client = DemoClient(
            base_url=f"http://127.0.0.1:{port}",
            runtime=fake.runtime,
            timeout=httpx.Timeout(10.0, read=0.1),
            max_connections=4,
            retry_policy=RetryPolicy(max_attempts=3, jitter=0.0),
            http_backend=backend,  # type: ignore[typeddict-item]
        )
        lanes_sender = client._transport.sender
        assert isinstance(lanes_sender, AutoLanes)
        pool = lanes_sender.pool
        assert isinstance(pool, LanePool)
        assert pool.backend == backend
        with anyio.fail_after(30):  # fail-safe bound; nothing here asserts timing
            response = await client.call(read_request())
            assert response.status_code == 200
            assert response.attempts == 3
            assert server.accepted == 3
            assert server.requests == [0, 1, 2]
            # The two connections that timed out were closed by the client at once ...
            await server.wait_until_ended(2)
            lanes = list(pool._all)
            assert pool.lanes_open == 1  # sequential attempts reuse one lane
            assert _lane_connections(lanes) == 1  # only the healthy keep-alive one
            await client.aclose()
            # ... and the last one when the client was closed.
            await server.wait_until_ended(3)
        assert pool.lanes_open == 0
        assert _lane_connections(lanes) == 0
        tg.cancel_scope.cancel()


async def test_an_attempt_cancelled_by_the_deadline_closes_its_connection() -> None:
    await _an_attempt_cancelled_by_the_deadline_closes_its_connection("httpx")


@pytest.mark.aiohttp
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # aiohttp runs on asyncio only
async def test_an_attempt_cancelled_by_the_deadline_closes_its_aiohttp_connection() -> None:
    await _an_attempt_cancelled_by_the_deadline_closes_its_connection("aiohttp")


async def _an_attempt_cancelled_by_the_deadline_closes_its_connection(backend: str) -> None:
    server = LoopbackServer(silent=1)
    fake = FakeTime()
    runtime = attrs.evolve(fake.runtime, monotonic=time.monotonic)
    async with (
        await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0) as listener,
        anyio.create_task_group() as tg,
    ):
        port = listener.extra(anyio.abc.SocketAttribute.local_port)  # noqa: S610
        tg.start_soon(listener.serve, server.handle)
        client = DemoClient(
            base_url=f"http://localhost:{port}",
            runtime=runtime,
            timeout=httpx.Timeout(30.0),
            retry_policy=RetryPolicy(max_attempts=3, total_timeout=0.2),
            http_backend=backend,  # type: ignore[typeddict-item]
        )
        with anyio.fail_after(30):
            with pytest.raises(DeadlineExceededError) as caught:
                await client.call(send_request(path="/status"))
            await server.wait_until_ended(1)  # closed without waiting for aclose()
            await client.aclose()
        assert caught.value.certainty is DeliveryCertainty.UNKNOWN
        assert server.accepted == 1
        tg.cancel_scope.cancel()


# --- LanePool -------------------------------------------------------------------------------


class _Gate:
    def __init__(self) -> None:
        self.in_flight = 0
        self.most = 0
        self.release = anyio.Event()


class _GatedLane(httpx.AsyncBaseTransport):
    """A lane whose requests wait at a gate, counting how many are in flight at once."""

    def __init__(self, gate: _Gate) -> None:
        self.gate = gate
        self.handled = 0
        self.closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert not self.closed
        self.gate.in_flight += 1
        self.gate.most = max(self.gate.most, self.gate.in_flight)
        try:
            await self.gate.release.wait()
        finally:
            self.gate.in_flight -= 1
        self.handled += 1
        return httpx.Response(200, content=b"ok")

    async def aclose(self) -> None:
        self.closed = True


async def test_lane_pool_never_has_more_than_size_requests_in_flight() -> None:
    gate = _Gate()
    made: list[_GatedLane] = []

    def make_lane() -> httpx.AsyncBaseTransport:
        made.append(_GatedLane(gate))
        return made[-1]

    pool = LanePool(3, make_lane=make_lane)
    results: list[int] = []

    async def one() -> None:
        request = _get(BASE_URL + "/x")
        received = await pool.send(request, max_body=100, state=AttemptState())
        results.append(received.status_code)

    async with anyio.create_task_group() as tg:
        for _ in range(10):
            tg.start_soon(one)
        await anyio.wait_all_tasks_blocked()
        assert gate.in_flight == 3
        assert pool.lanes_open == 3
        gate.release.set()
    assert results == [200] * 10
    assert gate.most == 3
    assert len(made) == 3  # lanes are reused, never more than size
    assert sum(lane.handled for lane in made) == 10
    await pool.aclose()
    assert all(lane.closed for lane in made)
    assert pool.lanes_open == 0
    with pytest.raises(RuntimeError, match="closed"):
        await pool.send(_get(), max_body=100, state=AttemptState())


async def test_lane_pool_reuses_the_warm_lane_for_sequential_requests() -> None:
    gate = _Gate()
    gate.release.set()
    made: list[_GatedLane] = []

    def make_lane() -> httpx.AsyncBaseTransport:
        made.append(_GatedLane(gate))
        return made[-1]

    pool = LanePool(8, make_lane=make_lane)
    for _ in range(5):
        await pool.send(_get(), max_body=100, state=AttemptState())
    assert len(made) == 1
    assert pool.lanes_open == 1
    assert made[0].handled == 5
    await pool.aclose()
    assert made[0].closed


def test_lane_pool_refuses_zero_lanes() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        LanePool(0)


# --- the response size limit ----------------------------------------------------------------


class _EndlessBody(httpx.AsyncByteStream):
    """A body that never ends, counting the chunks taken from it (an iterator, not a
    generator, so that it leaves nothing for the garbage collector to finalize)."""

    def __init__(self, chunk: int = 512) -> None:
        self.chunk = chunk
        self.taken = 0
        self.closed = False

    def __aiter__(self) -> _EndlessBody:
        return self

    async def __anext__(self) -> bytes:
        self.taken += 1
        return b"x" * self.chunk

    async def aclose(self) -> None:
        self.closed = True


def _transport_with(handler: Callable[[httpx.Request], httpx.Response]) -> Transport:
    return Transport(
        provider="demo",
        base_url=BASE_URL,
        signer=NoSigning(),
        sender=TransportSender(httpx.MockTransport(handler), owned=True),
        runtime=FakeTime().runtime,
        max_response_bytes=2000,
    )


# Stopping in the middle of a body abandons httpx's own async generators (Response.aiter_bytes
# and aiter_raw); trio warns when the garbage collector finalizes them (encode/httpx#3686).
# The connection itself is closed at once; only that warning is allowed here, and the
# collection is forced inside the test so that it cannot surface in another one.
@pytest.mark.filterwarnings("ignore:Async generator 'httpx:ResourceWarning")
async def test_a_body_over_the_limit_is_refused_and_not_read_further() -> None:
    body = _EndlessBody(chunk=512)
    transport = _transport_with(lambda request: httpx.Response(200, stream=body))
    with pytest.raises(ResponseParseError) as caught:
        await transport.request(send_request())
    assert body.taken == 4  # 2048 bytes > 2000: it stopped at the first chunk over
    assert body.closed
    message = str(caught.value)
    assert "2000 bytes" in message
    assert "max_response_bytes" in message
    assert caught.value.certainty is DeliveryCertainty.UNKNOWN
    del caught
    gc.collect()
    await anyio.lowlevel.checkpoint()  # let trio's finalizer task run


async def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    body = _EndlessBody()
    transport = _transport_with(
        lambda request: httpx.Response(200, headers={"Content-Length": "999999"}, stream=body)
    )
    with pytest.raises(ResponseParseError, match="999999"):
        await transport.request(send_request())
    assert body.taken == 0
    assert body.closed


async def test_a_body_at_the_limit_is_accepted() -> None:
    transport = _transport_with(lambda request: httpx.Response(200, content=b"y" * 2000))
    response = await transport.request(send_request())
    assert response.content == b"y" * 2000
