"""The cycle (SPEC §5, §6): sync against a log held in memory, then the day's digests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sheets_sync.backends.base import Snapshot, SourceChanged, SourceError
from sheets_sync.backends.memory import MemoryBackend
from sheets_sync.config import Config, parse_config
from sheets_sync.core.sync import Changes
from sheets_sync.core.values import CellValue
from sheets_sync.engine import (
    CycleReport,
    SuspiciousChange,
    digest_messages,
    send_digests,
    sync,
    unchanged_since_last_sync,
)
from sheets_sync.mail.deliver import TemporaryFailure
from sheets_sync.mail.outbox import Outbox
from sheets_sync.state import State

REPO = Path(__file__).resolve().parents[1]
PLANS = REPO / "sheets_sync" / "plans.toml"
TODAY = date(2026, 11, 24)  # a Tuesday
SATURDAY = date(2026, 11, 28)
NOW = datetime(2026, 11, 24, 7, 30, tzinfo=ZoneInfo("Europe/London"))

HEADER: list[CellValue] = [
    "Name",
    "Owner",
    "Consultation date",
    "Status",
    "Last touch",
    "Touches",
    "Value",
]
STAFF = [
    ["Name", "Email"],
    ["Anna", "anna@clinic.example"],
    ["Ben", "ben@clinic.example"],
    ["Cat", "cat@clinic.example"],
]


def log_rows() -> list[list[CellValue]]:
    """Anna: one overdue, one due today; Ben: one due today; Cat: only upcoming."""
    return [
        HEADER,
        ["Ann Ames", "Anna", date(2026, 11, 20), "Open", date(2026, 11, 20), 1, 500],
        ["Bob Brown", "Anna", TODAY, "Open", None, 0, 500],
        ["Cy Cole", "Ben", TODAY, "Open", None, 0, 500],
        ["Di Dunn", "Cat", date(2026, 11, 23), "Open", date(2026, 11, 23), 1, 500],
    ]


def make_config(tmp_path: Path, *, manager: bool = True) -> Config:
    mail: dict[str, object] = {
        "outbox": "outbox",
        "from": "Riverside Aesthetics <followups@riverside.example>",
    }
    if manager:
        mail["manager"] = "Manager <manager@riverside.example>"
    return parse_config(
        {
            "source": {"kind": "xlsx", "path": "log.xlsx"},
            "plans": {"file": str(PLANS)},
            "mail": mail,
            "daemon": {"state_dir": "state"},
        },
        base_dir=tmp_path,
    )


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path)


@pytest.fixture
def state(tmp_path: Path) -> Iterator[State]:
    with State(tmp_path / "state") as opened:
        yield opened


@pytest.fixture
def backend() -> MemoryBackend:
    return MemoryBackend(log_rows(), STAFF)


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    return Outbox(tmp_path / "outbox")


def emls(outbox: Outbox) -> list[str]:
    if not outbox.folder.exists():
        return []
    return sorted(path.name for path in outbox.folder.glob("*.eml"))


def parsed(path: Path) -> EmailMessage:
    message = message_from_bytes(path.read_bytes(), policy=default)
    assert isinstance(message, EmailMessage)
    return message


def synced(backend: MemoryBackend, config: Config, state: State, day: date = TODAY) -> CycleReport:
    return sync(backend, config, state, today=day)


# --- sync ----------------------------------------------------------------------------------


def test_sync_writes_then_the_next_sync_writes_nothing(
    backend: MemoryBackend, config: Config, state: State
) -> None:
    first = synced(backend, config, state)

    assert first.written
    assert first.waiting is None
    assert first.rows == 4
    assert first.cells_changed > 0
    assert backend.writes == 1
    assert backend.rows[0][len(HEADER) :] == [
        "Next touch",
        "Next action",
        "Follow-up status",
        "Sync ID",
    ]
    assert [row[len(HEADER) + 2] for row in backend.rows[1:]] == [
        "OVERDUE 1d",
        "DUE TODAY",
        "DUE TODAY",
        "UPCOMING",
    ]
    remembered = state.remembered(backend.description)
    assert set(remembered) == {row.sync_id for row in first.plan.rows}

    second = synced(backend, config, state)

    assert not second.written
    assert second.cells_changed == 0
    assert backend.writes == 1


def test_dry_run_writes_and_remembers_nothing(
    backend: MemoryBackend, config: Config, state: State
) -> None:
    before = [list(row) for row in backend.rows]

    report = sync(backend, config, state, today=TODAY, dry_run=True)

    assert not report.written
    assert report.cells_changed > 0
    assert backend.rows == before
    assert state.remembered(backend.description) == {}


class ChangesOnce(MemoryBackend):
    """A person saves the log between the cycle's first read and its write."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.reads = 0

    def read(self) -> Snapshot:
        snapshot = super().read()
        self.reads += 1
        if self.reads == 1:
            self.edit(5, 0, "Di Dunn-Smith")
        return snapshot


