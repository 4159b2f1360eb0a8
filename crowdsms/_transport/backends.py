"""Which HTTP library a client's lanes use: aiohttp on asyncio when installed, else httpx.

``http_backend="auto"`` (the default) picks at the first request, when the event loop is
known: aiohttp's lanes (:mod:`crowdsms._transport.aiohttp_lane`) on asyncio with the
``aiohttp`` extra installed and no proxy, otherwise httpx's (:mod:`crowdsms._transport.lanes`),
which also run on trio. ``"httpx"`` and ``"aiohttp"`` ask for one; ``"aiohttp"`` without
the extra, with a proxy, or on trio is refused with a :class:`ConfigurationError`.
"""

from __future__ import annotations

import importlib.util
from typing import Final, Literal

import sniffio

from crowdsms._transport.connections import AttemptState, Received
from crowdsms._transport.lanes import LanePool
from crowdsms._transport.wire import WireRequest
from crowdsms.errors import ConfigurationError

__all__ = ["HTTP_BACKENDS", "AutoLanes", "HttpBackend", "aiohttp_installed"]

HttpBackend = Literal["auto", "httpx", "aiohttp"]
HTTP_BACKENDS: Final = ("auto", "httpx", "aiohttp")


def aiohttp_installed() -> bool:
    """Whether aiohttp can be imported (the ``crowdsms[aiohttp]`` extra)."""
    return importlib.util.find_spec("aiohttp") is not None


def _running_library() -> str | None:
    try:
        return sniffio.current_async_library()
    except sniffio.AsyncLibraryNotFoundError:
        return None


class AutoLanes:
    """A :class:`LanePool` over the library ``backend`` asks for, chosen once.

    The choice is made when the client is created inside a running event loop, else at the
    first request; :attr:`backend` says ``"auto"`` until then.
    """

    def __init__(self, size: int, *, proxy: str | None, backend: HttpBackend = "auto") -> None:
        if backend not in HTTP_BACKENDS:
            raise ConfigurationError(
                f"http_backend must be one of {', '.join(map(repr, HTTP_BACKENDS))}",
                received=repr(backend)[:40],
                action='Pass http_backend="auto" (the default), "httpx" or "aiohttp"',
            )
        if backend == "aiohttp":
            if not aiohttp_installed():
                raise ConfigurationError(
                    'http_backend="aiohttp" needs aiohttp, which is not installed',
                    action='pip install "crowdsms[aiohttp]", or leave http_backend at "auto"',
                )
            if proxy is not None:
                raise ConfigurationError(
                    'http_backend="aiohttp" does not go through a proxy',
                    action='Use http_backend="httpx" (or "auto") with a proxy',
                )
        if size < 1:
            raise ValueError(f"a client needs at least 1 connection, got max_connections={size}")
        self.size = size
        self._proxy = proxy
        self._requested: HttpBackend = backend
        self._pool: LanePool | None = None
        self._closed = False
        library = _running_library()
        if library is not None:
            self._pool = self._choose(library)

    def __repr__(self) -> str:
        return f"<AutoLanes {self.backend} size={self.size}>"

    @property
    def backend(self) -> str:
        """``"aiohttp"`` or ``"httpx"``: the library chosen, or asked for by name; ``"auto"``
        until the first request when the choice was left to the event loop."""
        if self._pool is not None:
            return self._pool.backend
        return self._requested

    @property
    def pool(self) -> LanePool | None:
        """The lanes, once chosen."""
        return self._pool

    def _choose(self, library: str) -> LanePool:
        wanted = self._requested
        if wanted == "aiohttp" and library != "asyncio":
            raise ConfigurationError(
                f'http_backend="aiohttp" runs on asyncio only, and this is {library}',
                action='Use http_backend="httpx" (or "auto") on trio',
            )
        use_aiohttp = wanted == "aiohttp" or (
            wanted == "auto"
            and library == "asyncio"
            and self._proxy is None
            and aiohttp_installed()
        )
        if use_aiohttp:
            from crowdsms._transport.aiohttp_lane import AiohttpLane

            return LanePool(self.size, make_lane=AiohttpLane, backend="aiohttp")
        return LanePool(self.size, proxy=self._proxy, backend="httpx")

    @property
    def lanes_open(self) -> int:
        """How many lanes exist."""
        return 0 if self._pool is None else self._pool.lanes_open

    async def send(self, request: WireRequest, *, max_body: int, state: AttemptState) -> Received:
        """Send on the chosen lanes, choosing them first if this is the first request."""
        pool = self._pool
        if pool is None:
            if self._closed:
                raise RuntimeError("this client is closed; create a new one")
            pool = self._pool = self._choose(sniffio.current_async_library())
        return await pool.send(request, max_body=max_body, state=state)

    async def aclose(self) -> None:
        """Close every lane."""
        self._closed = True
        if self._pool is not None:
            await self._pool.aclose()
