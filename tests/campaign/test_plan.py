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
