"""The Google Sheets backend while staff sort, insert, delete and edit rows mid-cycle.

A property test: the fake Sheets API applies random staff operations between any two
requests of one sync cycle (through its `before_request` hook). After the cycle, whether it
finished or gave up with a `SourceError`:

- no managed value rests on the wrong prospect: every non-empty Next touch, Next action and
  Follow-up status in a row is what the row held before the cycle, or what the rule gives for
  that prospect's staff cells as they were at some point during the cycle;
- no row holds a Sync ID that belonged to another prospect;
- a sort of the staff columns alone (through a filter or table short of the managed columns,
  or "Sort range") leaves the managed cells and Sync IDs where they were: on a cycle that
  gives up, those may still sit beside the prospect the sort moved there (the staff's doing,
  which the next cycle puts right); a cycle that finishes has put every row right;
- no staff cell was changed by the daemon: the staff grid is exactly what the staff
  operations made it (modelled by Name, which is unique).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from google.auth.transport.requests import AuthorizedSession
from google.oauth2 import service_account
from hypothesis import HealthCheck, Phase, event, example, given, settings
from hypothesis import strategies as st

from sheets_sync.backends.base import Snapshot, SourceError
from sheets_sync.backends.gsheets import GSheetsBackend
from sheets_sync.config import Config, parse_config
from sheets_sync.core.rule import Prospect, decide
from sheets_sync.core.sync import Changes
from sheets_sync.engine import sync
from sheets_sync.state import State
from tests.sheets_fake import FakeSheets

PLANS = Path(__file__).resolve().parents[2] / "sheets_sync" / "plans.toml"
TODAY = date(2026, 11, 24)  # a Tuesday
EPOCH = date(1899, 12, 30)
LOG, STAFF_SHEET = "Prospects", "Staff"
HEADER = ["Name", "Owner", "Consultation date", "Last touch", "Notes"]
FIELDS = ("name", "owner", "consultation_date", "last_touch", "notes")
MANAGED_COLS = (5, 6, 7)  # Next touch, Next action, Follow-up status
MANAGED_HEADERS = ["Next touch", "Next action", "Follow-up status", "Sync ID"]
SYNC_COL = 8
WIDTH = 9
OWNERS = ("Anna", "Ben", "Cara")
STAFF = [["Name", "Email"], ["Anna", "anna@x.example"], ["Ben", "ben@x.example"]]
NOTES = ("call back after 5", "prefers email", "asked about finance", "=1+1", "booked?")

# --- strategies -----------------------------------------------------------------------------


@st.composite
def staff_cells(draw: st.DrawFn) -> list[object]:
    """Owner, Consultation date, Last touch, Notes (the Name is given by the caller)."""
    consultation = TODAY - timedelta(days=draw(st.integers(0, 150)))
    last_touch = None
    if draw(st.booleans()):
        last_touch = consultation + timedelta(
            days=draw(st.integers(0, (TODAY - consultation).days))
        )
    notes = draw(st.none() | st.sampled_from(NOTES))
    return [draw(st.sampled_from(OWNERS)), consultation, last_touch, notes]


def edit_value(column: int) -> st.SearchStrategy[object]:
    if column == 1:
        return st.sampled_from(OWNERS)
    if column in (2, 3):  # a date, up to today, or a cleared cell
        return st.none() | st.integers(0, 150).map(lambda days: TODAY - timedelta(days=days))
    return st.none() | st.sampled_from(NOTES)


# One staff operation: (kind, arguments). Rows are picked by an integer taken modulo the
# number of data rows when the operation is applied.
sort_op = st.tuples(
    st.just("sort"), st.tuples(st.integers(0, WIDTH - 1), st.booleans())
)  # (column, reverse): staff may sort by any column, managed ones too
# Staff sort the staff columns alone (A:E) by one of them, the managed columns staying put.
staff_sort_op = st.tuples(st.just("sort staff"), st.tuples(st.integers(0, 4), st.booleans()))
insert_op = st.tuples(st.just("insert"), st.tuples(st.integers(0, 100), staff_cells()))
delete_op = st.tuples(st.just("delete"), st.tuples(st.integers(0, 100)))
edit_op = st.integers(1, 4).flatmap(
    lambda column: st.tuples(
        st.just("edit"), st.tuples(st.integers(0, 100), st.just(column), edit_value(column))
    )
)
operation = st.tuples(
    st.integers(0, 7), st.one_of(sort_op, staff_sort_op, insert_op, delete_op, edit_op)
)


# --- the world: one fake Sheets API, key, config and state for all examples -----------------


@dataclass
class World:
    fake: FakeSheets
    key: Path
    config: Config
    state: State
    books: Iterator[int] = field(default_factory=itertools.count)
    sessions: list[AuthorizedSession] = field(default_factory=list)

    def session(self, credentials: service_account.Credentials) -> AuthorizedSession:
        session = AuthorizedSession(credentials)
        session.mount("https://sheets.googleapis.com/", self.fake.adapter())
        self.sessions.append(session)
        return session

    def close_sessions(self) -> None:
        while self.sessions:
            self.sessions.pop().close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("gsheets-concurrent")
    config = parse_config(
        {"source": {"kind": "gsheets", "spreadsheet_id": "unused"}, "plans": {"file": str(PLANS)}},
        base_dir=folder,
    )
    with FakeSheets() as fake, State(folder / "state") as state:
        yield World(fake, fake.service_account_key(folder), config, state)


class RecordingBackend(GSheetsBackend):
    """Records which prospect (by Name) each Sync ID the cycle creates was meant for, and
    checks that an ID written again (a row matched to its prospect after staff sorted the
    staff columns alone) goes to that same prospect."""

    def __init__(self, *args: Any, owners: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.id_owner = owners
        self.snapshot: Snapshot | None = None

    def read(self) -> Snapshot:
        self.snapshot = super().read()
        return self.snapshot

    def write(self, changes: Changes, version: str) -> str | None:
        assert self.snapshot is not None
        column = changes.layout.managed["sync_id"]
        for (row, col), value in changes.cells.items():
            if col == column and value and row >= changes.layout.first_row:
                name = str(self.snapshot.rows[row - 1][0])
                owner = self.id_owner.setdefault(str(value), name)
                assert owner == name, f"Sync ID {value} of {owner} written onto {name}'s row"
        return super().write(changes, version)


# --- the model ----------------------------------------------------------------------------


def sheet_value(value: object) -> object:
    """A value as FakeSheets.values() shows it: dates as serials, blanks as ""."""
    if value is None:
        return ""
    if isinstance(value, date):
        return (value - EPOCH).days
    return value


def rule_cells(values: list[object], day: date, config: Config) -> tuple[object, ...]:
    """What the rule puts in Next touch, Next action, Follow-up status for these staff cells."""
    cells = {name: value for name, value in zip(FIELDS, values, strict=True) if value is not None}
    decision = decide(Prospect(0, cells), day, config.rule_settings())
    return (sheet_value(decision.next_touch), decision.next_action, decision.status_text)


def padded(row: list[object]) -> list[object]:
    return row + [""] * (WIDTH - len(row))


class Staff:
    """The expected staff grid, by Name, and every version of each prospect's staff cells."""

    def __init__(self, fake: FakeSheets, book: str, rows: dict[str, list[object]]) -> None:
        self.fake, self.book = fake, book
        self.rows = rows
        self.versions = {name: [list(values)] for name, values in rows.items()}
        self.inserted = itertools.count(1)
        self.applied: list[str] = []
        # What a sort of the staff columns alone left beside each prospect: (column, value).
        self.left_beside: dict[str, set[tuple[int, object]]] = {}

    def prospect_rows(self) -> list[tuple[int, str]]:
        """(row number, Name) of each prospect's row now (a row the daemon left without a
        prospect, if any, is not one staff would pick)."""
        rows = self.fake.values(self.book, LOG)
        return [(n, str(r[0])) for n, r in enumerate(rows, 1) if n > 1 and r and r[0] in self.rows]

    def apply(self, kind: str, args: tuple[Any, ...]) -> None:
        rows = self.prospect_rows()
        if kind == "sort":
            column, reverse = args
            self.fake.sort_rows(self.book, LOG, column, reverse=reverse)
        elif kind == "sort staff":
            column, reverse = args
            self.fake.sort_range(
                self.book, LOG, columns=(0, len(HEADER) - 1), by=column, reverse=reverse
            )
            for row in map(padded, self.fake.values(self.book, LOG)[1:]):
                if row[0] in self.rows:
                    left = self.left_beside.setdefault(str(row[0]), set())
                    left |= {(col, row[col]) for col in (*MANAGED_COLS, SYNC_COL)}
        elif kind == "insert":
            pick, cells = args
            name = f"New {next(self.inserted)}"
            values = [name, *cells]
            last = len(self.fake.values(self.book, LOG))
            self.fake.insert_row(self.book, LOG, pick % last + 2, values)
            self.rows[name] = values
            self.versions[name] = [list(values)]
        elif not rows:
            return
        elif kind == "delete":
            (pick,) = args
            number, name = rows[pick % len(rows)]
            del self.rows[name]
            self.fake.delete_row(self.book, LOG, number)
        else:
            pick, column, value = args
            number, name = rows[pick % len(rows)]
            self.fake.set_cell(self.book, LOG, number, column, value)
            self.rows[name][column] = value
            self.versions[name].append(list(self.rows[name]))
        self.applied.append(kind)


