"""CrowdTask over HTTP: HMAC-MD5 of path&localtime, the 5-minute window, CVS uploads."""

from __future__ import annotations

import time

import httpx
import pytest

from crowdsms.sandbox import Sandbox
from crowdsms.sandbox.emulators.crowdtask import CROWDTASK_ACCESS_ID, CROWDTASK_SECRET

from . import signing

PATH = "/crowdtask/api/task/batch"


def credentials(action_uri: str = "/api/task/batch", *, secret: str = CROWDTASK_SECRET):
    localtime = str(int(time.time() * 1000))
    return {
        "accessid": CROWDTASK_ACCESS_ID,
        "localtime": localtime,
        "signature": signing.crowdtask(action_uri, localtime, secret),
    }


def upload(text: str) -> dict[str, tuple[str, bytes, str]]:
    return {"inputCVS": ("tasks.cvs", text.encode(), "text/plain")}


async def batch(client: httpx.AsyncClient, text: str, path: str = PATH, **fields: str):
    data = {**credentials(), "projectid": "12", **fields}
    return await client.post(path, data=data, files=upload(text))


@pytest.mark.asyncio
async def test_wrong_signature_is_401_with_a_reason(sandbox: Sandbox, client: httpx.AsyncClient):
    data = {**credentials(secret="wrong"), "projectid": "12"}
    response = await client.post(PATH, data=data, files=upload("name\nlucy\n"))
    assert response.status_code == 401
    body = response.json()
    assert body["status"] == "error"
    assert "signature" in body["reason"]
    assert "localtime" not in body["reason"]  # only time problems name the time field
    stranger = {**credentials(), "accessid": "nobody", "projectid": "12"}
    response = await client.post(PATH, data=stranger, files=upload("name\nlucy\n"))
    assert (response.status_code, response.json()["status"]) == (401, "error")
    assert len(sandbox.ledger) == 0


@pytest.mark.asyncio
async def test_success_shape_and_ledger(sandbox: Sandbox, client: httpx.AsyncClient):
    cvs = 'name note\nlucy "say \\"hi\\" twice"\n"li lei" plain\n'
    response = await batch(client, cvs)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success"
    result = body["result"]
    assert result["tasknum"] == 2
    assert len(result["taskids"]) == 2
    assert isinstance(result["batchSN"], str)
    entries = sandbox.ledger.entries(provider="crowdtask")
    assert [dict(entry.vars) for entry in entries] == [
        {"name": "lucy", "note": 'say "hi" twice'},
        {"name": "li lei", "note": "plain"},
    ]
    assert [int(entry.message_id) for entry in entries] == result["taskids"]
    assert {entry.request_id for entry in entries} == {result["batchSN"]}


@pytest.mark.asyncio
async def test_five_minute_window(sandbox: Sandbox, client: httpx.AsyncClient):
    sandbox.set_clock_offset(400)
    late = await batch(client, "name\nlucy\n")
    assert late.status_code == 401
    assert "localtime" in late.json()["reason"]
    sandbox.set_clock_offset(-400)
    assert (await batch(client, "name\nlucy\n")).status_code == 401
    sandbox.set_clock_offset(200)
    assert (await batch(client, "name\nlucy\n")).status_code == 200
    assert len(sandbox.ledger) == 1


@pytest.mark.asyncio
async def test_credentials_as_headers_and_the_older_path(client: httpx.AsyncClient):
    headers = credentials("/task/batch")
    response = await client.post(
        "/crowdtask/task/batch", headers=headers, data={"projectid": "3"}, files=upload("a\n1\n")
    )
    assert response.status_code == 200
    # The full path as sent (with the sandbox's prefix) is accepted as action_uri too.
    full = {**credentials("/crowdtask/api/task/batch"), "projectid": "3"}
    assert (await client.post(PATH, data=full, files=upload("a\n1\n"))).status_code == 200


@pytest.mark.asyncio
async def test_rows_past_100_are_dropped_silently(sandbox: Sandbox, client: httpx.AsyncClient):
    cvs = "n\n" + "".join(f"{row}\n" for row in range(101))
    response = await batch(client, cvs)
    assert response.status_code == 200
    assert response.json()["result"]["tasknum"] == 100
    assert [entry.vars["n"] for entry in sandbox.ledger.entries()] == [str(i) for i in range(100)]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("cvs", "fields"),
    [
        ("a b\n1\n", {}),
        ("a\n", {}),
        ('a\n"open\n', {}),
        ("a\n1\n", {"projectid": "x"}),
    ],
)
async def test_bad_uploads_are_400(
    sandbox: Sandbox, client: httpx.AsyncClient, cvs: str, fields: dict[str, str]
):
    response = await batch(client, cvs, **fields)
    assert response.status_code == 400
    assert response.json()["status"] == "error"
    assert len(sandbox.ledger) == 0


@pytest.mark.asyncio
async def test_missing_file_is_400(client: httpx.AsyncClient):
    response = await client.post(PATH, data={**credentials(), "projectid": "1"})
    assert response.status_code == 400
