"""The morning digest as data (SPEC §5): who gets which prospects, and the manager's tally."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from sheets_sync.core.digest import OwnerCount, OwnerTally, build_digests
from sheets_sync.core.rule import Decision, Flag, Note, Prospect
from sheets_sync.core.sync import Managed, RowResult

DAY = date(2026, 11, 24)
BOOK = {"chloe martin": "chloe@clinic.example", "dev patel": "dev@clinic.example"}


def result(row: int, owner: str, flag: Flag, overdue: int = 0, name: str = "") -> RowResult:
    """Row `row` of `owner`, flagged `flag` (`overdue` days late for OVERDUE)."""
    texts = {Flag.OVERDUE: f"OVERDUE {overdue}d", Flag.CHECK_DATA: "CHECK DATA: no name"}
    decision = Decision(
        flag,
        texts.get(flag, flag.value),
        next_touch=DAY - timedelta(days=overdue),
        days_overdue=overdue,
        consultation=DAY - timedelta(days=30),
        problem=Note("name", "no name") if flag is Flag.CHECK_DATA else None,
    )
    prospect = Prospect(row, {"name": name or f"Prospect {row}", "owner": owner})
    return RowResult(row, f"id-{row}", prospect, decision, Managed("", "", ""))


def digests_for(*results: RowResult) -> tuple[dict[str, list[int]], OwnerTally]:
    digests, tally = build_digests(results, day=DAY, book=BOOK, link=lambda row: f"#row{row}")
    rows = {d.address: [line.row for line in (*d.overdue, *d.due_today)] for d in digests}
    return rows, tally


def test_overdue_first_most_overdue_first_then_due_today() -> None:
    digests, _ = build_digests(
        [
            result(2, "Chloe Martin", Flag.DUE_TODAY),
            result(3, "Chloe Martin", Flag.OVERDUE, 1),
            result(4, "Chloe Martin", Flag.UPCOMING),
            result(5, "Chloe Martin", Flag.OVERDUE, 9),
            result(6, "Chloe Martin", Flag.DUE_TODAY),
            result(7, "Chloe Martin", Flag.OVERDUE, 3),
        ],
        day=DAY,
        book=BOOK,
        link=lambda row: f"#row{row}",
    )
    [digest] = digests
    assert (digest.owner, digest.address, digest.day) == ("Chloe Martin", BOOK["chloe martin"], DAY)
    assert [line.row for line in digest.overdue] == [5, 7, 3]
    assert [line.row for line in digest.due_today] == [2, 6]
    line = digest.overdue[0]
    assert (line.status_text, line.days_since_consultation, line.link) == (
        "OVERDUE 9d",
        30,
        "#row5",
    )


@pytest.mark.parametrize("flag", [Flag.UPCOMING, Flag.NURTURE, Flag.CLOSED, Flag.CHECK_DATA])
def test_owner_with_nothing_due_gets_no_digest(flag: Flag) -> None:
    rows, _ = digests_for(result(2, "Dev Patel", flag), result(3, "Chloe Martin", Flag.DUE_TODAY))
    assert rows == {"chloe@clinic.example": [3]}


def test_owner_cell_with_an_address_groups_with_that_staff_entry() -> None:
    rows, tally = digests_for(
        result(2, "chloe@clinic.example", Flag.OVERDUE, 2),
        result(3, "  chloe   MARTIN ", Flag.DUE_TODAY),
        result(4, "chloe@clinic.example", Flag.UPCOMING),
    )
    assert rows == {"chloe@clinic.example": [2, 3]}
    assert tally.owners == (OwnerCount("chloe   MARTIN", "chloe@clinic.example", 1, 1, 1),)


def test_address_in_another_case_is_the_same_owner() -> None:
    rows, _ = digests_for(
        result(2, "Chloe@Clinic.example", Flag.OVERDUE, 2),
        result(3, "Chloe Martin", Flag.DUE_TODAY),
    )
    assert len(rows) == 1


def test_address_not_in_the_book_still_gets_its_digest() -> None:
    rows, tally = digests_for(result(2, "temp@clinic.example", Flag.DUE_TODAY))
    assert rows == {"temp@clinic.example": [2]}
    assert tally.unaddressed == ()


def test_unknown_owner_due_rows_go_to_the_manager() -> None:
    rows, tally = digests_for(
        result(2, "Nobody", Flag.OVERDUE, 4, name="Ann Lee"),
        result(3, "Nobody", Flag.UPCOMING),
        result(4, "", Flag.DUE_TODAY),
        result(5, "Chloe Martin", Flag.DUE_TODAY),
    )
    assert rows == {"chloe@clinic.example": [5]}
    assert [(n.row, n.name, n.owner) for n in tally.unaddressed] == [
        (2, "Ann Lee", "Nobody"),
        (4, "Prospect 4", ""),
    ]
    assert [line.row for line in tally.unaddressed_lines] == [2, 4]
    assert tally.unaddressed_lines[0].status_text == "OVERDUE 4d"
    nobody = next(count for count in tally.owners if count.owner == "Nobody")
    assert nobody == OwnerCount("Nobody", None, 1, 0, 1)


def test_check_data_rows_are_listed_with_their_reason() -> None:
    rows, tally = digests_for(
        result(2, "Chloe Martin", Flag.CHECK_DATA, name="Ann Lee"),
        result(3, "Chloe Martin", Flag.OVERDUE, 1),
    )
    assert rows == {"chloe@clinic.example": [3]}
    assert [(n.row, n.name, n.owner, n.reason) for n in tally.check_data] == [
        (2, "Ann Lee", "Chloe Martin", "no name")
    ]


def test_counts_per_owner() -> None:
    _, tally = digests_for(
        result(2, "Chloe Martin", Flag.OVERDUE, 1),
        result(3, "Dev Patel", Flag.UPCOMING),
        result(4, "Chloe Martin", Flag.OVERDUE, 5),
        result(5, "Dev Patel", Flag.UPCOMING),
        result(6, "Chloe Martin", Flag.DUE_TODAY),
        result(7, "Dev Patel", Flag.CLOSED),
        result(8, "Dev Patel", Flag.NURTURE),
    )
    assert tally.owners == (
        OwnerCount("Chloe Martin", "chloe@clinic.example", 2, 1, 0),
        OwnerCount("Dev Patel", "dev@clinic.example", 0, 0, 2),
    )


def test_summary_carries_the_tally() -> None:
    _, tally = digests_for(result(2, "Nobody", Flag.DUE_TODAY))
    summary = tally.summary(day=DAY, clinic="Riverside", address="boss@clinic.example")
    assert (summary.day, summary.clinic, summary.address) == (
        DAY,
        "Riverside",
        "boss@clinic.example",
    )
    assert summary.unaddressed == tally.unaddressed
