"""client.timestamp.get: the provider's clock."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
import respx

from crowdsms.errors import ResponseParseError
from crowdsms.providers.sendcloud import AsyncSendCloud, ServerTime

from .sendcloud_support import NOW, answer


@pytest.mark.asyncio
async def test_get(client: AsyncSendCloud, api: respx.MockRouter) -> None:
    route = api.get("/timestamp/get").mock(
        return_value=answer(200, info={"timestamp": 1440138088539})
    )
    server_time = await client.timestamp.get()
    assert server_time == ServerTime(1440138088539)
    assert server_time.seconds == pytest.approx(1440138088.539)
    assert server_time.as_datetime() == dt.datetime(
        2015, 8, 21, 6, 21, 28, 539000, tzinfo=dt.timezone.utc
    )
    sent = route.calls.last.request
    assert sent.method == "GET"
    assert sent.url == "https://api.sendcloud.net/smsapi/timestamp/get"
    assert sent.content == b""


@pytest.mark.asyncio
async def test_measure_clock_uses_it(client: AsyncSendCloud, api: respx.MockRouter) -> None:
    api.get("/timestamp/get").mock(
        return_value=answer(200, info={"timestamp": int((NOW - 7.5) * 1000)})
    )
    assert await client.measure_clock() == pytest.approx(-7.5)


@pytest.mark.asyncio
async def test_get_is_retried(client: AsyncSendCloud, api: respx.MockRouter) -> None:
    route = api.get("/timestamp/get").mock(
        side_effect=[httpx.ReadTimeout("slow"), answer(200, info={"timestamp": 5})]
    )
    assert (await client.timestamp.get()).milliseconds == 5
    assert route.call_count == 2


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "content",
    [
        b'{"result":true,"statusCode":200,"message":"ok","info":{"timestamp":"later"}}',
        b'{"result":true,"statusCode":200,"message":"ok","info":{}}',
        b"<html>oops</html>",
        b'{"result":true,"statusCode":200,"info":{"timest',
    ],
)
async def test_malformed(client: AsyncSendCloud, api: respx.MockRouter, content: bytes) -> None:
    api.get("/timestamp/get").mock(return_value=httpx.Response(200, content=content))
    with pytest.raises(ResponseParseError) as caught:
        await client.timestamp.get()
    assert "Received: HTTP 200, body" in str(caught.value)
