"""The CVS file format: exact output, reading people's files, errors, and round trips."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crowdsms.errors import InvalidInputError
from crowdsms.providers.crowdtask import (
    CvsDocument,
    CvsFormatError,
    load_cvs,
    read_cvs,
    validate_row,
    write_cvs,
)

# --- writing: exact output --------------------------------------------------------------


def test_writes_the_seed_example_exactly() -> None:
    columns = ["img_url_1", "img_url_2", "imag_url_3", "input_init_value_1"]
    rows = [
        ["mydomain.com/img/1.jpg", "mydomain.com/img/2.jpg", "mydomain.com/img/3.jpg", "abc"],
        ["mydomain.com/img/4.jpg", "mydomain.com/img/5.jpg", "mydomain.com/img/6.jpg", "def"],
        [
            "mydomain.com/img/1.jpg",
            "mydomain.com/img/2.jpg",
            "mydomain.com/img/3.jpg",
            "abc = 123",
        ],
        ["mydomain.com/img/1.jpg", "mydomain.com/img/2.jpg", "mydomain.com/img/3.jpg", 'def="123"'],
    ]
    assert write_cvs(columns, rows) == (
        "img_url_1 img_url_2 imag_url_3 input_init_value_1\n"
        "mydomain.com/img/1.jpg mydomain.com/img/2.jpg mydomain.com/img/3.jpg abc\n"
        "mydomain.com/img/4.jpg mydomain.com/img/5.jpg mydomain.com/img/6.jpg def\n"
        'mydomain.com/img/1.jpg mydomain.com/img/2.jpg mydomain.com/img/3.jpg "abc = 123"\n'
        'mydomain.com/img/1.jpg mydomain.com/img/2.jpg mydomain.com/img/3.jpg def=\\"123\\"\n'
    )


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("plain", "plain"),
        ("中文", "中文"),
        ("😀👍🏽", "😀👍🏽"),
        ("two words", '"two words"'),
        ("", '""'),
        ("   ", '"   "'),
        ("全角\u3000空格", '"全角\u3000空格"'),
        ("no\u00a0break", '"no\u00a0break"'),
        ('"starts', '"\\"starts"'),
        ('say "hi"', '"say \\"hi\\""'),
        ('in"side', 'in\\"side'),
        ("C:\\tmp\\1.jpg", "C:\\tmp\\1.jpg"),
        ("ends\\", "ends\\"),
        ("two\\\\slashes", "two\\\\slashes"),
        ('slash\\"quote', 'slash\\\\"quote'),
        ("a b\\c", '"a b\\c"'),
        ("\\", "\\"),
    ],
)
def test_value_encoding(value: str, written: str) -> None:
    assert write_cvs(["v"], [[value]]) == f"v\n{written}\n"
    assert read_cvs(f"v\n{written}\n").rows == ((value,),)


def test_mapping_rows_are_written_in_column_order() -> None:
    text = write_cvs(["b", "a"], [{"a": "1", "b": "2"}, {"b": "3", "a": "4"}])
    assert text == "b a\n2 1\n3 4\n"


def test_no_rows_writes_the_header_only() -> None:
    assert write_cvs(("x", "y"), []) == "x y\n"


# --- writing: refusals ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("char", "described"),
    [
        ("\n", "line feed"),
        ("\r", "carriage return"),
        ("\t", "tab"),
        ("\x00", "U+0000"),
        ("\x1b", "U+001B"),
        ("\x7f", "U+007F"),
        ("\x85", "U+0085"),
        ("\u2028", "line separator"),
        ("\u2029", "paragraph separator"),
        ("\ud83d", "lone surrogate"),
    ],
)
def test_uncarriable_characters_are_refused_with_row_column_and_position(
    char: str, described: str
) -> None:
    rows = [["ok", "ok"], ["ok", "ok"], ["fine", f"abc{char}def"]]
    with pytest.raises(InvalidInputError) as caught:
        write_cvs(["first", "second"], rows)
    error = caught.value
    assert error.field == "rows[2]['second']"
    assert error.position == 2
    assert described in str(error)
    assert "column 2 ('second')" in str(error)
    assert "character 4" in str(error)


def test_non_string_value_is_refused() -> None:
    with pytest.raises(InvalidInputError) as caught:
        write_cvs(["a", "b"], [{"a": "x", "b": 3}])  # type: ignore[dict-item]
    assert caught.value.field == "rows[0]['b']"
    assert "not int" in str(caught.value)


@pytest.mark.parametrize(
    ("row", "fragment"),
    [
        (["only one"], "has 1 values but there are 2 columns"),
        (["a", "b", "c"], "has 3 values but there are 2 columns"),
        ({"a": "1"}, "lacks 'b'"),
        ({"a": "1", "b": "2", "c": "3"}, "has unknown 'c'"),
        ("a b", "not str"),
    ],
)
def test_rows_of_the_wrong_shape_are_refused(row: object, fragment: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        write_cvs(["a", "b"], [["x", "y"], row])  # type: ignore[list-item]
    assert caught.value.field == "rows[1]"
    assert caught.value.position == 1
    assert fragment in str(caught.value)


@pytest.mark.parametrize(
    ("columns", "field", "fragment"),
    [
        (["a", "b c"], "columns[1]", "a space"),
        (["a", 'b"'], "columns[1]", "double quote"),
        (["a\\b"], "columns[0]", "backslash"),
        (["a\tb"], "columns[0]", "tab"),
        (["名\u3000字"], "columns[0]", "whitespace (U+3000)"),
        (["\ufeffa"], "columns[0]", "byte-order mark"),
        (["a", ""], "columns[1]", "empty"),
        (["a", "b", "a"], "columns[2]", "repeated (first at columns[0])"),
        ([], "columns", "at least one"),
        ("a b", "columns", "list of strings"),
        (["a", 7], "columns[1]", "not int"),
    ],
)
def test_bad_variable_names_are_refused(columns: object, field: str, fragment: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        write_cvs(columns, [])  # type: ignore[arg-type]
    assert caught.value.field == field
    assert fragment in str(caught.value)


def test_validate_row_names_the_field_given() -> None:
    with pytest.raises(InvalidInputError) as caught:
        validate_row(
            ("name", "url"),
            {"name": "ok", "url": "bad\nvalue"},
            position=7,
            field="recipients[7].vars",
        )
    assert caught.value.field == "recipients[7].vars['url']"
    assert caught.value.position == 7
    assert validate_row(("a", "b"), {"b": "2", "a": "1"}, position=0) == ("1", "2")


# --- reading ----------------------------------------------------------------------------


def test_reads_the_seed_examples_with_tabs_and_double_spaces() -> None:
    text = (
        "img_url_1 img_url_2 imag_url_3 input_init_value_1\n"
        "mydomain.com/img/1.jpg mydomain.com/img/2.jpg mydomain.com/img/3.jpg  abc\n"
        'mydomain.com/img/1.jpg\tmydomain.com/img/2.jpg \tmydomain.com/img/3.jpg  "abc = 123"\n'
        'mydomain.com/img/1.jpg mydomain.com/img/2.jpg mydomain.com/img/3.jpg  def="123"\n'
        'mydomain.com/img/1.jpg mydomain.com/img/2.jpg mydomain.com/img/3.jpg  def=\\"123\\"\n'
    )
    document = read_cvs(text)
    assert document.columns == ("img_url_1", "img_url_2", "imag_url_3", "input_init_value_1")
    assert [row[3] for row in document.rows] == ["abc", "abc = 123", 'def="123"', 'def="123"']
    assert document.rows[1][:3] == (
        "mydomain.com/img/1.jpg",
        "mydomain.com/img/2.jpg",
        "mydomain.com/img/3.jpg",
    )


def test_reads_crlf_bom_blank_lines_and_no_final_newline() -> None:
    text = '\ufeffa b\r\n\r\n1 "x y"\r\n  \r\n\\q 3'
    document = read_cvs(text)
    assert document == CvsDocument(("a", "b"), [("1", "x y"), ("\\q", "3")])
    assert document.records() == [{"a": "1", "b": "x y"}, {"a": "\\q", "b": "3"}]


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ('a b\n1 2\n3 "four\n', 3, "never closed"),
        ('a b\n1 2\n3 "four\\"\n', 3, "never closed"),
        ('a b\n"1"2 3\n', 2, "followed by '2'"),
        ("a b\n1 2\n\n1 2 3\n", 4, "has 3 values but the first line names 2"),
        ("a b\n1\n", 2, "has 1 values"),
        ("a b a\n", 1, "repeated"),
        ('a "b"\n', 1, "double quote"),
        ("", 1, "empty"),
        ("\n \n", 1, "empty"),
    ],
)
def test_malformed_text_reports_the_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(CvsFormatError) as caught:
        read_cvs(text)
    assert caught.value.line == line
    assert caught.value.field == f"line {line}"
    assert fragment in str(caught.value)


def test_load_cvs_reads_utf8_files(tmp_path: Path) -> None:
    path = tmp_path / "tasks.cvs"
    path.write_bytes('\ufeffname label\r\n张三 "猫 狗"\r\n'.encode())
    assert load_cvs(path) == CvsDocument(("name", "label"), [("张三", "猫 狗")])
    assert load_cvs(str(path)).columns == ("name", "label")


def test_load_cvs_reports_the_line_of_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "tasks.cvs"
    path.write_bytes(b"name\nok\nbad \xff\xfe\n")
    with pytest.raises(CvsFormatError) as caught:
        load_cvs(path)
    assert caught.value.line == 3
    assert "not valid UTF-8" in str(caught.value)


# --- properties -------------------------------------------------------------------------

# What the format carries, written down independently of the implementation: any text
# without control characters (Cc: tabs and line breaks among them), line or paragraph
# separators (Zl, Zp) or surrogates (Cs).
_carried_chars = st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"))
_pieces = st.sampled_from(
    ['"', "\\", " ", "  ", "\u3000", "\u00a0", "中文", "😀", "👨‍👩‍👧", "a", "=", '\\"', '""', "é"]
)


def _quoted_with_trailing_backslash(value: str) -> bool:
    """The one shape the documented format cannot carry (its closing quote reads as \\")."""
    needs_quotes = not value or value[0] == '"' or any(c.isspace() for c in value)
    return needs_quotes and value.endswith("\\")


carried_values = st.one_of(
    st.text(_carried_chars, max_size=20),
    st.lists(_pieces, max_size=8).map("".join),
).filter(lambda value: not _quoted_with_trailing_backslash(value))
# Names: the same, minus whitespace (Zs and the Cc already out), quotes, backslashes, BOM.
names = st.text(
    st.characters(
        blacklist_categories=("Cc", "Cs", "Zl", "Zp", "Zs"),
        blacklist_characters='"\\\ufeff',
    ),
    min_size=1,
    max_size=12,
)


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[str], list[list[str]]]:
    columns = draw(st.lists(names, min_size=1, max_size=5, unique=True))
    rows = draw(
        st.lists(
            st.lists(carried_values, min_size=len(columns), max_size=len(columns)),
            max_size=6,
        )
    )
    return columns, rows


