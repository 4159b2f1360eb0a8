"""SendCloud SMSHook: parsing, HMAC-SHA256 signatures, replay window, malformed pushes."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timezone

import pytest

from crowdsms.providers.sendcloud import (
    SendCloudDelivered,
    SendCloudFailed,
    SendCloudRequest,
    SendCloudWebhook,
)
from crowdsms.webhooks import (
    DeliveryEvent,
    DeliveryOutcome,
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
        ("1", SendCloudRequest),
        ("20", SendCloudDelivered),
        ("4", SendCloudFailed),
        ("5", SendCloudFailed),
    ],
)
def test_event_names_and_codes_have_their_class(name, cls):
    [event] = receiver().parse(FORM, form(sendcloud_fields(name, smsId="id$13800138000")))
    assert type(event) is cls
    assert event.kind == name


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
