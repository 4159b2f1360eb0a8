"""httpcore's connections straight on asyncio's sockets, for the httpx lanes on asyncio.

httpcore reaches the network through anyio by default: each read and each write of a
connection goes through an anyio stream inside its own ``fail_after`` cancel scope (a timer
and the scope's bookkeeping every time), and TLS through anyio's ``TLSStream``. On
asyncio, :class:`AsyncioBackend` gives httpcore a
stream over a plain ``asyncio.Protocol`` instead: the bytes the transport received wait in
a buffer, a read waits on one future with one ``call_later`` for its timeout, a write is the
transport's ``write`` (then waiting, if the socket did not take it all at once, until the
transport holds none of it), and TLS is asyncio's own (``loop.start_tls``). Trio keeps
httpcore's own trio backend.

The errors are httpcore's, with the same meaning as over anyio: a timeout is
``ConnectTimeout``, ``ReadTimeout`` or ``WriteTimeout``; a connection that fails or breaks
is ``ConnectError``, ``ReadError`` or ``WriteError``; a peer that closes its end is an empty
read, which httpcore reports as a disconnection. One thing is stricter than over anyio: a
write that times out or breaks aborts the connection before it raises, so the part of the
request still held back is dropped, never sent later. Those errors say "not sent" (the
request may be sent again), which is only true if the server cannot get the whole of it.
"""

from __future__ import annotations

import asyncio
import select
import socket
import ssl
import sys
from collections.abc import Iterable
from contextlib import suppress
from typing import Any

import anyio
import httpcore

__all__ = ["AsyncioBackend", "AsyncioStream"]

_PAUSE_AT = 256 * 1024
"""Bytes waiting to be read at which the transport stops reading from the socket."""

_HAPPY_EYEBALLS_DELAY = 0.25
"""Seconds before trying a host's next address while the first still connects (anyio's)."""

_LOOK_AGAIN = 0.005
"""Seconds between looks at what the socket's transport under TLS still holds."""

_LOOK_SLOWEST = 0.1
"""Seconds between those looks once the socket's transport stopped handing bytes on."""

_SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)


class _Protocol(asyncio.Protocol):
    """What one connection's transport received, and who waits for it."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        """The peer closed its end, or the connection was lost."""
        self.error: BaseException | None = None
        """Why the connection was lost, if it broke."""
        self.lost = False
        """The connection is gone (broken, or closed by either end)."""
        self.reader: asyncio.Future[None] | None = None
        self.drainer: asyncio.Future[None] | None = None
        self.paused_reading = False
        self.drained = False
        """The transport handed every byte it held to the socket since this was cleared."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.use(transport)

    def use(self, transport: asyncio.Transport, *, tls: bool = False) -> None:
        """Read and write through ``transport`` (the socket's, or TLS's over it).

        The limits make the transport say ``resume_writing`` exactly when it has handed
        every byte on (to the socket, or to the socket's transport under TLS), which is
        what a write waits for. asyncio's socket transports pause above the high-water
        mark, so theirs is 0; its TLS transport from Python 3.11 pauses *at* the mark
        (at 0 it would flip between paused and resumed with nothing held), so its mark is
        1; Python 3.10's TLS transport passes the limits down to the socket's, already set.
        """
        self.transport = transport
        high = 1 if tls and sys.version_info >= (3, 11) else 0
        with suppress(AttributeError, RuntimeError):  # a TLS transport, its connection gone
            transport.set_write_buffer_limits(high=high, low=0)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) >= _PAUSE_AT and self.transport is not None:
            self.transport.pause_reading()
            self.paused_reading = True
        self._wake_reader()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake_reader()
        return False  # close the transport: httpcore never writes after the peer's end

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.lost = True
        if exc is not None:
            self.error = exc
        self._wake_reader()
        self._wake_drainer()

    def pause_writing(self) -> None:
        pass  # a write waits on what the transport holds (``unsent``), not on this

    def resume_writing(self) -> None:
        self.drained = True
        self._wake_drainer()

    def _wake_reader(self) -> None:
        reader, self.reader = self.reader, None
        if reader is not None and not reader.done():
            reader.set_result(None)

    def _wake_drainer(self) -> None:
        drainer, self.drainer = self.drainer, None
        if drainer is not None and not drainer.done():
            drainer.set_result(None)

    def take(self, max_bytes: int) -> bytes:
        """Up to ``max_bytes`` of what was received, removed from the buffer."""
        buffer = self.buffer
        if len(buffer) <= max_bytes:
            data = bytes(buffer)
            buffer.clear()
        else:
            data = bytes(buffer[:max_bytes])
            del buffer[:max_bytes]
        transport = self.transport
        if self.paused_reading and len(buffer) < _PAUSE_AT and transport is not None:
            self.paused_reading = False
            if not self.eof and not transport.is_closing():
                with suppress(AttributeError):  # Python 3.10's TLS transport, connection gone
                    transport.resume_reading()
        return data


