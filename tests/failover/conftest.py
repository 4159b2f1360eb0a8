"""Failover tests: the anyio-marked ones run on asyncio and trio."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Every anyio-marked test in this folder runs on asyncio and on trio."""
    backend: str = request.param
    return backend
