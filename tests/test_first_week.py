"""A clinic's IT person's first hour, as the README's "Your own workbook" tells it: `init` on
the clinic's own workbook (saved by LibreOffice, its own column names, US dates typed as text),
then the next steps exactly as init prints them: `check`, `once`, `status`. Each command runs
as a separate program from the clinic's folder, and each step's output must tell the truth."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from sheets_sync.core.values import CellValue
from tests.libreoffice import convert, read_all_sheets
from tests.workbooks import make_log

REPO = Path(__file__).resolve().parents[1]


def typed_us(day: date) -> str:
    """A date as a US front desk types it into a text cell: 11/23/2026."""
    return f"{day.month}/{day.day}/{day.year}"


def clinic_log(folder: Path, soffice: str) -> Path:
    """The clinic's log: made by a script, then opened and saved by LibreOffice, as a workbook
    that went through LibreOffice on a front-desk PC would be. Its dates lie in the past
    whatever day the test runs; one has a day over 12, which settles the order."""
    today = date.today()
    settling = next(day for n in range(20, 60) if (day := today - timedelta(days=n)).day > 12)
    prospects: list[dict[str, CellValue]] = [
        {
            "Patient": "Ada Brook",
            "Coordinator": "Maria Lopez",
            "Consult date": typed_us(settling - timedelta(days=5)),
            "Last contact": typed_us(settling),
            "Procedure": "Botox",
            "Quote": 450,
            "Referral": "Instagram",
        },
        {
            "Patient": "Ben Cole",
            "Coordinator": "Dan Wu",
            "Consult date": typed_us(today - timedelta(days=40)),
            "Last contact": None,
            "Procedure": "Laser resurfacing",
            "Quote": 2500,
            "Referral": "A friend",
        },
    ]
    (folder / "made").mkdir()
    made = make_log(
        folder / "made" / "Prospect log.xlsx",
        prospects,
        sheet="Leads",
        staff=[("Maria Lopez", "maria@riverside.example")],
    )
    saved = convert(made, "xlsx", folder, soffice=soffice)
    shutil.rmtree(made.parent)
    return saved


def sheets_sync(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`sheets-sync ARGS` typed in `folder`, with this checkout's code."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("SHEETS_SYNC_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "sheets_sync", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def printed_command(steps: list[str], word: str) -> list[str]:
    """The arguments of the `sheets-sync WORD ...` step init printed, as the user copies it."""
    line = next(step for step in steps if re.match(rf"\d+\. sheets-sync {word} ", step))
    command = line.split(". ", 1)[1].split("  (")[0]
    return command.split()[1:]


@pytest.mark.libreoffice
def test_a_us_clinic_goes_from_its_workbook_to_its_first_sync(tmp_path: Path, soffice: str) -> None:
    clinic = tmp_path / "clinic"
    clinic.mkdir()
    log = clinic_log(clinic, soffice)

    # 1. init, on a server whose clock runs on UTC: the clinic's zone is given.
    made = sheets_sync(clinic, "init", log.name, "--timezone", "America/New_York")
    assert made.returncode == 0, made.stderr
    out = made.stdout
    assert 'Log: the sheet "Leads" of Prospect log.xlsx, header on row 1.' in out
    assert '"Patient" (A) as name, "Coordinator" (B) as owner' in out
    assert '"Consult date" (C) as consultation date, "Last contact" (D) as last touch' in out
    assert 'not read (sheets-sync leaves them alone): "Referral" (G)' in out
    assert re.search(r"Dates: typed month first \(MDY\), as [CD]2 \d+/\d+/\d{4}", out)
    assert 'Staff: the sheet "Staff" gives 1 owner an address.' in out
    config = clinic / "config" / "sheets_sync.toml"
    assert f"Wrote {Path('config/sheets_sync.toml')}." in out
    steps = [line.strip() for line in out.split("Next steps:")[1].splitlines() if line.strip()]
    assert steps[0].startswith("1. Fill in the email address of Dan Wu in [owners]")
    assert made.stderr == ""

    # 2. check, as printed: only the address the user has yet to fill in is a problem.
    check = printed_command(steps, "check")
    checked = sheets_sync(clinic, *check)
    assert checked.returncode == 1, checked.stderr
    problems = checked.stdout.splitlines()[-2:]
    assert problems == [
        '  [owners] "Dan Wu" still has the placeholder address dan.wu@fill-in.invalid: put in '
        "Dan Wu's real email address",
        "1 problem found.",
    ]
    text = config.read_text()
    config.write_text(text.replace("dan.wu@fill-in.invalid", "dan@riverside.example"))
    checked = sheets_sync(clinic, *check)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.splitlines()[0] == (f"Config: OK. Log: {log}, header on row 1.")
    assert checked.stdout.splitlines()[-1] == "0 problems found."

    # 3. once, as printed: the follow-up columns are written, and what it says about digests
    # is what the outbox holds.
    once = sheets_sync(clinic, *printed_command(steps, "once"))
    assert once.returncode == 0, once.stdout + once.stderr
    assert "check data" not in once.stdout
    assert "  2 prospects: " in once.stdout
    wrote = re.search(r"  wrote (\d+) cells", once.stdout)
    assert wrote is not None, once.stdout
    assert int(wrote[1]) > 0
    outbox = sorted((config.parent / "outbox").glob("*.eml"))
    sent = re.search(r"  digests: (\d+) sent through the outbox folder", once.stdout)
    if outbox:
        assert sent is not None, once.stdout
        assert int(sent[1]) == len(outbox), once.stdout
    else:
        assert "  digests: none to send" in once.stdout
    # LibreOffice opens the synced workbook and sees the new columns beside the clinic's own.
    header = read_all_sheets(log, tmp_path)["Leads"][0]
    assert header[:7] == [
        "Patient",
        "Coordinator",
        "Consult date",
        "Last contact",
        "Procedure",
        "Quote",
        "Referral",
    ]
    assert header[7:10] == ["Next touch", "Next action", "Follow-up status"]

    # 4. status, as printed.
    status = sheets_sync(clinic, *printed_command(steps, "status"))
    assert status.returncode == 0, status.stderr
    state = config.parent / "state"
    lines = status.stdout.splitlines()
    assert lines[0] == f"State folder: {state} (the daemon is not running)"
    # The sync `once` made is there, in the clinic's zone and date order, and no daemon's next
    # sync is promised.
    last = next(line for line in lines if line.startswith("Last sync: "))
    us_moment = r"\w{3} \w{3} \d{1,2}, \d{4} \d\d:\d\d \w+ \(America/New_York\)"
    assert re.fullmatch(rf"Last sync: {us_moment}: 2 rows read, \d+ cells written", last), last
    assert any(line.startswith("Next sync: none planned") for line in lines), lines
