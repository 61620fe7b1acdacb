"""One bad cell flags its own row, and only its row (issue 10): every other row syncs.

Each case puts one hostile value into one cell of one row, beside a plain row, and checks the
row's `CHECK DATA` text, that the plain row's decision is what it is alone, and that the text
the daemon writes and stores can be encoded (SQLite, email and XML refuse half an emoji).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from functools import partial

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import sheets_sync.core.rule
from sheets_sync.core.check import log_problems
from sheets_sync.core.columns import find_layout
from sheets_sync.core.rule import Flag, Prospect, Settings, decide
from sheets_sync.core.sync import RowResult, SyncPlan, plan_sync
from sheets_sync.core.values import (
    CellValue,
    DateOrder,
    normalise_header,
    quoted,
    read_count,
    read_date,
    read_money,
    read_status,
    read_text,
    readable,
)

TODAY = date(2026, 11, 30)  # a Monday
HEADER: list[CellValue] = [
    "Name",  # A
    "Owner",  # B
    "Consultation date",  # C
    "Status",  # D
    "Last touch",  # E
    "Touches",  # F
    "Snooze until",  # G
    "Value",  # H
    "Plan",  # I
    "Notes",  # J
    "Next touch",  # K
]
FIELDS = (
    "name",
    "owner",
    "consultation_date",
    "status",
    "last_touch",
    "touches",
    "snooze_until",
    "value",
    "plan",
    "notes",
    "next_touch",
)
PLAIN = {"name": "Ann Ames", "owner": "Anna", "consultation_date": date(2026, 11, 2)}
GOOD_ROW: list[CellValue] = ["Bob Brown", "Anna", TODAY, "Open", None, 1, None, 500]


def row_of(cells: Mapping[str, CellValue]) -> list[CellValue]:
    return [cells.get(field) for field in FIELDS]


def synced(hostile: Mapping[str, CellValue], rule: Settings) -> SyncPlan:
    """A log of the plain row (2) and the plain cells with `hostile` laid over them (3)."""
    grid = [HEADER, GOOD_ROW, row_of({**PLAIN, **hostile})]
    ids = (f"id-{n}" for n in itertools.count())
    return plan_sync(grid, find_layout(grid), TODAY, rule, remembered={}, new_id=lambda: next(ids))


def assert_encodable(result: RowResult) -> None:
    """What is written, remembered and reported survives UTF-8, as SQLite and SMTP need."""
    remembered = result.remembered
    for text in (
        remembered.next_touch,
        remembered.next_action,
        remembered.follow_up_status,
        result.decision.status_text,
    ):
        text.encode("utf-8")


def the_good_row_is_untouched(plan: SyncPlan, rule: Settings, row: int = 2) -> None:
    """The plain row's decision is the one it gets alone."""
    alone = decide(Prospect(row, dict(zip(FIELDS, GOOD_ROW, strict=False))), TODAY, rule)
    assert next(result for result in plan.rows if result.row == row).decision == alone
    assert alone.flag is Flag.UPCOMING


BEYOND_9999 = "is not a date (it is beyond the year 9999)"
TYPE_24_11 = "if it means 24 November 2026, type it as 24/11/2026"

DATE_CELLS = [
    # (value typed into the date cell, what the clinic is told after the field's label)
    (24112026, f'"24112026" {BEYOND_9999}; {TYPE_24_11}'),
    (24112026.0, f'"24112026" {BEYOND_9999}; {TYPE_24_11}'),
    ("24112026", f'"24112026" is not a date; {TYPE_24_11}'),
    (1e308, f'"1e+308" {BEYOND_9999}'),
    ("1E+308", '"1E+308" is not a date (write it like 2026-12-03)'),
    (10**30, f'"1000000000000000000000000000000" {BEYOND_9999}'),
    pytest.param(10**5000, f'"a number of more than 4000 digits" {BEYOND_9999}', id="10**5000"),
    (-5, '"-5" is not a date (date serial numbers start at 1)'),
    ("-5", '"-5" is not a date (write it like 2026-12-03)'),
    (math.inf, '"inf" is not a date (write it like 2026-12-03)'),
    (-math.inf, '"-inf" is not a date (write it like 2026-12-03)'),
    (math.nan, '"nan" is not a date (write it like 2026-12-03)'),
    ("inf", '"inf" is not a date (write it like 2026-12-03)'),
    ("0000-01-01T10:00", '"0000-01-01T10:00" is not a real date'),
    ("99999-01-01 10:00", '"99999-01-01 10:00" is not a date (write it like 2026-12-03)'),
    ("\ud83d", '"\ufffd" is not a date (write it like 2026-12-03)'),
    (
        datetime(9999, 12, 31, 23, 59),
        "Fri 31 Dec 9999 is more than 100 years ahead; type the date it means, like 30/11/2026",
    ),
    (
        2958465.5,  # the last serial number there is: 31 December 9999, noon
        "Fri 31 Dec 9999 is more than 100 years ahead; type the date it means, like 30/11/2026",
    ),
]
DATE_LABELS = {
    "consultation_date": ("consultation date", "C3", "Consultation date"),
    "last_touch": ("last touch", "E3", "Last touch"),
    "snooze_until": ("snooze date", "G3", "Snooze until"),
}


