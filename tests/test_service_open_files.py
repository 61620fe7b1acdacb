"""What a service of many clinics holds between its cycles (issue 16, point 5, measured by
bench/group_capacity.py), and the computer's limit on open files.

A clinic's state (a SQLite database: three files with its write-ahead log, and up to 2 MB of
it cached) is open only while the clinic's jobs run; kept open for the run, 500 clinics held
1 GB and 1,500 files between their cycles. A systemd service starts with a soft limit of 1024
open files and a far higher hard one, and systemd.exec(5) (LimitNOFILE=) asks programs that
can work with more to raise the soft limit themselves: the service does, or says what to
change. The limit is checked in a child process started with a low soft limit, as systemd
would start it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from contextlib import suppress
from datetime import UTC, date, datetime
from pathlib import Path

from sheets_sync.backends.memory import MemoryBackend
from sheets_sync.config import parse_config
from sheets_sync.daemon import Daemon, Service

REPO = Path(__file__).resolve().parents[1]
PLANS = REPO / "sheets_sync" / "plans.toml"
MOMENT = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)  # before the digests are due
CLINICS = 60  # a lock file each, against a soft limit of 64 open files

CHILD = """
import resource
import sys
from pathlib import Path

sys.path.insert(0, {tests!r})
from test_service_open_files import OneCycle, clinics
from sheets_sync.daemon import Service

group = clinics(Path({folder!r}), {clinics})
_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (64, {hard} or hard))
Service(group, clock=OneCycle()).run()
print(sum(daemon.backend.writes > 0 for _, daemon in group))
"""


class OneCycle:
    """A clock for one round of jobs: at the service's first sleep, `during` looks at the
    service between its cycles, and the service stops."""

    def __init__(self, during: object = None) -> None:
        self.during = during

    def now(self) -> datetime:
        return MOMENT

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        if callable(self.during):
            self.during()
        stop.set()  # the service finishes the jobs under way, then stops


def clinics(folder: Path, count: int, clock: OneCycle | None = None) -> list[tuple[str, Daemon]]:
    """`count` clinics, each with a log of one prospect in memory and a state of its own."""
    rows = [
        ["Name", "Owner", "Consultation date", "Last touch"],
        ["Ann Ames", "Anna", date(2026, 11, 2), None],
    ]
    staff = [["Name", "Email"], ["Anna", "anna@clinic.example"]]
    group = []
    for number in range(count):
        config = parse_config(
            {
                "source": {"kind": "xlsx", "path": "log.xlsx"},
                "plans": {"file": str(PLANS)},
                "clinic": {"name": f"Clinic {number}", "timezone": "Europe/London"},
                "mail": {"outbox": "outbox", "from": "Follow-ups <f@clinic.example>"},
                "daemon": {"state_dir": "state"},
            },
            base_dir=folder / f"clinic-{number}",
        )
        daemon = Daemon(config, {}, clock=clock or OneCycle(), backend=MemoryBackend(rows, staff))
        group.append((f"clinic-{number}", daemon))
    return group


def open_states(folder: Path) -> list[str]:
    """The state databases under `folder` this process holds open."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        with suppress(FileNotFoundError):  # the listing's own, closed since
            link = os.readlink(f"/proc/self/fd/{fd}")
            if link.startswith(str(folder)) and "state.sqlite3" in link:
                found.append(link)
    return found


def test_between_cycles_no_clinic_holds_its_state_open(tmp_path: Path) -> None:
    seen: list[list[str]] = []
    clock = OneCycle(during=lambda: seen.append(open_states(tmp_path)))
    group = clinics(tmp_path, 3, clock)

    Service(group, clock=clock).run()

    assert all(daemon.backend.writes for _, daemon in group)  # type: ignore[union-attr]
    assert seen == [[]]


def run_service(folder: Path, hard_limit: int | None = None) -> subprocess.CompletedProcess[str]:
    """The service over CLINICS clinics, in a child process whose soft limit is 64 open
    files (and its hard limit `hard_limit`, or as it was); it prints how many were synced."""
    script = CHILD.format(
        tests=str(REPO / "tests"), folder=str(folder), clinics=CLINICS, hard=hard_limit
    )
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(REPO), "PATH": ""},
    )


def test_a_service_of_many_clinics_syncs_them_all_under_a_low_open_files_limit(
    tmp_path: Path,
) -> None:
    done = run_service(tmp_path)

    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.split()[-1]) == CLINICS
    assert "cannot be used" not in done.stderr


def test_a_hard_limit_too_low_for_the_group_is_told_with_what_to_change(tmp_path: Path) -> None:
    done = run_service(tmp_path, hard_limit=64)

    assert done.returncode == 0, done.stderr[-2000:]
    warning = done.stderr.splitlines()[0]
    assert "this computer lets sheets-sync keep 64 files open, and 60 clinics need" in warning
    assert "LimitNOFILE=232 in the systemd unit" in warning
