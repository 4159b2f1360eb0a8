"""Fixtures for the CrowdTask tests: a client with a fixed clock and no real sleeping."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio

from crowdsms._transport import Runtime
from crowdsms.providers.crowdtask import AsyncCrowdTask

ACCESS_ID = "ak-test-0001"
SECRET = "s3cr3t-CrowdTask-key-ZZ9"
BASE_URL = "https://api.crowdtask.cn"
# 2023-11-14T22:13:20Z: the machine's wall clock in these tests.
WALL_TIME = 1_700_000_000.0


class SleepRecorder:
    """An async sleep that records the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def runtime(sleeps: SleepRecorder) -> Runtime:
    return Runtime(wall_time=lambda: WALL_TIME, sleep=sleeps, random=lambda: 0.0)


@pytest.fixture
def make_client(runtime: Runtime) -> Callable[..., AsyncCrowdTask]:
    """Build clients with the test credentials and runtime; keyword arguments override."""

    def make(**overrides: Any) -> AsyncCrowdTask:
        settings: dict[str, Any] = {
            "access_id": ACCESS_ID,
            "access_secret_key": SECRET,
            "runtime": runtime,
        }
        settings.update(overrides)
        return AsyncCrowdTask(**settings)

    return make


@pytest_asyncio.fixture
async def client(make_client: Callable[..., AsyncCrowdTask]) -> AsyncIterator[AsyncCrowdTask]:
    async with make_client() as value:
        yield value


@pytest.fixture
def access_id() -> str:
    return ACCESS_ID


@pytest.fixture
def secret() -> str:
    return SECRET


class Multipart:
    """A multipart/form-data body split by hand: text fields and files."""

    def __init__(self, request: httpx.Request) -> None:
        content_type = request.headers["content-type"]
        assert content_type.startswith("multipart/form-data; boundary=")
        boundary = content_type.split("boundary=", 1)[1].encode("ascii")
        body = request.read()
        parts = body.split(b"--" + boundary)
        assert parts[0] == b""
        assert parts[-1] == b"--\r\n"
        self.fields: dict[str, str] = {}
        self.files: dict[str, tuple[str, str, bytes]] = {}
        self.order: list[str] = []
        for raw in parts[1:-1]:
            assert raw.startswith(b"\r\n")
            assert raw.endswith(b"\r\n")
            head, separator, content = raw[2:-2].partition(b"\r\n\r\n")
            assert separator
            headers = dict(
                line.split(": ", 1) for line in head.decode("utf-8").split("\r\n") if line
            )
            disposition = headers["Content-Disposition"]
            params = dict(
                item.strip().split("=", 1) for item in disposition.split(";")[1:] if "=" in item
            )
            name = params["name"].strip('"')
            self.order.append(name)
            if "filename" in params:
                self.files[name] = (
                    params["filename"].strip('"'),
                    headers.get("Content-Type", ""),
                    content,
                )
            else:
                self.fields[name] = content.decode("utf-8")


@pytest.fixture
def multipart() -> Callable[[httpx.Request], Multipart]:
    return Multipart


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run the ``anyio``-marked tests of this folder under asyncio and trio."""
    return str(request.param)
