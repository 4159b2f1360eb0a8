"""client.tasks.batch over HTTP (respx): the exact request, answers, errors, clock, secrets."""

from __future__ import annotations

import email.utils
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx

from crowdsms.errors import (
    AuthenticationError,
    ClockSkewError,
    CrowdSMSError,
    DeliveryCertainty,
    HTTPStatusError,
    InvalidInputError,
    ProviderError,
    ResponseParseError,
)
from crowdsms.providers.crowdtask import AsyncCrowdTask, TaskBatchResult

BASE = "https://api.crowdtask.cn"
ROWS = [
    {"img_url": "https://example.com/1.jpg", "label": "猫 cat"},
    {"img_url": "https://example.com/2.jpg", "label": 'say "hi"'},
]
# The CVS file ROWS must become, written by hand.
CVS = (
    'img_url label\nhttps://example.com/1.jpg "猫 cat"\nhttps://example.com/2.jpg "say \\"hi\\""\n'
).encode()
SUCCESS = {
    "status": "success",
    "result": {"tasknum": 2, "batchSN": "B20231114", "taskids": ["t-1", "t-2"]},
}


def hmac_md5(key: str, message: str) -> str:
    return hmac.new(key.encode("utf-8"), message.encode("utf-8"), hashlib.md5).hexdigest()


def answer(status: int = 200, body: Any = SUCCESS, **headers: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Response(status, content=content, headers=headers)


# --- the request ------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_exact_request_with_fields(
    client: AsyncCrowdTask, multipart: Callable[..., Any], secret: str, access_id: str
) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/task/batch").mock(return_value=answer())
        result = await client.tasks.batch(project_id=1024, rows=ROWS)
    assert result == TaskBatchResult(task_count=2, batch_sn="B20231114", task_ids=("t-1", "t-2"))
    assert route.call_count == 1
    request = route.calls[0].request
    assert request.method == "POST"
    assert str(request.url) == "https://api.crowdtask.cn/task/batch"
    body = multipart(request)
    # The wall clock is 1_700_000_000 s: localtime is in milliseconds.
    assert body.fields == {
        "projectid": "1024",
        "accessid": access_id,
        "localtime": "1700000000000",
        "signature": hmac_md5(secret, "/task/batch&1700000000000"),
    }
    assert body.files == {"inputCVS": ("tasks.cvs", "text/plain; charset=utf-8", CVS)}
    assert body.order[-1] == "inputCVS"
    for name in ("accessid", "localtime", "signature"):
        assert name not in request.headers
    assert secret.encode() not in request.read()
    assert secret not in str(request.headers)


@pytest.mark.asyncio
async def test_exact_request_with_headers_and_the_later_path(
    make_client: Callable[..., AsyncCrowdTask],
    multipart: Callable[..., Any],
    secret: str,
    access_id: str,
) -> None:
    async with make_client(
        auth_location="headers", batch_path="/api/task/batch", localtime_unit="unix_s"
    ) as client:
        with respx.mock(base_url=BASE) as mock:
            route = mock.post("/api/task/batch").mock(return_value=answer())
            await client.tasks.batch(project_id=7, rows=ROWS)
    request = route.calls[0].request
    assert request.headers["accessid"] == access_id
    assert request.headers["localtime"] == "1700000000"
    assert request.headers["signature"] == hmac_md5(secret, "/api/task/batch&1700000000")
    body = multipart(request)
    assert body.fields == {"projectid": "7"}
    assert body.files["inputCVS"][2] == CVS


@pytest.mark.asyncio
async def test_the_base_url_path_is_signed_too(
    make_client: Callable[..., AsyncCrowdTask], multipart: Callable[..., Any], secret: str
) -> None:
    async with make_client(base_url="https://gateway.example.com/crowd/") as client:
        with respx.mock(base_url="https://gateway.example.com") as mock:
            route = mock.post("/crowd/task/batch").mock(return_value=answer())
            await client.tasks.batch(project_id=7, rows=ROWS)
    fields = multipart(route.calls[0].request).fields
    assert fields["signature"] == hmac_md5(secret, "/crowd/task/batch&1700000000000")


