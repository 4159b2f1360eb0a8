"""A write that timed out is "not sent" only where the stream provably dropped the rest.

Each test sends a body larger than loopback's socket buffers to a real server on loopback
that reads nothing until the client gave up, so the write times out for real.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import anyio
import anyio.to_thread
import httpx
import pytest

from crowdsms._transport import lanes
from crowdsms._transport.classify import UnsentWriteTimeout, error_for_exception
from crowdsms._transport.lanes import HttpcoreLane, HttpxLane, Lane
from crowdsms._transport.wire import WireRequest
from crowdsms.errors import DeliveryCertainty

_BODY = b"x" * (32 * 1024 * 1024)  # more than loopback's socket buffers hold
_TIMEOUT = httpx.Timeout(30.0, write=0.3)


class _StallingServer:
    """Accepts one connection and reads nothing until released; then counts what comes."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.released = threading.Event()
        self.received = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        connection, _ = self.listener.accept()
        with connection:
            self.released.wait()
            connection.settimeout(30.0)  # a bound on a hang, not a timing assertion
            try:
                while chunk := connection.recv(1 << 20):
                    self.received += len(chunk)
            except OSError:
                pass  # reset or timed out: what came so far is counted

    def received_in_all(self) -> int:
        """Release the server and wait until the client's side has ended; bytes received."""
        self.released.set()
        self._thread.join(60.0)
        assert not self._thread.is_alive()
        return self.received

    def close(self) -> None:
        self.released.set()
        self.listener.close()


@contextmanager
def _stalling_server() -> Iterator[_StallingServer]:
    server = _StallingServer()
    try:
        yield server
    finally:
        server.close()


def _post(port: int) -> WireRequest:
    return WireRequest(
        "POST",
        httpx.URL(f"http://127.0.0.1:{port}/sms/send"),
        [("content-type", "application/json")],
        _BODY,
        timeout=_TIMEOUT,
        operation="sms.send",
    )


async def _timed_out_write(lane: Lane, port: int) -> httpx.WriteTimeout:
    try:
        with pytest.raises(httpx.WriteTimeout) as raised:
            await lane.send(_post(port), max_body=1 << 20)
    finally:
        await lane.aclose()
    return raised.value


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
# httpcore's iterator over the body is left unfinished by the cancelled write (trio says so)
@pytest.mark.filterwarnings(
    "ignore:Exception ignored in.*ByteStream:pytest.PytestUnraisableExceptionWarning"
)
async def test_the_default_lanes_report_a_timed_out_write_as_not_sent(
    anyio_backend: str,
) -> None:
    # asyncio: crowdsms's stream aborts the connection before raising; trio hands bytes
    # straight to the socket and keeps none back. Either way the rest never goes out.
    with _stalling_server() as server:
        error = await _timed_out_write(HttpcoreLane(), server.port)
        received = await anyio.to_thread.run_sync(server.received_in_all)
    assert isinstance(error, UnsentWriteTimeout)
    classified = error_for_exception(error, operation="sms.send")
    assert classified.certainty is DeliveryCertainty.NOT_SENT
    assert received < len(_BODY)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_the_httpx_lane_over_anyio_streams_on_asyncio_reports_a_timed_out_write_unknown(
    anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What the lane gets on uvloop or Windows' proactor loop: httpcore's default backend,
    # anyio's streams, whose buffer the loop goes on writing after the timeout.
    monkeypatch.setattr(lanes, "_network_backend", lambda: None)
    with _stalling_server() as server:
        error = await _timed_out_write(HttpcoreLane(), server.port)
    assert not isinstance(error, UnsentWriteTimeout)
    classified = error_for_exception(error, operation="sms.send")
    assert classified.certainty is DeliveryCertainty.UNKNOWN


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_timed_out_write_over_anyio_streams_on_asyncio_is_unknown(
    anyio_backend: str,
) -> None:
    # httpx's own transport (a proxy, a user's transport) writes through anyio's streams: the
    # rest of the request waits in asyncio's buffer, which the loop goes on writing until
    # the connection is aborted, a loop iteration or more after the timeout was raised.
    with _stalling_server() as server:
        error = await _timed_out_write(HttpxLane(httpx.AsyncHTTPTransport()), server.port)
    assert not isinstance(error, UnsentWriteTimeout)
    classified = error_for_exception(error, operation="sms.send")
    assert classified.certainty is DeliveryCertainty.UNKNOWN
    assert "may still reach the provider" in str(classified)
