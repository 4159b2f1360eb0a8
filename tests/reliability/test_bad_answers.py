"""Issue 10: answers that are not what the provider documents.

A proxy's HTML error page, an empty body, truncated JSON, the wrong types, invalid UTF-8,
XML where JSON was expected and a body larger than the client's ``max_response_bytes``:
each provider's main send turns each into a typed :class:`ResponseParseError` whose
message quotes what came back, with certainty ``UNKNOWN`` (the request reached the
provider, so it may have been processed) and no retry of the send.

And a batch carries on: when a few chunks get such answers (served by a transport that
stands in front of the real sandbox), their recipients are ``unknown`` and every other
recipient is ``sent``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import attrs
import httpx
import pytest

from crowdsms.batch import BatchOutcome, BatchSender
from crowdsms.errors import DeliveryCertainty, ResponseParseError
from crowdsms.outcomes import OutcomeStatus, Recipient
from crowdsms.providers.crowdtask import AsyncCrowdTask
from crowdsms.providers.sendcloud import AsyncSendCloud
from crowdsms.providers.submail import AsyncSubmail
from crowdsms.sandbox import Sandbox, serve

from ._support import (
    PROVIDERS,
    Client,
    assert_one_outcome_each,
    batch_recipients,
    chunk_sender,
    make_client,
    phone,
)

MAX_RESPONSE_BYTES = 4096


@attrs.frozen
class BadAnswer:
    """A body (and content type) a provider should never send, and what its error quotes."""

    body: bytes
    content_type: str
    quoted: str  # a piece of the body (or of its description) the error message shows


def wrong_types(provider: str) -> bytes:
    """A JSON answer in the provider's envelope, with fields of the wrong types."""
    value: Any = {
        "submail": [{"status": ["success"], "to": 13800138000, "send_id": {}, "fee": "one"}],
        "sendcloud": {"result": "maybe", "statusCode": "two hundred", "info": ["sent"]},
        "crowdtask": {"status": "success", "result": {"tasknum": "many", "taskids": "x"}},
        "paasw": {"code": ["10000"], "message": 7, "bizId": {"id": "zzz"}},
    }[provider]
    return json.dumps(value).encode()


def bad_answers(provider: str) -> dict[str, BadAnswer]:
    return {
        "html_error_page": BadAnswer(
            b"<html><head><title>502 Bad Gateway</title></head><body><center>"
            b"<h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>",
            "text/html",
            "502 Bad Gateway",
        ),
        "empty_body": BadAnswer(b"", "application/json", "<empty body>"),
        "truncated_json": BadAnswer(
            b'{"status":"success","result":{"tasknum":1,"batchSN":"trunc'
            if provider == "crowdtask"
            else b'[{"status":"success","to":"13800138000","send_id":"trunc'
            if provider == "submail"
            else b'{"result":true,"statusCode":200,"info":{"trunc',
            "application/json",
            "trunc",
        ),
        "wrong_types": BadAnswer(
            wrong_types(provider),
            "application/json",
            "13800138000" if provider == "submail" else wrong_types(provider)[:12].decode(),
        ),
        "invalid_utf8": BadAnswer(
            b'{"status":"success","message":"\xff\xfe\xfa bad bytes"}',
            "application/json",
            "bad bytes",
        ),
        "xml_not_json": BadAnswer(
            b'<?xml version="1.0" encoding="UTF-8"?><response><status>success</status></response>',
            "application/xml",
            "<?xml",
        ),
        "huge_body": BadAnswer(
            b'{"status":"success","padding":"' + b"x" * 20_000 + b'"}',
            "application/json",
            str(MAX_RESPONSE_BYTES),
        ),
    }


KINDS = tuple(bad_answers("submail"))


def client_for(provider: str, base_url: str, transport: httpx.AsyncBaseTransport) -> Client:
    return make_client(
        provider, base_url, transport=transport, max_response_bytes=MAX_RESPONSE_BYTES
    )


async def main_send(provider: str, client: Client) -> object:
    """Each provider's main send, to one recipient."""
    if isinstance(client, AsyncSubmail):
        return await client.sms.multisend(
            content="【测试】@var(name)，您好", recipients=[Recipient(phone(1), {"name": "a"})]
        )
    if isinstance(client, AsyncSendCloud):
        return await client.sms.sendn(
            template_id=1, recipients=[Recipient(phone(1), {"code": "123456"})]
        )
    if isinstance(client, AsyncCrowdTask):
        return await client.tasks.batch(project_id=7, rows=[{"img": "a.jpg"}])
    return await client.sms.send(phones=[phone(1)], sign="测试", content="【测试】您好")


