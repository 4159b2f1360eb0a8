"""The attempt loop: which failures are retried, how long it waits, and when it stops."""

from __future__ import annotations

import time

import anyio
import attrs
import httpx
import pytest
import respx

from crowdsms._transport import (
    AttemptState,
    LanePool,
    NoSigning,
    Received,
    RetryBudget,
    RetryPolicy,
    Transport,
    TransportSender,
)
from crowdsms.errors import (
    ConnectionFailedError,
    DeadlineExceededError,
    DeliveryCertainty,
    HTTPStatusError,
    RateLimitedError,
    RequestTimeoutError,
)

from .fakes import BASE_URL, DemoClient, FakeTime, TimestampSigner, read_request, send_request

pytestmark = pytest.mark.anyio

NO_JITTER = RetryPolicy(max_attempts=3, initial_delay=0.5, max_delay=8.0, jitter=0.0)
OK = httpx.Response(200, json={"ok": True})


def _client(fake: FakeTime, **options: object) -> DemoClient:
    options.setdefault("retry_policy", NO_JITTER)
    return DemoClient(runtime=fake.runtime, **options)  # type: ignore[arg-type]


# --- status failures ------------------------------------------------------------------------


async def test_429_waits_exactly_what_retry_after_says() -> None:
    fake = FakeTime()
    async with _client(fake) as client:
        with respx.mock(base_url=BASE_URL) as mock:
            route = mock.post("/send").mock(
                side_effect=[httpx.Response(429, headers={"Retry-After": "7"}), OK]
            )
            response = await client.call(send_request())
    assert response.status_code == 200
    assert response.attempts == 2
    assert route.call_count == 2
    assert fake.sleeps == [7.0]


async def test_retry_after_ms_is_honoured_on_503() -> None:
    fake = FakeTime()
    async with _client(fake) as client:
        with respx.mock(base_url=BASE_URL) as mock:
            route = mock.post("/send").mock(
                side_effect=[httpx.Response(503, headers={"retry-after-ms": "1250"}), OK]
            )
            await client.call(send_request())
    assert route.call_count == 2
    assert fake.sleeps == [1.25]


async def test_503_on_a_send_is_retried_with_exponential_backoff() -> None:
    fake = FakeTime()
    async with _client(fake) as client:
        with respx.mock(base_url=BASE_URL) as mock:
            route = mock.post("/send").mock(
                side_effect=[httpx.Response(503), httpx.Response(503), OK]
            )
            response = await client.call(send_request())
    assert response.status_code == 200
    assert response.attempts == 3
    assert route.call_count == 3
    assert fake.sleeps == [0.5, 1.0]


async def test_503_until_attempts_run_out_raises_not_sent() -> None:
    fake = FakeTime()
    async with _client(fake) as client:
        with respx.mock(base_url=BASE_URL) as mock:
            route = mock.post("/send").mock(return_value=httpx.Response(503, text="down"))
            with pytest.raises(HTTPStatusError) as caught:
                await client.call(send_request())
    assert route.call_count == 3
    assert caught.value.status_code == 503
    assert caught.value.certainty is DeliveryCertainty.NOT_SENT
    assert caught.value.attempts == 3
    assert "'down'" in str(caught.value)


