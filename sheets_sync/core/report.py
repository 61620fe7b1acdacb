"""Does follow-up pay? The clinic's own numbers (SPEC §10), as data.

Built from the log as it reads today (each row and the rule's decision) and the touch log
(SPEC §8). Pure: `sheets_sync.report` reads the log and the state, `sheets_sync.mail` and
the console render it.

The booking day of a prospect whose status is a won word comes, in this order, from a staff
`Booked on` column, from the touch log (the day the status first became a won word), or, for
a booking made before the touch log saw it, from the row's last touch, which is then marked
approximate. A booking with none of them has no day and is only counted.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

from sheets_sync.core.owners import owner_key
from sheets_sync.core.rule import Flag, Settings
from sheets_sync.core.sync import RowResult
from sheets_sync.core.touches import Touch
from sheets_sync.core.values import (
    Status,
    Unreadable,
    read_count,
    read_date,
    read_money,
    read_status,
)

# Age at booking, or of an open prospect: days since the consultation, (first, last) with
# None for "and over". The seeds' "over 200 days" has its own share.
AGE_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("0-30 days", 0, 30),
    ("31-90 days", 31, 90),
    ("91-180 days", 91, 180),
    ("181-365 days", 181, 365),
    ("over 365 days", 366, None),
)
LONG_TERM_DAYS = 200  # income from opportunities older than this: the seeds' "a fifth"
TOUCH_BANDS = ("none", "1", "2", "3", "4", "5 or more")
FIVE_OR_MORE = 5
# A prospect is "left" after its touches when it is still active, has neither a booking nor a
# "no", and its next step has been overdue this long: the owner has stopped, not just slipped.
LEFT_AFTER_DAYS = 14

BookingSource = Literal["column", "touch log", "last touch"]


@dataclass(frozen=True, slots=True)
class Period:
    """The days a report covers, both ends included."""

    first: date
    last: date

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.first <= day <= self.last

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        following = date(year + month // 12, month % 12 + 1, 1)
        return cls(date(year, month, 1), following - timedelta(days=1))

    @classmethod
    def year(cls, year: int) -> Period:
        return cls(date(year, 1, 1), date(year, 12, 31))

    @classmethod
    def month_before(cls, day: date) -> Period:
        """The calendar month before the one `day` is in: what the monthly email reports."""
        last = day.replace(day=1) - timedelta(days=1)
        return cls.month(last.year, last.month)

    @classmethod
    def twelve_months_to(cls, day: date) -> Period:
        """The year ending on `day`: what `sheets-sync report` shows by default."""
        try:
            year_before = day.replace(year=day.year - 1)
        except ValueError:  # 29 February: a year back there is none
            year_before = day.replace(year=day.year - 1, day=28)
        return cls(year_before + timedelta(days=1), day)

    @property
    def whole_year(self) -> bool:
        return self == Period.year(self.first.year)

    @property
    def whole_month(self) -> bool:
        return self.first.day == 1 and Period.month(self.first.year, self.first.month) == self


@dataclass(frozen=True, slots=True)
class Booking:
    """One prospect booked in the period."""

    sync_id: str
    row: int
    name: str
    owner: str
    day: date
    source: BookingSource  # where the day came from
    consultation: date | None
    value: Decimal | None
    touches: int  # touches before the booking
    plan: str

    @property
    def approximate(self) -> bool:
        """The day is the last touch: the booking happened before the touch log saw it."""
        return self.source == "last touch"

    @property
    def days_to_book(self) -> int | None:
        """Days from the consultation to the booking."""
        return None if self.consultation is None else (self.day - self.consultation).days


@dataclass(frozen=True, slots=True)
class Band:
    """One bar of a chart: how many, and the money they bring."""

    label: str
    count: int
    value: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class OwnerFigures:
    """How one owner follows up."""

    owner: str
    touches: int  # touches logged in the period
    active: int  # prospects open today
    overdue: int  # of them, overdue today
    oldest_overdue: int  # days the most overdue one is overdue; 0 with none
    left_after: tuple[int, ...]  # open prospects left after 1, 2, 3 and 4 touches


@dataclass(frozen=True, slots=True)
class PipelineRow:
    """Open prospects of one age band, by plan (in the order of `Report.plans`)."""

    age: str
    by_plan: tuple[int, ...]
    value: Decimal

    @property
    def count(self) -> int:
        return sum(self.by_plan)


@dataclass(frozen=True, slots=True)
class DaysToBook:
    youngest: int
    median: float
    oldest: int


@dataclass(frozen=True)
class Report:
    """What SPEC §10 asks, for one clinic and one period; the open prospects as of `today`."""

    clinic: str
    period: Period
    today: date
    log_began: date | None  # the first day the touch log holds; None while it is empty
    bookings: tuple[Booking, ...]  # in the period, by day
    undated: int  # booked prospects whose booking day nothing tells
    income_by_age: tuple[Band, ...]  # one per AGE_BANDS, of the bookings with a consultation
    touches_before_booking: tuple[Band, ...]  # one per TOUCH_BANDS
    owners: tuple[OwnerFigures, ...]
    plans: tuple[str, ...]
    pipeline: tuple[PipelineRow, ...]  # one per AGE_BANDS
    overdue: int  # open prospects overdue today
    overdue_value: Decimal  # the value waiting in them

    @property
    def booked_value(self) -> Decimal:
        return sum((b.value for b in self.bookings if b.value is not None), Decimal(0))

    @property
    def without_value(self) -> int:
        return sum(1 for b in self.bookings if b.value is None)

    @property
    def approximate(self) -> int:
        return sum(1 for b in self.bookings if b.approximate)

    @property
    def without_age(self) -> int:
        """Bookings with no consultation date: counted, but in no age band."""
        return sum(1 for b in self.bookings if b.days_to_book is None)

    @property
    def days_to_book(self) -> DaysToBook | None:
        days = sorted(b.days_to_book for b in self.bookings if b.days_to_book is not None)
        if not days:
            return None
        return DaysToBook(days[0], float(statistics.median(days)), days[-1])

    @property
    def long_term_share(self) -> Decimal | None:
        """The share of the period's income from opportunities over LONG_TERM_DAYS old at
        booking; None without income."""
        total = self.booked_value
        if not total:
            return None
        older = sum(
            (
                b.value
                for b in self.bookings
                if b.value is not None
                and b.days_to_book is not None
                and b.days_to_book > LONG_TERM_DAYS
            ),
            Decimal(0),
        )
        return older / total

    @property
    def five_or_more_share(self) -> Decimal | None:
        """The share of bookings that needed five touches or more; None without bookings."""
        if not self.bookings:
            return None
        many = sum(1 for b in self.bookings if b.touches >= FIVE_OR_MORE)
        return Decimal(many) / len(self.bookings)

    @property
    def open_prospects(self) -> int:
        return sum(row.count for row in self.pipeline)


def build_report(
    rows: Sequence[RowResult],
    logged: Iterable[Touch],
    period: Period,
    *,
    today: date,
    settings: Settings,
    clinic: str = "",
    date1904: bool = False,
    book: Mapping[str, str] | None = None,
) -> Report:
    """The report for `period`, from the log's rows as the rule decided them today and the
    clinic's touch log. `book` (owner key -> address, `address_book`) makes an owner cell
    holding an address count for the owner it belongs to."""
    logged = list(logged)
    touch_days: dict[str, list[date]] = {}
    first_won: dict[str, date] = {}
    for entry in logged:
        if entry.kind == "touch":
            touch_days.setdefault(entry.sync_id, []).append(entry.happened)
        elif entry.kind == "status" and entry.sync_id not in first_won:
            status, _ = read_status(entry.value, settings.status_words)
            if status is Status.WON:
                first_won[entry.sync_id] = entry.happened

    def day_of(result: RowResult, field: str) -> date | None:
        try:
            return read_date(
                result.prospect.cells.get(field), settings.date_order, date1904=date1904
            )
        except Unreadable:
            return None

    bookings: list[Booking] = []
    undated = 0
    for result in rows:
        status, _ = read_status(result.prospect.cells.get("status"), settings.status_words)
        if status is not Status.WON:
            continue
        day, source = _booking_day(
            day_of(result, "booked_on"), first_won.get(result.sync_id), day_of(result, "last_touch")
        )
        if day is None or source is None:
            undated += 1
            continue
        if day not in period:
            continue
        days_logged = touch_days.get(result.sync_id, ())
        logged_before = sum(1 for d in days_logged if d <= day)
        # The Touches cell counts every touch, also a call after the booking (to confirm the
        # appointment): those the log saw after the booking day were not before it.
        in_cell = (read_count(result.prospect.cells.get("touches")) or 0) - (
            len(days_logged) - logged_before
        )
        try:
            value = read_money(result.prospect.cells.get("value"))
        except Unreadable:
            value = None
        bookings.append(
            Booking(
                sync_id=result.sync_id,
                row=result.row,
                name=result.prospect.text("name"),
                owner=_owner(result),
                day=day,
                source=source,
                consultation=day_of(result, "consultation_date"),
                value=value,
                touches=max(logged_before, in_cell),
                plan=result.prospect.text("plan"),
            )
        )
    bookings.sort(key=lambda b: (b.day, b.row))
    pipeline = _pipeline(rows, today)
    return Report(
        clinic=clinic,
        period=period,
        today=today,
        log_began=min((entry.seen for entry in logged), default=None),
        bookings=tuple(bookings),
        undated=undated,
        income_by_age=_income_by_age(bookings),
        touches_before_booking=_touches_before_booking(bookings),
        owners=_owners(rows, logged, period, book or {}),
        plans=pipeline.plans,
        pipeline=pipeline.pipeline,
        overdue=pipeline.overdue,
        overdue_value=pipeline.overdue_value,
    )


def _booking_day(
    column: date | None, log: date | None, last_touch: date | None
) -> tuple[date | None, BookingSource | None]:
    if column is not None:
        return column, "column"
    if log is not None:
        return log, "touch log"
    if last_touch is not None:
        return last_touch, "last touch"
    return None, None


def _owner(result: RowResult) -> str:
    """The owner as the log names them, spaces tidied: `anna  price` and `Anna Price` are one
    owner, shown as first met."""
    return " ".join(result.prospect.text("owner").split())


def _age_band(days: int) -> int:
    for index, (_, first, last) in enumerate(AGE_BANDS):
        if days >= first and (last is None or days <= last):
            return index
    return 0  # a booking dated before its consultation: counted with the youngest


def _income_by_age(bookings: Sequence[Booking]) -> tuple[Band, ...]:
    labels = [label for label, _, _ in AGE_BANDS]
    return _bands(
        labels,
        ((_age_band(b.days_to_book), b) for b in bookings if b.days_to_book is not None),
    )


def _touches_before_booking(bookings: Sequence[Booking]) -> tuple[Band, ...]:
    return _bands(TOUCH_BANDS, ((min(b.touches, FIVE_OR_MORE), b) for b in bookings))


def _bands(labels: Sequence[str], placed: Iterable[tuple[int, Booking]]) -> tuple[Band, ...]:
    """One bar per label: how many bookings fell in it, and the money they bring."""
    counts = [0] * len(labels)
    values = [Decimal(0)] * len(labels)
    for band, booking in placed:
        counts[band] += 1
        values[band] += booking.value or Decimal(0)
    return tuple(
        Band(label, count, value)
        for label, count, value in zip(labels, counts, values, strict=True)
    )


def _is_open(result: RowResult) -> bool:
    """Active, neither booked nor a "no": what the pipeline and the owners' figures count."""
    return result.decision.flag not in (Flag.CLOSED, Flag.CHECK_DATA)


