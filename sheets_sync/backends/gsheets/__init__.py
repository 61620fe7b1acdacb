"""The Google Sheets backend: the prospect log in a shared Google Sheet, through gspread.

Requests per cycle: the sheets' ids, time zone and locale are fetched once and kept. Each
read is one `spreadsheets.get` with grid data for the log and the Staff sheet and the log's
colour rules, values unformatted (dates as serial numbers, so `03/04` is never guessed),
answered as compact gzipped JSON. A write is one `values:batchUpdate` (values RAW: text never
becomes a formula; one range per run of rows in a column; a further body for each 2 MB more,
on a first sync of tens of thousands of rows), the colour rules when they are missing, doubled
or moved by Google (read again just before, when they are changed by position: see rules.py),
and one read to check.

The API has no transactions, and staff sort, insert and delete rows while a cycle runs. Rows
are known by their Sync ID, a cell that moves with its row; the daemon writes an ID only
where it just created one, or where its own misplaced write covered the row's old one. After a
write it reads the sheet again and checks that every row holds the values computed for its ID
(new rows: for its staff cells); where one does not, it writes the right values to where that
row is now, and checks again.

A typed outcome's staff cells (SPEC §8) go in the same write. The rows they are for are read
again just before it, and the write refused if any of them changed; the check then puts back
any staff cell a row that moved took from the write, and writes the outcome where its
prospect is now, into cells still holding what was read (check.py, `Expected`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from google.auth.credentials import Credentials
from google.auth.transport.requests import AuthorizedSession

from sheets_sync.backends.base import Snapshot, SourceBusy, SourceChanged, SourceError
from sheets_sync.backends.gsheets.check import Expected, comparable, uncovered
from sheets_sync.backends.gsheets.client import SCOPES, Connection, RetryingHTTPClient
from sheets_sync.backends.gsheets.grid import (
    fingerprint,
    first_loading,
    grid_values,
    merged_areas,
    quoted,
)
from sheets_sync.backends.gsheets.ranges import value_batches
from sheets_sync.backends.gsheets.rules import by_position, date_format, rule_requests
from sheets_sync.core.columns import Merge, Table, spread_merged_values
from sheets_sync.core.locale import SheetSettings
from sheets_sync.core.sync import Changes
from sheets_sync.core.values import CellValue

__all__ = ["SCOPES", "GSheetsBackend", "RetryingHTTPClient"]

CHECK_ROUNDS = 8  # write-and-check rounds before a cycle gives up on a restless sheet
# Pauses (seconds) before reading again while a cell shows `Loading…`; then the cycle waits.
LOADING_PAUSES = (2.0, 5.0, 10.0)
_READ_WAITS = "nothing was written, and the sync tries again next cycle"
_CHECK_WAITS = (
    "the values were written but not checked yet; the next cycle reads the sheet again and "
    "puts right whatever is not"
)

_LAYOUT_FIELDS = "properties(timeZone,locale),sheets(properties(sheetId,title,gridProperties))"
_RULES_FIELDS = "sheets(properties(sheetId),conditionalFormats)"
_GRID_FIELDS = (
    "sheets(properties(sheetId,title,gridProperties),conditionalFormats,merges,"
    "basicFilter(range,sortSpecs,filterSpecs,tableId),tables(tableId,name,range),"
    "data(rowData(values(effectiveValue,userEnteredFormat(numberFormat(type)),"
    "chipRuns(startIndex,chip(personProperties(email)))))))"
)


class GSheetsBackend:
    """A prospect log in a Google Sheet, reached with a service-account key, or with `as_user`
    the token of a person signed in by `sheets-sync google-login` (see client.Connection).
    `session` lets the tests route requests elsewhere."""

    def __init__(
        self,
        spreadsheet_id: str,
        *,
        credentials: Path,
        as_user: bool = False,
        worksheet: str = "Prospects",
        staff_worksheet: str | None = "Staff",
        session: Callable[[Credentials], AuthorizedSession] = AuthorizedSession,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 30.0,
    ) -> None:
        self.spreadsheet_id = spreadsheet_id
        self.worksheet = worksheet
        self.staff_worksheet = staff_worksheet
        self._google = Connection(
            spreadsheet_id,
            credentials=credentials,
            as_user=as_user,
            session=session,
            sleep=sleep,
            timeout=timeout,
        )
        self._sleep = sleep
        self._layout: dict[str, Any] | None = None  # sheet ids, time zone: fetched once
        self._sheet_settings: SheetSettings | None = None  # its locale and time zone
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
            tables=[table for table, _ in read.tables],
            settings=self._sheet_settings,
            sheet_names=[
                str(sheet.get("properties", {}).get("title", ""))
                for sheet in (self._layout or {}).get("sheets", [])
            ],
        )

    def version(self) -> None:
        """Google Sheets has no cheap version: knowing means reading."""
        return None

    def _read(self, then: str = _READ_WAITS) -> _Read:
        """The log and the Staff sheet as they stand once no cell shows `Loading…`.

        A cell still loading (IMPORTRANGE fetching, a long formula computing) is read again
        after a pause, a few times; if it still loads, SourceBusy: nothing computed from such
        a read could be trusted, not even which prospect a row is. `then` says what that
        means for this cycle.
        """
        layout = self._sheet_layout()
        log = self._sheet(layout, self.worksheet)
        ranges = [quoted(log["title"])]
        staff = self._find_sheet(layout, self.staff_worksheet) if self.staff_worksheet else None
        if staff is not None:
            ranges.append(quoted(staff["title"]))
        for pause in (*LOADING_PAUSES, None):
            try:
                answer = self._google.call(
                    "read the log",
                    lambda client: client.fetch_sheet_metadata(
                        self.spreadsheet_id,
                        params={
                            "ranges": ranges,
                            "includeGridData": "true",
                            "fields": _GRID_FIELDS,
                        },
                    ),
                )
            except SourceError:
                self._layout = None  # a tab renamed, deleted or added: look again next time
                raise
            loading = _loading(answer)
            if loading is None:
                break
            if pause is None:
                raise SourceBusy(
                    f"{self.description}: {loading} still shows Loading… (a formula such as "
                    f"IMPORTRANGE is still calculating); {then}"
                )
            self._sleep(pause)
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
            basic_filter=log_sheet.get("basicFilter"),
            tables=tables_of(log_sheet),
        )
        self._last = read
        return read

    # --- writing ------------------------------------------------------------------------

    def write(self, changes: Changes, version: str) -> str | None:
        last = self._last
        if last is None or last.version != version:
            raise SourceChanged(f"{self.description} was read again since this plan was made")
        rules = rule_requests(last.rules, changes, last.sheet_id)
        cells: dict[tuple[int, int], CellValue] = uncovered(changes.all_cells(), last.merges)
        widen = widened_frames(changes, last.sheet_id, last.basic_filter, last.tables)
        if not cells and not rules and not widen:
            return None
        updates: list[dict[str, Any]] = []
        width = max(*changes.layout.managed.values(), *(col for _, col in cells)) + 1
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
        if by_position(rules):  # never by the positions of a read made before the plan
            rules = rule_requests(self._rules_now(last), changes, last.sheet_id)
        if rules:
            updates += [*rules, date_format(changes, last.sheet_id)]
        updates += widen
        updates += outcome_date_formats(changes, last.sheet_id)
        if updates:
            try:
                self._google.call(
                    "add columns and colour rules",
                    lambda client: client.batch_update(self.spreadsheet_id, {"requests": updates}),
                )
            except SourceError:
                # A retry refused whole because its first try, whose answer was lost, was
                # applied (see rule_requests) leaves the rules right: only then go on.
                if not by_position(rules) or rule_requests(
                    self._rules_now(last), changes, last.sheet_id
                ):
                    raise
        if changes.staff_cells:
            self._outcome_rows_as_read(changes, last)
        expected = Expected.of(changes, last.rows)
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
            now = self._read(then=_CHECK_WAITS)
            cells = uncovered(expected.repairs(now.rows, changes, written, placed), now.merges)
            rows = now.rows
            if not cells:
                return now.version
        raise SourceError(
            f"{self.description} kept changing under the sync ({CHECK_ROUNDS} rounds of "
            "writing and checking); the next cycle tries again"
        )

    def _outcome_rows_as_read(self, changes: Changes, last: _Read) -> None:
        """Read the log again just before a write that carries out typed outcomes, and refuse
        it (SourceChanged: the cycle reads again and plans anew) when a row an outcome is for
        no longer holds what it held at the plan's read: a person changed it, or rows were
        sorted, inserted or deleted meanwhile. The API writes by position with no condition,
        so this leaves the write one request's time to go wrong in; the check after it puts
        right what does."""
        now = self._read()
        for number in sorted({number for number, _ in changes.staff_cells}):
            if _row(now.rows, number) != _row(last.rows, number):
                raise SourceChanged(
                    f"{self.description}: row {number}, where an outcome was typed, changed "
                    "while it was being synced"
                )

    def _write_cells(self, title: str, cells: Mapping[tuple[int, int], CellValue]) -> None:
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
            self._sheet_settings = _settings(self._layout)
        return self._layout

    def _rules_now(self, last: _Read) -> list[dict[str, Any]]:
        """The log's colour rules as they are now: read just before changing them by position."""
        answer = self._google.call(
            "read the colour rules",
            lambda client: client.fetch_sheet_metadata(
                self.spreadsheet_id,
                params={"ranges": [quoted(last.title)], "fields": _RULES_FIELDS},
            ),
        )
        for sheet in answer.get("sheets", []):
            if sheet.get("properties", {}).get("sheetId") == last.sheet_id:
                return list(sheet.get("conditionalFormats", []))
        return []

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


