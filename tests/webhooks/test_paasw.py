"""paasw pushes: delivery reports and replies, camelCase and snake_case, and malformed ones."""

from __future__ import annotations

import json
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
from crowdsms.webhooks import DeliveryOutcome, WebhookFormatError

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
