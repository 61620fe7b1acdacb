"""A first look at a log nobody has configured yet, for `sheets-sync init`: where its header
is, which columns it names in words sheets-sync knows, who owns its rows, and in which order
its staff type dates. Pure: rows in, findings out."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sheets_sync.core.columns import (
    HEADER_SEARCH_ROWS,
    MANAGED_COLUMNS,
    REQUIRED,
    STAFF_COLUMNS,
    column_letters,
)
from sheets_sync.core.values import CellValue, DateOrder, normalise_header, read_text

# The columns whose text dates tell the order staff type dates in.
DATE_FIELDS = ("consultation_date", "last_touch", "snooze_until")


@dataclass(frozen=True)
class HeaderSurvey:
    """The row most like a header, and what its columns are.

    `fields` maps each recognised field to its column (0-based), `headers` every headed
    column to its text. A log whose required columns have other names still gets a survey:
    `missing` says which fields to ask about.
    """

    header_row: int  # the sheet's row number, from 1
    fields: Mapping[str, int]
    headers: Mapping[int, str]

    @property
    def missing(self) -> list[str]:
        return [name for name in REQUIRED if name not in self.fields]

    @property
    def unknown(self) -> dict[int, str]:
        """The headed columns no field is read from."""
        read = set(self.fields.values())
        return {col: text for col, text in self.headers.items() if col not in read}


def survey_header(
    rows: Sequence[Sequence[CellValue]], extra_names: Mapping[str, Sequence[str]] = {}
) -> HeaderSurvey | None:
    """The row of the top 20 naming the most known columns (the first of equals), or None when
    no row names any. `extra_names` are header names the user gave for fields, as in the
    config's `[columns]`."""
    known = {
        name: {normalise_header(header) for header in (*headers, *extra_names.get(name, ()))}
        for name, headers in {**STAFF_COLUMNS, **MANAGED_COLUMNS}.items()
    }
    best: HeaderSurvey | None = None
    for number, row in enumerate(rows[:HEADER_SEARCH_ROWS], start=1):
        fields: dict[str, int] = {}
        headers: dict[int, str] = {}
        for col, cell in enumerate(row):
            header = normalise_header(cell)
            if not header:
                continue
            headers[col] = read_text(cell)
            name = next((name for name, names in known.items() if header in names), None)
            if name is not None:
                fields.setdefault(name, col)
        if fields and (best is None or len(fields) > len(best.fields)):
            best = HeaderSurvey(number, fields, headers)
    return best


@dataclass(frozen=True)
class TypedDate:
    """A date typed as text with two numbers before the year, like `11/23/2026`."""

    row: int
    column: int
    text: str

    def __str__(self) -> str:
        return f"{column_letters(self.column)}{self.row} {self.text}"


@dataclass(frozen=True)
class DateOrderFinding:
    """What the log's typed dates say about their order: `order` when they settle it, None
    when nothing does or the log holds both; the dates that settle each way, and how many
    could be read either way."""

    order: DateOrder | None
    day_first: Sequence[TypedDate] = field(default=())
    month_first: Sequence[TypedDate] = field(default=())
    either_way: int = 0

    @property
    def mixed(self) -> bool:
        return bool(self.day_first and self.month_first)

    def explain(self) -> str:
        """The finding in a sentence for the IT person, naming the cells that settle it."""
        if self.mixed:
            return (
                "the log holds dates typed both ways: "
                f"{_examples(self.day_first)} can only be day first, "
                f"{_examples(self.month_first)} only month first"
            )
        if self.order is DateOrder.DMY:
            return f"typed day first (DMY), as {_examples(self.day_first)} {_show(self.day_first)}"
        if self.order is DateOrder.MDY:
            shown = f"{_examples(self.month_first)} {_show(self.month_first)}"
            return f"typed month first (MDY), as {shown}"
        if self.either_way:
            dates = (
                "date typed as text reads" if self.either_way == 1 else "dates typed as text read"
            )
            return (
                f"the log does not tell: its {self.either_way} {dates} either way (no number "
                "over 12)"
            )
        return "the log does not tell: it holds no dates typed as text with numbers only"


def _examples(dates: Sequence[TypedDate]) -> str:
    """The first few dates with their cells: `C2 10/26/2026, D2 10/31/2026 and 4 more`."""
    named = [str(typed) for typed in dates[:3]]
    if len(dates) > 3:
        return f"{', '.join(named)} and {len(dates) - 3} more"
    return " and ".join([", ".join(named[:-1]), named[-1]]) if len(named) > 1 else named[0]


def _show(dates: Sequence[TypedDate]) -> str:
    return "shows" if len(dates) == 1 else "show"


_NUMERIC_DATE = re.compile(r"(\d{1,2})([-/.])(\d{1,2})\2(\d{4}|\d{2})")


def detect_date_order(
    rows: Sequence[Sequence[CellValue]], header_row: int, columns: Sequence[int]
) -> DateOrderFinding:
    """The order of the numeric dates typed as text in `columns` below the header: a first
    number over 12 settles day first, a second number over 12 settles month first. Real date
    cells and ISO or month-name text say nothing about it and are passed over."""
    day_first: list[TypedDate] = []
    month_first: list[TypedDate] = []
    either_way = 0
    for number, row in enumerate(rows[header_row:], start=header_row + 1):
        for col in columns:
            cell = row[col] if col < len(row) else None
            if not isinstance(cell, str):
                continue
            text = cell.strip()
            # A time after the date ("11/23/2026 10:30") says nothing about the order.
            match = _NUMERIC_DATE.fullmatch(text.split(" ")[0]) if text else None
            if match is None:
                continue
            first, second = int(match[1]), int(match[3])
            if first > 12 >= second >= 1:
                day_first.append(TypedDate(number, col, text))
            elif second > 12 >= first >= 1:
                month_first.append(TypedDate(number, col, text))
            elif 1 <= first <= 12 and 1 <= second <= 12:
                either_way += 1
    order = None
    if day_first and not month_first:
        order = DateOrder.DMY
    elif month_first and not day_first:
        order = DateOrder.MDY
    return DateOrderFinding(order, day_first, month_first, either_way)


def owner_names(rows: Sequence[Sequence[CellValue]], header_row: int, column: int) -> list[str]:
    """The owners named below the header, each once, in the order they first appear; cells
    holding an email address are their own address and need no entry."""
    names: dict[str, str] = {}
    for row in rows[header_row:]:
        name = read_text(row[column]) if column < len(row) else ""
        if name and "@" not in name:
            names.setdefault(" ".join(name.split()).casefold(), " ".join(name.split()))
    return list(names.values())


# RFC 6761 reserves `.invalid`: no such address can ever receive mail, so a placeholder under
# it can never reach a stranger, and `check` can tell it from a real address.
PLACEHOLDER_DOMAIN = "fill-in.invalid"


def placeholder_address(owner: str) -> str:
    """The stand-in address `init` writes for an owner, until the IT person fills in theirs."""
    local = ".".join(re.findall(r"[a-z0-9]+", owner.casefold())) or "owner"
    return f"{local}@{PLACEHOLDER_DOMAIN}"


def placeholder_problems(owners: Mapping[str, str]) -> list[str]:
    """One line per `[owners]` entry still holding a stand-in address."""
    return [
        f'[owners] "{owner}" still has the placeholder address {address}: put in '
        f"{owner}'s real email address"
        for owner, address in owners.items()
        if address.strip().rstrip(">").casefold().endswith(".invalid")
    ]
