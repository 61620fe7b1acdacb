"""The Excel backend: a prospect log in an .xlsx or .xlsm file on disk or a shared drive.

Only four parts of the file can change: the log's worksheet (its managed cells, width of
new columns, autofilter range and colour rules), the styles part (one date style, one fill
per flag), the log's table part, when the log is an Excel table, and the workbook part's
hidden name for the log's autofilter, which widens with the filter. Every other part is
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
import re
import stat
from collections.abc import Iterable
from datetime import UTC, datetime, tzinfo
from pathlib import Path

from sheets_sync.backends.base import Snapshot, SourceBusy, SourceChanged, SourceError
from sheets_sync.backends.xlsx.files import (
    LOCK_FILE_SIZE_LIMIT,
    WORKBOOK_SIZE_LIMIT,
    NotAFile,
    lock_message,
    read_bounded,
    size_in_words,
)
from sheets_sync.backends.xlsx.frame import (
    Area,
    NewColumn,
    colour_rules,
    edit_frame,
    filter_area,
    highest_priority,
)
from sheets_sync.backends.xlsx.package import Package
from sheets_sync.backends.xlsx.safe import NotAWorkbook, reading, refusal, refusing
from sheets_sync.backends.xlsx.sheet import (
    CellFormats,
    cell_edits,
    main_prefix,
    merged_areas,
    patched,
    read_cells,
)
from sheets_sync.backends.xlsx.styles import date_styles, ensure_styles
from sheets_sync.backends.xlsx.tables import read_table, widen_table
from sheets_sync.backends.xlsx.workbook import with_filter_name
from sheets_sync.core.sync import Changes
from sheets_sync.folders import private_folder

# Backups are named `log.2026-11-24T093000.123456+0000.xlsx`: the clinic's time, with its
# offset from UTC. Those of earlier versions, `log.20261124-093000-123456.xlsx`, in the
# computer's time with no zone, are older than any of these and are pruned first.
BACKUP_STAMP = "%Y-%m-%dT%H%M%S.%f%z"
_BACKUP_STAMPS = r"(?:(\d{4}-\d\d-\d\dT\d{6}\.\d{6}[+-]\d{4})|\d{8}-\d{6}-\d{6})"
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
        timezone: tzinfo | None = None,  # of the backups' names; the computer's by default
    ) -> None:
        self.path = path
        self.worksheet = worksheet
        self.staff_worksheet = staff_worksheet
        self.backup_dir = backup_dir
        self.keep_backups = keep_backups
        self.timezone = timezone

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
            tables = []
            for table in package.tables_of(log):
                with reading(table):
                    tables.append(read_table(package.part(table)))
            staff_path = package.sheet_path(self.staff_worksheet) if self.staff_worksheet else None
            staff = None
            if staff_path:
                with reading(staff_path):
                    staff = read_cells(package.part(staff_path), shared_strings, formats)
        except NotAWorkbook as exc:
            raise refusal(self.path, exc, self.backup_dir) from exc
        return Snapshot(
            rows,
            staff,
            fingerprint(data),
            package.date1904,
            merges=merges,
            tables=tables,
            sheet_names=tuple(package.sheet_names),
        )

    def _workbook(self) -> Path:
        """Where the workbook really is: the target when the configured path is a link.

        Resolved once per read or write, so that every file of one operation (the temporary
        file, the swap, the aside file) lies beside the same file, and the link stays a link.
        """
        return Path(os.path.realpath(self.path))

    def _load(self, workbook: Path | None = None) -> bytes:
        """The workbook's bytes; `workbook` is its resolved place when the caller needs the
        same file throughout an operation."""
        workbook = workbook or self._workbook()
        shown = f"{self.path} (a link to {workbook})" if self.path.is_symlink() else str(self.path)
        try:
            data, _ = read_bounded(workbook, WORKBOOK_SIZE_LIMIT)
        except NotAFile as exc:
            raise SourceError(
                f"{shown} is {exc.what}, not a workbook sheets-sync reads (a regular file of at "
                f"most {size_in_words(WORKBOOK_SIZE_LIMIT)}): set [source].path to the clinic's "
                ".xlsx file, or put the workbook back at that name"
            ) from exc
        except FileNotFoundError as exc:
            kept = (
                f" (the last versions synced are in {self.backup_dir})" if self.backup_dir else ""
            )
            raise SourceError(
                f"{shown} is not there: check [source].path, or whether the file was "
                f"moved or deleted{kept}"
            ) from exc
        except PermissionError as exc:
            raise SourceError(
                f"{shown} cannot be read: permission denied for the user running sheets-sync"
            ) from exc
        except OSError as exc:
            raise SourceError(f"{shown} cannot be read: {exc.strerror}") from exc
        return data

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

    def worksheet_names(self) -> list[str]:
        """The workbook's worksheets in its order, for `init` to find the log among them."""
        return list(self._open(self._load()).sheet_names)

    # --- writing ------------------------------------------------------------------------

    def version(self) -> str:
        workbook = self._workbook()
        self._finish_interrupted_swap(workbook)
        return fingerprint(self._load(workbook))

    def write(self, changes: Changes, version: str) -> str | None:
        workbook = self._workbook()
        self._finish_interrupted_swap(workbook)
        self._refuse_if_open(workbook)
        data = self._load(workbook)
        if fingerprint(data) != version:
            raise SourceChanged(f"{self.path.name} was saved by someone since it was read")
        package = self._open(data)
        replacements = self._replacements(package, changes)
        if not replacements:
            return None
        temporary = self._beside(workbook, "tmp")
        try:
            # Empty, with the workbook's permissions: the new version, written into it, keeps them.
            os.close(_create_with_mode(temporary, stat.S_IMODE(os.stat(workbook).st_mode)))
            package.save_as(temporary, replacements)
            written = fingerprint(temporary.read_bytes())
            self._keep_backup(data)
            self._refuse_if_open(workbook)
            self._swap_in(workbook, temporary, version)
        except OSError as exc:
            raise self._write_problem(exc, workbook) from exc
        finally:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
        _sync_folder(workbook.parent)
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
            with reading(log):
                prefix = main_prefix(sheet)

            edits = cell_edits(
                sheet,
                # Staff cells from typed outcomes go in the same write; the version token
                # checked above proves each still holds what it was read as.
                changes.all_cells(),
                date_style=lambda existing: (
                    existing if existing in shown_as_date else styles.date_style
                ),
                style_from=(layout.header_row, min(layout.staff.values())),
                date1904=package.date1904,
                prefix=prefix,
            )
            # Columns a typed outcome adds (`Last touch`, `Snooze until`) lie right of ours.
            last_col = max(*managed.values(), *layout.new_headers)
            used = Area(0, 1, last_col, changes.last_row)
            with reading(log):
                rules = colour_rules(
                    prefix=prefix,
                    status_col=managed["follow_up_status"],
                    touch_col=managed["next_touch"],
                    coloured_cols=[
                        managed["next_touch"],
                        managed["next_action"],
                        managed["follow_up_status"],
                    ],
                    first_row=layout.first_row,
                    dxf_ids=styles.fills,
                    first_priority=highest_priority(sheet, prefix) + 1,
                )
                frame = edit_frame(
                    sheet,
                    used=used,
                    new_columns=[
                        NewColumn(col, COLUMN_WIDTHS[field], hidden=field == "sync_id")
                        for field, col in sorted(managed.items(), key=lambda item: item[1])
                        if col in layout.new_headers
                    ],
                    header_row=layout.header_row,
                    log_cols=(min(layout.staff.values()), last_col),
                    rules=rules,
                    prefix=prefix,
                )
                widened_filter = filter_area(
                    sheet,
                    used=used,
                    header_row=layout.header_row,
                    first_col=min(layout.staff.values()),
                    prefix=prefix,
                )
            replacements: dict[str, Iterable[bytes | memoryview]] = {}
            if changes or frame:
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
            if widened_filter is not None:
                with reading(package.workbook_path):
                    names = with_filter_name(
                        package.part(package.workbook_path),
                        next(name for name, path in package.sheet_names.items() if path == log),
                        widened_filter,
                    )
                if names is not None:
                    replacements[package.workbook_path] = [names]
            for table in package.tables_of(log) if layout.table else ():
                with reading(table):
                    xml = package.part(table)
                    # The log's own table, as read: never a neighbour on the sheet.
                    if read_table(xml) == layout.table:
                        widened = widen_table(xml, last_col=last_col, headers=changes.headers)
                        if widened is not None:
                            replacements[table] = [widened]
        except NotAWorkbook as exc:
            raise refusal(self.path, exc, self.backup_dir) from exc
        if replacements and styles.xml is not None:
            replacements[package.styles_path] = [styles.xml]
        return replacements

    # --- the file system ------------------------------------------------------------------

    @staticmethod
    def _beside(workbook: Path, purpose: str) -> Path:
        """A hidden file of ours beside the workbook: `.log.xlsx.sheets-sync-tmp`."""
        return workbook.with_name(f".{workbook.name}.sheets-sync-{purpose}")

    def _swap_in(self, workbook: Path, temporary: Path, version: str) -> None:
        """Put the new version in place, unless someone saved the workbook since `version`."""
        saved_meanwhile = SourceChanged(f"{self.path.name} was saved by someone during the sync")
        try:
            read, before = read_bounded(workbook, WORKBOOK_SIZE_LIMIT)
        except NotAFile:  # something else was put at its name: the next read says what
            raise saved_meanwhile from None
        if fingerprint(read) != version:
            raise saved_meanwhile
        aside = self._beside(workbook, "old")
        os.rename(workbook, aside)  # from here on, anyone's save lands at the workbook's name
        moved = os.stat(aside)
        if (moved.st_ino, moved.st_size, moved.st_mtime_ns) != (
            before.st_ino,
            before.st_size,
            before.st_mtime_ns,
        ):
            self._put_back(workbook, aside)
            raise saved_meanwhile
        try:
            _place(temporary, workbook)
        except FileExistsError:
            aside.unlink()  # theirs stands; the version we read is in the backups
            raise saved_meanwhile from None
        except BaseException:
            self._put_back(workbook, aside)
            raise
        aside.unlink()

    def _write_problem(self, exc: OSError, workbook: Path) -> SourceError:
        """Why a write failed, for the person who can put it right. The workbook is as it was.

        The folder named is the one the workbook really is in, also when its path is a link.
        """
        name, folder = self.path.name, workbook.parent
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

    def _put_back(self, workbook: Path, aside: Path) -> None:
        """Return the renamed-aside workbook to its name, unless someone saved one there."""
        try:
            _place(aside, workbook)
        except FileExistsError:
            aside.unlink()

    def _finish_interrupted_swap(self, workbook: Path | None = None) -> None:
        """After a crash mid-swap: the workbook back at its name, our leftovers gone.

        The temporary file goes too: after a crash it may be a second name of the workbook
        itself, which writing the next temporary file into would destroy.
        """
        workbook = workbook or self._workbook()
        aside = self._beside(workbook, "old")
        try:
            # Only a file of ours is put back: a link planted at our hidden name would make the
            # workbook's name a second name of whatever file it leads to.
            if aside.is_file() and not aside.is_symlink():
                self._put_back(workbook, aside)
            with contextlib.suppress(FileNotFoundError):
                self._beside(workbook, "tmp").unlink()
        except OSError as exc:
            raise SourceError(
                f"{self.path.name} could not be put back after a sync was interrupted: "
                f"{exc.strerror or exc}. If {workbook.name} is missing, the last version synced "
                f"is {aside}: rename it to {workbook.name}"
            ) from exc

    def lock_files(self, workbook: Path) -> list[Path]:
        """Whatever is at the names of the lock files Excel and LibreOffice make when they
        open the workbook for editing: beside the file they opened, which is the link or
        the workbook it leads to."""
        candidates = {
            folder / lock
            for folder, name in (
                (self.path.parent, self.path.name),
                (workbook.parent, workbook.name),
            )
            for lock in (f"~${name}", f"~${name[1:]}", f"~${name[2:]}", f".~lock.{name}#")
        }
        return [lock for lock in sorted(candidates) if os.path.lexists(lock)]

    def _refuse_if_open(self, workbook: Path) -> None:
        """Raise SourceBusy when Excel or LibreOffice has the workbook open for editing, and
        SourceError when something other than a lock file is at a lock file's name: a person
        must look at it, and until then nobody can tell whether the workbook is open."""
        try:
            locks = self.lock_files(workbook)
        except OSError as exc:
            raise SourceError(
                f"{self.path.name} was not written: its folder cannot be looked at for lock "
                f"files ({exc.strerror or exc}); the sync tries again next cycle"
            ) from exc
        strange = []
        for lock in locks:
            now = datetime.now()
            try:
                data, found = read_bounded(lock, LOCK_FILE_SIZE_LIMIT, follow_links=False)
                made = datetime.fromtimestamp(found.st_mtime)
            except NotAFile as exc:
                strange.append(f"{lock} is {exc.what}")
                continue
            except OSError:  # a lock file all the same; who made it, it does not say
                data, made = b"", now
            raise SourceBusy(lock_message(self.path.name, lock, data, made, now))
        if strange:
            raise SourceError(
                f"{self.path.name} was not written: {strange[0]}, where Excel and LibreOffice "
                "keep a small lock file while the workbook is open. If nobody has the "
                "workbook open, remove it; the sync tries again next cycle"
            )

    def _keep_backup(self, data: bytes) -> None:
        """A copy of the version being replaced, readable by no more people than the workbook
        is; the newest `keep_backups` kept. The folder, when this creates it, is the daemon's
        user's alone: it holds every prospect's details."""
        if self.backup_dir is None:
            return
        mode = stat.S_IMODE(os.stat(self.path).st_mode)
        private_folder(self.backup_dir)
        stem, suffix = self.path.stem, self.path.suffix
        stamp = datetime.now(UTC).astimezone(self.timezone).strftime(BACKUP_STAMP)
        _write_durably(self.backup_dir / f"{stem}.{stamp}{suffix}", data, mode)
        # Matched literally: a workbook's name may hold glob characters, `Clinic [2026].xlsx`.
        ours = re.compile(re.escape(f"{stem}.") + _BACKUP_STAMPS + re.escape(suffix))
        found = [
            (match, name) for name in os.listdir(self.backup_dir) if (match := ours.fullmatch(name))
        ]
        backups = sorted(found, key=lambda backup: (_backup_age(backup[0]), backup[1]))
        for _, old in backups[: -self.keep_backups]:
            (self.backup_dir / old).unlink()


