"""The Google Sheets backend: the prospect log in a shared Google Sheet, through gspread.

Requests per cycle: the sheets' ids, time zone and locale are fetched once and kept. Each
read is one `spreadsheets.get` with grid data for the log and the Staff sheet and the log's
colour rules, values unformatted (dates as serial numbers, so `03/04` is never guessed),
answered as compact gzipped JSON. A write is one `values:batchUpdate` (values RAW: text never
becomes a formula; one range per run of rows in a column; a further body for each 2 MB more,
on a first sync of tens of thousands of rows), the colour rules when they are missing or were
deleted, and one read to check.

The API has no transactions, and staff sort, insert and delete rows while a cycle runs. Rows
are known by their Sync ID, a cell that moves with its row; the daemon writes an ID only
where it just created one, or where its own misplaced write covered the row's old one. After a
write it reads the sheet again and checks that every row holds the values computed for its ID
(new rows: for its staff cells); where one does not, it writes the right values to where that
row is now, and checks again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from google.auth.transport.requests import AuthorizedSession
from google.oauth2 import service_account

from sheets_sync.backends.base import Snapshot, SourceChanged, SourceError
from sheets_sync.backends.gsheets.check import Expected, comparable
from sheets_sync.backends.gsheets.client import SCOPES, Connection, RetryingHTTPClient
from sheets_sync.backends.gsheets.grid import fingerprint, grid_values, merged_areas, quoted
from sheets_sync.backends.gsheets.ranges import value_batches
from sheets_sync.backends.gsheets.rules import colour_rules, date_format, formulas, has_rules
from sheets_sync.core.columns import Merge, spread_merged_values
from sheets_sync.core.sync import Changes
from sheets_sync.core.values import CellValue

__all__ = ["SCOPES", "GSheetsBackend", "RetryingHTTPClient"]

CHECK_ROUNDS = 8  # write-and-check rounds before a cycle gives up on a restless sheet

_LAYOUT_FIELDS = "properties(timeZone,locale),sheets(properties(sheetId,title,gridProperties))"
_GRID_FIELDS = (
    "sheets(properties(sheetId,title,gridProperties),conditionalFormats,merges,"
    "data(rowData(values(effectiveValue,userEnteredFormat(numberFormat(type))))))"
)


class GSheetsBackend:
    """A prospect log in a Google Sheet. `session` lets the tests route requests elsewhere."""

    def __init__(
        self,
        spreadsheet_id: str,
        *,
        credentials: Path,
        worksheet: str = "Prospects",
        staff_worksheet: str | None = "Staff",
        session: Callable[[service_account.Credentials], AuthorizedSession] = AuthorizedSession,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 30.0,
    ) -> None:
        self.spreadsheet_id = spreadsheet_id
        self.worksheet = worksheet
        self.staff_worksheet = staff_worksheet
        self._google = Connection(
            spreadsheet_id, credentials=credentials, session=session, sleep=sleep, timeout=timeout
        )
        self._layout: dict[str, Any] | None = None  # sheet ids, time zone: fetched once
        self._last: _Read | None = None

    @property
    def description(self) -> str:
        return self._google.description

    def link(self, sheet_id: int) -> str:
        base = f"https://docs.google.com/spreadsheets/d/{self.spreadsheet_id}/edit"
        return f"{base}#gid={sheet_id}&range=A{{row}}"

    # --- reading ------------------------------------------------------------------------

    def read(self) -> Snapshot:
        read = self._read()
        return Snapshot(
            rows=read.rows,
            staff=read.staff,
            version=read.version,
            row_links=self.link(read.sheet_id),
            merges=read.merges,
        )

    def version(self) -> None:
        """Google Sheets has no cheap version: knowing means reading."""
        return None

    def _read(self) -> _Read:
        layout = self._sheet_layout()
        log = self._sheet(layout, self.worksheet)
        ranges = [quoted(log["title"])]
        staff = self._find_sheet(layout, self.staff_worksheet) if self.staff_worksheet else None
        if staff is not None:
            ranges.append(quoted(staff["title"]))
        try:
            answer = self._google.call(
                "read the log",
                lambda client: client.fetch_sheet_metadata(
                    self.spreadsheet_id,
                    params={"ranges": ranges, "includeGridData": "true", "fields": _GRID_FIELDS},
                ),
            )
        except SourceError:
            self._layout = None  # a tab renamed, deleted or added: look again next time
            raise
        # The answer lists the sheets in tab order, not in the order of `ranges`.
        by_id = {
            sheet.get("properties", {}).get("sheetId"): sheet for sheet in answer.get("sheets", [])
        }
        by_title = {
            sheet.get("properties", {}).get("title"): sheet for sheet in answer.get("sheets", [])
        }
        if log["sheetId"] not in by_id:  # the tab was made anew: its id is new
            self._layout = None
        log_sheet = by_id.get(log["sheetId"]) or by_title.get(log["title"], {})
        staff_sheet = None
        if staff is not None:
            staff_sheet = by_id.get(staff["sheetId"]) or by_title.get(staff["title"])
        rows = grid_values(log_sheet)
        merges = merged_areas(log_sheet)
        spread_merged_values(rows, merges)
        staff_rows = grid_values(staff_sheet) if staff_sheet is not None else None
        properties = log_sheet.get("properties", {})
        rules = log_sheet.get("conditionalFormats", [])
        read = _Read(
            rows=rows,
            staff=staff_rows,
            title=str(properties.get("title", log["title"])),
            sheet_id=int(properties.get("sheetId", log["sheetId"])),
            grid=properties.get("gridProperties", {}),
            rules=rules,
            merges=merges,
            version=fingerprint(rows, staff_rows),
        )
        self._last = read
        return read

    # --- writing ------------------------------------------------------------------------

    def write(self, changes: Changes, version: str) -> str | None:
        last = self._last
        if last is None or last.version != version:
            raise SourceChanged(f"{self.description} was read again since this plan was made")
        wanted_rules = colour_rules(changes, last.sheet_id)
        rules_missing = not has_rules(last.rules, wanted_rules)
        if not changes.cells and not rules_missing:
            return None
        updates: list[dict[str, Any]] = []
        width = max(changes.layout.managed.values()) + 1
        if width > int(last.grid.get("columnCount", 26)):
            updates.append(
                {
                    "appendDimension": {
                        "sheetId": last.sheet_id,
                        "dimension": "COLUMNS",
                        "length": width - int(last.grid.get("columnCount", 26)),
                    }
                }
            )
        updates += hidden_sync_id(changes, last.sheet_id)
        if rules_missing:
            ours = formulas(wanted_rules)
            updates += [
                {"deleteConditionalFormatRule": {"sheetId": last.sheet_id, "index": index}}
                for index in reversed(range(len(last.rules)))
                if formulas([last.rules[index]]) & ours
            ]
            updates += [
                {"addConditionalFormatRule": {"rule": rule, "index": n}}
                for n, rule in enumerate(wanted_rules)
            ]
            updates.append(date_format(changes, last.sheet_id))
        if updates:
            self._google.call(
                "add columns and colour rules",
                lambda client: client.batch_update(self.spreadsheet_id, {"requests": updates}),
            )
        expected = Expected.of(changes, last.rows)
        cells = dict(changes.cells)
        rows = last.rows  # the rows the cells were computed for
        written: dict[int, set[object]] = {}
        for _ in range(CHECK_ROUNDS):
            placed: dict[tuple[int, int], tuple[str, object]] = {}
            if cells:
                self._write_cells(last.title, cells)
                for (number, col), value in cells.items():
                    written.setdefault(col, set()).add(comparable(value))
                    row = rows[number - 1] if number <= len(rows) else []
                    placed[(number, col)] = (expected.key(row), comparable(value))
            now = self._read()
            cells = expected.repairs(now.rows, changes, written, placed)
            rows = now.rows
            if not cells:
                return now.version
        raise SourceError(
            f"{self.description} kept changing under the sync ({CHECK_ROUNDS} rounds of "
            "writing and checking); the next cycle tries again"
        )

    def _write_cells(self, title: str, cells: Mapping[tuple[int, int], str | date | None]) -> None:
        """One range per run of rows in a column, values RAW; one body when it fits in 2 MB.

        A bigger write (a first sync of some 40,000 rows) goes in several bodies, one after
        the other, so a fault between them leaves part written: the engine remembered those
        values as ours before the write began, and the next cycle's check finds and finishes
        the rest, as it does after a misplaced write. The API gives no transaction across
        requests, and one 20 MB body is refused outright."""
        for data in value_batches(quoted(title), cells):
            self._write_values({"valueInputOption": "RAW", "data": data})

    def _write_values(self, body: Mapping[str, Any]) -> None:
        self._google.call(
            "write the managed columns",
            lambda client: client.values_batch_update(self.spreadsheet_id, body=body),
        )

    # --- connecting ---------------------------------------------------------------------

    def _sheet_layout(self) -> dict[str, Any]:
        if self._layout is None:
            self._layout = self._google.call(
                "open the spreadsheet",
                lambda client: client.fetch_sheet_metadata(
                    self.spreadsheet_id, params={"fields": _LAYOUT_FIELDS}
                ),
            )
        return self._layout

    def _sheet(self, layout: Mapping[str, Any], name: str) -> dict[str, Any]:
        found = self._find_sheet(layout, name)
        if found is None:
            titles = ", ".join(f'"{s["properties"]["title"]}"' for s in layout.get("sheets", []))
            raise SourceError(
                f'{self.description} has no worksheet "{name}" (it has {titles}); rename '
                "the tab or set [source].worksheet"
            )
        return found

    @staticmethod
    def _find_sheet(layout: Mapping[str, Any], name: str | None) -> dict[str, Any] | None:
        for sheet in layout.get("sheets", []):
            properties: dict[str, Any] = sheet.get("properties", {})
            if name is not None and properties.get("title", "").casefold() == name.casefold():
                return properties
        return None


def hidden_sync_id(changes: Changes, sheet_id: int) -> list[dict[str, Any]]:
    """Hide the Sync ID column when this write creates it, as the README promises and the
    xlsx backend does. Only then: staff who show it again (to read an ID out to support, say)
    keep it shown, and a cycle never spends a request on a column already set up."""
    col = changes.layout.managed["sync_id"]
    if col not in changes.layout.new_headers:
        return []
    span = {"sheetId": sheet_id, "dimension": "COLUMNS", "startIndex": col, "endIndex": col + 1}
    return [
        {
            "updateDimensionProperties": {
                "range": span,
                "properties": {"hiddenByUser": True},
                "fields": "hiddenByUser",
            }
        }
    ]


class _Read:
    def __init__(
        self,
        *,
        rows: list[list[CellValue]],
        staff: list[list[CellValue]] | None,
        title: str,
        sheet_id: int,
        grid: Mapping[str, Any],
        rules: list[dict[str, Any]],
        merges: list[Merge],
        version: str,
    ) -> None:
        self.rows, self.staff, self.title, self.sheet_id = rows, staff, title, sheet_id
        self.grid, self.rules, self.merges, self.version = grid, rules, merges, version
