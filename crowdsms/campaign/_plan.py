"""Planning a campaign: one pass over the input, cut into shards of rows, duplicates found.

The coordinator reads the CSV file once (streaming: memory grows only with the compact set of
numbers seen) and records, per shard, the byte offset of its first row, its first row's
position and its row count, so that a worker reads only its own rows, from a file every
worker can read. Duplicates are skipped campaign-wide: the first occurrence in input order
is sent; a later one in the same shard is skipped by the shard's own batch job, and one
whose first occurrence is in an earlier shard is listed in the plan, so that its shard skips
it too. Numbers on the suppression list when the campaign is planned (they replied "stop")
are listed per shard too, so that every run of a shard skips the same numbers (``opted_out``)
and cuts the same chunks. Rows are one line each (a quoted value may not span lines).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Callable,
    Collection,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from pathlib import Path
from typing import Any

import attrs

from crowdsms.batch import detect_encoding
from crowdsms.batch._input import ShortRows, check_short_rows, short_row
from crowdsms.batch._screen import SeenPhones
from crowdsms.deliveries._reports import report_phone
from crowdsms.errors import InvalidInputError
from crowdsms.outcomes import PreSkipped, Recipient

__all__ = ["CampaignPlan", "ShardPlan", "plan_input", "plan_recipients", "shard_rows"]

Validate = Callable[..., Recipient]

_PAGE = 1000
"""Rows pushed to (or read from) Redis per round trip."""


@attrs.frozen(kw_only=True)
class ShardPlan:
    """One shard: ``rows`` rows starting at byte ``offset`` (row ``first_position``)."""

    index: int
    offset: int
    first_position: int
    rows: int
    duplicates: Mapping[int, int] = attrs.field(factory=dict)
    """Row position in this shard -> the earlier shard's position of the same number."""
    opted_out: tuple[str, ...] = ()
    """The shard's numbers (as sent) that were on the suppression list when it was planned."""


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
    rows_key: str | None = None
    """For recipients pushed by the coordinator: the Redis key prefix of each shard's rows
    (``{rows_key}:{shard}``, a list of JSON ``[phone, vars]``); ``None`` for a file."""
    skip_short_rows: bool = False
    """Whether a row of the file with fewer fields than a variable's column needs is skipped
    (code ``short_row``) rather than sent with empty values (``short_rows="skip"``)."""

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (the manifest stored in Redis)."""
        data = attrs.asdict(self)
        data["shards"] = [
            {
                **attrs.asdict(shard),
                "duplicates": [[k, v] for k, v in shard.duplicates.items()],
                "opted_out": list(shard.opted_out),
            }
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
                opted_out=tuple(item.get("opted_out", ())),
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
            rows_key=data.get("rows_key"),
            skip_short_rows=bool(data.get("skip_short_rows", False)),
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


class _Rows:
    """Reads a file's rows for ``plan``: recipients, or short rows skipped if it says so."""

    def __init__(self, plan: CampaignPlan) -> None:
        self._plan = plan
        self._index = {name: i for i, name in enumerate(plan.header)}
        self._pairs = [(name, self._index[column]) for column, name in plan.var_columns.items()]
        needed = max((i for _, i in self._pairs), default=-1) + 1
        self._needed = needed if plan.skip_short_rows else 0

    def item(self, fields: Sequence[str]) -> Recipient | PreSkipped:
        """The row's recipient, or its :class:`PreSkipped` if it is short and skipped."""
        if len(fields) < self._needed:
            phone_at = self._index[self._plan.phone_column]
            phone = fields[phone_at] if phone_at < len(fields) else ""
            return short_row(phone, fields, self._plan.header, self._pairs)
        return _recipient(fields, self._plan, self._index)


def plan_input(
    path: str | Path,
    *,
    phone_column: str,
    var_columns: Mapping[str, str],
    validate: Validate,
    shard_rows: int,
    encoding: str | None = None,
    suppressed: Collection[str] = frozenset(),
    short_rows: ShortRows = "empty",
) -> CampaignPlan:
    """Read the input once; cut it into shards of ``shard_rows`` rows; find duplicates and
    the numbers in ``suppressed`` (the suppression list, numbers as reports give them).

    ``short_rows`` is what a row with fewer fields than the header becomes, as in
    :func:`~crowdsms.batch.read_recipients_csv`: empty values (``"empty"``), or skipped
    with code ``short_row`` (``"skip"``); a skipped row is no first occurrence of its
    number, so a later row of that number is sent."""
    check_short_rows(short_rows)
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
        skip_short_rows=short_rows == "skip",
    )
    rows = _Rows(plan)
    planner = _Planner(validate, shard_rows, suppressed)
    for offset, fields in lines:
        planner.add(offset, rows.item(fields))
    return attrs.evolve(plan, rows=planner.position, shards=planner.finish())


def _shard(fields: Mapping[str, Any]) -> ShardPlan:
    return ShardPlan(**{**fields, "opted_out": tuple(fields["opted_out"])})


