"""A year in a clinic, counted twice (issue 15, point 5).

A seeded clinic plays 2025 and 2026 day by day: consultations arrive on open days, owners
touch their prospects when the plan says (some late, some giving up after one to four
touches), prospects book after 1 to 400 days (a long tail) or decline or neither, some
bookings carry no value, some are confirmed by a call days later. The daemon starts
mid-January 2026: from then on the staff's edits are made in the workbook with openpyxl
(`XlsxLog`, as in tests/test_clinic_simulation.py) and the real `engine.sync` runs after each
open day's work. What happened before its first day is in the log only as the rows show it:
bookings made then are dated by their last touch. From April staff fill a `Booked on` column
for most bookings, sometimes days after the booking (the column's day is the real one).

The simulation keeps its own ground truth (each prospect's touches, its booking day, value
and consultation) and counts the report's figures from it directly, with the plan's days and
the follow-up rule written out here again (SPEC §3) rather than taken from `sheets_sync`;
the report built from a dry-run cycle and the touch log, as `sheets-sync report` builds it,
must say the same, at a few month ends and for every month and the whole year at the end.

CI plays one clinic (about 30 s); SHEETS_SYNC_FUZZ_EXAMPLES plays that many seeds. The edge
cases follow, each on its own.
"""

from __future__ import annotations

import itertools
import os
import random
import statistics
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from sheets_sync.backends.xlsx import XlsxBackend
from sheets_sync.config import Config
from sheets_sync.core.report import Period, Report
from sheets_sync.core.values import CellValue
from sheets_sync.engine import clinic_report, sync
from sheets_sync.state import State
from tests.test_clinic_simulation import XlsxLog, config_for
from tests.workbooks import make_log

YEAR = 2026
HISTORY_STARTS = date(2025, 1, 1)
DAEMON_STARTS = date(2026, 1, 14)  # a Wednesday: the touch log begins mid-month
YEAR_ENDS = date(2026, 12, 31)
MONTH_ENDS = (date(2026, 1, 30), date(2026, 6, 30), date(2026, 9, 30))  # checked on the way
HEADERS = [
    "Name",
    "Owner",
    "Consultation date",
    "Value",
    "Status",
    "Last touch",
    "Touches",
    "Booked on",
]
BOOKED_ON_FROM = date(2026, 4, 1)  # staff start filling the Booked on column
# Each owner's chance of giving up on a prospect (mostly after one or two touches, as the seeds
# say, sometimes after three or four), and of making a due touch on a given open day (the rest
# slip to a later day).
OWNERS = {"Anna": (0.05, 0.8), "Ben": (0.45, 0.6), "Chloe": (0.2, 0.7), "Dev": (0.6, 0.4)}
# Days from consultation to booking: mostly within three months, a long tail to 400.
BOOKING_DELAYS = (
    ((1, 30), 40),
    ((31, 90), 25),
    ((91, 180), 15),
    ((181, 270), 10),
    ((271, 400), 10),
)
CLINICS = int(os.environ.get("SHEETS_SYNC_FUZZ_EXAMPLES", "1"))

# SPEC §3, written out again: the plans' step days, the long-term plan's repeat, the gap.
STANDARD_DAYS = (0, 2, 7, 14, 30, 60, 90)
LONG_TERM_DAYS = (*STANDARD_DAYS, 120, 180, 240, 300, 365)
REPEAT_EVERY = 90
MIN_GAP = 2


def is_open_day(day: date) -> bool:
    return day.weekday() < 5


def next_open_day(day: date) -> date:
    while not is_open_day(day):
        day += timedelta(days=1)
    return day


