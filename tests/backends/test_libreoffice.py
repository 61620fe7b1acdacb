"""LibreOffice as an independent reader of what the Excel backend writes.

A real office suite opens the synced workbook and sees every staff value as it saw it before
the sync, plus the managed values the plan wrote; a workbook LibreOffice itself saved is
still read, and synced, by our backend.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from sheets_sync.backends.xlsx import XlsxBackend
from sheets_sync.config import load_config
from sheets_sync.core.values import CellValue
from sheets_sync.engine import CycleReport, sync
from sheets_sync.state import State
from tests.backends.contract import MANAGED_HEADERS, ROOT, STAFF, TODAY, counter_ids
from tests.libreoffice import convert, read_all_sheets
from tests.workbooks import make_log

pytestmark = [pytest.mark.libreoffice, pytest.mark.usefixtures("soffice")]

SAMPLE = ROOT / "sample_workbook.xlsx"
PROSPECTS: list[dict[str, CellValue]] = [
    {
        "Name": "Ann Lee",
        "Owner": "Anna Price",
        "Consultation date": date(2026, 11, 2),
        "Value": 1200,
        "Notes": "=1+1",
    },
    {
        "Name": "Bob Kay",
        "Owner": "Ben Okafor",
        "Consultation date": date(2026, 10, 1),
        "Status": "Booked",
        "Value": 300,
        "Notes": "+44 7700 900123",
    },
    {
        "Name": "Cy Dee",
        "Owner": "anna@riverside.example",
        "Consultation date": "2026-12-03",
        "Value": 800,
    },
    {"Name": "Di Fox", "Owner": "Ben Okafor", "Consultation date": date(2026, 11, 24)},
]


def shown(day: date) -> str:
    """A date as the `ddd d mmm yyyy` format shows it: `Tue 24 Nov 2026`."""
    return f"{day:%a} {day.day} {day:%b %Y}"


def workbook(kind: str, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "sample":
        return Path(shutil.copy(SAMPLE, folder / "clinic_log.xlsx"))
    return make_log(
        folder / "log.xlsx",
        PROSPECTS,
        table=kind == "table",
        autofilter=kind == "autofilter",
        extras=True,
        staff=[(str(name), str(email)) for name, email in STAFF[1:]],
    )


def run(path: Path, state: State) -> CycleReport:
    config = load_config(ROOT / "config" / "sheets_sync.toml")
    return sync(XlsxBackend(path), config, state, today=TODAY, new_id=counter_ids())


@pytest.mark.parametrize("kind", ["table", "autofilter", "sample"])
def test_libreoffice_sees_staff_values_unchanged_and_the_managed_values(
    tmp_path: Path, kind: str
) -> None:
    path = workbook(kind, tmp_path / "share")
    before = read_all_sheets(path, tmp_path, as_shown=True)
    state = State(tmp_path / "state")
    report = run(path, state)
    assert report.written
    after = read_all_sheets(path, tmp_path, as_shown=True)

    assert set(after) == set(before)
    for name in before:
        if name != "Prospects":
            assert after[name] == before[name], name
    layout = report.plan.changes.layout
    managed = set(layout.managed.values())
    old, new = before["Prospects"], after["Prospects"]
    assert len(new) == len(old)
    for number, (old_row, new_row) in enumerate(zip(old, new, strict=True), start=1):
        for col, value in enumerate(old_row):
            if col not in managed:
                assert new_row[col] == value, (number, col)

    header = new[layout.header_row - 1]
    assert [header[layout.managed[field]] for field in layout.managed] == list(MANAGED_HEADERS)
    for result in report.plan.rows:
        row = new[result.row - 1]
        decision = result.decision
        touch = decision.next_touch
        assert row[layout.managed["next_touch"]] == (shown(touch) if touch else "")
        assert row[layout.managed["next_action"]] == decision.next_action
        assert row[layout.managed["follow_up_status"]] == decision.status_text
        assert row[layout.managed["sync_id"]] == result.sync_id


@pytest.mark.parametrize("kind", ["table", "autofilter", "sample"])
def test_a_workbook_saved_by_libreoffice_is_still_read_and_synced(
    tmp_path: Path, kind: str
) -> None:
    path = workbook(kind, tmp_path / "share")
    state = State(tmp_path / "state")
    first = run(path, state)
    ours = XlsxBackend(path).read()

    resaved = convert(path, "xlsx", tmp_path / "resaved")
    theirs = XlsxBackend(resaved).read()
    width = max(first.plan.changes.layout.managed.values()) + 1
    for number, row in enumerate(ours.rows, start=1):
        assert list(theirs.rows[number - 1][:width]) == list(row[:width]), number

    # Nothing to change in the file LibreOffice wrote, and a write there keeps it readable.
    again = run(resaved, state)
    assert again.cells_changed == 0
    assert XlsxBackend(resaved).read().rows == theirs.rows
    assert not run(resaved, state).written


def test_libreoffice_prints_the_synced_workbook(tmp_path: Path) -> None:
    path = workbook("table", tmp_path / "share")
    assert run(path, State(tmp_path / "state")).written
    pdf = convert(path, "pdf", tmp_path / "pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
    assert pdf.stat().st_size > 10_000
