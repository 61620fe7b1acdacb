"""The report (SPEC §10) as people read it: the text and HTML parts say the same numbers,
minimal mode names no prospect, the page loads nothing from elsewhere and escapes every cell,
and the workbook holds the tables with their figures, its text inert."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import openpyxl
import pytest

from sheets_sync.core.report import (
    AGE_BANDS,
    TOUCH_BANDS,
    Band,
    Booking,
    OwnerFigures,
    Period,
    PipelineRow,
    Report,
)
from sheets_sync.core.values import DateOrder
from sheets_sync.mail.report import render_monthly_report, report_html, report_text
from sheets_sync.report import write_html, write_xlsx

SENDER = "Riverside Aesthetics <followups@riverside.example>"
HOSTILE = '=HYPERLINK("http://evil.example","x")<script>alert(1)</script><img src=http://x/y>'
OCTOBER = Period.month(2026, 10)


def booking(
    day: date,
    *,
    name: str = "Ann Ames",
    owner: str = "Anna Price",
    consultation: date | None = date(2026, 8, 1),
    value: Decimal | None = Decimal(1200),
    touches: int = 3,
    source: str = "touch log",
    row: int = 2,
) -> Booking:
    return Booking(
        sync_id=f"{row:08x}",
        row=row,
        name=name,
        owner=owner,
        day=day,
        source=source,  # type: ignore[arg-type]
        consultation=consultation,
        value=value,
        touches=touches,
        plan="Standard",
    )


def report_of(
    bookings: tuple[Booking, ...],
    *,
    period: Period = OCTOBER,
    today: date = date(2026, 11, 2),
    undated: int = 0,
    owners: tuple[OwnerFigures, ...] | None = None,
    log_began: date | None = date(2026, 10, 14),
) -> Report:
    """A Report as build_report makes one: the bands counted from `bookings`."""
    ages = [
        [
            b
            for b in bookings
            if b.days_to_book is not None and _in_band(b.days_to_book, first, last)
        ]
        for _, first, last in AGE_BANDS
    ]
    touches = [
        [b for b in bookings if min(b.touches, 5) == index] for index in range(len(TOUCH_BANDS))
    ]
    return Report(
        clinic="Riverside Aesthetics",
        period=period,
        today=today,
        log_began=log_began,
        bookings=bookings,
        undated=undated,
        income_by_age=tuple(
            Band(label, len(group), sum((b.value or Decimal(0) for b in group), Decimal(0)))
            for (label, _, _), group in zip(AGE_BANDS, ages, strict=True)
        ),
        touches_before_booking=tuple(
            Band(label, len(group), sum((b.value or Decimal(0) for b in group), Decimal(0)))
            for label, group in zip(TOUCH_BANDS, touches, strict=True)
        ),
        owners=owners
        if owners is not None
        else (
            OwnerFigures("Anna Price", 41, 12, 3, 21, (5, 2, 1, 0)),
            OwnerFigures("Ben Okafor", 17, 9, 6, 48, (7, 3, 0, 1)),
        ),
        plans=("Implant", "Standard"),
        pipeline=tuple(
            PipelineRow(label, (index, 2 * index + 1), Decimal(1000 * (index + 1)))
            for index, (label, _, _) in enumerate(AGE_BANDS)
        ),
        overdue=9,
        overdue_value=Decimal("15250.50"),
    )


def _in_band(days: int, first: int, last: int | None) -> bool:
    return days >= first and (last is None or days <= last)


def october() -> Report:
    """Seven bookings in October 2026: three dated by their last touch, one without value."""
    return report_of(
        (
            booking(date(2026, 10, 2), name="Ann Ames", consultation=date(2026, 9, 30), touches=1),
            booking(date(2026, 10, 5), name="Bob Brown", value=Decimal(4800), touches=5, row=3),
            booking(
                date(2026, 10, 7),
                name="Cy Chen",
                owner="Ben Okafor",
                consultation=date(2025, 9, 1),
                value=Decimal(6400),
                touches=7,
                source="last touch",
                row=4,
            ),
            booking(
                date(2026, 10, 9), name="Di Diaz", value=None, touches=2, source="last touch", row=5
            ),
            booking(
                date(2026, 10, 12),
                name="Ed Egan",
                consultation=date(2026, 2, 20),
                value=Decimal(3000),
                touches=4,
                source="last touch",
                row=6,
            ),
            booking(date(2026, 10, 20), name="Flo Ford", value=Decimal(1500), touches=0, row=7),
            booking(date(2026, 10, 28), name="Gus Gray", value=Decimal(1500), touches=6, row=8),
        )
    )


NAMES = ("Ann Ames", "Bob Brown", "Cy Chen", "Di Diaz", "Ed Egan", "Flo Ford", "Gus Gray")
_NUMBER = re.compile(r"£?\d+(?:,\d{3})*(?:\.\d+)?%?")


class _BodyText(HTMLParser):
    """The text a reader sees in the page's body, and every tag and attribute used."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str]] = []
        self._in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes += [(name, value or "") for name, value in attrs]
        self._in_body = self._in_body or tag == "body"

    def handle_data(self, data: str) -> None:
        if self._in_body:
            self.text.append(data)


