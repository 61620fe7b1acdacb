"""Finding the log's header row and its columns (SPEC §2)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from difflib import SequenceMatcher
from functools import cache

from sheets_sync.core.values import CellValue, normalise_header, read_text
from sheets_sync.core.words import counted

HEADER_SEARCH_ROWS = 20
LAST_COLUMN = 16_383  # XFD, 0-based: no sheet has a column right of it

# Staff columns: read, never written. The first name is the default header.
STAFF_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "name": ("Name", "Patient", "Prospect", "Patient name", "Full name"),
    "owner": ("Owner", "Assigned to", "Coordinator", "Staff"),
    "consultation_date": (
        "Consultation date",
        "Consult date",
        "Consultation",
        "First contact",
        "Enquiry date",
    ),
    "status": ("Status", "Stage"),
    "last_touch": ("Last touch", "Last contact", "Last contacted", "Last follow-up"),
    "touches": ("Touches", "Touch count", "Follow-ups done"),
    "booked_on": ("Booked on", "Booking date", "Date booked"),
    "snooze_until": ("Snooze until", "Hold until", "Next touch override"),
    "value": ("Value", "Estimated value", "Est. value", "Quote"),
    "plan": ("Plan",),
    "procedure": ("Procedure", "Interest", "Treatment"),
    "phone": ("Phone", "Mobile"),
    "email": ("Email",),
    "notes": ("Notes",),
}
REQUIRED = ("name", "owner", "consultation_date")

# Managed columns: the daemon's own, created right of the last used column when missing.
MANAGED_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "next_touch": ("Next touch",),
    "next_action": ("Next action",),
    "follow_up_status": ("Follow-up status",),
    "sync_id": ("Sync ID",),
}


class HeaderNotFound(ValueError):
    """No row near the top names the required columns."""


class NoRoomForManagedColumns(HeaderNotFound):
    """The managed columns to create would lie right of column XFD, where no sheet reaches, or
    the log's table cannot grow to take them in."""


@dataclass(frozen=True)
class Table:
    """A table on the log's sheet (an Excel table; a Google Sheets table alike): rows from 1,
    columns from 0, both ends included; its first row is its header. Its last `totals_rows`
    rows sum up the others, so they are no prospects. The managed columns join the log's
    table, so a staff sort moves them with their rows."""

    name: str
    first_row: int
    first_col: int
    last_row: int
    last_col: int
    totals_rows: int = 0

    def __str__(self) -> str:
        return _area(self.first_row, self.first_col, self.last_row, self.last_col)

    @property
    def totals(self) -> range:
        return range(self.last_row - self.totals_rows + 1, self.last_row + 1)

    def holds(self, row: int, col: int) -> bool:
        return self.first_row <= row <= self.last_row and self.first_col <= col <= self.last_col


@dataclass(frozen=True)
class Layout:
    """Where the log's columns are. Columns are 0-based; `header_row` is the sheet's row number."""

    header_row: int
    staff: Mapping[str, int]
    managed: Mapping[str, int]
    new_headers: Mapping[int, str]  # managed columns to create: column -> header text
    # Fields headed in more than one column: every such column, the one used first.
    repeated: Mapping[str, tuple[int, ...]]
    table: Table | None = None  # the log's table, when the log is one
    # Rows below the header that hold no prospect: the log table's totals rows, and the rows
    # of any other table across the log's columns (a price list or summary below the log).
    not_prospects: frozenset[int] = frozenset()

    @property
    def first_row(self) -> int:
        return self.header_row + 1


# Merged cells: (first row, first column, last row, last column); rows from 1, columns from 0.
Merge = tuple[int, int, int, int]


def spread_merged_values(rows: list[list[CellValue]], merges: Sequence[Merge]) -> None:
    """Give a value merged down several rows to each of those rows, as staff see it: an owner
    merged beside three prospects is the owner of all three. It stays in the merge's first
    column, and rows past the last one holding anything else gain nothing."""
    for first, col, last, _ in merges:
        top = first - 1
        value = rows[top][col] if top < len(rows) and col < len(rows[top]) else None
        if value is None:
            continue
        for row in rows[top + 1 : last]:
            if len(row) <= col:
                row.extend([None] * (col + 1 - len(row)))
            if row[col] is None:
                row[col] = value


