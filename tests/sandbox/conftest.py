"""Fixtures of the sandbox tests: a served sandbox and a plain httpx client.

Every request in these tests is built and signed by hand (``signing.py``), never by the SDK,
so they check the sandbox against the providers' documents rather than against the SDK's
reading of it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio

from crowdsms.sandbox import Sandbox, serve


@pytest_asyncio.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    """A sandbox with default settings on a free loopback port, stopped after the test."""
    async with serve() as served:
        yield served


@pytest_asyncio.fixture
async def client(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client for ``sandbox``'s root URL."""
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=10.0) as http:
        yield http
