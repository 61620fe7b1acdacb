"""A clinic played day by day through the real `engine.sync` (issue 14, point 6).

A seeded clinic of prospects and three owners runs over about three months of fake time, one
or two cycles on each open day. Its staff type outcomes into `Next action` (or `Follow-up
status`), edit staff cells by hand, sort the rows (whole rows, and once the staff columns
only), put back a copy saved some days earlier, and book or decline. The simulation keeps
its own list of every touch and change it made; afterwards the touch log holds exactly those,
none twice and none lost.

What counts as one entry is the touch log's own promise (SPEC §8), which the staff here keep
to: a prospect has at most one touch a day (a second `Last touch` or `Touches` change on a
day that already has one is that touch again, as the same words typed twice in a day are one
outcome), so staff act on a prospect at most once a day; and a status, snooze or owner equal
to the last one logged of its kind is not logged again, so staff re-entering, after a
restore, what the restore took away add nothing. The staff here do not type an outcome
into a row the same day it was sorted out from under its Sync ID (such an outcome waits a
sync, SPEC §8).

It runs on the memory and xlsx backends, and on Google Sheets through the API fake. CI
plays a bounded slice,
two clinics per backend (about 25 s in all); SHEETS_SYNC_FUZZ_EXAMPLES (as in
tests/test_fuzz_input.py) sets how many, e.g. 50. What the simulation found is pinned at the
end, each case on its own.
"""

from __future__ import annotations

import copy
import itertools
import os
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial
from pathlib import Path

import openpyxl
import pytest

from sheets_sync.backends.base import Backend
from sheets_sync.backends.memory import MemoryBackend
from sheets_sync.backends.xlsx import XlsxBackend
from sheets_sync.config import Config, parse_config
from sheets_sync.core.values import CellValue, DateOrder, read_count, read_date, read_text
from sheets_sync.engine import sync
from sheets_sync.state import State
from tests.backends.gsheets_helpers import backend as google_backend
from tests.sheets_fake import FakeSheets
from tests.workbooks import make_log

REPO = Path(__file__).resolve().parents[1]
START = date(2026, 9, 7)  # a Monday
WEEKS = 13
OWNERS = ("Anna", "Ben", "Chloe")
STAFF_HEADERS = [
    "Name",
    "Owner",
    "Consultation date",
    "Status",
    "Last touch",
    "Touches",
    "Snooze until",
    "Notes",
]
SHEET = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcd"
CLASSES = {"booked": "won", "declined": "lost"}  # a typed status, as a status edit reads it
CLINICS = int(os.environ.get("SHEETS_SYNC_FUZZ_EXAMPLES", "2"))  # seeds played per backend

Cell = tuple[int, int]  # sheet row, 0-based column
Entry = tuple[str, str, date, date, str, str, str, str]  # as `logged` gives them


# --- the log staff work in ---------------------------------------------------------------


class Log:
    """The prospect log as staff see it: they read it, change cells, keep and restore copies."""

    backend: Backend

    def grid(self) -> list[list[CellValue]]:
        return [list(row) for row in self.backend.read().rows]

    def change(self, edits: dict[Cell, CellValue]) -> None:
        raise NotImplementedError

    def keep(self) -> object:
        raise NotImplementedError

    def restore(self, kept: object) -> None:
        raise NotImplementedError


class MemoryLog(Log):
    def __init__(self, rows: list[list[CellValue]]) -> None:
        self.memory = MemoryBackend([STAFF_HEADERS, *rows])
        self.backend = self.memory

    def change(self, edits: dict[Cell, CellValue]) -> None:
        for (row, col), value in edits.items():
            self.memory.edit(row, col, value)

    def keep(self) -> object:
        return copy.deepcopy(self.memory.rows)

    def restore(self, kept: object) -> None:
        assert isinstance(kept, list)
        self.memory.rows = copy.deepcopy(kept)
        self.memory.generation += 1


