"""`WebhookApp`: a pure ASGI app that receives the providers' pushes and calls your handlers.

No web framework is needed: serve it with any ASGI server, or mount it in Starlette or
FastAPI. For each push it verifies and parses the body, claims the push in its replay store,
calls a handler per event, in order (extending the claim while they run), marks the push
handled, and answers with the acknowledgement the provider expects. A copy of a push handled
before is acknowledged without calling the handlers; a copy of a push still being handled is
answered 503, and so is a push that could not be marked handled. A push
whose handler raises is answered with HTTP 500 (and logged), and released from the store, so
the provider sends it again: handlers should be idempotent, as every event of a push is
handled again when the push is retried.
"""

from __future__ import annotations

import inspect
import logging
import math
import secrets
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from typing import Any, Final, TypeAlias

import anyio
import attrs

from crowdsms._suggest import did_you_mean
from crowdsms.errors import ConfigurationError
from crowdsms.webhooks._errors import WebhookError, WebhookReplayError
from crowdsms.webhooks._events import Event
from crowdsms.webhooks._receiver import ProviderWebhook, Receiver, VerifiedPush
from crowdsms.webhooks._replay import (
    DEFAULT_HANDLING_LEASE,
    DEFAULT_REPLAY_KEEP,
    MemoryReplayStore,
    PushState,
    ReplayKey,
    ReplayStore,
    StalePushError,
)

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

_FAILED: Final = b"A handler failed; the push was not acknowledged. Send it again.\n"

_UNRECORDED: Final = b"The push was handled but could not be recorded as handled; send it again.\n"

_RETRY_AFTER: Final = 30
"""Seconds a copy of a push still being handled is told to wait (``Retry-After``)."""

_STORE_METHODS: Final = (
    "claim_push",
    "complete_push",
    "release_push",
    "extend_push",
    "push_handled",
)

COMPLETE_BACKOFF: Final = (0.05, 0.25, 1.0)
"""Seconds waited before each new attempt to mark a handled push handled, when the replay
store failed (a Redis failover, SQLite's ``database is locked``)."""


class _BodyTooLargeError(Exception):
    pass


def _check_store(store: object) -> ReplayStore:
    if not all(callable(getattr(store, name, None)) for name in _STORE_METHODS):
        raise ConfigurationError(
            f"replay must be a replay store ({', '.join(_STORE_METHODS)})",
            received=repr(store)[:80],
            action=(
                "Pass the delivery store you record into (SQLiteDeliveryStore, "
                "RedisDeliveryStore), or a MemoryReplayStore"
            ),
        )
    return store  # type: ignore[return-value]


