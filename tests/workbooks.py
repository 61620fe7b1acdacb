"""Test workbooks, written the way Excel writes them (xlsxwriter, never openpyxl).

`make_log` builds a prospect log from plain dicts; `extras=True` adds everything staff's
workbooks carry that a sync must not disturb, for the fidelity tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, timedelta
from pathlib import Path

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.utility import quote_sheetname, xl_col_to_name, xl_rowcol_to_cell
from xlsxwriter.worksheet import Worksheet

from sheets_sync.core.values import CellValue

# What `extras=True` adds, for the fidelity tests to look for.
EXTRA_FORMULA_HEADER = "No."  # =ROW()-1 on every row, with its cached value
EXTRA_SHEET = "Summary"  # a second sheet with data and a chart of it
EXTRA_DEFINED_NAME = "ProspectLog"  # the log's range, header included
EXTRA_COMMENTS = ("Staff's own column notes", "Called twice, no answer")
EXTRA_VALIDATION = ("Booked", "Declined", "DNC")
# Sparklines sit in the header row, this many columns right of the log: beyond the
# managed columns a sync adds.
SPARKLINE_OFFSET = 8


def make_log(
    path: Path,
    prospects: Sequence[dict[str, CellValue]],
    *,
    table: bool = False,
    autofilter: bool = False,
    extras: bool = False,
    date1904: bool = False,
    sheet: str = "Prospects",
    staff: Iterable[tuple[str, str]] | None = None,
    customise: Callable[[Worksheet], None] | None = None,
) -> Path:
    """Write a prospect log to `path` and return `path`.

    The header row is the dict keys in order of first appearance; each dict is a row (a
    missing key or None is a blank cell; dates get a date format). `table` makes the log an
    Excel table, `autofilter` puts a sheet autofilter over it (not both). `staff` adds a
    `Staff` sheet of (name, email) rows. `customise` is called with the log's worksheet last,
    to add what a test needs (merged cells, hidden rows, right-to-left...).
    """
    if table and autofilter:
        raise ValueError("a log is either an Excel table or has a sheet autofilter, not both")
    headers = list(dict.fromkeys(key for prospect in prospects for key in prospect))
    if extras:
        headers.append(EXTRA_FORMULA_HEADER)
    if not headers:
        raise ValueError("a log needs at least one column")

    workbook = xlsxwriter.Workbook(str(path), {"date_1904": date1904})
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    header_format = workbook.add_format({"bold": True})
    log = workbook.add_worksheet(sheet)

    _ok(log.write_row(0, 0, headers, header_format))
    for row, prospect in enumerate(prospects, start=1):
        for column, header in enumerate(headers):
            _write_cell(log, row, column, prospect.get(header), date_format)
    last_row, last_column = len(prospects), len(headers) - 1
    if extras:
        for row in range(1, last_row + 1):
            _ok(log.write_formula(row, last_column, "=ROW()-1", None, row))

    if table:
        # Excel tables need a data row, so an empty log gets one blank row.
        _ok(
            log.add_table(
                0,
                0,
                max(last_row, 1),
                last_column,
                {"columns": [{"header": header} for header in headers]},
            )
        )
    elif autofilter:
        _ok(log.autofilter(0, 0, last_row, last_column))

    if extras:
        _add_extras(workbook, log, sheet, headers, last_row)
    if customise is not None:
        customise(log)
    if staff is not None:
        _add_staff(workbook, staff, header_format)
    workbook.close()
    return path


def make_sheet(
    path: Path,
    rows: Sequence[Sequence[CellValue]],
    *,
    date1904: bool = False,
    staff: Iterable[tuple[str, str]] | None = None,
    customise: Callable[[Worksheet], None] | None = None,
) -> Path:
    """Write the rows (index 0 is sheet row 1) to a `Prospects` sheet as they are: title rows
    above the header, blank rows, a sheet with no cells at all. Otherwise as `make_log`."""
    workbook = xlsxwriter.Workbook(str(path), {"date_1904": date1904})
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    log = workbook.add_worksheet("Prospects")
    for row, values in enumerate(rows):
        for column, value in enumerate(values):
            _write_cell(log, row, column, value, date_format)
    if staff is not None:
        _add_staff(workbook, staff, None)
    if customise is not None:
        customise(log)
    workbook.close()
    return path


def _add_staff(
    workbook: xlsxwriter.Workbook, staff: Iterable[tuple[str, str]], header_format: Format | None
) -> None:
    people = workbook.add_worksheet("Staff")
    _ok(people.write_row(0, 0, ["Name", "Email"], header_format))
    for row, (name, email) in enumerate(staff, start=1):
        _ok(people.write_row(row, 0, [name, email]))


def _write_cell(
    log: Worksheet, row: int, column: int, value: CellValue, date_format: Format
) -> None:
    # Explicit writers: write() would turn text such as "=1+1" into a formula.
    if isinstance(value, date):
        _ok(log.write_datetime(row, column, value, date_format))
    elif isinstance(value, bool):
        _ok(log.write_boolean(row, column, value))
    elif isinstance(value, int | float):
        _ok(log.write_number(row, column, value))
    elif isinstance(value, str):
        _ok(log.write_string(row, column, value))


def _add_extras(
    workbook: xlsxwriter.Workbook,
    log: Worksheet,
    sheet: str,
    headers: Sequence[str],
    last_row: int,
) -> None:
    last_column = len(headers) - 1
    data_rows = max(last_row, 1)
    formula_column = xl_col_to_name(last_column)
    formulas = f"{formula_column}2:{formula_column}{data_rows + 1}"

    log.freeze_panes(1, 1)
    validated = headers.index("Status") if "Status" in headers else 0
    _ok(
        log.data_validation(
            1,
            validated,
            last_row + 100,
            validated,
            {"validate": "list", "source": list(EXTRA_VALIDATION), "error_type": "warning"},
        )
    )
    _ok(log.write_comment(0, 0, EXTRA_COMMENTS[0], {"author": "Anna Price"}))
    _ok(log.write_comment(1, 0, EXTRA_COMMENTS[1], {"author": "Ben Okafor"}))
    _ok(
        log.conditional_format(
            formulas, {"type": "data_bar", "data_bar_2010": True, "bar_color": "#63BE7B"}
        )
    )
    _ok(
        log.add_sparkline(
            0,
            last_column + SPARKLINE_OFFSET,
            {"range": f"{quote_sheetname(sheet)}!{formulas}", "markers": True},
        )
    )
    end = xl_rowcol_to_cell(data_rows, last_column, row_abs=True, col_abs=True)
    _ok(workbook.define_name(EXTRA_DEFINED_NAME, f"={quote_sheetname(sheet)}!$A$1:{end}"))

    summary = workbook.add_worksheet(EXTRA_SHEET)
    _ok(summary.write_row(0, 0, ["Month", "Consultations", "Booked"]))
    months = (("Sep", 14, 5), ("Oct", 18, 7), ("Nov", 11, 3))
    for row, month in enumerate(months, start=1):
        _ok(summary.write_row(row, 0, month))
    chart = workbook.add_chart({"type": "column"})
    for column, colour in ((1, "#4472C4"), (2, "#ED7D31")):
        chart.add_series(
            {
                "name": [EXTRA_SHEET, 0, column],
                "categories": [EXTRA_SHEET, 1, 0, len(months), 0],
                "values": [EXTRA_SHEET, 1, column, len(months), column],
                "fill": {"color": colour},
            }
        )
    chart.set_title({"name": "Consultations and bookings"})
    _ok(summary.insert_chart("E2", chart))


def _ok(code: int | None) -> None:
    # xlsxwriter warns and returns a negative code instead of raising; a test workbook
    # silently missing a feature would make a fidelity test pass for the wrong reason.
    if code is not None and code < 0:
        raise ValueError(f"xlsxwriter refused a test workbook feature (code {code})")


# A small log for the fault tests: 12 open prospects of Anna's, consulted a month or more
# before 24 Nov 2026 and last touched on the days before it. Columns: Name, Owner,
# Consultation date, Status, Last touch (E), Touches, Value, Notes (H).
SMALL_LOG_DAY = date(2026, 11, 24)
SMALL_LOG_ROWS = 12


def make_small_log(path: Path) -> Path:
    prospects: list[dict[str, CellValue]] = [
        {
            "Name": f"Prospect {n}",
            "Owner": "Anna",
            "Consultation date": SMALL_LOG_DAY - timedelta(days=30 + n),
            "Status": "Open",
            "Last touch": SMALL_LOG_DAY - timedelta(days=n),
            "Touches": 1,
            "Value": 500,
            "Notes": "first call",
        }
        for n in range(SMALL_LOG_ROWS)
    ]
    return make_log(path, prospects)


def serial_date(serial: int) -> date:
    """The date a worksheet's serial number stands for (the 1900 system)."""
    return date(1899, 12, 30) + timedelta(days=serial)
