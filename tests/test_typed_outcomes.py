"""Outcomes typed into the sheet, carried out with the managed cells (SPEC §8), on the memory
and xlsx backends; each safety promise with the fault it is about.

`Clinic.cycle` does what the engine does around a write: the plan's outcomes are recorded
(and its touches logged) before the write, what was written is remembered after it.
"""

from __future__ import annotations

import copy
import itertools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as settings_for_hypothesis
from hypothesis import strategies as st

from sheets_sync.backends.base import Backend, SourceChanged
from sheets_sync.backends.memory import MemoryBackend
from sheets_sync.backends.xlsx import XlsxBackend
from sheets_sync.config import ConfigError, parse_config
from sheets_sync.core.columns import find_layout
from sheets_sync.core.outcomes import NO_OWN_WORDS, Outcome, OutcomeWords, read_outcome
from sheets_sync.core.rule import Flag, Settings
from sheets_sync.core.sync import OUTCOME_CELLS, OUTCOME_FIELDS, Changes, SyncPlan, plan_sync
from sheets_sync.core.touches import Touch
from sheets_sync.core.values import CellValue, DateOrder, StatusWords, read_date, read_text
from sheets_sync.state import State
from tests.backends.gsheets_helpers import backend, calls
from tests.backends.other_editor import save_edited
from tests.core.test_sync import grids
from tests.sheets_fake import FakeSheets
from tests.workbooks import make_log

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"
SOURCE = "the log"
MONDAY = date(2026, 11, 30)
HEADERS = ["Name", "Owner", "Consultation date", "Last touch", "Touches", "Status", "Notes"]
ANN = ["Ann Lee", "Chloe", date(2026, 11, 2), date(2026, 11, 9), 3, None, "keen"]
BOB = ["Bob Ray", "Chloe", date(2026, 11, 16), None, None, None, None]
ANN_ROW = 2
SHEET = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcd"


def settings() -> Settings:
    return parse_config(
        {"source": {"kind": "xlsx", "path": "unused.xlsx"}, "clinic": {"holidays": []}},
        base_dir=CONFIG_DIR,
    ).rule_settings()


class Log:
    """A prospect log staff work in: they type into cells, keep copies and put them back."""

    backend: Backend

    def type(self, row: int, col: int, value: str | int) -> None:
        raise NotImplementedError

    def keep(self) -> object:
        raise NotImplementedError

    def restore(self, kept: object) -> None:
        raise NotImplementedError


class MemoryLog(Log):
    def __init__(self, headers: list[str], rows: list[list[CellValue]]) -> None:
        self.memory = MemoryBackend([headers, *rows])
        self.backend = self.memory

    def type(self, row: int, col: int, value: str | int) -> None:
        self.memory.edit(row, col, value)

    def keep(self) -> object:
        return copy.deepcopy(self.memory.rows)

    def restore(self, kept: object) -> None:
        assert isinstance(kept, list)
        self.memory.rows = copy.deepcopy(kept)
        self.memory.generation += 1


class XlsxLog(Log):
    """A workbook written as Excel writes one; staff save it from another program."""

    def __init__(self, folder: Path, headers: list[str], rows: list[list[CellValue]]) -> None:
        prospects = [dict(zip(headers, row, strict=True)) for row in rows]
        self.path = make_log(folder / "log.xlsx", prospects)
        self.backend = XlsxBackend(self.path, backup_dir=folder / "backups")

    def type(self, row: int, col: int, value: str | int) -> None:
        save_edited(self.path, self.path.read_bytes(), {f"{chr(65 + col)}{row}": value})

    def keep(self) -> object:
        return self.path.read_bytes()

    def restore(self, kept: object) -> None:
        assert isinstance(kept, bytes)
        aside = self.path.with_name("restoring.tmp")
        aside.write_bytes(kept)
        os.replace(aside, self.path)