def _check_duration(name: str, value: object, example: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value < math.inf):
        raise ConfigurationError(
            f"{name} must be a number of seconds above 0",
            received=repr(value)[:40],
            action=f"Pass e.g. {name}={example:.0f}",
        )
    return float(value)


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

    Each signed push is claimed by its key (provider and signature) in ``replay``, a
    :class:`~crowdsms.webhooks.ReplayStore`, before its events are handled, and marked
    handled (kept ``replay_keep`` seconds, 7 days by default) once they are. Without
    ``replay`` each receiver's in-memory store is used: empty after a restart, and not
    shared between worker processes, so a push captured on the wire can then be handled
    again (with any fields, where the provider signs only a token). Pass the
    delivery store you record into (``SQLiteDeliveryStore``, ``RedisDeliveryStore``), which
    keeps the keys durably for every process that uses it. A claim lasts
    ``handling_lease`` seconds (5 minutes), and is extended every third of that while the
    handlers run, however long they take; a worker that died mid-push stops extending it,
    so it blocks the provider's retries no longer than that. Marking a push handled is tried
    four times (over about a second) before the app gives up on it.

    What remains: a copy is handled a second time, alongside or after the first, only when
    the claim runs out unextended (the store unreachable, or this process stalled, for a
    whole lease while the handlers run: logged as an error), or when the push could not be
    marked handled (answered 503 and logged: the claim runs out after the lease, and the
    provider's retry, or a copy with forged fields where only a token is signed, is then
    handled again); and, with the in-memory default store, after a restart or on another
    worker.

    Answers: the provider's acknowledgement once every event is handled, and for a copy of a
    push handled before (its handlers are not called again), even one whose timestamp has
    left the window since (a late retry; its signature is verified first); 400 for a
    malformed body, 403 for a forged signature or a timestamp outside the window, 409 for a
    request that carries the same push twice (handlers are not called for these); 413 for a
    body larger than ``max_body_size``; 500 when a handler raised (logged on the
    ``crowdsms.webhooks`` logger; the push is released so that the provider's retry is
    handled); 503 with ``Retry-After`` for a copy of a push another request is handling now,
    when the replay store cannot be reached, or when the handlers ran but the push could not
    be marked handled (the provider's retry is handled again: handlers must be idempotent).
    ``GET`` and ``HEAD`` answer 200, for providers that check the URL before using it.
    """

    def __init__(
        self,
        *,
        on_event: EventHandler | None = None,
        handlers: Mapping[type[Event], EventHandler] | None = None,
        paths: Mapping[str, str] | None = None,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        replay: ReplayStore | None = None,
        replay_keep: float = DEFAULT_REPLAY_KEEP,
        handling_lease: float = DEFAULT_HANDLING_LEASE,
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
        self._replay = None if replay is None else _check_store(replay)
        self._replay_keep = _check_duration("replay_keep", replay_keep, DEFAULT_REPLAY_KEEP)
        self._lease = _check_duration("handling_lease", handling_lease, DEFAULT_HANDLING_LEASE)
        self._memory = MemoryReplayStore()  # for receivers without one of their own

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
        verify = getattr(route.receiver, "verify", None)
        if not callable(verify):  # a receiver of your own: parse, and forget on failure
            await self._push_parsed(route, headers, body, send)
            return
        store = self._store_for(route.receiver)
        try:
            pushes: list[VerifiedPush] = verify(headers, body)
        except StalePushError as error:
            if await _all_handled(store, error.keys, route):
                logger.info(
                    "acknowledged a late copy of a %s push handled before (its timestamp is "
                    "outside the window), without handling it again",
                    route.name,
                )
                await _acknowledge(send, route.receiver)
            else:
                await _refuse(send, route, error)
            return
        except WebhookError as error:
            await _refuse(send, route, error)
            return
        owner = secrets.token_hex(16)
        try:
            states = await self._claim(store, pushes, owner)
        except Exception:
            logger.exception(
                "the replay store failed on a %s push; answered 503 so that the provider "
                "sends it again",
                route.name,
            )
            await _respond(
                send,
                503,
                b"The replay store cannot be reached; nothing was handled. Send it again.\n",
                extra=[(b"retry-after", str(_RETRY_AFTER).encode())],
            )
            return
        if PushState.HANDLING in states.values():
            # 503 with Retry-After, not 409: the copy is not wrong, it came too early. If the
            # request handling it fails, the push is released and this retry must come back,
            # and senders of webhooks retry a 503 (busy, come back later) where many treat a
            # 4xx as final and drop the push.
            logger.info("a %s push is being handled; answered a copy with 503", route.name)
            await _respond(
                send,
                503,
                b"This push is being handled now; send it again later.\n",
                extra=[(b"retry-after", str(_RETRY_AFTER).encode())],
            )
            return
        claimed = [key for key, state in states.items() if state is PushState.NEW]
        events = [
            event
            for push in pushes
            if push.key is None or states[push.key] is PushState.NEW
            for event in push.events
        ]
        if states and not claimed:
            logger.info(
                "acknowledged a copy of a %s push handled before, without handling it again",
                route.name,
            )
            await _acknowledge(send, route.receiver)
            return
        try:
            failure = await self._handle(store, claimed, owner, route, events)
        except BaseException:
            await _settle(store, claimed, route, owner=owner)
            raise
        if failure is not None:
            await _settle(store, claimed, route, owner=owner)  # before the 500: a retry waits not
            _log_handler_failure(route, events, failure)
            await _respond(send, 500, _FAILED)
            return
        unrecorded = await _settle(store, claimed, route, keep=self._replay_keep)
        if unrecorded:
            # Handled, but a copy (the provider's retry, or a forged one where only a token
            # is signed) would be handled again once the claim's lease runs out: do not tell
            # the provider all is well. It retries, and the retry is handled again (handlers
            # are idempotent) or, once the store is back, acknowledged.
            logger.error(
                "the replay store could not mark %d of %d key(s) of a %s push handled; "
                "answered 503 so that the provider sends it again (a copy arriving after the "
                "claim's lease, %.0f s, is handled again)",
                unrecorded,
                len(claimed),
                route.name,
                self._lease,
            )
            await _respond(
                send, 503, _UNRECORDED, extra=[(b"retry-after", str(_RETRY_AFTER).encode())]
            )
            return
        await _acknowledge(send, route.receiver)

    async def _handle(
        self,
        store: ReplayStore,
        claimed: Sequence[ReplayKey],
        owner: str,
        route: _Route,
        events: list[Event],
    ) -> Exception | None:
        """Run the handlers while keeping ``owner``'s claims alive; the handler's error."""
        if not claimed:
            try:
                await self._dispatch(route, events)
            except Exception as error:
                return error
            return None
        failure: Exception | None = None
        async with anyio.create_task_group() as group:
            group.start_soon(self._hold, store, list(claimed), owner, route)
            try:
                await self._dispatch(route, events)
            except Exception as error:
                failure = error
            finally:
                group.cancel_scope.cancel()
        return failure

    async def _hold(
        self, store: ReplayStore, keys: list[ReplayKey], owner: str, route: _Route
    ) -> None:
        """Extend ``owner``'s claims every third of the lease while the handlers run, so that
        a copy arriving while they are slow is answered 503, not handled alongside."""
        while keys:
            await anyio.sleep(self._lease / 3)
            for key in list(keys):
                try:
                    held = await store.extend_push(key, owner=owner, lease=self._lease)
                except Exception:
                    logger.warning(
                        "the replay store failed to extend the claim on a %s push; trying "
                        "again in %.0f s",
                        route.name,
                        self._lease / 3,
                        exc_info=True,
                    )
                    continue
                if not held:
                    # The lease ran out before it was extended (the store was unreachable,
                    # or this process stalled, for a whole lease): a copy may be handled now.
                    logger.error(
                        "the claim on a %s push ran out while its handlers ran; a copy may "
                        "be handled at the same time",
                        route.name,
                    )
                    keys.remove(key)

    def _store_for(self, receiver: Receiver) -> ReplayStore:
        """The app's store, else the receiver's own memory, else the app's memory."""
        if self._replay is not None:
            return self._replay
        memory = getattr(receiver, "replay_memory", None)
        return self._memory if memory is None else _check_store(memory)

    async def _claim(
        self, store: ReplayStore, pushes: Sequence[VerifiedPush], owner: str
    ) -> dict[ReplayKey, PushState]:
        """Claim each push's key; on a key being handled elsewhere, drop the claims taken."""
        states: dict[ReplayKey, PushState] = {}
        try:
            for push in pushes:
                if push.key is None:
                    continue
                state = await store.claim_push(push.key, owner=owner, lease=self._lease)
                states[push.key] = state
                if state is PushState.HANDLING:
                    break
        except BaseException:
            taken = [key for key, state in states.items() if state is PushState.NEW]
            await _settle(store, taken, None, owner=owner)
            raise
        if PushState.HANDLING in states.values():
            taken = [key for key, state in states.items() if state is PushState.NEW]
            await _settle(store, taken, None, owner=owner)
        return states

    async def _push_parsed(
        self, route: _Route, headers: list[tuple[bytes, bytes]], body: bytes, send: Send
    ) -> None:
        """A receiver without ``verify``: it remembers pushes itself (``parse``/``forget``)."""
        try:
            events = route.receiver.parse(headers, body)
        except WebhookError as error:
            await _refuse(send, route, error)
            return
        try:
            await self._dispatch(route, events)
        except Exception as error:
            route.receiver.forget(headers, body)
            _log_handler_failure(route, events, error)
            await _respond(send, 500, _FAILED)
            return
        except BaseException:
            route.receiver.forget(headers, body)
            raise
        await _acknowledge(send, route.receiver)

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


async def _refuse(send: Send, route: _Route, error: WebhookError) -> None:
    duplicate = isinstance(error, WebhookReplayError) and error.duplicate
    level = logging.INFO if duplicate else logging.WARNING
    logger.log(level, "refused a %s push (HTTP %d): %s", route.name, error.status_code, error)
    await _respond(send, error.status_code, f"{error}\n".encode())


async def _acknowledge(send: Send, receiver: Receiver) -> None:
    ack = receiver.acknowledgement
    await _respond(send, ack.status_code, ack.body, content_type=ack.content_type.encode())


def _log_handler_failure(route: _Route, events: Sequence[Event], error: Exception) -> None:
    logger.error(
        "a handler failed on a %s push of %d event(s); answered 500 so that the "
        "provider sends it again",
        route.name,
        len(events),
        exc_info=error,
    )


async def _all_handled(store: ReplayStore, keys: Sequence[ReplayKey], route: _Route) -> bool:
    """Whether every key is marked handled in ``store`` (False when it cannot say)."""
    if not keys:
        return False
    try:
        for key in keys:
            if not await store.push_handled(key):
                return False
    except Exception:
        logger.warning(
            "the replay store failed to say whether a late %s push was handled; refused it",
            route.name,
            exc_info=True,
        )
        return False
    return True


async def _settle(
    store: ReplayStore,
    keys: Sequence[ReplayKey],
    route: _Route | None,
    *,
    owner: str | None = None,
    keep: float | None = None,
) -> int:
    """Release ``owner``'s claims on ``keys`` (handling failed), or mark them handled for
    ``keep`` seconds (a failed write is tried again, :data:`COMPLETE_BACKOFF`); shielded,
    since the request may be cancelled as it ends. Every key is tried; returns how many
    failed."""
    failed = 0
    with anyio.CancelScope(shield=True):
        for key in keys:
            delays = COMPLETE_BACKOFF if keep is not None else ()
            for attempt in range(len(delays) + 1):
                try:
                    if keep is not None:
                        await store.complete_push(key, keep=keep)
                    elif owner is not None:
                        await store.release_push(key, owner=owner)
                except Exception:
                    if attempt < len(delays):
                        logger.warning(
                            "the replay store failed to mark a %s push handled; trying again",
                            route.name if route is not None else "received",
                            exc_info=True,
                        )
                        await anyio.sleep(delays[attempt])
                        continue
                    # Handled but not marked (a copy is handled again once the lease runs
                    # out), or failed but not released (the retry waits for the lease).
                    logger.exception(
                        "the replay store failed to %s a %s push",
                        "mark handled" if keep is not None else "release",
                        route.name if route is not None else "received",
                    )
                    failed += 1
                break
    return failed


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