@pytest.mark.parametrize("field", DATE_LABELS)
@pytest.mark.parametrize(("value", "reason"), DATE_CELLS)
def test_a_date_cell_that_is_no_date_flags_only_its_row(
    settings: Settings, field: str, value: CellValue, reason: str
) -> None:
    label, cell, header = DATE_LABELS[field]
    plan = synced({field: value}, settings)

    bad = plan.rows[1]
    assert bad.decision.status_text == f"CHECK DATA: {label} {reason}"
    assert bad.decision.next_touch is None
    assert_encodable(bad)
    the_good_row_is_untouched(plan, settings)
    assert f"Row 3, {header} ({cell}): {label} {reason}" in log_problems(
        plan.rows, plan.changes.layout, {}
    )


def test_a_date_typed_without_separators_is_explained_in_the_clinics_order(
    settings: Settings,
) -> None:
    us = Settings(plans=settings.plans, date_order=DateOrder.MDY)

    plan = synced({"snooze_until": "11242026"}, us)

    assert plan.rows[1].decision.status_text == (
        'CHECK DATA: snooze date "11242026" is not a date; '
        "if it means November 24, 2026, type it as 11/24/2026"
    )


TOUCHES_PAST_A_CENTURY = (
    "is more than the long_term plan has in 100 years; type the number of touches done, like 3"
)


@pytest.mark.parametrize(
    ("touches", "shown"),
    [
        (1e308, '"1e+308"'),
        (10**30, '"1000000000000000000000000000000"'),
        ("9" * 5000, quoted("9" * 5000)),
        (24112026, '"24112026"'),
        (100_000, '"100000"'),
    ],
)
def test_a_touch_count_past_a_century_of_a_repeating_plan_is_check_data(
    settings: Settings, touches: CellValue, shown: str
) -> None:
    plan = synced({"touches": touches, "plan": "long_term"}, settings)

    assert plan.rows[1].decision.status_text == (
        f"CHECK DATA: touches {shown} {TOUCHES_PAST_A_CENTURY}"
    )
    the_good_row_is_untouched(plan, settings)


def test_a_repeating_plan_still_counts_touches_within_a_century(settings: Settings) -> None:
    # Step 400 of long_term is due 365 + 388 * 90 days after the consultation: 96 years on.
    decision = synced({"touches": 399, "plan": "long_term"}, settings).rows[1].decision

    assert decision.flag is Flag.UPCOMING
    assert decision.step is not None
    assert decision.step.number == 400


@pytest.mark.parametrize("touches", [1e308, 10**30, "9" * 5000, 24112026])
def test_a_huge_touch_count_finishes_a_plan_that_does_not_repeat(
    settings: Settings, touches: CellValue
) -> None:
    """Guess: a plan that ends is finished by any count past its end (rule 5), as 12 is."""
    assert synced({"touches": touches}, settings).rows[1].decision.flag is Flag.NURTURE


@pytest.mark.parametrize("touches", [-3, 2.5, math.inf, -math.inf, math.nan, "1E+308", "\ud83d"])
def test_a_touch_count_that_is_no_count_is_worked_out_from_the_last_touch(
    settings: Settings, touches: CellValue
) -> None:
    cells = {"touches": touches, "last_touch": date(2026, 11, 5)}  # day 3: steps 1, 2 done

    decision = synced(cells, settings).rows[1].decision

    assert decision.step is not None
    assert decision.step.number == 3


