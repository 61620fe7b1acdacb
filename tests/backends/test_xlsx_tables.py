"""Excel tables as clinics really have them (issue 11, point 3): a totals row, calculated
columns, a price list beside the log, a summary table below it, notes right of it.

Every case that syncs leaves a table part that is well-formed, covers exactly its header, data
and totals rows, keeps each existing column's bytes, names its new columns as their header
cells read, overlaps no other table, and opens in LibreOffice with the managed values; a second
sync writes nothing. Every case that cannot sync is refused with a message saying what to do,
and the workbook is left as it was.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from xlsxwriter.worksheet import Worksheet

from sheets_sync.backends.base import SourceError
from sheets_sync.backends.memory import MemoryBackend
from sheets_sync.backends.xlsx import XlsxBackend
from sheets_sync.backends.xlsx.frame import Area
from sheets_sync.config import load_config
from sheets_sync.core.columns import Table, column_index, column_letters
from sheets_sync.core.values import CellValue
from sheets_sync.engine import CycleReport, sync
from sheets_sync.state import State
from tests.backends.contract import MANAGED_HEADERS, ROOT, TODAY, counter_ids
from tests.libreoffice import convert, read_all_sheets
from tests.workbooks import make_log

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
HEADERS = ["Name", "Owner", "Consultation date", "Status", "Value", "Notes"]  # A..F
PROSPECTS: list[dict[str, CellValue]] = [
    {"Name": "Ann Lee", "Owner": "Anna Price", "Consultation date": date(2026, 11, 2)},
    {"Name": "Bob Kay", "Owner": "Ben Okafor", "Consultation date": date(2026, 10, 1)},
    {"Name": "Cy Dee", "Owner": "Anna Price", "Consultation date": date(2026, 11, 20)},
    {"Name": "Di Fox", "Owner": "Ben Okafor", "Consultation date": date(2026, 11, 24)},
]
LAST_DATA_ROW = len(PROSPECTS) + 1  # sheet row 5
MANAGED = {"G", "H", "I", "J"}  # right of the log's table A1:F5


def prospects() -> list[dict[str, CellValue]]:
    return [{header: row.get(header) for header in HEADERS} for row in PROSPECTS]


def log_table(*, totals: bool = False, calculated: bool = False) -> Callable[[Worksheet], None]:
    """The log as an Excel table, with a totals row (label under Name, a sum under Value, a
    count under Owner) and a calculated column `Days` if asked."""
    columns: list[dict[str, Any]] = [{"header": header} for header in HEADERS]
    if totals:
        columns[0]["total_string"] = "Total"
        columns[1]["total_function"] = "count"
        columns[4]["total_function"] = "sum"
    if calculated:
        columns.append({"header": "Days", "formula": "=TODAY()-[@[Consultation date]]"})
    last_row = LAST_DATA_ROW + (1 if totals else 0)

    def add(sheet: Worksheet) -> None:
        sheet.add_table(
            0, 0, last_row - 1, len(columns) - 1, {"columns": columns, "total_row": totals}
        )

    return add


def price_list(first_row: int, first_col: int, rows: int = 3) -> Callable[[Worksheet], None]:
    """A second table, `Prices`: a treatment and its price per row."""

    def add(sheet: Worksheet) -> None:
        for n in range(rows):
            sheet.write_string(first_row + 1 + n, first_col, f"Treatment {n + 1}")
            sheet.write_number(first_row + 1 + n, first_col + 1, 100 * (n + 1))
        sheet.add_table(
            first_row,
            first_col,
            first_row + rows,
            first_col + 1,
            {"name": "Prices", "columns": [{"header": "Treatment"}, {"header": "Price"}]},
        )

    return add


def both(*steps: Callable[[Worksheet], None]) -> Callable[[Worksheet], None]:
    def run(sheet: Worksheet) -> None:
        for step in steps:
            step(sheet)

    return run


def notes(cells: Sequence[str]) -> Callable[[Worksheet], None]:
    def add(sheet: Worksheet) -> None:
        for ref in cells:
            sheet.write_string(ref, f"note in {ref}")

    return add


def workbook(tmp_path: Path, customise: Callable[[Worksheet], None]) -> Path:
    folder = tmp_path / "share"
    folder.mkdir(exist_ok=True)
    return make_log(folder / "log.xlsx", prospects(), customise=customise)


def run(path: Path, state: State) -> CycleReport:
    config = load_config(ROOT / "config" / "sheets_sync.toml")
    return sync(XlsxBackend(path), config, state, today=TODAY, new_id=counter_ids())


def parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as package:
        return {name: package.read(name) for name in package.namelist()}


def tables(path: Path) -> dict[str, etree._Element]:
    """The workbook's table parts by display name, parsed (so well-formed)."""
    found = {}
    for name, data in parts(path).items():
        if name.startswith("xl/tables/"):
            root = etree.fromstring(data)
            found[root.get("displayName", "")] = root
    return found


