"""The rule's record of its own steps (SPEC §9): what `explain` prints, held to the decision."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from sheets_sync.core.rule import Decision, Flag, Prospect, Reason, Settings, decide
from sheets_sync.core.values import CellValue, DateOrder, format_day
from tests.core.test_rule import CONSULT, TODAY, decide_row, rows_and_clinics


def words(decision: Decision) -> list[str]:
    return [reason.words for reason in decision.reasons]


def kinds(decision: Decision) -> list[str]:
    return [reason.kind for reason in decision.reasons]


def reason(decision: Decision, kind: str) -> Reason:
    (found,) = (reason for reason in decision.reasons if reason.kind == kind)
    return found


# The steps, in words ----------------------------------------------------------------------


def test_a_fresh_prospect_step_by_step(settings: Settings) -> None:
    decision = decide_row(settings, value="£1,500", touches=1)  # Thu 1 Oct + 2 days: Saturday

    assert words(decision) == [
        "Status: blank, so active",
        "Plan: long_term, because the value, 1,500, is at least 1,000 (long_term_min_value)",
        "Touches done: 1, as the Touches cell says",
        "Next step: Step 2/12 · Call · Follow-up call: answer questions, offer to book",
        "Plan date: the consultation, Thu 1 Oct, + 2 days = Sat 3 Oct",
        "Sat 3 Oct: closed (the clinic does not open on Saturdays), so on to Sun 4 Oct",
        "Sun 4 Oct: closed (the clinic does not open on Sundays), so on to Mon 5 Oct",
        "Next touch Mon 5 Oct, 9 days before today (Wed 14 Oct): OVERDUE 9d",
    ]


def test_plan_chosen_by_the_plan_cell_or_by_default(settings: Settings) -> None:
    by_cell = decide_row(settings, plan=" Standard ", value="£5,000")
    unknown = decide_row(settings, plan="vip", value=200)
    blank = decide_row(settings)

    assert reason(by_cell, "plan").words == "Plan: standard, as the row's Plan cell says"
    assert reason(unknown, "plan").words == (
        'Plan: standard, the Plan cell "vip" names no plan of the clinic\'s, so the default'
        " (the value, 200, is under 1,000)"
    )
    assert reason(blank, "plan").words == "Plan: standard, the default (no value in the row)"


def test_touches_counted_from_the_last_touch(settings: Settings) -> None:
    decision = decide_row(settings, last_touch=CONSULT + timedelta(days=9))

    assert reason(decision, "touches").words == (
        "Touches done: 3, counted from the last touch, Sat 10 Oct: 9 days after the"
        " consultation, by which the standard plan has 3 steps"
    )
    gap = reason(decision, "gap")
    assert gap.words == (
        "Minimum gap: 2 days after the last touch, Sat 10 Oct = Mon 12 Oct; the date stays"
        " Thu 15 Oct"
    )
    assert (gap.start, gap.days, gap.due) == (date(2026, 10, 10), 2, date(2026, 10, 15))


def test_no_touches_and_no_last_touch(settings: Settings) -> None:
    decision = decide_row(settings, touches="lots")

    assert reason(decision, "touches").words == (
        "Touches done: 0, there is no touch count and no last touch"
    )


def test_snooze_taken_then_the_gap_moves_it(settings: Settings) -> None:
    decision = decide_row(
        settings, touches=3, last_touch=date(2026, 10, 13), snooze_until=date(2026, 10, 14)
    )

    assert reason(decision, "snooze").words == (
        "Snooze until Wed 14 Oct: it replaces the plan date"
    )
    assert reason(decision, "gap").words == (
        "Minimum gap: 2 days after the last touch, Tue 13 Oct = Thu 15 Oct; moved from Wed 14 Oct"
    )
    assert decision.next_touch == date(2026, 10, 15)


def test_a_snooze_before_the_last_touch_no_longer_counts(settings: Settings) -> None:
    decision = decide_row(settings, last_touch=date(2026, 10, 9), snooze_until="05/10/2026")

    assert reason(decision, "snooze").words == (
        "Snooze until Mon 5 Oct: not after the last touch, Fri 9 Oct, so it no longer counts"
    )


def test_a_snooze_before_the_consultation_stops_at_it(settings: Settings) -> None:
    decision = decide_row(settings, snooze_until=date(2026, 9, 1))

    assert reason(decision, "consultation").words == (
        "Never before the consultation: moved to Thu 1 Oct"
    )


def test_each_closed_day_with_why(settings: Settings) -> None:
    clinic = replace(
        settings,
        holidays=frozenset({date(2026, 10, 6)}),
        public_holidays=frozenset({date(2026, 10, 5)}),
    )
    decision = decide(Prospect(2, {**base_cells(), "touches": 1}), TODAY, clinic)

    assert [r.words for r in decision.reasons if r.kind == "closed_day"] == [
        "Sat 3 Oct: closed (the clinic does not open on Saturdays), so on to Sun 4 Oct",
        "Sun 4 Oct: closed (the clinic does not open on Sundays), so on to Mon 5 Oct",
        "Mon 5 Oct: closed (a public holiday), so on to Tue 6 Oct",
        "Tue 6 Oct: closed (one of the clinic's own closed days), so on to Wed 7 Oct",
    ]
    assert decision.next_touch == date(2026, 10, 7)


def test_years_are_shown_when_not_this_year(settings: Settings) -> None:
    decision = decide_row(settings, today=date(2027, 1, 4), touches=6)  # day 90: 30 Dec

    assert reason(decision, "plan_date").words == (
        "Plan date: the consultation, Thu 1 Oct 2026, + 90 days = Wed 30 Dec 2026"
    )


def test_month_first_clinics_read_their_order(settings: Settings) -> None:
    us = replace(settings, date_order=DateOrder.MDY)
    decision = decide(Prospect(2, {**base_cells(), "touches": 2}), TODAY, us)

    assert (
        reason(decision, "flag").words
        == "Next touch Thu Oct 8, 6 days before today (Wed Oct 14): OVERDUE 6d"
    )


def test_closed_nurture_and_check_data_say_why_there_is_no_date(settings: Settings) -> None:
    assert words(decide_row(settings, status="Booked ✅")) == [
        'Status: "Booked ✅" means won',
        "CLOSED: won: no follow-up date",
    ]
    assert words(decide_row(settings, touches=7))[-2:] == [
        "The standard plan has 7 steps and all are done: newsletter only from now on",
        "NURTURE: no follow-up date",
    ]
    check = decide_row(settings, last_touch=date(2026, 10, 20))
    assert kinds(check) == ["status", "check", "flag"]
    assert check.problem is not None
    assert check.reasons[-1].words == check.status_text
    assert check.reasons[1].words.startswith(check.problem.text)


def test_an_unknown_status_word_is_told(settings: Settings) -> None:
    decision = decide_row(settings, status="maybe later")

    assert reason(decision, "status").words == (
        'Status: "maybe later" is not a word sheets-sync knows, so active'
    )


def base_cells() -> dict[str, CellValue]:
    return {"name": "Ann Lee", "owner": "Chloe Martin", "consultation_date": CONSULT}


# The record agrees with the decision, for any prospect ------------------------------------


@st.composite
def rows_clinics_and_public_holidays(
    draw: st.DrawFn,
) -> tuple[Prospect, date, Settings]:
    row, today, clinic, _ = draw(rows_and_clinics())
    public = draw(st.frozensets(st.dates(today - timedelta(days=30), today + timedelta(days=900))))
    order = draw(st.sampled_from(DateOrder))
    return row, today, replace(clinic, public_holidays=public, date_order=order)


@given(case=rows_clinics_and_public_holidays())
def test_the_reasons_arrive_at_the_rules_date(
    settings: Settings, case: tuple[Prospect, date, Settings]
) -> None:
    row, today, clinic = case
    clinic = replace(clinic, plans=settings.plans)
    decision = decide(row, today, clinic)
    hash(decision)  # still a value: a set of decisions, a cache key

    *steps, last = decision.reasons
    assert last.kind == "flag"
    assert last.due == decision.next_touch
    assert decision.status_text in last.words
    if decision.next_touch is not None:
        shown = format_day(
            decision.next_touch,
            clinic.date_order,
            with_year=decision.next_touch.year != today.year,
        )
        assert last.words.startswith(f"Next touch {shown},")

    due: date | None = None  # the date as each step leaves it
    for step in steps:
        if step.kind == "plan_date":
            assert decision.step is not None
            assert (step.start, step.days) == (decision.consultation, decision.step.day)
            assert step.start is not None
            assert step.days is not None
            assert step.due == step.start + timedelta(days=step.days)
        elif step.kind == "snooze":
            assert step.due is not None
            assert due is not None
        elif step.kind == "consultation":
            assert due is not None
            assert step.due is not None
            assert step.due == decision.consultation > due
        elif step.kind == "gap":
            assert (step.start, step.days) == (decision.last_touch, clinic.min_gap_days)
            assert step.start is not None
            assert step.days is not None
            assert due is not None
            assert step.due == max(due, step.start + timedelta(days=step.days))
        elif step.kind == "closed_day":
            assert step.start == due
            assert step.start is not None
            assert not clinic.is_open(step.start)
            assert step.due == step.start + timedelta(days=1)
        else:
            assert step.due is None
        due = step.due if step.due is not None else due
    assert due == decision.next_touch
    if due is not None:
        assert clinic.is_open(due)
    if decision.flag in (Flag.CLOSED, Flag.NURTURE, Flag.CHECK_DATA):
        assert not any(step.due for step in steps)
