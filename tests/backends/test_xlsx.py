"""The Excel backend: the backend contract, and the fidelity bar of the issue.

After a sync, every part of the package other than the prospect sheet, the styles part and
the log's table part is byte-for-byte identical; in the prospect sheet every cell outside the
managed columns is unchanged (raw XML, so formulas and cached values count); the sheet's
extension list survives; colour rules are added once; writes are safe against open files and
concurrent saves.
"""

from __future__ import annotations

import dataclasses
import os
import re
import zipfile
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import pytest
import xlsxwriter  # type: ignore[import-untyped]
from lxml import etree

from sheets_sync.backends.base import SourceBusy, SourceChanged
from sheets_sync.backends.xlsx import XlsxBackend
from sheets_sync.backends.xlsx.frame import LAST_ROW, Area
from sheets_sync.config import Config, load_config
from sheets_sync.core.columns import column_index
from sheets_sync.core.values import CellValue, DateOrder
from sheets_sync.engine import CycleReport, sync
from sheets_sync.state import State
from tests.backends.contract import (
    MANAGED_HEADERS,
    ROOT,
    STAFF,
    TODAY,
    BackendContract,
    MakeBackend,
    Rows,
    cell,
    counter_ids,
    plan,
)
from tests.workbooks import EXTRA_FORMULA_HEADER, make_log

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SHEET = "xl/worksheets/sheet1.xml"
STYLES = "xl/styles.xml"
TABLE = "xl/tables/table1.xml"
CHANGEABLE = {SHEET, STYLES, TABLE}
WORKBOOK = "xl/workbook.xml"
FILTER_RANGE = re.compile(rb'(?<=name="_xlnm._FilterDatabase")[^>]*>[^<]*')
# A stand-in for a VBA project: any bytes do, since the sync must carry the part over unread.
FAKE_VBA = bytes.fromhex("D0CF11E0A1B11AE1") + bytes(range(256)) * 8


def as_dicts(rows: Rows) -> list[dict[str, CellValue]]:
    header = [str(name) for name in rows[0]]
    return [dict(zip(header, row, strict=False)) for row in rows[1:]]


def staff_pairs(staff: Rows) -> list[tuple[str, str]]:
    return [(str(name), str(email)) for name, email in staff[1:]]


class TestXlsxBackend(BackendContract):
    @pytest.fixture
    def make_backend(self, tmp_path: Path) -> MakeBackend:
        made = iter(range(1000))

        def make(rows: Rows, staff: Rows | None) -> XlsxBackend:
            path = tmp_path / f"log{next(made)}.xlsx"
            make_log(path, as_dicts(rows), staff=staff_pairs(staff) if staff else None)
            return XlsxBackend(path, backup_dir=tmp_path / "backups")

        return make


# --- helpers ---------------------------------------------------------------------------------


def config(date_order: DateOrder = DateOrder.DMY) -> Config:
    loaded = load_config(ROOT / "config" / "sheets_sync.toml")
    return dataclasses.replace(
        loaded, clinic=dataclasses.replace(loaded.clinic, date_order=date_order)
    )


def run(
    backend: XlsxBackend, state: State, today: date = TODAY, cfg: Config | None = None
) -> CycleReport:
    return sync(backend, cfg or config(), state, today=today, new_id=counter_ids())


def parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as package:
        return {name: package.read(name) for name in package.namelist()}


def cells_by_ref(sheet_xml: bytes) -> dict[str, etree._Element]:
    root = etree.fromstring(sheet_xml)
    return {c.get("r", ""): c for c in root.iter(f"{{{MAIN}}}c")}


def raw(element: etree._Element) -> tuple[str, dict[str, str], bytes]:
    children = b"".join(etree.tostring(child, with_tail=False) for child in element)
    return element.tag, {str(k): str(v) for k, v in element.attrib.items()}, children


def ref_column(ref: str) -> int:
    match = re.match(r"[A-Z]+", ref)
    assert match is not None
    return column_index(match.group())


