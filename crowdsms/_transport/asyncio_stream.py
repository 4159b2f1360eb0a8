"""httpcore's connections straight on asyncio's sockets, for the httpx lanes on asyncio.

httpcore reaches the network through anyio by default: each read and each write of a
connection goes through an anyio stream inside its own ``fail_after`` cancel scope (a timer
and the scope's bookkeeping every time), and TLS through anyio's ``TLSStream``. On
asyncio, :class:`AsyncioBackend` gives httpcore a
stream over a plain ``asyncio.Protocol`` instead: the bytes the transport received wait in
a buffer, a read waits on one future with one ``call_later`` for its timeout, a write is the
transport's ``write`` (waiting only while the transport says its buffer is full), and TLS
is asyncio's own (``loop.start_tls``). Trio keeps httpcore's anyio backend.

The errors are httpcore's, with the same meaning as over anyio: a timeout is
``ConnectTimeout``, ``ReadTimeout`` or ``WriteTimeout``; a connection that fails or breaks
is ``ConnectError``, ``ReadError`` or ``WriteError``; a peer that closes its end is an empty
read, which httpcore reports as a disconnection.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore

__all__ = ["AsyncioBackend", "AsyncioStream"]

_PAUSE_AT = 256 * 1024
"""Bytes waiting to be read at which the transport stops reading from the socket."""

_SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)


class _Protocol(asyncio.Protocol):
    """What one connection's transport received, and who waits for it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        """The peer closed its end, or the connection was lost."""
        self.error: BaseException | None = None
        """Why the connection was lost, if it broke."""
        self.reader: asyncio.Future[None] | None = None
        self.drainer: asyncio.Future[None] | None = None
        self.paused_reading = False
        self.paused_writing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

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
        if exc is not None:
            self.error = exc
        self._wake_reader()
        self.paused_writing = False
        self._wake_drainer()

    def pause_writing(self) -> None:
        self.paused_writing = True

    def resume_writing(self) -> None:
        self.paused_writing = False
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
            if not transport.is_closing():
                transport.resume_reading()
        return data


def _timed_out(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


async def _wait(
    loop: asyncio.AbstractEventLoop, future: asyncio.Future[None], timeout: float | None
) -> None:
    """Wait for ``future``; TimeoutError after ``timeout`` seconds (``None``: no limit)."""
    if timeout is None:
        await future
        return
    timer = loop.call_later(max(timeout, 0.0), _timed_out, future)
    try:
        await future
    finally:
        timer.cancel()


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One connection over an asyncio transport (plain TCP, or TLS after :meth:`start_tls`)."""

    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self._loop = asyncio.get_running_loop()

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
        if not buffer:
            return
        protocol = self._protocol
        if protocol.error is not None:
            raise httpcore.WriteError(_describe(protocol.error))
        if self._transport.is_closing():
            raise httpcore.WriteError("the connection is closed")
        try:
            self._transport.write(buffer)
        except (OSError, RuntimeError) as exc:
            raise httpcore.WriteError(_describe(exc)) from exc
        while protocol.paused_writing:  # the transport's buffer is full: wait for room
            waiter = protocol.drainer = self._loop.create_future()
            try:
                await _wait(self._loop, waiter, timeout)
            except TimeoutError:
                raise httpcore.WriteTimeout("timed out writing to the connection") from None
            finally:
                protocol.drainer = None
            if protocol.error is not None:
                raise httpcore.WriteError(_describe(protocol.error))

    async def aclose(self) -> None:
        self._transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            transport = await self._loop.start_tls(
                self._transport,
                self._protocol,
                ssl_context,
                server_hostname=server_hostname,
                ssl_handshake_timeout=timeout,
            )
        except TimeoutError as exc:
            self._transport.close()
            raise httpcore.ConnectTimeout("timed out in the TLS handshake") from exc
        except (OSError, ssl.SSLError, ConnectionError) as exc:
            self._transport.close()
            raise httpcore.ConnectError(_describe(exc)) from exc
        if transport is None:  # the connection was lost during the handshake
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        assert isinstance(transport, asyncio.Transport)
        self._protocol.transport = transport  # pause and resume reading the decrypted stream
        return AsyncioStream(transport, self._protocol)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # An idle connection is readable only if the peer sent something or closed it:
            # either way it cannot take another request. The transport reads as soon as
            # bytes arrive, so what it received is in the buffer, not in the socket.
            protocol = self._protocol
            return bool(protocol.buffer) or protocol.eof or self._transport.is_closing()
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
            transport, protocol = await asyncio.wait_for(
                loop.create_connection(lambda: _Protocol(loop), host, port, local_addr=local),
                timeout,
            )
        except asyncio.TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"timed out connecting to {host}:{port}") from exc
        except OSError as exc:
            raise httpcore.ConnectError(_describe(exc)) from exc
        assert isinstance(transport, asyncio.Transport)
        assert isinstance(protocol, _Protocol)
        raw: Any = transport.get_extra_info("socket")
        if raw is not None:
            for option in socket_options or ():
                raw.setsockopt(*option)
        return AsyncioStream(transport, protocol)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[_SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            transport, protocol = await asyncio.wait_for(
                loop.create_unix_connection(lambda: _Protocol(loop), path), timeout
            )
        except asyncio.TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"timed out connecting to {path}") from exc
        except OSError as exc:
            raise httpcore.ConnectError(_describe(exc)) from exc
        assert isinstance(transport, asyncio.Transport)
        assert isinstance(protocol, _Protocol)
        return AsyncioStream(transport, protocol)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
