"""The ASGI layer in front of the provider routes: latency, faults and the ``Date`` header.

A plain ASGI middleware (no per-request objects beyond a closure) so that it costs little.
Requests under a provider's prefix wait ``latency`` seconds, then meet their fault, if any
(see :class:`~crowdsms.sandbox.FaultKind`). Each injected fault is added to the fault log
(:class:`~crowdsms.sandbox.FaultRecord`); a request processed in spite of its fault
(``drop_after``, ``slow``) is processed while the numbers it writes to the ledger are
collected into its record. Every answer, admin ones included, carries a ``Date`` header
from the sandbox's clock, so a client that corrects its clock from ``Date`` sees the skew
the test configured.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crowdsms.sandbox._drop import DropUnsupportedError
from crowdsms.sandbox._fault_log import FaultRecord, collecting_phones
from crowdsms.sandbox._faults import FaultKind
from crowdsms.sandbox._state import SandboxState

__all__ = ["SandboxMiddleware"]


def _page(status: str) -> bytes:
    return (
        f"<html>\r\n<head><title>{status}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode("ascii")


_UNAVAILABLE: Final = _page("503 Service Temporarily Unavailable")
_TOO_MANY: Final = _page("429 Too Many Requests")
_PROCESSING: Final = frozenset({FaultKind.SLOW, FaultKind.DROP_AFTER})
"""Faults whose request is processed all the same."""


class SandboxMiddleware:
    """Adds latency, faults and the ``Date`` header to the app it wraps."""

    def __init__(self, app: ASGIApp, *, state: SandboxState, prefixes: Mapping[str, str]) -> None:
        self.app = app
        self.state = state
        self._providers = {prefix.split("/", 2)[1]: name for name, prefix in prefixes.items()}
        """The first path segment of each provider's prefix -> the provider."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection scope."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        clock = self.state.clock

        async def dated(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", ()), (b"date", clock.http_date())]
                message = {**message, "headers": headers}
            await send(message)

        path: str = scope["path"]
        provider = self._providers.get(path.split("/", 2)[1]) if path.count("/") >= 2 else None
        if provider is None:
            await self.app(scope, receive, dated)
            return
        self.state.requests[provider] += 1
        # The whole request arrives before any delay: a client that gives up while the
        # server is slow has still delivered a request the server goes on to process.
        body = await _read_body(receive)
        if body is None:
            return  # the client left before it finished sending: nothing to process
        receive = _replay(body, receive)
        latency = self.state.settings.latency
        if latency > 0:
            await anyio.sleep(latency)
        fault = self.state.faults.next(provider, path)
        if fault is None:
            await self.app(scope, receive, dated)
            return
        number = self.state.fault_records.add(
            FaultRecord(
                kind=fault,
                provider=provider,
                path=path,
                time=clock.now(),
                processed=fault in _PROCESSING,
            )
        )
        if fault is FaultKind.REJECT:
            await _answer(dated, 503, _UNAVAILABLE)
        elif fault is FaultKind.RATE_LIMIT:
            retry_after = str(self.state.faults.settings.retry_after).encode("ascii")
            await _answer(dated, 429, _TOO_MANY, [(b"retry-after", retry_after)])
        elif fault is FaultKind.DROP:
            await self._drop(scope)
        elif fault is FaultKind.SLOW:
            await anyio.sleep(self.state.faults.settings.slow_seconds)
            await self._process_logged(scope, receive, dated, number)
        else:  # DROP_AFTER: process (the ledger records it), answer nothing, drop.

            async def discard(message: Message) -> None:
                return None

            await self._process_logged(scope, receive, discard, number)
            await self._drop(scope)

    async def _process_logged(
        self, scope: Scope, receive: Receive, send: Send, number: int
    ) -> None:
        """Process the request; fault record ``number`` gets the numbers it sends.

        The record is complete before the client can see an answer.
        """
        log = self.state.fault_records
        with collecting_phones() as phones:

            async def completing(message: Message) -> None:
                if message["type"] == "http.response.start":
                    log.complete(number, tuple(phones))
                await send(message)

            try:
                await self.app(scope, receive, completing)
            finally:
                log.complete(number, tuple(phones))

    async def _drop(self, scope: Scope) -> None:
        connections = self.state.connections
        if connections is None:
            raise DropUnsupportedError(
                "this connection cannot be dropped: serve the app with serve()"
            )
        await connections.drop(scope.get("client"))


async def _read_body(receive: Receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _answer(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/html"),
                (b"content-length", str(len(body)).encode("ascii")),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
