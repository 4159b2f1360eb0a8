"""4. The blocking facade: what a call through ``Submail`` costs next to ``await AsyncSubmail``.

``Submail`` runs ``AsyncSubmail`` on an event loop in a background thread; each call hands
a coroutine to that thread and waits for it. The difference per call is that hand-over.
Both clients make the same calls, one at a time, against the sandbox at latency 0, after a
few warm-up calls (the first connection, the first clock reading); CPU time counts every
thread of this process, the loop thread included.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from benchmarks._measure import median
from benchmarks._sandbox import SandboxProcess
from benchmarks._table import Row, ratio, us
from crowdsms import Submail
from crowdsms.providers.submail import AsyncSubmail
from crowdsms.sandbox.emulators.submail import SUBMAIL_APPID, SUBMAIL_APPKEY

__all__ = ["FacadeResult", "measure_facade"]

_WARM_UP = 20
_TEXT = "【沙箱】您的验证码是4321，10分钟内有效。"
_PHONE = "13800138000"


@dataclass(frozen=True)
class PerCall:
    """Client CPU and wall time per call, in seconds."""

    cpu: float
    wall: float


@dataclass
class FacadeResult:
    """Per-call costs of each endpoint through each client."""

    calls: int
    costs: dict[str, dict[str, PerCall]]

    def rows(self) -> list[Row]:
        """Section 4 of the table."""
        rows = []
        for endpoint, by_client in self.costs.items():
            blocking, direct = by_client["blocking"], by_client["async"]
            rows.append(
                Row(
                    "4",
                    f"`{endpoint}`, {self.calls} sequential calls: `Submail` (blocking) per call",
                    f"{us(blocking.cpu * 1e6)} CPU, {us(blocking.wall * 1e6)} wall",
                )
            )
            rows.append(
                Row(
                    "4",
                    f"`{endpoint}`: `await AsyncSubmail` per call",
                    f"{us(direct.cpu * 1e6)} CPU, {us(direct.wall * 1e6)} wall",
                )
            )
            rows.append(
                Row(
                    "4",
                    f"`{endpoint}`: blocking / async, per call",
                    f"{ratio(blocking.cpu / direct.cpu)} CPU "
                    f"({(blocking.cpu - direct.cpu) * 1e6:+,.0f} us), "
                    f"{ratio(blocking.wall / direct.wall)} wall "
                    f"({(blocking.wall - direct.wall) * 1e6:+,.0f} us)",
                )
            )
        return rows


def _blocking(base_url: str, calls: int, endpoint: str) -> PerCall:
    with Submail(app_id=SUBMAIL_APPID, app_key=SUBMAIL_APPKEY, base_url=base_url) as client:
        call: Callable[[], object] = (
            client.service.timestamp
            if endpoint == "timestamp"
            else lambda: client.sms.send(to=_PHONE, content=_TEXT)
        )
        for _ in range(_WARM_UP):
            call()
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(calls):
            call()
        return PerCall((time.process_time() - cpu) / calls, (time.perf_counter() - wall) / calls)


def _async(base_url: str, calls: int, endpoint: str) -> PerCall:
    async def job() -> PerCall:
        async with AsyncSubmail(
            app_id=SUBMAIL_APPID, app_key=SUBMAIL_APPKEY, base_url=base_url
        ) as client:
            call: Callable[[], Awaitable[object]] = (
                client.service.timestamp
                if endpoint == "timestamp"
                else lambda: client.sms.send(to=_PHONE, content=_TEXT)
            )
            for _ in range(_WARM_UP):
                await call()
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(calls):
                await call()
            return PerCall(
                (time.process_time() - cpu) / calls, (time.perf_counter() - wall) / calls
            )

    return asyncio.run(job())


def measure_facade(sandbox: SandboxProcess, *, calls: int, rounds: int = 5) -> FacadeResult:
    """``service.timestamp`` and ``sms.send`` through both clients: medians of ``rounds``."""
    sandbox.set_latency(0.0)
    costs: dict[str, dict[str, PerCall]] = {}
    for endpoint, label in (("timestamp", "service.timestamp"), ("send", "sms.send")):
        samples: dict[str, list[PerCall]] = {"blocking": [], "async": []}
        for round_number in range(rounds):
            order = ["blocking", "async"] if round_number % 2 == 0 else ["async", "blocking"]
            for kind in order:
                sandbox.reset()
                measure = _blocking if kind == "blocking" else _async
                samples[kind].append(measure(sandbox.submail_url, calls, endpoint))
        costs[label] = {
            kind: PerCall(median([s.cpu for s in values]), median([s.wall for s in values]))
            for kind, values in samples.items()
        }
        print(f"  [4] {label}: {costs[label]}", file=sys.stderr, flush=True)
    return FacadeResult(calls, costs)
