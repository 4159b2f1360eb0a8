"""What every blocking twin is made of: an event loop runner, a client base and descriptors.

Each provider's blocking client lives in its provider's folder (``_blocking.py``) and runs
its async twin on one event loop that lives as long as the client, with the same typed
endpoint methods, returning plain values. On asyncio (the default) each calling thread runs
that loop itself for the length of its call; on trio a background thread runs it.
"""

from __future__ import annotations

from crowdsms._loops import EventLoopBlockedError
from crowdsms.blocking._client import BlockingClientBase
from crowdsms.blocking._descriptors import BlockingGroup, blocking, passthrough
from crowdsms.blocking._runner import DEFAULT_BACKEND, Backend

__all__ = [
    "DEFAULT_BACKEND",
    "Backend",
    "BlockingClientBase",
    "BlockingGroup",
    "EventLoopBlockedError",
    "blocking",
    "passthrough",
]
