"""A morning with a long backlog (issue 13): each digest leads with the longest overdue and,
among equally late prospects, the most valuable; it carries the Notes cell and the Sync ID."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from sheets_sync.core.digest import build_digests
from sheets_sync.core.rule import Flag
from sheets_sync.core.sync import RowResult
from tests.core.test_digest import BOOK, DAY, result


def valued(
    row: int, flag: Flag, overdue: int = 0, value: str | None = None, notes: str = ""
) -> RowResult:
    """Chloe's row `row`, worth `value`, with `notes` in its Notes cell."""
    row_result = result(row, "Chloe Martin", flag, overdue)
    cells = {**row_result.prospect.cells, "notes": notes}
    return replace(
        row_result,
        prospect=replace(row_result.prospect, cells=cells),
        decision=replace(row_result.decision, value=Decimal(value) if value else None),
    )


def test_equally_late_prospects_are_listed_most_valuable_first() -> None:
    [digest], _ = build_digests(
        [
            valued(2, Flag.OVERDUE, 3, "300"),
            valued(3, Flag.OVERDUE, 3),
            valued(4, Flag.OVERDUE, 3, "4500"),
            valued(5, Flag.OVERDUE, 9, "150"),
            valued(6, Flag.DUE_TODAY, value="200"),
            valued(7, Flag.DUE_TODAY),
            valued(8, Flag.DUE_TODAY, value="2800"),
            valued(9, Flag.DUE_TODAY, value="200"),
        ],
        day=DAY,
        book=BOOK,
        link=lambda row: None,
    )

    # The longest overdue first, whatever its value; a prospect with no value after the rest.
    assert [line.row for line in digest.overdue] == [5, 4, 2, 3]
    assert [line.row for line in digest.due_today] == [8, 6, 9, 7]


def test_a_line_carries_the_notes_on_one_line_and_the_sync_id() -> None:
    [digest], _ = build_digests(
        [valued(2, Flag.DUE_TODAY, notes="  Prefers WhatsApp.\n\nAsk about  the deposit  ")],
        day=DAY,
        book=BOOK,
        link=lambda row: None,
    )

    [line] = digest.due_today
    assert line.notes == "Prefers WhatsApp. Ask about the deposit"
    assert line.sync_id == "id-2"