@dataclass
class Prospect:
    """One prospect as the clinic knows it: the ground truth."""

    name: str
    owner: str
    consultation: date
    value: int | None
    fate: str | None  # "Booked", "Declined" or None (still thinking)
    fate_day: date | None  # the day it happens, or the first open day after
    gives_up_after: int | None  # the owner stops after this many touches
    row: int  # the sheet row
    touches: list[date] = field(default_factory=list)
    status: str = "Open"
    closed_on: date | None = None  # the day staff marked the status
    booked_on: date | None = None  # the booking's day, typed by staff in `Booked on`
    confirmed_on: date | None = None  # a call to confirm the appointment, after the booking

    @property
    def long_term(self) -> bool:
        return self.value is not None and self.value >= 1000

    def due(self) -> date | None:
        """The next touch's day by the rule (SPEC §3, rules 4-8), None when the plan is done."""
        done = len(self.touches)
        steps = LONG_TERM_DAYS if self.long_term else STANDARD_DAYS
        if done < len(steps):
            offset = steps[done]
        elif self.long_term:
            offset = steps[-1] + REPEAT_EVERY * (done + 1 - len(steps))
        else:
            return None  # nurture
        day = self.consultation + timedelta(days=offset)
        if self.touches:
            day = max(day, self.touches[-1] + timedelta(days=MIN_GAP))
        return next_open_day(day)

    def overdue(self, today: date) -> int:
        due = self.due()
        return (today - due).days if due is not None and due < today else 0

    def cells(self) -> list[CellValue]:
        last = self.touches[-1] if self.touches else None
        return [
            self.name,
            self.owner,
            self.consultation,
            self.value,
            self.status,
            last,
            len(self.touches),
            self.booked_on,
        ]


@dataclass
class Clinic:
    rng: random.Random
    folder: Path
    config: Config
    state: State
    prospects: list[Prospect] = field(default_factory=list)
    log: XlsxLog | None = None
    made: Any = field(default_factory=lambda: itertools.count(1))

    def new_id(self) -> str:
        return f"{next(self.made):08x}"

    def arrive(self, today: date) -> Prospect:
        rng = self.rng
        owner = rng.choice(sorted(OWNERS))
        give_up, _ = OWNERS[owner]
        value = None if rng.random() < 0.12 else rng.choice([300, 450, 800, 1200, 2500, 6000])
        fate = rng.choices(["Booked", "Declined", None], weights=[40, 15, 45])[0]
        first, last = rng.choices([r for r, _ in BOOKING_DELAYS], [w for _, w in BOOKING_DELAYS])[0]
        delay = rng.randint(first, last) if fate == "Booked" else rng.randint(3, 200)
        prospect = Prospect(
            name=f"Prospect {len(self.prospects) + 1:03d}",
            owner=owner,
            consultation=today,
            value=value,
            fate=fate,
            fate_day=today + timedelta(days=delay) if fate else None,
            gives_up_after=rng.choice([1, 1, 1, 2, 2, 3, 4]) if rng.random() < give_up else None,
            row=len(self.prospects) + 2,
        )
        self.prospects.append(prospect)
        return prospect

    def work(self, today: date) -> dict[tuple[int, int], CellValue]:
        """One open day: staff book, decline and touch; a consultation may arrive. Returns the
        cells they changed."""
        edits: dict[tuple[int, int], CellValue] = {}
        for prospect in self.prospects:
            if prospect.confirmed_on == today:  # recorded as a touch like any other
                prospect.touches.append(today)
                edits.update(self.cells_of(prospect))
            if prospect.status != "Open":
                continue
            _, diligence = OWNERS[prospect.owner]
            if prospect.fate_day is not None and prospect.fate_day <= today:
                late = 0
                if (
                    prospect.fate == "Booked"
                    and today >= BOOKED_ON_FROM
                    and self.rng.random() < 0.6
                ):
                    # Staff type the booking's day, sometimes when they mark it days later.
                    late = self.rng.choice([0, 0, 1, 2, 3])
                    prospect.booked_on = max(today - timedelta(days=late), prospect.consultation)
                if not late and self.rng.random() < 0.6:  # the booking call is a touch
                    prospect.touches.append(today)
                prospect.status, prospect.closed_on = prospect.fate or "", today
                # Before the touch log, a later call would be indistinguishable from the
                # booking's (the approximate day is the last touch): staff confirm only later.
                if (
                    prospect.status == "Booked"
                    and today > DAEMON_STARTS
                    and self.rng.random() < 0.3
                ):
                    later = today + timedelta(days=self.rng.randint(3, 20))
                    prospect.confirmed_on = next_open_day(later)
            else:
                due = prospect.due()
                stopped = prospect.gives_up_after is not None and (
                    len(prospect.touches) >= prospect.gives_up_after
                )
                if due is None or due > today or stopped or self.rng.random() > diligence:
                    continue
                prospect.touches.append(today)
            edits.update(self.cells_of(prospect))
        for _ in range(2 if self.rng.random() < 0.1 else 1 if self.rng.random() < 0.3 else 0):
            edits.update(self.cells_of(self.arrive(today)))
        return edits

    def book_before_the_daemon(self, today: date) -> None:
        booked = next(p for p in self.prospects if p.status == "Open" and today not in p.touches)
        booked.touches.append(today)
        booked.status, booked.closed_on, booked.fate_day = "Booked", today, None

    def cells_of(self, prospect: Prospect) -> dict[tuple[int, int], CellValue]:
        return {(prospect.row, col): value for col, value in enumerate(prospect.cells())}

    def cycle(self, today: date) -> None:
        assert self.log is not None
        sync(self.log.backend, self.config, self.state, today=today, new_id=self.new_id)

    def report(self, period: Period, today: date) -> Report:
        assert self.log is not None
        cycle = sync(self.log.backend, self.config, self.state, today=today, dry_run=True)
        return clinic_report(cycle, self.config, self.state, period, today)


