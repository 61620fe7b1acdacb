"""The Excel backend: a prospect log in an .xlsx or .xlsm file on disk or a shared drive.

Only three parts of the file can change: the log's worksheet (its managed cells, width of
new columns, autofilter range and colour rules), the styles part (one date style, one fill
per flag) and the log's table part, when the log is an Excel table. Every other part is
carried over as it was. A write goes to a temporary file beside the workbook, which replaces
the workbook only if nobody saved it or opened it meanwhile; the previous version is kept
as a backup first.

The swap itself leaves no moment in which someone else's save could be overwritten: the
workbook is first renamed aside, so any save from then on lands at the workbook's name; the
aside file is checked to be the version that was read; and the new version is put in place
with a hard link, which refuses to replace a file someone saved meanwhile.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import itertools
import os
import stat
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from sheets_sync.backends.base import Snapshot, SourceBusy, SourceChanged, SourceError
from sheets_sync.backends.xlsx.frame import (
    Area,
    NewColumn,
    colour_rules,
    edit_frame,
    frame_prefix,
    highest_priority,
)
from sheets_sync.backends.xlsx.package import Package
from sheets_sync.backends.xlsx.safe import NotAWorkbook, reading, refusal, refusing
from sheets_sync.backends.xlsx.sheet import (
    CellFormats,
    cell_edits,
    merged_areas,
    patched,
    read_cells,
)
from sheets_sync.backends.xlsx.styles import date_styles, ensure_styles
from sheets_sync.backends.xlsx.tables import table_area, widen_table
from sheets_sync.core.sync import Changes

COLUMN_WIDTHS = {"next_touch": 16.0, "next_action": 56.0, "follow_up_status": 24.0, "sync_id": 12.0}


class XlsxBackend:
    def __init__(
        self,
        path: Path,
        *,
        worksheet: str = "Prospects",
        staff_worksheet: str | None = "Staff",
        backup_dir: Path | None = None,
        keep_backups: int = 10,
    ) -> None:
        self.path = path
        self.worksheet = worksheet
        self.staff_worksheet = staff_worksheet
        self.backup_dir = backup_dir
        self.keep_backups = keep_backups

    @property
    def description(self) -> str:
        return str(self.path)

    # --- reading ------------------------------------------------------------------------

    def read(self) -> Snapshot:
        self._finish_interrupted_swap()
        data = self._load()
        package = self._open(data)
        try:
            shown_as_date: frozenset[int] = frozenset()
            if package.styles_path:
                with reading(package.styles_path):
                    shown_as_date = date_styles(package.part(package.styles_path))
            formats = CellFormats(shown_as_date, package.date1904)
            log = self._sheet_path(package)
            sheet = package.part(log)
            shared_strings = package.shared_strings
            with reading(log):
                rows = read_cells(sheet, shared_strings, formats)
                merges = merged_areas(sheet)
            staff_path = package.sheet_path(self.staff_worksheet) if self.staff_worksheet else None
            staff = None
            if staff_path:
                with reading(staff_path):
                    staff = read_cells(package.part(staff_path), shared_strings, formats)
        except NotAWorkbook as exc:
            raise refusal(self.path, exc, self.backup_dir) from exc
        return Snapshot(rows, staff, fingerprint(data), package.date1904, merges=merges)

    def _load(self) -> bytes:
        try:
            return self.path.read_bytes()
        except FileNotFoundError as exc:
            kept = (
                f" (the last versions synced are in {self.backup_dir})" if self.backup_dir else ""
            )
            raise SourceError(
                f"{self.path} is not there: check [source].path, or whether the file was "
                f"moved or deleted{kept}"
            ) from exc
        except PermissionError as exc:
            raise SourceError(
                f"{self.path} cannot be read: permission denied for the user running sheets-sync"
            ) from exc
        except OSError as exc:
            raise SourceError(f"{self.path} cannot be read: {exc.strerror}") from exc

    def _open(self, data: bytes) -> Package:
        try:
            return Package(data)
        except NotAWorkbook as exc:
            raise refusal(self.path, exc, self.backup_dir) from exc

    def _sheet_path(self, package: Package) -> str:
        path = package.sheet_path(self.worksheet)
        if path is None:
            names = ", ".join(f'"{name}"' for name in package.sheet_names)
            raise SourceError(
                f'{self.path} has no worksheet "{self.worksheet}" (it has {names}); '
                "rename the sheet or set [source].worksheet"
            )
        return path

    # --- writing ------------------------------------------------------------------------

    def version(self) -> str:
        self._finish_interrupted_swap()
        return fingerprint(self._load())

    def write(self, changes: Changes, version: str) -> str | None:
        self._finish_interrupted_swap()
        self._refuse_if_open()
        data = self._load()
        if fingerprint(data) != version:
            raise SourceChanged(f"{self.path.name} was saved by someone since it was read")
        package = self._open(data)
        replacements = self._replacements(package, changes)
        if not replacements:
            return None
        temporary = self._beside("tmp")
        try:
            package.save_as(temporary, replacements)
            written = fingerprint(temporary.read_bytes())
            os.chmod(temporary, stat.S_IMODE(os.stat(self.path).st_mode))
            self._keep_backup(data)
            self._refuse_if_open()
            self._swap_in(temporary, version)
        except OSError as exc:
            raise self._write_problem(exc) from exc
        finally:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
        _sync_folder(self.path.parent)
        return written

    def _replacements(
        self, package: Package, changes: Changes
    ) -> dict[str, Iterable[bytes | memoryview]]:
        """The parts that change, as their new bytes in pieces; none when nothing would."""
        log = self._sheet_path(package)
        sheet = package.part(log)
        if package.styles_path is None:
            raise SourceError(f"{self.path} has no styles part; open and save it in Excel once")
        try:
            with reading(package.styles_path):
                styles = ensure_styles(package.part(package.styles_path))
                shown_as_date = date_styles(package.part(package.styles_path))
            layout = changes.layout
            managed = layout.managed

            edits = cell_edits(
                sheet,
                changes.cells,
                date_style=lambda existing: (
                    existing if existing in shown_as_date else styles.date_style
                ),
                style_from=(layout.header_row, min(layout.staff.values())),
                date1904=package.date1904,
            )
            last_col = max(managed.values())
            with reading(log):
                rules = colour_rules(
                    prefix=frame_prefix(sheet),
                    status_col=managed["follow_up_status"],
                    touch_col=managed["next_touch"],
                    coloured_cols=[
                        managed["next_touch"],
                        managed["next_action"],
                        managed["follow_up_status"],
                    ],
                    first_row=layout.first_row,
                    dxf_ids=styles.fills,
                    first_priority=highest_priority(sheet) + 1,
                )
                frame = edit_frame(
                    sheet,
                    used=Area(0, 1, last_col, changes.last_row),
                    new_columns=[
                        NewColumn(col, COLUMN_WIDTHS[field], hidden=field == "sync_id")
                        for field, col in sorted(managed.items(), key=lambda item: item[1])
                        if col in layout.new_headers
                    ],
                    header_row=layout.header_row,
                    log_cols=(min(layout.staff.values()), last_col),
                    rules=rules,
                )
            replacements: dict[str, Iterable[bytes | memoryview]] = {}
            if changes.cells or frame:
                # The frame edits lie before and after the cells: the head's first, the tail's
                # last. The cell edits are made as the part is written, so their errors too
                # become the refusal of a damaged part.
                head = [edit for edit in frame if edit[0] == 0]
                tail = [edit for edit in frame if edit[0] != 0]
                replacements[log] = refusing(
                    patched(sheet, itertools.chain(head, edits, tail)),
                    log,
                    self.path,
                    self.backup_dir,
                )
            for table in package.tables_of(log):
                with reading(table):
                    area = table_area(package.part(table))
                    if area.first_row == layout.header_row and area.first_col <= min(
                        layout.staff.values()
                    ):
                        widened = widen_table(
                            package.part(table), last_col=last_col, headers=changes.headers
                        )
                        if widened is not None:
                            replacements[table] = [widened]
        except NotAWorkbook as exc:
            raise refusal(self.path, exc, self.backup_dir) from exc
        if replacements and styles.xml is not None:
            replacements[package.styles_path] = [styles.xml]
        return replacements

    # --- the file system ------------------------------------------------------------------

    def _beside(self, purpose: str) -> Path:
        """A hidden file of ours beside the workbook: `.log.xlsx.sheets-sync-tmp`."""
        return self.path.with_name(f".{self.path.name}.sheets-sync-{purpose}")

    def _swap_in(self, temporary: Path, version: str) -> None:
        """Put the new version in place, unless someone saved the workbook since `version`."""
        with open(self.path, "rb") as file:
            read = fingerprint(file.read())
            before = os.fstat(file.fileno())
        saved_meanwhile = SourceChanged(f"{self.path.name} was saved by someone during the sync")
        if read != version:
            raise saved_meanwhile
        aside = self._beside("old")
        os.rename(self.path, aside)  # from here on, anyone's save lands at the workbook's name
        moved = os.stat(aside)
        if (moved.st_ino, moved.st_size, moved.st_mtime_ns) != (
            before.st_ino,
            before.st_size,
            before.st_mtime_ns,
        ):
            self._put_back(aside)
            raise saved_meanwhile
        try:
            _place(temporary, self.path)
        except FileExistsError:
            aside.unlink()  # theirs stands; the version we read is in the backups
            raise saved_meanwhile from None
        except BaseException:
            self._put_back(aside)
            raise
        aside.unlink()

    def _write_problem(self, exc: OSError) -> SourceError:
        """Why a write failed, for the person who can put it right. The workbook is as it was."""
        name, folder = self.path.name, self.path.parent
        if getattr(exc, "winerror", None) in _LOCKED_BY_A_PROGRAM:
            return SourceBusy(
                f"{name} is open in a program that locks it; nothing was written, and the "
                "sync tries again next cycle"
            )
        reasons = {
            errno.ENOSPC: f"the disk holding {folder} is full; free some space",
            errno.EDQUOT: f"the disk quota for {folder} is used up",
            errno.EACCES: f"permission denied: the user running sheets-sync must be allowed "
            f"to create, rename and delete files in {folder}",
            errno.EROFS: f"{folder} is on a read-only drive",
            errno.ENOENT: f"{name} or its folder went away during the sync (moved, deleted, "
            "or a network share disconnected)",
            errno.ESTALE: f"the network share holding {folder} went away during the sync",
        }
        reasons[errno.EPERM] = reasons[errno.EACCES]
        reason = reasons.get(exc.errno or 0, exc.strerror or str(exc))
        return SourceError(
            f"{name} was not written: {reason}. The workbook was left as it was, and the "
            "next cycle tries again"
        )

    def _put_back(self, aside: Path) -> None:
        """Return the renamed-aside workbook to its name, unless someone saved one there."""
        try:
            _place(aside, self.path)
        except FileExistsError:
            aside.unlink()

    def _finish_interrupted_swap(self) -> None:
        """After a crash mid-swap: the workbook back at its name, our leftovers gone.

        The temporary file goes too: after a crash it may be a second name of the workbook
        itself, which writing the next temporary file into would destroy.
        """
        aside = self._beside("old")
        if aside.exists():
            self._put_back(aside)
        with contextlib.suppress(FileNotFoundError):
            self._beside("tmp").unlink()

    def lock_files(self) -> list[Path]:
        """Lock files that say Excel or LibreOffice has the workbook open for editing."""
        name = self.path.name
        candidates = {f"~${name}", f"~${name[1:]}", f"~${name[2:]}", f".~lock.{name}#"}
        return [
            self.path.with_name(c) for c in sorted(candidates) if self.path.with_name(c).exists()
        ]

    def _refuse_if_open(self) -> None:
        locks = self.lock_files()
        if locks:
            who = _lock_owner(locks[0])
            raise SourceBusy(
                f"{self.path.name} is open for editing{who} (lock file {locks[0].name}); "
                "nothing was written, and the sync tries again next cycle"
            )

    def _keep_backup(self, data: bytes) -> None:
        if self.backup_dir is None:
            return
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        _write_durably(self.backup_dir / f"{self.path.stem}.{stamp}{self.path.suffix}", data)
        backups = sorted(self.backup_dir.glob(f"{self.path.stem}.*{self.path.suffix}"))
        for old in backups[: -self.keep_backups]:
            old.unlink()


def fingerprint(data: bytes) -> str:
    """The version token: a digest of the file's bytes, so any save by anyone changes it."""
    return hashlib.sha256(data).hexdigest()


def _write_durably(path: Path, data: bytes) -> None:
    with open(path, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def _place(source: Path, target: Path) -> None:
    """Move `source` to `target`, raising FileExistsError rather than replacing a file there.

    A hard link is the one no-replace move every platform has. Where the file system has no
    hard links (some network shares), a rename stands in: Windows refuses it too when the
    target exists; elsewhere the target is looked for just before.
    """
    try:
        os.link(source, target)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
        if os.name == "posix" and target.exists():
            raise FileExistsError(target) from exc
        os.rename(source, target)
    else:
        source.unlink()


# Windows' sharing and lock violations: Excel has the workbook open.
_LOCKED_BY_A_PROGRAM = {32, 33}

_NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EMLINK}


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX; Windows has no directory handles for this)."""
    if os.name != "posix":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _lock_owner(lock: Path) -> str:
    """LibreOffice's lock file names who has the file open: `,Name,host,...`."""
    with contextlib.suppress(OSError, UnicodeDecodeError):
        fields = lock.read_text(encoding="utf-8").split(",")
        if len(fields) > 1 and fields[1].strip():
            return f" by {fields[1].strip()}"
    return ""
