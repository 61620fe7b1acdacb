"""The file system misbehaving under the daemon (issue 6, point 4): the disk full, permission
denied, the workbook renamed, deleted or replaced by something that is not a workbook, its
folder vanishing mid-write. Each gives a clear message, loses nothing, and the daemon keeps
running and recovers on its own once the fault is put right.

The real daemon loop runs; each sync is preceded by one step of a script that injects or
clears a fault, the way the world would between two cycles. The faults are real: a full
tmpfs, a folder the daemon's user may not write, files really moved.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent import futures
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from sheets_sync.backends.xlsx import XlsxBackend
from sheets_sync.config import Config, parse_config
from sheets_sync.daemon import Daemon
from sheets_sync.engine import sync
from sheets_sync.state import State
from tests.backends.other_editor import save_edited
from tests.backends.test_xlsx_race import notes
from tests.tally import record
from tests.workbooks import SMALL_LOG_DAY, make_small_log, serial_date

REPO = Path(__file__).resolve().parents[1]
SUNDAY = SMALL_LOG_DAY + timedelta(days=5)  # no digests are due: only syncs run
LAST_TOUCH = 46345  # 19 Nov 2026, as the serial number a worksheet holds
NOBODY = 65534
Step = Callable[[], None]


def nothing() -> None:
    """A cycle with nothing injected."""


class SteppingClock:
    """Time that moves only when the daemon sleeps, from noon on a Sunday."""

    def __init__(self) -> None:
        self.moment = datetime.combine(SUNDAY, time(12), UTC)

    def now(self) -> datetime:
        return self.moment

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        self.moment += timedelta(seconds=seconds)

    def wait(self, jobs: Sequence[Future[None]], seconds: float) -> None:
        futures.wait(jobs, timeout=seconds)  # the daemon's job, in the computer's time


@dataclass(kw_only=True)
class ScriptedDaemon(Daemon):
    """The real daemon, with one step of the script before each of its syncs; it stops when
    the script is done. What each sync left in the health record is kept, in order."""

    script: list[Step]
    outcomes: list[str] = field(default_factory=list)

    def sync_once(self, state: State) -> None:
        step = self.script.pop(0)
        if not self.script:
            self.stop.set()  # the cycle under way finishes first
        try:
            step()
        except Exception as exc:  # the test's own step: say so, rather than pass for a fault
            self.outcomes.append(f"the script's step failed: {exc!r}")
            return
        try:
            super().sync_once(state)
        except Exception as exc:  # as the daemon's loop takes it, but recorded here first
            self._failed(state, exc)
        health = state.health()
        self.outcomes.append(health.error if health and health.error else "ok")


def make_config(folder: Path) -> Config:
    return parse_config(
        {
            "source": {"kind": "xlsx", "path": "share/log.xlsx"},
            "plans": {"file": str(REPO / "sheets_sync" / "plans.toml")},
            "mail": {"outbox": "outbox", "from": "followups@riverside.example"},
            "daemon": {"state_dir": "state", "sync_every_minutes": 5},
        },
        base_dir=folder,
    )


@dataclass
class Clinic:
    """A workbook in a shared folder, the daemon's config, and what staff typed."""

    folder: Path
    config: Config
    cycles: int = 0

    @property
    def share(self) -> Path:
        return self.folder / "share"

    @property
    def workbook(self) -> Path:
        return self.share / "log.xlsx"

    def staff_edit(self, text: str) -> Step:
        """A step: staff save the workbook with `text` in row 2's Notes, and an earlier Last
        touch, which moves the follow-up: the next sync has cells to write."""
        edits: dict[str, str | int] = {"H2": text, "E2": LAST_TOUCH}
        return lambda: save_edited(self.workbook, self.workbook.read_bytes(), edits)

    def run(self, *script: Step) -> list[str]:
        """Run the daemon through the script: the problem each sync reported, or "ok"."""
        daemon = ScriptedDaemon(self.config, environ={}, clock=SteppingClock(), script=list(script))
        daemon.run()
        self.cycles += len(daemon.outcomes)
        return daemon.outcomes

    def assert_nothing_lost(self, text: str, fault: str) -> None:
        """Staff's last edit is there, the managed columns are up to date, and none of the
        daemon's own files are left beside the workbook."""
        rows = XlsxBackend(self.workbook, staff_worksheet=None).read().rows
        edited = dict(zip(rows[0], rows[1], strict=False))
        lost = [edited["Notes"] != text, edited["Last touch"] != serial_date(LAST_TOUCH)]
        record(fault, cycles=self.cycles, faults=1, edits=len(lost), lost=sum(lost))
        assert not any(lost)
        backend = XlsxBackend(self.workbook, staff_worksheet=None)
        with State(self.config.daemon.state_dir) as state:
            report = sync(backend, self.config, state, today=SUNDAY, dry_run=True)
        assert not report.plan.changes.cells
        assert sorted(p.name for p in self.share.glob(".*")) == []


