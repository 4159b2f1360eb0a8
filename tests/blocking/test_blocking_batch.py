"""The batch sender from blocking code, on the blocking client's own event loop."""

from __future__ import annotations

import asyncio
from pathlib import Path

from crowdsms import OutcomeStatus, Recipient, SendCloud, Submail
from crowdsms.batch import BatchOutcome, BatchProgress
from crowdsms.sandbox import serve_in_thread
from crowdsms.sandbox.emulators.sendcloud import SENDCLOUD_SMS_KEY, SENDCLOUD_SMS_USER
from crowdsms.sandbox.emulators.submail import SUBMAIL_APPID, SUBMAIL_APPKEY


def test_blocking_client_runs_a_batch_on_its_loop(tmp_path: Path) -> None:
    seen: list[BatchOutcome] = []
    loops: set[asyncio.AbstractEventLoop] = set()

    async def running_loop() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    def progress(snapshot: BatchProgress) -> None:
        loops.add(asyncio.get_running_loop())

    recipients = [Recipient(f"1370013{i:04d}", {"name": f"n{i}"}) for i in range(230)]
    recipients.append(Recipient("not a number", {"name": "x"}))
    with (
        serve_in_thread() as sandbox,
        Submail(
            app_id=SUBMAIL_APPID, app_key=SUBMAIL_APPKEY, base_url=sandbox.base_url("submail")
        ) as submail,
    ):
        chunks = submail.sms.multisend_chunks(content="【测试】@var(name)")
        report = submail.send_batch(
            chunks,
            recipients,
            sink=seen.append,
            journal=tmp_path / "j.sqlite",
            job_id="blocking",
            concurrency=4,
            progress=progress,
        )
        phones = sandbox.ledger.phones(provider="submail")
        own_loop = submail._runner.call(running_loop)
    assert report.sent == 230
    assert report.skipped == 1
    assert [o.position for o in seen] == list(range(231))
    assert seen[-1].status is OutcomeStatus.SKIPPED
    assert sorted(p or "" for p in phones) == sorted(r.phone for r in recipients[:230])
    assert loops == {own_loop}  # the job ran on the client's loop, with its connections


def test_blocking_sendcloud_batch_with_idempotency_keys() -> None:
    recipients = [Recipient(f"1360013{i:04d}", {"%code%": str(i)}) for i in range(450)]
    with (
        serve_in_thread() as sandbox,
        SendCloud(
            sms_user=SENDCLOUD_SMS_USER,
            sms_key=SENDCLOUD_SMS_KEY,
            base_url=sandbox.base_url("sendcloud"),
        ) as sendcloud,
    ):
        report = sendcloud.send_batch(sendcloud.sms.sendn_chunks(template_id=1), recipients)
        assert len(sandbox.ledger.phones(provider="sendcloud")) == 450
    assert report.sent == 450
    assert report.requests == 3  # 200 + 200 + 50


def test_a_blocking_client_reconciles_a_job_with_the_reports_it_pulls(tmp_path: Path) -> None:
    from crowdsms.providers.paasw import Paasw
    from crowdsms.sandbox import FaultKind

    numbers = [f"1370013{i:04d}" for i in range(20)]
    with serve_in_thread() as sandbox:
        credentials = sandbox.credentials("paasw")
        with Paasw(**credentials, base_url=sandbox.base_url("paasw")) as paasw:
            chunks = paasw.sms.send_chunks(sign="店", content="【店】到货", kind=2)
            sandbox.force_fault(FaultKind.DROP_AFTER, provider="paasw", path="sms/send")
            report = paasw.send_batch(
                chunks, numbers, journal=tmp_path / "j.sqlite", job_id="b", chunk_size=10
            )
            assert report.unknown == 10
            summary = paasw.reconcile(tmp_path / "j.sqlite", "b")
    assert (summary.sent, summary.confirmed, summary.unknown) == (20, 10, 0)
    assert summary.pulled == 20
