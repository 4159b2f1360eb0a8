"""Replay protection for signed pushes: a timestamp window and a memory of pushes.

A signed push is refused when its timestamp is too old or too far ahead of this machine's
clock (where the provider signs the timestamp, this stops old replays; where it signs only a
token, it stops nothing), and is not handled twice while its key (the provider and a hash of
the signature as verified) is remembered.

The memory is a :class:`ReplayStore`. Each key goes through three states: claimed by the
request handling it (:attr:`PushState.HANDLING`, for a lease that request renews while its
handlers run), then either completed
(:attr:`PushState.HANDLED`, kept for ``keep`` seconds: a later copy is acknowledged without
being handled) or released when handling failed (so that the provider's retry is handled).
:class:`MemoryReplayStore` keeps the keys in this process only (a bounded LRU, safe to share
between threads): empty after a restart and not shared between workers. The delivery stores
(``SQLiteDeliveryStore``, the campaigns' ``RedisDeliveryStore``) keep them durably.
"""

from __future__ import annotations

import collections
import enum
import hashlib
import math
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Final, Protocol

from crowdsms.errors import ConfigurationError
from crowdsms.webhooks._errors import WebhookReplayError

__all__ = [
    "DEFAULT_HANDLING_LEASE",
    "DEFAULT_MAX_AGE",
    "DEFAULT_MAX_AHEAD",
    "DEFAULT_REPLAY_CACHE_SIZE",
    "DEFAULT_REPLAY_KEEP",
    "MemoryReplayStore",
    "PushState",
    "ReplayGuard",
    "ReplayStore",
    "StalePushError",
    "replay_key",
    "timestamp_seconds",
]

DEFAULT_MAX_AGE: Final = 600.0
"""Seconds a push's timestamp may lie in the past (providers retry failed pushes later)."""

DEFAULT_MAX_AHEAD: Final = 300.0
"""Seconds a push's timestamp may lie in the future (the provider's clock may be ahead)."""

DEFAULT_REPLAY_CACHE_SIZE: Final = 50_000
"""How many recent pushes (by signature) a receiver's in-memory store remembers."""

DEFAULT_REPLAY_KEEP: Final = 7 * 86400.0
"""Seconds a handled push's key is kept (7 days): far longer than any provider retries a
push, and the whole of the replay protection of a provider that signs only a token."""

DEFAULT_HANDLING_LEASE: Final = 300.0
"""Seconds a push's claim lasts unless renewed: :class:`~crowdsms.webhooks.WebhookApp`
extends it every third of that while the handlers run, so a claim whose request died (a
crashed worker) stops blocking the provider's retries after that."""

_MILLISECONDS_FROM: Final = 100_000_000_000
"""Timestamps at least this large are milliseconds (seconds reach it in the year 5138)."""

ReplayKey = str
"""``<provider>:<hash>`` of a push's signature as verified (lower-case hex): one signed text
has one, however its fields are split (a signature over ``timestamp + token``, say) or the
signature is spelled."""


def replay_key(provider: str, signature: str) -> ReplayKey:
    """The key a store remembers a push by: the provider and a hash of the verified signature.

    A hash, not the signature: the stores outlive the request (a journal file, Redis), and a
    signature beside the text it signs is material for guessing the key offline.
    """
    digest = hashlib.sha256(signature.encode("utf-8")).hexdigest()[:32]
    return f"{provider}:{digest}"


class PushState(enum.Enum):
    """What a replay store says when a push's key is claimed."""

    NEW = "new"
    """Not seen (or released, or forgotten): now claimed by the caller, who handles the push
    and then completes or releases the key."""
    HANDLING = "handling"
    """Claimed by another request whose lease has not run out: it is being handled now."""
    HANDLED = "handled"
    """Handled before: acknowledge it, without handling it again."""


class ReplayStore(Protocol):
    """Where the keys of received pushes are kept: in memory, or durably, shared by workers.

    Every method is atomic for its key. ``owner`` names the claiming request (a random text),
    so that a claim taken over after its lease ran out is not released by its first owner;
    a claim by the same owner again (a command sent twice after a broken connection) is
    ``NEW`` again.
    """

    async def claim_push(self, key: ReplayKey, *, owner: str, lease: float) -> PushState:
        """Claim ``key`` for ``lease`` seconds if it is not claimed or handled; say which."""
        ...

    async def complete_push(self, key: ReplayKey, *, keep: float) -> None:
        """Mark ``key`` handled, for ``keep`` seconds (whoever claimed it)."""
        ...

    async def release_push(self, key: ReplayKey, *, owner: str) -> None:
        """Drop ``owner``'s claim on ``key`` (handling failed), so that a retry is handled."""
        ...

    async def extend_push(self, key: ReplayKey, *, owner: str, lease: float) -> bool:
        """Make ``owner``'s live claim on ``key`` last ``lease`` seconds from now; False (and
        nothing changed) when ``owner`` no longer holds it (its lease ran out, another
        request took it over, or it was completed)."""
        ...

    async def push_handled(self, key: ReplayKey) -> bool:
        """Whether ``key`` is marked handled (and still kept): a read, claiming nothing."""
        ...


