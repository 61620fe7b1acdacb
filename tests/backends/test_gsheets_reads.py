"""Reading a Google Sheet as the real service answers (issue 12, points 4 and 5).

People chips carry the person's address in the cell's chip runs; formula errors read as the
cell shows them (`#REF!`), as in a workbook; a cell still `Loading…` is never read as a
value; and a row merged across the managed columns (a month's separator) still lets every
cycle settle, though Google reads the cells under a merge back empty.
"""

from __future__ import annotations

from datetime import datetime
from email import message_from_bytes, policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sheets_sync.backends.base import SourceBusy
from sheets_sync.config import Config, load_config
from sheets_sync.core.values import CellValue
from sheets_sync.engine import send_digests, sync
from sheets_sync.mail.outbox import Outbox
from sheets_sync.state import State
from tests.backends.contract import HEADER, ROOT, ROWS, STAFF, TODAY
from tests.backends.gsheets_helpers import Sleeps, backend, calls
from tests.sheets_fake import FakeSheets
from tests.sheets_fake.model import CellError, PersonChip

SHEET = "1ReadsAsGoogleAnswersThemAbCdEfGhIjKlMnOpQrS"
LOG_TAB = "Prospects"
NAME, OWNER, NOTES = (HEADER.index(h) for h in ("Name", "Owner", "Notes"))
NOW = datetime(2026, 11, 24, 7, 30, tzinfo=ZoneInfo("Europe/London"))
DANA = "dana@riverside.example"


def config() -> Config:
    return load_config(ROOT / "config" / "sheets_sync.toml")


def add(fake: FakeSheets, rows: list[list[object]], staff: list[list[object]]) -> None:
    fake.add_spreadsheet(SHEET, {LOG_TAB: rows, "Staff": staff})


def log_rows() -> list[list[object]]:
    return [list(row) for row in ROWS]


def staff_rows() -> list[list[object]]:
    return [list(row) for row in STAFF]


def recipients(folder: Path) -> dict[str, str]:
    """The outbox's messages: recipient address -> body text."""
    found = {}
    for path in folder.glob("*.eml"):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        body = message.get_body(("plain",))
        assert body is not None
        found[message["To"].addresses[0].addr_spec] = body.get_content()
    return found


# --- people chips ------------------------------------------------------------------------------


def test_an_owner_given_as_a_people_chip_gets_their_digest(
    fake: FakeSheets, key: Path, state: State, tmp_path: Path
) -> None:
    """Dana is in no Staff sheet: her address is only in the chip. Her overdue prospect goes
    to her, not to the manager's summary as a prospect nobody can be mailed about."""
    rows = log_rows()
    rows[1][OWNER] = PersonChip("Dana Weiss", DANA)  # Ann Lee: overdue today
    add(fake, rows, staff_rows())
    gs = backend(fake, key, SHEET)

    report = sync(gs, config(), state, today=TODAY)
    outbox = Outbox(tmp_path / "outbox")
    send_digests(report, config(), state, outbox, today=TODAY, now=NOW)

    mails = recipients(outbox.folder)
    assert "Ann Lee" in mails[DANA]
    manager = next(body for to, body in mails.items() if to.startswith("manager"))
    assert "no address" not in manager.casefold()
    assert "Dana Weiss" not in manager


def test_a_chip_beside_other_text_leaves_the_text_as_it_is(fake: FakeSheets, key: Path) -> None:
    """Only a cell that is one people chip and nothing else reads as the address: a note
    that mentions someone stays the note it is."""
    rows = log_rows()
    rows[1][OWNER] = PersonChip("Dana Weiss", DANA)
    add(fake, rows, staff_rows())
    with fake.lock:
        note = fake.spreadsheets[SHEET].sheet(LOG_TAB).rows[2][NOTES]
        assert note is not None
        note.value = "ask Dana Weiss first"
        note.chip_runs = [
            {},
            {"startIndex": 4, "chip": {"personProperties": {"email": DANA}}},
            {"startIndex": 5},
        ]
    snapshot = backend(fake, key, SHEET).read()
    assert snapshot.rows[1][OWNER] == DANA
    assert snapshot.rows[2][NOTES] == "ask Dana Weiss first"


