"""One sync, decided: every row's follow-up, and the managed cells that must change.

Staff cells are never among the changes. A managed cell a person typed into is kept as
typed, and its row is flagged `CHECK DATA` instead (SPEC §2). A value the daemon wrote into
that row on any earlier day is its own, not typing: a restored older copy of the log, or a
colleague's saved copy, is brought up to date (SPEC §7).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import partial

from sheets_sync.core.columns import Layout, column_letters, header_texts
from sheets_sync.core.rule import Decision, Flag, Note, Prospect, Settings, decide
from sheets_sync.core.values import (
    CellValue,
    DateOrder,
    Unreadable,
    quoted,
    read_date,
    read_text,
)

CellWrite = str | date | None
Written = tuple[str, str]  # (managed field, value) the daemon wrote into a row: `written_values`
MANAGED_LABELS = {
    "next_touch": "Next touch",
    "next_action": "Next action",
    "follow_up_status": "Follow-up status",
}
_FLAG_TEXT = re.compile(r"^(OVERDUE \d+d|DUE TODAY|UPCOMING|NURTURE|CLOSED: .+|CHECK DATA: .+)$")
_OVERDUE = re.compile(r"^OVERDUE \d+d$")
# The one flag that changes every day: remembered by its shape, not day by day. The state's
# migration 8 writes the same shape in SQL.
OVERDUE_SHAPE = "OVERDUE <n>d"


@dataclass(frozen=True, slots=True)
class Managed:
    """What the daemon keeps in a row's managed cells, as text for remembering and comparing."""

    next_touch: str  # ISO date or ""
    next_action: str
    follow_up_status: str

    def cells(self) -> dict[str, CellWrite]:
        touch = date.fromisoformat(self.next_touch) if self.next_touch else None
        return {
            "next_touch": touch,
            "next_action": self.next_action or None,
            "follow_up_status": self.follow_up_status or None,
        }


@dataclass(frozen=True, slots=True)
class RowResult:
    """One prospect row after the rule: its identity, its staff cells and its decision."""

    row: int
    sync_id: str
    prospect: Prospect
    decision: Decision
    remembered: Managed  # what to remember as written, for telling typed values apart
    # What the rule raised on this row, for the log: a fault of ours, flagged CHECK DATA.
    fault: Exception | None = None


@dataclass(frozen=True)
class Changes:
    """The managed cells to write in one cycle, and what a backend needs to lay them out."""

    layout: Layout
    cells: Mapping[tuple[int, int], CellWrite]  # (sheet row, 0-based column) -> value
    headers: Mapping[int, str]  # the header row's text by column, after the write
    last_row: int  # the log's last row

    def __bool__(self) -> bool:
        return bool(self.cells)


@dataclass(frozen=True)
class SyncPlan:
    rows: tuple[RowResult, ...]
    changes: Changes


