"""Clock-skew correction: the timestamp endpoint, ``Date`` headers and ``SkewClock``."""

from __future__ import annotations

import datetime
import json

import httpx
import pytest
import respx

from crowdsms._transport import ApiResponse, RetryBudget, RetryPolicy, SkewClock
from crowdsms.errors import (
    ClockSkewError,
    DeadlineExceededError,
    DeliveryCertainty,
    HTTPStatusError,
)

from .fakes import BASE_URL, START_WALL, DemoClient, FakeTime, TimestampSigner, send_request

SKEW = 20 * 60.0  # the demo server's clock is 20 minutes ahead of ours
WINDOW = 60.0


def _http_date(unix: float) -> str:
    when = datetime.datetime.fromtimestamp(unix, tz=datetime.timezone.utc)
    return when.strftime("%a, %d %b %Y %H:%M:%S GMT")


class SkewedServer:
    """A respx side effect enforcing a 60 s timestamp window around its own clock."""

    def __init__(self, fake: FakeTime, *, skew: float = SKEW, time_latency: float = 2.0) -> None:
        self.fake = fake
        self.skew = skew
        self.time_latency = time_latency
        self.log: list[tuple[str, str, int]] = []
        self.time_statuses: list[int] = []  # answers of GET /time, then 200 for ever

    def server_now(self) -> float:
        return self.fake.wall + self.skew

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/time":
            # The answer takes time_latency seconds: the server reads its clock halfway.
            self.fake.advance(self.time_latency / 2)
            now = self.server_now()
            self.fake.advance(self.time_latency / 2)
            status = self.time_statuses.pop(0) if self.time_statuses else 200
            response = httpx.Response(status, json={"time": now})
        else:
            stamp = int(dict(httpx.QueryParams(request.content.decode()))["timestamp"])
            if abs(stamp - self.server_now()) > WINDOW:
                response = httpx.Response(401, json={"error": "timestamp"})
            else:
                response = httpx.Response(200, json={"ok": True})
        self.log.append((request.method, request.url.path, response.status_code))
        return response


async def _run(
    fake: FakeTime, server: SkewedServer, *, budget: RetryBudget, policy: RetryPolicy
) -> tuple[DemoClient, ApiResponse | Exception]:
    client = DemoClient(
        signer=TimestampSigner(), runtime=fake.runtime, retry_budget=budget, retry_policy=policy
    )
    with respx.mock(base_url=BASE_URL) as mock:
        mock.route().mock(side_effect=server)
        try:
            result: object = await client.call(send_request())
        except Exception as error:
            result = error
        finally:
            await client.aclose()
    return client, result  # type: ignore[return-value]


@pytest.mark.anyio
async def test_skew_is_corrected_once_outside_the_attempts_and_budget() -> None:
    fake = FakeTime()
    server = SkewedServer(fake)
    budget = RetryBudget(capacity=50)
    client, result = await _run(fake, server, budget=budget, policy=RetryPolicy(max_attempts=1))
    assert not isinstance(result, Exception), result
    assert result.status_code == 200
    assert result.attempts == 2
    assert server.log == [("POST", "/send", 401), ("GET", "/time", 200), ("POST", "/send", 200)]
    # Midpoint rule: sent at START, answered at START + 2, server read START + 1 + SKEW.
    assert client.clock_offset == pytest.approx(SKEW)
    assert budget.available == 50
    assert fake.sleeps == []


