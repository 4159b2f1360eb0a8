"""Input: CSV files with a column mapping, validation, duplicates, the set of numbers seen."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from crowdsms.batch import SHORT_ROW, BatchOutcome, read_recipients_csv, send_batch
from crowdsms.batch._screen import SeenPhones
from crowdsms.errors import InvalidInputError
from crowdsms.outcomes import OutcomeStatus, Recipient

from .fakes import FakeChunkSender, phone_at

CSV = "\ufeff手机号,姓名,验证码,备注\n13800138000,张三,1234,vip\n\n+86 139-0013-9000,李四,5678\n"


def write(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "contacts.csv"
    path.write_text(text, encoding=encoding, newline="")
    return path


def test_csv_with_a_column_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, CSV)
    rows = read_recipients_csv(path, phone_column="手机号", var_columns={"姓名": "name"})
    assert list(rows) == [
        Recipient("13800138000", {"name": "张三"}),
        Recipient("+86 139-0013-9000", {"name": "李四"}),
    ]


def test_csv_with_a_column_list_or_every_column(tmp_path: Path) -> None:
    path = write(tmp_path, CSV)
    listed = list(read_recipients_csv(path, phone_column="手机号", var_columns=["验证码"]))
    assert [r.vars for r in listed] == [{"验证码": "1234"}, {"验证码": "5678"}]
    every = list(read_recipients_csv(path, phone_column="手机号"))
    # A short row gives empty values; the BOM is not part of the first column's name.
    assert every[1].vars == {"姓名": "李四", "验证码": "5678", "备注": ""}


@pytest.mark.asyncio
async def test_a_short_row_is_skipped_naming_what_it_lacks_when_asked(tmp_path: Path) -> None:
    """``short_rows="skip"``: a row lacking a variable's field is skipped, never sent with a
    blank where the value should be; a row that lacks only columns no variable uses is sent."""
    path = write(tmp_path, "phone,name,code\n13800138000,a,1\n13900139000\n13700137000,c\n")
    assert [r.vars for r in read_recipients_csv(path)] == [
        {"name": "a", "code": "1"},
        {"name": "", "code": ""},  # the default: empty values
        {"name": "c", "code": ""},
    ]
    fake = FakeChunkSender(max_chunk_size=5)
    received: list[BatchOutcome] = []
    report = await send_batch(
        fake,
        read_recipients_csv(path, var_columns=["name"], short_rows="skip"),
        sink=received.append,
    )
    assert [call.phones for call in fake.calls] == [["13800138000", "13700137000"]]
    assert [(item.status, item.outcome.code) for item in received] == [
        (OutcomeStatus.SENT, None),
        (OutcomeStatus.SKIPPED, SHORT_ROW),
        (OutcomeStatus.SENT, None),
    ]
    assert "no value for 'name'" in (received[1].outcome.message or "")
    assert report.by_code == {SHORT_ROW: 1}
    with pytest.raises(InvalidInputError, match="short_rows"):
        read_recipients_csv(path, short_rows="drop")  # type: ignore[call-overload]


def test_csv_in_gbk(tmp_path: Path) -> None:
    path = write(tmp_path, "phone,name\n13800138000,王五\n", encoding="gbk")
    assert list(read_recipients_csv(path, encoding="gbk")) == [
        Recipient("13800138000", {"name": "王五"})
    ]


def test_missing_phone_column_names_it_and_lists_the_header(tmp_path: Path) -> None:
    path = write(tmp_path, CSV)
    with pytest.raises(InvalidInputError) as info:
        read_recipients_csv(path)  # the default "phone" column is not there
    message = str(info.value)
    assert info.value.field == "phone_column"
    assert "no column 'phone'" in message
    assert "'手机号', '姓名', '验证码', '备注'" in message


def test_missing_var_column(tmp_path: Path) -> None:
    path = write(tmp_path, CSV)
    with pytest.raises(InvalidInputError, match="no column 'code'") as info:
        read_recipients_csv(path, phone_column="手机号", var_columns={"code": "code"})
    assert info.value.field == "var_columns"


def test_empty_csv_and_a_single_string_for_var_columns(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="no header line"):
        read_recipients_csv(write(tmp_path, "\n\n"))
    path = write(tmp_path, "phone,name\n")
    with pytest.raises(InvalidInputError, match="not one string"):
        read_recipients_csv(path, var_columns="name")
    assert list(read_recipients_csv(path)) == []


def test_csv_is_read_lazily(tmp_path: Path) -> None:
    path = write(tmp_path, "phone\n" + "".join(f"{phone_at(i)}\n" for i in range(1000)))
    rows = read_recipients_csv(path)
    first = next(rows)
    assert first.phone == phone_at(0)
    rows.close()  # closes the file


@pytest.mark.asyncio
async def test_a_csv_job_skips_invalid_and_duplicate_numbers_with_a_reason(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        "mobile,name\n"
        "13800138000,a\n"
        "12345,b\n"
        "+86 138 0013 8000,c\n"
        "13900139000,d\n"
        "+44 20 7946 0958,e\n"
        "010-12345678,f\n"
        "0086 13800138000,g\n",
    )
    fake = FakeChunkSender(max_chunk_size=2)
    received: list[BatchOutcome] = []
    report = await send_batch(
        fake,
        read_recipients_csv(path, phone_column="mobile", var_columns={"name": "who"}),
        sink=received.append,
    )
    assert [call.phones for call in fake.calls] == [["13800138000", "13900139000"]]
    assert [(item.position, item.status, item.outcome.code) for item in received] == [
        (0, OutcomeStatus.SENT, None),
        (1, OutcomeStatus.SKIPPED, "invalid"),
        (2, OutcomeStatus.SKIPPED, "duplicate"),
        (3, OutcomeStatus.SENT, None),
        (4, OutcomeStatus.SKIPPED, "invalid"),
        (5, OutcomeStatus.SKIPPED, "invalid"),
        (6, OutcomeStatus.SKIPPED, "duplicate"),
    ]
    messages = [item.outcome.message or "" for item in received]
    assert "recipients[1].phone" in messages[1]
    assert "already appears at position 0" in messages[2]
    assert "international numbers (+44)" in messages[4]
    assert "landline" in messages[5]
    # A skipped recipient keeps the number as given.
    assert received[2].outcome.phone == received[2].input_phone == "+86 138 0013 8000"
    assert report.by_code == {"invalid": 3, "duplicate": 2}


@pytest.mark.asyncio
async def test_other_input_items_and_sources() -> None:
    fake = FakeChunkSender()
    received: list[BatchOutcome] = []
    items: list[object] = [phone_at(1), {"phone": phone_at(2)}, Recipient(phone_at(3))]
    report = await send_batch(fake, items, sink=received.append)  # type: ignore[arg-type]
    assert [item.status for item in received] == [
        OutcomeStatus.SENT,
        OutcomeStatus.SKIPPED,
        OutcomeStatus.SENT,
    ]
    assert "expected a Recipient" in (received[1].outcome.message or "")
    assert report.total == 3

    # A number that is not a str is reported as text (its repr), whatever becomes of it.
    received.clear()
    await send_batch(fake, [Recipient(int(phone_at(4)))], sink=received.append)  # type: ignore[arg-type]
    assert [item.input_phone for item in received] == [phone_at(4)]

    for wrong in ("contacts.csv", Path("contacts.csv"), 42):
        with pytest.raises(InvalidInputError, match="iterable of Recipient") as info:
            await send_batch(fake, wrong)  # type: ignore[arg-type]
        assert info.value.field == "recipients"


@pytest.mark.asyncio
async def test_bad_settings_are_refused_before_anything_is_read() -> None:
    fake = FakeChunkSender(max_chunk_size=50)
    for options, field in (
        ({"chunk_size": 51}, "chunk_size"),
        ({"chunk_size": 0}, "chunk_size"),
        ({"concurrency": 0}, "concurrency"),
        ({"rate": 0.0}, "rate"),
        ({"rate": float("inf")}, "rate"),
        ({"slow_down": 1.0}, "slow_down"),
        ({"recovery": 0.0}, "recovery"),
    ):
        with pytest.raises(InvalidInputError) as info:
            await send_batch(fake, [Recipient(phone_at(1))], **options)
        assert info.value.field == field
    assert fake.validated == 0


def test_seen_phones_remembers_first_positions() -> None:
    seen = SeenPhones()
    assert seen.first_position("13800138000", 0) is None
    assert seen.first_position("13900139000", 5) is None
    assert seen.first_position("13800138000", 7) == 0
    # Leading zeros and non-digit keys stay distinct.
    assert seen.first_position("013800138000", 8) is None
    assert seen.first_position("x1", 9) is None
    assert seen.first_position("x1", 10) == 9
    assert seen.first_position("1" * 30, 11) is None
    assert seen.first_position("1" * 30, 12) == 11
    assert len(seen) == 5


def test_seen_phones_keeps_numbers_that_share_their_last_digits_apart() -> None:
    seen = SeenPhones()
    assert seen.first_position("13800138000", 0) is None
    assert seen.first_position("15800138000", 1) is None  # same last 8 digits
    assert seen.first_position("00000138000", 2) is None  # prefix 000
    assert seen.first_position("15800138000", 3) == 1
    assert seen.first_position("00000138000", 4) == 2
    assert len(seen) == 3


def test_seen_phones_past_32_bit_positions() -> None:
    seen = SeenPhones()
    far = 2**32 + 5
    assert seen.first_position("13800138000", far) is None
    assert seen.first_position("13800138000", far + 1) == far
    assert seen.first_position("13900139000", 3) is None
    assert seen.first_position("13900139000", far + 2) == 3
    assert len(seen) == 2


def test_seen_phones_is_compact() -> None:
    count = 100_000
    phones = [f"1{(i * 7_919_993) % 10**10:010d}" for i in range(2 * count)]
    assert len(set(phones)) == 2 * count
    tracemalloc.start()
    try:
        seen = SeenPhones()
        for position, phone in enumerate(phones[:count]):
            assert seen.first_position(phone, position) is None
        first, _ = tracemalloc.get_traced_memory()
        for position, phone in enumerate(phones[count:], start=count):
            assert seen.first_position(phone, position) is None
        second, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Each further number: 8 bytes of data plus the arrays' growth (the buckets themselves
    # are a fixed cost of about a megabyte).
    assert (second - first) / count < 12
    assert seen.first_position(phones[12_345], 2 * count) == 12_345