def worksheet_ext(sheet_xml: bytes) -> bytes:
    """The worksheet's own extLst element (the last one: nested ones come before it)."""
    start = sheet_xml.rfind(b"<extLst>")
    if start < 0:
        return b""
    return sheet_xml[start : sheet_xml.index(b"</extLst>", start) + len(b"</extLst>")]


def our_rules(sheet_xml: bytes) -> list[etree._Element]:
    root = etree.fromstring(sheet_xml)
    return [
        element
        for element in root.iterfind(f"{{{MAIN}}}conditionalFormatting")
        if any("TODAY()" in (f.text or "") for f in element.iter(f"{{{MAIN}}}formula"))
    ]


PROSPECTS: list[dict[str, CellValue]] = [
    {
        "Name": "Ann Lee",
        "Owner": "Anna Price",
        "Consultation date": date(2026, 11, 2),
        "Status": None,
        "Value": 1200,
        "Notes": "=1+1",
    },
    {
        "Name": "Bob Kay",
        "Owner": "Ben Okafor",
        "Consultation date": date(2026, 10, 1),
        "Status": "Booked",
        "Value": 300,
        "Notes": "Prefers email",
    },
    {
        "Name": "Cy Dee",
        "Owner": "Anna Price",
        "Consultation date": date(2026, 11, 20),
        "Status": None,
        "Value": 800,
        "Notes": None,
    },
]


