"""Tests every prospect-log backend must pass (the vdirsyncer `StorageTests` pattern).

A backend's test module subclasses `BackendContract` and overrides the `make_backend`
fixture: a factory taking the log's rows (index 0 is sheet row 1, the header) and the Staff
sheet's rows (or None), and returning a backend holding exactly those cells.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from pathlib import Path

import pytest

from sheets_sync.backends.base import Backend, Snapshot, SourceChanged
from sheets_sync.config import load_config
from sheets_sync.core.columns import Layout, find_layout
from sheets_sync.core.rule import Settings
from sheets_sync.core.sync import Changes, SyncPlan, plan_sync
from sheets_sync.core.values import CellValue

ROOT = Path(__file__).resolve().parents[2]
TODAY = date(2026, 11, 24)

Rows = Sequence[Sequence[CellValue]]
MakeBackend = Callable[[Rows, Rows | None], Backend]

HEADER: list[CellValue] = [
    "Name",
    "Owner",
    "Consultation date",
    "Status",
    "Last touch",
    "Value",
    "Notes",
]
# Text a spreadsheet program would like to turn into a formula or a number.
FORMULA_LIKE = ("=1+1", "+44 7700 900123", "@anna call back", "-5 off", "=SUM(A1:A2)")
ROWS: list[list[CellValue]] = [
    HEADER,
    ["Ann Lee", "Anna Price", date(2026, 11, 2), None, None, 1200, FORMULA_LIKE[0]],
    ["Bob Kay", "Ben Okafor", date(2026, 10, 1), "Booked", None, 300, FORMULA_LIKE[1]],
    [
        "Cy Dee",
        "cy.owner@riverside.example",
        date(2026, 11, 20),
        None,
        date(2026, 11, 20),
        None,
        FORMULA_LIKE[2],
    ],
    ["Di Fox", "Ben Okafor", "2026-12-03", None, None, 5000, FORMULA_LIKE[3]],
    ["Ed Gray", "Anna Price", date(2026, 1, 5), "Declined", None, None, None],
]
STAFF: list[list[CellValue]] = [
    ["Name", "Email"],
    ["Anna Price", "anna@riverside.example"],
    ["Ben Okafor", "ben@riverside.example"],
]
MANAGED_HEADERS = ("Next touch", "Next action", "Follow-up status", "Sync ID")


def settings() -> Settings:
    return load_config(ROOT / "config" / "sheets_sync.toml").rule_settings()


def counter_ids() -> Callable[[], str]:
    numbers: Iterator[int] = itertools.count(1)
    return lambda: f"id{next(numbers):04d}"


def plan(snapshot: Snapshot, remembered: SyncPlan | None = None) -> SyncPlan:
    """The sync plan for a snapshot, remembering what `remembered` wrote."""
    memory = {row.sync_id: row.remembered for row in remembered.rows} if remembered else {}
    return plan_sync(
        snapshot.rows,
        find_layout(snapshot.rows, merges=snapshot.merges, tables=snapshot.tables),
        TODAY,
        settings(),
        remembered=memory,
        new_id=counter_ids(),
        date1904=snapshot.date1904,
    )


def trimmed(rows: Rows) -> list[list[CellValue]]:
    """Rows without trailing blank cells and trailing blank rows, for comparing."""
    out = [list(row) for row in rows]
    for row in out:
        while row and row[-1] is None:
            row.pop()
    while out and not out[-1]:
        out.pop()
    return out


def cell(rows: Rows, row: int, col: int) -> CellValue:
    """The cell at sheet row `row` (1-based), column `col` (0-based); None when blank."""
    return rows[row - 1][col] if len(rows) >= row and len(rows[row - 1]) > col else None


class BackendContract:
    @pytest.fixture
    def make_backend(self) -> MakeBackend:
        raise NotImplementedError("a backend's tests override the make_backend fixture")

    def test_read_returns_the_rows(self, make_backend: MakeBackend) -> None:
        snapshot = make_backend(ROWS, STAFF).read()
        assert trimmed(snapshot.rows) == trimmed(ROWS)
        assert snapshot.staff is not None
        assert trimmed(snapshot.staff) == trimmed(STAFF)
        assert snapshot.version

    def test_read_without_staff_sheet(self, make_backend: MakeBackend) -> None:
        snapshot = make_backend(ROWS, None).read()
        assert snapshot.staff is None
        assert trimmed(snapshot.rows) == trimmed(ROWS)

    def test_reading_twice_gives_the_same_version(self, make_backend: MakeBackend) -> None:
        backend = make_backend(ROWS, STAFF)
        assert backend.read().version == backend.read().version

    def test_version_without_reading_is_the_version_a_read_gives(
        self, make_backend: MakeBackend
    ) -> None:
        backend = make_backend(ROWS, STAFF)
        assert backend.version() in (None, backend.read().version)

    def test_written_changes_read_back(self, make_backend: MakeBackend) -> None:
        backend = make_backend(ROWS, STAFF)
        before = backend.read()
        first = plan(before)
        assert first.changes
        written = backend.write(first.changes, before.version)

        after = backend.read()
        assert written == after.version  # the write names the version it left behind
        assert after.version != before.version
        assert backend.version() in (None, after.version)
        for (row, col), value in first.changes.cells.items():
            assert cell(after.rows, row, col) == value, (row, col)
        assert tuple(after.rows[0][len(HEADER) :]) == MANAGED_HEADERS
        # Staff cells are untouched.
        for number, staff_row in enumerate(ROWS, start=1):
            for col, staff_value in enumerate(staff_row):
                assert cell(after.rows, number, col) == staff_value, (number, col)

    def test_new_rows_get_a_sync_id(self, make_backend: MakeBackend) -> None:
        backend = make_backend(ROWS, STAFF)
        before = backend.read()
        first = plan(before)
        backend.write(first.changes, before.version)
        after = backend.read()
        sync_col = first.changes.layout.managed["sync_id"]
        ids = [cell(after.rows, n, sync_col) for n in range(2, len(ROWS) + 1)]
        assert all(isinstance(i, str) and i for i in ids)
        assert len(set(ids)) == len(ids)

    def test_a_duplicated_sync_id_gets_a_fresh_one_on_the_copy(
        self, make_backend: MakeBackend
    ) -> None:
        backend = make_backend(ROWS, STAFF)
        before = backend.read()
        first = plan(before)
        backend.write(first.changes, before.version)
        synced = trimmed(backend.read().rows)
        # A person copies row 2 (managed cells and all) to the bottom of the log.
        copied = make_backend([*synced, synced[1]], STAFF)
        snapshot = copied.read()
        second = plan(snapshot, first)
        sync_col = second.changes.layout.managed["sync_id"]
        copy_row = len(synced) + 1
        assert set(second.changes.cells) == {(copy_row, sync_col)}
        assert copied.write(second.changes, snapshot.version)
        rows = copied.read().rows
        assert cell(rows, 2, sync_col) == synced[1][sync_col]
        fresh = cell(rows, copy_row, sync_col)
        assert fresh
        assert fresh != synced[1][sync_col]

    def test_a_second_plan_has_nothing_to_write(self, make_backend: MakeBackend) -> None:
        backend = make_backend(ROWS, STAFF)
        before = backend.read()
        first = plan(before)
        backend.write(first.changes, before.version)

        again = backend.read()
        second = plan(again, first)
        assert not second.changes
        assert dict(second.changes.cells) == {}
        assert backend.write(second.changes, again.version) is None
        assert backend.read().version == again.version

    def test_a_stale_version_is_refused_and_changes_nothing(
        self, make_backend: MakeBackend
    ) -> None:
        backend = make_backend(ROWS, STAFF)
        stale = backend.read()
        first = plan(stale)
        backend.write(first.changes, stale.version)
        current = backend.read()

        wanted = {**first.changes.cells, (2, first.changes.layout.managed["next_action"]): "x"}
        changes = Changes(first.changes.layout, wanted, first.changes.headers, len(ROWS))
        with pytest.raises(SourceChanged):
            backend.write(changes, stale.version)
        after = backend.read()
        assert after.version == current.version
        assert trimmed(after.rows) == trimmed(current.rows)

    def test_dates_round_trip_as_dates(self, make_backend: MakeBackend) -> None:
        backend = make_backend(ROWS, STAFF)
        before = backend.read()
        consulted = cell(before.rows, 2, 2)
        assert type(consulted) is date
        assert consulted == date(2026, 11, 2)

        first = plan(before)
        backend.write(first.changes, before.version)
        after = backend.read()
        touch_col = first.changes.layout.managed["next_touch"]
        touches = [row for row in first.rows if row.decision.next_touch is not None]
        assert touches
        for result in touches:
            value = cell(after.rows, result.row, touch_col)
            assert type(value) is date
            assert value == result.decision.next_touch

    def test_formula_like_text_round_trips_as_text(self, make_backend: MakeBackend) -> None:
        backend = make_backend(ROWS, STAFF)
        before = backend.read()
        notes = [cell(before.rows, n, HEADER.index("Notes")) for n in range(2, 6)]
        assert notes == list(FORMULA_LIKE[:4])

        layout = plan(before).changes.layout
        action = layout.managed["next_action"]
        writes = {(n, action): text for n, text in enumerate(FORMULA_LIKE, start=2)}
        headers = {col: str(text) for col, text in enumerate([*HEADER, *MANAGED_HEADERS])}
        changes = Changes(layout, {**writes, **_header_writes(layout)}, headers, len(ROWS))
        assert backend.write(changes, before.version)
        after = backend.read()
        for (row, col), text in writes.items():
            assert cell(after.rows, row, col) == text


def _header_writes(layout: Layout) -> dict[tuple[int, int], str]:
    return {(layout.header_row, col): text for col, text in layout.new_headers.items()}
