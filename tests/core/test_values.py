from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from sheets_sync.core.values import (
    CellValue,
    DateOrder,
    Status,
    StatusWords,
    Unreadable,
    format_day,
    normalise_header,
    quoted,
    read_count,
    read_date,
    read_money,
    read_status,
    read_text,
)

DMY, MDY = DateOrder.DMY, DateOrder.MDY
DEC_3 = date(2026, 12, 3)
MAR_12 = date(2026, 3, 12)

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
SERIAL_EPOCHS = {False: date(1899, 12, 30), True: date(1904, 1, 1)}

cell_values: st.SearchStrategy[CellValue] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(),
    st.dates(),
    st.datetimes(),
)


# Dates ---------------------------------------------------------------------------------------

# Each is read the same under either order.
SAME_IN_BOTH_ORDERS = [
    (None, None),
    ("", None),
    ("   ", None),
    (DEC_3, DEC_3),
    (datetime(2026, 12, 3, 10, 30), DEC_3),
    (46359, DEC_3),
    (46359.99, DEC_3),
    (1, date(1899, 12, 31)),
    ("2026-12-03", DEC_3),
    (" 2026-12-03 ", DEC_3),
    ("2026-12-03 10:30", DEC_3),
    ("2026-12-03T10:30:00", DEC_3),
    ("2026-12-03T10:30:00.123Z", DEC_3),
    ("2026/12/03", DEC_3),
    ("3 Dec 2026", DEC_3),
    ("3rd December 2026", DEC_3),
    ("Dec 3, 2026", DEC_3),
    ("December 3rd 2026", DEC_3),
    ("3-Dec-2026", DEC_3),
    ("3-dec-26", DEC_3),
    ("Thu 3 Dec 2026", DEC_3),
    ("Thursday, 3rd of December 2026", DEC_3),
    ("THURSDAY DECEMBER 3, 2026", DEC_3),
    ("Dec. 3, 2026 10:30", DEC_3),
    ("3 Sept 2026", date(2026, 9, 3)),
    ("3 sep 2026", date(2026, 9, 3)),
]


@pytest.mark.parametrize("order", DateOrder)
@pytest.mark.parametrize(("value", "expected"), SAME_IN_BOTH_ORDERS)
def test_read_date_same_in_both_orders(
    value: CellValue, expected: date | None, order: DateOrder
) -> None:
    assert read_date(value, order) == expected


@pytest.mark.parametrize(
    ("value", "order", "expected"),
    [
        ("03/12/2026", DMY, DEC_3),
        ("03/12/2026", MDY, MAR_12),
        ("3/12/2026", DMY, DEC_3),
        ("3/12/2026", MDY, MAR_12),
        ("3.12.26", DMY, DEC_3),
        ("3.12.26", MDY, MAR_12),
        ("03-12-2026", DMY, DEC_3),
        ("03-12-2026", MDY, MAR_12),
        ("03/12/2026 10:30", DMY, DEC_3),
        ("12/3/2026 10:30 AM", MDY, DEC_3),
        ("31/12/2026", DMY, date(2026, 12, 31)),
        ("12/31/2026", MDY, date(2026, 12, 31)),
        ("1/1/00", DMY, date(2000, 1, 1)),
        ("1/1/99", MDY, date(2099, 1, 1)),
    ],
)
def test_read_date_numeric_follows_the_order(value: str, order: DateOrder, expected: date) -> None:
    assert read_date(value, order) == expected


@pytest.mark.parametrize(
    ("serial", "date1904", "expected"),
    [
        (46359, False, DEC_3),
        (46359, True, date(2030, 12, 4)),
        (44897, True, DEC_3),
        (1, True, date(1904, 1, 2)),
        (2958465, False, date(9999, 12, 31)),
    ],
)
def test_read_date_serials(serial: int, date1904: bool, expected: date) -> None:
    assert read_date(serial, DMY, date1904=date1904) == expected


