"""Reading staff cells: dates, money, counts, status words and plain text (SPEC §2).

Every reader takes a cell exactly as the backend hands it over and either understands it or
says why not, in words a clinic manager can act on. Nothing is guessed: a cell that could mean
two things, or nothing, is `Unreadable`.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from functools import lru_cache

CellValue = str | int | float | bool | date | datetime | None


class DateOrder(Enum):
    DMY = "DMY"
    MDY = "MDY"


class Status(Enum):
    ACTIVE = "active"
    WON = "won"
    LOST = "lost"
    OPTED_OUT = "opted out"
    DECEASED = "deceased"


class Unreadable(ValueError):
    """A cell that cannot be read as what its column needs; `reason` says why, for people."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# Dates ---------------------------------------------------------------------------------------

_MONTH_NAMES = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

_MONTHS = {name: n for n, full in enumerate(_MONTH_NAMES, 1) for name in (full, full[:3])}
_MONTHS["sept"] = 9
_WEEKDAYS = {name: n for n, full in enumerate(_WEEKDAY_NAMES) for name in (full, full[:3])}
_WEEKDAYS.update(tues=1, weds=2, thur=3, thurs=3)


def _alternatives(names: dict[str, int]) -> str:
    # Longest first, so that "september" is tried before "sep".
    return "|".join(sorted(names, key=len, reverse=True))


_TIME = (
    r"(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:[.,]\d+)?)?"
    r"(?:\s*+[ap]\.?m\.?)?(?:\s*+(?:z|utc|gmt|[+-]\d{2}:?\d{2}))?"
)
# Possessive and atomic quantifiers keep every pattern linear on long, odd cells.
_WITH_TIME = re.compile(rf"(?P<date>.*?\S)(?:\s++|(?<=\d)t){_TIME}", re.IGNORECASE)

_YEAR_FIRST = re.compile(r"(?P<year>\d{4})(?P<sep>[-/.])(?P<month>\d{1,2})(?P=sep)(?P<day>\d{1,2})")
_NUMERIC = re.compile(
    r"(?P<first>\d{1,2})(?P<sep>[-/.])(?P<second>\d{1,2})(?P=sep)(?P<year>\d{2}|\d{4})"
)

_SEP = r"(?>\s*[,./-]\s*|\s+)"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_MONTH = rf"(?P<month>{_alternatives(_MONTHS)})"
_YEAR = r"(?P<year>\d{4}|\d{2})"
_WEEKDAY = rf"(?:(?P<weekday>{_alternatives(_WEEKDAYS)}){_SEP})?"
_MONTH_NAME_FORMS = (
    re.compile(rf"{_WEEKDAY}{_DAY}(?:{_SEP}of)?{_SEP}{_MONTH}{_SEP}{_YEAR}", re.IGNORECASE),
    re.compile(rf"{_WEEKDAY}{_MONTH}{_SEP}{_DAY}{_SEP}{_YEAR}", re.IGNORECASE),
)

_SERIAL_EPOCH = date(1899, 12, 30)
_SERIAL_EPOCH_1904 = date(1904, 1, 1)