def column_names(table: etree._Element) -> list[str]:
    return [column.get("name", "") for column in table.iter(f"{{{MAIN}}}tableColumn")]


def sheet_cells(path: Path) -> dict[str, CellValue]:
    """The log sheet's cells holding something, by reference, as the backend reads them."""
    return {
        f"{column_letters(col)}{number}": value
        for number, row in enumerate(XlsxBackend(path).read().rows, start=1)
        for col, value in enumerate(row)
        if value is not None
    }


def assert_sound(path: Path) -> None:
    """The promises every synced table keeps: no overlap, no repeated name, ids unique,
    header cells naming their columns, the autofilter within the table's data."""
    found = tables(path)
    areas = {name: Area.parse(table.get("ref", "")) for name, table in found.items()}
    for name, area in areas.items():
        for other, there in areas.items():
            if other != name:
                assert (
                    area.last_col < there.first_col
                    or there.last_col < area.first_col
                    or area.last_row < there.first_row
                    or there.last_row < area.first_row
                ), f"{name} {area} overlaps {other} {there}"
    rows = XlsxBackend(path).read().rows
    for name, table in found.items():
        area, names = areas[name], column_names(table)
        assert len({n.casefold() for n in names}) == len(names), name
        ids = [column.get("id") for column in table.iter(f"{{{MAIN}}}tableColumn")]
        assert len(set(ids)) == len(ids), name
        assert len(names) == area.last_col - area.first_col + 1, name
        assert table.find(f"{{{MAIN}}}tableColumns").get("count") == str(len(names))  # type: ignore[union-attr]
        header = rows[area.first_row - 1]
        assert [header[col] for col in range(area.first_col, area.last_col + 1)] == names
        autofilter = table.find(f"{{{MAIN}}}autoFilter")
        if autofilter is not None:
            totals = int(table.get("totalsRowCount", "0"))
            assert Area.parse(autofilter.get("ref", "")) == Area(
                area.first_col, area.first_row, area.last_col, area.last_row - totals
            )


def synced_twice(path: Path, tmp_path: Path) -> CycleReport:
    state = State(tmp_path / "state")
    report = run(path, state)
    assert report.written
    assert not run(path, state).written, "a second sync wrote again"
    return report


# --- totals rows ------------------------------------------------------------------------


