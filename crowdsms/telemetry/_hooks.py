"""Callbacks for users without OpenTelemetry: registered globally, called safely.

A hook is a set of up to three plain callables. They are called synchronously, on the
event loop, after each attempt, call and chunk; a hook that raises is logged (with its
traceback the first time, briefly after that) and never breaks a send.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import TracebackType
from typing import TypeVar

import attrs

from crowdsms.telemetry._records import AttemptDetails, CallDetails, ChunkDetails

__all__ = ["Hook", "HookSet", "call_hooks"]

logger = logging.getLogger("crowdsms.telemetry")

_R = TypeVar("_R")


@attrs.define(eq=False, repr=False)
class Hook:
    """Callbacks registered by :func:`crowdsms.telemetry.add_hook`.

    ``on_attempt`` receives an :class:`AttemptDetails` after each HTTP attempt, ``on_call``
    a :class:`CallDetails` when a provider call ends, ``on_chunk`` a :class:`ChunkDetails`
    when a batch chunk ends. Use it as a context manager to remove it on exit, or pass it
    to :func:`crowdsms.telemetry.remove_hook`.
    """

    on_attempt: Callable[[AttemptDetails], object] | None = None
    on_call: Callable[[CallDetails], object] | None = None
    on_chunk: Callable[[ChunkDetails], object] | None = None
    _remove: Callable[[Hook], None] | None = attrs.field(default=None, init=False)
    _failures: int = attrs.field(default=0, init=False)

    def __repr__(self) -> str:
        kinds = [
            name
            for name in ("on_attempt", "on_call", "on_chunk")
            if getattr(self, name) is not None
        ]
        return f"<Hook {' '.join(kinds) or 'empty'}>"

    def remove(self) -> None:
        """Stop calling this hook (once it is removed, removing it again does nothing)."""
        if self._remove is not None:
            self._remove(self)

    def __enter__(self) -> Hook:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.remove()


@attrs.frozen
class HookSet:
    """The registered hooks, split by kind so that a record is built only when wanted."""

    hooks: tuple[Hook, ...] = ()
    attempt: tuple[Hook, ...] = ()
    call: tuple[Hook, ...] = ()
    chunk: tuple[Hook, ...] = ()

    @classmethod
    def of(cls, hooks: tuple[Hook, ...]) -> HookSet:
        """The set of ``hooks``."""
        return cls(
            hooks,
            tuple(hook for hook in hooks if hook.on_attempt is not None),
            tuple(hook for hook in hooks if hook.on_call is not None),
            tuple(hook for hook in hooks if hook.on_chunk is not None),
        )


def call_hooks(
    hooks: tuple[Hook, ...],
    pick: Callable[[Hook], Callable[[_R], object] | None],
    record: _R,
) -> None:
    """Call ``pick(hook)(record)`` for each hook; log and ignore what they raise."""
    for hook in hooks:
        callback = pick(hook)
        if callback is None:
            continue
        try:
            callback(record)
        except Exception:
            hook._failures += 1
            if hook._failures == 1:
                logger.warning(
                    "telemetry: the hook %r raised; ignored (later failures are logged at "
                    "debug level)",
                    callback,
                    exc_info=True,
                )
            else:
                logger.debug("telemetry: the hook %r raised again; ignored", callback)
