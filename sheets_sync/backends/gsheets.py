"""The Google Sheets backend: the prospect log in a shared Google Sheet, through gspread.

Requests per cycle: the sheets' ids, time zone and locale are fetched once and kept. Each
read is one `spreadsheets.get` with grid data for the log and the Staff sheet and the log's
colour rules, values unformatted (dates as serial numbers, so `03/04` is never guessed). A
write is one `values:batchUpdate` (values RAW: text never becomes a formula), the colour rules
when they are missing or were deleted, and one read to check.

The API has no transactions, and staff sort, insert and delete rows while a cycle runs. Rows
are known by their Sync ID, a cell that moves with its row; the daemon writes an ID only
where it just created one, or where its own misplaced write covered the row's old one. After a
write it reads the sheet again and checks that every row holds the values computed for its ID
(new rows: for its staff cells); where one does not, it writes the right values to where that
row is now, and checks again.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from google.auth.exceptions import GoogleAuthError, RefreshError
from google.auth.transport.requests import AuthorizedSession
from google.oauth2 import service_account
from gspread.exceptions import APIError
from gspread.http_client import HTTPClient

from sheets_sync.backends.base import Snapshot, SourceChanged, SourceError
from sheets_sync.core.columns import Merge, column_letters, spread_merged_values
from sheets_sync.core.rule import Flag
from sheets_sync.core.sync import Changes
from sheets_sync.core.values import CellValue, readable

SCOPES = ["https://www.googleapis.com/auth/spreadsheets"]
_DATE_FORMAT = {"type": "DATE", "pattern": "ddd d mmm yyyy"}
EPOCH = date(1899, 12, 30)
CHECK_ROUNDS = 8  # write-and-check rounds before a cycle gives up on a restless sheet

_LAYOUT_FIELDS = "properties(timeZone,locale),sheets(properties(sheetId,title,gridProperties))"
_GRID_FIELDS = (
    "sheets(properties(sheetId,title,gridProperties),conditionalFormats,merges,"
    "data(rowData(values(effectiveValue,userEnteredFormat(numberFormat(type))))))"
)

# Colour rules: keyed on the date (TODAY()) so they are right after midnight before a sync.
_RULES: tuple[tuple[Flag, str, tuple[float, float, float]], ...] = (
    (Flag.CHECK_DATA, '=LEFT({S},10)="CHECK DATA"', (0.97, 0.77, 0.55)),
    (Flag.CLOSED, '=LEFT({S},6)="CLOSED"', (0.89, 0.89, 0.89)),
    (Flag.NURTURE, '={S}="NURTURE"', (0.79, 0.84, 0.91)),
    (Flag.OVERDUE, "=AND(ISNUMBER({T}),{T}<TODAY())", (0.96, 0.71, 0.65)),
    (Flag.DUE_TODAY, "=AND(ISNUMBER({T}),{T}=TODAY())", (1.0, 0.88, 0.54)),
    (Flag.UPCOMING, "=AND(ISNUMBER({T}),{T}>TODAY())", (0.70, 0.88, 0.82)),
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
        self._credentials_path = credentials
        self._make_session = session
        self._sleep = sleep
        self._timeout = timeout
        self._client: HTTPClient | None = None
        self._account = ""
        self._layout: dict[str, Any] | None = None  # sheet ids, time zone: fetched once
        self._last: _Read | None = None

    @property
    def description(self) -> str:
        return f"the Google Sheet {self.spreadsheet_id}"

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
        ranges = [_quoted(log["title"])]
        staff = self._find_sheet(layout, self.staff_worksheet) if self.staff_worksheet else None
        if staff is not None:
            ranges.append(_quoted(staff["title"]))
        try:
            answer = self._call(
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
        rows = _grid_values(log_sheet)
        merges = _merges(log_sheet)
        spread_merged_values(rows, merges)
        staff_rows = _grid_values(staff_sheet) if staff_sheet is not None else None
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
            version=_fingerprint(rows, staff_rows),
        )
        self._last = read
        return read

    # --- writing ------------------------------------------------------------------------

    def write(self, changes: Changes, version: str) -> str | None:
        last = self._last
        if last is None or last.version != version:
            raise SourceChanged(f"{self.description} was read again since this plan was made")
        wanted_rules = _rules_for(changes, last.sheet_id)
        rules_missing = not _has_rules(last.rules, wanted_rules)
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
        if rules_missing:
            ours = _formulas(wanted_rules)
            updates += [
                {"deleteConditionalFormatRule": {"sheetId": last.sheet_id, "index": index}}
                for index in reversed(range(len(last.rules)))
                if _formulas([last.rules[index]]) & ours
            ]
            updates += [
                {"addConditionalFormatRule": {"rule": rule, "index": n}}
                for n, rule in enumerate(wanted_rules)
            ]
            updates.append(_date_format(changes, last.sheet_id))
        if updates:
            self._call(
                "add columns and colour rules",
                lambda client: client.batch_update(self.spreadsheet_id, {"requests": updates}),
            )
        expected = _Expected.of(changes, last)
        cells = dict(changes.cells)
        rows = last.rows  # the rows the cells were computed for
        written: dict[int, set[object]] = {}
        for _ in range(CHECK_ROUNDS):
            placed: dict[tuple[int, int], tuple[str, object]] = {}
            if cells:
                self._write_cells(last.title, cells)
                for (number, col), value in cells.items():
                    written.setdefault(col, set()).add(_comparable(value))
                    row = rows[number - 1] if number <= len(rows) else []
                    placed[(number, col)] = (expected.key(row), _comparable(value))
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
        data = [
            {
                "range": f"{_quoted(title)}!{column_letters(col)}{row}",
                "majorDimension": "ROWS",
                "values": [[_raw(value)]],
            }
            for (row, col), value in sorted(cells.items())
        ]
        body = {"valueInputOption": "RAW", "data": data}
        self._call(
            "write the managed columns",
            lambda client: client.values_batch_update(self.spreadsheet_id, body=body),
        )

    # --- connecting ---------------------------------------------------------------------

    def _sheet_layout(self) -> dict[str, Any]:
        if self._layout is None:
            self._layout = self._call(
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

    def _http(self) -> HTTPClient:
        if self._client is None:
            try:
                credentials = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
                    str(self._credentials_path), scopes=SCOPES
                )
            except (OSError, ValueError, KeyError) as exc:
                raise SourceError(
                    f"the service-account key {self._credentials_path} cannot be used ({exc});"
                    " download a JSON key for the service account from the Google Cloud "
                    "console and set [source].credentials to it"
                ) from exc
            self._account = credentials.service_account_email
            session = self._make_session(credentials)
            client = RetryingHTTPClient(credentials, session, sleep=self._sleep)
            client.set_timeout(self._timeout)
            self._client = client
        return self._client

    def _call(self, doing: str, call: Callable[[HTTPClient], Any]) -> Any:
        """One API call, its faults retried, its errors turned into one clear message."""
        try:
            return call(self._http())
        except APIError as exc:
            raise SourceError(self._explain(doing, exc)) from exc
        except RefreshError as exc:
            raise SourceError(
                f"Google refused the service-account key {self._credentials_path} ({exc}); "
                "the key may have been deleted or disabled: create a new key for "
                f"{self._account or 'the service account'} and point [source].credentials "
                "at it"
            ) from exc
        except (GoogleAuthError, requests.RequestException) as exc:
            raise SourceError(f"could not {doing} in {self.description}: {exc}") from exc

    def _explain(self, doing: str, exc: APIError) -> str:
        error = exc.error if isinstance(exc.error, dict) else {}
        code, message = _status(exc), str(error.get("message", exc))
        if code == 404:
            return (
                f"{self.description} was not found: check [source].spreadsheet_id (the long "
                "id in the sheet's web address, between /d/ and /edit)"
            )
        if code == 403 and "has not been used in project" in message:
            return (
                f"the Google Sheets API is not enabled for the service account's project: {message}"
            )
        if code == 403:
            return (
                f"{self.description} is not shared with the service account: share it, as "
                f"Editor, with {self._account}"
            )
        return f"could not {doing} in {self.description}: {code} {message}"


# --- retries ---------------------------------------------------------------------------


class RetryingHTTPClient(HTTPClient):
    """gspread's client with bounded retries: 429, 5xx and timeouts are tried again after
    an exponential backoff with full jitter (Google's recipe), at most `ATTEMPTS` times; then
    the error goes to the caller, and the cycle gives up with a message."""

    ATTEMPTS = 5
    MAX_BACKOFF = 32.0
    RETRIED = frozenset({408, 429, 500, 502, 503, 504})

    def __init__(
        self,
        auth: service_account.Credentials,
        session: AuthorizedSession,
        *,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        super().__init__(auth, session)
        self._sleep = sleep
        self._jitter = jitter

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        for attempt in range(self.ATTEMPTS):
            last = attempt == self.ATTEMPTS - 1
            try:
                return super().request(*args, **kwargs)
            except APIError as exc:
                if last or _status(exc) not in self.RETRIED:
                    raise
            except (requests.Timeout, requests.ConnectionError):
                if last:
                    raise
            self._sleep(min(self.MAX_BACKOFF, 2.0**attempt) * self._jitter())
        raise AssertionError("unreachable")


def _status(exc: APIError) -> int:
    """The HTTP status of a failed call (gspread's `code` is -1 when the body is not JSON)."""
    status = getattr(exc.response, "status_code", None)
    return int(status) if isinstance(status, int) else int(exc.code)


# --- the sheet's contents --------------------------------------------------------------


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


class _Expected:
    """What each row should hold after the write, by Sync ID, and who each row is.

    An ID that was in the sheet before this cycle moves with its row: such a row is known
    by it. So is a row holding an ID new this cycle whose staff cells are those of the row
    the ID was written to (a copied row shares them with its original). Any other row is
    known by its staff cells, when no other row had the same ones.
    """

    def __init__(
        self,
        values: dict[str, dict[int, CellValue]],
        identity: dict[str, str],
        new_ids: dict[str, str],  # a new ID -> the staff cells of the row it was written to
        sync_col: int,
        staff_cols: Sequence[int],
        managed_cols: Sequence[int],
    ) -> None:
        self.values, self.identity, self.new_ids = values, identity, new_ids
        self.sync_col, self.staff_cols, self.managed_cols = sync_col, staff_cols, managed_cols

    @classmethod
    def of(cls, changes: Changes, read: _Read) -> _Expected:
        layout = changes.layout
        sync_col = layout.managed["sync_id"]
        staff_cols = sorted(layout.staff.values())
        managed_cols = [col for field, col in layout.managed.items() if field != "sync_id"]
        by_row: dict[int, dict[int, CellValue]] = {}
        for (number, col), value in changes.cells.items():
            by_row.setdefault(number, {})[col] = value
        values: dict[str, dict[int, CellValue]] = {}
        identity: dict[str, str] = {}
        seen: Counter[str] = Counter()
        new_ids: dict[str, str] = {}
        for number in range(layout.first_row, len(read.rows) + 1):
            row = read.rows[number - 1]
            written = by_row.get(number, {})
            key = _staff_key(row, staff_cols)
            seen[key] += 1
            sync_id = str(written.get(sync_col) or _cell(row, sync_col) or "")
            if not sync_id:
                continue
            if sync_col in written:
                new_ids[sync_id] = key
            values[sync_id] = {col: written.get(col, _cell(row, col)) for col in managed_cols}
            identity[key] = sync_id
        unique = {key: sync_id for key, sync_id in identity.items() if seen[key] == 1}
        return cls(values, unique, new_ids, sync_col, staff_cols, managed_cols)

    def key(self, row: Sequence[CellValue]) -> str:
        """A row's staff cells, as one string: who the row is, when no ID says so."""
        return _staff_key(row, self.staff_cols)

    def repairs(
        self,
        rows: Sequence[Sequence[CellValue]],
        changes: Changes,
        written: Mapping[int, set[object]],
        placed: Mapping[tuple[int, int], tuple[str, object]],
    ) -> dict[tuple[int, int], str | date | None]:
        """The cells that put every row right again; none when all are right.

        `written` holds, by column, every value this write has put anywhere; `placed`, for
        each cell the last round wrote, the staff cells of the row it was meant for and the
        value. On a row that is no known prospect, a cell holding one of our values is kept
        only where it was put for this very row; elsewhere it is ours, misplaced by a row
        that moved (staff inserted or deleted rows meanwhile), and is cleared. Anything
        else there is left as the person made it.
        """
        fixes: dict[tuple[int, int], str | date | None] = {}
        for number in range(changes.layout.first_row, len(rows) + 1):
            row = rows[number - 1]
            sync_id = str(_cell(row, self.sync_col) or "")
            key = _staff_key(row, self.staff_cols)
            if not (sync_id in self.values and self.new_ids.get(sync_id, key) == key):
                # Not an ID the sheet had before, nor a new one on its row: the row is who
                # its staff cells say, if anyone.
                known = self.identity.get(key, "")
                if not known and sync_id not in self.values:
                    key = self.key(row)
                    for col in (self.sync_col, *self.managed_cols):
                        value = _cell(row, col)
                        ours = value not in (None, "") and _comparable(value) in written.get(
                            col, ()
                        )
                        if ours and placed.get((number, col)) != (key, _comparable(value)):
                            fixes[(number, col)] = None
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
                if not _same(_cell(row, col), wanted.get(col)):
                    fixes[(number, col)] = _writable(wanted.get(col))
        return fixes


def _merges(sheet: Mapping[str, Any]) -> list[Merge]:
    """A sheet's merged cells, from the API's grid ranges (from 0, ends exclusive)."""
    return [
        (
            int(area.get("startRowIndex", 0)) + 1,
            int(area.get("startColumnIndex", 0)),
            int(area["endRowIndex"]),
            int(area["endColumnIndex"]) - 1,
        )
        for area in sheet.get("merges", [])
        if "endRowIndex" in area and "endColumnIndex" in area
    ]


def _grid_values(sheet: Mapping[str, Any]) -> list[list[CellValue]]:
    """A sheet's grid data as rows of values: dates where the cell shows a date."""
    data = sheet.get("data", [])
    rows: list[list[CellValue]] = []
    for row in data[0].get("rowData", []) if data else []:
        cells: list[CellValue] = []
        for cell in row.get("values", []):
            cells.append(_value(cell))
        while cells and cells[-1] is None:
            cells.pop()
        rows.append(cells)
    while rows and not rows[-1]:
        rows.pop()
    return rows


def _value(cell: Mapping[str, Any]) -> CellValue:
    effective = cell.get("effectiveValue", {})
    if "numberValue" in effective:
        number = float(effective["numberValue"])
        kind = cell.get("userEnteredFormat", {}).get("numberFormat", {}).get("type")
        if kind in ("DATE", "DATE_TIME"):
            try:
                moment = datetime.combine(EPOCH, datetime.min.time()) + timedelta(days=number)
            except (OverflowError, ValueError):
                pass  # 24112026 shown as a date is no date: handed over as the number it is
            else:
                return moment.date() if kind == "DATE" or number.is_integer() else moment
        return int(number) if number.is_integer() else number
    if "stringValue" in effective:
        # JSON may carry half an emoji ("\\ud83d"), which nothing downstream can store.
        return readable(str(effective["stringValue"]))
    if "boolValue" in effective:
        return bool(effective["boolValue"])
    if "errorValue" in effective:
        return str(effective["errorValue"].get("type", "#ERROR"))
    return None


def _raw(value: str | date | None) -> str | int:
    """A value for a RAW write: dates as serial numbers, blanks as empty strings."""
    if value is None:
        return ""
    if isinstance(value, date):
        return (value - EPOCH).days
    return value


def _writable(value: CellValue) -> str | date | None:
    if value is None or isinstance(value, str | date):
        return value
    return str(value)


def _same(now: CellValue, wanted: CellValue) -> bool:
    """A managed cell as read back against what was written (dates come back as serials,
    unless the column shows dates)."""
    if now in (None, "") and wanted in (None, ""):
        return True
    if isinstance(wanted, date) and isinstance(now, int | float) and not isinstance(now, bool):
        return (wanted - EPOCH).days == int(now)
    if isinstance(now, datetime):
        now = now.date()
    return bool(now == wanted)


def _comparable(value: CellValue) -> object:
    """A managed value as written or as read back: dates as serial numbers."""
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return (value - EPOCH).days
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _cell(row: Sequence[CellValue], col: int) -> CellValue:
    return row[col] if col < len(row) else None


def _staff_key(row: Sequence[CellValue], cols: Sequence[int]) -> str:
    return json.dumps([str(_cell(row, col)) for col in cols])


def _fingerprint(rows: object, staff: object) -> str:
    return hashlib.sha256(json.dumps([rows, staff], default=str).encode()).hexdigest()


def _quoted(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


def _rules_for(changes: Changes, sheet_id: int) -> list[dict[str, Any]]:
    managed = changes.layout.managed
    first = changes.layout.first_row
    status = f"${column_letters(managed['follow_up_status'])}{first + 0}"
    touch = f"${column_letters(managed['next_touch'])}{first + 0}"
    columns = sorted(managed[f] for f in ("next_touch", "next_action", "follow_up_status"))
    ranges = [
        {
            "sheetId": sheet_id,
            "startRowIndex": first - 1,
            "startColumnIndex": col,
            "endColumnIndex": col + 1,
        }
        for col in columns
    ]
    return [
        {
            "ranges": ranges,
            "booleanRule": {
                "condition": {
                    "type": "CUSTOM_FORMULA",
                    "values": [{"userEnteredValue": formula.format(S=status, T=touch)}],
                },
                "format": {"backgroundColor": {"red": r, "green": g, "blue": b}},
            },
        }
        for _, formula, (r, g, b) in _RULES
    ]


def _date_format(changes: Changes, sheet_id: int) -> dict[str, Any]:
    """Show the Next touch column as dates (they are written as serial numbers)."""
    col = changes.layout.managed["next_touch"]
    return {
        "repeatCell": {
            "range": {
                "sheetId": sheet_id,
                "startRowIndex": changes.layout.first_row - 1,
                "startColumnIndex": col,
                "endColumnIndex": col + 1,
            },
            "cell": {
                "userEnteredFormat": {"numberFormat": {"type": "DATE", "pattern": "ddd d mmm yyyy"}}
            },
            "fields": "userEnteredFormat.numberFormat",
        }
    }


def _has_rules(present: Sequence[Mapping[str, Any]], wanted: Sequence[Mapping[str, Any]]) -> bool:
    """Whether every wanted rule's formula is there (the API omits defaults, so compare the
    formulas, which identify the rules)."""
    return _formulas(wanted) <= _formulas(present)


def _formulas(rules: Sequence[Mapping[str, Any]]) -> set[str]:
    found = set()
    for rule in rules:
        condition = rule.get("booleanRule", {}).get("condition", {})
        for value in condition.get("values", []):
            found.add(str(value.get("userEnteredValue", "")))
    return found
