"""`WebhookApp`: a pure ASGI app that receives the providers' pushes and calls your handlers.

No web framework is needed: serve it with any ASGI server, or mount it in Starlette or
FastAPI. For each push it verifies and parses the body, calls a handler per event, in order,
and answers with the acknowledgement the provider expects. A push whose handler raises is
answered with HTTP 500 (and logged) so the provider sends it again: handlers should be
idempotent, as every event of a push is handled again when the push is retried.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any, Final, TypeAlias

import attrs

from crowdsms._suggest import did_you_mean
from crowdsms.errors import ConfigurationError
from crowdsms.webhooks._errors import WebhookError, WebhookReplayError
from crowdsms.webhooks._events import Event
from crowdsms.webhooks._receiver import ProviderWebhook, Receiver

__all__ = ["DEFAULT_MAX_BODY_SIZE", "EventHandler", "WebhookApp"]

logger = logging.getLogger("crowdsms.webhooks")

Scope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]

EventHandler: TypeAlias = Callable[[Any], Awaitable[object]]
"""An async function of one event (its return value is ignored)."""

DEFAULT_MAX_BODY_SIZE: Final = 1024 * 1024
"""The largest body accepted (1 MiB); a larger one is answered with HTTP 413."""

_TEXT: Final = b"text/plain; charset=utf-8"


class _BodyTooLargeError(Exception):
    pass


@attrs.frozen
class _Route:
    path: str
    receiver: Receiver
    name: str


def _is_async(handler: object) -> bool:
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
        getattr(handler, "__call__", None)  # noqa: B004 (an object with an async __call__)
    )


def _check_handler(handler: object, what: str) -> EventHandler:
    if not callable(handler) or not _is_async(handler):
        raise ConfigurationError(
            f"{what} must be an async function of one event",
            received=repr(handler)[:80],
            action="Define it with `async def handler(event): ...`",
        )
    return handler


def _check_path(path: object, what: str) -> str:
    if not isinstance(path, str) or not path.startswith("/"):
        raise ConfigurationError(
            f"{what} must be a path starting with '/'",
            received=repr(path)[:80],
            action="Pass e.g. '/hooks/reports'",
        )
    return path.rstrip("/") or "/"


def _routes(receivers: Mapping[str, ProviderWebhook], paths: dict[str, str]) -> list[_Route]:
    routes: list[_Route] = []
    for name, webhook in receivers.items():
        provider = getattr(webhook, "provider", None)
        if provider != name or not callable(getattr(webhook, "routes", None)):
            raise ConfigurationError(
                f"{name}= must be the {name} webhook receiver",
                received=repr(webhook)[:80],
                action=(
                    "Pass each provider's receiver under its name, e.g. "
                    "name=NameWebhook(...); unknown keywords are refused"
                ),
            )
        for route in webhook.routes():
            default = f"/{name}{route.suffix}"
            path = _check_path(paths.pop(default, default), f"the path of {default}")
            routes.append(_Route(path, route.receiver, default.lstrip("/")))
    if paths:
        known = [f"/{route.name}" for route in routes]
        unknown = next(iter(paths))
        raise ConfigurationError(
            f"paths names a route that no receiver serves: {unknown!r}"
            f"{did_you_mean(unknown, known)}",
            action=f"Use one of: {', '.join(known) or 'none (pass a receiver first)'}",
        )
    if not routes:
        raise ConfigurationError(
            "WebhookApp needs at least one receiver",
            action="Pass each provider's receiver under its registry name",
        )
    return routes


class WebhookApp:
    """An ASGI app that receives the providers' pushes and calls your handlers.

    Give it the receivers of the providers you use, each under its provider's name, and
    your handlers::

        app = WebhookApp(
            **receivers,   # each provider's receiver under its registry name
            handlers={DeliveryEvent: on_report, ReplyEvent: on_reply},
            on_event=on_anything_else,
        )

    Each provider is served at ``/{name}`` below wherever the app is mounted, plus the
    receiver's own suffixes (a provider that pushes reports and replies to different URLs
    has ``/{name}/deliver`` and ``/{name}/replies``); :attr:`paths` lists them. ``paths=``
    moves a route: ``paths={"/{name}/deliver": "/hooks/reports"}``.

    Each event goes to the handler registered for its class or its nearest base class in
    ``handlers``, else to ``on_event``, else nowhere (logged at DEBUG and acknowledged).
    Handlers are async functions, called one at a time, in the push's order.

    Answers: the provider's acknowledgement once every event is handled; 400 for a
    malformed body, 403 for a forged signature or a timestamp outside the window, 409 for a
    push received before (handlers are not called for these); 413 for a body larger than
    ``max_body_size``; 500 when a handler raised (logged on the ``crowdsms.webhooks``
    logger; the push is forgotten so that the provider's retry is accepted). ``GET`` and
    ``HEAD`` answer 200, for providers that check the URL before using it.
    """

    def __init__(
        self,
        *,
        on_event: EventHandler | None = None,
        handlers: Mapping[type[Event], EventHandler] | None = None,
        paths: Mapping[str, str] | None = None,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        **receivers: ProviderWebhook,
    ) -> None:
        routes = _routes(receivers, dict(paths or {}))
        self._routes: dict[str, _Route] = {}
        for route in routes:
            if route.path in self._routes:
                raise ConfigurationError(
                    f"two receivers share the path {route.path!r}",
                    received=f"{self._routes[route.path].name} and {route.name}",
                    action="Give each receiver its own path",
                )
            self._routes[route.path] = route
        self._on_event = None if on_event is None else _check_handler(on_event, "on_event")
        self._handlers: dict[type, EventHandler] = {}
        for event_type, handler in (handlers or {}).items():
            if not (isinstance(event_type, type) and issubclass(event_type, Event)):
                raise ConfigurationError(
                    "the keys of handlers must be event classes",
                    received=repr(event_type)[:80],
                    action="Use e.g. handlers={DeliveryEvent: on_report}",
                )
            self._handlers[event_type] = _check_handler(
                handler, f"the handler of {event_type.__name__}"
            )
        if self._on_event is None and not self._handlers:
            raise ConfigurationError(
                "WebhookApp has no handler: every event would be acknowledged and lost",
                action="Pass on_event=<async function> or handlers={EventClass: <async function>}",
            )
        if (
            isinstance(max_body_size, bool)
            or not isinstance(max_body_size, int)
            or (max_body_size < 1)
        ):
            raise ConfigurationError(
                "max_body_size must be a whole number of bytes, at least 1",
                received=repr(max_body_size)[:40],
                action=f"Pass e.g. max_body_size={DEFAULT_MAX_BODY_SIZE}",
            )
        self._max_body_size = max_body_size

    def __repr__(self) -> str:
        routes = ", ".join(f"{path} ({route.name})" for path, route in self._routes.items())
        return f"<WebhookApp {routes}>"

    @property
    def paths(self) -> Mapping[str, str]:
        """Which receiver answers at which path (path -> route name)."""
        return {path: route.name for path, route in self._routes.items()}

    def handler_for(self, event: Event) -> EventHandler | None:
        """The handler ``event`` goes to: its class's, its nearest base's, or ``on_event``."""
        for cls in type(event).__mro__:
            handler = self._handlers.get(cls)
            if handler is not None:
                return handler
        return self._on_event

    # -- ASGI -----------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection (``http``; ``lifespan`` is acknowledged)."""
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1000})
            return
        route = self._routes.get(_route_path(scope))
        if route is None:
            await _respond(send, 404, b"Not found: no webhook receiver at this path.\n")
            return
        method = scope.get("method", "GET")
        if method in ("GET", "HEAD"):
            await _respond(send, 200, b"ok\n", head=method == "HEAD")
            return
        if method != "POST":
            allow = [(b"allow", b"GET, HEAD, POST")]
            await _respond(send, 405, b"Method not allowed: POST the push here.\n", extra=allow)
            return
        await self._push(route, scope, receive, send)

    async def _push(self, route: _Route, scope: Scope, receive: Receive, send: Send) -> None:
        headers: list[tuple[bytes, bytes]] = [
            (bytes(key), bytes(value)) for key, value in scope.get("headers", ())
        ]
        try:
            body = await self._read_body(headers, receive)
        except _BodyTooLargeError:
            logger.warning(
                "refused a %s push larger than %d bytes", route.name, self._max_body_size
            )
            message = f"Body too large: at most {self._max_body_size} bytes are accepted.\n"
            await _respond(send, 413, message.encode())
            return
        if body is None:  # the client went away before sending the whole body
            return
        try:
            events = route.receiver.parse(headers, body)
        except WebhookError as error:
            level = (
                logging.INFO
                if isinstance(error, WebhookReplayError) and error.duplicate
                else logging.WARNING
            )
            logger.log(
                level, "refused a %s push (HTTP %d): %s", route.name, error.status_code, error
            )
            await _respond(send, error.status_code, f"{error}\n".encode())
            return
        handled = False
        try:
            await self._dispatch(route, events)
            handled = True
        except Exception:
            logger.exception(
                "a handler failed on a %s push of %d event(s); answered 500 so that the "
                "provider sends it again",
                route.name,
                len(events),
            )
            await _respond(
                send, 500, b"A handler failed; the push was not acknowledged. Send it again.\n"
            )
            return
        finally:
            if not handled:
                route.receiver.forget(headers, body)
        ack = route.receiver.acknowledgement
        await _respond(send, ack.status_code, ack.body, content_type=ack.content_type.encode())

    async def _dispatch(self, route: _Route, events: list[Event]) -> None:
        for event in events:
            handler = self.handler_for(event)
            if handler is None:
                logger.debug(
                    "no handler for %s from %s; acknowledged", type(event).__name__, route.name
                )
                continue
            result = handler(event)
            if not inspect.isawaitable(result):
                raise TypeError(
                    f"the handler of {type(event).__name__} did not return an awaitable"
                )
            await result

    async def _read_body(
        self, headers: list[tuple[bytes, bytes]], receive: Receive
    ) -> bytes | None:
        for key, value in headers:
            if key.lower() == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self._max_body_size:
                    raise _BodyTooLargeError
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_body_size:
                raise _BodyTooLargeError
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _route_path(scope: Scope) -> str:
    """The request's path below the app's mount point (as Starlette's ``Mount`` sets it)."""
    path: str = scope.get("path", "/")
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root) : len(root) + 1] in ("", "/"):
        path = path[len(root) :]
    return path.rstrip("/") or "/"


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    *,
    content_type: bytes = _TEXT,
    extra: list[tuple[bytes, bytes]] | None = None,
    head: bool = False,
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send(
        {"type": "http.response.start", "status": status, "headers": headers + (extra or [])}
    )
    await send({"type": "http.response.body", "body": b"" if head else body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
