"""The app key never shows in reprs, error messages or log records."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable

import httpx
import pytest
import respx

from crowdsms.errors import CrowdSMSError
from crowdsms.outcomes import Recipient
from crowdsms.providers.submail import AsyncSubmail

BASE = "https://api-v4.mysubmail.com"
APP_KEY = "TopSecretAppKey0123456789abcdef"
CONTENT = "【SUBMAIL】@var(name)"


@pytest.mark.parametrize("sign_type", ["md5", "sha1", "normal"])
@pytest.mark.asyncio
async def test_app_key_never_leaks(
    make_client: Callable[..., AsyncSubmail],
    caplog: pytest.LogCaptureFixture,
    sign_type: str,
) -> None:
    seen: list[str] = []
    errors: list[CrowdSMSError] = []
    recipients = [Recipient("13800138000", {"name": "a"})]
    async with make_client(sign_type=sign_type) as client:
        seen += [repr(client), str(client), repr(client.sms), repr(client.service)]
        with respx.mock(base_url=BASE) as mock:
            route = mock.post("/sms/multisend.json")
            route.side_effect = [
                # a clock rejection, re-measured and retried
                httpx.Response(200, json={"status": "error", "code": 151, "msg": "t"}),
                httpx.Response(200, json=[{"status": "success", "send_id": "a", "fee": 1}]),
                # request-level errors
                httpx.Response(200, json={"status": "error", "code": 108, "msg": "bad sig"}),
                httpx.Response(200, json={"status": "error", "code": 109, "msg": "bad key"}),
                # malformed answers and server failures
                httpx.Response(200, content=b"<html>oops</html>"),
                httpx.Response(200, json=[{"status": "success"}]),
                httpx.Response(500, text="boom"),
                httpx.ReadTimeout("slow"),
            ]
            mock.get("/service/timestamp.json").respond(json={"timestamp": 1_700_000_000})
            result = await client.sms.multisend(content=CONTENT, recipients=recipients)
            seen += [repr(result), str(result), repr(result.outcomes)]
            for _ in range(6):
                try:
                    await client.sms.multisend(content=CONTENT, recipients=recipients)
                except CrowdSMSError as error:
                    errors.append(error)
        # the key does go on the wire (that is how SUBMAIL authenticates "normal")
        sent = b"".join(call.request.content for call in route.calls)
        assert (APP_KEY.encode() in sent) is (sign_type == "normal")
        for call in route.calls:
            assert APP_KEY not in str(call.request.url)
    assert len(errors) == 6
    for failure in errors:
        seen += [str(failure), repr(failure), repr(failure.args)]
        cause = failure.__cause__
        while cause is not None:
            seen.append(str(cause))
            cause = cause.__cause__
    assert caplog.records  # the transport did log at DEBUG
    seen += [record.getMessage() for record in caplog.records]
    seen.append(caplog.text)
    leaks = [text for text in seen if APP_KEY in text]
    assert leaks == []


def test_config_errors_do_not_echo_the_key(
    make_client: Callable[..., AsyncSubmail], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(CrowdSMSError) as info:
        make_client(app_key=APP_KEY + " ")
    assert APP_KEY not in str(info.value)
    assert APP_KEY not in caplog.text


@pytest.mark.parametrize("status", [403, 502])
@pytest.mark.asyncio
async def test_a_page_quoting_the_request_does_not_show_the_key_of_a_normal_signature(
    make_client: Callable[..., AsyncSubmail], status: int
) -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        # a gateway's or WAF's page that quotes the request it refused (the key is the
        # signature with sign_type="normal")
        return httpx.Response(status, text=f"Request refused: {request.content.decode()}")

    async with make_client(sign_type="normal") as client:
        with respx.mock(base_url=BASE) as mock:
            mock.post("/sms/send.json").mock(side_effect=echo)
            with pytest.raises(CrowdSMSError) as caught:
                await client.sms.send(to="13800138000", content="【SUBMAIL】您好")
    logged = "".join(traceback.format_exception(caught.value))
    assert "Request refused" in logged
    assert APP_KEY not in logged
