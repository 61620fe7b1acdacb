"""The morning digest, as data: who gets which prospects, and the manager's summary.

Building it is pure; `sheets_sync.mail` turns it into messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal


@dataclass(frozen=True)
class DigestLine:
    """One prospect in an owner's digest."""

    row: int
    name: str
    phone: str
    email: str
    procedure: str
    value: Decimal | None
    next_action: str  # e.g. "Step 2/7 · Call · Follow-up call: ..."
    status_text: str  # e.g. "OVERDUE 3d" or "DUE TODAY"
    days_overdue: int  # 0 when due today
    days_since_consultation: int
    last_touch: date | None
    link: str | None  # straight to the row, where the backend has such links


@dataclass(frozen=True)
class OwnerDigest:
    """One owner's email for one day: overdue first (most overdue first), then due today."""

    day: date
    owner: str
    address: str
    overdue: tuple[DigestLine, ...]
    due_today: tuple[DigestLine, ...]


@dataclass(frozen=True)
class OwnerCount:
    owner: str
    address: str | None  # None: the owner maps to no address
    overdue: int
    due_today: int
    upcoming: int


@dataclass(frozen=True)
class RowNote:
    """A row the manager should look at, and why."""

    row: int
    name: str
    owner: str
    reason: str


@dataclass(frozen=True)
class ManagerSummary:
    day: date
    clinic: str
    address: str
    owners: tuple[OwnerCount, ...]
    check_data: tuple[RowNote, ...]  # rows flagged CHECK DATA
    unaddressed: tuple[RowNote, ...]  # due rows whose owner has no email address
    unaddressed_lines: tuple[DigestLine, ...]  # those rows' details, so nobody is dropped