def test_a_staff_sheet_address_given_as_a_people_chip_is_the_address(
    fake: FakeSheets, key: Path, state: State, tmp_path: Path
) -> None:
    staff = staff_rows()
    staff[1][1] = PersonChip("Anna Price", "anna@riverside.example")
    add(fake, log_rows(), staff)
    gs = backend(fake, key, SHEET)

    snapshot = gs.read()
    assert snapshot.staff is not None
    assert snapshot.staff[1] == ["Anna Price", "anna@riverside.example"]

    report = sync(gs, config(), state, today=TODAY)
    outbox = Outbox(tmp_path / "outbox")
    send_digests(report, config(), state, outbox, today=TODAY, now=NOW)
    assert "Ann Lee" in recipients(outbox.folder)["anna@riverside.example"]


# --- formula errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "shown"),
    [
        ("REF", "#REF!"),
        ("N_A", "#N/A"),
        ("DIVIDE_BY_ZERO", "#DIV/0!"),
        ("VALUE", "#VALUE!"),
        ("NAME", "#NAME?"),
        ("NUM", "#NUM!"),
        ("NULL_VALUE", "#NULL!"),
        ("ERROR", "#ERROR!"),
    ],
)
def test_a_formula_error_reads_as_the_cell_shows_it(
    fake: FakeSheets, key: Path, kind: str, shown: str
) -> None:
    """As an .xlsx workbook holds it (`<c t="e"><v>#REF!</v>`), so both backends agree."""
    rows = log_rows()
    rows[1][OWNER] = CellError(kind, "a lookup went wrong")
    rows[2][2] = CellError(kind)  # the consultation date
    add(fake, rows, staff_rows())
    snapshot = backend(fake, key, SHEET).read()
    assert snapshot.rows[1][OWNER] == shown
    assert snapshot.rows[2][2] == shown


def test_a_date_cell_in_error_is_flagged_with_the_error_it_shows(
    fake: FakeSheets, key: Path, state: State
) -> None:
    rows = log_rows()
    rows[1][2] = CellError("REF")  # Ann Lee, an active prospect
    add(fake, rows, staff_rows())
    gs = backend(fake, key, SHEET)
    report = sync(gs, config(), state, today=TODAY)
    row = next(row for row in report.plan.rows if row.row == 2)
    assert row.decision.status_text.startswith("CHECK DATA")
    assert "#REF!" in row.decision.status_text


# --- Loading… -----------------------------------------------------------------------------------


def loading(fake: FakeSheets, row: int, col: int, reads: int, tab: str = LOG_TAB) -> None:
    """The cell (1-based row, 0-based column) shows Loading… for the next `reads` reads."""
    with fake.lock:
        cell = fake.spreadsheets[SHEET].sheet(tab).rows[row - 1][col]
        assert cell is not None
        cell.loading = reads


def test_a_cell_still_loading_is_read_again_after_a_pause(fake: FakeSheets, key: Path) -> None:
    add(fake, log_rows(), staff_rows())
    loading(fake, 3, NAME, reads=2)
    sleeps = Sleeps()
    gs = backend(fake, key, SHEET, sleep=sleeps)
    fake.reset()
    snapshot = gs.read()
    assert snapshot.rows[2][NAME] == "Bob Kay"
    assert sleeps == [2.0, 5.0]
    assert calls(fake) == [f"GET {SHEET}"] * 4  # the layout, two reads loading, one settled


def test_a_cell_that_keeps_loading_writes_nothing_and_waits_for_the_next_cycle(
    fake: FakeSheets, key: Path, state: State
) -> None:
    add(fake, log_rows(), staff_rows())
    loading(fake, 2, 0, reads=1, tab="Staff")  # the Staff sheet counts too: it gives addresses
    loading(fake, 3, NAME, reads=100)
    sleeps = Sleeps()
    gs = backend(fake, key, SHEET, sleep=sleeps)
    fake.reset()
    with pytest.raises(SourceBusy) as raised:
        sync(gs, config(), state, today=TODAY)
    message = str(raised.value)
    assert 'cell A3 of the "Prospects" sheet still shows Loading…' in message
    assert "IMPORTRANGE" in message
    assert "next cycle" in message
    assert not [call for call in calls(fake) if call.startswith("POST")]
    assert sleeps == [2.0, 5.0, 10.0]

    loading(fake, 3, NAME, reads=0)  # it has loaded by the next cycle
    assert sync(gs, config(), state, today=TODAY).written


