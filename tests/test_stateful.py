"""The daemon's life, as a state machine (issue 6): weeks of staff edits, sorts, inserts and
deletes, crashes, lock files, edits made while a cycle runs and mail that fails, on the memory,
xlsx and Google Sheets (fake API) backends; after every step, the promises of SPEC §7 hold.

In the style of vdirsyncer's stateful sync tests: hypothesis picks the steps, a model keeps
what staff typed (by prospect Name, which is unique and never edited) and which managed values
each prospect may show. Invariants after every step:

- every staff cell is exactly as staff left it, on the row of its prospect; no row is lost,
  doubled or made up;
- a row's managed cells are blank (not written yet) or what the rule gives for this prospect's
  staff cells as they were at some sync, on that sync's day: never another row's values; right
  after a finished sync they are exactly the rule's for today, and a fresh plan has nothing to
  write;
- a Sync ID, once given, stays with its prospect and is on no other row;
- no address gets two digests on one day (a resend after a crash keeps its Message-ID); after
  a round on a working mail server, every owner with something due has exactly one.

Each backend's run records its figures (cycles, faults, edits, edits lost) with `tests.tally`,
for the README's Reliability section.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import date, datetime, time, timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Any, Protocol
from unittest import mock
from zoneinfo import ZoneInfo

import xlsxwriter
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from sheets_sync.backends.base import Backend, Snapshot, SourceError
from sheets_sync.backends.gsheets import GSheetsBackend
from sheets_sync.backends.memory import MemoryBackend
from sheets_sync.backends.xlsx import XlsxBackend
from sheets_sync.config import Config, parse_config
from sheets_sync.core.owners import address_book, address_of
from sheets_sync.core.rule import Flag, Prospect, decide
from sheets_sync.core.sync import Changes
from sheets_sync.core.values import CellValue
from sheets_sync.engine import SuspiciousChange, send_digests, sync, unchanged_since_last_sync
from sheets_sync.engine import decide as plan_snapshot
from sheets_sync.mail.deliver import PermanentFailure, TemporaryFailure
from sheets_sync.state import State
from tests import tally
from tests.backends.gsheets_helpers import routed
from tests.sheets_fake import FakeSheets

REPO = Path(__file__).resolve().parents[1]
LONDON = ZoneInfo("Europe/London")
START = datetime(2026, 11, 23, 6, 0, tzinfo=LONDON)  # a Monday, before the digest time
EPOCH = date(1899, 12, 30)

HEADER = ["Name", "Owner", "Consultation date", "Status", "Last touch", "Snooze until", "Value"]
HEADER += ["Notes"]
FIELDS = ("name", "owner", "consultation_date", "status", "last_touch", "snooze_until")
FIELDS += ("value", "notes")
MANAGED_HEADERS = ["Next touch", "Next action", "Follow-up status", "Sync ID"]
NEXT_TOUCH, SYNC_ID = len(HEADER), len(HEADER) + 3
WIDTH = len(HEADER) + len(MANAGED_HEADERS)
DATE_COLUMNS = {2, 4, 5, NEXT_TOUCH}

MANAGER = "manager@clinic.example"
STAFF_SHEET: list[list[CellValue]] = [
    ["Name", "Email"],
    ["Anna", "anna@clinic.example"],
    ["Ben", "ben@clinic.example"],
]
BOOK = address_book(STAFF_SHEET, {})
# Cara has no address (her rows go to the manager); an owner cell may hold an address, and
# Ben is written both by name and by address: still one digest a day.
OWNERS = ("Anna", "Ben", "Cara", "dee@clinic.example", "ben@clinic.example")
ADDRESSES = ("anna@clinic.example", "ben@clinic.example", "dee@clinic.example", MANAGER)

Row = list[CellValue]
Triple = tuple[CellValue, CellValue, CellValue]
BLANK: Triple = (None, None, None)


class Killed(BaseException):
    """The process dies here: nothing in the daemon catches it."""


# What the runs did, by backend and kind: "sync cycles", "staff edits", "faults: ...", ...
TALLY: dict[str, Counter[str]] = defaultdict(Counter)


# --- what staff type ----------------------------------------------------------------------------

# Dates are drawn as offsets from the day they are typed on; None is a blank cell.
STATUSES = (None, "Open", "Booked", "Declined", "DNC", "thinking it over")
VALUES = (None, 300, 1500, "£1,200")
NOTES = (None, "prefers email", "=1+1", "call after 5")


def typed(column: int) -> st.SearchStrategy[Any]:
    """What a person types into a staff column (1..7): a value, or a date offset."""
    if column == 1:
        return st.sampled_from(OWNERS)
    if column == 2:
        return st.integers(-150, 0)
    if column == 3:
        return st.sampled_from(STATUSES)
    if column == 4:  # a last touch, now and then in the future (CHECK DATA)
        return st.none() | st.integers(-40, 0) | st.just(3)
    if column == 5:
        return st.none() | st.integers(-5, 30)
    if column == 6:
        return st.sampled_from(VALUES)
    return st.sampled_from(NOTES)


prospect_cells = st.tuples(*(typed(column) for column in range(1, len(HEADER))))
staff_edit = st.integers(1, len(HEADER) - 1).flatmap(
    lambda column: st.tuples(st.just(column), typed(column))
)


def resolved(column: int, drawn: Any, today: date) -> CellValue:
    if column in DATE_COLUMNS and drawn is not None:
        return today + timedelta(days=drawn)
    return drawn  # type: ignore[no-any-return]


# --- staff operations on a grid (memory and xlsx; the Sheets fake has its own) ------------------


def sort_key(value: CellValue) -> tuple[int, Any]:
    """How a spreadsheet sorts a cell: numbers (dates are numbers) before text, blanks last."""
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return (0, (value - EPOCH).days)
    if isinstance(value, bool):
        return (2, value)
    if isinstance(value, int | float):
        return (0, value)
    if isinstance(value, str):
        return (1, value.lower())
    return (3, 0)


def cell(row: Row, col: int) -> CellValue:
    return row[col] if col < len(row) else None


def row_of(rows: list[Row], name: str) -> int:
    """The index in `rows` of the prospect's row."""
    return next(n for n, row in enumerate(rows) if n and cell(row, 0) == name)