@pytest.fixture
def clinic(tmp_path: Path) -> Clinic:
    (tmp_path / "share").mkdir()
    make_small_log(tmp_path / "share" / "log.xlsx")
    return Clinic(tmp_path, make_config(tmp_path))


# --- the disk full ------------------------------------------------------------------------


@contextlib.contextmanager
def small_disk(folder: Path) -> Iterator[None]:
    """`folder` on a real file system of its own, 256 KiB in all (a tmpfs)."""
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        message = f"a tmpfs cannot be mounted here: {mounted.stderr.strip()}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def fill(folder: Path) -> None:
    """Fill the disk holding `folder` to the last byte."""
    with open(folder / "filler", "wb", buffering=0) as filler:
        for size in (65536, 4096, 1):
            with contextlib.suppress(OSError):
                while filler.write(b"\0" * size):
                    pass


def test_a_full_disk(clinic: Clinic, tmp_path: Path) -> None:
    original = clinic.workbook.read_bytes()
    clinic.workbook.unlink()
    with small_disk(clinic.share):
        clinic.workbook.write_bytes(original)
        before_full: dict[str, bytes] = {}

        def disk_fills_after_staff_edit() -> None:
            clinic.staff_edit("called back")()
            fill(clinic.share)
            before_full["bytes"] = clinic.workbook.read_bytes()

        def still_as_staff_left_it() -> None:
            assert clinic.workbook.read_bytes() == before_full["bytes"]

        outcomes = clinic.run(
            nothing,
            disk_fills_after_staff_edit,
            still_as_staff_left_it,
            (clinic.share / "filler").unlink,
            nothing,
        )
        assert outcomes[0] == outcomes[3] == "ok"
        for problem in outcomes[1:3]:
            assert "log.xlsx was not written: the disk holding" in problem
            assert "is full; free some space" in problem
            assert "The workbook was left as it was" in problem
        clinic.assert_nothing_lost("called back", "the disk full")


# --- permission denied -------------------------------------------------------------------


@contextlib.contextmanager
def run_as_another_user() -> Iterator[Callable[[bool], None]]:
    """A switch between the test's own user and one the folder's permissions apply to.

    Root is never refused, so as root the daemon's steps run as `nobody` (the effective
    user only: the process can switch back)."""

    def become(other: bool) -> None:
        if os.getuid() == 0:
            os.seteuid(NOBODY if other else 0)

    try:
        yield become
    finally:
        become(False)


@pytest.fixture
def open_clinic() -> Iterator[Clinic]:
    """A clinic in a folder every user may enter, for the permission tests."""
    folder = Path(tempfile.mkdtemp(prefix="sheets-sync-permissions-"))
    folder.chmod(0o755)
    (folder / "share").mkdir()
    (folder / "state").mkdir(mode=0o777)
    (folder / "state").chmod(0o777)  # the daemon's state stays writable throughout
    make_small_log(folder / "share" / "log.xlsx")
    try:
        yield Clinic(folder, make_config(folder))
    finally:
        shutil.rmtree(folder)


def test_a_folder_the_daemon_may_not_write(open_clinic: Clinic) -> None:
    clinic = open_clinic
    with run_as_another_user() as become:

        def lock_the_folder() -> None:
            clinic.staff_edit("called back")()
            clinic.share.chmod(0o555)
            become(True)

        def unlock_the_folder() -> None:
            become(False)
            clinic.share.chmod(0o755)

        outcomes = clinic.run(nothing, lock_the_folder, nothing, unlock_the_folder, nothing)

    assert outcomes[0] == outcomes[3] == outcomes[4] == "ok"
    for problem in outcomes[1:3]:
        assert "log.xlsx was not written: permission denied: the user running sheets-sync" in (
            problem
        )
        assert f"create, rename and delete files in {clinic.share}" in problem
    clinic.assert_nothing_lost("called back", "permission denied: the folder")


def test_a_workbook_the_daemon_may_not_read(open_clinic: Clinic) -> None:
    clinic = open_clinic
    with run_as_another_user() as become:

        def hide_the_workbook() -> None:
            clinic.staff_edit("called back")()
            clinic.workbook.chmod(0)
            become(True)

        def show_the_workbook() -> None:
            become(False)
            clinic.workbook.chmod(0o644)

        outcomes = clinic.run(nothing, hide_the_workbook, show_the_workbook)

    assert outcomes[0] == outcomes[2] == "ok"
    assert (
        "log.xlsx cannot be read: permission denied for the user running sheets-sync"
        in (outcomes[1])
    )
    assert stat.S_IMODE(clinic.workbook.stat().st_mode) == 0o644
    clinic.assert_nothing_lost("called back", "permission denied: the workbook")


# --- the workbook renamed, deleted, or replaced --------------------------------------------


