"""Fixtures of the integration tests: one sandbox served on loopback per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from crowdsms.sandbox import Sandbox, serve

from .support import assert_no_secret_logged


@pytest_asyncio.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    """A sandbox with default settings on a free loopback port, stopped after the test."""
    async with serve() as served:
        yield served


@pytest.fixture(autouse=True)
def _no_secret_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """After every test, no sandbox key appears in what crowdsms logged at DEBUG."""
    yield
    # caplog.records would be the teardown's records only: read the earlier phases'.
    assert_no_secret_logged([*caplog.get_records("setup"), *caplog.get_records("call")])
