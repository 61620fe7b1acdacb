"""The worksheet reader and splicer have a fast path for ordinary sheets and an expat path
for everything else: both must give the same cells and the same bytes."""

from __future__ import annotations

import re
from datetime import date
from xml.sax.saxutils import escape

from hypothesis import given, settings
from hypothesis import strategies as st

from sheets_sync.backends.xlsx.sheet import (
    CellFormats,
    _is_plain,
    _read_any,
    _read_plain,
    cell_edits,
    patched,
)
from sheets_sync.core.columns import column_index, column_letters
from sheets_sync.core.values import CellValue

SHARED = ["Anna", "Ben & Co", "<b>", "  spaced  "]
FORMATS = CellFormats(date_styles=frozenset({3}), date1904=False)
COMMENT = b"<!-- forces the expat path -->"

# Text as it can stand in XML (the writer escapes control characters; Excel does the same).
text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"),
    max_size=12,
)
cell = st.one_of(
    st.tuples(st.just("s"), st.integers(0, len(SHARED) - 1).map(str)),
    st.tuples(st.just("n"), st.integers(-5, 50_000).map(str)),
    st.tuples(st.just("d"), st.integers(30_000, 50_000).map(str)),  # a date-styled number
    st.tuples(st.just("inlineStr"), text),
    st.tuples(st.just("str"), text),
    st.tuples(st.just("b"), st.sampled_from(["0", "1"])),
    st.tuples(st.just("f"), st.integers(0, 99).map(str)),  # a formula with its cached value
    st.tuples(st.just("empty"), st.just("")),
)
sheet_rows = st.lists(st.dictionaries(st.integers(0, 8), cell, max_size=6), min_size=1, max_size=8)


def worksheet(rows: list[dict[int, tuple[str, str]]]) -> bytes:
    """A worksheet in the form Excel writes, some rows self-closing, some with spans."""
    parts = ['<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">']
    parts.append("<sheetData>")
    for number, cells in enumerate(rows, start=1):
        spans = ' spans="1:9"' if number % 2 else ""
        if not cells:
            parts.append(f'<row r="{number}"{spans}/>')
            continue
        parts.append(f'<row r="{number}"{spans}>')
        for col in sorted(cells):
            kind, value = cells[col]
            ref = f"{column_letters(col)}{number}"
            parts.append(_cell(ref, kind, value))
        parts.append("</row>")
    parts.append('</sheetData><pageMargins left="0.7"/></worksheet>')
    return "".join(parts).encode()


def _cell(ref: str, kind: str, value: str) -> str:
    if kind == "empty":
        return f'<c r="{ref}" s="1"/>'
    if kind == "d":
        return f'<c r="{ref}" s="3"><v>{value}</v></c>'
    if kind == "n":
        return f'<c r="{ref}"><v>{value}</v></c>'
    if kind == "f":
        return f'<c r="{ref}" s="2"><f>SUM(A1:A2)</f><v>{value}</v></c>'
    if kind == "inlineStr":
        return (
            f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{escape(value)}</t></is></c>'
        )
    if kind == "str":
        return f'<c r="{ref}" t="str"><f>"x"</f><v>{escape(value)}</v></c>'
    return f'<c r="{ref}" t="{kind}"><v>{value}</v></c>'


def unplain(xml: bytes) -> bytes:
    return xml.replace(b"<sheetData>", b"<sheetData>" + COMMENT, 1)


@settings(max_examples=300, deadline=None)
@given(sheet_rows)
def test_both_readers_read_the_same_cells(rows: list[dict[int, tuple[str, str]]]) -> None:
    xml = worksheet(rows)
    assert _is_plain(xml)
    assert not _is_plain(unplain(xml))
    assert _read_plain(xml, SHARED, FORMATS) == _read_any(xml, SHARED, FORMATS)


writes = st.dictionaries(
    st.tuples(st.integers(1, 8), st.integers(0, 11)),
    st.one_of(st.none(), text, st.dates(date(2000, 1, 1), date(2100, 1, 1))),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(sheet_rows, writes)
def test_both_splicers_write_the_same_bytes(
    rows: list[dict[int, tuple[str, str]]], changes: dict[tuple[int, int], object]
) -> None:
    xml = worksheet(rows)
    changes = {(row, col): value for (row, col), value in changes.items() if row <= len(rows)}

    def spliced(sheet: bytes) -> bytes:
        edits = cell_edits(
            sheet,
            changes,  # type: ignore[arg-type]
            date_style=lambda existing: 3,  # a date style of FORMATS
            style_from=(1, 0),
            date1904=False,
            prefix="",
        )
        return b"".join(patched(sheet, list(edits)))

    plain = spliced(xml)
    via_expat = spliced(unplain(xml)).replace(COMMENT, b"", 1)
    assert plain == via_expat
    # The result reads back as the original with the changes made, by either reader ...
    expected = with_changes(_read_any(xml, SHARED, FORMATS), changes)
    assert trimmed(_read_plain(plain, SHARED, FORMATS)) == expected
    assert trimmed(_read_any(plain, SHARED, FORMATS)) == expected
    # ... and every row keeps its cells in column order, as Excel requires.
    for row in re.findall(rb"<row [^>]*>(.*?)</row>", plain, re.S):
        columns = [column_index(ref) for ref in re.findall(rb'<c r="([A-Z]+)\d+"', row)]
        assert columns == sorted(set(columns))


def with_changes(
    rows: list[list[CellValue]], changes: dict[tuple[int, int], object]
) -> list[list[CellValue]]:
    grid = {
        (number, col): value
        for number, row in enumerate(rows, start=1)
        for col, value in enumerate(row)
        if value is not None
    }
    for (number, col), value in changes.items():
        if value is None or value == "":
            grid.pop((number, col), None)
        else:
            grid[(number, col)] = value  # type: ignore[assignment]
    result: list[list[CellValue]] = []
    for (number, col), value in grid.items():
        while len(result) < number:
            result.append([])
        row = result[number - 1]
        row.extend([None] * (col + 1 - len(row)))
        row[col] = value
    return trimmed(result)


def trimmed(rows: list[list[CellValue]]) -> list[list[CellValue]]:
    """Rows without trailing blanks, and no trailing empty rows: what a person sees."""
    rows = [list(row) for row in rows]
    for row in rows:
        while row and row[-1] is None:
            row.pop()
    while rows and not rows[-1]:
        rows.pop()
    return rows