@pytest.mark.asyncio
async def test_explicit_columns_set_the_order(
    client: AsyncCrowdTask, multipart: Callable[..., Any]
) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/task/batch").mock(return_value=answer())
        await client.tasks.batch(project_id=1, rows=ROWS, columns=["label", "img_url"])
    content = multipart(route.calls[0].request).files["inputCVS"][2]
    assert content.decode().splitlines() == [
        "label img_url",
        '"猫 cat" https://example.com/1.jpg',
        '"say \\"hi\\"" https://example.com/2.jpg',
    ]


@pytest.mark.asyncio
async def test_numeric_ids_and_counts_are_accepted(client: AsyncCrowdTask) -> None:
    fields = {"tasknum": "2", "batchSN": 998, "taskids": [11, "12"], "extra": 1}
    body = {"status": "success", "result": fields}
    with respx.mock(base_url=BASE) as mock:
        mock.post("/task/batch").mock(return_value=answer(body=body))
        result = await client.tasks.batch(project_id=1, rows=ROWS)
    assert result == TaskBatchResult(task_count=2, batch_sn="998", task_ids=("11", "12"))


# --- refusals and errors ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, ProviderError),
        (401, AuthenticationError),
        (403, AuthenticationError),
        (422, ProviderError),
    ],
)
@pytest.mark.asyncio
async def test_error_envelopes_become_typed_errors(
    client: AsyncCrowdTask, status: int, error_class: type[ProviderError]
) -> None:
    reason = "项目不存在 (project 1 not found)"
    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/task/batch").mock(
            return_value=answer(status, {"status": "error", "reason": reason})
        )
        with pytest.raises(ProviderError) as caught:
            await client.tasks.batch(project_id=1, rows=ROWS)
    error = caught.value
    assert type(error) is error_class
    assert error.code == str(status)
    assert error.provider == "crowdtask"
    assert error.provider_message == reason
    assert error.certainty is DeliveryCertainty.NOT_SENT
    assert reason in str(error)
    assert route.call_count == 1


@pytest.mark.asyncio
async def test_an_error_envelope_with_status_200_is_an_error(client: AsyncCrowdTask) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.post("/task/batch").mock(
            return_value=answer(200, {"status": "error", "reason": "inputCVS is empty"})
        )
        with pytest.raises(ProviderError) as caught:
            await client.tasks.batch(project_id=1, rows=ROWS)
    assert caught.value.code == "200"
    assert caught.value.provider_message == "inputCVS is empty"


@pytest.mark.asyncio
async def test_a_404_page_points_to_batch_path(client: AsyncCrowdTask) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.post("/task/batch").mock(return_value=answer(404, b"<html><h1>Not Found</h1></html>"))
        with pytest.raises(HTTPStatusError) as caught:
            await client.tasks.batch(project_id=1, rows=ROWS)
    assert caught.value.status_code == 404
    assert "Not Found" in str(caught.value)
    assert "/api/task/batch" in str(caught.value)


@pytest.mark.asyncio
async def test_uploads_are_not_retried_after_an_ambiguous_failure(
    client: AsyncCrowdTask,
) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/task/batch").mock(return_value=answer(502, b"Bad Gateway"))
        with pytest.raises(HTTPStatusError) as caught:
            await client.tasks.batch(project_id=1, rows=ROWS)
    assert route.call_count == 1
    assert caught.value.certainty is DeliveryCertainty.UNKNOWN


@pytest.mark.asyncio
@pytest.mark.parametrize("body", [b"", b'{"status": "error", "reason": "moved"}'])
async def test_a_redirect_after_an_upload_is_unknown_and_not_retried(
    client: AsyncCrowdTask, body: bytes
) -> None:
    """crowdsms follows no redirects; one after an upload ("created, see there") may come
    after CrowdTask made the tasks, so it is never reported as not sent."""
    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/task/batch").mock(
            return_value=answer(302, body, location="/batches/B1")
        )
        with pytest.raises(CrowdSMSError) as caught:
            await client.tasks.batch(project_id=1, rows=ROWS)
    assert route.call_count == 1
    assert caught.value.certainty is DeliveryCertainty.UNKNOWN
    assert "twice" in str(caught.value)


