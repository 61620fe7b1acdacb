"""FakeSheets: a local HTTP server speaking the part of Sheets API v4 that the product uses."""

from __future__ import annotations

import copy
import datetime as dt
import gzip
import itertools
import json
import secrets
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import requests
from requests.adapters import HTTPAdapter

from tests.sheets_fake.auth import Auth, TokenError
from tests.sheets_fake.model import (
    ApiError,
    Cell,
    Mask,
    Sheet,
    Spreadsheet,
    a1_text,
    apply_mask,
    cell_data,
    cell_from_input,
    cell_from_python,
    invalid,
    mask_wants,
    parse_fields,
    strip_defaults,
)
from tests.sheets_fake.rules import shift_relative_rows
from tests.sheets_fake.schema import check_body, check_query

DEFAULT_EMAIL = "sheets-sync@clinic-project.iam.gserviceaccount.com"
PROJECT_NUMBER = "123456"
PREFIX = "/v4/spreadsheets/"
# Google's front end refuses a larger request body with a 400 "Request payload size exceeds
# the limit: 10485760 bytes." The Sheets API documents no hard limit, only a recommended 2 MB
# (developers.google.com/workspace/sheets/api/limits); the 10 MiB answer is what users report
# (jlolling/talendcomp_tGoogleSheet#1, SCRT-HQ/PSGSuite#62, values.update and batchUpdate).
MAX_BODY = 10 * 1024 * 1024


@dataclass
class Recorded:
    """One Sheets API request the fake answered."""

    method: str
    path: str
    query: dict[str, list[str]]
    request_bytes: int
    response_bytes: int
    status: int


FAULTS: dict[int, tuple[str, str]] = {
    400: ("Request contains an invalid argument.", "INVALID_ARGUMENT"),
    403: ("The caller does not have permission", "PERMISSION_DENIED"),
    404: ("Requested entity was not found.", "NOT_FOUND"),
    409: ("The operation was aborted.", "ABORTED"),
    500: ("Internal error encountered.", "INTERNAL"),
    502: ("Bad Gateway", "UNAVAILABLE"),
    503: ("The service is currently unavailable.", "UNAVAILABLE"),
    504: ("The service timed out.", "DEADLINE_EXCEEDED"),
}


def quota_error(kind: str) -> ApiError:
    message = (
        f"Quota exceeded for quota metric '{kind} requests' and limit '{kind} requests per"
        f" minute per user' of service 'sheets.googleapis.com' for consumer"
        f" 'project_number:{PROJECT_NUMBER}'."
    )
    details = [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "RATE_LIMIT_EXCEEDED",
            "domain": "googleapis.com",
            "metadata": {
                "service": "sheets.googleapis.com",
                "consumer": f"projects/{PROJECT_NUMBER}",
                "quota_metric": f"sheets.googleapis.com/{kind.lower()}_requests",
                "quota_limit": f"{kind}RequestsPerMinutePerUser",
            },
        }
    ]
    return ApiError(429, message, "RESOURCE_EXHAUSTED", details)


def disabled_error() -> ApiError:
    url = (
        "https://console.developers.google.com/apis/api/sheets.googleapis.com/overview"
        f"?project={PROJECT_NUMBER}"
    )
    message = (
        f"Google Sheets API has not been used in project {PROJECT_NUMBER} before or it is"
        f" disabled. Enable it by visiting {url} then retry. If you enabled this API recently,"
        " wait a few minutes for the action to propagate to our systems and retry."
    )
    details = [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "SERVICE_DISABLED",
            "domain": "googleapis.com",
            "metadata": {
                "service": "sheets.googleapis.com",
                "consumer": f"projects/{PROJECT_NUMBER}",
                "activationUrl": url,
                "serviceTitle": "Google Sheets API",
                "containerInfo": PROJECT_NUMBER,
            },
        },
        {
            "@type": "type.googleapis.com/google.rpc.Help",
            "links": [{"description": "Google developers console API activation", "url": url}],
        },
    ]
    return ApiError(403, message, "PERMISSION_DENIED", details)


def suspended_error() -> ApiError:
    """A project Google suspended (abuse, unpaid bills): every call is refused. The body users
    of Google APIs report (google/generative-ai-docs#356, firebase-ios-sdk#13968), with the
    `project_number:` consumer a service account's calls carry."""
    details = [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "CONSUMER_SUSPENDED",
            "domain": "googleapis.com",
            "metadata": {
                "service": "sheets.googleapis.com",
                "consumer": f"projects/{PROJECT_NUMBER}",
            },
        }
    ]
    message = f"Permission denied: Consumer 'project_number:{PROJECT_NUMBER}' has been suspended."
    return ApiError(403, message, "PERMISSION_DENIED", details)


# An Excel file kept in Drive has a Sheets-like id and opens in the browser, but the API refuses
# it (burnash/gspread#732, tidyverse/googlesheets4#275: "Save as Google Sheets" fixes it).
NOT_A_GOOGLE_SHEET = ApiError(
    400, "This operation is not supported for this document", "FAILED_PRECONDITION"
)

# A write into a protected range or sheet by someone not among its editors; Google answers
# 400 with the text the Sheets UI shows (reported in theoephraim/node-google-spreadsheet#20).
PROTECTED = ApiError(
    400,
    "You are trying to edit a protected cell or object. Please contact the spreadsheet owner"
    " to remove protection if you need to edit.",
    "INVALID_ARGUMENT",
)

# A Viewer or Commenter writing: the same 403 as a sheet not shared at all (recorded:
# ClientTest.test_access_private_spreadsheet); only the method tells them apart.
NO_PERMISSION = ApiError(403, "The caller does not have permission", "PERMISSION_DENIED")

UNAUTHENTICATED = ApiError(
    401,
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login"
    " cookie or other valid authentication credential. See"
    " https://developers.google.com/identity/sign-in/web/devconsole-project.",
    "UNAUTHENTICATED",
)

SUPPORTED_REQUESTS = (
    "addConditionalFormatRule",
    "deleteConditionalFormatRule",
    "updateConditionalFormatRule",
    "appendDimension",
    "updateDimensionProperties",
    "updateSheetProperties",
    "repeatCell",
    "addSheet",
    "deleteSheet",
    "updateSpreadsheetProperties",
    "setBasicFilter",
    "updateTable",
)


