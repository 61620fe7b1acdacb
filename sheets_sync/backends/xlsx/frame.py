"""Edits to the parts of a worksheet around its cells: dimension, column widths, the sheet's
autofilter and the conditional-format rules that colour the managed columns.

Each edit is a splice into the original bytes; an element it has no reason to touch keeps
every byte.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, unescape

from sheets_sync.backends.xlsx.safe import LAST_ROW
from sheets_sync.backends.xlsx.sheet import Edit, patched
from sheets_sync.core.columns import column_index, column_letters
from sheets_sync.core.rule import Flag

_REF = re.compile(r"^\$?([A-Z]{1,3})\$?(\d+)(?::\$?([A-Z]{1,3})\$?(\d+))?$")

# Elements that follow conditionalFormatting in a worksheet (ECMA-376 CT_Worksheet order).
_AFTER_CONDITIONAL_FORMATTING = [
    "dataValidations",
    "hyperlinks",
    "printOptions",
    "pageMargins",
    "pageSetup",
    "headerFooter",
    "rowBreaks",
    "colBreaks",
    "customProperties",
    "cellWatches",
    "ignoredErrors",
    "smartTags",
    "drawing",
    "legacyDrawing",
    "legacyDrawingHF",
    "drawingHF",
    "picture",
    "oleObjects",
    "controls",
    "webPublishItems",
    "tableParts",
    "extLst",
]


@dataclass(frozen=True)
class Area:
    """A rectangle of cells: 0-based columns, 1-based rows, both ends included."""

    first_col: int
    first_row: int
    last_col: int
    last_row: int

    @classmethod
    def parse(cls, ref: str) -> Area:
        match = _REF.match(ref.strip())
        if match is None:
            raise ValueError(f"not a cell range: {ref!r}")
        col1, row1, col2, row2 = match.groups()
        col2, row2 = col2 or col1, row2 or row1
        return cls(column_index(col1), int(row1), column_index(col2), int(row2))

    def __str__(self) -> str:
        first = f"{column_letters(self.first_col)}{self.first_row}"
        return f"{first}:{column_letters(self.last_col)}{self.last_row}"

    def widened(self, *, last_col: int, last_row: int) -> Area:
        return Area(
            self.first_col,
            self.first_row,
            max(self.last_col, last_col),
            max(self.last_row, last_row),
        )


# --- colour rules ----------------------------------------------------------------------

# Each flag's rule, with {S} the Follow-up status cell and {T} the Next touch cell of the
# first data row. Dated flags are keyed on TODAY(), so colours are right after midnight,
# before the daemon has run; closed, nurture and check-data rows stop at their own colour.
_RULES: tuple[tuple[Flag, str], ...] = (
    (Flag.CHECK_DATA, 'LEFT({S},10)="CHECK DATA"'),
    (Flag.CLOSED, 'LEFT({S},6)="CLOSED"'),
    (Flag.NURTURE, '{S}="NURTURE"'),
    (Flag.OVERDUE, "AND(ISNUMBER({T}),{T}<TODAY())"),
    (Flag.DUE_TODAY, "AND(ISNUMBER({T}),{T}=TODAY())"),
    (Flag.UPCOMING, "AND(ISNUMBER({T}),{T}>TODAY())"),
)
_ANY_CELL = r"\$[A-Z]{1,3}\d+"
_OUR_FORMULAS = tuple(
    re.compile(
        "^" + re.escape(template).replace(r"\{S\}", _ANY_CELL).replace(r"\{T\}", _ANY_CELL) + "$"
    )
    for _, template in _RULES
)


def colour_rules(
    *,
    prefix: str,
    status_col: int,
    touch_col: int,
    coloured_cols: Sequence[int],
    first_row: int,
    dxf_ids: Mapping[Flag, int],
    first_priority: int,
) -> bytes:
    """The conditionalFormatting element that colours the managed columns, down to the last row."""
    status = f"${column_letters(status_col)}{first_row}"
    touch = f"${column_letters(touch_col)}{first_row}"
    sqref = " ".join(
        f"{column_letters(first)}{first_row}:{column_letters(last)}{LAST_ROW}"
        for first, last in _runs(sorted(coloured_cols))
    )
    rules = "".join(
        f'<{prefix}cfRule type="expression" dxfId="{dxf_ids[flag]}" priority="{first_priority + n}"'
        f' stopIfTrue="1"><{prefix}formula>'
        f"{escape(template.format(S=status, T=touch))}</{prefix}formula></{prefix}cfRule>"
        for n, (flag, template) in enumerate(_RULES)
    )
    element = f"{prefix}conditionalFormatting"
    return f'<{element} sqref="{sqref}">{rules}</{element}>'.encode()


def _runs(columns: Sequence[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for col in columns:
        if runs and runs[-1][1] == col - 1:
            runs[-1] = (runs[-1][0], col)
        else:
            runs.append((col, col))
    return runs


def _is_ours(element: bytes) -> bool:
    formulas = re.findall(
        rb"<(?:[^\s<>/:]+:)?formula>(.*?)</(?:[^\s<>/:]+:)?formula>", element, re.S
    )
    return bool(formulas) and all(
        any(
            pattern.match(unescape(formula.decode(), {"&quot;": '"', "&apos;": "'"}))
            for pattern in _OUR_FORMULAS
        )
        for formula in formulas
    )


# --- the worksheet around its cells ------------------------------------------------------


@dataclass(frozen=True)
class NewColumn:
    col: int
    width: float
    hidden: bool = False


def edit_frame(
    xml: bytes,
    *,
    used: Area,
    new_columns: Sequence[NewColumn],
    header_row: int,
    log_cols: tuple[int, int],
    rules: bytes | None,
    prefix: str,
) -> list[Edit]:
    """The edits that update the worksheet's dimension, column widths, autofilter and colour
    rules; none when they are right already.

    `rules` is the wanted conditionalFormatting element (None builds nothing), `used` the
    cells the log covers after the write, `log_cols` its first and last column, `prefix` the
    worksheet's own for its elements (`main_prefix`).
    """
    data_start, data_end = _sheet_data(xml, prefix)
    head, tail = xml[:data_start], xml[data_end:]
    new_head = _add_columns(_set_dimension(head, prefix, used), prefix, new_columns)
    new_tail = _widen_autofilter(tail, prefix, header_row, log_cols[0], used)
    if rules is not None:
        new_tail = _place_rules(new_tail, prefix, rules)
    edits: list[Edit] = []
    if new_head != head:
        edits.append((0, data_start, new_head))
    if new_tail != tail:
        edits.append((data_end, len(xml), new_tail))
    return edits


def filter_area(
    xml: bytes, *, used: Area, header_row: int, first_col: int, prefix: str
) -> Area | None:
    """The cells the sheet's autofilter over the log covers once `edit_frame` has widened it
    (with the same arguments); None when the sheet has no autofilter over the log.

    The workbook's hidden name for the filter must say the same.
    """
    _, data_end = _sheet_data(xml, prefix)
    found = _log_filter(xml[data_end:], prefix, header_row, first_col, used)
    return found[2] if found else None


def _sheet_data(xml: bytes, prefix: str) -> tuple[int, int]:
    """Where the sheetData element starts and ends: the frame lies before and after it."""
    data_start = _find(xml, prefix, "sheetData")
    if data_start < 0:
        raise ValueError("the worksheet has no sheetData")
    data_end = xml.find(f"</{prefix}sheetData>".encode(), data_start)
    if data_end < 0:  # <sheetData/>
        return data_start, xml.index(b">", data_start) + 1
    return data_start, data_end + len(f"</{prefix}sheetData>")


def _find(xml: bytes, prefix: str, name: str, start: int = 0) -> int:
    match = re.compile(f"<{re.escape(prefix)}{name}[\\s/>]".encode()).search(xml, start)
    return match.start() if match else -1


def _element_span(xml: bytes, prefix: str, name: str, start: int) -> tuple[int, int]:
    tag_end = xml.index(b">", start) + 1
    if xml[tag_end - 2 : tag_end] == b"/>":
        return start, tag_end
    close = f"</{prefix}{name}>".encode()
    return start, xml.index(close, tag_end) + len(close)


def _set_dimension(head: bytes, prefix: str, used: Area) -> bytes:
    at = _find(head, prefix, "dimension")
    if at < 0:
        return head
    start, stop = _element_span(head, prefix, "dimension", at)
    match = re.search(rb'ref="([^"]+)"', head[start:stop])
    if match is None:
        return head
    try:
        current = Area.parse(match.group(1).decode())
    except ValueError:
        return head
    wanted = Area(
        min(current.first_col, used.first_col),
        min(current.first_row, used.first_row),
        max(current.last_col, used.last_col),
        max(current.last_row, used.last_row),
    )
    if wanted == current:
        return head
    return head[:start] + f'<{prefix}dimension ref="{wanted}"/>'.encode() + head[stop:]


def _add_columns(head: bytes, prefix: str, new_columns: Sequence[NewColumn]) -> bytes:
    """A <col> of its own for each new managed column, with a width that shows its values.

    An existing range that covers a new managed column (Excel writes one up to column 16384
    when whole columns were formatted, LibreOffice one up to 1024) is split around it, so
    Sync ID does not show and Next touch is not left too narrow for a date: the rest of the
    range keeps every attribute it had, and the managed column keeps its style. Only new
    columns: once they exist, a width staff give them is theirs.

    `head` is the worksheet up to <sheetData>, so a missing <cols> goes at its very end.
    """
    if not new_columns:
        return head
    new_columns = sorted(new_columns, key=lambda column: column.col)
    at = _find(head, prefix, "cols")
    if at < 0:
        head += f"<{prefix}cols></{prefix}cols>".encode()
        at = _find(head, prefix, "cols")
    start, stop = _element_span(head, prefix, "cols", at)
    block = head[start:stop]
    if block.endswith(b"/>"):  # <cols/>, which no schema allows but an insert must open
        block = block[:-2].rstrip() + f"></{prefix}cols>".encode()
    ranges = _col_ranges(block, prefix)
    opening_end = block.index(b">") + 1
    edits: list[Edit] = []
    for col_range in ranges:
        covered = [
            column for column in new_columns if col_range.first <= column.col + 1 <= col_range.last
        ]
        if covered:
            edits.append((col_range.start, col_range.stop, _split(col_range, covered)))
    for column in new_columns:
        number = column.col + 1
        if any(col_range.first <= number <= col_range.last for col_range in ranges):
            continue
        place = max([opening_end, *(r.stop for r in ranges if r.last < number)])
        hidden = ' hidden="1"' if column.hidden else ""
        tag = (
            f'<{prefix}col min="{number}" max="{number}" width="{column.width:g}"'
            f' customWidth="1"{hidden}/>'
        ).encode()
        edits.append((place, place, tag))
    # In byte order; an insert goes before a range starting where it is, and columns sharing
    # a place keep their order.
    edits.sort(key=lambda edit: (edit[0], edit[1]))
    return head[:start] + b"".join(patched(block, edits)) + head[stop:]


@dataclass(frozen=True)
class _ColRange:
    """One <col> element of a <cols> block: where it lies, the columns it describes (1-based,
    as in the file) and its start tag."""

    start: int
    stop: int
    first: int
    last: int
    tag: bytes


_QUOTED = rb"""("[^"]*"|'[^']*')"""
_ATTRIBUTE = re.compile(rb"\s([\w:]+)\s*=\s*" + _QUOTED)