@given(tables())
def test_every_carried_table_round_trips(table: tuple[list[str], list[list[str]]]) -> None:
    columns, rows = table
    text = write_cvs(columns, rows)
    assert text.count("\n") == len(rows) + 1
    text.encode("utf-8")  # always encodable
    assert read_cvs(text) == CvsDocument(columns, rows)


@given(tables())
def test_mapping_rows_round_trip(table: tuple[list[str], list[list[str]]]) -> None:
    columns, rows = table
    mappings = [dict(zip(reversed(columns), reversed(row), strict=True)) for row in rows]
    assert read_cvs(write_cvs(columns, mappings)).records() == mappings


_uncarried = st.sampled_from(
    ["\n", "\r", "\t", "\x00", "\x01", "\x1f", "\x7f", "\x85", "\x9f", "\u2028", "\u2029", "\ud800"]
)


@given(
    table=tables(),
    prefix=carried_values,
    bad=_uncarried,
    suffix=st.text(max_size=5),
    data=st.data(),
)
def test_uncarriable_values_are_refused(
    table: tuple[list[str], list[list[str]]],
    prefix: str,
    bad: str,
    suffix: str,
    data: st.DataObject,
) -> None:
    columns, rows = table
    rows = rows or [[""] * len(columns)]
    row_index = data.draw(st.integers(0, len(rows) - 1))
    column_index = data.draw(st.integers(0, len(columns) - 1))
    rows[row_index][column_index] = prefix + bad + suffix
    with pytest.raises(InvalidInputError) as caught:
        write_cvs(columns, rows)
    assert caught.value.position == row_index
    assert caught.value.field == f"rows[{row_index}][{columns[column_index]!r}]"
    assert f"at character {len(prefix) + 1}," in str(caught.value)


