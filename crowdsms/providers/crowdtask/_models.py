"""CrowdTask's public results."""

from __future__ import annotations

import attrs

__all__ = ["TaskBatchResult"]


@attrs.frozen(kw_only=True)
class TaskBatchResult:
    """What ``tasks.batch`` created.

    ``task_count`` is the number of tasks created (always the number of rows uploaded: an
    answer that says otherwise raises), ``batch_sn`` CrowdTask's serial number for the
    upload, and ``task_ids`` one task id per row, in the order the rows were given.
    """

    task_count: int
    batch_sn: str
    task_ids: tuple[str, ...]
