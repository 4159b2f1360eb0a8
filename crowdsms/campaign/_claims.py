"""Chunk claims in Redis: each chunk of a campaign is sent by one worker, at most once.

A worker *claims* a chunk with a token of its own before sending it, and *finishes* it with
the outcomes afterwards; only the holder's token can finish it. A chunk that another worker
holds is :class:`Held`; a finished one is :class:`Done` with its outcomes, so a worker that
picks up a chunk again (a redelivered task) re-reports them instead of sending again::

    store = ClaimStore(redis, "2024-05-promo", await durability(redis))
    match await store.claim(index, token, lease_seconds=60):
        case Claimed():
            outcomes = await send(chunk)                # the only sender of this chunk
            await store.finish(index, token, outcomes)
        case Done(outcomes=outcomes):
            ...                                         # already sent: report these
        case Held(holder_token=holder, lease_left=left) if left <= 0:
            await store.expire(index, holder, unknown_outcomes(chunk))
        case Held():
            ...                                         # someone is sending it now

Leases: a claim carries a lease measured on the Redis server's clock. When it runs out while
the chunk is still ``started``, the holder died or hung *during* its request, so the chunk
may or may not have been sent: :meth:`ClaimStore.expire` marks it done with outcomes the
caller supplies (``unknown``, to be checked against delivery reports), never sends it
again. A holder that outlives its lease can still :meth:`~ClaimStore.finish` until someone
expires the claim; it renews the lease by claiming again with the same token.

Durability: :meth:`ClaimStore.claim` returns only once the claim is on disk (see
:func:`~crowdsms.campaign.durability`), and so do ``finish``, ``expire`` and ``release``.
Every call is idempotent for its token (claiming again, finishing again), so a call whose
answer was lost to a connection error can simply be repeated.

Delivery reports may later change a finished chunk's outcomes
(:meth:`ClaimStore.update_outcomes`, a compare-and-set), and its ``unknown`` recipients may
be sent again, at-least-once, under a second claim of their own with a lease
(:meth:`ClaimStore.claim_resend`, :meth:`ClaimStore.finish_resend`): two workers never
resend a chunk at once, and a resender that dies leaves its recipients ``unknown``.

Keys, with the campaign id as a cluster hash tag: ``{prefix}:campaign:{<id>}:chunk:<index>``
is a hash (``state`` = started | done | expired, ``token``, ``until`` = lease end in server
milliseconds while started, ``started`` = when it was last sent (claimed or resent) in
server milliseconds, ``outcomes`` once done, ``kept_at`` and ``kept`` = the offsets and
outcomes of the recipients per-number limits kept out of the request, if any, while
started; for resends ``resends`` (how many), ``rtoken`` and ``runtil`` while one runs,
``rlast`` = the last resender's token);
``{prefix}:campaign:{<id>}:counts`` counts ``started`` (held now), ``done`` (finished or
expired) and ``expired``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeAlias

import attrs
import redis.asyncio

from crowdsms.campaign._codec import decode_outcomes, encode_outcomes
from crowdsms.campaign._redis import Durability, LuaScript, call
from crowdsms.errors import CrowdSMSError, InvalidInputError, excerpt
from crowdsms.outcomes import RecipientOutcome

__all__ = [
    "ChunkRecord",
    "ClaimCounts",
    "ClaimResult",
    "ClaimStore",
    "Claimed",
    "Done",
    "Held",
    "outcomes_digest",
]

# KEYS[1] chunk, KEYS[2] counts; ARGV[1] token, ARGV[2] lease (ms), ARGV[3] and ARGV[4] the
# offsets and outcomes of the recipients kept out of the request ('' for none).
# Returns {'claimed'} | {'held', token, lease left ms} | {'done' or 'expired', outcomes}.
_CLAIM = LuaScript(
    """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = string.format('%d', now + tonumber(ARGV[2]))
local s = redis.call('HMGET', KEYS[1], 'state', 'token', 'until', 'outcomes')
if not s[1] then
    redis.call('HSET', KEYS[1], 'state', 'started', 'token', ARGV[1], 'until', until_ms,
        'started', string.format('%d', now))
    if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'kept_at', ARGV[3], 'kept', ARGV[4]) end
    redis.call('HINCRBY', KEYS[2], 'started', 1)
    return {'claimed'}
end
if s[1] == 'started' then
    if s[2] == ARGV[1] then
        redis.call('HSET', KEYS[1], 'until', until_ms)
        return {'claimed'}
    end
    return {'held', s[2], tonumber(s[3]) - now}