def _owners(
    rows: Sequence[RowResult], logged: Sequence[Touch], period: Period, book: Mapping[str, str]
) -> tuple[OwnerFigures, ...]:
    owner_by_address = {address.casefold(): key for key, address in sorted(book.items())}
    owner_of: dict[str, str] = {}
    names: dict[str, str] = {}
    for result in rows:
        if owner := _owner(result):
            known = owner_by_address.get(owner.casefold(), owner_key(owner))
            owner_of[result.sync_id] = known
            if owner_key(owner) == known:  # shown as the log names them, first met
                names.setdefault(known, owner)
    for known in owner_of.values():
        names.setdefault(known, book.get(known, known))  # named only by address
    touches = dict.fromkeys(names, 0)
    for entry in logged:
        key = owner_of.get(entry.sync_id)
        if entry.kind == "touch" and key and entry.happened in period:
            touches[key] += 1
    active = dict.fromkeys(names, 0)
    overdue = dict.fromkeys(names, 0)
    oldest = dict.fromkeys(names, 0)
    left = {key: [0, 0, 0, 0] for key in names}
    for result in rows:
        key = owner_of.get(result.sync_id)
        if key is None or not _is_open(result):
            continue
        decision = result.decision
        active[key] += 1
        if decision.flag is Flag.OVERDUE:
            overdue[key] += 1
            oldest[key] = max(oldest[key], decision.days_overdue)
        done = decision.step.number - 1 if decision.step else 0  # the touches the rule counted
        if decision.days_overdue >= LEFT_AFTER_DAYS and 1 <= done <= len(left[key]):
            left[key][done - 1] += 1
    return tuple(
        OwnerFigures(
            names[key], touches[key], active[key], overdue[key], oldest[key], tuple(left[key])
        )
        for key in sorted(names)
    )


