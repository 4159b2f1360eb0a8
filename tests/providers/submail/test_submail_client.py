"""Setting up AsyncSubmail: credential checks, settings, repr."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from crowdsms._secret import Secret
from crowdsms.errors import ConfigurationError
from crowdsms.providers.submail import AsyncSubmail

APP_KEY = "TopSecretAppKey0123456789abcdef"


@pytest.mark.parametrize(
    ("overrides", "setting"),
    [
        ({"app_id": ""}, "app_id"),
        ({"app_id": "   "}, "app_id"),
        ({"app_id": "100 00"}, "app_id"),
        ({"app_id": "10000\n"}, "app_id"),
        ({"app_id": 10000}, "app_id"),
        ({"app_key": ""}, "app_key"),
        ({"app_key": Secret("")}, "app_key"),
        ({"app_key": "   "}, "app_key"),
        ({"app_key": None}, "app_key"),
        ({"sign_type": "sha256"}, "sign_type"),
        ({"sign_type": "MD5"}, "sign_type"),
        ({"max_multisend_recipients": 0}, "max_multisend_recipients"),
        ({"max_multisend_recipients": True}, "max_multisend_recipients"),
        ({"max_multisend_recipients": 2.5}, "max_multisend_recipients"),
    ],
)
def test_bad_settings_are_refused_by_name(
    make_client: Callable[..., AsyncSubmail], overrides: dict[str, Any], setting: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        make_client(**overrides)
    assert str(info.value).startswith(setting)
    assert APP_KEY not in str(info.value)


@pytest.mark.parametrize(
    "bad_key",
    [
        " " + APP_KEY,
        APP_KEY + "\n",
        APP_KEY[:10] + " " + APP_KEY[10:],
        APP_KEY + "密",
    ],
)
def test_malformed_key_is_refused_without_echoing_it(
    make_client: Callable[..., AsyncSubmail], bad_key: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        make_client(app_key=bad_key)
    message = str(info.value)
    assert message.startswith("app_key is malformed")
    assert APP_KEY[:10] not in message
    assert APP_KEY[10:] not in message
    assert repr(bad_key) not in message


@pytest.mark.parametrize("removed", ["response_format", "body_encoding"])
def test_answer_format_and_body_encoding_are_not_settings(
    make_client: Callable[..., AsyncSubmail], removed: str
) -> None:
    # Requests are always JSON and answers always JSON: the caller gets the same values
    # either way, so there is nothing to choose.
    with pytest.raises(ConfigurationError) as info:
        make_client(**{removed: "json"})
    assert str(info.value).startswith(f"AsyncSubmail has no option {removed!r}")


@pytest.mark.asyncio
async def test_repr_shows_the_app_id_not_the_key(make_client: Callable[..., AsyncSubmail]) -> None:
    async with make_client(app_key=Secret(APP_KEY), sign_type="sha1") as client:
        text = repr(client)
        assert APP_KEY not in text
        assert "app_id='10000'" in text
        assert "sign_type='sha1'" in text
        assert "https://api-v4.mysubmail.com" in text
        assert client.app_id == "10000"
        for value in vars(client).values():
            assert APP_KEY not in repr(value)
        assert APP_KEY not in repr(client.sms)
        assert APP_KEY not in repr(client.service)


@pytest.mark.asyncio
async def test_regional_base_url(make_client: Callable[..., AsyncSubmail]) -> None:
    async with make_client(base_url="https://hk-api.mysubmail.com/") as client:
        assert client.base_url == "https://hk-api.mysubmail.com"


def test_plain_http_base_url_is_refused(make_client: Callable[..., AsyncSubmail]) -> None:
    with pytest.raises(ConfigurationError, match="plain http"):
        make_client(base_url="http://api-v4.mysubmail.com")


@pytest.mark.asyncio
async def test_defaults() -> None:
    async with AsyncSubmail(app_id="12345", app_key=APP_KEY) as client:
        assert client.base_url == "https://api-v4.mysubmail.com"
        chunks = client.sms.multisend_chunks(content="【SUBMAIL】hello")
        assert chunks.max_chunk_size == 50
        assert chunks.supports_idempotency_key is False
        assert chunks.max_connections == client.max_connections == 16
