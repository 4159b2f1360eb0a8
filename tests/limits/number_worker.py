"""A worker process for the shared per-number limiter test (run as a script, not collected).

``python number_worker.py URL PREFIX LIMITS PHONE CALLERS``: prints ``ready``, waits for a line
on standard input, then runs CALLERS concurrent ``acquire(PHONE)`` and prints how many were
allowed and refused, as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys

from crowdsms.campaign import connect
from crowdsms.limits import NumberLimitedError, NumberLimits, RedisNumberLimiter


async def main(url: str, prefix: str, limits: str, phone: str, callers: int) -> None:
    client = connect(url)
    try:
        limiter = RedisNumberLimiter(client, NumberLimits.parse(limits), prefix=prefix)
        await client.ping()  # connected before the start signal
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)

        async def one() -> bool:
            try:
                await limiter.acquire(phone)
            except NumberLimitedError:
                return False
            return True

        results = await asyncio.gather(*(one() for _ in range(callers)))
        print(json.dumps({"allowed": results.count(True), "refused": results.count(False)}))
    finally:
        await client.aclose()


if __name__ == "__main__":
    url, prefix, limits, phone, callers = sys.argv[1:6]
    asyncio.run(main(url, prefix, limits, phone, int(callers)))
