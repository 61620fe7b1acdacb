"""Worksheets in namespace-prefixed SpreadsheetML, and Strict Open XML workbooks (issue 11,
points 2 and 4).

Exports from .NET and web systems write every element with a prefix (`<x:worksheet
xmlns:x="...main"><x:sheetData><x:row r="1"><x:c r="A1" t="inlineStr">...`), often after a
byte-order mark, sometimes beside a different default namespace and with rows and cells
without references. Such a log is read as the same log written plainly, and what the sync
writes into it is in the document's own namespace: an unprefixed element there is in no
namespace, which LibreOffice drops without a word and Excel calls damage. A workbook saved as
Strict Open XML is refused with a message naming the format and how to save it as an .xlsx.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from sheets_sync.backends.base import SourceError
from sheets_sync.backends.xlsx import XlsxBackend
from sheets_sync.backends.xlsx.safe import DamagedWorkbook
from sheets_sync.backends.xlsx.sheet import (
    CellFormats,
    cell_edits,
    main_prefix,
    merged_areas,
    patched,
    read_cells,
)
from sheets_sync.core.columns import column_index
from sheets_sync.core.values import CellValue
from sheets_sync.state import State
from tests.backends.contract import MANAGED_HEADERS, STAFF
from tests.backends.test_libreoffice import PROSPECTS, run
from tests.backends.test_sheet_paths import sheet_rows, worksheet, writes
from tests.backends.test_xlsx_hostile import MAIN, SHEET, part_of, rezip
from tests.libreoffice import convert, read_all_sheets
from tests.workbooks import make_log, make_small_log

# Strict Open XML names the same things with other namespaces (ECMA-376 Part 1, Strict).
STRICT_NAMES = {
    b"http://schemas.openxmlformats.org/spreadsheetml/2006/main": (
        b"http://purl.oclc.org/ooxml/spreadsheetml/main"
    ),
    b"http://schemas.openxmlformats.org/officeDocument/2006/relationships": (
        b"http://purl.oclc.org/ooxml/officeDocument/relationships"
    ),
}


def saved_as_strict(folder: Path) -> Path:
    """A small log as Excel's "Strict Open XML Spreadsheet" writes it: every part in the
    Strict namespaces, and the workbook saying so. (A real one, Apache POI's
    sample.strict.xlsx, is in the shared corpus: tests/test_corpus.py refuses it too.)"""

    def strict(xml: bytes) -> bytes:
        for transitional, strict_name in STRICT_NAMES.items():
            xml = xml.replace(transitional, strict_name)
        return xml

    log = make_small_log(folder / "log.xlsx")
    with zipfile.ZipFile(log) as package:
        names = [name for name in package.namelist() if name.endswith((".xml", ".rels"))]
    changes: dict[str, Callable[[bytes], bytes]] = {name: strict for name in names}
    changes["xl/workbook.xml"] = lambda xml: strict(xml).replace(
        b"<workbook ", b'<workbook conformance="strict" ', 1
    )
    return rezip(log, changes)


STYLES = "xl/styles.xml"
TABLE = "xl/tables/table1.xml"
BOM = b"\xef\xbb\xbf"
OTHER_DEFAULT = "urn:example:web-export"


def prefixed(
    xml: bytes, *, prefix: str = "x", other_default: bool = False, references: bool = True
) -> bytes:
    """The part as .NET and web exports write it: after a BOM, every SpreadsheetML element
    with `prefix`; beside it a default namespace of another vocabulary when `other_default`,
    and rows and cells without their `r` when not `references` (for a sheet whose every row is
    filled from column A, where the position says the same)."""
    xml = re.sub(rb"<(/?)(?![?!])(\w+)(?=[\s/>])", rb"<\1%s:\2" % prefix.encode(), xml)
    default = f' xmlns="{OTHER_DEFAULT}"' if other_default else ""
    xml = xml.replace(f'xmlns="{MAIN}"'.encode(), f'xmlns:{prefix}="{MAIN}"{default}'.encode(), 1)
    if not references:
        xml = re.sub(rb'(<%s:(?:row|c)\b[^>]*?) r="[A-Z]*\d+"' % prefix.encode(), rb"\1", xml)
    return BOM + xml


# The managed columns there already, still blank, so that the extras' formula column stands
# right of them: each new cell goes in between, not at the end of its row.
EMPTY_MANAGED: dict[str, CellValue] = dict.fromkeys(MANAGED_HEADERS)


def full_log(folder: Path) -> Path:
    """A log with everything staff's workbooks carry (sheet autofilter, comments, validation,
    sparklines, a chart sheet, a formula column right of the managed columns)."""
    folder.mkdir(parents=True, exist_ok=True)
    first, *others = PROSPECTS
    return make_log(
        folder / "log.xlsx",
        [{**first, "Status": None, **EMPTY_MANAGED}, *others],
        autofilter=True,
        extras=True,
        staff=[(str(name), str(email)) for name, email in STAFF[1:]],
    )


def table_log(folder: Path) -> Path:
    """A log in an Excel table, whose table part gains the managed columns."""
    folder.mkdir(parents=True, exist_ok=True)
    return make_log(folder / "log.xlsx", PROSPECTS, table=True)


def small_log(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return make_small_log(folder / "log.xlsx")


class Export(NamedTuple):
    plain: Path  # the log as a spreadsheet program writes it
    path: Path  # the same log as an export writes it
    parts: tuple[str, ...]  # the parts written in prefixed form


# Each export: how the log is made, how its parts are prefixed, and which parts.
EXPORTS: dict[str, tuple[Callable[[Path], Path], dict[str, Any], tuple[str, ...]]] = {
    "prefixed after a BOM": (full_log, {}, (SHEET,)),
    "prefixed beside another default namespace": (full_log, {"other_default": True}, (SHEET,)),
    "prefixed, rows and cells without references": (small_log, {"references": False}, (SHEET,)),
    "a prefix with a hyphen and a dot": (full_log, {"prefix": "ss-1.main"}, (SHEET,)),
    # The styles part gains a date style and dxfs, the table part columns, both through lxml.
    "prefixed styles and table parts too": (table_log, {}, (SHEET, STYLES, TABLE)),
}


@pytest.fixture(params=list(EXPORTS))
def export(request: pytest.FixtureRequest, tmp_path: Path) -> Export:
    """The same log twice: as a spreadsheet program writes it, and as an export does."""
    make, options, parts = EXPORTS[request.param]
    plain = make(tmp_path / "plain")
    path = Path(shutil.copy(plain, tmp_path / "export.xlsx"))
    rezip(path, dict.fromkeys(parts, lambda xml: prefixed(xml, **options)))
    return Export(plain, path, parts)


def not_in_spreadsheetml(xml: bytes) -> list[str]:
    """Elements of the worksheet outside the SpreadsheetML main namespace, other than the
    extensions inside extLst (sparklines, x14 validation), which have namespaces of their own."""
    root = etree.fromstring(xml)
    strays = []
    for element in root.iter(etree.Element):
        inside_extensions = any(
            etree.QName(above).localname == "extLst" for above in element.iterancestors()
        )
        if etree.QName(element).namespace != MAIN and not inside_extensions:
            strays.append(element.tag)
    return strays


def columns_in_order(xml: bytes) -> bool:
    """Whether every row's cells stand left to right, as Excel requires."""
    root = etree.fromstring(xml)
    for row in root.iter(f"{{{MAIN}}}row"):
        column = -1
        for cell in row.iterfind(f"{{{MAIN}}}c"):
            ref = cell.get("r")
            at = column_index(ref.rstrip("0123456789")) if ref else column + 1
            if at <= column:
                return False
            column = at
    return True


