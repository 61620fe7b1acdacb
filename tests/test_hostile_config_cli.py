"""Issue 10, the config and CLI side: hostile settings, files and cells never reach a user as a
traceback, a hang, a forged log line or a console escape sequence."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from datetime import date, time, timedelta
from pathlib import Path

import pytest

from sheets_sync import cli
from sheets_sync.config import ConfigError, load_config, parse_config
from sheets_sync.core.values import CellValue
from sheets_sync.logs import ERRORS_LOG, record_unexpected, setup_logging
from tests.workbooks import make_log

REPO = Path(__file__).resolve().parents[1]
PLANS = REPO / "sheets_sync" / "plans.toml"
TODAY = "2026-11-24"
HOSTILE_OWNER = "Zoë\x1b[2J\r\u202eAnn 😀"


def problems_of(sections: dict[str, object], base: Path = REPO / "config") -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(
            {
                "source": {"kind": "xlsx", "path": "log.xlsx"},
                "plans": {"file": str(PLANS)},
                **sections,
            },
            base_dir=base,
        )
    return caught.value.problems


def write_config(folder: Path, *, daemon: str = 'state_dir = "state"', mail: str = "") -> Path:
    config = folder / "sheets_sync.toml"
    config.write_text(
        f"""[source]
kind = "xlsx"
path = "log.xlsx"

[plans]
file = "{PLANS.as_posix()}"

[mail]
outbox = "outbox"
manager = "Manager <manager@riverside.example>"
{mail}