@pytest.mark.anyio
async def test_the_corrected_resend_still_has_all_its_retries() -> None:
    fake = FakeTime()
    server = SkewedServer(fake)
    answers = iter([None, httpx.Response(503), None])  # None: let the server decide

    def side_effect(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/send":
            override = next(answers)
            if override is not None:
                server.log.append((request.method, request.url.path, override.status_code))
                return override
        return server(request)

    client = DemoClient(
        signer=TimestampSigner(),
        runtime=fake.runtime,
        retry_policy=RetryPolicy(max_attempts=2, jitter=0.0, initial_delay=1.0),
    )
    with respx.mock(base_url=BASE_URL) as mock:
        mock.route().mock(side_effect=side_effect)
        response = await client.call(send_request())
    await client.aclose()
    # The clock repair did not use up one of the two attempts: the 503 after it is retried.
    assert [entry[1:] for entry in server.log] == [
        ("/send", 401),
        ("/time", 200),
        ("/send", 503),
        ("/send", 200),
    ]
    assert response.attempts == 3  # three sends; reading the clock is not an attempt
    assert fake.sleeps == [1.0]


@pytest.mark.anyio
async def test_the_correction_neither_spends_nor_earns_budget() -> None:
    fake = FakeTime()
    server = SkewedServer(fake)
    server.time_statuses = [503]  # the measurement itself needs a retry
    budget = RetryBudget(capacity=50, available=20, retry_cost=5, success_refund=1)
    _, result = await _run(fake, server, budget=budget, policy=RetryPolicy(max_attempts=3))
    assert not isinstance(result, Exception), result
    assert [entry[1:] for entry in server.log] == [
        ("/send", 401),
        ("/time", 503),
        ("/time", 200),
        ("/send", 200),
    ]
    assert budget.available == 21  # one refund, for the one call that succeeded


@pytest.mark.anyio
async def test_the_correction_counts_against_the_calls_deadline() -> None:
    fake = FakeTime()
    # Reading the server's clock takes 100 (fake) seconds, far past the call's 10 s deadline.
    server = SkewedServer(fake, time_latency=100.0)
    client = DemoClient(
        signer=TimestampSigner(),
        runtime=fake.runtime,
        retry_policy=RetryPolicy(max_attempts=3, total_timeout=10.0),
        transport=httpx.MockTransport(server),
    )
    with pytest.raises(DeadlineExceededError) as caught:
        await client.call(send_request())
    await client.aclose()
    # The clock was corrected, but no resend was started after the deadline.
    assert [entry[:2] for entry in server.log] == [("POST", "/send"), ("GET", "/time")]
    assert client.clock_offset == pytest.approx(SKEW)
    assert caught.value.certainty is DeliveryCertainty.NOT_SENT


@pytest.mark.anyio
async def test_a_second_clock_rejection_raises_clock_skew_error() -> None:
    fake = FakeTime()
    server = SkewedServer(fake)
    # The time endpoint lies by 10 minutes, so the corrected timestamp is still refused.
    original = server.server_now
    lie = {"active": False}

    def server_now() -> float:
        return original() - (600.0 if lie["active"] else 0.0)

    def side_effect(request: httpx.Request) -> httpx.Response:
        lie["active"] = request.url.path == "/time"
        return SkewedServer.__call__(server, request)

    server.server_now = server_now  # type: ignore[method-assign]
    client = DemoClient(
        signer=TimestampSigner(), runtime=fake.runtime, retry_policy=RetryPolicy(max_attempts=3)
    )
    with respx.mock(base_url=BASE_URL) as mock:
        mock.route().mock(side_effect=side_effect)
        with pytest.raises(ClockSkewError) as caught:
            await client.call(send_request())
    await client.aclose()
    assert server.log == [("POST", "/send", 401), ("GET", "/time", 200), ("POST", "/send", 401)]
    assert caught.value.attempts == 2
    assert caught.value.certainty is DeliveryCertainty.NOT_SENT


@pytest.mark.anyio
async def test_a_failed_time_measurement_raises_the_clock_rejection() -> None:
    fake = FakeTime()
    server = SkewedServer(fake)
    server.time_statuses = [503, 503]
    _, result = await _run(
        fake, server, budget=RetryBudget(capacity=50), policy=RetryPolicy(max_attempts=3)
    )
    # The send was refused before it was processed: NOT_SENT, not the time endpoint's error.
    assert isinstance(result, ClockSkewError)
    assert result.certainty is DeliveryCertainty.NOT_SENT
    assert isinstance(result.__cause__, HTTPStatusError)
    assert [entry[:2] for entry in server.log] == [
        ("POST", "/send"),
        ("GET", "/time"),
        ("GET", "/time"),
    ]


class _DateOnlySigner(TimestampSigner):
    """A provider with a timestamp window but no timestamp endpoint."""

    def server_time_request(self) -> None:
        return None


@pytest.mark.anyio
async def test_without_a_time_endpoint_the_rejections_date_header_corrects_the_clock() -> None:
    fake = FakeTime()
    log: list[int] = []

    def server(request: httpx.Request) -> httpx.Response:
        now = fake.wall + SKEW
        stamp = int(dict(httpx.QueryParams(request.content.decode()))["timestamp"])
        status = 401 if abs(stamp - now) > WINDOW else 200
        log.append(status)
        body = {"error": "timestamp"} if status == 401 else {"ok": True}
        return httpx.Response(status, json=body, headers={"Date": _http_date(now)})

    client = DemoClient(signer=_DateOnlySigner(), runtime=fake.runtime)
    with respx.mock(base_url=BASE_URL) as mock:
        mock.post("/send").mock(side_effect=server)
        response = await client.call(send_request())
    await client.aclose()
    assert log == [401, 200]
    assert response.status_code == 200
    assert abs(client.clock_offset - SKEW) <= 1.0


@pytest.mark.anyio
async def test_ordinary_answers_date_headers_correct_a_large_skew() -> None:
    fake = FakeTime()
    client = DemoClient(runtime=fake.runtime)
    with respx.mock(base_url=BASE_URL) as mock:
        mock.post("/send").mock(
            return_value=httpx.Response(200, headers={"Date": _http_date(fake.wall + SKEW)})
        )
        await client.call(send_request())
    await client.aclose()
    assert abs(client.clock_offset - SKEW) <= 1.0


# --- SkewClock on its own -------------------------------------------------------------------


def test_observe_date_header_adjusts_beyond_the_threshold() -> None:
    clock = SkewClock(lambda: START_WALL, threshold=2.0)
    headers = httpx.Headers({"Date": _http_date(START_WALL + 300)})
    assert clock.observe_date_header(headers, sent_at=START_WALL, received_at=START_WALL)
    assert abs(clock.offset - 300.0) <= 1.0
    assert abs(clock.now() - (START_WALL + 300.0)) <= 1.0


def test_observe_date_header_ignores_differences_within_the_threshold() -> None:
    clock = SkewClock(lambda: START_WALL, threshold=2.0)
    headers = httpx.Headers({"Date": _http_date(START_WALL + 1)})
    assert not clock.observe_date_header(headers, sent_at=START_WALL, received_at=START_WALL)
    assert clock.offset == 0.0


def test_observe_date_header_force_applies_even_a_small_difference() -> None:
    clock = SkewClock(lambda: START_WALL, threshold=2.0)
    headers = httpx.Headers({"Date": _http_date(START_WALL - 1)})
    assert clock.observe_date_header(
        headers, sent_at=START_WALL, received_at=START_WALL, force=True
    )
    assert -1.0 <= clock.offset <= 0.0


def test_observe_date_header_ignores_a_cached_answer() -> None:
    clock = SkewClock(lambda: START_WALL, offset=0.0)
    headers = httpx.Headers({"Date": _http_date(START_WALL + 3600), "Age": "3600"})
    assert not clock.observe_date_header(headers, sent_at=START_WALL, received_at=START_WALL)
    assert clock.offset == 0.0


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-date"),
        pytest.param({"Date": "yesterday"}, id="garbage"),
        pytest.param({"Date": ""}, id="empty"),
    ],
)
def test_observe_date_header_ignores_an_unusable_date(headers: dict[str, str]) -> None:
    clock = SkewClock(lambda: START_WALL, offset=5.0)
    assert not clock.observe_date_header(
        httpx.Headers(headers), sent_at=START_WALL, received_at=START_WALL
    )
    assert clock.offset == 5.0