@given(
    columns=st.lists(names, min_size=1, max_size=4, unique=True),
    bad=st.sampled_from([" ", "\t", "\u3000", '"', "\n"]),
    data=st.data(),
)
def test_names_with_whitespace_or_quotes_are_refused(
    columns: list[str], bad: str, data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(columns) - 1))
    columns[index] = columns[index] + bad + "x"
    with pytest.raises(InvalidInputError) as caught:
        write_cvs(columns, [])
    assert caught.value.field.startswith("columns[")


@given(st.text(max_size=60))
def test_reading_any_text_returns_a_document_or_a_format_error(text: str) -> None:
    try:
        document = read_cvs(text)
    except CvsFormatError as error:
        line = error.line
        assert 1 <= line <= text.count("\n") + 1
        return
    assert all(len(row) == len(document.columns) for row in document.rows)


@pytest.mark.parametrize("value", ["a b\\", '"quoted\\', "\u3000\\"])
def test_a_quoted_value_ending_in_a_backslash_is_refused(value: str) -> None:
    with pytest.raises(InvalidInputError, match="ends with a backslash") as info:
        write_cvs(["v"], [[value]])
    assert info.value.field == "rows[0]['v']"


@given(st.lists(carried_values, min_size=1, max_size=6))
def test_a_reader_that_only_knows_the_documented_escape_agrees(values: list[str]) -> None:
    """A server that merely replaces \\" with " inside values reads what we wrote."""
    line = write_cvs([f"c{i}" for i in range(len(values))], [values]).split("\n")[1]
    tokens: list[str] = []
    index = 0
    while index < len(line):
        if line[index] == '"':
            end = index + 1
            while not (line[end] == '"' and line[end - 1] != "\\"):
                end += 1
            tokens.append(line[index + 1 : end].replace('\\"', '"'))
            index = end + 2
        else:
            end = line.find(" ", index)
            end = len(line) if end < 0 else end
            tokens.append(line[index:end].replace('\\"', '"'))
            index = end + 1
    assert tokens == values
