"""The touch log for people (SPEC §8, `sheets-sync history`): one prospect's or everyone's,
printed as a table or written as CSV or a workbook.

The log is read (as `check` reads it, writing nothing) to give each entry its prospect's row
and name where the log still holds them; the touch log itself keeps only Sync IDs. The export
stays on this computer, so it holds names and notes also when `[mail] detail = "minimal"`
keeps them out of email.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import astuple, dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from sheets_sync.core.sync import RowResult
from sheets_sync.core.touches import Touch
from sheets_sync.core.values import DateOrder, format_day
from sheets_sync.errors import SheetsSyncError
from sheets_sync.export import inert, write_workbook, written

COLUMNS = ("Day", "Row", "Name", "Kind", "Channel", "Value", "Note", "Source", "Seen", "Sync ID")
_HEX_ID = re.compile(r"[0-9a-f]{8}")


@dataclass(frozen=True)
class HistoryLine:
    """One entry of the touch log, with its prospect's row and name (None, "" once gone)."""

    day: date  # the day it happened
    row: int | None
    name: str
    kind: str
    channel: str
    value: str  # the new status class, snooze date (ISO) or owner; "" for a touch
    note: str
    source: str  # typed or edited
    seen: date
    sync_id: str


class ProspectNotFound(SheetsSyncError):
    """The row, name or Sync ID given to `history` names no prospect."""


def prospect_ids(rows: Sequence[RowResult], logged: Sequence[Touch], who: str) -> list[str]:
    """The Sync IDs `who` names: a row number, a Sync ID (of the log or the touch log, where a
    prospect whose row is gone still is), or a name (case and spaces aside; every prospect of
    that name)."""
    text = who.strip()
    if text.isdigit():
        found = [row.sync_id for row in rows if row.row == int(text)]
        if not found:
            raise ProspectNotFound(f"row {text} holds no prospect; give a row with a name in it")
        return found
    known = {row.sync_id for row in rows} | {entry.sync_id for entry in logged}
    if _HEX_ID.fullmatch(text.casefold()) and text.casefold() in known:
        return [text.casefold()]
    wanted = " ".join(text.split()).casefold()
    found = [
        row.sync_id
        for row in rows
        if " ".join(row.prospect.text("name").split()).casefold() == wanted
    ]
    if not found:
        raise ProspectNotFound(
            f"no prospect is named {who!r} in the log; give their name as in the Name column,"
            " their row number or their Sync ID"
        )
    return found


def history_lines(
    rows: Sequence[RowResult], logged: Sequence[Touch], sync_ids: Sequence[str] | None = None
) -> list[HistoryLine]:
    """The entries of `logged` (those of `sync_ids`, or all), the day they happened first."""
    where = {row.sync_id: row for row in rows}
    chosen = [entry for entry in logged if sync_ids is None or entry.sync_id in sync_ids]
    lines = []
    for entry in sorted(chosen, key=lambda entry: entry.happened):  # stable: as logged
        row = where.get(entry.sync_id)
        lines.append(
            HistoryLine(
                entry.happened,
                row.row if row else None,
                row.prospect.text("name") if row else "",
                entry.kind,
                entry.channel,
                entry.value,
                entry.note,
                entry.source,
                entry.seen,
                entry.sync_id,
            )
        )
    return lines


def history_table(lines: Sequence[HistoryLine], date_order: DateOrder) -> list[str]:
    """The lines as a table to print, with the clinic's dates."""
    if not lines:
        return ["The touch log has no entries for this yet."]
    shown = [
        [
            format_day(line.day, date_order, with_year=True),
            str(line.row) if line.row else "",
            line.name or f"(gone; Sync ID {line.sync_id})",
            line.kind,
            line.channel,
            line.value,
            line.note,
            line.source,
        ]
        for line in lines
    ]
    headers = list(COLUMNS[:8])
    widths = [max(len(cells[i]) for cells in [headers, *shown]) for i in range(len(headers))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()
        for cells in [headers, *shown]
    ]


def history_frame(lines: Sequence[HistoryLine]) -> pd.DataFrame:
    return pd.DataFrame([astuple(line) for line in lines], columns=list(COLUMNS)).astype(
        {"Row": "Int64"}
    )


def write_csv(lines: Sequence[HistoryLine], path: Path) -> None:
    """CSV for a spreadsheet: text a spreadsheet would run as a formula (`=…`, `+…`, `-…`,
    `@…`) starts with an apostrophe, as OWASP's advice on CSV injection has it."""
    frame = history_frame(lines)
    for column in ("Name", "Channel", "Value", "Note", "Source"):
        frame[column] = frame[column].map(inert)
    written(path, "the touch log", lambda: frame.to_csv(path, index=False, date_format="%Y-%m-%d"))


def write_xlsx(lines: Sequence[HistoryLine], path: Path) -> None:
    """A workbook with one sheet, `Touch log`; a note starting with `=` stays text."""
    write_workbook(path, {"Touch log": history_frame(lines)}, "the touch log")
