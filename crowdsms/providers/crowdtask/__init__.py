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

The CVS file format: :func:`write_cvs`, :func:`read_cvs` and :func:`load_cvs`.
"""

from __future__ import annotations

from crowdsms.providers.crowdtask._blocking import CrowdTask
from crowdsms.providers.crowdtask._chunks import TaskBatchSender
from crowdsms.providers.crowdtask._client import (
    DEFAULT_BASE_URL,
    DEFAULT_BATCH_PATH,
    AsyncCrowdTask,
)
from crowdsms.providers.crowdtask._models import TaskBatchResult
from crowdsms.providers.crowdtask._signer import CrowdTaskSigner, is_clock_reason
from crowdsms.providers.crowdtask._signing import (
    AuthLocation,
    LocalTimeUnit,
    compute_signature,
    format_localtime,
)
from crowdsms.providers.crowdtask._tasks import Tasks
from crowdsms.providers.crowdtask._cvs import (
    CvsDocument,
    CvsFormatError,
    load_cvs,
    read_cvs,
    validate_columns,
    validate_row,
    write_cvs,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_BATCH_PATH",
    "AsyncCrowdTask",
    "AuthLocation",
    "CrowdTask",
    "CrowdTaskSigner",
    "CvsDocument",
    "CvsFormatError",
    "LocalTimeUnit",
    "TaskBatchResult",
    "TaskBatchSender",
    "Tasks",
    "compute_signature",
    "format_localtime",
    "is_clock_reason",
    "load_cvs",
    "read_cvs",
    "validate_columns",
    "validate_row",
    "write_cvs",
]