def read_date(value: CellValue, order: DateOrder, *, date1904: bool = False) -> date | None:
    """The date a staff cell holds, or None when it is blank.

    Real date cells, spreadsheet serial numbers (the 1904 system when `date1904`), ISO text,
    numeric text read in `order`, and English month-name text are understood; anything else
    raises `Unreadable`.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise Unreadable(_not_a_date(value))
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float):
        return _read_serial(value, _SERIAL_EPOCH_1904 if date1904 else _SERIAL_EPOCH, order)
    text = value.strip()
    if not text:
        return None
    return _read_date_text(text, order)


def _read_serial(serial: int | float, epoch: date, order: DateOrder) -> date:
    if isinstance(serial, float) and not math.isfinite(serial):
        raise Unreadable(_not_a_date(serial))
    if serial < 1:
        raise Unreadable(f"{quoted(serial)} is not a date (date serial numbers start at 1)")
    try:
        # The fraction is the time of day, which no rule needs.
        return epoch + timedelta(days=math.floor(serial))
    except OverflowError:
        beyond = f"{quoted(serial)} is not a date (it is beyond the year 9999)"
        raise Unreadable(_with_hint(beyond, _without_separators(serial, order), order)) from None


def _read_date_text(text: str, order: DateOrder) -> date:
    written = match.group("date") if (match := _WITH_TIME.fullmatch(text)) else text

    if match := _YEAR_FIRST.fullmatch(written):
        return _real_date(text, int(match["year"]), int(match["month"]), int(match["day"]))

    if match := _NUMERIC.fullmatch(written):
        first, second = int(match["first"]), int(match["second"])
        day, month = (first, second) if order is DateOrder.DMY else (second, first)
        year = _full_year(match["year"])
        try:
            return date(year, month, day)
        except ValueError:
            raise Unreadable(_not_real_numeric(text, year, day, month, order)) from None

    for form in _MONTH_NAME_FORMS:
        if match := form.fullmatch(written):
            month = _MONTHS[match["month"].casefold()]
            found = _real_date(text, _full_year(match["year"]), month, int(match["day"]))
            weekday = match["weekday"]
            if weekday is not None and _WEEKDAYS[weekday.casefold()] != found.weekday():
                raise Unreadable(
                    f"{quoted(text)} names the wrong weekday "
                    f"({_spelled(found)} is a {_WEEKDAY_NAMES[found.weekday()].capitalize()})"
                )
            return found

    meant = _without_separators(written, order)
    if meant is None:
        raise Unreadable(_not_a_date(text))
    raise Unreadable(_with_hint(f"{quoted(text)} is not a date", meant, order))


def _full_year(digits: str) -> int:
    return 2000 + int(digits) if len(digits) == 2 else int(digits)


def _real_date(text: str, year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise Unreadable(f"{quoted(text)} is not a real date") from None


def _not_real_numeric(text: str, year: int, day: int, month: int, order: DateOrder) -> str:
    reason = f"{quoted(text)} is not a real date"
    try:
        date(year, day, month)
    except ValueError:
        return reason
    # Read the other way round it would be a date: most likely written in the other order.
    written = "day/month/year" if order is DateOrder.DMY else "month/day/year"
    return f"{reason} (dates here are written {written})"


_RUN_TOGETHER = re.compile(r"\d{7,8}")


def _without_separators(typed: str | int | float, order: DateOrder) -> date | None:
    """The date an 8-digit number most likely is, typed without its separators: 24112026 is
    24/11/2026 (in DMY), 20261124 is 2026-11-24. Only a hint for the message, never read as
    that date: a person should see what is meant before anything is planned from it."""
    if isinstance(typed, float):
        if not typed.is_integer():
            return None
        typed = int(typed)
    digits = typed.strip() if isinstance(typed, str) else str(typed) if 0 < typed < 10**8 else ""
    if not _RUN_TOGETHER.fullmatch(digits):
        return None
    digits = digits.zfill(8)  # a number cell drops the leading zero of 03122026
    first, second, year = int(digits[:2]), int(digits[2:4]), int(digits[4:])
    day, month = (first, second) if order is DateOrder.DMY else (second, first)
    found = set()
    for reading in ((year, month, day), (int(digits[:4]), int(digits[4:6]), int(digits[6:]))):
        try:
            found.add(date(*reading))
        except ValueError:
            continue
    believable = [candidate for candidate in found if 1900 <= candidate.year < 2200]
    return believable[0] if len(believable) == 1 else None


def _with_hint(reason: str, meant: date | None, order: DateOrder) -> str:
    if meant is None:
        return reason
    return f"{reason}; if it means {_spelled(meant, order)}, type it as {typed_like(meant, order)}"


def typed_like(day: date, order: DateOrder) -> str:
    """A date as staff type it in this clinic's date order: 24/11/2026 (DMY), 11/24/2026."""
    first, second = (day.day, day.month) if order is DateOrder.DMY else (day.month, day.day)
    return f"{first:02d}/{second:02d}/{day.year}"


def _not_a_date(value: CellValue) -> str:
    return f"{quoted(value)} is not a date (write it like 2026-12-03)"


def _spelled(day: date, order: DateOrder = DateOrder.DMY) -> str:
    """A date in words, as the clinic says it: 24 November 2026 (DMY), November 24, 2026."""
    month = _MONTH_NAMES[day.month - 1].capitalize()
    if order is DateOrder.MDY:
        return f"{month} {day.day}, {day.year}"
    return f"{day.day} {month} {day.year}"


