"""Shared test configuration."""

from __future__ import annotations

import logging

import pytest


@pytest.fixture(autouse=True)
def _debug_logging(caplog: pytest.LogCaptureFixture) -> None:
    """Capture crowdsms's DEBUG logs in every test, so secret-leak checks can read them."""
    caplog.set_level(logging.DEBUG, logger="crowdsms")
