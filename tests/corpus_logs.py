"""Turn a workbook from the corpus into a prospect log with the fewest byte edits.

The log goes on the workbook's first visible worksheet, where it has room: below the used
range when the header still lands in the top 20 rows (where the header row is looked for),
else right of it from row 1. Its cells are spliced into the sheet's XML as inline strings and
numbers, in the sheet's own namespace prefix; the `<dimension>` grows to cover them, and
nothing else of the package changes. `CorpusLog.added` records the cells put in, so a test
can tell the staff's cells (all the others) from the log's.

`make_table_log` instead takes a workbook's first Excel table for the log, as it is: the config
names its first three columns as the prospect's name, owner and consultation date.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from xml.sax.saxutils import escape

from lxml import etree

from tests.ooxml import SHARED, relationships, split_ref

CORPUS = SHARED / "corpus"

HEADERS = ("Name", "Owner", "Consultation date", "Status")
FIELDS = ("name", "owner", "consultation_date")  # the required ones
CONSULTED = date(2026, 11, 2)
# Ann's consultation date is text, Bob's the same day as a serial number in the workbook's
# own date system: both must get the same next touch, in a 1904 workbook too.
PROSPECTS: tuple[tuple[str, str, str | date, str | None], ...] = (
    ("Ann Lee", "anna@clinic.example", CONSULTED.isoformat(), None),
    ("Bob Kay", "ben@clinic.example", CONSULTED, None),
    ("Cy Dee", "anna@clinic.example", "2026-10-01", "Booked"),
)
HEADER_ROWS_SEARCHED = 20
LAST_COLUMN = 16384
LAST_ROW = 1048576
MANAGED_COLUMNS = 4

_DOCUMENT = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
_PURL_DOCUMENT = "http://purl.oclc.org/ooxml/officeDocument/relationships/officeDocument"
_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")  # a character escaped in a table column name
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


@dataclass(frozen=True)
class CorpusLog:
    path: Path
    worksheet: str  # the sheet's name, as the backend is told
    part: str  # the sheet's part name in the package
    header_row: int
    last_row: int
    added: frozenset[str] = frozenset()  # references of the cells spliced in
    table: str | None = None  # the part of the Excel table that is the log
    # `[columns]` of the config: the log's fields -> the headers they go by here
    columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def letters(column: int) -> str:
    """1-based column number -> spreadsheet letters."""
    text = ""
    while column:
        column, rest = divmod(column - 1, 26)
        text = chr(65 + rest) + text
    return text


def make_corpus_log(source: Path, target: Path, *, autofilter: bool = False) -> CorpusLog:
    """Copy the workbook at `source` to `target` with a prospect log spliced into one sheet.

    With `autofilter`, the log gets a sheet autofilter too, with the `_xlnm._FilterDatabase`
    name Excel keeps beside one.
    """
    with zipfile.ZipFile(source) as package:
        infos = package.infolist()
        parts = {info.filename: package.read(info) for info in infos}
    visible = _visible_sheets(parts)
    if not visible:
        raise ValueError(f"{source.name} has no visible worksheet")
    index, worksheet, part = visible[0]
    workbook = _workbook_part(parts)
    date1904 = re.search(rb"date1904=\"(1|true)\"", parts[workbook]) is not None
    sheet = parts[part]
    bottom, right = _used_range(sheet)
    if bottom + 1 + len(PROSPECTS) + 1 <= HEADER_ROWS_SEARCHED:
        header_row, first_column = bottom + 2 if bottom else 1, 1
    else:
        header_row, first_column = 1, right + 2
    if first_column + len(HEADERS) + MANAGED_COLUMNS - 1 > LAST_COLUMN:
        raise ValueError(f"{source.name}: no room for a log on sheet {worksheet!r}")
    cells = _log_cells(header_row, first_column, date1904)
    log_area = (
        header_row,
        first_column,
        header_row + len(PROSPECTS),
        first_column + len(HEADERS) - 1,
    )
    parts[part] = _splice(sheet, cells, log_area)
    if autofilter:
        ref = f"{letters(log_area[1])}{log_area[0]}:{letters(log_area[3])}{log_area[2]}"
        parts[part] = _add_autofilter(parts[part], ref)
        parts[workbook] = _add_filter_name(parts[workbook], index, worksheet, ref)
    with zipfile.ZipFile(target, "w") as package:
        for info in infos:
            package.writestr(info, parts[info.filename])
    added = frozenset(f"{letters(column)}{row}" for row, column, _ in cells)
    return CorpusLog(target, worksheet, part, header_row, header_row + len(PROSPECTS), added)


def make_table_log(source: Path, target: Path) -> CorpusLog:
    """Copy the workbook at `source` to `target` unchanged, its first table taken for the log.

    The table's first three columns are named, through `[columns]`, as the prospect's name,
    owner and consultation date: whatever they hold, the sync must carry the table.
    """
    shutil.copyfile(source, target)
    with zipfile.ZipFile(source) as package:
        parts = {name: package.read(name) for name in package.namelist()}
    for _, worksheet, part in _visible_sheets(parts):
        tables = [
            (relationship.part, etree.fromstring(parts[relationship.part], _PARSER))
            for relationship in relationships(parts, part)
            if relationship.type.endswith("/table")
        ]
        for table_part, table in sorted(tables, key=lambda found: _corner(found[1])):
            columns = [column.get("name", "") for column in table.iter("{*}tableColumn")]
            top, bottom = _corner(table), _corner(table, last=True)
            usable = table.get("headerRowCount") != "0" and len(columns) >= len(FIELDS)
            if usable and top[0] <= HEADER_ROWS_SEARCHED:
                mapping = {
                    log_field: (_ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), column),)
                    for log_field, column in zip(FIELDS, columns, strict=False)
                }
                totals = int(table.get("totalsRowCount") or 0)
                return CorpusLog(
                    target,
                    worksheet,
                    part,
                    top[0],
                    bottom[0] - totals,  # a totals row is no prospect
                    table=table_part,
                    columns=mapping,
                )
    raise ValueError(f"{source.name} has no table that can be a log")


def _corner(table: etree._Element, *, last: bool = False) -> tuple[int, int]:
    """The (row, column) of a table's top-left cell, or with `last` its bottom-right one."""
    first, _, end = table.get("ref", "").partition(":")
    return split_ref(end if last else first) or (LAST_ROW, LAST_COLUMN)