def tag_attributes(tag: bytes) -> dict[str, str]:
    """The attributes of a start tag, their values unescaped."""
    return {
        name.decode(): html.unescape(value[1:-1].decode())
        for name, value in _ATTRIBUTE.findall(tag)
    }


def _col_ranges(block: bytes, prefix: str) -> list[_ColRange]:
    ranges = []
    for match in re.finditer(f"<{re.escape(prefix)}col\\s[^>]*>".encode(), block):
        attributes = tag_attributes(match.group())
        first, last = attributes.get("min", ""), attributes.get("max", "")
        if first.isdigit() and last.isdigit():
            start, stop = _element_span(block, prefix, "col", match.start())
            ranges.append(_ColRange(start, stop, int(first), int(last), match.group()))
    return ranges


def _split(col_range: _ColRange, covered: Sequence[NewColumn]) -> bytes:
    """The <col> elements that replace `col_range`: one per managed column it covers, with
    the rest of the range, on either side, as it was but for min and max."""
    pieces: list[bytes] = []
    next_free = col_range.first
    for column in covered:
        number = column.col + 1
        if next_free < number:
            pieces.append(_with(col_range.tag, {b"min": next_free, b"max": number - 1}))
        pieces.append(_managed_col(col_range.tag, number, column))
        next_free = number + 1
    if next_free <= col_range.last:
        pieces.append(_with(col_range.tag, {b"min": next_free, b"max": col_range.last}))
    return b"".join(pieces)