def test_an_export_is_read_as_the_same_log(export: Export) -> None:
    assert part_of(export.path, SHEET).startswith(BOM + b"<?xml")
    assert XlsxBackend(export.path).read().rows == XlsxBackend(export.plain).read().rows


def test_what_the_sync_writes_into_an_export_is_in_its_namespace(
    export: Export, tmp_path: Path
) -> None:
    before = {part: part_of(export.path, part) for part in export.parts}
    assert run(export.path, State(tmp_path / "state")).written
    for part in export.parts:
        written = part_of(export.path, part)
        assert written != before[part], part
        assert not_in_spreadsheetml(written) == [], part
        assert written.count(MAIN.encode()) == 1, part  # no second name for the namespace
    written = part_of(export.path, SHEET)
    assert columns_in_order(written)
    assert etree.fromstring(written).find(f"{{{MAIN}}}conditionalFormatting") is not None


def test_a_second_sync_of_an_export_writes_nothing(export: Export, tmp_path: Path) -> None:
    state = State(tmp_path / "state")
    assert run(export.path, state).written
    synced = export.path.read_bytes()
    again = run(export.path, state)
    assert not again.written
    assert again.cells_changed == 0
    assert export.path.read_bytes() == synced


@pytest.mark.libreoffice
@pytest.mark.usefixtures("soffice")
def test_libreoffice_sees_in_a_synced_export_what_it_sees_in_the_synced_plain_log(
    export: Export, tmp_path: Path
) -> None:
    report = run(export.plain, State(tmp_path / "plain-state"))
    assert run(export.path, State(tmp_path / "export-state")).written
    ours = read_all_sheets(export.plain, tmp_path, as_shown=True)
    theirs = read_all_sheets(export.path, tmp_path, as_shown=True)
    assert theirs == ours
    layout = report.plan.changes.layout
    header = theirs["Prospects"][layout.header_row - 1]
    assert header[layout.managed["next_action"]] == "Next action"
    for result in report.plan.rows:
        row = theirs["Prospects"][result.row - 1]
        assert row[layout.managed["follow_up_status"]] == result.decision.status_text
        assert row[layout.managed["sync_id"]] == result.sync_id