def format_day(day: date, order: DateOrder, *, with_year: bool = False) -> str:
    """A day as messages, digests and the console show it, in the clinic's date order:
    "Mon 23 Nov" (DMY) or "Mon Nov 23" (MDY); with the year "Mon 23 Nov 2026" or
    "Mon Nov 23, 2026". English names, not strftime's, which follow the machine's locale."""
    weekday = _WEEKDAY_NAMES[day.weekday()][:3].capitalize()
    month = _MONTH_NAMES[day.month - 1][:3].capitalize()
    if order is DateOrder.MDY:
        return (
            f"{weekday} {month} {day.day}, {day.year}"
            if with_year
            else f"{weekday} {month} {day.day}"
        )
    return (
        f"{weekday} {day.day} {month} {day.year}" if with_year else f"{weekday} {day.day} {month}"
    )


QUOTE_LIMIT = 60


def quoted(value: CellValue) -> str:
    """A cell's text for a message, in double quotes: on one line, without control characters,
    its own double quotes made single (so the quoted part has clear ends), and cut to
    QUOTE_LIMIT characters with "…" (a cell may hold 32,767 characters; a message names it, it
    does not repeat it)."""
    text = "".join(" " if unicodedata.category(char) == "Cc" else char for char in read_text(value))
    text = " ".join(text.split()).replace('"', "'")
    if len(text) > QUOTE_LIMIT:
        text = text[: QUOTE_LIMIT - 1].rstrip() + "…"
    return f'"{text}"'


# Money ---------------------------------------------------------------------------------------

_CURRENCY = r"(?:£|\$|€|¥|gbp|usd|eur)"
_MONEY = re.compile(
    rf"(?P<minus>[-\u2212])?\s*+(?P<before>{_CURRENCY})?\s*+(?P<minus_after_sign>[-\u2212])?\s*+"
    r"(?P<whole>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<fraction>\d+))?"
    rf"\s*+(?P<after>{_CURRENCY})?",
    re.IGNORECASE,
)


MONEY_LIMIT = Decimal(10) ** 12


def read_money(value: CellValue) -> Decimal | None:
    """The amount a money cell holds, or None when it is blank.

    Numbers are taken as they are; text may carry one currency sign or code (before or after)
    and `,` thousands separators. Anything else, any negative amount and any amount over
    MONEY_LIMIT raises `Unreadable`.
    """
    if value is None:
        return None
    if isinstance(value, bool | date):
        raise Unreadable(_not_an_amount(value))
    if isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise Unreadable(_not_an_amount(value))
        amount = Decimal(str(value))
    else:
        text = value.strip()
        if not text:
            return None
        amount = _read_money_text(text)
    if amount < 0:
        raise Unreadable(f"{quoted(value)} is a negative amount")
    if amount > MONEY_LIMIT:
        # 1E+308 is a typing slip, not a quote; sums and emails must not carry 300 digits.
        raise Unreadable(f"{quoted(value)} is too large to be an amount")
    return amount


def _read_money_text(text: str) -> Decimal:
    match = _MONEY.fullmatch(text)
    if match is None or (match["before"] and match["after"]):
        raise Unreadable(_not_an_amount(text))
    digits = match["whole"].replace(",", "")
    if match["fraction"]:
        digits += "." + match["fraction"]
    amount = Decimal(digits)
    return -amount if match["minus"] or match["minus_after_sign"] else amount


def _not_an_amount(value: CellValue) -> str:
    return f"{quoted(value)} is not an amount"


# Counts --------------------------------------------------------------------------------------


COUNT_DIGITS = 18
BEYOND_COUNT = 10**COUNT_DIGITS  # stands for any longer string of digits


