"""``CrowdTask``: the blocking twin of :class:`~crowdsms.providers.crowdtask.AsyncCrowdTask`."""

from __future__ import annotations

import functools

from typing_extensions import Unpack

from crowdsms._client import ClientOptions
from crowdsms._secret import Secret
from crowdsms.blocking._client import BlockingClientBase
from crowdsms.blocking._descriptors import BlockingGroup, blocking, passthrough
from crowdsms.blocking._runner import DEFAULT_BACKEND, Backend
from crowdsms.providers.crowdtask._client import (
    DEFAULT_AUTH_LOCATION,
    DEFAULT_BASE_URL,
    DEFAULT_BATCH_PATH,
    DEFAULT_LOCALTIME_UNIT,
    DEFAULT_MAX_ROWS_PER_BATCH,
    AsyncCrowdTask,
)
from crowdsms.providers.crowdtask._signing import AuthLocation, LocalTimeUnit
from crowdsms.providers.crowdtask._tasks import TaskEndpoints

__all__ = ["CrowdTask", "CrowdTaskTasks"]


class CrowdTaskTasks(BlockingGroup[TaskEndpoints]):
    """``client.tasks``: blocking ``batch``; ``batch_chunks`` returns the chunk sender as is."""

    batch = blocking(TaskEndpoints.batch)
    batch_chunks = passthrough(TaskEndpoints.batch_chunks)


class CrowdTask(BlockingClientBase[AsyncCrowdTask]):
    """CrowdTask for code that is not async: the same typed endpoints, plain values.

    Takes the same arguments as :class:`~crowdsms.providers.crowdtask.AsyncCrowdTask`, plus
    ``backend`` (the event loop library it runs on). Share one instance across threads; close it
    when done (or use it as a context manager).
    """

    def __init__(
        self,
        *,
        access_id: str,
        access_secret_key: str | Secret,
        base_url: str = DEFAULT_BASE_URL,
        batch_path: str = DEFAULT_BATCH_PATH,
        localtime_unit: LocalTimeUnit = DEFAULT_LOCALTIME_UNIT,
        auth_location: AuthLocation = DEFAULT_AUTH_LOCATION,
        max_rows_per_batch: int = DEFAULT_MAX_ROWS_PER_BATCH,
        backend: Backend = DEFAULT_BACKEND,
        **options: Unpack[ClientOptions],
    ) -> None:
        make = functools.partial(
            AsyncCrowdTask,
            access_id=access_id,
            access_secret_key=access_secret_key,
            base_url=base_url,
            batch_path=batch_path,
            localtime_unit=localtime_unit,
            auth_location=auth_location,
            max_rows_per_batch=max_rows_per_batch,
            **options,
        )
        super().__init__(make, backend=backend)
        self.tasks = CrowdTaskTasks(self._runner, self._async.tasks)
        """Task uploads: ``client.tasks.batch(...)``, ``client.tasks.batch_chunks(...)``."""