def test_the_check_never_acts_on_a_read_still_loading(
    fake: FakeSheets, key: Path, state: State
) -> None:
    """A prospect's name starts loading while the values are written: the check cannot tell
    who that row is, so it writes nothing more, and the next cycle finishes the work."""
    add(fake, log_rows(), staff_rows())

    def load_during_the_write(method: str, path: str) -> None:
        if path.endswith("/values:batchUpdate"):
            fake.before_request = None
            loading(fake, 3, NAME, reads=100)

    fake.before_request = load_during_the_write
    gs = backend(fake, key, SHEET)
    fake.reset()
    report = sync(gs, config(), state, today=TODAY)
    assert report.waiting is not None
    assert "Loading…" in report.waiting
    assert "not checked yet" in report.waiting
    assert calls(fake).count(f"POST {SHEET}/values:batchUpdate") == 1

    loading(fake, 3, NAME, reads=0)
    again = sync(gs, config(), state, today=TODAY)
    assert again.waiting is None
    values = fake.values(SHEET, LOG_TAB)
    sync_col = again.plan.changes.layout.managed["sync_id"]
    assert all(row[sync_col] for row in values[1:])
    assert not sync(gs, config(), state, today=TODAY).written


# --- merged cells across the managed columns ------------------------------------------------


def test_a_month_separator_merged_across_the_sheet_settles_in_one_cycle(
    fake: FakeSheets, key: Path, state: State
) -> None:
    """Row 4 holds "December", merged over A4:L4, the managed columns (H:K) included. Google
    reads H4:K4 back empty and never shows what is written there: the sync writes nothing
    there, the check does not wait for it, and the next cycle has nothing to write."""
    rows = log_rows()
    rows.insert(3, ["December"])
    add(fake, rows, staff_rows())
    with fake.lock:
        fake.spreadsheets[SHEET].sheet(LOG_TAB).merges = [
            {"startRowIndex": 3, "endRowIndex": 4, "startColumnIndex": 0, "endColumnIndex": 12}
        ]
    gs = backend(fake, key, SHEET)

    first = sync(gs, config(), state, today=TODAY)
    assert first.written
    layout = first.plan.changes.layout
    assert min(layout.managed.values()) == len(HEADER)  # H: inside the merge
    values = fake.values(SHEET, LOG_TAB)
    sync_col = layout.managed["sync_id"]
    prospects: list[list[CellValue]] = [row for row in values[1:] if row[0] != "December"]
    assert all(len(row) > sync_col and row[sync_col] for row in prospects)
    assert values[3] == ["December"]

    fake.reset()
    second = sync(gs, config(), state, today=TODAY)
    assert not second.written
    assert f"POST {SHEET}/values:batchUpdate" not in calls(fake)


def test_a_month_separator_is_a_heading_not_a_prospect(
    fake: FakeSheets, key: Path, state: State
) -> None:
    """Merged across the name, owner and date columns, "December" is a heading: no prospect
    flagged CHECK DATA for the manager every day, and no Sync ID made up for it on every
    cycle (it could keep none under the merge), so what the state remembers stays put."""
    rows = log_rows()
    rows.insert(3, ["December"])
    add(fake, rows, staff_rows())
    with fake.lock:
        fake.spreadsheets[SHEET].sheet(LOG_TAB).merges = [
            {"startRowIndex": 3, "endRowIndex": 4, "startColumnIndex": 0, "endColumnIndex": 12}
        ]
    gs = backend(fake, key, SHEET)
    first = sync(gs, config(), state, today=TODAY)
    assert [row.prospect.cells.get("name") for row in first.plan.rows if row.row == 4] == []
    remembered = state.written_before(gs.description)
    sync(gs, config(), state, today=TODAY)
    assert state.written_before(gs.description) == remembered


def test_a_merge_over_two_managed_cells_of_a_prospect_settles(
    fake: FakeSheets, key: Path, state: State
) -> None:
    """Someone merged a prospect's Next action and Follow-up status cells: the action shows
    in the merged cell, the status (read back empty) cannot be shown, and no cycle tries to
    write it again and again."""
    add(fake, log_rows(), staff_rows())
    gs = backend(fake, key, SHEET)
    first = sync(gs, config(), state, today=TODAY)
    managed = first.plan.changes.layout.managed
    action, status = managed["next_action"], managed["follow_up_status"]
    with fake.lock:
        fake.spreadsheets[SHEET].sheet(LOG_TAB).merges = [
            {
                "startRowIndex": 1,
                "endRowIndex": 2,
                "startColumnIndex": action,
                "endColumnIndex": status + 1,
            }
        ]
    fake.reset()
    assert not sync(gs, config(), state, today=TODAY).written
    assert f"POST {SHEET}/values:batchUpdate" not in calls(fake)
    assert fake.values(SHEET, LOG_TAB)[1][action]