def read_count(value: CellValue) -> int | None:
    """A whole number >= 0, or None for anything else (the caller then works the count out)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float):
        return int(value) if value.is_integer() and value >= 0 else None
    if isinstance(value, str) and re.fullmatch(r"[0-9]+", text := value.strip()):
        # Python refuses to read thousands of digits; a count that long is past every plan.
        digits = text.lstrip("0")
        return int(digits or "0") if len(digits) <= COUNT_DIGITS else BEYOND_COUNT
    return None


# Status --------------------------------------------------------------------------------------

_STATUS_WORDS: dict[Status, tuple[str, ...]] = {
    Status.WON: ("booked", "won", "converted", "scheduled", "paid"),
    Status.LOST: ("declined", "lost", "not interested", "no"),
    Status.OPTED_OUT: ("do not contact", "dnc", "opted out", "opt out", "unsubscribed", "stop"),
    Status.DECEASED: ("deceased",),
    Status.ACTIVE: (
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
    ),
}
_STATUSES = {word: status for status, words in _STATUS_WORDS.items() for word in words}
# From the first letter or digit to the last: emoji and punctuation at the edges fall away.
_WORDS = re.compile(r"[^\W_](?:.*[^\W_])?", re.DOTALL)
_INNER_GAPS = re.compile(r"[\s_-]+")
# What may follow a status word to say more: "Booked - 12/12", "Lost: price", "No, moved away",
# "Booked (deposit)". A hyphen counts only with spaces around it: "Do-not-contact" is one word.
_SEPARATOR = re.compile(r"\s+[-\u2013\u2014]\s+|[:,(]")


def status_word(text: str) -> str:
    """A status as it is looked up: without emoji and punctuation at the edges, casefolded,
    runs of spaces, hyphens and underscores inside made one space ("Follow-up" is "follow up")."""
    words = _WORDS.search(text)
    return _INNER_GAPS.sub(" ", words.group() if words else "").casefold()


@dataclass(frozen=True)
class StatusWords:
    """The clinic's own status words (`[status]` in the config), on top of the built-in ones;
    where both know a word, the clinic's meaning wins. Each word as `status_word` gives it."""

    words: tuple[tuple[str, Status], ...] = ()

    def status_of(self, word: str) -> Status | None:
        for own, status in self.words:
            if own == word:
                return status
        return _STATUSES.get(word)


def read_status(value: CellValue, words: StatusWords = StatusWords()) -> tuple[Status, bool]:
    """The status a cell names, and whether the word was recognised.

    Case, surrounding spaces, emoji and punctuation are ignored, and so are runs of spaces,
    hyphens and underscores inside the words (`status_word`). A status that starts with a
    known word followed by a separator (" - ", ":", ",", "(") counts as that word: "Booked -
    12/12" is booked. Blank is active; an unrecognised word is active too, but not recognised,
    so the caller can report it.
    """
    return _status_of(read_text(value), words)


@lru_cache(maxsize=4096)  # a log repeats a handful of status words down thousands of rows
def _status_of(text: str, words: StatusWords) -> tuple[Status, bool]:
    if not text:
        return Status.ACTIVE, True
    for said in (text, _SEPARATOR.split(text, maxsplit=1)[0]):
        status = words.status_of(status_word(said))
        if status is not None:
            return status, True
    return Status.ACTIVE, False


# Text ----------------------------------------------------------------------------------------


_NOT_CHARACTERS = re.compile("[\ud800-\udfff\ufffe\uffff]")
_INT_DIGITS_SHOWN = 4000  # below Python's limit for spelling out an integer


def readable(text: str) -> str:
    """Text every part of the daemon can store, log, write and send.

    A cell may hold half an emoji (a lone surrogate, which Google Sheets' JSON can carry as
    `\\ud83d`) or U+FFFE/U+FFFF (not characters at all): SQLite, email, logs and XML all refuse
    them, and one such cell used to stop the whole cycle. Each becomes U+FFFD, the mark for an
    unreadable character; whole emoji, even as two separate halves, are kept.
    """
    if text.isascii() or not _NOT_CHARACTERS.search(text):
        return text
    joined = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return joined.replace("\ufffe", "\ufffd").replace("\uffff", "\ufffd")


def read_text(value: CellValue) -> str:
    """A cell as a person would read it: stripped text, whole numbers without ".0", ISO dates.

    Every staff and managed cell's text reaches the core through here, made `readable`."""
    if value is None:
        return ""
    if isinstance(value, str):
        return readable(value.strip())
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        # Whole numbers as staff typed them ("1200", not "1200.0").
        return str(value).removesuffix(".0")
    if isinstance(value, int):
        if abs(value) >= 10**_INT_DIGITS_SHOWN:
            return f"a number of more than {_INT_DIGITS_SHOWN} digits"
        return str(value)
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat(timespec="minutes")
    return value.isoformat()


def normalise_header(value: CellValue) -> str:
    """A header reduced to its letters and digits, casefolded: "Est. value" -> "estvalue"."""
    return "".join(char for char in read_text(value).casefold() if char.isalnum())
