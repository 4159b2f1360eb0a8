"""Where recipients come from: any iterable or async iterable, or a CSV file, read lazily."""

from __future__ import annotations

import csv
import os
from collections.abc import AsyncIterable, Generator, Iterable, Mapping, Sequence
from typing import TypeAlias

from crowdsms.errors import InvalidInputError
from crowdsms.outcomes import Recipient

__all__ = ["RecipientSource", "check_source", "read_recipients_csv"]

RecipientSource: TypeAlias = Iterable[Recipient | str] | AsyncIterable[Recipient | str]
"""What a batch job reads: ``Recipient`` objects (or bare phone strings), sync or async."""

_HEADER_EXCERPT = 300


def check_source(source: object) -> None:
    """Refuse a source that is not an iterable of recipients, before the job starts."""
    if isinstance(source, (str, bytes, os.PathLike)):
        raise InvalidInputError(
            f"expected an iterable of Recipient objects, got a single {type(source).__name__}",
            field="recipients",
            received=repr(source)[:60],
            action=(
                "Pass a list or generator of Recipient(phone, vars); to read a CSV file use "
                "crowdsms.batch.read_recipients_csv(path)"
            ),
        )
    if not isinstance(source, (Iterable, AsyncIterable)):
        raise InvalidInputError(
            f"expected an iterable of Recipient objects, got {type(source).__name__}",
            field="recipients",
            received=repr(source)[:60],
            action="Pass a list, a generator or an async iterable of Recipient(phone, vars)",
        )


def _normal_encoding(encoding: str) -> str:
    # Spreadsheet programs often start UTF-8 files with a BOM; "utf-8-sig" reads both.
    if encoding.lower().replace("_", "-") in {"utf-8", "utf8"}:
        return "utf-8-sig"
    return encoding


def _read_header(path: str | os.PathLike[str], encoding: str) -> list[str]:
    with open(path, encoding=encoding, newline="") as file:
        for row in csv.reader(file):
            if any(cell.strip() for cell in row):
                return [cell.strip() for cell in row]
    raise InvalidInputError(
        "the CSV file is empty: it has no header line",
        field="path",
        received=repr(os.fspath(path)),
        action="Give a CSV file whose first line names the columns, e.g. 'phone,name'",
    )


def _missing_column(column: str, header: Sequence[str], field: str) -> InvalidInputError:
    listed = ", ".join(repr(name) for name in header)
    if len(listed) > _HEADER_EXCERPT:
        listed = listed[:_HEADER_EXCERPT] + " ..."
    return InvalidInputError(
        f"the CSV file has no column {column!r}",
        field=field,
        received=f"a header with the columns {listed}",
        action=f"Pass {field}= naming one of these columns, or fix the file's first line",
    )


def _plan(
    header: Sequence[str],
    phone_column: str,
    var_columns: Mapping[str, str] | Sequence[str] | None,
) -> tuple[int, list[tuple[str, int]]]:
    """The phone column's index and ``(var name, column index)`` pairs."""
    index: dict[str, int] = {}
    for number, name in enumerate(header):
        index.setdefault(name, number)
    if phone_column not in index:
        raise _missing_column(phone_column, header, "phone_column")
    if var_columns is None:
        pairs = [(name, index[name]) for name in index if name and name != phone_column]
        return index[phone_column], pairs
    if isinstance(var_columns, str):
        raise InvalidInputError(
            "var_columns must be a list of column names or a mapping, not one string",
            field="var_columns",
            received=repr(var_columns)[:60],
            action=f"Pass var_columns=[{var_columns!r}]",
        )
    mapping = (
        dict(var_columns)
        if isinstance(var_columns, Mapping)
        else {column: column for column in var_columns}
    )
    pairs = []
    for column, var in mapping.items():
        if column not in index:
            raise _missing_column(column, header, "var_columns")
        pairs.append((var, index[column]))
    return index[phone_column], pairs


def read_recipients_csv(
    path: str | os.PathLike[str],
    *,
    phone_column: str = "phone",
    var_columns: Mapping[str, str] | Sequence[str] | None = None,
    encoding: str = "utf-8",
) -> Generator[Recipient, None, None]:
    """Read recipients from a CSV file, one row at a time (a generator).

    The first non-blank line is the header. ``phone_column`` names the column holding the
    number. ``var_columns`` chooses the template variables: a list of column names (each
    variable named like its column), a mapping ``{column: variable name}``, or ``None`` for
    every column except the phone column. Blank lines are ignored; a short row gives empty
    values. UTF-8 files may start with a byte-order mark; Chinese spreadsheets saved as
    ``gbk`` need ``encoding="gbk"``.

    The header is checked at once: a missing column raises :class:`InvalidInputError`
    naming the column and listing the header. The rows are then read lazily, so a file of
    millions of rows is never held in memory.
    """
    encoding = _normal_encoding(encoding)
    header = _read_header(path, encoding)
    phone_index, pairs = _plan(header, phone_column, var_columns)
    return _rows(path, encoding, header, phone_index, pairs)


def _rows(
    path: str | os.PathLike[str],
    encoding: str,
    header: list[str],
    phone_index: int,
    pairs: list[tuple[str, int]],
) -> Generator[Recipient, None, None]:
    with open(path, encoding=encoding, newline="") as file:
        reader = csv.reader(file)
        seen_header = False
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if not seen_header:
                seen_header = True
                if [cell.strip() for cell in row] != header:
                    raise InvalidInputError(
                        "the CSV file's header changed while the job was starting",
                        field="path",
                        received=repr(os.fspath(path)),
                        action="Do not modify the file while a job reads it",
                    )
                continue
            phone = row[phone_index] if phone_index < len(row) else ""
            yield Recipient(phone, {var: row[i] if i < len(row) else "" for var, i in pairs})