@pytest.fixture(params=["table", "autofilter"])
def variant(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def log_path(tmp_path: Path, variant: str) -> Path:
    folder = tmp_path / "share"
    folder.mkdir()
    return make_log(
        folder / "log.xlsx",
        PROSPECTS,
        table=variant == "table",
        autofilter=variant == "autofilter",
        extras=True,
        staff=staff_pairs(STAFF),
    )


@pytest.fixture
def state(tmp_path: Path) -> State:
    return State(tmp_path / "state")


def managed_columns(report: CycleReport) -> set[int]:
    return set(report.plan.changes.layout.managed.values())


# --- fidelity ------------------------------------------------------------------------------


def assert_faithful(before: dict[str, bytes], after: dict[str, bytes], managed: set[int]) -> None:
    assert list(after) == list(before), "parts added, removed or reordered"
    for name, data in before.items():
        if name == WORKBOOK:  # the autofilter's hidden name widens with the filter, and only it
            assert FILTER_RANGE.sub(b"", after[name]) == FILTER_RANGE.sub(b"", data), name
        elif name not in CHANGEABLE:
            assert after[name] == data, f"{name} changed"

    old_cells, new_cells = cells_by_ref(before[SHEET]), cells_by_ref(after[SHEET])
    outside = {ref for ref in old_cells if ref_column(ref) not in managed}
    assert outside == {ref for ref in new_cells if ref_column(ref) not in managed}
    for ref in sorted(outside):
        assert raw(new_cells[ref]) == raw(old_cells[ref]), ref
    assert worksheet_ext(after[SHEET]) == worksheet_ext(before[SHEET])


def test_a_sync_keeps_every_other_part_and_cell(
    log_path: Path, state: State, tmp_path: Path
) -> None:
    before = parts(log_path)
    report = run(XlsxBackend(log_path, backup_dir=tmp_path / "backups"), state)
    assert report.written
    after = parts(log_path)

    assert_faithful(before, after, managed_columns(report))
    # The formula column really was compared: formulas with their cached values.
    formulas = [
        c for c in cells_by_ref(after[SHEET]).values() if c.find(f"{{{MAIN}}}f") is not None
    ]
    assert len(formulas) == len(PROSPECTS)
    assert all(c.findtext(f"{{{MAIN}}}v") for c in formulas)
    # Data bar and sparkline extensions are still there.
    ext = worksheet_ext(after[SHEET])
    assert b"x14:dataBar" in ext
    assert b"x14:sparklineGroups" in ext


def test_missing_managed_headers_are_created(log_path: Path, state: State) -> None:
    report = run(XlsxBackend(log_path), state)
    rows = XlsxBackend(log_path).read().rows
    header = list(rows[0])
    assert header[: len(PROSPECTS[0]) + 1] == [*PROSPECTS[0], EXTRA_FORMULA_HEADER]
    assert tuple(header[len(PROSPECTS[0]) + 1 :]) == MANAGED_HEADERS
    assert report.plan.changes.layout.new_headers


def test_the_managed_columns_join_the_table_or_filter(
    log_path: Path, state: State, variant: str
) -> None:
    report = run(XlsxBackend(log_path), state)
    last_col = max(managed_columns(report))
    after = parts(log_path)
    if variant == "table":
        table = etree.fromstring(after[TABLE])
        assert Area.parse(table.get("ref", "")).last_col == last_col
        names = [c.get("name") for c in table.iter(f"{{{MAIN}}}tableColumn")]
        assert names[-len(MANAGED_HEADERS) :] == list(MANAGED_HEADERS)
        assert table.find(f"{{{MAIN}}}tableColumns").get("count") == str(len(names))  # type: ignore[union-attr]
        autofilter = table.find(f"{{{MAIN}}}autoFilter")
        assert autofilter is not None
        assert Area.parse(autofilter.get("ref", "")).last_col == last_col
    else:
        assert TABLE not in after
        sheet = etree.fromstring(after[SHEET])
        autofilter = sheet.find(f"{{{MAIN}}}autoFilter")
        assert autofilter is not None
        area = Area.parse(autofilter.get("ref", ""))
        assert (area.first_col, area.first_row) == (0, 1)
        assert area.last_col == last_col
        assert area.last_row == len(PROSPECTS) + 1


def test_colour_rules_are_added_once_and_cover_new_rows(
    log_path: Path, state: State, tmp_path: Path
) -> None:
    backend = XlsxBackend(log_path, backup_dir=tmp_path / "backups")
    original = parts(log_path)
    first = run(backend, state)
    rules = our_rules(parts(log_path)[SHEET])
    assert len(rules) == 1
    assert len(rules[0].findall(f"{{{MAIN}}}cfRule")) == 6
    sqref = rules[0].get("sqref", "")
    for area in sqref.split():
        assert area.endswith(str(LAST_ROW))
        assert Area.parse(area).first_row == first.plan.changes.layout.first_row
    priorities = [r.get("priority") for r in rules[0].iter(f"{{{MAIN}}}cfRule")]

    # Three more syncs on later days: the flags change, the rules must not multiply.
    for days in (1, 9, 40):
        report = run(backend, state, TODAY + timedelta(days=days))
        assert report.written
        assert report.cells_changed
        sheet = parts(log_path)[SHEET]
        again = our_rules(sheet)
        assert len(again) == 1
        assert etree.tostring(again[0]) == etree.tostring(rules[0])
        assert [r.get("priority") for r in again[0].iter(f"{{{MAIN}}}cfRule")] == priorities
        assert sheet.count(b"<conditionalFormatting") == 2  # the data bar's and ours
        assert_faithful(original, parts(log_path), managed_columns(report))


def test_xlsm_keeps_its_vba_project(tmp_path: Path, state: State) -> None:
    # No real vbaProject.bin is available offline; the sync must carry any bytes over unread.
    vba = tmp_path / "vbaProject.bin"
    vba.write_bytes(FAKE_VBA)
    path = tmp_path / "log.xlsm"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("Prospects")
    sheet.write_row(0, 0, ["Name", "Owner", "Consultation date"])
    sheet.write_row(1, 0, ["Ann Lee", "Anna Price"])
    sheet.write_datetime(1, 2, date(2026, 11, 2), workbook.add_format({"num_format": "d/m/yy"}))
    workbook.set_vba_name("ThisWorkbook")
    assert workbook.add_vba_project(str(vba)) == 0
    workbook.close()
    before = parts(path)
    assert before["xl/vbaProject.bin"] == FAKE_VBA

    report = run(XlsxBackend(path), state)
    assert report.written
    after = parts(path)
    assert_faithful(before, after, managed_columns(report))
    assert b"macroEnabled" in after["[Content_Types].xml"]
    assert path.suffix == ".xlsm"


@pytest.mark.parametrize("lock_name", ["~$log.xlsx", ".~lock.log.xlsx#"])
def test_a_lock_file_makes_the_source_busy(log_path: Path, state: State, lock_name: str) -> None:
    lock = log_path.with_name(lock_name)
    lock.write_text(",Anna Price,FRONTDESK,24.11.2026 09:12,file:///home/anna;", encoding="utf-8")
    before = log_path.read_bytes()
    stat = log_path.stat()
    backend = XlsxBackend(log_path)
    snapshot = backend.read()
    with pytest.raises(SourceBusy, match="open for editing") as raised:
        backend.write(plan(snapshot).changes, snapshot.version)
    assert lock_name in str(raised.value)
    assert log_path.read_bytes() == before
    assert log_path.stat().st_mtime_ns == stat.st_mtime_ns

    report = run(backend, state)
    assert not report.written
    assert report.waiting
    assert lock_name in report.waiting
    assert log_path.read_bytes() == before
    assert sorted(p.name for p in log_path.parent.iterdir()) == sorted(["log.xlsx", lock_name])


def test_a_save_between_read_and_write_is_refused(log_path: Path, variant: str) -> None:
    backend = XlsxBackend(log_path)
    snapshot = backend.read()
    changes = plan(snapshot).changes
    # Someone saves the workbook in the meantime.
    make_log(log_path, PROSPECTS[:2], table=variant == "table", extras=True)
    saved = log_path.read_bytes()
    with pytest.raises(SourceChanged):
        backend.write(changes, snapshot.version)
    assert log_path.read_bytes() == saved
    assert [p.name for p in log_path.parent.iterdir()] == ["log.xlsx"]


def test_a_save_just_before_the_swap_is_refused(
    log_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = XlsxBackend(log_path, backup_dir=tmp_path / "backups")
    snapshot = backend.read()
    changes = plan(snapshot).changes
    keep_backup = XlsxBackend._keep_backup

    def save_meanwhile(self: XlsxBackend, data: bytes) -> None:
        keep_backup(self, data)
        make_log(log_path, PROSPECTS[:1])  # someone saves while the temp file is written

    monkeypatch.setattr(XlsxBackend, "_keep_backup", save_meanwhile)
    with pytest.raises(SourceChanged):
        backend.write(changes, snapshot.version)
    saved = log_path.read_bytes()
    assert XlsxBackend(log_path).read().rows[1:] == [
        ["Ann Lee", "Anna Price", date(2026, 11, 2), None, 1200, "=1+1"]
    ]
    assert [p.name for p in log_path.parent.iterdir()] == ["log.xlsx"]
    assert log_path.read_bytes() == saved


def test_the_engine_starts_over_when_the_file_changes(
    log_path: Path, state: State, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = XlsxBackend(log_path)
    real_read = XlsxBackend.read
    reads = []

    def read_then_someone_saves(self: XlsxBackend) -> object:
        snapshot = real_read(self)
        reads.append(snapshot)
        if len(reads) == 1:  # a staff member saves right after the first read
            data = log_path.read_bytes()
            log_path.write_bytes(data)  # same bytes: the fingerprint must not care about mtime
            make_log(log_path, PROSPECTS[:2], extras=True)
        return snapshot

    monkeypatch.setattr(XlsxBackend, "read", read_then_someone_saves)
    report = run(backend, state)
    assert report.written
    assert len(reads) == 2
    rows = real_read(backend).rows
    assert len(rows) == 3  # the second save's two prospects, synced
    assert rows[0][-len(MANAGED_HEADERS) :] == list(MANAGED_HEADERS)


def test_nothing_changed_writes_nothing(log_path: Path, state: State, tmp_path: Path) -> None:
    backend = XlsxBackend(log_path, backup_dir=tmp_path / "backups")
    assert run(backend, state).written
    data = log_path.read_bytes()
    os.utime(log_path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    stat = log_path.stat()
    backups = sorted((tmp_path / "backups").iterdir())

    report = run(backend, state)
    assert not report.written
    assert report.cells_changed == 0
    assert log_path.read_bytes() == data
    assert log_path.stat().st_mtime_ns == stat.st_mtime_ns
    assert log_path.stat().st_ino == stat.st_ino
    assert sorted((tmp_path / "backups").iterdir()) == backups


def test_a_write_keeps_a_backup_and_leaves_no_temp_file(
    log_path: Path, state: State, tmp_path: Path
) -> None:
    original = log_path.read_bytes()
    mode = 0o640
    log_path.chmod(mode)
    backend = XlsxBackend(log_path, backup_dir=tmp_path / "backups")
    assert run(backend, state).written

    backups = list((tmp_path / "backups").iterdir())
    assert len(backups) == 1
    assert backups[0].read_bytes() == original
    assert backups[0].suffix == ".xlsx"
    assert [p.name for p in log_path.parent.iterdir()] == ["log.xlsx"]
    assert log_path.stat().st_mode & 0o777 == mode
    assert log_path.read_bytes() != original


def test_backups_are_pruned(log_path: Path, state: State, tmp_path: Path) -> None:
    backend = XlsxBackend(log_path, backup_dir=tmp_path / "backups", keep_backups=2)
    for days in range(4):
        assert run(backend, state, TODAY + timedelta(days=days)).written
    assert len(list((tmp_path / "backups").iterdir())) == 2


def test_1904_workbook_reads_and_writes_dates_right(tmp_path: Path, state: State) -> None:
    path = make_log(tmp_path / "mac.xlsx", PROSPECTS, date1904=True)
    backend = XlsxBackend(path)
    snapshot = backend.read()
    assert snapshot.date1904
    assert [row[2] for row in snapshot.rows[1:]] == [p["Consultation date"] for p in PROSPECTS]

    report = run(backend, state)
    rows = backend.read().rows
    touch_col = report.plan.changes.layout.managed["next_touch"]
    for result in report.plan.rows:
        assert cell(rows, result.row, touch_col) == result.decision.next_touch
    # The serial itself is in the 1904 system: 2026-11-24 is 45253 there, 46715 in 1900.
    ann = report.plan.rows[0]
    assert ann.decision.next_touch is not None
    serial = (ann.decision.next_touch - date(1904, 1, 1)).days
    ref = f"{chr(ord('A') + touch_col)}{ann.row}"
    assert cells_by_ref(parts(path)[SHEET])[ref].findtext(f"{{{MAIN}}}v") == str(serial)


@pytest.mark.parametrize(
    ("typed", "order", "consulted"),
    [
        ("2026-12-03", DateOrder.DMY, date(2026, 12, 3)),
        ("2026-12-03", DateOrder.MDY, date(2026, 12, 3)),
        ("03/12/2026", DateOrder.DMY, date(2026, 12, 3)),
        ("03/12/2026", DateOrder.MDY, date(2026, 3, 12)),
        ("3.12.26", DateOrder.DMY, date(2026, 12, 3)),
        ("3 Dec 2026", DateOrder.MDY, date(2026, 12, 3)),
        ("Dec 3, 2026", DateOrder.DMY, date(2026, 12, 3)),
    ],
)
def test_dates_typed_as_text(
    tmp_path: Path, state: State, typed: str, order: DateOrder, consulted: date
) -> None:
    prospects: Sequence[dict[str, CellValue]] = [
        {"Name": "Di Fox", "Owner": "Ben Okafor", "Consultation date": typed}
    ]
    path = make_log(tmp_path / "typed.xlsx", prospects)
    report = run(XlsxBackend(path), state, cfg=config(order))
    decision = report.plan.rows[0].decision
    # Step 1 is on the consultation day (both test days are open days).
    assert decision.next_touch == consulted
    touch_col = report.plan.changes.layout.managed["next_touch"]
    assert cell(XlsxBackend(path).read().rows, 2, touch_col) == consulted
    # The staff cell keeps its text.
    assert cell(XlsxBackend(path).read().rows, 2, 2) == typed
