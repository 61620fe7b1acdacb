"""The report (SPEC §10) for people: plain text, an HTML page, and the manager's monthly email.

Pure, like render.py. `_shown` decides once what the report says (every figure already as
text, in the clinic's date order and currency); the text part and the HTML part only lay it
out, so both carry the same numbers in the same order.

The charts are bars a manager reads at a glance, each with its number written beside it, so
colour is never the only signal. In HTML they are tables whose bar is a cell with a width
percentage and a bgcolor: Gmail, Outlook and Apple Mail render those, with no images and no
<style> (mail programs drop it). Labels sit above their bar, so a chart needs no more width
than a phone has. Charts, bars and tables carry data-chart, data-bar and data-table, for the
layout tests.

`detail="minimal"` shows counts and money only: no prospect is named, so the list of the
period's bookings is left out. Owners are staff and keep their names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from email.message import EmailMessage
from html import escape

from sheets_sync.core.report import (
    LEFT_AFTER_DAYS,
    LONG_TERM_DAYS,
    Booking,
    Period,
    Report,
)
from sheets_sync.core.values import _MONTH_NAMES, DateOrder, format_day
from sheets_sync.core.words import counted
from sheets_sync.mail.render import (
    _MUTED_COLOUR,
    _WRAP,
    _address,
    _bdi,
    _clipped,
    _encodable_fields,
    _footer,
    _header_safe,
    _heading,
    _is_minimal,
    _isolated,
    _join_text,
    _message,
    _page,
    _paragraph,
    _sender,
    _Style,
    _subheading,
    _underlined,
)

_BAR_COLOUR = "#2e90fa"
_LONGEST_BAR = 70  # percent of the chart's width: the rest is room for the number beside it
_TEXT_BAR = 20  # characters of the longest bar in the text part


def report_text(
    report: Report,
    *,
    detail: str = "full",
    date_order: DateOrder = DateOrder.DMY,
    currency: str | None = None,
) -> str:
    """The report as plain text: what the console prints and the email's text part."""
    return _text(_shown(report, _Style(_is_minimal(detail), date_order, currency)))


def report_html(
    report: Report,
    *,
    detail: str = "full",
    date_order: DateOrder = DateOrder.DMY,
    currency: str | None = None,
) -> str:
    """The report as one HTML page, with the same figures as `report_text`."""
    return _html(_shown(report, _Style(_is_minimal(detail), date_order, currency)))


def render_monthly_report(
    report: Report,
    *,
    sender: str,
    to: str,
    detail: str = "full",
    date_order: DateOrder = DateOrder.DMY,
    currency: str | None = None,
) -> EmailMessage:
    """The manager's monthly report: subject with the bookings and their value, a text part
    and an HTML part with the same figures."""
    shown = _shown(report, _Style(_is_minimal(detail), date_order, currency))
    return _message(
        subject=shown.subject,
        sender=_sender(report.clinic, sender),
        recipient=_address("", to),
        text=_text(shown),
        html=_html(shown),
    )


@dataclass(frozen=True)
class _Bar:
    label: str
    size: Decimal  # what its length shows, against the chart's longest
    figure: str  # the number written beside it


@dataclass(frozen=True)
class _Chart:
    key: str
    title: str
    groups: tuple[tuple[str, tuple[_Bar, ...]], ...]  # (sheet text heading or "", its bars)
    note: str  # what it means, in the seeds' terms


@dataclass(frozen=True)
class _Table:
    key: str
    title: str
    headers: tuple[str, ...]  # no digits in them: the text part repeats them on every row
    rows: tuple[tuple[str, ...], ...]  # the first cell names the row (may be sheet text)
    note: str = ""
    words: int = 1  # the first columns hold words, which wrap; the others figures
    labels_wrap: bool = True  # False: the first column is short fixed words ("over 365 days")
    stacked: bool = False  # in HTML each row a block of "Header: cell" (too many for a phone)


@dataclass(frozen=True)
class _Shown:
    """Everything the report says, as text, in the order both parts show it."""

    subject: str
    heading: str
    clinic: str
    facts: tuple[str, ...]
    notes: tuple[str, ...]  # what is approximate or missing
    charts: tuple[_Chart, ...]
    tables: tuple[_Table, ...]


def _shown(report: Report, style: _Style) -> _Shown:
    """The one place that decides what the report says."""
    report = _encodable_fields(report)
    period = period_title(report.period, report.today, style.date_order)
    bookings = len(report.bookings)
    clinic = _header_safe(report.clinic)
    if bookings:
        said = f"{counted(bookings, 'booking')}, {style.money(report.booked_value)}"
    else:
        said = "no bookings"
    tables = [_owners_table(report), _pipeline_table(report, style)]
    if not style.minimal and report.bookings:
        tables.append(_bookings_table(report.bookings, style))
    return _Shown(
        subject=f"{clinic}: follow-up report for {period}: {said}",
        heading=f"Follow-up report for {period}",
        clinic=clinic,
        facts=_facts(report, style, period),
        notes=_notes(report, style),
        charts=(
            _days_chart(report),
            _income_chart(report, style),
            _touches_chart(report),
            _persistence_chart(report),
        ),
        tables=tuple(tables),
    )


