"""The one SUBMAIL job every contender sends: recipients, signed requests, answer checks.

Every contender sends the same requests: ``POST {base}/sms/multisend.json`` with a
``content`` template using ``@var(name)`` and ``@var(code)``, a ``multi`` JSON array of 50
recipients, and ``appid``, ``sign_type=md5``, ``sign_version=2``, ``timestamp`` and the
``signature`` computed with crowdsms's own SUBMAIL signing function (the sandbox checks it
with its own implementation). The hand-written loops build the fields exactly as crowdsms
does, in JSON (``multi`` as a JSON string, as SUBMAIL documents it) or as a form.

Every answer is checked: a list of one success item per recipient. :func:`count_sent`
raises :class:`BenchmarkError` otherwise, so a misconfigured benchmark (a wrong signature,
an empty balance, a 404) stops the run instead of looking fast.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from typing import Any

from crowdsms.outcomes import Recipient
from crowdsms.providers.submail import SIGN_VERSION, compute_signature
from crowdsms.sandbox.emulators.submail import SUBMAIL_APPID, SUBMAIL_APPKEY

__all__ = [
    "API",
    "CHUNK",
    "CONTENT",
    "JSON_HEADERS",
    "PATH",
    "BenchmarkError",
    "ConnectionLostError",
    "chunked",
    "count_sent",
    "form_fields",
    "json_body",
    "make_recipients",
    "signed_fields",
    "unexpiring_form_fields",
]

API = "sms/multisend"
PATH = "sms/multisend.json"
CHUNK = 50
CONTENT = "【沙箱】@var(name)您好，您的验证码是@var(code)，10分钟内有效。"
JSON_HEADERS = {"content-type": "application/json; charset=utf-8", "accept": "application/json"}


class BenchmarkError(RuntimeError):
    """A run did not do what it claims to measure (wrong answers, missing messages)."""


class ConnectionLostError(BenchmarkError):
    """A run lost a connection on the way (not a wrong answer): it may be run again."""


def make_recipients(count: int, *, first: int = 0) -> list[Recipient]:
    """``count`` distinct, valid recipients (China Mobile numbers 138..., two variables)."""
    return [
        Recipient(
            f"138{number:08d}", {"name": f"客户{number % 1000}", "code": f"{number % 10000:04d}"}
        )
        for number in range(first, first + count)
    ]


def chunked(recipients: Sequence[Recipient], size: int = CHUNK) -> Iterator[Sequence[Recipient]]:
    """Consecutive slices of at most ``size`` recipients."""
    for start in range(0, len(recipients), size):
        yield recipients[start : start + size]


def _multi(chunk: Sequence[Recipient]) -> str:
    items = [
        {
            "to": recipient.phone,
            "vars": {"name": recipient.vars["name"], "code": recipient.vars["code"]},
        }
        for recipient in chunk
    ]
    return json.dumps(items, ensure_ascii=False, separators=(",", ":"))


def signed_fields(chunk: Sequence[Recipient], *, now: float) -> dict[str, str]:
    """The request's parameters, signed for the Unix time ``now`` as crowdsms signs them."""
    fields = {
        "content": CONTENT,
        "multi": _multi(chunk),
        "appid": SUBMAIL_APPID,
        "sign_type": "md5",
        "sign_version": SIGN_VERSION,
        "timestamp": str(math.floor(now)),
    }
    fields["signature"] = compute_signature(
        sign_type="md5", app_id=SUBMAIL_APPID, app_key=SUBMAIL_APPKEY, fields=fields, api=API
    )
    return fields


def json_body(chunk: Sequence[Recipient], *, now: float) -> bytes:
    """The JSON body of the request for ``chunk``."""
    fields = signed_fields(chunk, now=now)
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def form_fields(chunk: Sequence[Recipient], *, now: float) -> dict[str, str]:
    """The form fields of the request for ``chunk`` (the client URL-encodes them)."""
    return signed_fields(chunk, now=now)


def unexpiring_form_fields(chunk: Sequence[Recipient]) -> dict[str, str]:
    """The form fields with SUBMAIL's ``normal`` signature: the app key, no timestamp.

    For loop (a): its shared pool can hold a request back for seconds at concurrency 64 on
    a loaded machine, longer than the 6 s a timestamp stays valid, and SUBMAIL would refuse
    it. Leaving out the md5 signature saves (a) about 1% of its CPU per request.
    """
    return {
        "content": CONTENT,
        "multi": _multi(chunk),
        "appid": SUBMAIL_APPID,
        "signature": SUBMAIL_APPKEY,
    }


def count_sent(answer: Any, expected: int) -> int:
    """How many recipients a decoded answer says were sent; raise unless all ``expected``."""
    if not isinstance(answer, list) or len(answer) != expected:
        raise BenchmarkError(f"expected a list of {expected} results, got {str(answer)[:300]}")
    sent = sum(1 for item in answer if item.get("status") == "success")
    if sent != expected:
        failure = next(item for item in answer if item.get("status") != "success")
        raise BenchmarkError(f"the sandbox refused {expected - sent} of {expected}: {failure}")
    return sent
