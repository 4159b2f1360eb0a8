"""Fixtures for the SUBMAIL tests: a client with a frozen clock and a no-op sleep.

The constants are repeated in the test modules that need them (pytest's importlib mode
does not let tests import this file); the fixtures here only build clients.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from crowdsms._transport import Runtime
from crowdsms.providers.submail import AsyncSubmail

APP_ID = "10000"
APP_KEY = "TopSecretAppKey0123456789abcdef"
NOW = 1_700_000_000.25


@pytest.fixture
def sleeps() -> list[float]:
    """The delays the client slept for (it never really sleeps)."""
    return []


@pytest.fixture
def runtime(sleeps: list[float]) -> Runtime:
    """A runtime whose wall clock stands still at NOW and whose sleep only records."""

    async def sleep(delay: float) -> None:
        sleeps.append(delay)

    return Runtime(wall_time=lambda: NOW, sleep=sleep, random=lambda: 0.0)


@pytest.fixture
def make_client(runtime: Runtime) -> Callable[..., AsyncSubmail]:
    """Build an AsyncSubmail with the test credentials; keyword arguments override."""

    def make(**overrides: Any) -> AsyncSubmail:
        settings: dict[str, Any] = {
            "app_id": APP_ID,
            "app_key": APP_KEY,
            "runtime": runtime,
            "trust_env": False,
        }
        settings.update(overrides)
        return AsyncSubmail(**settings)

    return make
