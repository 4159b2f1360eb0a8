"""paasw pushes: delivery reports and replies, camelCase and snake_case, and malformed ones."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone

import pytest

from crowdsms.providers.paasw import (
    PAASW_DELIVERY_ACK,
    PAASW_REPLY_ACK,
    DeliveryStatus,
    PaaswDeliveryReport,
    PaaswReply,
    PaaswWebhook,
)
from crowdsms.webhooks import DeliveryOutcome, UnknownEvent, WebhookFormatError

from .pushes import JSON, as_json

CHINA = timezone(timedelta(hours=8))

SEED_REPORT = {  # the seed's example push
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
    "phone_number": "13900000002",
    "send_time": "2017-01-01 00:00:00",
    "report_time": "2017-01-01 00:00:09",
    "success": False,
    "code": 7,
    "message": "黑名单",
    "sms_size": 1,
    "biz_id": "39036632588910887018",
}


def test_camel_and_snake_case_reports_in_one_push():
    delivered, blocked = PaaswWebhook().parse_deliveries(JSON, as_json([SEED_REPORT, SNAKE_REPORT]))
    assert isinstance(delivered, PaaswDeliveryReport)
    assert (delivered.provider, delivered.kind) == ("paasw", "report")
    assert (delivered.message_id, delivered.phone, delivered.outcome) == (
        "39036632588910887018",
        "13900000001",
        DeliveryOutcome.DELIVERED,
    )
    assert delivered.occurred_at == datetime(2017, 1, 1, 0, 0, 5, tzinfo=CHINA)
    assert (delivered.code, delivered.status) == ("10000", DeliveryStatus.DELIVERED)
    assert delivered.report.sms_size == 1
    assert (blocked.phone, blocked.code, blocked.status, blocked.outcome) == (
        "13900000002",
        "7",
        DeliveryStatus.BLOCKLISTED,
        DeliveryOutcome.FAILED,
    )
    assert not blocked.delivered
    assert blocked.raw["phone_number"] == "13900000002"


@pytest.mark.parametrize(
    ("code", "success", "outcome"),
    [
        ("9", False, DeliveryOutcome.UNKNOWN),
        ("4", False, DeliveryOutcome.FAILED),
        ("777", True, DeliveryOutcome.DELIVERED),
        ("777", None, DeliveryOutcome.UNKNOWN),
        ("777", False, DeliveryOutcome.FAILED),
    ],
)
def test_outcomes_of_codes(code, success, outcome):
    item = {"phoneNumber": "13900000001", "code": code, "bizId": "b"}
    if success is not None:
        item["success"] = success
    [event] = PaaswWebhook().deliveries.parse(JSON, as_json([item]))
    assert event.outcome is outcome


def test_replies_in_camel_and_snake_case():
    camel = {
        "phoneNumber": "18612345678",
        "sendTime": "2017-09-01 00:00:00",
        "content": "内容",
        "sign": "签名",
        "sequenceId": 1234567890,
    }
    snake = {"phone_number": "18612345679", "content": "好", "sequence_id": "99"}
    first, second = PaaswWebhook().parse_replies(JSON, as_json([camel, snake]))
    assert isinstance(first, PaaswReply)
    assert (first.phone, first.content, first.sign, first.sequence_id) == (
        "18612345678",
        "内容",
        "签名",
        "1234567890",
    )
    assert first.occurred_at == datetime(2017, 9, 1, tzinfo=CHINA)
    assert (first.provider, first.kind) == ("paasw", "reply")
    assert (second.phone, second.content, second.sequence_id, second.sign) == (
        "18612345679",
        "好",
        "99",
        None,
    )


def test_an_empty_push_has_no_events():
    assert PaaswWebhook().parse_deliveries(JSON, b"[]") == []


def test_the_acknowledgements_are_the_seeds():
    assert json.loads(PAASW_DELIVERY_ACK.body) == {"code": 10000, "msg": "操作成功"}
    assert json.loads(PAASW_REPLY_ACK.body) == {"code": "10000", "msg": "请求成功"}
    hook = PaaswWebhook()
    assert hook.deliveries.acknowledgement is PAASW_DELIVERY_ACK
    assert hook.replies.acknowledgement is PAASW_REPLY_ACK
    assert PAASW_DELIVERY_ACK.status_code == 200
    assert PAASW_DELIVERY_ACK.content_type.startswith("application/json")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"", "empty"),
        (b"phoneNumber=1&code=2", "not valid UTF-8 JSON"),
        (b'[{"phoneNumber": "1"}]', "expected fields"),
        (b"[1]", "not an object"),
        (b'"text"', "expected a JSON array"),
        (b"\xff\xfe[]", "not valid UTF-8 JSON"),
    ],
)
def test_malformed_report_pushes(body, words):
    with pytest.raises(WebhookFormatError) as caught:
        PaaswWebhook().parse_deliveries(JSON, body)
    assert words in str(caught.value)
    assert caught.value.status_code == 400
    assert caught.value.provider == "paasw"


def test_a_reply_pushed_to_the_report_receiver_is_malformed():
    reply = [{"phoneNumber": "18612345678", "content": "内容"}]
    with pytest.raises(WebhookFormatError):
        PaaswWebhook().parse_deliveries(JSON, as_json(reply))


# -- one odd item never costs the others ----------------------------------------------------

GOOD = {
    "phoneNumber": "13900000001",
    "code": "10000",
    "success": True,
    "bizId": "B1",
    "smsSize": "1",
}


@pytest.mark.parametrize(
    ("odd", "outcome"),
    [
        ({"code": "1", "smsSize": ""}, DeliveryOutcome.FAILED),  # an empty size on a failure
        ({"code": "4", "success": 0}, DeliveryOutcome.FAILED),  # 0/1 for false/true
        ({"code": "777", "success": 1}, DeliveryOutcome.DELIVERED),
        ({"code": "4", "message": None, "smsSize": 1.0}, DeliveryOutcome.FAILED),
        ({"code": "4", "bizId": {"id": 1}}, DeliveryOutcome.FAILED),
    ],
)
def test_an_odd_descriptive_field_does_not_refuse_the_push(odd, outcome):
    bad = {"phoneNumber": "13900000002", "bizId": "B1", **odd}
    good, read = PaaswWebhook().deliveries.parse(JSON, as_json([GOOD, bad]))
    assert (good.phone, good.outcome) == ("13900000001", DeliveryOutcome.DELIVERED)
    assert isinstance(read, PaaswDeliveryReport)
    assert (read.phone, read.code, read.outcome) == ("13900000002", odd["code"], outcome)
    assert read.raw == bad


def test_an_item_that_is_no_report_becomes_an_unknown_event_and_the_others_are_kept(caplog):
    no_code = {"phoneNumber": "13900000002", "bizId": "B1", "success": False}
    with caplog.at_level(logging.WARNING, logger="crowdsms.providers.paasw"):
        events = PaaswWebhook().deliveries.parse(JSON, as_json([GOOD, no_code, None, GOOD]))
    assert [type(e) for e in events] == [PaaswDeliveryReport, UnknownEvent, PaaswDeliveryReport]
    unknown = events[1]
    assert (unknown.provider, unknown.kind, unknown.raw) == ("paasw", "report", no_code)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert "delivery report [1] of 4 does not have the expected fields" in messages[0]
    assert "UnknownEvent" in messages[0]
    assert "[2] of 4 is null" in messages[1]
    assert not any("1390000000" in m for m in messages)


def test_a_reply_that_is_no_reply_becomes_an_unknown_event_and_the_others_are_kept():
    good = {"phoneNumber": "18612345678", "content": "T", "sign": 7, "sequenceId": [1]}
    no_content = {"phoneNumber": "18612345679", "content": None}
    reply, unknown = PaaswWebhook().replies.parse(JSON, as_json([good, no_content]))
    assert isinstance(reply, PaaswReply)
    assert (reply.phone, reply.content, reply.sign, reply.sequence_id) == (
        "18612345678",
        "T",
        None,
        None,
    )
    assert isinstance(unknown, UnknownEvent)
    assert (unknown.kind, unknown.raw) == ("reply", no_content)
