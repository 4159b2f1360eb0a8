"""What happened to each send request the sandbox received: its recipients and its fault.

The sandbox counts the faults it injects (``sandbox.faults.injected``) but does not say
which request met which fault. These tests need that to prove claims such as "the
``unknown`` recipients are exactly those of the requests that were dropped", so
:func:`record_sends` puts a small ASGI middleware in front of the sandbox's own: it reads
each send request's body (the numbers it carries), and a wrapper around the fault
injector notes the fault drawn for that request (the injector is called in the same task,
so a context variable carries the record to it).

Only the sandbox is instrumented this way, never the SDK under test.
"""

from __future__ import annotations

import contextvars
import json
import threading
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

import anyio
import attrs
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crowdsms.sandbox import FaultKind, Sandbox, sandbox_of

__all__ = ["RequestLog", "SendRecord", "record_sends"]

# The send endpoints, by the end of their path (SUBMAIL may add a format suffix).
_SEND_PATHS = (
    "/submail/sms/multisend",
    "/sendcloud/smsapi/sendn",
    "/sendcloud/smsapi/sendx",
    "/paasw/sms/send",
)


@attrs.define
class SendRecord:
    """One send request as the sandbox received it."""

    path: str
    fields: dict[str, str]
    phones: tuple[str, ...]
    received_at: float
    """When the request arrived, on the sandbox's clock."""
    faults: list[FaultKind | None] = attrs.field(factory=list)
    finished: bool = False

    @property
    def fault(self) -> FaultKind | None:
        """The fault this request met (``None`` for none)."""
        assert len(self.faults) == 1, f"expected one fault draw, got {self.faults}"
        return self.faults[0]


_current: contextvars.ContextVar[SendRecord | None] = contextvars.ContextVar(
    "reliability_send_record", default=None
)


class RequestLog:
    """The send requests a sandbox received, in arrival order.

    ``hold``, when set, picks requests to keep waiting before the sandbox sees them, until
    :meth:`release` is called (from any thread): a test can so stop a job at an exact
    point, with a chosen request in flight.
    """

    def __init__(self) -> None:
        self.records: list[SendRecord] = []
        self.hold: Callable[[SendRecord], bool] | None = None
        self._released = threading.Event()

    def release(self) -> None:
        """Let the held requests (and any later ones) through."""
        self._released.set()

    async def _wait_released(self, *, within: float = 60.0) -> None:
        with anyio.move_on_after(within):
            while not self._released.is_set():  # noqa: ASYNC110 (set from another thread)
                await anyio.sleep(0.005)

    def with_fault(self, *kinds: FaultKind | None) -> list[SendRecord]:
        """The finished requests that met one of ``kinds``."""
        return [record for record in self.records if record.fault in kinds]

    def phones_of(self, records: Iterable[SendRecord]) -> set[str]:
        """Every number carried by ``records``."""
        return {phone for record in records for phone in record.phones}

    async def wait_idle(self, *, within: float) -> None:
        """Wait (at most ``within`` seconds) until every request has been handled.

        A slow answer goes on being processed after the client gave up on it; the ledger is
        complete only once those requests are finished.
        """
        with anyio.fail_after(within):
            # Polled: the records are finished by the server's tasks, which signal nothing.
            while not all(record.finished for record in self.records):  # noqa: ASYNC110
                await anyio.sleep(0.01)


def _fields(headers: dict[bytes, bytes], body: bytes) -> dict[str, str]:
    content_type = headers.get(b"content-type", b"").decode("latin-1")
    text = body.decode("utf-8")
    if "json" in content_type:
        data: dict[str, Any] = json.loads(text)
        return {
            key: value if isinstance(value, str) else json.dumps(value)
            for key, value in data.items()
        }
    return dict(urllib.parse.parse_qsl(text, keep_blank_values=True))


def _phones(fields: dict[str, str]) -> tuple[str, ...]:
    if "multi" in fields:  # SUBMAIL multisend
        return tuple(item["to"] for item in json.loads(fields["multi"]))
    if "tos" in fields:  # SendCloud sendn / sendx
        return tuple(item["phone"] for item in json.loads(fields["tos"]))
    if "phoneNumbers" in fields:  # paasw
        return tuple(fields["phoneNumbers"].split(","))
    return ()


class _Recorder:
    def __init__(self, app: ASGIApp, *, log: RequestLog, now: Callable[[], float]) -> None:
        self.app = app
        self.log = log
        self.now = now

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(_SEND_PATHS):
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        fields = _fields(dict(scope["headers"]), body)
        record = SendRecord(
            path=path, fields=fields, phones=_phones(fields), received_at=self.now()
        )
        self.log.records.append(record)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        token = _current.set(record)
        try:
            if self.log.hold is not None and self.log.hold(record):
                await self.log._wait_released()
            await self.app(scope, replay, send)
        finally:
            _current.reset(token)
            record.finished = True


def record_sends(app: Starlette) -> RequestLog:
    """Record the send requests ``app`` (from ``create_app``, not yet served) receives."""
    log = RequestLog()
    sandbox: Sandbox = sandbox_of(app)
    app.add_middleware(_Recorder, log=log, now=sandbox.clock.now)
    injector = sandbox.state.faults
    draw: Callable[[str, str], FaultKind | None] = injector.next

    def next_fault(provider: str, path: str) -> FaultKind | None:
        kind = draw(provider, path)
        record = _current.get()
        if record is not None:
            record.faults.append(kind)
        return kind

    injector.next = next_fault  # type: ignore[method-assign]
    return log
