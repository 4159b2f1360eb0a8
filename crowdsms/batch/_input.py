"""Where recipients come from: any iterable or async iterable, or a CSV file, read lazily."""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
from collections.abc import AsyncIterable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TextIO, TypeAlias, overload

from crowdsms.errors import InvalidInputError
from crowdsms.outcomes import PreSkipped, Recipient

__all__ = [
    "DETECT_PREFIX_BYTES",
    "SHORT_ROW",
    "RecipientSource",
    "ShortRows",
    "check_source",
    "detect_encoding",
    "read_csv_header",
    "read_recipients_csv",
]

RecipientSource: TypeAlias = (
    Iterable[Recipient | PreSkipped | str] | AsyncIterable[Recipient | PreSkipped | str]
)
"""What a batch job reads: ``Recipient`` objects (or bare phone strings, or items already
judged: :class:`~crowdsms.outcomes.PreSkipped`), sync or async."""

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


# -- encodings ------------------------------------------------------------------------------

DETECT_PREFIX_BYTES = 64 * 1024
"""How much of a file :func:`detect_encoding` looks at."""

_DETECTED_FALLBACK = "gb18030"  # a superset of GBK (and GB2312): what Chinese Excel saves
_ESCAPE = "crowdsms.csv-escape"
_ESCAPED = re.compile("([\udc00-\udcff]+)")
_BYTES_EXCERPT = 8


# How many times _escape_bad_bytes ran, in any file: a line needs the (slower) search for
# escaped bytes only once this has moved since its file was opened.
_escapes = [0]


def _escape_bad_bytes(error: UnicodeError) -> tuple[str, int]:
    # Undecodable bytes become lone surrogates U+DC00 + byte, which no strict decoder of a
    # text encoding produces: the reader finds them in the line they belong to and raises
    # there, after every row before it was yielded. (Letting the decoder raise would lose
    # the rows decoded with the bad bytes in the same 8 KiB block, and the line number.)
    if not isinstance(error, UnicodeDecodeError):
        raise error
    _escapes[0] += 1
    bad = error.object[error.start : error.end]
    return "".join(chr(0xDC00 + byte) for byte in bad), error.end


codecs.register_error(_ESCAPE, _escape_bad_bytes)


def detect_encoding(path: str | os.PathLike[str]) -> str:
    """Guess a CSV file's encoding from its first 64 KiB: ``"utf-8-sig"``, ``"utf-8"`` or
    ``"gb18030"``.

    A UTF-8 byte-order mark gives ``"utf-8-sig"``. Otherwise the first
    :data:`DETECT_PREFIX_BYTES` bytes are decoded as strict UTF-8 (a character cut at the
    end of that prefix does not count against it): ``"utf-8"`` if they decode, pure ASCII
    included, else ``"gb18030"``, the superset of GBK and GB2312 that Excel uses for
    Chinese. Only the prefix is read, so a file whose encoding changes further on is
    reported by :func:`read_recipients_csv` at the first row it cannot decode.
    """
    with open(path, "rb") as file:
        prefix = file.read(DETECT_PREFIX_BYTES + 1)
    if prefix.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    whole = len(prefix) <= DETECT_PREFIX_BYTES
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    try:
        decoder.decode(prefix[:DETECT_PREFIX_BYTES], final=whole)
    except UnicodeDecodeError:
        return _DETECTED_FALLBACK
    return "utf-8"


def _check_encoding(encoding: str) -> None:
    try:
        io.TextIOWrapper(io.BytesIO(), encoding=encoding)
    except LookupError as exc:
        raise InvalidInputError(
            f"{encoding!r} is not a known text encoding",
            field="encoding",
            received=str(exc),
            action=(
                "Pass a text encoding such as 'utf-8', 'gb18030' or 'gbk', or leave encoding "
                "unset (None) to detect UTF-8 or GB18030"
            ),
        ) from None


def _codec_name(encoding: str) -> str:
    return codecs.lookup(encoding).name


