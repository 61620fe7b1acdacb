"""New managed columns in a sheet whose columns staff already formatted, and the autofilter's
hidden name in the workbook part (issue 11, points 5 and 6).

Excel writes one `<col>` range up to column 16384 when whole columns were formatted, and
LibreOffice one up to 1024: the managed columns a sync adds are cut out of such a range, each
with a width that shows its values and Sync ID hidden, while the rest of the range keeps every
attribute. When the sync widens the sheet's autofilter, the workbook's `_xlnm._FilterDatabase`
name for that sheet widens with it, and no other byte of the workbook part changes.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
import xlsxwriter  # type: ignore[import-untyped]
from lxml import etree
from xlsxwriter.worksheet import Worksheet  # type: ignore[import-untyped]

from sheets_sync.backends.xlsx import COLUMN_WIDTHS, XlsxBackend
from sheets_sync.backends.xlsx.frame import Area, NewColumn, edit_frame
from sheets_sync.backends.xlsx.sheet import main_prefix, patched
from sheets_sync.core.values import CellValue
from sheets_sync.engine import CycleReport
from sheets_sync.state import State
from tests.backends.test_xlsx import MAIN, SHEET, WORKBOOK, parts, run
from tests.backends.test_xlsx_hostile import rezip
from tests.libreoffice import convert
from tests.workbooks import make_log

PROSPECTS: list[dict[str, CellValue]] = [
    {"Name": "Ann Lee", "Owner": "Anna Price", "Consultation date": date(2026, 11, 2)},
    {"Name": "Bob Kay", "Owner": "Ben Okafor", "Consultation date": date(2026, 10, 1)},
]
# The log fills A:C, so the managed columns are D:G: Next touch, Next action, Follow-up status
# and Sync ID, as <col> numbers 4 to 7.
NEXT_TOUCH, NEXT_ACTION, STATUS, SYNC_ID = 4, 5, 6, 7
WIDTHS = {
    NEXT_TOUCH: COLUMN_WIDTHS["next_touch"],
    NEXT_ACTION: COLUMN_WIDTHS["next_action"],
    STATUS: COLUMN_WIDTHS["follow_up_status"],
    SYNC_ID: COLUMN_WIDTHS["sync_id"],
}
FILTER_NAME = re.compile(rb'<definedName[^>]*\sname="_xlnm._FilterDatabase"[^>]*>([^<]*)<')


# --- helpers ---------------------------------------------------------------------------------


def cols_of(sheet_xml: bytes) -> list[dict[str, str]]:
    """The worksheet's <col> elements, as attribute dicts in document order, after checking
    that the <cols> block is what the schema and Excel accept: well formed, at most one
    block, at least one <col>, 1 <= min <= max <= 16384, sorted, no two ranges overlapping."""
    root = etree.fromstring(sheet_xml)
    blocks = root.findall(f"{{{MAIN}}}cols")
    assert len(blocks) <= 1, "more than one <cols>"
    if not blocks:
        return []
    cols = [{str(k): str(v) for k, v in col.attrib.items()} for col in blocks[0]]
    assert cols, "an empty <cols>"
    assert all(child.tag == f"{{{MAIN}}}col" for child in blocks[0])
    previous_max = 0
    for col in cols:
        low, high = int(col["min"]), int(col["max"])
        assert 1 <= low <= high <= 16384, col
        assert low > previous_max, f"{col} overlaps or precedes the range before it"
        previous_max = high
    return cols


def col_of(cols: list[dict[str, str]], number: int) -> dict[str, str]:
    """The one <col> that describes column `number` alone."""
    found = [col for col in cols if int(col["min"]) <= number <= int(col["max"])]
    assert len(found) == 1, found
    assert found[0]["min"] == found[0]["max"] == str(number), found
    return found[0]


def without_bounds(col: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in col.items() if k not in ("min", "max")}


def filter_ref(sheet_xml: bytes) -> str | None:
    autofilter = etree.fromstring(sheet_xml).find(f"{{{MAIN}}}autoFilter")
    return None if autofilter is None else autofilter.get("ref")


def with_cols(path: Path, cols: bytes) -> Path:
    """The workbook with its log sheet's <cols> block replaced by `cols`, as another program
    wrote it."""

    def replace(xml: bytes) -> bytes:
        xml = re.sub(rb"<cols>.*?</cols>", b"", xml)
        return xml.replace(b"<sheetData>", cols + b"<sheetData>")

    return rezip(path, {SHEET: replace})


def sync_twice(path: Path, state: State, **backend: str) -> CycleReport:
    """Sync, and check that a second sync on the same day writes nothing."""
    report = run(XlsxBackend(path, **backend), state)
    written = path.read_bytes()
    run(XlsxBackend(path, **backend), state)
    assert path.read_bytes() == written, "the second sync wrote"
    return report


@pytest.fixture
def state(tmp_path: Path) -> State:
    return State(tmp_path / "state")


def log(
    tmp_path: Path,
    customise: Callable[[Worksheet], object] | None = None,
    *,
    autofilter: bool = False,
) -> Path:
    return make_log(tmp_path / "log.xlsx", PROSPECTS, customise=customise, autofilter=autofilter)


# --- point 5: columns that already have widths ------------------------------------------------


def test_a_formatted_range_to_column_16384_is_split_around_each_managed_column(
    tmp_path: Path, state: State
) -> None:
    path = log(tmp_path, lambda sheet: sheet.set_column(1, 16383, 2))  # B:XFD, too narrow
    before = cols_of(parts(path)[SHEET])
    assert before == [{"min": "2", "max": "16384", "width": before[0]["width"], "customWidth": "1"}]

    report = sync_twice(path, state)
    assert report.plan.changes.layout.managed == {
        "next_touch": NEXT_TOUCH - 1,
        "next_action": NEXT_ACTION - 1,
        "follow_up_status": STATUS - 1,
        "sync_id": SYNC_ID - 1,
    }
    cols = cols_of(parts(path)[SHEET])
    staff = without_bounds(before[0])
    assert cols[0] == {"min": "2", "max": "3", **staff}
    assert cols[-1] == {"min": "8", "max": "16384", **staff}
    for number, width in WIDTHS.items():
        col = col_of(cols, number)
        assert float(col["width"]) == width
        assert col["customWidth"] == "1"
        assert col.get("hidden") == ("1" if number == SYNC_ID else None)
    assert len(cols) == 6


EXCEL_RANGE = (
    b'<cols><col min="1" max="1" width="30.7109375" customWidth="1"/>'
    b'<col min="2" max="16384" width="2.140625" style="3" customWidth="1"/></cols>'
)
LIBREOFFICE_RANGE = (
    b'<cols><col collapsed="false" customWidth="true" hidden="false" outlineLevel="0"'
    b' max="3" min="1" style="0" width="11.52"/>'
    b'<col collapsed="false" customWidth="true" hidden="false" outlineLevel="0"'
    b' max="1024" min="4" style="2" width="1.5"/></cols>'
)
EVERY_ATTRIBUTE = (
    b"<cols><col min='2' max='20' width='3.5' style='1' customWidth='1' bestFit='1'"
    b" phonetic='1' outlineLevel='2' collapsed='1' hidden='1'/></cols>"
)


@pytest.mark.parametrize(
    "cols",
    [EXCEL_RANGE, LIBREOFFICE_RANGE, EVERY_ATTRIBUTE],
    ids=["excel-style", "libreoffice-style", "every-attribute"],
)
def test_the_rest_of_a_covering_range_keeps_every_attribute_on_both_sides(
    tmp_path: Path, state: State, cols: bytes
) -> None:
    path = with_cols(log(tmp_path), cols)
    before = cols_of(parts(path)[SHEET])
    covering = before[-1]

    sync_twice(path, state)
    after = cols_of(parts(path)[SHEET])
    untouched = [col for col in before if int(col["max"]) < NEXT_TOUCH]
    assert after[: len(untouched)] == untouched
    rest = [col for col in after if int(col["max"]) > SYNC_ID or int(col["min"]) < NEXT_TOUCH]
    for col in rest[len(untouched) :]:
        assert without_bounds(col) == without_bounds(covering), col
    assert [(int(c["min"]), int(c["max"])) for c in rest[len(untouched) :]] == [
        *([(int(covering["min"]), NEXT_TOUCH - 1)] if int(covering["min"]) < NEXT_TOUCH else []),
        (SYNC_ID + 1, int(covering["max"])),
    ]
    for number, width in WIDTHS.items():
        col = col_of(after, number)
        assert col.get("style") == covering.get("style"), "the column's formatting was lost"
        assert float(col["width"]) == width
        assert col["customWidth"] == "1"
        assert col.get("hidden") == ("1" if number == SYNC_ID else None), col
        assert "bestFit" not in col
        for kept in ("phonetic", "outlineLevel", "collapsed"):
            assert col.get(kept) == covering.get(kept)


def test_a_range_staff_made_wider_than_ours_keeps_its_width(tmp_path: Path, state: State) -> None:
    path = log(tmp_path, lambda sheet: sheet.set_column(3, 30, 20))  # D:AE, 20 characters
    staff = float(cols_of(parts(path)[SHEET])[0]["width"])
    assert WIDTHS[NEXT_TOUCH] < staff < WIDTHS[STATUS]
    sync_twice(path, state)
    cols = cols_of(parts(path)[SHEET])
    # Next touch (ours 16) and Sync ID (ours 12) keep the staff's width; the others get ours.
    assert [float(col_of(cols, number)["width"]) for number in WIDTHS] == [
        staff,
        WIDTHS[NEXT_ACTION],
        WIDTHS[STATUS],
        staff,
    ]
    assert col_of(cols, SYNC_ID)["hidden"] == "1"


def test_ranges_not_covering_a_managed_column_keep_every_byte(tmp_path: Path, state: State) -> None:
    staff = (
        b'<col min="1" max="1" width="30.5" customWidth="1"/>'
        b'<col min="2" max="3" width="9" style="1"/>'
        b'<col min="20" max="30" width="4" hidden="1"/>'
    )
    path = with_cols(log(tmp_path), b"<cols>" + staff + b"</cols>")
    sync_twice(path, state)
    sheet = parts(path)[SHEET]
    cols = cols_of(sheet)
    assert sheet.count(staff[: staff.index(b'<col min="20"')]) == 1
    assert sheet.count(b'<col min="20" max="30" width="4" hidden="1"/>') == 1
    assert [int(col["min"]) for col in cols] == [1, 2, *WIDTHS, 20]


def test_once_the_managed_columns_exist_widths_staff_give_them_are_theirs(
    tmp_path: Path, state: State
) -> None:
    path = log(tmp_path, lambda sheet: sheet.set_column(1, 16383, 2))
    run(XlsxBackend(path), state)

    def resized(xml: bytes) -> bytes:
        return xml.replace(
            b'<col min="4" max="4" width="16" customWidth="1"/>',
            b'<col min="4" max="5" width="40" customWidth="1"/>',
        ).replace(b'<col min="5" max="5" width="56" customWidth="1"/>', b"")

    rezip(path, {SHEET: resized})
    before = parts(path)[SHEET]
    assert b'<col min="4" max="5" width="40"' in before
    run(XlsxBackend(path), state, today=date(2026, 12, 24))  # a later day: cells change
    after = parts(path)[SHEET]
    assert after != before
    assert cols_of(after) == cols_of(before)


# --- point 6: the autofilter's hidden name -------------------------------------------------


def two_filtered_sheets(path: Path, log_name: str) -> Path:
    """A workbook whose first sheet has an autofilter of its own, and whose second sheet,
    `log_name`, is the log with a sheet autofilter: two `_FilterDatabase` names."""
    workbook = xlsxwriter.Workbook(str(path))
    notes = workbook.add_worksheet("Notes")
    notes.write_row(0, 0, ["Topic", "Said"])
    notes.write_row(1, 0, ["Parking", "Free after 6"])
    notes.autofilter(0, 0, 1, 1)
    sheet = workbook.add_worksheet(log_name)
    headers = list(PROSPECTS[0])
    sheet.write_row(0, 0, headers)
    day = workbook.add_format({"num_format": "yyyy-mm-dd"})
    for row, prospect in enumerate(PROSPECTS, start=1):
        sheet.write_string(row, 0, str(prospect["Name"]))
        sheet.write_string(row, 1, str(prospect["Owner"]))
        sheet.write_datetime(row, 2, prospect["Consultation date"], day)
    sheet.autofilter(0, 0, len(PROSPECTS), len(headers) - 1)
    workbook.close()
    return path


@pytest.mark.parametrize(
    ("sheet_name", "old", "new"),
    [
        ("Prospects", b"Prospects!$A$1:$C$3", b"Prospects!$A$1:$G$3"),
        ("O'Brien log", b"'O''Brien log'!$A$1:$C$3", b"'O''Brien log'!$A$1:$G$3"),
    ],
)
def test_the_filter_name_widens_with_the_filter_and_nothing_else_in_the_workbook_part(
    tmp_path: Path, state: State, sheet_name: str, old: bytes, new: bytes
) -> None:
    path = two_filtered_sheets(tmp_path / "log.xlsx", sheet_name)
    before = parts(path)[WORKBOOK]
    assert FILTER_NAME.findall(before) == [b"Notes!$A$1:$B$2", old]

    sync_twice(path, state, worksheet=sheet_name)
    after = parts(path)
    assert after[WORKBOOK] == before.replace(old, new)
    assert before.count(old) == 1
    assert filter_ref(after["xl/worksheets/sheet2.xml"]) == "A1:G3"


@pytest.mark.libreoffice
@pytest.mark.usefixtures("soffice")
def test_libreoffice_opens_the_widened_filter_and_sees_its_range(
    tmp_path: Path, state: State
) -> None:
    path = log(tmp_path, autofilter=True)
    sync_twice(path, state)
    saved = convert(path, "xlsx", tmp_path / "libreoffice")
    with zipfile.ZipFile(saved) as package:
        names = FILTER_NAME.findall(package.read(WORKBOOK))
        sheet = package.read(SHEET)
    assert names == [b"Prospects!$A$1:$G$3"]
    assert filter_ref(sheet) == "A1:G3"


def test_a_filter_name_an_earlier_version_left_narrow_is_brought_up_to_date(
    tmp_path: Path, state: State
) -> None:
    """Versions before this one widened the filter but not its name: the name follows the
    sheet's filter, even when the filter itself is already right."""
    path = log(tmp_path, autofilter=True)
    run(XlsxBackend(path), state)
    rezip(path, {WORKBOOK: lambda xml: xml.replace(b"!$A$1:$G$3<", b"!$A$1:$C$3<")})
    assert FILTER_NAME.findall(parts(path)[WORKBOOK]) == [b"Prospects!$A$1:$C$3"]
    sync_twice(path, state)
    assert FILTER_NAME.findall(parts(path)[WORKBOOK]) == [b"Prospects!$A$1:$G$3"]