end
return {s[1], s[4]}
"""
)

# KEYS[1] chunk, KEYS[2] counts; ARGV[1] token, ARGV[2] outcomes, ARGV[3] 'done' | 'expired',
# ARGV[4] '1' to require a lapsed lease, ARGV[5] retention (ms, 0 = keep).
# Returns 1 (done, or already done so by this token), 0 (not the holder), -1 (lease running).
_FINISH = LuaScript(
    """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local s = redis.call('HMGET', KEYS[1], 'state', 'token', 'until')
if not s[1] or s[2] ~= ARGV[1] then return 0 end
if s[1] == ARGV[3] then
    -- done already by this very call, answered on a connection that broke: write again so
    -- that a WAITAOF on the new connection covers the first write too
    redis.call('HSET', KEYS[1], 'state', s[1])
    return 1
end
if s[1] ~= 'started' then return 0 end
if ARGV[4] == '1' and tonumber(s[3]) > now then return -1 end
redis.call('HSET', KEYS[1], 'state', ARGV[3], 'outcomes', ARGV[2])
redis.call('HDEL', KEYS[1], 'until', 'kept_at', 'kept')
redis.call('HINCRBY', KEYS[2], 'started', -1)
redis.call('HINCRBY', KEYS[2], 'done', 1)
if ARGV[3] == 'expired' then redis.call('HINCRBY', KEYS[2], 'expired', 1) end
local retention = tonumber(ARGV[5])
if retention > 0 then
    redis.call('PEXPIRE', KEYS[1], retention)
    redis.call('PEXPIRE', KEYS[2], retention)
end
return 1
"""
)

# KEYS[1] chunk. Returns {} (never claimed) | {'held', token, lease left ms} | {state, outcomes}.
_PEEK = LuaScript(
    """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local s = redis.call('HMGET', KEYS[1], 'state', 'token', 'until', 'outcomes')
if not s[1] then return {} end
if s[1] == 'started' then return {'held', s[2], tonumber(s[3]) - now} end
return {s[1], s[4]}
"""
)

# KEYS[1] chunk. Returns {} (never claimed) | {state, token, lease left ms, outcomes, started
# ms, resends, resend token, resend lease left ms, kept-out offsets, kept-out outcomes}, false
# where a field is not set.
_CHUNK = LuaScript(
    """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local s = redis.call('HMGET', KEYS[1], 'state', 'token', 'until', 'outcomes', 'started',
    'resends', 'rtoken', 'runtil', 'kept_at', 'kept')
if not s[1] then return {} end
local left = false
if s[3] then left = tonumber(s[3]) - now end
local rleft = false
if s[8] then rleft = tonumber(s[8]) - now end
return {s[1], s[2], left, s[4], s[5], tonumber(s[6] or '0'), s[7], rleft, s[9], s[10]}
"""
)

# KEYS chunks. Returns, for each, 1 if it was ever claimed (its hash exists), else 0.
_CLAIMED = LuaScript(
    """
local found = {}
for i, key in ipairs(KEYS) do found[i] = redis.call('HLEN', key) > 0 and 1 or 0 end
return found
"""
)

# KEYS[1] chunk; ARGV[1] expected outcomes' SHA-1 ('' = any), ARGV[2] outcomes, ARGV[3] the
# caller's token ('' = none). Returns 1 (updated, or already so), 0 (not finished),
# -1 (another worker is resending it), -2 (the outcomes changed since they were read).
_UPDATE = LuaScript(
    """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local s = redis.call('HMGET', KEYS[1], 'state', 'outcomes', 'rtoken', 'runtil')
if s[1] ~= 'done' and s[1] ~= 'expired' then return 0 end
if s[3] and s[3] ~= ARGV[3] and tonumber(s[4]) > now then return -1 end
local current = redis.sha1hex(s[2])
if current ~= redis.sha1hex(ARGV[2]) and ARGV[1] ~= '' and current ~= ARGV[1] then
    return -2
end
redis.call('HSET', KEYS[1], 'outcomes', ARGV[2])
return 1
"""
)

# KEYS[1] chunk; ARGV[1] token, ARGV[2] lease (ms), ARGV[3] expected outcomes' SHA-1.
# Returns {'claimed'} | {'held', token, lease left ms} | {'changed'} | {'not_done'}.
_CLAIM_RESEND = LuaScript(
    """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = string.format('%d', now + tonumber(ARGV[2]))
