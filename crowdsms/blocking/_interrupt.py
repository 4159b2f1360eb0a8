"""Ctrl-C while the main thread runs a client's event loop: leave the loop, not the client's code.

Python raises ``KeyboardInterrupt`` in the main thread wherever it happens to be. When that
thread is running the client's loop, that would be in the middle of the client's code (a
connection half taken from the pool, say), which is never left in a safe state. So while it
runs the loop, the main thread swaps the default handler for :class:`SigintGuard`'s, which
only asks the loop to stop; the call then raises ``KeyboardInterrupt`` itself, and its
coroutine goes on later, untouched, as it did when another thread ran it (:func:`asyncio.run`
swaps the handler in the same way, for its own ends). A handler other than Python's default
is left alone; the swap happens in the main thread only, the one Python runs handlers in.
"""

from __future__ import annotations

import asyncio
import importlib
import signal
import threading
from types import FrameType
from typing import Protocol, cast

__all__ = ["SigintGuard"]


class _Signals(Protocol):
    def getsignal(self, signalnum: int, /) -> object: ...

    def signal(self, signalnum: int, handler: object, /) -> object: ...


def _signals() -> _Signals:
    # The C functions behind :mod:`signal`'s (CPython's ``_signal``): the module's own
    # wrappers try to turn each handler into an enum member, and failing costs several
    # microseconds a call; a guarded call makes four.
    try:
        return cast(_Signals, importlib.import_module("_signal"))
    except ImportError:  # another Python implementation
        return cast(_Signals, signal)


_SIGNALS = _signals()
_SIGINT = int(signal.SIGINT)
_DEFAULT = signal.default_int_handler
_get_ident = threading.get_ident
_main_thread = threading.main_thread


class SigintGuard:
    """For one call: while installed, Ctrl-C stops the loop run for the call instead of raising.

    The guard is the handler itself (a callable), so that installing it makes no new object
    and checking whether it is still in place is an identity test.
    """

    __slots__ = ("_loop", "driving", "interrupted")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.driving = False
        """Whether the loop is being run for this call (set and cleared around the run)."""
        self.interrupted = False
        """Whether Ctrl-C came while the guard was installed."""

    @classmethod
    def install(cls, loop: asyncio.AbstractEventLoop) -> SigintGuard | None:
        """Install a guard if this is the main thread and Python's default handler is in place."""
        if _SIGNALS.getsignal(_SIGINT) is not _DEFAULT or _get_ident() != _main_thread().ident:
            return None  # someone else's handler; or not the main thread, which signals skip
        guard = cls(loop)
        _SIGNALS.signal(_SIGINT, guard)
        return guard

    def restore(self) -> None:
        """Put Python's default handler back, unless something replaced the guard meanwhile."""
        if _SIGNALS.getsignal(_SIGINT) is self:
            _SIGNALS.signal(_SIGINT, _DEFAULT)

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.interrupted = True
        # Runs between two bytecodes of whatever the main thread runs, maybe the loop's own
        # code: only queue the stop (this also wakes the loop if it waits for sockets).
        self._loop.call_soon_threadsafe(self._stop)

    def _stop(self) -> None:
        if self.driving:  # not a later run of the loop, for another call
            self._loop.stop()