class StalePushError(WebhookReplayError):
    """A push whose signature is valid but whose timestamp is too old (HTTP 403).

    ``keys`` are the keys of every push of the request, once all of them are verified: when
    each is marked handled in the replay store, the request is a late retry of pushes
    handled before (their acknowledgement was lost), which
    :class:`~crowdsms.webhooks.WebhookApp` acknowledges without handling them again.
    """

    def __init__(self, what: str, *, provider: str, received: str, action: str) -> None:
        super().__init__(what, provider=provider, duplicate=False, received=received, action=action)
        self.key: ReplayKey | None = None
        self.keys: tuple[ReplayKey, ...] = ()


class _Entry:
    __slots__ = ("expires", "owner")

    def __init__(self, owner: str | None, expires: float) -> None:
        self.owner = owner  # None once handled
        self.expires = expires


class MemoryReplayStore:
    """A :class:`ReplayStore` in this process's memory: the ``capacity`` latest keys.

    Empty after a restart and not shared between worker processes: a push handled before
    either is handled again if it comes back (and, where the provider signs only a token,
    may then carry any fields). Use a durable store where that matters.
    ``clock`` is monotonic seconds.
    """

    def __init__(
        self,
        *,
        capacity: int = DEFAULT_REPLAY_CACHE_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ConfigurationError(
                "replay_cache_size must be a whole number of at least 1",
                received=repr(capacity)[:40],
                action=f"Pass e.g. replay_cache_size={DEFAULT_REPLAY_CACHE_SIZE}",
            )
        self._capacity = capacity
        self._clock = clock
        self._entries: collections.OrderedDict[ReplayKey, _Entry] = collections.OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MemoryReplayStore(capacity={self._capacity})"

    def __len__(self) -> int:
        return len(self._entries)

    def remember(self, keys: Iterable[ReplayKey]) -> ReplayKey | None:
        """Mark every key handled (until pushed out) unless one is held: then return it."""
        with self._lock:
            wanted = list(keys)
            for key in wanted:
                if self._live(key) is not None:
                    return key
            for key in wanted:
                self._put(key, _Entry(None, math.inf))
            return None

    def claim(self, key: ReplayKey, *, owner: str, lease: float) -> PushState:
        """:meth:`claim_push`, without awaiting."""
        with self._lock:
            entry = self._live(key)
            if entry is not None and entry.owner != owner:
                return PushState.HANDLED if entry.owner is None else PushState.HANDLING
            self._put(key, _Entry(owner, self._clock() + lease))
            return PushState.NEW

    def complete(self, key: ReplayKey, *, keep: float) -> None:
        """:meth:`complete_push`, without awaiting."""
        with self._lock:
            self._put(key, _Entry(None, self._clock() + keep))

    def release(self, key: ReplayKey, *, owner: str) -> None:
        """:meth:`release_push`, without awaiting."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.owner == owner:
                del self._entries[key]

    def extend(self, key: ReplayKey, *, owner: str, lease: float) -> bool:
        """:meth:`extend_push`, without awaiting."""
        with self._lock:
            entry = self._live(key)
            if entry is None or entry.owner is None or entry.owner != owner:
                return False
            entry.expires = self._clock() + lease
            return True

    def handled(self, key: ReplayKey) -> bool:
        """:meth:`push_handled`, without awaiting."""
        with self._lock:
            entry = self._live(key)
            return entry is not None and entry.owner is None

    def forget(self, key: ReplayKey) -> None:
        """Drop ``key`` whatever its state."""
        with self._lock:
            self._entries.pop(key, None)

    async def claim_push(self, key: ReplayKey, *, owner: str, lease: float) -> PushState:
        """Claim ``key`` for ``lease`` seconds if it is not claimed or handled; say which."""
        return self.claim(key, owner=owner, lease=lease)

    async def complete_push(self, key: ReplayKey, *, keep: float) -> None:
        """Mark ``key`` handled, for ``keep`` seconds."""
        self.complete(key, keep=keep)

    async def release_push(self, key: ReplayKey, *, owner: str) -> None:
        """Drop ``owner``'s claim on ``key``."""
        self.release(key, owner=owner)

    async def extend_push(self, key: ReplayKey, *, owner: str, lease: float) -> bool:
        """Make ``owner``'s live claim on ``key`` last ``lease`` seconds from now."""
        return self.extend(key, owner=owner, lease=lease)

    async def push_handled(self, key: ReplayKey) -> bool:
        """Whether ``key`` is marked handled."""
        return self.handled(key)

    def _live(self, key: ReplayKey) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry

    def _put(self, key: ReplayKey, entry: _Entry) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)


