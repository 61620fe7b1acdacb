"""Issue 12, point 6: each way Google refuses gets its own message with the remedy, and the
fake (tests.sheets_fake) answers each the way Google does."""

from __future__ import annotations

from pathlib import Path

import pytest

from sheets_sync.backends.base import SourceError
from sheets_sync.backends.gsheets import GSheetsBackend
from sheets_sync.engine import sync
from sheets_sync.state import State
from tests.backends.contract import HEADER, ROWS, STAFF, TODAY, Rows
from tests.backends.gsheets_helpers import Sleeps, backend
from tests.backends.test_gsheets import config
from tests.sheets_fake import DEFAULT_EMAIL, FakeSheets

SHEET = "1ErRoRsAbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
LOG_TAB = "Prospects"
MANAGED = len(HEADER)  # the first managed column (0-based): Next touch


def add(fake: FakeSheets, rows: Rows = ROWS, **kw: object) -> None:
    fake.add_spreadsheet(
        SHEET, {LOG_TAB: [list(r) for r in rows], "Staff": [list(r) for r in STAFF]}, **kw
    )


def refusal(gs: GSheetsBackend, tmp_path: Path) -> str:
    """The message of a cycle that Google refuses (read, then write)."""
    with State(tmp_path / "state") as state, pytest.raises(SourceError) as raised:
        sync(gs, config(), state, today=TODAY)
    return str(raised.value)


# --- protected ranges ---------------------------------------------------------------------


def test_a_protected_header_names_the_range_and_both_remedies(
    fake: FakeSheets, key: Path, tmp_path: Path
) -> None:
    add(fake)
    fake.protect(SHEET, LOG_TAB, (0, 0, 1, 30), description="Header row")
    message = refusal(backend(fake, key, SHEET), tmp_path)
    assert "'Prospects'!A1:AD1" in message
    assert '"Header row"' in message
    assert "Data > Protect sheets and ranges" in message
    assert DEFAULT_EMAIL in message
    assert "protected cell or object" not in message  # Google's raw words are not the message
    assert fake.values(SHEET, LOG_TAB)[0] == list(HEADER)  # nothing written


def test_a_protected_sheet_says_the_whole_sheet(
    fake: FakeSheets, key: Path, tmp_path: Path
) -> None:
    add(fake)
    fake.protect(SHEET, LOG_TAB)
    message = refusal(backend(fake, key, SHEET), tmp_path)
    assert "the whole sheet 'Prospects'" in message


def test_protection_the_account_may_edit_or_that_only_warns_lets_the_cycle_write(
    fake: FakeSheets, key: Path, tmp_path: Path
) -> None:
    add(fake)
    fake.protect(SHEET, LOG_TAB, (0, 0, 1, 30), editors=(DEFAULT_EMAIL,))
    fake.protect(SHEET, LOG_TAB, (0, MANAGED, 1000, MANAGED + 4), warning_only=True)
    with State(tmp_path / "state") as state:
        assert sync(backend(fake, key, SHEET), config(), state, today=TODAY).written


# --- not a Google Sheet, Viewer access, a suspended project, quotas -----------------------


def test_an_excel_file_in_drive_says_save_as_google_sheets(fake: FakeSheets, key: Path) -> None:
    add(fake)
    fake.store_as_xlsx(SHEET)
    with pytest.raises(SourceError) as raised:
        backend(fake, key, SHEET).read()
    message = str(raised.value)
    assert "Excel file" in message
    assert "File > Save as Google Sheets" in message
    assert "[source].spreadsheet_id" in message


@pytest.mark.parametrize("role", ["reader", "commenter"])
def test_a_viewer_can_read_and_is_told_to_share_as_editor(
    fake: FakeSheets, key: Path, tmp_path: Path, role: str
) -> None:
    add(fake, shared_with=set())
    fake.share(SHEET, DEFAULT_EMAIL, role=role)
    gs = backend(fake, key, SHEET)
    assert gs.read().rows  # reading works
    message = refusal(gs, tmp_path)
    assert "Viewer or Commenter" in message
    assert "share it as Editor" in message
    assert "not shared" not in message


