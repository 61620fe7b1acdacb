"""Outcomes staff type into a row's `Next action` or `Follow-up status` cell (SPEC §8).

`called`, `no answer`, `called 23/11 - wants finance options`, `+2w`, `call back 15/12`,
`booked`: one word or two, on any device, with no add-on. `read_outcome` turns the cell's text
into what it means for the row's staff cells, or says why it cannot; `touches_of` turns an
outcome into the touch log's entries. Pure: `today` comes in as an argument.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta

from sheets_sync.core.touches import Touch
from sheets_sync.core.values import (
    DateOrder,
    Status,
    StatusWords,
    Unreadable,
    format_day,
    quoted,
    read_date,
    status_word,
)

# The built-in words, by the key `[outcomes]` extends them under, with the channel of the
# touch each records ("" for `done`: the step's own channel).
TOUCH_WORDS: Mapping[str, tuple[str, str]] = {
    "called": ("called", "Call"),
    "emailed": ("emailed", "Email"),
    "texted": ("texted", "Text"),
    "wrote": ("wrote", "Letter"),
    "met": ("met", "Meeting"),
    "done": ("done", ""),
    "no_answer": ("no answer", "Call"),
    "voicemail": ("voicemail", "Call"),
}
SNOOZE_WORDS: Mapping[str, str] = {"snooze": "snooze", "call_back": "call back"}
KEYS = (*TOUCH_WORDS, *SNOOZE_WORDS)
# A call attempt that reached nobody is a touch; the touch log keeps what it was.
_ATTEMPTS = {"no_answer": "no answer", "voicemail": "voicemail"}

# What ends the outcome and starts the note: `: ` or ` - ` (an en or em dash too).
_NOTE = re.compile(r":\s+|:$|\s+[-\u2013\u2014]\s+")
_LATER = re.compile(r"\+\s*(\d{1,3})\s*([dwm]?)")
_NO_YEAR_NUMERIC = re.compile(r"\d{1,2}([/.-])\d{1,2}")
UNDERSTOOD = (
    "called, emailed, texted, wrote, met, done, no answer, voicemail (each may take a date, "
    "like called 23/11), +3, +2w, +1m, snooze 3 Dec, call back 15/12, booked, declined, "
    'not interested, opted out, deceased, and any of them followed by " - " and a note'
)


@dataclass(frozen=True)
class OutcomeWords:
    """The clinic's own words for outcomes (`[outcomes]`, e.g. `called = ["rang"]`), on top
    of the built-in ones: (word as looked up, key of TOUCH_WORDS or SNOOZE_WORDS)."""

    words: tuple[tuple[str, str], ...] = ()

    def by_word(self) -> dict[str, str]:
        """Every word this clinic's staff may type, longest first, with its key."""
        known = {word: key for key, (word, _) in TOUCH_WORDS.items()}
        known.update({word: key for key, word in SNOOZE_WORDS.items()})
        known.update(self.words)
        return dict(sorted(known.items(), key=lambda item: -len(item[0])))


NO_OWN_WORDS = OutcomeWords()


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a typed outcome does to the row's staff cells."""

    text: str  # as typed
    touched: date | None = None  # the day of a contact
    channel: str = ""  # the contact's channel; "" for the step's own
    snooze: date | None = None
    status: str = ""  # the status to write, as typed
    note: str = ""


@dataclass(frozen=True, slots=True)
class NotUnderstood:
    """Text in a managed cell that is no outcome: kept, and the row flagged with `reason`."""

    text: str
    reason: str