def test_observe_date_header_reads_any_mapping_case_insensitively() -> None:
    clock = SkewClock(lambda: START_WALL)
    assert clock.observe_date_header(
        {"Date": _http_date(START_WALL + 600)}, sent_at=START_WALL, received_at=START_WALL
    )
    assert abs(clock.offset - 600.0) <= 1.0
    assert not clock.observe_date_header(
        {"Date": _http_date(START_WALL + 9000), "AGE": "1"},
        sent_at=START_WALL,
        received_at=START_WALL,
    )


def test_observe_server_time_uses_the_midpoint_of_send_and_receive() -> None:
    clock = SkewClock(lambda: START_WALL)
    # Sent at T, answered at T + 10: the server read its clock (T + 5 + 1000) at T + 5.
    clock.observe_server_time(START_WALL + 1005.0, sent_at=START_WALL, received_at=START_WALL + 10)
    assert clock.offset == 1000.0
    assert clock.now() == START_WALL + 1000.0


def test_set_offset_is_used_by_now() -> None:
    wall = {"t": START_WALL}
    clock = SkewClock(lambda: wall["t"], offset=-30.0)
    assert clock.now() == START_WALL - 30.0
    clock.set_offset(12.5)
    wall["t"] += 100
    assert clock.now() == START_WALL + 112.5


def test_time_server_answer_is_json_as_the_test_signer_expects() -> None:
    # Guards the fake itself: TimestampSigner reads {"time": <seconds>}.
    response = httpx.Response(200, json={"time": 5.5})
    assert json.loads(response.content) == {"time": 5.5}
