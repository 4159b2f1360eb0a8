"""The client's loop in a background thread: anyio's blocking portal (backends other than asyncio).

The portal starts a thread running the event loop when the client is created; it lives until
:meth:`PortalLoop.close`. Every call hands its coroutine function to that thread and waits
for the result.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from typing import TypeVar

from anyio.from_thread import BlockingPortal, start_blocking_portal

from crowdsms.blocking._guards import closed_error, loop_runs_here, refuse_running_loop

__all__ = ["PortalLoop"]

T = TypeVar("T")


class PortalLoop:
    """Runs coroutines on an event loop in a background thread and waits for their results."""

    def __init__(self, backend: str, *, name: str) -> None:
        self._name = name
        self._portal_cm: AbstractContextManager[BlockingPortal] = start_blocking_portal(backend)
        self._portal: BlockingPortal | None = self._portal_cm.__enter__()
        self._lock = threading.Lock()
        self._calls = threading.Condition()
        self._active = 0

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has run."""
        return self._portal is None

    def call(self, func: Callable[[], Awaitable[T]]) -> T:
        """Run the coroutine function ``func`` on the loop and return its result."""
        with self._calls:
            portal = self._portal_or_raise()
            self._active += 1
        try:
            return portal.call(func)
        finally:
            with self._calls:
                self._active -= 1
                self._calls.notify_all()

    def call_sync(self, func: Callable[[], T]) -> T:
        """Run the plain function ``func`` on the loop thread and return its result."""
        return self._portal_or_raise().call(func)

    def _portal_or_raise(self) -> BlockingPortal:
        if loop_runs_here():
            refuse_running_loop(self._name)
        portal = self._portal
        if portal is None:
            raise closed_error(self._name)
        return portal

    def close(self, final: Callable[[], Awaitable[None]] | None = None) -> None:
        """Run ``final`` on the loop (closing the async client), then stop the loop thread."""
        with self._lock:
            with self._calls:  # no new calls; wait for those in flight to finish
                portal, self._portal = self._portal, None
                if portal is None:
                    return
                self._calls.wait_for(lambda: self._active == 0)
            try:
                if final is not None:
                    portal.call(final)
            finally:
                self._portal_cm.__exit__(None, None, None)
