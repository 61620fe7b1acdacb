"""A sync killed (SIGKILL) at each durable step of an xlsx write (issue 6): the workbook is
the old version or the new one, never a broken file, and the next run recovers on its own.
Killed inside the swap, the old version waits whole under a hidden name beside the
workbook, and the next run puts it back. Also: backups rotate, keeping the last
`[daemon] keep_backups`."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sheets_sync.backends.xlsx import XlsxBackend
from sheets_sync.core.columns import MANAGED_COLUMNS
from tests.tally import record

REPO = Path(__file__).resolve().parents[2]
TODAY = "2026-11-24"
NEXT_DAY = "2026-11-25"
DAY_AFTER = "2026-11-26"

# Runs the CLI in a child that kills itself (SIGKILL) at one step of the write: just before,
# or just after, the `nth` call of os.fsync, os.rename or os.link. In a write those come in
# this order: fsync of the temporary file, fsync of the backup, the rename of the workbook
# aside, the link that puts the new version in its place, fsync of the folder.
BOOTSTRAP = """
import os, signal, sys
name, nth, when = sys.argv[1], int(sys.argv[2]), sys.argv[3]
original = getattr(os, name)
calls = [0]
def dying(*args, **kwargs):
    calls[0] += 1
    if calls[0] == nth and when == "before":
        os.kill(os.getpid(), signal.SIGKILL)
    result = original(*args, **kwargs)
    if calls[0] == nth and when == "after":
        os.kill(os.getpid(), signal.SIGKILL)
    return result
setattr(os, name, dying)
from sheets_sync.cli import main
sys.exit(main(sys.argv[4:]))
"""

# Each step, and what is at the workbook's name right after the kill there.
OLD, NEW, ASIDE = "old", "new", "aside"  # ASIDE: the old version, renamed aside for the swap
STEPS = [
    ("fsync", 1, "before", OLD),  # writing the temporary file
    ("fsync", 1, "after", OLD),
    ("fsync", 2, "before", OLD),  # keeping the backup
    ("fsync", 2, "after", OLD),
    ("rename", 1, "before", OLD),  # the workbook moves aside
    ("rename", 1, "after", ASIDE),
    ("link", 1, "before", ASIDE),  # the new version takes its name
    ("link", 1, "after", NEW),
    ("fsync", 3, "before", NEW),  # making the swap durable
    ("fsync", 3, "after", NEW),
]


def write_config(folder: Path, keep_backups: int = 10) -> Path:
    shutil.copy(REPO / "sample_workbook.xlsx", folder / "log.xlsx")
    path = folder / "clinic.toml"
    path.write_text(
        f"""
[source]
kind = "xlsx"
path = "log.xlsx"
[plans]
file = "{REPO / "sheets_sync" / "plans.toml"}"
[daemon]
state_dir = "state"
keep_backups = {keep_backups}
""",
        encoding="utf-8",
    )
    return path


def once(config: Path, *kill: str, today: str = TODAY) -> subprocess.CompletedProcess[str]:
    arguments = ["once", "--config", str(config), "--today", today, "--no-digest"]
    command = (
        [sys.executable, "-c", BOOTSTRAP, *kill, *arguments]
        if kill
        else [sys.executable, "-m", "sheets_sync", *arguments]
    )
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)


def managed_headers(path: Path) -> bool:
    """Whether the workbook reads whole, and has the managed columns (the new version)."""
    rows = XlsxBackend(path).read().rows
    assert len(rows) > 60  # every prospect is there, whichever version it is
    return MANAGED_COLUMNS["sync_id"][0] in rows[0]


@pytest.mark.parametrize(("call", "nth", "when", "left"), STEPS)
def test_a_sync_killed_at_each_step_leaves_a_whole_workbook_and_recovers(
    tmp_path: Path, call: str, nth: int, when: str, left: str
) -> None:
    config = write_config(tmp_path)
    workbook = tmp_path / "log.xlsx"
    original = workbook.read_bytes()

    killed = once(config, call, str(nth), when)

    assert killed.returncode == -signal.SIGKILL, killed.stderr
    if left == ASIDE:  # killed inside the swap: the old version, whole, under our hidden name
        assert not workbook.exists()
        assert (tmp_path / ".log.xlsx.sheets-sync-old").read_bytes() == original
    else:
        assert managed_headers(workbook) == (left == NEW)  # reads whole: old or new
        if left == OLD:
            assert workbook.read_bytes() == original

    recovered = once(config)
    assert recovered.returncode == 0, recovered.stderr
    assert managed_headers(workbook)
    assert sorted(p.name for p in tmp_path.glob(".*")) == []  # the killed run's files are gone
    again = once(config)
    assert again.returncode == 0, again.stderr
    assert "nothing to do" in again.stdout or "nothing to write" in again.stdout
    record("a sync killed (SIGKILL) at each step of a write", cycles=3, faults=1, edits=0, lost=0)


def test_values_a_killed_sync_wrote_are_known_as_its_own_the_next_day(tmp_path: Path) -> None:
    """Killed once the new workbook is in place, before the state heard of it: the next
    day's run must not take those values for something a person typed (CHECK DATA), so it
    flags exactly the rows a run never killed flags."""

    def rows_to_check(killed: bool) -> str:
        (tmp_path / str(killed)).mkdir()
        config = write_config(tmp_path / str(killed))
        assert once(config).returncode == 0
        kill = ("link", "1", "after") if killed else ()
        assert once(config, *kill, today=NEXT_DAY).returncode == (-signal.SIGKILL if kill else 0)
        last = once(config, today=DAY_AFTER)
        assert last.returncode == 0, last.stderr
        return re.findall(r"\d+ check data", last.stdout)[0]

    assert rows_to_check(killed=True) == rows_to_check(killed=False)


def test_backups_rotate_keeping_the_last_n(tmp_path: Path) -> None:
    config = write_config(tmp_path, keep_backups=3)
    for day in ("2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27", "2026-11-30"):
        assert once(config, today=day).returncode == 0
    backups = sorted((tmp_path / "state" / "backups").iterdir())
    assert len(backups) == 3
    assert all(XlsxBackend(path).read().rows for path in backups)  # each a whole workbook