def _timed_out(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


async def _wait(
    loop: asyncio.AbstractEventLoop, future: asyncio.Future[None], timeout: float | None
) -> None:
    """Wait for ``future``; TimeoutError after ``timeout`` seconds (``None``: no limit)."""
    timer = None if timeout is None else loop.call_later(max(timeout, 0.0), _timed_out, future)
    try:
        await future
    finally:
        if timer is not None:
            timer.cancel()
        if not future.done():  # cancelled while waiting: nobody will wake it now
            future.cancel()


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One connection over an asyncio transport (plain TCP, or TLS after :meth:`start_tls`)."""

    def __init__(
        self,
        transport: asyncio.Transport,
        protocol: _Protocol,
        *,
        socket_transport: asyncio.Transport | None = None,
    ) -> None:
        self._transport = transport
        self._protocol = protocol
        self._below = socket_transport
        """Under TLS, the socket's transport, which holds what TLS handed down."""
        self._loop = asyncio.get_running_loop()

    def _held(self) -> tuple[int, int]:
        """Bytes written that no socket took yet: in the transport, and (TLS) below it."""
        below = self._below
        return _unsent(self._transport), 0 if below is None else _unsent(below)

    def _cut_short(self) -> bool:
        """Whether a write the connection was lost under surely never arrived whole.

        asyncio empties a lost transport's buffer without a word, so what it held then is
        only known from ``resume_writing``: a socket's transport that never said it had
        handed everything on still held part of the write. Under TLS the last bytes wait
        in the socket's transport below, which tells only TLS: it cannot be known.
        """
        return self._below is None and not self._protocol.drained

    def _gone(self) -> bool:
        """Whether the connection is lost or closing (under TLS, seen first below it)."""
        below = self._below
        return (
            self._protocol.lost
            or self._transport.is_closing()
            or (below is not None and below.is_closing())
        )

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self._protocol
        while not protocol.buffer:
            if protocol.eof:
                if protocol.error is not None:
                    raise httpcore.ReadError(_describe(protocol.error))
                return b""
            waiter = protocol.reader = self._loop.create_future()
            try:
                await _wait(self._loop, waiter, timeout)
            except TimeoutError:
                raise httpcore.ReadTimeout("timed out reading from the connection") from None
            finally:
                protocol.reader = None
        return protocol.take(max_bytes)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Hand ``buffer`` to the socket; return once the transport holds none of it.

        ``WriteTimeout`` and ``WriteError`` mean the request cannot have arrived whole:
        part of it never left this process, and the transport is aborted before either
        is raised, so that part never will (a request reported as not sent may be sent
        again). A connection lost after every byte was handed on is not an error here:
        the server may have the request, and the read that follows says what happened.
        """
        if not buffer:
            return
        protocol, transport = self._protocol, self._transport
        if protocol.eof or self._gone():
            raise httpcore.WriteError(_lost(protocol, "the connection is closed"))
        protocol.drained = False
        try:
            transport.write(buffer)
        except (OSError, RuntimeError) as exc:
            transport.abort()
            raise httpcore.WriteError(_describe(exc)) from exc
        if self._gone():  # the send failed (asyncio closes the transport), or TLS dropped it
            transport.abort()
            raise httpcore.WriteError(_lost(protocol, "the connection broke while writing"))
        loop = self._loop
        deadline = None if timeout is None else loop.time() + timeout
        look, last_below = _LOOK_AGAIN, -1
        while True:
            here, below = self._held()
            if not (here or below) or self._gone():
                break
            # The transport says when it has handed everything on; what TLS handed to the
            # socket's transport below it, only that one hears of, so it is looked at again
            # every few milliseconds while it alone holds bytes (less often while they stay).
            wait = None if deadline is None else deadline - loop.time()
            if below and not here:
                look = _LOOK_AGAIN if below != last_below else min(look * 2, _LOOK_SLOWEST)
                last_below = below
                wait = look if wait is None else min(wait, look)
            waiter = protocol.drainer = loop.create_future()
            try:
                await _wait(loop, waiter, wait)
            except TimeoutError:
                if deadline is None or loop.time() < deadline:
                    continue  # only a look at the socket's transport below TLS
                if self._gone() and not self._cut_short():
                    return  # lost, maybe after the last bytes went: the read will say
                if not self._gone() and self._held() == (0, 0):
                    return  # the last bytes went as the timer fired
                transport.abort()  # now: what is held back must never reach the server
                raise httpcore.WriteTimeout("timed out writing to the connection") from None
            except BaseException:
                if not protocol.lost:  # asyncio's transport, closed on its own, has no loop left
                    transport.abort()  # cancelled halfway through a request: it goes no further
                raise
            finally:
                protocol.drainer = None
        if self._gone() and self._cut_short():
            transport.abort()
            raise httpcore.WriteError(_lost(protocol, "the connection broke while writing"))

    async def aclose(self) -> None:
        # abort, not close: close would still send what the transport holds, and a request
        # whose write timed out was reported as not sent, so must never reach the server.
        # Once the connection is lost there is nothing to drop, and a socket transport that
        # closed on its own after flushing (the peer's FIN while it still held bytes) has
        # no event loop left: its abort() would raise AttributeError.
        if not self._protocol.lost:
            self._transport.abort()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        protocol = self._protocol
        if protocol.eof or self._transport.is_closing():
            # asyncio would wait for a handshake on a connection already gone
            self._transport.abort()
            raise httpcore.ConnectError("the server closed the connection before TLS began")
        try:
            with anyio.fail_after(timeout):
                transport = await self._loop.start_tls(
                    self._transport,
                    protocol,
                    ssl_context,
                    server_hostname=server_hostname,
                    # the limit is the scope's; asyncio's own, a second later, is a backstop
                    # (without a limit, asyncio's default of 60 s ends it as a ConnectError)
                    ssl_handshake_timeout=None if timeout is None else timeout + 1.0,
                )
        except TimeoutError as exc:
            self._transport.abort()
            raise httpcore.ConnectTimeout("timed out in the TLS handshake") from exc
        except (OSError, ssl.SSLError, ConnectionError) as exc:
            self._transport.abort()
            raise httpcore.ConnectError(_describe(exc)) from exc
        except BaseException:  # cancelled: the half-made connection is not kept
            self._transport.abort()
            raise
        if transport is None:  # the connection was lost during the handshake
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        assert isinstance(transport, asyncio.Transport)
        protocol.use(transport, tls=True)  # reads and writes now go through TLS
        return AsyncioStream(transport, protocol, socket_transport=self._transport)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # An idle connection is readable only if the peer sent something or closed it:
            # either way it cannot take another request. What the transport received is in
            # the buffer; what arrived since the event loop last looked is in the socket.
            protocol = self._protocol
            if protocol.buffer or protocol.eof or self._transport.is_closing():
                return True
            return _socket_readable(self._transport.get_extra_info("socket"))
        name = _EXTRA_INFO.get(info)
        if name is None:
            return None
        try:
            return self._transport.get_extra_info(name)
        except AttributeError:  # asyncio's TLS transport, once its connection is lost
            return None


_EXTRA_INFO = {
    "ssl_object": "ssl_object",
    "client_addr": "sockname",
    "server_addr": "peername",
    "socket": "socket",
}
"""httpcore's names for what a stream can tell, and asyncio's for the same."""


def _socket_readable(sock: socket.socket | None) -> bool:
    """Whether ``sock`` has bytes (or its peer's end) waiting; a socket gone counts as read."""
    if sock is None or sock.fileno() < 0:
        return True
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN)
        return bool(poller.poll(0))
    readable, _, _ = select.select([sock.fileno()], [], [], 0)
    return bool(readable)


def _opened(
    transport: asyncio.BaseTransport,
    protocol: asyncio.BaseProtocol,
    socket_options: Iterable[_SocketOption] | None,
) -> AsyncioStream:
    """The stream over a new connection, its socket options set (else it is aborted)."""
    assert isinstance(transport, asyncio.Transport)
    assert isinstance(protocol, _Protocol)
    raw: socket.socket | None = transport.get_extra_info("socket")
    try:
        if raw is not None:
            for option in socket_options or ():
                raw.setsockopt(*option)
    except (OSError, TypeError) as exc:
        transport.abort()
        raise httpcore.ConnectError(f"a socket option was refused: {_describe(exc)}") from exc
    return AsyncioStream(transport, protocol)


def _unsent(transport: asyncio.Transport) -> int:
    """Bytes ``transport`` holds that it has not handed on yet."""
    try:
        return transport.get_write_buffer_size()
    except AttributeError:  # Python 3.10's TLS transport, once its connection is lost
        return 0


def _lost(protocol: _Protocol, otherwise: str) -> str:
    """Why the connection is gone, for an error's message."""
    return _describe(protocol.error) if protocol.error is not None else otherwise


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend over asyncio's transports (see the module's notes)."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[_SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        local = (local_address, 0) if local_address is not None else None
        try:
            with anyio.fail_after(timeout):
                transport, protocol = await loop.create_connection(
                    _Protocol,
                    host,
                    port,
                    local_addr=local,
                    happy_eyeballs_delay=_HAPPY_EYEBALLS_DELAY,
                )
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"timed out connecting to {host}:{port}") from exc
        except OSError as exc:
            raise httpcore.ConnectError(_describe(exc)) from exc
        return _opened(transport, protocol, socket_options)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[_SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            with anyio.fail_after(timeout):
                transport, protocol = await loop.create_unix_connection(_Protocol, path)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"timed out connecting to {path}") from exc
        except OSError as exc:
            raise httpcore.ConnectError(_describe(exc)) from exc
        return _opened(transport, protocol, socket_options)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
