"""Fixtures for the SendCloud tests: a client with a frozen clock, and respx."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import pytest_asyncio
import respx

from crowdsms._transport import Runtime
from crowdsms.providers.sendcloud import AsyncSendCloud

from .sendcloud_support import BASE_URL, NOW, SMS_KEY, SMS_USER, Sleeps


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def runtime(sleeps: Sleeps) -> Runtime:
    return Runtime(wall_time=lambda: NOW, sleep=sleeps.sleep, random=lambda: 0.0)


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as router:
        yield router


@pytest_asyncio.fixture
async def make_client(runtime: Runtime) -> AsyncIterator[Callable[..., AsyncSendCloud]]:
    clients: list[AsyncSendCloud] = []

    def factory(**kwargs: Any) -> AsyncSendCloud:
        kwargs.setdefault("runtime", runtime)
        kwargs.setdefault("sms_user", SMS_USER)
        kwargs.setdefault("sms_key", SMS_KEY)
        client = AsyncSendCloud(**kwargs)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.aclose()


@pytest_asyncio.fixture
async def client(make_client: Callable[..., AsyncSendCloud]) -> AsyncSendCloud:
    return make_client()
