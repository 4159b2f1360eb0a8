"""A batch job with a journal: run it, kill it, run it again, and it resumes.

    python examples/batch_job.py contacts.csv outcomes.jsonl job.sqlite nightly-2026-11-23

Every recipient ends with exactly one outcome in ``outcomes.jsonl``. A second run with the
same journal and job id skips what was done, sends what never started and reports what was
in flight when the job died as ``unknown``: nothing is sent twice.
"""

from __future__ import annotations

import os
import sys

import anyio

from crowdsms import AsyncSubmail
from crowdsms.batch import BatchSender, JsonlSink, read_recipients_csv


async def main(csv_path: str, output: str, journal: str, job_id: str) -> int:
    async with AsyncSubmail(
        app_id=os.environ.get("CROWDSMS_SUBMAIL_APP_ID", "88000"),
        app_key=os.environ.get("CROWDSMS_SUBMAIL_APP_KEY", "sandbox-appkey-5f0c2e6b9a1d4c37"),
        base_url=os.environ.get("CROWDSMS_SUBMAIL_BASE_URL", "http://127.0.0.1:8080/submail"),
        max_connections=16,
    ) as client:
        sender = BatchSender(
            client.sms.multisend_chunks(content="【SANDBOX】@var(name)，您的订单已发货"),
            concurrency=16,
            rate=float(os.environ.get("BATCH_RATE", "5000")),
        )
        report = await sender.send(
            read_recipients_csv(csv_path, var_columns=["name"]),
            sink=JsonlSink(output),
            journal=journal,
            job_id=job_id,
        )
    print(report)
    return 0 if report.failed == 0 and report.unknown == 0 else 1


if __name__ == "__main__":
    csv_path, output, journal, job_id = sys.argv[1:5]
    sys.exit(anyio.run(main, csv_path, output, journal, job_id))