class RaisesChangedOnce(MemoryBackend):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.attempts = 0

    def write(self, changes: Changes, version: str) -> bool:
        self.attempts += 1
        if self.attempts == 1:
            raise SourceChanged("someone saved the log")
        return super().write(changes, version)


class AlwaysChanging(MemoryBackend):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.reads = 0

    def read(self) -> Snapshot:
        snapshot = super().read()
        self.reads += 1
        self.edit(5, 0, f"Di Dunn {self.reads}")
        return snapshot


def test_edit_between_read_and_write_reads_again_and_keeps_the_edit(
    config: Config, state: State
) -> None:
    backend = ChangesOnce(log_rows(), STAFF)

    report = synced(backend, config, state)

    assert backend.reads == 2
    assert report.written
    assert backend.writes == 1
    assert backend.rows[4][0] == "Di Dunn-Smith"
    assert report.snapshot.rows[4][0] == "Di Dunn-Smith"
    assert state.remembered(backend.description)


def test_source_changed_on_first_write_retries_and_succeeds(config: Config, state: State) -> None:
    backend = RaisesChangedOnce(log_rows(), STAFF)

    report = synced(backend, config, state)

    assert backend.attempts == 2
    assert report.written
    assert backend.writes == 1
    assert len(state.remembered(backend.description)) == 4


def test_log_that_keeps_changing_gives_up_after_three_reads(config: Config, state: State) -> None:
    backend = AlwaysChanging(log_rows(), STAFF)

    with pytest.raises(SourceError, match="changed 3 times") as caught:
        synced(backend, config, state)

    assert not isinstance(caught.value, SourceChanged)
    assert backend.reads == 3
    assert backend.writes == 0
    assert all(len(row) == len(HEADER) for row in backend.rows)
    assert state.remembered(backend.description) == {}


def test_busy_log_waits_and_remembers_nothing(
    backend: MemoryBackend, config: Config, state: State
) -> None:
    backend.busy = True
    before = [list(row) for row in backend.rows]

    report = synced(backend, config, state)

    assert not report.written
    assert report.waiting == "the log is open elsewhere"
    assert backend.rows == before
    assert state.remembered(backend.description) == {}

    backend.busy = False
    assert synced(backend, config, state).written


# --- digests -------------------------------------------------------------------------------


def test_each_owner_with_something_due_gets_one_digest_and_the_manager_a_summary(
    backend: MemoryBackend, config: Config, state: State, outbox: Outbox
) -> None:
    report = synced(backend, config, state)

    sent = send_digests(report, config, state, outbox, today=TODAY, now=NOW).sent

    assert sorted(sent) == ["manager", "owner-anna", "owner-ben"]
    assert emls(outbox) == [
        "2026-11-24-manager.eml",
        "2026-11-24-owner-anna.eml",
        "2026-11-24-owner-ben.eml",
    ]
    recipients = {str(parsed(outbox.folder / name)["To"]) for name in emls(outbox)}
    assert "Cat <cat@clinic.example>" not in recipients
    assert "Anna <anna@clinic.example>" in recipients
    for recipient in sent:
        assert state.digest(TODAY, recipient) is not None
        record = state.digest(TODAY, recipient)
        assert record is not None
        assert record.status == "sent"