@pytest.mark.asyncio
async def test_uploads_are_retried_when_not_processed(client: AsyncCrowdTask, sleeps: Any) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/task/batch").mock(
            side_effect=[answer(503, b"busy", **{"retry-after": "2"}), answer()]
        )
        result = await client.tasks.batch(project_id=1, rows=ROWS)
    assert route.call_count == 2
    assert sleeps.delays == [2.0]
    assert result.task_ids == ("t-1", "t-2")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>", "HTML page"),
        (b'{"status":"success","result":{"tasknum":2,', "not valid JSON"),
        (b"", "empty"),
        (
            b'{"status":"success","result":{"tasknum":"two","batchSN":"B","taskids":["1","2"]}}',
            "expected shape",
        ),
        (
            b'{"status":"success","result":{"tasknum":2,"batchSN":"B","taskids":{"a":1}}}',
            "expected shape",
        ),
        (
            b'{"status":"success","result":{"tasknum":2,"batchSN":"B","taskids":"12"}}',
            "expected shape",
        ),
        (
            b'{"status":"success","result":{"tasknum":2,"batchSN":null,"taskids":["1","2"]}}',
            "expected shape",
        ),
        (
            b'{"status":"success","result":{"tasknum":true,"batchSN":"B","taskids":["1","2"]}}',
            "expected shape",
        ),
        (b'{"status":"success"}', "expected shape"),
        (b'{"status":"ok","result":{}}', "CrowdTask envelope"),
        (b'[{"status":"success"}]', "CrowdTask envelope"),
    ],
)
@pytest.mark.asyncio
async def test_malformed_answers_are_parse_errors_with_an_excerpt(
    client: AsyncCrowdTask, body: bytes, fragment: str
) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/task/batch").mock(return_value=answer(200, body))
        with pytest.raises(ResponseParseError) as caught:
            await client.tasks.batch(project_id=1, rows=ROWS)
    message = str(caught.value)
    assert fragment in message
    assert "Received: HTTP 200, body " in message
    if body:
        assert repr(body.decode()[:20])[1:-1] in message
    assert caught.value.certainty is DeliveryCertainty.UNKNOWN
    assert route.call_count == 1


@pytest.mark.parametrize(
    ("result", "fragment"),
    [
        ({"tasknum": 1, "batchSN": "B9", "taskids": ["t-1"]}, "1 tasks created for the 2 rows"),
        ({"tasknum": 3, "batchSN": "B9", "taskids": ["a", "b", "c"]}, "3 tasks created"),
        ({"tasknum": 2, "batchSN": "B9", "taskids": ["t-1"]}, "1 task ids for the 2 rows"),
        ({"tasknum": 2, "batchSN": "B9", "taskids": []}, "0 task ids"),
    ],
)
@pytest.mark.asyncio
async def test_answers_that_lose_rows_are_parse_errors(
    client: AsyncCrowdTask, result: dict[str, Any], fragment: str
) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.post("/task/batch").mock(
            return_value=answer(body={"status": "success", "result": result})
        )
        with pytest.raises(ResponseParseError) as caught:
            await client.tasks.batch(project_id=1, rows=ROWS)
    assert fragment in str(caught.value)
    assert "'B9'" in str(caught.value)
    assert caught.value.certainty is DeliveryCertainty.UNKNOWN


# --- the clock --------------------------------------------------------------------------


def http_date(unix_seconds: int) -> str:
    return email.utils.formatdate(unix_seconds, usegmt=True)


@pytest.mark.asyncio
async def test_a_clock_rejection_is_corrected_from_the_date_header(
    client: AsyncCrowdTask, multipart: Callable[..., Any], secret: str
) -> None:
    # Our clock says 1_700_000_000; the server's is ten minutes ahead.
    rejection = answer(
        401,
        {"status": "error", "reason": "localtime 与服务器时间相差超过5分钟"},
        date=http_date(1_700_000_600),
    )
    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/task/batch").mock(side_effect=[rejection, answer()])
        result = await client.tasks.batch(project_id=1, rows=ROWS)
    assert result.batch_sn == "B20231114"
    assert route.call_count == 2
    first = multipart(route.calls[0].request).fields
    second = multipart(route.calls[1].request).fields
    assert first["localtime"] == "1700000000000"
    # The Date header has whole seconds; the server read its clock within that second,
    # so crowdsms takes its middle: 1_700_000_600.5 s.
    assert second["localtime"] == "1700000600500"
    assert second["signature"] == hmac_md5(secret, "/task/batch&1700000600500")
    assert 599 < client.clock_offset < 602