def _workbook_part(parts: dict[str, bytes]) -> str:
    for relationship in relationships(parts, ""):
        if relationship.type in (_DOCUMENT, _PURL_DOCUMENT):
            return relationship.part
    raise ValueError("the package names no workbook part")


def _visible_sheets(parts: dict[str, bytes]) -> list[tuple[int, str, str]]:
    """(index among all sheets, name, part) of each visible worksheet, in the workbook's order."""
    workbook = _workbook_part(parts)
    targets = {
        relationship.id: relationship.part for relationship in relationships(parts, workbook)
    }
    found = []
    for index, sheet in enumerate(etree.fromstring(parts[workbook], _PARSER).iter("{*}sheet")):
        relationship = next(
            str(value) for key, value in sheet.attrib.items() if str(key).endswith("}id")
        )
        part = targets.get(relationship, "")
        if sheet.get("state") in (None, "visible") and part.startswith("xl/worksheets/"):
            found.append((index, sheet.get("name", ""), part))
    return found


def _used_range(sheet: bytes) -> tuple[int, int]:
    """The last row and last column holding a cell or a merged area (0, 0 when empty)."""
    root = etree.fromstring(sheet, _PARSER)
    bottom = right = 0
    refs = [cell.get("r", "") for cell in root.iter("{*}c")]
    refs += [
        corner for merge in root.iter("{*}mergeCell") for corner in merge.get("ref", "").split(":")
    ]
    for ref in refs:
        place = split_ref(ref)
        if place:
            bottom, right = max(bottom, place[0]), max(right, place[1])
    return bottom, right