local s = redis.call('HMGET', KEYS[1], 'state', 'outcomes', 'rtoken', 'runtil')
if s[1] ~= 'done' and s[1] ~= 'expired' then return {'not_done'} end
if s[3] == ARGV[1] then
    redis.call('HSET', KEYS[1], 'runtil', until_ms)
    return {'claimed'}
end
if s[3] and tonumber(s[4]) > now then return {'held', s[3], tonumber(s[4]) - now} end
if redis.sha1hex(s[2]) ~= ARGV[3] then return {'changed'} end
redis.call('HSET', KEYS[1], 'rtoken', ARGV[1], 'runtil', until_ms,
    'started', string.format('%d', now))
redis.call('HINCRBY', KEYS[1], 'resends', 1)
return {'claimed'}
"""
)

# KEYS[1] chunk; ARGV[1] token, ARGV[2] outcomes. Returns 1 (recorded, or already so by this
# token), 0 (the token does not hold the chunk's resend).
_FINISH_RESEND = LuaScript(
    """
local s = redis.call('HMGET', KEYS[1], 'state', 'rtoken', 'rlast')
if s[1] ~= 'done' and s[1] ~= 'expired' then return 0 end
if s[2] == ARGV[1] then
    redis.call('HSET', KEYS[1], 'outcomes', ARGV[2], 'rlast', ARGV[1])
    redis.call('HDEL', KEYS[1], 'rtoken', 'runtil')
    return 1
end
if s[3] == ARGV[1] and not s[2] then
    redis.call('HSET', KEYS[1], 'rlast', ARGV[1])
    return 1
end
return 0
"""
)

# KEYS[1] chunk, KEYS[2] counts; ARGV[1] token. Returns 1 if the holder's claim was dropped.
_RELEASE = LuaScript(
    """
local s = redis.call('HMGET', KEYS[1], 'state', 'token')
if s[1] ~= 'started' or s[2] ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HINCRBY', KEYS[2], 'started', -1)
return 1
"""
)

_CAMPAIGN_ID = re.compile(r"[^\s{}]{1,200}")
_MAX_TOKEN = 200


@attrs.frozen
class Claimed:
    """The chunk is this worker's (``token``) until ``lease_seconds`` pass: send it."""

    token: str
    lease_seconds: float


@attrs.frozen
class Held:
    """Another worker holds the chunk (``state`` is ``"started"``).

    ``lease_left`` is in seconds on the server's clock; zero or less means the lease ran out
    and the chunk may be expired with :meth:`ClaimStore.expire`.
    """

    holder_token: str
    state: Literal["started"]
    lease_left: float

    @property
    def lease_expired(self) -> bool:
        """Whether the holder's lease has run out."""
        return self.lease_left <= 0


@attrs.frozen
class Done:
    """The chunk was finished: its outcomes, one per recipient in order.

    ``expired`` says they were supplied by :meth:`ClaimStore.expire` for a holder that died,
    not reported by the holder itself.
    """

    outcomes: tuple[RecipientOutcome, ...]
    expired: bool = False


ClaimResult: TypeAlias = Claimed | Held | Done
"""What :meth:`ClaimStore.claim` answers."""


def outcomes_digest(stored: bytes) -> str:
    """The SHA-1 of stored outcomes (what the compare-and-set calls compare)."""
    return hashlib.sha1(stored, usedforsecurity=False).hexdigest()


@attrs.frozen(kw_only=True)
class ChunkRecord:
    """Everything a chunk's claim holds (:meth:`ClaimStore.chunk`).

    ``state`` is ``started``, ``done`` or ``expired``; ``stored`` the outcomes as stored
    (for the compare-and-set of :meth:`ClaimStore.update_outcomes` and
    :meth:`ClaimStore.claim_resend`); times are in seconds (on the Redis server's clock).
    """

    state: str
    token: str | None
    lease_left: float | None
    """Seconds the holder's claim has left, while ``started``."""
    stored: bytes | None
    started_at: float | None
    """When the chunk was last sent: claimed, or its resend claimed (Unix seconds)."""
    resends: int = 0
    resend_token: str | None = None
    resend_left: float | None = None
    """Seconds the resend's claim has left, while one was claimed and not finished."""
    kept_out: Mapping[int, RecipientOutcome] | None = None
    """The recipients per-number limits kept out of the request (by offset in the chunk),
    with their outcomes, if the claim recorded them."""

    @property
    def finished(self) -> bool:
        """Whether the chunk is done or expired (it has outcomes)."""
        return self.state in ("done", "expired")

    @property
    def outcomes(self) -> tuple[RecipientOutcome, ...]:
        """The outcomes of a finished chunk."""
        if self.stored is None:
            raise CrowdSMSError(f"a chunk that is {self.state} has no outcomes")
        return decode_outcomes(self.stored)

    @property
    def resending(self) -> bool:
        """Whether a live resend holds the chunk (its lease has not run out)."""
        return self.resend_token is not None and (self.resend_left or 0) > 0

    def held(self) -> Held:
        """The claim of a ``started`` chunk as :class:`Held`."""
        return Held(
            holder_token=self.token or "", state="started", lease_left=self.lease_left or 0.0
        )


