"""CSV encodings: UTF-8 (with or without a BOM), GB18030 and GBK detected, bad rows named."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

from crowdsms.batch import (
    DETECT_PREFIX_BYTES,
    BatchOutcome,
    detect_encoding,
    read_recipients_csv,
    send_batch,
)
from crowdsms.errors import InvalidInputError
from crowdsms.outcomes import Recipient

from .fakes import FakeChunkSender, phone_at

# 䶮 (U+4DAE) is in GB18030 but not in GBK: a four-byte GB18030 sequence.
ROWS = [
    ("13800138000", "张三", "北京"),
    ("13900139000", "欧阳娜娜", "广州"),
    ("13700137000", "", ""),
]
EXPECTED = [Recipient(phone, {"姓名": name, "城市": city}) for phone, name, city in ROWS]


def text(rows: list[tuple[str, str, str]] = ROWS) -> str:
    return "手机号,姓名,城市\r\n" + "".join(f"{p},{n},{c}\r\n" for p, n, c in rows)


def write_bytes(tmp_path: Path, data: bytes, name: str = "contacts.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("written", "detected"),
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig"),
        ("gb18030", "gb18030"),
        ("gbk", "gb18030"),
    ],
)
def test_an_encoding_is_detected_and_read(tmp_path: Path, written: str, detected: str) -> None:
    path = write_bytes(tmp_path, text().encode(written))
    assert detect_encoding(path) == detected
    assert list(read_recipients_csv(path, phone_column="手机号")) == EXPECTED


def test_a_gb18030_only_character_is_read(tmp_path: Path) -> None:
    rows = [("13800138000", "刘䶮", "广州")]
    path = write_bytes(tmp_path, text(rows).encode("gb18030"))
    with pytest.raises(UnicodeEncodeError):
        text(rows).encode("gbk")
    assert detect_encoding(path) == "gb18030"
    assert list(read_recipients_csv(path, phone_column="手机号")) == [
        Recipient("13800138000", {"姓名": "刘䶮", "城市": "广州"})
    ]


def test_ascii_and_empty_files_are_utf_8(tmp_path: Path) -> None:
    assert detect_encoding(write_bytes(tmp_path, b"phone,name\n13800138000,Li\n")) == "utf-8"
    assert detect_encoding(write_bytes(tmp_path, b"")) == "utf-8"


@pytest.mark.parametrize(
    ("written", "given"),
    [("gbk", "gbk"), ("gbk", "GBK"), ("gbk", "cp936"), ("utf-8-sig", "utf-8"), ("utf-8", "UTF8")],
)
def test_an_explicit_encoding(tmp_path: Path, written: str, given: str) -> None:
    path = write_bytes(tmp_path, text().encode(written))
    assert list(read_recipients_csv(path, phone_column="手机号", encoding=given)) == EXPECTED


def test_an_explicit_encoding_wins_over_detection(tmp_path: Path) -> None:
    # Valid UTF-8 and valid GB18030 alike: 涓枃 in GB18030 is 中文 in UTF-8.
    data = "phone,name\n13800138000,中文\n".encode()
    path = write_bytes(tmp_path, data)
    assert detect_encoding(path) == "utf-8"
    assert next(read_recipients_csv(path, encoding="gb18030")).vars == {
        "name": data.split(b",")[-1].strip().decode("gb18030")
    }


def test_an_unknown_encoding_is_refused_before_the_file_is_opened(tmp_path: Path) -> None:
    missing = tmp_path / "not-there.csv"
    for wrong in ("gbk2", "base64", ""):
        with pytest.raises(InvalidInputError) as info:
            read_recipients_csv(missing, encoding=wrong)
        assert info.value.field == "encoding"
        assert f"{wrong!r} is not a known text encoding" in str(info.value)
        assert "gb18030" in str(info.value)


def test_a_prefix_cut_inside_a_character_is_still_utf_8(tmp_path: Path) -> None:
    header = b"phone,name\n"
    row = "13800138000,张\n".encode()  # 张 is three bytes
    filler = b"13800138000,x\n"
    body = header
    while len(body) + len(filler) + len(row) < DETECT_PREFIX_BYTES:
        body += filler
    pad = DETECT_PREFIX_BYTES - len(body) - len(b"13800138000,") - 2
    body += b"13800138000," + b"y" * pad + row[len(b"13800138000,") :]
    start = body.index("张".encode(), DETECT_PREFIX_BYTES - 10)
    assert start == DETECT_PREFIX_BYTES - 2  # the prefix ends inside 张, after two bytes
    body += filler * 10
    path = write_bytes(tmp_path, body)
    assert detect_encoding(path) == "utf-8"
    names = [r.vars["name"] for r in read_recipients_csv(path)]
    assert "y" * pad + "张" in names
    assert len(names) == body.count(b"\n") - 1

    # A character that is really broken there is not UTF-8.
    broken = body[: start + 1] + b"," + body[start + 2 :]
    assert detect_encoding(write_bytes(tmp_path, broken, "broken.csv")) == "gb18030"


def test_a_file_that_ends_inside_a_character_is_not_utf_8(tmp_path: Path) -> None:
    assert detect_encoding(write_bytes(tmp_path, b"phone,name\n1,\xe5\xbc")) == "gb18030"


def drain(rows: Iterator[Recipient], into: list[Recipient]) -> None:
    """Take rows until the reader raises, keeping those it yielded."""
    for recipient in rows:
        into.append(recipient)


def mixed_file(tmp_path: Path, bad_row: int = 1500, rows: int = 2000) -> Path:
    """A UTF-8 file of ``rows`` lines (the header is line 1) but for line ``bad_row``."""
    lines = [b"phone,name,note\n"]
    for line in range(2, rows + 1):
        name = "王五" if line != bad_row else "赵六"
        encoding = "gb18030" if line == bad_row else "utf-8"
        lines.append(f"{phone_at(line)},{name},{'备注' * 10}\n".encode(encoding))
    path = write_bytes(tmp_path, b"".join(lines))
    assert sum(map(len, lines[:bad_row])) > DETECT_PREFIX_BYTES  # past the detection prefix
    return path


def test_a_bad_row_mid_way_yields_every_row_before_it_then_names_it(tmp_path: Path) -> None:
    path = mixed_file(tmp_path)
    assert detect_encoding(path) == "utf-8"
    rows = read_recipients_csv(path, var_columns=["name"])
    received: list[Recipient] = []
    with pytest.raises(InvalidInputError) as info:
        drain(rows, received)
    assert received == [Recipient(phone_at(line), {"name": "王五"}) for line in range(2, 1500)]
    assert len(received) == 1498
    error = info.value
    message = str(error)
    assert error.field == "encoding"
    assert error.position == 1498  # the index its recipient would have had
    assert f"row 1500 of {str(path)!r} cannot be decoded as utf-8" in message
    assert "detected from the start of the file" in message
    assert "the bytes b'\\xd5\\xd4\\xc1\\xf9' at character 13 of the line" in message
    assert "this row reads as gb18030" in message
    assert "--encoding gb18030" in message
    assert 'encoding="gb18030"' in message
    assert "mixes encodings" in message
    assert not isinstance(error.__cause__, UnicodeDecodeError)
    with pytest.raises(StopIteration):
        next(rows)


def test_an_explicit_encoding_that_does_not_fit_names_the_row(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, text().encode("gbk"))
    with pytest.raises(InvalidInputError) as info:
        read_recipients_csv(path, phone_column="手机号", encoding="utf-8")
    # The header is read at once, so the error comes before the generator exists.
    message = str(info.value)
    assert "row 1 of" in message
    assert "cannot be decoded as utf-8 (as given)" in message
    assert "this row reads as gb18030" in message
    assert info.value.position == 0

    path = write_bytes(tmp_path, "phone,name\n1,a\n2,\u4dae\n".encode("gb18030"))
    rows = read_recipients_csv(path, encoding="gbk")
    assert next(rows) == Recipient("1", {"name": "a"})
    with pytest.raises(InvalidInputError, match=r"row 3 of .* cannot be decoded as gbk") as info:
        next(rows)
    assert "--encoding gb18030" in str(info.value)
    assert "this row reads as gb18030" in str(info.value)


def test_blank_lines_count_in_the_row_number(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, b"phone,name\n\n1,a\n\n\n2,\xff\xfe\n")
    rows = read_recipients_csv(path)
    assert next(rows).phone == "1"
    with pytest.raises(InvalidInputError, match="row 6 of") as info:
        next(rows)
    assert info.value.position == 1
    assert "this row reads as" not in str(info.value)  # \xff is neither UTF-8 nor GB18030


def test_a_csv_error_mid_way_names_the_row(tmp_path: Path) -> None:
    limit = csv.field_size_limit()
    data = 'phone,name\n1,a\n2,b\n3,"' + "x\n" * (limit // 2 + 10) + '"\n4,d\n'
    path = write_bytes(tmp_path, data.encode())
    received: list[Recipient] = []
    with pytest.raises(InvalidInputError) as info:
        drain(read_recipients_csv(path), received)
    assert [recipient.phone for recipient in received] == ["1", "2"]
    message = str(info.value)
    assert info.value.field == "path"
    assert info.value.position == 2
    assert "row 4 of" in message
    assert "is not well-formed CSV (field larger than field limit" in message
    assert "the record runs on to line" in message
    assert "a quote that is never closed" in message


@pytest.mark.asyncio
async def test_a_job_stops_with_the_error_of_a_bad_row(tmp_path: Path) -> None:
    path = mixed_file(tmp_path)
    received: list[BatchOutcome] = []
    with pytest.raises(InvalidInputError, match="row 1500 of"):
        await send_batch(
            FakeChunkSender(max_chunk_size=100),
            read_recipients_csv(path, var_columns=["name"]),
            sink=received.append,
            concurrency=1,
        )
    assert all(item.position < 1498 for item in received)


def test_readers_of_several_files_at_once_each_find_their_own_bad_row(tmp_path: Path) -> None:
    bad = write_bytes(tmp_path, "phone,name\n1,张\n2,王\n".encode() + b"3,\xcd\xf5\n", "bad.csv")
    good = write_bytes(tmp_path, text().encode(), "good.csv")
    first_good = read_recipients_csv(good, phone_column="手机号")
    assert next(first_good) == EXPECTED[0]
    bad_rows = read_recipients_csv(bad, encoding="utf-8")  # the prefix is the whole file
    assert next(bad_rows).vars == {"name": "张"}  # the whole file is decoded by now
    assert list(read_recipients_csv(good, phone_column="手机号")) == EXPECTED
    assert list(first_good) == EXPECTED[1:]
    assert next(bad_rows).vars == {"name": "王"}
    with pytest.raises(InvalidInputError, match="row 4 of"):
        next(bad_rows)