@dataclass(frozen=True, slots=True)
class _Pipeline:
    plans: tuple[str, ...]
    pipeline: tuple[PipelineRow, ...]
    overdue: int
    overdue_value: Decimal


def _pipeline(rows: Sequence[RowResult], today: date) -> _Pipeline:
    plans: list[str] = []
    counts: list[dict[str, int]] = [{} for _ in AGE_BANDS]
    values = [Decimal(0)] * len(AGE_BANDS)
    overdue, overdue_value = 0, Decimal(0)
    for result in rows:
        decision = result.decision
        if not _is_open(result) or decision.consultation is None:
            continue
        plan = decision.plan.name if decision.plan else ""
        if plan not in plans:
            plans.append(plan)
        band = _age_band((today - decision.consultation).days)
        counts[band][plan] = counts[band].get(plan, 0) + 1
        values[band] += decision.value or Decimal(0)
        if decision.flag is Flag.OVERDUE:
            overdue += 1
            overdue_value += decision.value or Decimal(0)
    plans.sort()
    pipeline = tuple(
        PipelineRow(label, tuple(counts[i].get(plan, 0) for plan in plans), values[i])
        for i, (label, _, _) in enumerate(AGE_BANDS)
    )
    return _Pipeline(tuple(plans), pipeline, overdue, overdue_value)
