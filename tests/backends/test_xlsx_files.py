"""Hostile things in the workbook's folder (issue 10, parts 6 to 8): what is at the workbook's
name or a lock file's name is not a file, or is a link; a lock file says something meant to
mislead; the workbook is private, or its name is a glob pattern.

Each is refused with a message that says what is there and what to do, or neutralised, in
bounded time: nothing blocks on a pipe or reads a device or a sparse file to its end, and
nothing outside the log's folder is read through a link into a message.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from sheets_sync.backends.base import SourceBusy, SourceError
from sheets_sync.backends.xlsx import XlsxBackend
from sheets_sync.backends.xlsx import files as xlsx_files
from sheets_sync.state import State
from tests.backends.contract import MANAGED_HEADERS, TODAY, plan
from tests.backends.test_xlsx import PROSPECTS, run
from tests.workbooks import make_log

T = TypeVar("T")
BOUND = 20.0  # seconds: far more than any refusal takes, far less than a blocked read
TEN_GIB = 10 << 30


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    folder = tmp_path / "share"
    folder.mkdir()
    return make_log(folder / "log.xlsx", PROSPECTS)


@pytest.fixture
def state(tmp_path: Path) -> Iterator[State]:
    with State(tmp_path / "state") as opened:
        yield opened


def within_bound(action: Callable[[], T]) -> T:
    """`action()`, failing the test rather than hanging it when `action` blocks."""
    outcome: dict[str, Any] = {}

    def attempt() -> None:
        try:
            outcome["value"] = action()
        except BaseException as exc:  # handed to the test's thread
            outcome["error"] = exc

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(BOUND)
    assert not worker.is_alive(), f"still busy after {BOUND} seconds: blocked or unbounded"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]


@contextlib.contextmanager
def unblocking(fifo: Path) -> Iterator[None]:
    """Whatever happens, a reader left blocked on `fifo` is let go: a writer opens and
    closes it, and the reader sees the end of the file."""
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


def planted_secret(tmp_path: Path) -> Path:
    """A file outside the log's folder that no message may ever quote: /etc/passwd's like."""
    secret = tmp_path / "elsewhere" / "passwd"
    secret.parent.mkdir()
    secret.write_text(",SECRET-CONTENT,root:x:0:0,\n", encoding="utf-8")
    return secret


def sparse(path: Path) -> None:
    """A file of 10 GiB that takes no room on disk: reading it to its end would."""
    with open(path, "wb") as file:
        file.truncate(TEN_GIB)


# --- not a file at the workbook's name ----------------------------------------------------

NOT_A_WORKBOOK: dict[str, tuple[Callable[[Path], None], str]] = {
    "a named pipe": (lambda path: os.mkfifo(path), "a named pipe"),
    "a folder": (lambda path: path.mkdir(), "a folder"),
    "a link to /dev/zero": (lambda path: path.symlink_to("/dev/zero"), "a device"),
    "a link to /dev/null": (lambda path: path.symlink_to("/dev/null"), "a device"),
    "a sparse file of 10 GiB": (lambda path: sparse(path), "a file of 10 GiB"),
}


@pytest.mark.parametrize("planted", NOT_A_WORKBOOK)
def test_what_is_not_a_workbook_file_is_refused_unread(log_path: Path, planted: str) -> None:
    plant, what = NOT_A_WORKBOOK[planted]
    log_path.unlink()
    plant(log_path)
    backend = XlsxBackend(log_path)
    with unblocking(log_path):
        for operation in (backend.read, backend.version):
            with pytest.raises(SourceError) as refused:
                within_bound(operation)
            message = str(refused.value)
            assert what in message
            assert "1 GiB" in message
            assert "[source].path" in message


def test_a_device_as_the_configured_path_is_refused_unread(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="is a device"):
        within_bound(XlsxBackend(Path("/dev/zero")).read)


def test_a_pipe_swapped_in_between_the_look_and_the_open_is_refused(
    log_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The look said a workbook; by the open, a named pipe is there. Opening it must not
    wait for a writer, and what was opened is looked at again."""
    real_open = os.open

    def swap_then_open(path: Any, flags: int, *args: Any) -> int:
        if Path(path) == log_path and not stat.S_ISFIFO(os.lstat(log_path).st_mode):
            log_path.unlink()
            os.mkfifo(log_path)
        return real_open(path, flags, *args)

    monkeypatch.setattr(xlsx_files.os, "open", swap_then_open)
    with unblocking(log_path), pytest.raises(SourceError, match="a named pipe"):
        within_bound(XlsxBackend(log_path).read)


# --- a workbook reached through a link ----------------------------------------------------