@pytest.mark.parametrize(
    ("value", "order", "reason"),
    [
        ("next tues", DMY, '"next tues" is not a date (write it like 2026-12-03)'),
        ("46000", DMY, '"46000" is not a date (write it like 2026-12-03)'),
        ("12/2026", DMY, '"12/2026" is not a date (write it like 2026-12-03)'),
        ("03/12-2026", DMY, '"03/12-2026" is not a date (write it like 2026-12-03)'),
        ("3/12/026", DMY, '"3/12/026" is not a date (write it like 2026-12-03)'),
        (
            "03122026",
            DMY,
            '"03122026" is not a date; if it means 3 December 2026, type it as 03/12/2026',
        ),
        ("3 Decembre 2026", DMY, '"3 Decembre 2026" is not a date (write it like 2026-12-03)'),
        ("3 Dec", DMY, '"3 Dec" is not a date (write it like 2026-12-03)'),
        ("2026-12-03 25:00", DMY, '"2026-12-03 25:00" is not a date (write it like 2026-12-03)'),
        (True, DMY, '"TRUE" is not a date (write it like 2026-12-03)'),
        (float("nan"), DMY, '"nan" is not a date (write it like 2026-12-03)'),
        ("31/02/2026", DMY, '"31/02/2026" is not a real date'),
        ("02/31/2026", MDY, '"02/31/2026" is not a real date'),
        ("2026-02-30", DMY, '"2026-02-30" is not a real date'),
        ("31 Feb 2026", MDY, '"31 Feb 2026" is not a real date'),
        ("29/02/2026", DMY, '"29/02/2026" is not a real date'),
        (
            "12/31/2026",
            DMY,
            '"12/31/2026" is not a real date (dates here are written day/month/year)',
        ),
        (
            "31/12/2026",
            MDY,
            '"31/12/2026" is not a real date (dates here are written month/day/year)',
        ),
        (
            "Mon 3 Dec 2026",
            DMY,
            '"Mon 3 Dec 2026" names the wrong weekday (3 December 2026 is a Thursday)',
        ),
        (0, DMY, '"0" is not a date (date serial numbers start at 1)'),
        (0.5, DMY, '"0.5" is not a date (date serial numbers start at 1)'),
        (-46359, DMY, '"-46359" is not a date (date serial numbers start at 1)'),
        (2958466, DMY, '"2958466" is not a date (it is beyond the year 9999)'),
        (1e300, DMY, '"1e+300" is not a date (it is beyond the year 9999)'),
    ],
)
def test_read_date_does_not_guess(value: CellValue, order: DateOrder, reason: str) -> None:
    with pytest.raises(Unreadable) as caught:
        read_date(value, order)
    assert caught.value.reason == reason


def test_serial_beyond_9999_in_the_1904_system_is_unreadable() -> None:
    with pytest.raises(Unreadable, match="beyond the year 9999"):
        read_date(2958465, DMY, date1904=True)


days_1950_2100 = st.dates(date(1950, 1, 1), date(2100, 12, 31))


@given(
    day=days_1950_2100,
    order=st.sampled_from(DateOrder),
    time=st.sampled_from(["", " 09:15", "T09:15:00"]),
)
def test_iso_reads_back_under_either_order(day: date, order: DateOrder, time: str) -> None:
    assert read_date(day.isoformat() + time, order) == day


@given(
    day=days_1950_2100,
    order=st.sampled_from(DateOrder),
    separator=st.sampled_from("/.-"),
    padded=st.booleans(),
    short_year=st.booleans(),
)
def test_numeric_reads_back_in_its_order(
    day: date, order: DateOrder, separator: str, padded: bool, short_year: bool
) -> None:
    assume(not short_year or 2000 <= day.year <= 2099)
    width = 2 if padded else 1
    first, second = (day.day, day.month) if order is DMY else (day.month, day.day)
    year = f"{day.year % 100:02}" if short_year else str(day.year)
    written = separator.join([f"{first:0{width}}", f"{second:0{width}}", year])
    assert read_date(written, order) == day


@st.composite
def month_name_forms(draw: st.DrawFn, day: date) -> str:
    full = MONTHS[day.month - 1]
    month = draw(st.sampled_from([full, full[:3], *(["Sept"] if day.month == 9 else [])]))
    suffix = draw(st.sampled_from(["", {1: "st", 2: "nd", 3: "rd"}.get(day.day % 10, "th")]))
    number = f"{day.day}{suffix}"
    written = draw(
        st.sampled_from(
            [
                f"{number} {month} {day.year}",
                f"{number}-{month}-{day.year}",
                f"{number} of {month}, {day.year}",
                f"{month} {number}, {day.year}",
                f"{month} {number} {day.year}",
            ]
        )
    )
    weekday = WEEKDAYS[day.weekday()]
    prefix = draw(st.sampled_from(["", f"{weekday} ", f"{weekday[:3]}, "]))
    text = prefix + written
    return draw(st.sampled_from([text, text.upper(), text.lower()]))


@given(data=st.data(), day=days_1950_2100, order=st.sampled_from(DateOrder))
def test_month_names_read_back_under_either_order(
    data: st.DataObject, day: date, order: DateOrder
) -> None:
    assert read_date(data.draw(month_name_forms(day)), order) == day