def _backup_age(name: re.Match[str]) -> tuple[int, float]:
    """Sorts backups oldest first: those named the earlier way, then the others by the moment
    in their names, which a daylight-saving change does not reorder."""
    stamp = name.group(1)
    return (1, datetime.strptime(stamp, BACKUP_STAMP).timestamp()) if stamp else (0, 0.0)


def fingerprint(data: bytes) -> str:
    """The version token: a digest of the file's bytes, so any save by anyone changes it."""
    return hashlib.sha256(data).hexdigest()


def _write_durably(path: Path, data: bytes, mode: int) -> None:
    """Write a new file with permissions `mode` from its first moment, and flush it to disk."""
    descriptor = _create_with_mode(path, mode)
    with open(descriptor, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def _create_with_mode(path: Path, mode: int) -> int:
    """A new file at `path`, open for writing, with permissions `mode` and never wider.

    Created with the mode rather than changed to it afterwards, so a private workbook's copy is
    never readable by others for a moment; never through a link left at its name.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    descriptor = os.open(path, flags | getattr(os, "O_BINARY", 0), mode)
    os.chmod(path, mode)  # the umask may have narrowed it: the workbook's own, exactly
    return descriptor


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
    """Make the rename itself durable (POSIX; Windows has no directory handles for this).

    Best effort: the new version is in place by now, and some network shares refuse to open
    or flush a folder; the workbook is whole either way.
    """
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