def test_a_totals_row_is_no_prospect(tmp_path: Path) -> None:
    path = workbook(tmp_path, log_table(totals=True))
    before = parts(path)["xl/tables/table1.xml"]
    report = synced_twice(path, tmp_path)

    totals_row = LAST_DATA_ROW + 1
    assert [result.row for result in report.plan.rows] == list(range(2, totals_row))
    cells = sheet_cells(path)
    assert cells["A6"] == "Total"
    assert not any(f"{col}{totals_row}" in cells for col in MANAGED)

    table = tables(path)["Table1"]
    assert table.get("ref") == f"A1:J{totals_row}"
    assert table.get("totalsRowCount") == "1"
    assert column_names(table) == [*HEADERS, *MANAGED_HEADERS]
    columns = list(table.iter(f"{{{MAIN}}}tableColumn"))
    assert columns[0].get("totalsRowLabel") == "Total"
    assert [column.get("totalsRowFunction") for column in columns] == [
        None, "count", None, None, "sum", None, None, None, None, None,
    ]  # fmt: skip
    old_columns = re.search(rb"<tableColumn .*</tableColumns>", before, re.S)
    assert old_columns is not None
    assert (
        old_columns.group().removesuffix(b"</tableColumns>") in parts(path)["xl/tables/table1.xml"]
    )
    assert_sound(path)


def test_the_daemons_leftovers_in_a_totals_row_go_but_a_persons_totals_stay(
    tmp_path: Path,
) -> None:
    """A totals row synced by an earlier version, which took it for a prospect."""
    rows: list[list[CellValue]] = [
        [*HEADERS[:3], *MANAGED_HEADERS],
        ["Ann Lee", "Anna Price", date(2026, 11, 2), None, None, None, None],
        ["Total", 1, None, None, None, None, None],
    ]
    table = Table("Table1", 1, 0, 3, 6, totals_rows=1)
    state = State(tmp_path / "state")
    config = load_config(ROOT / "config" / "sheets_sync.toml")
    memory = MemoryBackend(rows, tables=[table])
    ids = iter(["a1", "t1"])
    # The earlier version: no tables known, the totals row a prospect with Sync ID t1.
    old = MemoryBackend(rows)
    sync(old, config, state, today=TODAY, new_id=lambda: next(ids))
    memory.rows = [list(row) for row in old.rows]
    memory.rows[2][5] = "a person's note"  # typed into Follow-up status of the totals row

    report = sync(memory, config, state, today=TODAY, new_id=counter_ids())

    assert [result.row for result in report.plan.rows] == [2]
    assert memory.rows[2][:2] == ["Total", 1]
    assert memory.rows[2][3:] == [None, None, "a person's note", None]


# --- several tables -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "neighbour",
    [
        pytest.param(price_list(0, 12), id="price-list-to-the-right"),
        pytest.param(price_list(7, 0), id="table-below-the-log"),
        pytest.param(price_list(LAST_DATA_ROW + 2, 5), id="table-below-reaching-under-ours"),
        pytest.param(notes(["H20", "L2"]), id="notes-below-and-far-right"),
    ],
)
def test_only_the_logs_table_takes_the_managed_columns(
    tmp_path: Path, neighbour: Callable[[Worksheet], None]
) -> None:
    path = workbook(tmp_path, both(log_table(), neighbour))
    before, cells_before = tables(path), sheet_cells(path)
    report = synced_twice(path, tmp_path)

    layout = report.plan.changes.layout
    assert {f"{chr(65 + col)}" for col in layout.managed.values()} == MANAGED
    assert [result.row for result in report.plan.rows] == list(range(2, LAST_DATA_ROW + 1))
    after = tables(path)
    assert after["Table1"].get("ref") == f"A1:J{LAST_DATA_ROW}"
    assert column_names(after["Table1"]) == [*HEADERS, *MANAGED_HEADERS]
    if "Prices" in before:
        assert etree.tostring(after["Prices"]) == etree.tostring(before["Prices"])
        prices = Area.parse(before["Prices"].get("ref", ""))
        for number in range(max(prices.first_row, LAST_DATA_ROW + 1), prices.last_row + 1):
            for col in MANAGED:
                place = f"{col}{number}"
                assert sheet_cells(path).get(place) == cells_before.get(place), place
    assert_sound(path)


