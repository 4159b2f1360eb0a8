"""The provider-neutral ``reference`` and ``carrier_code`` of message and delivery events."""

from __future__ import annotations

import pytest

from crowdsms.providers.paasw import PaaswWebhook
from crowdsms.providers.submail import (
    SubmailDelivered,
    SubmailDropped,
    SubmailReply,
    SubmailRequest,
    SubmailSending,
    SubmailUnknownStatus,
    SubmailWebhook,
)
from crowdsms.webhooks import DeliveryEvent, DeliveryOutcome, MessageEvent

from .pushes import FORM, JSON, SUBMAIL_KEY, as_json, clock, form, submail_fields


def submail(name: str, **fields: str) -> object:
    [event] = SubmailWebhook(key=SUBMAIL_KEY, clock=clock).parse(
        FORM, form(submail_fields(name, address="13800138000", send_id="s1", **fields))
    )
    return event


def test_the_bases_have_no_reference_and_no_carrier_code():
    message = MessageEvent(provider="x", kind="k", message_id="m", phone="13800138000")
    failed = DeliveryEvent(provider="x", kind="k", outcome=DeliveryOutcome.FAILED)
    assert (message.reference, failed.reference, failed.carrier_code) == (None, None, None)


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("request", SubmailRequest),
        ("sending", SubmailSending),
        ("delivered", SubmailDelivered),
        ("dropped", SubmailDropped),
        ("unknown", SubmailUnknownStatus),
    ],
)
def test_a_subhook_events_reference_is_its_tag(name, cls):
    event = submail(name, tag="job-7.c3")
    assert type(event) is cls
    assert isinstance(event, MessageEvent)
    assert (event.reference, event.tag) == ("job-7.c3", "job-7.c3")
    untagged = submail(name, token="f" * 32)
    assert isinstance(untagged, MessageEvent)
    assert untagged.reference is None


def test_a_subhook_reply_has_no_reference():
    event = submail("mo", content="好的")
    assert isinstance(event, SubmailReply)
    assert not hasattr(event, "reference")


@pytest.mark.parametrize("name", ["dropped", "unknown"])
def test_an_undelivered_subhook_events_carrier_code_is_its_report(name):
    event = submail(name, report="UNDELIV")
    assert isinstance(event, DeliveryEvent)
    assert event.carrier_code == "UNDELIV"
    assert submail(name, token="e" * 32).carrier_code is None


def test_a_delivered_subhook_event_has_no_carrier_code():
    event = submail("delivered", report="DELIVRD")
    assert isinstance(event, DeliveryEvent)
    assert event.carrier_code is None


def test_a_paasw_reports_carrier_code_is_its_code_unless_delivered():
    reports = [
        {"phoneNumber": "13800138000", "code": "10000", "success": True, "bizId": "b"},
        {"phoneNumber": "13800138001", "code": 7, "success": False, "bizId": "b"},
        {"phoneNumber": "13800138002", "code": "1", "success": False, "bizId": "b"},
    ]
    events = PaaswWebhook().parse_deliveries(JSON, as_json(reports))
    assert all(isinstance(event, DeliveryEvent) for event in events)
    assert [(e.phone, e.carrier_code, e.reference) for e in events] == [
        ("13800138000", None, None),
        ("13800138001", "7", None),
        ("13800138002", "1", None),
    ]
