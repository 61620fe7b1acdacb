"""The manager's monthly report (issue 15, point 4; SPEC §10): last month's report on the
first open day of each month, after the digests, exactly once.

The daemon is driven through whole days by its injected clock (as in tests/test_daemon.py);
`once` runs in-process on the sample workbook and, for the crash, as a process killed by a
real SMTP server (as in tests/mail/test_crash_resend.py).
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from sheets_sync import engine
from sheets_sync.cli import main
from sheets_sync.config import Config, parse_config
from sheets_sync.core.report import Report
from sheets_sync.daemon import Daemon, status_lines
from sheets_sync.mail.deliver import PermanentFailure, TemporaryFailure
from sheets_sync.state import _MIGRATIONS, SCHEMA_VERSION, State, _statements
from tests.mail import smtp_server as harness
from tests.mail.smtp_server import Handler, StartServer, clinic_config
from tests.test_daemon import STAFF, CountingBackend, FakeClock, log_rows

REPO = Path(__file__).resolve().parents[1]
PLANS = REPO / "sheets_sync" / "plans.toml"
LONDON = ZoneInfo("Europe/London")
MANAGER = "manager@riverside.example"
OCTOBER = "report-2026-10"  # the key of October's report, in the state and the outbox

certificates = harness.certificates
smtp_server = harness.smtp_server


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


def make_config(
    tmp_path: Path, *, holidays: list[str] | None = None, **sections: dict[str, object]
) -> Config:
    """A clinic open Monday to Friday, with a manager; `sections` add to [mail] or [report]."""
    return parse_config(
        {
            "source": {"kind": "xlsx", "path": "log.xlsx"},
            "plans": {"file": str(PLANS)},
            "clinic": {"timezone": "Europe/London", "holidays": holidays or []},
            "mail": {
                "outbox": "outbox",
                "from": "Riverside Aesthetics <followups@riverside.example>",
                "manager": f"Manager <{MANAGER}>",
                **sections.get("mail", {}),
            },
            "daemon": {"state_dir": "state", "sync_every_minutes": 15},
            **{name: table for name, table in sections.items() if name != "mail"},
        },
        base_dir=tmp_path,
    )


@dataclass(frozen=True)
class Sent:
    key: str
    message_id: str
    at: datetime  # clinic time
    text: str


class Recorder:
    """A Delivery that keeps what it is given; `fail(key)` returns an exception to raise
    instead of taking the message with that key, or None to take it."""

    def __init__(self, clock: FakeClock, fail: Callable[[str], Exception | None] = lambda _: None):
        self.clock = clock
        self.fail = fail
        self.sent: list[Sent] = []
        self.tries: list[str] = []

    def send(self, message: EmailMessage, key: str) -> None:
        self.tries.append(key)
        if (error := self.fail(key)) is not None:
            raise error
        body = message.get_body(("plain",))
        text = body.get_content() if body is not None else ""
        at = self.clock.now().astimezone(LONDON)
        self.sent.append(Sent(key, str(message["Message-ID"]), at, text))

    def close(self) -> None:
        pass

    def reports(self) -> list[Sent]:
        return [sent for sent in self.sent if "-report-" in sent.key]


def drive(
    config: Config, clock: FakeClock, recorder: Recorder | None = None, start: date | None = None
) -> Recorder:
    """Run the daemon until the clock reaches its end; the log has something due every day."""
    recorder = recorder or Recorder(clock)
    recorder.clock = clock
    first = start or clock.now().astimezone(LONDON).date()
    backend = CountingBackend(log_rows(first), STAFF)
    stop = threading.Event()
    Daemon(
        config, environ={}, clock=clock, stop=stop, backend=backend, delivery=lambda: recorder
    ).run()
    return recorder


# --- sent once, on the first open day of the month, after the digests ----------------------


@pytest.mark.parametrize(
    ("start", "first_open", "holidays", "key"),
    [
        # 1 November 2026 is a Sunday: Monday the 2nd is the first open day.
        pytest.param(date(2026, 10, 30), date(2026, 11, 2), [], OCTOBER, id="weekend-1st"),
        # New Year's Day 2027 is a Friday, a holiday; then the weekend: Monday the 4th.
        pytest.param(
            date(2026, 12, 31), date(2027, 1, 4), ["2027-01-01"], "report-2026-12", id="holiday"
        ),
    ],
)
def test_the_report_goes_once_on_the_first_open_day_after_the_digests(
    tmp_path: Path, start: date, first_open: date, holidays: list[str], key: str
) -> None:
    config = make_config(tmp_path, holidays=holidays)
    end = first_open + timedelta(days=2)
    clock = FakeClock(
        local(start.year, start.month, start.day, 6), local(end.year, end.month, end.day, 9)
    )

    recorder = drive(config, clock)

    reports = recorder.reports()
    assert [sent.key for sent in reports] == [f"{key[7:]}-01-{key}"]
    assert reports[0].at.date() == first_open
    assert reports[0].at.time() >= config.mail.digest_time
    that_day = [sent.key for sent in recorder.sent if sent.at.date() == first_open]
    assert that_day[-1] == reports[0].key  # after the owners' digests and the summary
    assert f"{first_open.isoformat()}-manager" in that_day[:-1]
    assert len(that_day) > 2  # the owners' digests went out that morning too


def test_not_sent_twice_across_days_and_a_restart(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    first = drive(config, FakeClock(local(2026, 10, 30, 6), local(2026, 11, 2, 8)))
    second = drive(
        config,
        FakeClock(local(2026, 11, 2, 8, 30), local(2026, 11, 5, 9)),
        start=date(2026, 10, 30),
    )

    assert [sent.key for sent in first.reports()] == [f"2026-10-01-{OCTOBER}"]
    assert second.reports() == []
    assert any(sent.at.date() == date(2026, 11, 5) for sent in second.sent)  # it kept going


def test_a_missed_first_open_day_sends_on_the_next_one_of_that_month(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    # The computer is off from Friday noon to Wednesday 4 November.
    off = [(local(2026, 10, 30, 12), local(2026, 11, 4, 6))]
    clock = FakeClock(local(2026, 10, 30, 6), local(2026, 11, 5, 9), off)

    reports = drive(config, clock).reports()

    assert [(sent.key, sent.at.date()) for sent in reports] == [
        (f"2026-10-01-{OCTOBER}", date(2026, 11, 4))
    ]


def test_a_month_missed_whole_is_not_reported_the_month_after(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    # Off from 30 October to 1 December: October's report had no day; November's goes.
    off = [(local(2026, 10, 30, 12), local(2026, 12, 1, 6))]
    clock = FakeClock(local(2026, 10, 30, 6), local(2026, 12, 2, 9), off)

    reports = drive(config, clock).reports()

    assert [(sent.key, sent.at.date()) for sent in reports] == [
        ("2026-11-01-report-2026-11", date(2026, 12, 1))
    ]


def test_monthly_false_sends_no_report(tmp_path: Path) -> None:
    config = make_config(tmp_path, report={"monthly": False})

    recorder = drive(config, FakeClock(local(2026, 10, 30, 6), local(2026, 11, 3, 9)))

    assert recorder.reports() == []
    assert any(sent.key == "2026-11-02-manager" for sent in recorder.sent)


def test_no_report_on_a_month_before_sheets_sync_mailed_the_manager(tmp_path: Path) -> None:
    # Started on 2 November: October went by without sheets-sync.
    config = make_config(tmp_path)

    recorder = drive(config, FakeClock(local(2026, 11, 2, 6), local(2026, 11, 3, 9)))

    assert recorder.reports() == []
    with State(config.daemon.state_dir) as state:
        lines = status_lines(config, state, local(2026, 11, 3, 9))
    assert (
        "Monthly report: the first, on November 2026, goes on the first open day of December 2026"
        in lines
    )


# --- failures ------------------------------------------------------------------------------


def test_a_temporary_failure_is_tried_again_on_the_next_cycle(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    refused = 0

    def fail(key: str) -> Exception | None:
        nonlocal refused
        if key.endswith(OCTOBER) and refused < engine.SEND_ATTEMPTS:  # all of one cycle's tries
            refused += 1
            return TemporaryFailure("the mail server said 451: try again later")
        return None

    clock = FakeClock(local(2026, 10, 30, 6), local(2026, 11, 3, 9))
    recorder = drive(config, clock, Recorder(clock, fail))

    reports = recorder.reports()
    assert len(reports) == 1
    assert reports[0].at.date() == date(2026, 11, 2)
    assert recorder.tries.count(f"2026-10-01-{OCTOBER}") == engine.SEND_ATTEMPTS + 1
    with State(config.daemon.state_dir) as state:
        record = state.digest(date(2026, 10, 1), OCTOBER)
        lines = status_lines(config, state, local(2026, 11, 3, 9))
    assert record is not None
    assert record.status == "sent"
    assert record.message_id == reports[0].message_id
    assert "Monthly report: October 2026, sent Mon 2 Nov 2026 07:3" in "\n".join(lines)


def test_a_permanent_failure_is_not_tried_again_that_month(tmp_path: Path) -> None:
    config = make_config(tmp_path)

    def fail(key: str) -> Exception | None:
        if key.endswith(OCTOBER):
            return PermanentFailure("the mail server said 550: no such mailbox")
        return None

    clock = FakeClock(local(2026, 10, 30, 6), local(2026, 11, 5, 9))
    recorder = drive(config, clock, Recorder(clock, fail))

    assert recorder.tries.count(f"2026-10-01-{OCTOBER}") == 1
    with State(config.daemon.state_dir) as state:
        lines = status_lines(config, state, local(2026, 11, 5, 9))
    assert (
        "Monthly report: October 2026, not delivered: the mail server said 550: no such"
        " mailbox; `sheets-sync once --force-digest` tries again"
    ) in lines


def test_a_report_that_cannot_be_made_waits_for_a_later_cycle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_config(tmp_path)
    clock = FakeClock(local(2026, 10, 30, 6), local(2026, 11, 3, 9))
    made = engine.clinic_report
    calls = 0

    def unreadable_once(*args: object) -> Report:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("the touch log cannot be read")
        return made(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "clinic_report", unreadable_once)
    recorder = drive(config, clock)

    assert calls == 2
    reports = recorder.reports()
    assert len(reports) == 1
    assert reports[0].at.date() == date(2026, 11, 2)


# --- minimal mode --------------------------------------------------------------------------


def test_minimal_mode_passes_through_and_names_no_prospect(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_config(tmp_path, mail={"detail": "minimal"})
    details: list[str] = []
    render = engine.render_monthly_report

    def spy(*args: object, **kwargs: object) -> EmailMessage:
        details.append(str(kwargs["detail"]))
        return render(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "render_monthly_report", spy)
    recorder = drive(config, FakeClock(local(2026, 10, 30, 6), local(2026, 11, 3, 9)))

    assert details == ["minimal"]
    (report,) = recorder.reports()
    for name in ("Ann Ames", "Bob Brown", "Cy Cole", "Ames", "Brown", "Cole"):
        assert name not in report.text


# --- `once`, on the sample workbook --------------------------------------------------------


def once_config(tmp_path: Path, extra: str = "") -> Path:
    shutil.copy(REPO / "sample_workbook.xlsx", tmp_path / "log.xlsx")
    path = tmp_path / "clinic.toml"
    path.write_text(
        f"""
