"""Helpers for the SendCloud tests: constants, signature by hand, form parsing, answers."""

from __future__ import annotations

import hashlib
import json
import urllib.parse
from collections.abc import Mapping
from typing import Any

import httpx

BASE_URL = "https://api.sendcloud.net/smsapi"
SMS_USER = "crowd-user"
SMS_KEY = "sk-SENDCLOUD-never-leak-7f3a9c"
NOW = 1_700_000_000.0
NOW_MS = "1700000000000"


def expected_signature(
    fields: Mapping[str, str], *, key: str = SMS_KEY, sign_type: str = "md5"
) -> str:
    """The documented rule, written out independently of the code under test."""
    names = sorted(name for name in fields if name != "signature")
    text = key + "&" + "&".join(name + "=" + fields[name] for name in names) + "&" + key
    digest = hashlib.sha256 if sign_type == "sha256" else hashlib.md5
    return digest(text.encode("utf-8")).hexdigest()


def form(request: httpx.Request) -> dict[str, str]:
    """The form fields of a request, each present exactly once."""
    assert request.headers["content-type"].startswith("application/x-www-form-urlencoded")
    pairs = urllib.parse.parse_qsl(
        request.content.decode("ascii"), keep_blank_values=True, strict_parsing=True
    )
    fields = dict(pairs)
    assert len(fields) == len(pairs), f"a field is repeated: {pairs}"
    return fields


def envelope(
    code: int = 200,
    message: str = "请求成功",
    info: Any = None,
    *,
    result: bool | None = None,
) -> dict[str, Any]:
    """A SendCloud answer."""
    return {
        "result": (code in (200, 311)) if result is None else result,
        "statusCode": code,
        "message": message,
        "info": {} if info is None else info,
    }


def answer(
    code: int = 200, message: str = "请求成功", info: Any = None, **kwargs: Any
) -> httpx.Response:
    """An HTTP 200 response carrying a SendCloud answer."""
    body = json.dumps(envelope(code, message, info, **kwargs), ensure_ascii=False)
    return httpx.Response(200, content=body.encode(), headers={"content-type": "application/json"})


class Sleeps:
    """Records the delays the transport asks for, without waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.delays.append(seconds)
