"""Planning a campaign: one pass over the input, cut into shards of rows, duplicates found.

The coordinator reads the CSV file once (streaming: memory grows only with the compact set of
numbers seen) and records, per shard, the byte offset of its first row, its first row's
position and its row count, so that a worker reads only its own rows, from a file every
worker can read. Duplicates are skipped campaign-wide: the first occurrence in input order
is sent; a later one in the same shard is skipped by the shard's own batch job, and one
whose first occurrence is in an earlier shard is listed in the plan, so that its shard skips
it too. Rows are one line each (a quoted value may not span lines).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from crowdsms.batch import detect_encoding
from crowdsms.batch._screen import SeenPhones
from crowdsms.errors import InvalidInputError
from crowdsms.outcomes import PreSkipped, Recipient

__all__ = ["CampaignPlan", "ShardPlan", "plan_input", "shard_rows"]

Validate = Callable[..., Recipient]


@attrs.frozen(kw_only=True)
class ShardPlan:
    """One shard: ``rows`` rows starting at byte ``offset`` (row ``first_position``)."""

    index: int
    offset: int
    first_position: int
    rows: int
    duplicates: Mapping[int, int] = attrs.field(factory=dict)
    """Row position in this shard -> the earlier shard's position of the same number."""


@attrs.frozen(kw_only=True)
class CampaignPlan:
    """What one pass over the input found."""

    path: str
    encoding: str
    header: tuple[str, ...]
    phone_column: str
    var_columns: Mapping[str, str]
    rows: int
    shards: tuple[ShardPlan, ...]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (the manifest stored in Redis)."""
        data = attrs.asdict(self)
        data["shards"] = [
            {**attrs.asdict(shard), "duplicates": [[k, v] for k, v in shard.duplicates.items()]}
            for shard in self.shards
        ]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CampaignPlan:
        """The plan :meth:`to_json` wrote."""
        shards = tuple(
            ShardPlan(
                index=item["index"],
                offset=item["offset"],
                first_position=item["first_position"],
                rows=item["rows"],
                duplicates={int(k): int(v) for k, v in item["duplicates"]},
            )
            for item in data["shards"]
        )
        return cls(
            path=data["path"],
            encoding=data["encoding"],
            header=tuple(data["header"]),
            phone_column=data["phone_column"],
            var_columns=dict(data["var_columns"]),
            rows=data["rows"],
            shards=shards,
        )


def _lines(path: str, encoding: str, offset: int = 0) -> Iterator[tuple[int, list[str]]]:
    """``(byte offset, fields)`` of each non-blank line from ``offset``."""
    with open(path, "rb") as handle:
        handle.seek(offset)
        position = offset
        for raw in handle:
            start = position
            position += len(raw)
            text = raw.decode(encoding)
            if not text.strip():
                continue
            fields = next(csv.reader(io.StringIO(text)), [])
            yield start, fields


def _recipient(fields: Sequence[str], plan: CampaignPlan, index: Mapping[str, int]) -> Recipient:
    phone = fields[index[plan.phone_column]] if len(fields) > index[plan.phone_column] else ""
    variables = {
        name: fields[index[column]] if len(fields) > index[column] else ""
        for column, name in plan.var_columns.items()
    }
    return Recipient(phone, variables)


def plan_input(
    path: str | Path,
    *,
    phone_column: str,
    var_columns: Mapping[str, str],
    validate: Validate,
    shard_rows: int,
    encoding: str | None = None,
) -> CampaignPlan:
    """Read the input once; cut it into shards of ``shard_rows`` rows; find duplicates."""
    path = str(path)
    encoding = encoding or detect_encoding(path)
    if encoding == "utf-8":
        encoding = "utf-8-sig"
    lines = _lines(path, encoding)
    try:
        header_offset, header = next(lines)
    except StopIteration:
        raise InvalidInputError(
            "the campaign's input is empty", field="path", action="Give a CSV with a header row"
        ) from None
    del header_offset
    missing = [c for c in (phone_column, *var_columns) if c not in header]
    if missing:
        raise InvalidInputError(
            f"the campaign's input has no column {missing[0]!r}",
            field="path",
            received=", ".join(header),
            action="Check the phone and variable columns",
        )
    plan = CampaignPlan(
        path=path,
        encoding=encoding,
        header=tuple(header),
        phone_column=phone_column,
        var_columns=dict(var_columns),
        rows=0,
        shards=(),
    )
    index = {name: i for i, name in enumerate(header)}
    seen = SeenPhones()
    shards: list[ShardPlan] = []
    current: dict[str, Any] | None = None
    position = 0
    for offset, fields in lines:
        if current is None or current["rows"] == shard_rows:
            if current is not None:
                shards.append(ShardPlan(**current))
            current = {
                "index": len(shards),
                "offset": offset,
                "first_position": position,
                "rows": 0,
                "duplicates": {},
            }
        try:
            recipient = validate(_recipient(fields, plan, index), position=position)
        except InvalidInputError:
            recipient = None  # the shard's own batch job skips it as invalid
        if recipient is not None:
            earlier = seen.first_position(recipient.phone, position)
            if earlier is not None and earlier < current["first_position"]:
                current["duplicates"][position] = earlier
        current["rows"] += 1
        position += 1
    if current is not None:
        shards.append(ShardPlan(**current))
    return attrs.evolve(plan, rows=position, shards=tuple(shards))


def shard_rows(plan: CampaignPlan, shard: ShardPlan) -> Iterator[Recipient | PreSkipped]:
    """The shard's rows as batch input: one item per row, in order.

    Rows whose number came in an earlier shard are :class:`PreSkipped` duplicates.
    """
    index = {name: i for i, name in enumerate(plan.header)}
    position = shard.first_position
    for _, fields in _lines(plan.path, plan.encoding, shard.offset):
        if position >= shard.first_position + shard.rows:
            return
        recipient = _recipient(fields, plan, index)
        earlier = shard.duplicates.get(position)
        if earlier is not None:
            yield PreSkipped(
                recipient.phone,
                "duplicate",
                f"row {position}: the number {recipient.phone} already appears at row "
                f"{earlier} (in an earlier shard), which is the one sent",
            )
        else:
            yield recipient
        position += 1