@pytest.mark.asyncio
async def test_a_clock_rejection_that_persists_raises_clock_skew(client: AsyncCrowdTask) -> None:
    rejection = answer(
        403, {"status": "error", "reason": "invalid timestamp"}, date=http_date(1_700_000_600)
    )
    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/task/batch").mock(side_effect=[rejection, rejection])
        with pytest.raises(ClockSkewError) as caught:
            await client.tasks.batch(project_id=1, rows=ROWS)
    assert route.call_count == 2
    assert caught.value.code == "403"
    assert "localtime_unit" in str(caught.value)
    assert caught.value.certainty is DeliveryCertainty.NOT_SENT


# --- bad input never reaches the network ------------------------------------------------


@pytest.mark.asyncio
async def test_too_many_rows_point_to_the_batch_sender(client: AsyncCrowdTask) -> None:
    rows = [{"n": str(index)} for index in range(101)]
    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/task/batch").mock(return_value=answer())
        with pytest.raises(InvalidInputError) as caught:
            await client.tasks.batch(project_id=1, rows=rows)
        assert route.call_count == 0
        # 100 rows are fine (the answer's count then does not match, a separate check).
        with pytest.raises(ResponseParseError):
            await client.tasks.batch(project_id=1, rows=rows[:100])
        assert route.call_count == 1
    assert caught.value.field == "rows"
    assert caught.value.position == 100
    assert "batch_chunks" in str(caught.value)
    assert "at most 100" in str(caught.value)


@pytest.mark.asyncio
async def test_the_row_limit_is_a_setting(make_client: Callable[..., AsyncCrowdTask]) -> None:
    async with make_client(max_rows_per_batch=1) as client:
        assert client.max_rows_per_batch == 1
        with pytest.raises(InvalidInputError) as caught:
            await client.tasks.batch(project_id=1, rows=ROWS)
    assert "at most 1 " in str(caught.value)


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"project_id": 0, "rows": ROWS}, "project_id"),
        ({"project_id": True, "rows": ROWS}, "project_id"),
        ({"project_id": "7", "rows": ROWS}, "project_id"),
        ({"project_id": 1, "rows": []}, "rows"),
        ({"project_id": 1, "rows": ROWS[0]}, "rows"),
        ({"project_id": 1, "rows": "a b"}, "rows"),
        ({"project_id": 1, "rows": [ROWS[0], ["x", "y"]]}, "rows[1]"),
        ({"project_id": 1, "rows": [ROWS[0], {"img_url": "x"}]}, "rows[1]"),
        ({"project_id": 1, "rows": [ROWS[0], {**ROWS[1], "label": "a\nb"}]}, "rows[1]['label']"),
        ({"project_id": 1, "rows": [{"a b": "x"}]}, "columns[0]"),
        ({"project_id": 1, "rows": ROWS, "columns": ["img_url"]}, "rows[0]"),
    ],
)
@pytest.mark.asyncio
async def test_bad_input_is_refused_before_any_request(
    client: AsyncCrowdTask, arguments: dict[str, Any], field: str
) -> None:
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        route = mock.post("/task/batch").mock(return_value=answer())
        with pytest.raises(InvalidInputError) as caught:
            await client.tasks.batch(**arguments)
        assert route.call_count == 0
    assert caught.value.field == field


# --- secrets ----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_secret_never_shows(
    client: AsyncCrowdTask, secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    errors: list[CrowdSMSError] = []
    with respx.mock(base_url=BASE) as mock:
        mock.post("/task/batch").mock(
            side_effect=[
                answer(),
                answer(401, {"status": "error", "reason": "bad signature"}),
                answer(400, {"status": "error", "reason": "timestamp"}),
                answer(400, {"status": "error", "reason": "timestamp"}),
                answer(200, b"<html>"),
            ]
        )
        result = await client.tasks.batch(project_id=1, rows=ROWS)
        for _ in range(3):
            try:
                await client.tasks.batch(project_id=1, rows=ROWS)
            except CrowdSMSError as error:
                errors.append(error)
    assert len(errors) == 3
    shown = [repr(client), str(client), repr(client.tasks), repr(result), str(vars(client))]
    shown += [f"{error!s} {error!r} {vars(error)}" for error in errors]
    shown += [record.getMessage() for record in caplog.records]
    assert caplog.records  # the transport logged the attempts
    for text in shown:
        assert secret not in text
    assert any(record.levelno >= logging.INFO for record in caplog.records)