class YearLog(XlsxLog):
    """The clinic's workbook, with a Value column (XlsxLog's staff edit it with openpyxl)."""

    def __init__(self, folder: Path, prospects: list[Prospect]) -> None:
        rows = [dict(zip(HEADERS, p.cells(), strict=True)) for p in prospects]
        self.path = make_log(folder / "log.xlsx", rows)
        self.backend = XlsxBackend(self.path, backup_dir=folder / "backups")


# --- the figures, counted from the ground truth ---------------------------------------------

AGE_LIMITS = ((0, 30), (31, 90), (91, 180), (181, 365), (366, None))


def age_band(days: int) -> int:
    return next(
        i
        for i, (low, high) in enumerate(AGE_LIMITS)
        if days >= low and (high is None or days <= high)
    )


def expected(
    prospects: list[Prospect], period: Period, today: date, *, started: date = DAEMON_STARTS
) -> dict[str, Any]:
    """What the report must say, from the simulation's own records; the daemon's first sync
    ran on `started`, after that day's work."""
    bookings = []
    undated = 0
    for p in prospects:
        if p.status != "Booked":
            continue
        assert p.closed_on is not None
        exact = p.booked_on is not None or p.closed_on > started  # after the first sync
        if not exact and not p.touches:
            undated += 1
            continue
        day = p.booked_on or p.closed_on if exact else p.touches[-1]
        if not period.first <= day <= period.last:
            continue
        before = sum(1 for touch in p.touches if touch <= (p.booked_on or p.closed_on))
        bookings.append(
            (day, p.row, p.name, not exact, p.value, (day - p.consultation).days, before)
        )
    bookings.sort()
    days = sorted(b[5] for b in bookings)
    total = sum(b[4] or 0 for b in bookings)
    income = [[0, 0] for _ in AGE_LIMITS]
    touch_bands = [[0, 0] for _ in range(6)]
    for b in bookings:
        income[age_band(b[5])][0] += 1
        income[age_band(b[5])][1] += b[4] or 0
        touch_bands[min(b[6], 5)][0] += 1
        touch_bands[min(b[6], 5)][1] += b[4] or 0
    older = sum(b[4] or 0 for b in bookings if b[5] > 200)
    open_ = [p for p in prospects if p.status == "Open"]
    owners = []
    for owner in sorted({p.owner for p in prospects}):
        mine = [p for p in open_ if p.owner == owner]
        late = [p.overdue(today) for p in mine if p.overdue(today)]
        left = [
            sum(1 for p in mine if p.overdue(today) >= 14 and len(p.touches) == n)
            for n in (1, 2, 3, 4)
        ]
        logged = sum(
            1
            for p in prospects
            if p.owner == owner
            for touch in p.touches
            if touch > started and period.first <= touch <= period.last
        )
        owners.append((owner, logged, len(mine), len(late), max(late, default=0), tuple(left)))
    plans = sorted({"long_term" if p.long_term else "standard" for p in open_})
    pipeline = []
    for band in range(len(AGE_LIMITS)):
        here = [p for p in open_ if age_band((today - p.consultation).days) == band]
        by_plan = tuple(
            sum(1 for p in here if ("long_term" if p.long_term else "standard") == plan)
            for plan in plans
        )
        pipeline.append((by_plan, Decimal(sum(p.value or 0 for p in here))))
    overdue = [p for p in open_ if p.overdue(today)]
    return {
        "bookings": [(b[2], b[0], b[3], b[4], b[5], b[6]) for b in bookings],
        "count": len(bookings),
        "value": Decimal(total),
        "without value": sum(1 for b in bookings if b[4] is None),
        "approximate": sum(1 for b in bookings if b[3]),
        "undated": undated,
        "days to book": (days[0], float(statistics.median(days)), days[-1]) if days else None,
        "income by age": [(n, Decimal(v)) for n, v in income],
        "over 200 days": Decimal(older) / Decimal(total) if total else None,
        "touches before booking": [(n, Decimal(v)) for n, v in touch_bands],
        "five or more": (
            Decimal(sum(1 for b in bookings if b[6] >= 5)) / len(bookings) if bookings else None
        ),
        "owners": owners,
        "plans": tuple(plans),
        "pipeline": pipeline,
        "overdue": len(overdue),
        "overdue value": Decimal(sum(p.value or 0 for p in overdue)),
    }


