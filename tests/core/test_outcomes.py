"""Reading what staff type into a row's Next action or Follow-up status (SPEC §8)."""

from __future__ import annotations

from datetime import date

import pytest

from sheets_sync.core.outcomes import (
    NotUnderstood,
    Outcome,
    OutcomeWords,
    read_outcome,
    touches_of,
)
from sheets_sync.core.touches import Touch
from sheets_sync.core.values import DateOrder, Status, StatusWords

TODAY = date(2026, 11, 30)  # a Monday


def read(typed: str, order: DateOrder = DateOrder.DMY, **words: object) -> object:
    status = StatusWords(tuple(words.get("status", ())))  # type: ignore[arg-type]
    own = OutcomeWords(tuple(words.get("outcomes", ())))  # type: ignore[arg-type]
    return read_outcome(typed, TODAY, order, status, own)


@pytest.mark.parametrize(
    ("typed", "channel"),
    [
        ("called", "Call"),
        ("Emailed", "Email"),
        ("  TEXTED ", "Text"),
        ("wrote", "Letter"),
        ("met", "Meeting"),
        ("done", ""),
    ],
)
def test_a_contact_word_is_a_touch_today(typed: str, channel: str) -> None:
    assert read(typed) == Outcome(typed, touched=TODAY, channel=channel)


def test_a_call_attempt_is_a_touch_that_says_what_happened() -> None:
    assert read("No answer") == Outcome("No answer", TODAY, "Call", note="no answer")
    assert read("voicemail - left a message") == Outcome(
        "voicemail - left a message", TODAY, "Call", note="voicemail: left a message"
    )


def test_a_contact_on_a_date_in_the_clinics_order() -> None:
    assert read("called 23/11") == Outcome("called 23/11", date(2026, 11, 23), "Call")
    assert read("called 11/23", DateOrder.MDY) == Outcome(
        "called 11/23", date(2026, 11, 23), "Call"
    )
    assert read("emailed 3 Nov") == Outcome("emailed 3 Nov", date(2026, 11, 3), "Email")
    assert read("called 2026-11-02") == Outcome("called 2026-11-02", date(2026, 11, 2), "Call")


def test_a_date_without_a_year_is_the_one_nearest_today() -> None:
    new_year = read_outcome("called 28/12", date(2027, 1, 4), DateOrder.DMY, StatusWords())
    assert new_year == Outcome("called 28/12", date(2026, 12, 28), "Call")


def test_a_contact_is_never_in_the_future() -> None:
    outcome = read("called 15/12")
    assert isinstance(outcome, NotUnderstood)
    assert outcome.reason == '"called 15/12": Tue 15 Dec 2026 is in the future'


def test_the_note_follows_a_colon_or_a_dash() -> None:
    typed = "called 23/11 - wants finance options"
    assert read(typed) == Outcome(typed, date(2026, 11, 23), "Call", note="wants finance options")
    assert read("Booked: implant consult 12/1") == Outcome(
        "Booked: implant consult 12/1", status="Booked", note="implant consult 12/1"
    )


@pytest.mark.parametrize(
    ("typed", "until"),
    [
        ("+3", date(2026, 12, 3)),
        ("+2w", date(2026, 12, 14)),
        ("+1m", date(2026, 12, 30)),
        ("+3m", date(2027, 2, 28)),  # no 30 February: the month's last day
        ("snooze 3 Dec", date(2026, 12, 3)),
        ("Snooze 5/1", date(2027, 1, 5)),  # the nearest 5 January is next year's
        ("snooze +10", date(2026, 12, 10)),
    ],
)
def test_a_snooze(typed: str, until: date) -> None:
    assert read(typed) == Outcome(typed, snooze=until)


def test_a_snooze_in_the_past_is_not_understood() -> None:
    outcome = read("snooze 20/11")
    assert isinstance(outcome, NotUnderstood)
    assert "is not after today" in outcome.reason


def test_call_back_is_a_call_today_and_a_snooze() -> None:
    assert read("call back 15/12") == Outcome(
        "call back 15/12", TODAY, "Call", snooze=date(2026, 12, 15)
    )


@pytest.mark.parametrize(
    "typed", ["booked", "Declined", "not interested", "OPTED OUT", "deceased", "paid deposit"]
)
def test_a_status_word_is_the_status(typed: str) -> None:
    own = (("paid deposit", Status.WON),)
    assert read(typed, status=own) == Outcome(typed, status=typed.strip())


def test_the_clinics_own_words() -> None:
    assert read("Rang - happy", outcomes=[("rang", "called")]) == Outcome(
        "Rang - happy", TODAY, "Call", note="happy"
    )
    assert read("rang back 15/12", outcomes=[("rang back", "call_back")]) == Outcome(
        "rang back 15/12", TODAY, "Call", snooze=date(2026, 12, 15)
    )


@pytest.mark.parametrize("typed", ["call Tuesday", "active", "Step 2 done", "calledx", "+"])
def test_anything_else_is_not_understood(typed: str) -> None:
    outcome = read(typed)
    assert isinstance(outcome, NotUnderstood)
    assert outcome.text == typed


def test_the_touch_log_entries_carry_the_note_and_the_steps_channel() -> None:
    outcome = Outcome("done - keen", TODAY, note="keen", snooze=date(2026, 12, 3))
    assert touches_of(outcome, "ab12cd34", TODAY, "Email") == (
        Touch("ab12cd34", "touch", TODAY, TODAY, "typed", "Email", "keen"),
        Touch("ab12cd34", "snooze", TODAY, TODAY, "typed", value="2026-12-03"),
    )
    booked = Outcome("Booked", status="Booked")
    assert touches_of(booked, "ab12cd34", TODAY, "Call") == (
        Touch("ab12cd34", "status", TODAY, TODAY, "typed", value="Booked"),
    )