@dataclass
class Clinic:
    log: Log
    state: State
    words: OutcomeWords = NO_OWN_WORDS
    touch_log: list[Touch] = field(default_factory=list)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def plan(self, today: date) -> tuple[SyncPlan, str]:
        snapshot = self.log.backend.read()
        plan = plan_sync(
            snapshot.rows,
            find_layout(snapshot.rows, tables=snapshot.tables),
            today,
            settings(),
            remembered=self.state.remembered(SOURCE),
            writing=self.state.writing(SOURCE),
            written_before=self.state.written_before(SOURCE),
            identities=self.state.identities(SOURCE),
            new_id=lambda: f"{next(self.ids):08x}",
            date1904=snapshot.date1904,
            outcome_words=self.words,
            carried_out=self.state.carried_out(SOURCE),
        )
        return plan, snapshot.version

    def cycle(
        self,
        today: date,
        *,
        before_write: Callable[[], None] = lambda: None,
        crash_after_write: bool = False,
    ) -> SyncPlan:
        plan, version = self.plan(today)
        remembered = [(row.sync_id, row.remembered) for row in plan.rows]
        self.state.remember_writing(SOURCE, remembered)
        self.state.record_outcomes(SOURCE, plan.outcomes, plan.touches)
        self.touch_log.extend(plan.touches)  # the engine logs them with the record
        before_write()
        self.log.backend.write(plan.changes, version)
        if not crash_after_write:
            self.state.remember(SOURCE, remembered, plan.identities)
        return plan

    def cell(self, row: int, header: str) -> CellValue:
        rows = self.log.backend.read().rows
        col = [str(cell) for cell in rows[0]].index(header)
        return rows[row - 1][col] if col < len(rows[row - 1]) else None

    def column(self, header: str) -> int:
        return [str(cell) for cell in self.log.backend.read().rows[0]].index(header)


def counter() -> Callable[[], str]:
    made = itertools.count(1)
    return lambda: f"{next(made):08x}"


def day_in(value: CellValue) -> date | None:
    return read_date(value, settings().date_order)


def count_in(value: CellValue) -> int:
    assert isinstance(value, int | float)
    return int(value)


MakeLog = Callable[[list[str], list[list[CellValue]]], Log]


@pytest.fixture(params=["memory", "xlsx"])
def make_log_of(request: pytest.FixtureRequest, tmp_path: Path) -> MakeLog:
    if request.param == "memory":
        return MemoryLog
    return lambda headers, rows: XlsxLog(tmp_path, headers, rows)


@pytest.fixture
def state(tmp_path: Path) -> Iterator[State]:
    with State(tmp_path / "state") as opened:
        yield opened


@pytest.fixture
def clinic(make_log_of: MakeLog, state: State) -> Clinic:
    """Ann and Bob's log after its first sync, a week before MONDAY."""
    synced = Clinic(make_log_of(HEADERS, [list(ANN), list(BOB)]), state)
    synced.cycle(MONDAY - timedelta(days=7))
    return synced


def test_a_typed_call_is_carried_out_in_one_write(clinic: Clinic) -> None:
    clinic.log.type(ANN_ROW, clinic.column("Next action"), "Called - wants finance options")

    plan = clinic.cycle(MONDAY)

    assert day_in(clinic.cell(ANN_ROW, "Last touch")) == MONDAY
    assert count_in(clinic.cell(ANN_ROW, "Touches")) == 4
    assert str(clinic.cell(ANN_ROW, "Next action")).startswith("Step 5/7 · Email")
    assert day_in(clinic.cell(ANN_ROW, "Next touch")) == date(2026, 12, 2)  # the minimum gap
    assert clinic.cell(ANN_ROW, "Follow-up status") == "UPCOMING"
    sync_id = str(clinic.cell(ANN_ROW, "Sync ID"))
    assert plan.touches == (
        Touch(sync_id, "touch", MONDAY, MONDAY, "typed", "Call", "wants finance options"),
    )
    assert clinic.cell(ANN_ROW, "Notes") == "keen"  # no other staff cell is touched

    again = clinic.cycle(MONDAY)
    assert not again.changes
    assert again.touches == ()