def figures(report: Report) -> dict[str, Any]:
    """The same, as the report says it."""
    days = report.days_to_book
    return {
        "bookings": [
            (
                b.name,
                b.day,
                b.approximate,
                None if b.value is None else int(b.value),
                b.days_to_book,
                b.touches,
            )
            for b in report.bookings
        ],
        "count": len(report.bookings),
        "value": report.booked_value,
        "without value": report.without_value,
        "approximate": report.approximate,
        "undated": report.undated,
        "days to book": (days.youngest, days.median, days.oldest) if days else None,
        "income by age": [(band.count, band.value) for band in report.income_by_age],
        "over 200 days": report.long_term_share,
        "touches before booking": [(b.count, b.value) for b in report.touches_before_booking],
        "five or more": report.five_or_more_share,
        "owners": [
            (o.owner, o.touches, o.active, o.overdue, o.oldest_overdue, o.left_after)
            for o in report.owners
        ],
        "plans": report.plans,
        "pipeline": [(row.by_plan, row.value) for row in report.pipeline],
        "overdue": report.overdue,
        "overdue value": report.overdue_value,
    }


# --- the year --------------------------------------------------------------------------------


def play_year(folder: Path, seed: int, state: State) -> tuple[Clinic, dict[str, Report]]:
    """The clinic from HISTORY_STARTS to the year's end; returns it and the reports checked
    on the way, by name. Whatever the seed, one prospect books with a call two days before the
    daemon's first day: a booking the report can date only by its last touch."""
    clinic = Clinic(random.Random(seed), folder, config_for(folder), state)
    checked: dict[str, Report] = {}
    day = HISTORY_STARTS
    while day <= YEAR_ENDS:
        if is_open_day(day):
            edits = clinic.work(day)
            if day == DAEMON_STARTS - timedelta(days=2):
                clinic.book_before_the_daemon(day)
            if day == DAEMON_STARTS:
                clinic.log = YearLog(folder, clinic.prospects)
                clinic.cycle(day)
            elif clinic.log is not None:
                clinic.log.change(edits)
                clinic.cycle(day)
        if day in MONTH_ENDS:
            period = Period.month(day.year, day.month)
            checked[f"{day:%B}"] = report = clinic.report(period, day)
            assert figures(report) == expected(clinic.prospects, period, day), day
        day += timedelta(days=1)
    return clinic, checked


