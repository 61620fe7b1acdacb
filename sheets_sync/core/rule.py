"""The follow-up rule (SPEC §3): one prospect row and `today` in, one decision out."""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from enum import Enum
from typing import Literal

from sheets_sync.core.plans import Plan, Step
from sheets_sync.core.values import (
    CellValue,
    DateOrder,
    Status,
    StatusWords,
    Unreadable,
    format_day,
    quoted,
    read_count,
    read_date,
    read_money,
    read_status,
    read_text,
    typed_like,
)
from sheets_sync.core.words import counted

# Nothing is planned further ahead than this: a date or a step beyond it is a typing slip
# (31/12/9999, a count of 24112026 touches), and dates past it would soon run out in 9999.
HORIZON_DAYS = 36525  # 100 years


class Flag(Enum):
    """The kinds of `Follow-up status`; each has its own colour."""

    OVERDUE = "OVERDUE"
    DUE_TODAY = "DUE TODAY"
    UPCOMING = "UPCOMING"
    NURTURE = "NURTURE"
    CLOSED = "CLOSED"
    CHECK_DATA = "CHECK DATA"


@dataclass(frozen=True)
class Settings:
    """Everything the rule needs from the clinic's configuration."""

    plans: Mapping[str, Plan]
    default_plan: str = "standard"
    long_term_plan: str = "long_term"
    long_term_min_value: Decimal = Decimal(1000)
    min_gap_days: int = 2
    open_days: frozenset[int] = frozenset(range(5))  # date.weekday(): Monday is 0
    holidays: frozenset[date] = frozenset()  # the clinic's own closed days
    # The region's public holidays: any collection of days, so that a calendar outside the
    # core can answer for every year it is asked about, with no list to run out.
    public_holidays: Container[date] = frozenset()
    date_order: DateOrder = DateOrder.DMY
    status_words: StatusWords = field(default_factory=StatusWords)

    def is_open(self, day: date) -> bool:
        return not self.why_closed(day)

    def why_closed(self, day: date) -> str:
        """Why the clinic is closed on `day`, in words for people; "" when it is open."""
        if day.weekday() not in self.open_days:
            return f"the clinic does not open on {_WEEKDAYS[day.weekday()]}"
        if day in self.holidays:
            return "one of the clinic's own closed days"
        if day in self.public_holidays:
            return "a public holiday"
        return ""

    def closed_days_from(self, day: date) -> list[tuple[date, str]]:
        """The closed days from `day` on, each with why, up to the first open day: what a
        date rolls past (rule 8)."""
        closed: list[tuple[date, str]] = []
        while why := self.why_closed(day):
            if len(closed) == 366 * 2:
                raise ValueError("no open day within two years: check open_days and holidays")
            closed.append((day, why))
            day += timedelta(days=1)
        return closed

    def next_open_day(self, day: date) -> date:
        """`day` itself when the clinic is open then, else the first open day after it."""
        return day + timedelta(days=len(self.closed_days_from(day)))


_WEEKDAYS = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")


@dataclass(frozen=True, slots=True)
class Prospect:
    """The staff cells of one row, as the rule reads them (field name -> raw cell value)."""

    row: int
    cells: Mapping[str, CellValue]

    def text(self, name: str) -> str:
        return read_text(self.cells.get(name))


@dataclass(frozen=True, slots=True)
class Note:
    """A problem with one cell of a row: the field it is in, and what is wrong, for people."""

    field: str
    text: str


ReasonKind = Literal[
    "status",  # the status cell's class
    "check",  # the cell behind CHECK DATA
    "plan",  # the plan, and why it was chosen
    "touches",  # how many touches count, and where the number came from
    "finished",  # the plan is done: NURTURE
    "step",  # the next step
    "plan_date",  # consultation + the step's day
    "snooze",  # a snooze date, taken or not
    "consultation",  # the floor: never before the consultation
    "gap",  # the floor: never within the minimum gap after the last touch
    "closed_day",  # a weekend day or holiday rolled past
    "flag",  # the flag, from the date and today: always the last reason
]


