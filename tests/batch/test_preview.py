"""``BatchSender.preview``: what a job would do, counted as the job counts, with nothing sent.

Against the sandbox, the preview's numbers are then checked against what the same job really
did: recipients sent and skipped, requests made, and the segments the sandbox charged.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import anyio
import pytest

from crowdsms import Submail
from crowdsms.batch import (
    BatchSender,
    Preview,
    preview_batch,
    read_recipients_csv,
)
from crowdsms.deliveries import SQLiteDeliveryStore
from crowdsms.errors import InvalidInputError
from crowdsms.outcomes import PreSkipped, Recipient
from crowdsms.sandbox import serve, serve_in_thread
from crowdsms.sandbox.emulators.sendcloud import SENDCLOUD_TEMPLATES

from .fakes import FakeChunkSender

CONTENT = "【测试】@var(name)，您的验证码是 @var(code)"  # 13 characters without the values
PREFIX_LENGTH = len(CONTENT.replace("@var(name)", "").replace("@var(code)", ""))


def name_for(segments: int, index: int) -> str:
    """A name that makes the message exactly 70, 134 or 201 characters (1, 2, 3 segments),
    or a little shorter."""
    length = {1: 70, 2: 134, 3: 201}[segments] - index % 3
    return "名" * (length - PREFIX_LENGTH - 4)


def mixed_recipients() -> list[Recipient | str | PreSkipped]:
    """60 valid recipients (20 of each segment count), 3 invalid, 2 duplicates, 1 opted out,
    1 skipped before."""
    items: list[Recipient | str | PreSkipped] = []
    for index in range(60):
        segments = 1 + index % 3
        items.append(
            Recipient(f"1380013{index:04d}", {"name": name_for(segments, index), "code": "1234"})
        )
        if index == 10:
            items.append(Recipient("12345", {"name": "x", "code": "1"}))  # invalid number
            items.append(Recipient("1380013000", {"name": "x", "code": "1"}))  # too short
        if index == 20:
            items.append(Recipient("13800130003", {"name": "dup", "code": "1"}))
            items.append(Recipient("+86 138-0013-0004", {"name": "dup", "code": "1"}))
            items.append(Recipient("13800139999", {"name": "y"}))  # no code: invalid vars
        if index == 30:
            items.append(Recipient("13900000000", {"name": "stop", "code": "1"}))  # opted out
            items.append(PreSkipped("13900000001", "elsewhere", "sent by another shard"))
    return items


@pytest.mark.asyncio
async def test_the_preview_matches_what_the_job_then_does_and_costs() -> None:
    items = mixed_recipients()
    async with serve() as sandbox, sandbox.client("submail", max_connections=4) as client:
        sender = BatchSender(
            client.sms.multisend_chunks(content=CONTENT),
            chunk_size=7,
            concurrency=4,
            opted_out={"+86 139 0000 0000"},
        )
        preview = await sender.preview(items)
        assert sandbox.requests() == 0  # nothing was sent to preview
        report = await sender.send(items)
        charged = sum(entry.fee for entry in sandbox.ledger.entries())
    assert preview.recipients == report.total == len(items)
    assert preview.valid == report.sent == 60
    assert preview.invalid == report.by_code["invalid"] == 3
    assert preview.duplicates == report.by_code["duplicate"] == 2
    assert preview.opted_out == report.by_code["opted_out"] == 1
    assert preview.other_skipped == {"elsewhere": 1}
    assert preview.requests == report.requests == 9  # 60 recipients, 7 a request
    assert preview.histogram == {1: 20, 2: 20, 3: 20}
    assert preview.segments == charged == report.fees == 20 * (1 + 2 + 3)
    assert preview.price_per_segment == Decimal("0.05")
    assert preview.estimated_cost == Decimal("6.00")
    assert preview.invalid_reasons == {
        "recipients[].phone: this is not a valid mainland China phone number": 2,
        "recipients[].vars: no value for the variable 'code', used in the content as @var(code)": 1,
    }


@pytest.mark.asyncio
async def test_the_longest_messages_come_first_with_masked_numbers() -> None:
    items = mixed_recipients()
    async with serve() as sandbox, sandbox.client("submail") as client:
        sender = BatchSender(client.sms.multisend_chunks(content=CONTENT))
        preview = await sender.preview(items, longest=3)
    # Every 3-segment message is 199 characters long (index % 3 == 2): among equals, the
    # first ones in the input are listed.
    assert [m.characters for m in preview.longest] == [199, 199, 199]
    assert [m.segments for m in preview.longest] == [3, 3, 3]
    assert [m.phone for m in preview.longest] == ["138****0002", "138****0005", "138****0008"]
    assert all("13800130002" not in str(m) for m in preview.longest)
    assert preview.longest[0].text.startswith("【测试】名名")
    assert preview.longest[0].position == 2
    none = await sender.preview(items, longest=0)
    assert none.longest == ()


@pytest.mark.asyncio
async def test_paasw_preview_equals_what_the_sandbox_charges() -> None:
    numbers = [f"1390013{i:04d}" for i in range(300)] + ["12345", "13900130001"]
    content = "【小店】" + "新品到货，" * 20  # 104 characters: 2 segments each
    async with serve() as sandbox, sandbox.client("paasw") as client:
        sender = BatchSender(client.sms.send_chunks(sign="小店", content=content, kind=2))
        preview = await sender.preview(numbers, price_per_segment=0.04)
        requests_before = sandbox.requests()
        report = await sender.send(numbers)
        charged = sum(entry.fee for entry in sandbox.ledger.entries())
    assert requests_before == 0
    assert (preview.valid, preview.invalid, preview.duplicates) == (300, 1, 1)
    assert preview.requests == report.requests == 3  # 125 numbers a request
    assert preview.histogram == {2: 300}
    assert preview.segments == charged == 600
    assert preview.estimated_cost == Decimal("24.00")


@pytest.mark.asyncio
async def test_sendcloud_segments_are_unknown_without_the_template_text() -> None:
    recipients = [Recipient("13800138000", {"name": "王", "order": "A1"})]
    async with serve() as sandbox, sandbox.client("sendcloud") as client:
        blind = await BatchSender(client.sms.sendn_chunks(template_id=2)).preview(recipients)
        chunks = client.sms.sendn_chunks(template_id=2, template_text=SENDCLOUD_TEMPLATES[2])
        known = await BatchSender(chunks).preview(recipients)
        await BatchSender(chunks).send(recipients)
        charged = sum(entry.fee for entry in sandbox.ledger.entries())
    assert blind.segments is None
    assert blind.estimated_cost is None
    assert blind.histogram == {}
    assert blind.longest == ()
    assert "template_text" in (blind.segments_note or "")
    assert "unknown" in str(blind)
    assert known.segments == charged == 1
    assert known.segments_note is None


@pytest.mark.asyncio
async def test_crowdtask_says_segments_do_not_apply() -> None:
    async with serve() as sandbox, sandbox.client("crowdtask") as client:
        chunks = client.tasks.batch_chunks(project_id=1, columns=["name"])
        preview = await BatchSender(chunks).preview([Recipient("row-1", {"name": "x"})])
    assert preview.valid == 1
    assert preview.segments is None
    assert preview.price_per_segment is None
    assert "tasks, not SMS" in (preview.segments_note or "")


@pytest.mark.anyio
async def test_a_chunk_sender_without_render_still_previews() -> None:
    fake = FakeChunkSender(max_chunk_size=10)
    preview = await BatchSender(fake).preview([f"1390000{i:04d}" for i in range(25)])
    assert (preview.valid, preview.requests, preview.segments) == (25, 3, None)
    assert "no render method" in (preview.segments_note or "")
    assert fake.calls == []


@pytest.mark.anyio
async def test_an_async_source_is_read_to_the_end() -> None:
    async def numbers() -> AsyncIterator[str]:
        for i in range(30):
            await anyio.lowlevel.checkpoint()
            yield f"1390000{i % 20:04d}"

    preview = await BatchSender(FakeChunkSender(max_chunk_size=10)).preview(numbers())
    assert (preview.recipients, preview.valid, preview.duplicates, preview.requests) == (
        30,
        20,
        10,
        2,
    )


def _tables(path: Path) -> list[tuple[str, int]]:
    """Each table of a SQLite file and its row count."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        names = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        count = "SELECT COUNT(*) FROM {}"
        return [(name, db.execute(count.format(name)).fetchone()[0]) for name in names]


