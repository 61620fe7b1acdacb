"""Streaming read and surgical write of one worksheet part (`xl/worksheets/sheetN.xml`).

The worksheet XML is never rebuilt. Reading first makes sure it is well formed (one fast
expat pass, no callbacks), then finds the cells with regular expressions, which are linear
on well-formed XML, and keeps only cell values. Writing walks it again, noting the byte span
of each row and of the cells in the managed columns, and splices new bytes in at those
places: every other byte of the part, staff cells, formulas and their cached values
included, stays exactly as it was.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from xml.sax.saxutils import escape

from sheets_sync.backends.xlsx.safe import (
    LAST_ROW,
    MAX_CELL_TEXT,
    MAX_GRID_CELLS,
    DamagedWorkbook,
    check_cell_place,
    check_text_length,
    check_well_formed,
    expat_parser,
    walk,
)
from sheets_sync.core.columns import (
    LAST_COLUMN,
    Merge,
    column_index,
    column_letters,
    spread_merged_values,
)
from sheets_sync.core.values import CellValue

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_COLUMN = re.compile(rb"[A-Z]+")
_EPOCH_1900 = datetime(1899, 12, 30)
_EPOCH_1904 = datetime(1904, 1, 1)


def serial_to_datetime(serial: float, *, date1904: bool) -> datetime:
    epoch = _EPOCH_1904 if date1904 else _EPOCH_1900
    return epoch + timedelta(days=serial)


def date_to_serial(day: date, *, date1904: bool) -> int:
    epoch = (_EPOCH_1904 if date1904 else _EPOCH_1900).date()
    return (day - epoch).days


@dataclass(frozen=True)
class CellFormats:
    """What the reader needs from the styles part: which cell styles show dates."""

    date_styles: frozenset[int]
    date1904: bool


def read_cells(
    xml: bytes, shared_strings: Sequence[str], formats: CellFormats
) -> list[list[CellValue]]:
    """All cell values of a worksheet, as rows (index 0 is sheet row 1) of columns.

    A value merged down several rows is read in each of them (see `spread_merged_values`).
    Raises `DamagedWorkbook` for a worksheet that is not well formed (never read as a
    shorter log), is not in the SpreadsheetML namespace or holds cells past Excel's limits.
    """
    if _is_plain(xml):
        check_well_formed(xml)  # the regular expressions then find every cell, in linear time
        rows = _read_plain(xml, shared_strings, formats)
    else:
        rows = _read_any(xml, shared_strings, formats)
    main_prefix(xml)  # never a log read from a worksheet in another namespace
    merges = merged_areas(xml)
    _check_spread(
        sum(len(row) for row in rows)
        + sum(max(min(last, len(rows)) - first, 0) * (col + 1) for first, col, last, _ in merges)
    )
    spread_merged_values(rows, merges)
    return rows


def main_prefix(xml: bytes) -> str:
    """The prefix ("" or e.g. "x:") the worksheet's SpreadsheetML elements are written with,
    and every element the sync adds must be: exports from .NET and web systems write
    `<x:worksheet xmlns:x="...main">`, some with a different default namespace beside it,
    where an unprefixed element would be in no namespace Excel or LibreOffice reads.

    Found by the namespace the root element's prefix is bound to, so a worksheet in any other
    namespace (Strict Open XML's, or none) is refused as `DamagedWorkbook` rather than guessed
    at. `xml` must be known to be well formed: the expressions are linear only on closed tags.
    """
    root = _ROOT_TAG.match(xml, _root_start(xml))
    if root is None:
        raise DamagedWorkbook("has no root element")
    qualified = root.group(1).decode(errors="replace")
    prefix, _, name = qualified.rpartition(":")
    bound = {
        (declared or b"").decode(errors="replace"): (double or single).decode(errors="replace")
        for declared, double, single in _DECLARATION.findall(root.group(2))
    }
    namespace = bound.get(prefix)
    if name != "worksheet" or namespace != MAIN:
        where = f"namespace {namespace}" if namespace else "no namespace"
        raise DamagedWorkbook(
            f"is not a SpreadsheetML worksheet: its root element <{qualified}> is in {where}, "
            f"not {MAIN}"
        )
    return f"{prefix}:" if prefix else ""


def _root_start(xml: bytes) -> int:
    """Where the root element begins: past the BOM, the XML declaration and any comments."""
    position = 0
    while (start := xml.find(b"<", position)) >= 0:
        if xml.startswith(b"<?", start):
            close = b"?>"
        elif xml.startswith(b"<!--", start):
            close = b"-->"
        else:
            return start
        end = xml.find(close, start)
        if end < 0:
            break
        position = end + len(close)
    return len(xml)


_ROOT_TAG = re.compile(rb"""<([^\s/>]+)((?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*/?>""")
_DECLARATION = re.compile(rb"""\sxmlns(?::([^\s=]+))?\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def _check_spread(places: int) -> None:
    """Refuse a sheet whose few cells would spread into billions: a value in column XFD of
    every row, or a merge running down a million rows far to the right. Each row is held as
    a list up to its last value, and a merged value is copied into every row it covers, so
    the places are counted as the blanks between values are filled in."""
    if places > MAX_GRID_CELLS:
        raise DamagedWorkbook(
            f"spreads its cells over {places:,} places or more, over the limit of "
            f"{MAX_GRID_CELLS:,}; a log in it would be far larger than spreadsheet programs keep"
        )


# Any prefix: a name may hold dots and hyphens (`ss-1.main:`), not only letters and digits.
_MERGE = re.compile(rb'<(?:[^\s<>/:]+:)?mergeCell\s[^>]*?ref="([A-Z]{1,3})(\d+):([A-Z]{1,3})(\d+)"')


def merged_areas(xml: bytes) -> list[Merge]:
    """The worksheet's merged cells: (first row, first column, last row, last column), rows
    numbered from 1 as in the sheet, columns from 0. Linear on a worksheet `read_cells` took
    (well formed); on unclosed fragments `[^>]*?` would search to the end for each."""
    start = xml.rfind(b"sheetData>")
    if start < 0 or xml.find(b"mergeCell", start) < 0:
        return []
    merges = []
    for left, top, right, bottom in _MERGE.findall(xml, start):
        first, last = _cell_place(left, top), _cell_place(right, bottom)
        merges.append((first[0], first[1], last[0], last[1]))
    return merges


def _cell_place(letters: bytes | str, number: bytes | str) -> tuple[int, int]:
    """The (row, 0-based column) a reference names, refused past Excel's last row or column
    before anything is allocated for it."""
    row = int(number) if len(number) <= len(str(LAST_ROW)) else LAST_ROW + 1
    col = column_index(letters) if len(letters) <= 3 else LAST_COLUMN + 1
    if isinstance(letters, bytes):
        letters = letters.decode()
    if isinstance(number, bytes):
        number = number.decode()
    check_cell_place(row, col, f"{letters}{number[:20]}")
    return row, col


# Worksheets as Excel, LibreOffice and the common libraries write them: unprefixed elements
# (the main namespace named once, as the default), every row and cell carrying its reference
# first, no comments or CDATA. These are read and spliced with a few regular expressions, many
# times faster than with callbacks per element; anything else goes through expat. The
# expressions take linear time only on well-formed XML (on unclosed cells `.*?</c>` backtracks
# polynomially), so `read_cells` checks that first.
_PLAIN_CELL = re.compile(
    rb'<c r="([A-Z]{1,3})(\d+)"(?: s="(\d+)")?(?: t="(\w+)")?([^>]*?)'
    rb"(?:/>|>(?:<f\b[^>]*?(?:/>|>.*?</f>))?(?:<v>(.*?)</v>|<is>(.*?)</is>)?.*?</c>)",
    re.S,
)
_PLAIN_TEXT = re.compile(rb"<t(?:\s[^>]*)?>(.*?)</t>", re.S)
_ATTRIBUTE = re.compile(rb'\s(s|t)="(\w+)"')
_MAIN_BYTES = MAIN.encode()


def _is_plain(xml: bytes) -> bool:
    start = xml.find(b"<sheetData")
    # The main namespace named again, bound to a prefix: the expressions would miss its <x:c>.
    if start < 0 or xml.count(_MAIN_BYTES) != 1:
        return False
    return (
        all(xml.find(odd, start) < 0 for odd in (b"<![CDATA[", b"<!--", b"<rPh", b"<c>", b"<c/>"))
        and xml.count(b"<c ", start) == xml.count(b'<c r="', start)
        and xml.count(b"<row ", start) == xml.count(b'<row r="', start)
    )


def _read_plain(xml: bytes, shared: Sequence[str], formats: CellFormats) -> list[list[CellValue]]:
    rows: list[list[CellValue]] = []
    columns: dict[bytes, int] = {}
    dates: dict[bytes, CellValue] = {}  # the same dates recur down a log
    row: list[CellValue] = []
    row_number = b""
    blanks = 0
    for letters, number, style, kind, rest, value, inline in _plain_cells(xml):
        if not value and not inline:
            continue
        if rest and (b" s=" in rest or b" t=" in rest):  # attributes in an unusual order
            found = dict(_ATTRIBUTE.findall(rest))
            style, kind = found.get(b"s", style), found.get(b"t", kind)
        cell: CellValue
        if kind == b"s":
            cell = _shared_string(shared, value)
        elif not kind or kind == b"n":
            if style and int(style) in formats.date_styles:
                cell = dates.get(value)
                if cell is None:
                    cell = dates[value] = _decode("n", int(style), value.decode(), shared, formats)
            else:
                number_value = float(value)
                cell = (
                    int(number_value)
                    if number_value.is_integer() and b"E" not in value.upper()
                    else number_value
                )
        else:
            raw = b"".join(_PLAIN_TEXT.findall(inline)) if kind == b"inlineStr" else value
            if not raw:  # an empty string is a blank cell, as on the expat path
                continue
            text = raw.decode()
            if len(raw) > MAX_CELL_TEXT:  # else it has too few characters to be too long
                check_text_length(len(html.unescape(text)), f"cell {(letters + number).decode()}")
            if "&" in text:
                text = html.unescape(text)
            cell = _decode(kind.decode(), int(style or 0), text, shared, formats)
        if number != row_number:
            row_number = number
            index = _cell_place(letters, number)[0] - 1
            while len(rows) <= index:
                rows.append([])
            row = rows[index]
        col = columns.get(letters)
        if col is None:
            col = columns[letters] = _cell_place(letters, number)[1]
        if len(row) < col:
            blanks += col - len(row)
            _check_spread(blanks)
            row.extend([None] * (col - len(row)))
        if len(row) == col:
            row.append(cell)
        else:
            row[col] = cell
    return rows


def _plain_cells(xml: bytes) -> Iterator[tuple[bytes, ...]]:
    """Every cell's parts, found a block of rows at a time (one list for the whole sheet
    would take several times the sheet's own size)."""
    position = 0
    while position < len(xml):
        stop = xml.find(b"</row>", position + _BLOCK)
        stop = len(xml) if stop < 0 else stop + len(b"</row>")
        yield from _PLAIN_CELL.findall(xml, position, stop)
        position = stop


_BLOCK = 1 << 20


def _read_any(
    xml: bytes, shared_strings: Sequence[str], formats: CellFormats
) -> list[list[CellValue]]:
    rows: list[list[CellValue]] = []
    reader = _CellReader(rows, shared_strings, formats)
    walk(xml, start=reader.start, end=reader.end, text=reader.text, namespaces=True)
    return rows


def _local_name(name: str) -> str:
    """The local name of a SpreadsheetML element as `expat_parser(namespaces=True)` names it,
    "" for an element of any other vocabulary: an extension, or a default namespace beside
    the prefixed SpreadsheetML one, may have a `c` or `row` of its own."""
    namespace, _, local = name.rpartition(" ")
    return local if namespace == MAIN else ""


class _CellReader:
    def __init__(
        self, rows: list[list[CellValue]], shared: Sequence[str], formats: CellFormats
    ) -> None:
        self.rows = rows
        self.shared = shared
        self.formats = formats
        self.row: list[CellValue] = []
        self.row_number = 0
        self.column = -1
        self.kind = ""
        self.style = 0
        self.value: list[str] = []
        self.in_value = False
        self.in_phonetic = False
        self.blanks = 0

    def start(self, name: str, attrs: dict[str, str]) -> None:
        local = _local_name(name)
        if local == "c":
            ref = attrs.get("r")
            if ref:
                self.column = _column_of(ref)
            else:
                self.column += 1
                check_cell_place(1, self.column, f"column {self.column + 1:,} of a row")
            self.kind = attrs.get("t", "n")
            self.style = int(attrs.get("s", 0))
            self.value = []
        elif local in ("v", "t") and not self.in_phonetic:
            self.in_value = True
        elif local == "rPh":
            self.in_phonetic = True
        elif local == "row":
            number = attrs.get("r")
            self.row_number = _cell_place("A", number)[0] if number else self.row_number + 1
            self.column = -1

    def text(self, data: str) -> None:
        if self.in_value:
            self.value.append(data)
            check_text_length(sum(map(len, self.value)), f"the cell in row {self.row_number}")

    def end(self, name: str) -> None:
        local = _local_name(name)
        if local in ("v", "t"):
            self.in_value = False
        elif local == "rPh":
            self.in_phonetic = False
        elif local == "c":
            value = self._decode()
            if value is not None:
                while len(self.rows) < self.row_number:  # rows come into being with values
                    self.rows.append([])
                self.row = self.rows[self.row_number - 1]
                if len(self.row) < self.column:
                    self.blanks += self.column - len(self.row)
                    _check_spread(self.blanks)
                    self.row.extend([None] * (self.column - len(self.row)))
                if len(self.row) == self.column:
                    self.row.append(value)
                else:
                    self.row[self.column] = value

    def _decode(self) -> CellValue:
        if not self.value:
            return None
        return _decode(self.kind, self.style, "".join(self.value), self.shared, self.formats)


def _decode(
    kind: str, style: int, raw: str, shared: Sequence[str], formats: CellFormats
) -> CellValue:
    """One cell's value from its type (`t`), style (`s`) and raw text."""
    if kind == "s":
        return _shared_string(shared, raw)
    if kind in ("inlineStr", "str", "e"):
        return unescape_text(raw) if "_x" in raw else raw
    if kind == "b":
        return raw.strip() in ("1", "true")
    # A value that cannot be a date (24112026 in a date-formatted cell, a year past 9999) is
    # handed over as what it is, and the rule flags that one row with the reason.
    if kind == "d":
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            return raw
        return moment.date() if moment.time() == datetime.min.time() else moment
    number = float(raw)
    plain = int(number) if number.is_integer() and "E" not in raw.upper() else number
    if style in formats.date_styles:
        try:
            moment = serial_to_datetime(number, date1904=formats.date1904)
        except (OverflowError, ValueError):
            return plain
        return moment.date() if number.is_integer() else moment
    return plain


def _shared_string(shared: Sequence[str], index: bytes | str) -> str:
    number = int(index)
    if not 0 <= number < len(shared):
        raise DamagedWorkbook(f"refers to shared string {number:,}; there are {len(shared):,}")
    return shared[number]


def _column_of(ref: str) -> int:
    match = _COLUMN.match(ref.encode())
    if match is None:
        raise ValueError(f"cell reference {ref!r} has no column")
    return _cell_place(match.group(), ref[len(match.group()) :] or "1")[1]


# --- writing -------------------------------------------------------------------------------


@dataclass(slots=True)
class _RowSpans:
    number: int
    start: int  # offset of "<row"
    start_tag_end: int  # offset just after the start tag's ">"
    end: int  # offset just after "</row>" or "/>"
    self_closing: bool
    close: int = -1  # offset of "</row>" (of the end, for a self-closing row)
    cells: dict[int, tuple[int, int, bytes]] = field(default_factory=dict)  # col -> span, tag


def _scan_spans(xml: bytes, columns: frozenset[int], rows: frozenset[int]) -> Iterable[_RowSpans]:
    """Byte spans of the given rows and of their cells in the given columns, in row order."""
    if _is_plain(xml):
        return _spans_plain(xml, columns, rows)
    return _spans_any(xml, columns, rows)


def _spans_plain(xml: bytes, columns: frozenset[int], rows: frozenset[int]) -> Iterator[_RowSpans]:
    position = xml.find(b"<sheetData")
    letters = {col: column_letters(col).encode() for col in columns}
    for number in sorted(rows):  # rows stand in ascending order, so each search goes on
        start = xml.find(b'<row r="%d"' % number, position)
        if start < 0:
            continue
        tag_end = xml.index(b">", start) + 1
        self_closing = xml[tag_end - 2 : tag_end] == b"/>"
        close = tag_end if self_closing else xml.index(b"</row>", tag_end)
        end = tag_end if self_closing else close + len(b"</row>")
        spans = _RowSpans(number, start, tag_end, end, self_closing, close)
        for col in columns:
            at = xml.find(b'<c r="%s%d"' % (letters[col], number), tag_end, close)
            if at >= 0:
                cell_end = xml.index(b">", at) + 1
                closed = xml[cell_end - 2 : cell_end] == b"/>"
                stop = cell_end if closed else xml.index(b"</c>", cell_end) + len(b"</c>")
                spans.cells[col] = (at, stop, xml[at:cell_end])
        yield spans
        position = end


def _spans_any(xml: bytes, columns: frozenset[int], rows: frozenset[int]) -> list[_RowSpans]:
    found: list[_RowSpans] = []
    parser = expat_parser(namespaces=True)
    state: dict[str, int] = {"row": 0, "col": -1, "cell_start": -1}
    current: list[_RowSpans | None] = [None]

    def start(name: str, attrs: dict[str, str]) -> None:
        local = _local_name(name)
        if local == "row":
            number = attrs.get("r")
            state["row"] = int(number) if number else state["row"] + 1
            state["col"] = -1
            if state["row"] in rows:
                begin = parser.CurrentByteIndex
                tag_end = xml.index(b">", begin) + 1
                spans = _RowSpans(
                    state["row"], begin, tag_end, -1, xml[tag_end - 2 : tag_end] == b"/>"
                )
                found.append(spans)
                current[0] = spans
            else:
                current[0] = None
        elif local == "c":
            ref = attrs.get("r")
            state["col"] = _column_of(ref) if ref else state["col"] + 1
            state["cell_start"] = parser.CurrentByteIndex

    def end(name: str) -> None:
        local = _local_name(name)
        spans = current[0]
        if spans is None:
            return
        here = parser.CurrentByteIndex
        if local == "c" and state["col"] in columns:
            begin = state["cell_start"]
            tag_end = xml.index(b">", begin) + 1
            self_closing = xml[tag_end - 2 : tag_end] == b"/>"
            stop = tag_end if self_closing else xml.index(b">", here) + 1
            spans.cells[state["col"]] = (begin, stop, xml[begin:tag_end])
        elif local == "row":
            spans.close = spans.start_tag_end if spans.self_closing else here
            spans.end = spans.start_tag_end if spans.self_closing else xml.index(b">", here) + 1
            current[0] = None

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.Parse(xml, True)
    return found


_STYLE = re.compile(rb'\ss="(\d+)"')
_CELL_REF = re.compile(rb"([A-Z]{1,3})\d+")
_SPANS = re.compile(rb'\sspans="(\d+):(\d+)"')


Edit = tuple[int, int, bytes]  # replace the bytes from the first offset to the second


def cell_edits(
    xml: bytes,
    writes: Mapping[tuple[int, int], str | int | date | None],
    *,
    date_style: Callable[[int | None], int],
    style_from: tuple[int, int] | None = None,
    date1904: bool,
    prefix: str,
) -> Iterator[Edit]:
    """The edits that set the given cells (sheet row, 0-based column), in byte order, made
    one row at a time as they are consumed.

    `date_style(existing_style)` names the cell style for a date cell, given the style the
    cell had (None for a new cell), so staff formatting of a managed cell is kept when it
    already shows dates. New cells in the row of `style_from` (row, column) take that cell's
    style: new headers look like the headers beside them. Every element is written with
    `prefix`, the worksheet's own (`main_prefix`).
    """
    by_row: dict[int, list[tuple[int, str | int | date | None]]] = {}
    for (number, col), value in sorted(writes.items()):
        by_row.setdefault(number, []).append((col, value))
    columns = frozenset(col for number, col in writes)
    model_row, model_col = style_from or (0, -1)
    found = 0
    for row in _scan_spans(xml, columns | {model_col}, frozenset(by_row)):
        found += 1
        cells = dict(by_row[row.number])
        opening = xml[row.start : row.start_tag_end]
        if row.self_closing:  # <row r="5"/> becomes <row r="5">...</row>
            opening = opening[:-2].rstrip() + b">"
        wider = _widen_spans(opening, cells)
        if row.self_closing or wider != opening:
            yield (row.start, row.start_tag_end, wider)
        in_row: list[Edit] = []
        for col in sorted(cells):
            ref = f"{column_letters(col)}{row.number}"
            if col in row.cells:
                begin, stop, _ = row.cells[col]
                style = _style_of(row, col)
            else:
                begin = stop = _insertion_point(xml, row, col, prefix)
                style = _style_of(row, model_col) if row.number == model_row else None
            cell = _cell_xml(ref, cells[col], style, date_style, date1904, prefix)
            in_row.append((begin, stop, cell))
        # Stable sort: new cells at one place keep their column order.
        yield from sorted(in_row, key=lambda edit: edit[0])
        if row.self_closing:
            yield (row.end, row.end, f"</{prefix}row>".encode())
    if found != len(by_row):
        raise ValueError(f"{len(by_row) - found} rows to write are not in the worksheet")


def patched(xml: bytes, edits: Iterable[Edit]) -> Iterator[bytes | memoryview]:
    """The pieces of `xml` with `edits` (in byte order, not overlapping) applied."""
    source = memoryview(xml)  # its slices are views, not copies
    position = 0
    for start, stop, replacement in edits:
        yield source[position:start]
        yield replacement
        position = stop
    yield source[position:]


def _style_of(row: _RowSpans, col: int) -> int | None:
    if col not in row.cells:
        return None
    match = _STYLE.search(row.cells[col][2])
    return int(match.group(1)) if match else None


def _insertion_point(xml: bytes, row: _RowSpans, col: int, prefix: str) -> int:
    """Where a new cell in `col` goes: before the row's first cell to its right. A cell
    without a reference stands right after the one before it, so only those with one decide."""
    with_ref = b'<%sc r="' % prefix.encode()
    last = xml.rfind(with_ref, row.start_tag_end, row.close)
    if last < 0:
        return row.close
    ref = _CELL_REF.match(xml, last + len(with_ref))
    if ref is not None and column_index(ref.group(1)) < col:  # the usual case: past the end
        return row.close
    cell = re.compile(rb"<%sc[\s>/]" % re.escape(prefix.encode()))
    for match in cell.finditer(xml, row.start_tag_end, row.close):
        tag_end = xml.index(b">", match.start())
        ref = re.search(rb'\sr="([A-Z]+)\d+"', xml[match.start() : tag_end])
        if ref is not None and column_index(ref.group(1)) > col:
            return match.start()
    return row.close


def _widen_spans(start_tag: bytes, cells: Iterable[int]) -> bytes:
    """Keep a row's optional `spans` hint true after cells are added."""
    match = _SPANS.search(start_tag)
    if match is None:
        return start_tag
    low, high = int(match.group(1)), int(match.group(2))
    columns = [col + 1 for col in cells]
    low, high = min([low, *columns]), max([high, *columns])
    return start_tag[: match.start()] + f' spans="{low}:{high}"'.encode() + start_tag[match.end() :]


def _cell_xml(
    ref: str,
    value: str | int | date | None,
    existing_style: int | None,
    date_style: Callable[[int | None], int],
    date1904: bool,
    prefix: str,
) -> bytes:
    c, v, inline, t = (f"{prefix}{name}" for name in ("c", "v", "is", "t"))
    style = f' s="{existing_style}"' if existing_style is not None else ""
    if value is None:
        return f'<{c} r="{ref}"{style}/>'.encode()
    if isinstance(value, date):
        serial = date_to_serial(value, date1904=date1904)
        return f'<{c} r="{ref}" s="{date_style(existing_style)}"><{v}>{serial}</{v}></{c}>'.encode()
    if isinstance(value, int):  # a count of touches, carried up by a typed outcome
        return f'<{c} r="{ref}"{style}><{v}>{value}</{v}></{c}>'.encode()
    text = _xml_text(value)
    space = ' xml:space="preserve"' if text != text.strip() else ""
    return (
        f'<{c} r="{ref}"{style} t="inlineStr"><{inline}><{t}{space}>{text}</{t}></{inline}></{c}>'
    ).encode()


# Every character XML 1.0 cannot carry: controls (a carriage return too, since XML parsers
# turn a raw one into a line feed), surrogates standing alone in a Python string, and the
# two non-characters U+FFFE and U+FFFF. Excel writes each as `_xHHHH_`.
_NOT_IN_XML = re.compile("[\x00-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff]")
_ESCAPED = re.compile("_x([0-9A-Fa-f]{4})_")
# A character past U+FFFF escaped as its two UTF-16 halves, or one escape on its own.
_ESCAPED_CHARACTER = re.compile(
    "_x(D[89AB][0-9A-F]{2})__x(D[C-F][0-9A-F]{2})_|_x([0-9A-F]{4})_", re.IGNORECASE
)


def _xml_text(value: str) -> str:
    """Text as XML character data; characters XML 1.0 cannot carry become `_xHHHH_`."""
    value = _ESCAPED.sub(lambda match: "_x005F" + match.group(), value)
    value = _NOT_IN_XML.sub(lambda match: f"_x{ord(match.group()):04X}_", value)
    return escape(value)


def unescape_text(text: str) -> str:
    """Undo the `_xHHHH_` escapes Excel writes for characters XML cannot hold. An escaped
    UTF-16 pair is the one character it stands for; a half of one on its own, which no
    string can hold, is the replacement character U+FFFD."""
    return _ESCAPED_CHARACTER.sub(_unescaped, text)


def _unescaped(match: re.Match[str]) -> str:
    high, low, single = match.groups()
    if single is None:
        return chr(0x10000 + ((int(high, 16) - 0xD800) << 10) + int(low, 16) - 0xDC00)
    code = int(single, 16)
    return "\ufffd" if 0xD800 <= code <= 0xDFFF else chr(code)
