"""Fakes shared by the transport tests: injected time, a demo client, test signers."""

from __future__ import annotations

import json
from collections.abc import Callable

import anyio
import anyio.lowlevel
import httpx
from typing_extensions import Unpack

from crowdsms._client import AsyncClientBase, ClientOptions
from crowdsms._transport import (
    ApiRequest,
    ApiResponse,
    BodyEncoding,
    NoSigning,
    Rejection,
    RejectionKind,
    Runtime,
    Signer,
)
from crowdsms.errors import AuthenticationError, ClockSkewError

BASE_URL = "https://api.demo.test"
START_WALL = 1_700_000_000.0


class FakeTime:
    """Wall clock, monotonic clock, sleep and random, all under the test's control.

    ``sleep`` records the delay, advances both clocks by it and yields once, so a retry
    loop runs instantly and deterministically.
    """

    def __init__(
        self, *, wall: float = START_WALL, monotonic: float = 5_000.0, random: float = 0.0
    ) -> None:
        self.wall = wall
        self.mono = monotonic
        self.random_value = random
        self.sleeps: list[float] = []

    def wall_time(self) -> float:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)
        await anyio.lowlevel.checkpoint()

    def random(self) -> float:
        return self.random_value

    @property
    def runtime(self) -> Runtime:
        return Runtime(
            wall_time=self.wall_time,
            monotonic=self.monotonic,
            sleep=self.sleep,
            random=self.random,
        )


class DemoClient(AsyncClientBase):
    """The smallest provider client: it hands requests straight to the transport."""

    provider = "demo"

    def __init__(
        self,
        *,
        signer: Signer | None = None,
        base_url: str = BASE_URL,
        **options: Unpack[ClientOptions],
    ) -> None:
        options.setdefault("trust_env", False)  # the tests never go through a proxy
        super().__init__(base_url=base_url, signer=signer or NoSigning(), **options)

    async def call(self, request: ApiRequest) -> ApiResponse:
        return await self._transport.request(request)


def send_request(**changes: object) -> ApiRequest:
    """A non-idempotent send, as an SMS endpoint would make it."""
    values: dict[str, object] = {
        "method": "POST",
        "path": "/send",
        "operation": "sms.send",
        "fields": {"to": "13800138000", "text": "hello"},
    }
    values.update(changes)
    return ApiRequest(**values)  # type: ignore[arg-type]


def read_request(**changes: object) -> ApiRequest:
    """An idempotent read."""
    values: dict[str, object] = {
        "method": "GET",
        "path": "/status",
        "operation": "sms.status",
        "fields": {"id": "42"},
        "encoding": BodyEncoding.QUERY,
        "idempotent": True,
    }
    values.update(changes)
    return ApiRequest(**values)  # type: ignore[arg-type]


class TimestampSigner:
    """Puts ``timestamp`` (whole seconds of the provider's time) in the fields.

    Recognises the demo server's rejection of a stale timestamp (HTTP 401, body
    ``{"error": "timestamp"}``) and reads the demo server's clock at ``GET /time``.
    """

    def __init__(self) -> None:
        self.signed_at: list[float] = []

    async def sign(self, request: ApiRequest, *, now: float) -> ApiRequest:
        if not request.authenticate:
            return request
        self.signed_at.append(now)
        return request.with_fields({"timestamp": str(int(now))})

    def detect_rejection(self, response: ApiResponse) -> Rejection | None:
        if response.status_code == 401 and b'"timestamp"' in response.content:
            return Rejection(
                kind=RejectionKind.CLOCK,
                error=ClockSkewError(
                    provider="demo",
                    code="timestamp",
                    provider_message="timestamp out of window",
                    explanation="the timestamp is too far from the server's time",
                    operation=response.operation,
                ),
            )
        return None

    async def refresh_credentials(self) -> None:
        raise AssertionError("TimestampSigner has no credentials to refresh")

    def server_time_request(self) -> ApiRequest | None:
        return ApiRequest(
            "GET",
            "/time",
            operation="demo.time",
            encoding=BodyEncoding.QUERY,
            idempotent=True,
            authenticate=False,
        )

    def parse_server_time(self, response: ApiResponse) -> float:
        value = json.loads(response.content)["time"]
        assert isinstance(value, (int, float))
        return float(value)


class TokenSigner:
    """Sends a cached token; ``refresh_credentials`` makes the next one fresh."""

    def __init__(self) -> None:
        self.generation = 0
        self.refreshes = 0

    async def sign(self, request: ApiRequest, *, now: float) -> ApiRequest:
        return request.with_headers({"authorization": f"Bearer token-{self.generation}"})

    def detect_rejection(self, response: ApiResponse) -> Rejection | None:
        if response.status_code == 401:
            return Rejection(
                kind=RejectionKind.CREDENTIALS,
                error=AuthenticationError(
                    provider="demo",
                    code="token_expired",
                    provider_message="token expired",
                    explanation="the access token was refused",
                    operation=response.operation,
                ),
            )
        return None

    async def refresh_credentials(self) -> None:
        self.refreshes += 1
        self.generation += 1

    def server_time_request(self) -> ApiRequest | None:
        return None

    def parse_server_time(self, response: ApiResponse) -> float:
        raise AssertionError("no time endpoint")


def json_response(status: int, body: object, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


Handler = Callable[[httpx.Request], httpx.Response]