def test_a_renamed_workbook_is_left_where_it_went(clinic: Clinic) -> None:
    renamed = clinic.share / "log (Anna's copy).xlsx"
    outcomes = clinic.run(
        nothing,
        lambda: (clinic.staff_edit("called back")(), clinic.workbook.rename(renamed)),
        nothing,
        lambda: renamed.rename(clinic.workbook),
    )
    assert outcomes[0] == outcomes[3] == "ok"
    for problem in outcomes[1:3]:
        assert "log.xlsx is not there: check [source].path, or whether the file was moved" in (
            problem
        )
    assert not renamed.exists()
    clinic.assert_nothing_lost("called back", "the workbook renamed")


def test_a_workbook_renamed_during_the_swap(
    clinic: Clinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Moved away just before the daemon moves it aside: the daemon puts nothing at the old
    name, and the moved workbook is untouched."""
    renamed = clinic.share / "log (moved).xlsx"
    rename = os.rename

    def moved_first(source: Any, target: Any) -> None:
        if Path(source) == clinic.workbook and not renamed.exists():
            rename(clinic.workbook, renamed)
        rename(source, target)

    def move_it_mid_write() -> None:
        clinic.staff_edit("called back")()
        monkeypatch.setattr(os, "rename", moved_first)

    def put_it_back() -> None:
        monkeypatch.undo()
        assert not clinic.workbook.exists()
        assert notes(renamed)[0] == "called back"
        renamed.rename(clinic.workbook)

    outcomes = clinic.run(nothing, move_it_mid_write, put_it_back)
    assert outcomes[0] == outcomes[2] == "ok"
    assert (
        "log.xlsx was not written: log.xlsx or its folder went away during the sync"
        in (outcomes[1])
    )
    clinic.assert_nothing_lost("called back", "the workbook renamed during the swap")


def test_a_deleted_workbook_is_restored_from_the_backups(clinic: Clinic) -> None:
    backups = clinic.folder / "state" / "backups"

    def restore_the_newest_backup() -> None:
        newest = sorted(backups.iterdir())[-1]
        shutil.copy(newest, clinic.workbook)

    outcomes = clinic.run(
        nothing,
        clinic.staff_edit("called back"),
        clinic.workbook.unlink,
        nothing,
        restore_the_newest_backup,
    )
    assert outcomes[:2] == ["ok", "ok"]
    assert outcomes[4] == "ok"
    for problem in outcomes[2:4]:
        assert f"the last versions synced are in {backups}" in problem
    clinic.assert_nothing_lost("called back", "the workbook deleted")


@pytest.mark.parametrize(
    ("what", "content"),
    [
        ("an empty file", b""),
        ("a text file", b"Name,Owner\nAnn,Anna\n"),
        ("a PDF", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"),
        ("a broken zip", b"PK\x03\x04" + b"\0" * 64),
    ],
)
def test_a_workbook_replaced_by_something_else_is_never_written(
    clinic: Clinic, what: str, content: bytes
) -> None:
    kept = clinic.folder / "log.xlsx"

    def replace_it() -> None:
        clinic.staff_edit("called back")()
        shutil.move(clinic.workbook, kept)
        clinic.workbook.write_bytes(content)

    def check_untouched_and_put_back() -> None:
        assert clinic.workbook.read_bytes() == content
        shutil.move(kept, clinic.workbook)

    outcomes = clinic.run(nothing, replace_it, nothing, check_untouched_and_put_back)
    assert outcomes[0] == outcomes[3] == "ok"
    for problem in outcomes[1:3]:
        assert f"{clinic.workbook} cannot be read: it is not an Excel workbook" in problem, what
    clinic.assert_nothing_lost("called back", "the workbook replaced by another file")


# --- the folder vanishing mid-write --------------------------------------------------------


def test_the_folder_vanishing_mid_write(clinic: Clinic, monkeypatch: pytest.MonkeyPatch) -> None:
    """The share goes away while the temporary file is being written (its folder is moved
    out from under the daemon, as a disconnected network drive would be) and comes back
    two cycles later."""
    away = clinic.folder / "share (disconnected)"
    fsync = os.fsync

    def share_goes_away(descriptor: int) -> None:
        fsync(descriptor)
        if clinic.share.exists():
            clinic.share.rename(away)

    def disconnect_mid_write() -> None:
        clinic.staff_edit("called back")()
        monkeypatch.setattr(os, "fsync", share_goes_away)

    def reconnect() -> None:
        monkeypatch.undo()
        away.rename(clinic.share)

    outcomes = clinic.run(nothing, disconnect_mid_write, nothing, reconnect, nothing)
    assert outcomes[0] == outcomes[3] == outcomes[4] == "ok"
    assert (
        "went away during the sync (moved, deleted, or a network share disconnected)"
        in (outcomes[1])
    )
    assert "log.xlsx is not there" in outcomes[2]
    clinic.assert_nothing_lost("called back", "the folder vanishing mid-write")
