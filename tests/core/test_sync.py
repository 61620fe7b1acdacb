"""One sync planned: which managed cells change, and what is never touched (SPEC §2)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from datetime import date

from hypothesis import example, given
from hypothesis import strategies as st

from sheets_sync.core.columns import find_layout
from sheets_sync.core.rule import Flag, Settings
from sheets_sync.core.sync import Managed, SyncPlan, plan_sync
from sheets_sync.core.values import CellValue

TODAY = date(2026, 10, 14)  # a Wednesday
HEADERS = ["Name", "Owner", "Consultation date", "Last touch", "Notes"]
NAME, OWNER, CONSULT, LAST, NOTES = range(len(HEADERS))

Grid = list[list[CellValue]]


def log() -> Grid:
    """Three prospects; no managed columns yet."""
    return [
        list(HEADERS),
        ["Ann Lee", "Chloe", date(2026, 10, 1), date(2026, 10, 9), "keen"],
        ["Bob Ray", "Chloe", date(2026, 9, 1), None, None],
        ["Cat Day", "Dev", "12/10/2026", None, "call after 5"],
    ]


def id_maker() -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"id-{next(counter)}"


def plan(
    grid: Grid,
    settings: Settings,
    remembered: Mapping[str, Managed] = {},
    new_id: Callable[[], str] | None = None,
) -> SyncPlan:
    return plan_sync(
        grid,
        find_layout(grid),
        TODAY,
        settings,
        remembered=remembered,
        new_id=new_id or id_maker(),
    )


def applied(grid: Grid, result: SyncPlan) -> Grid:
    """A copy of `grid` with the plan's changes written, as a backend would."""
    out = [list(row) for row in grid]
    for (row, col), value in result.changes.all_cells().items():
        while len(out) < row:
            out.append([])
        cells = out[row - 1]
        cells.extend([None] * (col + 1 - len(cells)))
        cells[col] = value
    return out


def memory(result: SyncPlan) -> dict[str, Managed]:
    return {row.sync_id: row.remembered for row in result.rows}


def synced(settings: Settings) -> tuple[Grid, dict[str, Managed], dict[str, int]]:
    """The log after its first sync: the grid, what was remembered, and the managed columns."""
    first = plan(log(), settings)
    return applied(log(), first), memory(first), dict(first.changes.layout.managed)


def test_first_sync_writes_headers_every_managed_cell_and_ids(settings: Settings) -> None:
    result = plan(log(), settings)
    cells, managed = result.changes.cells, result.changes.layout.managed
    assert {cells[(1, col)] for col in managed.values()} == {
        "Next touch",
        "Next action",
        "Follow-up status",
        "Sync ID",
    }
    for row in (2, 3, 4):
        assert {col for (r, col) in cells if r == row} == set(managed.values())
    assert cells[(2, managed["next_touch"])] == date(2026, 10, 15)
    assert cells[(2, managed["next_action"])] == "Step 4/7 · Call · Check-in call"
    assert cells[(2, managed["follow_up_status"])] == "UPCOMING"
    ids = [cells[(row, managed["sync_id"])] for row in (2, 3, 4)]
    assert len(set(ids)) == 3
    assert [r.sync_id for r in result.rows] == ids
    assert result.changes.last_row == 4


def test_second_sync_changes_nothing(settings: Settings) -> None:
    grid, remembered, _ = synced(settings)
    assert not plan(grid, settings, remembered).changes
    assert not plan(grid, settings, {}).changes  # also without memory: our cells look like ours


def test_copied_row_gets_a_fresh_id_on_the_later_row_only(settings: Settings) -> None:
    grid, remembered, managed = synced(settings)
    grid.append(list(grid[1]))  # row 2 copied to row 5
    result = plan(grid, settings, remembered, new_id=lambda: "fresh")
    assert dict(result.changes.cells) == {(5, managed["sync_id"]): "fresh"}
    assert [r.sync_id for r in result.rows] == [
        grid[1][managed["sync_id"]],
        "id-2",
        "id-3",
        "fresh",
    ]


def test_fresh_id_never_reuses_one_already_in_the_sheet(settings: Settings) -> None:
    grid, remembered, managed = synced(settings)
    grid.append(list(grid[1]))
    ids = iter(["id-3", "id-1", "new"])  # id-1 and id-3 are taken
    result = plan(grid, settings, remembered, new_id=lambda: next(ids))
    assert result.changes.cells[(5, managed["sync_id"])] == "new"


