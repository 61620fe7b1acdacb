"""A real second editor (issue 6, point 2): LibreOffice opens the workbook, edits staff
cells, sorts the rows, saves and closes, again and again, while the daemon syncs it.

Afterwards every staff edit is there, every other staff cell is as it was, the managed
columns agree with the rule, and no cycle touched the file while LibreOffice had it open
(SPEC §7). LibreOffice is driven over UNO by tests/lo_editor.py, in a Python that has the
`uno` module; the daemon's cycles run here, timed on the same monotonic clock.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from sheets_sync.backends.base import SourceBusy, SourceChanged, SourceError
from sheets_sync.backends.xlsx import XlsxBackend
from sheets_sync.config import Config, load_config
from sheets_sync.core.columns import find_layout
from sheets_sync.core.sync import Changes
from sheets_sync.core.values import CellValue
from sheets_sync.engine import sync, unchanged_since_last_sync
from sheets_sync.state import State
from tests.backends.contract import ROOT, TODAY
from tests.libreoffice import read_all_sheets
from tests.tally import record

pytestmark = pytest.mark.libreoffice

EDITOR = ROOT / "tests" / "lo_editor.py"
ROUNDS = 14
DEADLINE_SECONDS = 120
DATE_COLUMNS = {"Last touch"}  # the editor reports dates as ISO text


@dataclass(frozen=True)
class Span:
    """A stretch of time on the monotonic clock, which is system-wide on Linux."""

    start: float
    end: float

    def overlaps(self, other: Span) -> bool:
        return self.start < other.end and other.start < self.end

    def within(self, other: Span) -> bool:
        return other.start < self.start and self.end < other.end


@dataclass
class Daemon:
    """The daemon's side: `sync_once` as the daemon runs it, with every write timed.

    A swap is timed twice over: each os.rename, os.link or os.replace that names the
    workbook (`touches`), whatever steps the backend swaps with, and each write() that
    returned a new version, from entry to return (`writes`).
    """

    backend: XlsxBackend
    config: Config
    state: State
    cycles: int = 0
    idle: int = 0  # the log was as the last sync left it: nothing read
    refused: int = 0  # SourceBusy: the file was open
    restarts: int = 0  # SourceChanged: saved between read and swap
    gave_up: int = 0
    errors: list[str] = field(default_factory=list)
    writes: list[Span] = field(default_factory=list)
    touches: list[tuple[str, Span]] = field(default_factory=list)

    def cycle(self) -> None:
        if unchanged_since_last_sync(self.backend, self.config, self.state, today=TODAY):
            self.idle += 1
            return
        self.cycles += 1
        try:
            sync(self.backend, self.config, self.state, today=TODAY)
        except SourceError as error:  # changed every time it was tried: next cycle
            self.gave_up += 1
            if "changed" not in str(error):
                self.errors.append(str(error))

    def timed_write(self, write: Callable[[Changes, str], str | None]) -> Any:
        def timed(changes: Changes, version: str) -> str | None:
            entered = time.monotonic()
            try:
                written = write(changes, version)
            except SourceBusy:
                self.refused += 1
                raise
            except SourceChanged:
                self.restarts += 1
                raise
            if written is not None:
                self.writes.append(Span(entered, time.monotonic()))
            return written

        return timed

    def timed_file_call(self, name: str, call: Callable[..., Any]) -> Callable[..., Any]:
        workbook = self.backend.path

        def timed(*args: Any, **kwargs: Any) -> Any:
            before = time.monotonic()
            try:
                return call(*args, **kwargs)
            finally:
                if any(isinstance(a, str | Path) and Path(a) == workbook for a in args[:2]):
                    self.touches.append((name, Span(before, time.monotonic())))

        return timed


@pytest.fixture
def daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Daemon]:
    path = Path(shutil.copy(ROOT / "sample_workbook.xlsx", tmp_path / "clinic_log.xlsx"))
    backend = XlsxBackend(path, backup_dir=tmp_path / "state" / "backups")
    with State(tmp_path / "state") as state:
        timed = Daemon(backend, load_config(ROOT / "config" / "sheets_sync.toml"), state)
        monkeypatch.setattr(backend, "write", timed.timed_write(backend.write))
        for name in ("rename", "link", "replace"):
            monkeypatch.setattr(os, name, timed.timed_file_call(name, getattr(os, name)))
        yield timed


@pytest.fixture
def start_editor(
    uno_python: str, soffice: str, tmp_path: Path
) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Starts tests/lo_editor.py; at teardown its process group, LibreOffice with it, is
    killed if anything of it is left (its profile is in tmp_path, so it goes too)."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        editor = subprocess.Popen(
            [uno_python, str(EDITOR), *args, "--soffice", soffice, "--profile-in", str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group, which soffice joins
        )
        started.append(editor)
        return editor

    yield start
    for editor in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(editor.pid, signal.SIGKILL)
        editor.communicate()


def by_sync_id(path: Path) -> tuple[list[str], dict[str, list[CellValue]]]:
    """The log's header, and its rows keyed by Sync ID."""
    rows = XlsxBackend(path).read().rows
    header = [str(text) for text in rows[0]]
    id_col = header.index("Sync ID")
    keyed = {str(row[id_col]): list(row) for row in rows[1:]}
    assert len(keyed) == len(rows) - 1, "Sync IDs are not unique"
    return header, keyed