@dataclass(frozen=True, slots=True)
class Reason:
    """One step the rule took for a prospect, in the clinic's words with its numbers (SPEC §9).

    The rule records each as it takes it, so that `explain` shows the decision itself, not a
    retelling that could disagree. The dates carry the arithmetic: `due` is the follow-up date
    once this step is taken (None while there is none); for a `plan_date` and a `closed_day`
    it is `start` + `days`; for a `gap` the later of the date before it and `start` + `days`;
    the last reason's `due` is the decision's `next_touch`.
    """

    kind: ReasonKind
    words: str
    due: date | None = None
    # The day counted from (the consultation, the last touch, a closed day), and how many days
    # after it: the step's day, the minimum gap, 1.
    start: date | None = None
    days: int | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """What the rule says about one prospect."""

    flag: Flag
    status_text: str
    next_touch: date | None = None
    step: Step | None = None
    plan: Plan | None = None
    days_overdue: int = 0
    consultation: date | None = None
    last_touch: date | None = None
    value: Decimal | None = None
    # The cell behind a CHECK DATA flag, and problems `check` reports that do not stop the
    # rule (an unknown status word, an unreadable value).
    problem: Note | None = None
    warnings: tuple[Note, ...] = field(default=())
    # The managed cells a person typed over (flagged CHECK DATA, the follow-up kept).
    typed_over: tuple[str, ...] = ()
    # Each step the rule took, in order (SPEC §9): what `explain` prints.
    reasons: tuple[Reason, ...] = ()

    @property
    def next_action(self) -> str:
        if self.step is None or self.plan is None:
            return "Newsletter only" if self.flag is Flag.NURTURE else ""
        return self.plan.describe(self.step)


def decide(
    prospect: Prospect, today: date, settings: Settings, *, date1904: bool = False
) -> Decision:
    """Apply SPEC §3 to one prospect row, recording each step taken as a `Reason`."""
    warnings: list[Note] = []
    reasons: list[Reason] = []

    def show(day: date) -> str:
        return format_day(day, settings.date_order, with_year=day.year != today.year)

    status, known = read_status(prospect.cells.get("status"), settings.status_words)
    if not known:
        word = quoted(prospect.cells.get("status"))
        warnings.append(
            Note(
                "status",
                f"{word} is not a known status; read as active (if it is one of the clinic's "
                f"own words, list it in the config under [status], like lost = [{word}])",
            )
        )
    reasons.append(Reason("status", _status_words(prospect, status, known)))
    if status is not Status.ACTIVE:
        text = f"CLOSED: {status.value}"
        reasons.append(Reason("flag", f"{text}: no follow-up date"))
        return Decision(Flag.CLOSED, text, warnings=tuple(warnings), reasons=tuple(reasons))

    def check(field: str, reason: str) -> Decision:
        text = f"CHECK DATA: {reason}"
        reasons.append(Reason("check", f"{reason}: no follow-up date until it is put right"))
        reasons.append(Reason("flag", text))
        return Decision(
            Flag.CHECK_DATA,
            text,
            problem=Note(field, reason),
            warnings=tuple(warnings),
            reasons=tuple(reasons),
        )

    for name in ("name", "owner"):
        if not prospect.text(name):
            return check(name, f"no {name}")

    dates: dict[str, date | None] = {}
    for name, label in _DATES.items():
        try:
            dates[name] = read_date(
                prospect.cells.get(name), settings.date_order, date1904=date1904
            )
        except Unreadable as exc:
            return check(name, f"{label} {exc.reason}")
    for name, day in dates.items():
        if day is not None and (day - today).days > HORIZON_DAYS:
            return check(
                name,
                f"{_DATES[name]} {format_day(day, settings.date_order, with_year=True)} is more"
                " than 100 years ahead; type the date"
                f" it means, like {typed_like(today, settings.date_order)}",
            )
    consultation, last_touch = dates["consultation_date"], dates["last_touch"]
    snooze = dates["snooze_until"]
    if consultation is None:
        return check("consultation_date", "no consultation date")
    if last_touch is not None and last_touch > today:
        shown = format_day(last_touch, settings.date_order, with_year=True)
        return check("last_touch", f"last touch {shown} is in the future")

    try:
        value = read_money(prospect.cells.get("value"))
    except Unreadable as exc:
        warnings.append(Note("value", f"{exc.reason}; counted as blank"))
        value = None

    named = prospect.text("plan")
    plan = _choose_plan(named, value, settings)
    reasons.append(Reason("plan", _plan_words(plan, named, value, settings)))
    in_cell = read_count(prospect.cells.get("touches"))
    if in_cell is not None:
        touches = in_cell
        where = "as the Touches cell says"
    elif last_touch is None:
        touches = 0
        where = "there is no touch count and no last touch"
    else:
        since = (last_touch - consultation).days
        touches = plan.steps_due_by(since)
        where = (
            f"counted from the last touch, {show(last_touch)}: {counted(since, 'day')} after the"
            f" consultation, by which the {plan.name} plan has {counted(touches, 'step')}"
        )
    reasons.append(Reason("touches", f"Touches done: {touches}, {where}"))

    step = plan.step(touches)
    if in_cell is not None and step is not None and step.day > HORIZON_DAYS:
        # Only a repeating plan gets here; one that ends is simply finished (NURTURE).
        return check(
            "touches",
            f"touches {quoted(prospect.cells.get('touches'))} is more than the {plan.name} plan"
            " has in 100 years; type the number of touches done, like 3",
        )
    if step is None:
        reasons.append(
            Reason(
                "finished",
                f"The {plan.name} plan has {counted(plan.length, 'step')} and all are done:"
                " newsletter only from now on",
            )
        )
        reasons.append(Reason("flag", "NURTURE: no follow-up date"))
        return Decision(
            Flag.NURTURE,
            "NURTURE",
            plan=plan,
            consultation=consultation,
            last_touch=last_touch,
            value=value,
            warnings=tuple(warnings),
            reasons=tuple(reasons),
        )

    reasons.append(Reason("step", f"Next step: {plan.describe(step)}"))
    due = consultation + timedelta(days=step.day)
    reasons.append(
        Reason(
            "plan_date",
            f"Plan date: the consultation, {show(consultation)}, + {counted(step.day, 'day')}"
            f" = {show(due)}",
            due=due,
            start=consultation,
            days=step.day,
        )
    )
    if snooze is not None and (last_touch is None or snooze > last_touch):
        due = snooze
        reasons.append(
            Reason("snooze", f"Snooze until {show(snooze)}: it replaces the plan date", due=due)
        )
    elif snooze is not None and last_touch is not None:
        reasons.append(
            Reason(
                "snooze",
                f"Snooze until {show(snooze)}: not after the last touch, {show(last_touch)},"
                " so it no longer counts",
                due=due,
            )
        )
    # A snooze replaces the plan's date, but never the floors: no touch before the
    # consultation, none within min_gap_days of the last one.
    if due < consultation:
        due = consultation
        reasons.append(
            Reason(
                "consultation",
                f"Never before the consultation: moved to {show(due)}",
                due=due,
                start=consultation,
                days=0,
            )
        )
    if last_touch is not None:
        floor = last_touch + timedelta(days=settings.min_gap_days)
        gap = (
            f"Minimum gap: {counted(settings.min_gap_days, 'day')} after the last touch,"
            f" {show(last_touch)} = {show(floor)}"
        )
        moved = f"; moved from {show(due)}" if floor > due else f"; the date stays {show(due)}"
        due = max(due, floor)
        reasons.append(
            Reason("gap", gap + moved, due=due, start=last_touch, days=settings.min_gap_days)
        )
    for closed, why in settings.closed_days_from(due):
        due = closed + timedelta(days=1)
        reasons.append(
            Reason(
                "closed_day",
                f"{show(closed)}: closed ({why}), so on to {show(due)}",
                due=due,
                start=closed,
                days=1,
            )
        )

    if due < today:
        days = (today - due).days
        flag, text = Flag.OVERDUE, f"OVERDUE {days}d"
        when = f"{counted(days, 'day')} before today"
    elif due == today:
        days, flag, text = 0, Flag.DUE_TODAY, "DUE TODAY"
        when = "today"
    else:
        days, flag, text = 0, Flag.UPCOMING, "UPCOMING"
        when = f"in {counted((due - today).days, 'day')}"
    reasons.append(
        Reason("flag", f"Next touch {show(due)}, {when} ({show(today)}): {text}", due=due)
    )
    return Decision(
        flag,
        text,
        next_touch=due,
        step=step,
        plan=plan,
        days_overdue=days,
        consultation=consultation,
        last_touch=last_touch,
        value=value,
        warnings=tuple(warnings),
        reasons=tuple(reasons),
    )