def period_title(period: Period, today: date, order: DateOrder) -> str:
    """`October 2026`, `2026`, `1 Sep 2026 to 30 Nov 2026` (in the clinic's date order), or
    `the 12 months to 30 Nov 2026` for the default; `so far` while the period runs on."""
    if period == Period.twelve_months_to(today):
        return f"the 12 months to {_day(today, order)}"
    if period.whole_month:
        title = f"{_MONTH_NAMES[period.first.month - 1].capitalize()} {period.first.year}"
    elif period.whole_year:
        title = str(period.first.year)
    else:
        title = f"{_day(period.first, order)} to {_day(period.last, order)}"
    return f"{title} so far" if today in period and today < period.last else title


def _day(day: date, order: DateOrder) -> str:
    """`14 Nov 2026` or `Nov 14, 2026`: the clinic's order, without the weekday."""
    return format_day(day, order, with_year=True).split(" ", 1)[1]


def _percent(share: Decimal) -> str:
    return f"{(share * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)}%"


def _days(days: float) -> str:
    return f"{days:g}" if days != int(days) else f"{int(days):,}"


def _facts(report: Report, style: _Style, period: str) -> tuple[str, ...]:
    if not report.bookings:
        return (f"No bookings in {period}.",)
    facts = [
        f"{counted(len(report.bookings), 'booking')}, worth {style.money(report.booked_value)}."
    ]
    if spread := report.days_to_book:
        facts.append(
            f"Days from consultation to booking: youngest {_days(spread.youngest)},"
            f" median {_days(spread.median)}, oldest {_days(spread.oldest)}."
        )
    return tuple(facts)


def _notes(report: Report, style: _Style) -> tuple[str, ...]:
    notes = []
    if report.approximate:
        began = f" on {_day(report.log_began, style.date_order)}" if report.log_began else ""
        notes.append(
            f"≈ {counted(report.approximate, 'booking')} dated by their last touch:"
            f" booked before the touch log began{began}."
        )
    if report.without_value:
        has = "has" if report.without_value == 1 else "have"
        notes.append(f"{counted(report.without_value, 'booking')} {has} no value in the log.")
    if report.without_age:
        has = "has" if report.without_age == 1 else "have"
        notes.append(
            f"{counted(report.without_age, 'booking')} {has} no consultation date,"
            " so no age at booking: not in the charts by age."
        )
    if report.undated:
        notes.append(
            f"{counted(report.undated, 'booked prospect')} in the log"
            f" {'has' if report.undated == 1 else 'have'} no booking day (no Booked on,"
            " no status change in the touch log, no Last touch): left out of every period."
        )
    return tuple(notes)


def _days_chart(report: Report) -> _Chart:
    bars = tuple(
        _Bar(band.label, Decimal(band.count), f"{band.count:,}") for band in report.income_by_age
    )
    spread = report.days_to_book
    said = (
        f"Booked from {_days(spread.youngest)} to {_days(spread.oldest)} days after the"
        " consultation"
        if spread
        else "No booking with a consultation date"
    )
    return _Chart(
        "days",
        "Bookings by days from consultation to booking",
        (("", bars),),
        f"{said} (the seeds' long-term clinic: from 1 to 355 days and more).",
    )


def _income_chart(report: Report, style: _Style) -> _Chart:
    bars = tuple(
        _Bar(band.label, band.value, f"{style.money(band.value)} ({band.count:,})")
        for band in report.income_by_age
    )
    share = report.long_term_share
    said = (
        f"Share of income from prospects over {LONG_TERM_DAYS} days old: {_percent(share)}"
        if share is not None
        else f"No income to share out by age (over {LONG_TERM_DAYS} days old: none)"
    )
    return _Chart(
        "income",
        "Income by age at booking (bookings in brackets)",
        (("", bars),),
        f"{said} (the seeds' long-term clinic: about a fifth).",
    )


def _touches_chart(report: Report) -> _Chart:
    bars = tuple(
        _Bar(_touches_label(band.label), Decimal(band.count), f"{band.count:,}")
        for band in report.touches_before_booking
    )
    share = report.five_or_more_share
    said = (
        f"Bookings that needed five touches or more: {_percent(share)}"
        if share is not None
        else "No bookings to count touches for"
    )
    return _Chart(
        "touches",
        "Bookings by touches before booking",
        (("", bars),),
        f"{said} (the seeds: 80% of sales need five touches).",
    )


