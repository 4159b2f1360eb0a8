"""Fixtures of the reliability suites: a sandbox whose send requests are recorded."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from crowdsms.sandbox import Sandbox, create_app, serve

from ._requests import RequestLog, record_sends


@pytest_asyncio.fixture
async def recorded() -> AsyncIterator[tuple[Sandbox, RequestLog]]:
    """A sandbox on loopback, and the log of the send requests it receives (with faults)."""
    app = create_app()
    log = record_sends(app)
    async with serve(app=app) as sandbox:
        yield sandbox, log
