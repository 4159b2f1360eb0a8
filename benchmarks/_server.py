"""6. The sandbox's own request rate, so that readers can see what the server could take.

Measured with :mod:`benchmarks.sandbox_rate`'s load generator (raw keep-alive HTTP/1.1 on
asyncio streams, far cheaper than any client under test), on the same sandbox process, with
the same 50-recipient JSON ``sms/multisend`` requests, every answer checked.
"""

from __future__ import annotations

import asyncio
import sys

from benchmarks._sandbox import SandboxProcess
from benchmarks._submail import CHUNK
from benchmarks._table import Row, rate
from benchmarks.sandbox_rate import load, multisend_request

__all__ = ["measure_server", "server_rows"]


def measure_server(sandbox: SandboxProcess, *, requests: int, connections: int = 16) -> float:
    """Multisend requests per second the sandbox answers (50 recipients each, JSON)."""
    sandbox.set_latency(0.0)
    sandbox.reset()
    build = multisend_request(CHUNK, as_json=True)
    asyncio.run(load(sandbox.host, sandbox.port, build, min(requests, 200), connections))
    sandbox.reset()
    per_second = asyncio.run(load(sandbox.host, sandbox.port, build, requests, connections))
    print(f"  [6] sandbox: {per_second:,.0f} requests/s", file=sys.stderr, flush=True)
    return per_second


def server_rows(requests_per_second: float, requests: int) -> list[Row]:
    """Section 6 of the table."""
    return [
        Row(
            "6",
            f"sandbox alone: `sms/multisend`, 50 recipients, JSON ({requests:,} requests on "
            "16 connections from `benchmarks/sandbox_rate.py`'s raw HTTP load generator)",
            f"{requests_per_second:,.0f} requests/s = {rate(requests_per_second * CHUNK)}",
        )
    ]
