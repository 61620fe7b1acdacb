"""The report's page as a browser lays it out: at phone (375px) and desktop (1024px) width
all four charts and every table are there, nothing runs off the side, and every bar's number
is on screen beside its bar.

Needs Chromium (Debian's `chromium`): skipped on a machine without it, failed in CI.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from sheets_sync.core.report import OwnerFigures, Report
from sheets_sync.mail.report import render_monthly_report
from tests.chromium import render_page, screenshot
from tests.mail.test_render import html
from tests.test_report_render import SENDER, booking, october, report_of

WIDTHS = (375, 1024)
LONG_NAME = "Maximiliana-Theodora Featherstonehaugh-Cholmondeley-Wolfeschlegelsteinhausen"
SCRIPT_TEXT = "<script>document.title='pwned'</script><img src=x onerror=alert(1)>"
CHARTS = {"days", "income", "touches", "persistence"}


def awkward() -> Report:
    """October's bookings and more, built to be awkward on a phone: long names, five plans
    with long names, a value in the hundreds of millions, three owners."""
    report = report_of(
        (
            *october().bookings,
            booking(
                date(2026, 10, 31),
                name=LONG_NAME,
                owner=SCRIPT_TEXT,
                value=Decimal("123456789.50"),
                touches=12,
                row=40,
            ),
        ),
        owners=(
            OwnerFigures("Anna Price", 41, 12, 3, 21, (5, 2, 1, 0)),
            OwnerFigures(LONG_NAME, 1_234, 980, 655, 1_024, (321, 123, 45, 6)),
            OwnerFigures(SCRIPT_TEXT, 0, 0, 0, 0, (0, 0, 0, 0)),
        ),
    )
    plans = ("Implant", "Standard", "Long-term payment-plan reactivation " * 3, "VIP", "Z")
    pipeline = tuple(
        type(row)(row.age, (*row.by_plan, 3, 4, 5), row.value * 10_000) for row in report.pipeline
    )
    return Report(**{**vars(report), "plans": plans, "pipeline": pipeline})


def laid_out(detail: str, width: int, tmp_path: Path) -> dict[str, Any]:
    message = render_monthly_report(
        awkward(), sender=SENDER, to="manager@riverside.example", detail=detail, currency="GBP"
    )
    page = tmp_path / f"report-{detail}-{width}.html"
    page.write_text(html(message), encoding="utf-8")
    return render_page(page, width)


@pytest.mark.usefixtures("chromium")
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("detail", ["full", "minimal"])
def test_every_chart_and_table_is_shown_and_nothing_overflows(
    detail: str, width: int, tmp_path: Path
) -> None:
    measured = laid_out(detail, width, tmp_path)
    marked = measured["marked"]

    assert measured["innerWidth"] == width
    assert measured["scrollWidth"] <= width
    assert measured["maxRight"] <= width
    assert {box["chart"] for box in marked if box["chart"]} == CHARTS
    tables = {box["table"] for box in marked if box["table"]}
    assert tables == (
        {"owners", "pipeline", "bookings"} if detail == "full" else {"owners", "pipeline"}
    )
    for box in marked:
        assert box["width"] > 0
        assert box["height"] > 0
        assert box["left"] >= 0
        assert box["right"] <= width
        assert box["width"] <= 640  # one column, however wide the screen
        assert box["scrollWidth"] <= box["clientWidth"]  # nothing sticks out of it


@pytest.mark.usefixtures("chromium")
@pytest.mark.parametrize("width", WIDTHS)
def test_every_bar_has_its_number_on_screen(width: int, tmp_path: Path) -> None:
    bars = [box for box in laid_out("full", width, tmp_path)["marked"] if box["bar"]]

    # 5 age bands twice, 6 touch bands, 4 bars for each of the 3 owners.
    assert len(bars) == 5 + 5 + 6 + 4 * 3
    by_name = {box["bar"]: box["text"] for box in bars}
    assert by_name["income:31-90 days"] == "£7,800 (4)"
    assert by_name["income:91-180 days"] == "£123,456,789.50 (1)"
    assert by_name["touches:5 or more touches"] == "4"
    for box in bars:
        assert box["text"].strip()
        assert 0 <= box["left"] < box["right"] <= width
        assert box["scrollWidth"] <= box["clientWidth"]  # the number is not cut off


@pytest.mark.usefixtures("chromium")
def test_sheet_text_that_looks_like_markup_stays_text(tmp_path: Path) -> None:
    measured = laid_out("full", 375, tmp_path)

    assert measured["scripts"] == 1  # only the one the measuring injected
    assert measured["images"] == 0
    assert any(SCRIPT_TEXT in box["text"] for box in measured["marked"] if box["table"])


@pytest.mark.usefixtures("chromium")
@pytest.mark.parametrize("width", WIDTHS)
def test_screenshot(width: int, tmp_path: Path) -> None:
    message = render_monthly_report(october(), sender=SENDER, to="m@riverside.example")
    page = tmp_path / "report.html"
    page.write_text(html(message), encoding="utf-8")

    png = screenshot(page, width, tmp_path / f"report-{width}.png").read_bytes()

    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert int.from_bytes(png[16:20], "big") == width  # IHDR width
    assert len(png) > 5_000
