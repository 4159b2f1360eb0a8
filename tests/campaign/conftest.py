"""Fixtures of the campaign tests: a real Redis server, never a fake, and never a skip.

``redis_server`` is one server for the session (``appendfsync always``), ``redis_url`` its URL
with an empty database, ``redis`` an asyncio client to it, and ``server_factory`` starts
private servers (other settings, other binaries, restarts) that stop after the test.
``cluster`` is the broker, a store, a sandbox and (once started) Celery workers
(:class:`tests.campaign.cluster.Cluster`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import redis.asyncio

from crowdsms.campaign import connect
from crowdsms.sandbox import serve_in_thread
from tests.campaign.cluster import Cluster
from tests.redis_server import RedisServer, RedisServerUnavailable


def start_server(directory: Path, **options: Any) -> RedisServer:
    """Start a server, failing the test (never skipping it) when none can be started."""
    try:
        server = RedisServer(directory, **options)
        server.start()
    except RedisServerUnavailable as error:
        pytest.fail(f"no Redis server for this test: {error}", pytrace=False)
    return server


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One durable server (AOF, appendfsync always) for the whole session."""
    server = start_server(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session server's URL, its database emptied first (FLUSHALL)."""
    if not redis_server.running:  # a test stopped it: bring it back
        redis_server.start()
    redis_server.flushall()
    return redis_server.url


@pytest_asyncio.fixture
async def redis(redis_url: str) -> AsyncIterator[redis.asyncio.Redis]:
    """An asyncio client to an empty database, closed after the test."""
    client = connect(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., RedisServer]]:
    """``server_factory(binary=..., appendfsync=...)``: private servers, stopped afterwards."""
    servers: list[RedisServer] = []

    def factory(**options: Any) -> RedisServer:
        server = start_server(tmp_path / f"server{len(servers)}", **options)
        servers.append(server)
        return server

    yield factory
    for server in servers:
        server.stop()


@pytest.fixture
def cluster(
    redis_url: str,
    redis_server: RedisServer,
    server_factory: Callable[..., RedisServer],
    tmp_path: Path,
) -> Iterator[Cluster]:
    """The broker (the session's server, emptied), a store of the test's own, a sandbox."""
    del redis_url  # requested for the emptied broker
    with serve_in_thread() as sandbox:
        running = Cluster(redis_server, server_factory(), sandbox, tmp_path)
        try:
            yield running
        finally:
            running.close()
