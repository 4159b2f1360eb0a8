"""SUBMAIL SUBHOOK: parsing, md5(token + key) signatures, replay window, malformed pushes."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import pytest

from crowdsms.errors import CrowdSMSError
from crowdsms.providers.submail import (
    SubmailDelivered,
    SubmailDropped,
    SubmailReply,
    SubmailRequest,
    SubmailSending,
    SubmailTemplateAccepted,
    SubmailTemplateRejected,
    SubmailUnknownStatus,
    SubmailWebhook,
)
from crowdsms.webhooks import (
    DeliveryEvent,
    DeliveryOutcome,
    UnknownEvent,
    WebhookFormatError,
    WebhookReplayError,
    WebhookSignatureError,
)

from .pushes import FORM, JSON, NOW, SUBMAIL_KEY, as_json, clock, form, submail_fields

CHINA = timezone(timedelta(hours=8))


def receiver(**options) -> SubmailWebhook:
    return SubmailWebhook(key=SUBMAIL_KEY, clock=clock, **options)


def test_a_documented_signature_vector_is_accepted():
    # md5 of the hand-written string token + key, computed independently of crowdsms.
    token = "067ef7e2f286a9a56eabb07dc9657852"
    signature = hashlib.md5(b"067ef7e2f286a9a56eabb07dc9657852" + b"abc123").hexdigest()
    body = form(
        {
            "events": "request",
            "app": "10000",
            "timestamp": NOW,
            "token": token,
            "signature": signature,
        }
    )
    [event] = SubmailWebhook(key="abc123", clock=clock).parse(FORM, body)
    assert isinstance(event, SubmailRequest)


def test_a_form_delivered_push_becomes_a_typed_event():
    fields = submail_fields(
        "delivered",
        address="13800138000",
        app="88000",
        send_id="093c0a7df143c087d6cba9cdf0cf3738",
        operator="中国移动",
        location="上海 上海",
        tag="camp-1",
    )
    [event] = receiver().parse(FORM, form(fields))
    assert event == SubmailDelivered(
        provider="submail",
        kind="delivered",
        message_id="093c0a7df143c087d6cba9cdf0cf3738",
        phone="13800138000",
        occurred_at=datetime.fromtimestamp(NOW, timezone.utc),
        outcome=DeliveryOutcome.DELIVERED,
        app="88000",
        tag="camp-1",
        operator="中国移动",
        location="上海 上海",
    )
    assert event.delivered
    assert isinstance(event, DeliveryEvent)
    assert event.raw["token"] == fields["token"]
    assert event.raw["address"] == "13800138000"


def test_a_json_push_with_numbers_is_read_the_same():
    fields = submail_fields(
        "dropped", address="13800138000", app=88000, send_id="abc", report="UNDELIV"
    )
    [event] = receiver().parse(JSON, as_json(fields))
    assert isinstance(event, SubmailDropped)
    assert (event.app, event.report, event.outcome, event.delivered) == (
        "88000",
        "UNDELIV",
        DeliveryOutcome.FAILED,
        False,
    )


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("request", SubmailRequest),
        ("resquest", SubmailRequest),  # as misspelled in SUBMAIL's own event table
        ("sending", SubmailSending),
        ("delivered", SubmailDelivered),
        ("dropped", SubmailDropped),
        ("unknown", SubmailUnknownStatus),
        ("unkown", SubmailUnknownStatus),
        ("mo", SubmailReply),
        ("template_accept", SubmailTemplateAccepted),
        ("template_reject", SubmailTemplateRejected),
    ],
)
def test_every_documented_event_has_its_class(name, cls):
    [event] = receiver().parse(FORM, form(submail_fields(name, address="13800138000")))
    assert type(event) is cls
    assert event.kind == name


def test_unknown_status_is_a_delivery_event_with_an_unknown_outcome():
    [event] = receiver().parse(
        FORM, form(submail_fields("unknown", send_id="s1", report="NOREPORT"))
    )
    assert isinstance(event, SubmailUnknownStatus)
    assert (event.outcome, event.report, event.message_id) == (
        DeliveryOutcome.UNKNOWN,
        "NOREPORT",
        "s1",
    )


def test_a_reply_carries_its_content():
    fields = submail_fields("mo", address="13800138000", app="88000", content="好的，收到")
    [event] = receiver().parse(FORM, form(fields))
    assert event == SubmailReply(
        provider="submail",
        kind="mo",
        phone="13800138000",
        content="好的，收到",
        occurred_at=datetime.fromtimestamp(NOW, timezone.utc),
        app="88000",
    )


def test_template_events_carry_the_template_and_reason():
    fields = submail_fields("template_reject", template_id="T42", reason="签名不符")
    [event] = receiver().parse(JSON, as_json(fields))
    assert isinstance(event, SubmailTemplateRejected)
    assert (event.template_id, event.reason) == ("T42", "签名不符")


def test_an_unknown_event_kind_is_passed_through_with_its_fields():
    fields = submail_fields("clicked", address="13800138000", extra_field="kept")
    [event] = receiver().parse(FORM, form(fields))
    assert type(event) is UnknownEvent
    assert (event.provider, event.kind) == ("submail", "clicked")
    assert event.raw["extra_field"] == "kept"


def test_the_singular_event_field_is_read_too():
    fields = submail_fields("delivered", send_id="s1")
    fields["event"] = fields.pop("events")
    [event] = receiver().parse(JSON, as_json(fields))
    assert isinstance(event, SubmailDelivered)


def test_a_json_array_of_pushes_gives_one_event_each():
    first = submail_fields("delivered", token="a" * 32, send_id="s1")
    second = submail_fields("dropped", token="b" * 32, send_id="s2")
    events = receiver().parse(JSON, as_json([first, second]))
    assert [(type(e), e.message_id) for e in events] == [
        (SubmailDelivered, "s1"),
        (SubmailDropped, "s2"),
    ]


def test_unknown_fields_are_kept_in_raw_and_odd_types_do_not_lose_the_event():
    fields = submail_fields("delivered", send_id="s1", tag=["not", "text"], new_field={"a": 1})
    [event] = receiver().parse(JSON, as_json(fields))
    assert event.tag is None
    assert event.raw["tag"] == ["not", "text"]
    assert event.raw["new_field"] == {"a": 1}


def test_the_datetime_field_is_used_when_there_is_no_timestamp():
    fields = submail_fields("delivered", timestamp=None, datetime="2017-01-01 08:00:00")
    [event] = receiver(require_timestamp=False).parse(FORM, form(fields))
    assert event.occurred_at == datetime(2017, 1, 1, 8, 0, tzinfo=CHINA)


# -- forged -----------------------------------------------------------------------------------


def test_a_push_signed_with_another_key_is_refused():
    fields = submail_fields("delivered", key="some-other-key")
    with pytest.raises(WebhookSignatureError) as caught:
        receiver().parse(FORM, form(fields))
    assert caught.value.status_code == 403
    assert isinstance(caught.value, CrowdSMSError)
    assert "md5(token + key)" in str(caught.value)
    assert SUBMAIL_KEY not in str(caught.value)


def test_a_push_whose_token_was_changed_is_refused():
    fields = submail_fields("delivered")
    fields["token"] = "f" * 32
    with pytest.raises(WebhookSignatureError):
        receiver().parse(FORM, form(fields))


def test_an_upper_case_signature_is_accepted():
    fields = submail_fields("delivered")
    fields["signature"] = fields["signature"].upper()
    assert len(receiver().parse(FORM, form(fields))) == 1


def test_one_forged_item_refuses_the_whole_array():
    good = submail_fields("delivered", token="a" * 32)
    forged = submail_fields("delivered", token="b" * 32, key="wrong")
    hook = receiver()
    with pytest.raises(WebhookSignatureError):
        hook.parse(JSON, as_json([good, forged]))
    # Nothing was remembered: the genuine push alone is still accepted.
    assert len(hook.parse(JSON, as_json(good))) == 1


# -- replayed ---------------------------------------------------------------------------------


def test_an_exact_replay_is_refused():
    hook = receiver()
    body = form(submail_fields("delivered"))
    assert len(hook.parse(FORM, body)) == 1
    with pytest.raises(WebhookReplayError) as caught:
        hook.parse(FORM, body)
    assert caught.value.duplicate
    assert caught.value.status_code == 409


def test_a_replay_with_a_fresh_unsigned_timestamp_is_still_refused():
    hook = receiver()
    hook.parse(FORM, form(submail_fields("delivered", timestamp=NOW - 60)))
    with pytest.raises(WebhookReplayError):
        hook.parse(FORM, form(submail_fields("delivered", timestamp=NOW)))


@pytest.mark.parametrize("spelling", [str.upper, lambda s: f" {s}", lambda s: f"{s}\n"])
def test_a_replay_with_the_signature_spelled_otherwise_is_still_refused(spelling):
    hook = receiver()
    fields = submail_fields("delivered")
    hook.parse(FORM, form(fields))
    respelled = {**fields, "events": "dropped", "signature": spelling(fields["signature"])}
    with pytest.raises(WebhookReplayError) as caught:
        hook.parse(FORM, form(respelled))
    assert caught.value.duplicate


def test_a_push_twice_in_one_request_is_refused():
    fields = submail_fields("mo", address="13800138000", content="TD")
    with pytest.raises(WebhookReplayError, match="twice in one request"):
        receiver().parse(JSON, as_json([fields, fields]))


def test_a_push_forgotten_in_another_spelling_is_accepted_again():
    hook = receiver()
    fields = submail_fields("delivered")
    hook.parse(FORM, form(fields))
    hook.forget(FORM, form({**fields, "signature": fields["signature"].upper()}))
    assert len(hook.parse(FORM, form(fields))) == 1


def test_a_forgotten_push_is_accepted_again():
    hook = receiver()
    body = form(submail_fields("delivered"))
    hook.parse(FORM, body)
    hook.forget(FORM, body)
    assert len(hook.parse(FORM, body)) == 1


@pytest.mark.parametrize(("offset", "word"), [(-601, "old"), (301, "future")])
def test_a_timestamp_outside_the_window_is_a_replay(offset, word):
    with pytest.raises(WebhookReplayError) as caught:
        receiver().parse(FORM, form(submail_fields("delivered", timestamp=NOW + offset)))
    assert not caught.value.duplicate
    assert caught.value.status_code == 403
    assert word in str(caught.value)


def test_the_window_edges_are_accepted_and_are_settings():
    assert receiver().parse(FORM, form(submail_fields(timestamp=NOW - 600, token="a" * 32)))
    assert receiver().parse(FORM, form(submail_fields(timestamp=NOW + 300, token="b" * 32)))
    strict = receiver(max_age=10, max_ahead=0)
    with pytest.raises(WebhookReplayError):
        strict.parse(FORM, form(submail_fields(timestamp=NOW - 11, token="c" * 32)))
    with pytest.raises(WebhookReplayError):
        strict.parse(FORM, form(submail_fields(timestamp=NOW + 1, token="d" * 32)))


def test_the_clock_is_injected():
    now = [float(NOW)]
    hook = SubmailWebhook(key=SUBMAIL_KEY, clock=lambda: now[0])
    body = form(submail_fields(timestamp=NOW))
    now[0] += 601
    with pytest.raises(WebhookReplayError):
        hook.parse(FORM, body)


def test_the_replay_memory_is_bounded():
    hook = receiver(replay_cache_size=2)
    bodies = [form(submail_fields(token=c * 32)) for c in "abc"]
    for body in bodies:
        hook.parse(FORM, body)
    assert len(hook.parse(FORM, bodies[0])) == 1  # the oldest pair was forgotten
    with pytest.raises(WebhookReplayError):
        hook.parse(FORM, bodies[2])


# -- malformed --------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["token", "signature"])
def test_a_push_without_token_or_signature_is_malformed(missing):
    fields = submail_fields("delivered")
    del fields[missing]
    with pytest.raises(WebhookFormatError) as caught:
        receiver().parse(FORM, form(fields))
    assert caught.value.status_code == 400
    assert repr(missing) in str(caught.value)


def test_a_push_without_timestamp_is_malformed_unless_allowed():
    body = form(submail_fields("delivered", timestamp=None))
    with pytest.raises(WebhookFormatError, match="require_timestamp=False"):
        receiver().parse(FORM, body)
    assert len(receiver(require_timestamp=False).parse(FORM, body)) == 1


def test_a_timestamp_that_is_not_a_number_is_malformed():
    with pytest.raises(WebhookFormatError, match="'timestamp' is not a Unix timestamp"):
        receiver().parse(FORM, form(submail_fields("delivered", timestamp="yesterday")))


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        (JSON, b"{not json"),
        (JSON, b'"a string"'),
        (JSON, b"[1, 2]"),
        (JSON, b"[]"),
        (FORM, b""),
        ({}, b"   "),
    ],
)
def test_bodies_that_are_not_pushes_are_malformed(headers, body):
    with pytest.raises(WebhookFormatError) as caught:
        receiver().parse(headers, body)
    assert str(caught.value).startswith("submail webhook: ")
    assert caught.value.action


def test_a_token_sent_twice_in_a_form_is_malformed():
    body = form(submail_fields("delivered")) + b"&token=other"
    with pytest.raises(WebhookFormatError, match="'token' is not a string"):
        receiver().parse(FORM, body)


def test_a_bad_key_is_a_configuration_error():
    from crowdsms.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        SubmailWebhook(key="")
    with pytest.raises(ConfigurationError):
        SubmailWebhook(key=b"bytes")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        SubmailWebhook(key="k", replay_cache_size=0)
    with pytest.raises(ConfigurationError):
        SubmailWebhook(key="k", max_age=-1)
