"""Edits to the parts of a worksheet around its cells: dimension, column widths, the sheet's
autofilter and the conditional-format rules that colour the managed columns.

Each edit is a splice into the original bytes; an element it has no reason to touch keeps
every byte.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, unescape

from sheets_sync.backends.xlsx.safe import LAST_ROW
from sheets_sync.backends.xlsx.sheet import Edit
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
    data_start = _find(xml, prefix, "sheetData")
    if data_start < 0:
        raise ValueError("the worksheet has no sheetData")
    data_end = xml.find(f"</{prefix}sheetData>".encode(), data_start)
    if data_end < 0:  # <sheetData/>
        data_end = xml.index(b">", data_start) + 1
    else:
        data_end += len(f"</{prefix}sheetData>")
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
    """Widths for new managed columns that no existing <col> range already describes.

    `head` is the worksheet up to <sheetData>, so a missing <cols> goes at its very end.
    """
    original = head
    at = _find(head, prefix, "cols")
    if at < 0:
        head += f"<{prefix}cols></{prefix}cols>".encode()
        at = _find(head, prefix, "cols")
    start, stop = _element_span(head, prefix, "cols", at)
    block = head[start:stop]
    ranges: list[tuple[int, int, int]] = []  # (first, last, end offset in block), 1-based columns
    for match in re.finditer(f"<{re.escape(prefix)}col\\s[^>]*>".encode(), block):
        low = re.search(rb'\smin="(\d+)"', match.group())
        high = re.search(rb'\smax="(\d+)"', match.group())
        if low and high:
            ranges.append((int(low.group(1)), int(high.group(1)), match.end()))
    opening_end = block.index(b">") + 1
    inserts: list[tuple[int, bytes]] = []
    for column in new_columns:
        number = column.col + 1
        if any(first <= number <= last for first, last, _ in ranges):
            continue
        hidden = ' hidden="1"' if column.hidden else ""
        tag = (
            f'<{prefix}col min="{number}" max="{number}" width="{column.width:g}"'
            f' customWidth="1"{hidden}/>'
        ).encode()
        inserts.append(
            (max([opening_end, *(end for _, last, end in ranges if last < number)]), tag)
        )
    if not inserts:
        return original
    # From the back, so earlier offsets stay true; columns sharing a place keep their order.
    for position, tag in reversed(sorted(inserts, key=lambda insert: insert[0])):
        block = block[:position] + tag + block[position:]
    return head[:start] + block + head[stop:]


def _widen_autofilter(
    tail: bytes, prefix: str, header_row: int, first_col: int, used: Area
) -> bytes:
    at = _find(tail, prefix, "autoFilter")
    if at < 0:
        return tail
    tag_end = tail.index(b">", at)
    match = re.search(rb'\sref="([^"]+)"', tail[at:tag_end])
    if match is None:
        return tail
    current = Area.parse(match.group(1).decode())
    if current.first_row != header_row or current.first_col > first_col:
        return tail  # a filter over something other than the log
    wanted = current.widened(last_col=used.last_col, last_row=used.last_row)
    if wanted == current:
        return tail
    start, stop = at + match.start(1), at + match.end(1)
    return tail[:start] + str(wanted).encode() + tail[stop:]


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