async def test_429_asking_for_longer_than_allowed_fails_at_once() -> None:
    fake = FakeTime()
    policy = RetryPolicy(max_attempts=3, jitter=0.0, max_retry_after=60.0)
    async with _client(fake, retry_policy=policy) as client:
        with respx.mock(base_url=BASE_URL) as mock:
            route = mock.post("/send").mock(
                return_value=httpx.Response(429, headers={"Retry-After": "120"})
            )
            with pytest.raises(RateLimitedError) as caught:
                await client.call(send_request())
    assert route.call_count == 1
    assert fake.sleeps == []
    assert caught.value.retry_after == 120.0
    assert caught.value.certainty is DeliveryCertainty.NOT_SENT


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_ambiguous_5xx_on_a_plain_send_is_not_retried(status: int) -> None:
    fake = FakeTime()
    async with _client(fake) as client:
        with respx.mock(base_url=BASE_URL) as mock:
            route = mock.post("/send").mock(side_effect=[httpx.Response(status), OK])
            with pytest.raises(HTTPStatusError) as caught:
                await client.call(send_request())
    assert route.call_count == 1
    assert fake.sleeps == []
    assert caught.value.status_code == status
    assert caught.value.certainty is DeliveryCertainty.UNKNOWN
    assert caught.value.attempts == 1


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"idempotent": True}, id="idempotent"),
        pytest.param({"idempotency_key": "batch-7-chunk-3"}, id="idempotency-key"),
        pytest.param({"at_least_once": True}, id="at-least-once"),
    ],
)
async def test_500_is_retried_when_repeating_is_safe(changes: dict[str, object]) -> None:
    fake = FakeTime()
    async with _client(fake) as client:
        with respx.mock(base_url=BASE_URL) as mock:
            route = mock.post("/send").mock(side_effect=[httpx.Response(500), OK])
            response = await client.call(send_request(**changes))
    assert response.status_code == 200
    assert route.call_count == 2
    assert fake.sleeps == [0.5]


async def test_a_4xx_answer_is_handed_to_the_endpoint_not_retried() -> None:
    fake = FakeTime()
    async with _client(fake) as client:
        with respx.mock(base_url=BASE_URL) as mock:
            route = mock.post("/send").mock(
                return_value=httpx.Response(400, json={"code": "bad_param"})
            )
            response = await client.call(send_request())
    assert route.call_count == 1
    assert response.status_code == 400
    assert response.content == b'{"code":"bad_param"}'


async def test_every_attempt_is_signed_afresh() -> None:
    fake = FakeTime()
    signer = TimestampSigner()
    async with _client(fake, signer=signer) as client:
        with respx.mock(base_url=BASE_URL) as mock:
            route = mock.post("/send").mock(side_effect=[httpx.Response(503), OK])
            await client.call(send_request())
    assert signer.signed_at == [fake.wall - 0.5, fake.wall]
    stamps = [
        dict(httpx.QueryParams(call.request.content.decode()))["timestamp"] for call in route.calls
    ]
    assert stamps == [str(int(fake.wall - 0.5)), str(int(fake.wall))]


# --- exception failures ---------------------------------------------------------------------


async def test_connect_error_on_a_send_is_retried_then_succeeds() -> None:
    fake = FakeTime()
    async with _client(fake) as client:
        with respx.mock(base_url=BASE_URL) as mock:
            route = mock.post("/send").mock(
                side_effect=[httpx.ConnectError("refused"), httpx.ConnectError("refused"), OK]
            )
            response = await client.call(send_request())
    assert response.status_code == 200
    assert response.attempts == 3
    assert route.call_count == 3
    assert fake.sleeps == [0.5, 1.0]


async def test_connect_errors_until_attempts_run_out_raise_not_sent() -> None:
    fake = FakeTime()
    async with _client(fake) as client:
        with respx.mock(base_url=BASE_URL) as mock:
            route = mock.post("/send").mock(side_effect=httpx.ConnectError("refused"))
            with pytest.raises(ConnectionFailedError) as caught:
                await client.call(send_request())
    assert route.call_count == 3
    assert caught.value.certainty is DeliveryCertainty.NOT_SENT
    assert caught.value.attempts == 3


async def test_read_timeout_on_a_send_is_not_retried_and_is_unknown() -> None:
    fake = FakeTime()
    async with _client(fake) as client:
        with respx.mock(base_url=BASE_URL) as mock:
            route = mock.post("/send").mock(side_effect=[httpx.ReadTimeout("slow"), OK])
            with pytest.raises(RequestTimeoutError) as caught:
                await client.call(send_request())
    assert route.call_count == 1
    assert fake.sleeps == []
    assert caught.value.certainty is DeliveryCertainty.UNKNOWN
    assert caught.value.attempts == 1
    assert "delivery reports" in str(caught.value)


