"""Serving the sandbox with uvicorn on loopback: async, in a thread, or in the foreground.

- ``async with serve() as sandbox:`` runs the server on the current asyncio loop, on a free
  port of 127.0.0.1, and stops it on exit (it needs asyncio: uvicorn does).
- ``with serve_in_thread() as sandbox:`` does the same on an event loop in a background
  thread, for synchronous code and for tests running on trio.
- ``run(host, port)`` serves in the foreground until Ctrl-C (the CLI).

When the address cannot be listened on (the port is taken, say), each of them raises
:class:`ListenError`, an ``OSError`` that names the address.

The server is tuned so that benchmarks measure the client: no access log, no per-request
logging, uvicorn's own ``Date``/``Server`` headers off (the sandbox writes ``Date`` from its
own clock), and httptools when it is installed (else h11). Sockets are bound here, before
uvicorn starts, so ``port=0`` gives a free port that is known at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator

import anyio
import anyio.from_thread
import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp

from crowdsms.sandbox._app import create_app, sandbox_of
from crowdsms.sandbox._control import Sandbox
from crowdsms.sandbox._drop import ConnectionRegistry, protocol_class
from crowdsms.sandbox._settings import SandboxSettings

__all__ = ["ListenError", "run", "serve", "serve_asgi", "serve_in_thread"]

_GRACEFUL_SHUTDOWN_SECONDS = 2


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the program embedding it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class ListenError(OSError):
    """The sandbox could not listen on ``host:port``: taken, not allowed, or no such address.

    ``errno`` is the operating system's (``errno.EADDRINUSE`` for a port in use);
    ``address`` is ``host:port`` as it would be typed.
    """

    def __init__(self, host: str, port: int, cause: OSError) -> None:
        self.host = host
        self.port = port
        self.address = _address(host, port)
        self.reason = cause.strerror or str(cause)
        super().__init__(cause.errno, f"cannot listen on {self.address}: {self.reason}")

    @property
    def in_use(self) -> bool:
        """Whether another program (or sandbox) already listens on the address."""
        return self.errno == errno.EADDRINUSE


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets whose proto says
    # TCP, and without it Nagle's algorithm meets delayed ACKs: 40 ms per answer.
    try:
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    except OSError as exc:
        raise ListenError(host, port, exc) from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)
    except OSError as exc:
        sock.close()
        raise ListenError(host, port, exc) from exc
    return sock


def _url(host: str, sock: socket.socket) -> str:
    return "http://" + _address(host, sock.getsockname()[1])


def _config(app: ASGIApp, registry: ConnectionRegistry | None, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        http=protocol_class(registry) if registry is not None else "auto",
        ws="none",
        lifespan="on",
        access_log=False,
        log_config=None,
        log_level=log_level,
        date_header=False,
        server_header=False,
        timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_SECONDS,
    )


@contextlib.asynccontextmanager
async def _serving(
    app: ASGIApp,
    *,
    host: str,
    port: int,
    log_level: str,
    startup_timeout: float,
    registry: ConnectionRegistry | None,
) -> AsyncIterator[str]:
    sock = _bind(host, port)
    server = _EmbeddedServer(_config(app, registry, log_level))
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    try:
        with anyio.fail_after(startup_timeout):
            # uvicorn exposes only a flag, not an event, for "started".
            while not server.started and not task.done():  # noqa: ASYNC110
                await asyncio.sleep(0.005)
        if not server.started:
            await task
            raise RuntimeError("the server stopped while starting; see the log")
        yield _url(host, sock)
    finally:
        server.should_exit = True
        with anyio.CancelScope(shield=True):
            with contextlib.suppress(Exception):
                await task
        sock.close()


@contextlib.asynccontextmanager
async def serve_asgi(
    app: ASGIApp,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    log_level: str = "warning",
    startup_timeout: float = 10.0,
) -> AsyncIterator[str]:
    """Serve any ASGI app (a webhook receiver, say) with uvicorn; yield its root URL."""
    async with _serving(
        app,
        host=host,
        port=port,
        log_level=log_level,
        startup_timeout=startup_timeout,
        registry=None,
    ) as url:
        yield url


@contextlib.asynccontextmanager
async def serve(
    settings: SandboxSettings | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    app: Starlette | None = None,
    log_level: str = "warning",
    startup_timeout: float = 10.0,
) -> AsyncIterator[Sandbox]:
    """Serve a sandbox on the current asyncio loop; yield its :class:`Sandbox`.

    ``port=0`` picks a free port; ``sandbox.url`` says which. Pass ``app`` (from
    :func:`~crowdsms.sandbox.create_app`) to serve an app you already hold. The server stops
    when the block exits, in at most a few seconds even with requests in flight.
    """
    application = app if app is not None else create_app(settings)
    sandbox = sandbox_of(application)
    registry = ConnectionRegistry()
    sandbox.state.connections = registry
    try:
        async with _serving(
            application,
            host=host,
            port=port,
            log_level=log_level,
            startup_timeout=startup_timeout,
            registry=registry,
        ) as url:
            sandbox._attach(url, loop_thread=threading.get_ident())
            try:
                yield sandbox
            finally:
                sandbox._attach(None)
    finally:
        sandbox.state.connections = None


@contextlib.contextmanager
def serve_in_thread(
    settings: SandboxSettings | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    app: Starlette | None = None,
    log_level: str = "warning",
    startup_timeout: float = 10.0,
) -> Iterator[Sandbox]:
    """:func:`serve` on an event loop in a background thread, for synchronous code.

    The :class:`Sandbox` controls are safe to call from the caller's thread: they run on the
    server's loop.
    """
    with anyio.from_thread.start_blocking_portal("asyncio") as portal:
        served = serve(
            settings,
            host=host,
            port=port,
            app=app,
            log_level=log_level,
            startup_timeout=startup_timeout,
        )
        with portal.wrap_async_context_manager(served) as sandbox:
            sandbox._attach_portal(portal)
            try:
                yield sandbox
            finally:
                sandbox._attach_portal(None)


def run(
    host: str = "127.0.0.1",
    port: int = 8000,
    settings: SandboxSettings | None = None,
    *,
    log_level: str = "info",
    ready: Callable[[Sandbox], None] | None = None,
) -> None:
    """Serve a sandbox in the foreground until interrupted (Ctrl-C or SIGTERM).

    ``ready`` is called with the :class:`Sandbox` once the socket is bound (``port=0``
    picks a free port: read it from ``sandbox.url``). Raises :class:`ListenError` if the
    address cannot be listened on.
    """
    app = create_app(settings)
    sandbox = sandbox_of(app)
    registry = ConnectionRegistry()
    sandbox.state.connections = registry
    sock = _bind(host, port)
    try:
        sandbox._attach(_url(host, sock))
        if ready is not None:
            ready(sandbox)
        uvicorn.Server(_config(app, registry, log_level)).run(sockets=[sock])
    finally:
        sock.close()
