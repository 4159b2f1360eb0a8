"""Shared test configuration."""

from __future__ import annotations

import logging

import pytest


@pytest.fixture(autouse=True)
def _debug_logging(caplog: pytest.LogCaptureFixture) -> None:
    """Capture crowdsms's DEBUG logs in every test, so secret-leak checks can read them."""
    caplog.set_level(logging.DEBUG, logger="crowdsms")


@pytest.fixture(autouse=True)
def _httpx_lanes_unless_marked(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Clients use their httpx lanes, which respx can mock, unless a test is marked ``aiohttp``.

    With aiohttp installed, ``http_backend="auto"`` picks aiohttp's lanes on asyncio, which
    respx does not see. Tests marked ``aiohttp`` keep the real choice; they cover the aiohttp
    lanes and the choice itself.
    """
    if request.node.get_closest_marker("aiohttp") is None:
        monkeypatch.setattr("crowdsms._transport.backends.aiohttp_installed", lambda: False)
