"""A restored or copied older log (SPEC §2, §7), synced as a clinic would meet it.

The log is synced over several days with staff editing it in between; a copy of it is kept
after each day, beside the backups the xlsx backend keeps. Each earlier version is then put
back over the log and synced on a later day: every row must show what the rule gives for its
staff cells, as a log that was never restored would, and every due row must reach its owner's
digest. Only values a person typed stay typed and flagged.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from sheets_sync.backends.base import Backend, Snapshot
from sheets_sync.backends.memory import MemoryBackend
from sheets_sync.config import Config, parse_config
from sheets_sync.core.columns import find_layout
from sheets_sync.core.digest import build_digests
from sheets_sync.core.owners import address_book
from sheets_sync.core.rule import Flag, Prospect, decide
from sheets_sync.core.values import CellValue, DateOrder, read_date, read_text
from sheets_sync.engine import CycleReport, open_backend, sync
from sheets_sync.state import State
from tests.backends.other_editor import save_edited
from tests.workbooks import make_log

PLANS = Path(__file__).resolve().parents[1] / "sheets_sync" / "plans.toml"
DAYS = [date(2026, 11, d) for d in (2, 3, 4, 5, 6)]  # Monday to Friday
LATER = date(2026, 11, 9)  # the next Monday: the day a copy is restored
STAFF = [
    ("Anna", "anna@clinic.example"),
    ("Ben", "ben@clinic.example"),
    ("Cat", "cat@clinic.example"),
]

HEADERS = ["Name", "Owner", "Consultation date", "Status", "Last touch", "Touches", "Value"]
PROSPECTS: list[list[CellValue]] = [
    ["Ann Ames", "Anna", date(2026, 10, 20), "Open", date(2026, 10, 22), 2, 500],
    ["Bob Brown", "Anna", date(2026, 11, 2), "Open", None, 0, 500],
    ["Cy Cole", "Ben", date(2026, 10, 1), "Open", date(2026, 10, 1), 1, 500],
    ["Di Dunn", "Ben", date(2026, 11, 6), "Open", None, 0, 500],
    ["Eve Earl", "Cat", date(2026, 9, 1), "Open", date(2026, 9, 1), 1, 2500],  # long term
    ["Fay Ford", "Cat", date(2026, 10, 30), "Open", None, 0, 500],
    ["Gus Gray", "Ben", date(2026, 8, 1), "Open", date(2026, 8, 1), 7, 500],  # nurture
    ["Hal Hunt", "Anna", date(2026, 10, 26), "Open", "31/31/2026", 0, 500],  # unreadable
    ["Ivy Ives", "Anna", date(2026, 10, 28), "Open", None, 0, 500],
    ["Jo Jones", "Cat", date(2026, 10, 29), "Open", None, 0, 800],
    ["Kim Kerr", "Anna", date(2026, 10, 27), "Open", None, 0, 500],
]

# What people type into managed cells, by prospect: values the daemon never wrote there.
TYPED_DATE = date(2026, 11, 22)  # a Sunday: the rule never lands on one
TYPED: dict[str, tuple[str, CellValue]] = {
    "Ivy Ives": ("next_touch", TYPED_DATE),
    "Jo Jones": ("next_action", "rang, no answer"),
    "Kim Kerr": ("follow_up_status", "waiting for her husband"),
}
# Staff edits made before each day's sync: (prospect, field, value).
EDITS: dict[date, list[tuple[str, str, CellValue]]] = {
    DAYS[1]: [
        ("Ann Ames", "last_touch", DAYS[1]),
        ("Ann Ames", "touches", 3),
        ("Ivy Ives", *TYPED["Ivy Ives"]),
    ],
    DAYS[2]: [("Bob Brown", "touches", 1), ("Jo Jones", *TYPED["Jo Jones"])],
    DAYS[3]: [("Cy Cole", "status", "Booked"), ("Kim Kerr", *TYPED["Kim Kerr"])],
    DAYS[4]: [("Fay Ford", "touches", 2), ("Di Dunn", "status", "Open - called back")],
}


def make_config(tmp_path: Path) -> Config:
    return parse_config(
        {
            "source": {"kind": "xlsx", "path": "log.xlsx"},
            "plans": {"file": str(PLANS)},
            "mail": {"outbox": "outbox", "from": "Clinic <followups@clinic.example>"},
            "daemon": {"state_dir": "state"},
        },
        base_dir=tmp_path,
    )


def row_of(name: str) -> int:
    return next(n for n, cells in enumerate(PROSPECTS, start=2) if cells[0] == name)


class ClinicLog:
    """A log a clinic works in: staff edit it, versions of it are kept and put back."""

    backend: Backend

    def edit(self, name: str, field: str, value: CellValue) -> None:
        raise NotImplementedError

    def keep(self) -> object:
        """The log as it is now, to be put back later."""
        raise NotImplementedError

    def restore(self, version: object) -> None:
        raise NotImplementedError

    def kept_by_backend(self) -> list[object]:
        """Versions the backend kept of its own accord (the xlsx backups)."""
        return []


class XlsxLog(ClinicLog):
    def __init__(self, tmp_path: Path, config: Config) -> None:
        self.path = make_log(
            tmp_path / "log.xlsx",
            [dict(zip(HEADERS, cells, strict=True)) for cells in PROSPECTS],
            staff=STAFF,
        )
        self.backups = config.daemon.state_dir / "backups"
        self.backend = open_backend(config, {})

    def edit(self, name: str, field: str, value: CellValue) -> None:
        """A colleague's save, in a program that is not sheets-sync."""
        col = _columns(self.backend.read())[field]
        ref = f"{chr(ord('A') + col)}{row_of(name)}"
        if isinstance(value, date):
            value = (value - date(1899, 12, 30)).days
        assert isinstance(value, str | int)
        save_edited(self.path, self.path.read_bytes(), {ref: value})

    def keep(self) -> bytes:
        return self.path.read_bytes()

    def restore(self, version: object) -> None:
        assert isinstance(version, bytes)
        aside = self.path.with_name("restoring.tmp")
        aside.write_bytes(version)
        os.replace(aside, self.path)

    def kept_by_backend(self) -> list[object]:
        return [path.read_bytes() for path in sorted(self.backups.iterdir())]


