"""The fault log: every injected fault in order, and what a faulted request really sent."""

from __future__ import annotations

import json

import httpx
import pytest

from crowdsms.sandbox import FaultKind, FaultRecord, FaultSettings, Sandbox, _fault_log
from crowdsms.sandbox._fault_log import FaultLog, collecting_phones, note_phone
from crowdsms.sandbox.emulators.sendcloud import SENDCLOUD_SMS_KEY, SENDCLOUD_SMS_USER
from crowdsms.sandbox.emulators.submail import SUBMAIL_APPID, SUBMAIL_APPKEY

from . import signing

MULTISEND = "/submail/sms/multisend"
LOST = (httpx.RemoteProtocolError, httpx.ReadError)


def multisend(*phones: str) -> dict[str, str]:
    multi = json.dumps([{"to": phone} for phone in phones])
    return signing.submail_request(
        SUBMAIL_APPID, SUBMAIL_APPKEY, content="【沙箱】你好", multi=multi
    )


@pytest.mark.asyncio
async def test_a_drop_after_lists_exactly_the_numbers_its_request_sent(
    sandbox: Sandbox, client: httpx.AsyncClient
):
    await client.post(MULTISEND, data=multisend("13800138009"))  # sent before: not listed
    sandbox.configure(blocked_numbers={"13800138002"})
    sandbox.force_fault(FaultKind.DROP_AFTER, path="multisend")
    before = sandbox.clock.now()
    with pytest.raises(LOST):
        await client.post(
            MULTISEND, data=multisend("13800138000", "13800138001", "13800138002", "42")
        )
    after = sandbox.clock.now()
    await client.post(MULTISEND, data=multisend("13800138010"))  # sent after: not listed
    [record] = sandbox.fault_log()
    dropped = sandbox.ledger.entries(provider="submail")[1:-1]
    assert record.phones == tuple(entry.phone for entry in dropped)
    assert record.phones == ("13800138000", "13800138001")  # refused numbers were not sent
    assert (record.kind, record.provider, record.path, record.processed) == (
        FaultKind.DROP_AFTER,
        "submail",
        MULTISEND,
        True,
    )
    assert before <= record.time <= after


@pytest.mark.asyncio
async def test_faults_before_processing_list_no_numbers(
    sandbox: Sandbox, client: httpx.AsyncClient
):
    sandbox.force_fault(FaultKind.DROP)
    sandbox.force_fault(FaultKind.REJECT)
    sandbox.force_fault(FaultKind.RATE_LIMIT)
    sandbox.force_fault(FaultKind.DROP_AFTER)
    with pytest.raises(LOST):
        await client.post(MULTISEND, data=multisend("13800138000"))
    assert (await client.post(MULTISEND, data=multisend("13800138001"))).status_code == 503
    assert (await client.post(MULTISEND, data=multisend("13800138002"))).status_code == 429
    with pytest.raises(LOST):
        await client.post(MULTISEND, data=multisend("13800138003"))
    log = sandbox.fault_log()
    assert [(r.kind, r.processed, r.phones) for r in log] == [
        (FaultKind.DROP, False, ()),
        (FaultKind.REJECT, False, ()),
        (FaultKind.RATE_LIMIT, False, ()),
        (FaultKind.DROP_AFTER, True, ("13800138003",)),
    ]
    assert sandbox.ledger.phones() == ["13800138003"]
    assert sandbox.state.fault_log() == log


@pytest.mark.asyncio
async def test_a_slow_answer_is_logged_with_what_it_sent(
    sandbox: Sandbox, client: httpx.AsyncClient
):
    sandbox.set_faults(FaultSettings(slow_seconds=0.0))
    sandbox.force_fault(FaultKind.SLOW, provider="sendcloud")
    data = signing.sendcloud_request(
        SENDCLOUD_SMS_USER, SENDCLOUD_SMS_KEY, templateId="1", phone="13800138000,13800138001"
    )
    answer = (await client.post("/sendcloud/smsapi/send", data=data)).json()
    [record] = sandbox.fault_log()
    assert answer["statusCode"] == 200
    assert (record.kind, record.provider, record.processed) == (FaultKind.SLOW, "sendcloud", True)
    assert record.phones == ("13800138000", "13800138001")


@pytest.mark.asyncio
async def test_the_fault_log_over_http(sandbox: Sandbox, client: httpx.AsyncClient):
    sandbox.force_fault(FaultKind.REJECT)
    sandbox.force_fault(FaultKind.DROP)
    sandbox.force_fault(FaultKind.DROP_AFTER)
    await client.post(MULTISEND, data=multisend("13800138000"))
    with pytest.raises(LOST):
        await client.post(MULTISEND, data=multisend("13800138001"))
    with pytest.raises(LOST):
        await client.post(MULTISEND, data=multisend("13800138002"))
    sandbox.force_fault(FaultKind.REJECT, count=2)  # still to come: not in the log
    got = (await client.get("/_sandbox/faults")).json()
    assert got["pending"] == 2
    assert got["settings"] == sandbox.faults.settings.to_json()
    assert [
        (r["kind"], r["provider"], r["path"], r["processed"], r["phones"]) for r in got["log"]
    ] == [
        ("reject", "submail", MULTISEND, False, []),
        ("drop", "submail", MULTISEND, False, []),
        ("drop_after", "submail", MULTISEND, True, ["13800138002"]),
    ]


@pytest.mark.asyncio
async def test_a_request_without_a_fault_is_not_logged(sandbox: Sandbox, client: httpx.AsyncClient):
    await client.post(MULTISEND, data=multisend("13800138000"))
    assert sandbox.fault_log() == []
    got = (await client.get("/_sandbox/faults")).json()
    assert got["log"] == []


# -- the log itself --------------------------------------------------------------------------


def record(number: int) -> FaultRecord:
    return FaultRecord(
        kind=FaultKind.DROP_AFTER, provider="p", path=f"/p/{number}", time=0.0, processed=True
    )


def test_numbers_are_collected_only_inside_a_collection():
    note_phone("13800138000")
    with collecting_phones() as outer:
        note_phone("13800138001")
        note_phone(None)
        with collecting_phones() as inner:
            note_phone("13800138002")
        note_phone("13800138003")
    note_phone("13800138004")
    assert (outer, inner) == (["13800138001", "13800138003"], ["13800138002"])


def test_the_log_keeps_the_latest_records_and_completes_by_number(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setattr(_fault_log, "_KEPT", 10)
    log = FaultLog()
    numbers = [log.add(record(i)) for i in range(12)]  # over 11: back to the latest 10
    log.complete(numbers[5], ("13800138005",))
    assert numbers == list(range(12))
    later = log.add(record(12))
    log.complete(numbers[0], ("13800138000",))  # forgotten: nothing to complete
    log.complete(later, ("13800138012",))
    kept = log.records()
    assert [r.path for r in kept] == [f"/p/{i}" for i in range(2, 13)]
    assert {r.path: r.phones for r in kept if r.phones} == {
        "/p/5": ("13800138005",),
        "/p/12": ("13800138012",),
    }
    log.clear()
    assert (log.records(), log.add(record(13))) == ([], 13)
