"""The sandbox as one Starlette application: every provider's emulator and the admin endpoints.

Each registered provider is mounted under its registry entry's ``sandbox_prefix``, so one server URL
serves every SDK client, each given its provider's base URL. The app's lifespan runs the
webhook pusher and a ticker that moves time-driven state (contact-list tasks) along.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import anyio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount

from crowdsms.sandbox._admin import admin_routes
from crowdsms.sandbox._control import Sandbox, prefixes
from crowdsms.sandbox._middleware import SandboxMiddleware
from crowdsms.sandbox._settings import SandboxSettings

__all__ = ["create_app", "sandbox_of"]

_TICK_SECONDS = 0.1
_MAX_BODY = 16 * 1024 * 1024


async def _tick_forever(sandbox: Sandbox) -> None:
    while True:
        await anyio.sleep(_TICK_SECONDS)
        sandbox.state.tick()


def create_app(
    settings: SandboxSettings | None = None, *, sandbox: Sandbox | None = None
) -> Starlette:
    """A new sandbox ASGI app; its :class:`Sandbox` is ``app.state.sandbox``.

    Serve it with :func:`~crowdsms.sandbox.serve` (dropped-connection faults need it) or any
    ASGI server.
    """
    sandbox = sandbox if sandbox is not None else Sandbox(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with anyio.create_task_group() as group:
            group.start_soon(sandbox.state.webhooks.run)
            group.start_soon(_tick_forever, sandbox)
            yield
            group.cancel_scope.cancel()

    routes = [
        Mount(prefix, routes=list(sandbox.emulator(name).routes()))
        for name, prefix in prefixes().items()
    ]
    routes.append(Mount("/_sandbox", routes=admin_routes(sandbox)))
    app = Starlette(
        routes=routes,
        middleware=[Middleware(SandboxMiddleware, state=sandbox.state, prefixes=prefixes())],
        lifespan=lifespan,
        max_body_size=_MAX_BODY,
    )
    app.state.sandbox = sandbox
    return app


def sandbox_of(app: Starlette) -> Sandbox:
    """The :class:`Sandbox` of an app made by :func:`create_app`."""
    sandbox = getattr(app.state, "sandbox", None)
    if not isinstance(sandbox, Sandbox):
        raise TypeError("this app was not made by crowdsms.sandbox.create_app()")
    return sandbox