@dataclass(frozen=True)
class _Source:
    """A CSV file and how to decode it."""

    path: str | os.PathLike[str]
    label: str  # the encoding as given or detected, for messages
    encoding: str  # the codec the file is opened with
    detected: bool

    @classmethod
    def resolve(cls, path: str | os.PathLike[str], encoding: str | None) -> _Source:
        if encoding is None:
            label = detect_encoding(path)
            detected = True
        else:
            _check_encoding(encoding)
            label = encoding
            detected = False
        codec = _codec_name(label)
        # Spreadsheet programs often start UTF-8 files with a BOM; "utf-8-sig" reads both.
        return cls(path, label, "utf-8-sig" if codec == "utf-8" else label, detected)

    @property
    def name(self) -> str:
        return repr(os.fspath(self.path))

    def open(self) -> TextIO:
        return open(self.path, encoding=self.encoding, errors=_ESCAPE, newline="")

    def undecodable(self, row: int, line: str, position: int | None) -> InvalidInputError:
        match = _ESCAPED.search(line)
        assert match is not None
        bad = bytes(ord(char) - 0xDC00 for char in match.group())
        shown = repr(bad[:_BYTES_EXCERPT]) + (" ..." if len(bad) > _BYTES_EXCERPT else "")
        how = "detected from the start of the file" if self.detected else "as given"
        other, fits = self._other_encoding(line)
        received = f"the bytes {shown} at character {match.start() + 1} of the line"
        if fits:
            received += f"; this row reads as {other}"
        return InvalidInputError(
            f"row {row} of {self.name} cannot be decoded as {self.label} ({how})",
            field="encoding",
            position=position,
            received=received,
            action=(
                f"If the file is in another encoding, pass it: --encoding {other} on the "
                f'command line, encoding="{other}" in Python. If only some rows are, the file '
                "mixes encodings: fix those rows, or save the whole file again as UTF-8"
            ),
        )

    def _other_encoding(self, line: str) -> tuple[str, bool]:
        """Another encoding to suggest, and whether the bad line decodes with it."""
        codec = _codec_name(self.encoding)
        others = [name for name in ("gb18030", "utf-8") if _codec_name(name) != codec]
        raw = _raw_line(line, "utf-8" if codec == "utf-8-sig" else self.encoding)
        if raw is not None:
            for other in others:
                try:
                    raw.decode(other)
                except UnicodeDecodeError:
                    continue
                return other, True
        return others[0], False

    def malformed(
        self, start: int, end: int, error: csv.Error, position: int | None
    ) -> InvalidInputError:
        runs_on = f"; the record runs on to line {end}" if end > start else ""
        return InvalidInputError(
            f"row {start} of {self.name} is not well-formed CSV ({error}){runs_on}",
            field="path",
            position=position,
            action=(
                "Fix the file at that row (a quote that is never closed takes in the lines "
                "after it), then run again"
            ),
        )


def _raw_line(line: str, encoding: str) -> bytes | None:
    """The bytes a line with escaped bad bytes was decoded from, if they can be rebuilt."""
    raw = []
    try:
        # With the pattern's group, split() alternates text and runs of escaped bytes.
        for index, part in enumerate(_ESCAPED.split(line)):
            if index % 2:
                raw.append(bytes(ord(char) - 0xDC00 for char in part))
            else:
                raw.append(part.encode(encoding))
    except (UnicodeError, LookupError):
        return None
    return b"".join(raw)


class _Undecodable(Exception):
    """Raised inside the line iterator, so that the CSV reader stops at the bad line."""

    def __init__(self, row: int, line: str) -> None:
        super().__init__(row)
        self.row = row
        self.line = line


def _checked_lines(file: TextIO, escapes_before: int) -> Iterator[str]:
    for row, line in enumerate(file, 1):
        if _escapes[0] != escapes_before and _ESCAPED.search(line) is not None:
            raise _Undecodable(row, line)
        yield line


def _records(source: _Source, file: TextIO, yielded: list[int]) -> Iterator[list[str]]:
    """The CSV records of ``file``, just opened; a bad row raises :class:`InvalidInputError`.

    ``yielded[0]`` is the number of recipients produced so far: the position the bad row
    would have had.
    """
    escapes_before = _escapes[0]  # opening a file decodes nothing yet
    reader = csv.reader(_checked_lines(file, escapes_before))
    while True:
        start = reader.line_num + 1  # where the next record starts
        try:
            row = next(reader)
        except StopIteration:
            return
        except _Undecodable as bad:
            raise source.undecodable(bad.row, bad.line, yielded[0]) from None
        except csv.Error as exc:
            raise source.malformed(start, reader.line_num, exc, yielded[0]) from exc
        yield row


def read_csv_header(path: str | os.PathLike[str], encoding: str | None = None) -> list[str]:
    """The column names of a CSV file as :func:`read_recipients_csv` reads them: a BOM
    dropped, blank lines before the header skipped, each name stripped of spaces.

    Raises :class:`InvalidInputError` for an unknown encoding, a header that cannot be
    decoded or parsed, or an empty file.
    """
    return _read_header(_Source.resolve(path, encoding))