def read_outcome(
    typed: str,
    today: date,
    order: DateOrder,
    status_words: StatusWords,
    outcome_words: OutcomeWords = NO_OWN_WORDS,
) -> Outcome | NotUnderstood:
    """The outcome `typed` records, or why it is none. Case and spaces do not matter; a
    date without a year is the one nearest `today`; a contact is never in the future, nor a
    snooze in the past."""
    text = " ".join(typed.split())
    head, note = text, ""
    if parts := _NOTE.split(text, maxsplit=1):
        head, note = parts[0].strip(), parts[1].strip() if len(parts) > 1 else ""
    said = head.casefold()
    try:
        if later := _LATER.fullmatch(said):
            return Outcome(typed, snooze=_later(today, later), note=note)
        status = status_words.status_of(status_word(head)) if head else None
        if status is not None and status is not Status.ACTIVE:
            return Outcome(typed, status=head, note=note)
        for word, key in outcome_words.by_word().items():
            if said != word and not said.startswith(word + " "):
                continue
            rest = said[len(word) :].strip()
            if key in SNOOZE_WORDS:
                until = _snooze_date(rest, today, order)
                touched = today if key == "call_back" else None
                channel = "Call" if key == "call_back" else ""
                return Outcome(typed, touched, channel, snooze=until, note=note)
            day = _past_date(rest, today, order) if rest else today
            attempt = _ATTEMPTS.get(key, "")
            note = ": ".join(filter(None, (attempt, note)))
            return Outcome(typed, touched=day, channel=TOUCH_WORDS[key][1], note=note)
    except Unreadable as exc:
        return NotUnderstood(typed, f"{quoted(typed)}: {exc.reason}")
    return NotUnderstood(typed, f"{quoted(typed)} is not an outcome sheets-sync knows")


def _later(today: date, later: re.Match[str]) -> date:
    count, unit = int(later[1]), later[2]
    if unit == "w":
        return today + timedelta(weeks=count)
    if unit == "m":
        months = today.month - 1 + count
        year, month = today.year + months // 12, months % 12 + 1
        return date(year, month, min(today.day, calendar.monthrange(year, month)[1]))
    return today + timedelta(days=count)


def _snooze_date(rest: str, today: date, order: DateOrder) -> date:
    if later := _LATER.fullmatch(rest):
        return _later(today, later)
    if not rest:
        raise Unreadable("a snooze needs a date, like snooze 3 Dec or +2w")
    day = _day(rest, today, order)
    if day <= today:
        raise Unreadable(f"{format_day(day, order, with_year=True)} is not after today")
    return day


def _past_date(rest: str, today: date, order: DateOrder) -> date:
    day = _day(rest, today, order)
    if day > today:
        raise Unreadable(f"{format_day(day, order, with_year=True)} is in the future")
    return day


def _day(text: str, today: date, order: DateOrder) -> date:
    """A date as typed, in the clinic's date order; without a year, the one nearest today."""
    try:
        found = read_date(text, order)
    except Unreadable:
        found = None
    if found is not None:
        return found
    numeric = _NO_YEAR_NUMERIC.fullmatch(text)
    candidates = []
    for year in (today.year - 1, today.year, today.year + 1):
        written = f"{text}{numeric[1]}{year}" if numeric else f"{text} {year}"
        try:
            if day := read_date(written, order):
                candidates.append(day)
        except Unreadable:
            continue
    if not candidates:
        raise Unreadable(f"{quoted(text)} is not a date")
    return min(candidates, key=lambda day: abs((day - today).days))


# Who and what an outcome was: (Sync ID, text as `typed_key` gives it, the fingerprint of
# the row's outcome cells before it).
OutcomeKey = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class CarriedOut:
    """An outcome carried out, as the state records it before the write, so that it is
    carried out once (see `plan_sync`): its key and the day it was first carried out."""

    sync_id: str
    typed: str
    before: str
    day: date

    @property
    def key(self) -> OutcomeKey:
        return (self.sync_id, self.typed, self.before)


def typed_key(text: str) -> str:
    """A typed outcome as the record knows it again: case and runs of spaces aside."""
    return " ".join(text.split()).casefold()


def touches_of(outcome: Outcome, sync_id: str, today: date, step_channel: str) -> tuple[Touch, ...]:
    """The touch log's entries for an outcome carried out on `today` (`done` takes the
    step's channel); the note goes with the first."""
    entries: list[Touch] = []
    if outcome.touched is not None:
        channel = outcome.channel or step_channel
        entries.append(Touch(sync_id, "touch", outcome.touched, today, "typed", channel))
    if outcome.snooze is not None:
        snooze = outcome.snooze.isoformat()
        entries.append(Touch(sync_id, "snooze", today, today, "typed", value=snooze))
    if outcome.status:
        entries.append(Touch(sync_id, "status", today, today, "typed", value=outcome.status))
    if entries and outcome.note:
        entries[0] = replace(entries[0], note=outcome.note)
    return tuple(entries)
