"""The job and the chunk the current task works for, so that its calls can report to them."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Protocol

import attrs

__all__ = ["CURRENT_CHUNK", "CURRENT_JOB", "CallListener", "JobScope", "is_live"]


class CallListener(Protocol):
    """What a provider call tells the chunk it is made for."""

    def saw_call(self, provider: str, operation: str) -> None:
        """A call of ``operation`` to ``provider`` starts."""
        ...


CURRENT_CHUNK: ContextVar[CallListener | None] = ContextVar("crowdsms_chunk", default=None)
"""The chunk whose request the current task is making, if any."""


@attrs.frozen
class JobScope:
    """A running batch job: its id, and whether it is recorded (decided when it started)."""

    job_id: str
    live: bool


CURRENT_JOB: ContextVar[JobScope | None] = ContextVar("crowdsms_job", default=None)
"""The batch job the current task works for, if any."""


def is_live(live_now: Callable[[], bool]) -> bool:
    """Whether to record: as the current job decided, or ``live_now()`` outside a job."""
    job = CURRENT_JOB.get()
    return job.live if job is not None else live_now()
