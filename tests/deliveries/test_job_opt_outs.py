"""A job's suppression list is copied into the journal when the job is created: every run
of it, and its preview, skips the same numbers, whatever the list or the clock do later."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path

import pytest

from crowdsms.batch import BatchOutcome, BatchSender
from crowdsms.deliveries import InboundReply, OptOutWords, SQLiteDeliveryStore
from crowdsms.deliveries import _store as store_module
from tests.batch.fakes import phone_at, recipients
from tests.deliveries.test_journal_reports import CHUNK, JOB, ReferencedSender, skipped_phones


async def stop_from(journal: Path, phone: str) -> None:
    """Record a "T" reply from ``phone`` (it opts out)."""
    store = await SQLiteDeliveryStore.open(journal)
    try:
        await store.record(
            [InboundReply(provider="fake", phone=phone, content="T")], words=OptOutWords()
        )
    finally:
        await store.aclose()


async def opt_in(journal: Path, phone: str, *, again: bool = False) -> None:
    """Take ``phone`` off the list by hand (and, ``again``, put it back)."""
    store = await SQLiteDeliveryStore.open(journal)
    try:
        await store.opt_in([phone])
        if again:
            await store.opt_out([phone])
    finally:
        await store.aclose()


async def preview_opted_out(journal: Path, job_id: str) -> int:
    preview = await BatchSender(ReferencedSender()).preview(
        recipients(CHUNK), journal=journal, job_id=job_id
    )
    return preview.opted_out


@pytest.mark.asyncio
@pytest.mark.parametrize("again", [False, True], ids=["opted-in", "opted-in-and-out-again"])
async def test_editing_the_list_by_hand_during_a_job_does_not_change_its_resumption(
    tmp_path: Path, again: bool
) -> None:
    journal = tmp_path / "job.sqlite"
    await stop_from(journal, phone_at(1))
    first = await BatchSender(ReferencedSender(dropped=[0])).send(
        recipients(CHUNK), journal=journal, job_id=JOB
    )
    assert first.skipped == 1
    # An opt-in by hand deletes the row; an opt-out again records it anew.
    await opt_in(journal, phone_at(1), again=again)
    assert await preview_opted_out(journal, JOB) == 1
    sender = ReferencedSender()
    resumed = await BatchSender(sender).send(recipients(CHUNK), journal=journal, job_id=JOB)
    assert (resumed.skipped, resumed.unknown) == (1, CHUNK - 1)
    assert phone_at(1) not in sender.had
    # The edit applies to the jobs created after it.
    received: list[BatchOutcome] = []
    await BatchSender(ReferencedSender()).send(
        recipients(CHUNK), journal=journal, job_id="next", sink=received.append
    )
    assert skipped_phones(received) == ({phone_at(1)} if again else set())


@pytest.mark.asyncio
async def test_a_clock_stepped_back_does_not_put_a_later_opt_out_into_a_jobs_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = tmp_path / "job.sqlite"
    first = await BatchSender(ReferencedSender(dropped=[0])).send(
        recipients(CHUNK), journal=journal, job_id=JOB
    )
    assert first.skipped == 0
    real = time.time
    monkeypatch.setattr(store_module.time, "time", lambda: real() - 60.0)  # NTP steps back
    await stop_from(journal, phone_at(1))  # recorded after the job was created
    monkeypatch.setattr(store_module.time, "time", real)
    assert await preview_opted_out(journal, JOB) == 0
    resumed = await BatchSender(ReferencedSender()).send(
        recipients(CHUNK), journal=journal, job_id=JOB
    )
    assert (resumed.skipped, resumed.unknown) == (0, CHUNK)


@pytest.mark.asyncio
async def test_a_job_an_earlier_version_created_keeps_the_list_recorded_by_its_creation(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "job.sqlite"
    await stop_from(journal, phone_at(1))
    await BatchSender(ReferencedSender(dropped=[0])).send(
        recipients(CHUNK), journal=journal, job_id=JOB
    )
    # A job an earlier version recorded in the same file: a row of its own, no copy.
    with contextlib.closing(sqlite3.connect(journal, isolation_level=None)) as db:
        db.execute(
            "INSERT INTO jobs (job_id, settings, created) VALUES ('earlier', '{}', ?)",
            (time.time(),),
        )
    await stop_from(journal, phone_at(2))  # recorded after both jobs were created
    assert await preview_opted_out(journal, "earlier") == 1
    assert await preview_opted_out(journal, JOB) == 1
    # The earlier job reads the list by time, so an opt-in by hand still changes it; the
    # new job reads its copy.
    await opt_in(journal, phone_at(1))
    assert await preview_opted_out(journal, "earlier") == 0
    assert await preview_opted_out(journal, JOB) == 1