def _read_header(source: _Source) -> list[str]:
    try:
        with source.open() as file:
            for row in _records(source, file, [0]):
                if any(cell.strip() for cell in row):
                    return [cell.strip() for cell in row]
    except UnicodeError as exc:  # a codec that cannot even start (UTF-16 without a BOM)
        raise InvalidInputError(
            f"{source.name} cannot be read as {source.label}",
            field="encoding",
            received=str(exc),
            action=(
                "Pass the file's real encoding (--encoding on the command line, encoding= in "
                "Python), or leave it unset to detect UTF-8 or GB18030"
            ),
        ) from None
    raise InvalidInputError(
        "the CSV file is empty: it has no header line",
        field="path",
        received=source.name,
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


ShortRows: TypeAlias = Literal["empty", "skip"]
"""What :func:`read_recipients_csv` makes of a row with fewer fields than its header."""

SHORT_ROW = "short_row"
"""The ``code`` of a recipient skipped because its row lacks a variable's field."""


@overload
def read_recipients_csv(
    path: str | os.PathLike[str],
    *,
    phone_column: str = ...,
    var_columns: Mapping[str, str] | Sequence[str] | None = ...,
    encoding: str | None = ...,
    short_rows: Literal["empty"] = ...,
) -> Generator[Recipient, None, None]: ...


@overload
def read_recipients_csv(
    path: str | os.PathLike[str],
    *,
    phone_column: str = ...,
    var_columns: Mapping[str, str] | Sequence[str] | None = ...,
    encoding: str | None = ...,
    short_rows: ShortRows,
) -> Generator[Recipient | PreSkipped, None, None]: ...


def read_recipients_csv(
    path: str | os.PathLike[str],
    *,
    phone_column: str = "phone",
    var_columns: Mapping[str, str] | Sequence[str] | None = None,
    encoding: str | None = None,
    short_rows: ShortRows = "empty",
) -> Generator[Recipient | PreSkipped, None, None]:
    """Read recipients from a CSV file, one row at a time (a generator).

    The first non-blank line is the header. ``phone_column`` names the column holding the
    number. ``var_columns`` chooses the template variables: a list of column names (each
    variable named like its column), a mapping ``{column: variable name}``, or ``None`` for
    every column except the phone column. Blank lines are ignored.

    A row with fewer fields than the header (``13800138000`` under ``phone,name``: a tool
    that drops empty trailing fields, or a field lost to a missing comma) gives, with
    ``short_rows="empty"`` (the default), empty values for the variables it lacks; with
    ``"skip"``, a :class:`~crowdsms.outcomes.PreSkipped` (code :data:`SHORT_ROW`) naming
    them, which a batch job reports ``skipped`` instead of sending a message with a blank
    where a value should be (the command line does this).

    ``encoding`` is the file's text encoding. ``None`` (the default) detects it with
    :func:`detect_encoding`: UTF-8, with or without a byte-order mark, or else GB18030,
    which also reads the GBK files of Chinese spreadsheets. A UTF-8 file may start with a
    byte-order mark whichever way its encoding is chosen. An unknown encoding raises
    :class:`InvalidInputError` at once.

    The header is checked at once: a missing column raises :class:`InvalidInputError`
    naming the column and listing the header. The rows are then read lazily, so a file of
    millions of rows is never held in memory. A row that cannot be decoded, or is not
    well-formed CSV, raises :class:`InvalidInputError` when the reader reaches it, after
    every recipient before it was yielded; the message gives the row as the line number in
    the file (the header is row 1, blank lines count) and ``position`` is the index the
    row's recipient would have had.
    """
    check_short_rows(short_rows)
    source = _Source.resolve(path, encoding)
    header = _read_header(source)
    phone_index, pairs = _plan(header, phone_column, var_columns)
    return _rows(source, header, phone_index, pairs, skip_short=short_rows == "skip")


def check_short_rows(short_rows: object) -> None:
    """Raise :class:`InvalidInputError` unless ``short_rows`` is a :data:`ShortRows` value."""
    if short_rows not in ("empty", "skip"):
        raise InvalidInputError(
            "short_rows must be 'empty' or 'skip'",
            field="short_rows",
            received=repr(short_rows)[:40],
            action="Pass short_rows='skip' to skip a row that lacks a variable's field",
        )


def short_row(
    phone: str, row: Sequence[str], header: Sequence[str], pairs: Sequence[tuple[str, int]]
) -> PreSkipped:
    """The :class:`PreSkipped` (code :data:`SHORT_ROW`) of a ``row`` too short to give
    each variable of ``pairs`` (name, field index) its value; ``header`` names the fields."""
    missing = [header[index] for _, index in pairs if index >= len(row)]
    names = ", ".join(repr(name) for name in missing)
    return PreSkipped(
        phone,
        SHORT_ROW,
        f"its row has {len(row)} of the header's {len(header)} fields: no value for {names}. "
        "Complete the row (an empty value needs its comma too) and send it again",
    )


def _rows(
    source: _Source,
    header: list[str],
    phone_index: int,
    pairs: list[tuple[str, int]],
    *,
    skip_short: bool = False,
) -> Generator[Recipient | PreSkipped, None, None]:
    needed = max((index for _, index in pairs), default=-1) + 1 if skip_short else 0
    yielded = [0]
    with source.open() as file:
        seen_header = False
        for row in _records(source, file, yielded):
            if not any(cell.strip() for cell in row):
                continue
            if not seen_header:
                seen_header = True
                if [cell.strip() for cell in row] != header:
                    raise InvalidInputError(
                        "the CSV file's header changed while the job was starting",
                        field="path",
                        received=source.name,
                        action="Do not modify the file while a job reads it",
                    )
                continue
            phone = row[phone_index] if phone_index < len(row) else ""
            if len(row) < needed:
                yield short_row(phone, row, header, pairs)
            else:
                yield Recipient(phone, {var: row[i] if i < len(row) else "" for var, i in pairs})
            yielded[0] += 1
