"""After a write, who each row is and what it should hold: the check that keeps a value off
the wrong prospect while staff sort, insert and delete rows during a cycle."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import TypeVar

from sheets_sync.backends.gsheets.grid import EPOCH
from sheets_sync.core.columns import Merge
from sheets_sync.core.sync import IDENTITY_FIELDS, Changes, StaffWrite
from sheets_sync.core.values import CellValue

Position = tuple[int, int]  # (sheet row, 0-based column)
Value = TypeVar("Value")


class Expected:
    """What each row should hold after the write, by Sync ID, and who each row is.

    An ID that was in the sheet before this cycle moves with its row: such a row is known
    by it, unless staff sorted the staff columns alone meanwhile (through a filter or a table
    short of the managed columns, or "Sort range"), which moves prospects away from their IDs:
    a row whose cells naming the prospect (`IDENTITY_FIELDS`) are no longer its ID's, but were
    another ID's, is that other prospect. So is a row holding an ID new this cycle whose staff
    cells are those of the row the ID was written to (a copied row shares them with its
    original). Any other row is known by its staff cells, when no other row had the same ones.
    """

    def __init__(
        self,
        values: dict[str, dict[int, CellValue]],
        identity: dict[str, str],
        new_ids: dict[str, str],  # a new ID -> the staff cells of the row it was written to
        sync_col: int,
        staff_cols: Sequence[int],
        managed_cols: Sequence[int],
        named: dict[str, str],  # an ID -> the cells naming its prospect, when the cycle began
        naming_cols: Sequence[int],
        staff_read: dict[str, dict[int, CellValue]],  # an ID -> its outcome columns, as read
        staff_writes: dict[str, dict[int, tuple[CellValue, StaffWrite]]],
    ) -> None:
        self.values, self.identity, self.new_ids = values, identity, new_ids
        self.sync_col, self.staff_cols, self.managed_cols = sync_col, staff_cols, managed_cols
        self.named, self.naming_cols = named, naming_cols
        self.staff_read, self.staff_writes = staff_read, staff_writes
        self.outcome_cols = sorted({col for cols in staff_read.values() for col in cols})
        self.naming = Counter(named.values())  # how many IDs' prospects each name was
        self.named_once = {n: sync_id for sync_id, n in named.items() if self.naming[n] == 1}

    @classmethod
    def of(cls, changes: Changes, rows: Sequence[Sequence[CellValue]]) -> Expected:
        layout = changes.layout
        sync_col = layout.managed["sync_id"]
        outcome_cols = sorted({col for _, col in changes.staff_cells})
        staff_cols = sorted(set(layout.staff.values()) - set(outcome_cols))
        naming_cols = [layout.staff[field] for field in IDENTITY_FIELDS if field in layout.staff]
        managed_cols = [col for field, col in layout.managed.items() if field != "sync_id"]
        by_row: dict[int, dict[int, CellValue]] = {}
        for (number, col), value in changes.cells.items():
            by_row.setdefault(number, {})[col] = value
        values: dict[str, dict[int, CellValue]] = {}
        identity: dict[str, str] = {}
        seen: Counter[str] = Counter()
        new_ids: dict[str, str] = {}
        named: dict[str, str] = {}
        staff_read: dict[str, dict[int, CellValue]] = {}
        staff_writes: dict[str, dict[int, tuple[CellValue, StaffWrite]]] = {}
        for number in range(layout.first_row, len(rows) + 1):
            row = rows[number - 1]
            written = by_row.get(number, {})
            key = staff_key(row, staff_cols)
            seen[key] += 1
            sync_id = str(written.get(sync_col) or cell(row, sync_col) or "")
            if not sync_id:
                continue
            if sync_col in written:
                new_ids[sync_id] = key
            values[sync_id] = {col: written.get(col, cell(row, col)) for col in managed_cols}
            identity[key] = sync_id
            named[sync_id] = staff_key(row, naming_cols)
            staff_read[sync_id] = {col: cell(row, col) for col in outcome_cols}
            for col in outcome_cols:
                if (number, col) in changes.staff_cells:
                    staff_writes.setdefault(sync_id, {})[col] = changes.staff_cells[(number, col)]
        unique = {key: sync_id for key, sync_id in identity.items() if seen[key] == 1}
        return cls(
            values, unique, new_ids, sync_col, staff_cols, managed_cols, named, naming_cols,
            staff_read, staff_writes,
        )  # fmt: skip

    def key(self, row: Sequence[CellValue]) -> str:
        """A row's staff cells, as one string: who the row is, when no ID says so."""
        return staff_key(row, self.staff_cols)

    def _sorted_away(self, row: Sequence[CellValue], sync_id: str) -> str | None:
        """For a row holding an ID the sheet had before, whose cells naming the prospect were
        another ID's when the cycle began: that ID, or "" when several IDs' were. None when
        the row is its ID's, or names nobody else (staff corrected a name meanwhile)."""
        if sync_id not in self.named or sync_id in self.new_ids:
            return None
        name = staff_key(row, self.naming_cols)
        if name == self.named[sync_id] or name not in self.naming:
            return None
        return self.named_once.get(name, "")

    def repairs(
        self,
        rows: Sequence[Sequence[CellValue]],
        changes: Changes,
        written: Mapping[int, set[object]],
        placed: Mapping[tuple[int, int], tuple[str, object]],
    ) -> dict[Position, CellValue]:
        """The cells that put every row right again; none when all are right.

        `written` holds, by column, every value this write has put anywhere; `placed`, for
        each cell the last round wrote, the staff cells of the row it was meant for and the
        value. On a row that is no known prospect, a cell holding one of our values is kept
        only where it was put for this very row; elsewhere it is ours, misplaced by a row
        that moved (staff inserted or deleted rows meanwhile), and is cleared. Anything
        else there is left as the person made it. The outcome columns are put right as
        `_outcome_fixes` says.
        """
        fixes: dict[Position, CellValue] = {}
        for number in range(changes.layout.first_row, len(rows) + 1):
            row = rows[number - 1]
            sync_id = str(cell(row, self.sync_col) or "")
            key = staff_key(row, self.staff_cols)
            moved_to = self._sorted_away(row, sync_id)
            if moved_to is not None or not (
                sync_id in self.values and self.new_ids.get(sync_id, key) == key
            ):
                # Not an ID the sheet had before on its prospect, nor a new one on its row:
                # the row is who its staff cells say, if anyone.
                known = self.identity.get(key) or moved_to or ""
                if not known and sync_id not in self.values:
                    key = self.key(row)
                    for col in (self.sync_col, *self.managed_cols):
                        value = cell(row, col)
                        ours = value not in (None, "") and comparable(value) in written.get(col, ())
                        if ours and placed.get((number, col)) != (key, comparable(value)):
                            fixes[(number, col)] = None
                    fixes.update(self._outcome_fixes(number, row, "", key, placed))
                    continue
                # A write lands by position and may hit a moved row, so an ID written here
                # (a new one, or the row's own old one that a misplaced write covered) is
                # then checked like a new one: by the staff cells of the row it is meant for.
                target = known
                if target != sync_id:
                    fixes[(number, self.sync_col)] = target or None
                    if target:
                        self.new_ids.setdefault(target, key)
                    sync_id = target
            wanted = self.values.get(sync_id, {})
            for col in self.managed_cols:
                if not same(cell(row, col), wanted.get(col)):
                    fixes[(number, col)] = writable(wanted.get(col))
            fixes.update(self._outcome_fixes(number, row, sync_id, key, placed))
        return fixes

    def _outcome_fixes(
        self,
        number: int,
        row: Sequence[CellValue],
        sync_id: str,
        key: str,
        placed: Mapping[Position, tuple[str, object]],
    ) -> dict[Position, CellValue]:
        """The outcome columns of row `number`, now prospect `sync_id` ("" for nobody known),
        put right (SPEC §8: a staff cell is written only to carry out what was typed in that
        row, and only while it holds what was read).

        A cell where the last round put a value meant for another row was hit by a row that
        moved: it gets back what it held when the cycle began (a row that is no known prospect
        is cleared, as it was before the write as far as anyone can tell). The prospect's own
        outcome is written where the prospect is now, into a cell still holding what was read
        (or a value of ours meant for another row); a cell a person changed meanwhile is left
        as they made it.
        """
        fixes: dict[Position, CellValue] = {}
        read = self.staff_read.get(sync_id, {})
        writes = self.staff_writes.get(sync_id, {})
        for col in self.outcome_cols:
            now = cell(row, col)
            put = placed.get((number, col))  # (for whom, what) the last round wrote here
            misplaced = put is not None and put[0] != key and put[1] == comparable(now)
            if col in writes:
                old, new = writes[col]
                if not same(now, new) and (same(now, old) or misplaced):
                    fixes[(number, col)] = new
            elif misplaced and not same(now, read.get(col)):
                fixes[(number, col)] = read.get(col)
        return fixes


