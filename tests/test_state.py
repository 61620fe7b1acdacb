"""What sheets-sync remembers between cycles: managed values and the day's digests."""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from sheets_sync.core.sync import Managed
from sheets_sync.errors import SheetsSyncError
from sheets_sync.state import _MIGRATIONS, SCHEMA_VERSION, DigestRecord, State

DAY = date(2026, 11, 24)
SOURCE = "clinic_log.xlsx"
ONE = Managed("2026-11-24", "Step 1/7 · Email · Thank-you note", "DUE TODAY")
TWO = Managed("", "", "CLOSED: Booked")


@pytest.fixture
def state(tmp_path: Path) -> Iterator[State]:
    with State(tmp_path / "state") as opened:
        yield opened


def user_version(folder: Path) -> int:
    db = sqlite3.connect(folder / "state.sqlite3")
    try:
        version: int = db.execute("PRAGMA user_version").fetchone()[0]
        return version
    finally:
        db.close()


def test_new_state_sets_the_schema_version(tmp_path: Path) -> None:
    folder = tmp_path / "nested" / "state"

    with State(folder):
        pass

    assert SCHEMA_VERSION >= 1
    assert user_version(folder) == SCHEMA_VERSION


def test_remember_and_remembered_round_trip(state: State) -> None:
    assert state.remembered(SOURCE) == {}

    state.remember(SOURCE, [("aaaa1111", ONE), ("bbbb2222", TWO)])

    assert state.remembered(SOURCE) == {"aaaa1111": ONE, "bbbb2222": TWO}
    assert state.remembered("another log") == {}


def test_remember_replaces_what_was_remembered(state: State) -> None:
    state.remember(SOURCE, [("aaaa1111", ONE), ("bbbb2222", TWO)])
    state.remember("another log", [("cccc3333", ONE)])

    state.remember(SOURCE, [("bbbb2222", ONE)])

    assert state.remembered(SOURCE) == {"bbbb2222": ONE}
    assert state.remembered("another log") == {"cccc3333": ONE}

    state.remember(SOURCE, [])
    assert state.remembered(SOURCE) == {}


def test_remember_takes_a_generator(state: State) -> None:
    state.remember(SOURCE, ((f"id{n}", ONE) for n in range(3)))

    assert set(state.remembered(SOURCE)) == {"id0", "id1", "id2"}


def test_digest_goes_from_pending_to_sent(state: State) -> None:
    assert state.digest(DAY, "Anna") is None

    state.digest_pending(DAY, "Anna", "<one@clinic.example>")
    assert state.digest(DAY, "Anna") == DigestRecord("<one@clinic.example>", "pending", 0, "")

    state.digest_sent(DAY, "Anna")
    assert state.digest(DAY, "Anna") == DigestRecord("<one@clinic.example>", "sent", 1, "")

    assert state.digest(DAY, "Ben") is None
    assert state.digest(date(2026, 11, 25), "Anna") is None


def test_pending_again_records_the_message_id_of_the_new_send(state: State) -> None:
    # The engine passes the first Message-ID again when it retries; a new one only when it
    # resends on purpose (--force-digest), and then the state must know the new one.
    state.digest_pending(DAY, "Anna", "<one@clinic.example>")
    state.digest_sent(DAY, "Anna")

    state.digest_pending(DAY, "Anna", "<two@clinic.example>")

    assert state.digest(DAY, "Anna") == DigestRecord("<two@clinic.example>", "pending", 1, "")


