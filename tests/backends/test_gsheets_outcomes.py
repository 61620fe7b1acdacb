"""Outcomes typed into a Google Sheet (SPEC §8), carried out in the same write as the managed
cells, through the engine against the fake Sheets API. The API has no transactions: staff
sort and edit while a cycle runs (the fake's `before_request` hook), and a staff value must
never end up on another prospect, nor a person's edit be written over."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from sheets_sync.config import Config, load_config
from sheets_sync.engine import CycleReport, sync
from sheets_sync.state import State
from tests.backends.gsheets_helpers import backend, calls
from tests.sheets_fake import FakeSheets

ROOT = Path(__file__).resolve().parents[2]
BOOK, LOG = "1OutcomesOutcomesOutcomesOutcomesOutcome00", "Prospects"
TODAY = date(2026, 11, 30)  # a Monday
EPOCH = date(1899, 12, 30)
HEADER = ["Name", "Owner", "Consultation date", "Last touch", "Touches", "Status", "Notes"]
NEXT_ACTION = len(HEADER) + 1  # the managed columns follow the staff's: Next touch first
LAST_TOUCH, TOUCHES = 3, 4
# Five prospects with a Last touch and a Touches count each their own, so a value that lands
# on the wrong row shows.
PROSPECTS = {
    "Ann Lee": (date(2026, 11, 2), date(2026, 11, 9), 3),
    "Bob Ray": (date(2026, 11, 3), date(2026, 11, 10), 1),
    "Cat Day": (date(2026, 11, 4), date(2026, 11, 11), 2),
    "Dan Fox": (date(2026, 11, 5), date(2026, 11, 12), 5),
    "Eve Orr": (date(2026, 11, 6), date(2026, 11, 13), 6),
}
ANN_ROW = 2


def config() -> Config:
    return load_config(ROOT / "config" / "sheets_sync.toml")


def serial(day: date) -> int:
    return (day - EPOCH).days


def add_log(fake: FakeSheets, header: list[str] = HEADER, extra: int = 0) -> None:
    """The log, with `extra` empty staff columns before Notes (to fill the grid's width)."""
    fillers = [f"Extra {n}" for n in range(extra)]
    rows: list[list[object]] = [[*header[:-1], *fillers, header[-1]]]
    for name, (consulted, last_touch, touches) in PROSPECTS.items():
        row: list[object] = [name, "Anna", consulted, last_touch, touches, None]
        rows.append([*row[: len(header) - 1], *[None] * extra, "keen"])
    fake.add_spreadsheet(BOOK, {LOG: rows, "Staff": [["Name", "Email"], ["Anna", "a@x.example"]]})


def cycle(fake: FakeSheets, key: Path, state: State, today: date = TODAY) -> CycleReport:
    return sync(backend(fake, key, BOOK), config(), state, today=today)


def synced_last_week(fake: FakeSheets, key: Path, state: State) -> None:
    cycle(fake, key, state, TODAY - timedelta(days=7))


def by_name(fake: FakeSheets) -> dict[object, list[object]]:
    return {row[0]: row for row in fake.values(BOOK, LOG)[1:]}


def column(fake: FakeSheets, header: str) -> int:
    return fake.values(BOOK, LOG)[0].index(header)


def type_into(fake: FakeSheets, name: str, header: str, text: object) -> None:
    row = 1 + next(n for n, row in enumerate(fake.values(BOOK, LOG)[1:], 1) if row[0] == name)
    fake.set_cell(BOOK, LOG, row, column(fake, header), text)


def assert_only_ann_touched(fake: FakeSheets, touches: int) -> None:
    """Ann's call carried out on Ann; every other prospect keeps the cells it had."""
    rows = by_name(fake)
    assert rows["Ann Lee"][LAST_TOUCH] == serial(TODAY)
    assert rows["Ann Lee"][TOUCHES] == touches
    for name, (_, last_touch, count) in PROSPECTS.items():
        if name != "Ann Lee":
            assert rows[name][LAST_TOUCH : TOUCHES + 1] == [serial(last_touch), count], name


def once(hook: Callable[[], None], when: Callable[[str, str], bool]) -> Callable[[str, str], None]:
    """A `before_request` hook running `hook` before the first request `when` picks."""
    done: list[bool] = []

    def before_request(method: str, path: str) -> None:
        if not done and when(method, path):
            done.append(True)
            hook()

    return before_request


def after_the_read(hook: Callable[[], None]) -> Callable[[str, str], None]:
    """A `before_request` hook running `hook` once, before the cycle's third request: after
    the sheet's layout and the read, the request that comes next (with an outcome to carry
    out, the read just before the write)."""
    seen: list[str] = []

    def before_request(method: str, path: str) -> None:
        seen.append(path)
        if len(seen) == 3:
            hook()

    return before_request


def the_write(method: str, path: str) -> bool:
    return path.endswith("/values:batchUpdate")


def test_a_typed_call_is_carried_out_in_one_cycle(
    fake: FakeSheets, key: Path, state: State
) -> None:
    add_log(fake)
    synced_last_week(fake, key, state)
    type_into(fake, "Ann Lee", "Next action", "Called - wants finance options")
    fake.reset()

    report = cycle(fake, key, state)

    assert calls(fake).count(f"POST {BOOK}/values:batchUpdate") == 1  # one write for all
    ann = by_name(fake)["Ann Lee"]
    assert ann[LAST_TOUCH] == serial(TODAY)
    assert ann[TOUCHES] == 4
    assert str(ann[NEXT_ACTION]).startswith("Step ")
    assert ann[HEADER.index("Notes")] == "keen"
    assert [(touch.kind, touch.note) for touch in report.plan.touches] == [
        ("touch", "wants finance options")
    ]
    assert_only_ann_touched(fake, touches=4)
    fake.reset()
    again = cycle(fake, key, state)
    assert not again.plan.changes
    assert f"POST {BOOK}/values:batchUpdate" not in calls(fake)


def test_an_outcome_adds_the_column_it_needs_beyond_the_grid(
    fake: FakeSheets, key: Path, state: State
) -> None:
    """Staff columns up to the grid's 26th column with the managed ones: the Snooze until
    column an outcome adds is past the grid's edge, which Google refuses to write into
    ("exceeds grid limits") until the grid is widened; it shows its dates as dates."""
    add_log(fake, extra=15)  # 22 staff columns and 4 managed fill A:Z
    synced_last_week(fake, key, state)
    assert fake.grid_size(BOOK, LOG)[1] == 26
    type_into(fake, "Ann Lee", "Next action", "+2w")

    cycle(fake, key, state)

    header = fake.values(BOOK, LOG)[0]
    assert header[-1] == "Snooze until"
    snooze = len(header) - 1
    assert snooze == 26
    assert by_name(fake)["Ann Lee"][snooze] == serial(TODAY + timedelta(weeks=2))
    ann = backend(fake, key, BOOK).read().rows[ANN_ROW - 1]
    assert ann[snooze] == TODAY + timedelta(weeks=2)  # read back as a date: shown as one


def test_a_sort_during_the_write_leaves_no_staff_value_on_another_prospect(
    fake: FakeSheets, key: Path, state: State
) -> None:
    """The write lands by position on rows sorted a moment before: Ann's Last touch and
    Touches go to Eve's row. The check puts Eve's back and writes Ann's where Ann is now."""
    add_log(fake)
    synced_last_week(fake, key, state)
    type_into(fake, "Ann Lee", "Next action", "called")

    fake.before_request = once(
        lambda: fake.sort_rows(BOOK, LOG, "Name", reverse=True), when=the_write
    )
    fake.reset()
    report = cycle(fake, key, state)

    assert calls(fake).count(f"POST {BOOK}/values:batchUpdate") == 2  # the write, the repair

    assert [row[0] for row in fake.values(BOOK, LOG)[1:]] == sorted(PROSPECTS, reverse=True)
    assert_only_ann_touched(fake, touches=4)
    assert str(by_name(fake)["Ann Lee"][NEXT_ACTION]).startswith("Step ")
    assert len(report.plan.touches) == 1
    fake.before_request = None
    assert not cycle(fake, key, state).plan.changes


def test_a_sort_before_the_write_refuses_it_and_plans_again(
    fake: FakeSheets, key: Path, state: State
) -> None:
    """Rows sorted between the read and the write: the read just before the write sees Ann's
    row hold another prospect, nothing is written, and the cycle plans again from the sorted
    log, carrying the outcome out once."""
    add_log(fake)
    synced_last_week(fake, key, state)
    type_into(fake, "Ann Lee", "Next action", "called")
    fake.reset()

    fake.before_request = after_the_read(lambda: fake.sort_rows(BOOK, LOG, "Name", reverse=True))
    cycle(fake, key, state)

    writes = [call for call in calls(fake) if call.startswith("POST")]
    assert writes == [f"POST {BOOK}/values:batchUpdate"]  # the first plan wrote nothing
    assert_only_ann_touched(fake, touches=4)
    assert [touch.kind for touch in state.touches(description(fake, key))] == ["touch"]


def test_a_staff_cell_edited_before_the_write_is_not_written_over(
    fake: FakeSheets, key: Path, state: State
) -> None:
    """A colleague sets Ann's Touches to 7 between the read and the write: the write is
    refused, their 7 stands, and the cycle carries the call out onto it: 8, logged once."""
    add_log(fake)
    synced_last_week(fake, key, state)
    type_into(fake, "Ann Lee", "Next action", "called")

    fake.before_request = after_the_read(lambda: fake.set_cell(BOOK, LOG, ANN_ROW, TOUCHES, 7))
    report = cycle(fake, key, state)

    assert report.plan.changes.staff_cells[(ANN_ROW, TOUCHES)] == (7, 8)  # planned again
    assert by_name(fake)["Ann Lee"][LAST_TOUCH : TOUCHES + 1] == [serial(TODAY), 8]
    assert [touch.kind for touch in state.touches(description(fake, key))] == ["touch"]


def test_a_staff_cell_edited_after_the_write_is_not_written_over(
    fake: FakeSheets, key: Path, state: State
) -> None:
    """A colleague sets Ann's Touches to 7 after the write landed, before the check reads the
    log again: the check leaves their 7, and puts nothing else right that is right."""
    add_log(fake)
    synced_last_week(fake, key, state)
    type_into(fake, "Ann Lee", "Next action", "called")
    fake.reset()
    seen: list[str] = []

    def edit_after_the_write(method: str, path: str) -> None:
        if seen and the_write(*seen[-1].split(" ", 1)) and method == "GET":  # the check
            fake.set_cell(BOOK, LOG, ANN_ROW, TOUCHES, 7)
        seen.append(f"{method} {path}")

    fake.before_request = edit_after_the_write
    cycle(fake, key, state)

    assert calls(fake).count(f"POST {BOOK}/values:batchUpdate") == 1
    ann = by_name(fake)["Ann Lee"]
    assert ann[LAST_TOUCH : TOUCHES + 1] == [serial(TODAY), 7]


def description(fake: FakeSheets, key: Path) -> str:
    return backend(fake, key, BOOK).description


def test_a_row_inserted_during_the_write_keeps_none_of_anothers_outcome(
    fake: FakeSheets, key: Path, state: State
) -> None:
    """A new prospect typed into a row inserted above Ann's as the write goes out: Ann's
    Last touch and Touches land on the new row by position. The new row is nobody the sync
    knows yet, so what landed there is cleared, and Ann's go where Ann is now."""
    add_log(fake)
    synced_last_week(fake, key, state)
    type_into(fake, "Ann Lee", "Next action", "called")
    new_prospect = ["Fay Gee", "Anna", TODAY - timedelta(days=2)]

    fake.before_request = once(
        lambda: fake.insert_row(BOOK, LOG, ANN_ROW, new_prospect), when=the_write
    )
    cycle(fake, key, state)

    fay = by_name(fake)["Fay Gee"]
    assert not any(fay[LAST_TOUCH : TOUCHES + 1])  # blank, as the row was typed
    assert_only_ann_touched(fake, touches=4)


def test_a_column_an_outcome_adds_joins_the_logs_table(
    fake: FakeSheets, key: Path, state: State
) -> None:
    """The log is a Google Sheets table across the sheets-sync columns: the Snooze until
    column an outcome adds to its right is made part of it, so a sort from the table's menu
    moves it with its row."""
    add_log(fake)
    synced_last_week(fake, key, state)
    width = len(fake.values(BOOK, LOG)[0])
    fake.add_table(BOOK, LOG, "Prospects", columns=(0, width - 1), rows=(1, len(PROSPECTS) + 1))
    type_into(fake, "Ann Lee", "Next action", "+2w")

    cycle(fake, key, state)

    (table,) = fake.tables(BOOK, LOG)
    assert fake.values(BOOK, LOG)[0][width] == "Snooze until"
    assert table["range"]["endColumnIndex"] == width + 1


def test_a_date_written_into_a_blank_cell_shows_as_a_date(
    fake: FakeSheets, key: Path, state: State
) -> None:
    """A blank Last touch has no date format: the serial number written there (values RAW)
    would show as 46356 unless the cell is given one."""
    add_log(fake)
    synced_last_week(fake, key, state)
    fake.set_cell(BOOK, LOG, ANN_ROW, LAST_TOUCH, None)
    type_into(fake, "Ann Lee", "Next action", "called")

    cycle(fake, key, state)

    assert by_name(fake)["Ann Lee"][LAST_TOUCH] == serial(TODAY)
    assert backend(fake, key, BOOK).read().rows[ANN_ROW - 1][LAST_TOUCH] == TODAY