@pytest.mark.fuzz
@pytest.mark.parametrize("seed", range(CLINICS))
def test_a_year_in_a_clinic_the_report_equals_the_clinics_own_count(
    tmp_path: Path, seed: int
) -> None:
    with State(tmp_path / "state") as state:
        clinic, on_the_way = play_year(tmp_path, seed, state)
        year = clinic.report(Period.year(YEAR), YEAR_ENDS)
        assert figures(year) == expected(clinic.prospects, Period.year(YEAR), YEAR_ENDS)
        months = [Period.month(YEAR, month) for month in range(1, 13)]
        cycle = sync(clinic.log.backend, clinic.config, state, today=YEAR_ENDS, dry_run=True)  # type: ignore[union-attr]
        monthly = []
        for month in months:
            report = clinic_report(cycle, clinic.config, state, month, YEAR_ENDS)
            assert figures(report) == expected(clinic.prospects, month, YEAR_ENDS), month
            monthly.append(f"{month.first:%b} {len(report.bookings)} ({report.booked_value})")

    # The simulation covers what the report must handle.
    assert on_the_way["January"].approximate > 0  # booked before the daemon's first day
    # The touch log's first entries are staff's edits after the daemon's first day.
    log_began = on_the_way["January"].log_began
    assert log_began is not None
    assert DAEMON_STARTS < log_began < date(2026, 2, 1)
    assert {b.source for b in year.bookings} == {"column", "touch log", "last touch"}
    assert any(p.booked_on and p.booked_on < (p.closed_on or p.booked_on) for p in clinic.prospects)
    assert year.without_value > 0
    assert year.days_to_book is not None
    assert year.days_to_book.oldest > 365
    assert year.long_term_share
    assert any(any(owner.left_after) for owner in year.owners)
    print(summary(year))
    print("bookings by month:", ", ".join(monthly))


def summary(report: Report) -> str:
    days = report.days_to_book
    lines = [
        f"{report.period.first}..{report.period.last}: {len(report.bookings)} bookings, "
        f"value {report.booked_value}, {report.without_value} without value, "
        f"{report.approximate} approximate, {report.undated} undated",
        f"days to book: {days}",
        "income by age: "
        + ", ".join(f"{b.label} {b.count} {b.value}" for b in report.income_by_age),
        f"share over 200 days: {report.long_term_share:.3f}" if report.long_term_share else "",
        "touches before booking: "
        + ", ".join(f"{b.label} {b.count}" for b in report.touches_before_booking),
        f"five or more: {report.five_or_more_share:.3f}" if report.five_or_more_share else "",
        *(
            f"{o.owner}: {o.touches} touches, {o.active} open, {o.overdue} overdue "
            f"(oldest {o.oldest_overdue}d), left after 1-4: {o.left_after}"
            for o in report.owners
        ),
        f"pipeline {report.plans}: "
        + ", ".join(f"{row.age} {row.by_plan} {row.value}" for row in report.pipeline),
        f"overdue {report.overdue}, value {report.overdue_value}",
    ]
    return "\n".join(lines)


# --- edge cases, each on its own: a small clinic scripted by hand ----------------------------

MONDAY = date(2026, 3, 9)  # the daemon's first day in these: the log begins mid-March


@pytest.fixture
def small(tmp_path: Path) -> Any:
    """A clinic of three open prospects, consulted in February, and the daemon's first day."""
    with State(tmp_path / "state") as state:
        clinic = Clinic(random.Random(0), tmp_path, config_for(tmp_path), state)
        for owner, value in (("Anna", 450), ("Ben", None), ("Anna", 2500)):
            prospect = clinic.arrive(date(2026, 2, 2))
            prospect.owner, prospect.value, prospect.fate, prospect.fate_day = (
                owner,
                value,
                None,
                None,
            )
            prospect.gives_up_after = None
            prospect.touches = [date(2026, 2, 2), date(2026, 2, 4)]
        yield clinic


def start(clinic: Clinic, day: date = MONDAY) -> None:
    clinic.log = YearLog(clinic.folder, clinic.prospects)
    clinic.cycle(day)


def edit(
    clinic: Clinic, day: date, prospect: Prospect, *, touch: bool = False, status: str = ""
) -> None:
    """Staff record a touch and/or a status on `day`; the day's sync runs."""
    assert clinic.log is not None
    if touch:
        prospect.touches.append(day)
    if status:
        prospect.status, prospect.closed_on = status, day
    clinic.log.change(clinic.cells_of(prospect))
    clinic.cycle(day)


def month_report(clinic: Clinic, year: int, month: int, today: date) -> Report:
    period = Period.month(year, month)
    report = clinic.report(period, today)
    assert figures(report) == expected(clinic.prospects, period, today, started=MONDAY)
    return report