def is_paasw_token_request(request: httpx.Request) -> bool:
    return request.url.path.endswith("/api/token")


PAASW_TOKEN = httpx.Response(
    200, json={"code": "10000", "message": "ok", "token": "t0k3n+/=", "expires_in": 7200}
)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.asyncio
async def test_bad_answer_to_the_main_send_is_a_typed_error(provider: str, kind: str) -> None:
    bad = bad_answers(provider)[kind]
    sends: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if is_paasw_token_request(request):
            return PAASW_TOKEN
        sends.append(request)
        return httpx.Response(200, content=bad.body, headers={"content-type": bad.content_type})

    transport = httpx.MockTransport(handler)
    async with client_for(provider, "https://provider.example", transport) as client:
        with pytest.raises(ResponseParseError) as caught:
            await main_send(provider, client)
    error = caught.value
    assert error.certainty is DeliveryCertainty.UNKNOWN
    assert bad.quoted in str(error), str(error)
    assert "Received:" in str(error)
    assert len(sends) == 1  # a send that may have been processed is not repeated
    assert error.attempts == 1


# -- a batch in front of the sandbox, with a few chunks getting bad answers ----------------

CHUNK = 10
COUNT = 10 * CHUNK
BAD_CHUNK_INDEXES = (2, 7)  # which chunks, by their first recipient, get bad answers


def bad_chunk_markers(provider: str) -> list[bytes]:
    """Bytes that appear in a chunk's request body only if it is one of the bad chunks."""
    index_of = {2: CHUNK * BAD_CHUNK_INDEXES[0], 7: CHUNK * BAD_CHUNK_INDEXES[1]}
    if provider == "crowdtask":
        return [f"{index}.jpg".encode() for index in index_of.values()]
    return [phone(index).encode() for index in index_of.values()]


def forwarding_handler(
    sandbox_client: httpx.AsyncClient, markers: Sequence[bytes], bad: BadAnswer
) -> Callable[[httpx.Request], Coroutine[None, None, httpx.Response]]:
    async def handler(request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        if any(marker in body for marker in markers):
            return httpx.Response(200, content=bad.body, headers={"content-type": bad.content_type})
        forwarded = await sandbox_client.send(
            sandbox_client.build_request(
                request.method, request.url, headers=request.headers, content=body
            )
        )
        return httpx.Response(
            forwarded.status_code, headers=forwarded.headers, content=forwarded.content
        )

    return handler


def ledger_keys(sandbox: Sandbox, provider: str) -> list[str]:
    """The recipients the sandbox sent to (CrowdTask: the task rows' images)."""
    entries = sandbox.ledger.entries(provider=provider)
    if provider == "crowdtask":
        return [entry.vars["img"] for entry in entries]
    return [entry.phone or "" for entry in entries]


@pytest.mark.parametrize("kind", ["html_error_page", "truncated_json", "huge_body"])
@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.asyncio
async def test_batch_carries_on_past_chunks_with_bad_answers(provider: str, kind: str) -> None:
    bad = bad_answers(provider)[kind]
    async with serve() as sandbox, httpx.AsyncClient(timeout=10.0) as sandbox_client:
        handler = forwarding_handler(sandbox_client, bad_chunk_markers(provider), bad)
        transport = httpx.MockTransport(handler)
        async with client_for(provider, sandbox.base_url(provider), transport) as client:
            sender = BatchSender(chunk_sender(client), chunk_size=CHUNK, concurrency=4)
            outcomes: list[BatchOutcome] = []
            items = batch_recipients(provider, COUNT)
            await sender.send(items, sink=outcomes.append)
        sent_to = ledger_keys(sandbox, provider)

    assert_one_outcome_each(outcomes, [item.phone for item in items])
    bad_positions = {
        position
        for index in BAD_CHUNK_INDEXES
        for position in range(index * CHUNK, (index + 1) * CHUNK)
    }
    for outcome in outcomes:
        if outcome.position in bad_positions:
            assert outcome.status is OutcomeStatus.UNKNOWN
            assert outcome.outcome.code == "ResponseParseError"
            assert bad.quoted in (outcome.outcome.message or "")
        else:
            assert outcome.status is OutcomeStatus.SENT, outcome
    expected = [
        f"{i}.jpg" if provider == "crowdtask" else phone(i)
        for i in range(COUNT)
        if i not in bad_positions
    ]
    assert sorted(sent_to) == sorted(expected)