@pytest.mark.parametrize(
    ("value", "warning"),
    [
        (1e308, '"1e+308" is too large to be an amount; counted as blank'),
        (
            10**30,
            '"1000000000000000000000000000000" is too large to be an amount; counted as blank',
        ),
        (math.nan, '"nan" is not an amount; counted as blank'),
        (math.inf, '"inf" is not an amount; counted as blank'),
        ("£1e400", '"£1e400" is not an amount; counted as blank'),
        ("1E+308", '"1E+308" is not an amount; counted as blank'),
        (
            "£" + "9" * 5000,
            f"{quoted('£' + '9' * 5000)} is too large to be an amount; counted as blank",
        ),
        (
            "£1,000,000,000,001",
            '"£1,000,000,000,001" is too large to be an amount; counted as blank',
        ),
    ],
)
def test_an_amount_nobody_quotes_is_reported_and_counted_as_blank(
    settings: Settings, value: CellValue, warning: str
) -> None:
    plan = synced({"value": value}, settings)

    decision = plan.rows[1].decision
    assert decision.flag is Flag.OVERDUE
    assert decision.value is None
    assert f"Row 3, Value (H3): {warning}" in log_problems(plan.rows, plan.changes.layout, {})


def test_a_trillion_is_still_an_amount() -> None:
    assert read_money("£1,000,000,000,000") == Decimal(10**12)


# Text: half an emoji, and the two code points that are not characters -----------------------

NOT_TEXT = ["\ud83d", "\ude00", "Ann \ud83d Ames", "\ufffe", "\uffff", "\udfff\ud800"]


@pytest.mark.parametrize(
    ("text", "read"),
    [
        ("\ud83d", "\ufffd"),
        ("Ann \ud83d Ames", "Ann \ufffd Ames"),
        ("\ufffe\uffff", "\ufffd\ufffd"),
        ("\udfff\ud800", "\ufffd\ufffd"),  # the halves the wrong way round are no emoji
        ("\ud83d\ude00", "😀"),  # both halves, in order: the emoji they make
        ("😀 Ann", "😀 Ann"),
        ("Zoë", "Zoë"),
    ],
)
def test_readable_keeps_whole_characters_and_marks_the_rest(text: str, read: str) -> None:
    assert readable(text) == read
    readable(text).encode("utf-8")


@pytest.mark.parametrize("text", NOT_TEXT)
@pytest.mark.parametrize(
    "reader",
    [
        read_text,
        quoted,
        normalise_header,
        read_status,
        read_count,
        read_money,
        partial(read_date, order=DateOrder.DMY),
    ],
)
def test_no_reader_raises_on_text_that_is_not_text(
    text: str, reader: Callable[[CellValue], object]
) -> None:
    try:
        read = reader(text)
    except ValueError as exc:  # Unreadable: a reason for people, which must encode
        str(exc).encode("utf-8")
    else:
        str(read).encode("utf-8")


@pytest.mark.parametrize("text", NOT_TEXT)
@pytest.mark.parametrize("field", ["name", "owner", "status", "plan", "notes", "next_touch"])
def test_text_that_is_not_text_never_reaches_a_write(
    settings: Settings, field: str, text: str
) -> None:
    plan = synced({field: text}, settings)

    assert_encodable(plan.rows[1])
    for value in plan.changes.cells.values():
        if isinstance(value, str):
            value.encode("utf-8")
    for problem in log_problems(plan.rows, plan.changes.layout, {"anna": "anna@x.example"}):
        problem.encode("utf-8")
    the_good_row_is_untouched(plan, settings)


def test_a_status_with_half_an_emoji_is_reported_readably(settings: Settings) -> None:
    plan = synced({"status": "won \ud83d"}, settings)

    assert plan.rows[1].decision.status_text == "CLOSED: won"


def test_a_header_with_half_an_emoji_is_still_found(settings: Settings) -> None:
    grid = [["Name \ud83d", "Owner", "Consultation date\ufffe"], ["Ann", "Anna", date(2026, 11, 2)]]

    layout = find_layout(grid)

    assert layout.staff["name"] == 0
    assert layout.staff["consultation_date"] == 2


# A managed cell holding what no daemon wrote --------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [24112026, 1e308, -5, math.inf, math.nan, 10**30, "24112026", "0000-01-01", "\ud83d", True],
)
def test_a_managed_next_touch_holding_no_date_is_kept_and_flagged(
    settings: Settings, typed: CellValue
) -> None:
    plan = synced({"next_touch": typed}, settings)

    bad = plan.rows[1]
    assert bad.decision.status_text == (
        'CHECK DATA: "Next touch" typed by hand; move it to a staff column and clear the cell '
        "to resume"
    )
    assert (3, 10) not in plan.changes.cells  # kept as typed
    assert_encodable(bad)
    the_good_row_is_untouched(plan, settings)


# The net: a fault nobody foresaw ------------------------------------------------------------


