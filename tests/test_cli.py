"""The command line (SPEC §6) on a copy of the sample workbook, for Tue 24 Nov 2026."""

from __future__ import annotations

import hashlib
import re
import shutil
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from sheets_sync.cli import main
from sheets_sync.core.values import CellValue
from sheets_sync.state import SCHEMA_VERSION
from tests.workbooks import make_log

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_workbook.xlsx"
PLANS = REPO / "sheets_sync" / "plans.toml"
TODAY = "2026-11-24"
FLAGS = ("overdue", "due today", "upcoming", "nurture", "closed", "check data")
OWNERS = ("owner-anna-price", "owner-ben-okafor", "owner-chloe-martin", "owner-dev-patel")


def write_config(tmp_path: Path, *, extra: str = "", path: str = "log.xlsx") -> Path:
    shutil.copy(SAMPLE, tmp_path / "log.xlsx")
    config = tmp_path / "sheets_sync.toml"
    config.write_text(
        f"""{extra}
[source]
kind = "xlsx"
path = "{path}"

[plans]
file = "{PLANS.as_posix()}"

[mail]
outbox = "outbox"
from = "Riverside Aesthetics <followups@riverside.example>"
manager = "Manager <manager@riverside.example>"

[daemon]
state_dir = "state"
""",
        encoding="utf-8",
    )
    return config


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def outbox_files(tmp_path: Path) -> list[str]:
    folder = tmp_path / "outbox"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- once ----------------------------------------------------------------------------------


def test_once_syncs_and_sends_the_digests_then_the_next_run_does_nothing(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workbook = tmp_path / "log.xlsx"
    before = digest(workbook)

    code, out, err = run(capsys, "once", "--config", str(config), "--today", TODAY)

    assert code == 0, err
    assert "Tue 24 Nov 2026" in out
    assert "67 prospects" in out
    for flag in FLAGS:
        assert flag in out
    assert "wrote" in out
    assert digest(workbook) != before
    assert outbox_files(tmp_path) == sorted(
        [f"{TODAY}-{owner}.eml" for owner in OWNERS] + [f"{TODAY}-manager.eml"]
    )
    assert "5 sent" in out

    after_first = digest(workbook)
    mtimes = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "outbox").iterdir()}

    code, out, err = run(capsys, "once", "--config", str(config), "--today", TODAY)

    assert code == 0, err
    assert "nothing to write" in out
    assert "none to send" in out
    assert digest(workbook) == after_first
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "outbox").iterdir()} == mtimes


def test_force_digest_sends_again(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "once", "--config", str(config), "--today", TODAY)
    shutil.rmtree(tmp_path / "outbox")

    code, out, _ = run(capsys, "once", "--config", str(config), "--today", TODAY, "--force-digest")

    assert code == 0
    assert "5 sent" in out
    assert len(outbox_files(tmp_path)) == 5