def test_libreoffice_editing_beside_the_daemon_loses_nothing_and_is_never_overwritten(
    daemon: Daemon, start_editor: Callable[..., subprocess.Popen[str]], tmp_path: Path
) -> None:
    path = daemon.backend.path
    daemon.cycle()  # every row has a Sync ID before LibreOffice opens the file
    assert daemon.writes
    header, before = by_sync_id(path)
    daemon.writes.clear()
    daemon.touches.clear()

    editor = start_editor(str(path), "--rounds", str(ROUNDS), "--seed", "6")
    deadline = time.monotonic() + DEADLINE_SECONDS
    while editor.poll() is None:
        assert time.monotonic() < deadline, "LibreOffice's rounds did not finish in time"
        daemon.cycle()
        time.sleep(0.005)
    output, errors = editor.communicate()
    assert editor.returncode == 0, errors
    rounds = [json.loads(line) for line in output.splitlines()[1:]]
    assert len(rounds) == ROUNDS, output
    # LibreOffice really said it had the file open: the lock file the daemon trusts.
    assert all(r["locked"] and r["unlocked_after_close"] for r in rounds)

    daemon.cycle()  # the final quiet cycle
    assert daemon.errors == []
    fresh = sync(daemon.backend, daemon.config, daemon.state, today=TODAY, dry_run=True)
    assert not fresh.plan.changes.cells, "the managed columns do not agree with the rule"
    # No cycle touched the file while LibreOffice had it open.
    open_spans = [Span(r["opened"], r["closing"]) for r in rounds]
    assert [
        (name, touch)
        for name, touch in daemon.touches
        for span in open_spans
        if touch.overlaps(span)
    ] == []
    assert [write for write in daemon.writes for span in open_spans if write.within(span)] == []

    # Every staff cell is as it was, or as LibreOffice's last edit of it left it.
    expected = {sync_id: list(row) for sync_id, row in before.items()}
    edits = 0
    for done in rounds:
        for sync_id, changed in done["edits"].items():
            for column, value in changed.items():
                edits += 1
                wanted = date.fromisoformat(value) if column in DATE_COLUMNS and value else value
                expected[sync_id][header.index(column)] = wanted
    final_header, after = by_sync_id(path)
    assert final_header == header
    assert after.keys() == expected.keys()
    managed = set(find_layout(XlsxBackend(path).read().rows).managed.values())
    staff_cells_now, staff_cells_expected = (
        {
            (sync_id, col): cell
            for sync_id, row in rows.items()
            for col, cell in enumerate(row)
            if col not in managed
        }
        for rows in (after, expected)
    )
    differ = [key for key, cell in staff_cells_expected.items() if staff_cells_now[key] != cell]
    record(
        "LibreOffice editing, sorting and saving beside the daemon",
        cycles=daemon.cycles,
        faults=len(rounds),
        edits=edits,
        lost=len(differ),
    )
    assert differ == []
    # LibreOffice itself reads the last edit of each note in the final file.
    seen = read_all_sheets(path, tmp_path)["Prospects"]
    notes, id_col = header.index("Notes"), header.index("Sync ID")
    assert {row[id_col]: row[notes] for row in seen[1:]} == {
        sync_id: row[notes] or "" for sync_id, row in expected.items()
    }

    # Both sides of the race were run: writes landed between rounds, and were refused while
    # the file was open.
    between = [
        write
        for write in daemon.writes
        if write.end < rounds[-1]["opening"] and not any(write.overlaps(s) for s in open_spans)
    ]
    assert len(between) >= 2
    assert daemon.refused >= 1
