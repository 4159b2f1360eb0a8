"""Connecting to Redis, and knowing whether an acknowledged write is on disk.

A chunk claim that Redis acknowledged but lost in a crash lets a second worker claim the
chunk again and send it twice. Redis acknowledges a write before it reaches the disk unless

* the append-only file is on with ``appendfsync always`` (every write is fsynced before the
  reply): :attr:`Durability.FSYNC_ALWAYS`, nothing more to do; or
* the client asks for it with ``WAITAOF 1 0 <timeout>`` after its write (Redis 7.2 and
  later, Valkey 8), which answers once the local AOF holds the write:
  :attr:`Durability.WAITAOF`, one more round trip per claim.

Otherwise (no AOF, or ``everysec`` on a Redis without WAITAOF) an acknowledged claim may be
lost: :attr:`Durability.VOLATILE`, refused unless asked for with ``allow_volatile=True``.
A crash of the Redis *process* loses nothing either way (the kernel holds the written AOF);
a crash of the *machine* or its power does.

Only the asyncio client of redis-py is used, so the campaign store runs on asyncio (not trio).
"""

from __future__ import annotations

import enum
import hashlib
import ipaddress
import logging
import math
import re
import urllib.parse
from collections.abc import Sequence
from typing import Any

import redis.asyncio
import redis.exceptions
from redis.asyncio.retry import Retry
from redis.backoff import EqualJitterBackoff

from crowdsms._client import _shown
from crowdsms.errors import ConfigurationError, CrowdSMSError, excerpt

logger = logging.getLogger("crowdsms.campaign")

__all__ = [
    "WAITAOF_TIMEOUT",
    "Durability",
    "LuaScript",
    "ReplicasBehindError",
    "connect",
    "connected_replicas",
    "durability",
    "make_durable",
    "scrubbed",
    "shown_url",
]

WAITAOF_TIMEOUT = 5.0
"""Seconds ``WAITAOF`` may wait for the local fsync (and ``WAIT`` for the replicas) before
the write counts as not durable."""
SOCKET_TIMEOUT = WAITAOF_TIMEOUT + 10.0
"""Seconds :func:`connect`'s client waits for an answer, unless told otherwise: longer than
a ``WAITAOF`` or ``WAIT`` may take."""


class Durability(str, enum.Enum):
    """How an acknowledged write reaches the disk on a given server."""

    FSYNC_ALWAYS = "fsync_always"
    """AOF with ``appendfsync always``: acknowledged means on disk."""
    WAITAOF = "waitaof"
    """AOF with a lazier fsync, and ``WAITAOF`` available: wait for it after each claim."""
    VOLATILE = "volatile"
    """An acknowledged write may be lost in a machine crash."""


def connect(url: str, **options: Any) -> redis.asyncio.Redis:
    """An asyncio Redis client for ``url`` (``redis://``, ``rediss://`` or ``unix://``).

    ``options`` go to :meth:`redis.asyncio.Redis.from_url` (``socket_timeout=...``); unless
    they say otherwise, connection errors are retried 3 times with a short backoff. Close
    the client with ``await client.aclose()``.
    """
    scheme, separator, rest = url.partition("://")
    scheme = scheme.lower()
    if not separator or scheme not in ("redis", "rediss", "unix", "valkey", "valkeys"):
        raise ConfigurationError(
            "a Redis URL must start with redis://, rediss:// or unix://",
            # Only the scheme: the rest of a URL may hold a password.
            received=f"a URL starting {scheme[:20]!r}" if separator else "no scheme (no '://')",
            action="Pass a URL such as redis://127.0.0.1:6379/0",
        )
    if scheme.startswith("valkey"):
        scheme = "redis" + scheme[len("valkey") :]
    url = f"{scheme}://{rest}"
    # A client from from_url gives its connections no retry at all: after a Redis restart
    # every pooled connection fails once. Retry connection errors a few times, briefly.
    options.setdefault("retry", Retry(EqualJitterBackoff(cap=1.0, base=0.05), 3))
    # WAITAOF and WAIT may take WAITAOF_TIMEOUT to answer: a socket that gave up first would
    # turn "not durable yet" into a timeout, and send the write again.
    options.setdefault("socket_timeout", SOCKET_TIMEOUT)
    try:
        _check_bracketed_host(rest)
        client = redis.asyncio.Redis.from_url(url, **options)
        # redis-py passes a query's unknown names to each connection it makes: build one now
        # (it does not connect) so that they fail here, not at the first command.
        pool = client.connection_pool
        pool.connection_class(**pool.connection_kwargs)
    except (TypeError, ValueError) as error:
        raise ConfigurationError(
            "the Redis URL (or an option given with it) cannot be used",
            received=f"{shown_url(url)}: {scrubbed(str(error), url)}",
            action=(
                "Pass a URL such as redis://:password@host:6379/0; its query may set only "
                "redis-py's connection options (e.g. ?socket_timeout=5)"
            ),
        ) from None  # the error's context holds the URL, password and all
    return client