class _Planner:
    """Cuts rows into shards and finds numbers whose first occurrence is in an earlier shard."""

    def __init__(
        self, validate: Validate, shard_rows: int, suppressed: Collection[str] = frozenset()
    ) -> None:
        self._validate = validate
        self._shard_rows = shard_rows
        self._suppressed = suppressed
        self._seen = SeenPhones()
        self.shards: list[ShardPlan] = []
        self._current: dict[str, Any] | None = None
        self.position = 0

    @property
    def current_index(self) -> int:
        """The index of the shard the last row went to."""
        return int(self._current["index"]) if self._current is not None else 0

    def add(self, offset: int, recipient: Recipient | PreSkipped) -> None:
        """Plan one row (``offset``: its byte offset in the file, or -1); a skipped row
        (:class:`PreSkipped`) takes its place in its shard and nothing else."""
        current = self._current
        if current is None or current["rows"] == self._shard_rows:
            if current is not None:
                self.shards.append(_shard(current))
            current = self._current = {
                "index": len(self.shards),
                "offset": offset,
                "first_position": self.position,
                "rows": 0,
                "duplicates": {},
                "opted_out": {},
            }
        valid: Recipient | None = None
        if isinstance(recipient, Recipient):
            # An invalid number (None here) is skipped by the shard's own batch job.
            with contextlib.suppress(InvalidInputError):
                valid = self._validate(recipient, position=self.position)
        if valid is not None:
            earlier = self._seen.first_position(valid.phone, self.position)
            if earlier is not None and earlier < current["first_position"]:
                current["duplicates"][self.position] = earlier
            elif self._suppressed and report_phone(valid.phone) in self._suppressed:
                current["opted_out"][valid.phone] = None  # a dict: ordered, once each
        current["rows"] += 1
        self.position += 1

    def finish(self) -> tuple[ShardPlan, ...]:
        """Every shard, the last one included."""
        if self._current is not None:
            self.shards.append(_shard(self._current))
            self._current = None
        return tuple(self.shards)


async def plan_recipients(
    redis: Any,
    rows_key: str,
    recipients: Iterable[Recipient] | AsyncIterable[Recipient],
    *,
    validate: Validate,
    shard_rows: int,
    var_columns: Sequence[str] = (),
    suppressed: Collection[str] = frozenset(),
) -> CampaignPlan:
    """Plan recipients pushed by the coordinator: each shard's rows go to Redis, in pages.

    For input that is not a file every worker can read. The rows cost Redis memory (about
    the JSON of each row) until the campaign's keys are deleted.
    """
    planner = _Planner(validate, shard_rows, suppressed)
    page: list[str] = []
    page_shard = 0

    async def flush() -> None:
        nonlocal page
        if page:
            await redis.rpush(f"{rows_key}:{page_shard}", *page)
            page = []

    async def take(recipient: Recipient) -> None:
        nonlocal page_shard
        planner.add(-1, recipient)
        if planner.current_index != page_shard:
            await flush()
            page_shard = planner.current_index
        page.append(json.dumps([recipient.phone, dict(recipient.vars)], ensure_ascii=False))
        if len(page) >= _PAGE:
            await flush()

    if isinstance(recipients, AsyncIterable):
        async for recipient in recipients:
            await take(recipient)
    else:
        for recipient in recipients:
            await take(recipient)
    await flush()
    return CampaignPlan(
        path="",
        encoding="",
        header=(),
        phone_column="phone",
        var_columns={name: name for name in var_columns},
        rows=planner.position,
        shards=planner.finish(),
        rows_key=rows_key,
    )


def _judged(recipient: Recipient, position: int, shard: ShardPlan) -> Recipient | PreSkipped:
    earlier = shard.duplicates.get(position)
    if earlier is None:
        return recipient
    return PreSkipped(
        recipient.phone,
        "duplicate",
        f"row {position}: the number {recipient.phone} already appears at row {earlier} "
        "(in an earlier shard), which is the one sent",
    )


async def shard_rows(
    plan: CampaignPlan, shard: ShardPlan, redis: Any = None
) -> AsyncIterator[Recipient | PreSkipped]:
    """The shard's rows as batch input: one item per row, in order.

    Rows whose number came in an earlier shard are :class:`PreSkipped` duplicates. Rows
    pushed by the coordinator are read from Redis (``redis`` is needed then), a page at a
    time; rows of a file from the shard's byte offset.
    """
    position = shard.first_position
    end = shard.first_position + shard.rows
    if plan.rows_key is not None:
        key = f"{plan.rows_key}:{shard.index}"
        for start in range(0, shard.rows, _PAGE):
            for text in await redis.lrange(key, start, start + _PAGE - 1):
                phone, variables = json.loads(text)
                yield _judged(Recipient(phone, variables), position, shard)
                position += 1
        return
    rows = _Rows(plan)
    for _, fields in _lines(plan.path, plan.encoding, shard.offset):
        if position >= end:
            return
        item = rows.item(fields)
        yield _judged(item, position, shard) if isinstance(item, Recipient) else item
        position += 1