class XlsxLog(Log):
    """A workbook staff open, change and save in a spreadsheet program (openpyxl here)."""

    def __init__(self, folder: Path, rows: list[list[CellValue]]) -> None:
        prospects = [dict(zip(STAFF_HEADERS, row, strict=True)) for row in rows]
        self.path = make_log(folder / "log.xlsx", prospects)
        self.backend = XlsxBackend(self.path, backup_dir=folder / "backups")

    def change(self, edits: dict[Cell, CellValue]) -> None:
        workbook = openpyxl.load_workbook(self.path)
        sheet = workbook["Prospects"]
        for (row, col), value in edits.items():
            cell = sheet.cell(row=row, column=col + 1)
            cell.value = value  # `sheet.cell(value=None)` would leave the cell as it was
            if isinstance(value, date):
                cell.number_format = "DD/MM/YYYY"
        saving = self.path.with_name("saving.tmp.xlsx")
        workbook.save(saving)
        os.replace(saving, self.path)

    def keep(self) -> object:
        return self.path.read_bytes()

    def restore(self, kept: object) -> None:
        assert isinstance(kept, bytes)
        aside = self.path.with_name("restoring.tmp")
        aside.write_bytes(kept)
        os.replace(aside, self.path)


class GoogleLog(Log):
    """The log in the Sheets API fake (tests/sheets_fake), staff typing in its web page; a
    restore is Google's File > Version history > Restore this version, which puts back the
    whole sheet's values as they were."""

    def __init__(self, fake: FakeSheets, folder: Path, rows: list[list[CellValue]]) -> None:
        self.fake = fake
        fake.add_spreadsheet(SHEET, {"Prospects": [list(STAFF_HEADERS), *rows]})
        self.backend = google_backend(fake, fake.service_account_key(folder / "keys"), SHEET)

    def change(self, edits: dict[Cell, CellValue]) -> None:
        for (row, col), value in edits.items():
            self.fake.set_cell(SHEET, "Prospects", row, col, value)

    def keep(self) -> object:
        return self.grid()

    def restore(self, kept: object) -> None:
        assert isinstance(kept, list)
        now = self.grid()
        self.change(
            {
                (row, col): kept[row - 1][col] if col < len(kept[row - 1]) else None
                for row in range(1, len(now) + 1)
                for col in range(max(len(now[row - 1]), len(kept[row - 1])))
            }
        )


# --- the clinic ------------------------------------------------------------------------------


def open_days() -> Iterator[date]:
    for offset in range(WEEKS * 7):
        day = START + timedelta(days=offset)
        if day.weekday() < 5:
            yield day


def day_of(value: CellValue) -> date | None:
    return read_date(value, DateOrder.DMY)