@pytest.mark.parametrize(
    ("in_the_way", "named"),
    [
        pytest.param(price_list(0, 7), "the table Prices (H1:I4)", id="price-list-beside"),
        pytest.param(notes([f"H{n}" for n in range(2, 6)]), "what is in H2:H5", id="notes"),
        pytest.param(notes(["G1"]), "what is in G1", id="text-in-the-next-header-cell"),
        pytest.param(notes(["J3", "K1"]), "what is in J3", id="chart-data-three-columns-right"),
    ],
)
def test_something_right_of_the_logs_table_is_named_with_what_to_do(
    tmp_path: Path, in_the_way: Callable[[Worksheet], None], named: str
) -> None:
    path = workbook(tmp_path, both(log_table(), in_the_way))
    before = path.read_bytes()
    with pytest.raises(SourceError) as refused:
        run(path, State(tmp_path / "state"))
    message = str(refused.value)
    assert f"table Table1 (A1:F{LAST_DATA_ROW})" in message
    assert named in message
    assert "Insert 4 empty columns after column F" in message
    assert path.read_bytes() == before


# --- calculated columns ---------------------------------------------------------------------


def test_calculated_columns_and_totals_keep_every_byte(tmp_path: Path) -> None:
    path = workbook(tmp_path, log_table(totals=True, calculated=True))
    before = parts(path)["xl/tables/table1.xml"]
    synced_twice(path, tmp_path)
    after = parts(path)["xl/tables/table1.xml"]

    table = tables(path)["Table1"]
    assert table.get("ref") == f"A1:K{LAST_DATA_ROW + 1}"
    assert column_names(table) == [*HEADERS, "Days", *MANAGED_HEADERS]
    formula = table.find(f".//{{{MAIN}}}calculatedColumnFormula")
    assert formula is not None
    assert "Consultation date" in (formula.text or "")
    # Apart from the widened ranges, the count and the new columns, the part is as it was.
    new_columns = re.search(rb'<tableColumn id="8".*?(?=</tableColumns>)', after)
    assert new_columns is not None
    restored = after.replace(new_columns.group(), b"")
    for old, new in [
        (f"A1:G{LAST_DATA_ROW + 1}", f"A1:K{LAST_DATA_ROW + 1}"),
        (f"A1:G{LAST_DATA_ROW}", f"A1:K{LAST_DATA_ROW}"),
        ('count="7"', 'count="11"'),
    ]:
        restored = restored.replace(new.encode(), old.encode())
    assert restored == before
    assert_sound(path)


# --- LibreOffice ------------------------------------------------------------------------


@pytest.mark.libreoffice
@pytest.mark.usefixtures("soffice")
@pytest.mark.parametrize(
    "customise",
    [
        pytest.param(log_table(totals=True, calculated=True), id="totals-and-calculated"),
        pytest.param(both(log_table(), price_list(0, 12)), id="price-list-to-the-right"),
        pytest.param(both(log_table(), price_list(7, 0)), id="table-below-the-log"),
    ],
)
def test_libreoffice_reads_the_managed_values_and_the_widened_table(
    tmp_path: Path, customise: Callable[[Worksheet], None]
) -> None:
    path = workbook(tmp_path, customise)
    report = synced_twice(path, tmp_path)
    layout = report.plan.changes.layout
    shown = read_all_sheets(path, tmp_path)["Prospects"]

    assert [shown[0][col] for col in sorted(layout.managed.values())] == list(MANAGED_HEADERS)
    for result in report.plan.rows:
        row = shown[result.row - 1]
        assert row[layout.managed["next_action"]] == result.decision.next_action
        assert row[layout.managed["follow_up_status"]] == result.decision.status_text
        assert row[layout.managed["sync_id"]] == result.sync_id
    for number in layout.not_prospects:
        row = shown[number - 1]
        assert not any(row[col] for col in layout.managed.values() if col < len(row))

    # LibreOffice kept the log's table as widened when it saved the file again.
    resaved = convert(path, "xlsx", tmp_path / "resaved")
    ours = tables(path)["Table1"].get("ref")
    assert ours in [table.get("ref") for table in tables(resaved).values()]
    assert column_index(re.sub(r"\d", "", str(ours).split(":")[1])) == max(layout.managed.values())
