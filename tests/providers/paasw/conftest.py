"""Fixtures and helpers for the paasw tests: fake time, recorded sleeps, canned answers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio

from crowdsms._transport import RetryBudget, Runtime
from crowdsms.providers.paasw import AsyncPaasw

BASE_URL = "https://openapi.gateway.paasw.com"
APP_ID = "0189457543"
SECRET = "23f757bad208226ec301e117e40006ed"
# Tokens with + / = (they must be URL-encoded wherever they travel).
TOKEN = "k67j+wkqzSqN/6gtGHjo8KwrQ=="
TOKEN_2 = "Zq2+second/token=x="
PHONE_1 = "13800138000"
PHONE_2 = "13912345678"


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Sleeps:
    """An async sleep that returns at once and records the delays asked for."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def token_answer(token: str = TOKEN, expires_in: int = 7200) -> httpx.Response:
    return httpx.Response(
        200,
        json={"code": "10000", "message": "操作成功", "token": token, "expires_in": expires_in},
    )


def answer(code: str | int = "10000", message: str = "操作成功", **fields: Any) -> httpx.Response:
    return httpx.Response(200, json={"code": code, "message": message, **fields})


def raw(
    body: str | bytes, status: int = 200, content_type: str = "application/json"
) -> httpx.Response:
    content = body.encode("utf-8") if isinstance(body, str) else body
    return httpx.Response(status, content=content, headers={"content-type": content_type})


def form(request: httpx.Request) -> dict[str, str]:
    """The form fields of a request body, decoded (one value per name)."""
    fields = httpx.QueryParams(request.content.decode("ascii"))
    assert len(fields.multi_items()) == len(dict(fields.items())), "a field was sent twice"
    return dict(fields.items())


def query(request: httpx.Request) -> dict[str, str]:
    """The query parameters of a request, decoded (one value per name)."""
    params = request.url.params
    assert len(params.multi_items()) == len(dict(params.items())), "a parameter was sent twice"
    return dict(params.items())


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def numbers(count: int) -> list[str]:
    """``count`` distinct valid mainland mobile numbers."""
    return [f"1380013{index:04d}" for index in range(count)]


def send_ok(biz_id: str = "39036632588910887018") -> httpx.Response:
    return answer(bizId=biz_id)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def runtime(clock: FakeClock, sleeps: Sleeps) -> Runtime:
    return Runtime(
        monotonic=clock, sleep=sleeps, wall_time=lambda: 1_700_000_000.0, random=lambda: 0.0
    )


@pytest.fixture
def make_client(runtime: Runtime) -> Callable[..., AsyncPaasw]:
    def make(**options: Any) -> AsyncPaasw:
        options.setdefault("runtime", runtime)
        options.setdefault("retry_budget", RetryBudget.unlimited())
        return AsyncPaasw(app_id=APP_ID, secret=SECRET, **options)

    return make


@pytest_asyncio.fixture
async def client(make_client: Callable[..., AsyncPaasw]) -> AsyncIterator[AsyncPaasw]:
    async with make_client() as paasw:
        yield paasw
