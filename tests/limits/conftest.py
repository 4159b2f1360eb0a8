"""Per-number limit tests: anyio-marked ones run on asyncio and trio; Redis ones on a real server.

``redis_server`` is one durable server for the session (never a fake, never a skip),
``redis_url`` its URL with an empty database, ``redis`` an asyncio client to it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
import redis.asyncio

from crowdsms.campaign import connect
from tests.redis_server import RedisServer, RedisServerUnavailable


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Every anyio-marked test in this folder runs on asyncio and on trio."""
    backend: str = request.param
    return backend


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One server (AOF, appendfsync always) for the session's limit tests."""
    try:
        server = RedisServer(tmp_path_factory.mktemp("limits-redis"))
        server.start()
    except RedisServerUnavailable as error:
        pytest.fail(f"no Redis server for this test: {error}", pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session server's URL, its database emptied first."""
    if not redis_server.running:
        redis_server.start()
    redis_server.flushall()
    return redis_server.url


@pytest_asyncio.fixture
async def redis(redis_url: str) -> AsyncIterator[redis.asyncio.Redis]:
    """An asyncio client to an empty database, closed after the test."""
    client = connect(redis_url)
    yield client
    await client.aclose()
