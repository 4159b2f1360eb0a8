"""The chunk being sent in the current task, so that its provider calls can report to it."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Protocol

__all__ = ["CURRENT_CHUNK", "CallListener"]


class CallListener(Protocol):
    """What a provider call tells the chunk it is made for."""

    def saw_call(self, provider: str, operation: str) -> None:
        """A call of ``operation`` to ``provider`` starts."""
        ...


CURRENT_CHUNK: ContextVar[CallListener | None] = ContextVar("crowdsms_chunk", default=None)
"""The chunk whose request the current task is making, if any."""