@given(
    day=st.dates(date(1904, 1, 2), date(9999, 12, 31)),
    date1904=st.booleans(),
    minutes=st.integers(0, 24 * 60 - 1),
)
def test_serial_round_trip(day: date, date1904: bool, minutes: int) -> None:
    whole = (day - SERIAL_EPOCHS[date1904]).days
    assert read_date(whole, DMY, date1904=date1904) == day
    assert read_date(whole + minutes / (24 * 60), DMY, date1904=date1904) == day


# Money ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("  ", None),
        (0, Decimal(0)),
        (1200, Decimal(1200)),
        (1200.5, Decimal("1200.5")),
        (0.1, Decimal("0.1")),
        ("1200", Decimal(1200)),
        ("£1,200", Decimal(1200)),
        ("$1,200.50", Decimal("1200.50")),
        ("€ 1,234,567.89", Decimal("1234567.89")),
        ("¥500", Decimal(500)),
        ("1200 GBP", Decimal(1200)),
        ("1200GBP", Decimal(1200)),
        ("usd 99.99", Decimal("99.99")),
        ("1,200€", Decimal(1200)),
        (" £950 ", Decimal(950)),
    ],
)
def test_read_money(value: CellValue, expected: Decimal | None) -> None:
    assert read_money(value) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("about 2k", '"about 2k" is not an amount'),
        ("1,20", '"1,20" is not an amount'),
        ("12,00,000", '"12,00,000" is not an amount'),
        ("1,2000", '"1,2000" is not an amount'),
        ("TBC", '"TBC" is not an amount'),
        ("£", '"£" is not an amount'),
        ("1200.", '"1200." is not an amount'),
        ("£1200 USD", '"£1200 USD" is not an amount'),
        ("1 200", '"1 200" is not an amount'),
        (True, '"TRUE" is not an amount'),
        (float("inf"), '"inf" is not an amount'),
        (DEC_3, '"2026-12-03" is not an amount'),
        (-5, '"-5" is a negative amount'),
        (-0.5, '"-0.5" is a negative amount'),
        ("-£1,200", '"-£1,200" is a negative amount'),
        ("£-1,200", '"£-1,200" is a negative amount'),
    ],
)
def test_read_money_unreadable(value: CellValue, reason: str) -> None:
    with pytest.raises(Unreadable) as caught:
        read_money(value)
    assert caught.value.reason == reason


@given(amount=st.decimals(min_value=0, max_value=10**12, places=2))
def test_money_round_trip(amount: Decimal) -> None:
    assert read_money(f"£{amount:,}") == amount


# Any cell -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "read",
    [
        pytest.param(lambda value: read_date(value, DMY), id="read_date DMY"),
        pytest.param(lambda value: read_date(value, MDY, date1904=True), id="read_date MDY 1904"),
        pytest.param(read_money, id="read_money"),
    ],
)
@given(value=cell_values)
def test_any_cell_reads_or_says_why(read: Callable[[CellValue], object], value: CellValue) -> None:
    reason = ""
    try:
        read(value)
    except Unreadable as caught:
        reason = caught.reason
    assert not reason or reason.startswith(f"{quoted(value)} ")


# A Sheets cell holds up to 50,000 characters; a backtracking pattern would take minutes here.
@pytest.mark.parametrize(
    "text",
    [
        "1" + " " * 50_000 + "x",
        "a" + "£" * 50_000 + "b",
        "- " * 25_000 + "1",
        "3 dec" * 10_000,
        "1:00 " * 10_000 + "x",
    ],
    ids=["spaces", "signs", "minus signs", "month names", "times"],
)
def test_long_odd_cells_are_read_promptly(text: str) -> None:
    with pytest.raises(Unreadable):
        read_date(text, DMY)
    with pytest.raises(Unreadable):
        read_money(text)
    assert read_status(text) == (Status.ACTIVE, False)


# Counts --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0),
        (3, 3),
        (3.0, 3),
        ("3", 3),
        (" 3 ", 3),
        ("007", 7),
        (None, None),
        ("", None),
        ("three", None),
        ("3.0", None),
        ("-1", None),
        ("³", None),
        (-1, None),
        (2.5, None),
        (float("nan"), None),
        (float("inf"), None),
        (True, None),
        (False, None),
        (DEC_3, None),
    ],
)
def test_read_count(value: CellValue, expected: int | None) -> None:
    assert read_count(value) == expected


@given(value=cell_values)
def test_read_count_never_raises(value: CellValue) -> None:
    count = read_count(value)
    assert count is None or count >= 0