def _managed_col(tag: bytes, number: int, column: NewColumn) -> bytes:
    """A managed column cut out of a staff range: its style kept, our width unless staff made
    the range wider, and hidden only when it is Sync ID (whatever the range was). A width of
    ours is no best fit."""
    changes: dict[bytes, object] = {
        b"min": number,
        b"max": number,
        b"width": f"{column.width:g}",
        b"customWidth": 1,
        b"hidden": 1 if column.hidden else None,
        b"bestFit": None,
    }
    try:
        if float(tag_attributes(tag).get("width", "0")) > column.width:
            del changes[b"width"]
    except ValueError:
        pass  # a width that is no number is replaced by ours
    return _with(tag, changes)


def _with(tag: bytes, changes: Mapping[bytes, object]) -> bytes:
    """`tag` as an empty element, with the attributes in `changes` set in place (added at
    the end when missing) or, where the value is None, removed."""
    body = tag.rstrip(b">").rstrip(b"/").rstrip()
    for name, value in changes.items():
        pattern = re.compile(rb"\s" + re.escape(name) + rb"\s*=\s*" + _QUOTED)
        replacement = b"" if value is None else b" " + name + b'="' + str(value).encode() + b'"'
        found = pattern.search(body)
        if found:
            body = body[: found.start()] + replacement + body[found.end() :]
        else:
            body += replacement
    return body + b"/>"


