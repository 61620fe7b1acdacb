"""Issue 10: one bad cell never stops the clinic.

A whole cycle (read, decide, write, remember in SQLite, send the digests) runs over a log in
which many rows each hold one hostile cell: each such row is flagged `CHECK DATA` in its own
`Follow-up status` cell and listed for the manager, and every other row syncs and is sent.
"""

from __future__ import annotations

import json
import logging
import math
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import sheets_sync.core.rule
from sheets_sync.backends.gsheets.grid import grid_values as _grid_values
from sheets_sync.backends.memory import MemoryBackend
from sheets_sync.config import Config
from sheets_sync.core.values import CellValue
from sheets_sync.engine import send_digests, sync
from sheets_sync.mail.outbox import Outbox
from sheets_sync.state import State
from tests.test_engine import STAFF, make_config

TODAY = date(2026, 11, 24)  # a Tuesday
NOW = datetime(2026, 11, 24, 7, 30, tzinfo=ZoneInfo("Europe/London"))
HEADER: list[CellValue] = [
    "Name",
    "Owner",
    "Consultation date",
    "Last touch",
    "Touches",
    "Snooze until",
    "Value",
    "Plan",
    "Notes",
]
DUE = date(2026, 11, 20)  # step 2 of 7 due on the 22nd (a Sunday): overdue a day
HOSTILE: list[tuple[str, CellValue]] = [
    ("Consultation date", 24112026),
    ("Consultation date", "24112026"),
    ("Consultation date", math.nan),
    ("Consultation date", "0000-01-01 10:00"),
    ("Last touch", 1e308),
    ("Last touch", -5),
    ("Last touch", "99999-01-01"),
    ("Snooze until", math.inf),
    ("Snooze until", datetime(9999, 12, 31)),
    ("Snooze until", "\ud83d"),
    ("Touches", 10**30),
    ("Touches", 1e308),
]
QUIET: list[tuple[str, CellValue]] = [  # read on purpose: the row still syncs
    ("Value", 1e308),
    ("Value", "£1e400"),
    ("Value", math.nan),
    ("Notes", "\ud83d half an emoji \ufffe\uffff"),
    ("Name", "Zoë \ud83d"),
    ("Touches", -3),
    ("Touches", 2.5),
]


def row(column: str, value: CellValue, number: int) -> list[CellValue]:
    cells: dict[str, CellValue] = {
        "Name": f"Prospect {number}",
        "Owner": "Anna",
        "Consultation date": DUE,
        "Last touch": DUE,
        "Touches": 1,
        "Plan": "long_term" if column == "Touches" and value in (10**30, 1e308) else None,
        column: value,
    }
    return [cells.get(str(header)) for header in HEADER]


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path)


def test_each_bad_cell_flags_its_row_and_every_other_row_syncs_and_is_sent(
    config: Config, tmp_path: Path
) -> None:
    cases = HOSTILE + QUIET
    rows = [HEADER, *(row(column, value, n) for n, (column, value) in enumerate(cases, 2))]
    rows.append(["Ben's prospect", "Ben", DUE, DUE, 1])
    backend = MemoryBackend(rows, STAFF)

    with State(tmp_path / "state") as state:
        report = sync(backend, config, state, today=TODAY)
        sent = send_digests(
            report, config, state, Outbox(tmp_path / "outbox"), today=TODAY, now=NOW
        )

    assert report.written
    status_col = report.plan.changes.layout.managed["follow_up_status"]
    statuses = [backend.rows[n - 1][status_col] for n in range(2, len(rows) + 1)]
    assert all(str(status).startswith("CHECK DATA: ") for status in statuses[: len(HOSTILE)])
    assert statuses[len(HOSTILE) :] == ["OVERDUE 1d"] * (len(QUIET) + 1)
    assert sorted(sent.sent) == ["manager", "owner-anna", "owner-ben"]
    summary = (tmp_path / "outbox" / "2026-11-24-manager.eml").read_text(encoding="utf-8")
    for number in range(2, len(HOSTILE) + 2):
        assert f"Prospect {number}" in summary


def test_a_fault_nobody_foresaw_is_logged_without_patient_data(
    config: Config,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    money = sheets_sync.core.rule.read_money

    def faulty(value: CellValue) -> Decimal | None:
        if value == "£4,321":
            raise ZeroDivisionError("Ms Secret's quote £4,321")
        return money(value)

    monkeypatch.setattr(sheets_sync.core.rule, "read_money", faulty)
    rows = [HEADER, row("Value", "£4,321", 2), row("Value", "£500", 3)]
    rows[1][0] = "Ms Secret"
    backend = MemoryBackend(rows, STAFF)

    with State(tmp_path / "state") as state, caplog.at_level(logging.INFO):
        report = sync(backend, config, state, today=TODAY)

    status_col = report.plan.changes.layout.managed["follow_up_status"]
    assert backend.rows[1][status_col] == (
        'CHECK DATA: the "Value" cell (G2) could not be read (ZeroDivisionError); retype it,'
        " and tell whoever runs sheets-sync if this stays"
    )
    assert backend.rows[2][status_col] == "OVERDUE 1d"
    assert "row 2 (value) could not be read (ZeroDivisionError)" in caplog.text
    assert "Secret" not in caplog.text
    assert "4,321" not in caplog.text


def test_the_memory_log_hands_over_readable_text() -> None:
    backend = MemoryBackend([["Name \ud83d", "\ud83d\ude00", 3]])

    assert backend.read().rows == [["Name \ufffd", "😀", 3]]
    assert backend.rows == [["Name \ud83d", "\ud83d\ude00", 3]]  # the log itself is as typed


def test_google_sheets_hands_over_readable_text_and_numbers_no_date_can_hold() -> None:
    """Sheets' JSON escapes half an emoji as \\ud83d; a date format on 24112026 is no date."""
    answer = json.loads(
        """{"data": [{"rowData": [{"values": [
            {"effectiveValue": {"stringValue": "Ann \\ud83d"}},
            {"effectiveValue": {"stringValue": "\\ud83d\\ude00 \\uffff"}},
            {"effectiveValue": {"numberValue": 24112026},
             "userEnteredFormat": {"numberFormat": {"type": "DATE"}}},
            {"effectiveValue": {"numberValue": 1e308},
             "userEnteredFormat": {"numberFormat": {"type": "DATE_TIME"}}},
            {"effectiveValue": {"numberValue": -1e6},
             "userEnteredFormat": {"numberFormat": {"type": "DATE"}}},
            {"effectiveValue": {"numberValue": 46350},
             "userEnteredFormat": {"numberFormat": {"type": "DATE"}}}
        ]}]}]}"""
    )

    assert _grid_values(answer) == [
        ["Ann \ufffd", "😀 \ufffd", 24112026, 1e308, -1000000, date(2026, 11, 24)]
    ]