def _log_cells(
    header_row: int, first_column: int, date1904: bool
) -> list[tuple[int, int, str | int]]:
    epoch = date(1904, 1, 1) if date1904 else date(1899, 12, 30)
    cells: list[tuple[int, int, str | int]] = [
        (header_row, first_column + offset, header) for offset, header in enumerate(HEADERS)
    ]
    for number, prospect in enumerate(PROSPECTS, start=header_row + 1):
        for offset, value in enumerate(prospect):
            if isinstance(value, date):
                cells.append((number, first_column + offset, (value - epoch).days))
            elif value is not None:
                cells.append((number, first_column + offset, value))
    return cells


def _cell_xml(prefix: str, row: int, column: int, value: str | int) -> bytes:
    ref = f"{letters(column)}{row}"
    if isinstance(value, int):
        return f'<{prefix}c r="{ref}"><{prefix}v>{value}</{prefix}v></{prefix}c>'.encode()
    return (
        f'<{prefix}c r="{ref}" t="inlineStr"><{prefix}is><{prefix}t>{escape(value)}'
        f"</{prefix}t></{prefix}is></{prefix}c>"
    ).encode()


def _splice(
    sheet: bytes, cells: list[tuple[int, int, str | int]], log_area: tuple[int, int, int, int]
) -> bytes:
    """The sheet with `cells` spliced in: appended to their rows, new rows where none is."""
    opening = re.search(rb"<((?:[\w.-]+:)?)sheetData\b[^>]*?(/?)>", sheet)
    if opening is None:
        raise ValueError("the sheet has no sheetData")
    prefix = opening.group(1).decode()
    by_row: dict[int, bytes] = {}
    for row, column, value in cells:
        by_row[row] = by_row.get(row, b"") + _cell_xml(prefix, row, column, value)
    if opening.group(2):  # <sheetData/>
        rows = b"".join(
            f'<{prefix}row r="{number}">'.encode() + xml + f"</{prefix}row>".encode()
            for number, xml in sorted(by_row.items())
        )
        spliced = (
            sheet[: opening.start()]
            + f"<{prefix}sheetData>".encode()
            + rows
            + f"</{prefix}sheetData>".encode()
            + sheet[opening.end() :]
        )
    else:
        spliced = _splice_rows(sheet, opening.end(), prefix, by_row)
    return _grow_dimension(spliced, prefix, log_area)


def _splice_rows(sheet: bytes, start: int, prefix: str, by_row: dict[int, bytes]) -> bytes:
    p = re.escape(prefix.encode())
    end = sheet.index(f"</{prefix}sheetData>".encode(), start)
    row_tag = re.compile(rb"<" + p + rb"row\b([^>]*?)(/?)>")
    edits: list[tuple[int, int, bytes]] = []  # (start, end, replacement), in file order
    pending = dict(by_row)
    position, number = start, 0
    while (match := row_tag.search(sheet, position, end)) is not None:
        found = re.search(rb'\br="(\d+)"', match.group(1))
        number = int(found.group(1)) if found else number + 1
        closing = (
            match.end() if match.group(2) else sheet.index(f"</{prefix}row>".encode(), match.end())
        )
        for earlier in sorted(row for row in pending if row < number):
            edits.append((match.start(), match.start(), _new_row(prefix, earlier, pending)))
        if number in pending:
            cells = pending.pop(number)
            if match.group(2):  # <row .../>: open it up
                opened = match.group(0)[:-2] + b">" + cells + f"</{prefix}row>".encode()
                edits.append((match.start(), match.end(), opened))
            else:
                edits.append((closing, closing, cells))
        position = closing if match.group(2) else closing + len(f"</{prefix}row>")
    for later in sorted(pending):
        edits.append((end, end, _new_row(prefix, later, pending)))
    for edit_start, edit_end, replacement in reversed(edits):
        sheet = sheet[:edit_start] + replacement + sheet[edit_end:]
    return sheet


def _new_row(prefix: str, number: int, pending: dict[int, bytes]) -> bytes:
    return f'<{prefix}row r="{number}">'.encode() + pending.pop(number) + f"</{prefix}row>".encode()