def test_no_bookings_yet_the_report_says_so_without_shares(small: Clinic) -> None:
    start(small)
    edit(small, date(2026, 3, 10), small.prospects[0], touch=True)
    report = month_report(small, 2026, 3, date(2026, 3, 31))
    assert (report.bookings, report.days_to_book, report.booked_value) == ((), None, 0)
    assert (report.long_term_share, report.five_or_more_share) == (None, None)
    assert [band.count for band in report.income_by_age] == [0] * 5
    assert [o.touches for o in report.owners] == [1, 0]  # Anna's Tuesday call


def test_a_month_with_one_booking_is_its_own_youngest_median_and_oldest(small: Clinic) -> None:
    start(small)
    edit(small, date(2026, 3, 16), small.prospects[2], touch=True, status="Booked")
    report = month_report(small, 2026, 3, date(2026, 3, 31))
    days = report.days_to_book
    assert days is not None
    assert (days.youngest, days.median, days.oldest) == (42, 42.0, 42)
    assert (len(report.bookings), report.booked_value, report.approximate) == (1, 2500, 0)
    assert report.bookings[0].touches == 3
    assert [band.count for band in report.income_by_age] == [0, 1, 0, 0, 0]


def test_a_log_begun_mid_month_dates_earlier_bookings_by_their_last_touch(small: Clinic) -> None:
    """Booked on 6 March, before the daemon's first day (9 March): its day is its last touch
    (the call on 5 March), marked approximate; one booked after the log began is exact."""
    early = small.prospects[0]
    early.touches.append(date(2026, 3, 5))
    early.status, early.closed_on = "Booked", date(2026, 3, 6)  # the day itself is unknown
    start(small)
    edit(small, date(2026, 3, 18), small.prospects[2], status="Booked")
    report = month_report(small, 2026, 3, date(2026, 3, 31))
    assert report.log_began is None or report.log_began >= MONDAY
    assert [(b.name, b.day, b.approximate) for b in report.bookings] == [
        (early.name, date(2026, 3, 5), True),
        (small.prospects[2].name, date(2026, 3, 18), False),
    ]
    assert report.approximate == 1


def test_bookings_with_no_value_are_counted_but_bring_no_money(small: Clinic) -> None:
    start(small)
    edit(small, date(2026, 3, 10), small.prospects[1], touch=True, status="Booked")  # no value
    edit(small, date(2026, 3, 11), small.prospects[0], status="Booked")
    report = month_report(small, 2026, 3, date(2026, 3, 31))
    assert (len(report.bookings), report.without_value, report.booked_value) == (2, 1, 450)
    assert report.long_term_share == 0
    assert [(band.count, band.value) for band in report.income_by_age][1] == (2, 450)


def test_a_call_after_the_booking_is_no_touch_before_it(small: Clinic) -> None:
    """Found by the simulation: a call confirming the appointment, a week after the booking,
    put the Touches cell one up, and the report counted it as a touch before the booking (7
    instead of 6). The touches the log saw after the booking day come off the cell's count."""
    start(small)
    booked = small.prospects[0]
    edit(small, date(2026, 3, 10), booked, touch=True)
    edit(small, date(2026, 3, 12), booked, touch=True, status="Booked")
    edit(small, date(2026, 3, 19), booked, touch=True)  # confirming the appointment
    report = month_report(small, 2026, 3, date(2026, 3, 31))
    assert [b.touches for b in report.bookings] == [4]  # two in February, two in March


def test_over_200_days_means_201_and_more(small: Clinic) -> None:
    """The seeds' "opportunities over 200 days old": a booking 200 days after its consultation
    is not one, a booking 201 days after is."""
    for prospect in small.prospects:
        prospect.consultation = date(2025, 8, 22)
    start(small)
    edit(small, date(2026, 3, 10), small.prospects[0], status="Booked")  # 200 days, 450
    edit(small, date(2026, 3, 11), small.prospects[2], status="Booked")  # 201 days, 2500
    report = month_report(small, 2026, 3, date(2026, 3, 31))
    assert [b.days_to_book for b in report.bookings] == [200, 201]
    assert report.long_term_share == Decimal(2500) / Decimal(2950)
