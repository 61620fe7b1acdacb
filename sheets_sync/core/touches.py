"""The touch log's entries: what the daemon learns about each prospect (SPEC §8).

An entry comes either from an outcome staff typed into the row (`typed`), or from a staff cell
that changed between two cycles (`edited`). The state keeps them, by log and Sync ID, only ever
adding; `explain`, `history` and the monthly report read them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Literal

from sheets_sync.core.rule import Decision, Prospect, Settings
from sheets_sync.core.values import Unreadable, read_count, read_date, read_status

TouchKind = Literal["touch", "status", "snooze", "owner"]
TouchSource = Literal["typed", "edited"]


@dataclass(frozen=True, slots=True)
class Touch:
    """One entry of the touch log."""

    sync_id: str
    kind: TouchKind  # a contact, a status change, a snooze set or cleared, a new owner
    happened: date  # the day it happened: a touch's date, or the day a change was first seen
    seen: date  # the day the daemon learned of it
    source: TouchSource  # typed into the row, or a staff cell edited between cycles
    channel: str = ""  # for a touch: Call, Email, Text, … as typed or as the plan's step says
    note: str = ""  # the free text typed after the outcome (`called - wants finance options`)
    value: str = ""  # the new status, the snooze date (ISO) or "" when cleared, the new owner


@dataclass(frozen=True, slots=True)
class SeenCells:
    """A prospect's staff cells as the last finished sync saw them, as text: what the next
    cycle compares with to learn of staff edits (`edits_between`).

    Dates are ISO when readable, blank when the cell is; anything else is kept as typed, and
    a change to or from it is no date to learn from. `status` is the status's class (active,
    won, lost, …), `channel` the channel of the plan's step that was due then, which a
    `Last touch` moved later is taken to have used.
    """

    last_touch: str = ""
    touches: str = ""
    status: str = ""
    snooze_until: str = ""
    owner: str = ""
    channel: str = ""


def seen_cells(
    prospect: Prospect, decision: Decision, settings: Settings, *, date1904: bool = False
) -> SeenCells:
    """What `edits_between` compares, read from a prospect's staff cells and its decision."""
    count = read_count(prospect.cells.get("touches"))
    status, _ = read_status(prospect.cells.get("status"), settings.status_words)

    def day(field: str) -> str:
        try:
            found = read_date(prospect.cells.get(field), settings.date_order, date1904=date1904)
        except Unreadable:
            return prospect.text(field)
        return found.isoformat() if found else ""

    return SeenCells(
        last_touch=day("last_touch"),
        touches="" if count is None else str(count),
        status=status.value,
        snooze_until=day("snooze_until"),
        owner=prospect.text("owner"),
        channel=decision.step.channel if decision.step else "",
    )


def edits_between(
    before: Mapping[str, SeenCells],
    now: Mapping[str, SeenCells],
    today: date,
    logged: Iterable[Touch] = (),
) -> list[Touch]:
    """The touch log's new entries from staff cells edited since the last finished sync, by
    Sync ID (so a re-sort changes nothing); a prospect new since then has none.

    - `Last touch` moved later (or set): a touch on that day, with the channel of the step
      that was due; `Touches` went up: a touch today, unless `Last touch` moved too (one
      touch, however far the count rose).
    - `Status` changed class, `Snooze until` set, moved or cleared, the owner changed: one
      entry each, dated today.

    A row whose `Last touch` moved earlier or whose `Touches` went down shows an older copy
    of the log (a restore): it gives no entries at all, its other cells being as old. So
    that staff re-entering what the restore took away is not counted twice, `logged` (the
    prospects' entries so far) holds back a touch on a day that already has one, and a
    status, snooze or owner equal to the last one logged of its kind.
    """
    last_touch_days = set()
    latest: dict[tuple[str, str], str] = {}
    for entry in logged:
        if entry.kind == "touch":
            last_touch_days.add((entry.sync_id, entry.happened))
        else:
            latest[(entry.sync_id, entry.kind)] = entry.value
    found: list[Touch] = []
    for sync_id, cells in now.items():
        old = before.get(sync_id)
        if old is None or _restored(old, cells):
            continue
        edited = partial(Touch, sync_id, seen=today, source="edited")
        touch_day = None
        new_last, old_last = _day(cells.last_touch), _day(old.last_touch)
        if new_last is not None and (old_last is None or new_last > old_last):
            touch_day = new_last
        elif _count(cells.touches) > _count(old.touches) >= 0:
            touch_day = today
        if touch_day is not None and (sync_id, touch_day) not in last_touch_days:
            found.append(edited("touch", touch_day, channel=old.channel))
        changes: list[tuple[TouchKind, str, str]] = [
            ("status", old.status, cells.status),
            ("owner", old.owner, cells.owner),
        ]
        if _is_day_or_blank(cells.snooze_until) and _is_day_or_blank(old.snooze_until):
            changes.append(("snooze", old.snooze_until, cells.snooze_until))
        for kind, was, value in changes:
            if _differ(kind, was, value) and latest.get((sync_id, kind)) != value:
                found.append(edited(kind, today, value=value))
    return found


def _restored(old: SeenCells, now: SeenCells) -> bool:
    """Whether a row's cells are older than those the last sync saw: a restored copy."""
    new_last, old_last = _day(now.last_touch), _day(old.last_touch)
    earlier = old_last is not None and new_last is not None and new_last < old_last
    return earlier or 0 <= _count(now.touches) < _count(old.touches)


def _differ(kind: str, was: str, value: str) -> bool:
    if kind == "owner":  # `anna price` is still Anna Price
        return " ".join(was.split()).casefold() != " ".join(value.split()).casefold()
    return was != value


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:  # kept as typed: no date to learn from
        return None


def _is_day_or_blank(text: str) -> bool:
    return not text or _day(text) is not None


def _count(text: str) -> int:
    """A remembered `Touches`, or -1 where the cell held no number."""
    return int(text) if text else -1