[daemon]
{daemon}
""",
        encoding="utf-8",
    )
    return config


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- settings too large for the calendar or the clock --------------------------------------


@pytest.mark.parametrize(
    ("sections", "location"),
    [
        ({"daemon": {"sync_every_minutes": 10**12}}, "[daemon].sync_every_minutes"),
        ({"daemon": {"sync_every_minutes": 24 * 60 + 1}}, "[daemon].sync_every_minutes"),
        ({"daemon": {"alert_after_hours": 1e12}}, "[daemon].alert_after_hours"),
        ({"daemon": {"keep_backups": 10**9}}, "[daemon].keep_backups"),
        ({"mail": {"digest_max_rows": 10**6}}, "[mail].digest_max_rows"),
        ({"plans": {"min_gap_days": 10**9}}, "[plans].min_gap_days"),
        ({"mail": {"smtp": {"host": "localhost", "timeout": 1e308}}}, "[mail.smtp].timeout"),
        (
            {"plans": {"quick": {"steps": [{"day": 10**9, "channel": "Call", "action": "Call"}]}}},
            "[plans.quick].steps[1].day",
        ),
        (
            {
                "plans": {
                    "quick": {
                        "steps": [{"day": 0, "channel": "Call", "action": "Call"}],
                        "repeat": {"every_days": 10**9, "channel": "Call", "action": "Call"},
                    }
                }
            },
            "[plans.quick].repeat.every_days",
        ),
    ],
)
def test_a_huge_number_is_a_config_problem_at_its_key(
    sections: dict[str, object], location: str
) -> None:
    [problem] = problems_of(sections)
    assert problem.startswith(f"{location}: must be")


def test_every_huge_number_is_listed_at_once() -> None:
    problems = problems_of(
        {
            "daemon": {"sync_every_minutes": 10**12, "alert_after_hours": 1e300},
            "plans": {"min_gap_days": 10**12},
        }
    )
    assert [p.split(":")[0] for p in problems] == [
        "[plans].min_gap_days",
        "[daemon].sync_every_minutes",
        "[daemon].alert_after_hours",
    ]


def test_the_largest_allowed_settings_still_fit_the_clock() -> None:
    config = parse_config(
        {
            "source": {"kind": "xlsx", "path": "log.xlsx"},
            "daemon": {"sync_every_minutes": 24 * 60, "alert_after_hours": 720},
            "plans": {"min_gap_days": 365},
        },
        base_dir=REPO / "config",
    )
    assert timedelta(hours=config.daemon.alert_after_hours) == timedelta(days=30)
    assert date(9000, 1, 1) + timedelta(days=config.plans.min_gap_days) > date(9000, 1, 1)


# --- a calendar with no open day -----------------------------------------------------------


def test_holidays_that_close_the_clinic_for_a_year_are_a_config_problem() -> None:
    start = date(2027, 1, 1)
    every_day = [(start + timedelta(days=n)).isoformat() for n in range(400)]

    [problem] = problems_of({"clinic": {"holidays": every_day}})

    assert problem.startswith("[clinic].holidays: the clinic would be closed every day from 2027")


def test_holidays_on_every_open_weekday_of_a_year_are_a_config_problem() -> None:
    weekdays = [date(2027, 1, 4) + timedelta(days=n) for n in range(380)]
    mondays_to_fridays = [day.isoformat() for day in weekdays if day.weekday() < 5]

    [problem] = problems_of({"clinic": {"holidays": mondays_to_fridays}})

    assert problem.startswith("[clinic].holidays:")


def test_a_long_closure_that_ends_within_the_year_is_fine() -> None:
    start = date(2027, 1, 1)
    closed = [(start + timedelta(days=n)).isoformat() for n in range(300)]
    parse_config(
        {"source": {"kind": "xlsx", "path": "log.xlsx"}, "clinic": {"holidays": closed}},
        base_dir=REPO / "config",
    )


def test_no_open_days_at_all_is_a_config_problem() -> None:
    [problem] = problems_of({"clinic": {"open_days": []}})
    assert problem.startswith("[clinic].open_days: the clinic must be open on at least one day")


# --- a digest late in the day --------------------------------------------------------------


@pytest.mark.parametrize("digest_time", ["21:00", "23:59", "23:59:59"])
def test_a_late_digest_is_cut_off_at_the_end_of_its_day(digest_time: str) -> None:
    config = parse_config(
        {"source": {"kind": "xlsx", "path": "log.xlsx"}, "mail": {"digest_time": digest_time}},
        base_dir=REPO / "config",
    )
    assert config.mail.digest_cutoff == time.max


def test_a_digest_at_the_last_instant_of_the_day_leaves_no_time_to_send() -> None:
    [problem] = problems_of({"mail": {"digest_time": time.max}})
    assert problem.startswith("[mail].digest_time: must leave time to send the digests")


def test_an_explicit_cut_off_before_the_digest_is_a_problem_at_the_cut_off() -> None:
    [problem] = problems_of({"mail": {"digest_time": "23:00", "digest_cutoff": "22:00"}})
    assert problem.startswith("[mail].digest_cutoff:")


# --- folders that must stay apart ----------------------------------------------------------


@pytest.mark.parametrize(
    ("mail", "daemon", "expected"),
    [
        ({"outbox": "shared"}, {"state_dir": "shared"}, ["[daemon].state_dir"]),
        ({"outbox": "shared"}, {"state_dir": "shared/state"}, ["[daemon].state_dir"]),
        ({"outbox": "state/outbox"}, {"state_dir": "state"}, ["[mail].outbox"]),
        ({}, {"state_dir": "."}, ["[mail].outbox", "[daemon].state_dir"]),
    ],
)
def test_state_folder_outbox_and_workbook_must_stay_apart(
    tmp_path: Path, mail: dict[str, object], daemon: dict[str, object], expected: list[str]
) -> None:
    problems = problems_of({"mail": mail, "daemon": daemon}, base=tmp_path)
    assert [p.split(":")[0] for p in problems] == expected


def test_a_workbook_in_the_state_folder_is_a_config_problem(tmp_path: Path) -> None:
    [problem] = problems_of(
        {
            "source": {"kind": "xlsx", "path": "state/backups/log.xlsx"},
            "daemon": {"state_dir": "state"},
        },
        base=tmp_path,
    )
    assert problem.startswith("[daemon].state_dir:")
    assert "[source].path" in problem


def test_a_link_does_not_hide_that_two_folders_are_one(tmp_path: Path) -> None:
    (tmp_path / "outbox").mkdir()
    (tmp_path / "state").symlink_to(tmp_path / "outbox")

    [problem] = problems_of({"daemon": {"state_dir": "state"}}, base=tmp_path)

    assert problem.startswith("[daemon].state_dir:")
    assert "the same folder as [mail].outbox" in problem


# --- config files that are not TOML text ---------------------------------------------------


TOML = b'[source]\nkind = "xlsx"\npath = "log.xlsx"\n'


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xef\xbb\xbf" + TOML, "starts with a byte-order mark (BOM)"),
        ("\ufeff".encode("utf-16-le") + TOML.decode().encode("utf-16-le"), "UTF-16"),
        (TOML + b'name = "Zo\xeb"\n', "is not UTF-8 text (line 4)"),
        (TOML.replace(b"xlsx", b"xl\x00sx", 1), "has a NUL byte on line 2"),
        (b"a = " + b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b"a = " + b"{b = " * 50_000 + b"1" + b"}" * 50_000, "nested too deeply"),
        (TOML + b"#" * 2_000_000 + b"\n", "is larger than 1 MB"),
    ],
)
def test_a_config_file_that_is_not_toml_text_is_one_clear_problem(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "sheets_sync.toml"
    path.write_bytes(content)

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    [problem] = caught.value.problems
    assert message in problem
    assert caught.value.path == path


def test_a_folder_as_config_file_is_one_clear_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert caught.value.problems == ["is a folder, not a file"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_as_config_file_is_refused_without_waiting(tmp_path: Path) -> None:
    pipe = tmp_path / "sheets_sync.toml"
    os.mkfifo(pipe)
    outcome: list[BaseException] = []

    def load() -> None:
        try:
            load_config(pipe)
        except ConfigError as exc:
            outcome.append(exc)

    reader = threading.Thread(target=load, daemon=True)
    reader.start()
    reader.join(timeout=5)
    if reader.is_alive():  # let the stuck reader go before failing
        with open(pipe, "wb"):
            pass
        pytest.fail("load_config waited on a named pipe")
    [error] = outcome
    assert isinstance(error, ConfigError)
    assert error.problems == ["is not a plain file (a pipe or a device?)"]


def test_a_plans_file_that_is_not_text_is_a_problem_at_plans_file(tmp_path: Path) -> None:
    (tmp_path / "plans.toml").write_bytes(b"\x00\x01\x02")
    [problem] = problems_of({"plans": {"file": "plans.toml"}}, base=tmp_path)
    assert problem.startswith("[plans].file: ")
    assert "has a NUL byte on line 1" in problem


def test_a_broken_config_file_through_the_cli_exits_2_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "sheets_sync.toml"
    path.write_bytes(b"a = " + b"[" * 100_000)

    code, out, err = run(capsys, "check", "--config", str(path))

    assert code == 2
    assert "nested too deeply" in err
    assert "Traceback" not in err + out


@pytest.mark.parametrize(
    "name", ["Riverside\r\nBcc: everyone@example.com", "Riverside\x1b[2J", "Riverside\u2028Bcc"]
)
def test_config_text_with_control_characters_is_a_problem(name: str) -> None:
    [problem] = problems_of({"clinic": {"name": name}})
    assert problem.startswith("[clinic].name: must be one line without control characters")


# --- the last resort: no traceback ever reaches the user ------------------------------------


def _recurse(depth: int = 0) -> int:
    return _recurse(depth + 1) + 1


@pytest.mark.parametrize(
    "error",
    [
        ZeroDivisionError("division by zero"),
        UnicodeEncodeError("ascii", "Zoë Smith", 2, 3, "ordinal not in range(128)"),
        MemoryError(),
        KeyError("Zoë Smith"),
        RecursionError,  # raised for real, below
    ],
    ids=lambda error: getattr(error, "__name__", type(error).__name__),
)
def test_an_unexpected_error_is_one_line_and_its_details_go_to_the_errors_log(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    error: BaseException | type[BaseException],
) -> None:
    config = write_config(tmp_path)

    def broken_check(*args: object) -> int:
        if error is RecursionError:
            return _recurse()
        assert isinstance(error, BaseException)
        raise error

    monkeypatch.setattr(cli, "_check", broken_check)

    code, out, err = run(capsys, "check", "--config", str(config), "--today", TODAY)

    name = error.__name__ if isinstance(error, type) else type(error).__name__
    log = tmp_path / "state" / ERRORS_LOG
    assert code == cli.UNEXPECTED_EXIT
    assert out == ""
    assert err == (
        f"sheets-sync hit an unexpected problem: {name}; nothing more was written. Details are "
        f"in the log {log}; pass it to whoever looks after sheets-sync.\n"
    )
    written = log.read_text(encoding="utf-8")
    assert f"`sheets-sync check` stopped on an unexpected {name}" in written
    assert "in broken_check" in written  # where it happened
    assert "Zoë" not in written  # what it said may be a patient's name: not at this level
    assert all(line.startswith("    ") for line in written.splitlines()[1:])


def test_an_unexpected_error_before_the_config_is_read_saves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_load(path: Path) -> None:
        raise ZeroDivisionError

    monkeypatch.setattr(cli, "load_group", broken_load)

    code, _, err = run(capsys, "status", "--config", str(tmp_path / "x.toml"))

    assert code == cli.UNEXPECTED_EXIT
    assert "unexpected problem: ZeroDivisionError" in err
    assert "no details were saved" in err
    assert "Traceback" not in err


def test_an_errors_log_that_cannot_be_written_is_said_in_the_same_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path)
    (tmp_path / "state").write_text("a file where the state folder should be")

    def broken_status(*args: object) -> int:
        raise ZeroDivisionError

    monkeypatch.setattr(cli, "_status", broken_status)

    code, _, err = run(capsys, "status", "--config", str(config))

    assert code == cli.UNEXPECTED_EXIT
    assert "Its details could not be saved either" in err
    assert len(err.splitlines()) == 1


def test_the_errors_log_keeps_one_older_file(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / ERRORS_LOG).write_text("x" * 1_100_000)

    record_unexpected(ZeroDivisionError(), state, "once")

    assert (state / f"{ERRORS_LOG}.1").stat().st_size == 1_100_000
    assert (state / ERRORS_LOG).stat().st_size < 1000


# --- cells shown on a console ---------------------------------------------------------------


def hostile_log(folder: Path) -> Path:
    prospect: dict[str, CellValue] = {
        "Name": "Ann Ames",
        "Owner": HOSTILE_OWNER,
        "Consultation date": date(2026, 11, 20),
        "Status": "Open",
    }
    staff = [("Ben\x1b]0;owned\x07", "ben\r\x1b[31m\u202e@x"), ("Cara\u2066", "")]
    return make_log(folder / "log.xlsx", [prospect], staff=staff)


def test_check_prints_no_control_or_bidi_character_from_a_cell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    hostile_log(tmp_path)

    code, out, err = run(capsys, "check", "--config", str(config), "--today", TODAY)

    assert code == 1, err
    shown = out + err
    forbidden = [c for c in shown if c != "\n" and (ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0)]
    assert forbidden == []
    assert not set("\u202e\u2066") & set(shown)
    assert 'Staff sheet row 2, Email (B2): "ben [31m@x" is not a valid email address' in out
    assert "no address for Cara<U+2066>" in out
    assert "Zoë" in out
    assert "😀" in out


# --- log lines cannot be forged --------------------------------------------------------------


FORGED = "Prospects\n2026-11-30 07:30:00,000 INFO digests: 5 sent, 0 to try again"


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_sheet_name_cannot_forge_a_log_line(
    log_format: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging(log_format)  # type: ignore[arg-type]
        logging.getLogger("sheets_sync.daemon").warning(
            "sync: no worksheet named %s\r\x1b[2K", FORGED
        )
        try:
            raise ValueError(FORGED)
        except ValueError:
            logging.getLogger("sheets_sync.daemon").warning("sync: %s", FORGED, exc_info=True)
    finally:
        root.handlers[:], root.level = saved[0], saved[1]

    lines = capsys.readouterr().err.splitlines()
    entries = [line for line in lines if not line.startswith("    ")]
    assert len(entries) == 2
    assert all("\r" not in line and "\x1b" not in line for line in lines)
    if log_format == "text":
        assert entries[0].endswith(
            "sync: no worksheet named Prospects⏎2026-11-30 07:30:00,000 "
            "INFO digests: 5 sent, 0 to try again⏎␛[2K"
        )


# --- consoles that cannot show every character ------------------------------------------------


@pytest.mark.parametrize(("encoding", "zoe"), [("ascii", "Zo\\xeb"), ("cp1252", "Zoë")])
def test_check_on_a_narrow_console_escapes_what_it_cannot_show(
    tmp_path: Path, encoding: str, zoe: str
) -> None:
    config = write_config(tmp_path)
    hostile_log(tmp_path)
    env = {**os.environ, "PYTHONIOENCODING": encoding, "PYTHONPATH": str(REPO)}

    done = subprocess.run(
        [sys.executable, "-m", "sheets_sync", "check", "--config", str(config), "--today", TODAY],
        capture_output=True,
        env=env,
        timeout=120,
    )

    out, err = done.stdout.decode(encoding), done.stderr.decode(encoding)
    assert done.returncode == 1, err
    assert "Traceback" not in err
    assert zoe in out
    assert "\\U0001f600" in out  # the emoji, escaped
