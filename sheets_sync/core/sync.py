"""One sync, decided: every row's follow-up, and the managed cells that must change.

Staff cells are never among the changes. A managed cell a person typed into is kept as
typed, and its row is flagged `CHECK DATA` instead (SPEC §2). A value the daemon wrote into
that row on any earlier day is its own, not typing: a restored older copy of the log, or a
colleague's saved copy, is brought up to date (SPEC §7).

A Sync ID belongs to the prospect it was given to. Staff who sort the staff columns alone
(through a filter or a table that stops short of the managed columns, or "Sort range" over
their own columns) move the prospects away from their IDs; each ID's identity fingerprint,
kept in the state, finds them again (`match_again`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import partial

from sheets_sync.core.columns import (
    HeaderNotFound,
    Layout,
    column_letters,
    header_texts,
    with_staff_columns,
)
from sheets_sync.core.outcomes import (
    NO_OWN_WORDS,
    UNDERSTOOD,
    CarriedOut,
    NotUnderstood,
    Outcome,
    OutcomeWords,
    read_outcome,
    touches_of,
    typed_key,
)
from sheets_sync.core.rule import Decision, Flag, Note, Prospect, Settings, decide
from sheets_sync.core.touches import SeenCells, Touch, seen_cells
from sheets_sync.core.values import (
    CellValue,
    DateOrder,
    Unreadable,
    quoted,
    read_count,
    read_date,
    read_text,
)

CellWrite = str | date | None
StaffWrite = str | int | date | None  # a typed outcome's staff cell: int for Touches
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
    # The row's managed cells hold what the daemon wrote on an earlier day, not what it wrote
    # last: the row is a restored older copy, whose older staff cells are no staff edits.
    older: bool = False


@dataclass(frozen=True)
class Changes:
    """The managed cells to write in one cycle, and what a backend needs to lay them out.

    `staff_cells` are the staff cells a typed outcome changes (SPEC §8), each with the value
    it was read as: a backend writes one only while the cell still holds that value, and the
    whole write not at all otherwise."""

    layout: Layout
    cells: Mapping[tuple[int, int], CellWrite]  # (sheet row, 0-based column) -> value
    headers: Mapping[int, str]  # the header row's text by column, after the write
    last_row: int  # the log's last row
    # (sheet row, 0-based column) -> (the value read, the value to write)
    staff_cells: Mapping[tuple[int, int], tuple[CellValue, StaffWrite]] = dataclasses.field(
        default_factory=dict
    )

    def __bool__(self) -> bool:
        return bool(self.cells or self.staff_cells)

    def all_cells(self) -> dict[tuple[int, int], StaffWrite]:
        """Every cell to write, managed and staff, for a backend that writes them together."""
        return {**self.cells, **{at: new for at, (_, new) in self.staff_cells.items()}}


@dataclass(frozen=True)
class Resorted:
    """A row whose staff cells were sorted away from its sheets-sync columns: matched to its
    prospect's Sync ID again (`sync_id`), or started afresh with a new ID (`sync_id` empty)
    when its staff cells could be more than one prospect's, or are a prospect sheets-sync has
    not seen before."""

    row: int
    sync_id: str

    @property
    def afresh(self) -> bool:
        return not self.sync_id


@dataclass(frozen=True)
class SyncPlan:
    rows: tuple[RowResult, ...]
    changes: Changes
    # Each Sync ID's identity fingerprint (`identity`), to remember for the next cycle.
    identities: Mapping[str, str]
    resorted: tuple[Resorted, ...] = ()
    # What the typed outcomes carried out add to the touch log, and the outcomes to record
    # before the write, so that none is carried out twice (`plan_sync`).
    touches: tuple[Touch, ...] = ()
    outcomes: tuple[CarriedOut, ...] = ()

    @property
    def afresh(self) -> tuple[int, ...]:
        """The rows given a new Sync ID because the one in their cell is another prospect's."""
        return tuple(moved.row for moved in self.resorted if moved.afresh)

    @property
    def matched_again(self) -> tuple[int, ...]:
        return tuple(moved.row for moved in self.resorted if not moved.afresh)


# The staff cells that name a prospect, not those staff update at each touch: who a row is.
IDENTITY_FIELDS = ("name", "consultation_date", "email", "phone")


