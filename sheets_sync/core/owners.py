"""Who gets which email: owners mapped to addresses (SPEC §2)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sheets_sync.core.columns import column_letters
from sheets_sync.core.values import CellValue, normalise_header, read_text

_ADDRESS = re.compile(r"^[^@\s<>\"(),;:]+@[^@\s<>\"(),;:]+\.[^@\s<>\"(),;:]+$")


def owner_key(owner: str) -> str:
    """Owners match ignoring case and spacing: "anna  PRICE" is Anna Price."""
    return " ".join(owner.split()).casefold()


def is_address(text: str) -> bool:
    return _ADDRESS.match(text) is not None


@dataclass(frozen=True)
class StaffEntry:
    """One row of the Staff sheet: who, which address, and where it stands."""

    row: int  # the sheet's row number
    name: str
    email: str
    email_cell: str  # e.g. "B4"


def staff_entries(staff_rows: Sequence[Sequence[CellValue]] | None) -> list[StaffEntry]:
    """The rows of the Staff sheet (columns Name and Email) that name someone."""
    rows = list(staff_rows or [])
    for index, row in enumerate(rows[:20]):
        headers = [normalise_header(cell) for cell in row]
        if "name" in headers and "email" in headers:
            name_col, email_col = headers.index("name"), headers.index("email")
            return [
                StaffEntry(
                    number, name, _cell(staff, email_col), f"{column_letters(email_col)}{number}"
                )
                for number, staff in enumerate(rows[index + 1 :], start=index + 2)
                if (name := _cell(staff, name_col))
            ]
    return []


def address_book(
    staff_rows: Sequence[Sequence[CellValue]] | None, configured: Mapping[str, str]
) -> dict[str, str]:
    """Owner key -> address, from the Staff sheet (Name, Email) and the config's [owners].

    The config wins where both name the same owner; a Staff row without a valid address
    maps to nothing (`check` reports it).
    """
    book = {
        owner_key(entry.name): entry.email
        for entry in staff_entries(staff_rows)
        if is_address(entry.email)
    }
    for name, email in configured.items():
        book[owner_key(name)] = email
    return book


def _cell(row: Sequence[CellValue], col: int) -> str:
    return read_text(row[col]) if col < len(row) else ""


def address_of(owner: str, book: Mapping[str, str]) -> str | None:
    """The owner's address: the owner cell itself when it holds one, else the book's."""
    owner = owner.strip()
    if is_address(owner):
        return owner
    return book.get(owner_key(owner))
