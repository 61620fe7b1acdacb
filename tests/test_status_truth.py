"""`status` tells the truth about syncs made by `once` (the cron way) as well as the daemon's;
times say their zone; `--today` keeps the time of day; closed days, a missing mail password
and a mail outage are each told plainly, once (issue 13, points 4 and 5)."""

from __future__ import annotations

import logging
import re
import shutil
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import filelock
import pytest

from sheets_sync.cli import main
from sheets_sync.logs import TextFormatter

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_workbook.xlsx"
TODAY = "2026-11-24"  # a Tuesday, the clinic open
OWNERS = ("Anna Price", "Ben Okafor", "Chloe Martin", "Dev Patel")


def write_config(
    folder: Path, *, clinic: str = "", mail: str = "", daemon: str = "", smtp: str = ""
) -> Path:
    shutil.copy(SAMPLE, folder / "log.xlsx")
    config = folder / "sheets_sync.toml"
    config.write_text(
        f"""
[clinic]
{clinic}

[source]
kind = "xlsx"
path = "log.xlsx"

[mail]
outbox = "outbox"
from = "Riverside Aesthetics <followups@riverside.example>"
manager = "Manager <manager@riverside.example>"
{mail}

{smtp}

[daemon]
state_dir = "state"
{daemon}
""",
        encoding="utf-8",
    )
    return config


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path)


# --- status after `once` ---------------------------------------------------------------------


def test_status_after_once_shows_its_sync_in_the_clinics_zone_and_no_next_sync(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "once", "--config", str(config), "--today", TODAY)
    assert code == 0, err

    code, out, err = run(capsys, "status", "--config", str(config), "--today", TODAY)

    assert code == 0, err
    assert "Last sync: none yet" not in out
    assert re.search(r"Last sync: \w{3} \d\d \w{3} \d{4} \d\d:\d\d GMT \(Europe/London\): ", out)
    assert "67 rows read" in out
    assert "Next sync: none planned, as no daemon is running" in out
    assert "`sheets-sync once`" in out
    assert "Next digests: Wed 25 Nov 2026 07:30 GMT (Europe/London)" in out  # today's are sent


def test_a_failing_once_shows_in_status(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "log.xlsx").rename(tmp_path / "moved.xlsx")

    code, _, err = run(capsys, "once", "--config", str(config), "--today", TODAY)
    assert code == 1
    assert "log.xlsx" in err

    _, out, _ = run(capsys, "status", "--config", str(config), "--today", TODAY)
    assert "Last sync: none yet" not in out
    assert re.search(r"Last sync: .* GMT \(Europe/London\): failed", out)
    assert "Failing since: " in out
    assert "Last error: " in out
    assert "log.xlsx" in out

    (tmp_path / "moved.xlsx").rename(tmp_path / "log.xlsx")
    assert run(capsys, "once", "--config", str(config), "--today", TODAY)[0] == 0
    _, out, _ = run(capsys, "status", "--config", str(config), "--today", TODAY)
    assert "Failing since" not in out  # the next good sync ends the run of failures


def test_status_while_a_daemon_holds_the_state_folder_shows_the_next_sync(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "once", "--config", str(config), "--today", TODAY)[0] == 0
    lock = filelock.FileLock(str(tmp_path / "state" / "daemon.lock"))
    (tmp_path / "state" / "daemon.pid").write_text("4242", encoding="ascii")

    with lock:
        _, out, _ = run(capsys, "status", "--config", str(config), "--today", TODAY)

    assert "(the daemon is running (process 4242))" in out
    assert re.search(r"Next sync: \w{3} \d\d \w{3} \d{4} \d\d:\d\d GMT \(Europe/London\)", out)
    assert "none planned" not in out


# --- zones in log lines and backup names ----------------------------------------------------