def test_state_survives_reopening(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    with State(folder) as first:
        first.remember(SOURCE, [("aaaa1111", ONE)])
        first.digest_pending(DAY, "Anna", "<one@clinic.example>")
        first.digest_sent(DAY, "Anna")
        first.digest_pending(DAY, "Ben", "<two@clinic.example>")

    with State(folder) as second:
        assert second.remembered(SOURCE) == {"aaaa1111": ONE}
        assert second.digest(DAY, "Anna") == DigestRecord("<one@clinic.example>", "sent", 1, "")
        assert second.digest(DAY, "Ben") == DigestRecord("<two@clinic.example>", "pending", 0, "")

    assert user_version(folder) == SCHEMA_VERSION


def make_newer(folder: Path) -> None:
    folder.mkdir(parents=True)
    db = sqlite3.connect(folder / "state.sqlite3")
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.commit()
    db.close()


def test_newer_schema_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    make_newer(folder)

    with pytest.raises(Exception, match="newer sheets-sync") as caught:
        State(folder)

    assert str(folder) in str(caught.value)
    assert user_version(folder) == SCHEMA_VERSION + 1


def test_newer_schema_error_is_a_sheets_sync_error(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    make_newer(folder)

    with pytest.raises(SheetsSyncError):
        State(folder)


def test_a_state_file_of_schema_2_is_migrated_and_keeps_its_digests(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    folder.mkdir()
    db = sqlite3.connect(folder / "state.sqlite3")
    db.executescript(
        """
        CREATE TABLE written (source TEXT, sync_id TEXT, next_touch TEXT, next_action TEXT,
            follow_up_status TEXT, PRIMARY KEY (source, sync_id));
        CREATE TABLE digests (day TEXT, recipient TEXT, message_id TEXT,
            status TEXT CHECK (status IN ('pending', 'sent')), PRIMARY KEY (day, recipient));
        CREATE TABLE synced (source TEXT PRIMARY KEY, version TEXT, day TEXT, settings TEXT);
        INSERT INTO digests VALUES ('2026-11-24', 'owner-anna', '<one@clinic.example>', 'sent');
        PRAGMA user_version = 2;
        """
    )
    db.close()

    with State(folder) as state:
        assert state.digest(DAY, "owner-anna") == DigestRecord(
            "<one@clinic.example>", "sent", 0, ""
        )
        state.digest_pending(DAY, "owner-ben", "<two@clinic.example>")
        state.digest_failed(DAY, "owner-ben", "550 no such user", for_good=True)
        assert state.digest(DAY, "owner-ben") == DigestRecord(
            "<two@clinic.example>", "failed", 1, "550 no such user"
        )
        assert state.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_the_state_folder_is_private_to_its_user(tmp_path: Path) -> None:
    """It holds patient details: remembered follow-ups, backups, previews, errors."""
    made = tmp_path / "new" / "state"
    opened = tmp_path / "opened"
    opened.mkdir(mode=0o755)
    opened.chmod(0o775)  # as a shared folder an IT person made might be

    for folder in (made, opened):
        with State(folder):
            pass
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


def test_every_value_ever_written_is_remembered_once_with_overdue_by_its_shape(
    state: State,
) -> None:
    state.remember(SOURCE, [("aaaa1111", ONE)])
    late = Managed("2026-11-24", ONE.next_action, "OVERDUE 3d")
    later = Managed("2026-11-24", ONE.next_action, "OVERDUE 4d")
    state.remember(SOURCE, [("aaaa1111", late)])
    state.remember(SOURCE, [("aaaa1111", later)])
    state.remember("another log", [("aaaa1111", TWO)])

    assert state.written_before(SOURCE) == {
        "aaaa1111": frozenset(
            {
                ("next_touch", "2026-11-24"),
                ("next_action", ONE.next_action),
                ("follow_up_status", "DUE TODAY"),
                ("follow_up_status", "OVERDUE <n>d"),
            }
        )
    }
    assert state.written_before("another log") == {
        "aaaa1111": frozenset({("follow_up_status", "CLOSED: Booked")})
    }
    assert state.db.execute("SELECT count(*) FROM written_before").fetchone()[0] == 5


def test_values_of_a_write_under_way_are_remembered_as_written_before(state: State) -> None:
    state.remember_writing(SOURCE, [("aaaa1111", TWO)])
    assert state.written_before(SOURCE) == {
        "aaaa1111": frozenset({("follow_up_status", "CLOSED: Booked")})
    }


def test_a_state_file_of_schema_7_gets_its_history_from_what_was_written(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    folder.mkdir()
    db = sqlite3.connect(folder / "state.sqlite3")
    for migration in _MIGRATIONS[:7]:
        for statement in migration.split(";"):
            db.execute(statement)
    db.executemany(
        "INSERT INTO written VALUES (?, ?, ?, ?, ?)",
        [
            (SOURCE, "aaaa1111", "2026-11-20", "Step 2/7 · Call · Follow-up call", "OVERDUE 12d"),
            (SOURCE, "bbbb2222", "", "", "CLOSED: won"),
            (SOURCE, "cccc3333", "", "", "OVERDUE soon"),  # not the shape the daemon writes
        ],
    )
    db.execute(
        "INSERT INTO writing VALUES (?, ?, ?, ?, ?)",
        (SOURCE, "aaaa1111", "2026-11-20", "Step 2/7 · Call · Follow-up call", "OVERDUE 13d"),
    )
    db.execute("PRAGMA user_version = 7")
    db.commit()
    db.close()

    with State(folder) as state:
        assert user_version(folder) == SCHEMA_VERSION
        assert state.written_before(SOURCE) == {
            "aaaa1111": frozenset(
                {
                    ("next_touch", "2026-11-20"),
                    ("next_action", "Step 2/7 · Call · Follow-up call"),
                    ("follow_up_status", "OVERDUE <n>d"),
                }
            ),
            "bbbb2222": frozenset({("follow_up_status", "CLOSED: won")}),
            "cccc3333": frozenset({("follow_up_status", "OVERDUE soon")}),
        }
        assert state.remembered(SOURCE)["bbbb2222"] == Managed("", "", "CLOSED: won")
