"""The morning digest, as data: who gets which prospects, and the manager's summary.

Building it is pure; `sheets_sync.mail` turns it into messages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sheets_sync.core.check import resorted_message
from sheets_sync.core.owners import address_of, address_problem, is_address, owner_key
from sheets_sync.core.rule import Decision, Flag
from sheets_sync.core.sync import Resorted, RowResult
from sheets_sync.core.touches import Touch

NO_ADDRESS = "owner has no email address"  # a due row's reason when nothing more is known

# Prospects listed per message, by default ([mail] digest_max_rows): a morning's work to read
# through, the most urgent first; the rest are counted. The config allows at most 1,000, about
# 3 KB each in both parts, so a digest stays far below what mail servers take (Gmail: 25 MB).
DIGEST_MAX_ROWS = 25


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
    notes: str = ""  # the Notes cell, on one line: what the last person to call wrote
    sync_id: str = ""  # names the row in minimal mode: it moves with the row when staff sort


@dataclass(frozen=True)
class OwnerDigest:
    """One owner's email for one day, each list most urgent first (`most_urgent_first`)."""

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
    undelivered: tuple[tuple[str, str], ...] = ()  # (owner, why) for digests not delivered
    resorted: str = ""  # the log was sorted without the sheets-sync columns: what was done
    staff_missing: str = ""  # the Staff sheet is not there: one headline for every owner
    touches: FollowedUp | None = None  # touches logged by owner since the last open day


@dataclass(frozen=True)
class FollowedUp:
    """Touches the touch log gained, typed or edited, from `since` to the day before the
    summary's, by owner (every owner with prospects, also at 0): who follows up."""

    since: date
    by_owner: tuple[tuple[str, int], ...]


def followed_up(
    results: Sequence[RowResult], logged: Iterable[Touch], *, since: date, day: date
) -> FollowedUp:
    """Count the touches logged (`seen`) on the days from `since` up to `day`, each for its
    prospect's owner as the log names them now (`anna` is Anna); a prospect gone from the log
    is not counted."""
    key_of: dict[str, str] = {}
    names: dict[str, str] = {}
    for result in results:
        owner = " ".join(result.prospect.text("owner").split())
        if owner:
            key_of[result.sync_id] = owner.casefold()
            names.setdefault(owner.casefold(), owner)
    counts = dict.fromkeys(sorted(names), 0)
    for entry in logged:
        key = key_of.get(entry.sync_id)
        if entry.kind == "touch" and key and since <= entry.seen < day:
            counts[key] += 1
    return FollowedUp(since, tuple((names[key], count) for key, count in counts.items()))


def build_digests(
    results: Sequence[RowResult],
    *,
    day: date,
    book: Mapping[str, str],
    link: Callable[[int], str | None],
    problems: Mapping[str, str] | None = None,
    resorted: Sequence[Resorted] = (),
    staff_missing: str = "",
) -> tuple[list[OwnerDigest], OwnerTally]:
    """Each owner's digest for `day` (only owners with something due), and the tallies the
    manager's summary is made from.

    `problems` says, by owner key, why an owner's address from the Staff sheet or [owners]
    cannot be used (`address_problems`); their due rows go to the manager with that reason.
    `resorted` are the rows sorted away from their Sync ID (`SyncPlan.resorted`), which the
    manager hears of. `staff_missing` (`missing_staff_sheet`) is said once, above the owners
    it leaves without an address.
    """
    due: dict[str, list[DigestLine]] = {}
    names: dict[str, str] = {}
    counts: dict[str, dict[Flag, int]] = {}
    check_data: list[RowNote] = []
    unaddressed: list[RowNote] = []
    unaddressed_lines: list[DigestLine] = []
    for result in results:
        decision, prospect = result.decision, result.prospect
        owner = prospect.text("owner")
        # One digest per address: "Chloe Martin" and chloe@... in the owner cell are one person.
        key = (address_of(owner, book) or "").casefold() or owner_key(owner)
        if decision.flag is Flag.CHECK_DATA:
            reason = decision.problem.text if decision.problem else decision.status_text
            check_data.append(RowNote(result.row, prospect.text("name"), owner, reason))
        follow_up = _follow_up(decision, day)
        if follow_up is None:
            continue
        if key not in names or is_address(names[key]):
            names[key] = owner
        tally = counts.setdefault(key, {})
        tally[follow_up] = tally.get(follow_up, 0) + 1
        if follow_up not in (Flag.OVERDUE, Flag.DUE_TODAY):
            continue
        line = _line(result, day, link)
        due.setdefault(key, []).append(line)
        if address_of(owner, book) is None:
            reason = _unaddressed_reason(owner, problems or {})
            unaddressed.append(RowNote(result.row, line.name, owner, reason))
            unaddressed_lines.append(line)

    digests = []
    for key, lines in due.items():
        address = address_of(names[key], book) or address_of(key, book)
        if address is None:
            continue
        overdue = sorted((line for line in lines if line.days_overdue > 0), key=most_urgent_first)
        today = sorted((line for line in lines if line.days_overdue == 0), key=most_urgent_first)
        digests.append(OwnerDigest(day, names[key], address, tuple(overdue), tuple(today)))
    owners = tuple(
        OwnerCount(
            names[key],
            address_of(names[key], book) or address_of(key, book),
            tally.get(Flag.OVERDUE, 0),
            tally.get(Flag.DUE_TODAY, 0),
            tally.get(Flag.UPCOMING, 0),
        )
        for key, tally in sorted(counts.items())
    )
    return digests, OwnerTally(
        owners,
        tuple(check_data),
        tuple(unaddressed),
        tuple(unaddressed_lines),
        resorted_message(resorted) if resorted else "",
        staff_missing if unaddressed else "",
    )