@dataclass
class Clinic:
    """The staff, their log and what they know they did (`expected`)."""

    log: Log
    config: Config
    state: State
    rng: random.Random
    expected: list[Entry] = field(default_factory=list)
    ids: dict[str, str] = field(default_factory=dict)  # name -> Sync ID
    made: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    acted: set[tuple[str, date]] = field(default_factory=set)  # (Sync ID, day) staff acted

    def new_id(self) -> str:
        return f"{next(self.made):08x}"

    # -- reading the sheet --

    def columns(self, grid: list[list[CellValue]]) -> dict[str, int]:
        return {read_text(text): col for col, text in enumerate(grid[0]) if read_text(text)}

    def rows_by_name(self, grid: list[list[CellValue]]) -> dict[str, int]:
        return {read_text(cells[0]): n for n, cells in enumerate(grid, start=1) if n > 1}

    def cycle(self, today: date) -> None:
        sync(self.log.backend, self.config, self.state, today=today, new_id=self.new_id)
        grid = self.log.grid()
        col = self.columns(grid)["Sync ID"]
        for name, row in self.rows_by_name(grid).items():
            sync_id = read_text(grid[row - 1][col])
            assert self.ids.setdefault(name, sync_id) == sync_id, f"{name} changed Sync ID"

    # -- what the touch log should hold --

    def last_expected(self, sync_id: str, kind: str) -> str | None:
        values = [e[7] for e in self.expected if e[0] == sync_id and e[1] == kind]
        return CLASSES.get(values[-1], values[-1]) if values else None

    def touched_on(self, sync_id: str, day: date) -> bool:
        return any(e[0] == sync_id and e[1] == "touch" and e[2] == day for e in self.expected)

    def expect(
        self,
        sync_id: str,
        kind: str,
        day: date,
        source: str,
        *,
        happened: date | None = None,
        channel: str = "*",
        note: str = "",
        value: str = "",
    ) -> None:
        if kind == "touch" and self.touched_on(sync_id, happened or day):
            return  # the same touch again
        if kind != "touch" and source == "edited" and self.last_expected(sync_id, kind) == value:
            return  # what a restore took away, entered again
        self.expected.append((sync_id, kind, happened or day, day, source, channel, note, value))

    # -- the staff's day --

    def work(self, today: date, busy: int) -> None:
        """Staff act on `busy` open prospects they have not yet acted on today (`+2w` typed
        twice in a day is one snooze), then the day's sync carries it all out."""
        grid = self.log.grid()
        col = self.columns(grid)
        edits: dict[Cell, CellValue] = {}
        rows = self.rows_by_name(grid)
        names = sorted(rows)
        self.rng.shuffle(names)
        acted = 0
        for name in names:
            if acted == busy:
                break
            sync_id = self.ids[name]
            cells = grid[rows[name] - 1]
            status = read_text(cells[col["Status"]])
            if status not in ("", "Open") or (sync_id, today) in self.acted:
                continue
            self.acted.add((sync_id, today))
            acted += 1
            row = rows[name]
            self.act(today, sync_id, row, cells, col, edits)
        self.log.change(edits)

    def act(
        self,
        today: date,
        sync_id: str,
        row: int,
        cells: list[CellValue],
        col: dict[str, int],
        edits: dict[Cell, CellValue],
    ) -> None:
        last = day_of(cells[col["Last touch"]])
        count = read_count(cells[col["Touches"]])
        snooze = day_of(cells[col["Snooze until"]])
        choice = self.rng.choices(
            ["typed", "last touch", "touches", "both", "status", "snooze", "owner", "outcome"],
            weights=[10, 3, 2, 2, 1, 2, 1, 1],
        )[0]
        typed_into = col["Next action" if self.rng.random() < 0.8 else "Follow-up status"]
        if choice == "typed":
            word, channel, note = self.rng.choice(
                [
                    ("called", "Call", ""),
                    ("Called", "Call", ""),
                    ("emailed - sent the price list", "Email", "sent the price list"),
                    ("no answer", "Call", "no answer"),
                ]
            )
            edits[(row, typed_into)] = word
            self.expect(sync_id, "touch", today, "typed", channel=channel, note=note)
        elif choice == "outcome":
            word, status = self.rng.choice([("booked", "booked"), ("declined", "declined")])
            edits[(row, typed_into)] = word
            self.expect(sync_id, "status", today, "typed", value=status)
        elif choice == "snooze" and self.rng.random() < 0.5:
            edits[(row, typed_into)] = "+2w"
            value = (today + timedelta(weeks=2)).isoformat()
            self.expect(sync_id, "snooze", today, "typed", value=value)
        elif choice == "snooze":
            until = None if snooze and self.rng.random() < 0.3 else today + timedelta(days=9)
            if until == snooze:
                return
            edits[(row, col["Snooze until"])] = until
            value = until.isoformat() if until else ""
            self.expect(sync_id, "snooze", today, "edited", value=value)
        elif choice == "status":
            word, value = self.rng.choice([("Booked", "won"), ("Declined", "lost")])
            edits[(row, col["Status"])] = word
            self.expect(sync_id, "status", today, "edited", value=value)
        elif choice == "owner":
            owner = read_text(cells[col["Owner"]])
            new = self.rng.choice([o for o in OWNERS if o != owner])
            edits[(row, col["Owner"])] = new
            self.expect(sync_id, "owner", today, "edited", value=new)
        elif choice in ("last touch", "both") and (last is None or last < today):
            edits[(row, col["Last touch"])] = today
            if choice == "both" and count is not None:
                edits[(row, col["Touches"])] = count + 1
            self.expect(sync_id, "touch", today, "edited")
        elif choice == "touches" and count is not None:
            edits[(row, col["Touches"])] = count + 1
            self.expect(sync_id, "touch", today, "edited")

    def sort(self, *, staff_only: bool) -> None:
        """Staff sort by name (whole rows) or, once, only the staff columns by owner."""
        grid = self.log.grid()
        header, *rows = grid
        width = len(header)
        rows = [row + [None] * (width - len(row)) for row in rows]
        if staff_only:
            staff = len(STAFF_HEADERS)
            moved = sorted((row[:staff] for row in rows), key=lambda r: (read_text(r[1]), r[0]))
            rows = [new + old[staff:] for new, old in zip(moved, rows, strict=True)]
        else:
            rows.sort(key=lambda row: read_text(row[0]), reverse=self.rng.random() < 0.5)
        self.log.change(
            {(n, c): value for n, row in enumerate(rows, start=2) for c, value in enumerate(row)}
        )

    def logged(self) -> list[Entry]:
        return [
            (
                t.sync_id,
                t.kind,
                t.happened,
                t.seen,
                t.source,
                t.channel if t.source == "typed" and t.kind == "touch" else "*",
                t.note,
                t.value,
            )
            for t in self.state.touches(self.log.backend.description)
        ]