# --- the property -------------------------------------------------------------------------

SAME = [["Anna", TODAY, None, None] for _ in range(8)]  # 8 prospects, consulted today


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,  # the same examples on every machine
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Cases hypothesis found, kept so they run every time: a row inserted before the read, a sort
# before the write and a delete before the check once left an inserted row holding another
# prospect's Sync ID (a repair rewrote an old ID by position onto a moved row); a delete or an
# insert just before the write once left misplaced values on rows that are no prospect.
@example(
    prospects=[["Anna", date(2026, 11, 24), None, None]] * 8,
    synced_days_ago=0,
    operations=[
        (1, ("sort", (0, False))),
        (3, ("delete", (0,))),
        (0, ("insert", (1, ["Anna", date(2026, 11, 24), None, None]))),
    ],
)
@example(prospects=SAME, synced_days_ago=1, operations=[(1, ("delete", (0,)))])
@example(
    prospects=SAME,
    synced_days_ago=1,
    operations=[(1, ("insert", (0, ["Anna", TODAY - timedelta(days=1), None, None])))],
)
# A row inserted, then the staff columns sorted before the read: the inserted prospect once kept
# the Sync ID of a prospect sorted onto the inserted row (and that one's history with it).
@example(
    prospects=SAME,
    synced_days_ago=0,
    operations=[(0, ("insert", (0, SAME[0]))), (0, ("sort staff", (0, True)))],
)
@example(
    prospects=[*SAME[:7], ["Anna", TODAY, TODAY, None]],
    synced_days_ago=0,
    operations=[
        (0, ("insert", (0, SAME[0]))),
        (0, ("sort staff", (3, False))),
        (0, ("sort", (0, True))),
    ],
)
@given(
    prospects=st.lists(staff_cells(), min_size=8, max_size=15),
    synced_days_ago=st.none() | st.sampled_from([0, 1, 6]),
    operations=st.lists(operation, min_size=1, max_size=6),
)
def test_staff_edits_between_any_two_requests_never_misplace_a_value(
    world: World,
    prospects: list[list[object]],
    synced_days_ago: int | None,
    operations: list[tuple[int, tuple[str, tuple[Any, ...]]]],
) -> None:
    fake, config, state = world.fake, world.config, world.state
    book = f"book{next(world.books)}"
    rows = {f"Prospect {n:02d}": [f"Prospect {n:02d}", *cells] for n, cells in enumerate(prospects)}
    fake.add_spreadsheet(book, {LOG: [HEADER, *rows.values()], STAFF_SHEET: STAFF})
    id_owner: dict[str, str] = {}
    backend = RecordingBackend(
        book, credentials=world.key, session=world.session, sleep=lambda _: None, owners=id_owner
    )
    new_ids = (f"id{n}" for n in itertools.count())

    def new_id() -> str:
        return next(new_ids)

    try:
        if synced_days_ago is not None:  # some rows already synced, some days ago
            sync(
                backend, config, state, today=TODAY - timedelta(days=synced_days_ago), new_id=new_id
            )
        before = [padded(row) for row in fake.values(book, LOG)[1:]]
        old = {row[0]: {col: row[col] for col in MANAGED_COLS} for row in before}
        assert {row[SYNC_COL]: row[0] for row in before if row[SYNC_COL]} == id_owner

        staff = Staff(fake, book, {name: list(values) for name, values in rows.items()})
        requests = itertools.count()
        errors: list[BaseException] = []

        def before_request(method: str, path: str) -> None:
            try:
                number = next(requests)
                for at, (kind, args) in operations:
                    if at == number:
                        staff.apply(kind, args)
            except BaseException as exc:  # the hook runs in the server's thread
                errors.append(exc)

        fake.before_request = before_request
        try:
            sync(backend, config, state, today=TODAY, new_id=new_id)
            finished = True
        except SourceError:
            finished = False
        finally:
            fake.before_request = None
        assert not errors, errors
        check(fake, book, config, staff, old, id_owner, finished)
        event("the cycle finished" if finished else "the cycle gave up")
        event(f"staff operations applied: {len(staff.applied)}")
    finally:
        world.close_sessions()