class FakeSheets:
    """A fake Google Sheets API v4 (and OAuth token endpoint) on 127.0.0.1."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.spreadsheets: dict[str, Spreadsheet] = {}
        self.auth = Auth()
        self.requests: list[Recorded] = []
        self.before_request: Callable[[str, str], None] | None = None
        self.api_disabled = False
        self.project_suspended = False
        self.roles: dict[str, dict[str, str]] = {}  # spreadsheet id -> email -> role
        self.protections: dict[str, list[dict[str, Any]]] = {}  # spreadsheet id -> ranges
        self.xlsx_files: set[str] = set()  # ids of Excel files stored in Drive
        self._caller = ""  # the account of the request being answered (under the lock)
        self._faults: list[int] = []
        self._stalls: list[float] = []
        self._lost_answers: list[str] = []
        self._sheet_ids = itertools.count(1_000_001, 7919)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeSheets:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.fake = self  # type: ignore[attr-defined]
        self._server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-sheets",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeSheets:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    # ------------------------------------------------------------------ auth

    def service_account_key(self, folder: Path, email: str = DEFAULT_EMAIL) -> Path:
        """Write a service-account JSON key whose token_uri is this fake; register its key."""
        return self.auth.make_key(folder, email, self.token_uri)

    def revoke(self, email: str) -> None:
        """Later token requests for this account fail with invalid_grant."""
        self.auth.revoke(email)

    def delete_account(self, email: str) -> None:
        """Later token requests for this account fail with "account not found"."""
        self.auth.delete_account(email)

    def pc_clock_ahead(self, seconds: float) -> None:
        """This PC's clock runs `seconds` ahead of Google's (negative: behind)."""
        self.auth.pc_clock_ahead = seconds

    def sign_in_down(self, status: int = 503, times: int = 1) -> None:
        """The next `times` token requests are answered `status` (Google's sign-in down)."""
        with self.lock:
            self.auth.outages.extend([status] * times)

    def oauth_client(self, folder: Path) -> Path:
        """Write a Desktop-app OAuth client file whose endpoints are this fake."""
        return self.auth.make_client(folder, self.token_uri, f"{self.url}/o/oauth2/auth")

    def adapter(self) -> HTTPAdapter:
        """A requests adapter sending https://sheets.googleapis.com/... to this fake."""
        return FakeAdapter(self.url)

    # ------------------------------------------------------------------ hooks, faults, counts

    def fail_next(self, status: int, times: int = 1) -> None:
        with self.lock:
            self._faults.extend([status] * times)

    def lose_next_answer(self, path_end: str, times: int = 1) -> None:
        """The next API request whose path ends with `path_end` (like "id:batchUpdate") is
        carried out, but its answer never arrives: the connection closes first, as when a
        network or a proxy fails on the way back. The client cannot tell it was applied."""
        with self.lock:
            self._lost_answers.extend([path_end] * times)

    def stall_next(self, seconds: float) -> None:
        with self.lock:
            self._stalls.append(seconds)

    def share(self, spreadsheet_id: str, email: str, role: str = "writer") -> None:
        """Share the sheet with `email` as Drive's "reader" (Viewer), "commenter" or "writer"
        (Editor). Viewers and commenters read; their writes get 403 PERMISSION_DENIED."""
        with self.lock:
            book = self.spreadsheets[spreadsheet_id]
            book.shared_with = (book.shared_with or set()) | {email}
            self.roles.setdefault(spreadsheet_id, {})[email] = role

    def protect(
        self,
        spreadsheet_id: str,
        sheet: str,
        box: tuple[int, int, int, int] | None = None,
        *,
        editors: tuple[str, ...] = (),
        description: str = "",
        warning_only: bool = False,
    ) -> None:
        """Protect (Data > Protect sheets and ranges) a box (row0, col0, row1, col1; 0-based,
        ends excluded) of a sheet, or the whole sheet; only `editors` may then write there.
        A warning-only protection asks people to confirm and never stops the API."""
        with self.lock:
            grid: dict[str, int] = {"sheetId": self._sheet(spreadsheet_id, sheet).sheet_id}
            if box is not None:
                names = ("startRowIndex", "startColumnIndex", "endRowIndex", "endColumnIndex")
                grid |= dict(zip(names, box, strict=True))
            protection: dict[str, Any] = {
                "protectedRangeId": secrets.randbelow(2**31),
                "range": grid,
                "editors": {"users": list(editors)},
            }
            if description:
                protection["description"] = description
            if warning_only:
                protection["warningOnly"] = True
            self.protections.setdefault(spreadsheet_id, []).append(protection)

    def store_as_xlsx(self, spreadsheet_id: str) -> None:
        """The file is an Excel workbook kept in Drive, not a Google Sheet."""
        with self.lock:
            self.xlsx_files.add(spreadsheet_id)

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()

    # ------------------------------------------------------------------ data

    def add_spreadsheet(
        self,
        spreadsheet_id: str,
        sheets: dict[str, list[list[object]]],
        *,
        title: str = "Clinic log",
        time_zone: str = "Europe/London",
        locale: str = "en_GB",
        shared_with: set[str] | None = None,
    ) -> None:
        book = Spreadsheet(spreadsheet_id, title, time_zone, locale, shared_with=shared_with)
        for index, (name, rows) in enumerate(sheets.items()):
            width = max((len(row) for row in rows), default=0)
            sheet = Sheet(
                sheet_id=0 if index == 0 else next(self._sheet_ids),
                title=name,
                row_count=max(1000, len(rows)),
                column_count=max(26, width),
            )
            for r, row in enumerate(rows):
                for c, value in enumerate(row):
                    cell = cell_from_python(value, locale)
                    if cell is not None:
                        sheet.put(r, c, cell)
            book.sheets.append(sheet)
        with self.lock:
            self.spreadsheets[spreadsheet_id] = book

    def _sheet(self, spreadsheet_id: str, sheet: str) -> Sheet:
        return self.spreadsheets[spreadsheet_id].sheet(sheet)

    def values(self, spreadsheet_id: str, sheet: str) -> list[list[object]]:
        """Current values, trimmed like the API (dates as serials, interior blanks "")."""
        with self.lock:
            grid = self._sheet(spreadsheet_id, sheet)
            box = (0, 0, grid.row_count, grid.column_count)
            return grid.trimmed(box, "UNFORMATTED_VALUE", "SERIAL_NUMBER")

    def conditional_formats(self, spreadsheet_id: str, sheet: str) -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy(self._sheet(spreadsheet_id, sheet).conditional_formats)

    def sheet_id(self, spreadsheet_id: str, sheet: str) -> int:
        with self.lock:
            return self._sheet(spreadsheet_id, sheet).sheet_id

    def grid_size(self, spreadsheet_id: str, sheet: str) -> tuple[int, int]:
        with self.lock:
            grid = self._sheet(spreadsheet_id, sheet)
            return grid.row_count, grid.column_count

    def hidden_columns(self, spreadsheet_id: str, sheet: str) -> list[int]:
        """The 0-based columns hidden by a person or by updateDimensionProperties."""
        with self.lock:
            columns = self._sheet(spreadsheet_id, sheet).columns
            return sorted(col for col, props in columns.items() if props.get("hiddenByUser"))

    # staff edits, as a person in the browser would make them

    def show_column(self, spreadsheet_id: str, sheet: str, column: int) -> None:
        """Unhide a column (0-based), as with the arrows over a hidden column's border."""
        with self.lock:
            self._sheet(spreadsheet_id, sheet).columns.setdefault(column, {})["hiddenByUser"] = (
                False
            )

    def sort_rows(
        self,
        spreadsheet_id: str,
        sheet: str,
        column: int | str,
        *,
        first_row: int = 2,
        reverse: bool = False,
    ) -> None:
        """Sort whole rows from first_row (1-based) down by a column (0-based index, header
        text or column letters); empty values last. Conditional-format ranges stay put."""
        with self.lock:
            grid = self._sheet(spreadsheet_id, sheet)
            self._sort(grid, self._column(grid, column), first_row - 1, None, None, reverse)

    def sort_range(
        self,
        spreadsheet_id: str,
        sheet: str,
        *,
        columns: tuple[int, int],
        by: int | str,
        first_row: int = 2,
        last_row: int | None = None,
        reverse: bool = False,
    ) -> None:
        """A person's Data > Sort range over some columns only (0-based, both ends included):
        only those cells move, the cells right and left of them stay in their rows."""
        with self.lock:
            grid = self._sheet(spreadsheet_id, sheet)
            first, last = columns
            col = self._column(grid, by)
            self._sort(grid, col, first_row - 1, last_row, (first, last + 1), reverse)

    def sort_filter(
        self, spreadsheet_id: str, sheet: str, by: int | str, *, reverse: bool = False
    ) -> None:
        """A sort from the basic filter's menu: the rows under its header, within its columns
        (Google sorts the filter's range alone, as Data > Sort range does)."""
        with self.lock:
            grid = self._sheet(spreadsheet_id, sheet)
            assert grid.basic_filter is not None, "the sheet has no basic filter"
            self._sort_area(grid, grid.basic_filter["range"], by, reverse)

    def sort_table(
        self, spreadsheet_id: str, sheet: str, name: str, by: int | str, *, reverse: bool = False
    ) -> None:
        """A sort from a table column's menu: the table's rows, within its columns."""
        with self.lock:
            grid = self._sheet(spreadsheet_id, sheet)
            table = next(table for table in grid.tables if table["name"] == name)
            self._sort_area(grid, table["range"], by, reverse)

    def _sort_area(self, grid: Sheet, area: dict[str, Any], by: int | str, reverse: bool) -> None:
        box = grid.grid_range(area)
        columns = (box["startColumnIndex"], box["endColumnIndex"])
        first = box["startRowIndex"] + 1  # under the header row
        self._sort(grid, self._column(grid, by), first, box["endRowIndex"], columns, reverse)

    @staticmethod
    def _sort(
        grid: Sheet,
        col: int,
        start: int,
        stop: int | None,
        columns: tuple[int, int] | None,
        reverse: bool,
    ) -> None:
        """Sort rows start..stop (0-based, stop excluded; None: to the last row) by `col`,
        moving the cells of `columns` (from, to excluded) only, or whole rows; empty last."""
        stop = len(grid.rows) if stop is None else min(stop, len(grid.rows))
        width = max((len(row) for row in grid.rows[start:stop]), default=0)
        left, right = columns or (0, width)
        parts = [[grid.get(row, c) for c in range(left, right)] for row in range(start, stop)]
        filled = [part for part in parts if any(cell is not None for cell in part)]
        empty = [part for part in parts if not any(cell is not None for cell in part)]

        def key(part: list[Cell | None]) -> tuple[int, Any]:
            cell = part[col - left] if left <= col < right else None
            value = None if cell is None else (cell.value if cell.formula is None else None)
            if isinstance(value, bool):
                return (2, value)
            if isinstance(value, int | float):
                return (0, value)
            if isinstance(value, str):
                return (1, value.lower())
            return (3, 0)

        present = [part for part in filled if key(part)[0] != 3]
        missing = [part for part in filled if key(part)[0] == 3]
        present.sort(key=key, reverse=reverse)
        for row, part in enumerate([*present, *missing, *empty], start=start):
            for offset, cell in enumerate(part):
                if cell is not None or grid.get(row, left + offset) is not None:
                    grid.put(row, left + offset, cell)

    @staticmethod
    def _column(grid: Sheet, column: int | str) -> int:
        if isinstance(column, int):
            return column
        header = grid.rows[0] if grid.rows else []
        for index, cell in enumerate(header):
            if cell is not None and cell.value == column:
                return index
        from tests.sheets_fake.model import column_index

        if column.isalpha():
            return column_index(column)
        raise KeyError(column)

    def insert_row(
        self, spreadsheet_id: str, sheet: str, row_number: int, values: list[object]
    ) -> None:
        """Insert a row before row_number (1-based); the grid grows and rule ranges follow."""
        with self.lock:
            book = self.spreadsheets[spreadsheet_id]
            grid = book.sheet(sheet)
            index = row_number - 1
            while len(grid.rows) < index:
                grid.rows.append([])
            grid.rows.insert(index, [cell_from_python(v, book.locale) for v in values])
            grid.row_count += 1
            grid.column_count = max(grid.column_count, len(values))
            self._shift_rules(grid, index, +1)

    def delete_row(self, spreadsheet_id: str, sheet: str, row_number: int) -> None:
        with self.lock:
            grid = self._sheet(spreadsheet_id, sheet)
            index = row_number - 1
            if index < len(grid.rows):
                del grid.rows[index]
            grid.row_count -= 1
            self._shift_rules(grid, index, -1)

    @staticmethod
    def _shift_rules(grid: Sheet, index: int, delta: int) -> None:
        """Move the conditional-format rules as Google does when a row is inserted or deleted
        at `index` (0-based): a range below moves, one across grows or shrinks, and one that
        starts at the row inserted moves down (unless it starts at the top). A custom formula's
        relative references are kept relative to the first cell of the rule's first range
        (as they are typed: "relative to the top-left cell of the range"), so when that cell
        moves they move with it: `$H2` becomes `$H3` when a row goes in above row 2."""
        for rule in grid.conditional_formats:
            boxes = rule.get("ranges", [])
            anchor = boxes[0].get("startRowIndex", 0) if boxes else 0
            for box in boxes:
                start = box.get("startRowIndex", 0)
                end = box.get("endRowIndex")
                if delta > 0:
                    if start > index or (start == index and start > 0):
                        box["startRowIndex"] = start + delta
                    if end is not None and end > index:
                        box["endRowIndex"] = end + delta
                else:
                    if start > index:
                        box["startRowIndex"] = start - 1
                    if end is not None and end > index:
                        box["endRowIndex"] = end - 1
            moved = (boxes[0].get("startRowIndex", 0) if boxes else 0) - anchor
            condition = rule.get("booleanRule", {}).get("condition", {})
            if moved and condition.get("type") == "CUSTOM_FORMULA":
                for value in condition.get("values", []):
                    text = value.get("userEnteredValue")
                    if isinstance(text, str):
                        value["userEnteredValue"] = shift_relative_rows(text, moved)

    def set_basic_filter(
        self, spreadsheet_id: str, sheet: str, columns: tuple[int, int], first_row: int = 1
    ) -> None:
        """A person's Data > Create a filter over some columns (0-based, both ends included)
        from the header row down to the grid's end."""
        with self.lock:
            grid = self._sheet(spreadsheet_id, sheet)
            grid.basic_filter = {
                "range": grid.grid_range(
                    {
                        "startRowIndex": first_row - 1,
                        "startColumnIndex": columns[0],
                        "endColumnIndex": columns[1] + 1,
                    }
                )
            }

    def add_table(
        self,
        spreadsheet_id: str,
        sheet: str,
        name: str,
        columns: tuple[int, int],
        rows: tuple[int, int],
    ) -> str:
        """A person's Format > Convert to table over some columns and rows (1-based, both ends
        included; the first row is the header); its id."""
        with self.lock:
            grid = self._sheet(spreadsheet_id, sheet)
            table_id = str(next(self._sheet_ids))
            area = {
                "startRowIndex": rows[0] - 1,
                "endRowIndex": rows[1],
                "startColumnIndex": columns[0],
                "endColumnIndex": columns[1] + 1,
            }
            header = [grid.get(rows[0] - 1, col) for col in range(columns[0], columns[1] + 1)]
            grid.tables.append(
                {
                    "tableId": table_id,
                    "name": name,
                    "range": grid.grid_range(area),
                    "columnProperties": [
                        {"columnIndex": index, "columnName": str(cell.value if cell else "")}
                        for index, cell in enumerate(header)
                    ],
                }
            )
            return table_id

    def basic_filter(self, spreadsheet_id: str, sheet: str) -> dict[str, Any] | None:
        with self.lock:
            return copy.deepcopy(self._sheet(spreadsheet_id, sheet).basic_filter)

    def tables(self, spreadsheet_id: str, sheet: str) -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy(self._sheet(spreadsheet_id, sheet).tables)

    def set_cell(
        self, spreadsheet_id: str, sheet: str, row_number: int, column_index0: int, value: object
    ) -> None:
        with self.lock:
            book = self.spreadsheets[spreadsheet_id]
            book.sheet(sheet).put(
                row_number - 1, column_index0, cell_from_python(value, book.locale)
            )

    # ------------------------------------------------------------------ request handling

    def _check_access(self, email: str, spreadsheet_id: str) -> Spreadsheet:
        book = self.spreadsheets.get(spreadsheet_id)
        if book is None:
            raise ApiError(404, "Requested entity was not found.", "NOT_FOUND")
        if book.shared_with is not None and email not in book.shared_with:
            raise ApiError(403, "The caller does not have permission", "PERMISSION_DENIED")
        return book

    def handle_api(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes, email: str | None
    ) -> tuple[int, Any]:
        if email is None:
            raise UNAUTHENTICATED
        if self.project_suspended:
            raise suspended_error()
        if self.api_disabled:
            raise disabled_error()
        with self.lock:
            fault = self._faults.pop(0) if self._faults else None
        if fault is not None:
            if fault == 429:
                raise quota_error("Read" if method == "GET" else "Write")
            message, status = FAULTS.get(fault, ("Unknown error.", "UNKNOWN"))
            raise ApiError(fault, message, status)
        rest = path[len(PREFIX) :]
        spreadsheet_id, sep, tail = _split_id(rest)
        route = _route(method, sep, tail)
        if route is None:
            raise ApiError(404, "Requested entity was not found.", "NOT_FOUND")
        method_id, handler_name = route
        check_query(query, method_id)
        payload: Any = None
        if method in ("POST", "PUT"):
            try:
                payload = json.loads(body.decode("utf-8")) if body.strip() else {}
            except ValueError as error:
                raise invalid(f"Invalid JSON payload received. {error}") from None
            check_body(payload, method_id)
        with self.lock:
            book = self._check_access(email, spreadsheet_id)
            if spreadsheet_id in self.xlsx_files:
                raise NOT_A_GOOGLE_SHEET
            role = self.roles.get(spreadsheet_id, {}).get(email, "writer")
            if method != "GET" and role in ("reader", "commenter"):
                raise NO_PERMISSION
            self._caller = email
            handler = getattr(self, handler_name)
            range_text = ""
            if tail.startswith("/values/"):
                range_text = unquote(tail[len("/values/") :].removesuffix(":clear"))
            return 200, handler(book, query, payload, range_text)

    # protected ranges ---------------------------------------------------------------

    def _blocking(self, book: Spreadsheet, sheet_id: int) -> list[dict[str, int]]:
        """The protected ranges of a sheet that stop the caller: not warning-only, and the
        caller not among their editors."""
        return [
            p["range"]
            for p in self.protections.get(book.spreadsheet_id, [])
            if p["range"]["sheetId"] == sheet_id
            and not p.get("warningOnly")
            and self._caller not in p["editors"]["users"]
        ]

    def _refuse_if_protected(self, book: Spreadsheet, area: dict[str, Any]) -> None:
        """Raise Google's 400 when a grid range (GridRange: missing ends are unbounded) meets a
        range protected from the caller."""
        for guarded in self._blocking(book, area.get("sheetId", 0) or 0):
            if all(
                guarded.get(f"start{d}Index", 0) < (area.get(f"end{d}Index") or 10**9)
                and (area.get(f"start{d}Index") or 0) < guarded.get(f"end{d}Index", 10**9)
                for d in ("Row", "Column")
            ):
                raise PROTECTED

    def _protected_ranges(self, book: Spreadsheet, sheet_id: int) -> list[dict[str, Any]]:
        """`sheets[].protectedRanges` as the caller sees them (recorded:
        WorksheetTest.test_add_protected_range_normal): sheetId 0 left out like every default,
        the editors shown only to someone who may edit the range."""
        shown = []
        for protection in self.protections.get(book.spreadsheet_id, []):
            if protection["range"]["sheetId"] != sheet_id:
                continue
            entry = strip_defaults(copy.deepcopy(protection))
            can_edit = self._caller in protection["editors"]["users"]
            if can_edit:
                entry["requestingUserCanEdit"] = True
            else:
                entry.pop("editors", None)
            shown.append(entry)
        return shown

    # spreadsheets.get ------------------------------------------------------------

    def _get(self, book: Spreadsheet, query: dict[str, list[str]], _: Any, __: str) -> Any:
        mask: Mask | None = parse_fields(query["fields"][0]) if "fields" in query else None
        ranges = query.get("ranges", [])
        grid_data = (query.get("includeGridData", ["false"])[0].lower() == "true") or (
            mask is not None and mask_wants(mask, "sheets", "data") and "sheets" in mask
        )
        wanted: dict[int, list[tuple[int, int, int, int]]] = {}
        for text in ranges:
            sheet, ref = book.resolve(text)
            wanted.setdefault(sheet.sheet_id, []).append(sheet.box(ref))
        sheets = []
        for index, sheet in enumerate(book.sheets):
            if ranges and sheet.sheet_id not in wanted:
                continue
            entry: dict[str, Any] = {"properties": sheet.properties(index)}
            if grid_data:
                boxes = wanted.get(sheet.sheet_id) or [(0, 0, sheet.row_count, sheet.column_count)]
                entry["data"] = [_grid_data(sheet, box) for box in boxes]
                sheet.settle_loading()
            if sheet.conditional_formats:
                entry["conditionalFormats"] = strip_defaults(sheet.conditional_formats)
            if sheet.merges:
                entry["merges"] = [{"sheetId": sheet.sheet_id, **area} for area in sheet.merges]
            if protected := self._protected_ranges(book, sheet.sheet_id):
                entry["protectedRanges"] = protected
            if sheet.basic_filter is not None:
                entry["basicFilter"] = strip_defaults(copy.deepcopy(sheet.basic_filter))
            if sheet.tables:
                entry["tables"] = strip_defaults(copy.deepcopy(sheet.tables))
            sheets.append(entry)
        answer = {
            "spreadsheetId": book.spreadsheet_id,
            "properties": book.properties(),
            "sheets": sheets,
            "spreadsheetUrl": book.url(),
        }
        return apply_mask(answer, mask) if mask is not None else answer

    # values -------------------------------------------------------------------------

    def _value_range(
        self, book: Spreadsheet, text: str, query: dict[str, list[str]]
    ) -> dict[str, Any]:
        sheet, ref = book.resolve(text)
        box = sheet.box(ref)
        value_option = query.get("valueRenderOption", ["FORMATTED_VALUE"])[0]
        date_option = query.get("dateTimeRenderOption", ["SERIAL_NUMBER"])[0]
        major = query.get("majorDimension", ["ROWS"])[0]
        if major == "DIMENSION_UNSPECIFIED":
            major = "ROWS"
        values = sheet.trimmed(box, value_option, date_option)
        if major == "COLUMNS":
            width = max((len(row) for row in values), default=0)
            columns = [[row[c] if c < len(row) else "" for row in values] for c in range(width)]
            for column in columns:
                while column and column[-1] == "":
                    column.pop()
            values = columns
        answer: dict[str, Any] = {"range": a1_text(sheet.title, *box), "majorDimension": major}
        if values:
            answer["values"] = values
        return answer

    def _values_get(self, book: Spreadsheet, query: dict[str, list[str]], _: Any, text: str) -> Any:
        return self._value_range(book, text, query)

    def _values_batch_get(
        self, book: Spreadsheet, query: dict[str, list[str]], _: Any, __: str
    ) -> Any:
        return {
            "spreadsheetId": book.spreadsheet_id,
            "valueRanges": [
                self._value_range(book, text, query) for text in query.get("ranges", [])
            ],
        }

    def _write(
        self, book: Spreadsheet, text: str, rows: list[Any], option: str, major: str = "ROWS"
    ) -> tuple[Sheet, dict[str, Any], set[int], set[int]]:
        sheet, ref = book.resolve(text)
        if major == "COLUMNS":
            width = max((len(r) for r in rows), default=0)
            rows = [[col[i] if i < len(col) else None for col in rows] for i in range(width)]
        row0 = ref.start_row or 0
        col0 = ref.start_col or 0
        height = len(rows)
        width = max((len(r) for r in rows), default=0)
        limit_rows = sheet.row_count
        limit_cols = sheet.column_count
        bad_row = row0 + max(height, 1) > limit_rows
        bad_col = col0 + max(width, 1) > limit_cols
        if not ref.single and ref.end_row is not None and height > ref.end_row - row0:
            raise invalid(
                f"Requested writing within range [{text}], but tried writing to row"
                f" [{row0 + height}]"
            )
        if not ref.single and ref.end_col is not None and width > ref.end_col - col0:
            from tests.sheets_fake.model import column_letters

            raise invalid(
                f"Requested writing within range [{text}], but tried writing to column"
                f" [{column_letters(col0 + width - 1)}]"
            )
        if bad_row or bad_col:
            from tests.sheets_fake.model import column_letters

            first = f"{column_letters(col0)}{row0 + 1}"
            raise invalid(
                f"Range ({sheet.title}!{first}) exceeds grid limits. Max rows: {limit_rows},"
                f" max columns: {limit_cols}"
            )
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is not None:
                    self._refuse_if_protected(
                        book,
                        {
                            "sheetId": sheet.sheet_id,
                            "startRowIndex": row0 + r,
                            "endRowIndex": row0 + r + 1,
                            "startColumnIndex": col0 + c,
                            "endColumnIndex": col0 + c + 1,
                        },
                    )
        touched_rows: set[int] = set()
        touched_cols: set[int] = set()
        cells = 0
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is None:
                    continue
                sheet.put(row0 + r, col0 + c, cell_from_input(value, option, book.locale))
                touched_rows.add(row0 + r)
                touched_cols.add(col0 + c)
                cells += 1
        reply: dict[str, Any] = {"spreadsheetId": book.spreadsheet_id}
        if cells:
            reply["updatedRange"] = a1_text(sheet.title, row0, col0, row0 + height, col0 + width)
            reply["updatedRows"] = len(touched_rows)
            reply["updatedColumns"] = len(touched_cols)
            reply["updatedCells"] = cells
        return sheet, reply, touched_rows, touched_cols

    def _values_update(
        self, book: Spreadsheet, query: dict[str, list[str]], body: Any, text: str
    ) -> Any:
        option = query.get("valueInputOption", [""])[0]
        if option not in ("RAW", "USER_ENTERED"):
            raise invalid("'valueInputOption' is required but not specified")
        _, reply, _, _ = self._write(
            book, text, body.get("values", []), option, body.get("majorDimension", "ROWS")
        )
        return reply

    def _values_batch_update(
        self, book: Spreadsheet, _: dict[str, list[str]], body: Any, __: str
    ) -> Any:
        option = body.get("valueInputOption", "")
        if option not in ("RAW", "USER_ENTERED"):
            raise invalid("Invalid valueInputOption: INPUT_VALUE_OPTION_UNSPECIFIED")
        before = copy.deepcopy([s.rows for s in book.sheets])
        responses = []
        rows: set[tuple[int, int]] = set()
        cols: set[tuple[int, int]] = set()
        sheets: set[int] = set()
        total_cells = 0
        try:
            for item in body.get("data", []):
                if "range" not in item:
                    raise invalid("Invalid data[0]: range is required")
                sheet, reply, touched_rows, touched_cols = self._write(
                    book,
                    item["range"],
                    item.get("values", []),
                    option,
                    item.get("majorDimension", "ROWS"),
                )
                responses.append(reply)
                if touched_rows:
                    sheets.add(sheet.sheet_id)
                rows |= {(sheet.sheet_id, r) for r in touched_rows}
                cols |= {(sheet.sheet_id, c) for c in touched_cols}
                total_cells += reply.get("updatedCells", 0)
        except ApiError:
            for sheet, saved in zip(book.sheets, before, strict=True):
                sheet.rows = saved
            raise
        answer: dict[str, Any] = {"spreadsheetId": book.spreadsheet_id}
        if total_cells:
            answer["totalUpdatedRows"] = len(rows)
            answer["totalUpdatedColumns"] = len(cols)
            answer["totalUpdatedCells"] = total_cells
            answer["totalUpdatedSheets"] = len(sheets)
        answer["responses"] = responses
        return answer

    def _values_clear(self, book: Spreadsheet, _: dict[str, list[str]], __: Any, text: str) -> Any:
        sheet, ref = book.resolve(text)
        box = sheet.box(ref)
        row0, col0, row1, col1 = box
        for r in range(row0, min(row1, len(sheet.rows))):
            for c in range(col0, min(col1, len(sheet.rows[r]))):
                sheet.rows[r][c] = None
        return {"spreadsheetId": book.spreadsheet_id, "clearedRange": a1_text(sheet.title, *box)}

    # spreadsheets.batchUpdate -----------------------------------------------------

    def _batch_update(self, book: Spreadsheet, _: dict[str, list[str]], body: Any, __: str) -> Any:
        saved = copy.deepcopy(book)
        replies = []
        try:
            for index, request in enumerate(body.get("requests", [])):
                kinds = [k for k, v in request.items() if v is not None]
                if not kinds:
                    raise invalid(f"Invalid requests[{index}]: No request set.")
                kind = kinds[0]
                if kind not in SUPPORTED_REQUESTS:
                    raise invalid(
                        f"Invalid requests[{index}].{kind}: this request kind is not"
                        " implemented by the fake Sheets API."
                    )
                where = f"requests[{index}].{kind}"
                for area in _areas(request[kind]):
                    self._refuse_if_protected(book, area)
                replies.append(getattr(self, "_r_" + kind)(book, request[kind], where))
        except ApiError:
            book.__dict__.update(saved.__dict__)
            raise
        return {"spreadsheetId": book.spreadsheet_id, "replies": replies}

    @staticmethod
    def _rule_sheet(book: Spreadsheet, rule: dict[str, Any], where: str) -> Sheet:
        ranges = rule.get("ranges") or []
        if not ranges:
            raise invalid(f"Invalid {where}: At least one range must be specified.")
        sheet_ids = {box.get("sheetId", 0) for box in ranges}
        if len(sheet_ids) != 1:
            raise invalid(f"Invalid {where}: All ranges must be on the same sheet.")
        sheet = book.sheet_by_id(sheet_ids.pop(), where)
        if "booleanRule" not in rule and "gradientRule" not in rule:
            raise invalid(f"Invalid {where}: A rule must have a booleanRule or a gradientRule.")
        return sheet

    def _r_addConditionalFormatRule(  # noqa: N802
        self, book: Spreadsheet, request: dict[str, Any], where: str
    ) -> dict[str, Any]:
        rule = copy.deepcopy(request.get("rule") or {})
        sheet = self._rule_sheet(book, rule, where)
        index = request.get("index", 0) or 0
        if index > len(sheet.conditional_formats):
            raise invalid(f"Invalid {where}: index {index} is out of bounds.")
        sheet.conditional_formats.insert(int(index), strip_defaults(rule))
        return {}

    def _r_deleteConditionalFormatRule(  # noqa: N802
        self, book: Spreadsheet, request: dict[str, Any], where: str
    ) -> dict[str, Any]:
        sheet = book.sheet_by_id(request.get("sheetId", 0) or 0, where)
        index = int(request.get("index", 0) or 0)
        if index >= len(sheet.conditional_formats):
            raise invalid(
                f"Invalid {where}: No conditional format on sheet: {sheet.sheet_id}"
                f" at index: {index}"
            )
        rule = sheet.conditional_formats.pop(index)
        return {"deleteConditionalFormatRule": {"rule": copy.deepcopy(rule)}}

    def _r_updateConditionalFormatRule(  # noqa: N802
        self, book: Spreadsheet, request: dict[str, Any], where: str
    ) -> dict[str, Any]:
        sheet = book.sheet_by_id(request.get("sheetId", 0) or 0, where)
        index = int(request.get("index", 0) or 0)
        if index >= len(sheet.conditional_formats):
            raise invalid(
                f"Invalid {where}: No conditional format on sheet: {sheet.sheet_id}"
                f" at index: {index}"
            )
        old = sheet.conditional_formats[index]
        if "rule" in request:
            new = strip_defaults(copy.deepcopy(request["rule"]))
            self._rule_sheet(book, new, where)
            sheet.conditional_formats[index] = new
            return {
                "updateConditionalFormatRule": {
                    "newRule": copy.deepcopy(new),
                    "newIndex": index,
                    "oldRule": copy.deepcopy(old),
                }
            }
        new_index = int(request.get("newIndex", index))
        sheet.conditional_formats.insert(new_index, sheet.conditional_formats.pop(index))
        return {
            "updateConditionalFormatRule": {
                "newRule": copy.deepcopy(old),
                "newIndex": new_index,
                "oldIndex": index,
            }
        }

    def _r_appendDimension(  # noqa: N802
        self, book: Spreadsheet, request: dict[str, Any], where: str
    ) -> dict[str, Any]:
        sheet = book.sheet_by_id(request.get("sheetId", 0) or 0, where)
        length = int(request.get("length", 0) or 0)
        if length <= 0:
            raise invalid(f"Invalid {where}: length must be > 0")
        if request.get("dimension") == "ROWS":
            sheet.row_count += length
        elif request.get("dimension") == "COLUMNS":
            sheet.column_count += length
        else:
            raise invalid(f"Invalid {where}: dimension must be ROWS or COLUMNS")
        return {}

    def _r_updateDimensionProperties(  # noqa: N802
        self, book: Spreadsheet, request: dict[str, Any], where: str
    ) -> dict[str, Any]:
        """Columns' width and hidden state (the reply is `{}`, as recorded by gspread's
        test_hide_columns_rows). Rows' properties would have to move with the rows on every
        insert and sort: the fake refuses them rather than keep them wrongly."""
        fields = request.get("fields")
        if not fields:
            raise invalid(f"Invalid {where}: At least one field must be updated. Specify '*'")
        selected = set(parse_fields(fields))
        if "*" in selected:
            selected = {"pixelSize", "hiddenByUser"}
        if selected - {"pixelSize", "hiddenByUser"}:
            raise invalid(f"Invalid {where}: the fake sets only pixelSize and hiddenByUser")
        span = request.get("range") or {}
        sheet = book.sheet_by_id(span.get("sheetId", 0) or 0, where)
        if span.get("dimension") == "ROWS":
            raise invalid(f"Invalid {where}: the fake sets column properties only")
        if span.get("dimension") != "COLUMNS":
            raise invalid(f"Invalid {where}: dimension must be ROWS or COLUMNS")
        start = int(span.get("startIndex", 0) or 0)
        end = int(span.get("endIndex", sheet.column_count) or 0)
        if not 0 <= start < end:
            raise invalid(f"Invalid {where}: the range must hold at least one column")
        if end > sheet.column_count:
            raise invalid(
                f"Invalid {where}: Range exceeds grid limits. Max columns: {sheet.column_count}"
            )
        properties = request.get("properties") or {}
        width = properties.get("pixelSize", 0) or 0
        if "pixelSize" in selected and width < 0:
            raise invalid(f"Invalid {where}: pixelSize must be >= 0")
        for col in range(start, end):
            column = sheet.columns.setdefault(col, {})
            if "pixelSize" in selected:
                column["pixelSize"] = width
            if "hiddenByUser" in selected:
                column["hiddenByUser"] = bool(properties.get("hiddenByUser"))
        return {}

    def _r_repeatCell(  # noqa: N802
        self, book: Spreadsheet, request: dict[str, Any], where: str
    ) -> dict[str, Any]:
        """Only number formats: what the product sets (the date format of Next touch)."""
        if request.get("fields") != "userEnteredFormat.numberFormat":
            raise invalid(f"Invalid {where}: the fake sets only userEnteredFormat.numberFormat")
        grid = request.get("range") or {}
        sheet = book.sheet_by_id(grid.get("sheetId", 0) or 0, where)
        fmt = ((request.get("cell") or {}).get("userEnteredFormat") or {}).get("numberFormat")
        if not fmt:
            raise invalid(f"Invalid {where}: cell.userEnteredFormat.numberFormat is required")
        row0, col0 = grid.get("startRowIndex", 0) or 0, grid.get("startColumnIndex", 0) or 0
        row1, col1 = grid.get("endRowIndex"), grid.get("endColumnIndex")
        added = dict(fmt)
        sheet.formats.append((row0, row1, col0, col1, added))
        for r, line in enumerate(sheet.rows):
            for c, cell in enumerate(line):
                if cell is not None and sheet.format_at(r, c) is added:  # in the new range
                    line[c] = replace(cell, number_format=dict(added))
        return {}

    def _r_updateSheetProperties(  # noqa: N802
        self, book: Spreadsheet, request: dict[str, Any], where: str
    ) -> dict[str, Any]:
        props = request.get("properties") or {}
        fields = request.get("fields")
        if not fields:
            raise invalid(f"Invalid {where}: At least one field must be updated. Specify '*'")
        sheet = book.sheet_by_id(props.get("sheetId", 0) or 0, where)
        selected = parse_fields(fields)
        grid = props.get("gridProperties") or {}

        def wants(*path: str) -> bool:
            return "*" in selected or (mask_wants(selected, *path) and path[0] in selected)

        if wants("gridProperties", "rowCount"):
            count = grid.get("rowCount", 0) or 0
            if count < 1:
                raise invalid(f"Invalid {where}: rowCount must be > 0")
            if count < len(sheet.rows):
                del sheet.rows[count:]
            sheet.row_count = count
        if wants("gridProperties", "columnCount"):
            count = grid.get("columnCount", 0) or 0
            if count < 1:
                raise invalid(f"Invalid {where}: columnCount must be > 0")
            for row in sheet.rows:
                del row[count:]
            sheet.column_count = count
        if wants("gridProperties", "frozenRowCount"):
            sheet.frozen_row_count = grid.get("frozenRowCount", 0) or 0
        if wants("gridProperties", "frozenColumnCount"):
            sheet.frozen_column_count = grid.get("frozenColumnCount", 0) or 0
        if wants("title") and props.get("title"):
            if any(s.title == props["title"] for s in book.sheets if s is not sheet):
                raise invalid(
                    f'Invalid {where}: A sheet with the name "{props["title"]}" already'
                    " exists. Please enter another name."
                )
            sheet.title = props["title"]
        if wants("hidden"):
            sheet.hidden = bool(props.get("hidden"))
        if wants("index") and "index" in props:
            book.sheets.remove(sheet)
            book.sheets.insert(min(int(props["index"]), len(book.sheets)), sheet)
        for key in ("tabColorStyle", "tabColor", "rightToLeft"):
            if wants(key):
                if key in props:
                    value = strip_defaults(copy.deepcopy(props[key]))
                    if value in (None, {}) or (isinstance(value, dict) and not any(value.values())):
                        sheet.extra_properties.pop(key, None)
                    else:
                        sheet.extra_properties[key] = value
                else:
                    sheet.extra_properties.pop(key, None)
        return {}

    def _r_setBasicFilter(  # noqa: N802
        self, book: Spreadsheet, request: dict[str, Any], where: str
    ) -> dict[str, Any]:
        """Replaces the sheet's filter; its range is stored with every end, clipped to the
        grid, and the reply is empty (recorded: WorksheetTest.test_basic_filters)."""
        wanted = copy.deepcopy(request.get("filter") or {})
        area = wanted.get("range")
        if area is None:
            raise invalid(f"Invalid {where}: the fake sets filters by range only")
        sheet = book.sheet_by_id(area.get("sheetId", 0) or 0, where)
        wanted["range"] = sheet.grid_range(area)
        wanted.pop("criteria", None)  # deprecated: filterSpecs is what the fake keeps
        sheet.basic_filter = wanted
        return {}

    def _r_updateTable(  # noqa: N802
        self, book: Spreadsheet, request: dict[str, Any], where: str
    ) -> dict[str, Any]:
        """The table's range only (the Sheets API tables guide: updateTable with fields
        "range" grows or shrinks a table). A column the table takes in is named by its header
        cell, and a table's column names are unique (as in the Sheets UI), else 400."""
        fields = request.get("fields")
        if not fields:
            raise invalid(f"Invalid {where}: At least one field must be updated. Specify '*'")
        if set(parse_fields(fields)) != {"range"}:
            raise invalid(f"Invalid {where}: the fake updates a table's range only")
        wanted = request.get("table") or {}
        found = [
            (sheet, table)
            for sheet in book.sheets
            for table in sheet.tables
            if table["tableId"] == wanted.get("tableId")
        ]
        if not found:
            raise invalid(f"Invalid {where}: No table with id: {wanted.get('tableId')}")
        sheet, table = found[0]
        area = sheet.grid_range(wanted.get("range") or {})
        header = area["startRowIndex"]
        names: list[str] = []
        for col in range(area["startColumnIndex"], area["endColumnIndex"]):
            cell = sheet.get(header, col)
            name = str(cell.value) if cell is not None and cell.value not in (None, "") else ""
            names.append(name or f"Column {len(names) + 1}")
        if len({name.casefold() for name in names}) != len(names):
            raise invalid(f"Invalid {where}: Table column names must be unique.")
        table["range"] = area
        table["columnProperties"] = [
            {"columnIndex": index, "columnName": name} for index, name in enumerate(names)
        ]
        return {}

    def _r_addSheet(self, book: Spreadsheet, request: dict[str, Any], where: str) -> dict[str, Any]:  # noqa: N802
        props = request.get("properties") or {}
        grid = props.get("gridProperties") or {}
        title = props.get("title") or f"Sheet{len(book.sheets) + 1}"
        if title in book.titles():
            raise invalid(
                f'Invalid {where}: A sheet with the name "{title}" already exists.'
                " Please enter another name."
            )
        sheet = Sheet(
            sheet_id=props.get("sheetId") or next(self._sheet_ids),
            title=title,
            row_count=grid.get("rowCount") or 1000,
            column_count=grid.get("columnCount") or 26,
        )
        index = props.get("index", len(book.sheets))
        book.sheets.insert(index, sheet)
        return {"addSheet": {"properties": sheet.properties(book.sheets.index(sheet))}}

    def _r_deleteSheet(  # noqa: N802
        self, book: Spreadsheet, request: dict[str, Any], where: str
    ) -> dict[str, Any]:
        sheet = book.sheet_by_id(request.get("sheetId", 0) or 0, where)
        if len(book.sheets) == 1:
            raise invalid(f"Invalid {where}: You can't remove all the sheets in a document.")
        book.sheets.remove(sheet)
        return {}

    def _r_updateSpreadsheetProperties(  # noqa: N802
        self, book: Spreadsheet, request: dict[str, Any], where: str
    ) -> dict[str, Any]:
        props = request.get("properties") or {}
        fields = request.get("fields")
        if not fields:
            raise invalid(f"Invalid {where}: At least one field must be updated. Specify '*'")
        selected = parse_fields(fields)
        for key, attr in (("title", "title"), ("timeZone", "time_zone"), ("locale", "locale")):
            if key in selected or "*" in selected:
                setattr(book, attr, props.get(key, getattr(book, attr)))
        return {}

    # ------------------------------------------------------------------ Drive (minimal)

    def handle_drive(
        self, method: str, path: str, body: bytes, email: str | None
    ) -> tuple[int, Any]:
        if email is None:
            raise UNAUTHENTICATED
        if method == "POST" and path == "/drive/v3/files":
            info = json.loads(body or b"{}")
            new_id = "1" + secrets.token_urlsafe(32)[:43]
            self.add_spreadsheet(
                new_id,
                {"Sheet1": []},
                title=info.get("name", "Untitled spreadsheet"),
                time_zone="Etc/GMT",
                locale="en_US",
            )
            return 200, {
                "kind": "drive#file",
                "id": new_id,
                "name": info.get("name", "Untitled spreadsheet"),
                "mimeType": "application/vnd.google-apps.spreadsheet",
            }
        file_id = path.rsplit("/", 1)[-1]
        with self.lock:
            book = self._check_access(email, file_id)
            if method == "DELETE":
                del self.spreadsheets[file_id]
                return 204, None
            if method == "GET":
                now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
                return 200, {
                    "id": file_id,
                    "name": book.title,
                    "createdTime": now,
                    "modifiedTime": now,
                }
        raise ApiError(404, "Requested entity was not found.", "NOT_FOUND")


def _areas(request: dict[str, Any]) -> list[dict[str, Any]]:
    """The grid ranges a batchUpdate request changes, for the protection check: a cell
    format's range, a colour rule's ranges; the whole sheet for a change to the sheet itself."""
    if "range" in request:
        return [request["range"]]
    if "rule" in request:
        return list(request["rule"].get("ranges") or [])
    sheet_id = request.get("sheetId", (request.get("properties") or {}).get("sheetId"))
    return [] if sheet_id is None else [{"sheetId": sheet_id}]


def _split_id(rest: str) -> tuple[str, str, str]:
    """("ID", ":", "batchUpdate") / ("ID", "/", "values/...") / ("ID", "", "")."""
    for index, char in enumerate(rest):
        if char in ":/":
            return rest[:index], char, rest[index:]
    return rest, "", ""


def _route(method: str, sep: str, tail: str) -> tuple[str, str] | None:
    base = "sheets.spreadsheets."
    if sep == "" and method == "GET":
        return base + "get", "_get"
    if tail == ":batchUpdate" and method == "POST":
        return base + "batchUpdate", "_batch_update"
    if tail == "/values:batchGet" and method == "GET":
        return base + "values.batchGet", "_values_batch_get"
    if tail == "/values:batchUpdate" and method == "POST":
        return base + "values.batchUpdate", "_values_batch_update"
    if tail.startswith("/values/"):
        if tail.endswith(":clear") and method == "POST":
            return base + "values.clear", "_values_clear"
        if tail.endswith(":append"):
            return None
        if method == "GET":
            return base + "values.get", "_values_get"
        if method == "PUT":
            return base + "values.update", "_values_update"
    return None


def _json(payload: Any, *, pretty: bool) -> bytes:
    if pretty:
        return json.dumps(payload, indent=2, ensure_ascii=False).encode() + b"\n"
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def _grid_data(sheet: Sheet, box: tuple[int, int, int, int]) -> dict[str, Any]:
    row0, col0, row1, col1 = box
    data: dict[str, Any] = {}
    if row0:
        data["startRow"] = row0
    if col0:
        data["startColumn"] = col0
    row_data: list[dict[str, Any]] = []
    for r in range(row0, min(row1, len(sheet.rows))):
        values = [cell_data(sheet.get(r, c)) for c in range(col0, col1)]
        while values and values[-1] == {}:
            values.pop()
        row_data.append({"values": values} if values else {})
    while row_data and row_data[-1] == {}:
        row_data.pop()
    if row_data:
        data["rowData"] = row_data
    data["rowMetadata"] = [{"pixelSize": 21} for _ in range(row0, row1)]
    data["columnMetadata"] = [sheet.column_metadata(c) for c in range(col0, col1)]
    return data


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "ESF"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(
        self,
        status: int,
        payload: Any,
        content_type: str = "application/json",
        sending: Callable[[int], None] | None = None,
    ) -> int:
        """Send the answer; `sending(size)` runs just before, so that a request is recorded
        before its client can see the answer (counts taken right after a call are complete).

        As Google's front end: JSON is pretty-printed (two-space indents, a final newline, as in
        every recorded answer) unless the query says `prettyPrint=false`, the standard parameter
        of every Google API; it is gzipped only for a client that both accepts gzip and names
        "gzip" in its User-Agent (Google's performance guide, "Compression using gzip"; the
        recorded traffic, sent as "python-requests/2.x" with `Accept-Encoding: gzip, deflate`,
        was never compressed). `size` is the body's length on the wire."""
        data = b"" if payload is None else _json(payload, pretty=self._pretty())
        compressed = bool(data) and self._gzipped()
        if compressed:
            data = gzip.compress(data)
        if sending is not None:
            sending(len(data))
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=UTF-8")
        if compressed:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Vary", "Origin, X-Origin, Referer")
        if status == 401:
            self.send_header("WWW-Authenticate", 'Bearer realm="https://accounts.google.com/"')
        self.end_headers()
        self.wfile.write(data)
        return len(data)

    def _redirect(self, location: str) -> None:
        """The consent page's answer: the browser is sent back to the app's loopback address."""
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The Date header, by Google's clock (see FakeSheets.pc_clock_ahead)."""
        fake: FakeSheets = self.server.fake  # type: ignore[attr-defined]
        return super().date_time_string(fake.auth.now() if timestamp is None else timestamp)

    def _pretty(self) -> bool:
        pretty = parse_qs(urlsplit(self.path).query).get("prettyPrint", ["true"])[-1]
        return pretty.lower() != "false"

    def _gzipped(self) -> bool:
        accepted = self.headers.get("Accept-Encoding") or ""
        codings = {part.split(";")[0].strip().lower() for part in accepted.split(",")}
        return "gzip" in codings and "gzip" in (self.headers.get("User-Agent") or "")

    def _dispatch(self) -> None:
        fake: FakeSheets = self.server.fake  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        method = self.command
        if path == "/token" and method == "POST":
            form = parse_qs(body.decode("ascii", "replace"))
            try:
                answer = fake.auth.grant(form, fake.token_uri, self.headers.get("Authorization"))
                self._answer(200, answer)
            except TokenError as error:
                reply = {"error": error.error, "error_description": error.description}
                self._answer(error.status, reply)
            return
        if path == "/o/oauth2/auth" and method == "GET":
            try:
                self._redirect(fake.auth.consent_redirect(query))
            except TokenError as error:
                reply = {"error": error.error, "error_description": error.description}
                self._answer(error.status, reply)
            return
        email = fake.auth.email_for(self.headers.get("Authorization"))
        if path.startswith("/drive/v3/files"):
            try:
                status, payload = fake.handle_drive(method, path, body, email)
            except ApiError as error:
                status, payload = error.code, error.body()
            self._answer(status, payload)
            return
        if not path.startswith(PREFIX):
            self._answer(404, ApiError(404, "Not Found", "NOT_FOUND").body())
            return
        if length > MAX_BODY:
            too_big = ApiError(
                400,
                f"Request payload size exceeds the limit: {MAX_BODY} bytes.",
                "INVALID_ARGUMENT",
            )

            def refused(sent: int) -> None:
                with fake.lock:
                    fake.requests.append(Recorded(method, path, query, length, sent, 400))

            self._answer(400, too_big.body(), sending=refused)
            return
        if fake.before_request is not None:
            fake.before_request(method, path)
        with fake.lock:
            stall = fake._stalls.pop(0) if fake._stalls else 0.0
        if stall:
            time.sleep(stall)
        try:
            status, payload = fake.handle_api(method, parts.path, query, body, email)
        except ApiError as error:
            status, payload = error.code, error.body()
        except Exception as error:  # a bug in the fake: answer 500 rather than hang up
            status, payload = 500, ApiError(500, f"fake: {error!r}", "INTERNAL").body()

        def record(sent: int) -> None:
            with fake.lock:
                fake.requests.append(Recorded(method, path, query, len(body), sent, status))

        with fake.lock:
            lost = next((end for end in fake._lost_answers if path.endswith(end)), None)
            if lost is not None and status == 200:
                fake._lost_answers.remove(lost)
        if lost is not None and status == 200:
            record(0)
            self.close_connection = True  # no answer at all: the client sees the line drop
            return
        self._answer(status, payload, sending=record)

    do_GET = _dispatch  # noqa: N815
    do_POST = _dispatch  # noqa: N815
    do_PUT = _dispatch  # noqa: N815
    do_DELETE = _dispatch  # noqa: N815
    do_PATCH = _dispatch  # noqa: N815


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (a test's timeout gave up on a stalled answer) is no fault of
        the fake's; anything else is printed as the standard library does."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeAdapter(HTTPAdapter):
    """Sends requests for Google hosts to the fake over real HTTP (scheme and host rewritten)."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:  # type: ignore[override]
        request = request.copy()
        parts = urlsplit(request.url or "")
        tail = parts.path + (f"?{parts.query}" if parts.query else "")
        request.url = self.base_url + tail
        return super().send(request, *args, **kwargs)