def apply_to_grid(rows: list[Row], op: tuple[Any, ...]) -> None:
    kind = op[0]
    if kind == "edit":
        _, name, col, value = op
        row = rows[row_of(rows, name)]
        row.extend([None] * (col + 1 - len(row)))
        row[col] = value
    elif kind == "sort":
        _, col, reverse = op
        body = rows[1:]
        present = [row for row in body if sort_key(cell(row, col))[0] != 3]
        missing = [row for row in body if sort_key(cell(row, col))[0] == 3]
        present.sort(key=lambda row: sort_key(cell(row, col)), reverse=reverse)
        rows[1:] = present + missing
    elif kind == "insert":
        _, at, values = op
        rows.insert(at, list(values))
    else:
        _, name = op
        del rows[row_of(rows, name)]


# --- the three places a log lives ---------------------------------------------------------------


class Sheet(Protocol):
    """A prospect log as the machine sees it: the backend the daemon uses, and the hands of
    the staff and of fate."""

    backend: Backend
    can_lock: bool
    crash_points: tuple[str, ...]  # where its write can die, besides "after"
    rereads: bool

    def grid(self) -> list[Row]:
        """The log's cells now, dates as dates, each row WIDTH wide."""
        ...

    def apply(self, op: tuple[Any, ...]) -> None:
        """A staff operation: ("edit", name, col, value), ("sort", col, reverse),
        ("insert", at, values) or ("delete", name)."""
        ...

    def set_lock(self, on: bool) -> None: ...

    def meanwhile(self, act: Callable[[], None], at: int) -> AbstractContextManager[None]:
        """Within the block, `act` runs while a cycle is under way (before its write)."""
        ...

    def crashing(self, point: str) -> AbstractContextManager[None]:
        """Within the block, the backend's write dies at `point`: "before" anything landed,
        "after" it all did, or one of the backend's own `crash_points`."""
        ...

    def restart(self) -> None: ...

    def close(self) -> None: ...


def padded(rows: list[list[Any]]) -> list[Row]:
    grid = [list(row) + [None] * (WIDTH - len(row)) for row in rows]
    while grid and not any(value is not None for value in grid[-1]):
        grid.pop()
    return grid


class HookedMemory(MemoryBackend):
    """The memory backend, with a hook into its write: a staff edit, or a crash."""

    before_write: Callable[[], None] | None = None
    crash: str | None = None

    def write(self, changes: Changes, version: str) -> str | None:
        if self.before_write is not None:
            act, self.before_write = self.before_write, None
            act()
        if self.crash == "before":
            raise Killed
        written = super().write(changes, version)
        if self.crash == "after":
            raise Killed
        return written