def test_dry_run_writes_and_sends_nothing(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workbook = tmp_path / "log.xlsx"
    before = workbook.read_bytes()
    mtime = workbook.stat().st_mtime_ns

    code, out, err = run(capsys, "once", "--config", str(config), "--today", TODAY, "--dry-run")

    assert code == 0, err
    assert "would change" in out
    assert "OVERDUE" in out
    assert workbook.read_bytes() == before
    assert workbook.stat().st_mtime_ns == mtime
    assert outbox_files(tmp_path) == []

    # A dry run remembers nothing either: the real run afterwards still writes.
    code, out, _ = run(capsys, "once", "--config", str(config), "--today", TODAY)
    assert code == 0
    assert "wrote" in out


def test_no_digest_syncs_but_sends_nothing(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = digest(tmp_path / "log.xlsx")

    code, out, err = run(capsys, "once", "--config", str(config), "--today", TODAY, "--no-digest")

    assert code == 0, err
    assert digest(tmp_path / "log.xlsx") != before
    assert outbox_files(tmp_path) == []
    assert "digests" not in out


def test_no_digest_on_a_log_unchanged_since_the_last_sync_does_not_read_it(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ("once", "--config", str(config), "--today", TODAY, "--no-digest")
    run(capsys, *args)

    code, out, err = run(capsys, *args)

    assert code == 0, err
    assert "unchanged since the last sync" in out
    assert "prospects" not in out  # it did not read the log


def test_no_digests_on_a_saturday(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "once", "--config", str(config), "--today", "2026-11-28")

    assert code == 0
    assert "today, Sat 28 Nov, the clinic is closed: the log was synced, no digests are sent" in out
    assert outbox_files(tmp_path) == []


# --- check and preview ---------------------------------------------------------------------


def test_check_lists_every_problem_and_exits_1(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = digest(tmp_path / "log.xlsx")

    code, out, err = run(capsys, "check", "--config", str(config), "--today", TODAY)

    assert code == 1, err
    assert "Config: OK" in out
    assert "Row 57, Snooze until (L57)" in out
    assert '"Sam" has no email address' in out
    assert "Row 68, Consultation date (C68)" in out
    assert "problems found." in out
    assert digest(tmp_path / "log.xlsx") == before
    assert outbox_files(tmp_path) == []


def test_digest_preview_writes_files_and_sends_nothing(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "preview"
    before = digest(tmp_path / "log.xlsx")

    code, out, err = run(
        capsys,
        "digest",
        "--preview",
        "--out",
        str(out_dir),
        "--config",
        str(config),
        "--today",
        TODAY,
    )

    assert code == 0, err
    files = sorted(p.name for p in out_dir.iterdir())
    suffixes = {Path(name).suffix for name in files}
    assert suffixes == {".eml", ".html", ".txt"}
    assert len([f for f in files if f.endswith(".eml")]) == 5
    assert sum(1 for f in files if "manager" in f) == 3
    for name in files:
        assert str(out_dir / name) in out
    assert outbox_files(tmp_path) == []
    assert digest(tmp_path / "log.xlsx") == before

    # Previewing marks nothing as sent: `once` still sends the day's digests.
    code, out, _ = run(capsys, "once", "--config", str(config), "--today", TODAY)
    assert code == 0
    assert len(outbox_files(tmp_path)) == 5


def test_digest_without_preview_is_a_usage_error(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["digest", "--config", str(config)])

    assert caught.value.code == 2
    assert "--preview" in capsys.readouterr().err


# --- errors --------------------------------------------------------------------------------


def test_unknown_config_key_exits_2_naming_its_location(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, extra='[clinic]\nnmae = "Riverside"\n')

    code, _, err = run(capsys, "once", "--config", str(config), "--today", TODAY)

    assert code == 2
    assert '[clinic]: unknown key "nmae"' in err
    assert str(config) in err
    assert "Traceback" not in err
    assert outbox_files(tmp_path) == []


def test_missing_workbook_exits_1_naming_the_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, path="missing.xlsx")

    code, _, err = run(capsys, "once", "--config", str(config), "--today", TODAY)

    assert code == 1
    assert str(tmp_path / "missing.xlsx") in err
    assert "Traceback" not in err


def test_missing_config_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "check", "--config", str(tmp_path / "nope.toml"))

    assert code == 2
    assert "nope.toml" in err


@pytest.mark.parametrize("bad", ["2026-13-01", "tomorrow", "24/11/2026"])
def test_bad_today_is_a_usage_error(
    config: Path, capsys: pytest.CaptureFixture[str], bad: str
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["once", "--config", str(config), "--today", bad])

    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "--today" in err
    assert "is not a date like 2026-11-24" in err


def make_newer_state(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    folder.mkdir()
    db = sqlite3.connect(folder / "state.sqlite3")
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.commit()
    db.close()


def test_newer_state_folder_exits_1_without_a_traceback(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_newer_state(tmp_path)

    code, _, err = run(capsys, "once", "--config", str(config), "--today", TODAY)

    assert code == 1
    assert "newer sheets-sync" in err


# --- finding the config, and the entry points ----------------------------------------------


def test_config_from_the_environment(
    tmp_path: Path,
    config: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHEETS_SYNC_CONFIG", str(config))
    monkeypatch.chdir(tmp_path)

    code, out, err = run(capsys, "check", "--today", TODAY)

    assert code == 1, err
    assert str(tmp_path / "log.xlsx") in out
    assert "Row 57, Snooze until (L57)" in out


def test_config_option_wins_over_the_environment(
    tmp_path: Path,
    config: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHEETS_SYNC_CONFIG", str(tmp_path / "elsewhere.toml"))

    code, out, err = run(capsys, "check", "--config", str(config), "--today", TODAY)

    assert code == 1, err
    assert str(tmp_path / "log.xlsx") in out


def test_run_sync_help() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "run_sync.py"), "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    for command in ("once", "check", "digest"):
        assert command in result.stdout


def test_console_script_help() -> None:
    script = REPO / ".venv" / "bin" / "sheets-sync"
    if not script.exists():
        pytest.skip("the console script is not installed in .venv")

    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    assert "sheets-sync" in result.stdout
    for command in ("once", "check", "digest"):
        assert command in result.stdout


def test_console_script_once_help_lists_the_options() -> None:
    script = REPO / ".venv" / "bin" / "sheets-sync"
    if not script.exists():
        pytest.skip("the console script is not installed in .venv")

    result = subprocess.run(
        [str(script), "once", "--help"], capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    for option in ("--config", "--today", "--dry-run", "--no-digest", "--force-digest"):
        assert option in result.stdout


def test_preview_for_an_owner_whose_name_is_not_a_file_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, extra='[owners]\n"Anna/Ben" = "anna.ben@riverside.example"\n')
    prospect: dict[str, CellValue] = {
        "Name": "Ann Ames",
        "Owner": "Anna/Ben",
        "Consultation date": date(2026, 11, 24),
        "Status": "Open",
    }
    make_log(tmp_path / "log.xlsx", [prospect])
    out_dir = tmp_path / "preview"

    code, _, err = run(
        capsys,
        "digest",
        "--preview",
        "--out",
        str(out_dir),
        "--config",
        str(config),
        "--today",
        TODAY,
    )

    assert code == 0, err
    assert len(list(out_dir.glob("*.eml"))) == 2  # the owner's digest and the summary


def test_a_us_clinic_sees_its_days_month_first_on_the_console(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, extra='[clinic]\ndate_order = "MDY"\n')

    code, out, err = run(capsys, "once", "--config", str(config), "--today", TODAY, "--dry-run")

    assert code == 0, err
    assert "Tue Nov 24, 2026" in out
    touches = re.findall(r"Next touch → (\w{3} \w{3} \d{1,2}, \d{4})", out)
    assert touches
    assert "Tue 24 Nov 2026" not in out


def test_the_digests_show_the_clinics_currency_and_date_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, extra='[clinic]\ndate_order = "MDY"\ncurrency = "USD"\n')

    code, _, err = run(capsys, "once", "--config", str(config), "--today", TODAY)

    assert code == 0, err
    message = (tmp_path / "outbox" / f"{TODAY}-owner-anna-price.eml").read_text(encoding="utf-8")
    assert "Subject: Follow-ups for Tue Nov 24:" in message
    assert re.search(r"Value: \$\d", message)