def identity(staff: Mapping[str, CellValue], date1904: bool = False) -> str:
    """A prospect's identity fingerprint: a hash of the staff cells that name them, so the
    state keeps no patient's name."""
    parts = [_comparable(staff.get(name), date1904).strip().casefold() for name in IDENTITY_FIELDS]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


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
    identities: Mapping[str, str] = {},
    outcome_words: OutcomeWords = NO_OWN_WORDS,
    carried_out: Collection[CarriedOut] = (),
    seen: Mapping[str, SeenCells] = {},
    last_synced: date | None = None,
) -> SyncPlan:
    """Decide every prospect row below the header, and the managed cells that must change.

    `remembered` is what earlier cycles wrote, by Sync ID; `writing` is what a cycle that
    stopped during its write was writing (either may be in the cells now); `written_before`
    is every value the daemon wrote into each row on any earlier day (`written_values`), which
    a restored older copy of the log shows; `identities` is each Sync ID's identity
    fingerprint as the last finished sync saw it; `new_id` makes a fresh Sync ID.

    An outcome typed into a row's `Next action` or `Follow-up status` (SPEC §8) is carried
    out in the same write: its staff cells change, the rule decides the row again from them,
    and the cell shows the next step. Each one is in `outcomes`, for the state to record
    before the write, with the touch log's entries (`touches`): its Sync ID, its text, the
    fingerprint of the row's outcome cells before it, and its day. `carried_out` is that
    record. The same text on the same row is the same outcome when the record holds it with
    the same fingerprint (a write that never landed, or a restored older copy), or with any
    fingerprint on the same day (a write refused because someone edited the row meanwhile):
    it is then carried out again as of its first day, onto the cells as they are, and adds
    nothing to the touch log. But when the last finished sync (on `last_synced`, after that
    first day) saw the row with these very cells (`seen`), without the word, staff typed it
    again onto a restored copy: that is a new outcome, of today. Only a row that kept its
    Sync ID is trusted with an outcome: on a new or re-sorted row it waits a sync.
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

    def judge(prospect: Prospect) -> tuple[Decision, Exception | None]:
        try:
            return decide_row(prospect), None
        except Exception as exc:  # one row the rule cannot read must not stop the others
            return _could_not_read(prospect, exc, layout, headers, decide_row), exc

    seen_ids: set[str] = set()
    id_col = layout.managed["sync_id"]
    taken_ids = {read_text(row[id_col]) for row in rows if len(row) > id_col}
    managed_columns = tuple(layout.managed.items())
    last_row = layout.header_row
    prospects = _prospect_rows(rows, layout)
    found = {number: identity(staff, date1904) for number, (staff, _) in prospects.items()}
    held_by = {number: read_text(cell_id) for number, (_, cell_id) in prospects.items()}
    moved = match_again(held_by, found, identities)
    remember_identities: dict[str, str] = {}
    staff_cells: dict[tuple[int, int], tuple[CellValue, StaffWrite]] = {}
    by_key = {done.key: done.day for done in carried_out}
    today_by_text = {done.key[:2] for done in carried_out if done.day == today}
    touches: list[Touch] = []
    records: list[CarriedOut] = []
    for number in range(layout.first_row, len(rows) + 1):
        row = rows[number - 1]
        width = len(row)
        now = {field: row[col] if col < width else None for field, col in managed_columns}
        if number in layout.not_prospects:
            # A table's totals row, or another table's row: only what the daemon remembers
            # writing there (before it knew better) goes; a person's totals stay.
            if written := ours(read_text(now["sync_id"])):
                _clear_leftovers(number, now, layout, written, cells, date1904)
            continue
        if number not in prospects:
            _clear_leftovers(number, now, layout, ours(read_text(now["sync_id"])), cells, date1904)
            continue
        last_row = number

        staff = prospects[number][0]
        in_cell = held_by[number]
        sync_id = moved.get(number, in_cell)
        if not sync_id or sync_id in seen_ids:  # new row, a copy of another, or started afresh
            sync_id = _fresh_id(new_id, taken_ids)
        if sync_id != in_cell:
            cells[(number, id_col)] = sync_id
        seen_ids.add(sync_id)
        remember_identities[sync_id] = found[number]

        prospect = Prospect(number, staff)
        decision, fault = judge(prospect)
        managed = _managed(decision)
        wanted = managed.cells()
        differing = [
            field for field, value in wanted.items() if not _same(now[field], value, date1904)
        ]
        # The managed cells stayed with the ID in the row's cell: what was written there is the
        # memory of that ID, and of the prospect's own ID when it was sorted back to them.
        memory = remembered.get(in_cell) or remembered.get(sync_id)
        # Only a cell that differs from what the rule wants can hold something a person typed.
        written = ours(sync_id) | ours(in_cell) if differing else frozenset()
        typed = [field for field in differing if not _is_ours(field, now[field], written, date1904)]
        not_understood: list[NotUnderstood] = []
        for field in [field for field in typed if field in OUTCOME_CELLS]:
            typed_text = read_text(now[field])
            key = (sync_id, typed_key(typed_text), _before(staff, date1904))
            first_day = by_key.get(key)
            if first_day and last_synced and first_day < last_synced:
                before = seen_cells(prospect, decision, settings, date1904=date1904)
                if _same_outcome_cells(seen.get(sync_id), before):
                    first_day = None  # typed again since the last sync saw these cells
            first_day = first_day or (today if key[:2] in today_by_text else None)
            outcome = read_outcome(
                typed_text,
                first_day or today,
                settings.date_order,
                settings.status_words,
                outcome_words,
            )
            if isinstance(outcome, Outcome) and (sync_id != in_cell or number in moved):
                outcome = NotUnderstood(typed_text, f"{quoted(typed_text)} {_WAITS}")
            if isinstance(outcome, Outcome):
                try:
                    writes = _carry_out(outcome, staff, settings.date_order, date1904)
                    missing = [name for name in writes if name not in layout.staff]
                    if missing:
                        layout = with_staff_columns(layout, missing, rows)
                        for name in missing:
                            col = layout.staff[name]
                            cells[(layout.header_row, col)] = layout.new_headers[col]
                except (Unreadable, HeaderNotFound) as exc:
                    reason = exc.reason if isinstance(exc, Unreadable) else str(exc)
                    outcome = NotUnderstood(typed_text, f"{quoted(typed_text)}: {reason}")
            if isinstance(outcome, NotUnderstood):
                not_understood.append(outcome)
                continue
            step_channel = decision.step.channel if decision.step else ""
            for name, value in writes.items():
                col = layout.staff[name]
                staff_cells[(number, col)] = (row[col] if col < width else None, value)
            staff = {**staff, **writes}
            prospect = Prospect(number, staff)
            decision, fault = judge(prospect)
            typed.remove(field)
            records.append(CarriedOut(*key, first_day or today))
            if first_day is None:
                touches.extend(touches_of(outcome, sync_id, today, step_channel))
        if records and records[-1].sync_id == sync_id:  # decided again after an outcome
            managed = _managed(decision)
            wanted = managed.cells()
            differing = [f for f, value in wanted.items() if not _same(now[f], value, date1904)]
            typed = [field for field in typed if field in differing]
        if typed:
            decision = _typed_by_hand(decision, typed, not_understood)
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
        older = _older_copy(
            now, memory, writing.get(in_cell), written_before.get(in_cell), date1904
        )
        results.append(RowResult(number, sync_id, prospect, decision, remember, fault, older))

    resorted = tuple(Resorted(number, sync_id) for number, sync_id in sorted(moved.items()))
    changes = Changes(layout, cells, header_texts(rows, layout), last_row, staff_cells)
    return SyncPlan(
        tuple(results),
        changes,
        remember_identities,
        resorted,
        tuple(touches),
        tuple(records),
    )


# The managed cells staff may type an outcome into.
OUTCOME_CELLS = ("next_action", "follow_up_status")
# The staff cells an outcome may change: the row's fingerprint before one is made of them.
OUTCOME_FIELDS = ("last_touch", "touches", "snooze_until", "status")
_WAITS = (
    "is carried out at the next sync: the row is new to sheets-sync or was sorted, so it is "
    "not yet certain whose it is"
)


def _before(staff: Mapping[str, CellValue], date1904: bool) -> str:
    """The fingerprint of a row's outcome cells, which tells a restored older copy (or a
    write that never landed) from a row an outcome was carried out on."""
    parts = [_comparable(staff.get(name), date1904) for name in OUTCOME_FIELDS]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def _older_copy(
    now: Mapping[str, CellValue],
    last: Managed | None,
    stopped: Managed | None,
    earlier: Collection[Written] | None,
    date1904: bool,
) -> bool:
    """Whether a row's managed cells hold what the daemon wrote there on an earlier day
    (`earlier`), and neither what it wrote last nor what a stopped write was writing: an
    older copy of the row, put back. Between two syncs only people change cells, and people
    do not type yesterday's flag back."""
    if last is None or not earlier:
        return False
    kept = [m.cells() for m in (last, stopped) if m]
    return any(
        _comparable(value, date1904)
        and not any(_same(value, cells[field], date1904) for cells in kept)
        and _is_ours(field, value, earlier, date1904)
        for field, value in now.items()
        if field in MANAGED_LABELS
    )