def find_layout(
    rows: Sequence[Sequence[CellValue]],
    extra_names: Mapping[str, Sequence[str]] = {},
    merges: Sequence[Merge] = (),
    tables: Sequence[Table] = (),
) -> Layout:
    """The header row (the first of the top 20 holding the required headers) and its columns.

    New managed columns go right of everything in use, and of any header cell merged wider;
    when the log is a table (the one of `tables` headed in the header row and holding the
    required columns), right of the table instead, which must grow into empty columns.
    """
    known = {
        field: {normalise_header(name) for name in (*names, *extra_names.get(field, ()))}
        for field, names in {**STAFF_COLUMNS, **MANAGED_COLUMNS}.items()
    }
    closest: tuple[int, dict[str, list[int]]] | None = None  # the row with most required
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        headed: dict[str, list[int]] = {}
        for col, cell in enumerate(row):
            header = normalise_header(cell)
            for field, names in known.items():
                if header in names:
                    headed.setdefault(field, []).append(col)
                    break
        if all(field in headed for field in REQUIRED):
            # Two columns headed alike: the first is the field, the other stays a staff
            # column nobody reads or writes, and `check` names both.
            return _layout(index + 1, headed, rows, extra_names, merges, tables)
        holds = sum(field in headed for field in REQUIRED)
        if holds and (closest is None or holds > sum(f in closest[1] for f in REQUIRED)):
            closest = (index, headed)
    if closest is not None:
        index, headed = closest
        raise HeaderNotFound(_incomplete_header(index + 1, rows[index], headed))
    wanted = ", ".join(STAFF_COLUMNS[field][0] for field in REQUIRED)
    raise HeaderNotFound(
        f"no header row in the first {HEADER_SEARCH_ROWS} rows holds the columns {wanted} "
        "(or their aliases); add them, or name yours in the config's [columns]"
    )


def _incomplete_header(
    number: int, row: Sequence[CellValue], headed: Mapping[str, list[int]]
) -> str:
    """The row that comes closest to a header, what it lacks and how to name it: `row 1 has
    Name and Owner but no Consultation date (it has: Patient, Owner, Consult, Notes)`. The
    suggested header is the one of the row's unrecognised headers most like the missing
    column's names, so the clinic's own `Consult` is offered for the consultation date."""
    texts = [text for cell in row if (text := read_text(cell))]
    claimed = {col for cols in headed.values() for col in cols}
    unclaimed = [read_text(cell) for col, cell in enumerate(row) if col not in claimed]
    unclaimed = [text for text in unclaimed if text]
    present = [STAFF_COLUMNS[field][0] for field in REQUIRED if field in headed]
    missing = [field for field in REQUIRED if field not in headed]
    labels = _and(STAFF_COLUMNS[field][0] for field in missing)
    field = missing[0]
    guess = max(
        unclaimed,
        key=lambda text: max(
            SequenceMatcher(None, normalise_header(text), normalise_header(name)).ratio()
            for name in STAFF_COLUMNS[field]
        ),
        default="Your header",
    )
    return (
        f"row {number} has {_and(present)} but no {labels} (it has: {', '.join(texts)}); "
        f"rename that header, or name yours in the config, e.g. [columns] {field} = "
        f'["{guess}"]'
    )


def _and(words: Iterable[str]) -> str:
    """`Name`, `Name and Owner`, `Name, Owner and Status`."""
    listed = list(words)
    return " and ".join(filter(None, [", ".join(listed[:-1]), *listed[-1:]]))


def _layout(
    header_row: int,
    headed: Mapping[str, list[int]],
    rows: Sequence[Sequence[CellValue]],
    extra_names: Mapping[str, Sequence[str]],
    merges: Sequence[Merge],
    tables: Sequence[Table],
) -> Layout:
    # Of two tables that could each be the log, the leftmost, as of two columns with one
    # header the first is read.
    table = next(
        (
            table
            for table in sorted(tables, key=lambda table: table.first_col)
            if table.first_row == header_row
            and all(any(table.holds(header_row, col) for col in headed[f]) for f in REQUIRED)
        ),
        None,
    )
    if table is not None:
        # A log that is a table has the table's columns: a price list beside it, headed
        # `Treatment`, is not the prospects' procedure.
        headed = {
            field: kept
            for field, cols in headed.items()
            if (
                kept := cols
                if field in MANAGED_COLUMNS
                else [col for col in cols if table.holds(header_row, col)]
            )
        }
    found = {field: cols[0] for field, cols in headed.items()}
    found.update(_renamed_managed(found, rows[header_row - 1]))
    repeated = {field: tuple(cols) for field, cols in headed.items() if len(cols) > 1}
    missing = [field for field in MANAGED_COLUMNS if field not in found]
    if table is not None:
        last_used = table.last_col
        if missing:
            _make_room_in_table(rows, merges, tables, table, missing)
    else:
        header_spans = [last for top, _, bottom, last in merges if top <= header_row <= bottom]
        last_used = max([_last_used_column(rows), *header_spans])
        if last_used + len(missing) > LAST_COLUMN:
            raise NoRoomForManagedColumns(_no_room(rows, merges, header_row, last_used, missing))
    managed: dict[str, int] = {}
    new_headers: dict[int, str] = {}
    for field, names in MANAGED_COLUMNS.items():
        if field in found:
            managed[field] = found.pop(field)
        else:
            last_used += 1
            managed[field] = last_used
            new_headers[last_used] = (extra_names.get(field) or names)[0]
    not_prospects = frozenset(table.totals if table else ()).union(
        number
        for other in tables
        if other != table and other.last_row > header_row
        for number in range(max(other.first_row, header_row + 1), other.last_row + 1)
        if any(other.first_col <= col <= other.last_col for col in found.values())
    )
    not_prospects |= merged_headings(header_row, found, merges)
    return Layout(header_row, found, managed, new_headers, repeated, table, not_prospects)


