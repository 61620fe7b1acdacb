"""Reading staff cells: dates, money, counts, status words and plain text (SPEC §2)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum

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


def read_date(value: CellValue, order: DateOrder, *, date1904: bool = False) -> date | None:
    raise NotImplementedError


def read_money(value: CellValue) -> Decimal | None:
    raise NotImplementedError


def read_count(value: CellValue) -> int | None:
    raise NotImplementedError


def read_status(value: CellValue) -> tuple[Status, bool]:
    raise NotImplementedError


def read_text(value: CellValue) -> str:
    raise NotImplementedError


def normalise_header(value: CellValue) -> str:
    raise NotImplementedError
