"""`sheets-sync history` (SPEC §8): the touch log of one prospect or all, printed, as CSV or
as a workbook, with each prospect's row and name from the log; also in minimal mail mode."""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from sheets_sync.cli import main
from sheets_sync.core.touches import Touch
from sheets_sync.state import State
from tests.workbooks import make_log

REPO = Path(__file__).resolve().parents[1]
MONDAY, TUESDAY = "2026-11-23", "2026-11-24"


@pytest.fixture
def log(tmp_path: Path) -> Path:
    """A log synced on Monday, then edited by staff: Ann's call on Monday, Bob booked."""
    path = make_log(
        tmp_path / "log.xlsx",
        [
            {
                "Name": "Ann Ames",
                "Owner": "Anna",
                "Consultation date": date(2026, 11, 2),
                "Status": "Open",
                "Last touch": date(2026, 11, 4),
                "Touches": 2,
            },
            {
                "Name": "Bob Brown",
                "Owner": "Ben",
                "Consultation date": date(2026, 11, 9),
                "Status": "Open",
                "Touches": 0,
            },
        ],
    )
    (tmp_path / "sheets_sync.toml").write_text(
        f"""
[source]
kind = "xlsx"
path = "log.xlsx"

[plans]
file = "{(REPO / "sheets_sync" / "plans.toml").as_posix()}"

[mail]
outbox = "outbox"
from = "Riverside Aesthetics <followups@riverside.example>"
detail = "minimal"

[daemon]
state_dir = "state"
""",
        encoding="utf-8",
    )
    config = str(tmp_path / "sheets_sync.toml")
    assert main(["once", "--config", config, "--today", MONDAY, "--no-digest"]) == 0
    workbook = openpyxl.load_workbook(path)
    sheet = workbook.active
    sheet["E2"] = datetime(2026, 11, 23)  # Last touch
    sheet["D3"] = "Booked"  # Status
    workbook.save(path)
    assert main(["once", "--config", config, "--today", TUESDAY, "--no-digest"]) == 0
    return path


def history(capsys: pytest.CaptureFixture[str], tmp_path: Path, *argv: str) -> list[str]:
    config = str(tmp_path / "sheets_sync.toml")
    capsys.readouterr()
    assert main(["history", "--config", config, "--today", TUESDAY, *argv]) == 0
    return capsys.readouterr().out.splitlines()


def sync_id(log: Path, row: int) -> str:
    sheet = openpyxl.load_workbook(log).active
    column = next(cell.column for cell in sheet[1] if cell.value == "Sync ID")
    value = sheet.cell(row, column).value
    assert isinstance(value, str)
    return value


def test_history_prints_every_prospects_touches_and_changes(
    log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = history(capsys, tmp_path)
    assert lines[0].split() == ["Day", "Row", "Name", "Kind", "Channel", "Value", "Note", "Source"]
    assert lines[1].split() == [
        "Mon",
        "23",
        "Nov",
        "2026",
        "2",
        "Ann",
        "Ames",
        "touch",
        "Email",
        "edited",
    ]
    assert lines[2].split() == [
        "Tue",
        "24",
        "Nov",
        "2026",
        "3",
        "Bob",
        "Brown",
        "status",
        "won",
        "edited",
    ]
    assert len(lines) == 3


@pytest.mark.parametrize("who", ["3", "bob  brown", "SYNC_ID"])
def test_history_of_one_prospect_by_row_name_or_sync_id(
    who: str, log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = history(capsys, tmp_path, sync_id(log, 3) if who == "SYNC_ID" else who)
    assert [line.split()[5:8] for line in lines[1:]] == [["Bob", "Brown", "status"]]


def test_history_since_a_day_and_of_a_prospect_nobody_is_named(
    log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert [line.split()[7] for line in history(capsys, tmp_path, "--since", TUESDAY)[1:]] == [
        "status"
    ]
    config = str(tmp_path / "sheets_sync.toml")
    assert main(["history", "--config", config, "--today", TUESDAY, "Zed Zulu"]) == 1
    assert "no prospect is named 'Zed Zulu'" in capsys.readouterr().err


def test_history_writes_csv_with_notes_that_cannot_run_as_formulas(
    log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ann = sync_id(log, 2)
    with State(tmp_path / "state") as state:
        state.record_touches(
            str(log),
            [Touch(ann, "touch", date(2026, 11, 24), date(2026, 11, 24), "typed", "Call", "=1+1")],
        )
    out = tmp_path / "touches.csv"
    assert history(capsys, tmp_path, "--csv", str(out)) == [
        f"Wrote 3 entries of the touch log to {out}."
    ]
    with out.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert [(row["Day"], row["Row"], row["Name"], row["Kind"]) for row in rows] == [
        ("2026-11-23", "2", "Ann Ames", "touch"),
        ("2026-11-24", "3", "Bob Brown", "status"),
        ("2026-11-24", "2", "Ann Ames", "touch"),
    ]
    assert rows[2]["Note"] == "'=1+1"
    assert rows[0]["Sync ID"] == ann


def test_history_writes_a_workbook(
    log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ann = sync_id(log, 2)
    with State(tmp_path / "state") as state:
        state.record_touches(
            str(log),
            [Touch(ann, "touch", date(2026, 11, 24), date(2026, 11, 24), "typed", "Call", "=1+1")],
        )
    out = tmp_path / "touches.xlsx"
    history(capsys, tmp_path, "Ann Ames", "--xlsx", str(out))
    sheet = openpyxl.load_workbook(out)["Touch log"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:8] == ("Day", "Row", "Name", "Kind", "Channel", "Value", "Note", "Source")
    assert rows[1][:5] == (datetime(2026, 11, 23), 2, "Ann Ames", "touch", "Email")
    assert rows[2][6] == "=1+1"
    assert sheet.cell(3, 7).data_type == "s"  # text, not a formula
    assert len(rows) == 3
