"""The touch log (SPEC §8): kept in the state, only ever added to; staff edits between cycles
logged once, across restarts, crashes, restores of an older copy and re-sorts."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest

from sheets_sync.backends.memory import MemoryBackend
from sheets_sync.config import Config, parse_config
from sheets_sync.core.touches import SeenCells, Touch, edits_between
from sheets_sync.core.values import CellValue
from sheets_sync.engine import send_digests, sync
from sheets_sync.mail.outbox import Outbox
from sheets_sync.state import State

REPO = Path(__file__).resolve().parents[1]
MONDAY = date(2026, 11, 23)
TUESDAY = date(2026, 11, 24)
WEDNESDAY = date(2026, 11, 25)

HEADER: list[CellValue] = [
    "Name",
    "Owner",
    "Consultation date",
    "Status",
    "Last touch",
    "Touches",
    "Snooze until",
]
NAME, OWNER, STATUS, LAST_TOUCH, TOUCHES, SNOOZE = 0, 1, 3, 4, 5, 6
SYNC_ID = 10  # after the three managed columns the first sync adds


def log_rows() -> list[list[CellValue]]:
    return [
        HEADER,
        ["Ann Ames", "Anna", date(2026, 11, 2), "Open", date(2026, 11, 4), 2, None],
        ["Bob Brown", "Ben", date(2026, 11, 9), "Open", None, 0, None],
    ]


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return parse_config(
        {
            "source": {"kind": "xlsx", "path": "log.xlsx"},
            "plans": {"file": str(REPO / "sheets_sync" / "plans.toml")},
            "mail": {"outbox": "outbox", "from": "Clinic <followups@clinic.example>"},
            "daemon": {"state_dir": "state"},
        },
        base_dir=tmp_path,
    )


@pytest.fixture
def state(tmp_path: Path) -> Iterator[State]:
    with State(tmp_path / "state") as opened:
        yield opened


@pytest.fixture
def backend() -> MemoryBackend:
    return MemoryBackend(log_rows())


def sync_id(backend: MemoryBackend, name: str) -> str:
    row = next(cells for cells in backend.rows if cells[NAME] == name)
    value = row[SYNC_ID]
    assert isinstance(value, str)
    return value


def row_of(backend: MemoryBackend, name: str) -> int:
    return next(n for n, cells in enumerate(backend.rows, start=1) if cells[NAME] == name)


def logged(state: State, backend: MemoryBackend) -> list[tuple[str, str, date, str, str]]:
    return [
        (t.sync_id, t.kind, t.happened, t.channel, t.value)
        for t in state.touches(backend.description)
    ]


# --- the state ------------------------------------------------------------------------------

A_TOUCH = Touch("1a2b3c4d", "touch", MONDAY, TUESDAY, "edited", "Call", "wants finance options")
A_STATUS = Touch("1a2b3c4d", "status", TUESDAY, TUESDAY, "typed", value="won")
ANOTHER = Touch("5e6f7a8b", "snooze", TUESDAY, TUESDAY, "edited", value="2026-12-03")


def test_touches_round_trip_through_the_state_and_survive_a_restart(tmp_path: Path) -> None:
    with State(tmp_path / "state") as state:
        state.record_touches("log.xlsx", [A_TOUCH, A_STATUS])
        state.record_touches("log.xlsx", [ANOTHER])
        state.record_touches("other.xlsx", [A_TOUCH])
    with State(tmp_path / "state") as state:
        assert state.touches("log.xlsx") == [A_TOUCH, A_STATUS, ANOTHER]
        assert state.touches("log.xlsx", "1a2b3c4d") == [A_TOUCH, A_STATUS]
        assert state.touches("log.xlsx", since=TUESDAY) == [A_STATUS, ANOTHER]
        assert state.touches("other.xlsx") == [A_TOUCH]


def test_the_touch_log_is_only_added_to(state: State) -> None:
    state.record_touches("log.xlsx", [A_TOUCH])
    with pytest.raises(sqlite3.IntegrityError, match="only added to"):
        state.db.execute("UPDATE touches SET note = 'changed'")
    with pytest.raises(sqlite3.IntegrityError, match="only added to"):
        state.db.execute("DELETE FROM touches")
    state.record_touches("log.xlsx", [A_TOUCH])  # the same again is a second entry
    assert state.touches("log.xlsx") == [A_TOUCH, A_TOUCH]


def test_seen_cells_are_replaced_with_what_remember_is_given(state: State) -> None:
    first = SeenCells("2026-11-04", "2", "active", "", "Anna", "Call")
    state.remember("log.xlsx", [], seen={"1a2b3c4d": first}, touches=[A_TOUCH])
    later = SeenCells("2026-11-20", "3", "won", "", "Anna", "")
    state.remember("log.xlsx", [], seen={"5e6f7a8b": later})
    assert state.seen_cells("log.xlsx") == {"5e6f7a8b": later}
    assert state.touches("log.xlsx") == [A_TOUCH]


# --- edits between two cycles, pure -----------------------------------------------------------

BEFORE = SeenCells("2026-11-04", "2", "active", "", "Anna", "Call")


def edits(now: SeenCells, logged: list[Touch] | None = None) -> list[Touch]:
    return edits_between({"id": BEFORE}, {"id": now}, TUESDAY, logged or [])


def edited(kind: str, happened: date, channel: str = "", value: str = "") -> Touch:
    return Touch("id", kind, happened, TUESDAY, "edited", channel, value=value)  # type: ignore[arg-type]


def test_a_last_touch_moved_later_is_a_touch_on_that_day_by_the_due_step_channel() -> None:
    moved = SeenCells("2026-11-20", "2", "active", "", "Anna", "Email")
    assert edits(moved) == [edited("touch", date(2026, 11, 20), "Call")]


def test_touches_going_up_is_a_touch_today_and_with_last_touch_one_touch() -> None:
    up = SeenCells("2026-11-04", "4", "active", "", "Anna", "Email")
    assert edits(up) == [edited("touch", TUESDAY, "Call")]
    both = SeenCells("2026-11-20", "3", "active", "", "Anna", "Email")
    assert edits(both) == [edited("touch", date(2026, 11, 20), "Call")]


def test_a_status_class_snooze_and_owner_change_are_each_logged() -> None:
    changed = SeenCells("2026-11-04", "2", "won", "2026-12-03", "Ben", "Call")
    assert edits(changed) == [
        edited("status", TUESDAY, value="won"),
        edited("owner", TUESDAY, value="Ben"),
        edited("snooze", TUESDAY, value="2026-12-03"),
    ]
    cleared = edits_between({"id": changed}, {"id": BEFORE}, TUESDAY)
    assert edited("snooze", TUESDAY, value="") in cleared


def test_unchanged_cells_a_new_prospect_or_an_owner_recased_log_nothing() -> None:
    assert edits(BEFORE) == []
    assert edits(SeenCells("2026-11-04", "2", "active", "", " anna ", "Call")) == []
    assert edits_between({}, {"id": BEFORE}, TUESDAY) == []


def test_an_older_copy_of_a_row_logs_nothing() -> None:
    """A restore shows older cells: an earlier Last touch, fewer Touches, and with them an
    older status; none of it is staff's doing."""
    older = SeenCells("2026-11-02", "1", "won", "", "Anna", "Email")
    assert edits(older) == []
    fewer = SeenCells("2026-11-04", "1", "lost", "", "Anna", "Email")
    assert edits(fewer) == []


