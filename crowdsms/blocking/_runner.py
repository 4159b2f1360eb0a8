"""One event loop per blocking client, shared by every call from every thread.

On asyncio (the default) the loop is run by the calling thread itself for the length of its
call (:mod:`crowdsms.blocking._driven`): no hand-over to another thread. On other backends a
background thread runs it, through anyio's blocking portal (:mod:`crowdsms.blocking._portal`).
Either way the async client's connections, clock offset and retry budget are shared by all
calls and all threads, and no loop or thread is created per call.

Calling a blocking method from a thread that is running an event loop would block that
loop (or deadlock, when it is the client's own), so it is refused with a clear error
pointing to the async client.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal, Protocol, TypeVar

from crowdsms._loops import EventLoopBlockedError
from crowdsms.blocking._driven import DrivenLoop
from crowdsms.blocking._portal import PortalLoop

__all__ = ["DEFAULT_BACKEND", "Backend", "BlockingRunner", "EventLoopBlockedError"]

Backend = Literal["asyncio", "trio"]
"""The event loops a blocking client can run its async twin on."""

DEFAULT_BACKEND: Backend = "asyncio"
"""The loop a blocking client runs on unless told otherwise."""

T = TypeVar("T")


class _Runs(Protocol):
    def __call__(self, func: Callable[[], Awaitable[T]], /) -> T: ...


class _RunsSync(Protocol):
    def __call__(self, func: Callable[[], T], /) -> T: ...


class BlockingRunner:
    """Runs coroutines on a blocking client's event loop and waits for their results."""

    call: _Runs
    """Run the coroutine function ``func`` on the loop and return its result.

    The loop's own method, not a wrapper around it: one frame less on every call.
    """

    call_sync: _RunsSync
    """Run the plain function ``func`` with the loop running and return its result."""

    def __init__(self, *, backend: Backend = DEFAULT_BACKEND, name: str) -> None:
        self._loop: DrivenLoop | PortalLoop = (
            DrivenLoop(name=name) if backend == "asyncio" else PortalLoop(backend, name=name)
        )
        self.call = self._loop.call
        self.call_sync = self._loop.call_sync

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has run."""
        return self._loop.closed

    def close(self, final: Callable[[], Awaitable[None]] | None = None) -> None:
        """Once the calls in flight are done, run ``final`` on the loop and stop the loop.

        ``final`` closes the async client. Safe to call more than once.
        """
        self._loop.close(final)
