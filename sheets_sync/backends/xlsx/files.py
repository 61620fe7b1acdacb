"""Reading what sits in the workbook's folder without trusting it.

Anyone who can write to a shared folder can put something other than a file at the
workbook's name or at a lock file's name: a folder, a named pipe (reading it blocks until
someone writes to it), a device (/dev/zero never ends), a sparse file of gigabytes, or a link
to any file on the machine. So a file is looked at before it is read, read only when it is a
regular file of bounded size, and looked at again through the opened descriptor, since the
thing at the name can change between the look and the open. What a lock file says about who
has the workbook open is quoted in messages only after it is made harmless to print.
"""

from __future__ import annotations

import os
import re
import stat
from datetime import datetime, timedelta
from pathlib import Path

# The largest workbook read: a clinic's prospect log is a few megabytes, and the whole file is
# held in memory. The package reader bounds what its parts inflate to, separately.
WORKBOOK_SIZE_LIMIT = 1 << 30
# Excel's lock files are 165 bytes, LibreOffice's a line of about a hundred.
LOCK_FILE_SIZE_LIMIT = 4096
# A lock file older than this is most likely left behind, not a person at their desk.
STALE_LOCK_HOURS = 12
# How much of a name read from a lock file a message quotes.
QUOTED_NAME_LIMIT = 60

# Excel's owner file, `~$log.xlsx`: byte 0 is the length of the user name (at most 52), the
# name follows in the Windows code page, padded with spaces; at byte 55 the length again (two
# bytes, little-endian) and the name in UTF-16-LE. The UTF-16 copy is the one read: it holds
# any name, where the code page copy turns letters outside it into question marks.
_EXCEL_NAME_LIMIT = 52
_EXCEL_UTF16_AT = 55

# Reading a named pipe must not wait for a writer; Windows has neither pipes at a path nor the
# flag. Binary mode matters only on Windows.
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


class NotAFile(Exception):
    """What is at a path is not a regular file of a size we read; `what` says what it is."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


_CHUNK = 1 << 20


def read_bounded(
    path: Path, limit: int, *, follow_links: bool = True
) -> tuple[bytes, os.stat_result]:
    """The bytes of the regular file at `path`, and what the opened file was (its identity,
    size, time and permissions).

    Raises NotAFile when something else is there or it holds more than `limit` bytes (without
    reading it), OSError when it cannot be looked at or read. With `follow_links` false, a
    link at `path` is itself refused: a lock file is never a link.
    """
    found = os.stat(path) if follow_links else os.lstat(path)
    _refuse_unless_small_file(found, limit)
    nofollow = 0 if follow_links else getattr(os, "O_NOFOLLOW", 0)
    descriptor = os.open(path, _READ_FLAGS | nofollow)
    with open(descriptor, "rb") as file:
        opened = os.fstat(descriptor)  # what was opened, which may not be what was looked at
        _refuse_unless_small_file(opened, limit)
        # As much as the file holds, not the limit: read(n) reserves n bytes up front.
        data = file.read(min(opened.st_size, limit) + 1)
        while len(data) <= limit and (more := file.read(min(_CHUNK, limit + 1 - len(data)))):
            data += more  # it grew since it was looked at
    if len(data) > limit:  # it grew since
        raise NotAFile(f"a file of more than {size_in_words(limit)}")
    return data, opened


def _refuse_unless_small_file(found: os.stat_result, limit: int) -> None:
    what = _kind(found.st_mode)
    if what is not None:
        raise NotAFile(what)
    if found.st_size > limit:
        raise NotAFile(f"a file of {size_in_words(found.st_size)}")


def _kind(mode: int) -> str | None:
    """What a file-system entry is, in words, when it is not a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return "something other than a file"


def size_in_words(size: int) -> str:
    """A size as people read it: `10 GiB`, `4 KiB`."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"


def lock_message(workbook: str, lock: Path, data: bytes, made: datetime, now: datetime) -> str:
    """Why `workbook` cannot be written while `lock` is beside it: who holds it, on which
    computer and since when (the lock file's time, `made`), and what to do. A lock file more
    than STALE_LOCK_HOURS old is most likely left behind by a program that crashed or a
    computer switched off with the workbook open: then how to clear it."""
    who = lock_owner(lock, data)
    host = printable(_libreoffice_fields(data)[2]) if not lock.name.startswith("~$") else ""
    since = f"{made:%H:%M}" if made.date() == now.date() else f"{made:%H:%M on %a %d %b}"
    holder = ", ".join(filter(None, [who and f"by {who}", host and f"on {host}"]))
    if now - made > timedelta(hours=STALE_LOCK_HOURS):
        return (
            f"{workbook} has a lock file from {since} ({holder or 'nobody named'}): more than "
            f"{STALE_LOCK_HOURS} hours old, it was probably left behind by a crash. If nobody "
            f"has the workbook open, delete {lock}; the sync tries again each cycle"
        )
    return (
        f"{workbook} is open for editing{f' {holder}' if holder else ''} (since {since}; lock "
        f"file {lock.name}); nothing was written, and the sync tries again each cycle. If it "
        f"stays open, ask {'them' if who else 'whoever has it open'} to save and close it"
    )


def lock_owner(lock: Path, data: bytes) -> str:
    """Who a lock file says has the workbook open, safe to print; "" when it does not say."""
    if lock.name.startswith("~$"):
        return printable(_excel_owner(data))
    return printable(_libreoffice_owner(data))


def _excel_owner(data: bytes) -> str:
    length = data[0] if data else 0
    copy = data[_EXCEL_UTF16_AT : _EXCEL_UTF16_AT + 2 + 2 * length]
    if (
        0 < length <= _EXCEL_NAME_LIMIT
        and len(copy) == 2 + 2 * length
        and int.from_bytes(copy[:2], "little") == length
    ):
        return copy[2:].decode("utf-16-le", errors="replace")
    return ""


def _libreoffice_owner(data: bytes) -> str:
    """LibreOffice's `.~lock.log.xlsx#` is one line, `Name,account,host,time,profile;`: the
    name set in its options, often empty, then the computer account's."""
    fields = _libreoffice_fields(data)
    return next((field.strip() for field in fields[:2] if field.strip()), "")


def _libreoffice_fields(data: bytes) -> list[str]:
    """The fields of LibreOffice's lock line, at least five (name, account, host, time,
    profile), missing ones empty."""
    line = re.split(rb"[\r\n]", data, maxsplit=1)[0].decode("utf-8", errors="replace")
    return [*line.split(","), "", "", "", "", ""]


def printable(text: str) -> str:
    """`text` with anything that could disguise a message dropped (line breaks, terminal
    escapes, direction overrides), and cut to a length a message can carry."""
    shown = "".join(char for char in text if char.isprintable()).strip()
    if len(shown) > QUOTED_NAME_LIMIT:
        return shown[: QUOTED_NAME_LIMIT - 1] + "…"
    return shown