def body(page: str) -> _BodyText:
    parser = _BodyText()
    parser.feed(page)
    return parser


def numbers(text: str) -> list[str]:
    return _NUMBER.findall(text)


def parts(report: Report, detail: str = "full") -> tuple[str, str, str]:
    """The subject, text part and HTML part of the monthly email."""
    message = render_monthly_report(
        report, sender=SENDER, to="manager@riverside.example", detail=detail, currency="GBP"
    )
    text, page = (
        part.get_content()  # type: ignore[attr-defined]
        for part in message.iter_parts()
    )
    return str(message["Subject"]), text, page


@pytest.mark.parametrize("detail", ["full", "minimal"])
def test_the_text_and_html_parts_carry_the_same_numbers_in_the_same_order(detail: str) -> None:
    _, text, page = parts(october(), detail)
    shown = " ".join(body(page).text)
    assert numbers(text) == numbers(shown)
    for figure in ("£18,400", "51%", "43%", "£15,250.50", "401", "80"):
        assert figure in numbers(text), figure


def test_the_subject_names_the_clinic_the_month_the_bookings_and_their_value() -> None:
    subject, text, _ = parts(october())
    assert subject == "Riverside Aesthetics: follow-up report for October 2026: 7 bookings, £18,400"
    assert "Days from consultation to booking: youngest 2, median 80, oldest 401." in text


def test_the_charts_say_what_they_mean_in_the_seeds_terms() -> None:
    _, text, page = parts(october())
    lines = (
        "Share of income from prospects over 200 days old: 51% (the seeds' long-term clinic:"
        " about a fifth).",
        "Bookings that needed five touches or more: 43% (the seeds: 80% of sales need five"
        " touches).",
    )
    for line in lines:
        assert line in text
        assert line.replace("'", "&#x27;") in page
    # Each bar's number is written beside it: the touches chart's six bars, in both parts.
    assert re.search(r"5 or more touches\s+█+ 3\n", text)
    assert '<td data-bar="touches:5 or more touches"' in page


def test_what_is_approximate_or_missing_is_said_plainly() -> None:
    report = report_of(
        (
            *october().bookings,
            booking(date(2026, 10, 30), name="Hal Hunt", consultation=None, value=None, row=9),
        ),
        undated=2,
    )
    _, text, page = parts(report)
    for said in (
        "≈ 3 bookings dated by their last touch: booked before the touch log began on 14 Oct 2026.",
        "2 bookings have no value in the log.",
        "1 booking has no consultation date, so no age at booking: not in the charts by age.",
        "2 booked prospects in the log have no booking day",
    ):
        assert said in text
        assert said in " ".join(body(page).text)
    assert "booked on ≈ 7 Oct 2026" in text  # the approximate day marked where it is listed


def test_a_month_without_bookings_still_shows_the_owners_and_the_pipeline() -> None:
    subject, text, page = parts(report_of(()))
    assert subject.endswith("October 2026: no bookings")
    assert "No bookings in October 2026." in text
    assert "- Ben Okafor: touches logged 17, open 9, overdue 6, oldest overdue 48 days" in text
    assert "9 overdue prospects, with £15,250.50 waiting in them." in text
    assert 'data-table="owners"' in page
    assert 'data-table="pipeline"' in page
    assert 'data-table="bookings"' not in page
    assert all(
        f'data-chart="{key}"' in page for key in ("days", "income", "touches", "persistence")
    )


def test_minimal_mode_names_no_prospect_but_keeps_the_owners() -> None:
    subject, text, page = parts(october(), "minimal")
    for name in NAMES:
        for part in (subject, text, page):
            assert name not in part
    assert "Anna Price" in text
    assert "Ben Okafor" in " ".join(body(page).text)
    assert "7 bookings, worth £18,400." in text
    _, full_text, _ = parts(october(), "full")
    assert all(name in full_text for name in NAMES)


