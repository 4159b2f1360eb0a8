"""The journal records where a job sends, and a resume elsewhere is refused.

Done chunks are replayed, never sent again: resumed against another provider, base URL or
account (a rehearsal against the sandbox resumed for real), their recipients would be
reported ``sent`` while nothing sent them there.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from crowdsms.batch import BatchSender, JournalMismatchError, send_batch
from crowdsms.batch._target import check_target, target_differences
from crowdsms.failover import FailoverChunkSender
from crowdsms.outcomes import OutcomeStatus, Recipient, RecipientOutcome
from crowdsms.providers._spec import MessageOptions
from crowdsms.providers.crowdtask import AsyncCrowdTask
from crowdsms.providers.paasw import AsyncPaasw
from crowdsms.providers.sendcloud import AsyncSendCloud
from crowdsms.providers.submail import AsyncSubmail

from .fakes import Call, FakeChunkSender, Script, phone_at

JOB = "promo"
REAL = {"provider": "submail", "base_url": "https://api-v4.mysubmail.com", "account": "12345"}


def recipients(count: int = 30) -> list[Recipient]:
    return [Recipient(phone_at(position)) for position in range(count)]


class TargetedSender(FakeChunkSender):
    def __init__(self, target: dict[str, str] | None, script: Script | None = None) -> None:
        super().__init__(max_chunk_size=10, script=script)
        if target is not None:
            self.target = target


def recorded_settings(path: Path, job_id: str = JOB) -> dict[str, object]:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        (settings,) = connection.execute(
            "SELECT settings FROM jobs WHERE job_id = ?", (job_id,)
        ).fetchone()
    decoded = json.loads(settings)
    assert isinstance(decoded, dict)
    return decoded


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("changed", "named"),
    [
        ({"provider": "sandbox"}, "provider 'submail' then, 'sandbox' now"),
        ({"base_url": "http://127.0.0.1:8080/submail"}, "base_url"),
        ({"account": "67890"}, "account '12345' then, '67890' now"),
    ],
)
async def test_a_resume_elsewhere_is_refused_before_any_request(
    tmp_path: Path, changed: dict[str, str], named: str
) -> None:
    path = tmp_path / "job.sqlite"
    first = TargetedSender(REAL)
    report = await send_batch(first, recipients(), journal=path, job_id=JOB)
    assert report.sent == 30
    assert recorded_settings(path)["target"] == REAL

    elsewhere = TargetedSender({**REAL, **changed})
    with pytest.raises(JournalMismatchError, match="recorded sending elsewhere") as info:
        await send_batch(elsewhere, recipients(), journal=path, job_id=JOB)
    assert elsewhere.calls == []
    message = str(info.value)
    assert named in message
    assert "new job_id" in message
    assert "every recipient again" in message

    same = TargetedSender(dict(REAL))
    again = await send_batch(same, recipients(), journal=path, job_id=JOB)
    assert again.resumed
    assert again.sent == 30
    assert same.calls == []


@pytest.mark.asyncio
async def test_a_target_key_one_side_lacks_is_unknown_and_accepted(tmp_path: Path) -> None:
    """A journal of an earlier version records no target: it resumes, and the target of the
    run that resumed it is recorded, so the next resume is checked."""
    path = tmp_path / "job.sqlite"
    old = TargetedSender(None)
    await send_batch(old, recipients(30)[:15], journal=path, job_id=JOB)
    assert "target" not in recorded_settings(path)

    resumed = TargetedSender(REAL)
    report = await send_batch(resumed, recipients(30)[:15], journal=path, job_id=JOB)
    assert report.resumed
    assert resumed.calls == []
    assert recorded_settings(path)["target"] == REAL

    # A key the journal lacks ("sandbox") is accepted, then recorded too.
    more = TargetedSender({**REAL, "sandbox": "no"})
    await send_batch(more, recipients(30)[:15], journal=path, job_id=JOB)
    assert recorded_settings(path)["target"] == {**REAL, "sandbox": "no"}
    with pytest.raises(JournalMismatchError, match="sandbox 'no' then, 'yes' now"):
        await send_batch(
            TargetedSender({**REAL, "sandbox": "yes"}),
            recipients(30)[:15],
            journal=path,
            job_id=JOB,
        )

    # A chunk sender that tells no target is not checked.
    untold = TargetedSender(None)
    assert (await send_batch(untold, recipients(30)[:15], journal=path, job_id=JOB)).resumed


@pytest.mark.asyncio
async def test_the_target_option_overrides_the_chunk_senders(tmp_path: Path) -> None:
    path = tmp_path / "job.sqlite"
    await BatchSender(TargetedSender(REAL), target={"stage": "rehearsal"}).send(
        recipients(), journal=path, job_id=JOB
    )
    assert recorded_settings(path)["target"] == {"stage": "rehearsal"}
    with pytest.raises(JournalMismatchError, match="stage 'rehearsal' then, 'live' now"):
        await BatchSender(TargetedSender(REAL), target={"stage": "live"}).send(
            recipients(), journal=path, job_id=JOB
        )
    # A base URL given with credentials or a query is recorded without them.
    sender = BatchSender(
        TargetedSender(REAL), target={"base_url": "https://user:pw@example.com/x?key=abc"}
    )
    assert sender.config.target == {"base_url": "https://example.com/x"}


SECRET = "s3cr3t-KEY-value"


@pytest.mark.asyncio
async def test_built_in_chunk_senders_tell_their_target_and_never_a_secret() -> None:
    async with (
        AsyncSubmail(
            app_id="12345", app_key=SECRET, base_url="https://sms.example.com/v4/"
        ) as submail,
        AsyncSendCloud(sms_user="promo_user", sms_key=SECRET) as sendcloud,
        AsyncPaasw(app_id="0189457543", secret=SECRET, base_url="https://gw.example.com") as paasw,
        AsyncCrowdTask(access_id="AK123", access_secret_key=SECRET) as crowdtask,
    ):
        senders: dict[str, Any] = {
            "submail": submail.sms.multisend_chunks(content="【签名】您好"),
            "sendcloud": sendcloud.sms.sendn_chunks(template_id=1),
            "paasw": paasw.sms.send_chunks(sign="签名", content="【签名】您好"),
            "crowdtask": crowdtask.tasks.batch_chunks(project_id=1, columns=["phone"]),
        }
        targets = {name: dict(sender.target) for name, sender in senders.items()}
        assert targets["submail"] == {
            "provider": "submail",
            "base_url": "https://sms.example.com/v4",
            "account": "12345",
        }
        assert targets["sendcloud"]["account"] == "promo_user"
        assert targets["paasw"] == {
            "provider": "paasw",
            "base_url": "https://gw.example.com",
            "account": "0189457543",
        }
        assert targets["crowdtask"]["account"] == "AK123"
        for name, target in targets.items():
            assert target["provider"] == name
            assert SECRET not in json.dumps(target)
        failover = FailoverChunkSender.from_registry(
            [
                ("submail", submail, MessageOptions(content="【签名】您好")),
                ("paasw", paasw, MessageOptions(content="【签名】您好")),
            ]
        )
        assert failover.target == {
            "provider": "failover(submail,paasw)",
            "routes": "submail https://sms.example.com/v4 12345; "
            "paasw https://gw.example.com 0189457543",
        }
        assert BatchSender(senders["submail"]).config.target == targets["submail"]


@pytest.mark.asyncio
async def test_a_job_that_sent_nothing_resumes_where_this_run_sends(tmp_path: Path) -> None:
    """A mistyped account refused for every recipient: nothing reached the provider under
    it, so the resume with the right one is not refused, and its target is recorded."""
    path = tmp_path / "job.sqlite"

    async def refuse(call: Call, chunk: Sequence[Recipient]) -> list[RecipientOutcome]:
        return [
            RecipientOutcome(phone=r.phone, status=OutcomeStatus.FAILED, code="refused")
            for r in chunk
        ]

    typo = TargetedSender({**REAL, "account": "99999"}, script=refuse)
    report = await send_batch(typo, recipients(), journal=path, job_id=JOB)
    assert report.failed == 30

    fixed = TargetedSender(REAL)
    report = await send_batch(fixed, recipients(), journal=path, job_id=JOB)
    assert report.sent == 30
    assert len(fixed.calls) == 3
    assert recorded_settings(path)["target"] == REAL
    # and from now on the job is held to where it sent
    with pytest.raises(JournalMismatchError, match="recorded sending elsewhere"):
        await send_batch(
            TargetedSender({**REAL, "account": "99999"}), recipients(), journal=path, job_id=JOB
        )


def test_long_targets_that_differ_only_at_their_ends_still_differ() -> None:
    """A failover's routes run past the length kept: a later route's account still counts."""
    routes = "; ".join(f"route {n}: submail https://api-v4.mysubmail.com 1234{n}" for n in range(4))
    real = check_target({"routes": routes + "; sendcloud AKID-REAL"})
    sandbox = check_target({"routes": routes + "; sendcloud AKID-SANDBOX"})
    assert len(real["routes"]) <= 200
    assert target_differences(real, sandbox) != []
    assert check_target({"account": "12345"}) == {"account": "12345"}  # short ones kept as is
