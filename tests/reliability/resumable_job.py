"""A journaled SUBMAIL batch job, run as its own process by the crash-and-resume tests.

::

    python resumable_job.py --base-url URL --journal PATH --job-id ID --output OUT.jsonl
        --count N [--concurrency C] [--hold PATH]

It sends ``--count`` recipients (numbers ``139`` + 8 digits) through ``sms/multisend`` with
a journal, writing every outcome to ``--output`` (JSONL) and the report's counts to stdout
as one JSON line. With ``--hold PATH`` it opens the journal, then waits (at most a minute)
for ``PATH`` to exist before reading the first recipient: a job stopped there has a journal
and no chunk. The tests kill it with SIGKILL and run it again to resume.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import AsyncIterator

import anyio

from crowdsms.batch import BatchSender, JsonlSink
from crowdsms.outcomes import Recipient
from crowdsms.providers.submail import AsyncSubmail
from crowdsms.sandbox.emulators.submail import SUBMAIL_APPID, SUBMAIL_APPKEY

CONTENT = "【测试】@var(name)，您好"


def number(index: int) -> str:
    """The ``index``-th recipient's number."""
    return f"139{index:08d}"


async def recipients(count: int, hold: str | None) -> AsyncIterator[Recipient]:
    """The job's input, read lazily; waits for ``hold`` to exist before the first one."""
    if hold is not None:
        with anyio.move_on_after(60.0):
            while not await anyio.Path(hold).exists():  # noqa: ASYNC110 (another process)
                await anyio.sleep(0.01)
    for index in range(count):
        yield Recipient(number(index), {"name": f"u{index}"})


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--journal", required=True)
    parser.add_argument("--job-id", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--hold")
    args = parser.parse_args(argv)
    async with AsyncSubmail(
        app_id=SUBMAIL_APPID, app_key=SUBMAIL_APPKEY, base_url=args.base_url
    ) as client:
        sender = BatchSender(
            client.sms.multisend_chunks(content=CONTENT), concurrency=args.concurrency
        )
        report = await sender.send(
            recipients(args.count, args.hold),
            sink=JsonlSink(args.output),
            journal=args.journal,
            job_id=args.job_id,
        )
    counts = {status.value: count for status, count in report.by_status.items()}
    print(json.dumps({**counts, "resumed": report.resumed, "total": report.total}))
    return 0


if __name__ == "__main__":
    sys.exit(anyio.run(main, sys.argv[1:]))