def _touches_label(band: str) -> str:
    return {"none": "no touch", "1": "1 touch"}.get(band, f"{band} touches")


def _persistence_chart(report: Report) -> _Chart:
    groups = tuple(
        (
            _clipped(owner.owner),
            tuple(
                _Bar(f"left after {_touches_label(str(after))}", Decimal(count), f"{count:,}")
                for after, count in enumerate(owner.left_after, 1)
            ),
        )
        for owner in report.owners
    )
    return _Chart(
        "persistence",
        "Open prospects left, by owner and touches so far",
        groups,
        f'Left: open, with neither a booking nor a "no", the next touch overdue'
        f" {LEFT_AFTER_DAYS} days or more (the seeds: 44% of staff stop after one touch,"
        " 22% after two, 14% after three, 12% after four).",
    )


def _owners_table(report: Report) -> _Table:
    rows = tuple(
        (
            _clipped(owner.owner),
            f"{owner.touches:,}",
            f"{owner.active:,}",
            f"{owner.overdue:,}",
            counted(owner.oldest_overdue, "day") if owner.overdue else "none",
        )
        for owner in report.owners
    )
    return _Table(
        "owners",
        "Owners",
        ("Owner", "Touches logged", "Open", "Overdue", "Oldest overdue"),
        rows,
        "" if rows else "No owners are named in the log.",
    )


def _pipeline_table(report: Report, style: _Style) -> _Table:
    rows = tuple(
        (
            row.age,
            ", ".join(
                f"{_clipped(plan) or 'no plan'} {count:,}"
                for plan, count in zip(report.plans, row.by_plan, strict=True)
                if count
            )
            or "none",
            f"{row.count:,}",
            style.money(row.value),
        )
        for row in report.pipeline
    )
    return _Table(
        "pipeline",
        f"Open prospects by age ({report.open_prospects:,} in all)",
        ("Age", "By plan", "Open", "Value"),
        rows,
        f"{counted(report.overdue, 'overdue prospect')}, with"
        f" {style.money(report.overdue_value)} waiting in"
        f" {'it' if report.overdue == 1 else 'them'}.",
        words=2,
        labels_wrap=False,
    )


def _bookings_table(bookings: Sequence[Booking], style: _Style) -> _Table:
    rows = tuple(
        (
            _clipped(booking.name) or f"row {booking.row}",
            _clipped(booking.owner),
            f"{'≈ ' if booking.approximate else ''}{_day(booking.day, style.date_order)}",
            "?" if booking.days_to_book is None else _days(booking.days_to_book),
            f"{booking.touches:,}",
            "none" if booking.value is None else style.money(booking.value),
        )
        for booking in bookings
    )
    return _Table(
        "bookings",
        "Bookings",
        ("Prospect", "Owner", "Booked on", "Days to booking", "Touches", "Value"),
        rows,
        stacked=True,
    )


# Plain text


def _text(shown: _Shown) -> str:
    blocks = [_underlined(shown.heading), shown.clinic, "\n".join(shown.facts)]
    if shown.notes:
        blocks.append("\n".join(shown.notes))
    blocks += [_chart_text(chart) for chart in shown.charts]
    blocks += [_table_text(table) for table in shown.tables]
    blocks.append("Sent by sheets-sync.")
    return _join_text(blocks)


def _chart_text(chart: _Chart) -> str:
    longest = _longest(chart)
    label_width = max((len(bar.label) for _, bars in chart.groups for bar in bars), default=0)
    lines = [_underlined(chart.title)]
    for heading, bars in chart.groups:
        if heading:
            lines.append(f"{_isolated(heading)}:")
        lines += [
            f"  {bar.label.ljust(label_width)}  {'█' * _length(bar, longest, _TEXT_BAR)}"
            f" {bar.figure}".rstrip()
            for bar in bars
        ]
    if not chart.groups:
        lines.append("  (nobody to show)")
    return "\n".join([*lines, chart.note])


def _table_text(table: _Table) -> str:
    lines = [_underlined(table.title)]
    for first, *cells in table.rows:
        figures = ", ".join(
            f"{header.lower()} {_isolated(cell)}"
            for header, cell in zip(table.headers[1:], cells, strict=True)
        )
        lines.append(f"- {_isolated(first)}: {figures}")
    if table.note:
        lines.append(table.note)
    return "\n".join(lines)


def _longest(chart: _Chart) -> Decimal:
    return max((bar.size for _, bars in chart.groups for bar in bars), default=Decimal(0))


def _length(bar: _Bar, longest: Decimal, full: int) -> int:
    """The bar's length, `full` for the longest; at least 1 for any bar above zero."""
    if not longest or bar.size <= 0:
        return 0
    return max(1, int((bar.size / longest * full).to_integral_value(ROUND_HALF_UP)))