def _loading(answer: Mapping[str, Any]) -> str | None:
    """Which cell of the sheets read shows `Loading…`, for people; None when none does."""
    for sheet in answer.get("sheets", []):
        cell = first_loading(sheet)
        if cell is not None:
            return f'cell {cell} of the "{sheet.get("properties", {}).get("title")}" sheet'
    return None


def _settings(layout: Mapping[str, Any]) -> SheetSettings | None:
    """The spreadsheet's locale and time zone (File > Settings): Google reads the dates staff
    type by the one, and runs TODAY() in the colour rules by the other."""
    properties = layout.get("properties", {})
    if "locale" not in properties or "timeZone" not in properties:
        return None
    return SheetSettings(locale=str(properties["locale"]), time_zone=str(properties["timeZone"]))


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
        basic_filter: dict[str, Any] | None,
        tables: list[tuple[Table, str]],
    ) -> None:
        self.rows, self.staff, self.title, self.sheet_id = rows, staff, title, sheet_id
        self.grid, self.rules, self.merges, self.version = grid, rules, merges, version
        self.basic_filter, self.tables = basic_filter, tables  # tables with their ids


def tables_of(sheet: Mapping[str, Any]) -> list[tuple[Table, str]]:
    """A sheet's Google Sheets tables as the layout sees them, each with its id. Their first
    row is their header; Google tables have no totals rows, only an optional coloured footer."""
    found = []
    for table in sheet.get("tables", []):
        area = table.get("range", {})
        if "endRowIndex" not in area or "endColumnIndex" not in area:
            continue
        shape = Table(
            name=str(table.get("name", "")),
            first_row=int(area.get("startRowIndex", 0)) + 1,
            first_col=int(area.get("startColumnIndex", 0)),
            last_row=int(area["endRowIndex"]),
            last_col=int(area["endColumnIndex"]) - 1,
        )
        found.append((shape, str(table.get("tableId", ""))))
    return found


