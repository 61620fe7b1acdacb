"""The follow-up rule (SPEC §3), one row at a time."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sheets_sync.config import load_config
from sheets_sync.core.rule import Decision, Flag, Prospect, Settings, decide
from sheets_sync.core.values import CellValue
from tests.core.conftest import CONFIG_DIR

CONSULT = date(2026, 10, 1)  # a Thursday
TODAY = date(2026, 10, 14)  # a Wednesday


def prospect(**cells: CellValue) -> Prospect:
    """A readable active row consulted on CONSULT; keyword arguments replace or add cells."""
    base: dict[str, CellValue] = {
        "name": "Ann Lee",
        "owner": "Chloe Martin",
        "consultation_date": CONSULT,
    }
    return Prospect(2, {**base, **cells})


def decide_row(settings: Settings, today: date = TODAY, **cells: CellValue) -> Decision:
    return decide(prospect(**cells), today, settings)


def days(n: int) -> timedelta:
    return timedelta(days=n)


# 1. Closed ------------------------------------------------------------------------------------

CLOSED_WORDS = {
    "won": ("booked", "won", "converted", "scheduled", "paid"),
    "lost": ("declined", "lost", "not interested", "no"),
    "opted out": ("do not contact", "dnc", "opted out", "opt out", "unsubscribed", "stop"),
    "deceased": ("deceased",),
}
ACTIVE_WORDS = ("", "active", "new", "follow up", "thinking", "nurture", "maybe later")


@pytest.mark.parametrize(
    ("word", "kind"),
    [
        *((word, kind) for kind, words in CLOSED_WORDS.items() for word in words),
        ("  BOOKED ✅ ", "won"),
        ("Not Interested", "lost"),
    ],
    ids=lambda value: repr(value),
)
def test_closed_status_words(settings: Settings, word: str, kind: str) -> None:
    decision = decide_row(settings, status=word)
    assert decision.flag is Flag.CLOSED
    assert decision.status_text == f"CLOSED: {kind}"
    assert decision.next_touch is None


def test_closed_wins_over_bad_data(settings: Settings) -> None:
    decision = decide_row(settings, status="won", name=None, consultation_date="whenever")
    assert decision.status_text == "CLOSED: won"


def test_unknown_status_word_is_active_with_a_warning(settings: Settings) -> None:
    decision = decide_row(settings, status="maybe later")
    assert decision.flag is not Flag.CLOSED
    assert [note.field for note in decision.warnings] == ["status"]


# 2. Check data --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cells", "field", "words"),
    [
        pytest.param({"name": None}, "name", "no name", id="no-name"),
        pytest.param({"name": "   "}, "name", "no name", id="blank-name"),
        pytest.param({"owner": None}, "owner", "no owner", id="no-owner"),
        pytest.param(
            {"consultation_date": None},
            "consultation_date",
            "no consultation date",
            id="no-consult",
        ),
        pytest.param(
            {"consultation_date": "next Tuesday"},
            "consultation_date",
            "consultation date",
            id="unreadable-consult",
        ),
        pytest.param(
            {"consultation_date": "31/02/2026"},
            "consultation_date",
            "consultation date",
            id="impossible-consult",
        ),
        pytest.param({"last_touch": "last week"}, "last_touch", "last touch", id="unreadable-last"),
        pytest.param(
            {"snooze_until": "after summer"}, "snooze_until", "snooze date", id="unreadable-snooze"
        ),
        pytest.param(
            {"last_touch": TODAY + days(1)}, "last_touch", "in the future", id="last-touch-future"
        ),
    ],
)
def test_check_data(
    settings: Settings, cells: dict[str, CellValue], field: str, words: str
) -> None:
    decision = decide_row(settings, **cells)
    assert decision.flag is Flag.CHECK_DATA
    assert decision.status_text.startswith("CHECK DATA: ")
    assert words in decision.status_text
    assert decision.problem is not None
    assert decision.problem.field == field
    assert decision.next_touch is None


def test_last_touch_today_is_not_in_the_future(settings: Settings) -> None:
    assert decide_row(settings, last_touch=TODAY).flag is not Flag.CHECK_DATA


# 3. Plan --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cells", "plan"),
    [
        pytest.param({"value": "£1,200"}, "long_term", id="pounds-with-separator"),
        pytest.param({"value": 1000}, "long_term", id="exactly-the-minimum"),
        pytest.param({"value": "999"}, "standard", id="just-under"),
        pytest.param({}, "standard", id="no-value"),
        pytest.param({"value": "a lot"}, "standard", id="unreadable-value"),
        pytest.param({"value": 50, "plan": "LONG_TERM"}, "long_term", id="plan-cell-upper"),
        pytest.param({"value": "£5,000", "plan": " Standard "}, "standard", id="plan-cell-wins"),
        pytest.param({"value": "£5,000", "plan": "vip"}, "long_term", id="unknown-plan-by-value"),
    ],
)
def test_plan_choice(settings: Settings, cells: dict[str, CellValue], plan: str) -> None:
    decision = decide_row(settings, **cells)
    assert decision.plan is not None
    assert decision.plan.name == plan


def test_money_is_read_with_sign_and_separators(settings: Settings) -> None:
    assert decide_row(settings, value="£1,200").value == Decimal(1200)


def test_unreadable_value_is_a_warning_not_a_stop(settings: Settings) -> None:
    decision = decide_row(settings, value="a lot")
    assert decision.value is None
    assert decision.flag is not Flag.CHECK_DATA
    assert [note.field for note in decision.warnings] == ["value"]


# 4-6. Touches, steps, nurture -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("cells", "step", "due"),
    [
        pytest.param({}, 1, CONSULT, id="fresh-step-1-on-day-0"),
        pytest.param({"touches": 1}, 2, date(2026, 10, 5), id="cell-1-day-2-sat-rolls-to-mon"),
        pytest.param({"touches": "5"}, 6, date(2026, 11, 30), id="cell-text-5-day-60"),
        pytest.param({"touches": 5.0}, 6, date(2026, 11, 30), id="cell-float-5"),
        pytest.param(
            {"last_touch": date(2026, 10, 9)}, 4, date(2026, 10, 15), id="inferred-3-from-day-8"
        ),
        pytest.param(
            {"last_touch": date(2026, 10, 9), "touches": "three"},
            4,
            date(2026, 10, 15),
            id="unreadable-cell-inferred",
        ),
        pytest.param(
            {"last_touch": date(2026, 10, 9), "touches": -1},
            4,
            date(2026, 10, 15),
            id="negative-cell-inferred",
        ),
        pytest.param(
            {"last_touch": date(2026, 10, 1), "touches": 0},
            1,
            date(2026, 10, 5),
            id="cell-0-wins-over-last-touch-min-gap",
        ),
    ],
)
def test_touches_and_step(
    settings: Settings, cells: dict[str, CellValue], step: int, due: date
) -> None:
    decision = decide_row(settings, **cells)
    assert decision.step is not None
    assert decision.step.number == step
    assert decision.next_touch == due


@pytest.mark.parametrize(
    "cells",
    [
        pytest.param({"touches": 7}, id="cell-7"),
        pytest.param({"touches": 12}, id="cell-past-the-end"),
        pytest.param({"last_touch": CONSULT + days(90)}, id="inferred-from-day-90"),
    ],
)
def test_nurture_after_the_standard_plan(settings: Settings, cells: dict[str, CellValue]) -> None:
    decision = decide_row(settings, today=CONSULT + days(100), **cells)
    assert decision.flag is Flag.NURTURE
    assert decision.status_text == "NURTURE"
    assert decision.next_touch is None
    assert decision.next_action == "Newsletter only"


@pytest.mark.parametrize(
    ("cells", "step", "day"),
    [
        pytest.param({"touches": 7}, 8, 120, id="past-the-standard-steps"),
        pytest.param({"touches": 12}, 13, 455, id="first-repeat"),
        pytest.param({"touches": 13}, 14, 545, id="second-repeat"),
        pytest.param({"touches": 40}, 41, 365 + 29 * 90, id="far-repeat"),
        pytest.param({"last_touch": CONSULT + days(365)}, 13, 455, id="inferred-at-day-365"),
        pytest.param({"last_touch": CONSULT + days(460)}, 14, 545, id="inferred-at-day-460"),
    ],
)
def test_long_term_never_finishes(
    settings: Settings, cells: dict[str, CellValue], step: int, day: int
) -> None:
    decision = decide_row(settings, today=CONSULT + days(600), value="£2,000", **cells)
    assert decision.step is not None
    assert (decision.step.number, decision.step.day) == (step, day)
    assert decision.next_touch == settings.next_open_day(CONSULT + days(day))


@pytest.mark.parametrize(
    ("cells", "text"),
    [
        pytest.param(
            {"touches": 1},
            "Step 2/7 · Call · Follow-up call: answer questions, offer to book",
            id="standard-step-2",
        ),
        pytest.param(
            {"touches": 11, "value": 1500},
            "Step 12/12 · Call · Annual check-in",
            id="long-term-last-listed",
        ),
        pytest.param(
            {"touches": 12, "value": 1500},
            "Step 13 (every 90 days) · Call · Check-in call",
            id="long-term-repeat",
        ),
        pytest.param({"status": "won"}, "", id="closed-has-none"),
    ],
)
def test_next_action_text(settings: Settings, cells: dict[str, CellValue], text: str) -> None:
    assert decide_row(settings, **cells).next_action == text


# 6-8. Min gap, snooze, open days --------------------------------------------------------------


@pytest.mark.parametrize(
    ("last_touch", "due"),
    [
        pytest.param(date(2026, 10, 13), date(2026, 10, 15), id="tue-plus-2-is-thu"),
        pytest.param(date(2026, 10, 9), date(2026, 10, 12), id="fri-plus-2-is-sun-rolls-to-mon"),
    ],
)
def test_min_gap_after_last_touch(settings: Settings, last_touch: date, due: date) -> None:
    # touches=1: step 2 was due on day 2, long before the last touch.
    decision = decide_row(settings, last_touch=last_touch, touches=1)
    assert decision.next_touch == due


def test_min_gap_is_configurable(settings: Settings) -> None:
    wider = replace(settings, min_gap_days=5)
    decision = decide(prospect(last_touch=date(2026, 10, 13), touches=1), TODAY, wider)
    assert decision.next_touch == date(2026, 10, 19)  # Sunday 18th rolls to Monday


@pytest.mark.parametrize(
    ("cells", "due"),
    [
        pytest.param({"snooze_until": date(2026, 11, 4)}, date(2026, 11, 4), id="no-last-touch"),
        pytest.param(
            {"touches": 3, "snooze_until": date(2026, 10, 6)},
            date(2026, 10, 6),
            id="earlier-than-plan-still-wins",
        ),
        pytest.param(
            {"last_touch": date(2026, 10, 9), "snooze_until": date(2026, 11, 4)},
            date(2026, 11, 4),
            id="after-last-touch",
        ),
        pytest.param(
            {"last_touch": date(2026, 10, 9), "snooze_until": date(2026, 10, 8)},
            date(2026, 10, 15),
            id="before-last-touch-ignored",
        ),
        pytest.param(
            {"snooze_until": date(2026, 10, 31)}, date(2026, 11, 2), id="saturday-rolls-to-mon"
        ),
        pytest.param({"snooze_until": "4 Nov 2026"}, date(2026, 11, 4), id="text-date"),
    ],
)
def test_snooze(settings: Settings, cells: dict[str, CellValue], due: date) -> None:
    assert decide_row(settings, **cells).next_touch == due


@pytest.mark.parametrize(
    ("holidays", "open_days", "due"),
    [
        pytest.param((), range(5), date(2026, 10, 5), id="sunday-to-monday"),
        pytest.param((date(2026, 10, 5),), range(5), date(2026, 10, 6), id="monday-holiday"),
        pytest.param(
            (date(2026, 10, 5), date(2026, 10, 6)), range(5), date(2026, 10, 7), id="two-holidays"
        ),
        pytest.param((), range(6), date(2026, 10, 3), id="saturdays-open"),
        pytest.param((), range(1, 5), date(2026, 10, 6), id="closed-on-mondays"),
        pytest.param((), range(7), date(2026, 10, 3), id="open-every-day"),
    ],
)
def test_roll_forward_to_an_open_day(
    settings: Settings, holidays: tuple[date, ...], open_days: range, due: date
) -> None:
    clinic = replace(settings, holidays=frozenset(holidays), open_days=frozenset(open_days))
    # consulted Thursday 1 Oct: step 2 (day 2) falls on Saturday 3 Oct
    decision = decide(prospect(touches=1), TODAY, clinic)
    assert decision.next_touch == due


# 9. The flag ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "flag", "text", "overdue"),
    [
        pytest.param(date(2026, 10, 2), Flag.UPCOMING, "UPCOMING", 0, id="before"),
        pytest.param(date(2026, 10, 5), Flag.DUE_TODAY, "DUE TODAY", 0, id="on-the-day"),
        pytest.param(date(2026, 10, 6), Flag.OVERDUE, "OVERDUE 1d", 1, id="a-day-late"),
        pytest.param(
            date(2026, 10, 12), Flag.OVERDUE, "OVERDUE 7d", 7, id="calendar-days-over-weekend"
        ),
    ],
)
def test_flag(settings: Settings, today: date, flag: Flag, text: str, overdue: int) -> None:
    decision = decide_row(settings, today=today, touches=1)  # due Monday 5 Oct
    assert decision.next_touch == date(2026, 10, 5)
    assert (decision.flag, decision.status_text, decision.days_overdue) == (flag, text, overdue)


def test_default_config_rolls_over_uk_holidays() -> None:
    uk = load_config(CONFIG_DIR / "sheets_sync.toml").rule_settings()
    # Consulted Wed 23 Dec 2026: step 2 (day 2) is Christmas Day, then the weekend, then the
    # Boxing Day substitute on Monday 28th.
    row = prospect(consultation_date=date(2026, 12, 23), touches=1)
    assert decide(row, date(2026, 12, 1), uk).next_touch == date(2026, 12, 29)


# Properties -----------------------------------------------------------------------------------

ALL_CLOSED = tuple(word for words in CLOSED_WORDS.values() for word in words)


@st.composite
def rows_and_clinics(draw: st.DrawFn) -> tuple[Prospect, date, Settings, bool]:
    today = draw(st.dates(date(2024, 1, 1), date(2030, 12, 31)))
    consult = draw(st.dates(today - days(900), today + days(60)))
    last_touch = draw(st.none() | st.dates(min(consult, today) - days(30), today))
    snooze = draw(st.none() | st.dates(consult - days(60), today + days(400)))
    touches = draw(st.none() | st.integers(-2, 30) | st.sampled_from(["3", "", "lots"]))
    value = draw(st.none() | st.integers(0, 5000) | st.sampled_from(["£1,200", "999", "?"]))
    plan = draw(st.sampled_from([None, "", "standard", "LONG_TERM", "vip"]))
    status = draw(st.sampled_from(ACTIVE_WORDS + ALL_CLOSED))
    open_days = draw(st.frozensets(st.integers(0, 6), min_size=1))
    holidays = draw(st.frozensets(st.dates(today - days(30), today + days(900)), max_size=12))
    gap = draw(st.integers(0, 5))
    cells: dict[str, CellValue] = {
        "name": "Ann Lee",
        "owner": "Chloe Martin",
        "consultation_date": consult,
        "last_touch": last_touch,
        "snooze_until": snooze,
        "touches": touches,
        "value": value,
        "plan": plan,
        "status": status,
    }
    clinic = Settings(
        plans={}, open_days=open_days, holidays=holidays, min_gap_days=gap
    )  # plans filled in by the test, from the fixture
    return Prospect(2, cells), today, clinic, status in ALL_CLOSED


@given(case=rows_and_clinics())
def test_due_dates_are_open_and_respect_the_floors(
    settings: Settings, case: tuple[Prospect, date, Settings, bool]
) -> None:
    row, today, clinic, closed = case
    clinic = replace(clinic, plans=settings.plans)
    decision = decide(row, today, clinic)

    assert (decision.flag is Flag.CLOSED) == closed
    if decision.flag in (Flag.CLOSED, Flag.NURTURE, Flag.CHECK_DATA):
        assert decision.next_touch is None
        return
    due = decision.next_touch
    assert due is not None
    assert clinic.is_open(due)
    assert decision.consultation is not None
    assert due >= decision.consultation
    if decision.last_touch is not None:
        assert (due - decision.last_touch).days >= clinic.min_gap_days


@given(case=rows_and_clinics())
def test_flag_agrees_with_the_due_date(
    settings: Settings, case: tuple[Prospect, date, Settings, bool]
) -> None:
    row, today, clinic, _ = case
    decision = decide(row, today, replace(clinic, plans=settings.plans))
    due = decision.next_touch
    if due is None:
        assert decision.flag in (Flag.CLOSED, Flag.NURTURE, Flag.CHECK_DATA)
    elif due < today:
        n = (today - due).days
        assert (decision.flag, decision.status_text) == (Flag.OVERDUE, f"OVERDUE {n}d")
        assert decision.days_overdue == n
    elif due == today:
        assert (decision.flag, decision.status_text) == (Flag.DUE_TODAY, "DUE TODAY")
    else:
        assert (decision.flag, decision.status_text) == (Flag.UPCOMING, "UPCOMING")