def test_the_changes_name_each_staff_cell_with_the_value_it_was_read_as(clinic: Clinic) -> None:
    clinic.log.type(ANN_ROW, clinic.column("Follow-up status"), "emailed 27/11")
    plan, _ = clinic.plan(MONDAY)
    last, touches = clinic.column("Last touch"), clinic.column("Touches")
    read_as = {at: (day_in(old), new) for at, (old, new) in plan.changes.staff_cells.items()}
    assert read_as[(ANN_ROW, last)] == (date(2026, 11, 9), date(2026, 11, 27))
    assert plan.changes.staff_cells[(ANN_ROW, touches)][1] == 4


def test_last_touch_never_moves_earlier(clinic: Clinic) -> None:
    clinic.log.type(ANN_ROW, clinic.column("Next action"), "called 5/11")
    plan = clinic.cycle(MONDAY)
    assert day_in(clinic.cell(ANN_ROW, "Last touch")) == date(2026, 11, 9)
    assert count_in(clinic.cell(ANN_ROW, "Touches")) == 4  # still a touch, counted
    assert [touch.happened for touch in plan.touches] == [date(2026, 11, 5)]


def test_an_outcome_adds_the_column_it_needs(clinic: Clinic) -> None:
    clinic.log.type(ANN_ROW, clinic.column("Next action"), "+2w")

    plan = clinic.cycle(MONDAY)

    header = clinic.log.backend.read().rows[0]
    assert header[-1] == "Snooze until"  # right of the hidden Sync ID: nothing moves
    assert day_in(clinic.cell(ANN_ROW, "Snooze until")) == date(2026, 12, 14)
    assert day_in(clinic.cell(ANN_ROW, "Next touch")) == date(2026, 12, 14)
    assert count_in(clinic.cell(ANN_ROW, "Touches")) == 3  # a snooze is no touch
    assert [touch.kind for touch in plan.touches] == ["snooze"]


def test_a_status_outcome_closes_the_row(clinic: Clinic) -> None:
    clinic.log.type(ANN_ROW, clinic.column("Next action"), "Booked: implant 12/1")
    plan = clinic.cycle(MONDAY)
    assert clinic.cell(ANN_ROW, "Status") == "Booked"
    assert clinic.cell(ANN_ROW, "Follow-up status") == "CLOSED: won"
    assert [(t.kind, t.value, t.note) for t in plan.touches] == [
        ("status", "Booked", "implant 12/1")
    ]


def test_text_not_understood_stays_and_flags_the_row(clinic: Clinic) -> None:
    clinic.log.type(ANN_ROW, clinic.column("Next action"), "ring Tuesday")

    plan = clinic.cycle(MONDAY)

    assert clinic.cell(ANN_ROW, "Next action") == "ring Tuesday"
    status = str(clinic.cell(ANN_ROW, "Follow-up status"))
    assert status.startswith(
        'CHECK DATA: "Next action" typed by hand: "ring Tuesday" is not an outcome'
        " sheets-sync knows. Outcomes it understands: called, emailed"
    )
    row = next(row for row in plan.rows if row.row == ANN_ROW)
    assert row.decision.flag is Flag.CHECK_DATA
    assert row.decision.next_touch is not None  # it stays in its owner's digest
    assert not plan.changes.staff_cells
    assert plan.touches == ()


def test_the_clinics_own_words(clinic: Clinic) -> None:
    clinic.words = OutcomeWords((("rang", "called"),))
    clinic.log.type(ANN_ROW, clinic.column("Next action"), "Rang")
    clinic.cycle(MONDAY)
    assert day_in(clinic.cell(ANN_ROW, "Last touch")) == MONDAY


# --- safety ----------------------------------------------------------------------------------