def _same_outcome_cells(seen: SeenCells | None, now: SeenCells) -> bool:
    """Whether a row's outcome cells are those the last finished sync saw."""
    return seen is not None and all(
        getattr(seen, name) == getattr(now, name) for name in OUTCOME_FIELDS
    )


def _carry_out(
    outcome: Outcome, staff: Mapping[str, CellValue], order: DateOrder, date1904: bool
) -> dict[str, StaffWrite]:
    """The staff cells an outcome changes, by field: `Last touch` never earlier, `Touches`
    one up when it holds a number, `Snooze until` and `Status` as typed. A date cell that
    cannot be read is not written over: it raises `Unreadable`."""
    writes: dict[str, StaffWrite] = {}
    if outcome.touched is not None:
        try:
            last = read_date(staff.get("last_touch"), order, date1904=date1904)
        except Unreadable as exc:
            raise Unreadable(f"the Last touch cell {exc.reason}; correct it first") from None
        if last is None or outcome.touched > last:
            writes["last_touch"] = outcome.touched
        count = read_count(staff.get("touches"))
        if count is not None:
            writes["touches"] = count + 1
    if outcome.snooze is not None:
        writes["snooze_until"] = outcome.snooze
    if outcome.status:
        writes["status"] = outcome.status
    return writes