@attrs.frozen
class ClaimCounts:
    """How many chunks are held now (``started``), finished (``done``, which includes
    ``expired``) and expired."""

    started: int
    done: int
    expired: int


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


def _bytes(value: object) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode("utf-8")


def _check_index(chunk_index: int) -> int:
    if isinstance(chunk_index, bool) or not isinstance(chunk_index, int) or chunk_index < 0:
        raise InvalidInputError(
            "must be a whole number of at least 0", field="chunk_index", received=repr(chunk_index)
        )
    return chunk_index


def _check_token(token: str, field: str = "token") -> str:
    if not isinstance(token, str) or not 0 < len(token) <= _MAX_TOKEN:
        raise InvalidInputError(
            f"must be a non-empty string of at most {_MAX_TOKEN} characters",
            field=field,
            received=excerpt(repr(token)),
            action="Use a unique id per attempt, such as uuid.uuid4().hex or a task id",
        )
    return token


class ClaimStore:
    """The chunk claims of one campaign, in Redis.

    ``durability`` comes from :func:`~crowdsms.campaign.durability` for this server;
    ``replicas`` (:func:`~crowdsms.campaign.connected_replicas`) is how many replicas must
    have each write before it is acted on (``WAIT``), so that a replica promoted when the
    server fails holds every claim. ``retention`` (seconds) lets finished chunks expire from
    Redis that long after they finished; by default they stay. ``prefix`` starts every key.
    """

    def __init__(
        self,
        redis: redis.asyncio.Redis,
        campaign_id: str,
        durability: Durability,
        *,
        retention: float | None = None,
        prefix: str = "crowdsms",
        replicas: int = 0,
    ) -> None:
        if not isinstance(campaign_id, str) or not _CAMPAIGN_ID.fullmatch(campaign_id):
            raise InvalidInputError(
                "must be 1 to 200 characters with no spaces or braces",
                field="campaign_id",
                received=excerpt(repr(campaign_id)),
            )
        if retention is not None and not retention > 0:
            raise InvalidInputError(
                "must be above 0 seconds, or None to keep finished chunks",
                field="retention",
                received=repr(retention),
            )
        self._redis = redis
        self.campaign_id = campaign_id
        self.durability = Durability(durability)
        self.replicas = replicas
        self._retention_ms = 0 if retention is None else math.ceil(retention * 1000)
        self._base = f"{prefix}:campaign:{{{campaign_id}}}"

    def chunk_key(self, chunk_index: int) -> str:
        """The Redis key of one chunk's claim."""
        return f"{self._base}:chunk:{_check_index(chunk_index)}"

    @property
    def counts_key(self) -> str:
        """The Redis key of the campaign's counters."""
        return f"{self._base}:counts"

    def _keys(self, chunk_index: int) -> list[str]:
        return [self.chunk_key(chunk_index), self.counts_key]

    async def _run(self, script: LuaScript, chunk_index: int, args: Sequence[str | int]) -> Any:
        return await script.run(
            self._redis,
            self._keys(chunk_index),
            args,
            durability=self.durability,
            replicas=self.replicas,
        )

    async def claim(
        self,
        chunk_index: int,
        token: str,
        lease_seconds: float,
        *,
        kept_out: Mapping[int, RecipientOutcome] | None = None,
    ) -> ClaimResult:
        """Claim a chunk for ``token`` for ``lease_seconds``, durably.

        :class:`Claimed` when it is now this token's (also when this token held it already:
        the lease is renewed), :class:`Held` when another token holds it, :class:`Done` when
        it was finished. ``kept_out``: the recipients (by offset in the chunk) per-number
        limits kept out of the request, with their ``skipped`` outcomes, recorded with a
        new claim so that whoever finds it held by a dead worker knows they were not sent.
        """
        _check_token(token)
        if isinstance(lease_seconds, bool) or not (
            isinstance(lease_seconds, (int, float)) and 0 < lease_seconds < 10**9
        ):
            raise InvalidInputError(
                "must be a number of seconds above 0",
                field="lease_seconds",
                received=repr(lease_seconds),
            )
        offsets, kept = "", ""
        if kept_out:
            offsets = json.dumps(list(kept_out))
            kept = encode_outcomes(kept_out.values())
        reply: list[Any] = await self._run(
            _CLAIM, chunk_index, [token, math.ceil(lease_seconds * 1000), offsets, kept]
        )
        kind = _text(reply[0])
        if kind == "claimed":
            return Claimed(token=token, lease_seconds=float(lease_seconds))
        if kind == "held":
            return Held(holder_token=_text(reply[1]), state="started", lease_left=reply[2] / 1000)
        if kind in ("done", "expired"):
            return Done(outcomes=decode_outcomes(reply[1]), expired=kind == "expired")
        raise CrowdSMSError(
            f"the claim of chunk {chunk_index} is in a state crowdsms does not know",
            received=excerpt(repr(reply)),
            action="Check that nothing else writes to keys under " + self._base,
        )

    async def peek(self, chunk_index: int) -> Held | Done | None:
        """A chunk's claim as it is now, without claiming: ``None`` if never claimed."""
        reply: list[Any] = await _PEEK.run(self._redis, [self.chunk_key(chunk_index)], [])
        if not reply:
            return None
        kind = _text(reply[0])
        if kind == "held":
            return Held(holder_token=_text(reply[1]), state="started", lease_left=reply[2] / 1000)
        return Done(outcomes=decode_outcomes(reply[1]), expired=kind == "expired")

    async def finish(
        self, chunk_index: int, token: str, outcomes: Sequence[RecipientOutcome]
    ) -> bool:
        """Store the outcomes and mark the chunk done, if ``token`` holds it.

        False when it does not: another token holds it, the claim was expired (the outcomes
        supplied then stay), or it was never claimed.
        """
        _check_token(token)
        reply = await self._run(
            _FINISH, chunk_index, [token, encode_outcomes(outcomes), "done", 0, self._retention_ms]
        )
        return int(reply) == 1

    async def expire(
        self, chunk_index: int, holder_token: str, outcomes: Sequence[RecipientOutcome]
    ) -> bool:
        """Mark a chunk whose lease ran out while started as done with ``outcomes``.

        The holder died or hung during its request, so nobody knows whether the chunk was
        sent: pass ``unknown`` outcomes (or what delivery reports told). ``holder_token`` is
        the one :class:`Held` showed; nothing changes if the chunk moved on since (the holder
        finished, or someone else expired it) or if the lease is still running. Returns
        whether the chunk is now expired with these outcomes.
        """
        _check_token(holder_token, "holder_token")
        reply = await self._run(
            _FINISH,
            chunk_index,
            [holder_token, encode_outcomes(outcomes), "expired", 1, self._retention_ms],
        )
        return int(reply) == 1

    async def release(self, chunk_index: int, token: str) -> bool:
        """Give up a claim *before sending*: the chunk can be claimed again by anyone.

        Only for a holder that knows no request went out (shutting down, or
        :meth:`claim` failed after the write). Returns whether ``token`` held it.
        """
        _check_token(token)
        reply = await self._run(_RELEASE, chunk_index, [token])
        return int(reply) == 1

    async def chunk(self, chunk_index: int) -> ChunkRecord | None:
        """Everything the claim of a chunk holds; ``None`` if never claimed."""
        reply: list[Any] = await _CHUNK.run(self._redis, [self.chunk_key(chunk_index)], [])
        if not reply:
            return None
        state, token, left, stored, started, resends, rtoken, rleft, offsets, kept = reply
        return ChunkRecord(
            state=_text(state),
            token=None if token is None else _text(token),
            lease_left=None if left is None else left / 1000,
            stored=None if stored is None else _bytes(stored),
            started_at=None if started is None else int(started) / 1000,
            resends=int(resends),
            resend_token=None if rtoken is None else _text(rtoken),
            resend_left=None if rleft is None else rleft / 1000,
            kept_out=(
                None
                if offsets is None or kept is None
                else dict(zip(json.loads(offsets), decode_outcomes(kept), strict=True))
            ),
        )

    async def unclaimed(self, first: int, count: int) -> list[int]:
        """Which of chunks ``first`` to ``first + count - 1`` were never claimed, as of now.

        One round trip for them all: a worker starting a shard reads ahead which chunks it
        need not look at one by one. The answer can only go stale one way (a chunk claimed
        since), which :meth:`claim` then reports.
        """
        _check_index(first)
        if isinstance(count, bool) or not isinstance(count, int) or not 0 < count <= 1000:
            raise InvalidInputError(
                "must be a whole number from 1 to 1000", field="count", received=repr(count)
            )
        indexes = range(first, first + count)
        keys = [self.chunk_key(index) for index in indexes]
        found: list[int] = await _CLAIMED.run(self._redis, keys, [])
        return [index for index, claimed in zip(indexes, found, strict=True) if not claimed]

    async def update_outcomes(
        self,
        chunk_index: int,
        outcomes: Sequence[RecipientOutcome],
        *,
        expected: bytes | None,
        token: str = "",
    ) -> Literal["updated", "not_finished", "resending", "changed"]:
        """Replace a finished chunk's outcomes (reports confirmed some), if unchanged since read.

        ``expected`` is the stored outcomes the new ones were made from
        (:attr:`ChunkRecord.stored`; ``None`` to replace whatever is there). Nothing changes
        while another worker (not ``token``) resends the chunk: ``"resending"``, or when the
        outcomes changed meanwhile: ``"changed"`` (read them again).
        """
        digest = "" if expected is None else outcomes_digest(expected)
        reply = await _UPDATE.run(
            self._redis,
            [self.chunk_key(chunk_index)],
            [digest, encode_outcomes(outcomes), token],
            durability=self.durability,
            replicas=self.replicas,
        )
        code = int(reply)
        if code == 1:
            return "updated"
        if code == 0:
            return "not_finished"
        return "resending" if code == -1 else "changed"

    async def claim_resend(
        self, chunk_index: int, token: str, lease_seconds: float, *, expected: bytes
    ) -> Claimed | Held | Literal["changed", "not_finished"]:
        """Claim a finished chunk's resend for ``token``, durably, if its outcomes are
        ``expected`` (as read before deciding to resend).

        :class:`Claimed` when the resend is now this token's (also when it was already: the
        lease is renewed); :class:`Held` when another token's resend lease runs;
        ``"changed"`` when the outcomes changed since they were read (another resend, or
        reports, confirmed some: read them again); ``"not_finished"``. The chunk's outcomes
        stay as they are until :meth:`finish_resend`, so a resender that dies leaves its
        recipients ``unknown`` (another may resend them once its lease runs out).
        """
        _check_token(token)
        reply: list[Any] = await _CLAIM_RESEND.run(
            self._redis,
            [self.chunk_key(chunk_index)],
            [token, math.ceil(lease_seconds * 1000), outcomes_digest(expected)],
            durability=self.durability,
            replicas=self.replicas,
        )
        kind = _text(reply[0])
        if kind == "claimed":
            return Claimed(token=token, lease_seconds=float(lease_seconds))
        if kind == "held":
            return Held(holder_token=_text(reply[1]), state="started", lease_left=reply[2] / 1000)
        return "changed" if kind == "changed" else "not_finished"

    async def finish_resend(
        self, chunk_index: int, token: str, outcomes: Sequence[RecipientOutcome]
    ) -> bool:
        """Record a resent chunk's outcomes and end the resend, if ``token`` holds it."""
        _check_token(token)
        reply = await _FINISH_RESEND.run(
            self._redis,
            [self.chunk_key(chunk_index)],
            [token, encode_outcomes(outcomes)],
            durability=self.durability,
            replicas=self.replicas,
        )
        return int(reply) == 1

    async def outcomes(self, chunk_index: int) -> tuple[RecipientOutcome, ...] | None:
        """The outcomes of a finished (or expired) chunk; None while it is not finished."""
        state, stored = await call(
            self._redis, "HMGET", self.chunk_key(chunk_index), "state", "outcomes"
        )
        if state is None or _text(state) == "started" or stored is None:
            return None
        return decode_outcomes(stored)

    async def counts(self) -> ClaimCounts:
        """How many chunks are held now, done and expired."""
        started, done, expired = await call(
            self._redis, "HMGET", self.counts_key, "started", "done", "expired"
        )
        return ClaimCounts(
            started=int(started or 0), done=int(done or 0), expired=int(expired or 0)
        )