def test_a_worksheet_in_no_spreadsheetml_namespace_is_refused(tmp_path: Path) -> None:
    log = small_log(tmp_path)
    rezip(log, {SHEET: lambda xml: xml.replace(f'xmlns="{MAIN}"'.encode(), b"", 1)})
    with pytest.raises(SourceError) as refused:
        XlsxBackend(log).read()
    assert "is not a SpreadsheetML worksheet" in str(refused.value)
    assert SHEET in str(refused.value)


@settings(max_examples=200, deadline=None)
@given(sheet_rows, writes, st.booleans())
def test_writing_into_a_prefixed_sheet_writes_what_it_writes_into_a_plain_one_prefixed(
    rows: list[dict[int, tuple[str, str]]],
    changes: dict[tuple[int, int], object],
    other_default: bool,
) -> None:
    """New cells, in the middle of rows and at their ends, cleared cells, and self-closing
    rows opened for a first cell: each byte as in the plain sheet, in the export's prefix."""
    plain = worksheet(rows)
    export = prefixed(plain, other_default=other_default)
    changes = {(row, col): value for (row, col), value in changes.items() if row <= len(rows)}

    def spliced(sheet: bytes) -> bytes:
        edits = cell_edits(
            sheet,
            changes,  # type: ignore[arg-type]
            date_style=lambda existing: 3,
            style_from=(1, 0),
            date1904=False,
            prefix=main_prefix(sheet),
        )
        return b"".join(patched(sheet, list(edits)))

    assert spliced(export) == prefixed(spliced(plain), other_default=other_default)


NO_DATES = CellFormats(date_styles=frozenset(), date1904=False)


def test_cells_are_told_by_their_namespace_not_their_prefix() -> None:
    """The main namespace bound both as the default and to `x:`, cells written either way; and
    elements of another vocabulary named `row` and `c` in an extension, which are no cells."""
    xml = (
        f'<worksheet xmlns="{MAIN}" xmlns:x="{MAIN}" xmlns:o="{OTHER_DEFAULT}"><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>Name</t></is></c>'
        '<x:c r="B1" t="inlineStr"><x:is><x:t>Owner</x:t></x:is></x:c></row>'
        '<x:row r="2"><x:c r="A2"><x:v>1</x:v></x:c><c r="B2"><v>2</v></c></x:row>'
        '</sheetData><extLst><ext uri="{00000000-0000-0000-0000-000000000000}">'
        '<o:row r="3"><o:c r="A3"><o:v>3</o:v></o:c></o:row></ext></extLst></worksheet>'
    ).encode()
    assert read_cells(xml, [], NO_DATES) == [["Name", "Owner"], [1, 2]]