def prospects(rng: random.Random) -> list[list[CellValue]]:
    count = rng.randint(30, 60)
    return [
        [
            f"Prospect {n:02d}",
            rng.choice(OWNERS),
            START - timedelta(days=rng.randint(1, 40)),
            "Open" if rng.random() < 0.7 else None,
            None,
            0,
            None,
            None,
        ]
        for n in range(count)
    ]


def config_for(folder: Path) -> Config:
    return parse_config(
        {
            "source": {"kind": "xlsx", "path": "log.xlsx"},
            "plans": {"file": str(REPO / "sheets_sync" / "plans.toml")},
            "clinic": {"holidays": []},
            "mail": {"outbox": "outbox", "from": "Clinic <followups@clinic.example>"},
            "daemon": {"state_dir": "state"},
        },
        base_dir=folder,
    )


MakeLog = Callable[[list[list[CellValue]]], Log]


def play(make: MakeLog, config: Config, seed: int, state: State) -> Clinic:
    """Three months of the clinic, on open days: a sort now and then (whole rows; once, on
    day 33, the staff columns only), staff work and a sync, sometimes an afternoon's work and
    another sync. Twice a copy kept five open days earlier is put back before the day's work:
    one kept before a day's work, one kept after it, still holding the words staff typed
    (carried out once, on the day they were typed)."""
    rng = random.Random(seed)
    rows = prospects(rng)
    clinic = Clinic(make(rows), config, state, rng)
    days = list(open_days())
    clinic.cycle(days[0])
    kept: object = None
    keep_before_work, keep_after_work, restores_after = 20, 42, 5
    for number, today in enumerate(days[1:], start=1):
        if number - restores_after in (keep_before_work, keep_after_work):
            clinic.log.restore(kept)
            clinic.cycle(today)
        if number == keep_before_work:
            kept = clinic.log.keep()
        if number == 33:
            clinic.sort(staff_only=True)
            clinic.cycle(today)  # staff type no outcome in a row sorted from its Sync ID
        elif rng.random() < 0.15:
            clinic.sort(staff_only=False)
        clinic.work(today, busy=rng.randint(2, 6))
        if number == keep_after_work:
            kept = clinic.log.keep()
        clinic.cycle(today)
        if rng.random() < 0.5:  # an afternoon's work and sync
            clinic.work(today, busy=rng.randint(1, 3))
            clinic.cycle(today)
    return clinic