async def test_read_timeout_on_a_send_with_an_idempotency_key_is_retried() -> None:
    fake = FakeTime()
    async with _client(fake) as client:
        with respx.mock(base_url=BASE_URL) as mock:
            route = mock.post("/send").mock(side_effect=[httpx.ReadTimeout("slow"), OK])
            response = await client.call(send_request(idempotency_key="chunk-1"))
    assert response.status_code == 200
    assert route.call_count == 2


async def test_remote_protocol_error_on_a_send_is_unknown_and_not_retried() -> None:
    fake = FakeTime()
    async with _client(fake) as client:
        with respx.mock(base_url=BASE_URL) as mock:
            route = mock.post("/send").mock(
                side_effect=[httpx.RemoteProtocolError("peer closed"), OK]
            )
            with pytest.raises(ConnectionFailedError) as caught:
                await client.call(send_request())
    assert route.call_count == 1
    assert caught.value.certainty is DeliveryCertainty.UNKNOWN


# --- the total deadline ---------------------------------------------------------------------


async def test_no_retry_is_started_that_would_end_past_the_deadline() -> None:
    fake = FakeTime()
    start = fake.mono
    deadline = start + 10.0
    woke_at: list[float] = []

    async def sleep(seconds: float) -> None:
        await fake.sleep(seconds)
        woke_at.append(fake.mono)

    def slow_503(request: httpx.Request) -> httpx.Response:
        fake.advance(1.0)  # each attempt takes one (fake) second
        return httpx.Response(503)

    policy = RetryPolicy(
        max_attempts=10, initial_delay=2.0, max_delay=100.0, jitter=0.0, total_timeout=10.0
    )
    runtime = attrs.evolve(fake.runtime, sleep=sleep)
    async with DemoClient(runtime=runtime, retry_policy=policy) as client:
        with respx.mock(base_url=BASE_URL) as mock:
            route = mock.get("/status").mock(side_effect=slow_503)
            with pytest.raises(HTTPStatusError) as caught:
                await client.call(read_request())
    # t=0..1 attempt 1, wait 2; t=3..4 attempt 2, wait 4; t=8..9 attempt 3; a wait of 8
    # would end at 17 > 10, so the call stops there.
    assert route.call_count == 3
    assert caught.value.attempts == 3
    assert fake.sleeps == [2.0, 4.0]
    assert woke_at == [start + 3.0, start + 8.0]
    assert all(t <= deadline for t in woke_at)


class _Silent(httpx.AsyncBaseTransport):
    """Takes the request and never answers."""

    def __init__(self) -> None:
        self.calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        await anyio.sleep_forever()
        raise AssertionError("unreachable")


async def test_a_real_deadline_against_a_silent_server_is_unknown() -> None:
    fake = FakeTime()
    silent = _Silent()
    # Real monotonic clock and a real (short) deadline; the fake sleep keeps retries instant.
    runtime = attrs.evolve(fake.runtime, monotonic=time.monotonic)
    policy = RetryPolicy(max_attempts=5, total_timeout=0.2)
    async with DemoClient(runtime=runtime, retry_policy=policy, transport=silent) as client:
        with anyio.fail_after(30):  # fail-safe only; the outcome is what is asserted
            with pytest.raises(DeadlineExceededError) as caught:
                await client.call(read_request())
    assert silent.calls == 1
    assert caught.value.certainty is DeliveryCertainty.UNKNOWN
    assert fake.sleeps == []


