"""The daemon (SPEC §6) driven through whole days by an injected clock: no real waiting.

`FakeClock.sleep` moves the time on instead of waiting, so three days of a sync every 15
minutes and a digest check every minute take a moment. Delivery is a recorder that keeps
every message with the (fake) time it was sent.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from concurrent import futures
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sheets_sync.backends.base import SourceError
from sheets_sync.backends.memory import MemoryBackend
from sheets_sync.config import Config, parse_config
from sheets_sync.core.sync import Changes
from sheets_sync.core.values import CellValue
from sheets_sync.daemon import (
    AlreadyRunning,
    Clock,
    Daemon,
    SystemClock,
    only_instance,
    status_lines,
)
from sheets_sync.state import State

REPO = Path(__file__).resolve().parents[1]
PLANS = REPO / "sheets_sync" / "plans.toml"
LONDON = ZoneInfo("Europe/London")
ALL_DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
MANAGER = "Manager <manager@riverside.example>"
CHECK_INTERVAL = timedelta(minutes=1)  # the daemon looks whether the digests are due this often

HEADER: list[CellValue] = [
    "Name",
    "Owner",
    "Phone",
    "Email",
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
]
# Patient details that must never reach the log at INFO or above.
PATIENTS = (
    ("Ann Ames", "07700 900111", "ann.ames@patients.example"),
    ("Bob Brown", "07700 900222", "bob.brown@patients.example"),
    ("Cy Cole", "07700 900333", "cy.cole@patients.example"),
)


def log_rows(start: date) -> list[list[CellValue]]:
    """Never touched since their consultations before `start`: something is overdue for
    Anna and for Ben on every day from `start` on."""
    owners = ("Anna", "Anna", "Ben")
    rows: list[list[CellValue]] = [HEADER]
    for n, ((name, phone, email), owner) in enumerate(zip(PATIENTS, owners, strict=True)):
        consulted = start - timedelta(days=5 + n)
        rows.append([name, owner, phone, email, consulted, "Open", None, 0, 500])
    return rows


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


def make_config(tmp_path: Path, *, digest_time: str = "07:30", alert_hours: float = 1) -> Config:
    return parse_config(
        {
            "source": {"kind": "xlsx", "path": "log.xlsx"},
            "plans": {"file": str(PLANS)},
            "clinic": {"timezone": "Europe/London", "open_days": ALL_DAYS, "holidays": []},
            "mail": {
                "outbox": "outbox",
                "from": "Riverside Aesthetics <followups@riverside.example>",
                "manager": MANAGER,
                "digest_time": digest_time,
            },
            "daemon": {
                "state_dir": "state",
                "sync_every_minutes": 15,
                "alert_after_hours": alert_hours,
            },
        },
        base_dir=tmp_path,
    )


# --- the fakes -----------------------------------------------------------------------------


class FakeClock:
    """Time that moves only when the daemon sleeps. The daemon is stopped once the time
    reaches `end`. A jump (at, to) is the computer asleep: the first sleep that begins at
    or after `at` ends at `to`."""

    def __init__(
        self,
        start: datetime,
        end: datetime,
        jumps: list[tuple[datetime, datetime]] | None = None,
    ) -> None:
        self.moment = start.astimezone(UTC)
        self.end = end
        self.jumps = sorted(jumps or [])
        self.sleeps = 0
        self.patience = 60.0  # a job that takes longer, in the computer's time, hangs

    def now(self) -> datetime:
        return self.moment

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        assert seconds > 0
        self.sleeps += 1
        if self.jumps and self.moment >= self.jumps[0][0]:
            self.moment = self.jumps.pop(0)[1].astimezone(UTC)
        else:
            self.moment += timedelta(seconds=seconds)
        if self.moment >= self.end:
            stop.set()

    def wait(self, jobs: Sequence[Future[None]], seconds: float) -> None:
        """Wait for the jobs in the computer's time, up to `patience` seconds, and let no
        time pass meanwhile: the jobs read the time the service started them at."""
        futures.wait(jobs, timeout=self.patience)


@dataclass(frozen=True)
class Sent:
    key: str
    subject: str
    to: str
    at: datetime  # the clock's time at the send, UTC

    @property
    def local(self) -> datetime:
        return self.at.astimezone(LONDON)


class Recorder:
    """A Delivery that keeps what it is given."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.sent: list[Sent] = []

    def send(self, message: EmailMessage, key: str) -> None:
        self.sent.append(Sent(key, str(message["Subject"]), str(message["To"]), self.clock.now()))

    def close(self) -> None:
        pass

    def digests(self) -> list[Sent]:
        return [sent for sent in self.sent if not sent.key.startswith("notice-")]

    def notices(self) -> list[Sent]:
        return [sent for sent in self.sent if sent.key.startswith("notice-")]