def check(clinic: Clinic) -> None:
    logged, expected = clinic.logged(), clinic.expected
    twice = [entry for entry in set(logged) if logged.count(entry) > 1]
    lost = [entry for entry in expected if entry not in logged]
    unexpected = [entry for entry in logged if entry not in expected]
    assert (twice, lost, unexpected) == ([], [], [])
    assert sorted(logged, key=repr) == sorted(expected, key=repr)


ALL_STAFF_DO = {
    (kind, source)
    for kind in ("touch", "status", "snooze", "owner")
    for source in ("typed", "edited")
    if (kind, source) != ("owner", "typed")
}


def play_clinics(folder: Path, make: Callable[[Path], MakeLog]) -> None:
    """CLINICS clinics, each checked; between them, staff did all they can."""
    did: set[tuple[str, str]] = set()
    for seed in range(CLINICS):
        clinic_folder = folder / f"clinic-{seed}"
        clinic_folder.mkdir()
        with State(clinic_folder / "state") as state:
            config = config_for(clinic_folder)
            clinic = play(make(clinic_folder), config, seed, state)
            check(clinic)
        did |= {(entry[1], entry[4]) for entry in clinic.expected}
    assert did == ALL_STAFF_DO


@pytest.mark.fuzz
def test_three_months_of_a_clinic_in_memory(tmp_path: Path) -> None:
    play_clinics(tmp_path, lambda folder: MemoryLog)


@pytest.mark.fuzz
def test_three_months_of_a_clinic_in_a_workbook(tmp_path: Path) -> None:
    play_clinics(tmp_path, lambda folder: partial(XlsxLog, folder))


@pytest.mark.fuzz
def test_three_months_of_a_clinic_in_google_sheets(tmp_path: Path) -> None:
    with FakeSheets() as fake:
        play_clinics(tmp_path, lambda folder: partial(GoogleLog, fake, folder))


# --- what the simulation found, each pinned on its own ---------------------------------------

MONDAY, WEDNESDAY, THURSDAY = date(2026, 11, 23), date(2026, 11, 25), date(2026, 11, 26)
NEXT_ACTION, STATUS_COL = 9, 3  # Next action: after the staff columns and Next touch


@pytest.fixture
def ann(tmp_path: Path) -> Iterator[tuple[MemoryLog, Clinic]]:
    """A clinic of one prospect, Ann, after Monday's first sync."""
    log = MemoryLog([["Ann Ames", "Anna", date(2026, 11, 2), "Open", date(2026, 11, 4), 2,
                      None, None]])  # fmt: skip
    with State(tmp_path / "state") as state:
        clinic = Clinic(log, config_for(tmp_path), state, random.Random(0))
        clinic.cycle(MONDAY)
        assert log.grid()[0][NEXT_ACTION] == "Next action"
        yield log, clinic


def test_a_typed_status_is_logged_once_not_again_as_an_edit(
    ann: tuple[MemoryLog, Clinic],
) -> None:
    """Found by the simulation: the Status cell a typed `booked` wrote was seen by the same
    sync as a status edit (`won`), so every typed booking or decline was logged twice."""
    log, clinic = ann
    log.change({(2, NEXT_ACTION): "booked"})
    clinic.cycle(MONDAY)
    clinic.cycle(WEDNESDAY)
    assert [(e[1], e[4], e[7]) for e in clinic.logged()] == [("status", "typed", "booked")]


