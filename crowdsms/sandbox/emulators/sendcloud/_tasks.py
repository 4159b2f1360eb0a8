"""SendCloud contact-list tasks: created waiting, then running, then done, as the clock runs.

A task waits (等待执行) until its ``executeTime``, or ``task_start_delay`` seconds when it has
none, runs (执行中) for ``task_run_time`` seconds, then sends its template to every member and
succeeds (执行成功), or fails (执行失败) if the balance cannot pay for it. The states follow the
sandbox's clock, so a test moves a task along by advancing the clock.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any, Final

import attrs

from crowdsms.sandbox._clock import CHINA_TIME, china_time_text
from crowdsms.sandbox._state import SandboxState

__all__ = [
    "FAILED",
    "RUNNING",
    "SUCCEEDED",
    "WAITING",
    "BadExecuteTime",
    "ContactTask",
    "ContactTaskBook",
]

WAITING: Final = "等待执行"
RUNNING: Final = "执行中"
SUCCEEDED: Final = "执行成功"
FAILED: Final = "执行失败"


class BadExecuteTime(ValueError):
    """``executeTime`` is malformed (SendCloud 451) or in the past (452)."""

    def __init__(self, status_code: int) -> None:
        super().__init__(status_code)
        self.status_code = status_code


@attrs.define(kw_only=True)
class ContactTask:
    """One contact-list task."""

    task_id: int
    user: str
    list_names: str
    task_name: str
    label_id: str | None
    sender_name: str
    template_id: int
    members: tuple[str, ...]
    created_at: float
    start_at: float
    ends_at: float
    status: str = WAITING
    finished_at: float | None = None

    def info(self, *, with_label: bool) -> dict[str, Any]:
        """The task as SendCloud's ``info.smsTask``."""
        task: dict[str, Any] = {
            "contactListName": self.list_names,
            "createTime": china_time_text(self.created_at),
            "endTime": "" if self.finished_at is None else china_time_text(self.finished_at),
            "memberCount": len(self.members),
            "senderName": self.sender_name,
            "status": self.status,
            "taskId": self.task_id,
            "taskName": self.task_name,
            "templateId": self.template_id,
        }
        if with_label:
            task["labelId"] = self.label_id or ""
        return task


def _execute_time(text: str, now: float) -> float | None:
    if not text:
        return None
    try:
        when = datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise BadExecuteTime(451) from None
    start = when.replace(tzinfo=CHINA_TIME).timestamp()
    if start < now - 1:
        raise BadExecuteTime(452)
    return start


class ContactTaskBook:
    """The tasks of one sandbox; ``run`` sends a task's messages and says if it could."""

    def __init__(self, state: SandboxState, run: Callable[[ContactTask], bool]) -> None:
        self.state = state
        self.tasks: dict[int, ContactTask] = {}
        self._run = run
        state.tickers.append(self.tick)

    def create(
        self,
        *,
        user: str,
        names: list[str],
        members: tuple[str, ...],
        task_name: str,
        label_id: str | None,
        sender_name: str,
        template_id: int,
        execute_time: str,
    ) -> ContactTask:
        """A new waiting task; raise :class:`BadExecuteTime` for a bad ``executeTime``."""
        now = self.state.clock.now()
        settings = self.state.settings.provider("sendcloud")
        start_at = _execute_time(execute_time, now)
        if start_at is None:
            start_at = now + settings.task_start_delay
        task = ContactTask(
            task_id=self.state.next_number(),
            user=user,
            list_names=";".join(names),
            task_name=task_name,
            label_id=label_id,
            sender_name=sender_name,
            template_id=template_id,
            members=members,
            created_at=now,
            start_at=start_at,
            ends_at=start_at + settings.task_run_time,
        )
        self.tasks[task.task_id] = task
        return task

    def find(self, user: str, task_id: str) -> ContactTask | None:
        """``user``'s task ``task_id``, brought up to the clock, or ``None``."""
        task = self.tasks.get(int(task_id)) if task_id.isdigit() else None
        if task is None or task.user != user:
            return None
        self.tick()
        return task

    def tick(self) -> None:
        """Move every unfinished task along to the clock's time."""
        now = self.state.clock.now()
        for task in self.tasks.values():
            if task.status in (SUCCEEDED, FAILED):
                continue
            if now >= task.ends_at:
                task.finished_at = task.ends_at
                task.status = SUCCEEDED if self._run(task) else FAILED
            elif now >= task.start_at:
                task.status = RUNNING