def uncovered(cells: Mapping[Position, Value], merges: Sequence[Merge]) -> dict[Position, Value]:
    """The cells a write can show: those under a merged area, but for its top-left one, left
    out. Google reads such a covered cell back empty and accepts a value written there
    without ever showing it (the cells of a merge are "just one value in the top left cell",
    gspread issue #1334), so a check would find it missing however often it was written.
    """
    columns = {col for _, col in cells}
    over = [merge for merge in merges if any(merge[1] <= col <= merge[3] for col in columns)]
    return {
        (row, col): value
        for (row, col), value in cells.items()
        if not any(
            top <= row <= bottom and left <= col <= right and (row, col) != (top, left)
            for top, left, bottom, right in over
        )
    }


def writable(value: CellValue) -> str | date | None:
    if value is None or isinstance(value, str | date):
        return value
    return str(value)


def same(now: CellValue, wanted: CellValue) -> bool:
    """A managed cell as read back against what was written (dates come back as serials,
    unless the column shows dates)."""
    if now in (None, "") and wanted in (None, ""):
        return True
    if isinstance(wanted, date) and isinstance(now, int | float) and not isinstance(now, bool):
        return (wanted - EPOCH).days == int(now)
    if isinstance(now, datetime):
        now = now.date()
    return bool(now == wanted)


def comparable(value: CellValue) -> object:
    """A managed value as written or as read back: dates as serial numbers."""
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return (value - EPOCH).days
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def cell(row: Sequence[CellValue], col: int) -> CellValue:
    return row[col] if col < len(row) else None


def staff_key(row: Sequence[CellValue], cols: Sequence[int]) -> str:
    return json.dumps([str(cell(row, col)) for col in cols])