def test_merged_cells_are_found_whatever_the_prefix() -> None:
    xml = (
        f'<ss-1.main:worksheet xmlns:ss-1.main="{MAIN}"><ss-1.main:sheetData></ss-1.main:sheetData>'
        '<ss-1.main:mergeCells count="1"><ss-1.main:mergeCell ref="A2:B3"/>'
        "</ss-1.main:mergeCells></ss-1.main:worksheet>"
    ).encode()
    assert merged_areas(xml) == [(2, 0, 3, 1)]


@pytest.mark.parametrize(
    ("root", "prefix"),
    [
        (f'<worksheet xmlns="{MAIN}">', ""),
        (f'<x:worksheet xmlns:x="{MAIN}">', "x:"),
        (f"<x:worksheet xmlns='{OTHER_DEFAULT}' xmlns:x='{MAIN}'>", "x:"),
        (f'<worksheet xmlns:x="{MAIN}" xmlns="{MAIN}">', ""),
        (f'<ss-1.a:worksheet xmlns:ss-1.a="{MAIN}">', "ss-1.a:"),
        (
            f'<!-- <y:worksheet xmlns:y="{MAIN}"> --><x:worksheet title="a>b" xmlns:x="{MAIN}">',
            "x:",
        ),
    ],
)
def test_the_prefix_is_the_one_bound_to_the_spreadsheetml_namespace(root: str, prefix: str) -> None:
    assert main_prefix(BOM + b'<?xml version="1.0"?>\n' + root.encode()) == prefix


@pytest.mark.parametrize(
    "root",
    [
        "<worksheet>",
        '<worksheet xmlns="http://purl.oclc.org/ooxml/spreadsheetml/main">',
        f'<worksheet xmlns="{OTHER_DEFAULT}" xmlns:x="{MAIN}">',
        f'<x:workbook xmlns:x="{MAIN}">',
    ],
)
def test_a_root_outside_the_spreadsheetml_namespace_is_no_worksheet(root: str) -> None:
    with pytest.raises(DamagedWorkbook, match="is not a SpreadsheetML worksheet"):
        main_prefix(root.encode())


# --- Strict Open XML -----------------------------------------------------------------------


def transitional_relationships(rels: bytes) -> bytes:
    """The package's relationships with the transitional types, the parts still Strict."""
    return rels.replace(
        b"http://purl.oclc.org/ooxml/officeDocument/relationships/",
        b"http://schemas.openxmlformats.org/officeDocument/2006/relationships/",
    )


@pytest.mark.parametrize("relationships", ["strict", "transitional"])
def test_a_strict_open_xml_workbook_is_refused_naming_the_format_and_the_way_out(
    tmp_path: Path, relationships: str
) -> None:
    strict = saved_as_strict(tmp_path)
    if relationships == "transitional":
        rezip(strict, {"_rels/.rels": transitional_relationships})
    before = strict.read_bytes()
    with pytest.raises(SourceError) as refused:
        XlsxBackend(strict).read()
    message = str(refused.value)
    assert "Strict Open XML Spreadsheet" in message
    assert "File > Save As > Excel Workbook (.xlsx)" in message
    assert strict.read_bytes() == before


@pytest.mark.libreoffice
@pytest.mark.usefixtures("soffice")
def test_a_strict_workbook_saved_again_as_the_message_says_is_read(tmp_path: Path) -> None:
    resaved = convert(saved_as_strict(tmp_path), "xlsx", tmp_path / "resaved")
    plain = XlsxBackend(make_small_log(tmp_path / "plain.xlsx")).read().rows
    assert XlsxBackend(resaved).read().rows == plain
