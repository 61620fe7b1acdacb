"""The daemon's log: readable lines, or one JSON object a line for log collectors."""

from __future__ import annotations

import json
import logging

import pytest

from sheets_sync.logs import JsonFormatter, setup_logging


def record(message: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    info = (type(exc), exc, exc.__traceback__) if exc else None
    return logging.LogRecord("sheets_sync.daemon", logging.WARNING, "x.py", 1, message, args, info)


def test_json_lines_carry_time_level_logger_and_message() -> None:
    line = JsonFormatter().format(record("sync: %d rows read, %s", 67, "Siobhán's clinic"))

    entry = json.loads(line)
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "sheets_sync.daemon"
    assert entry["message"] == "sync: 67 rows read, Siobhán's clinic"
    assert entry["time"].endswith("+00:00")
    assert "\n" not in line


def test_json_keeps_a_traceback_in_its_own_field() -> None:
    try:
        raise ValueError("boom")
    except ValueError as exc:
        entry = json.loads(JsonFormatter().format(record("unexpected", exc=exc)))
    assert "ValueError: boom" in entry["traceback"]


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_setup_logging_replaces_the_handlers(log_format: str) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging(log_format)  # type: ignore[arg-type]
        setup_logging(log_format)  # type: ignore[arg-type]
        assert len(root.handlers) == 1
        assert isinstance(root.handlers[0].formatter, JsonFormatter) == (log_format == "json")
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
