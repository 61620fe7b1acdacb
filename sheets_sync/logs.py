"""Logging for the daemon: one readable line per event, or JSON for log collectors.

What goes into a message is decided where it is logged: cycle counts, file names, staff owners
and what to do, but no patient names or contact details at INFO or above, and never a secret.
Whatever a message carries, it stays one line: text from a cell, a sheet title or a file name
cannot start a line of its own (`one_line`), so it cannot pass for another entry.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from sheets_sync.folders import private_folder

LogFormat = Literal["text", "json"]

# Where `record_unexpected` writes, in the state folder: this file and one older (.1), each
# about 1 MB at most.
ERRORS_LOG = "errors.log"
_ERRORS_LOG_BYTES = 1_000_000

_LINE_BREAKS = (
    "\r\n",
    "\n",
    "\r",
    "\x0b",
    "\x0c",
    "\x1c",
    "\x1d",
    "\x1e",
    "\x85",
    "\u2028",
    "\u2029",
)
# Characters that reorder or hide the text around them on a screen.
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def one_line(text: str) -> str:
    """`text` (from a cell, a sheet or a file name) made safe to show as one line of a console
    or a log: line breaks become ⏎, other C0 controls their picture (ESC is ␛), and C1
    controls, bidi overrides and lone surrogates a visible `<U+202E>`."""
    for brk in _LINE_BREAKS:
        text = text.replace(brk, "⏎")
    return "".join(_visible(char) for char in text)


def _visible(char: str) -> str:
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # ␀ ... ␟
    if code == 0x7F:
        return "␡"
    if char in _BIDI_CONTROLS or unicodedata.category(char) in ("Cc", "Cs"):
        return f"<U+{code:04X}>"
    return char


# The clinic whose job is running in this thread, for the service of a group: its key.
_CLINIC: ContextVar[str] = ContextVar("clinic", default="")


@contextmanager
def clinic_logged(key: str) -> Iterator[None]:
    """Lines logged inside name the clinic (`[harbour] sync: ...`): in a group's service, whose
    line each is. An empty key (a clinic alone) names none."""
    token = _CLINIC.set(key)
    try:
        yield
    finally:
        _CLINIC.reset(token)


class TextFormatter(logging.Formatter):
    """`time LEVEL message`, the message on one line; a traceback follows indented, so that
    only the first line of an entry starts at the margin."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        """The computer's local time with its offset from UTC, `2026-11-24T07:30:00+00:00`:
        which time a line means is plain to whoever reads it, wherever they are, and across
        a daylight-saving change."""
        moment = datetime.fromtimestamp(record.created, UTC).astimezone()
        return moment.isoformat(timespec="seconds")

    def format(self, record: logging.LogRecord) -> str:
        clinic = f"[{_CLINIC.get()}] " if _CLINIC.get() else ""
        message = one_line(clinic + record.getMessage())
        lines = [f"{self.formatTime(record)} {record.levelname} {message}"]
        if record.exc_info:
            lines.append(_indented(self.formatException(record.exc_info)))
        if record.stack_info:
            lines.append(_indented(self.formatStack(record.stack_info)))
        return "\n".join(lines)


def _indented(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO), level, logger, message, and the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": one_line(record.getMessage()),
        }
        if _CLINIC.get():
            entry["clinic"] = _CLINIC.get()
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(log_format: LogFormat = "text", level: int = logging.INFO) -> None:
    """Log to standard error (where systemd's journal and service wrappers collect it)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def record_unexpected(exc: BaseException, folder: Path, command: str) -> Path:
    """Append an unexpected error to `folder`/errors.log: its kind and where in the code it
    happened, never its message, which may hold a patient's name. Raises OSError when the
    file cannot be written."""
    # The frames go where a stack would: the formatter indents them under the entry's line.
    frames = "".join(traceback.format_tb(exc.__traceback__)).rstrip("\n") or "(no frames)"
    record = logging.makeLogRecord(
        {
            "name": "sheets_sync",
            "levelno": logging.ERROR,
            "levelname": "ERROR",
            "msg": "`sheets-sync %s` stopped on an unexpected %s; where, most recent call last:",
            "args": (command, type(exc).__name__),
            "stack_info": frames,
        }
    )
    path = private_folder(folder) / ERRORS_LOG
    if path.is_file() and path.stat().st_size > _ERRORS_LOG_BYTES:
        path.replace(path.with_name(f"{ERRORS_LOG}.1"))
    with path.open("a", encoding="utf-8", errors="backslashreplace") as file:
        file.write(TextFormatter().format(record) + "\n")
    return path