# What may follow <autoFilter> in a worksheet, in the schema's order: it goes before the first.
_AFTER_AUTOFILTER = (
    "sortState|dataConsolidate|customSheetViews|mergeCells|phoneticPr|conditionalFormatting|"
    "dataValidations|hyperlinks|printOptions|pageMargins|pageSetup|headerFooter|rowBreaks|"
    "colBreaks|customProperties|cellWatches|ignoredErrors|smartTags|drawing|legacyDrawing|"
    "legacyDrawingHF|drawingHF|picture|oleObjects|controls|webPublishItems|tableParts|extLst"
)
# What may follow <definedNames> in a workbook, likewise.
_AFTER_DEFINED_NAMES = (
    "calcPr|oleSize|customWorkbookViews|pivotCaches|smartTagPr|smartTagTypes|webPublishing|"
    "fileRecoveryPr|webPublishObjects|extLst"
)


def _element(prefix: str, name: str, attributes: str, content: str | None = None) -> bytes:
    if content is None:
        return f"<{prefix}{name} {attributes}/>".encode()
    return f"<{prefix}{name}{attributes and ' '}{attributes}>{content}</{prefix}{name}>".encode()


def _insert(xml: bytes, root: str, after: str, following: str, new: bytes) -> bytes:
    """`xml` with `new` put past the element `after`, before the first of `following`."""
    p = re.escape(_prefix(xml, root).encode())
    start = re.search(rb"</" + p + after.encode() + rb">", xml)
    assert start is not None, f"no {after} in the {root}"
    end = re.compile(rb"<" + p + rb"(?:" + following.encode() + rb")\b|</" + p + root.encode())
    found = end.search(xml, start.end())
    assert found is not None, f"no end to the {root}"
    return xml[: found.start()] + new + xml[found.start() :]


def _prefix(xml: bytes, root: str) -> str:
    """The prefix ("x:", or "") that the part's root element, and so SpreadsheetML, goes by."""
    found = re.search(rb"<((?:[\w.-]+:)?)" + root.encode() + rb"\b", xml)
    return found.group(1).decode() if found else ""


def _add_autofilter(sheet: bytes, ref: str) -> bytes:
    new = _element(_prefix(sheet, "worksheet"), "autoFilter", f'ref="{ref}"')
    return _insert(sheet, "worksheet", "sheetData", _AFTER_AUTOFILTER, new)


def _add_filter_name(workbook: bytes, index: int, worksheet: str, ref: str) -> bytes:
    if b"_xlnm._FilterDatabase" in workbook:
        raise ValueError("the workbook already has a filter name")
    prefix = _prefix(workbook, "workbook")
    absolute = ":".join(re.sub(r"([A-Z]+)(\d+)", r"$\1$\2", end) for end in ref.split(":"))
    text = f"'{escape(worksheet.replace(chr(39), chr(39) * 2))}'!{absolute}"
    attributes = f'name="_xlnm._FilterDatabase" localSheetId="{index}" hidden="1"'
    name = _element(prefix, "definedName", attributes, text)
    names = _element(prefix, "definedNames", "", name.decode())
    empty = re.search(rb"<" + re.escape(prefix.encode()) + rb"definedNames\s*/>", workbook)
    if empty:  # <definedNames/>: open it up
        return workbook[: empty.start()] + names + workbook[empty.end() :]
    closing = workbook.find(f"</{prefix}definedNames>".encode())
    if closing >= 0:
        return workbook[:closing] + name + workbook[closing:]
    return _insert(workbook, "workbook", "sheets", _AFTER_DEFINED_NAMES, names)


def _grow_dimension(sheet: bytes, prefix: str, log: tuple[int, int, int, int]) -> bytes:
    """The sheet with its `<dimension>` covering the log's (top, left, bottom, right) too."""
    match = re.search(rb"<" + re.escape(prefix.encode()) + rb'dimension ref="([^"]*)"', sheet)
    if match is None:
        return sheet
    first, _, last = match.group(1).decode().partition(":")
    start, end = split_ref(first), split_ref(last or first)
    if start is None or end is None:
        return sheet
    if first == "A1" and not last:  # an empty sheet's dimension
        start, end = log[:2], log[2:]
    top, left = min(start[0], log[0]), min(start[1], log[1])
    bottom, right = max(end[0], log[2]), max(end[1], log[3])
    grown = f"{letters(left)}{top}:{letters(right)}{bottom}"
    return sheet[: match.start(1)] + grown.encode() + sheet[match.end(1) :]
