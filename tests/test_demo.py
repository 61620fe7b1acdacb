"""`make demo` on any day (issue 13): the sample log is written for the day the demo runs,
every flag shows, and the colours (rules keyed on TODAY(), evaluated here for that day) agree
with the words in every row.

The demo's steps are run as the Makefile runs them, for three fixed days standing in for "the
real day": a Monday in winter, a Wednesday in summer, and a Friday before the Christmas
holidays, whose follow-ups roll over closed days.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from sheets_sync.backends.xlsx.styles import PALETTE
from sheets_sync.cli import main
from sheets_sync.core.rule import Flag

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "make_sample_workbook.py"
DAYS = [date(2026, 11, 30), date(2027, 6, 16), date(2027, 12, 24)]


def run_demo(day: date, folder: Path) -> Path:
    """The Makefile's demo steps for `day`, in `folder`; the synced workbook."""
    config = folder / "config"
    shutil.copytree(ROOT / "config", config)
    workbook = folder / "demo" / "clinic_log.xlsx"
    workbook.parent.mkdir()
    subprocess.run(
        [sys.executable, str(SCRIPT), "--today", day.isoformat(), str(workbook)],
        check=True,
        capture_output=True,
    )
    code = main(["once", "--config", str(config / "sheets_sync.toml"), "--today", day.isoformat()])
    assert code == 0
    return workbook


class _Cell:
    """A cell's value as a conditional-format formula compares it: numbers with numbers, text
    with text (ignoring case), and anything else as unequal."""

    def __init__(self, value: Any) -> None:
        if isinstance(value, datetime):
            value = (value - datetime(1899, 12, 30)).days  # the serial number Excel compares
        self.value = "" if value is None else value

    def _both(self, other: Any) -> tuple[Any, Any] | None:
        other = other.value if isinstance(other, _Cell) else other
        if isinstance(self.value, str) and isinstance(other, str):
            return self.value.casefold(), other.casefold()
        if isinstance(self.value, int | float) and isinstance(other, int | float):
            return self.value, other
        return None

    def __eq__(self, other: object) -> bool:
        both = self._both(other)
        return both is not None and both[0] == both[1]

    def __lt__(self, other: Any) -> bool:
        both = self._both(other)
        return both is not None and both[0] < both[1]

    def __gt__(self, other: Any) -> bool:
        both = self._both(other)
        return both is not None and both[0] > both[1]

    __hash__ = None  # type: ignore[assignment]


def holds(formula: str, row: dict[str, Any], first_row: int, today: date) -> bool:
    """Whether a colour rule's formula (LEFT, AND, ISNUMBER, TODAY, =, <, >, written for
    `first_row`) is true in `row` (cell values by column letter) on `today`."""
    python = re.sub(rf"\$([A-Z]+){first_row}\b", lambda match: f"cell({match.group(1)!r})", formula)
    for excel, ours in (("TODAY()", "today"), ("LEFT(", "left("), ("AND(", "both(")):
        python = python.replace(excel, ours)
    python = re.sub(r"(?<![<>])=", "==", python.replace("ISNUMBER(", "isnumber("))
    names = {
        "cell": lambda column: _Cell(row.get(column)),
        "today": (today - date(1899, 12, 30)).days,
        "left": lambda cell, count: _Cell(str(cell.value)[:count]),
        "both": lambda *conditions: all(conditions),
        "isnumber": lambda cell: isinstance(cell.value, int | float),
    }
    return bool(eval(python, {"__builtins__": {}}, names))


def colours_and_words(workbook: Path, today: date) -> list[tuple[int, str, str | None]]:
    """Each prospect row's Follow-up status and the fill its colour rules give it on `today`."""
    sheet = openpyxl.load_workbook(workbook)["Prospects"]
    header = [cell.value for cell in sheet[1]]
    status_column = header.index("Follow-up status")
    [ours] = list(sheet.conditional_formatting)
    first_row = min(cell_range.min_row for cell_range in ours.sqref.ranges)
    rules = sorted(ours.rules, key=lambda rule: rule.priority)
    seen = []
    for cells in sheet.iter_rows(min_row=2):
        row = {cell.column_letter: cell.value for cell in cells}
        fill = next(
            (
                rule.dxf.fill.bgColor.rgb
                for rule in rules
                if holds(rule.formula[0], row, first_row, today)
            ),
            None,
        )
        seen.append((cells[0].row, cells[status_column].value, fill))
    return seen


def flag_of(status: str) -> Flag:
    return next(flag for flag in Flag if status.startswith(flag.value))


@pytest.mark.parametrize("day", DAYS, ids=str)
def test_the_demo_shows_every_flag_in_colours_that_agree_with_its_words(
    day: date, tmp_path: Path
) -> None:
    seen = colours_and_words(run_demo(day, tmp_path), day)

    assert {flag_of(status) for _, status, _ in seen} == set(Flag)
    disagreeing = [
        (row, status, fill) for row, status, fill in seen if fill != PALETTE[flag_of(status)].fill
    ]
    assert not disagreeing


@pytest.mark.parametrize("day", DAYS, ids=str)
def test_the_demo_sends_digests_for_its_day(day: date, tmp_path: Path) -> None:
    run_demo(day, tmp_path)

    subjects = [
        line
        for path in (tmp_path / "demo" / "outbox").glob("*.eml")
        for line in path.read_text().splitlines()
        if line.startswith("Subject: Follow-ups for ")
    ]
    assert len(subjects) == 4  # one per member of staff
    assert all(f" {day.day} " in subject for subject in subjects)


def test_make_demo_runs_on_this_computer_s_date_for_the_log_and_the_sync() -> None:
    """The sample and the sync share one day: the computer's, as the colours' TODAY() is."""
    said = subprocess.run(
        ["make", "-n", "demo"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    days = {date.fromisoformat(day) for day in re.findall(r"--today (\S+)", said)}

    [day] = days
    assert abs((day - date.today()).days) <= 1  # make and this test may straddle midnight
    assert "make_sample_workbook.py --today" in said
    assert "sheets-sync once --config config/sheets_sync.toml --today" in said