def test_what_the_log_already_holds_is_not_logged_again() -> None:
    again = SeenCells("2026-11-20", "3", "won", "", "Anna", "Email")
    already = [edited("touch", date(2026, 11, 20), "Call"), edited("status", MONDAY, value="won")]
    assert edits(again, already) == []


# --- edits seen by the engine -------------------------------------------------------------


def test_an_edit_is_logged_once_across_two_cycles_and_a_restart(
    tmp_path: Path, backend: MemoryBackend, config: Config, state: State
) -> None:
    sync(backend, config, state, today=MONDAY)
    assert logged(state, backend) == []
    backend.edit(row_of(backend, "Ann Ames"), LAST_TOUCH, MONDAY)
    backend.edit(row_of(backend, "Bob Brown"), STATUS, "Booked - 12/12")
    sync(backend, config, state, today=TUESDAY)
    sync(backend, config, state, today=TUESDAY)
    with State(tmp_path / "state") as restarted:
        sync(backend, config, restarted, today=WEDNESDAY)
    ann, bob = sync_id(backend, "Ann Ames"), sync_id(backend, "Bob Brown")
    assert logged(state, backend) == [
        (ann, "touch", MONDAY, "Email", ""),  # step 3 of the standard plan was due
        (bob, "status", TUESDAY, "", "won"),
    ]