def test_no_manager_configured_means_no_summary(
    backend: MemoryBackend, tmp_path: Path, state: State, outbox: Outbox
) -> None:
    config = make_config(tmp_path, manager=False)
    report = synced(backend, config, state)

    sent = send_digests(report, config, state, outbox, today=TODAY, now=NOW).sent

    assert sorted(sent) == ["owner-anna", "owner-ben"]
    assert len(emls(outbox)) == 2


def test_digest_parses_back_with_subject_parts_and_headers(
    backend: MemoryBackend, config: Config, state: State, outbox: Outbox
) -> None:
    report = synced(backend, config, state)
    send_digests(report, config, state, outbox, today=TODAY, now=NOW)

    message = parsed(outbox.folder / "2026-11-24-owner-anna.eml")

    assert message["Subject"] == "Follow-ups for Tue 24 Nov: 1 overdue, 1 due today"
    assert str(message["To"]) == "Anna <anna@clinic.example>"
    assert "followups@riverside.example" in str(message["From"])
    assert message["Message-ID"].startswith("<")
    assert message["Message-ID"].endswith("@riverside.example>")
    assert message["Date"].datetime == NOW
    assert len(message.get_all("Message-ID") or []) == 1
    assert len(message.get_all("Date") or []) == 1
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    # Overdue first, then due today.
    plain = text.get_content()
    assert "Ann Ames" in plain
    assert "Bob Brown" in plain
    assert plain.index("Ann Ames") < plain.index("Bob Brown")
    assert "Bob Brown" in html.get_content()

    ben = parsed(outbox.folder / "2026-11-24-owner-ben.eml")
    assert ben["Subject"] == "Follow-ups for Tue 24 Nov: 1 due today"
    ids = {parsed(outbox.folder / name)["Message-ID"] for name in emls(outbox)}
    assert len(ids) == 3


def test_second_send_the_same_day_sends_nothing(
    backend: MemoryBackend, config: Config, state: State, outbox: Outbox
) -> None:
    report = synced(backend, config, state)
    send_digests(report, config, state, outbox, today=TODAY, now=NOW)
    for path in outbox.folder.iterdir():
        path.unlink()

    again = send_digests(
        synced(backend, config, state), config, state, outbox, today=TODAY, now=NOW
    )

    assert again.sent == []
    assert emls(outbox) == []


def test_digests_are_sent_once_per_day_across_reopening_the_state(
    backend: MemoryBackend, config: Config, tmp_path: Path, outbox: Outbox
) -> None:
    with State(tmp_path / "state") as first:
        send_digests(synced(backend, config, first), config, first, outbox, today=TODAY, now=NOW)
    with State(tmp_path / "state") as second:
        report = synced(backend, config, second)
        assert send_digests(report, config, second, outbox, today=TODAY, now=NOW).sent == []
        # The next open day is a new day.
        tomorrow = date(2026, 11, 25)
        report = synced(backend, config, second, tomorrow)
        assert send_digests(report, config, second, outbox, today=tomorrow, now=NOW).sent


def test_force_resends(
    backend: MemoryBackend, config: Config, state: State, outbox: Outbox
) -> None:
    report = synced(backend, config, state)
    send_digests(report, config, state, outbox, today=TODAY, now=NOW)
    for path in outbox.folder.iterdir():
        path.unlink()

    again = send_digests(report, config, state, outbox, today=TODAY, now=NOW, force=True).sent

    assert sorted(again) == ["manager", "owner-anna", "owner-ben"]
    assert len(emls(outbox)) == 3


def test_pending_digest_is_resent_with_the_same_message_id(
    backend: MemoryBackend, config: Config, state: State, outbox: Outbox
) -> None:
    # A crash between recording the digest as pending and marking it sent.
    state.digest_pending(TODAY, "owner-anna", "<fixed-id@riverside.example>")
    report = synced(backend, config, state)

    sent = send_digests(report, config, state, outbox, today=TODAY, now=NOW).sent

    assert "owner-anna" in sent
    message = parsed(outbox.folder / "2026-11-24-owner-anna.eml")
    assert message["Message-ID"] == "<fixed-id@riverside.example>"
    record = state.digest(TODAY, "owner-anna")
    assert record is not None
    assert (record.message_id, record.status) == ("<fixed-id@riverside.example>", "sent")