def check(
    fake: FakeSheets,
    book: str,
    config: Config,
    staff: Staff,
    old: dict[object, dict[int, object]],
    id_owner: dict[str, str],
    finished: bool,
) -> None:
    after = fake.values(book, LOG)
    assert after[0][:5] == HEADER
    assert padded(after[0])[5:] in (MANAGED_HEADERS, ["", "", "", ""])
    assert fake.values(book, STAFF_SHEET) == STAFF
    seen: set[str] = set()
    for number, row in enumerate(map(padded, after[1:]), start=2):
        if not any(value != "" for value in row):
            continue
        name = str(row[0])
        where = f"row {number} ({name or 'no name'}): {row}"
        assert name in staff.rows, f"a row with no prospect: {where}"
        assert name not in seen, f"two rows for one prospect: {where}"
        seen.add(name)
        expected_staff = [sheet_value(value) for value in staff.rows[name]]
        assert row[:5] == expected_staff, f"a staff cell changed: {where}"
        allowed = [rule_cells(values, TODAY, config) for values in staff.versions[name]]
        # A cycle that gave up may leave what a sort of the staff columns left beside a row.
        left = set() if finished else staff.left_beside.get(name, set())
        for index, col in enumerate(MANAGED_COLS):
            value = row[col]
            good = {cells[index] for cells in allowed} | {old.get(name, {}).get(col, "")}
            good |= {value for column, value in left if column == col}
            assert value == "" or value in good, (
                f"{HEADER_OF[col]} {value!r} is not this prospect's (allowed {good}): {where}"
            )
        sync_id = row[SYNC_COL]
        if sync_id != "" and (SYNC_COL, sync_id) not in left:
            assert id_owner.get(str(sync_id)) == name, (
                f"Sync ID {sync_id!r} belongs to {id_owner.get(str(sync_id))}: {where}"
            )
        if finished and not staff.applied:  # nobody touched the sheet: exactly right
            assert tuple(row[col] for col in MANAGED_COLS) == allowed[-1], where
            assert sync_id != "", where
    assert seen == set(staff.rows), f"prospects missing: {set(staff.rows) - seen}"


HEADER_OF: dict[int, str] = dict(zip(MANAGED_COLS, MANAGED_HEADERS, strict=False))