def test_a_staff_cell_edited_after_the_read_is_not_written_over(clinic: Clinic) -> None:
    """A colleague changes Touches between the read and the write: the write is refused whole,
    their value stands, and the next read carries the outcome out onto it, logged once."""
    clinic.log.type(ANN_ROW, clinic.column("Next action"), "called")
    touches = clinic.column("Touches")

    with pytest.raises(SourceChanged):
        clinic.cycle(MONDAY, before_write=lambda: clinic.log.type(ANN_ROW, touches, 7))

    assert count_in(clinic.cell(ANN_ROW, "Touches")) == 7
    assert clinic.cell(ANN_ROW, "Next action") == "called"
    clinic.cycle(MONDAY)
    assert count_in(clinic.cell(ANN_ROW, "Touches")) == 8
    assert [touch.kind for touch in clinic.touch_log] == ["touch"]


def test_the_memory_backend_checks_each_staff_cell(state: State) -> None:
    """Beyond the version: a staff cell that no longer holds what the plan read is refused."""
    log = MemoryLog(HEADERS, [list(ANN)])
    snapshot = log.backend.read()
    plan = plan_sync(
        snapshot.rows, find_layout(snapshot.rows), MONDAY, settings(), remembered={},
        new_id=lambda: "0000abcd",
    )  # fmt: skip
    changes = plan.changes
    forged = Changes(
        changes.layout, changes.cells, changes.headers, changes.last_row,
        {(ANN_ROW, 4): (99, 100)},
    )  # fmt: skip
    with pytest.raises(SourceChanged):
        log.backend.write(forged, snapshot.version)
    assert log.memory.rows[ANN_ROW - 1][4] == 3


def test_a_crash_after_the_write_carries_nothing_out_twice(clinic: Clinic) -> None:
    clinic.log.type(ANN_ROW, clinic.column("Next action"), "called")
    clinic.cycle(MONDAY, crash_after_write=True)  # the state never heard the write landed

    after_restart = clinic.cycle(MONDAY + timedelta(days=1))

    assert count_in(clinic.cell(ANN_ROW, "Touches")) == 4
    assert not after_restart.changes.staff_cells
    assert len(clinic.touch_log) == 1


def test_a_restored_copy_still_holding_the_word_gets_the_same_outcome_once(
    clinic: Clinic,
) -> None:
    """The copy from before the outcome is put back days later: the outcome is carried out
    again as of its own day, giving the cells what it gave them, and is not logged again."""
    clinic.log.type(ANN_ROW, clinic.column("Next action"), "called")
    typed = clinic.log.keep()
    clinic.cycle(MONDAY)
    clinic.log.restore(typed)

    restored = clinic.cycle(MONDAY + timedelta(days=2))

    assert day_in(clinic.cell(ANN_ROW, "Last touch")) == MONDAY
    assert count_in(clinic.cell(ANN_ROW, "Touches")) == 4
    assert str(clinic.cell(ANN_ROW, "Next action")).startswith("Step 5/7")
    assert restored.touches == ()
    assert len(clinic.touch_log) == 1


def test_the_same_word_typed_again_later_is_another_touch(clinic: Clinic) -> None:
    clinic.log.type(ANN_ROW, clinic.column("Next action"), "called")
    clinic.cycle(MONDAY)
    clinic.log.type(ANN_ROW, clinic.column("Next action"), "called")

    clinic.cycle(MONDAY + timedelta(days=3))

    assert count_in(clinic.cell(ANN_ROW, "Touches")) == 5
    assert [touch.happened for touch in clinic.touch_log] == [MONDAY, MONDAY + timedelta(3)]


def test_a_row_without_its_sync_id_waits_a_sync(make_log_of: MakeLog, state: State) -> None:
    """A new row (or one sorted away from its ID) is not yet certainly whose it is."""
    clinic = Clinic(make_log_of([*HEADERS, "Next action"], [[*ANN, "called"]]), state)

    first = clinic.cycle(MONDAY)

    assert not first.changes.staff_cells
    assert clinic.cell(ANN_ROW, "Next action") == "called"
    assert "carried out at the next sync" in str(clinic.cell(ANN_ROW, "Follow-up status"))
    clinic.cycle(MONDAY)
    assert count_in(clinic.cell(ANN_ROW, "Touches")) == 4