def test_failed_send_is_retried_next_time(
    backend: MemoryBackend, config: Config, state: State, outbox: Outbox
) -> None:
    class Failing:
        def send(self, message: EmailMessage, key: str) -> Path:
            raise TemporaryFailure("the outbox folder cannot be written: disk full")

        def close(self) -> None:
            pass

    report = synced(backend, config, state)
    failed = send_digests(
        report, config, state, Failing(), today=TODAY, now=NOW, sleep=lambda _: None
    )
    assert sorted(failed.waiting) == ["manager", "owner-anna", "owner-ben"]
    pending = state.digest(TODAY, "owner-anna")
    assert pending is not None
    assert pending.status == "pending"
    assert "disk full" in pending.error

    sent = send_digests(report, config, state, outbox, today=TODAY, now=NOW).sent

    assert sorted(sent) == ["manager", "owner-anna", "owner-ben"]
    record = state.digest(TODAY, "owner-anna")
    assert record is not None
    assert (record.message_id, record.status) == (pending.message_id, "sent")


def test_an_owner_written_first_as_an_address_then_as_a_name_gets_one_digest(
    config: Config, state: State, outbox: Outbox
) -> None:
    """Anna's digest waits for a retry; meanwhile Ben's rows change from his address to
    his name. The retry round must not send Ben a second digest."""

    class AnnaFails:
        def send(self, message: EmailMessage, key: str) -> Path:
            if "anna@" in str(message["To"]):
                raise TemporaryFailure("mailbox busy")
            return outbox.send(message, key)

        def close(self) -> None:
            pass

    rows = log_rows()
    rows[3][1] = "ben@clinic.example"
    backend = MemoryBackend(rows, STAFF)
    first = send_digests(
        synced(backend, config, state),
        config,
        state,
        AnnaFails(),
        today=TODAY,
        now=NOW,
        sleep=lambda _: None,
    )
    assert sorted(first.sent) == ["manager", "owner-ben"]
    backend.edit(4, 1, "Ben")

    second = send_digests(
        synced(backend, config, state), config, state, outbox, today=TODAY, now=NOW
    )

    assert second.sent == ["owner-anna"]
    assert len([name for name in emls(outbox) if "ben" in name]) == 1


def test_no_digests_on_a_closed_day(
    backend: MemoryBackend, config: Config, state: State, outbox: Outbox
) -> None:
    report = synced(backend, config, state, SATURDAY)

    assert digest_messages(report, config, SATURDAY) == []
    assert send_digests(report, config, state, outbox, today=SATURDAY, now=NOW).sent == []
    assert emls(outbox) == []


def test_digest_messages_sends_nothing(
    backend: MemoryBackend, config: Config, state: State, outbox: Outbox
) -> None:
    report = synced(backend, config, state)

    messages = digest_messages(report, config, TODAY)

    assert [recipient for recipient, _ in messages] == ["owner-anna", "owner-ben", "manager"]
    assert state.digest(TODAY, "owner-anna") is None
    assert emls(outbox) == []


def test_owner_named_manager_does_not_collide_with_the_summary(
    config: Config, state: State, outbox: Outbox
) -> None:
    rows = log_rows()
    rows.append(["Eve Evans", "Manager", TODAY, "Open", None, 0, 500])
    backend = MemoryBackend(rows, [*STAFF, ["Manager", "frontdesk@clinic.example"]])
    report = synced(backend, config, state)

    sent = send_digests(report, config, state, outbox, today=TODAY, now=NOW).sent

    assert sorted(sent) == ["manager", "owner-anna", "owner-ben", "owner-manager"]
    assert len(emls(outbox)) == 4


# --- an unchanged log needs no sync ------------------------------------------------------