class SheetLog(ClinicLog):
    """The log in memory: the Google Sheets path through the same core and engine."""

    def __init__(self) -> None:
        staff: list[list[CellValue]] = [["Name", "Email"], *map(list, STAFF)]
        self.memory = MemoryBackend([HEADERS, *PROSPECTS], staff)
        self.backend = self.memory

    def edit(self, name: str, field: str, value: CellValue) -> None:
        self.memory.edit(row_of(name), _columns(self.memory.read())[field], value)

    def keep(self) -> list[list[CellValue]]:
        return copy.deepcopy(self.memory.rows)

    def restore(self, version: object) -> None:
        assert isinstance(version, list)
        self.memory.rows = copy.deepcopy(version)
        self.memory.generation += 1


def _columns(snapshot: Snapshot) -> dict[str, int]:
    layout = find_layout(snapshot.rows)
    return {**layout.staff, **layout.managed}


@dataclass
class Clinic:
    log: ClinicLog
    config: Config
    state: State

    def sync(self, day: date) -> CycleReport:
        return sync(self.log.backend, self.config, self.state, today=day)


@pytest.fixture(params=["xlsx", "sheet"])
def clinic(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Clinic]:
    config = make_config(tmp_path)
    log: ClinicLog = XlsxLog(tmp_path, config) if request.param == "xlsx" else SheetLog()
    with State(config.daemon.state_dir) as state:
        yield Clinic(log, config, state)


