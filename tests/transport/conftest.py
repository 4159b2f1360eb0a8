"""The transport's tests run under both asyncio and trio, through anyio's pytest plugin.

pytest-asyncio runs in strict mode (pyproject.toml), so it leaves ``@pytest.mark.anyio``
tests alone and anyio's plugin runs each of them once per backend below.
"""

from __future__ import annotations

import pytest


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Every anyio-marked test in this folder runs on asyncio and on trio."""
    backend: str = request.param
    return backend
