"""A worker process for the shared rate limiter tests (run as a script, not collected).

``python limiter_worker.py URL KEY RATE BURST acquire SECONDS``: prints ``ready``, waits for a
line on standard input, then takes permits one after another for SECONDS and prints the
``time.monotonic()`` of each grant as a JSON list (one clock for every process of the
machine). ``... slow_down FACTOR``: slows the shared pace down once and prints whether it did.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from crowdsms.campaign import SharedRateLimiter, connect


async def main(url: str, key: str, rate: float, burst: float, mode: str, value: float) -> None:
    client = connect(url)
    try:
        limiter = SharedRateLimiter(client, key, rate=rate, burst=burst)
        await client.ping()  # connected before the start signal
        if mode == "slow_down":
            print(json.dumps(await limiter.slow_down(value)), flush=True)
            return
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        grants: list[float] = []
        deadline = time.monotonic() + value
        while time.monotonic() < deadline:
            await limiter.acquire()
            grants.append(time.monotonic())
        print(json.dumps(grants), flush=True)
    finally:
        await client.aclose()


if __name__ == "__main__":
    url, key, rate, burst, mode, value = sys.argv[1:7]
    asyncio.run(main(url, key, float(rate), float(burst), mode, float(value)))