def test_a_linked_workbook_is_synced_at_its_target_and_stays_linked(
    tmp_path: Path, state: State
) -> None:
    target = make_log(_mkdir(tmp_path / "x") / "log.xlsx", PROSPECTS)
    link = _mkdir(tmp_path / "y") / "link.xlsx"
    link.symlink_to(target)
    backend = XlsxBackend(link, backup_dir=tmp_path / "state" / "backups")

    assert run(backend, state).written
    assert os.readlink(link) == str(target)
    rows = XlsxBackend(target).read().rows
    assert rows[0][-len(MANAGED_HEADERS) :] == list(MANAGED_HEADERS)
    assert sorted(p.name for p in target.parent.iterdir()) == ["log.xlsx"]
    assert sorted(p.name for p in link.parent.iterdir()) == ["link.xlsx"]

    synced = target.read_bytes()
    assert not run(backend, state).written
    assert target.read_bytes() == synced
    assert link.is_symlink()


@pytest.mark.parametrize("beside", ["the link", "the target"])
def test_a_lock_file_beside_the_link_or_its_target_makes_the_source_busy(
    tmp_path: Path, beside: str
) -> None:
    target = make_log(_mkdir(tmp_path / "x") / "log.xlsx", PROSPECTS)
    link = _mkdir(tmp_path / "y") / "link.xlsx"
    link.symlink_to(target)
    opened = link if beside == "the link" else target
    opened.with_name(f".~lock.{opened.name}#").write_text(",Anna Price,desk-3,", "utf-8")
    backend = XlsxBackend(link)
    snapshot = backend.read()
    before = target.read_bytes()
    with pytest.raises(SourceBusy, match="open for editing by Anna Price"):
        backend.write(plan(snapshot).changes, snapshot.version)
    assert target.read_bytes() == before
    assert link.is_symlink()


def test_a_swap_interrupted_through_a_link_is_finished_beside_the_target(tmp_path: Path) -> None:
    """Killed mid-swap, the workbook waits aside beside the target, where the link leads."""
    target = make_log(_mkdir(tmp_path / "x") / "log.xlsx", PROSPECTS)
    original = target.read_bytes()
    link = _mkdir(tmp_path / "y") / "link.xlsx"
    link.symlink_to(target)
    target.rename(target.with_name(".log.xlsx.sheets-sync-old"))

    assert XlsxBackend(link).read().rows[1][0] == "Ann Lee"
    assert target.read_bytes() == original
    assert sorted(p.name for p in target.parent.iterdir()) == ["log.xlsx"]
    assert link.is_symlink()


def test_a_link_planted_at_the_aside_name_is_never_put_back(log_path: Path, tmp_path: Path) -> None:
    secret = planted_secret(tmp_path)
    log_path.unlink()
    log_path.with_name(".log.xlsx.sheets-sync-old").symlink_to(secret)

    with pytest.raises(SourceError, match="is not there"):
        XlsxBackend(log_path).read()
    assert not log_path.exists()
    assert secret.stat().st_nlink == 1


def _mkdir(folder: Path) -> Path:
    folder.mkdir()
    return folder


# --- what is at a lock file's name --------------------------------------------------------

NOT_A_LOCK_FILE: dict[str, tuple[Callable[[Path, Path], None], str]] = {
    "a named pipe": (lambda lock, _: os.mkfifo(lock), "a named pipe"),
    "a folder": (lambda lock, _: lock.mkdir(), "a folder"),
    "a link to /dev/zero": (lambda lock, _: lock.symlink_to("/dev/zero"), "a symbolic link"),
    "a link to a file elsewhere": (lambda lock, secret: lock.symlink_to(secret), "a symbolic link"),
    "a sparse file of 10 GiB": (lambda lock, _: sparse(lock), "a file of 10 GiB"),
}


@pytest.mark.parametrize("lock_name", [".~lock.log.xlsx#", "~$log.xlsx"])
@pytest.mark.parametrize("planted", NOT_A_LOCK_FILE)
def test_what_is_not_a_lock_file_stops_the_write_unread(
    log_path: Path, tmp_path: Path, planted: str, lock_name: str
) -> None:
    plant, what = NOT_A_LOCK_FILE[planted]
    lock = log_path.with_name(lock_name)
    plant(lock, planted_secret(tmp_path))
    backend = XlsxBackend(log_path)
    snapshot = backend.read()
    before = log_path.read_bytes()
    with unblocking(lock), pytest.raises(SourceError) as refused:
        within_bound(lambda: backend.write(plan(snapshot).changes, snapshot.version))
    message = str(refused.value)
    assert not isinstance(refused.value, SourceBusy)  # a person must look: not just a wait
    assert f"{lock} is {what}" in message
    assert "remove it" in message
    assert "SECRET" not in message
    assert log_path.read_bytes() == before


