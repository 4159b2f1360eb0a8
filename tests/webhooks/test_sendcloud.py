"""SendCloud SMSHook: parsing, HMAC-SHA256 signatures, replay window, malformed pushes."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timezone

import pytest

from crowdsms.providers.sendcloud import (
    SENDCLOUD_EVENT_KINDS,
    SendCloudDelivered,
    SendCloudFailed,
    SendCloudReply,
    SendCloudRequest,
    SendCloudWebhook,
)
from crowdsms.webhooks import (
    DeliveryEvent,
    DeliveryOutcome,
    ReplyEvent,
    UnknownEvent,
    WebhookFormatError,
    WebhookReplayError,
    WebhookSignatureError,
)

from .pushes import FORM, JSON, NOW, SENDCLOUD_KEY, as_json, clock, form, sendcloud_fields


def receiver(**options) -> SendCloudWebhook:
    return SendCloudWebhook(key=SENDCLOUD_KEY, clock=clock, **options)


def test_a_hand_signed_vector_is_accepted():
    # HMAC-SHA256(key="appkey", msg="1700000000000" + "tok123"), computed independently.
    signature = hmac.new(b"appkey", b"1700000000000tok123", hashlib.sha256).hexdigest()
    body = form(
        {
            "event": "deliver",
            "smsId": "1700000000000_1_2_3_abc$13800138000",
            "timestamp": "1700000000000",
            "token": "tok123",
            "signature": signature,
        }
    )
    [event] = SendCloudWebhook(key="appkey", clock=clock).parse(FORM, body)
    assert isinstance(event, SendCloudDelivered)


def test_a_form_deliver_push_becomes_a_typed_event():
    fields = sendcloud_fields(
        "deliver",
        smsId="1700000000000_15_1_abc$13800138000",
        phone="13800138000",
        smsUser="user",
        templateId="7",
        message="送达",
    )
    [event] = receiver().parse(FORM, form(fields))
    assert event == SendCloudDelivered(
        provider="sendcloud",
        kind="deliver",
        message_id="1700000000000_15_1_abc$13800138000",
        phone="13800138000",
        occurred_at=datetime.fromtimestamp(NOW, timezone.utc),
        outcome=DeliveryOutcome.DELIVERED,
        sms_user="user",
        template_id="7",
        message="送达",
    )
    assert isinstance(event, DeliveryEvent)
    assert event.raw["smsUser"] == "user"


def test_a_json_push_with_numbers_is_read_the_same():
    fields = sendcloud_fields("workererror", smsId="x$13800138001", templateId=7, message="黑名单")
    [event] = receiver().parse(JSON, as_json(fields))
    assert isinstance(event, SendCloudFailed)
    assert (event.outcome, event.template_id, event.message, event.phone) == (
        DeliveryOutcome.FAILED,
        "7",
        "黑名单",
        "13800138001",
    )


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("request", SendCloudRequest),
        ("deliver", SendCloudDelivered),
        ("workererror", SendCloudFailed),
        ("delivererror", SendCloudFailed),
        ("reply", SendCloudReply),
        ("1", SendCloudRequest),
        ("2", SendCloudDelivered),
        ("20", SendCloudDelivered),
        ("4", SendCloudFailed),
        ("5", SendCloudFailed),
        ("6", SendCloudReply),
    ],
)
def test_event_names_and_codes_have_their_class(name, cls):
    [event] = receiver().parse(FORM, form(sendcloud_fields(name, smsId="id$13800138000")))
    assert type(event) is cls
    assert event.kind == name
    assert name in SENDCLOUD_EVENT_KINDS


# -- the domestic SMSHook document's events ----------------------------------------------


def domestic(event_type: int, **extra) -> dict:
    """A push that names its event only by the domestic ``eventType`` code."""
    fields = sendcloud_fields("", **extra)
    del fields["event"]
    fields["eventType"] = event_type
    return fields


@pytest.mark.parametrize(
    ("code", "cls", "outcome"),
    [
        (1, SendCloudRequest, None),
        (2, SendCloudDelivered, DeliveryOutcome.DELIVERED),
        (4, SendCloudFailed, DeliveryOutcome.FAILED),
        (5, SendCloudFailed, DeliveryOutcome.FAILED),
    ],
)
@pytest.mark.parametrize("encode", [form, as_json], ids=["form", "json"])
def test_the_event_type_field_alone_names_the_event(code, cls, outcome, encode):
    headers = FORM if encode is form else JSON
    [event] = receiver().parse(headers, encode(domestic(code, smsId="a$13800138000")))
    assert type(event) is cls
    assert (event.kind, event.message_id, event.phone) == (
        str(code),
        "a$13800138000",
        "13800138000",
    )
    assert getattr(event, "outcome", None) is outcome


def test_a_known_event_type_wins_over_an_unknown_event_name():
    fields = sendcloud_fields("delivery-error", eventType="5", smsId="a$13800138000")
    [event] = receiver().parse(FORM, form(fields))
    assert isinstance(event, SendCloudFailed)
    assert event.kind == "5"


def test_an_unknown_event_type_alone_is_passed_through():
    [event] = receiver().parse(FORM, form(domestic(99, smsId="a")))
    assert type(event) is UnknownEvent
    assert event.kind == "99"


@pytest.mark.parametrize(
    ("name", "failure"),
    [
        ("workererror", "worker"),
        ("4", "worker"),
        ("suppressed", "worker"),
        ("delivererror", "delivery"),
        ("5", "delivery"),
        ("failed", "delivery"),
    ],
)
def test_a_failure_says_whether_sendcloud_or_the_carrier_failed_it(name, failure):
    fields = sendcloud_fields(name, smsId="a$13800138001", message="UNDELIV")
    [event] = receiver().parse(FORM, form(fields))
    assert isinstance(event, SendCloudFailed)
    assert (event.failure, event.outcome, event.delivered) == (
        failure,
        DeliveryOutcome.FAILED,
        False,
    )


def test_a_failed_events_carrier_code_is_its_code_else_its_message():
    with_message = sendcloud_fields("delivererror", smsId="a", message="MK:0001")
    with_code = sendcloud_fields("delivererror", smsId="b", message="失败", code="DB:0141")
    [first] = receiver().parse(FORM, form(with_message))
    [second] = receiver().parse(FORM, form(with_code))
    assert (first.carrier_code, first.code) == ("MK:0001", None)
    assert (second.carrier_code, second.code, second.message) == ("DB:0141", "DB:0141", "失败")


def test_delivered_and_request_events_have_no_carrier_code_or_reference():
    [delivered] = receiver().parse(FORM, form(sendcloud_fields("deliver", message="送达")))
    [request] = receiver().parse(FORM, form(sendcloud_fields("request", smsId="b")))
    assert delivered.carrier_code is None
    assert (delivered.reference, request.reference) == (None, None)


@pytest.mark.parametrize("field", ["replyContent", "content", "reply"])
def test_a_reply_carries_its_phone_content_and_user(field):
    fields = sendcloud_fields(
        "reply", phone="13800138000", smsUser="user", replyTime="2023-11-15 06:00:00"
    )
    fields[field] = "退订"
    [event] = receiver().parse(FORM, form(fields))
    assert event == SendCloudReply(
        provider="sendcloud",
        kind="reply",
        phone="13800138000",
        content="退订",
        occurred_at=datetime(2023, 11, 14, 22, 0, tzinfo=timezone.utc),
        sms_user="user",
    )
    assert isinstance(event, ReplyEvent)


def test_a_reply_by_event_type_in_json_with_a_millisecond_reply_time():
    fields = domestic(6, phone="13800138000", replyContent="好的", replyTime=(NOW - 5) * 1000)
    [event] = receiver().parse(JSON, as_json(fields))
    assert isinstance(event, SendCloudReply)
    assert (event.kind, event.phone, event.content) == ("6", "13800138000", "好的")
    assert event.occurred_at == datetime.fromtimestamp(NOW - 5, timezone.utc)


@pytest.mark.parametrize(
    ("reply_time", "expected"),
    [
        ("20231115060000", datetime(2023, 11, 14, 22, 0, tzinfo=timezone.utc)),  # China time
        (20231115060000, datetime(2023, 11, 14, 22, 0, tzinfo=timezone.utc)),
    ],
)
def test_a_reply_time_of_14_digits_is_china_time(reply_time, expected):
    fields = domestic(6, phone="13800138000", replyContent="好的", replyTime=reply_time)
    [event] = receiver().parse(JSON, as_json(fields))
    assert event.occurred_at == expected


@pytest.mark.parametrize("reply_time", ["²", "99999999999999"])
def test_a_reply_time_that_is_no_time_falls_back_to_the_push_timestamp(reply_time):
    fields = domestic(6, phone="13800138000", replyContent="好的", replyTime=reply_time)
    [event] = receiver().parse(JSON, as_json(fields))
    assert event.occurred_at == datetime.fromtimestamp(NOW, timezone.utc)


def test_a_reply_without_a_reply_time_happened_at_the_push_timestamp():
    [event] = receiver().parse(FORM, form(sendcloud_fields("reply", phone="1", content="x")))
    assert event.occurred_at == datetime.fromtimestamp(NOW, timezone.utc)


def test_a_numeric_event_code_in_json_is_read():
    [event] = receiver().parse(JSON, as_json(sendcloud_fields(20, smsId="id")))  # type: ignore[arg-type]
    assert isinstance(event, SendCloudDelivered)


def test_an_unknown_event_kind_is_passed_through():
    fields = sendcloud_fields("templateVerify", templateId="7", status="pass")
    [event] = receiver().parse(FORM, form(fields))
    assert type(event) is UnknownEvent
    assert (event.provider, event.kind, event.raw["status"]) == (
        "sendcloud",
        "templateVerify",
        "pass",
    )


@pytest.mark.parametrize(
    "ids",
    [
        ["a$13800138000", "b$13800138001"],
        '["a$13800138000","b$13800138001"]',
        "a$13800138000,b$13800138001",
    ],
)
def test_a_push_naming_several_sms_ids_gives_one_event_each(ids):
    fields = sendcloud_fields("request", smsIds=ids)
    [first, second] = receiver().parse(JSON, as_json(fields))
    assert (first.message_id, first.phone) == ("a$13800138000", "13800138000")
    assert (second.message_id, second.phone) == ("b$13800138001", "13800138001")
    assert all(isinstance(e, SendCloudRequest) for e in (first, second))


@pytest.mark.parametrize("ids", ["[" * 100_000, "[" * 50_000 + "]" * 50_000])
def test_sms_ids_nested_too_deep_are_read_as_none_not_a_crash(ids):
    fields = sendcloud_fields("deliver", smsIds=ids, phone="13800138000")
    [event] = receiver().parse(JSON, as_json(fields))
    assert isinstance(event, SendCloudDelivered)
    assert (event.message_id, event.phone) == (None, "13800138000")
    assert event.raw["smsIds"] == ids


def test_a_timestamp_in_seconds_is_recognised():
    fields = sendcloud_fields("deliver", timestamp=NOW, smsId="a")
    [event] = receiver().parse(FORM, form(fields))
    assert event.occurred_at == datetime.fromtimestamp(NOW, timezone.utc)


# -- forged -----------------------------------------------------------------------------------


def test_a_push_signed_with_another_key_is_refused():
    with pytest.raises(WebhookSignatureError) as caught:
        receiver().parse(FORM, form(sendcloud_fields(key="not-the-key")))
    assert caught.value.status_code == 403
    assert SENDCLOUD_KEY not in str(caught.value)


def test_a_push_whose_timestamp_was_changed_is_refused():
    fields = sendcloud_fields("deliver")
    fields["timestamp"] = NOW * 1000 + 1
    with pytest.raises(WebhookSignatureError):
        receiver().parse(FORM, form(fields))


def test_a_push_signed_with_md5_instead_is_refused():
    fields = sendcloud_fields("deliver")
    fields["signature"] = hashlib.md5(
        (str(fields["timestamp"]) + fields["token"] + SENDCLOUD_KEY).encode()
    ).hexdigest()
    with pytest.raises(WebhookSignatureError):
        receiver().parse(FORM, form(fields))


# -- replayed ---------------------------------------------------------------------------------


def test_an_exact_replay_is_refused():
    hook = receiver()
    body = form(sendcloud_fields("deliver", smsId="a"))
    hook.parse(FORM, body)
    with pytest.raises(WebhookReplayError) as caught:
        hook.parse(FORM, body)
    assert caught.value.duplicate


def test_a_replay_with_the_signature_in_capitals_is_still_refused():
    hook = receiver()
    fields = sendcloud_fields("deliver", smsId="a")
    hook.parse(FORM, form(fields))
    with pytest.raises(WebhookReplayError) as caught:
        hook.parse(FORM, form({**fields, "signature": fields["signature"].upper()}))
    assert caught.value.duplicate


def test_a_timestamp_that_is_not_plain_digits_is_malformed():
    # "e0" moved from the token to the timestamp signs the same text: only digits are taken.
    genuine = sendcloud_fields("deliver", token="e0Xk3f9QbLm2Zr7Tq", smsId="a")
    shifted = {
        **genuine,
        "event": "delivererror",
        "timestamp": f"{genuine['timestamp']}e0",
        "token": genuine["token"][2:],
    }
    hook = receiver()
    hook.parse(FORM, form(genuine))
    with pytest.raises(WebhookFormatError, match="'timestamp'"):
        hook.parse(FORM, form(shifted))


def test_a_replay_that_splits_timestamp_and_token_otherwise_is_still_refused():
    # The signed text is timestamp + token: moving the timestamp's last digits (milliseconds)
    # to the token keeps the signature and a time inside the window.
    hook = receiver()
    genuine = sendcloud_fields("deliver", smsId="a")
    stamp, token = str(genuine["timestamp"]), genuine["token"]
    hook.parse(FORM, form(genuine))
    shifted = {**genuine, "timestamp": stamp[:-3], "token": stamp[-3:] + token}
    with pytest.raises(WebhookReplayError) as caught:
        hook.parse(FORM, form(shifted))
    assert caught.value.duplicate


@pytest.mark.parametrize("offset", [-601_000, 301_000])
def test_a_signed_timestamp_outside_the_window_is_a_replay(offset):
    with pytest.raises(WebhookReplayError) as caught:
        receiver().parse(FORM, form(sendcloud_fields(timestamp=NOW * 1000 + offset)))
    assert not caught.value.duplicate


# -- malformed --------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["token", "signature", "timestamp"])
def test_a_push_without_a_signed_field_is_malformed(missing):
    fields = sendcloud_fields("deliver")
    del fields[missing]
    with pytest.raises(WebhookFormatError, match=repr(missing)):
        receiver().parse(FORM, form(fields))


def test_a_form_body_in_another_charset_is_read():
    fields = sendcloud_fields("deliver", smsId="a", message="送达")
    body = "&".join(
        f"{k}={v}" for k, v in {**fields, "message": "%CB%CD%B4%EF"}.items()
    ).encode()  # 送达 in GBK, percent-encoded
    [event] = receiver().parse(
        {"content-type": "application/x-www-form-urlencoded; charset=gbk"}, body
    )
    assert event.message == "送达"
