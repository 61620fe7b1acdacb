"""`explain`: why one prospect's next touch is what it is (SPEC §9).

The lines come from the rule's own record of what it did (`Decision.reasons`), so `explain` can
never tell a different story from the date in the sheet. This module only finds the prospect
and lays the reasons and the touch log out for the console; it never prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sheets_sync.core.sync import Changes, RowResult
from sheets_sync.core.touches import Touch
from sheets_sync.core.values import DateOrder, format_day, quoted
from sheets_sync.errors import SheetsSyncError


class ProspectNotFound(SheetsSyncError):
    """No row, or more than one, answers to what was asked for; the message says what to do."""


def find_prospect(rows: Sequence[RowResult], changes: Changes, wanted: str) -> RowResult:
    """The prospect `wanted` names: a row number, a Sync ID, or a name (any case; the starts of
    a name's words when no name matches whole). Several names alike are listed, to pick one by
    its row or its Sync ID. `changes` are what the next sync would write: a Sync ID it only
    plans to write is nowhere in the sheet yet, so it neither finds nor names a prospect."""
    text = wanted.strip()
    for result in rows:
        if text.isdigit() and result.row == int(text):
            return result
    for result in rows:  # a Sync ID may be all digits too: a row number is tried first
        if (
            sync_id := _sync_id_in_sheet(result, changes)
        ) and sync_id.casefold() == text.casefold():
            return result
    if text.isdigit():
        first, last = (rows[0].row, rows[-1].row) if rows else (0, 0)
        raise ProspectNotFound(
            f"row {text} holds no prospect; the log's prospects are on rows {first} to {last}"
            if rows
            else f"row {text} holds no prospect: the log has none"
        )
    typed = text.casefold().split()

    def name(result: RowResult) -> list[str]:
        return result.prospect.text("name").casefold().split()

    def begins(result: RowResult) -> bool:  # "ann le" finds Ann Lee, not Hannah
        return all(any(word.startswith(part) for word in name(result)) for part in typed)

    found = [result for result in rows if typed and name(result) == typed] or [
        result for result in rows if typed and begins(result)
    ]
    if len(found) == 1:
        return found[0]
    if not found:
        raise ProspectNotFound(
            f"no prospect is called {quoted(text)}, and no row or Sync ID is {quoted(text)};"
            " give a row number, a name as the log spells it, or a Sync ID"
        )
    listed = "; ".join(
        f"row {result.row}: {result.prospect.text('name')} ({_sync_id(result, changes)})"
        for result in found
    )
    raise ProspectNotFound(
        f"{len(found)} prospects answer to {quoted(text)} ({listed}); give the row number or"
        " the Sync ID of the one you mean"
    )


def explain_lines(result: RowResult, changes: Changes, today: date, order: DateOrder) -> list[str]:
    """The prospect, then each step of the rule in the order it took them, numbered."""
    decision = result.decision
    who = result.prospect.text("name") or "(no name)"
    owner = result.prospect.text("owner") or "none"
    lines = [
        f"Row {result.row}: {who}, owner {owner} ({_sync_id(result, changes)}),"
        f" on {format_day(today, order, with_year=True)}"
    ]
    lines += [f"  {n}. {reason.words}" for n, reason in enumerate(decision.reasons, 1)]
    if not decision.reasons or decision.typed_over:
        # The rule never got to say (a fault on the row), or the sync flagged the row after it.
        lines.append(f"  The row shows: {decision.status_text}")
    return lines


def _sync_id_in_sheet(result: RowResult, changes: Changes) -> str:
    """The row's Sync ID as the sheet holds it; "" when the next sync would first write it."""
    planned = (result.row, changes.layout.managed["sync_id"]) in changes.cells
    return "" if planned else result.sync_id


def _sync_id(result: RowResult, changes: Changes) -> str:
    sync_id = _sync_id_in_sheet(result, changes)
    return f"Sync ID {sync_id}" if sync_id else "no Sync ID yet"


def touch_log_lines(touches: Sequence[Touch], order: DateOrder) -> list[str]:
    """The prospect's touch log, oldest first, one line per entry."""
    if not touches:
        return ["Touch log: none recorded yet"]
    lines = ["Touch log:"]
    for touch in sorted(touches, key=lambda touch: (touch.happened, touch.seen)):
        seen = (
            f", seen {format_day(touch.seen, order, with_year=True)}"
            if touch.seen != touch.happened
            else ""
        )
        source = "typed in the row" if touch.source == "typed" else "a staff cell edited"
        note = f" — {touch.note}" if touch.note else ""
        happened = format_day(touch.happened, order, with_year=True)
        lines.append(f"  {happened}: {_what(touch, order)} ({source}{seen}){note}")
    return lines


def _what(touch: Touch, order: DateOrder) -> str:
    if touch.kind == "touch":
        return f"{touch.channel} (a touch)" if touch.channel else "a touch"
    if touch.kind == "status":
        return f"status became {quoted(touch.value)}" if touch.value else "status cleared"
    if touch.kind == "snooze":
        if not touch.value:
            return "snooze cleared"
        until = format_day(date.fromisoformat(touch.value), order, with_year=True)
        return f"snoozed until {until}"
    return f"owner became {quoted(touch.value)}" if touch.value else "owner cleared"
