"""The demo's sample workbook: believable, readable by LibreOffice, and showing every flag."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from sheets_sync.config import load_config
from sheets_sync.core.columns import STAFF_COLUMNS
from sheets_sync.core.rule import Flag, Prospect, decide
from tests.libreoffice import read_all_sheets

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_workbook.xlsx"
SCRIPT = ROOT / "scripts" / "make_sample_workbook.py"
DEMO_DAY = date(2026, 11, 24)  # the sample's own day (scripts/make_sample_workbook.py TODAY)
STAFF = {"Anna Price", "Ben Okafor", "Chloe Martin", "Dev Patel"}
HEADERS = [
    "Name",
    "Owner",
    "Consultation date",
    "Procedure",
    "Phone",
    "Email",
    "Value",
    "Deposit (20%)",
    "Status",
    "Last touch",
    "Touches",
    "Snooze until",
    "Plan",
    "Notes",
]
# The sample uses each field's default header.
FIELD_OF = {headers[0]: field for field, headers in STAFF_COLUMNS.items()}


def _sheet_rows(path: Path, sheet: str, *, data_only: bool = False) -> list[list[Any]]:
    workbook = openpyxl.load_workbook(path, data_only=data_only)
    try:
        return [list(row) for row in workbook[sheet].iter_rows(values_only=True)]
    finally:
        workbook.close()


def _prospects(path: Path) -> list[dict[str, Any]]:
    header, *rows = _sheet_rows(path, "Prospects")
    return [dict(zip(header, row, strict=True)) for row in rows]


def test_sample_is_a_believable_log() -> None:
    prospects = _prospects(SAMPLE)
    assert list(prospects[0]) == HEADERS
    assert len(prospects) >= 60
    owners = Counter(prospect["Owner"] for prospect in prospects)
    assert set(owners) >= STAFF
    assert all(owners[name] >= 10 for name in STAFF)
    assert any("@" in owner for owner in owners)
    assert all(
        prospect["Name"] and prospect["Phone"].startswith("07700 900") for prospect in prospects
    )

    staff_header, *staff = _sheet_rows(SAMPLE, "Staff")
    assert staff_header == ["Name", "Email"]
    assert {name for name, _ in staff} == STAFF
    assert all(email.endswith("@riverside-aesthetics.example") for _, email in staff)


def test_deposit_formulas_carry_their_cached_values() -> None:
    formulas = _sheet_rows(SAMPLE, "Prospects")
    cached = _sheet_rows(SAMPLE, "Prospects", data_only=True)
    column = HEADERS.index("Deposit (20%)")
    value = HEADERS.index("Value")
    for row, (formula, computed) in enumerate(zip(formulas[1:], cached[1:], strict=True), start=2):
        assert formula[column] == f"=G{row}*0.2"
        assert computed[column] == pytest.approx(computed[value] * 0.2)


def test_sample_is_what_the_script_writes(tmp_path: Path) -> None:
    # Compared cell by cell rather than byte by byte, so an xlsxwriter upgrade is no failure.
    rebuilt = tmp_path / "sample.xlsx"
    subprocess.run([sys.executable, str(SCRIPT), str(rebuilt)], check=True, capture_output=True)
    for sheet in ("Prospects", "Staff"):
        assert _sheet_rows(rebuilt, sheet) == _sheet_rows(SAMPLE, sheet), (
            "sample_workbook.xlsx is out of date: run scripts/make_sample_workbook.py"
        )


@pytest.mark.libreoffice
@pytest.mark.usefixtures("soffice")
def test_libreoffice_opens_the_sample(tmp_path: Path) -> None:
    sheets = read_all_sheets(SAMPLE, tmp_path)

    assert {"Prospects", "Staff"} <= set(sheets)
    header, *rows = sheets["Prospects"]
    assert header[: len(HEADERS)] == HEADERS
    assert [row[0] for row in rows] == [prospect["Name"] for prospect in _prospects(SAMPLE)]
    assert {row[0] for row in sheets["Staff"][1:]} == STAFF


def test_the_demo_day_shows_every_flag() -> None:
    settings = load_config(ROOT / "config" / "sheets_sync.toml").rule_settings()
    decisions = [
        decide(
            Prospect(
                row=number,
                cells={
                    FIELD_OF[header]: cell
                    for header, cell in prospect.items()
                    if header in FIELD_OF
                },
            ),
            DEMO_DAY,
            settings,
        )
        for number, prospect in enumerate(_prospects(SAMPLE), start=2)
    ]

    flags = Counter(decision.flag for decision in decisions)
    assert all(flags[flag] >= 3 for flag in Flag), flags
    assert flags[Flag.DUE_TODAY] >= 5
    closed = {decision.status_text for decision in decisions if decision.flag is Flag.CLOSED}
    assert closed == {f"CLOSED: {kind}" for kind in ("won", "lost", "opted out", "deceased")}