def test_without_a_filter_name_none_is_added(tmp_path: Path, state: State) -> None:
    path = rezip(
        log(tmp_path, autofilter=True),
        {WORKBOOK: lambda xml: re.sub(rb"<definedNames>.*</definedNames>", b"", xml)},
    )
    before = parts(path)[WORKBOOK]
    assert b"definedName" not in before
    sync_twice(path, state)
    after = parts(path)
    assert after[WORKBOOK] == before
    assert filter_ref(after[SHEET]) == "A1:G3"


NEW_COLUMNS = [
    NewColumn(number - 1, width, hidden=number == SYNC_ID) for number, width in WIDTHS.items()
]


@pytest.mark.parametrize(
    "worksheet",
    [
        # Main elements under a prefix, and a <col> written with an end tag.
        f'<x:worksheet xmlns:x="{MAIN}"><x:cols><x:col min="2" max="1024" width="2" style="4">'
        "</x:col></x:cols><x:sheetData/></x:worksheet>",
        # An empty <cols/>, which no schema allows, but which must not end up before our <col>s.
        f'<worksheet xmlns="{MAIN}"><cols/><sheetData/></worksheet>',
    ],
    ids=["prefixed", "empty-cols"],
)
def test_cols_written_other_ways_get_the_managed_columns_inside(worksheet: str) -> None:
    xml = worksheet.encode()
    edits = edit_frame(
        xml,
        used=Area(0, 1, 6, 3),
        new_columns=NEW_COLUMNS,
        header_row=1,
        log_cols=(0, 6),
        rules=None,
        prefix=main_prefix(xml),
    )
    cols = cols_of(b"".join(patched(xml, edits)))
    for number, width in WIDTHS.items():
        assert float(col_of(cols, number)["width"]) == width
    assert col_of(cols, SYNC_ID)["hidden"] == "1"
