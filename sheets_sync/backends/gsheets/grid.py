"""The sheet's contents as the API gives them: grid data to cell values, and back."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from sheets_sync.core.columns import Merge
from sheets_sync.core.values import CellValue, readable

EPOCH = date(1899, 12, 30)


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


def cell_value(cell: Mapping[str, Any]) -> CellValue:
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


def raw(value: str | date | None) -> str | int:
    """A value for a RAW write: dates as serial numbers, blanks as empty strings."""
    if value is None:
        return ""
    if isinstance(value, date):
        return (value - EPOCH).days
    return value


def fingerprint(rows: object, staff: object) -> str:
    return hashlib.sha256(json.dumps([rows, staff], default=str).encode()).hexdigest()


def quoted(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"
