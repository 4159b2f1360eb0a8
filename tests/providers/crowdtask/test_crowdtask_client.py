"""AsyncCrowdTask's settings and their validation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from crowdsms._secret import Secret
from crowdsms.errors import ConfigurationError
from crowdsms.providers.crowdtask import AsyncCrowdTask


@pytest.mark.asyncio
async def test_defaults(make_client: Callable[..., AsyncCrowdTask], access_id: str) -> None:
    async with make_client() as client:
        assert client.base_url == "https://api.crowdtask.cn"
        assert client.batch_path == "/task/batch"
        assert client.localtime_unit == "unix_ms"
        assert client.auth_location == "fields"
        assert client.max_rows_per_batch == 100
        assert client.access_id == access_id
        assert repr(client) == "<AsyncCrowdTask base_url='https://api.crowdtask.cn' http='httpx'>"


@pytest.mark.asyncio
async def test_a_secret_object_is_accepted(
    make_client: Callable[..., AsyncCrowdTask], secret: str
) -> None:
    settings = {"access_secret_key": Secret(secret), "base_url": "http://127.0.0.1:8000"}
    async with make_client(**settings) as client:
        assert client.base_url == "http://127.0.0.1:8000"
        assert secret not in repr(vars(client))


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"access_id": ""}, "access_id"),
        ({"access_id": " ak"}, "access_id"),
        ({"access_id": "ak\n"}, "access_id"),
        ({"access_id": 12}, "access_id"),
        ({"access_secret_key": ""}, "access_secret_key is empty"),
        ({"access_secret_key": Secret("")}, "access_secret_key is empty"),
        ({"access_secret_key": b"bytes"}, "str or a crowdsms Secret"),
        ({"localtime_unit": "unix_us"}, "localtime_unit"),
        ({"auth_location": "query"}, "auth_location"),
        ({"batch_path": "task/batch"}, "batch_path"),
        ({"batch_path": "/task/batch?x=1"}, "batch_path"),
        ({"batch_path": "/task batch"}, "batch_path"),
        ({"max_rows_per_batch": 0}, "max_rows_per_batch"),
        ({"max_rows_per_batch": True}, "max_rows_per_batch"),
        ({"max_rows_per_batch": 10.0}, "max_rows_per_batch"),
        ({"base_url": "http://api.crowdtask.cn"}, "plain http"),
        ({"base_url": "api.crowdtask.cn"}, "base_url"),
    ],
)
def test_bad_settings_are_refused(
    make_client: Callable[..., AsyncCrowdTask], overrides: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        make_client(**overrides)
    assert fragment in str(caught.value)


def test_a_bad_secret_is_not_echoed(make_client: Callable[..., AsyncCrowdTask]) -> None:
    with pytest.raises(ConfigurationError) as caught:
        make_client(access_secret_key=["my-secret-value"])
    assert "my-secret-value" not in str(caught.value)
