"""CrowdTask: batch task uploads as "CVS" files, signed with HMAC-MD5.

```python
from crowdsms.providers.crowdtask import AsyncCrowdTask

async with AsyncCrowdTask(access_id="...", access_secret_key="...") as client:
    result = await client.tasks.batch(
        project_id=1024,
        rows=[{"img_url": "https://example.com/1.jpg", "label": "cat"}],
    )
    print(result.batch_sn, result.task_ids)
```

``CrowdTask`` is the same client for code that is not async. For more rows than one upload
takes, give ``client.tasks.batch_chunks(project_id=..., columns=...)`` (a
:class:`CrowdTaskChunkSender`) to crowdsms's batch sender. The CVS file format:
:func:`write_cvs`, :func:`read_cvs` and :func:`load_cvs`. CrowdTask sends no webhooks.
"""

from __future__ import annotations

from crowdsms.providers.crowdtask._blocking import CrowdTask, CrowdTaskTasks
from crowdsms.providers.crowdtask._chunks import CrowdTaskChunkSender
from crowdsms.providers.crowdtask._client import (
    DEFAULT_AUTH_LOCATION,
    DEFAULT_BASE_URL,
    DEFAULT_BATCH_PATH,
    DEFAULT_LOCALTIME_UNIT,
    DEFAULT_MAX_ROWS_PER_BATCH,
    AsyncCrowdTask,
)
from crowdsms.providers.crowdtask._codes import CODES, explain
from crowdsms.providers.crowdtask._cvs import (
    CvsDocument,
    CvsFormatError,
    load_cvs,
    read_cvs,
    validate_columns,
    validate_row,
    write_cvs,
)
from crowdsms.providers.crowdtask._models import TaskBatchResult
from crowdsms.providers.crowdtask._signer import CrowdTaskSigner, is_clock_reason
from crowdsms.providers.crowdtask._signing import (
    AUTH_LOCATIONS,
    LOCALTIME_UNITS,
    NTP_EPOCH_OFFSET,
    AuthLocation,
    LocalTimeUnit,
    compute_signature,
    format_localtime,
)
from crowdsms.providers.crowdtask._tasks import TaskEndpoints

__all__ = [
    "AUTH_LOCATIONS",
    "CODES",
    "DEFAULT_AUTH_LOCATION",
    "DEFAULT_BASE_URL",
    "DEFAULT_BATCH_PATH",
    "DEFAULT_LOCALTIME_UNIT",
    "DEFAULT_MAX_ROWS_PER_BATCH",
    "LOCALTIME_UNITS",
    "NTP_EPOCH_OFFSET",
    "AsyncCrowdTask",
    "AuthLocation",
    "CrowdTask",
    "CrowdTaskChunkSender",
    "CrowdTaskSigner",
    "CrowdTaskTasks",
    "CvsDocument",
    "CvsFormatError",
    "LocalTimeUnit",
    "TaskBatchResult",
    "TaskEndpoints",
    "compute_signature",
    "explain",
    "format_localtime",
    "is_clock_reason",
    "load_cvs",
    "read_cvs",
    "validate_columns",
    "validate_row",
    "write_cvs",
]