def widened_frames(
    changes: Changes,
    sheet_id: int,
    basic_filter: Mapping[str, Any] | None,
    tables: list[tuple[Table, str]],
) -> list[dict[str, Any]]:
    """Requests that stretch the log's table, and a basic filter over the log, across the
    managed columns (and a column a typed outcome adds right of them), so that a sort
    through them moves a row's managed cells and Sync ID with its staff cells (as the xlsx
    path widens an autofilter). A filter or table that covers the log's header row from its
    first column on is the log's; others stay as made.
    """
    layout = changes.layout
    first_col = min(layout.staff.values())
    last_col = max(*layout.managed.values(), *layout.new_headers)  # and a column an outcome adds
    requests: list[dict[str, Any]] = []
    for table, table_id in tables:
        if table == layout.table and table.last_col < last_col:
            area = {
                "sheetId": sheet_id,
                "startRowIndex": table.first_row - 1,
                "endRowIndex": table.last_row,
                "startColumnIndex": table.first_col,
                "endColumnIndex": last_col + 1,
            }
            update = {"table": {"tableId": table_id, "range": area}, "fields": "range"}
            requests.append({"updateTable": update})
    area = (basic_filter or {}).get("range", {})
    if (
        basic_filter is not None
        and not basic_filter.get("tableId")
        and int(area.get("startRowIndex", 0)) == layout.header_row - 1
        and int(area.get("startColumnIndex", 0)) <= first_col
        and "endColumnIndex" in area
        and int(area["endColumnIndex"]) <= last_col
    ):
        wider = {**area, "sheetId": sheet_id, "endColumnIndex": last_col + 1}
        kept = {
            key: basic_filter[key] for key in ("sortSpecs", "filterSpecs") if key in basic_filter
        }
        requests.append({"setBasicFilter": {"filter": {**kept, "range": wider}}})
    return requests


def _row(rows: Sequence[Sequence[CellValue]], number: int) -> list[CellValue]:
    return list(rows[number - 1]) if number <= len(rows) else []


def outcome_date_formats(changes: Changes, sheet_id: int) -> list[dict[str, Any]]:
    """Show the dates a typed outcome writes (as serial numbers, values RAW) as dates, in the
    spreadsheet's own date format (a number format with no pattern takes the locale's,
    Sheets API reference, NumberFormat.pattern): the whole column when this write adds it,
    otherwise each cell that did not show a date when read. A cell already showing a date
    keeps the format staff gave it."""
    layout = changes.layout
    dates = [
        (number, col, before)
        for (number, col), (before, value) in sorted(changes.staff_cells.items())
        if isinstance(value, date)
    ]
    new_columns = sorted({col for _, col, _ in dates if col in layout.new_headers})
    areas = [(layout.first_row - 1, None, col) for col in new_columns] + [
        (number - 1, number, col)
        for number, col, before in dates
        if col not in layout.new_headers and not isinstance(before, date)
    ]
    return [
        {
            "repeatCell": {
                "range": {
                    "sheetId": sheet_id,
                    "startRowIndex": first,
                    **({} if end is None else {"endRowIndex": end}),
                    "startColumnIndex": col,
                    "endColumnIndex": col + 1,
                },
                "cell": {"userEnteredFormat": {"numberFormat": {"type": "DATE"}}},
                "fields": "userEnteredFormat.numberFormat",
            }
        }
        for first, end, col in areas
    ]
