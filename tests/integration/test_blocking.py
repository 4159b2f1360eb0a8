"""The blocking clients against a sandbox served in a background thread, once each."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crowdsms import (
    ClientOptions,
    CrowdTask,
    Paasw,
    Recipient,
    RetryPolicy,
    SendCloud,
    Submail,
)
from crowdsms.providers.paasw import SmsKind
from crowdsms.sandbox import Sandbox, serve_in_thread
from crowdsms.sandbox.emulators.crowdtask import CROWDTASK_ACCESS_ID, CROWDTASK_SECRET
from crowdsms.sandbox.emulators.paasw import PAASW_APP_ID, PAASW_SECRET
from crowdsms.sandbox.emulators.sendcloud import SENDCLOUD_SMS_KEY, SENDCLOUD_SMS_USER
from crowdsms.sandbox.emulators.submail import SUBMAIL_APPID, SUBMAIL_APPKEY

from .support import TIME_LIMIT, assert_no_secret

# Blocking calls cannot sit under anyio.fail_after: the clients' own limits bound them.
BOUNDED: ClientOptions = {"timeout": 5.0, "retry_policy": RetryPolicy(total_timeout=TIME_LIMIT)}


@pytest.fixture
def threaded() -> Iterator[Sandbox]:
    """A sandbox on its own event loop thread, stopped after the test."""
    with serve_in_thread() as sandbox:
        yield sandbox


def test_blocking_submail(threaded: Sandbox):
    with Submail(
        app_id=SUBMAIL_APPID,
        app_key=SUBMAIL_APPKEY,
        base_url=threaded.base_url("submail"),
        **BOUNDED,
    ) as client:
        result = client.sms.multisend(
            content="【沙箱】@var(name)您好。",
            recipients=[Recipient("13800138000", {"name": "李雷"})],
        )
        timestamp = client.service.timestamp()
    assert result.all_sent
    assert [(e.phone, e.content) for e in threaded.ledger] == [
        ("13800138000", "【沙箱】李雷您好。")
    ]
    assert abs(timestamp - threaded.clock.now()) <= 2
    assert_no_secret(client, result)


def test_blocking_sendcloud(threaded: Sandbox):
    with SendCloud(
        sms_user=SENDCLOUD_SMS_USER,
        sms_key=SENDCLOUD_SMS_KEY,
        base_url=threaded.base_url("sendcloud"),
        **BOUNDED,
    ) as client:
        result = client.sms.send(template_id=1, phones=["13800138000"], vars={"code": "42"})
    assert result.all_sent
    assert threaded.ledger.phones() == ["13800138000"]
    assert_no_secret(client, result)


def test_blocking_crowdtask(threaded: Sandbox):
    with CrowdTask(
        access_id=CROWDTASK_ACCESS_ID,
        access_secret_key=CROWDTASK_SECRET,
        base_url=threaded.base_url("crowdtask"),
        **BOUNDED,
    ) as client:
        result = client.tasks.batch(project_id=5, rows=[{"q": "a b"}, {"q": 'c "d"'}])
    assert result.task_count == 2
    assert [dict(entry.vars) for entry in threaded.ledger] == [{"q": "a b"}, {"q": 'c "d"'}]
    assert_no_secret(client, result)


def test_blocking_paasw(threaded: Sandbox):
    with Paasw(
        app_id=PAASW_APP_ID,
        secret=PAASW_SECRET,
        base_url=threaded.base_url("paasw"),
        **BOUNDED,
    ) as client:
        sent = client.sms.send(
            phones=["13800138000"], sign="沙箱", content="【沙箱】你好。", kind=SmsKind.NOTICE
        )
        reports = client.reports.pull_deliveries()
        balance = client.account.balance()
    assert [(r.phone, r.biz_id) for r in reports] == [("13800138000", sent.biz_id)]
    assert balance.balance == threaded.balance("paasw")
    assert threaded.ledger.phones() == ["13800138000"]
    assert_no_secret(client, sent, balance)
