"""Dropping a connection from inside an ASGI app, so the client sees a lost connection.

ASGI gives an app no way to close its connection: an app that raises before answering gets
a 500 from uvicorn, not a dropped connection. So the sandbox runs uvicorn with a thin
subclass of its HTTP protocol that records each connection's asyncio transport under the
client's address (the ``client`` of the ASGI scope). To drop a request, the app looks the
transport up and calls ``abort()``: the socket closes at once without an answer, and an
httpx client raises ``httpx.RemoteProtocolError("Server disconnected without sending a
response.")`` (or ``httpx.ReadError`` if the peer resets first). After the abort the app
yields once, so uvicorn has marked the request disconnected before the app returns, and it
logs nothing.

Only the ``connection_made`` / ``connection_lost`` hooks of ``asyncio.Protocol`` are
overridden, so this works over uvicorn's h11 and httptools implementations alike.
"""

from __future__ import annotations

import asyncio
import importlib
import threading
from typing import Any, cast

__all__ = ["ConnectionRegistry", "DropUnsupportedError", "protocol_class"]


class DropUnsupportedError(RuntimeError):
    """The server running the sandbox app cannot drop connections (not started by serve())."""


class ConnectionRegistry:
    """Live connections' transports, by the client's ``(host, port)``."""

    def __init__(self) -> None:
        self._transports: dict[tuple[str, int], asyncio.Transport] = {}
        self._lock = threading.Lock()

    def add(self, client: tuple[str, int], transport: asyncio.Transport) -> None:
        """Remember ``transport`` as the connection of ``client``."""
        with self._lock:
            self._transports[client] = transport

    def discard(self, client: tuple[str, int], transport: asyncio.Transport) -> None:
        """Forget the connection of ``client`` if it is ``transport``."""
        with self._lock:
            if self._transports.get(client) is transport:
                del self._transports[client]

    async def drop(self, client: Any) -> None:
        """Close ``client``'s connection without an answer."""
        transport = None
        if client is not None:
            with self._lock:
                transport = self._transports.get((client[0], client[1]))
        if transport is None:
            raise DropUnsupportedError(
                "this connection cannot be dropped: serve the app with serve()"
            )
        transport.abort()
        # Let the loop run connection_lost(), so uvicorn sees the request as disconnected.
        await asyncio.sleep(0)
        await asyncio.sleep(0)


def _base_protocol() -> type[asyncio.Protocol]:
    try:
        importlib.import_module("httptools")
        module = importlib.import_module("uvicorn.protocols.http.httptools_impl")
        return cast("type[asyncio.Protocol]", module.HttpToolsProtocol)
    except ImportError:
        module = importlib.import_module("uvicorn.protocols.http.h11_impl")
        return cast("type[asyncio.Protocol]", module.H11Protocol)


def protocol_class(registry: ConnectionRegistry) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol (httptools if installed, else h11), recording connections."""
    base: Any = _base_protocol()

    class RecordingProtocol(base):  # type: ignore[misc]
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            client = getattr(self, "client", None)
            self._sandbox_client = client
            if client is not None:
                registry.add((client[0], client[1]), cast("asyncio.Transport", transport))

        def connection_lost(self, exc: Exception | None) -> None:
            client = getattr(self, "_sandbox_client", None)
            if client is not None:
                registry.discard((client[0], client[1]), self.transport)
            super().connection_lost(exc)

    return cast("type[asyncio.Protocol]", RecordingProtocol)
