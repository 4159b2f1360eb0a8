"""A client clock 20 minutes off: one correction, the call succeeds, nothing is sent twice.

The skew is made either on the sandbox's side (``set_clock_offset``) or on the client's
(``Runtime(wall_time=...)``), 20 minutes ahead and behind; each client is new, so its
first call meets the skew.
"""

from __future__ import annotations

import time

import anyio
import pytest

from crowdsms import Recipient, Runtime
from crowdsms.sandbox import Sandbox

from .support import TIME_LIMIT, RecordingTransport, crowdtask, sendcloud, submail

SKEW = 20 * 60.0
SIGNS = [+1, -1]


def skewed(sandbox: Sandbox, where: str, sign: int) -> dict[str, Runtime]:
    """Put the two clocks 20 minutes apart; return the client options that go with it."""
    if where == "server":
        sandbox.set_clock_offset(sign * SKEW)
        return {}
    sandbox.set_clock_offset(0)
    return {"runtime": Runtime(wall_time=lambda: time.time() - sign * SKEW)}


@pytest.mark.asyncio
@pytest.mark.parametrize("where", ["server", "client"])
async def test_submail_corrects_its_clock_once(sandbox: Sandbox, where: str):
    with anyio.fail_after(TIME_LIMIT):
        for sign in SIGNS:
            options = skewed(sandbox, where, sign)
            async with (
                RecordingTransport() as recorder,
                submail(sandbox, transport=recorder, **options) as client,
            ):
                first = await client.sms.send(to="13800138000", content="【沙箱】第一条。")
                second = await client.sms.multisend(
                    content="【沙箱】第二条。", recipients=[Recipient("13800138001")]
                )
            assert recorder.requests == [
                ("POST", "/submail/sms/send.json"),  # refused: timestamp out of the window
                ("GET", "/submail/service/timestamp.json"),
                ("POST", "/submail/sms/send.json"),
                ("POST", "/submail/sms/multisend.json"),
            ], sign
            assert abs(client.clock_offset - sign * SKEW) < 5
            assert first.send_id
            assert second.all_sent
    assert sandbox.ledger.phones() == ["13800138000", "13800138001"] * len(SIGNS)


@pytest.mark.asyncio
@pytest.mark.parametrize("where", ["server", "client"])
async def test_sendcloud_corrects_its_clock_once(sandbox: Sandbox, where: str):
    with anyio.fail_after(TIME_LIMIT):
        for sign in SIGNS:
            options = skewed(sandbox, where, sign)
            async with (
                RecordingTransport() as recorder,
                sendcloud(sandbox, transport=recorder, **options) as client,
            ):
                first = await client.sms.send(
                    template_id=1, phones=["13800138000"], vars={"code": "1"}
                )
                second = await client.sms.sendn(
                    template_id=1, recipients=[Recipient("13800138001", {"code": "2"})]
                )
            assert recorder.requests == [
                ("POST", "/sendcloud/smsapi/send"),  # refused: 461, timestamp out of window
                ("GET", "/sendcloud/smsapi/timestamp/get"),
                ("POST", "/sendcloud/smsapi/send"),
                ("POST", "/sendcloud/smsapi/sendn"),
            ], sign
            assert abs(client.clock_offset - sign * SKEW) < 5
            assert first.all_sent
            assert second.all_sent
    assert sandbox.ledger.phones() == ["13800138000", "13800138001"] * len(SIGNS)


@pytest.mark.asyncio
@pytest.mark.parametrize("where", ["server", "client"])
async def test_crowdtask_corrects_its_clock_once(sandbox: Sandbox, where: str):
    with anyio.fail_after(TIME_LIMIT):
        for sign in SIGNS:
            options = skewed(sandbox, where, sign)
            async with (
                RecordingTransport() as recorder,
                crowdtask(sandbox, transport=recorder, **options) as client,
            ):
                first = await client.tasks.batch(project_id=1, rows=[{"n": "1"}])
                second = await client.tasks.batch(project_id=1, rows=[{"n": "2"}])
            # No timestamp endpoint: the refusal's Date header gives the server's time.
            assert recorder.requests == [("POST", "/crowdtask/task/batch")] * 3, sign
            assert abs(client.clock_offset - sign * SKEW) < 5
            assert (first.task_count, second.task_count) == (1, 1)
    assert [dict(entry.vars) for entry in sandbox.ledger] == [{"n": "1"}, {"n": "2"}] * 2