def test_a_log_just_synced_is_unchanged_until_someone_edits_it(
    backend: MemoryBackend, config: Config, state: State
) -> None:
    assert not unchanged_since_last_sync(backend, config, state, today=TODAY)
    synced(backend, config, state)
    assert unchanged_since_last_sync(backend, config, state, today=TODAY)

    backend.edit(2, 3, "Booked")

    assert not unchanged_since_last_sync(backend, config, state, today=TODAY)


def test_a_new_day_or_new_settings_need_a_sync(
    backend: MemoryBackend, config: Config, state: State
) -> None:
    synced(backend, config, state)
    assert not unchanged_since_last_sync(backend, config, state, today=TODAY + timedelta(days=1))
    other = replace(config, plans=replace(config.plans, min_gap_days=5))
    assert not unchanged_since_last_sync(backend, other, state, today=TODAY)


def test_a_write_that_had_to_wait_is_not_taken_as_a_finished_sync(
    backend: MemoryBackend, config: Config, state: State
) -> None:
    backend.busy = True
    report = synced(backend, config, state)
    assert report.waiting
    assert not unchanged_since_last_sync(backend, config, state, today=TODAY)


def test_the_settings_key_is_the_same_in_every_process(tmp_path: Path) -> None:
    # Hash randomisation reorders sets of dates (the holidays) from one process to the next;
    # the key must not follow, or no later run would ever see the log as unchanged.
    script = (
        "import sys; from pathlib import Path; from sheets_sync.config import load_config; "
        "from sheets_sync.engine import settings_key; "
        "print(settings_key(load_config(Path(sys.argv[1]))))"
    )
    keys = {
        subprocess.run(
            [sys.executable, "-c", script, str(REPO / "config" / "sheets_sync.toml")],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(keys) == 1


# --- a log that suddenly looks wrong is not written ------------------------------------------


def test_a_log_that_lost_most_of_its_prospects_is_not_written(config: Config, state: State) -> None:
    backend = MemoryBackend(log_rows(), STAFF)
    synced(backend, config, state)
    writes = backend.writes
    for row in range(3, 6):  # three of the four prospects cleared out
        for col in range(len(HEADER)):
            backend.edit(row, col, None)

    with pytest.raises(SuspiciousChange, match="now has 1 prospect, 4 at the last sync"):
        sync(backend, config, state, today=TODAY + timedelta(days=1))
    assert backend.writes == writes

    report = sync(backend, config, state, today=TODAY + timedelta(days=1), accept_fewer=True)
    assert report.written
    assert state.last_prospects(backend.description) == 1


def test_an_emptied_log_is_not_written(config: Config, state: State) -> None:
    backend = MemoryBackend(log_rows(), STAFF)
    synced(backend, config, state)
    emptied = MemoryBackend(log_rows()[:1], STAFF)

    with pytest.raises(SuspiciousChange, match="now has 0 prospects"):
        sync(emptied, config, state, today=TODAY + timedelta(days=1))
    assert emptied.writes == 0


def test_losing_a_few_prospects_is_normal(config: Config, state: State) -> None:
    backend = MemoryBackend(log_rows(), STAFF)
    synced(backend, config, state)
    for col in range(len(HEADER)):
        backend.edit(5, col, None)  # one of four gone: within max_prospect_loss (0.5)

    assert sync(backend, config, state, today=TODAY + timedelta(days=1)).written


class DiesAfterWriting(MemoryBackend):
    """The process is killed just after the log was written, before the state heard of it."""

    dies = False

    def write(self, changes: Changes, version: str) -> str | None:
        written = super().write(changes, version)
        if self.dies:
            raise SystemExit("killed")
        return written


def test_values_written_just_before_a_crash_are_not_taken_for_typed_ones(
    config: Config, state: State
) -> None:
    backend = DiesAfterWriting(log_rows(), STAFF)
    synced(backend, config, state)
    backend.dies = True
    with pytest.raises(SystemExit):
        sync(backend, config, state, today=TODAY + timedelta(days=1))
    backend.dies = False

    report = sync(backend, config, state, today=TODAY + timedelta(days=2))

    statuses = [row.decision.status_text for row in report.plan.rows]
    assert not [status for status in statuses if status.startswith("CHECK DATA")], statuses
    assert state.writing(backend.description) == {}  # the write that landed is remembered