def plan_sync(
    rows: Sequence[Sequence[CellValue]],
    layout: Layout,
    today: date,
    settings: Settings,
    *,
    remembered: Mapping[str, Managed],
    new_id: Callable[[], str],
    date1904: bool = False,
    writing: Mapping[str, Managed] = {},
    written_before: Mapping[str, Collection[Written]] = {},
) -> SyncPlan:
    """Decide every prospect row below the header, and the managed cells that must change.

    `remembered` is what earlier cycles wrote, by Sync ID; `writing` is what a cycle that
    stopped during its write was writing (either may be in the cells now); `written_before`
    is every value the daemon wrote into each row on any earlier day (`written_values`), which
    a restored older copy of the log shows; `new_id` makes a fresh Sync ID.
    """

    def ours(sync_id: str) -> frozenset[Written]:
        """What the daemon may have left in a row's managed cells, on this day or another."""
        last = (m for m in (remembered.get(sync_id), writing.get(sync_id)) if m)
        return frozenset(written_before.get(sync_id, ())).union(*map(written_values, last))

    cells: dict[tuple[int, int], CellWrite] = {
        (layout.header_row, col): text for col, text in layout.new_headers.items()
    }
    results: list[RowResult] = []
    headers = header_texts(rows, layout)
    decide_row = partial(decide, today=today, settings=settings, date1904=date1904)
    seen_ids: set[str] = set()
    id_col = layout.managed["sync_id"]
    taken_ids = {read_text(row[id_col]) for row in rows if len(row) > id_col}
    staff_columns = tuple(layout.staff.items())
    managed_columns = tuple(layout.managed.items())
    last_row = layout.header_row
    for number in range(layout.first_row, len(rows) + 1):
        row = rows[number - 1]
        width = len(row)
        staff = {
            field: value
            for field, col in staff_columns
            if col < width and (value := row[col]) is not None
        }
        now = {field: row[col] if col < width else None for field, col in managed_columns}
        if number in layout.not_prospects:
            # A table's totals row, or another table's row: only what the daemon remembers
            # writing there (before it knew better) goes; a person's totals stay.
            if written := ours(read_text(now["sync_id"])):
                _clear_leftovers(number, now, layout, written, cells, date1904)
            continue
        if not any(not isinstance(value, str) or value.strip() for value in staff.values()):
            _clear_leftovers(number, now, layout, ours(read_text(now["sync_id"])), cells, date1904)
            continue
        last_row = number

        sync_id = read_text(now["sync_id"])
        if not sync_id or sync_id in seen_ids:  # new row, or a copy of another row
            sync_id = _fresh_id(new_id, taken_ids)
            cells[(number, id_col)] = sync_id
        seen_ids.add(sync_id)

        prospect = Prospect(number, staff)
        fault = None
        try:
            decision = decide_row(prospect)
        except Exception as exc:  # one row the rule cannot read must not stop the others
            fault = exc
            decision = _could_not_read(prospect, exc, layout, headers, decide_row)
        managed = _managed(decision)
        wanted = managed.cells()
        differing = [
            field for field, value in wanted.items() if not _same(now[field], value, date1904)
        ]
        memory = remembered.get(sync_id)
        # Only a cell that differs from what the rule wants can hold something a person typed.
        written = ours(sync_id) if differing else frozenset()
        typed = [field for field in differing if not _is_ours(field, now[field], written, date1904)]
        if typed:
            decision = _typed_by_hand(decision, typed)
            managed = _managed(decision, typed)
            wanted = managed.cells()
            differing = [
                field
                for field, value in wanted.items()
                if field not in typed and not _same(now[field], value, date1904)
            ]
        for field in differing:
            cells[(number, layout.managed[field])] = wanted[field]
        remember = _remember(managed, memory, typed)
        results.append(RowResult(number, sync_id, prospect, decision, remember, fault))

    return SyncPlan(tuple(results), Changes(layout, cells, headers, last_row))


def _same(now: CellValue, wanted: CellWrite, date1904: bool) -> bool:
    """Whether a managed cell already shows the wanted value."""
    return now == wanted or _comparable(now, date1904) == _comparable(wanted, date1904)


_STAND_INS: Mapping[str, CellValue] = {
    "name": "Prospect",
    "owner": "Owner",
    "consultation_date": date(2000, 1, 3),
}


def _could_not_read(
    prospect: Prospect,
    fault: Exception,
    layout: Layout,
    headers: Mapping[int, str],
    decide_row: Callable[[Prospect], Decision],
) -> Decision:
    """CHECK DATA for a row the rule failed on, naming the cell without which it reads.

    Every cell the rule knows is read with care; this is the net for what nobody foresaw,
    so that the row waits for a person while every other row syncs."""

    def reads_without(field: str) -> bool:
        # A required cell gets a plain stand-in: left blank, the rule would stop at it and
        # never reach the cell at fault.
        cells = {**prospect.cells, field: _STAND_INS.get(field)}
        try:
            decide_row(Prospect(prospect.row, cells))
        except Exception:  # still failing: the fault is in another cell
            return False
        return True

    culprit = next((field for field in prospect.cells if reads_without(field)), "")
    if culprit:
        col = layout.staff[culprit]
        cell = f"{column_letters(col)}{prospect.row}"
        what = f"the {quoted(headers.get(col, culprit))} cell ({cell})"
    else:
        what = "this row"
    reason = (
        f"{what} could not be read ({type(fault).__name__}); retype it, and tell whoever runs"
        " sheets-sync if this stays"
    )
    return Decision(Flag.CHECK_DATA, f"CHECK DATA: {reason}", problem=Note(culprit, reason))