def _check_bracketed_host(rest: str) -> None:
    """Raise ``ValueError`` if the URL's host is in brackets but no IPv6 address (Python
    3.11 and later refuse it while parsing; 3.10 would try to connect to it)."""
    netloc = rest.partition("/")[0].rpartition("@")[2]
    if netloc.startswith("["):
        host = netloc[1 : netloc.find("]")] if "]" in netloc else netloc[1:]
        try:
            ipaddress.IPv6Address(host.partition("%")[0])
        except ValueError:
            raise ValueError(f"{host!r} does not appear to be an IPv4 or IPv6 address") from None


_QUERY_SECRET = re.compile(r"([?&](?:password|username)=)[^&#]*", re.IGNORECASE)


def shown_url(url: str) -> str:
    """``url`` for a message: a user name and password (``user:password@`` or in the query)
    masked; at most 80 characters, quoted."""
    return _shown(_QUERY_SECRET.sub(r"\1***", url))


def scrubbed(text: str, url: str) -> str:
    """``text`` (an error's message about ``url``) with ``url``'s password masked, should
    it be there."""
    secrets = [match.group(2) for match in re.finditer(r"([?&]password=)([^&#]*)", url, re.I)]
    try:
        password = urllib.parse.urlsplit(url).password
    except ValueError:  # a malformed URL: what follows the first ":" before its last "@"
        userinfo = url.partition("://")[2].rpartition("@")[0]
        password = userinfo.partition(":")[2] or userinfo
    if password:
        secrets.append(password)
    secrets += [urllib.parse.unquote(secret) for secret in secrets]
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


async def call(client: redis.asyncio.Redis, *args: str | int | float | bytes) -> Any:
    """One Redis command (redis-py leaves ``execute_command`` untyped)."""
    return await client.execute_command(*args)  # type: ignore[no-untyped-call]


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


async def _config(client: redis.asyncio.Redis, name: str) -> str | None:
    """``CONFIG GET name``, or None when CONFIG is not allowed (managed services rename it)."""
    try:
        reply = await call(client, "CONFIG", "GET", name)
    except redis.exceptions.ResponseError:
        return None
    if isinstance(reply, dict):
        values = {_text(key): _text(item) for key, item in reply.items()}
        return values.get(name)
    if isinstance(reply, list) and len(reply) >= 2:
        return _text(reply[1])
    return None


async def _waitaof(client: redis.asyncio.Redis, timeout: float) -> object:
    """``WAITAOF 1 0 timeout``: ``[numlocal, numreplicas]`` once our writes are fsynced."""
    reply: object = await call(client, "WAITAOF", 1, 0, math.ceil(timeout * 1000))
    return reply


_HOW_TO_FIX = (
    "Make claims durable: set `appendonly yes` and `appendfsync always` on the server, or use "
    "Redis 7.2 or later (or Valkey 8) with `appendonly yes`, where crowdsms waits for the fsync "
    "with WAITAOF. Pass allow_volatile=True only if a chunk sent twice after a Redis machine "
    "crash is acceptable"
)