def test_a_sheet_not_shared_still_says_not_shared(fake: FakeSheets, key: Path) -> None:
    add(fake, shared_with=set())
    fake.share(SHEET, "someone@clinic.example")
    with pytest.raises(SourceError, match="not shared with the service account"):
        backend(fake, key, SHEET).read()


def test_a_suspended_project_says_so_and_where_to_look(fake: FakeSheets, key: Path) -> None:
    add(fake)
    fake.project_suspended = True
    with pytest.raises(SourceError) as raised:
        backend(fake, key, SHEET).read()
    message = str(raised.value)
    assert "suspended" in message
    assert "Google Cloud console" in message
    assert "not shared" not in message


def test_a_quota_used_up_says_it_passes_and_where_the_quotas_are(
    fake: FakeSheets, key: Path
) -> None:
    add(fake)
    fake.fail_next(429, 100)
    with pytest.raises(SourceError) as raised:
        backend(fake, key, SHEET, sleep=Sleeps()).read()
    message = str(raised.value)
    assert "quota" in message
    assert "next cycle tries again" in message
    assert "Quotas" in message


# --- signing in with a key: the clock, a deleted key or account, sign-in down --------------


@pytest.mark.parametrize("ahead", [2 * 3600, -3 * 3600])
def test_a_wrong_clock_says_the_clock_and_not_a_new_key(
    fake: FakeSheets, key: Path, ahead: float
) -> None:
    add(fake)
    fake.pc_clock_ahead(ahead)
    with pytest.raises(SourceError) as raised:
        backend(fake, key, SHEET).read()
    message = str(raised.value)
    assert "clock is wrong" in message
    way = "ahead of" if ahead > 0 else "behind"
    assert f"about {abs(ahead) // 3600} h 0 min {way} Google's" in message
    assert "new key" not in message
    assert "do not replace it" in message


def test_a_deleted_key_says_create_a_new_key(fake: FakeSheets, key: Path) -> None:
    add(fake)
    fake.revoke(DEFAULT_EMAIL)
    with pytest.raises(SourceError) as raised:
        backend(fake, key, SHEET).read()
    assert "create a new key" in str(raised.value)
    assert "clock" not in str(raised.value)


def test_a_deleted_service_account_says_create_a_new_key(fake: FakeSheets, key: Path) -> None:
    add(fake)
    fake.delete_account(DEFAULT_EMAIL)
    with pytest.raises(SourceError) as raised:
        backend(fake, key, SHEET).read()
    assert "account not found" in str(raised.value)
    assert "create a new key" in str(raised.value)


def test_sign_in_down_is_temporary_not_a_new_key(fake: FakeSheets, key: Path) -> None:
    """google-auth tries the token request three times (about 3 s of waiting) before it gives
    up; then the message says it passes."""
    add(fake)
    fake.sign_in_down(503, times=3)
    with pytest.raises(SourceError) as raised:
        backend(fake, key, SHEET).read()
    message = str(raised.value)
    assert "temporary" in message
    assert "next cycle tries again" in message
    assert "key" not in message
    assert fake.auth.token_requests == 3


def test_sign_in_unreachable_is_temporary_not_a_new_key(
    fake: FakeSheets, key: Path, tmp_path: Path
) -> None:
    add(fake)
    unreachable = tmp_path / "unreachable-key.json"
    text = key.read_text(encoding="utf-8").replace(fake.token_uri, "http://127.0.0.1:9/token")
    unreachable.write_text(text, encoding="utf-8")
    with pytest.raises(SourceError) as raised:
        backend(fake, unreachable, SHEET).read()
    message = str(raised.value)
    assert "could not be reached" in message
    assert "next cycle tries again" in message
    assert "new key" not in message