def _fresh_id(new_id: Callable[[], str], taken: set[str]) -> str:
    while (candidate := new_id()) in taken:
        pass
    taken.add(candidate)
    return candidate


def _managed(decision: Decision, typed: Sequence[str] = ()) -> Managed:
    """The managed cells for a decision. When the `Follow-up status` cell holds what a person
    typed, the flag moves to `Next action`, so the row still shows it; the step is then in
    the owner's digest."""
    touch = decision.next_touch.isoformat() if decision.next_touch else ""
    action = decision.status_text if "follow_up_status" in typed else decision.next_action
    return Managed(touch, action, decision.status_text)


def _typed_by_hand(decision: Decision, typed: Sequence[str]) -> Decision:
    """The row is flagged CHECK DATA but keeps its follow-up: the prospect is not frozen
    while the typed cell waits for a person, and stays in the owner's digest when due."""
    names = " and ".join(f'"{MANAGED_LABELS[field]}"' for field in typed)
    reason = f"{names} typed by hand; move it to a staff column and clear the cell to resume"
    return replace(
        decision, flag=Flag.CHECK_DATA, status_text=f"CHECK DATA: {reason}", typed_over=tuple(typed)
    )


def _remember(wanted: Managed, memory: Managed | None, typed: Sequence[str]) -> Managed:
    """What we wrote: for a typed cell, what we had written before the person typed."""
    if not typed:
        return wanted
    old = memory or Managed("", "", "")
    return Managed(*(getattr(old if field in typed else wanted, field) for field in MANAGED_LABELS))


def written_values(managed: Managed) -> list[Written]:
    """What to remember of values the daemon writes into a row, to know them again on any
    later day: (field, value), a flag by its shape (`OVERDUE 7d` as `OVERDUE <n>d`), blanks
    left out. A row gathers few: a date and an action per step, a handful of flags."""
    return [
        (field, _shape(field, text))
        for field in MANAGED_LABELS
        if (text := getattr(managed, field))
    ]


def _shape(field: str, text: str) -> str:
    return OVERDUE_SHAPE if field == "follow_up_status" and _OVERDUE.match(text) else text


def _is_ours(field: str, value: CellValue, written: Collection[Written], date1904: bool) -> bool:
    """Whether a managed cell holds what the daemon wrote, not something a person typed."""
    text = _comparable(value, date1904)
    if not text:
        return True
    if written:
        return (field, _shape(field, text)) in written
    # No memory of this row (first sync, or a lost state folder): judge by its shape.
    if field == "next_touch":
        return _as_date(value, date1904) is not None
    if field == "next_action":
        return text.startswith(("Step ", "CHECK DATA: ")) or text == "Newsletter only"
    return _FLAG_TEXT.match(text) is not None


def _as_date(value: CellValue, date1904: bool) -> date | None:
    if isinstance(value, str):
        return None
    try:  # a date cell or a serial number: the date order plays no part
        return read_date(value, DateOrder.DMY, date1904=date1904)
    except Unreadable:
        return None


def _comparable(value: CellValue, date1904: bool) -> str:
    """A managed cell as text: dates (and serial numbers) as ISO, the rest as read."""
    if value is None or isinstance(value, str):
        return read_text(value)
    day = _as_date(value, date1904)
    return day.isoformat() if day else read_text(value)


def _clear_leftovers(
    number: int,
    now: Mapping[str, CellValue],
    layout: Layout,
    written: Collection[Written],
    cells: dict[tuple[int, int], CellWrite],
    date1904: bool,
) -> None:
    """A row that is no prospect (its staff cells emptied, or a table's totals row) loses the
    daemon's values, not a person's."""
    for field in (*MANAGED_LABELS, "sync_id"):
        if now[field] is None:
            continue
        if field == "sync_id" or _is_ours(field, now[field], written, date1904):
            cells[(number, layout.managed[field])] = None