@contextmanager
def before_its_write(backend: HookedMemory | HookedXlsx, act: Callable[[], None]) -> Iterator[None]:
    """Within the block, `act` runs once, at the start of the backend's next write."""
    backend.before_write = act
    try:
        yield
    finally:
        backend.before_write = None


class MemorySheet:
    can_lock = True
    crash_points = ("before",)
    rereads = True  # an edit between read and write: SourceChanged, read again

    def __init__(self, folder: Path, rows: list[Row]) -> None:
        self.backend = HookedMemory(rows, STAFF_SHEET)

    def grid(self) -> list[Row]:
        return padded(self.backend.rows)

    def apply(self, op: tuple[Any, ...]) -> None:
        apply_to_grid(self.backend.rows, op)
        self.backend.generation += 1

    def set_lock(self, on: bool) -> None:
        self.backend.busy = on

    def meanwhile(self, act: Callable[[], None], at: int) -> AbstractContextManager[None]:
        return before_its_write(self.backend, act)

    @contextmanager
    def crashing(self, point: str) -> Iterator[None]:
        self.backend.crash = point
        try:
            yield
        finally:
            self.backend.crash = None

    def restart(self) -> None:
        """The log outlives the daemon: it is the same list."""

    def close(self) -> None:
        pass


class HookedXlsx(XlsxBackend):
    before_write: Callable[[], None] | None = None

    def write(self, changes: Changes, version: str) -> str | None:
        if self.before_write is not None:
            act, self.before_write = self.before_write, None
            act()
        return super().write(changes, version)


def save_workbook(path: Path, rows: list[Row]) -> None:
    """Save the log as a spreadsheet program would after a person's edit: the whole file."""
    workbook = xlsxwriter.Workbook(str(path))
    workbook.set_properties({"created": datetime(2026, 1, 1)})  # the same cells, the same bytes
    dates = workbook.add_format({"num_format": "yyyy-mm-dd"})
    log = workbook.add_worksheet("Prospects")
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if isinstance(value, date):
                log.write_datetime(r, c, value, dates)
            elif isinstance(value, int | float):
                log.write_number(r, c, value)
            elif isinstance(value, str):
                log.write_string(r, c, value)
    staff = workbook.add_worksheet("Staff")
    for r, row in enumerate(STAFF_SHEET):
        staff.write_row(r, 0, row)
    workbook.close()


class XlsxSheet:
    can_lock = True
    crash_points = ("before", "aside")
    rereads = True  # an edit between read and write: SourceChanged, read again
    LOCKS = (".~lock.log.xlsx#", "~$log.xlsx")

    def __init__(self, folder: Path, rows: list[Row]) -> None:
        self.folder = folder
        self.path = folder / "log.xlsx"
        save_workbook(self.path, rows)
        self.backend = self._backend()
        self.locks = itertools.cycle(self.LOCKS)

    def _backend(self) -> HookedXlsx:
        return HookedXlsx(self.path, backup_dir=self.folder / "backups", keep_backups=2)

    def grid(self) -> list[Row]:
        rows = XlsxBackend(self.path).read().rows
        return padded([[_day(value) for value in row] for row in rows])

    def apply(self, op: tuple[Any, ...]) -> None:
        rows = self.grid()
        apply_to_grid(rows, op)
        save_workbook(self.path, rows)

    def set_lock(self, on: bool) -> None:
        if on:
            (self.folder / next(self.locks)).write_text(",Anna Price,desk-3,", encoding="utf-8")
        else:
            for name in self.LOCKS:
                (self.folder / name).unlink(missing_ok=True)

    def meanwhile(self, act: Callable[[], None], at: int) -> AbstractContextManager[None]:
        return before_its_write(self.backend, act)

    @contextmanager
    def crashing(self, point: str) -> Iterator[None]:
        """Killed in the swap of the new workbook for the old: as the old one is to be moved
        aside ("before"), with it aside ("aside"), or with the new one just in place
        ("after")."""
        rename, link = os.rename, os.link
        fired: list[str] = []

        def dying_rename(source: Any, target: Any) -> None:
            if point == "before" and not fired and Path(source) == self.path:
                fired.append(point)
                raise Killed
            rename(source, target)

        def dying_link(source: Any, target: Any) -> None:
            if point != "before" and not fired and Path(target) == self.path:
                fired.append(point)
                if point == "after":
                    link(source, target)
                raise Killed
            link(source, target)

        with mock.patch("os.rename", dying_rename), mock.patch("os.link", dying_link):
            yield

    def restart(self) -> None:
        self.backend = self._backend()

    def close(self) -> None:
        pass