async def test_a_deadline_spent_waiting_for_a_connection_is_not_sent() -> None:
    silent = _Silent()
    pool = LanePool(1, make_lane=lambda: silent)
    transport = Transport(provider="demo", base_url=BASE_URL, signer=NoSigning(), sender=pool)
    async with anyio.create_task_group() as tg:
        tg.start_soon(transport.request, send_request())  # holds the only lane forever
        await anyio.wait_all_tasks_blocked()
        with anyio.fail_after(30), pytest.raises(DeadlineExceededError) as caught:
            await transport.request(
                send_request(), policy=RetryPolicy(max_attempts=3, total_timeout=0.2)
            )
        tg.cancel_scope.cancel()
    await transport.aclose()
    assert silent.calls == 1  # the second call never got a lane
    assert caught.value.certainty is DeliveryCertainty.NOT_SENT


# --- the retry budget -----------------------------------------------------------------------


async def test_the_budget_bounds_a_retry_storm_and_successes_refund() -> None:
    fake = FakeTime()
    budget = RetryBudget(capacity=20, retry_cost=5, timeout_retry_cost=10, success_refund=1)
    calls = 25
    async with _client(fake, retry_budget=budget) as client:
        with respx.mock(base_url=BASE_URL) as mock:
            route = mock.post("/send").mock(return_value=httpx.Response(503))
            errors: list[HTTPStatusError] = []

            async def one() -> None:
                try:
                    await client.call(send_request())
                except HTTPStatusError as error:
                    errors.append(error)

            async with anyio.create_task_group() as tg:
                for _ in range(calls):
                    tg.start_soon(one)
            # Every call failed; only capacity / cost = 4 retries were allowed in all.
            assert len(errors) == calls
            assert route.call_count == calls + 20 // 5
            assert budget.available == 0
            assert sum(error.attempts for error in errors) == calls + 4

            # The provider recovers: each success gives one token back.
            route.mock(return_value=OK)
            for _ in range(5):
                await client.call(send_request())
            assert budget.available == 5

            # Enough for exactly one retry again.
            route.mock(side_effect=[httpx.Response(503), OK])
            before = route.call_count
            response = await client.call(send_request())
            assert response.attempts == 2
            assert route.call_count == before + 2
            assert budget.available == 1  # 5 spent on the retry, 1 back for the success


async def test_a_timeout_retry_costs_more() -> None:
    fake = FakeTime()
    budget = RetryBudget(capacity=15, retry_cost=5, timeout_retry_cost=10)
    async with _client(fake, retry_budget=budget) as client:
        with respx.mock(base_url=BASE_URL) as mock:
            route = mock.get("/status").mock(side_effect=httpx.ReadTimeout("slow"))
            with pytest.raises(RequestTimeoutError):
                await client.call(read_request())
    assert route.call_count == 2  # one retry for 10 tokens; 5 left is too few for another
    assert budget.available == 5


class _Recorder:
    """A Sender that answers from a list and records what it was asked."""

    def __init__(self, answers: list[int]) -> None:
        self.answers = answers
        self.requests: list[httpx.Request] = []

    async def send(self, request: httpx.Request, *, max_body: int, state: AttemptState) -> Received:
        state.started = True
        self.requests.append(request)
        return Received(self.answers.pop(0), httpx.Headers(), b"{}")

    async def aclose(self) -> None:
        pass


async def test_transport_per_call_policy_overrides_the_default() -> None:
    fake = FakeTime()
    sender = _Recorder([503, 503, 503])
    transport = Transport(
        provider="demo",
        base_url=BASE_URL,
        signer=NoSigning(),
        sender=sender,
        runtime=fake.runtime,
        policy=RetryPolicy(max_attempts=3, jitter=0.0),
    )
    with pytest.raises(HTTPStatusError):
        await transport.request(send_request(), policy=RetryPolicy.no_retries())
    assert len(sender.requests) == 1
    # The body was sent as signed: form-encoded fields.
    assert sender.requests[0].content == b"to=13800138000&text=hello"
    assert isinstance(transport.sender, _Recorder)
    assert not isinstance(transport.sender, TransportSender)