def _widen_autofilter(
    tail: bytes, prefix: str, header_row: int, first_col: int, used: Area
) -> bytes:
    found = _log_filter(tail, prefix, header_row, first_col, used)
    if found is None:
        return tail
    start, stop, wanted = found
    if Area.parse(tail[start:stop].decode()) == wanted:
        return tail
    return tail[:start] + str(wanted).encode() + tail[stop:]


def _log_filter(
    tail: bytes, prefix: str, header_row: int, first_col: int, used: Area
) -> tuple[int, int, Area] | None:
    """Where the ref of the sheet's autofilter lies in `tail`, and the cells it is to cover;
    None when there is no autofilter or it filters something other than the log."""
    at = _find(tail, prefix, "autoFilter")
    if at < 0:
        return None
    tag_end = tail.index(b">", at)
    match = re.search(rb'\sref="([^"]+)"', tail[at:tag_end])
    if match is None:
        return None
    current = Area.parse(match.group(1).decode())
    if current.first_row != header_row or current.first_col > first_col:
        return None
    wanted = current.widened(last_col=used.last_col, last_row=used.last_row)
    return at + match.start(1), at + match.end(1), wanted


def _place_rules(tail: bytes, prefix: str, rules: bytes) -> bytes:
    """Put our conditionalFormatting element in place of any earlier copy of it."""
    ours: list[tuple[int, int]] = []
    last_other_end = -1
    position = 0
    while (at := _find(tail, prefix, "conditionalFormatting", position)) >= 0:
        start, stop = _element_span(tail, prefix, "conditionalFormatting", at)
        if _is_ours(tail[start:stop]):
            ours.append((start, stop))
        else:
            last_other_end = stop
        position = stop
    if len(ours) == 1 and tail[ours[0][0] : ours[0][1]] == rules:
        return tail
    for start, stop in reversed(ours):
        tail = tail[:start] + tail[stop:]
        if last_other_end > start:
            last_other_end -= stop - start
    if last_other_end >= 0:
        insert_at = last_other_end
    else:
        following = [_find(tail, prefix, name) for name in _AFTER_CONDITIONAL_FORMATTING]
        found = [at for at in following if at >= 0]
        insert_at = min(found) if found else tail.rindex(f"</{prefix}worksheet>".encode())
    return tail[:insert_at] + rules + tail[insert_at:]


def highest_priority(xml: bytes, prefix: str) -> int:
    """The largest conditional-format priority in the worksheet outside our own rules."""
    highest = 0
    position = 0
    while (at := _find(xml, prefix, "conditionalFormatting", position)) >= 0:
        start, stop = _element_span(xml, prefix, "conditionalFormatting", at)
        element = xml[start:stop]
        if not _is_ours(element):
            highest = max([highest, *(int(p) for p in re.findall(rb'priority="(\d+)"', element))])
        position = stop
    # The worksheet's own extLst comes after every conditionalFormatting element; an extLst
    # inside a cfRule (a data bar's x14 link) must not pull our own rules' priorities in.
    ext = _find(xml, prefix, "extLst", position)
    if ext >= 0:  # x14 rules (data bars, icon sets) share the sheet's priorities
        highest = max([highest, *(int(p) for p in re.findall(rb'priority="(\d+)"', xml[ext:]))])
    return highest