def test_a_word_typed_again_after_a_restore_is_a_new_outcome(
    ann: tuple[MemoryLog, Clinic],
) -> None:
    """Found by the simulation: Monday's `called` is carried out; on Wednesday a copy from
    Monday morning (without the word) is put back; on Thursday staff call again and type
    `called` onto the same older cells. That is Thursday's call, not Monday's again: Last
    touch is Thursday and the touch log has both calls."""
    log, clinic = ann
    morning = log.keep()
    log.change({(2, NEXT_ACTION): "called"})
    clinic.cycle(MONDAY)
    log.restore(morning)
    clinic.cycle(WEDNESDAY)
    log.change({(2, NEXT_ACTION): "called"})
    clinic.cycle(THURSDAY)

    assert day_of(log.grid()[1][4]) == THURSDAY
    assert log.grid()[1][5] == 3  # the restored 2, one up
    assert [(e[1], e[2], e[4]) for e in clinic.logged()] == [
        ("touch", MONDAY, "typed"),
        ("touch", THURSDAY, "typed"),
    ]


def test_a_restored_copy_of_a_row_whose_status_changed_logs_nothing(
    ann: tuple[MemoryLog, Clinic],
) -> None:
    """Found by the simulation: Ann is booked by hand (no touch with it); a copy from before
    is put back. Her older `Open` is no reopening by staff: nothing is logged for it. Staff
    booking her again (what the restore took away) add nothing either."""
    log, clinic = ann
    morning = log.keep()
    log.change({(2, STATUS_COL): "Booked"})
    clinic.cycle(MONDAY)
    log.restore(morning)
    clinic.cycle(WEDNESDAY)
    assert [(e[1], e[7]) for e in clinic.logged()] == [("status", "won")]
    log.change({(2, STATUS_COL): "Booked"})
    clinic.cycle(THURSDAY)
    assert [(e[1], e[7]) for e in clinic.logged()] == [("status", "won")]


def test_an_owner_put_back_by_a_restore_is_no_owner_change(tmp_path: Path) -> None:
    """Found by the simulation: Bob is given to Ben, which changes none of his managed cells;
    the copy put back shows Anna again. Ann's row shows the copy is older (her booking is
    gone), so the owners it shows are no staff edits either."""
    log = MemoryLog(
        [
            ["Ann Ames", "Anna", date(2026, 11, 2), "Open", date(2026, 11, 4), 2, None, None],
            ["Bob Brown", "Anna", date(2026, 11, 9), "Open", date(2026, 11, 10), 1, None, None],
        ]
    )
    with State(tmp_path / "state") as state:
        clinic = Clinic(log, config_for(tmp_path), state, random.Random(0))
        clinic.cycle(MONDAY)
        morning = log.keep()
        log.change({(2, STATUS_COL): "Booked", (3, 1): "Ben"})
        clinic.cycle(MONDAY)
        log.restore(morning)
        clinic.cycle(WEDNESDAY)
        assert [(e[1], e[7]) for e in clinic.logged()] == [("status", "won"), ("owner", "Ben")]


def test_a_word_typed_again_after_a_restore_is_logged_once_when_the_write_is_retried(
    ann: tuple[MemoryLog, Clinic],
) -> None:
    """Found by the simulation on Google Sheets (whose check-after-write makes the engine read
    again): Thursday's `called`, typed again onto restored cells, is recorded before the
    write; a colleague's save makes the write wait and the sync read again. The outcome is
    Thursday's, already recorded: it is carried out once and logged once."""
    log, clinic = ann
    morning = log.keep()
    log.change({(2, NEXT_ACTION): "called"})
    clinic.cycle(MONDAY)
    log.restore(morning)
    clinic.cycle(WEDNESDAY)
    log.change({(2, NEXT_ACTION): "called"})
    write = log.memory.write
    colleague_saves = iter([True])

    def meanwhile(*args: object) -> str | None:
        if next(colleague_saves, False):
            log.memory.generation += 1  # someone saves the log between the read and the write
        return write(*args)  # type: ignore[arg-type]

    log.memory.write = meanwhile  # type: ignore[method-assign]
    clinic.cycle(THURSDAY)

    assert log.grid()[1][5] == 3
    assert [(e[1], e[2], e[4]) for e in clinic.logged()] == [
        ("touch", MONDAY, "typed"),
        ("touch", THURSDAY, "typed"),
    ]
