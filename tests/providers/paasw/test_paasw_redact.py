"""Masking keeps ordinary words whole: a secret is masked only where it stands as a value."""

from __future__ import annotations

import json
import urllib.parse

import httpx
import pytest
import respx

from crowdsms._transport import ApiResponse, RetryBudget, Runtime
from crowdsms.errors import ProviderError
from crowdsms.providers.paasw import AsyncPaasw
from crowdsms.providers.paasw._redact import MASK, Redactor

from .conftest import APP_ID, BASE_URL, PHONE_1, SECRET, TOKEN, answer, token_answer

SEND = {"phones": [PHONE_1], "sign": "圆通快递", "content": "【圆通快递】您好"}
ENCODED_TOKEN = urllib.parse.quote(TOKEN, safe="")


def _response(body: str) -> ApiResponse:
    return ApiResponse(
        status_code=500, headers=httpx.Headers(), content=body.encode("utf-8"), operation="x"
    )


@pytest.mark.parametrize(
    "text",
    [
        "token invalid",
        "the token expired; fetch a new token",
        "bank keys kept in a kiosk",
        "k8s",
        "xk",
        '{"message": "token invalid", "key": "ok"}',
        "/api/token?appId=1&secret=key",
    ],
)
def test_a_short_secret_leaves_words_that_hold_it_alone(text: str) -> None:
    redactor = Redactor("k")
    assert redactor.text(text) == text
    assert not redactor.contains_secret(text.encode())
    response = _response(text)
    assert redactor.response(response) is response


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("k", MASK),
        ("/api/token?appId=1&secret=k", f"/api/token?appId=1&secret={MASK}"),
        ("/api/token?secret=k&appId=1", f"/api/token?secret={MASK}&appId=1"),
        ('{"appId": "1", "secret": "k"}', f'{{"appId": "1", "secret": "{MASK}"}}'),
        ("{'secret': 'k'}", f"{{'secret': '{MASK}'}}"),
        ("appId 1 secret k 不匹配", f"appId 1 secret {MASK} 不匹配"),
        ("密钥k不匹配", f"密钥{MASK}不匹配"),
        ("secret:k, token expired", f"secret:{MASK}, token expired"),
        ("(k)", f"({MASK})"),
        # A whole URL, URL-encoded once: %3D before the value is an encoded "=".
        (
            "next=%2Fapi%2Ftoken%3Fsecret%3Dk%26appId%3D1",
            f"next=%2Fapi%2Ftoken%3Fsecret%3D{MASK}%26appId%3D1",
        ),
        # JSON escapes before the value: a newline, and an "=" written as \u003d.
        ('"trace": "line 1\\nk at Gateway"', f'"trace": "line 1\\n{MASK} at Gateway"'),
        ('"url": "?secret\\u003dk\\u0026x=1"', f'"url": "?secret\\u003d{MASK}\\u0026x=1"'),
    ],
)
def test_a_short_secret_is_masked_where_it_stands_whole(text: str, masked: str) -> None:
    redactor = Redactor("k")
    assert redactor.text(text) == masked
    assert redactor.contains_secret(text.encode())
    assert redactor.response(_response(text)).content.decode() == masked


@pytest.mark.parametrize(
    "text",
    [
        f"GET /sms/balance?token={ENCODED_TOKEN}",
        f"GET /sms/balance?token={ENCODED_TOKEN}&x=1",
        f"token {TOKEN} expired",
        f"token: {TOKEN}",
        json.dumps({"echo": TOKEN}),  # the "/" written as "\/" by some encoders, below
        json.dumps({"echo": TOKEN}).replace("/", "\\/"),
        f"<p>{TOKEN}</p>",
        f"bad request: {SECRET}",
        f"secret={SECRET}&appId=0189457543",
        f'"secret":"{SECRET}"',
    ],
)
def test_real_secrets_and_tokens_are_still_masked_everywhere(text: str) -> None:
    redactor = Redactor(SECRET)
    redactor.add_token(TOKEN)
    masked = redactor.text(text)
    for value in (SECRET, TOKEN, ENCODED_TOKEN, TOKEN.replace("/", "\\/")):
        assert value not in masked
    assert MASK in masked
    assert redactor.contains_secret(text.encode())


def test_the_mask_keeps_the_word_token_around_a_masked_token() -> None:
    redactor = Redactor("k")
    redactor.add_token("t")
    text = "token t refused for secret k; token expired"
    assert redactor.text(text) == f"token {MASK} refused for secret {MASK}; token expired"


def test_the_token_field_of_a_token_answer_is_masked_but_its_name_kept() -> None:
    redactor = Redactor("k")
    body = json.dumps({"code": "10000", "token": "abc", "message": "token ok"})
    masked = redactor.token_answer(_response(body)).content.decode()
    assert json.loads(masked) == {"code": "10000", "token": MASK, "message": "token ok"}


def test_a_value_inside_a_longer_value_is_left_alone() -> None:
    # A different value that happens to contain the secret is not the secret.
    redactor = Redactor("abc123")
    assert redactor.text("id=xabc123y") == "id=xabc123y"
    assert redactor.text("id=abc123") == f"id={MASK}"


@pytest.mark.asyncio
async def test_a_client_with_a_one_letter_secret_keeps_the_gateways_words(
    runtime: Runtime,
) -> None:
    client = AsyncPaasw(
        app_id=APP_ID, secret="k", runtime=runtime, retry_budget=RetryBudget.unlimited()
    )
    async with client:
        with respx.mock(base_url=BASE_URL, assert_all_called=False) as mock:
            mock.get("/api/token").mock(return_value=token_answer())
            mock.post("/sms/send").mock(return_value=answer("30003", "token ok, bank key bad"))
            with pytest.raises(ProviderError) as caught:
                await client.sms.send(**SEND)
    assert caught.value.provider_message == "token ok, bank key bad"
    assert "to********en" not in str(caught.value)
    assert "'token ok, bank key bad'" in str(caught.value)