def test_the_page_loads_nothing_from_elsewhere() -> None:
    _, _, page = parts(october())
    parsed = body(page)
    assert not parsed.tags & {"img", "script", "link", "style", "iframe", "object"}
    assert not [value for name, value in parsed.attributes if name in ("src", "href")]
    assert "url(" not in page
    assert "http" not in page


def test_every_value_from_the_log_is_escaped() -> None:
    hostile = report_of(
        (booking(date(2026, 10, 2), name=HOSTILE, owner=HOSTILE),),
        owners=(OwnerFigures(HOSTILE, 1, 1, 1, 3, (1, 0, 0, 0)),),
    )
    hostile = Report(**{**vars(hostile), "plans": (HOSTILE, "Standard")})
    _, text, page = parts(hostile)
    parsed = body(page)
    assert parsed.tags <= {
        "html", "head", "meta", "title", "body", "div", "h1", "h2", "p",
        "table", "tr", "td", "th", "span", "bdi",
    }  # fmt: skip
    assert HOSTILE in " ".join(parsed.text)  # shown as the text it is
    assert HOSTILE in text


def test_the_period_is_named_in_the_clinics_date_order() -> None:
    today = date(2026, 11, 30)

    def title(period: Period, order: DateOrder = DateOrder.DMY) -> str:
        return report_text(report_of((), period=period, today=today), date_order=order).split("\n")[
            0
        ]

    assert title(OCTOBER) == "Follow-up report for October 2026"
    assert title(Period.year(2025)) == "Follow-up report for 2025"
    assert title(Period.year(2026)) == "Follow-up report for 2026 so far"
    span = Period(date(2026, 9, 1), date(2026, 11, 29))
    assert title(span) == "Follow-up report for 1 Sep 2026 to 29 Nov 2026"
    assert title(span, DateOrder.MDY) == "Follow-up report for Sep 1, 2026 to Nov 29, 2026"
    assert (
        title(Period.twelve_months_to(today)) == "Follow-up report for the 12 months to 30 Nov 2026"
    )
    assert Period.twelve_months_to(today) == Period(date(2025, 12, 1), today)
    assert Period.twelve_months_to(date(2028, 2, 29)).first == date(2027, 3, 1)


def test_the_page_file_is_the_full_report(tmp_path: Path) -> None:
    write_html(october(), tmp_path / "report.html", currency="GBP")
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert page == report_html(october(), currency="GBP")
    assert "Gus Gray" in page


def test_the_workbook_holds_the_tables_with_their_figures_and_inert_text(tmp_path: Path) -> None:
    report = report_of(
        (*october().bookings, booking(date(2026, 10, 30), name=HOSTILE, owner="Anna Price", row=9))
    )
    write_xlsx(report, tmp_path / "report.xlsx")
    workbook = openpyxl.load_workbook(tmp_path / "report.xlsx")
    assert workbook.sheetnames == [
        "Summary",
        "Bookings",
        "Income by age",
        "Touches before booking",
        "Owners",
        "Pipeline",
    ]
    summary = {row[0]: row[1] for row in workbook["Summary"].iter_rows(values_only=True)}
    assert summary["Bookings"] == 8
    assert summary["Value of bookings"] == 19600
    assert summary["Bookings dated by their last touch (approximate)"] == 3
    assert summary["Days to booking, oldest"] == 401
    income = list(workbook["Income by age"].iter_rows(values_only=True))
    assert income[0] == ("Age at booking", "Bookings", "Income")
    assert income[2] == ("31-90 days", 5, 9000)
    owners = list(workbook["Owners"].iter_rows(values_only=True))
    assert owners[2] == ("Ben Okafor", 17, 9, 6, 48, 7, 3, 0, 1)
    pipeline = list(workbook["Pipeline"].iter_rows(values_only=True))
    assert pipeline[0] == ("Age", "Implant", "Standard", "Open", "Value")
    assert pipeline[5] == ("over 365 days", 4, 9, 13, 5000)
    bookings = workbook["Bookings"]
    hostile = next(row for row in bookings.iter_rows(min_row=2) if row[9].value == 9)
    assert hostile[2].value == HOSTILE
    assert hostile[2].data_type == "s"
    assert hostile[0].value.date() == date(2026, 10, 30)
    approximate = [row[1].value for row in bookings.iter_rows(min_row=2)]
    assert approximate.count("yes") == 3
