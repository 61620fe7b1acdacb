"""The sheet's contents as the API gives them: grid data to cell values, and back."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from sheets_sync.core.columns import Merge, column_letters
from sheets_sync.core.values import CellValue, readable

EPOCH = date(1899, 12, 30)

# A formula's error as the cell shows it, by the API's ErrorValue type (Sheets API reference,
# "ErrorType"): the text an .xlsx workbook holds for the same error, so both backends agree.
ERROR_TEXTS = {
    "ERROR": "#ERROR!",
    "NULL_VALUE": "#NULL!",
    "DIVIDE_BY_ZERO": "#DIV/0!",
    "VALUE": "#VALUE!",
    "REF": "#REF!",
    "NAME": "#NAME?",
    "NUM": "#NUM!",
    "N_A": "#N/A",
}
# Not an error but a wait: IMPORTRANGE fetching, or a long formula still computing.
LOADING = "LOADING"


def merged_areas(sheet: Mapping[str, Any]) -> list[Merge]:
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


def grid_values(sheet: Mapping[str, Any]) -> list[list[CellValue]]:
    """A sheet's grid data as rows of values: dates where the cell shows a date."""
    data = sheet.get("data", [])
    rows: list[list[CellValue]] = []
    for row in data[0].get("rowData", []) if data else []:
        cells: list[CellValue] = []
        for cell in row.get("values", []):
            cells.append(cell_value(cell))
        while cells and cells[-1] is None:
            cells.pop()
        rows.append(cells)
    while rows and not rows[-1]:
        rows.pop()
    return rows


def first_loading(sheet: Mapping[str, Any] | None) -> str | None:
    """The first cell of a sheet's grid data that shows `Loading…`, as `C7`; None when none
    does. What such a cell will hold is not known yet, so nothing may be read from it."""
    data = (sheet or {}).get("data", [])
    for number, row in enumerate(data[0].get("rowData", []) if data else [], start=1):
        for col, cell in enumerate(row.get("values", [])):
            if cell.get("effectiveValue", {}).get("errorValue", {}).get("type") == LOADING:
                return f"{column_letters(col)}{number}"
    return None


def cell_value(cell: Mapping[str, Any]) -> CellValue:
    address = person_chip(cell)
    if address is not None:
        return address
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
        return ERROR_TEXTS.get(str(effective["errorValue"].get("type")), "#ERROR!")
    return None


def person_chip(cell: Mapping[str, Any]) -> str | None:
    """The address of the person a cell holds as a people chip (`@Anna` picked from the
    list), when the chip is all the cell holds; None otherwise.

    The chip shows the person's name (or the address, as its display format says); the
    address is in the cell's chip runs (Sheets API reference, CellData.chipRuns,
    PersonProperties.email), and it is what a digest needs: an owner cell holding an address
    is mailed directly. A cell with text beside the chip (a run without a chip: "when
    reading, all chipped and non-chipped runs are included") keeps its text, so a note that
    mentions someone stays the note it is.
    """
    runs = cell.get("chipRuns") or []
    if len(runs) != 1:
        return None
    email = runs[0].get("chip", {}).get("personProperties", {}).get("email")
    return readable(str(email)) if email else None


def raw(value: CellValue) -> str | int | float | bool:
    """A value for a RAW write: dates as serial numbers, blanks as empty strings. A staff
    cell put back as it was read may hold a date and time, or a number or a tick box."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return (value - datetime.combine(EPOCH, datetime.min.time())) / timedelta(days=1)
    if isinstance(value, date):
        return (value - EPOCH).days
    return value


def fingerprint(rows: object, staff: object) -> str:
    return hashlib.sha256(json.dumps([rows, staff], default=str).encode()).hexdigest()


def quoted(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"
