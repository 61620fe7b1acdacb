"""The daemon as a real process (SPEC §6): SIGTERM in the middle of a write leaves the
workbook whole, a second daemon on the same state folder is refused, and the JSON log."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sheets_sync.backends.xlsx import XlsxBackend
from sheets_sync.core.values import CellValue
from tests.workbooks import make_log

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "SIGTERM") or sys.platform == "win32", reason="POSIX signals"
)

REPO = Path(__file__).resolve().parents[1]
PLANS = REPO / "sheets_sync" / "plans.toml"
BIG = 15_000  # prospects: the write takes long enough (about 0.4 s) to be caught under way
MANAGED = ("Next touch", "Next action", "Follow-up status", "Sync ID")
STAFF = [("Anna", "anna@clinic.example"), ("Ben", "ben@clinic.example")]
WAIT = 60.0  # seconds: the most any poll below waits


def prospects(count: int) -> list[dict[str, CellValue]]:
    start = date(2026, 1, 5)
    return [
        {
            "Name": f"Prospect {n}",
            "Owner": ("Anna", "Ben")[n % 2],
            "Phone": f"07700 9{n:05d}",
            "Email": f"prospect{n}@patients.example",
            "Consultation date": start + timedelta(days=n % 300),
            "Status": "Open",
            "Touches": 0,
            "Value": 500 + n % 2000,
        }
        for n in range(count)
    ]


def write_config(tmp_path: Path) -> Path:
    """An xlsx log, the outbox, the state in tmp_path. The clinic is closed around today, so
    no digests are built: these tests are about the process, not the mail."""
    today = datetime.now(ZoneInfo("Europe/London")).date()
    closed = ", ".join(str(today + timedelta(days=n)) for n in (-1, 0, 1))
    config = tmp_path / "sheets_sync.toml"
    config.write_text(
        f"""
[clinic]
timezone = "Europe/London"
holidays = [{closed}]

[source]
kind = "xlsx"
path = "log.xlsx"

[plans]
file = "{PLANS.as_posix()}"

[mail]
outbox = "outbox"
from = "Riverside Aesthetics <followups@riverside.example>"

[daemon]
state_dir = "state"
""",
        encoding="utf-8",
    )
    return config


class Daemon:
    """`sheets-sync run` in a child process; its standard error goes to a file."""

    def __init__(self, config: Path, *extra: str) -> None:
        self.stderr_path = config.with_name(f"stderr-{time.monotonic_ns()}.txt")
        self.stderr_file = self.stderr_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sheets_sync", "run", "--config", str(config), *extra],
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self.stderr_file,
        )

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def running(self) -> bool:
        return self.process.poll() is None

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=WAIT)

    def close(self) -> None:
        if self.running():
            self.process.kill()
            self.process.wait(timeout=WAIT)
        self.stderr_file.close()


@pytest.fixture
def daemons() -> Iterator[Callable[..., Daemon]]:
    started: list[Daemon] = []

    def start(config: Path, *extra: str) -> Daemon:
        daemon = Daemon(config, *extra)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.close()


def wait_for(condition: Callable[[], bool], daemon: Daemon, what: str, pause: float) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if not daemon.running():
            pytest.fail(f"the daemon ended before {what}:\n{daemon.stderr}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {WAIT:.0f} s:\n{daemon.stderr}")
        time.sleep(pause)


def synced_once(daemon: Daemon) -> Callable[[], bool]:
    return lambda: "sync:" in daemon.stderr


# --- SIGTERM during a write ----------------------------------------------------------------


def test_sigterm_in_the_middle_of_a_write_leaves_the_workbook_whole(
    tmp_path: Path, daemons: Callable[..., Daemon]
) -> None:
    config = write_config(tmp_path)
    workbook = make_log(tmp_path / "log.xlsx", prospects(BIG), staff=STAFF)
    original = workbook.read_bytes()
    temporary = tmp_path / ".log.xlsx.sheets-sync-tmp"

    daemon = daemons(config)
    wait_for(temporary.exists, daemon, "write under way", pause=0.002)
    code = daemon.terminate()

    assert code == 0, daemon.stderr
    assert not temporary.exists()
    assert zipfile.is_zipfile(workbook)
    with zipfile.ZipFile(workbook) as package:
        assert package.testzip() is None
    rows = XlsxBackend(workbook).read().rows
    assert len(rows) == BIG + 1
    header = [str(cell) for cell in rows[0]]
    assert [row[0] for row in rows[1:]] == [f"Prospect {n}" for n in range(BIG)]
    written = workbook.read_bytes()
    if written != original:  # a complete new version: the managed cells on every row
        assert all(name in header for name in MANAGED)
        sync_id = header.index("Sync ID")
        assert all(
            len(row) > sync_id and isinstance(row[sync_id], str) and row[sync_id]
            for row in rows[1:]
        )
    # The cycle under way is finished before the daemon stops: the write went through.
    assert written != original
    assert f"sync: {BIG:,} rows read" in daemon.stderr
    assert "sheets-sync stopped" in daemon.stderr
    assert not (tmp_path / "state" / "daemon.pid").exists()


# --- one daemon per state folder -----------------------------------------------------------


def test_a_second_run_on_the_same_state_folder_exits_1_and_the_first_keeps_running(
    tmp_path: Path, daemons: Callable[..., Daemon]
) -> None:
    config = write_config(tmp_path)
    make_log(tmp_path / "log.xlsx", prospects(5), staff=STAFF)
    first = daemons(config)
    wait_for(synced_once(first), first, "first sync", pause=0.05)

    second = subprocess.run(
        [sys.executable, "-m", "sheets_sync", "run", "--config", str(config)],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=WAIT,
    )

    assert second.returncode == 1, second.stderr
    assert str(tmp_path / "state") in second.stderr
    assert "already running" in second.stderr
    assert f"process {first.process.pid}" in second.stderr
    assert "Traceback" not in second.stderr
    time.sleep(0.3)
    assert first.running(), first.stderr
    assert (tmp_path / "state" / "daemon.pid").read_text(encoding="ascii") == str(first.process.pid)

    assert first.terminate() == 0, first.stderr
    assert not (tmp_path / "state" / "daemon.pid").exists()


# --- the JSON log --------------------------------------------------------------------------


def test_json_log_lines(tmp_path: Path, daemons: Callable[..., Daemon]) -> None:
    config = write_config(tmp_path)
    make_log(tmp_path / "log.xlsx", prospects(5), staff=STAFF)
    daemon = daemons(config, "--log-format", "json")
    wait_for(synced_once(daemon), daemon, "first sync", pause=0.05)

    assert daemon.terminate() == 0, daemon.stderr

    lines = [line for line in daemon.stderr.splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]
    assert entries
    for entry in entries:
        assert entry["level"] in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
        assert isinstance(entry["message"], str)
        assert datetime.fromisoformat(entry["time"]).tzinfo is not None
    messages = [entry["message"] for entry in entries]
    assert messages[0].startswith("sheets-sync is running")
    assert any(m.startswith("sync: 5 rows read") for m in messages)
    assert messages[-1] == "sheets-sync stopped"
    assert not any("Prospect" in m or "patients.example" in m for m in messages)