@dataclass(frozen=True)
class OwnerTally:
    """What the manager's summary says, before it has a day, a clinic and an address."""

    owners: tuple[OwnerCount, ...]
    check_data: tuple[RowNote, ...]
    unaddressed: tuple[RowNote, ...]
    unaddressed_lines: tuple[DigestLine, ...]
    resorted: str = ""
    staff_missing: str = ""

    def summary(
        self,
        *,
        day: date,
        clinic: str,
        address: str,
        undelivered: Sequence[tuple[str, str]] = (),
        touches: FollowedUp | None = None,
    ) -> ManagerSummary:
        return ManagerSummary(
            day,
            clinic,
            address,
            self.owners,
            self.check_data,
            self.unaddressed,
            self.unaddressed_lines,
            tuple(undelivered),
            self.resorted,
            self.staff_missing,
            touches,
        )


def most_urgent_first(line: DigestLine) -> tuple[int, bool, Decimal, int]:
    """The order of a digest's lists, so that a capped digest leads with what matters most:
    the longest overdue first; among equally late prospects the most valuable first (a
    prospect without a value after those with one); then by row, so the order is stable."""
    return (-line.days_overdue, line.value is None, -(line.value or Decimal(0)), line.row)


def _follow_up(decision: Decision, day: date) -> Flag | None:
    """The row's place in its owner's tallies and digest; None for a row with none.

    A row flagged CHECK DATA because a managed cell was typed over keeps its follow-up
    (SPEC §2: it stays in its owner's digest), listed under its flag; a row whose own cells
    cannot be read has no follow-up, and only the manager hears of it."""
    if decision.flag is not Flag.CHECK_DATA:
        return decision.flag
    if not decision.typed_over or decision.next_touch is None:
        return None
    if decision.days_overdue:
        return Flag.OVERDUE
    return Flag.DUE_TODAY if decision.next_touch <= day else Flag.UPCOMING


def _unaddressed_reason(owner: str, problems: Mapping[str, str]) -> str:
    """Why a due row reaches nobody: its owner cell holds an unusable address, or the address
    the owner's name maps to is unusable, or they have none."""
    if "@" in owner:
        return address_problem(owner) or NO_ADDRESS
    return problems.get(owner_key(owner), NO_ADDRESS)


def _line(result: RowResult, day: date, link: Callable[[int], str | None]) -> DigestLine:
    decision, prospect = result.decision, result.prospect
    consultation = decision.consultation or day
    return DigestLine(
        row=result.row,
        name=prospect.text("name"),
        phone=prospect.text("phone"),
        email=prospect.text("email"),
        procedure=prospect.text("procedure"),
        value=decision.value,
        next_action=decision.next_action,
        status_text=decision.status_text,
        days_overdue=decision.days_overdue,
        days_since_consultation=(day - consultation).days,
        last_touch=decision.last_touch,
        link=link(result.row),
        notes=" ".join(prospect.text("notes").split()),
        sync_id=result.sync_id,
    )
