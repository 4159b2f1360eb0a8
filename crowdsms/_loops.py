"""Blocking calls and event loops: refuse to block a running loop, with a clear error."""

from __future__ import annotations

import sniffio

from crowdsms.errors import CrowdSMSError

__all__ = ["EventLoopBlockedError", "refuse_inside_event_loop"]


class EventLoopBlockedError(CrowdSMSError, RuntimeError):
    """A blocking call was made from inside a running event loop, which it would block."""


def refuse_inside_event_loop(what: str, *, action: str) -> None:
    """Raise :class:`EventLoopBlockedError` if an event loop runs in this thread.

    ``what`` names the blocking call in the message; ``action`` says what to do instead.
    """
    try:
        library = sniffio.current_async_library()
    except sniffio.AsyncLibraryNotFoundError:
        return
    raise EventLoopBlockedError(
        f"{what} was called from inside a running {library} event loop, which it would block",
        action=action,
    )