def test_typed_next_action_is_kept_and_flagged_until_cleared(settings: Settings) -> None:
    grid, remembered, managed = synced(settings)
    action, status = managed["next_action"], managed["follow_up_status"]
    written = grid[1][action]
    grid[1][action] = "called, left voicemail"

    typed = plan(grid, settings, remembered)
    assert (2, action) not in typed.changes.cells
    row = typed.rows[0]
    assert row.decision.flag is Flag.CHECK_DATA
    assert "Next action" in row.decision.status_text
    assert typed.changes.cells[(2, status)] == row.decision.status_text
    grid = applied(grid, typed)
    assert grid[1][action] == "called, left voicemail"

    # Still typed on the next cycle: nothing more to change.
    assert not plan(grid, settings, memory(typed)).changes

    grid[1][action] = None  # the person moved the note and cleared the cell
    resumed = plan(grid, settings, memory(typed))
    assert resumed.changes.cells[(2, action)] == written
    assert resumed.changes.cells[(2, status)] == "UPCOMING"
    assert resumed.rows[0].decision.flag is Flag.UPCOMING


def test_changed_next_touch_date_is_kept_and_flagged(settings: Settings) -> None:
    grid, remembered, managed = synced(settings)
    touch = managed["next_touch"]
    grid[1][touch] = date(2026, 10, 20)  # memory says 15 Oct
    result = plan(grid, settings, remembered)
    assert (2, touch) not in result.changes.cells
    assert result.rows[0].decision.flag is Flag.CHECK_DATA
    assert "Next touch" in result.rows[0].decision.status_text
    assert result.rows[0].remembered.next_touch == "2026-10-15"


def test_without_memory_a_cell_shaped_like_ours_is_overwritten(settings: Settings) -> None:
    grid, _, managed = synced(settings)
    stale = {
        "next_touch": date(2026, 1, 5),
        "next_action": "Step 1/7 · Email · Thank-you note",
        "follow_up_status": "OVERDUE 99d",
    }
    for field, value in stale.items():
        grid[1][managed[field]] = value
    result = plan(grid, settings, {})
    assert result.rows[0].decision.flag is Flag.UPCOMING
    assert {col for (row, col) in result.changes.cells if row == 2} == {
        managed[field] for field in stale
    }


def test_without_memory_a_cell_not_shaped_like_ours_is_kept(settings: Settings) -> None:
    grid, _, managed = synced(settings)
    grid[1][managed["follow_up_status"]] = "waiting for her husband"
    result = plan(grid, settings, {})
    assert (2, managed["follow_up_status"]) not in result.changes.cells
    assert result.rows[0].decision.flag is Flag.CHECK_DATA
    assert "Follow-up status" in result.rows[0].decision.status_text


def test_emptied_row_has_its_managed_cells_cleared(settings: Settings) -> None:
    grid, remembered, managed = synced(settings)
    grid[2][: len(HEADERS)] = [None] * len(HEADERS)  # staff emptied Bob's row
    result = plan(grid, settings, remembered)
    assert {key: value for key, value in result.changes.cells.items() if key[0] == 3} == {
        (3, col): None for col in managed.values()
    }
    assert [r.row for r in result.rows] == [2, 4]


def test_emptied_row_keeps_what_a_person_typed(settings: Settings) -> None:
    grid, remembered, managed = synced(settings)
    grid[2][: len(HEADERS)] = [None] * len(HEADERS)
    grid[2][managed["next_action"]] = "moved to row 9"
    result = plan(grid, settings, remembered)
    assert (3, managed["next_action"]) not in result.changes.cells
    assert result.changes.cells[(3, managed["sync_id"])] is None


def test_staff_cells_are_never_in_the_changes(settings: Settings) -> None:
    result = plan(log(), settings)
    assert set(result.changes.layout.staff.values()) == {NAME, OWNER, CONSULT, LAST, NOTES}
    assert {col for (_, col) in result.changes.cells}.isdisjoint(
        {NAME, OWNER, CONSULT, LAST, NOTES}
    )


