"""A Google log sorted without its sheets-sync columns: through a basic filter, a Google Sheets
table or "Sort range" over the staff columns alone. The staff cells move, the managed cells
and the Sync ID stay; no value may land on the wrong prospect (SPEC §7)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from sheets_sync.config import Config, load_config
from sheets_sync.core.rule import Prospect, decide
from sheets_sync.engine import sync
from sheets_sync.state import State
from tests.backends.gsheets_helpers import backend
from tests.sheets_fake import FakeSheets

ROOT = Path(__file__).resolve().parents[2]
BOOK, LOG = "1SortsSortsSortsSortsSortsSortsSortsSorts00", "Prospects"
TODAY = date(2026, 11, 24)  # a Tuesday
EPOCH = date(1899, 12, 30)
HEADER = ["Name", "Owner", "Consultation date", "Last touch", "Notes"]
STAFF_COLS = (0, len(HEADER) - 1)  # A:E
MANAGED = slice(len(HEADER), len(HEADER) + 3)
SYNC_ID = len(HEADER) + 3
NAMES = ["Ann Lee", "Bob Ray", "Cat Day", "Dan Fox", "Eve Orr"]


def config() -> Config:
    return load_config(ROOT / "config" / "sheets_sync.toml")


def add_log(fake: FakeSheets) -> None:
    """Five prospects consulted on different days, so each has follow-ups of its own."""
    rows: list[list[object]] = [HEADER]
    for n, name in enumerate(NAMES):
        rows.append([name, "Anna", TODAY - timedelta(days=3 + 9 * n), None, None])
    fake.add_spreadsheet(BOOK, {LOG: rows, "Staff": [["Name", "Email"], ["Anna", "a@x.example"]]})


def shown(value: object) -> object:
    if value is None:
        return ""
    return (value - EPOCH).days if isinstance(value, date) else value


def rule_cells(row: list[object], config: Config) -> list[object]:
    """What the rule shows in Next touch, Next action, Follow-up status for a row as read."""
    cells = dict(zip(("name", "owner", "consultation_date"), row[:3], strict=True))
    cells["consultation_date"] = EPOCH + timedelta(days=int(str(row[2])))
    decision = decide(Prospect(0, cells), TODAY, config.rule_settings())
    return [shown(decision.next_touch), decision.next_action, decision.status_text]


def ids_by_name(fake: FakeSheets) -> dict[object, object]:
    return {row[0]: row[SYNC_ID] for row in fake.values(BOOK, LOG)[1:]}


def assert_each_row_is_its_prospects(fake: FakeSheets, ids: dict[object, object]) -> None:
    for row in fake.values(BOOK, LOG)[1:]:
        assert row[MANAGED] == rule_cells(row, config()), f"row of {row[0]}: {row}"
        assert row[SYNC_ID] == ids[row[0]], f"{row[0]} holds another prospect's Sync ID"


def synced_yesterday(fake: FakeSheets, key: Path, state: State) -> dict[object, object]:
    add_log(fake)
    sync(backend(fake, key, BOOK), config(), state, today=TODAY - timedelta(days=1))
    return ids_by_name(fake)


def test_a_sort_of_the_staff_columns_during_the_write_leaves_no_value_on_the_wrong_prospect(
    fake: FakeSheets, key: Path, state: State
) -> None:
    ids = synced_yesterday(fake, key, state)

    def sort_before_the_write(method: str, path: str) -> None:
        if path.endswith("/values:batchUpdate"):
            fake.before_request = None
            fake.sort_range(BOOK, LOG, columns=STAFF_COLS, by="Name", reverse=True)

    fake.before_request = sort_before_the_write
    report = sync(backend(fake, key, BOOK), config(), state, today=TODAY)

    assert report.written
    assert [row[0] for row in fake.values(BOOK, LOG)[1:]] == sorted(NAMES, reverse=True)
    assert_each_row_is_its_prospects(fake, ids)


def test_a_sort_of_the_staff_columns_between_cycles_gives_each_prospect_its_id_again(
    fake: FakeSheets, key: Path, state: State, caplog: pytest.LogCaptureFixture
) -> None:
    ids = synced_yesterday(fake, key, state)
    fake.sort_range(BOOK, LOG, columns=STAFF_COLS, by="Name", reverse=True)

    report = sync(backend(fake, key, BOOK), config(), state, today=TODAY)

    assert_each_row_is_its_prospects(fake, ids)
    assert report.plan.matched_again == (2, 3, 5, 6)  # Cat Day stays in row 4
    assert all(row.decision.flag.name != "CHECK_DATA" for row in report.plan.rows)
    assert "sorted without the sheets-sync columns (rows 2, 3, 5 and 6)" in caplog.text
    assert "Ann Lee" not in caplog.text  # row numbers only at the default level
    # The history moved with the IDs: the next cycle finds every prospect at home.
    again = sync(backend(fake, key, BOOK), config(), state, today=TODAY)
    assert again.plan.resorted == ()
    assert not again.plan.changes


def test_a_basic_filter_over_the_staff_columns_is_widened_over_the_managed_columns(
    fake: FakeSheets, key: Path, state: State
) -> None:
    add_log(fake)
    fake.set_basic_filter(BOOK, LOG, columns=STAFF_COLS)
    sync(backend(fake, key, BOOK), config(), state, today=TODAY)
    ids = ids_by_name(fake)

    found = fake.basic_filter(BOOK, LOG)
    assert found is not None
    assert found["range"]["startColumnIndex"] == 0
    assert found["range"]["endColumnIndex"] == SYNC_ID + 1
    fake.sort_filter(BOOK, LOG, "Name", reverse=True)  # now moves whole rows of the log
    assert_each_row_is_its_prospects(fake, ids)


def test_a_table_over_the_staff_columns_is_widened_over_the_managed_columns(
    fake: FakeSheets, key: Path, state: State
) -> None:
    add_log(fake)
    fake.add_table(BOOK, LOG, "Prospects", columns=STAFF_COLS, rows=(1, len(NAMES) + 1))
    report = sync(backend(fake, key, BOOK), config(), state, today=TODAY)
    ids = ids_by_name(fake)

    assert report.plan.changes.layout.table is not None
    (table,) = fake.tables(BOOK, LOG)
    assert table["range"]["endColumnIndex"] == SYNC_ID + 1
    fake.sort_table(BOOK, LOG, "Prospects", "Name", reverse=True)
    assert_each_row_is_its_prospects(fake, ids)