def test_a_dry_run_records_nothing(backend: MemoryBackend, config: Config, state: State) -> None:
    sync(backend, config, state, today=MONDAY)
    backend.edit(row_of(backend, "Ann Ames"), TOUCHES, 3)
    sync(backend, config, state, today=TUESDAY, dry_run=True)
    assert logged(state, backend) == []
    sync(backend, config, state, today=TUESDAY)
    assert logged(state, backend) == [(sync_id(backend, "Ann Ames"), "touch", TUESDAY, "Email", "")]


def test_a_crash_before_the_state_commit_leaves_the_edit_to_the_next_cycle(
    tmp_path: Path,
    backend: MemoryBackend,
    config: Config,
    state: State,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sync(backend, config, state, today=MONDAY)
    backend.edit(row_of(backend, "Bob Brown"), SNOOZE, date(2026, 12, 3))

    def killed(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # the process stops between the write and the state's commit

    with monkeypatch.context() as patched:
        patched.setattr(State, "remember", killed)
        with pytest.raises(KeyboardInterrupt):
            sync(backend, config, state, today=TUESDAY)
    assert logged(state, backend) == []
    with State(tmp_path / "state") as restarted:
        sync(backend, config, restarted, today=TUESDAY)
        sync(backend, config, restarted, today=TUESDAY)
    assert logged(state, backend) == [
        (sync_id(backend, "Bob Brown"), "snooze", TUESDAY, "", "2026-12-03")
    ]


def test_a_restored_older_copy_logs_nothing_and_touches_typed_again_are_not_counted_twice(
    backend: MemoryBackend, config: Config, state: State
) -> None:
    sync(backend, config, state, today=MONDAY)
    older = [list(row) for row in backend.rows]
    ann = row_of(backend, "Ann Ames")
    backend.edit(ann, LAST_TOUCH, MONDAY)
    backend.edit(ann, TOUCHES, 3)
    backend.edit(ann, STATUS, "Booked")
    sync(backend, config, state, today=MONDAY)
    first = logged(state, backend)
    assert [kind for _, kind, *_ in first] == ["touch", "status"]

    backend.rows = [list(row) for row in older]  # someone restores Monday morning's copy
    backend.generation += 1
    sync(backend, config, state, today=TUESDAY)
    assert logged(state, backend) == first

    backend.edit(ann, LAST_TOUCH, MONDAY)  # staff type Monday's call and booking again
    backend.edit(ann, TOUCHES, 3)
    backend.edit(ann, STATUS, "Booked")
    sync(backend, config, state, today=WEDNESDAY)
    assert logged(state, backend) == first
    backend.edit(ann, LAST_TOUCH, WEDNESDAY)  # and a new touch is one (booked: no step due)
    sync(backend, config, state, today=WEDNESDAY)
    assert logged(state, backend)[len(first) :] == [
        (sync_id(backend, "Ann Ames"), "touch", WEDNESDAY, "", "")
    ]


def test_a_resorted_log_logs_each_edit_on_its_own_prospect(
    backend: MemoryBackend, config: Config, state: State
) -> None:
    sync(backend, config, state, today=MONDAY)
    ann, bob = sync_id(backend, "Ann Ames"), sync_id(backend, "Bob Brown")
    header, *prospects = backend.rows
    backend.rows = [header, *reversed(prospects)]  # staff sort the whole rows by name, Z-A
    backend.generation += 1
    sync(backend, config, state, today=TUESDAY)
    assert logged(state, backend) == []
    backend.edit(row_of(backend, "Bob Brown"), OWNER, "Anna")
    backend.rows[1:] = reversed(backend.rows[1:])  # and back
    sync(backend, config, state, today=TUESDAY)
    assert logged(state, backend) == [(bob, "owner", TUESDAY, "", "Anna")]
    assert sync_id(backend, "Ann Ames") == ann


# --- the manager's summary ----------------------------------------------------------------


def managers_summary(
    tmp_path: Path, backend: MemoryBackend, config: Config, state: State, day: date
) -> EmailMessage:
    """The manager's summary sent on `day`, after that day's sync."""
    report = sync(backend, config, state, today=day)
    with_manager = replace(
        config, mail=replace(config.mail, manager="Manager <boss@clinic.example>")
    )
    outbox = Outbox(tmp_path / f"outbox-{day}")
    now = datetime(day.year, day.month, day.day, 8, tzinfo=UTC)
    send_digests(report, with_manager, state, outbox, today=day, now=now)
    (path,) = outbox.folder.glob("*manager*.eml")
    message = message_from_bytes(path.read_bytes(), policy=default)
    assert isinstance(message, EmailMessage)
    return message


def parts(message: EmailMessage) -> tuple[str, str]:
    text, html = (message.get_body((kind,)) for kind in ("plain", "html"))
    assert isinstance(text, EmailMessage)
    assert isinstance(html, EmailMessage)
    return text.get_content(), html.get_content()


def test_the_managers_summary_counts_each_owners_touches_logged_yesterday(
    tmp_path: Path, backend: MemoryBackend, config: Config, state: State
) -> None:
    sync(backend, config, state, today=MONDAY)
    backend.edit(row_of(backend, "Ann Ames"), LAST_TOUCH, MONDAY)
    backend.edit(row_of(backend, "Ann Ames"), STATUS, "Booked")  # a change, not a touch
    sync(backend, config, state, today=TUESDAY)
    backend.edit(row_of(backend, "Ann Ames"), TOUCHES, 5)  # seen on Wednesday: not yesterday's
    text, html = parts(managers_summary(tmp_path, backend, config, state, WEDNESDAY))
    assert "Touches logged yesterday\n========================\n- Anna: 1\n- Ben: 0\n" in text
    assert "Touches logged yesterday</h2>" in html
    assert "<bdi>Anna</bdi>: 1</li>" in html
    assert "<bdi>Ben</bdi>: 0</li>" in html


def test_on_a_monday_the_managers_summary_counts_the_touches_since_friday(
    tmp_path: Path, backend: MemoryBackend, config: Config, state: State
) -> None:
    friday, saturday, monday = date(2026, 11, 27), date(2026, 11, 28), date(2026, 11, 30)
    sync(backend, config, state, today=friday)
    backend.edit(row_of(backend, "Bob Brown"), LAST_TOUCH, friday)
    sync(backend, config, state, today=friday)
    backend.edit(row_of(backend, "Bob Brown"), LAST_TOUCH, saturday)
    sync(backend, config, state, today=saturday)
    text, _ = parts(managers_summary(tmp_path, backend, config, state, monday))
    assert "Touches logged since Fri 27 Nov\n" in text
    assert "- Anna: 0\n- Ben: 2\n" in text