def worked_week(clinic: Clinic) -> list[object]:
    """Sync Monday to Friday with the staff's edits in between; the log after each day."""
    kept = []
    for day in DAYS:
        for name, field, value in EDITS.get(day, []):
            clinic.log.edit(name, field, value)
        assert clinic.sync(day).written
        kept.append(clinic.log.keep())
    return kept


def cell(snapshot: Snapshot, row: int, col: int) -> CellValue:
    cells = snapshot.rows[row - 1]
    return cells[col] if col < len(cells) else None


def as_shown(cell: CellValue, snapshot: Snapshot) -> CellValue:
    """A managed cell as a person reads it: a date, or text (a blank is None)."""
    if cell is None or cell == "":
        return None
    if not isinstance(cell, str):
        return read_date(cell, DateOrder.DMY, date1904=snapshot.date1904)
    return read_text(cell)


def assert_as_never_restored(clinic: Clinic, report: CycleReport, day: date) -> None:
    """Every row shows what the rule gives for its staff cells, a typed cell kept and
    flagged; every due row is in its owner's digest."""
    before = report.snapshot
    after = clinic.log.backend.read()
    columns = _columns(after)
    settings = clinic.config.rule_settings()
    book = address_book(after.staff, clinic.config.owners)
    digests, tally = build_digests(report.plan.rows, day=day, book=book, link=lambda _: None)
    in_digest = {
        (digest.address, line.name)
        for digest in digests
        for line in digest.overdue + digest.due_today
    }
    flagged = set()
    for result in report.plan.rows:
        name = result.prospect.text("name")
        rule = decide(Prospect(result.row, result.prospect.cells), day, settings)
        shown = {
            field: as_shown(cell(after, result.row, columns[field]), after)
            for field in ("next_touch", "next_action", "follow_up_status")
        }
        field, value = TYPED.get(name, ("", None))
        typed = field and as_shown(cell(before, result.row, columns[field]), before) == value
        wanted: dict[str, CellValue] = {
            "next_touch": rule.next_touch,
            "next_action": rule.next_action or None,
            "follow_up_status": rule.status_text,
        }
        if typed:
            flagged.add(name)
            assert result.decision.flag is Flag.CHECK_DATA, name
            assert result.decision.typed_over == (field,), name
            assert shown[field] == value, name  # what the person typed is kept
            flag = result.decision.status_text
            assert flag.startswith("CHECK DATA: "), name
            assert "typed by hand" in flag, name
            # The flag stays visible: in Follow-up status, or in Next action when that is
            # what was typed over.
            wanted["follow_up_status" if field != "follow_up_status" else "next_action"] = flag
            wanted[field] = value
        else:
            assert result.decision.flag is rule.flag, name
        assert shown == wanted, name
        if rule.flag in (Flag.OVERDUE, Flag.DUE_TODAY):
            assert (book[result.prospect.text("owner").casefold()], name) in in_digest, name
    checked = {note.name for note in tally.check_data}
    assert checked == flagged | {"Hal Hunt"}  # Hal's last touch cannot be read


def test_each_day_the_log_shows_what_the_rule_gives(clinic: Clinic) -> None:
    for day in DAYS:
        for name, field, value in EDITS.get(day, []):
            clinic.log.edit(name, field, value)
        assert_as_never_restored(clinic, clinic.sync(day), day)


def test_every_earlier_copy_restored_is_brought_up_to_date(clinic: Clinic) -> None:
    versions = worked_week(clinic)
    versions += clinic.log.kept_by_backend()
    assert len(versions) >= len(DAYS)
    for version in versions:
        clinic.log.restore(version)
        report = clinic.sync(LATER)
        assert_as_never_restored(clinic, report, LATER)
        assert not clinic.sync(LATER).plan.changes  # and it stays so


def test_copies_restored_out_of_order_and_again_are_brought_up_to_date(clinic: Clinic) -> None:
    versions = worked_week(clinic)
    for index in (0, 4, 2, 0, 3, 1):
        clinic.log.restore(versions[index])
        assert_as_never_restored(clinic, clinic.sync(LATER), LATER)