# Status --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, (Status.ACTIVE, True)),
        ("", (Status.ACTIVE, True)),
        ("   ", (Status.ACTIVE, True)),
        *[
            (word, (Status.WON, True))
            for word in ["booked", "won", "converted", "scheduled", "paid"]
        ],
        ("✅ Booked ", (Status.WON, True)),
        ("BOOKED!", (Status.WON, True)),
        *[(word, (Status.LOST, True)) for word in ["declined", "lost", "not interested", "no"]],
        ("Not  Interested", (Status.LOST, True)),
        ("No.", (Status.LOST, True)),
        *[
            (word, (Status.OPTED_OUT, True))
            for word in ["do not contact", "dnc", "opted out", "opt out", "unsubscribed", "stop"]
        ],
        ("DNC", (Status.OPTED_OUT, True)),
        ("🛑 Do-not-contact", (Status.OPTED_OUT, True)),
        ("Deceased", (Status.DECEASED, True)),
        *[
            (word, (Status.ACTIVE, True))
            for word in [
                "active",
                "new",
                "open",
                "contacted",
                "follow up",
                "following up",
                "thinking",
                "considering",
                "interested",
                "pending",
                "consulted",
                "in progress",
                "nurture",
            ]
        ],
        ("Follow-up", (Status.ACTIVE, True)),
        ("  In   Progress… ", (Status.ACTIVE, True)),
        ("maybe next year", (Status.ACTIVE, False)),
        ("book", (Status.ACTIVE, False)),
        ("not booked", (Status.ACTIVE, False)),
        ("✅", (Status.ACTIVE, False)),
        (True, (Status.ACTIVE, False)),
        (3, (Status.ACTIVE, False)),
    ],
)
def test_read_status(value: CellValue, expected: tuple[Status, bool]) -> None:
    assert read_status(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("booked - 12/12", Status.WON),
        ("Booked \u2013 deposit paid", Status.WON),
        ("✅ Booked (deposit)", Status.WON),
        ("Lost: price", Status.LOST),
        ("No, moved away", Status.LOST),
        ("Not interested - too expensive", Status.LOST),
        ("DNC: asked by phone", Status.OPTED_OUT),
        ("Follow-up: after holiday", Status.ACTIVE),
    ],
)
def test_a_known_word_before_a_separator_counts_as_that_word(value: str, expected: Status) -> None:
    assert read_status(value) == (expected, True)


@pytest.mark.parametrize("value", ["no-show", "Lost price", "booked-12/12x", "maybe - booked"])
def test_without_a_separator_after_it_a_known_word_is_not_enough(value: str) -> None:
    assert read_status(value) == (Status.ACTIVE, False)


def test_the_clinics_own_words_add_to_the_built_in_ones_and_win_over_them() -> None:
    words = StatusWords(
        (("paid deposit", Status.WON), ("lost price", Status.LOST), ("scheduled", Status.ACTIVE))
    )

    assert read_status("Paid deposit", words) == (Status.WON, True)
    assert read_status("Paid deposit: 12/12", words) == (Status.WON, True)
    assert read_status("lost - price", words) == (Status.LOST, True)
    assert read_status("Scheduled - call Tuesday", words) == (Status.ACTIVE, True)
    assert read_status("booked", words) == (Status.WON, True)


@given(value=cell_values)
def test_read_status_never_raises(value: CellValue) -> None:
    status, _ = read_status(value)
    assert isinstance(status, Status)


# Text and headers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        ("  Jane Doe ", "Jane Doe"),
        ("07700900123", "07700900123"),
        (True, "TRUE"),
        (False, "FALSE"),
        (42, "42"),
        (-3, "-3"),
        (1200.0, "1200"),
        (7700900123.0, "7700900123"),
        (1e300, "1e+300"),
        (1200.5, "1200.5"),
        (0.1, "0.1"),
        (datetime(2026, 12, 3), "2026-12-03"),
        (datetime(2026, 12, 3, 10, 30, 45), "2026-12-03T10:30"),
        (DEC_3, "2026-12-03"),
    ],
)
def test_read_text(value: CellValue, expected: str) -> None:
    assert read_text(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Est. value", "estvalue"),
        (" Follow-up  Status ", "followupstatus"),
        ("Sync ID", "syncid"),
        ("Größe", "grösse"),
        ("Naïve №2", "naïve2"),
        (None, ""),
        (2026, "2026"),
    ],
)
def test_normalise_header(value: CellValue, expected: str) -> None:
    assert normalise_header(value) == expected


@pytest.mark.parametrize(
    ("order", "short", "long"),
    [
        (DateOrder.DMY, "Mon 23 Nov", "Mon 23 Nov 2026"),
        (DateOrder.MDY, "Mon Nov 23", "Mon Nov 23, 2026"),
    ],
)
def test_format_day_follows_the_clinics_date_order(order: DateOrder, short: str, long: str) -> None:
    assert format_day(date(2026, 11, 23), order) == short
    assert format_day(date(2026, 11, 23), order, with_year=True) == long