@pytest.fixture
def new_york_computer(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("new_york_computer")
def test_log_lines_say_their_offset_from_utc() -> None:
    record = logging.LogRecord("sheets_sync.daemon", logging.INFO, "x.py", 1, "sync: ok", (), None)
    record.created = datetime(2026, 11, 24, 12, 30, tzinfo=UTC).timestamp()

    assert TextFormatter().format(record) == "2026-11-24T07:30:00-05:00 INFO sync: ok"


def test_backup_names_carry_the_clinics_offset_and_older_names_are_pruned_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(
        tmp_path, clinic='timezone = "America/New_York"', daemon="keep_backups = 2"
    )
    backups = tmp_path / "state" / "backups"
    backups.mkdir(parents=True)
    earlier = ["log.20261120-093000-000000.xlsx", "log.20261123-093000-000000.xlsx"]
    for name in earlier:
        (backups / name).write_bytes(b"an earlier version's backup")

    assert run(capsys, "once", "--config", str(config), "--today", TODAY, "--no-digest")[0] == 0
    names = {p.name for p in backups.iterdir()}
    assert earlier[0] not in names  # the oldest went first
    assert earlier[1] in names
    assert (
        run(capsys, "once", "--config", str(config), "--today", "2026-11-25", "--no-digest")[0] == 0
    )

    names = sorted(p.name for p in backups.iterdir())
    assert len(names) == 2
    for name in names:  # New York in November: five hours behind UTC
        assert re.fullmatch(r"log\.\d{4}-\d\d-\d\dT\d{6}\.\d{6}-0500\.xlsx", name), name


# --- --today, the cut-off, and a mail outage ------------------------------------------------


def zone_in_the_small_hours() -> str:
    """A fixed-offset zone where it is now between 01:00 and 02:00, hours before the default
    cut-off (11:30), whenever the test runs: so the outcome does not depend on the hour."""
    hours = (1 - datetime.now(UTC).hour) % 24
    if hours > 14:
        hours -= 24
    return f"Etc/GMT{-hours:+d}" if hours else "Etc/GMT"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def mail_down(tmp_path: Path) -> Path:
    return write_config(
        tmp_path,
        clinic=f'timezone = "{zone_in_the_small_hours()}"',
        mail='mode = "smtp"',
        smtp=f'[mail.smtp]\nhost = "127.0.0.1"\nport = {closed_port()}\nsecurity = "none"',
    )


def test_a_past_today_keeps_trying_a_digest_before_the_cut_off(
    mail_down: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "once", "--config", str(mail_down), "--today", TODAY)
    assert code == 1
    assert "not sent yet" in out

    code, out, _ = run(capsys, "once", "--config", str(mail_down), "--today", TODAY)

    assert code == 1
    assert "not sent yet, tried again next cycle" in out
    assert "cut-off" not in out  # 01:xx on the day given, not a day later


def test_a_mail_outage_is_one_line_naming_the_owners_never_their_keys(
    mail_down: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    code, out, err = run(capsys, "once", "--config", str(mail_down), "--today", TODAY)

    assert code == 1
    [outage] = [line for line in out.splitlines() if "not sent yet" in line]
    assert outage.startswith("  5 digests, for ")
    for owner in OWNERS:
        assert owner in outage
    assert "and the manager, not sent yet, tried again next cycle: nothing answers at" in outage
    logged = [record.getMessage() for record in caplog.records]
    assert len([line for line in logged if "nothing answers" in line]) == 1
    for text in (out, err, *logged):
        assert "owner-" not in text

    _, out, _ = run(capsys, "status", "--config", str(mail_down), "--today", TODAY)
    [line] = [line for line in out.splitlines() if "not delivered today" in line]
    assert line.startswith("5 digests, for ")
    assert "manager@riverside.example" in line
    assert "owner-" not in out


# --- closed days, and the mail password ----------------------------------------------------


def test_preview_on_a_closed_day_shows_the_next_open_days_digests(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "preview"

    code, out, err = run(
        capsys, "digest", "--preview", "--out", str(out_dir), "--config", str(config),
        "--today", "2026-11-28",
    )  # fmt: skip

    assert code == 0, err
    assert (
        "Today, Sat 28 Nov, the clinic is closed: these are the digests for Mon 30 Nov 2026,"
        " the next open day." in out
    )
    names = {p.name for p in out_dir.iterdir() if p.suffix == ".eml"}
    assert len(names) == 5
    assert all(name.startswith("2026-11-30-") for name in names)


def test_check_reports_a_missing_smtp_password_variable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CLINIC_MAIL_PASSWORD", raising=False)
    config = write_config(
        tmp_path,
        mail='mode = "smtp"',
        smtp='[mail.smtp]\nhost = "mail.riverside.example"\nusername = "followups"\n'
        'password_env = "CLINIC_MAIL_PASSWORD"',
    )

    code, out, _ = run(capsys, "check", "--config", str(config), "--today", TODAY)

    assert code == 1
    assert (
        "  Mail: the environment variable CLINIC_MAIL_PASSWORD (named by"
        " [mail.smtp].password_env) is not set" in out
    )