def _day(value: CellValue) -> CellValue:
    return value.date() if isinstance(value, datetime) else value


class GSheetsWorld:
    """One fake Sheets API and key for all examples; each example gets its own spreadsheet."""

    def __init__(self, fake: FakeSheets, key: Path) -> None:
        self.fake, self.key = fake, key
        self.books = itertools.count()


class GSheetsSheet:
    can_lock = False
    crash_points = ("before",)
    rereads = False  # no version check: the write puts moved rows right, no more

    def __init__(self, world: GSheetsWorld, rows: list[Row]) -> None:
        self.fake, self.key = world.fake, world.key
        self.book = f"book{next(world.books)}"
        self.fake.add_spreadsheet(self.book, {"Prospects": rows, "Staff": STAFF_SHEET})
        self.backend = self._backend()

    def _backend(self) -> GSheetsBackend:
        return GSheetsBackend(
            self.book, credentials=self.key, session=routed(self.fake), sleep=lambda _: None
        )

    def grid(self) -> list[Row]:
        rows = self.fake.values(self.book, "Prospects")
        return padded([[_from_sheet(col, value) for col, value in enumerate(row)] for row in rows])

    def apply(self, op: tuple[Any, ...]) -> None:
        fake, book = self.fake, self.book
        kind = op[0]
        if kind == "edit":
            _, name, col, value = op
            fake.set_cell(book, "Prospects", row_of(self.grid(), name) + 1, col, value)
        elif kind == "sort":
            _, col, reverse = op
            fake.sort_rows(book, "Prospects", col, reverse=reverse)
        elif kind == "insert":
            _, at, values = op
            fake.insert_row(book, "Prospects", at + 1, values)
        else:
            _, name = op
            fake.delete_row(book, "Prospects", row_of(self.grid(), name) + 1)

    def set_lock(self, on: bool) -> None:
        raise AssertionError("a Google Sheet has no lock file")

    @contextmanager
    def meanwhile(self, act: Callable[[], None], at: int) -> Iterator[None]:
        """`act` runs before the `at`-th API request of the cycle (reads, writes, checks)."""
        requests = itertools.count()
        errors: list[BaseException] = []

        def before_request(method: str, path: str) -> None:
            if next(requests) == at:
                try:
                    act()
                except BaseException as exc:  # the hook runs in the server's thread
                    errors.append(exc)

        self.fake.before_request = before_request
        try:
            yield
        finally:
            self.fake.before_request = None
        assert not errors, errors

    @contextmanager
    def crashing(self, point: str) -> Iterator[None]:
        """Killed at the values write: just before it is sent, or just after it landed."""
        backend = self.backend
        write_cells = backend._write_cells

        def dying(title: str, cells: Any) -> None:
            if point == "before":
                raise Killed
            write_cells(title, cells)
            raise Killed

        with mock.patch.object(backend, "_write_cells", dying):
            yield

    def restart(self) -> None:
        self.backend = self._backend()

    def close(self) -> None:
        with self.fake.lock:
            del self.fake.spreadsheets[self.book]


def _from_sheet(col: int, value: object) -> CellValue:
    if value == "":
        return None
    if col in DATE_COLUMNS and isinstance(value, int | float) and not isinstance(value, bool):
        return EPOCH + timedelta(days=int(value))
    return value  # type: ignore[return-value]


# --- mail ---------------------------------------------------------------------------------------


class Mailroom:
    """A delivery whose failures are set per address: "temporary", "permanent", or "crash"
    (the message goes out, then the process dies before it can record that)."""

    def __init__(self, tally: Counter[str]) -> None:
        self.failing: dict[str, str] = {}
        self.delivered: list[tuple[str, str, str]] = []  # (day, address, Message-ID)
        self.refused: set[tuple[str, str]] = set()  # (day, address) refused for good
        self.tally = tally

    def send(self, message: EmailMessage, key: str) -> None:
        address = parseaddr(str(message["To"]))[1]
        day = key[:10]
        failure = self.failing.get(address)
        if failure == "temporary":
            self.tally["faults: mail temporary"] += 1
            raise TemporaryFailure("451 4.3.0 try again later")
        if failure == "permanent":
            self.tally["faults: mail permanent"] += 1
            self.refused.add((day, address))
            raise PermanentFailure(f"550 5.1.1 <{address}>: no such user")
        self.delivered.append((day, address, str(message["Message-ID"])))
        if failure == "crash":
            self.tally["faults: crash after a send"] += 1
            del self.failing[address]
            raise Killed

    def close(self) -> None:
        pass

    def messages(self, day: date, address: str) -> set[str]:
        """The distinct messages (by Message-ID) the address got on `day`."""
        return {mid for d, a, mid in self.delivered if (d, a) == (day.isoformat(), address)}