def _opt_out_journal(path: Path, phone: str) -> None:
    async def record() -> None:
        store = await SQLiteDeliveryStore.open(path)
        try:
            await store.opt_out([phone])
        finally:
            await store.aclose()

    anyio.run(record)


@pytest.mark.asyncio
async def test_the_journals_opt_outs_are_read_and_the_journal_is_left_alone(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "job.sqlite"
    await anyio.to_thread.run_sync(_opt_out_journal, journal, "13900000003")
    before = journal.read_bytes(), _tables(journal)
    numbers = [f"1390000{i:04d}" for i in range(10)]
    sender = BatchSender(FakeChunkSender(max_chunk_size=10))
    preview = await sender.preview(numbers, journal=journal, job_id="promo")
    assert (preview.valid, preview.opted_out) == (9, 1)
    assert (journal.read_bytes(), _tables(journal)) == before
    ignoring = BatchSender(FakeChunkSender(max_chunk_size=10), honour_opt_outs=False)
    assert (await ignoring.preview(numbers, journal=journal)).opted_out == 0
    missing = tmp_path / "missing.sqlite"
    assert (await sender.preview(numbers, journal=missing)).opted_out == 0
    assert not missing.exists()


@pytest.mark.asyncio
async def test_a_file_that_is_not_a_journal_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "notes.sqlite"
    bad.write_text("not sqlite at all, " * 100)
    with pytest.raises(Exception, match="journal cannot be read") as caught:
        await BatchSender(FakeChunkSender()).preview(["13900000000"], journal=bad)
    assert "crowdsms journal" in str(caught.value)
    assert isinstance(caught.value.__cause__, sqlite3.Error)


@pytest.mark.asyncio
async def test_an_unreadable_row_raises_as_the_job_would(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_bytes(b"phone\n13900000000\n" + b"\xff\xfe\xfa broken\n")
    sender = BatchSender(FakeChunkSender())
    with pytest.raises(InvalidInputError, match="row 3"):
        await sender.preview(read_recipients_csv(path, encoding="utf-8"))


@pytest.mark.asyncio
async def test_bad_arguments_are_named() -> None:
    sender = BatchSender(FakeChunkSender())
    with pytest.raises(InvalidInputError, match="price_per_segment") as caught:
        await sender.preview(["13900000000"], price_per_segment=-1)
    assert "0.05" in str(caught.value)
    with pytest.raises(InvalidInputError, match="longest"):
        await sender.preview(["13900000000"], longest=-2)
    with pytest.raises(InvalidInputError, match="recipients"):
        await sender.preview("13900000000")  # type: ignore[arg-type]


def test_shortfall_compares_a_balance_in_segments_or_money() -> None:
    preview = Preview(
        recipients=10,
        valid=10,
        invalid=0,
        invalid_reasons={},
        duplicates=0,
        opted_out=0,
        requests=1,
        chunk_size=50,
        segments=15,
        histogram={1: 5, 2: 5},
        longest=(),
        price_per_segment=Decimal("0.05"),
    )
    assert preview.shortfall(10, unit="segments") == 5
    assert preview.shortfall("15", unit="segments") == 0
    assert preview.shortfall(Decimal("0.70"), unit="CNY") == Decimal("0.05")
    assert preview.shortfall(1, unit="CNY") == 0
    with pytest.raises(InvalidInputError, match="unit"):
        preview.shortfall(1, unit="yuan")  # type: ignore[arg-type]
    assert preview.shortfall(" 12.5 ", unit="segments") == Decimal("2.5")
    for bad in ("12,5", "", "NaN", "inf", float("nan"), None, True):
        with pytest.raises(InvalidInputError, match="balance") as caught:
            preview.shortfall(bad, unit="segments")  # type: ignore[arg-type]
        assert "Received" in str(caught.value)
    unknown = Preview(
        recipients=1,
        valid=1,
        invalid=0,
        invalid_reasons={},
        duplicates=0,
        opted_out=0,
        requests=1,
        chunk_size=50,
        segments=None,
        histogram={},
        longest=(),
        price_per_segment=None,
    )
    assert unknown.shortfall(0, unit="segments") is None
    assert str(preview) == (
        "10 recipients: 10 to send, 0 skipped (0 invalid, 0 duplicates, 0 opted out); "
        "1 requests of up to 50; 15 segments (5 x 1, 5 x 2); estimated cost CNY 0.75 at "
        "0.05 each"
    )


def test_the_blocking_client_previews_on_its_loop() -> None:
    with serve_in_thread() as sandbox:
        credentials = sandbox.credentials("submail")
        with Submail(base_url=sandbox.base_url("submail"), **credentials) as client:
            chunks = client.sms.multisend_chunks(content="【测试】@var(name)")
            preview = client.preview_batch(
                chunks, [Recipient("13800138000", {"name": "王"})], price_per_segment=0.1
            )
        assert sandbox.requests() == 0
    assert (preview.valid, preview.segments, preview.estimated_cost) == (1, 1, Decimal("0.1"))


@pytest.mark.asyncio
async def test_preview_batch_is_the_shortcut() -> None:
    fake = FakeChunkSender(max_chunk_size=10)
    preview = await preview_batch(fake, ["13900000000", "13900000000"], chunk_size=5)
    assert (preview.valid, preview.duplicates, preview.chunk_size) == (1, 1, 5)
