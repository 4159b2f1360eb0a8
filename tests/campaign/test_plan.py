"""Planning a campaign's input: shards by byte offset, duplicates across shards, encodings."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from crowdsms.campaign import plan_input
from crowdsms.campaign._plan import shard_rows
from crowdsms.errors import InvalidInputError
from crowdsms.outcomes import PreSkipped, Recipient
from crowdsms.phones import normalize_mainland_mobile


def validate(recipient: Recipient, *, position: int) -> Recipient:
    return Recipient(normalize_mainland_mobile(recipient.phone, position=position), recipient.vars)


def rows_of(plan, shard) -> list[Recipient | PreSkipped]:  # type: ignore[no-untyped-def]
    async def collect() -> list[Recipient | PreSkipped]:
        return [item async for item in shard_rows(plan, shard)]

    return anyio.run(collect)


@pytest.mark.parametrize(
    ("encoding", "prefix", "newline"),
    [("utf-8", b"", "\n"), ("utf-8", b"\xef\xbb\xbf", "\r\n"), ("gb18030", b"", "\n")],
)
def test_shards_start_where_their_rows_do(
    tmp_path: Path, encoding: str, prefix: bytes, newline: str
) -> None:
    lines = ["phone,name"] + [f"1380{i:07d},张{i}" for i in range(23)]
    lines[10] = "13800000003,重复"  # row 9 (shard 1) repeats row 3 (shard 0)
    lines[12] = "13800000010,重复"  # row 11 repeats row 10 in its own shard: the job skips it
    lines[15] = ""  # a blank line is no row
    lines[20] = "13800000005,重复"  # row 18 (shard 2) repeats row 5 (shard 0)
    path = tmp_path / "input.csv"
    path.write_bytes(prefix + newline.join(lines).encode(encoding) + newline.encode())
    plan = plan_input(
        path, phone_column="phone", var_columns={"name": "name"}, validate=validate, shard_rows=8
    )
    assert plan.rows == 22
    assert [shard.rows for shard in plan.shards] == [8, 8, 6]
    assert [shard.duplicates for shard in plan.shards] == [{}, {9: 3}, {18: 5}]
    read = [item for shard in plan.shards for item in rows_of(plan, shard)]
    assert len(read) == 22
    assert read[0] == Recipient("13800000000", {"name": "张0"})
    skipped = [(i, item.code) for i, item in enumerate(read) if isinstance(item, PreSkipped)]
    assert skipped == [(9, "duplicate"), (18, "duplicate")]


def test_a_missing_column_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "input.csv"
    path.write_text("mobile,name\n13800138000,a\n")
    with pytest.raises(InvalidInputError, match="no column 'phone'"):
        plan_input(path, phone_column="phone", var_columns={}, validate=validate, shard_rows=5)


@pytest.mark.parametrize("short_rows", ["empty", "skip"])
def test_a_short_row_is_read_as_the_plan_says_by_every_shard(
    tmp_path: Path, short_rows: str
) -> None:
    path = tmp_path / "input.csv"
    # row 1 lacks its name; row 4 (shard 1) repeats its number, complete
    path.write_text(
        "phone,name\n13800000000,a\n13800000001\n13800000002,c\n13800000003,d\n13800000001,e\n"
    )
    plan = plan_input(
        path,
        phone_column="phone",
        var_columns={"name": "name"},
        validate=validate,
        shard_rows=3,
        short_rows=short_rows,  # type: ignore[arg-type]
    )
    again = plan.from_json(plan.to_json())  # as a worker reads the manifest
    read = [item for shard in again.shards for item in rows_of(again, shard)]
    assert len(read) == 5
    if short_rows == "empty":
        assert read[1] == Recipient("13800000001", {"name": ""})
        assert isinstance(read[4], PreSkipped)  # its number came first in shard 0
        assert read[4].code == "duplicate"
    else:
        assert isinstance(read[1], PreSkipped)
        assert (read[1].phone, read[1].code) == ("13800000001", "short_row")
        assert "no value for 'name'" in read[1].message
        # the skipped row was no first occurrence: the complete one later is sent
        assert read[4] == Recipient("13800000001", {"name": "e"})
    assert plan.shards[1].duplicates == ({} if short_rows == "skip" else {4: 1})


def test_an_unknown_short_rows_choice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "input.csv"
    path.write_text("phone\n13800138000\n")
    with pytest.raises(InvalidInputError, match="short_rows must be"):
        plan_input(
            path,
            phone_column="phone",
            var_columns={},
            validate=validate,
            shard_rows=5,
            short_rows="drop",  # type: ignore[arg-type]
        )