def excel_owner_file(name: str) -> bytes:
    """`~$log.xlsx` as Excel writes it: the name's length, the name in the Windows code
    page padded with spaces to byte 55, the length again in two bytes, the name in UTF-16-LE,
    spaces to 165 bytes."""
    head = bytes([len(name)]) + name.encode("cp1252", errors="replace")
    tail = len(name).to_bytes(2, "little") + name.encode("utf-16-le")
    data = head.ljust(55, b" ") + tail
    return data + b" \x00" * ((165 - len(data)) // 2) + b" " * ((165 - len(data)) % 2)


OWNERS: dict[str, tuple[str, bytes, str]] = {
    "Excel's owner file": ("~$log.xlsx", excel_owner_file("Zoë Price"), "by Zoë Price ("),
    "LibreOffice's lock file": (
        ".~lock.log.xlsx#",
        b"Anna Price,anna,FRONTDESK,24.11.2026 09:12,file:///home/anna;\n",
        "by Anna Price, on FRONTDESK (since",
    ),
    "a name with terminal escapes and line breaks": (
        ".~lock.log.xlsx#",
        ",Eve\u202e\x1b[31m Adams\t\rALERT: all clear,host,\nsecond line,".encode(),
        "by Eve[31m Adams (",  # the first line only, up to the carriage return
    ),
    "a name far too long": (".~lock.log.xlsx#", b"," + b"N" * 3000 + b",h,", "by " + "N" * 59),
    "bytes that are no name": ("~$log.xlsx", bytes(range(256))[:165], "open for editing (since"),
}


@pytest.mark.parametrize("owner", OWNERS)
def test_a_lock_file_names_who_has_the_workbook_open_in_printable_words(
    log_path: Path, owner: str
) -> None:
    lock_name, content, shown = OWNERS[owner]
    log_path.with_name(lock_name).write_bytes(content)
    backend = XlsxBackend(log_path)
    snapshot = backend.read()
    with pytest.raises(SourceBusy) as busy:
        backend.write(plan(snapshot).changes, snapshot.version)
    message = str(busy.value)
    assert shown in message
    assert message.isprintable()  # no escape, no line break, no direction override
    assert len(message) < 250


# --- backups --------------------------------------------------------------------------------


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The umask most systems run with: new files readable by everyone unless told."""
    before = os.umask(0o022)
    yield
    os.umask(before)


@pytest.mark.usefixtures("usual_umask")
def test_a_private_workbook_is_never_copied_where_others_can_read_it(
    log_path: Path, tmp_path: Path, state: State, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_path.chmod(0o600)
    backups = tmp_path / "state" / "backups"
    modes_when_written: dict[str, int] = {}
    real_fsync = os.fsync

    def noting_fsync(descriptor: int) -> None:  # each copy is flushed once it is all written
        found = os.fstat(descriptor)
        if stat.S_ISREG(found.st_mode):
            modes_when_written[f"copy {len(modes_when_written) + 1}"] = stat.S_IMODE(found.st_mode)
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", noting_fsync)
    assert run(XlsxBackend(log_path, backup_dir=backups), state).written
    monkeypatch.undo()

    assert modes_when_written == {"copy 1": 0o600, "copy 2": 0o600}  # the new version, the backup
    (backup,) = backups.iterdir()
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert stat.S_IMODE(backups.stat().st_mode) == 0o700
    assert stat.S_IMODE(log_path.stat().st_mode) == 0o600


@pytest.mark.parametrize("name", ["Clinic [2026] log.xlsx", "a*b?.xlsx", "log[1].xlsx"])
def test_backups_are_pruned_whatever_the_workbook_is_called(
    tmp_path: Path, state: State, name: str
) -> None:
    path = make_log(_mkdir(tmp_path / "share") / name, PROSPECTS)
    backups = _mkdir(tmp_path / "backups")
    stem = path.stem
    others = {  # not this workbook's backups, though a glob of its name may match them
        f"{stem}.notes.xlsx",
        "aXbY.20260101-000000-000000.xlsx",
        "Clinic 2 log.20260101-000000-000000.xlsx",
        "log1.20260101-000000-000000.xlsx",
    }
    for other in others:
        (backups / other).write_bytes(b"kept")
    backend = XlsxBackend(path, backup_dir=backups, keep_backups=2)
    for days in range(4):
        assert run(backend, state, TODAY + timedelta(days=days)).written

    names = {p.name for p in backups.iterdir()}
    ours = names - others
    assert len(ours) == 2
    assert all(name.startswith(f"{stem}.") and name.endswith(".xlsx") for name in ours)
    assert others <= names
