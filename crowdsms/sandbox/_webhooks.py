"""Pushes to users' webhook URLs: a queue, one background worker, bounded retries.

Provider modules build the body of each push (their own fields and signatures) and submit
it; the worker posts pushes in order, retrying a failed one (a connection error or a non-2xx
answer) up to ``attempts`` times with doubling delays, then gives it up. Every push ends in
:attr:`WebhookDispatcher.records`, so tests can see what was delivered and what was not.
"""

from __future__ import annotations

import collections
import logging
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
    """Queues pushes and delivers them from :meth:`run`, a task of the server's lifespan."""

    def __init__(self, policy: Callable[[], PushRetryPolicy]) -> None:
        self._policy = policy
        self._queue: collections.deque[Push] = collections.deque()
        self._wakeup: anyio.Event | None = None
        self.records: collections.deque[PushRecord] = collections.deque(maxlen=_RECORDS_KEPT)
        """The latest pushes' outcomes, oldest first."""
        self.dropped = 0
        """Pushes refused because the queue was full."""

    @property
    def pending(self) -> int:
        """Pushes waiting to be delivered."""
        return len(self._queue)

    def submit(self, push: Push) -> None:
        """Queue ``push``; call it from the server's event loop thread."""
        if len(self._queue) >= _QUEUE_LIMIT:
            self.dropped += 1
            return
        self._queue.append(push)
        if self._wakeup is not None:
            self._wakeup.set()

    async def run(self) -> None:
        """Deliver queued pushes until cancelled."""
        async with httpx.AsyncClient(trust_env=False) as client:
            while True:
                while self._queue:
                    await self._deliver(client, self._queue.popleft())
                self._wakeup = anyio.Event()
                if not self._queue:
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
