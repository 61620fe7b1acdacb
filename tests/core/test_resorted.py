"""Staff cells sorted without the managed columns: each Sync ID finds its prospect again."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from sheets_sync.core.check import log_problems
from sheets_sync.core.columns import find_layout
from sheets_sync.core.digest import build_digests
from sheets_sync.core.rule import Flag, Settings
from sheets_sync.core.sync import Managed, SyncPlan, plan_sync
from sheets_sync.mail.render import render_manager_summary
from tests.core.test_sync import TODAY, Grid, applied, id_maker, memory

HEADERS = ["Name", "Owner", "Consultation date", "Last touch", "Notes"]
STAFF = len(HEADERS)  # the staff columns are A:E; the managed ones follow


def log() -> Grid:
    return [
        list(HEADERS),
        ["Ann Lee", "Chloe", date(2026, 10, 1), date(2026, 10, 9), "keen"],
        ["Bob Ray", "Chloe", date(2026, 9, 1), None, None],
        ["Cat Day", "Dev", date(2026, 10, 12), None, "call after 5"],
        ["Dan Fox", "Dev", date(2026, 8, 3), date(2026, 9, 30), None],
    ]


def plan(
    grid: Grid,
    settings: Settings,
    remembered: Mapping[str, Managed] = {},
    identities: Mapping[str, str] = {},
) -> SyncPlan:
    return plan_sync(
        grid,
        find_layout(grid),
        TODAY,
        settings,
        remembered=remembered,
        identities=identities,
        new_id=id_maker(),
    )


def sort_staff_columns(grid: Grid, order: list[int]) -> Grid:
    """The rows below the header with their staff cells in `order` (0-based prospect rows),
    the managed columns left where they were: a sort over the staff columns alone."""
    body = grid[1:]
    staff = [body[index][:STAFF] for index in order]
    return [grid[0], *([*cells, *row[STAFF:]] for cells, row in zip(staff, body, strict=True))]


def ids_by_name(grid: Grid, sync_col: int) -> dict[str, object]:
    return {str(row[0]): row[sync_col] for row in grid[1:]}


def test_a_sort_of_the_staff_columns_alone_gives_each_prospect_its_id_again(
    settings: Settings,
) -> None:
    first = plan(log(), settings)
    grid = applied(log(), first)
    sync_col = first.changes.layout.managed["sync_id"]
    before = ids_by_name(grid, sync_col)

    sorted_grid = sort_staff_columns(grid, [3, 2, 1, 0])  # by name, Z to A
    again = plan(sorted_grid, settings, memory(first), first.identities)

    after = applied(sorted_grid, again)
    assert ids_by_name(after, sync_col) == before
    assert again.matched_again == (2, 3, 4, 5)
    assert again.afresh == ()
    # Each row's managed cells were written for another prospect: ours, not typing.
    assert all(row.decision.flag is not Flag.CHECK_DATA for row in again.rows)
    # The next cycle finds every prospect at home, and nothing left to change.
    settled = plan(after, settings, memory(again), again.identities)
    assert settled.resorted == ()
    assert not settled.changes


def test_without_remembered_identities_the_ids_stay_where_they_are(settings: Settings) -> None:
    """The first cycle after an upgrade knows no fingerprints: it trusts the IDs."""
    first = plan(log(), settings)
    grid = sort_staff_columns(applied(log(), first), [3, 2, 1, 0])
    again = plan(grid, settings, memory(first))
    assert again.resorted == ()
    assert again.identities
    assert set(again.identities) == {row.sync_id for row in again.rows}


def test_a_corrected_name_keeps_its_id(settings: Settings) -> None:
    first = plan(log(), settings)
    grid = applied(log(), first)
    grid[1][0] = "Anne Lee"
    again = plan(grid, settings, memory(first), first.identities)
    assert again.resorted == ()
    sync_col = first.changes.layout.managed["sync_id"]
    assert (2, sync_col) not in again.changes.cells
    assert again.identities != first.identities  # the new name is Ann's from now on


def test_rows_that_could_be_two_prospects_start_afresh_and_are_reported(
    settings: Settings,
) -> None:
    twins = log()
    twins[2] = ["Ann Lee", "Chloe", date(2026, 10, 1), None, "the other Ann"]
    first = plan(twins, settings)
    grid = applied(twins, first)
    sync_col = first.changes.layout.managed["sync_id"]
    old_ids = {row[sync_col] for row in grid[1:]}
    # Cat and Dan go up; both Anns go down, away from their own IDs.
    sorted_grid = sort_staff_columns(grid, [2, 3, 0, 1])
    again = plan(sorted_grid, settings, memory(first), first.identities)

    assert again.matched_again == (2, 3)  # Cat and Dan take their own IDs back
    assert again.afresh == (4, 5)  # which Ann is which cannot be told: new IDs for both
    after = applied(sorted_grid, again)
    assert ids_by_name(after, sync_col)["Cat Day"] == ids_by_name(grid, sync_col)["Cat Day"]
    assert {after[3][sync_col], after[4][sync_col]}.isdisjoint(old_ids)
    # Each row's managed cells were written for another prospect: ours, not typing; every
    # row shows what its own staff cells call for.
    assert all(row.decision.flag is not Flag.CHECK_DATA for row in again.rows)
    layout = again.changes.layout
    problems = log_problems(again.rows, layout, {}, again.resorted)
    assert any("sorted without the sheets-sync columns (rows 2, 3, 4 and 5)" in p for p in problems)
    assert any("rows 4 and 5 could not be told apart" in p for p in problems)
    # The next cycle finds everyone at home, the twins too.
    later = plan(after, settings, memory(again), again.identities)
    assert later.resorted == ()
    assert not later.changes


def test_only_the_rows_that_could_be_two_prospects_start_afresh(settings: Settings) -> None:
    twins = log()
    twins[2] = ["Ann Lee", "Chloe", date(2026, 10, 1), None, "the other Ann"]
    twins += [
        ["Eve Orr", "Dev", date(2026, 10, 2), None, None],
        ["Fay Ng", "Dev", date(2026, 10, 5), None, None],
    ]
    first = plan(twins, settings)
    grid = applied(twins, first)
    sync_col = first.changes.layout.managed["sync_id"]
    sorted_grid = sort_staff_columns(grid, [2, 3, 0, 1, 5, 4])  # Eve and Fay swap too
    again = plan(sorted_grid, settings, memory(first), first.identities)
    assert again.afresh == (4, 5)
    assert again.matched_again == (2, 3, 6, 7)
    after = applied(sorted_grid, again)
    assert ids_by_name(after, sync_col)["Eve Orr"] == ids_by_name(grid, sync_col)["Eve Orr"]


def test_a_new_prospect_sorted_onto_another_ones_id_starts_afresh(settings: Settings) -> None:
    """Found by the property test: a row inserted without an ID, then the staff columns
    sorted, left the new prospect holding the ID of one now on the inserted row."""
    first = plan(log(), settings)
    grid = applied(log(), first)
    sync_col = first.changes.layout.managed["sync_id"]
    before = ids_by_name(grid, sync_col)
    grid.insert(1, ["Zed Ash", "Dev", date(2026, 11, 2), None, None])
    sorted_grid = sort_staff_columns(grid, [4, 0, 1, 2, 3])  # Dan up top, Zed onto Ann's ID
    again = plan(sorted_grid, settings, memory(first), first.identities)
    after = applied(sorted_grid, again)
    ids = ids_by_name(after, sync_col)
    assert {name: ids[name] for name in before} == before
    assert ids["Zed Ash"] not in before.values()
    assert again.afresh == (3,)
    assert again.matched_again == (2, 4, 5, 6)


def test_the_managers_summary_says_the_log_was_sorted_without_the_sheets_sync_columns(
    settings: Settings,
) -> None:
    first = plan(log(), settings)
    grid = sort_staff_columns(applied(log(), first), [3, 2, 1, 0])
    again = plan(grid, settings, memory(first), first.identities)
    _, tally = build_digests(
        again.rows, day=TODAY, book={}, link=lambda row: None, resorted=again.resorted
    )
    summary = tally.summary(day=TODAY, clinic="Riverside", address="m@x.example")
    message = render_manager_summary(summary, sender="s@x.example")
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "The log was sorted without its sheets-sync columns" in text
    assert "matched 4 rows to their prospects again" in text