@pytest.fixture
def fake() -> Iterator[FakeSheets]:
    with FakeSheets() as started:
        yield started


class GoogleLog(Log):
    """The log in the Sheets API fake (tests.sheets_fake), staff typing through its UI."""

    def __init__(self, fake: FakeSheets, key: Path, rows: list[list[CellValue]]) -> None:
        self.fake = fake
        fake.add_spreadsheet(SHEET, {"Prospects": [list(HEADERS), *rows]})
        self.backend = backend(fake, key, SHEET)

    def type(self, row: int, col: int, value: str | int) -> None:
        self.fake.set_cell(SHEET, "Prospects", row, col, value)


def test_google_sheets_carries_a_typed_call_out_in_one_write(
    fake: FakeSheets, tmp_path: Path, state: State
) -> None:
    """The same outcome on a Google Sheet: the staff cells go in the managed cells' one
    `values:batchUpdate`, after one read of the rows just before it (tests/backends/
    test_gsheets_outcomes.py plays the sorts and edits that read and the check are for)."""
    clinic = Clinic(
        GoogleLog(fake, fake.service_account_key(tmp_path / "keys"), [list(ANN), list(BOB)]),
        state,
    )
    clinic.cycle(MONDAY - timedelta(days=7))
    clinic.log.type(ANN_ROW, clinic.column("Next action"), "called")
    fake.requests.clear()

    plan = clinic.cycle(MONDAY)

    writes = [call for call in calls(fake) if call.startswith("POST")]
    assert writes == [f"POST {SHEET}/values:batchUpdate"]
    assert day_in(clinic.cell(ANN_ROW, "Last touch")) == MONDAY
    assert count_in(clinic.cell(ANN_ROW, "Touches")) == 4
    assert str(clinic.cell(ANN_ROW, "Next action")).startswith("Step 5/7")
    assert [touch.kind for touch in plan.touches] == ["touch"]
    assert not clinic.cycle(MONDAY).changes


# --- the config ------------------------------------------------------------------------------


def test_outcome_words_in_the_config() -> None:
    config = parse_config(
        {"source": {"kind": "xlsx", "path": "log.xlsx"}, "outcomes": {"called": ["Rang"]}},
        base_dir=CONFIG_DIR,
    )
    assert config.outcomes == OutcomeWords((("rang", "called"),))


def test_outcome_words_are_checked_with_their_location() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(
            {
                "source": {"kind": "xlsx", "path": "log.xlsx"},
                "status": {"booked": ["paid deposit"]},
                "outcomes": {
                    "called": ["rang", "emailed", "paid deposit"],
                    "texted": ["rang"],
                    "phoned": ["x"],
                },
            },
            base_dir=CONFIG_DIR,
        )
    assert caught.value.problems == [
        '[outcomes].called: "emailed" already means emailed: a word can mean only one outcome;'
        " keep it under one of them",
        '[outcomes].called: "paid deposit" is a status word, which a typed outcome reads as that'
        " status; choose another word",
        '[outcomes].texted: "rang" already means called: a word can mean only one outcome; keep'
        " it under one of them",
        '[outcomes]: unknown key "phoned" (did you mean "done"?)',
    ]