def test_an_unforeseen_fault_flags_its_row_and_names_the_cell(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    money = sheets_sync.core.rule.read_money

    def faulty(value: CellValue) -> Decimal | None:
        if value == "£7":
            raise ArithmeticError("a bug in reading £7")
        return money(value)

    monkeypatch.setattr(sheets_sync.core.rule, "read_money", faulty)

    plan = synced({"value": "£7"}, settings)

    bad = plan.rows[1]
    reason = (
        'the "Value" cell (H3) could not be read (ArithmeticError); retype it, and tell whoever'
        " runs sheets-sync if this stays"
    )
    assert bad.decision.status_text == f"CHECK DATA: {reason}"
    assert isinstance(bad.fault, ArithmeticError)
    status_col = plan.changes.layout.managed["follow_up_status"]
    assert plan.changes.cells[(3, status_col)] == f"CHECK DATA: {reason}"
    assert f"Row 3, Value (H3): {reason}" in log_problems(plan.rows, plan.changes.layout, {})
    assert plan.rows[0].fault is None
    the_good_row_is_untouched(plan, settings)


def test_an_unforeseen_fault_in_a_required_cell_blames_that_cell(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rule stops at a blank owner, so the search must not blank the name to find it."""
    text = Prospect.text

    def faulty(self: Prospect, name: str) -> str:
        if name == "owner" and self.cells.get("owner") == "Anna \u2603":
            raise LookupError("a bug in reading owners")
        return text(self, name)

    monkeypatch.setattr(Prospect, "text", faulty)

    decision = synced({"owner": "Anna \u2603"}, settings).rows[1].decision

    assert decision.status_text.startswith(
        'CHECK DATA: the "Owner" cell (B3) could not be read (LookupError)'
    )


def test_a_fault_no_one_cell_explains_flags_the_row(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    rule = sheets_sync.core.rule.decide

    def faulty(prospect: Prospect, today: date, settings: Settings, **kw: bool) -> object:
        if prospect.row == 3:
            raise RuntimeError("a bug")
        return rule(prospect, today, settings, **kw)

    monkeypatch.setattr(sheets_sync.core.sync, "decide", faulty)

    plan = synced({}, settings)

    reason = (
        "this row could not be read (RuntimeError); retype it, and tell whoever runs"
        " sheets-sync if this stays"
    )
    assert plan.rows[1].decision.status_text == f"CHECK DATA: {reason}"
    assert f"Row 3: {reason}" in log_problems(plan.rows, plan.changes.layout, {})


# Any row at all -------------------------------------------------------------------------------

hostile_floats = st.floats() | st.sampled_from([1e308, -1e308, 24112026.0, 2958465.5, -0.0])
hostile_ints = st.integers() | st.sampled_from([10**30, -(10**30), 10**400, 24112026, 2958466])
hostile_text = st.text(
    st.characters(exclude_categories=()) | st.sampled_from("\ud83d\ude00\ufffe\uffff"),
    max_size=12,
) | st.sampled_from(["24112026", "1E+308", "£1e400", "0000-01-01", "99999-01-01", "inf", "nan"])
hostile_cell: st.SearchStrategy[CellValue] = st.one_of(
    st.none(),
    st.booleans(),
    hostile_ints,
    hostile_floats,
    hostile_text,
    st.dates(),
    st.datetimes(),
)
# A plausible row with any of its cells made hostile, so the rule gets past its first checks.
PLAUSIBLE = {
    **PLAIN,
    "status": "Open",
    "last_touch": date(2026, 11, 20),
    "touches": 3,
    "snooze_until": date(2026, 12, 10),
    "value": "£1,200",
    "plan": "long_term",
}
hostile_row = st.fixed_dictionaries(
    {}, optional=dict.fromkeys(FIELDS, hostile_cell | st.sampled_from(["long_term", "won"]))
).map(lambda hostile: row_of({**PLAUSIBLE, **hostile}))


@settings(
    max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(hostile_row, min_size=1, max_size=4), at=st.integers(0, 4))
@example(rows=[[None, "\ud83d", 24112026, None, None, 10**30, 1e308, math.nan, "\ufffe"]], at=0)
def test_no_row_stops_the_others(settings: Settings, rows: list[list[CellValue]], at: int) -> None:
    good = [*GOOD_ROW, None, None, None]
    at = min(at, len(rows))
    grid = [HEADER, *rows[:at], good, *rows[at:]]
    ids = (f"id-{n}" for n in itertools.count())

    plan = plan_sync(
        grid, find_layout(grid), TODAY, settings, remembered={}, new_id=lambda: next(ids)
    )

    for result in plan.rows:
        assert result.decision.status_text
        assert result.fault is None  # every hostile value is read on purpose, not by the net
        assert_encodable(result)
    the_good_row_is_untouched(plan, settings, row=at + 2)
    for problem in log_problems(plan.rows, plan.changes.layout, {}):
        problem.encode("utf-8")