def _staff_cells(row: Sequence[CellValue], layout: Layout) -> dict[str, CellValue]:
    width = len(row)
    return {
        field: value
        for field, col in layout.staff.items()
        if col < width and (value := row[col]) is not None
    }


def _prospect_rows(
    rows: Sequence[Sequence[CellValue]], layout: Layout
) -> dict[int, tuple[dict[str, CellValue], CellValue]]:
    """The rows that hold a prospect: their staff cells and their Sync ID cell, by number."""
    id_col = layout.managed["sync_id"]
    found = {}
    for number in range(layout.first_row, len(rows) + 1):
        if number in layout.not_prospects:
            continue
        row = rows[number - 1]
        staff = _staff_cells(row, layout)
        if any(not isinstance(value, str) or value.strip() for value in staff.values()):
            found[number] = (staff, row[id_col] if id_col < len(row) else None)
    return found


def match_again(
    held_by: Mapping[int, str], found: Mapping[int, str], identities: Mapping[str, str]
) -> dict[int, str]:
    """The rows whose Sync ID cell names another prospect than the one in the row, after staff
    sorted the staff columns without sheets-sync's: row -> the ID of the prospect now in it,
    or "" when the row must start afresh with a new ID.

    `held_by` is each prospect row's Sync ID cell, `found` its identity fingerprint now,
    `identities` each ID's fingerprint at the last finished sync. An ID goes where its
    prospect is, when exactly one row holds that prospect and no other ID had the same
    fingerprint. A row whose ID's prospect is now elsewhere, or whose ID was given to other
    staff cells that several prospects share, starts afresh: its history cannot be told
    apart. Any other row keeps its ID: a fingerprint nobody had means staff corrected the
    prospect's name, and without remembered fingerprints every ID is trusted.
    """
    rows_with = Counter(found.values())
    ids_with: dict[str, list[str]] = {}
    for sync_id, fingerprint in identities.items():
        ids_with.setdefault(fingerprint, []).append(sync_id)
    home: dict[str, int] = {}  # an ID -> the one row its prospect is in now
    owner: dict[int, str] = {}  # and the other way round
    for number, fingerprint in found.items():
        ids = ids_with.get(fingerprint, [])
        if rows_with[fingerprint] == 1 and len(ids) == 1:
            home[ids[0]], owner[number] = number, ids[0]
    moved: dict[int, str] = {}
    for number, in_cell in held_by.items():
        if number in owner:
            if owner[number] != in_cell:
                moved[number] = owner[number]
        elif in_cell in home or (
            found[number] in ids_with and identities.get(in_cell, found[number]) != found[number]
        ):
            moved[number] = ""
    return moved


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


def _typed_by_hand(
    decision: Decision, typed: Sequence[str], not_understood: Sequence[NotUnderstood] = ()
) -> Decision:
    """The row is flagged CHECK DATA but keeps its follow-up: the prospect is not frozen
    while the typed cell waits for a person, and stays in the owner's digest when due. Text
    that looks like no outcome says which outcomes sheets-sync understands (SPEC §8)."""
    names = " and ".join(f'"{MANAGED_LABELS[field]}"' for field in typed)
    if not_understood:
        why = "; ".join(item.reason for item in not_understood)
        reason = (
            f"{names} typed by hand: {why}. Outcomes it understands: {UNDERSTOOD}; or move the"
            " text to a staff column and clear the cell to resume"
        )
    else:
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