def timestamp_seconds(value: float) -> float:
    """A Unix timestamp in seconds, from seconds or milliseconds (told apart by size)."""
    return value / 1000.0 if abs(value) >= _MILLISECONDS_FROM else float(value)


def _check_seconds(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ConfigurationError(
            f"{name} must be a number of seconds, at least 0",
            received=repr(value)[:40],
            action=f"Pass e.g. {name}={DEFAULT_MAX_AGE:.0f}",
        )
    return float(value)


class ReplayGuard:
    """The timestamp window of one receiver, and its memory for :meth:`parse`."""

    def __init__(
        self,
        *,
        provider: str,
        max_age: float,
        max_ahead: float,
        capacity: int,
        clock: Callable[[], float],
    ) -> None:
        self._provider = provider
        self._max_age = _check_seconds("max_age", max_age)
        self._max_ahead = _check_seconds("max_ahead", max_ahead)
        self._clock = clock
        self.memory = MemoryReplayStore(capacity=capacity)

    def check_time(self, seconds: float, *, key: ReplayKey | None = None) -> None:
        """Refuse a push whose timestamp (Unix seconds) is outside the window.

        Call it once the signature is verified, with the push's ``key``: a push too old is
        refused with a :class:`StalePushError` naming it, so that a late retry of a push
        handled before can be acknowledged.
        """
        now = self._clock()
        age = now - seconds
        if age > self._max_age:
            stale = StalePushError(
                f"the push's timestamp is {age:.0f} s old, more than the {self._max_age:.0f} s "
                "allowed",
                provider=self._provider,
                received=_when(seconds),
                action=(
                    "A replayed (or very late) push was refused. If the provider retries "
                    "pushes later than that, raise max_age; check this machine's clock"
                ),
            )
            stale.key = key
            raise stale
        if -age > self._max_ahead:
            raise WebhookReplayError(
                f"the push's timestamp is {-age:.0f} s in the future, more than the "
                f"{self._max_ahead:.0f} s allowed",
                provider=self._provider,
                duplicate=False,
                received=_when(seconds),
                action=(
                    "Check this machine's clock (NTP); raise max_ahead if the provider's "
                    "clock runs ahead"
                ),
            )

    def check_unique(self, keys: Iterable[ReplayKey]) -> None:
        """Refuse a request that carries the same push twice."""
        given = list(keys)
        wanted = set(given)
        if len(wanted) != len(given):
            raise WebhookReplayError(
                "the same push (the same signature) comes twice in one request",
                provider=self._provider,
                duplicate=True,
                received=f"{len(given)} pushes, {len(wanted)} different",
                action="Nothing was handled: a genuine batch of pushes has each push once",
            )

    def claim(self, keys: Iterable[ReplayKey]) -> None:
        """Remember ``keys`` as handled; refuse them all if any was seen, or comes twice."""
        wanted = list(keys)
        self.check_unique(wanted)
        seen = self.memory.remember(wanted)
        if seen is not None:
            raise WebhookReplayError(
                "this push (the same signature) was already received",
                provider=self._provider,
                duplicate=True,
                received=f"push {seen[:20]!r}...",
                action=(
                    "Nothing was handled again. A provider that repeats a push it "
                    "already delivered can be ignored; otherwise it is a replay"
                ),
            )

    def release(self, keys: Iterable[ReplayKey]) -> None:
        """Forget ``keys``, so that the provider's retry of the same push is accepted."""
        for key in keys:
            self.memory.forget(key)

    def __len__(self) -> int:
        return len(self.memory)


def _when(seconds: float) -> str:
    try:
        moment = datetime.fromtimestamp(seconds, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return f"timestamp {seconds!r}"
    return f"timestamp {seconds:.0f} ({moment:%Y-%m-%d %H:%M:%S} UTC)"
