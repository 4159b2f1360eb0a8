"""The "CVS" file CrowdTask's ``task/batch`` takes: one task per line, values separated by spaces.

CrowdTask's documents call it a CVS file (not CSV). What they say about it: the first line
holds the task template's variable names separated by whitespace; every further line holds
one task's values in the same order; a value containing spaces is wrapped in double quotes,
and a double quote inside a value is written ``\\"``. The file is UTF-8. That leaves
backslashes, empty values and line breaks open, so crowdsms settles them as follows, in a
way that every value the format can carry goes through :func:`write_cvs` and
:func:`read_cvs` unchanged.

**Writing** (:func:`write_cvs`):

- The first line is the variable names joined by one space. A name must be non-empty,
  unique, and contain no whitespace, double quote, backslash, control character or BOM:
  names are bare tokens, nothing is quoted or escaped in them.
- Each further line is one row's values joined by one space, with ``\\n`` after every line
  (the last one included). No byte-order mark is written.
- A double quote in a value is always written ``\\"``; that is the only escape, as
  documented. A backslash is written as is, so ``C:\\tmp\\1.jpg`` and ``a\\"b`` (a
  backslash before a quote, written ``a\\\\"b``) read back unchanged by any parser that
  knows the documented ``\\"`` rule, whether it scans left to right or replaces ``\\"``.
- The one value the documented format cannot carry is a *quoted* value (see below) that
  ends with a backslash: its closing quote would read as an escaped quote. It is refused.
- A value is wrapped in double quotes when it contains any whitespace (a space, an
  ideographic space U+3000, a no-break space...), when it is empty (``""``), or when it
  starts with a double quote.
- Values that cannot be carried are refused with :class:`~crowdsms.errors.InvalidInputError`
  naming the row, the column and the character: line breaks (``\\n``, ``\\r``, U+2028,
  U+2029, U+0085), tabs (the documents' own example separates values with tabs, so a
  server may split a value there), every other control character (U+0000 to U+001F,
  U+007F to U+009F), and lone surrogates (not valid Unicode text, so not UTF-8).

**Reading** (:func:`read_cvs`, :func:`load_cvs`) accepts what :func:`write_cvs` writes and
the looser files people write by hand: values separated by runs of spaces and tabs, ``\\r\\n``
line endings, a UTF-8 byte-order mark, blank lines (ignored), and a double quote inside an
unquoted value taken literally (the documents' own example shows ``def="123"``, most likely
a Markdown rendering of ``def=\\"123\\"``). Inside a value, ``\\"`` stands for ``"``; a
backslash before any other character is a literal backslash. Malformed
input (an unterminated quote, text glued to a closing quote, the wrong number of values,
a bad or repeated variable name) raises :class:`CvsFormatError` with the line number.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import attrs

from crowdsms.errors import InvalidInputError

__all__ = [
    "CvsDocument",
    "CvsFormatError",
    "load_cvs",
    "read_cvs",
    "validate_columns",
    "validate_row",
    "write_cvs",
]

# Characters no value may contain: control characters (tab, CR and LF among them), the
# Unicode line and paragraph separators, and lone surrogates (which UTF-8 cannot encode).
_UNCARRIED = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
# Characters no variable name may contain: the above, any whitespace, quotes, backslashes,
# and the byte-order mark (a reader strips one at the start of the file).
_BAD_IN_NAME = re.compile(r'[\s"\\\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff]')
# A value needing more than a plain copy: whitespace (quote it), a quote or a backslash.
_SPECIAL = re.compile(r'[\s"\\]')
_WHITESPACE = re.compile(r"\s")
_SEPARATORS = " \t"
_EXCERPT = 60


class CvsFormatError(InvalidInputError):
    """A CVS text could not be read. ``line`` is the 1-based line number of the problem."""

    def __init__(
        self, what: str, *, line: int, received: str | None = None, action: str | None = None
    ) -> None:
        self.line = line
        super().__init__(
            what,
            field=f"line {line}",
            position=line,
            received=received,
            action=action or "Fix the file at that line and read it again",
        )


def _rows(value: Iterable[Iterable[str]]) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(row) for row in value)


def _columns(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen
class CvsDocument:
    """A CVS file's content: the variable names and one tuple of values per task."""

    columns: tuple[str, ...] = attrs.field(converter=_columns)
    rows: tuple[tuple[str, ...], ...] = attrs.field(converter=_rows)

    def records(self) -> list[dict[str, str]]:
        """The rows as dictionaries from variable name to value, in file order."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


# --- validation -------------------------------------------------------------------------


def _describe(char: str) -> str:
    named = {
        "\n": "a line feed (\\n)",
        "\r": "a carriage return (\\r)",
        "\t": "a tab",
        '"': "a double quote",
        "\\": "a backslash",
        "\ufeff": "a byte-order mark (U+FEFF)",
        "\u2028": "a line separator (U+2028)",
        "\u2029": "a paragraph separator (U+2029)",
        " ": "a space",
    }
    if char in named:
        return named[char]
    code = ord(char)
    if 0xD800 <= code <= 0xDFFF:
        return f"a lone surrogate (U+{code:04X}, not valid Unicode text)"
    if char.isspace() and not _UNCARRIED.match(char):
        return f"whitespace (U+{code:04X})"
    return f"the control character U+{code:04X}"


def _excerpt(value: str) -> str:
    # repr() prints control characters and lone surrogates as escapes.
    return repr(value) if len(value) <= _EXCERPT else repr(value[:_EXCERPT]) + "..."


def validate_columns(columns: Sequence[str], *, field: str = "columns") -> tuple[str, ...]:
    """Return ``columns`` as a tuple, or raise :class:`InvalidInputError` for a bad name.

    Names must be non-empty strings, unique, and free of whitespace, double quotes,
    backslashes, control characters and U+FEFF.
    """
    if isinstance(columns, (str, bytes)) or not isinstance(columns, Sequence):
        raise InvalidInputError(
            "the variable names must be a list of strings",
            field=field,
            received=_excerpt(repr(columns)),
            action="Pass a list such as ['img_url', 'label'], not a single string",
        )
    if not columns:
        raise InvalidInputError(
            "at least one variable name is needed",
            field=field,
            received="an empty list",
            action="Pass the task template's variable names, e.g. ['img_url']",
        )
    seen: dict[str, int] = {}
    for index, name in enumerate(columns):
        name_field = f"{field}[{index}]"
        if not isinstance(name, str):
            raise InvalidInputError(
                f"a variable name must be a string, not {type(name).__name__}",
                field=name_field,
                position=index,
                received=_excerpt(repr(name)),
                action="Pass the variable names as strings",
            )
        if not name:
            raise InvalidInputError(
                "a variable name is empty",
                field=name_field,
                position=index,
                received="''",
                action="Give every column the name of a variable of the task template",
            )
        bad = _BAD_IN_NAME.search(name)
        if bad is not None:
            raise InvalidInputError(
                f"the variable name has {_describe(bad.group())} at character "
                f"{bad.start() + 1}, which a CVS header cannot carry",
                field=name_field,
                position=index,
                received=_excerpt(name),
                action=(
                    "Use the task template's variable names as they are (letters, digits "
                    "and underscores, e.g. img_url_1)"
                ),
            )
        if name in seen:
            raise InvalidInputError(
                f"the variable name {name!r} is repeated (first at {field}[{seen[name]}])",
                field=name_field,
                position=index,
                received=_excerpt(name),
                action="Give each column once",
            )
        seen[name] = index
    return tuple(columns)


def _check_value(
    value: object, *, field: str, position: int, column_index: int, column: str
) -> str:
    where = f"column {column_index + 1} ({column!r})"
    if not isinstance(value, str):
        raise InvalidInputError(
            f"the value of {where} must be a string, not {type(value).__name__}",
            field=field,
            position=position,
            received=_excerpt(repr(value)),
            action="Convert the value with str() first, formatted the way the task should show it",
        )
    bad = _UNCARRIED.search(value)
    if bad is not None:
        raise InvalidInputError(
            f"the value of {where} has {_describe(bad.group())} at character "
            f"{bad.start() + 1}, which the CVS format cannot carry",
            field=field,
            position=position,
            received=_excerpt(value),
            action=(
                "Remove line breaks and control characters from the value, and replace tabs "
                "with spaces"
            ),
        )
    if value.endswith("\\") and _needs_quotes(value):
        raise InvalidInputError(
            f"the value of {where} ends with a backslash and must be quoted (it contains "
            "spaces or starts with a quote), which the CVS format cannot carry: the closing "
            'quote would read as an escaped quote (\\")',
            field=field,
            position=position,
            received=_excerpt(value),
            action="Remove the trailing backslash, or add a character after it",
        )
    return value


def _needs_quotes(value: str) -> bool:
    return not value or value[0] == '"' or _WHITESPACE.search(value) is not None


def validate_row(
    columns: Sequence[str],
    row: Mapping[str, str] | Sequence[str],
    *,
    position: int,
    field: str | None = None,
) -> tuple[str, ...]:
    """Return one row's values in column order, or raise :class:`InvalidInputError`.

    ``columns`` must already be valid (see :func:`validate_columns`). ``row`` is either a
    mapping with exactly those keys or a sequence with one value per column. ``position``
    is the row's index and ``field`` its name in errors (default ``rows[<position>]``); a
    bad value is named ``<field>['<column>']``.
    """
    field = field if field is not None else f"rows[{position}]"
    if isinstance(row, Mapping):
        known = set(columns)
        missing = [name for name in columns if name not in row]
        extra = [key for key in row if key not in known]
        if missing or extra:
            problems = []
            if missing:
                problems.append("lacks " + ", ".join(repr(name) for name in missing))
            if extra:
                problems.append("has unknown " + ", ".join(repr(key) for key in extra[:5]))
            raise InvalidInputError(
                "the row " + " and ".join(problems) + "; every row must have exactly the "
                "variables " + ", ".join(repr(name) for name in columns),
                field=field,
                position=position,
                received=_excerpt(repr(list(row))),
                action="Give every row the same variables as the columns",
            )
        values: Sequence[object] = [row[name] for name in columns]
    elif isinstance(row, Sequence) and not isinstance(row, (str, bytes)):
        if len(row) != len(columns):
            raise InvalidInputError(
                f"the row has {len(row)} values but there are {len(columns)} columns",
                field=field,
                position=position,
                received=_excerpt(repr(row)),
                action="Give exactly one value per column, in column order",
            )
        values = row
    else:
        raise InvalidInputError(
            f"a row must be a mapping or a list of values, not {type(row).__name__}",
            field=field,
            position=position,
            received=_excerpt(repr(row)),
            action="Pass each row as a dict from variable name to value",
        )
    return tuple(
        _check_value(
            value,
            field=f"{field}[{name!r}]",
            position=position,
            column_index=index,
            column=name,
        )
        for index, (name, value) in enumerate(zip(columns, values, strict=True))
    )


# --- writing ----------------------------------------------------------------------------


def _encode_value(value: str) -> str:
    if value and value[0] != '"' and _SPECIAL.search(value) is None:
        return value
    escaped = value.replace('"', '\\"')
    if _needs_quotes(value):
        return f'"{escaped}"'
    return escaped


def write_cvs(columns: Sequence[str], rows: Iterable[Mapping[str, str] | Sequence[str]]) -> str:
    """Write a CVS text: the variable names, then one line per row (see the module's rules).

    Each row is a mapping with exactly the keys in ``columns`` or a sequence of one string
    per column. Raises :class:`InvalidInputError` naming the row (``rows[3]['label']``,
    ``position=3``), the column and the character for anything the format cannot carry.
    """
    names = validate_columns(columns)
    lines = [" ".join(names)]
    for position, row in enumerate(rows):
        values = validate_row(names, row, position=position)
        lines.append(" ".join(_encode_value(value) for value in values))
    lines.append("")
    return "\n".join(lines)


# --- reading ----------------------------------------------------------------------------


def _split_line(line: str, number: int) -> list[str]:
    values: list[str] = []
    index, end = 0, len(line)
    while True:
        while index < end and line[index] in _SEPARATORS:
            index += 1
        if index >= end:
            return values
        chars: list[str] = []
        if line[index] == '"':
            start = index
            index += 1
            while True:
                if index >= end:
                    raise CvsFormatError(
                        f"the quoted value starting at character {start + 1} is never closed",
                        line=number,
                        received=_excerpt(line[start:]),
                        action='Close the value with a quote; write a quote inside it as \\"',
                    )
                char = line[index]
                if char == "\\" and index + 1 < end and line[index + 1] == '"':
                    chars.append(line[index + 1])
                    index += 2
                elif char == '"':
                    index += 1
                    break
                else:
                    chars.append(char)
                    index += 1
            if index < end and line[index] not in _SEPARATORS:
                raise CvsFormatError(
                    f"the quoted value starting at character {start + 1} is followed by "
                    f"{line[index]!r} instead of a space",
                    line=number,
                    received=_excerpt(line[start:]),
                    action='Put a space after the closing quote, or write inner quotes as \\"',
                )
        else:
            while index < end and line[index] not in _SEPARATORS:
                char = line[index]
                if char == "\\" and index + 1 < end and line[index + 1] == '"':
                    chars.append(line[index + 1])
                    index += 2
                else:
                    chars.append(char)
                    index += 1
        values.append("".join(chars))


def read_cvs(text: str) -> CvsDocument:
    """Read a CVS text into a :class:`CvsDocument` (see the module's rules).

    Raises :class:`CvsFormatError` with the 1-based line number for malformed input.
    """
    if not isinstance(text, str):
        raise InvalidInputError(
            f"the CVS text must be a str, not {type(text).__name__}",
            field="text",
            received=_excerpt(repr(text)),
            action="Decode the file as UTF-8 first, or use load_cvs(path)",
        )
    if text.startswith("\ufeff"):
        text = text[1:]
    columns: tuple[str, ...] | None = None
    rows: list[tuple[str, ...]] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw[:-1] if raw.endswith("\r") else raw
        if not line.strip(_SEPARATORS):
            continue
        if columns is None:
            columns = _read_header(line, number)
            continue
        values = _split_line(line, number)
        if len(values) != len(columns):
            raise CvsFormatError(
                f"the line has {len(values)} values but the first line names "
                f"{len(columns)} variables",
                line=number,
                received=_excerpt(line),
                action="Give one value per variable; quote values that contain spaces",
            )
        rows.append(tuple(values))
    if columns is None:
        raise CvsFormatError(
            "the text is empty; a CVS file starts with a line of variable names",
            line=1,
            received="no lines",
        )
    return CvsDocument(columns, rows)


def _read_header(line: str, number: int) -> tuple[str, ...]:
    names = [name for name in re.split(r"[ \t]+", line) if name]
    seen: set[str] = set()
    for index, name in enumerate(names):
        bad = _BAD_IN_NAME.search(name)
        if bad is not None:
            raise CvsFormatError(
                f"variable name {index + 1} has {_describe(bad.group())}, which a name "
                "cannot contain",
                line=number,
                received=_excerpt(name),
                action="The first line must list the variable names, separated by spaces",
            )
        if name in seen:
            raise CvsFormatError(
                f"the variable name {name!r} is repeated",
                line=number,
                received=_excerpt(line),
                action="Name each variable once",
            )
        seen.add(name)
    return tuple(names)


def load_cvs(path: str | os.PathLike[str]) -> CvsDocument:
    """Read a UTF-8 CVS file (a leading byte-order mark is allowed) with :func:`read_cvs`."""
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise CvsFormatError(
            f"the file is not valid UTF-8 (byte {exc.start} cannot be decoded)",
            line=line,
            received=repr(data[max(exc.start - 20, 0) : exc.start + 20]),
            action="Save the file as UTF-8 (CrowdTask reads UTF-8 only)",
        ) from exc
    return read_cvs(text)
