"""`check`'s list: every problem in the log, each naming its row and cell."""

from __future__ import annotations

from datetime import date

from sheets_sync.core.check import log_problems, staff_problems
from sheets_sync.core.columns import find_layout
from sheets_sync.core.rule import Settings
from sheets_sync.core.sync import plan_sync
from sheets_sync.core.values import CellValue

HEADERS = ["Name", "Owner", "Consultation date", "Status", "Value"]


def problems(rows: list[list[CellValue]], settings: Settings) -> list[str]:
    grid: list[list[CellValue]] = [HEADERS, *rows]
    layout = find_layout(grid)
    plan = plan_sync(
        grid, layout, date(2026, 11, 24), settings, remembered={}, new_id=iter("abcdefgh").__next__
    )
    return log_problems(plan.rows, layout, {"anna": "anna@clinic.example"})


def test_a_clean_log_has_no_problems(settings: Settings) -> None:
    assert problems([["Ann Lee", "Anna", date(2026, 11, 2), None, 500]], settings) == []


def test_every_problem_names_its_row_and_cell(settings: Settings) -> None:
    found = problems(
        [
            ["Ann Lee", "Anna", "next tues", None, None],
            ["Bob Ray", "Anna", date(2026, 11, 2), "Thinking about it", "about 2k"],
            ["Cat Day", "Sam", date(2026, 11, 2), None, None],
            ["Dan Orr", "dan@", date(2026, 11, 2), None, None],
        ],
        settings,
    )
    assert found == [
        'Row 2, Consultation date (C2): consultation date "next tues" is not a date '
        "(write it like 2026-12-03)",
        'Row 3, Status (D3): "Thinking about it" is not a known status; read as active (if it '
        "is one of the clinic's own words, list it in the config under [status], like "
        'lost = ["Thinking about it"])',
        'Row 3, Value (E3): "about 2k" is not an amount; counted as blank',
        'Row 4, Owner (B4): "Sam" has no email address; add them to the Staff sheet or '
        "the config's [owners]",
        'Row 5, Owner (B5): "dan@" is not a valid email address',
    ]


def test_staff_rows_without_a_valid_address_are_reported_with_their_cell() -> None:
    staff: list[list[CellValue]] = [
        ["Name", "Email"],
        ["Anna", "anna@clinic.example"],
        ["Bob", "bob@"],
        ["Cat", "cat@@clinic.example"],
        ["Dev", None],
    ]
    assert staff_problems(staff) == [
        'Staff sheet row 3, Email (B3): "bob@" is not a valid email address',
        'Staff sheet row 4, Email (B4): "cat@@clinic.example" is not a valid email address',
        "Staff sheet row 5, Email (B5): no address for Dev",
    ]