def _renamed_managed(found: Mapping[str, int], header: Sequence[CellValue]) -> dict[str, int]:
    """Managed columns whose header staff renamed ("Next touch" to "Next call"), by column.

    sheets-sync makes its columns side by side with the hidden Sync ID last, so one whose
    header is no longer known is the column at its place left of the Sync ID column, when the
    block is otherwise where it was made (another managed column still known by its header,
    each in its place) and that column is headed as nothing else sheets-sync reads. Without this,
    a second set of managed columns would be made and the renamed one left showing stale
    dates. Its cells stay protected as any managed cell: a value sheets-sync never wrote
    there is taken for typed and kept.
    """
    fields = list(MANAGED_COLUMNS)
    sync_col = found.get("sync_id")
    # With the Sync ID alone left, the columns beside it may be staff's, the block deleted.
    if sync_col is None or not any(field in found for field in fields[:-1]):
        return {}
    place = {field: sync_col - len(fields) + 1 + index for index, field in enumerate(fields)}
    if any(found[field] != place[field] for field in fields if field in found):
        return {}  # the block was taken apart: its places say nothing
    claimed = set(found.values())
    return {
        field: place[field]
        for field in fields
        if field not in found
        and place[field] >= 0
        and place[field] not in claimed
        and place[field] < len(header)
        and read_text(header[place[field]])
    }


def merged_headings(
    header_row: int, staff: Mapping[str, int], merges: Sequence[Merge]
) -> frozenset[int]:
    """Rows below the header merged across the name, owner and consultation date columns:
    headings such as a month's separator ("December" over A14:L14). Such a row shows one
    value where a prospect has three, so it is no prospect; nor could it keep a Sync ID where
    the merge covers that column (Google reads a covered cell back empty)."""
    required = [staff[field] for field in REQUIRED]
    return frozenset(
        number
        for top, left, bottom, right in merges
        if left <= min(required) and right >= max(required) and bottom > header_row
        for number in range(max(top, header_row + 1), bottom + 1)
    )


def _no_room(
    rows: Sequence[Sequence[CellValue]],
    merges: Sequence[Merge],
    header_row: int,
    last_used: int,
    missing: Sequence[str],
) -> str:
    """Why the managed columns cannot be created, naming the cell in the way."""
    in_the_way = next(
        (
            f"merged header {column_letters(col)}{top}:{column_letters(last)}{bottom}"
            for top, col, bottom, last in merges
            if top <= header_row <= bottom and last == last_used
        ),
        None,
    ) or next(
        f"cell {column_letters(last_used)}{number}"
        for number, row in enumerate(rows, start=1)
        if len(row) > last_used and _holds_something(row[last_used])
    )
    names = ", ".join(default_header(field) for field in missing)
    return (
        f"there is no room for the managed columns {names} right of the log: the "
        f"{in_the_way} is in use, and a sheet ends at column XFD. Clear or move what lies "
        f"right of the log, so that {counted(len(missing), 'column')} stay free before XFD"
    )


