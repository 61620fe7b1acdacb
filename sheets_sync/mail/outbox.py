"""The outbox: each message becomes one `.eml` file in a folder (the default delivery).

A new user sees the emails without a mail server; any mail program opens the files. Every
file is written whole or not at all, so a crash never leaves half a message behind.
"""

from __future__ import annotations

import os
import tempfile
from email.message import EmailMessage
from pathlib import Path

from sheets_sync.mail.deliver import TemporaryFailure


class Outbox:
    """Delivers into `folder` as `<key>.eml`; sending the same key again replaces the file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, message: EmailMessage, key: str) -> Path:
        """Write `message` to `<folder>/<key>.eml` and return that path.

        Raises ValueError for a key that is not a plain file name, TemporaryFailure when the
        folder cannot be written (a full disk, a share gone away: worth trying again).
        """
        path = self.folder / f"{_checked(key)}.eml"
        try:
            _write_atomically(path, message.as_bytes())
        except OSError as exc:
            raise TemporaryFailure(
                f"the outbox folder {self.folder} cannot be written: {exc.strerror or exc}"
            ) from exc
        return path

    def close(self) -> None:
        """Nothing stays open between messages."""


def write_preview(message: EmailMessage, folder: Path, key: str) -> list[Path]:
    """Write `<key>.eml`, plus `<key>.txt` and `<key>.html` for the message's plain and HTML
    parts, so a digest can be read in an editor or a browser. Returns the paths written."""
    written = [Outbox(folder).send(message, key)]
    for subtype, suffix in (("plain", "txt"), ("html", "html")):
        part = message.get_body(preferencelist=(subtype,))
        if part is not None:
            path = folder / f"{key}.{suffix}"
            _write_atomically(path, part.get_content().encode("utf-8"))
            written.append(path)
    return written


def _checked(key: str) -> str:
    # A leading dot also keeps keys apart from the hidden temporary files below.
    if not key or key.startswith(".") or any(char in key for char in "/\\\0"):
        raise ValueError(f"outbox key {key!r} is not a plain file name")
    return key


def _write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, flush it to disk, then rename it into
    place: readers see the old file or the new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
