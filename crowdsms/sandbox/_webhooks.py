"""Pushes to users' webhook URLs: a queue, one background worker, bounded retries.

Provider modules build the body of each push (their own fields and signatures) and submit
it, with a delay (the ``webhook_delay`` of delivery reports) or none. Each push is due when
its delay has passed; the worker posts pushes in the order they fall due (pushes due at
the same moment in the order they were submitted), so a delayed push never holds back one
that is due sooner. A failed attempt (a connection error or a non-2xx answer) is retried
up to ``attempts`` times with doubling delays, then the push is given up. Every push ends in
:attr:`WebhookDispatcher.records`, so tests can see what was delivered and what was not.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import logging
import math
import time
from collections.abc import Callable

import anyio
import attrs
import httpx

__all__ = ["Push", "PushRecord", "PushRetryPolicy", "WebhookDispatcher"]

logger = logging.getLogger("crowdsms.sandbox.webhooks")

_RECORDS_KEPT = 10_000
_QUEUE_LIMIT = 100_000


@attrs.frozen(kw_only=True)
class Push:
    """One HTTP POST to a webhook URL."""

    provider: str
    kind: str
    """``report`` or ``reply``."""
    url: str
    body: bytes
    content_type: str


@attrs.frozen(kw_only=True)
class PushRecord:
    """What became of one push."""

    push: Push
    attempts: int
    delivered: bool
    status_code: int | None
    error: str | None


@attrs.frozen(kw_only=True)
class PushRetryPolicy:
    """How often and how patiently a push is retried."""

    attempts: int
    first_delay: float
    timeout: float


class WebhookDispatcher:
    """Queues pushes and delivers them from :meth:`run`, a task of the server's lifespan.

    ``clock`` gives the seconds the delays are measured in (monotonic; ``time.monotonic``).
    """

    def __init__(
        self,
        policy: Callable[[], PushRetryPolicy],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._policy = policy
        self._clock = clock
        self._queue: list[tuple[float, int, Push]] = []
        """A heap of (due time, submission number, push)."""
        self._numbers = itertools.count()
        self._wakeup: anyio.Event | None = None
        self.records: collections.deque[PushRecord] = collections.deque(maxlen=_RECORDS_KEPT)
        """The latest pushes' outcomes, oldest first."""
        self.dropped = 0
        """Pushes refused because the queue was full."""

    @property
    def pending(self) -> int:
        """Pushes waiting to be delivered (delayed ones included)."""
        return len(self._queue)

    def submit(self, push: Push, *, delay: float = 0.0) -> None:
        """Queue ``push``, due ``delay`` seconds from now; call it from the server's loop."""
        if len(self._queue) >= _QUEUE_LIMIT:
            self.dropped += 1
            return
        due = self._clock() + max(delay, 0.0)
        heapq.heappush(self._queue, (due, next(self._numbers), push))
        if self._wakeup is not None:
            self._wakeup.set()

    async def run(self) -> None:
        """Deliver queued pushes as they fall due, until cancelled."""
        async with httpx.AsyncClient(trust_env=False) as client:
            while True:
                wait = self._queue[0][0] - self._clock() if self._queue else math.inf
                if wait <= 0:
                    _, _, push = heapq.heappop(self._queue)
                    await self._deliver(client, push)
                    continue
                # Wake at the first due time, or sooner when a push is submitted.
                self._wakeup = anyio.Event()
                with anyio.move_on_after(wait):
                    await self._wakeup.wait()

    async def _deliver(self, client: httpx.AsyncClient, push: Push) -> None:
        policy = self._policy()
        delay = policy.first_delay
        status: int | None = None
        error: str | None = None
        attempt = 0
        for attempt in range(1, max(policy.attempts, 1) + 1):
            if attempt > 1:
                await anyio.sleep(delay)
                delay *= 2
            try:
                response = await client.post(
                    push.url,
                    content=push.body,
                    headers={"content-type": push.content_type},
                    timeout=policy.timeout,
                )
            except httpx.HTTPError as exc:
                status, error = None, f"{type(exc).__name__}: {exc}"
                continue
            status = response.status_code
            if response.is_success:
                self.records.append(
                    PushRecord(
                        push=push, attempts=attempt, delivered=True, status_code=status, error=None
                    )
                )
                return
            error = f"HTTP {status}"
        logger.warning(
            "gave up a %s push to %s after %d attempts", push.provider, push.url, attempt
        )
        self.records.append(
            PushRecord(
                push=push, attempts=attempt, delivered=False, status_code=status, error=error
            )
        )
