"""The HTML digest as a browser lays it out: at phone (375px) and desktop (1024px) width every
prospect is there, nothing runs off the side, and sheet text stays text.

Needs Chromium (Debian's `chromium`): skipped on a machine without it, failed in CI.
"""

from __future__ import annotations

from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from sheets_sync.core.digest import ManagerSummary, OwnerCount, RowNote
from sheets_sync.mail.render import render_manager_summary, render_owner_digest
from tests.chromium import render_page, screenshot
from tests.mail.test_render import SENDER, digest, html, line, manager_summary, overdue

WIDTHS = (375, 1024)
SCRIPT_TEXT = "<script>document.title='pwned'</script><img src=x onerror=alert(1)>"
LONG_NAME = "Maximiliana-Theodora Featherstonehaugh-Cholmondeley-Wolfeschlegelsteinhausen"
LONG_EMAIL = "maximiliana.theodora.featherstonehaugh.cholmondeley@extremely-long-domain.example"
LONG_ACTION = "Step 3/7 · Call · " + "Discuss the revised quote, finance options and dates. " * 6
LONG_LINK = "https://docs.google.com/spreadsheets/d/" + "x" * 120 + "/edit#gid=0&range=A"


def owner_message(detail: str = "full") -> EmailMessage:
    """Six prospects, built to be awkward on a phone."""
    prospects = digest(
        (
            overdue(12, row=7, name=LONG_NAME, email=LONG_EMAIL, link=LONG_LINK + "7"),
            overdue(5, row=9, name=SCRIPT_TEXT, procedure=SCRIPT_TEXT, next_action=SCRIPT_TEXT),
            overdue(1, row=11, next_action=LONG_ACTION, value=Decimal("123456789012.50")),
        ),
        (
            line(row=14, name="Siobhán O'Neill", link=LONG_LINK + "14"),
            line(row=15, email="x" * 200 + "@example.com", phone="+44 7700 900123 " * 5),
            line(row=16, name="Bo", phone="", email="", procedure="", value=None),
        ),
        owner=LONG_NAME,
    )
    return render_owner_digest(prospects, clinic="Northside Clinic", sender=SENDER, detail=detail)


OWNER_ROWS = {7, 9, 11, 14, 15, 16}


def manager_message(detail: str = "full") -> EmailMessage:
    summary: ManagerSummary = manager_summary(
        owners=(
            OwnerCount(LONG_NAME, LONG_EMAIL, overdue=9, due_today=7, upcoming=4),
            OwnerCount(SCRIPT_TEXT, None, overdue=3, due_today=1, upcoming=0),
        ),
        check_data=(
            RowNote(30, LONG_NAME, SCRIPT_TEXT, '"31/02/2026" is not a real date ' * 5),
            RowNote(41, SCRIPT_TEXT, LONG_NAME, SCRIPT_TEXT),
        ),
        unaddressed=(RowNote(61, "Lee Park", SCRIPT_TEXT, "owner has no email address"),),
        unaddressed_lines=(
            overdue(4, row=61, name=LONG_NAME, email=LONG_EMAIL, next_action=LONG_ACTION),
        ),
    )
    return render_manager_summary(summary, sender=SENDER, detail=detail)


MANAGER_ROWS = {30, 41, 61}

MESSAGES = {
    "owner-full": (owner_message, "full", OWNER_ROWS),
    "owner-minimal": (owner_message, "minimal", OWNER_ROWS),
    "manager-full": (manager_message, "full", MANAGER_ROWS),
    "manager-minimal": (manager_message, "minimal", MANAGER_ROWS),
}


def laid_out(message: EmailMessage, width: int, tmp_path: Path) -> dict[str, Any]:
    page = tmp_path / f"message-{width}.html"
    page.write_text(html(message), encoding="utf-8")
    return render_page(page, width)


@pytest.mark.usefixtures("chromium")
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("which", sorted(MESSAGES))
def test_every_prospect_is_shown_and_nothing_overflows(
    which: str, width: int, tmp_path: Path
) -> None:
    build, detail, rows = MESSAGES[which]

    measured = laid_out(build(detail), width, tmp_path)

    assert measured["innerWidth"] == width
    assert {int(block["row"]) for block in measured["blocks"]} == rows
    assert len(measured["blocks"]) == len(rows)
    assert measured["scrollWidth"] <= measured["innerWidth"]
    assert measured["maxRight"] <= measured["innerWidth"]
    for block in measured["blocks"]:
        assert block["width"] > 0
        assert block["height"] > 0
        assert block["left"] >= 0
        assert block["right"] <= width
        assert block["width"] <= 640  # one column, however wide the screen
        assert block["scrollWidth"] <= block["clientWidth"]  # nothing sticks out of a block


@pytest.mark.usefixtures("chromium")
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("which", ["owner-full", "manager-full"])
def test_sheet_text_that_looks_like_markup_stays_text(
    which: str, width: int, tmp_path: Path
) -> None:
    build, detail, _ = MESSAGES[which]

    measured = laid_out(build(detail), width, tmp_path)

    assert measured["scripts"] == 1  # only the one the measuring injected
    assert measured["images"] == 0
    assert any(SCRIPT_TEXT in block["text"] for block in measured["blocks"])


@pytest.mark.usefixtures("chromium")
def test_screenshot_at_phone_width(tmp_path: Path) -> None:
    page = tmp_path / "digest.html"
    page.write_text(html(owner_message()), encoding="utf-8")

    png = screenshot(page, 375, tmp_path / "digest-375.png").read_bytes()

    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert int.from_bytes(png[16:20], "big") == 375  # IHDR width
    assert len(png) > 5_000
