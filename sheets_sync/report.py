"""The report (SPEC §10) for a clinic: read from a dry-run cycle and the touch log; its period
as people give it on the command line; written as a page or as a workbook of its tables.

The files stay on this computer, so they name prospects also when `[mail] detail = "minimal"`
keeps names out of email (as `history` does).
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd

from sheets_sync.core.report import LONG_TERM_DAYS, Period, Report
from sheets_sync.core.values import DateOrder
from sheets_sync.errors import SheetsSyncError
from sheets_sync.export import write_workbook, written
from sheets_sync.mail.report import period_title, report_html

_MONTH = re.compile(r"(\d{4})-(\d{1,2})")
_YEAR = re.compile(r"\d{4}")


class PeriodError(SheetsSyncError):
    """The period asked for is not one a report can cover."""


def report_period(
    *,
    today: date,
    month: str | None = None,
    year: str | None = None,
    first: str | None = None,
    last: str | None = None,
) -> Period:
    """The period `--month YYYY-MM`, `--year YYYY` or `--from D [--to D]` name (`--from`
    alone: up to today); with none of them, the 12 months ending today."""
    if last is not None and first is None:
        raise PeriodError("--to needs --from: give the first day too, e.g. --from 2026-09-01")
    if month is not None:
        found = _MONTH.fullmatch(month.strip())
        if not found or not 1 <= int(found.group(2)) <= 12:
            raise PeriodError(f"--month {month!r} is not a month; write it like 2026-10")
        return Period.month(int(found.group(1)), int(found.group(2)))
    if year is not None:
        if not _YEAR.fullmatch(year.strip()):
            raise PeriodError(f"--year {year!r} is not a year; write it like 2026")
        return Period.year(int(year))
    if first is not None:
        period = Period(_iso_day("--from", first), _iso_day("--to", last) if last else today)
        if period.first > period.last:
            raise PeriodError(
                f"the period starts on {period.first} but ends before it, on {period.last};"
                " give --from the earlier day"
            )
        return period
    return Period.twelve_months_to(today)


def _iso_day(option: str, text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise PeriodError(f"{option} {text!r} is not a date; write it like 2026-09-01") from None


def write_html(
    report: Report,
    path: Path,
    *,
    date_order: DateOrder = DateOrder.DMY,
    currency: str | None = None,
) -> None:
    """The report as one page, the bookings named (as in the full email)."""
    page = report_html(report, date_order=date_order, currency=currency)
    written(path, "the report", lambda: path.write_text(page, encoding="utf-8"))


def write_xlsx(report: Report, path: Path, *, date_order: DateOrder = DateOrder.DMY) -> None:
    """The report's tables as a workbook, one sheet each: Summary, Bookings, Income by age,
    Touches before booking, Owners, Pipeline. Figures are numbers and days are dates, for
    further work; text from the log that looks like a formula stays text."""
    write_workbook(
        path,
        {
            "Summary": _summary(report, date_order),
            "Bookings": _bookings(report),
            "Income by age": pd.DataFrame(
                [(band.label, band.count, float(band.value)) for band in report.income_by_age],
                columns=["Age at booking", "Bookings", "Income"],
            ),
            "Touches before booking": pd.DataFrame(
                [
                    (band.label, band.count, float(band.value))
                    for band in report.touches_before_booking
                ],
                columns=["Touches", "Bookings", "Income"],
            ),
            "Owners": pd.DataFrame(
                [
                    (o.owner, o.touches, o.active, o.overdue, o.oldest_overdue, *o.left_after)
                    for o in report.owners
                ],
                columns=[
                    "Owner",
                    "Touches logged",
                    "Open",
                    "Overdue",
                    "Oldest overdue (days)",
                    *(f"Left after {n} touch{'es' if n > 1 else ''}" for n in range(1, 5)),
                ],
            ),
            "Pipeline": pd.DataFrame(
                [(row.age, *row.by_plan, row.count, float(row.value)) for row in report.pipeline],
                columns=["Age", *(plan or "no plan" for plan in report.plans), "Open", "Value"],
            ),
        },
        "the report",
    )


def _summary(report: Report, date_order: DateOrder) -> pd.DataFrame:
    spread = report.days_to_book
    figures: list[tuple[str, object]] = [
        ("Clinic", report.clinic),
        ("Period", period_title(report.period, report.today, date_order)),
        ("From", report.period.first),
        ("To", report.period.last),
        ("Open prospects as of", report.today),
        ("Bookings", len(report.bookings)),
        ("Value of bookings", float(report.booked_value)),
        ("Bookings with no value", report.without_value),
        ("Bookings dated by their last touch (approximate)", report.approximate),
        ("Booked prospects with no booking day", report.undated),
        ("Days to booking, youngest", spread.youngest if spread else None),
        ("Days to booking, median", spread.median if spread else None),
        ("Days to booking, oldest", spread.oldest if spread else None),
        (
            f"Share of income from prospects over {LONG_TERM_DAYS} days old",
            _share(report.long_term_share),
        ),
        ("Share of bookings after five touches or more", _share(report.five_or_more_share)),
        ("Open prospects", report.open_prospects),
        ("Overdue prospects", report.overdue),
        ("Value waiting in overdue prospects", float(report.overdue_value)),
        ("Touch log began", report.log_began),
    ]
    return pd.DataFrame(figures, columns=["Figure", "Value"])


def _share(share: Decimal | None) -> float | None:
    return None if share is None else float(share)


def _bookings(report: Report) -> pd.DataFrame:
    return pd.DataFrame(
        [
            (
                b.day,
                "yes" if b.approximate else "",
                b.name,
                b.owner,
                b.plan,
                b.consultation,
                b.days_to_book,
                b.touches,
                None if b.value is None else float(b.value),
                b.row,
                b.sync_id,
            )
            for b in report.bookings
        ],
        columns=[
            "Booked on",
            "Approximate",
            "Name",
            "Owner",
            "Plan",
            "Consultation",
            "Days to booking",
            "Touches",
            "Value",
            "Row",
            "Sync ID",
        ],
    ).astype({"Days to booking": "Int64"})