async def durability(client: redis.asyncio.Redis, *, allow_volatile: bool = False) -> Durability:
    """Find out whether a write the server acknowledges is on disk, and how to make it so.

    ``appendonly yes`` with ``appendfsync always`` gives :attr:`Durability.FSYNC_ALWAYS`;
    otherwise a successful ``WAITAOF 1 0`` gives :attr:`Durability.WAITAOF`; otherwise the
    answer is :attr:`Durability.VOLATILE`, which raises
    :class:`~crowdsms.errors.ConfigurationError` unless ``allow_volatile`` is true.

    A server whose ``maxmemory-policy`` is not ``noeviction`` is logged as a warning (logger
    ``crowdsms.campaign``): when it fills up it evicts keys, the ``volatile-*`` policies
    first those with a time to live, which are the claims' leases and the webhook replay
    memory, so a push handled before could be handled again.
    """
    await _warn_if_evicting(client)
    appendonly = await _config(client, "appendonly")
    appendfsync = await _config(client, "appendfsync")
    if appendonly == "yes" and appendfsync == "always":
        return Durability.FSYNC_ALWAYS
    reason: str
    try:
        reply = await _waitaof(client, WAITAOF_TIMEOUT)
    except redis.exceptions.ResponseError as error:
        # "unknown command" before Redis 7.2; "appendonly is disabled" without an AOF.
        reason = f"WAITAOF was refused ({error})"
    else:
        failure = _waitaof_failed(reply, WAITAOF_TIMEOUT)
        if failure is None:
            return Durability.WAITAOF
        reason = failure.what
    if allow_volatile:
        return Durability.VOLATILE
    raise ConfigurationError(
        "the Redis server acknowledges writes before they are on disk, so a claimed chunk "
        "could be claimed and sent again after a crash",
        received=(
            f"appendonly={appendonly or 'unknown (CONFIG not allowed)'}, "
            f"appendfsync={appendfsync or 'unknown'}; {reason}"
        ),
        action=_HOW_TO_FIX,
    )


async def _warn_if_evicting(client: redis.asyncio.Redis) -> None:
    policy = await _config(client, "maxmemory-policy")
    if policy is not None and policy != "noeviction":
        logger.warning(
            "the Redis server's maxmemory-policy is %s, not noeviction: once full it evicts "
            "keys (the volatile-* policies first those that expire: claims' leases and the "
            "webhook replay memory), and an evicted key lets a chunk or a push be handled "
            "again. Set maxmemory-policy noeviction",
            policy,
        )


async def make_durable(
    client: redis.asyncio.Redis, mode: Durability, *, timeout: float = WAITAOF_TIMEOUT
) -> None:
    """After a write: return once it is on disk, as far as ``mode`` allows.

    With :attr:`Durability.WAITAOF` this runs ``WAITAOF 1 0`` and raises
    :class:`~crowdsms.errors.CrowdSMSError` when the fsync did not happen within
    ``timeout`` seconds; the other modes need nothing.

    WAITAOF waits for the writes *of its own connection*: ``client`` must be the connection
    that wrote, a client made with ``single_connection_client=True``. On a pooled client the
    WAITAOF may go out on another connection and answer at once without covering the write.
    :meth:`LuaScript.run` with ``durability=`` sends the write and the WAITAOF together on one
    connection, which is what the claim store does.
    """
    if mode is not Durability.WAITAOF:
        return
    failure = _waitaof_failed(await _waitaof(client, timeout), timeout)
    if failure is not None:
        raise failure


def _waitaof_failed(reply: object, timeout: float) -> CrowdSMSError | None:
    if isinstance(reply, Exception):
        return CrowdSMSError(
            "WAITAOF failed after a write",
            received=excerpt(str(reply)),
            action="The write may be lost if Redis crashes now; do not act on it",
        )
    local = int(reply[0]) if isinstance(reply, list) and reply else 0
    if local < 1:
        return CrowdSMSError(
            f"the write was not fsynced to the append-only file within {timeout:g} s",
            received=f"WAITAOF 1 0 answered {excerpt(repr(reply))}",
            action=(
                "The write may be lost if Redis crashes now; do not act on it. Check the Redis "
                "server's disk, or set appendfsync always"
            ),
        )
    return None


