"""Single sends under per-number limits, against the sandbox over real HTTP.

The sandbox's ledger says what was really sent; the limiter's clock is injected.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio.lowlevel
import pytest
import pytest_asyncio

from crowdsms import AsyncSubmail, DeliveryCertainty, Recipient, RetryPolicy, Runtime, Submail
from crowdsms.batch import NUMBER_LIMITED
from crowdsms.errors import ConnectionFailedError, HTTPStatusError, InvalidInputError
from crowdsms.limits import (
    NumberLimitedError,
    NumberLimiter,
    NumberLimits,
    limited,
    limited_blocking,
)
from crowdsms.sandbox import FaultKind, Sandbox, serve, serve_in_thread
from crowdsms.sandbox.emulators.submail import SUBMAIL_APPID, SUBMAIL_APPKEY

PHONE = "13800138000"
CONTENT = "【沙箱】您的验证码是 123456"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def no_sleep(seconds: float) -> None:
    await anyio.lowlevel.checkpoint()


@pytest_asyncio.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with serve() as served:
        yield served


def client(sandbox: Sandbox, **options: object) -> AsyncSubmail:
    return AsyncSubmail(
        app_id=SUBMAIL_APPID,
        app_key=SUBMAIL_APPKEY,
        base_url=sandbox.base_url("submail"),
        runtime=Runtime(sleep=no_sleep),
        **options,  # type: ignore[arg-type]
    )


def sent(sandbox: Sandbox) -> list[str | None]:
    return sandbox.ledger.phones(provider="submail")


@pytest.mark.asyncio
async def test_a_bot_driving_one_number_gets_one_code_a_minute(sandbox: Sandbox) -> None:
    clock = Clock()
    limiter = NumberLimiter(NumberLimits(), clock=clock)
    refused: list[NumberLimitedError] = []
    async with client(sandbox) as submail:
        for second in range(0, 120, 5):  # a bot asking for a code every 5 seconds
            clock.now = 100.0 + second
            try:
                async with limited(limiter, PHONE):
                    await submail.sms.send(to="+86 138 0013 8000", content=CONTENT)
            except NumberLimitedError as error:
                refused.append(error)
        async with limited(limiter, "13900139000"):  # another number is not held back
            await submail.sms.send(to="13900139000", content=CONTENT)
    assert sent(sandbox) == [PHONE, PHONE, "13900139000"]  # at 0 s and 60 s
    assert len(refused) == 22
    assert refused[0].window == "1 per minute"
    assert refused[0].retry_after == pytest.approx(55.0)
    assert "138****8000" in str(refused[0])


@pytest.mark.asyncio
async def test_the_acquire_then_send_pattern(sandbox: Sandbox) -> None:
    limiter = NumberLimiter(NumberLimits.of([(1, 60)]), clock=Clock())
    async with client(sandbox) as submail:
        await limiter.acquire(PHONE)
        await submail.sms.send(to=PHONE, content=CONTENT)
        with pytest.raises(NumberLimitedError):
            await limiter.acquire(PHONE)
    assert sent(sandbox) == [PHONE]


@pytest.mark.asyncio
async def test_a_send_provably_not_sent_gives_its_permit_back(sandbox: Sandbox) -> None:
    limiter = NumberLimiter(NumberLimits.of([(1, 60)]), clock=Clock())
    sandbox.force_fault(FaultKind.REJECT, provider="submail", path="sms/send")
    async with client(sandbox, retry_policy=RetryPolicy.no_retries()) as submail:
        with pytest.raises(HTTPStatusError) as caught:
            async with limited(limiter, PHONE):
                await submail.sms.send(to=PHONE, content=CONTENT)
        assert caught.value.certainty is DeliveryCertainty.NOT_SENT
        assert sent(sandbox) == []
        with pytest.raises(InvalidInputError):  # refused before any request
            async with limited(limiter, PHONE):
                await submail.sms.send(to=PHONE, content="no signature")
        async with limited(limiter, PHONE):  # the same minute: the permit came back
            await submail.sms.send(to=PHONE, content=CONTENT)
    assert sent(sandbox) == [PHONE]


@pytest.mark.asyncio
async def test_a_send_that_may_have_gone_keeps_its_permit(sandbox: Sandbox) -> None:
    limiter = NumberLimiter(NumberLimits.of([(1, 60)]), clock=Clock())
    sandbox.force_fault(FaultKind.DROP_AFTER, provider="submail", path="sms/send")
    async with client(sandbox) as submail:
        with pytest.raises(ConnectionFailedError) as caught:
            async with limited(limiter, PHONE):
                await submail.sms.send(to=PHONE, content=CONTENT)
        assert caught.value.certainty is DeliveryCertainty.UNKNOWN
        with pytest.raises(NumberLimitedError):
            async with limited(limiter, PHONE):
                await submail.sms.send(to=PHONE, content=CONTENT)
    assert sent(sandbox) == [PHONE]  # it had been sent: keeping the permit was right


def test_blocking_clients_share_an_in_process_limiter() -> None:
    limiter = NumberLimiter(NumberLimits.of([(1, 60)]), clock=Clock())
    with (
        serve_in_thread() as sandbox,
        Submail(
            app_id=SUBMAIL_APPID, app_key=SUBMAIL_APPKEY, base_url=sandbox.base_url("submail")
        ) as submail,
    ):
        with limited_blocking(limiter, PHONE):
            submail.sms.send(to=PHONE, content=CONTENT)
        with pytest.raises(NumberLimitedError), limited_blocking(limiter, PHONE):
            submail.sms.send(to=PHONE, content=CONTENT)
        report = submail.send_batch(  # the batch sender on the blocking client's loop
            submail.sms.multisend_chunks(content="【沙箱】@var(name)"),
            [Recipient(PHONE, {"name": "a"}), Recipient("13900139000", {"name": "b"})],
            number_limiter=limiter,
        )
        phones = sandbox.ledger.phones(provider="submail")
    assert phones == [PHONE, "13900139000"]
    assert report.by_code[NUMBER_LIMITED] == 1
    assert report.sent == 1
