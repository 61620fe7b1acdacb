"""`sheets-sync report` (SPEC §10): the period people ask for, printed, as a page and as a
workbook, from a real log and its touch log; bad periods said plainly, without a traceback."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from sheets_sync.cli import main
from sheets_sync.core.report import Period
from sheets_sync.report import PeriodError, report_period
from tests.workbooks import make_log

REPO = Path(__file__).resolve().parents[1]
MONDAY, TUESDAY = "2026-11-23", "2026-11-24"


@pytest.fixture
def clinic(tmp_path: Path) -> str:
    """A log synced on Monday, Cara booked already (before the touch log began: dated by her
    last touch); on Tuesday staff mark Bob booked (£2,500) and the touch log sees it. Returns
    the config file."""
    path = make_log(
        tmp_path / "log.xlsx",
        [
            {
                "Name": "Ann Ames",
                "Owner": "Anna Price",
                "Consultation date": date(2026, 11, 2),
                "Status": "Open",
                "Last touch": date(2026, 11, 4),
                "Touches": 2,
                "Value": 1800,
            },
            {
                "Name": "Bob Brown",
                "Owner": "Ben Okafor",
                "Consultation date": date(2026, 11, 9),
                "Status": "Open",
                "Touches": 1,
                "Value": 2500,
            },
            {
                "Name": "Cara Cole",
                "Owner": "Anna Price",
                "Consultation date": date(2026, 10, 1),
                "Status": "Booked",
                "Last touch": date(2026, 11, 10),
                "Touches": 6,
            },
        ],
    )
    config = tmp_path / "sheets_sync.toml"
    config.write_text(
        f"""
[clinic]
name = "Riverside Aesthetics"
currency = "GBP"

[source]
kind = "xlsx"
path = "log.xlsx"

[plans]
file = "{(REPO / "sheets_sync" / "plans.toml").as_posix()}"

[mail]
outbox = "outbox"
from = "Riverside Aesthetics <followups@riverside.example>"
detail = "minimal"

[daemon]
state_dir = "state"
""",
        encoding="utf-8",
    )
    assert main(["once", "--config", str(config), "--today", MONDAY, "--no-digest"]) == 0
    workbook = openpyxl.load_workbook(path)
    sheet = workbook.active
    headers = [cell.value for cell in sheet[1]]
    sheet.cell(3, headers.index("Status") + 1, "Booked")
    sheet.cell(3, headers.index("Last touch") + 1, datetime(2026, 11, 24))
    workbook.save(path)
    assert main(["once", "--config", str(config), "--today", TUESDAY, "--no-digest"]) == 0
    return str(config)


def report(capsys: pytest.CaptureFixture[str], config: str, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["report", "--config", config, "--today", TUESDAY, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_month_is_printed_with_its_booking(
    capsys: pytest.CaptureFixture[str], clinic: str
) -> None:
    code, out, err = report(capsys, clinic, "--month", "2026-11")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "Follow-up report for November 2026 so far"
    assert "2 bookings, worth £2,500." in lines
    assert "Days from consultation to booking: youngest 15, median 27.5, oldest 40." in lines
    # Cara was booked before the touch log saw her: dated by her last touch, and said so.
    assert (
        "≈ 1 booking dated by their last touch: booked before the touch log began on 24 Nov 2026."
        in lines
    )
    assert "1 booking has no value in the log." in lines
    # On this computer the report names the bookings, also with minimal mail.
    assert (
        "- Cara Cole: owner Anna Price, booked on ≈ 10 Nov 2026, days to booking 40, touches 6,"
        " value none" in lines
    )
    assert (
        "- Bob Brown: owner Ben Okafor, booked on 24 Nov 2026, days to booking 15, touches 1,"
        " value £2,500" in lines
    )
    assert "- Anna Price: touches logged 0, open 1, overdue 1, oldest overdue 15 days" in lines
    assert "- Ben Okafor: touches logged 1, open 0, overdue 0, oldest overdue none" in lines
    assert "1 overdue prospect, with £1,800 waiting in it." in lines


def test_a_year_a_span_and_the_default(capsys: pytest.CaptureFixture[str], clinic: str) -> None:
    assert report(capsys, clinic, "--year", "2026")[1].startswith(
        "Follow-up report for 2026 so far\n"
    )
    _, out, _ = report(capsys, clinic, "--from", "2026-10-01", "--to", "2026-11-09")
    assert out.startswith("Follow-up report for 1 Oct 2026 to 9 Nov 2026\n")
    assert "No bookings in 1 Oct 2026 to 9 Nov 2026." in out
    _, out, _ = report(capsys, clinic)
    assert out.startswith("Follow-up report for the 12 months to 24 Nov 2026\n")
    assert "2 bookings, worth £2,500." in out


def test_the_page_and_the_workbook_are_written(
    capsys: pytest.CaptureFixture[str], clinic: str, tmp_path: Path
) -> None:
    page, book = tmp_path / "report.html", tmp_path / "report.xlsx"
    code, out, err = report(
        capsys, clinic, "--month", "2026-11", "--html", str(page), "--xlsx", str(book)
    )
    assert code == 0, err
    assert f"Wrote the report as a page to {page}." in out
    assert f"Wrote the report's tables to {book}." in out
    assert "Bob Brown" in page.read_text(encoding="utf-8")
    summary = dict(openpyxl.load_workbook(book)["Summary"].iter_rows(values_only=True))
    assert summary["Bookings"] == 2
    assert summary["Value of bookings"] == 2500
    assert summary["Bookings with no value"] == 1
    assert summary["Bookings dated by their last touch (approximate)"] == 1


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--month", "2026-13"], "--month '2026-13' is not a month; write it like 2026-10"),
        (["--month", "October"], "--month 'October' is not a month"),
        (["--year", "26"], "--year '26' is not a year; write it like 2026"),
        (["--from", "1/9/2026"], "--from '1/9/2026' is not a date; write it like 2026-09-01"),
        (["--to", "2026-11-01"], "--to needs --from"),
        (
            ["--from", "2026-11-02", "--to", "2026-11-01"],
            "the period starts on 2026-11-02 but ends before it, on 2026-11-01",
        ),
        (["--html", "/no/such/folder/report.html"], "the report could not be written to"),
    ],
)
def test_a_bad_period_or_file_is_said_plainly(
    capsys: pytest.CaptureFixture[str], clinic: str, argv: list[str], said: str
) -> None:
    code, _, err = report(capsys, clinic, *argv)
    assert code == 1
    assert said in err
    assert "Traceback" not in err


def test_only_one_period_option_at_a_time(capsys: pytest.CaptureFixture[str], clinic: str) -> None:
    with pytest.raises(SystemExit) as stopped:
        report(capsys, clinic, "--month", "2026-11", "--year", "2026")
    assert stopped.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_report_period() -> None:
    today = date(2026, 11, 24)
    assert report_period(today=today, month="2026-02") == Period(
        date(2026, 2, 1), date(2026, 2, 28)
    )
    assert report_period(today=today, month="2026-12") == Period.month(2026, 12)
    assert report_period(today=today, year="2025") == Period.year(2025)
    assert report_period(today=today, first="2026-09-01") == Period(date(2026, 9, 1), today)
    assert report_period(today=today) == Period(date(2025, 11, 25), today)
    with pytest.raises(PeriodError):
        report_period(today=today, month="2026-00")