def _make_room_in_table(
    rows: Sequence[Sequence[CellValue]],
    merges: Sequence[Merge],
    tables: Sequence[Table],
    table: Table,
    missing: Sequence[str],
) -> None:
    """Raise unless the columns right of the log's table are empty over the table's rows, so
    that the table can grow into them without taking in anyone's cells or another table.

    The way out is one a clinic's IT person can take in a minute: insert as many empty columns
    right of the table as the managed columns need.
    """
    names = ", ".join(default_header(field) for field in missing)
    first, last = table.last_col + 1, table.last_col + len(missing)
    if last > LAST_COLUMN:
        raise NoRoomForManagedColumns(
            f"there is no room for the managed columns {names} right of the log's table "
            f"{table.name} ({table}): a sheet ends at column XFD. Move the table left, so that "
            f"{counted(len(missing), 'column')} stay free right of it before XFD"
        )
    top, bottom = table.first_row, table.last_row
    neighbours = [
        other
        for other in tables
        if other != table
        and other.first_row <= bottom
        and other.last_row >= top
        and other.first_col <= last
        and other.last_col >= first
    ]
    corners = [
        (number, col)
        for number in range(top, min(bottom, len(rows)) + 1)
        for col in range(first, min(last, len(rows[number - 1]) - 1) + 1)
        if _holds_something(rows[number - 1][col])
        and not any(other.holds(number, col) for other in neighbours)
    ]
    corners += [
        corner
        for up, left, down, right in merges
        if up <= bottom and down >= top and left <= last and right >= first
        for corner in ((up, left), (down, right))
    ]
    in_the_way = [f"the table {other.name} ({other})" for other in neighbours]
    if corners:
        cells = _area(
            min(row for row, _ in corners),
            min(col for _, col in corners),
            max(row for row, _ in corners),
            max(col for _, col in corners),
        )
        in_the_way.append(f"what is in {cells}")
    if in_the_way:
        what = " and ".join(in_the_way)
        raise NoRoomForManagedColumns(
            f"the log's table {table.name} ({table}) cannot grow to take in the managed "
            f"columns {names}: {what} lies right of it, over its rows. Insert "
            f"{counted(len(missing), 'empty column')} after column "
            f"{column_letters(table.last_col)}, or move {what} elsewhere"
        )


def default_header(field: str) -> str:
    """The header sheets-sync gives a column it makes for `field`."""
    return {**STAFF_COLUMNS, **MANAGED_COLUMNS}[field][0]


def with_staff_columns(
    layout: Layout, fields: Sequence[str], rows: Sequence[Sequence[CellValue]]
) -> Layout:
    """The layout with new staff columns for `fields` (`Last touch`, `Snooze until`), made
    right of everything, the managed columns included, when a typed outcome needs them
    (SPEC §8). A log that is a table grows into them, when the cells there are empty."""
    last = max([_last_used_column(rows), *layout.managed.values(), *layout.new_headers])
    if layout.table is not None:
        grown = replace(layout.table, last_col=max(layout.table.last_col, last))
        _make_room_in_table(rows, (), (), grown, fields)
    elif last + len(fields) > LAST_COLUMN:
        raise NoRoomForManagedColumns(_no_room(rows, (), layout.header_row, last, fields))
    staff, new_headers = dict(layout.staff), dict(layout.new_headers)
    for field in fields:
        last += 1
        staff[field] = last
        new_headers[last] = default_header(field)
    return replace(layout, staff=staff, new_headers=new_headers)


def _area(first_row: int, first_col: int, last_row: int, last_col: int) -> str:
    """`H2:H9`, or `H2` for one cell."""
    first = f"{column_letters(first_col)}{first_row}"
    last = f"{column_letters(last_col)}{last_row}"
    return first if first == last else f"{first}:{last}"


def _last_used_column(rows: Sequence[Sequence[CellValue]]) -> int:
    """The rightmost column holding anything in any row (-1 for an empty sheet)."""
    last = -1
    for row in rows:
        for col in range(len(row) - 1, last, -1):  # only cells right of the best so far
            if _holds_something(row[col]):
                last = col
                break
    return last


def _holds_something(cell: CellValue) -> bool:
    return cell is not None and (not isinstance(cell, str) or bool(cell.strip()))


def header_texts(rows: Sequence[Sequence[CellValue]], layout: Layout) -> dict[int, str]:
    """The header row's text by column, with the headers about to be created."""
    row = rows[layout.header_row - 1] if len(rows) >= layout.header_row else []
    texts = {col: read_text(cell) for col, cell in enumerate(row) if read_text(cell)}
    return {**texts, **layout.new_headers}


@cache
def column_letters(index: int) -> str:
    """0-based column index -> spreadsheet letters (0 -> A, 26 -> AA)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


@cache
def column_index(letters: str | bytes) -> int:
    """Spreadsheet letters -> 0-based column index."""
    if isinstance(letters, str):
        letters = letters.encode()
    number = 0
    for char in letters:
        number = number * 26 + (char - 64)
    return number - 1