[clinic]
name = "Riverside Aesthetics"
[source]
kind = "xlsx"
path = "log.xlsx"
[plans]
file = "{PLANS}"
[mail]
outbox = "outbox"
from = "Riverside Aesthetics <followups@riverside-aesthetics.example>"
manager = "Manager <manager@riverside-aesthetics.example>"
[daemon]
state_dir = "state"
{extra}""",
        encoding="utf-8",
    )
    return path


def run_once(config: Path, today: str, *more: str) -> int:
    return main(["once", "--config", str(config), "--today", today, *more])


def test_once_sends_the_report_once_and_force_digest_does_not_resend_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = once_config(tmp_path)
    report = tmp_path / "outbox" / f"2026-10-01-{OCTOBER}.eml"

    run_once(config, "2026-10-30")
    assert not report.exists()  # September went by without sheets-sync
    capsys.readouterr()

    run_once(config, "2026-11-02")
    assert "last month's report sent to the manager" in capsys.readouterr().out
    first = report.read_bytes()

    run_once(config, "2026-11-02")
    run_once(config, "2026-11-03", "--force-digest")  # the digests again, not the report

    assert "last month's report" not in capsys.readouterr().out
    assert report.read_bytes() == first
    assert (tmp_path / "outbox" / "2026-11-03-manager.eml").exists()


def test_digest_preview_shows_the_report_when_it_would_go(tmp_path: Path) -> None:
    config = once_config(tmp_path)
    run_once(config, "2026-10-30")

    def preview(today: str) -> list[str]:
        folder = tmp_path / f"preview-{today}"
        main(
            ["digest", "--preview", "--config", str(config), "--today", today, "--out", str(folder)]
        )
        return sorted(path.name for path in folder.glob("*report*.eml"))

    assert preview("2026-11-02") == [f"2026-11-02-{OCTOBER}.eml"]
    run_once(config, "2026-11-02")
    assert preview("2026-11-03") == []  # sent: it would not go again


# --- a crash between pending and sent ------------------------------------------------------


class KillAtTheReport(Handler):
    """Kills the client once, at `point` of the second message to the manager of the run:
    the first is the day's summary, the second last month's report."""

    def __init__(self, point: str, manager: str) -> None:
        super().__init__()
        self.point, self.manager = point, manager
        self.victim: int | None = None
        self.to_manager = 0
        self.done = False

    def _maybe_kill(self, point: str) -> None:
        if not self.done and point == self.point and self.to_manager == 2:
            self.done = True
            assert self.victim is not None
            os.kill(self.victim, signal.SIGKILL)

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address == self.manager:
            self.to_manager += 1
        self._maybe_kill("RCPT")
        return await super().handle_RCPT(server, session, envelope, address, options)

    async def handle_DATA(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        self._maybe_kill("DATA, before the server took it")
        reply = await super().handle_DATA(server, session, envelope)
        self._maybe_kill("DATA, after the server took it")  # the client never hears it
        return reply


@pytest.mark.parametrize(
    "point", ["RCPT", "DATA, before the server took it", "DATA, after the server took it"]
)
def test_killed_while_sending_the_report_it_arrives_under_one_message_id(
    smtp_server: StartServer, tmp_path: Path, point: str
) -> None:
    shutil.copy(REPO / "sample_workbook.xlsx", tmp_path / "log.xlsx")
    server = smtp_server("plain")
    smtp: dict[str, str | int | Path] = {
        "host": server.host,
        "port": server.port,
        "security": "none",
        "timeout": 5,
    }
    settings = clinic_config(tmp_path, smtp, manager=True)
    command = [sys.executable, "-m", "sheets_sync", "once", "--config", str(settings)]

    def once(today: str) -> subprocess.CompletedProcess[bytes]:
        process = subprocess.Popen(
            [*command, "--today", today], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        killer.victim = process.pid
        out, err = process.communicate(timeout=120)
        return subprocess.CompletedProcess(process.args, process.returncode, out, err)

    killer = KillAtTheReport(point, "manager@riverside-aesthetics.example")
    killer.done = True  # 30 October: the manager's first summary, no kill
    server.controller.handler = killer
    assert once("2026-10-30").returncode == 0
    before = len(killer.received)
    killer.done, killer.to_manager = False, 0

    outcomes = [once("2026-11-02").returncode for _ in range(3)]

    assert killer.done
    assert outcomes == [-signal.SIGKILL, 0, 0]
    with State(tmp_path / "state") as state:
        record = state.digest(date(2026, 10, 1), OCTOBER)
    assert record is not None
    assert record.status == "sent"
    to_manager = [
        str(received.message["Message-ID"]).strip()
        for received in killer.received[before:]
        if received.rcpt_tos == ["manager@riverside-aesthetics.example"]
    ]
    reports = [message_id for message_id in to_manager if message_id == record.message_id]
    # Killed at DATA, the server has the whole message (it stores it though the client is
    # gone): it arrives twice under one Message-ID, which SMTP allows no better, and mail
    # programs show once. Killed at RCPT, the server never had it: once.
    assert len(reports) == (1 if point == "RCPT" else 2)
    assert len(set(to_manager)) == 2  # the day's summary and the report, each one Message-ID


# --- the state ---------------------------------------------------------------------------


def test_a_state_file_of_schema_11_keeps_its_digests_and_learns_when_they_go(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "state"
    folder.mkdir()
    db = sqlite3.connect(folder / "state.sqlite3")
    for migration in _MIGRATIONS[:11]:
        for statement in _statements(migration):
            db.execute(statement)
    db.execute(
        "INSERT INTO digests (day, recipient, message_id, status, attempts, error, address)"
        " VALUES ('2026-11-02', 'manager', '<one@clinic.example>', 'sent', 1, '', 'm@x')"
    )
    db.execute("PRAGMA user_version=11")
    db.commit()
    db.close()

    with State(folder) as state:
        old = state.digest(date(2026, 11, 2), "manager")
        state.digest_pending(date(2026, 10, 1), OCTOBER, "<two@clinic.example>")
        state.digest_sent(date(2026, 10, 1), OCTOBER, at=local(2026, 11, 2, 7, 30))
        new = state.digest(date(2026, 10, 1), OCTOBER)
        first = state.first_digest_day("manager")

    assert SCHEMA_VERSION == 12
    assert old is not None
    assert (old.status, old.sent_at) == ("sent", None)
    assert new is not None
    assert new.sent_at == local(2026, 11, 2, 7, 30)
    assert first == date(2026, 11, 2)


def test_status_says_when_the_report_is_due(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    drive(config, FakeClock(local(2026, 10, 30, 6), local(2026, 10, 30, 9)))

    with State(config.daemon.state_dir) as state:
        lines = status_lines(config, state, local(2026, 11, 1, 12))

    assert "Monthly report: October 2026, due with the digests of Mon 2 Nov" in lines


def test_force_digest_tries_a_report_given_up_again_but_never_resends_a_sent_one(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path)
    backend = CountingBackend(log_rows(date(2026, 10, 30)), STAFF)
    clock = FakeClock(local(2026, 11, 2, 8), local(2026, 11, 2, 9))
    refuse = True

    def fail(key: str) -> Exception | None:
        return PermanentFailure("550: no such mailbox") if refuse and OCTOBER in key else None

    recorder = Recorder(clock, fail)

    def once(day: date, *, force: bool = False) -> None:
        with State(config.daemon.state_dir) as state:
            report = engine.sync(backend, config, state, today=day)
            now = local(day.year, day.month, day.day, 8)
            engine.send_digests(report, config, state, recorder, today=day, now=now, force=force)

    once(date(2026, 10, 30))
    once(date(2026, 11, 2))
    once(date(2026, 11, 3))
    assert recorder.tries.count(f"2026-10-01-{OCTOBER}") == 1  # given up

    refuse = False
    once(date(2026, 11, 3), force=True)
    once(date(2026, 11, 4), force=True)

    assert [sent.key for sent in recorder.reports()] == [f"2026-10-01-{OCTOBER}"]
