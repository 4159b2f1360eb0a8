"""Pulling delivery reports and replies; parsing them in both field-name styles."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

import httpx
import pytest
import respx

from crowdsms._time import CHINA_TIME
from crowdsms.errors import (
    DeliveryCertainty,
    HTTPStatusError,
    InvalidInputError,
    ProviderError,
    ResponseParseError,
)
from crowdsms.providers.paasw import (
    AsyncPaasw,
    DeliveryReport,
    DeliveryStatus,
    Reply,
    ReportFormatError,
    ReportsParseError,
    parse_delivery_reports,
    parse_replies,
)

from .conftest import BASE_URL, TOKEN, answer, query, raw, token_answer

CAMEL_REPORT = {
    "phoneNumber": "13900000001",
    "sendTime": "2017-01-01 00:00:00",
    "reportTime": "2017-01-01 00:00:05",
    "success": True,
    "code": "10000",
    "message": "请求成功",
    "smsSize": "1",
    "bizId": "39036632588910887018",
}
SNAKE_REPORT = {
    "phone_number": "13900000001",
    "send_time": "2017-01-01 00:00:00",
    "report_time": "2017-01-01 00:00:05",
    "success": True,
    "code": "10000",
    "message": "请求成功",
    "sms_size": 1,
    "biz_id": "39036632588910887018",
}
EXPECTED_REPORT = DeliveryReport(
    phone="13900000001",
    code="10000",
    status=DeliveryStatus.DELIVERED,
    biz_id="39036632588910887018",
    success=True,
    message="请求成功",
    send_time=datetime(2017, 1, 1, 0, 0, 0, tzinfo=CHINA_TIME),
    report_time=datetime(2017, 1, 1, 0, 0, 5, tzinfo=CHINA_TIME),
    sms_size=1,
)
CAMEL_REPLY = {
    "phoneNumber": "18612345678",
    "sendTime": "2017-09-01 00:00:00",
    "content": "内容",
    "sequenceId": 1234567890,
}
SNAKE_REPLY = {
    "phone_number": "18612345678",
    "send_time": "2017-09-01 00:00:00",
    "content": "内容",
    "sequence_id": "1234567890",
}
EXPECTED_REPLY = Reply(
    phone="18612345678",
    content="内容",
    send_time=datetime(2017, 9, 1, tzinfo=CHINA_TIME),
    sequence_id="1234567890",
)


def gateway() -> respx.MockRouter:
    router = respx.mock(base_url=BASE_URL, assert_all_called=False)
    router.get("/api/token").mock(return_value=token_answer())
    return router


def json_answer(value: Any, status: int = 200) -> httpx.Response:
    return raw(json.dumps(value, ensure_ascii=False), status)


@pytest.mark.asyncio
async def test_pull_deliveries_makes_the_exact_request(client: AsyncPaasw) -> None:
    with gateway() as mock:
        route = mock.get("/sms/deliver").mock(return_value=json_answer([CAMEL_REPORT]))
        reports = await client.reports.pull_deliveries(sign="圆通快递")
    request = route.calls.last.request
    assert request.method == "GET"
    assert request.url.path == "/sms/deliver"
    assert query(request) == {"sign": "圆通快递", "token": TOKEN}
    assert request.content == b""
    assert reports == [EXPECTED_REPORT]


@pytest.mark.asyncio
async def test_pull_deliveries_without_sign_sends_only_the_token(client: AsyncPaasw) -> None:
    with gateway() as mock:
        route = mock.get("/sms/deliver").mock(return_value=json_answer([]))
        assert await client.reports.pull_deliveries() == []
    assert query(route.calls.last.request) == {"token": TOKEN}


@pytest.mark.asyncio
@pytest.mark.parametrize("item", [CAMEL_REPORT, SNAKE_REPORT], ids=["camelCase", "snake_case"])
async def test_delivery_reports_in_both_field_name_styles(
    client: AsyncPaasw, item: dict[str, Any]
) -> None:
    with gateway() as mock:
        mock.get("/sms/deliver").mock(return_value=json_answer([item, item]))
        reports = await client.reports.pull_deliveries()
    assert reports == [EXPECTED_REPORT, EXPECTED_REPORT]
    assert reports[0].delivered
    assert reports[0].explanation == "delivered to the handset"
    assert reports[0].raw == item


@pytest.mark.parametrize(
    ("code", "status", "words"),
    [
        (10000, DeliveryStatus.DELIVERED, "delivered"),
        ("1", DeliveryStatus.SUBMIT_FAILED, "submit"),
        ("4", DeliveryStatus.FAILED, "could not deliver"),
        (5, DeliveryStatus.BANNED_WORD, "blocks"),
        ("6", DeliveryStatus.REJECTED, "rejected on review"),
        ("7", DeliveryStatus.BLOCKLISTED, "black list"),
        ("8", DeliveryStatus.RATE_LIMITED, "too many"),
        ("9", DeliveryStatus.UNKNOWN, "did not say"),
        ("77", DeliveryStatus.UNRECOGNIZED, "does not know"),
        ("DELIVRD", DeliveryStatus.UNRECOGNIZED, "does not know"),
    ],
)
def test_delivery_codes_map_to_statuses_and_keep_the_raw_code(
    code: str | int, status: DeliveryStatus, words: str
) -> None:
    (report,) = parse_delivery_reports([{**CAMEL_REPORT, "code": code, "success": False}])
    assert report.code == str(code)
    assert report.status is status
    assert words in report.explanation
    assert report.delivered is (status is DeliveryStatus.DELIVERED)


def test_only_submit_failures_and_rate_limits_are_worth_retrying() -> None:
    retryable = {status for status in DeliveryStatus if status.retryable}
    assert retryable == {DeliveryStatus.SUBMIT_FAILED, DeliveryStatus.RATE_LIMITED}


def test_report_with_only_the_required_fields() -> None:
    (report,) = parse_delivery_reports([{"phoneNumber": "13900000001", "code": "4"}])
    assert report == DeliveryReport(phone="13900000001", code="4", status=DeliveryStatus.FAILED)


def test_report_time_in_an_unknown_format_is_none_and_kept_in_raw() -> None:
    (report,) = parse_delivery_reports([{**CAMEL_REPORT, "sendTime": "yesterday"}])
    assert report.send_time is None
    assert report.raw["sendTime"] == "yesterday"
    assert report.report_time == datetime(2017, 1, 1, 0, 0, 5, tzinfo=CHINA_TIME)
    assert report.report_time.tzinfo is CHINA_TIME  # the shared zone, not a local copy


@pytest.mark.asyncio
async def test_deliveries_inside_a_success_envelope(client: AsyncPaasw) -> None:
    with gateway() as mock:
        mock.get("/sms/deliver").mock(
            return_value=json_answer({"code": "10000", "message": "ok", "data": [SNAKE_REPORT]})
        )
        assert await client.reports.pull_deliveries() == [EXPECTED_REPORT]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "body",
    [b"", b"  \n", b'{"code":"10000","message":"ok"}', b'{"code":"10000","data":null}'],
)
async def test_nothing_waiting(client: AsyncPaasw, body: bytes) -> None:
    with gateway() as mock:
        mock.get("/sms/deliver").mock(return_value=raw(body))
        assert await client.reports.pull_deliveries() == []


@pytest.mark.asyncio
async def test_pull_error_envelope_raises_provider_error(client: AsyncPaasw) -> None:
    with gateway() as mock:
        mock.get("/sms/deliver").mock(return_value=answer("30005", "签名不存在"))
        with pytest.raises(ProviderError) as caught:
            await client.reports.pull_deliveries(sign="圆通快递")
    assert caught.value.code == "30005"
    assert caught.value.provider_message == "签名不存在"
    assert caught.value.operation == "paasw.reports.pull_deliveries"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("<html><body>Service Unavailable</body></html>", "HTML page"),
        ('[{"phoneNumber":"13900000001","code":"100', "not valid JSON"),
        ('["13900000001"]', "is a string, not an object"),
        ('[{"phoneNumber":["13900000001"],"code":"10000"}]', "expected fields"),
        ('[{"phoneNumber":"13900000001","code":{"v":1}}]', "expected fields"),
        ('[{"phoneNumber":"13900000001"},{"code":"4"}]', "(and 1 more like it)"),
        ('[{"code":"10000"}]', "expected fields"),
        ('{"phoneNumber":"13900000001"}', "neither a JSON array"),
        ('{"code":"10000","data":"none"}', "is not a JSON array"),
        ('"hello"', "neither a JSON array"),
    ],
)
async def test_malformed_pulled_deliveries_raise_parse_error_with_the_body(
    client: AsyncPaasw, body: str, expected: str
) -> None:
    with gateway() as mock:
        route = mock.get("/sms/deliver").mock(return_value=raw(body))
        with pytest.raises(ReportsParseError) as caught:
            await client.reports.pull_deliveries()
    error = caught.value
    assert isinstance(error, ResponseParseError)
    assert expected in str(error)
    assert "Received: HTTP 200, body" in str(error)
    assert body[:10] in str(error)
    assert error.body == body.encode()
    assert error.operation == "paasw.reports.pull_deliveries"
    assert route.call_count == 1


@pytest.mark.asyncio
async def test_pull_is_not_retried_after_an_ambiguous_failure(client: AsyncPaasw) -> None:
    # Pulling dequeues: a lost answer's reports are gone, and a retry would hide that.
    with gateway() as mock:
        route = mock.get("/sms/deliver").mock(return_value=raw("boom", 502, "text/plain"))
        with pytest.raises(HTTPStatusError) as caught:
            await client.reports.pull_deliveries()
    assert route.call_count == 1
    assert caught.value.certainty is DeliveryCertainty.UNKNOWN


@pytest.mark.asyncio
async def test_pull_is_retried_when_not_processed(client: AsyncPaasw) -> None:
    with gateway() as mock:
        route = mock.get("/sms/smsUp").mock(
            side_effect=[raw("slow down", 429, "text/plain"), json_answer([CAMEL_REPLY])]
        )
        assert await client.reports.pull_replies(sign="圆通快递") == [EXPECTED_REPLY]
    assert route.call_count == 2


@pytest.mark.asyncio
async def test_pull_replies_makes_the_exact_request(client: AsyncPaasw) -> None:
    with gateway() as mock:
        route = mock.get("/sms/smsUp").mock(return_value=json_answer([CAMEL_REPLY]))
        replies = await client.reports.pull_replies(sign="圆通快递")
    request = route.calls.last.request
    assert request.method == "GET"
    assert request.url.path == "/sms/smsUp"
    assert query(request) == {"sign": "圆通快递", "token": TOKEN}
    assert replies == [EXPECTED_REPLY]


@pytest.mark.asyncio
@pytest.mark.parametrize("item", [CAMEL_REPLY, SNAKE_REPLY], ids=["camelCase", "snake_case"])
async def test_replies_in_both_field_name_styles(client: AsyncPaasw, item: dict[str, Any]) -> None:
    with gateway() as mock:
        mock.get("/sms/smsUp").mock(return_value=json_answer([item]))
        replies = await client.reports.pull_replies(sign="圆通快递")
    assert replies == [EXPECTED_REPLY]
    assert replies[0].sequence_id == "1234567890"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("<html>oops</html>", "HTML page"),
        ('[{"phoneNumber":"18612345678","content":', "not valid JSON"),
        ('[{"phoneNumber":"18612345678","content":["x"]}]', "expected fields"),
        ('[{"phoneNumber":"18612345678"}]', "expected fields"),
        ("[null]", "is null, not an object"),
    ],
)
async def test_malformed_replies_raise_parse_error(
    client: AsyncPaasw, body: str, expected: str
) -> None:
    with gateway() as mock:
        mock.get("/sms/smsUp").mock(return_value=raw(body))
        with pytest.raises(ReportsParseError) as caught:
            await client.reports.pull_replies(sign="圆通快递")
    assert expected in str(caught.value)
    assert caught.value.body == body.encode()


@pytest.mark.asyncio
async def test_pull_replies_checks_the_sign_before_any_request(client: AsyncPaasw) -> None:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as mock:
        with pytest.raises(InvalidInputError) as caught:
            await client.reports.pull_replies(sign="【圆通快递】")
        assert mock.calls.call_count == 0
    assert caught.value.field == "sign"


def test_pushed_replies_carry_the_sign() -> None:
    pushed = [{**CAMEL_REPLY, "sign": "签名"}]
    (reply,) = parse_replies(json.dumps(pushed, ensure_ascii=False).encode("utf-8"))
    assert reply.sign == "签名"
    assert reply.content == "内容"


def test_parse_delivery_reports_accepts_bytes_text_and_a_single_object() -> None:
    text = json.dumps([CAMEL_REPORT], ensure_ascii=False)
    assert parse_delivery_reports(text) == [EXPECTED_REPORT]
    assert parse_delivery_reports(text.encode("utf-8")) == [EXPECTED_REPORT]
    assert parse_delivery_reports(SNAKE_REPORT) == [EXPECTED_REPORT]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"<html>", "not valid JSON"),
        (42, "got a number"),
        ([1], "[0] is a number"),
        ([{"code": "4"}, {"phoneNumber": "1"}], "[0] does not have the expected fields"),
    ],
)
def test_parse_delivery_reports_refuses_other_shapes(data: Any, expected: str) -> None:
    with pytest.raises(ReportFormatError) as caught:
        parse_delivery_reports(data)
    assert isinstance(caught.value, ValueError)
    assert expected in str(caught.value)


# -- one odd item never costs the others ----------------------------------------------------


@pytest.mark.parametrize(
    ("odd", "expected"),
    [
        ({"smsSize": ""}, {"sms_size": None}),
        ({"smsSize": 1.0}, {"sms_size": 1}),
        ({"smsSize": -1}, {"sms_size": None}),
        ({"success": 0}, {"success": False}),
        ({"success": 1}, {"success": True}),
        ({"success": "maybe"}, {"success": None}),
        ({"message": 42}, {"message": None}),
        ({"bizId": ["b"]}, {"biz_id": None}),
    ],
)
def test_a_descriptive_field_of_an_odd_type_is_none_and_kept_in_raw(
    odd: dict[str, Any], expected: dict[str, Any]
) -> None:
    item = {**CAMEL_REPORT, **odd}
    (report,) = parse_delivery_reports([item])
    for name, value in expected.items():
        assert getattr(report, name) == value
    assert (report.phone, report.code) == ("13900000001", "10000")
    assert report.raw == item


@pytest.mark.parametrize(
    "odd",
    [{"sequenceId": 1.5}, {"sign": 7}, {"content": 1}],
    ids=["sequenceId", "sign", "content as a number"],
)
def test_a_reply_with_an_odd_descriptive_field_is_read(odd: dict[str, Any]) -> None:
    (reply,) = parse_replies([{**CAMEL_REPLY, **odd}])
    assert reply.phone == "18612345678"
    assert reply.content == ("1" if "content" in odd else "内容")


def test_an_item_that_is_no_report_is_left_out_with_a_warning_and_the_others_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    odd = {"phoneNumber": "13900000002", "success": False}  # no code
    with caplog.at_level(logging.WARNING, logger="crowdsms.providers.paasw"):
        reports = parse_delivery_reports([CAMEL_REPORT, odd, None])
    assert reports == [EXPECTED_REPORT]
    first, second = (r.getMessage() for r in caplog.records)
    assert "delivery report [1] of 3" in first
    assert "has no code" in first
    assert "phoneNumber, success" in first  # the field names, to find it by
    assert "[2] of 3 is null, not an object" in second
    assert not any("1390000000" in r.getMessage() for r in caplog.records)


@pytest.mark.asyncio
async def test_a_pulled_batch_keeps_its_readable_reports(
    client: AsyncPaasw, caplog: pytest.LogCaptureFixture
) -> None:
    # The gateway has taken the whole batch off its queue: refusing it lost every report.
    batch = [
        CAMEL_REPORT,
        {"phoneNumber": "13900000002", "code": "1", "smsSize": ""},
        {"phoneNumber": "13900000003", "code": "4", "success": 0, "message": None},
        {"phoneNumber": "13900000004", "code": ["4"]},
    ]
    with gateway() as mock:
        mock.get("/sms/deliver").mock(return_value=json_answer(batch))
        with caplog.at_level(logging.WARNING, logger="crowdsms.providers.paasw"):
            reports = await client.reports.pull_deliveries()
    assert [(r.phone, r.status) for r in reports] == [
        ("13900000001", DeliveryStatus.DELIVERED),
        ("13900000002", DeliveryStatus.SUBMIT_FAILED),
        ("13900000003", DeliveryStatus.FAILED),
    ]
    assert (reports[1].sms_size, reports[2].success) == (None, False)
    [warning] = caplog.records
    assert "delivery report [3] of 4" in warning.getMessage()
    assert "13900000004" not in warning.getMessage()


@pytest.mark.asyncio
async def test_a_pulled_batch_keeps_its_readable_replies(client: AsyncPaasw) -> None:
    batch = [CAMEL_REPLY, {"phoneNumber": "18612345679", "content": None}]
    with gateway() as mock:
        mock.get("/sms/smsUp").mock(return_value=json_answer(batch))
        assert await client.reports.pull_replies(sign="圆通快递") == [EXPECTED_REPLY]