class CountingBackend(MemoryBackend):
    """Counts the daemon's sync cycles: each begins by asking for the log's version."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.cycles = 0

    def version(self) -> str:
        self.cycles += 1
        return super().version()


class FailingWrites(CountingBackend):
    """Every write raises until the clock reaches `until` (never, when None)."""

    def __init__(
        self,
        *args: object,
        clock: FakeClock,
        until: datetime | None = None,
        error: Exception | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.clock = clock
        self.until = until
        self.error = error or SourceError("the log cannot be written: the disk is full")
        self.failed = 0

    def write(self, changes: Changes, version: str) -> str | None:
        if self.until is None or self.clock.now() < self.until:
            self.failed += 1
            raise self.error
        return super().write(changes, version)


@dataclass
class Run:
    config: Config
    clock: FakeClock
    recorder: Recorder
    backend: MemoryBackend

    def digest_days(self) -> dict[date, list[Sent]]:
        days: dict[date, list[Sent]] = {}
        for sent in self.recorder.digests():
            days.setdefault(date.fromisoformat(sent.key[:10]), []).append(sent)
        return days


def drive(
    config: Config,
    clock: FakeClock,
    backend: MemoryBackend | None = None,
) -> Run:
    """Run the daemon until the clock reaches its end."""
    recorder = Recorder(clock)
    if backend is None:
        backend = CountingBackend(log_rows(clock.now().astimezone(LONDON).date()), STAFF)
    stop = threading.Event()
    daemon = Daemon(
        config, environ={}, clock=clock, stop=stop, backend=backend, delivery=lambda: recorder
    )
    daemon.run()
    assert stop.is_set()
    return Run(config, clock, recorder, backend)


def recipients(day: date) -> list[str]:
    return sorted(f"{day.isoformat()}-{who}" for who in ("owner-anna", "owner-ben", "manager"))


def assert_one_round_at(run: Run, day: date, hour: int, minute: int) -> None:
    """The day's digests went out once each, at hour:minute clinic time (give or take the
    one-minute check)."""
    sent = run.digest_days().get(day, [])
    assert sorted(s.key for s in sent) == recipients(day), day
    due = datetime(day.year, day.month, day.day, hour, minute, tzinfo=LONDON)
    for s in sent:
        assert due <= s.local <= due + CHECK_INTERVAL, (s.key, s.local.isoformat())
        assert s.local.date() == day


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path)


# --- the digests, once a day, at their time -----------------------------------------------


@pytest.mark.parametrize(
    ("first_day", "change_day", "utc_offsets"),
    [
        pytest.param(date(2027, 3, 27), date(2027, 3, 28), (0, 1), id="dst-starts"),
        pytest.param(date(2026, 10, 24), date(2026, 10, 25), (1, 0), id="dst-ends"),
    ],
)
def test_one_round_of_digests_a_day_at_0730_across_a_daylight_saving_change(
    config: Config, first_day: date, change_day: date, utc_offsets: tuple[int, int]
) -> None:
    days = [first_day + timedelta(days=n) for n in range(3)]
    start = local(first_day.year, first_day.month, first_day.day)
    end = datetime.combine(days[-1] + timedelta(days=1), datetime.min.time(), LONDON)
    clock = FakeClock(start, end)

    run = drive(config, clock)

    assert sorted(run.digest_days()) == days
    for day in days:
        assert_one_round_at(run, day, 7, 30)
    # 07:30 local really moved in UTC: the schedule followed the clinic's clock, not UTC's.
    before, after = utc_offsets
    assert {s.at.hour for s in run.digest_days()[first_day]} == {7 - before}
    assert {s.at.hour for s in run.digest_days()[days[-1]]} == {7 - after}
    assert change_day in run.digest_days()
    # A sync every 15 minutes of real (UTC) time, the 23- or 25-hour day included.
    hours = (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() / 3600
    assert isinstance(run.backend, CountingBackend)
    assert run.backend.cycles == int(hours * 4)


@pytest.mark.parametrize(
    ("change_day", "sent_at"),
    [
        # 01:30 does not exist on the day the clocks go forward: the first minute after it.
        pytest.param(date(2027, 3, 28), (2, 0), id="dst-starts"),
        # 01:30 happens twice on the day they go back: the first one only.
        pytest.param(date(2026, 10, 25), (1, 30), id="dst-ends"),
    ],
)
def test_a_digest_time_inside_the_changing_hour_sends_once(
    tmp_path: Path, change_day: date, sent_at: tuple[int, int]
) -> None:
    config = make_config(tmp_path, digest_time="01:30")
    start = datetime.combine(change_day, datetime.min.time(), LONDON)
    clock = FakeClock(start, start + timedelta(hours=8))

    run = drive(config, clock)

    sent = run.digest_days()[change_day]
    assert sorted(s.key for s in sent) == recipients(change_day)
    first = datetime.combine(change_day, datetime.min.time(), LONDON).replace(
        hour=sent_at[0], minute=sent_at[1]
    )
    assert {s.at for s in sent} == {first.astimezone(UTC)}


def test_a_start_after_the_digest_time_sends_the_digests_at_once(config: Config) -> None:
    start = local(2026, 11, 24, 9, 0)
    clock = FakeClock(start, local(2026, 11, 25, 12, 0))

    run = drive(config, clock)

    assert_one_round_at(run, date(2026, 11, 24), 9, 0)
    assert {s.at for s in run.digest_days()[date(2026, 11, 24)]} == {start.astimezone(UTC)}
    assert_one_round_at(run, date(2026, 11, 25), 7, 30)


def test_a_machine_asleep_at_the_digest_time_sends_them_on_waking_once(config: Config) -> None:
    asleep = (local(2026, 11, 24, 6, 55), local(2026, 11, 24, 10, 0))
    clock = FakeClock(local(2026, 11, 24, 6, 0), local(2026, 11, 25, 9, 0), jumps=[asleep])

    run = drive(config, clock)

    assert not clock.jumps  # the computer did sleep
    assert_one_round_at(run, date(2026, 11, 24), 10, 0)
    assert_one_round_at(run, date(2026, 11, 25), 7, 30)


def test_a_start_after_the_cutoff_skips_the_day_with_a_warning(
    config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    clock = FakeClock(local(2026, 11, 24, 12, 0), local(2026, 11, 25, 12, 0))

    run = drive(config, clock)

    assert sorted(run.digest_days()) == [date(2026, 11, 25)]
    assert_one_round_at(run, date(2026, 11, 25), 7, 30)
    skipped = [
        r for r in caplog.records if r.levelno == logging.WARNING and "cut-off" in r.getMessage()
    ]
    assert len(skipped) == 1
    assert "2026-11-24" in skipped[0].getMessage()
    assert "11:30" in skipped[0].getMessage()


def test_a_restart_the_same_day_sends_nothing_twice(config: Config) -> None:
    backend = CountingBackend(log_rows(date(2026, 11, 24)), STAFF)
    first = drive(config, FakeClock(local(2026, 11, 24, 7, 0), local(2026, 11, 24, 8, 0)), backend)
    second = drive(
        config, FakeClock(local(2026, 11, 24, 8, 5), local(2026, 11, 24, 11, 0)), backend
    )

    assert_one_round_at(first, date(2026, 11, 24), 7, 30)
    assert second.recorder.sent == []


# --- a sync that keeps failing -------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(SourceError("the log cannot be written: the disk is full"), id="ours"),
        pytest.param(RuntimeError("something nobody expected"), id="unexpected"),
    ],
)
def test_failing_syncs_still_send_digests_alert_once_and_tell_of_the_recovery(
    config: Config, caplog: pytest.LogCaptureFixture, error: Exception
) -> None:
    caplog.set_level(logging.INFO)
    start = local(2026, 11, 24)
    recovers = local(2026, 11, 25, 12, 0)
    clock = FakeClock(start, local(2026, 11, 27))
    backend = FailingWrites(log_rows(start.date()), STAFF, clock=clock, until=recovers, error=error)

    run = drive(config, clock, backend)

    # Every write until the recovery failed, yet each day's digests went out at 07:30.
    assert backend.failed == (recovers.astimezone(UTC) - start.astimezone(UTC)) // timedelta(
        minutes=15
    )
    for day in (date(2026, 11, 24), date(2026, 11, 25), date(2026, 11, 26)):
        assert_one_round_at(run, day, 7, 30)

    notices = run.recorder.notices()
    alerts = [n for n in notices if "failing since" in n.subject]
    recoveries = [n for n in notices if "works again" in n.subject]
    assert len(alerts) == 1
    assert len(recoveries) == 1
    assert len(notices) == 2
    # The alert after alert_after_hours (1) of failures since the first at 00:00.
    assert alerts[0].local == local(2026, 11, 24, 1, 0)
    assert "00:00" in alerts[0].subject
    assert recoveries[0].local == recovers
    for notice in notices:
        assert "manager@riverside.example" in notice.to

    failures = [
        r
        for r in caplog.records
        if r.levelno == logging.WARNING and r.getMessage().startswith("sync:")
    ]
    assert len(failures) == backend.failed
    unexpected = isinstance(error, RuntimeError)
    assert not any(r.exc_info for r in failures)  # a traceback's last line quotes the error
    assert all(("errors.log" in r.getMessage()) == unexpected for r in failures)
    if unexpected:
        assert "something nobody expected" not in caplog.text
        assert "RuntimeError" in (config.daemon.state_dir / "errors.log").read_text()


def test_no_alert_before_alert_after_hours(tmp_path: Path) -> None:
    config = make_config(tmp_path, alert_hours=2)
    start = local(2026, 11, 24)
    clock = FakeClock(start, local(2026, 11, 24, 3, 0))
    # Fails from 00:00 to 01:45 only: less than the two hours.
    backend = FailingWrites(
        log_rows(start.date()), STAFF, clock=clock, until=local(2026, 11, 24, 1, 50)
    )

    run = drive(config, clock, backend)

    assert backend.failed == 8
    assert run.recorder.notices() == []


# --- one instance per state folder ---------------------------------------------------------


def test_a_second_daemon_on_the_same_state_folder_is_refused(config: Config) -> None:
    clock = FakeClock(local(2026, 11, 24, 6, 0), local(2026, 11, 24, 9, 0))
    second_backend = CountingBackend(log_rows(date(2026, 11, 24)), STAFF)
    recorder = Recorder(clock)
    second = Daemon(
        config, environ={}, clock=clock, backend=second_backend, delivery=lambda: recorder
    )
    folder = config.daemon.state_dir

    with only_instance([folder]):
        with pytest.raises(AlreadyRunning) as refused:
            second.run()
        assert (folder / "daemon.pid").exists()  # the refused one left the first's alone

    message = str(refused.value)
    assert str(folder) in message
    assert "state_dir" in message
    assert second_backend.cycles == 0
    assert recorder.sent == []
    # Once the first has stopped, another may run.
    drive(config, clock, second_backend)
    assert second_backend.cycles > 0
    assert not (folder / "daemon.pid").exists()


def test_a_second_daemon_is_refused_while_the_first_runs_in_a_thread(config: Config) -> None:
    """The first daemon really running (system clock, a real stop event) in a thread."""
    stop = threading.Event()
    first = Daemon(
        config,
        environ={},
        stop=stop,
        backend=MemoryBackend(log_rows(date.today()), STAFF),
        delivery=lambda: Recorder(SystemClock()),
    )
    thread = threading.Thread(target=first.run, daemon=True)
    thread.start()
    pid_file = config.daemon.state_dir / "daemon.pid"
    try:
        for _ in range(500):
            if pid_file.exists():
                break
            threading.Event().wait(0.01)
        assert pid_file.exists()
        second = Daemon(config, environ={}, backend=MemoryBackend(log_rows(date.today()), STAFF))
        with pytest.raises(AlreadyRunning, match=str(config.daemon.state_dir)):
            second.run()
        assert thread.is_alive()
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()


# --- the log -------------------------------------------------------------------------------


def patient_details() -> list[str]:
    return [detail for patient in PATIENTS for detail in patient]


def logged_text(record: logging.LogRecord) -> str:
    text = record.getMessage()
    if record.exc_info:
        text += "\n" + logging.Formatter().formatException(record.exc_info)
    return text


def test_one_info_line_per_sync_cycle(config: Config, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    clock = FakeClock(local(2026, 11, 24, 6, 0), local(2026, 11, 24, 12, 0))

    run = drive(config, clock)

    lines = [
        r
        for r in caplog.records
        if r.name == "sheets_sync.daemon" and r.getMessage().startswith("sync:")
    ]
    assert isinstance(run.backend, CountingBackend)
    assert run.backend.cycles == 24
    assert len(lines) == run.backend.cycles
    assert all(r.levelno == logging.INFO for r in lines)


def test_one_sync_line_per_cycle_while_the_log_changes(
    config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    """While the log is edited between cycles every cycle syncs, and each says so once."""

    class Edited(CountingBackend):
        def version(self) -> str:
            self.edit(2, 0, f"Ann Ames {self.cycles}")  # a person edits the log meanwhile
            return super().version()

    caplog.set_level(logging.INFO)
    clock = FakeClock(local(2026, 11, 24, 6, 0), local(2026, 11, 24, 12, 0))
    backend = Edited(log_rows(date(2026, 11, 24)), STAFF)

    drive(config, clock, backend)

    lines = [r for r in caplog.records if r.getMessage().startswith("sync:")]
    assert backend.cycles == 24
    assert len(lines) == 24
    assert all(r.levelno == logging.INFO for r in lines)


def test_no_patient_details_in_the_log_at_info_or_above(
    config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    start = local(2026, 11, 24)
    clock = FakeClock(start, local(2026, 11, 26))
    backend = FailingWrites(
        log_rows(start.date()),
        STAFF,
        clock=clock,
        until=local(2026, 11, 25, 3, 0),
        error=RuntimeError(f"unexpected, in the row of {sorted(patient_details())[0]}"),
    )

    run = drive(config, clock, backend)

    assert run.recorder.digests()  # the digests, full of patient details, did go out
    records = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert any(r.levelno >= logging.WARNING for r in records)
    for record in records:
        text = logged_text(record)
        for detail in patient_details():
            assert detail not in text, (detail, record.levelname, text)


# --- status --------------------------------------------------------------------------------


@pytest.fixture
def opened(config: Config) -> Iterator[State]:
    with State(config.daemon.state_dir) as state:
        yield state


def test_status_after_a_run(config: Config) -> None:
    end = local(2026, 11, 24, 8, 0)
    drive(config, FakeClock(local(2026, 11, 24, 6, 0), end))

    with State(config.daemon.state_dir) as state:
        lines = status_lines(config, state, end)

    text = "\n".join(lines)
    assert f"State folder: {config.daemon.state_dir} (the daemon is not running)" in lines
    assert "Last sync: Tue 24 Nov 2026 07:45 GMT (Europe/London):" in text
    assert "Next sync: none planned, as no daemon is running" in text  # it stopped
    assert "Next digests: Wed 25 Nov 2026 07:30 GMT (Europe/London)" in text
    assert "Failing since" not in text


def test_status_before_the_digest_time_says_today(config: Config) -> None:
    end = local(2026, 11, 24, 7, 0)
    drive(config, FakeClock(local(2026, 11, 24, 6, 0), end))

    with State(config.daemon.state_dir) as state:
        lines = status_lines(config, state, end)

    assert "Next digests: Tue 24 Nov 2026 07:30 GMT (Europe/London)" in "\n".join(lines)


def test_status_while_failing(config: Config) -> None:
    start = local(2026, 11, 24, 6, 0)
    end = local(2026, 11, 24, 8, 0)
    clock = FakeClock(start, end)
    backend = FailingWrites(log_rows(start.date()), STAFF, clock=clock)

    drive(config, clock, backend)

    with State(config.daemon.state_dir) as state:
        lines = status_lines(config, state, end)

    text = "\n".join(lines)
    assert "Failing since: Tue 24 Nov 2026 06:00 GMT (Europe/London)" in lines
    assert "Last error: the log cannot be written: the disk is full" in lines
    assert "The manager has been alerted." in lines
    assert "Last sync: Tue 24 Nov 2026 07:45 GMT (Europe/London)" in text


def test_a_log_suddenly_emptied_is_not_written_and_the_manager_hears_at_once(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path, alert_hours=4)
    start = local(2026, 11, 24)
    rows = log_rows(start.date())
    drive(config, FakeClock(start, local(2026, 11, 24, 0, 20)), CountingBackend(rows, STAFF))
    emptied = CountingBackend(rows[:1], STAFF)  # the header row alone: every prospect gone

    run = drive(config, FakeClock(local(2026, 11, 24, 0, 30), local(2026, 11, 24, 1, 0)), emptied)

    assert emptied.writes == 0
    [alert] = run.recorder.notices()  # well before alert_after_hours, and only once
    assert "failing since" in alert.subject
    assert alert.at == local(2026, 11, 24, 0, 30)