def test_values_written_on_an_earlier_day_are_brought_up_to_date(settings: Settings) -> None:
    """A restored older copy shows what the daemon wrote then; memory of the last write alone
    would take it for typing."""
    grid, remembered, managed = synced(settings)
    sync_id = grid[1][managed["sync_id"]]
    earlier = {
        "next_touch": date(2026, 10, 6),
        "next_action": "Step 3/7 · Email · Testimonial or provider video",
        "follow_up_status": "OVERDUE 8d",
    }
    for field, value in earlier.items():
        grid[1][managed[field]] = value
    written_before = {
        sync_id: [
            ("next_touch", "2026-10-06"),
            ("next_action", earlier["next_action"]),
            ("follow_up_status", "OVERDUE <n>d"),  # any day's count: flags by their shape
        ]
    }

    assert plan(grid, settings, remembered).rows[0].decision.flag is Flag.CHECK_DATA
    restored = plan_sync(
        grid,
        find_layout(grid),
        TODAY,
        settings,
        remembered=remembered,
        written_before=written_before,
        new_id=id_maker(),
    )
    assert restored.rows[0].decision.flag is Flag.UPCOMING
    assert {key: value for key, value in restored.changes.cells.items() if key[0] == 2} == {
        (2, managed["next_touch"]): date(2026, 10, 15),
        (2, managed["next_action"]): "Step 4/7 · Call · Check-in call",
        (2, managed["follow_up_status"]): "UPCOMING",
    }


def test_a_typed_over_status_moves_the_flag_to_next_action(settings: Settings) -> None:
    """The person's words stay in Follow-up status; the flag must still show in the row, and
    the follow-up goes on (Next touch kept up to date) for the owner's digest."""
    grid, remembered, managed = synced(settings)
    grid[1][managed["follow_up_status"]] = "waiting for her husband"
    result = plan(grid, settings, remembered)
    row = result.rows[0]
    assert row.decision.flag is Flag.CHECK_DATA
    assert row.decision.typed_over == ("follow_up_status",)
    assert row.decision.next_touch == date(2026, 10, 15)
    assert dict(result.changes.cells) == {(2, managed["next_action"]): row.decision.status_text}
    assert '"Follow-up status" typed by hand' in row.decision.status_text

    grid = applied(grid, result)
    assert not plan(grid, settings, memory(result)).changes
    grid[1][managed["follow_up_status"]] = None  # moved to Notes, the cell cleared
    resumed = plan(grid, settings, memory(result))
    assert resumed.rows[0].decision.flag is Flag.UPCOMING
    assert resumed.changes.cells[(2, managed["next_action"])] == "Step 4/7 · Call · Check-in call"


# Properties -----------------------------------------------------------------------------------

STAFF_HEADERS = ["Name", "Owner", "Consult date", "Status", "Last touch", "Touches", "Plan"]
MANAGED_HEADERS = ["Next touch", "Next action", "Follow-up status", "Sync ID"]
cells: st.SearchStrategy[CellValue] = st.one_of(
    st.none(),
    st.sampled_from(["", "Ann", "won", "x", "UPCOMING", "Step 1/7 · Email · x", "id-1", "3"]),
    st.dates(date(2026, 1, 1), date(2026, 12, 31)),
    st.integers(0, 50000),
)


@st.composite
def grids(draw: st.DrawFn) -> Grid:
    headers = draw(
        st.lists(
            st.sampled_from(STAFF_HEADERS + MANAGED_HEADERS + ["Notes", ""]),
            unique=True,
            min_size=3,
        ).filter(lambda h: {"Name", "Owner", "Consult date"} <= set(h))
    )
    width = len(headers) + draw(st.integers(0, 2))
    title = draw(st.lists(st.lists(cells, max_size=2), max_size=2))
    body = draw(st.lists(st.lists(cells, max_size=width), max_size=6))
    return [*title, list(headers), *body]


@given(grid=grids())
# An outcome typed where the log has no Status column adds one (its header is ours to write;
# the status cell is a staff cell, written only while it holds what was read).
@example(
    grid=[["Name", "Next action", "Sync ID", "Owner", "Consult date"], [None, "won", "A", "A"]]
)
def test_changes_only_touch_managed_cells(settings: Settings, grid: Grid) -> None:
    layout = find_layout(grid)
    result = plan_sync(grid, layout, TODAY, settings, remembered={}, new_id=id_maker())
    managed = set(layout.managed.values())
    added_for_outcomes = {col for _, col in result.changes.staff_cells} - set(layout.staff.values())
    for row, col in result.changes.cells:
        assert row >= layout.header_row
        if row == layout.header_row:
            assert col in layout.new_headers or col in added_for_outcomes
        else:
            assert col in managed


@given(grid=grids())
def test_a_plan_applied_is_stable(settings: Settings, grid: Grid) -> None:
    first = plan(grid, settings)
    after = applied(grid, first)
    second = plan(after, settings, memory(first))
    if second.outcomes:  # an outcome typed on a row new to sheets-sync waits one sync
        after = applied(after, second)
        second = plan(after, settings, memory(second))
    assert dict(second.changes.cells) == {}
