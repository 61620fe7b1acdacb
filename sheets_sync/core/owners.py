"""Who gets which email: owners mapped to addresses (SPEC §2)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.errors import HeaderParseError, MessageDefect
from email.headerregistry import Address
from email.utils import parseaddr

from sheets_sync.core.columns import column_letters
from sheets_sync.core.values import CellValue, normalise_header, quoted, read_text

_ADDRESS = re.compile(r"^[^@\s<>\"(),;:]+@[^@\s<>\"(),;:]+\.[^@\s<>\"(),;:]+$")


def owner_key(owner: str) -> str:
    """Owners match ignoring case and spacing: "anna  PRICE" is Anna Price."""
    return " ".join(owner.split()).casefold()


def clean_address(text: str) -> str:
    """`text` without the invisible characters copy and paste brings along (zero-width
    spaces, byte-order marks, bidi marks: Unicode's format characters) and surrounding space,
    its domain in the ASCII form mail servers expect (`bücher.example` ->
    `xn--bcher-kva.example`). Nobody types those characters into an address on purpose, and
    left in they make a message no server takes."""
    visible = "".join(char for char in text if unicodedata.category(char) != "Cf").strip()
    local, at, domain = visible.rpartition("@")
    if not at or domain.isascii():
        return visible
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError:
        return visible  # address_problem says why it cannot be used


def address_problem(text: str) -> str | None:
    """Why `text` (read through `clean_address`) cannot be sent to, for people; None when it
    can. Letters outside ASCII before the @ count as a problem: only servers with SMTPUTF8
    take them, and one such address must not stop the morning's other digests."""
    address = clean_address(text)
    if _ADDRESS.match(address) is None:
        return f"{quoted(address)} is not a valid email address"
    if not address.isascii():
        return (
            f"{quoted(address)} has letters outside ASCII before the @, which most mail"
            " servers refuse; give this owner an address in plain ASCII letters"
        )
    try:
        Address(addr_spec=address)
    except (HeaderParseError, MessageDefect, ValueError) as exc:
        return f"{quoted(address)} is not a valid email address ({exc})"
    return None


def invisible_characters(text: str) -> list[str]:
    """The invisible characters `clean_address` leaves out of `text`, named for people
    (`U+200B ZERO WIDTH SPACE`): `check` says they were there."""
    return [
        f"U+{ord(char):04X} {unicodedata.name(char, 'format character')}"
        for char in dict.fromkeys(text)
        if unicodedata.category(char) == "Cf"
    ]


def is_address(text: str) -> bool:
    """Whether `text` is an address a digest can go to, once invisible characters are gone."""
    return address_problem(text) is None


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
    """Owner key -> address, from the Staff sheet (Name, Email) and the config's [owners],
    each read through `clean_address`.

    The config wins where both name the same owner; an owner whose address is missing or
    unusable maps to nothing (`check` reports it, `address_problems` says why).
    """
    return {
        key: clean_address(email)
        for key, email in _named_addresses(staff_rows, configured).items()
        if is_address(email)
    }


def address_problems(
    staff_rows: Sequence[Sequence[CellValue]] | None, configured: Mapping[str, str]
) -> dict[str, str]:
    """Owner key -> why the address the Staff sheet or [owners] gives them cannot be used:
    the manager's summary says so beside their rows, instead of a bare "no address"."""
    problems = {}
    for key, email in _named_addresses(staff_rows, configured).items():
        problem = address_problem(email) if email.strip() else None
        if problem is not None:
            problems[key] = problem
    return problems


def missing_staff_sheet(
    staff_rows: Sequence[Sequence[CellValue]] | None,
    staff_worksheet: str | None,
    sheet_names: Sequence[str],
) -> str | None:
    """One headline for a Staff sheet the config names but the log does not have (deleted,
    renamed, or never made): every owner without an address in [owners] lacks one for this
    single reason, which a line per owner would bury. None when the sheet is there or none
    is configured."""
    if staff_rows is not None or not staff_worksheet:
        return None
    has = f" (the log has: {', '.join(map(quoted, sheet_names))})" if sheet_names else ""
    return (
        f"the Staff sheet {quoted(staff_worksheet)} is missing{has}: set [source] "
        "staff_worksheet to the sheet listing the owners' names and addresses, or add the "
        "owners' addresses under [owners]"
    )


def _named_addresses(
    staff_rows: Sequence[Sequence[CellValue]] | None, configured: Mapping[str, str]
) -> dict[str, str]:
    named = {owner_key(entry.name): entry.email for entry in staff_entries(staff_rows)}
    # [owners] may give `Anna Price <anna@clinic.example>`: the address is what counts.
    named.update(
        (owner_key(name), parseaddr(email)[1] or email) for name, email in configured.items()
    )
    return named


def _cell(row: Sequence[CellValue], col: int) -> str:
    return read_text(row[col]) if col < len(row) else ""


def address_of(owner: str, book: Mapping[str, str]) -> str | None:
    """The owner's address: the owner cell itself when it holds one, else the book's."""
    if is_address(owner):
        return clean_address(owner)
    return book.get(owner_key(owner))
