"""Everything `check` reports about a log, each problem naming its row and cell."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sheets_sync.core.columns import STAFF_COLUMNS, Layout, column_letters
from sheets_sync.core.owners import (
    address_of,
    address_problem,
    invisible_characters,
    owner_key,
    staff_entries,
)
from sheets_sync.core.sync import MANAGED_LABELS, Resorted, RowResult
from sheets_sync.core.values import CellValue, quoted
from sheets_sync.core.words import counted

HEADERS = {**{field: names[0] for field, names in STAFF_COLUMNS.items()}, **MANAGED_LABELS}


def log_problems(
    rows: Sequence[RowResult],
    layout: Layout,
    book: Mapping[str, str],
    resorted: Sequence[Resorted] = (),
    staff_missing: str | None = None,
) -> list[str]:
    """Every problem in the decided rows, like `Row 57, Snooze until (L57): ...`, and a log
    sorted without the sheets-sync columns (`resorted`). With `staff_missing` (the headline
    of `missing_staff_sheet`), the owners it leaves without an address are named once under
    it, not once per row."""
    columns = {**layout.staff, **layout.managed}

    def where(row: int, field: str) -> str:
        if not field:  # the whole row: no one cell could be blamed
            return f"Row {row}"
        col = columns.get(field)
        cell = f" ({column_letters(col)}{row})" if col is not None else ""
        return f"Row {row}, {HEADERS.get(field, field)}{cell}"

    problems = [_repeated_header(field, cols, layout) for field, cols in layout.repeated.items()]
    if resorted:
        problems.append(resorted_message(resorted))
    unaddressed: dict[str, str] = {}
    for result in rows:
        decision = result.decision
        notes = ([decision.problem] if decision.problem else []) + list(decision.warnings)
        problems += [f"{where(result.row, note.field)}: {note.text}" for note in notes]
        owner = result.prospect.text("owner")
        if owner and "@" in owner and (problem := address_problem(owner)):
            problems.append(f"{where(result.row, 'owner')}: {problem}")
        elif owner and "@" in owner and (hidden := invisible_characters(owner)):
            problems.append(f"{where(result.row, 'owner')}: {_left_out(hidden)}")
        elif owner and address_of(owner, book) is None and staff_missing:
            unaddressed.setdefault(owner_key(owner), owner)
        elif owner and address_of(owner, book) is None:
            problems.append(
                f"{where(result.row, 'owner')}: {quoted(owner)} has no email address; add "
                "them to the Staff sheet or the config's [owners]"
            )
    if unaddressed:
        names = ", ".join(sorted(map(quoted, unaddressed.values())))
        has = "has" if len(unaddressed) == 1 else "have"
        problems.insert(
            0,
            f"{staff_missing}; until then {counted(len(unaddressed), 'owner')} ({names}) {has} "
            "no email address",
        )
    return problems


def resorted_message(resorted: Sequence[Resorted]) -> str:
    """What to tell people about rows whose staff cells were sorted away from their Sync ID:
    the row numbers only, no patient's name, so it may go to the daemon's log too."""
    matched = [moved.row for moved in resorted if not moved.afresh]
    afresh = [moved.row for moved in resorted if moved.afresh]
    text = f"the log was sorted without the sheets-sync columns ({_rows(matched + afresh)})"
    done = []
    if matched:
        done.append(f"sheets-sync matched {counted(len(matched), 'row')} to their prospects again")
    if afresh:
        done.append(
            f"{_rows(afresh)} could not be told apart from another prospect (the same name and"
            " consultation date) or are new, so they start afresh with a new Sync ID"
        )
    return f"{text}: {'; '.join(done)}. Next time select all columns, or sort with the filter"


def _rows(numbers: Sequence[int]) -> str:
    """`rows 4, 7 and 9`, the first ten only on a large log."""
    numbers = sorted(numbers)
    shown = ", ".join(map(str, numbers[:10]))
    if len(numbers) > 10:
        return f"rows {shown} and {len(numbers) - 10} more"
    if len(numbers) > 1:
        return f"rows {shown.rpartition(', ')[0]} and {numbers[-1]}"
    return f"row {shown}"


def _repeated_header(field: str, cols: Sequence[int], layout: Layout) -> str:
    label, row = HEADERS.get(field, field), layout.header_row
    cells = ", ".join(f"{column_letters(col)}{row}" for col in cols)
    others = " and ".join(column_letters(col) for col in cols[1:])
    done = "writes" if field in layout.managed else "reads"
    return (
        f"Row {row}, {label} ({cells}): {len(cols)} columns are headed as {label}; sheets-sync "
        f"{done} column {column_letters(cols[0])} and leaves {others} alone. Rename or remove "
        "the one that is not meant"
    )


def staff_problems(staff_rows: Sequence[Sequence[CellValue]] | None) -> list[str]:
    """Staff sheet rows whose address is missing, unusable, or holds invisible characters."""
    problems = []
    for entry in staff_entries(staff_rows):
        where = f"Staff sheet row {entry.row}, Email ({entry.email_cell})"
        if not entry.email:
            problems.append(f"{where}: no address for {entry.name}")
        elif problem := address_problem(entry.email):
            problems.append(f"{where}: {problem}")
        elif hidden := invisible_characters(entry.email):
            problems.append(f"{where}: {_left_out(hidden)}")
    return problems


def _left_out(hidden: Sequence[str]) -> str:
    return (
        f"the address holds invisible characters ({', '.join(hidden)}); sheets-sync leaves"
        " them out when reading it, and the cell is better without them"
    )