@settings_for_hypothesis(max_examples=200)
@given(grid=grids(), typed=st.sampled_from(["called", "+3", "booked", "no answer - busy", "hi"]))
def test_a_staff_cell_is_written_only_to_carry_out_what_was_typed_in_its_row(
    grid: list[list[CellValue]], typed: str
) -> None:
    """Whatever the log holds, staff cells change only in a row whose Next action or
    Follow-up status holds an outcome a person typed, and only the cells outcomes change."""
    layout = find_layout(grid)
    first = plan_sync(grid, layout, MONDAY, settings(), remembered={}, new_id=counter())
    synced = [list(row) for row in grid]
    for (row, col), value in first.changes.all_cells().items():
        while len(synced) < row:
            synced.append([])
        synced[row - 1].extend([None] * (col + 1 - len(synced[row - 1])))
        synced[row - 1][col] = value
    remembered = {row.sync_id: row.remembered for row in first.rows}
    target = layout.first_row
    if target <= len(synced):
        col = layout.managed["next_action"]
        synced[target - 1].extend([None] * (col + 1 - len(synced[target - 1])))
        synced[target - 1][col] = typed

    second = plan_sync(
        synced, find_layout(synced), MONDAY, settings(), remembered=remembered, new_id=counter()
    )

    layout = second.changes.layout
    outcome_cols = {layout.staff.get(f) for f in OUTCOME_FIELDS}
    typed_cols = [layout.managed[field] for field in OUTCOME_CELLS]
    for row, col in second.changes.staff_cells:
        assert col in outcome_cols
        cells = synced[row - 1]
        said = [read_text(cells[c]) for c in typed_cols if c < len(cells)]
        assert any(
            isinstance(read_outcome(text, MONDAY, DateOrder.DMY, StatusWords()), Outcome)
            for text in said
        )


def test_a_column_an_outcome_adds_joins_the_logs_table(tmp_path: Path, state: State) -> None:
    """In a log that is an Excel table, `Snooze until` is made inside the table, so a sort
    keeps it with its row."""
    log = XlsxLog(tmp_path, HEADERS, [list(ANN)])
    log.path = make_log(log.path, [dict(zip(HEADERS, ANN, strict=True))], table=True)
    clinic = Clinic(log, state)
    clinic.cycle(MONDAY - timedelta(days=7))
    log.type(ANN_ROW, clinic.column("Next action"), "+2w")

    clinic.cycle(MONDAY)

    snapshot = log.backend.read()
    assert snapshot.rows[0][-1] == "Snooze until"
    assert [table.last_col for table in snapshot.tables] == [len(snapshot.rows[0]) - 1]
    assert day_in(clinic.cell(ANN_ROW, "Snooze until")) == date(2026, 12, 14)


def test_once_carries_a_typed_call_out_and_logs_it_once(tmp_path: Path) -> None:
    """The whole way, as staff meet it: a word typed in a workbook, `sheets-sync once` twice."""
    import openpyxl

    from sheets_sync.cli import main
    from tests.test_cli import write_config

    make_log(
        tmp_path / "mine.xlsx",
        [{"Name": "Ann Lee", "Owner": "Chloe", "Consultation date": date(2026, 11, 2)}],
    )
    config = write_config(tmp_path, path="mine.xlsx")
    once = ["once", "--config", str(config), "--today", "2026-11-24", "--no-digest"]
    assert main(once) == 0
    workbook = openpyxl.load_workbook(tmp_path / "mine.xlsx")
    sheet = workbook.worksheets[0]
    header = [cell.value for cell in sheet[1]]
    sheet.cell(
        row=2, column=header.index("Next action") + 1, value="called - wants finance options"
    )
    workbook.save(tmp_path / "mine.xlsx")

    for _ in range(2):  # the second sync finds nothing left to do, and logs nothing again
        assert main(once) == 0

    rows = XlsxBackend(tmp_path / "mine.xlsx", staff_worksheet=None).read().rows
    header = [str(cell) for cell in rows[0]]
    assert day_in(rows[1][header.index("Last touch")]) == date(2026, 11, 24)
    assert str(rows[1][header.index("Next action")]).startswith("Step ")
    with State(tmp_path / "state") as state:
        (source,) = {s for (s,) in state.db.execute("SELECT DISTINCT source FROM touches")}
        logged = state.touches(source)
    assert [(t.kind, t.happened, t.source, t.note) for t in logged] == [
        ("touch", date(2026, 11, 24), "typed", "wants finance options")
    ]
