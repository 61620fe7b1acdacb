"""The managed cells to write, as the value ranges of `values:batchUpdate` bodies.

The same bodies carry the staff cells a typed outcome changes (SPEC §8), and a staff cell
put back where a sort made a write land on another row: numbers stay numbers.

A first sync of 10,000 rows writes some 40,000 cells. Sent one range per cell, that was one
4 MB body, twice the largest payload Google recommends (2 MB, developers.google.com/workspace/
sheets/api/limits); at 50,000 rows it was 20 MB, which Google's front end refuses ("Request
payload size exceeds the limit: 10485760 bytes"). Here each run of rows in a column is one
range, and the ranges are shared out among as many bodies as keep each under `MAX_BODY`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from sheets_sync.backends.gsheets.grid import raw
from sheets_sync.core.columns import column_letters
from sheets_sync.core.values import CellValue

MAX_BODY = 2_000_000  # bytes in one request body: Google's recommended maximum payload
_BODY = len(json.dumps({"valueInputOption": "RAW", "data": []}))
_RANGE = 100  # bytes around a range's values: its A1 text, majorDimension, brackets
_NULL = len("null, ")
_GAP = 10  # rows not to be written that a run bridges with nulls


def value_batches(
    sheet: str, cells: Mapping[tuple[int, int], CellValue], limit: int = MAX_BODY
) -> list[list[dict[str, Any]]]:
    """The `data` of each `values:batchUpdate` body that writes `cells` ((sheet row, 0-based
    column) -> value) in the quoted sheet, each body at most `limit` bytes as requests sends
    it (json.dumps)."""
    batches: list[list[dict[str, Any]]] = []
    size = limit  # no body open yet
    for col, row, values in _runs(cells, limit - _BODY - _RANGE):
        letters, end = column_letters(col), row + len(values) - 1
        cells_a1 = f"{letters}{row}" + (f":{letters}{end}" if end > row else "")
        piece = {"range": f"{sheet}!{cells_a1}", "majorDimension": "COLUMNS", "values": [values]}
        cost = len(json.dumps(piece)) + 2  # and ", "
        if size + cost > limit:
            batches.append([])
            size = _BODY
        batches[-1].append(piece)
        size += cost
    return batches


def _runs(
    cells: Mapping[tuple[int, int], CellValue], limit: int
) -> Iterator[tuple[int, int, list[str | int | float | bool | None]]]:
    """(column, first row, values) for each run of rows in a column, cut where its values
    would pass `limit` bytes.

    A blank to write is "", which clears its cell in a RAW write; JSON null leaves a cell as
    it is (ValueRange.values: "Null values will be skipped"). So a run bridges a few rows
    that are not to be written with nulls, cheaper than starting a new range (some 70 bytes
    against 6 a row), and no cell outside `cells` is ever touched."""
    run: list[str | int | float | bool | None] = []
    start = previous = (0, -1)
    size = 0
    for row, col in sorted(cells, key=lambda cell: (cell[1], cell[0])):
        value = raw(cells[(row, col)])
        gap = row - previous[0] - 1
        cost = len(json.dumps(value)) + 2 + gap * _NULL
        if run and col == previous[1] and gap <= _GAP and size + cost <= limit:
            run += [None] * gap
            run.append(value)
            size += cost
        else:
            if run:
                yield start[1], start[0], run
            run, start, size = [value], (row, col), cost
        previous = (row, col)
    if run:
        yield start[1], start[0], run
