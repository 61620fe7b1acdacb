"""A service of many clinics and the computer's limit on open files (issue 16, point 5).

Each clinic keeps its lock file and its state database (with SQLite's write-ahead log and
its index: three files) open for the whole run: about four files a clinic. A systemd service
starts with a soft limit of 1024 open files and a far higher hard one, and systemd.exec(5)
asks programs that can work with more to raise the soft limit themselves; so a group of some
250 clinics would find every clinic after that unable to open its state (measured with
bench/group_capacity.py under `ulimit -Sn 1024`). The service raises its soft limit to the
hard one. The check runs in a child process with a low soft limit, as systemd would start it.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLINICS = 40  # about 160 files kept open, against a soft limit of 64

CHILD = """
import resource
import threading
from concurrent import futures
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sheets_sync.backends.memory import MemoryBackend
from sheets_sync.config import parse_config
from sheets_sync.daemon import Daemon, Service

folder = Path({folder!r})
plans = Path({plans!r})
start = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)  # before the digests are due


class OneCycle:
    # Time moves as the service asks, for one sync interval (a group's syncs are spread over
    # it): every clinic syncs once.
    moment = start

    def now(self):
        return OneCycle.moment

    def sleep(self, seconds, stop):
        OneCycle.moment += timedelta(seconds=seconds)
        if OneCycle.moment >= start + timedelta(minutes=15):
            stop.set()  # the service finishes the jobs under way, then stops

    def wait(self, jobs, seconds):
        futures.wait(jobs)


rows = [
    ["Name", "Owner", "Consultation date", "Last touch"],
    ["Ann Ames", "Anna", date(2026, 11, 2), None],
]
clinics = []
for number in range({clinics}):
    config = parse_config(
        {{
            "source": {{"kind": "xlsx", "path": "log.xlsx"}},
            "plans": {{"file": str(plans)}},
            "clinic": {{"name": f"Clinic {{number}}", "timezone": "Europe/London"}},
            "mail": {{"outbox": "outbox", "from": "Follow-ups <f@clinic.example>"}},
            "daemon": {{"state_dir": f"state-{{number}}"}},
        }},
        base_dir=folder / f"clinic-{{number}}",
    )
    backend = MemoryBackend(rows, [["Name", "Email"], ["Anna", "anna@clinic.example"]])
    clinics.append((f"clinic-{{number}}", Daemon(config, {{}}, clock=OneCycle(), backend=backend)))

_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (64, {hard} or hard))
Service(clinics, clock=OneCycle()).run()
print(sum(daemon.backend.writes > 0 for _, daemon in clinics))
"""


def run_service(folder: Path, hard_limit: int | None = None) -> subprocess.CompletedProcess[str]:
    """The service over CLINICS clinics, in a child process whose soft limit is 64 open
    files (and its hard limit `hard_limit`, or as it was); it prints how many were synced."""
    script = CHILD.format(
        folder=str(folder),
        plans=str(REPO / "sheets_sync" / "plans.toml"),
        clinics=CLINICS,
        hard=hard_limit,
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
    assert "this computer lets sheets-sync keep 64 files open, and 40 clinics need" in warning
    assert "LimitNOFILE=224 in the systemd unit" in warning