# HTML


def _html(shown: _Shown) -> str:
    return _page(
        shown.subject,
        [
            _heading(shown.heading),
            _paragraph(shown.clinic),
            *(_paragraph(fact) for fact in shown.facts),
            *(_paragraph(note) for note in shown.notes),
            *(_chart_html(chart) for chart in shown.charts),
            *(_table_html(table) for table in shown.tables),
            _footer("Sent by sheets-sync."),
        ],
    )


_CELL = "padding:6px 4px;border-bottom:1px solid #eaecf0;vertical-align:top;"
# Numbers and their headings wrap between words only: "Oldest / overdue", never "Ove / rdue".
_NUMBER = f"{_CELL}text-align:right;overflow-wrap:normal;word-break:normal;"
_TABLE = (
    'role="presentation" width="100%" cellpadding="0" cellspacing="0"'
    ' style="width:100%;border-collapse:collapse;background:#ffffff;font-size:14px;"'
)


def _chart_html(chart: _Chart) -> str:
    longest = _longest(chart)
    rows = []
    for heading, bars in chart.groups:
        if heading:
            rows.append(
                f'<tr><td style="padding:10px 8px 0;font-weight:bold;{_WRAP}">'
                f"{_bdi(heading)}</td></tr>"
            )
        rows += [_bar_html(chart.key, bar, longest) for bar in bars]
    if not chart.groups:
        rows.append(f'<tr><td style="padding:6px 8px;">{escape("(nobody to show)")}</td></tr>')
    return (
        f'<div data-chart="{chart.key}" style="margin:0 0 8px;">'
        f'{_subheading(chart.title)}<div style="background:#ffffff;padding:0 0 8px;">'
        f"<table {_TABLE}>{''.join(rows)}</table></div>"
        f'<p style="margin:8px 0 12px;font-size:13px;color:{_MUTED_COLOUR};{_WRAP}">'
        f"{escape(chart.note)}</p></div>"
    )


def _bar_html(key: str, bar: _Bar, longest: Decimal) -> str:
    """The label on its own line, then the bar with its number beside it."""
    width = _length(bar, longest, _LONGEST_BAR)
    filled = (
        f'<td width="{width}%" bgcolor="{_BAR_COLOUR}" style="width:{width}%;'
        f'background:{_BAR_COLOUR};height:14px;font-size:0;line-height:0;">&nbsp;</td>'
        if width
        else ""
    )
    return (
        f'<tr><td style="padding:6px 8px 0;font-size:13px;{_WRAP}">{escape(bar.label)}</td></tr>'
        '<tr><td style="padding:2px 8px 0;">'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0"'
        ' style="width:100%;border-collapse:collapse;"><tr>'
        f'{filled}<td data-bar="{escape(key)}:{escape(bar.label)}" style="padding:0 0 0 6px;'
        f'white-space:nowrap;font-size:13px;font-weight:bold;">{escape(bar.figure)}</td>'
        "</tr></table></td></tr>"
    )


def _table_html(table: _Table) -> str:
    if table.stacked:
        return _stacked_html(table)
    header = "".join(
        f'<th style="{_CELL}text-align:left;">{escape(text)}</th>'
        if column < table.words
        else f'<th style="{_NUMBER}">{escape(text)}</th>'
        for column, text in enumerate(table.headers)
    )
    rows = "".join(
        "<tr>"
        + "".join(
            f'<td style="{_CELL}{_label_wrap(table, column)}">{_bdi(cell)}</td>'
            if column < table.words
            else f'<td style="{_NUMBER}">{_bdi(cell)}</td>'
            for column, cell in enumerate(row)
        )
        + "</tr>"
        for row in table.rows
    )
    note = _paragraph(table.note) if table.note else ""
    return (
        f'<div data-table="{table.key}">{_subheading(table.title)}'
        f"<table {_TABLE}><tr>{header}</tr>{rows}</table>"
        f'<div style="margin:8px 0 0;">{note}</div></div>'
    )


def _label_wrap(table: _Table, column: int) -> str:
    return "white-space:nowrap;" if column == 0 and not table.labels_wrap else _WRAP


def _stacked_html(table: _Table) -> str:
    """One block per row: the first cell in bold, then each header with its cell."""
    rows = "".join(
        f'<tr><td style="{_CELL}{_WRAP}"><div style="font-weight:bold;">{_bdi(first)}</div>'
        + " · ".join(
            f'<span style="color:{_MUTED_COLOUR};">{escape(header)}:</span> {_bdi(cell)}'
            for header, cell in zip(table.headers[1:], cells, strict=True)
        )
        + "</td></tr>"
        for first, *cells in table.rows
    )
    return (
        f'<div data-table="{table.key}">{_subheading(table.title)}'
        f"<table {_TABLE}>{rows}</table></div>"
    )
