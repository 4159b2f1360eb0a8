"""Ctrl-C while the main thread runs a client's event loop: leave the loop, not the client's code.

Python raises ``KeyboardInterrupt`` in the main thread wherever it happens to be. When that
thread is running the client's loop, that would be in the middle of the client's code (a
connection half taken from the pool, say), which is never left in a safe state. So while it
runs the loop for a call, the main thread swaps Python's default handler for the loop's
:class:`SigintGuard`, which only counts the interrupt and asks the loop to stop; the call
then cancels its coroutine, waits for it to unwind and raises ``KeyboardInterrupt`` itself
(:func:`asyncio.run` swaps the handler in the same way, for the same ends). A handler other
than Python's default is left alone; the swap happens in the main thread only, the one
Python runs handlers in.

The swap goes through the C functions behind :func:`signal.signal` and
:func:`signal.getsignal` (CPython's ``_signal`` module), when they are there. The public
wrappers try to turn every handler into a :class:`signal.Handlers` member, and for a Python
callable that fails slowly: four wrapped calls cost about 25 us on the machine the
benchmarks ran on, against under 2 us for the same four calls unwrapped, half of the +50 us
a blocking call may add over an async one. The C functions take and return the same values
(an int or the handler itself), so nothing else differs; on another Python implementation,
or a CPython without them, the public functions are used.
"""

from __future__ import annotations

import asyncio
import importlib
import signal
import threading
from types import FrameType, ModuleType
from typing import Protocol, cast

__all__ = ["SigintGuard"]


class _Signals(Protocol):
    def getsignal(self, signalnum: int, /) -> object: ...

    def signal(self, signalnum: int, handler: object, /) -> object: ...


def _signals() -> _Signals:
    try:
        unwrapped = importlib.import_module("_signal")  # no stubs: typed by _Signals
    except ImportError:  # another Python implementation
        return cast(_Signals, signal)
    return _checked(unwrapped)


def _checked(module: ModuleType) -> _Signals:
    """``module`` if it has both functions, else the public :mod:`signal`."""
    if callable(getattr(module, "getsignal", None)) and callable(getattr(module, "signal", None)):
        return cast(_Signals, module)
    return cast(_Signals, signal)


_SIGNALS = _signals()
_SIGINT = int(signal.SIGINT)
_DEFAULT = signal.default_int_handler
_get_ident = threading.get_ident
_main_thread = threading.main_thread


class SigintGuard:
    """The SIGINT handler a client's loop installs for a call its main thread runs.

    One per loop, reused by every call (only the main thread installs it, one call at a
    time). The guard is the handler itself, so that installing it makes no new object and
    checking whether it is still in place is an identity test.
    """

    __slots__ = ("_loop", "driving", "interrupts")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.driving = False
        """Whether the loop is being run for the current call (set and cleared around it)."""
        self.interrupts = 0
        """How many times Ctrl-C came since the guard was installed."""

    def install(self) -> bool:
        """Install the guard if this is the main thread and Python's default handler is in place.

        Returns whether it was installed (and must be restored).
        """
        if _get_ident() != _main_thread().ident or _SIGNALS.getsignal(_SIGINT) is not _DEFAULT:
            return False  # not the main thread, which signals skip; or someone else's handler
        self.interrupts = 0
        _SIGNALS.signal(_SIGINT, self)
        return True

    def restore(self) -> None:
        """Put Python's default handler back, unless something replaced the guard meanwhile."""
        if _SIGNALS.getsignal(_SIGINT) is self:
            _SIGNALS.signal(_SIGINT, _DEFAULT)

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.interrupts += 1
        # Runs between two bytecodes of whatever the main thread runs, maybe the loop's own
        # code: only queue the stop (this also wakes the loop if it waits for sockets).
        self._loop.call_soon_threadsafe(self._stop)

    def _stop(self) -> None:
        if self.driving:  # not a later run of the loop, by the helper thread
            self._loop.stop()
