"""Who gets which email: owners mapped to addresses (SPEC §2)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from sheets_sync.core.values import CellValue, normalise_header, read_text

_ADDRESS = re.compile(r"^[^@\s<>\"(),;:]+@[^@\s<>\"(),;:]+\.[^@\s<>\"(),;:]+$")


def owner_key(owner: str) -> str:
    """Owners match ignoring case and spacing: "anna  PRICE" is Anna Price."""
    return " ".join(owner.split()).casefold()


def is_address(text: str) -> bool:
    return _ADDRESS.match(text) is not None


def address_book(
    staff_rows: Sequence[Sequence[CellValue]] | None, configured: Mapping[str, str]
) -> dict[str, str]:
    """Owner key -> address, from the Staff sheet (Name, Email) and the config's [owners].

    The config wins where both name the same owner.
    """
    book: dict[str, str] = {}
    rows = list(staff_rows or [])
    for index, row in enumerate(rows[:20]):
        headers = [normalise_header(cell) for cell in row]
        if "name" in headers and "email" in headers:
            name_col, email_col = headers.index("name"), headers.index("email")
            for staff in rows[index + 1 :]:
                name = read_text(staff[name_col]) if name_col < len(staff) else ""
                email = read_text(staff[email_col]) if email_col < len(staff) else ""
                if name and is_address(email):
                    book[owner_key(name)] = email
            break
    for name, email in configured.items():
        book[owner_key(name)] = email
    return book


def address_of(owner: str, book: Mapping[str, str]) -> str | None:
    """The owner's address: the owner cell itself when it holds one, else the book's."""
    owner = owner.strip()
    if is_address(owner):
        return owner
    return book.get(owner_key(owner))