# --- the machine --------------------------------------------------------------------------------


def make_config(folder: Path) -> Config:
    return parse_config(
        {
            "clinic": {
                "timezone": "Europe/London",
                "holidays": [date(2026, 12, 25), date(2026, 12, 28), date(2027, 1, 1)],
            },
            "source": {"kind": "xlsx", "path": "log.xlsx"},
            "plans": {"file": str(REPO / "sheets_sync" / "plans.toml")},
            "mail": {
                "outbox": "outbox",
                "from": "Riverside Aesthetics <followups@clinic.example>",
                "manager": f"Manager <{MANAGER}>",
            },
            "daemon": {"state_dir": "state"},
        },
        base_dir=folder,
    )


MakeSheet = Callable[[Path, list[Row]], Sheet]


class DaemonLife(RuleBasedStateMachine):
    make_sheet: MakeSheet
    name = ""

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="stateful-"))
        self.config = make_config(self.folder)
        self.settings = self.config.rule_settings()
        self.state = State(self.folder / "state")
        self.now = START
        self.tally = TALLY[self.name]
        self.mail = Mailroom(self.tally)
        self.staff: dict[str, Row] = {}  # Name -> staff cells, as staff left them
        self.allowed: dict[str, set[Triple]] = defaultdict(lambda: {BLANK})
        self.sync_ids: dict[str, str] = {}
        self.names = (f"Patient {n:03d}" for n in itertools.count(1))
        self.ids = (f"id{n:05d}" for n in itertools.count(1))
        self.locked = False
        self.tripped = False  # the last sync refused a log that lost most of its rows
        self.sheet: Sheet

    @property
    def today(self) -> date:
        return self.now.date()

    def new_id(self) -> str:
        return next(self.ids)

    def new_prospect(self, drawn: tuple[Any, ...]) -> Row:
        name = next(self.names)
        row: Row = [name]
        row += [resolved(col, value, self.today) for col, value in enumerate(drawn, start=1)]
        self.staff[name] = row
        return row

    # --- the start ------------------------------------------------------------------------

    @initialize(prospects=st.lists(prospect_cells, min_size=6, max_size=12))
    def open_log(self, prospects: list[tuple[Any, ...]]) -> None:
        rows: list[Row] = [list(HEADER)]
        rows += [list(self.new_prospect(drawn)) for drawn in prospects]
        self.sheet = type(self).make_sheet(self.folder, rows)

    def teardown(self) -> None:
        self.state.db.close()
        if hasattr(self, "sheet"):
            self.sheet.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    # --- time, and the daemon waking up ---------------------------------------------------

    @rule(minutes=st.sampled_from([15, 60, 180, 600, 1440, 2 * 1440, 3 * 1440]))
    def time_passes(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)
        self.daemon_wakes()

    @rule(minutes=st.integers(0, 240))
    def next_morning(self, minutes: int) -> None:
        day = self.today + timedelta(days=1)
        self.now = datetime.combine(day, time(7, 30), LONDON) + timedelta(minutes=minutes)
        self.daemon_wakes()

    def daemon_wakes(self) -> None:
        self.cycle()
        self.digest_round()

    # --- staff at work --------------------------------------------------------------------

    def staff_do(self, op: tuple[Any, ...]) -> None:
        """Apply a staff operation to the log and to the model."""
        kind = op[0]
        if kind == "edit":
            _, name, col, value = op
            self.staff[name][col] = value
        elif kind == "delete":
            del self.staff[op[1]]
        self.sheet.apply(op)
        self.tally["staff edits"] += 1

    def pick(self, number: int) -> str:
        names = sorted(self.staff)
        return names[number % len(names)]

    def edit_op(self, number: int, edit: tuple[int, Any]) -> tuple[Any, ...]:
        col, drawn = edit
        return ("edit", self.pick(number), col, resolved(col, drawn, self.today))

    def insert_op(self, at: int, drawn: tuple[Any, ...]) -> tuple[Any, ...]:
        return ("insert", 1 + at % (len(self.staff) + 1), self.new_prospect(drawn))

    @rule(number=st.integers(0, 99), edit=staff_edit)
    def edit_cell(self, number: int, edit: tuple[int, Any]) -> None:
        self.staff_do(self.edit_op(number, edit))

    @rule(col=st.integers(0, WIDTH - 1), reverse=st.booleans())
    def sort_rows(self, col: int, reverse: bool) -> None:
        self.staff_do(("sort", col, reverse))

    @rule(at=st.integers(0, 99), drawn=prospect_cells)
    def insert_row(self, at: int, drawn: tuple[Any, ...]) -> None:
        self.staff_do(self.insert_op(at, drawn))

    @precondition(lambda self: len(self.staff) > 4)
    @rule(number=st.integers(0, 99))
    def delete_row(self, number: int) -> None:
        self.staff_do(("delete", self.pick(number)))

    @precondition(lambda self: len(self.staff) >= 8)
    @rule()
    def delete_most_rows(self) -> None:
        """Someone deletes most of the log by mistake (the sudden-loss guard's case)."""
        for name in sorted(self.staff)[: len(self.staff) * 2 // 3]:
            self.staff_do(("delete", name))

    # --- cycles, with and without faults ----------------------------------------------------

    @rule()
    def sync_now(self) -> None:
        self.cycle()

    @precondition(lambda self: self.tripped)
    @rule()
    def accept_fewer_rows(self) -> None:
        """The manager confirms the rows were removed on purpose (`--accept-fewer-rows`)."""
        self.cycle(accept_fewer=True)

    @rule(data=st.data())
    def crash_in_a_cycle(self, data: st.DataObject) -> None:
        """The daemon dies in a cycle: in the backend's write before anything landed, just
        after the write landed (before the state heard of it), or after the write and the
        memory of it, before the rest of the state."""
        point = data.draw(st.sampled_from((*self.sheet.crash_points, "after", "state")))
        if point == "state":
            with mock.patch.object(self.state, "record_sync", side_effect=Killed):
                self.cycle()
        else:
            with self.sheet.crashing(point):
                self.cycle()

    @rule(
        at=st.integers(0, 4),
        number=st.integers(0, 99),
        edit=staff_edit,
        kind=st.sampled_from(["edit", "sort", "insert", "delete"]),
        drawn=prospect_cells,
    )
    def edit_during_a_cycle(
        self, at: int, number: int, edit: tuple[int, Any], kind: str, drawn: tuple[Any, ...]
    ) -> None:
        """Staff change the log between the cycle's read and its write."""
        if kind == "edit":
            op = self.edit_op(number, edit)
        elif kind == "sort":
            op = ("sort", edit[0], number % 2 == 0)
        elif kind == "insert":
            op = self.insert_op(number, drawn)
        else:
            op = ("delete", self.pick(number))
        applied: list[tuple[Any, ...]] = []

        def act() -> None:
            if op[0] == "delete" and op[1] not in self.staff:
                return
            self.staff_do(op)
            applied.append(op)
            for name in self.staff:  # the cycle may have read these staff cells
                self.allowed[name].add(self.expected(name, self.today))

        if kind == "delete" and len(self.staff) <= 4:
            return
        with self.sheet.meanwhile(act, at):
            self.cycle(meanwhile=True)
        if applied:
            self.tally["faults: edit during a cycle"] += 1
        else:  # the cycle had nothing to write: the edit comes after it
            self.staff_do(op)

    @precondition(lambda self: self.sheet.can_lock)
    @rule()
    def open_in_excel(self) -> None:
        """Someone opens the log (a lock file appears), or closes it again."""
        self.locked = not self.locked
        self.sheet.set_lock(self.locked)
        if self.locked:
            self.tally["faults: log open elsewhere"] += 1

    @rule()
    def restart(self) -> None:
        """The daemon is stopped and started again (or the computer rebooted)."""
        self.state.db.close()
        self.state = State(self.folder / "state")
        self.sheet.restart()

    def cycle(self, *, accept_fewer: bool = False, meanwhile: bool = False) -> None:
        """One sync, as the daemon runs it; then what must hold of its outcome."""
        self.tally["sync cycles"] += 1
        today, backend = self.today, self.sheet.backend
        for name in self.staff:
            self.allowed[name].add(self.expected(name, today))
        before = self.sheet.grid()
        last = self.state.last_prospects(backend.description)
        guard = not accept_fewer and last and len(self.staff) < last * 0.5
        try:
            if unchanged_since_last_sync(backend, self.config, self.state, today=today):
                outcome = "unchanged"
            else:
                report = sync(
                    backend,
                    self.config,
                    self.state,
                    today=today,
                    accept_fewer=accept_fewer,
                    new_id=self.new_id,
                )
                outcome = "waiting" if report.waiting else "synced"
        except SuspiciousChange:
            outcome = "suspicious"
        except SourceError:  # the daemon logs it; the next cycle tries again
            outcome = "failed"
        except Killed:
            self.tally["faults: crash in a sync"] += 1
            self.restart()
            return
        self.tally[f"cycles {outcome}"] += 1
        if not meanwhile:
            assert (outcome == "suspicious") == bool(guard), (outcome, last, len(self.staff))
        if outcome == "suspicious":
            self.tripped = True
            assert unwritten(before, self.sheet.grid()), "a suspicious log was written"
        if outcome in ("synced", "unchanged"):
            self.tripped = False
        if self.locked:
            assert unwritten(before, self.sheet.grid()), "written while open elsewhere"
        if outcome in ("synced", "unchanged") and (self.sheet.rereads or not meanwhile):
            self.exactly_right()

    def expected(self, name: str, day: date) -> Triple:
        """What the rule puts in Next touch, Next action and Follow-up status."""
        decision = decide(Prospect(0, _cells(self.staff[name])), day, self.settings)
        return (decision.next_touch, decision.next_action or None, decision.status_text or None)

    def exactly_right(self) -> None:
        """Right after a finished sync: every row as the rule says today, with a Sync ID,
        and a fresh plan with nothing to write."""
        grid = self.sheet.grid()
        for row in grid[1:]:
            name = str(row[0])
            assert tuple(row[NEXT_TOUCH:SYNC_ID]) == self.expected(name, self.today), row
            assert row[SYNC_ID], row
        snapshot = Snapshot(grid, STAFF_SHEET, "check")
        description = self.sheet.backend.description
        plan = plan_snapshot(snapshot, self.config, self.today, self.state, description)
        assert dict(plan.changes.cells) == {}

    # --- the morning digests --------------------------------------------------------------

    def digest_round(self) -> None:
        """The daemon's digest job (Daemon.digests_if_due), with no real waits."""
        today, local, mail = self.today, self.now, self.config.mail
        if self.state.digests_done(today) or not self.settings.is_open(today):
            return
        if local.time() < mail.digest_time:
            return
        if local.time() >= mail.digest_cutoff:
            self.state.mark_digests_done(today)
            return
        self.tally["digest rounds"] += 1
        working = not self.mail.failing
        try:
            report = sync(self.sheet.backend, self.config, self.state, today=today, dry_run=True)
            run = send_digests(
                report, self.config, self.state, self.mail, today=today, now=local, sleep=_no_wait
            )
        except Killed:
            self.restart()
            return
        if not run.waiting:
            self.state.mark_digests_done(today)
        if working:
            self.tally["digest rounds on working mail"] += 1
            for address in {*self.due_addresses(today), MANAGER}:
                got = len(self.mail.messages(today, address))
                refused = (today.isoformat(), address) in self.mail.refused
                assert got == 1 or (refused and got == 0), (address, got, run)

    def due_addresses(self, day: date) -> set[str]:
        due = set()
        for row in self.staff.values():
            flag = decide(Prospect(0, _cells(row)), day, self.settings).flag
            address = address_of(str(row[1]), BOOK)
            if flag in (Flag.OVERDUE, Flag.DUE_TODAY) and address:
                due.add(address)
        return due

    @rule(address=st.sampled_from(ADDRESSES), kind=st.sampled_from(["temporary", "permanent"]))
    def mail_fails(self, address: str, kind: str) -> None:
        self.mail.failing[address] = kind

    @rule(address=st.sampled_from(ADDRESSES))
    def crash_after_a_send(self, address: str) -> None:
        self.mail.failing[address] = "crash"

    @rule()
    def mail_mended(self) -> None:
        self.mail.failing.clear()

    # --- after every step -----------------------------------------------------------------

    @invariant()
    def staff_cells_and_managed_cells(self) -> None:
        if not hasattr(self, "sheet"):
            return
        grid = self.sheet.grid()
        assert grid[0][: len(HEADER)] == HEADER
        assert grid[0][len(HEADER) :] in (MANAGED_HEADERS, [None] * len(MANAGED_HEADERS))
        seen: dict[str, Row] = {}
        for row in grid[1:]:
            name = str(row[0])
            assert name in self.staff, f"a row with no prospect: {row}"
            assert name not in seen, f"two rows for {name}"
            seen[name] = row
        missing = set(self.staff) - set(seen)
        changed = [
            (name, col)
            for name, row in seen.items()
            for col in range(len(HEADER))
            if not _same(row[col], self.staff[name][col])
        ]
        self.tally["staff edits lost"] += len(missing) + len(changed)
        assert not missing, f"prospects lost: {missing}"
        assert not changed, f"staff cells changed: {changed}"
        ids: dict[str, str] = {}
        for name, row in seen.items():
            managed = (row[NEXT_TOUCH], row[NEXT_TOUCH + 1], row[NEXT_TOUCH + 2])
            assert managed in self.allowed[name], f"{name} shows {managed}: {row}"
            sync_id = row[SYNC_ID]
            if sync_id is None:
                continue
            assert sync_id not in ids, f"{name} has {ids.get(str(sync_id))}'s Sync ID"
            ids[str(sync_id)] = name
            assert self.sync_ids.setdefault(name, str(sync_id)) == sync_id, (name, row)

    @invariant()
    def at_most_one_digest_a_day(self) -> None:
        counts = Counter((day, address) for day, address, _ in set(self.mail.delivered))
        assert all(count == 1 for count in counts.values()), counts


def unwritten(before: list[Row], after: list[Row]) -> bool:
    """Whether every prospect in both grids has the same managed cells (the staff cells are
    the invariant's business, and staff may have edited some meanwhile)."""
    old = {row[0]: row[NEXT_TOUCH:] for row in before[1:]}
    return all(row[NEXT_TOUCH:] == old[row[0]] for row in after[1:] if row[0] in old)


def _cells(row: Row) -> dict[str, CellValue]:
    return {field: value for field, value in zip(FIELDS, row, strict=True) if value is not None}


def _same(now: CellValue, typed: CellValue) -> bool:
    return _day(now) == typed


def _no_wait(seconds: float) -> None:
    pass


# --- the runs -----------------------------------------------------------------------------------

SETTINGS = settings(
    max_examples=12,
    stateful_step_count=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def run(name: str, make_sheet: MakeSheet, **overrides: Any) -> None:
    machine = type(
        f"DaemonLife_{name}", (DaemonLife,), {"make_sheet": staticmethod(make_sheet), "name": name}
    )
    run_state_machine_as_test(machine, settings=settings(SETTINGS, **overrides))
    counts = TALLY[name]
    tally.record(
        f"state machine, {name} backend",
        cycles=counts["sync cycles"],
        faults=sum(n for kind, n in counts.items() if kind.startswith("faults: ")),
        edits=counts["staff edits"],
        lost=counts["staff edits lost"],
    )


def test_memory_backend() -> None:
    run("memory", MemorySheet, max_examples=150)


def test_xlsx_backend() -> None:
    run("xlsx", XlsxSheet, max_examples=80)


def test_gsheets_backend(tmp_path: Path) -> None:
    with FakeSheets() as fake:
        world = GSheetsWorld(fake, fake.service_account_key(tmp_path))
        run("gsheets", lambda folder, rows: GSheetsSheet(world, rows), max_examples=60)


def test_gsheets_a_row_inserted_before_the_write_leaves_every_sync_id_in_place(
    tmp_path: Path,
) -> None:
    """Found by the machine: a row inserted at the top between a cycle's read and its write
    made the write for a new row land one row up, on a prospect whose Sync ID it covered;
    the check then left that prospect with no ID (a new one next cycle) and blank cells."""
    today = START.date()
    rows: list[Row] = [list(HEADER)]
    rows += [[f"Patient {n}", "Anna", today] for n in range(1, 4)]
    config = make_config(tmp_path)
    with FakeSheets() as fake, State(tmp_path / "state") as state:
        sheet = GSheetsSheet(GSheetsWorld(fake, fake.service_account_key(tmp_path)), rows)
        sync(sheet.backend, config, state, today=today)
        ids = {row[0]: row[SYNC_ID] for row in sheet.grid()[1:]}
        sheet.apply(("insert", 4, ["Patient 4", "Anna", today]))

        def insert_at_the_top() -> None:
            sheet.apply(("insert", 1, ["Patient 5", "Anna", today]))

        with sheet.meanwhile(insert_at_the_top, at=1):  # request 0 reads, 1 writes
            sync(sheet.backend, config, state, today=today)

        grid = {row[0]: row for row in sheet.grid()[1:]}
        assert {name: grid[name][SYNC_ID] for name in ids} == ids
        for name in (*ids, "Patient 4"):
            assert grid[name][NEXT_TOUCH:SYNC_ID] == [today, *grid["Patient 1"][9:11]], name
        assert grid["Patient 4"][SYNC_ID] not in (None, *ids.values())
