"""The follow-up rule (SPEC §3): one prospect row and `today` in, one decision out."""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from enum import Enum

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
        return (
            day.weekday() in self.open_days
            and day not in self.holidays
            and day not in self.public_holidays
        )

    def next_open_day(self, day: date) -> date:
        """`day` itself when the clinic is open then, else the first open day after it."""
        for _ in range(366 * 2):
            if self.is_open(day):
                return day
            day += timedelta(days=1)
        raise ValueError("no open day within two years: check open_days and holidays")


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

    @property
    def next_action(self) -> str:
        if self.step is None or self.plan is None:
            return "Newsletter only" if self.flag is Flag.NURTURE else ""
        return self.plan.describe(self.step)


def decide(
    prospect: Prospect, today: date, settings: Settings, *, date1904: bool = False
) -> Decision:
    """Apply SPEC §3 to one prospect row."""
    warnings: list[Note] = []

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
    if status is not Status.ACTIVE:
        return Decision(Flag.CLOSED, f"CLOSED: {status.value}", warnings=tuple(warnings))

    def check(field: str, reason: str) -> Decision:
        return Decision(
            Flag.CHECK_DATA,
            f"CHECK DATA: {reason}",
            problem=Note(field, reason),
            warnings=tuple(warnings),
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

    plan = _choose_plan(prospect.text("plan"), value, settings)
    counted = read_count(prospect.cells.get("touches"))
    if counted is not None:
        touches = counted
    elif last_touch is None:
        touches = 0
    else:
        touches = plan.steps_due_by((last_touch - consultation).days)

    step = plan.step(touches)
    if counted is not None and step is not None and step.day > HORIZON_DAYS:
        # Only a repeating plan gets here; one that ends is simply finished (NURTURE).
        return check(
            "touches",
            f"touches {quoted(prospect.cells.get('touches'))} is more than the {plan.name} plan"
            " has in 100 years; type the number of touches done, like 3",
        )
    if step is None:
        return Decision(
            Flag.NURTURE,
            "NURTURE",
            plan=plan,
            consultation=consultation,
            last_touch=last_touch,
            value=value,
            warnings=tuple(warnings),
        )

    due = consultation + timedelta(days=step.day)
    if snooze is not None and (last_touch is None or snooze > last_touch):
        due = snooze
    # A snooze replaces the plan's date, but never the floors: no touch before the
    # consultation, none within min_gap_days of the last one.
    due = max(due, consultation)
    if last_touch is not None:
        due = max(due, last_touch + timedelta(days=settings.min_gap_days))
    due = settings.next_open_day(due)

    if due < today:
        days = (today - due).days
        flag, text = Flag.OVERDUE, f"OVERDUE {days}d"
    elif due == today:
        days, flag, text = 0, Flag.DUE_TODAY, "DUE TODAY"
    else:
        days, flag, text = 0, Flag.UPCOMING, "UPCOMING"
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
    )


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