def _status_words(prospect: Prospect, status: Status, known: bool) -> str:
    cell = prospect.cells.get("status")
    if cell is None or (isinstance(cell, str) and not cell.strip()):
        return "Status: blank, so active"
    if not known:
        return f"Status: {quoted(cell)} is not a word sheets-sync knows, so active"
    return f"Status: {quoted(cell)} means {status.value}"


def _plan_words(plan: Plan, named: str, value: Decimal | None, settings: Settings) -> str:
    if named and plan.name.casefold() == named.strip().casefold():
        return f"Plan: {plan.name}, as the row's Plan cell says"
    unknown = f"the Plan cell {quoted(named)} names no plan of the clinic's, so " if named else ""
    minimum = f"{settings.long_term_min_value:,}"
    if value is None:
        return f"Plan: {plan.name}, {unknown}the default (no value in the row)"
    if plan.name == settings.long_term_plan and value >= settings.long_term_min_value:
        return (
            f"Plan: {plan.name}, {unknown}because the value, {value:,}, is at least"
            f" {minimum} (long_term_min_value)"
        )
    return f"Plan: {plan.name}, {unknown}the default (the value, {value:,}, is under {minimum})"


_DATES = {
    "consultation_date": "consultation date",
    "last_touch": "last touch",
    "snooze_until": "snooze date",
}


def _choose_plan(named: str, value: Decimal | None, settings: Settings) -> Plan:
    for name, plan in settings.plans.items():
        if named and name.casefold() == named.strip().casefold():
            return plan
    if value is not None and value >= settings.long_term_min_value:
        return settings.plans[settings.long_term_plan]
    return settings.plans[settings.default_plan]
