"""The ASGI app, driven through httpx.ASGITransport: status codes, acks, dispatch, failures."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from crowdsms.errors import ConfigurationError
from crowdsms.providers.paasw import PaaswDeliveryReport, PaaswReply, PaaswWebhook
from crowdsms.providers.sendcloud import SendCloudDelivered, SendCloudWebhook
from crowdsms.providers.submail import (
    SubmailDelivered,
    SubmailDropped,
    SubmailReply,
    SubmailSending,
    SubmailWebhook,
)
from crowdsms.webhooks import (
    DeliveryEvent,
    Event,
    MemoryReplayStore,
    MessageEvent,
    PushState,
    ReplyEvent,
    UnknownEvent,
    WebhookApp,
)

from .pushes import (
    FORM,
    JSON,
    NOW,
    SENDCLOUD_KEY,
    SUBMAIL_KEY,
    as_json,
    clock,
    form,
    sendcloud_fields,
    submail_fields,
)

REPORTS = [
    {"phoneNumber": "13900000001", "code": "10000", "success": True, "bizId": "B1"},
    {"phone_number": "13900000002", "code": "4", "success": False, "biz_id": "B1"},
    {"phoneNumber": "13900000003", "code": 10000, "bizId": "B1", "smsSize": "2"},
]


class Recorder:
    """An async handler that records its events and can be told to fail."""

    def __init__(self, fail: int = 0) -> None:
        self.events: list[Event] = []
        self.fail = fail

    async def __call__(self, event: Event) -> None:
        self.events.append(event)
        if self.fail:
            self.fail -= 1
            raise RuntimeError("the database is down")


def make_app(recorder: Recorder, **options) -> WebhookApp:
    options.setdefault("on_event", recorder)
    return WebhookApp(
        submail=SubmailWebhook(key=SUBMAIL_KEY, clock=clock),
        sendcloud=SendCloudWebhook(key=SENDCLOUD_KEY, clock=clock),
        paasw=PaaswWebhook(),
        **options,
    )


def client_for(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hooks")


@pytest.mark.asyncio
async def test_a_submail_push_is_handled_once_and_acknowledged():
    recorder = Recorder()
    async with client_for(make_app(recorder)) as client:
        fields = submail_fields("delivered", send_id="s1", address="13800138000")
        response = await client.post("/submail", content=form(fields), headers=FORM)
    assert (response.status_code, response.text) == (200, "success")
    assert response.headers["content-type"].startswith("text/plain")
    [event] = recorder.events
    assert isinstance(event, SubmailDelivered)
    assert (event.message_id, event.phone) == ("s1", "13800138000")


@pytest.mark.asyncio
async def test_a_sendcloud_push_is_handled_and_acknowledged():
    recorder = Recorder()
    async with client_for(make_app(recorder)) as client:
        fields = sendcloud_fields("deliver", smsId="x$13800138000")
        response = await client.post("/sendcloud", content=as_json(fields), headers=JSON)
    assert (response.status_code, response.text) == (200, "success")
    assert [type(e) for e in recorder.events] == [SendCloudDelivered]


@pytest.mark.asyncio
async def test_paasw_reports_in_both_cases_get_one_call_each_and_the_seed_ack():
    recorder = Recorder()
    async with client_for(make_app(recorder)) as client:
        response = await client.post("/paasw/deliver", content=as_json(REPORTS), headers=JSON)
    assert response.status_code == 200
    assert response.json() == {"code": 10000, "msg": "操作成功"}
    assert response.headers["content-type"].startswith("application/json")
    assert [(type(e), e.phone) for e in recorder.events] == [
        (PaaswDeliveryReport, "13900000001"),
        (PaaswDeliveryReport, "13900000002"),
        (PaaswDeliveryReport, "13900000003"),
    ]
    assert [e.delivered for e in recorder.events if isinstance(e, DeliveryEvent)] == [
        True,
        False,
        True,
    ]


@pytest.mark.asyncio
async def test_a_paasw_push_with_an_odd_report_is_acknowledged_with_all_its_reports():
    recorder = Recorder()
    odd = [
        {"phoneNumber": "13900000004", "code": "1", "smsSize": "", "success": 0},
        {"phoneNumber": "13900000005", "success": False},  # no code: not a report
    ]
    async with client_for(make_app(recorder)) as client:
        body = as_json([*REPORTS, *odd])
        response = await client.post("/paasw/deliver", content=body, headers=JSON)
    assert response.status_code == 200, response.text
    assert response.json() == {"code": 10000, "msg": "操作成功"}
    assert [(type(e), e.raw.get("phoneNumber")) for e in recorder.events][-2:] == [
        (PaaswDeliveryReport, "13900000004"),
        (UnknownEvent, "13900000005"),
    ]
    assert len(recorder.events) == 5


@pytest.mark.asyncio
async def test_paasw_replies_get_the_reply_ack():
    recorder = Recorder()
    replies = [{"phone_number": "18612345678", "content": "好", "sequence_id": 5}]
    async with client_for(make_app(recorder)) as client:
        response = await client.post("/paasw/replies", content=as_json(replies), headers=JSON)
    assert response.status_code == 200
    assert response.json() == {"code": "10000", "msg": "请求成功"}
    [event] = recorder.events
    assert isinstance(event, PaaswReply)
    assert (event.phone, event.content, event.sequence_id) == ("18612345678", "好", "5")


@pytest.mark.asyncio
async def test_a_forged_push_is_403_and_no_handler_is_called(caplog):
    recorder = Recorder()
    async with client_for(make_app(recorder)) as client:
        forged = submail_fields("delivered", key="guessed-key")
        response = await client.post("/submail", content=form(forged), headers=FORM)
        forged_sc = sendcloud_fields("deliver", key="guessed-key")
        response_sc = await client.post("/sendcloud", content=form(forged_sc), headers=FORM)
    assert response.status_code == response_sc.status_code == 403
    assert "signature does not match" in response.text
    assert recorder.events == []
    warnings = [r for r in caplog.records if r.name == "crowdsms.webhooks"]
    assert [r.levelno for r in warnings] == [logging.WARNING, logging.WARNING]


@pytest.mark.parametrize(
    ("path", "body", "reason"),
    [
        ("/submail", b"{broken", "not valid UTF-8 JSON"),
        ("/submail", b"events=delivered&timestamp=1", "'token' is missing"),
        ("/sendcloud", b"", "empty"),
        ("/paasw/deliver", b'[{"code": "1"}]', "expected fields"),
        ("/paasw/replies", b"<html></html>", "not valid UTF-8 JSON"),
    ],
)
@pytest.mark.asyncio
async def test_a_malformed_push_is_400_with_a_reason(path, body, reason):
    recorder = Recorder()
    async with client_for(make_app(recorder)) as client:
        response = await client.post(path, content=body)
    assert response.status_code == 400
    assert reason in response.text
    assert recorder.events == []


@pytest.mark.asyncio
async def test_a_retry_of_a_handled_push_is_acknowledged_and_not_handled_again():
    recorder = Recorder()
    body = form(submail_fields("delivered", send_id="s1"))
    async with client_for(make_app(recorder)) as client:
        first = await client.post("/submail", content=body, headers=FORM)
        retry = await client.post("/submail", content=body, headers=FORM)
    assert (first.status_code, first.text) == (200, "success")
    assert (retry.status_code, retry.text) == (200, "success")  # the ack, not a 409
    assert len(recorder.events) == 1


@pytest.mark.asyncio
async def test_a_copy_with_other_fields_of_a_handled_push_is_not_handled():
    recorder = Recorder()
    genuine = submail_fields("delivered", send_id="s1")
    forged = {**genuine, "events": "mo", "address": "13900009999", "content": "T"}
    async with client_for(make_app(recorder)) as client:
        await client.post("/submail", content=form(genuine), headers=FORM)
        response = await client.post("/submail", content=form(forged), headers=FORM)
    assert response.status_code == 200
    assert [type(event) for event in recorder.events] == [SubmailDelivered]


@pytest.mark.asyncio
async def test_a_copy_of_a_push_being_handled_gets_503_and_retry_after():
    started, go_on = anyio.Event(), anyio.Event()
    calls: list[Event] = []

    async def slow(event: Event) -> None:
        calls.append(event)
        started.set()
        await go_on.wait()

    body = form(submail_fields("delivered", send_id="s1"))
    answers: list[httpx.Response] = []
    async with client_for(make_app(Recorder(), on_event=slow)) as client:

        async def post() -> None:
            answers.append(await client.post("/submail", content=body, headers=FORM))

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(post)
            await started.wait()
            copy = await client.post("/submail", content=body, headers=FORM)
            go_on.set()
        retry = await client.post("/submail", content=body, headers=FORM)
    assert copy.status_code == 503
    assert copy.headers["retry-after"] == "30"
    assert "being handled" in copy.text
    assert [answer.status_code for answer in answers] == [200]
    assert retry.status_code == 200
    assert len(calls) == 1


@pytest.mark.asyncio
async def test_a_request_with_the_same_push_twice_is_409_and_not_handled():
    recorder = Recorder()
    fields = submail_fields("mo", address="13800138000", content="TD")
    async with client_for(make_app(recorder)) as client:
        response = await client.post("/submail", content=as_json([fields, fields]), headers=JSON)
    assert response.status_code == 409
    assert recorder.events == []


@pytest.mark.asyncio
async def test_only_the_new_pushes_of_a_request_are_handled():
    recorder = Recorder()
    old = submail_fields("delivered", send_id="s1", token="a" * 32)
    new = submail_fields("delivered", send_id="s2", token="b" * 32)
    async with client_for(make_app(recorder)) as client:
        await client.post("/submail", content=as_json(old), headers=JSON)
        response = await client.post("/submail", content=as_json([old, new]), headers=JSON)
    assert response.status_code == 200
    assert [event.message_id for event in recorder.events] == ["s1", "s2"]


@pytest.mark.asyncio
async def test_a_replay_store_that_fails_gives_503_and_nothing_is_handled(caplog):
    class Down(MemoryReplayStore):
        async def claim_push(self, key: str, *, owner: str, lease: float) -> PushState:
            raise ConnectionError("redis is down")

    recorder = Recorder()
    async with client_for(make_app(recorder, replay=Down())) as client:
        response = await client.post("/submail", content=form(submail_fields()), headers=FORM)
    assert response.status_code == 503
    assert "retry-after" in response.headers
    assert "redis is down" not in response.text
    assert recorder.events == []


@pytest.mark.asyncio
async def test_workers_sharing_a_replay_store_handle_a_push_once():
    store = MemoryReplayStore()
    one, two = Recorder(), Recorder()
    body = form(submail_fields("delivered", send_id="s1"))
    async with client_for(make_app(one, replay=store)) as first:
        assert (await first.post("/submail", content=body, headers=FORM)).status_code == 200
    async with client_for(make_app(two, replay=store)) as second:
        assert (await second.post("/submail", content=body, headers=FORM)).status_code == 200
    assert (len(one.events), len(two.events)) == (1, 0)


@pytest.mark.asyncio
async def test_a_stale_push_is_403():
    recorder = Recorder()
    async with client_for(make_app(recorder)) as client:
        stale = sendcloud_fields("deliver", timestamp=(NOW - 3600) * 1000)
        response = await client.post("/sendcloud", content=form(stale), headers=FORM)
    assert response.status_code == 403
    assert "old" in response.text
    assert recorder.events == []


@pytest.mark.asyncio
async def test_a_failing_handler_gives_500_is_logged_and_the_retry_is_accepted(caplog):
    recorder = Recorder(fail=1)
    body = form(submail_fields("delivered", send_id="s1"))
    async with client_for(make_app(recorder)) as client:
        failed = await client.post("/submail", content=body, headers=FORM)
        retried = await client.post("/submail", content=body, headers=FORM)
    assert (failed.status_code, retried.status_code) == (500, 200)
    assert "the database is down" not in failed.text
    assert [e.message_id for e in recorder.events] == ["s1", "s1"]
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.name == "crowdsms.webhooks"
    assert record.exc_info is not None
    assert "the database is down" in str(record.exc_info[1])


@pytest.mark.asyncio
async def test_a_failure_midway_stops_the_push_and_nothing_is_acknowledged():
    calls: list[str] = []

    async def handler(event: DeliveryEvent) -> None:
        calls.append(event.phone or "")
        if event.phone == "13900000002":
            raise ValueError("cannot store")

    app = WebhookApp(paasw=PaaswWebhook(), handlers={DeliveryEvent: handler})
    async with client_for(app) as client:
        response = await client.post("/paasw/deliver", content=as_json(REPORTS), headers=JSON)
    assert response.status_code == 500
    assert calls == ["13900000001", "13900000002"]


@pytest.mark.asyncio
async def test_per_type_handlers_take_precedence_over_on_event():
    deliveries, replies, others = Recorder(), Recorder(), Recorder()
    app = make_app(
        others,
        handlers={DeliveryEvent: deliveries, SubmailReply: replies},
    )
    async with client_for(app) as client:
        for fields in (
            submail_fields("delivered", token="a" * 32),
            submail_fields("mo", token="b" * 32, content="hi"),
            submail_fields("sending", token="c" * 32),
            submail_fields("clicked", token="d" * 32),
        ):
            response = await client.post("/submail", content=form(fields), headers=FORM)
            assert response.status_code == 200
    assert [e.kind for e in deliveries.events] == ["delivered"]
    assert [e.kind for e in replies.events] == ["mo"]
    assert [(type(e), e.kind) for e in others.events] == [
        (SubmailSending, "sending"),
        (UnknownEvent, "clicked"),
    ]
    assert isinstance(others.events[0], MessageEvent)


@pytest.mark.asyncio
async def test_the_most_specific_handler_wins():
    general, specific = Recorder(), Recorder()
    app = make_app(Recorder(), handlers={DeliveryEvent: general, SubmailDropped: specific})
    async with client_for(app) as client:
        for fields in (
            submail_fields("delivered", token="a" * 32),
            submail_fields("dropped", token="b" * 32),
        ):
            response = await client.post("/submail", content=form(fields), headers=FORM)
            assert response.status_code == 200
    assert [e.kind for e in general.events] == ["delivered"]
    assert [e.kind for e in specific.events] == ["dropped"]


@pytest.mark.asyncio
async def test_a_declared_length_over_the_limit_is_refused_before_reading():
    app = make_app(Recorder(), max_body_size=100)
    sent: list[dict] = []

    async def receive():
        raise AssertionError("the body must not be read")

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/submail",
        "headers": [(b"content-length", b"2000000")],
    }
    await app(scope, receive, send)
    assert sent[0]["status"] == 413


@pytest.mark.asyncio
async def test_events_without_a_handler_are_acknowledged():
    replies = Recorder()
    app = WebhookApp(
        submail=SubmailWebhook(key=SUBMAIL_KEY, clock=clock), handlers={ReplyEvent: replies}
    )
    async with client_for(app) as client:
        response = await client.post(
            "/submail", content=form(submail_fields("sending")), headers=FORM
        )
    assert response.status_code == 200
    assert replies.events == []
    assert app.handler_for(UnknownEvent(provider="submail", kind="x")) is None


@pytest.mark.asyncio
async def test_an_unknown_event_reaches_on_event():
    recorder = Recorder()
    fields = sendcloud_fields("templateVerify", templateId="9")
    async with client_for(make_app(recorder)) as client:
        response = await client.post("/sendcloud", content=form(fields), headers=FORM)
    assert response.status_code == 200
    [event] = recorder.events
    assert isinstance(event, UnknownEvent)
    assert event.raw["templateId"] == "9"


@pytest.mark.asyncio
async def test_a_body_over_the_limit_is_413():
    recorder = Recorder()
    app = make_app(recorder, max_body_size=100)
    big = form(submail_fields("delivered", content="x" * 200))

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 40):
            yield big[start : start + 40]

    async with client_for(app) as client:
        declared = await client.post("/submail", content=big, headers=FORM)
        streamed = await client.post("/submail", content=chunks(), headers=FORM)
    assert declared.status_code == streamed.status_code == 413
    assert "at most 100 bytes" in declared.text
    assert recorder.events == []


@pytest.mark.asyncio
async def test_the_default_limit_is_one_mebibyte():
    recorder = Recorder()
    body = b"[" + b" " * (1024 * 1024) + b"]"
    async with client_for(make_app(recorder)) as client:
        response = await client.post("/paasw/deliver", content=body, headers=JSON)
    assert response.status_code == 413


@pytest.mark.asyncio
async def test_other_paths_and_methods():
    async with client_for(make_app(Recorder())) as client:
        missing = await client.post("/nowhere", content=b"{}")
        put = await client.put("/submail", content=b"{}")
        get = await client.get("/sendcloud")
        head = await client.head("/paasw/deliver")
        slash = await client.get("/submail/")
    assert missing.status_code == 404
    assert put.status_code == 405
    assert put.headers["allow"] == "GET, HEAD, POST"
    assert (get.status_code, get.text) == (200, "ok\n")
    assert (head.status_code, head.content) == (200, b"")
    assert slash.status_code == 200


@pytest.mark.asyncio
async def test_paths_are_settings():
    recorder = Recorder()
    app = make_app(
        recorder,
        paths={"/submail": "/hooks/s-9f2c", "/paasw/deliver": "/p/d", "/paasw/replies": "/p/r"},
    )
    assert app.paths == {
        "/hooks/s-9f2c": "submail",
        "/sendcloud": "sendcloud",
        "/p/d": "paasw/deliver",
        "/p/r": "paasw/replies",
    }
    async with client_for(app) as client:
        old = await client.post("/submail", content=form(submail_fields()), headers=FORM)
        new = await client.post("/hooks/s-9f2c", content=form(submail_fields()), headers=FORM)
        report = await client.post("/p/d", content=as_json(REPORTS[:1]), headers=JSON)
    assert (old.status_code, new.status_code, report.status_code) == (404, 200, 200)


@pytest.mark.asyncio
async def test_mounted_in_starlette():
    recorder = Recorder()
    outer = Starlette(routes=[Mount("/webhooks", app=make_app(recorder))])
    async with client_for(outer) as client:
        response = await client.post(
            "/webhooks/paasw/replies",
            content=as_json([{"phoneNumber": "18612345678", "content": "hi"}]),
            headers=JSON,
        )
    assert response.status_code == 200
    assert response.json()["code"] == "10000"
    assert [e.phone for e in recorder.events] == ["18612345678"]


@pytest.mark.asyncio
async def test_lifespan_is_acknowledged():
    app = make_app(Recorder())
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict] = []

    async def receive():
        return incoming.pop(0)

    async def send(message):
        sent.append(message)

    await app({"type": "lifespan"}, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


def test_configuration_errors():
    async def handler(event: Event) -> None:
        return None

    def blocking(event: Event) -> None:
        return None

    submail = SubmailWebhook(key=SUBMAIL_KEY)
    with pytest.raises(ConfigurationError, match="at least one receiver"):
        WebhookApp(on_event=handler)
    with pytest.raises(ConfigurationError, match="no handler"):
        WebhookApp(submail=submail)
    with pytest.raises(ConfigurationError, match="async function"):
        WebhookApp(submail=submail, on_event=blocking)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="event classes"):
        WebhookApp(submail=submail, handlers={str: handler})  # type: ignore[dict-item]
    with pytest.raises(ConfigurationError, match="share the path"):
        WebhookApp(
            submail=submail,
            paasw=PaaswWebhook(),
            on_event=handler,
            paths={"/submail": "/paasw/deliver"},
        )
    with pytest.raises(ConfigurationError, match="starting with '/'"):
        WebhookApp(submail=submail, on_event=handler, paths={"/submail": "submail"})
    with pytest.raises(ConfigurationError, match="did you mean '/submail'"):
        WebhookApp(submail=submail, on_event=handler, paths={"/submial": "/x"})
    with pytest.raises(ConfigurationError, match="must be the sendcloud webhook receiver"):
        WebhookApp(sendcloud=submail, on_event=handler)
    with pytest.raises(ConfigurationError, match="must be the smbmail webhook receiver"):
        WebhookApp(smbmail=submail, on_event=handler)
    with pytest.raises(ConfigurationError, match="max_body_size"):
        WebhookApp(submail=submail, on_event=handler, max_body_size=0)
    with pytest.raises(ConfigurationError, match="replay store"):
        WebhookApp(submail=submail, on_event=handler, replay=object())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="replay_keep"):
        WebhookApp(submail=submail, on_event=handler, replay_keep=0)
    with pytest.raises(ConfigurationError, match="handling_lease"):
        WebhookApp(submail=submail, on_event=handler, handling_lease=float("inf"))


def test_the_acknowledgement_bodies():
    app = make_app(Recorder())
    assert repr(app).startswith("<WebhookApp /submail (submail)")
    paasw = PaaswWebhook()
    assert json.loads(paasw.deliveries.acknowledgement.body)["code"] == 10000
    assert SubmailWebhook(key="k").acknowledgement.body == b"success"