class LuaScript:
    """A Lua script run with EVALSHA, falling back to EVAL when the server does not know it.

    (A restarted server has forgotten every loaded script.)
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    async def run(
        self,
        client: redis.asyncio.Redis,
        keys: Sequence[str],
        args: Sequence[str | int | float | bytes],
        *,
        durability: Durability | None = None,
        timeout: float = WAITAOF_TIMEOUT,
        replicas: int = 0,
    ) -> Any:
        """Run the script; with ``durability=WAITAOF``, return only once its writes are fsynced,
        and with ``replicas``, once that many replicas have them (``WAIT``): a replica
        promoted when the server fails has every write acted on.

        The script and the WAITAOF (and WAIT) go out in one pipeline, on one connection, so
        they cover the script's writes (a script whose answer the caller acts on must write, so
        that a pipeline sent again on a new connection is covered too). A script error is
        raised as redis-py raises it.

        A connection that broke (a restarted server leaves every pooled connection broken)
        is retried once, whatever retry policy the client has, so the script may run twice:
        crowdsms's scripts are idempotent for their token.
        """
        broken = False
        while True:
            try:
                return await self._run_once(client, keys, args, durability, timeout, replicas)
            except redis.exceptions.ConnectionError:
                if broken:
                    raise
                broken = True

    async def _run_once(
        self,
        client: redis.asyncio.Redis,
        keys: Sequence[str],
        args: Sequence[str | int | float | bytes],
        durability: Durability | None,
        timeout: float,
        replicas: int,
    ) -> Any:
        fsync = durability is Durability.WAITAOF
        if not fsync and not replicas:
            try:
                return await call(client, "EVALSHA", self.sha, len(keys), *keys, *args)
            except redis.exceptions.NoScriptError:
                return await call(client, "EVAL", self.source, len(keys), *keys, *args)
        waits = _waits(fsync=fsync, replicas=replicas, timeout=timeout)
        replies = await _pipelined(client, ("EVALSHA", self.sha), keys, args, waits)
        if isinstance(replies[0], redis.exceptions.NoScriptError):
            replies = await _pipelined(client, ("EVAL", self.source), keys, args, waits)
        result, *waited = replies
        if isinstance(result, Exception):
            raise result
        if fsync:
            failure = _waitaof_failed(waited.pop(0), timeout)
            if failure is not None:
                raise failure
        if replicas:
            failure = _wait_failed(waited.pop(0), replicas, timeout)
            if failure is not None:
                raise failure
        return result


def _waits(*, fsync: bool, replicas: int, timeout: float) -> list[tuple[str | int, ...]]:
    """The commands that wait for a script's writes: the fsync, then the replicas."""
    milliseconds = math.ceil(timeout * 1000)
    waits: list[tuple[str | int, ...]] = []
    if fsync:
        waits.append(("WAITAOF", 1, 0, milliseconds))
    if replicas:
        waits.append(("WAIT", replicas, milliseconds))
    return waits


async def _pipelined(
    client: redis.asyncio.Redis,
    script: tuple[str, str],
    keys: Sequence[str],
    args: Sequence[str | int | float | bytes],
    waits: Sequence[tuple[str | int, ...]],
) -> list[object]:
    """The script (``EVALSHA sha`` or ``EVAL source``) and ``waits`` in one pipeline: their
    replies."""
    command, body = script
    async with client.pipeline(transaction=False) as pipe:
        pipe.execute_command(command, body, len(keys), *keys, *args)
        for wait in waits:
            pipe.execute_command(*wait)
        replies: list[object] = await pipe.execute(raise_on_error=False)
    return replies


class ReplicasBehindError(CrowdSMSError):
    """A write did not reach the replicas in time: not to be acted on yet.

    Like a store that cannot be reached, it is waited out (the write is repeated, which
    every claim script allows for its token) before a shard's run gives up.
    """


def _wait_failed(reply: object, replicas: int, timeout: float) -> CrowdSMSError | None:
    """The error for a ``WAIT`` that saw fewer than ``replicas`` replicas take the writes."""
    if isinstance(reply, int) and reply >= replicas:
        return None
    return ReplicasBehindError(
        f"the write reached {excerpt(repr(reply))} of the {replicas} replicas within {timeout:g} s",
        received=f"WAIT {replicas} answered {excerpt(repr(reply))}",
        action=(
            "The write may be lost if Redis fails over to a replica now; do not act on it. "
            "Check the replicas' links to the server"
        ),
    )


async def connected_replicas(client: redis.asyncio.Redis) -> int:
    """How many replicas the server ``client`` talks to has connected (0 if it is not a
    master, or does not say)."""
    try:
        info = await client.info("replication")
    except redis.exceptions.ResponseError:  # INFO renamed or not allowed (managed services)
        return 0
    if not isinstance(info, dict) or info.get("role") != "master":
        return 0
    return int(info.get("connected_slaves", 0) or 0)
