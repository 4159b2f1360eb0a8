"""What every blocking call checks first: no event loop runs in this thread, the client is open."""

from __future__ import annotations

import asyncio

import sniffio

from crowdsms._loops import EventLoopBlockedError, refuse_inside_event_loop
from crowdsms.errors import CrowdSMSError

__all__ = ["closed_error", "loop_runs_here", "refuse_running_loop"]


def loop_runs_here() -> bool:
    """Whether an event loop (asyncio, or one that says so to sniffio) runs in this thread.

    Cheap enough for every call: no exception is raised and caught when none runs.
    """
    return (
        asyncio._get_running_loop() is not None
        or sniffio.thread_local.name is not None
        or sniffio.current_async_library_cvar.get() is not None
    )


def refuse_running_loop(name: str) -> None:
    """Raise :class:`EventLoopBlockedError` if an event loop runs in this thread.

    Blocking there would block that loop, or deadlock when it is the client's own.
    """
    if not loop_runs_here():
        return
    what = f"the blocking {name} client"
    action = (
        f"In async code use Async{name} and await its methods; "
        "or call the blocking client from a worker thread (anyio.to_thread.run_sync)"
    )
    refuse_inside_event_loop(what, action=action)  # names the library when it can tell
    # An asyncio loop runs a plain callback in this thread (no task, which sniffio needs).
    raise EventLoopBlockedError(
        f"{what} was called from inside a running asyncio event loop, which it would block",
        action=action,
    )


def closed_error(name: str) -> CrowdSMSError:
    """The error for a call made after :meth:`close`."""
    return CrowdSMSError(
        f"this {name} client is closed",
        action=f"Create a new {name} client, or call close() only when done",
    )
