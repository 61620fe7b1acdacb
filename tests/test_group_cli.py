"""The commands across a group's clinics (issue 16, point 3; SPEC §11): `--clinic NAME` or every
clinic, each under its heading; one clinic's failure told under its own heading while the
others complete; `status` one line a clinic; `run` serving the whole group.

The group: Harbour Skin (a small log made here, New York time), Marina Clinic (its workbook
is missing) and Riverside Aesthetics (the sample workbook, London time), in that order, so
that the broken clinic sits between two that work.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from sheets_sync import cli
from sheets_sync.backends.gsheets.client import user_token_file
from sheets_sync.core.values import DateOrder, format_day
from sheets_sync.daemon import only_instance
from sheets_sync.group import load_group
from sheets_sync.logs import ERRORS_LOG
from sheets_sync.per_clinic import group_service
from sheets_sync.state import State
from tests.test_cli import SAMPLE, digest, run
from tests.test_daemon import FakeClock
from tests.workbooks import make_log

REPO = Path(__file__).resolve().parents[1]
PLANS = REPO / "sheets_sync" / "plans.toml"
TODAY = "2026-11-24"  # a Tuesday
CLINICS = {
    "harbour": ("Harbour Skin", "America/New_York"),
    "marina": ("Marina Clinic", "Europe/Lisbon"),
    "riverside": ("Riverside Aesthetics", "Europe/London"),
}
HEADINGS = [f"=== {name} ({key}) ===" for key, (name, _) in CLINICS.items()]
MISSING = "marina.xlsx is not there"


@pytest.fixture
def group(tmp_path: Path) -> Path:
    logs = tmp_path / "logs"
    logs.mkdir()
    shutil.copy(SAMPLE, logs / "riverside.xlsx")
    make_log(
        logs / "harbour.xlsx",
        [
            {"Name": "Zoe Quinn", "Owner": "Anna Price", "Consultation date": date(2026, 11, 19)},
            {"Name": "Mark Ruiz", "Owner": "Anna Price", "Consultation date": date(2026, 11, 2)},
        ],
        staff=[("Anna Price", "anna@harbour.example")],
    )
    (tmp_path / "clinics").mkdir()
    for key, (name, zone) in CLINICS.items():
        (tmp_path / "clinics" / f"{key}.toml").write_text(
            f'[clinic]\nname = "{name}"\ntimezone = "{zone}"\n\n'
            f'[source]\nkind = "xlsx"\npath = "../logs/{key}.xlsx"\n',
            encoding="utf-8",
        )
    config = tmp_path / "group.toml"
    config.write_text(
        f"""
[group]
name = "Riverside Group"
clinics = ["clinics/*.toml"]

[plans]
file = "{PLANS.as_posix()}"

[mail]
from = "Follow-ups <followups@group.example>"
manager = "Manager <manager@group.example>"
outbox = "outbox"

[daemon]
state_dir = "state"
""",
        encoding="utf-8",
    )
    return config


def outbox(group: Path, key: str) -> list[str]:
    folder = group.parent / "outbox" / key
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def headings(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("=== ")]


def section(out: str, key: str) -> str:
    """What the output says under one clinic's heading."""
    name = CLINICS[key][0]
    return out.split(f"=== {name} ({key}) ===\n")[1].split("\n=== ")[0]


# --- once ----------------------------------------------------------------------------------


def test_once_syncs_every_clinic_and_a_missing_workbook_stops_only_its_own(
    group: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logs = group.parent / "logs"
    before = {key: digest(logs / f"{key}.xlsx") for key in ("harbour", "riverside")}

    code, out, err = run(capsys, "once", "--config", str(group), "--today", TODAY)

    assert code == 1  # one clinic failed
    assert headings(out) == HEADINGS
    assert "67 prospects" in section(out, "riverside")  # after the broken clinic: it ran
    assert "2 prospects" in section(out, "harbour")
    assert section(out, "marina").strip() == ""  # its error went to standard error
    assert err.count("\n") == 1
    assert err.startswith("sheets-sync [marina]: ")
    assert MISSING in err
    for key in ("harbour", "riverside"):
        assert digest(logs / f"{key}.xlsx") != before[key]
    assert outbox(group, "harbour") == [f"{TODAY}-manager.eml", f"{TODAY}-owner-anna-price.eml"]
    assert len(outbox(group, "riverside")) == 5
    assert outbox(group, "marina") == []
    with State(group.parent / "state" / "marina") as state:
        health = state.health()
    assert health is not None
    assert health.outcome == "failed"


def test_once_with_clinic_syncs_that_clinic_alone(
    group: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    harbour = group.parent / "logs" / "harbour.xlsx"
    before = digest(harbour)

    code, out, err = run(
        capsys, "once", "--config", str(group), "--today", TODAY, "--clinic", "riverside"
    )

    assert code == 0, err
    assert headings(out) == ["=== Riverside Aesthetics (riverside) ==="]
    assert len(outbox(group, "riverside")) == 5
    assert outbox(group, "harbour") == []
    assert digest(harbour) == before


def test_a_clinic_is_chosen_by_its_name_in_any_case(
    group: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys, "once", "--config", str(group), "--today", TODAY, "--clinic", "HARBOUR skin"
    )

    assert code == 0, err
    assert headings(out) == ["=== Harbour Skin (harbour) ==="]


def test_an_unknown_clinic_is_refused_with_the_list_of_clinics(
    group: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "status", "--config", str(group), "--clinic", "Seaside")

    assert code == 1
    assert out == ""
    assert err == (
        f"sheets-sync: no clinic called 'Seaside' in {group}; the clinics: harbour (Harbour"
        " Skin), marina (Marina Clinic), riverside (Riverside Aesthetics)\n"
    )


def test_without_today_each_clinic_acts_on_its_own_today(
    group: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """New York is five hours behind London: each clinic's summary line names the day it is
    there (either side of the run, should a midnight fall within it)."""
    zones = {c.key: c.config.clinic.timezone for c in load_group(group).clinics}
    before = {key: datetime.now(zone).date() for key, zone in zones.items()}

    code, out, _ = run(capsys, "once", "--config", str(group), "--no-digest")

    assert code == 1
    for key in ("harbour", "riverside"):
        days = {before[key], datetime.now(zones[key]).date()}
        said = section(out, key).splitlines()[0]
        assert any(format_day(day, DateOrder.DMY, with_year=True) in said for day in days)


# --- check, status -------------------------------------------------------------------------


def test_check_checks_each_clinic_under_its_heading(
    group: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "check", "--config", str(group), "--today", TODAY)

    assert code == 1
    assert headings(out) == HEADINGS
    assert "0 problems found." in section(out, "harbour")
    assert "7 problems found." in section(out, "riverside")
    assert MISSING in err

    code, out, err = run(
        capsys, "check", "--config", str(group), "--today", TODAY, "--clinic", "harbour"
    )

    assert code == 0, err
    assert "0 problems found." in out


def test_check_lists_every_problem_of_every_file_at_once(
    group: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = group.parent / "clinics"
    for key in ("harbour", "riverside"):
        file = folder / f"{key}.toml"
        file.write_text(file.read_text() + "\n[owners]\nAnna = 'not an address'\n")

    code, out, err = run(capsys, "check", "--config", str(group))

    assert code == 2
    assert out == ""
    assert err.startswith(f"2 problems in {group}:")
    for key in ("harbour", "riverside"):
        assert f"  - {folder / f'{key}.toml'}: [owners]" in err


def test_status_shows_one_line_per_clinic_and_all_of_one_with_clinic(
    group: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "once", "--config", str(group), "--today", TODAY)

    code, out, err = run(capsys, "status", "--config", str(group))

    assert code == 0, err
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "harbour (Harbour Skin)",
        "marina (Marina Clinic)",
        "riverside (Riverside Aesthetics)",
    ]
    assert "cells written" in lines[0]
    assert "America/New_York" in lines[0]
    assert ": failed; failing since " in lines[1]
    assert "next digests" in lines[2]
    assert "monthly report" in lines[2]

    code, out, err = run(capsys, "status", "--config", str(group), "--clinic", "marina")

    assert code == 0, err
    assert out.splitlines()[0] == "=== Marina Clinic (marina) ==="
    assert any(line.startswith("Last error: ") and MISSING in line for line in out.splitlines())


# --- digest --preview, explain, history, report --------------------------------------------


def test_digest_preview_writes_each_clinic_s_own_folder(
    group: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_folder = group.parent / "previews"

    code, out, err = run(
        capsys, "digest", "--preview", "--config", str(group), "--today", TODAY,
        "--out", str(out_folder),
    )  # fmt: skip

    assert code == 1
    assert MISSING in err
    assert sorted(p.name for p in out_folder.iterdir()) == ["harbour", "riverside"]
    assert f"{TODAY}-owner-anna-price.eml" in {p.name for p in (out_folder / "harbour").iterdir()}
    assert str(out_folder / "riverside" / f"{TODAY}-manager.eml") in section(out, "riverside")

    code, out, err = run(
        capsys, "digest", "--preview", "--config", str(group), "--today", TODAY,
        "--clinic", "harbour",
    )  # fmt: skip

    assert code == 0, err
    preview = group.parent / "state" / "harbour" / "preview"
    assert str(preview / f"{TODAY}-manager.eml") in out


def test_explain_finds_the_prospect_in_the_one_clinic_that_has_it(
    group: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "explain", "zoe quinn", "--config", str(group), "--today", TODAY)

    assert code == 1  # Marina could not be searched
    assert MISSING in err
    assert out.splitlines()[:2] == [
        "Found in Harbour Skin (harbour).",
        "Row 2: Zoe Quinn, owner Anna Price (no Sync ID yet), on Tue 24 Nov 2026",
    ]


def test_explain_asks_for_clinic_when_several_clinics_have_the_prospect(
    group: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "explain", "2", "--config", str(group), "--today", TODAY)

    assert code == 1
    assert out == ""
    assert (
        'sheets-sync: "2" is in 2 clinics: harbour (Harbour Skin), riverside (Riverside'
        " Aesthetics); pass --clinic NAME to choose one"
    ) in err

    code, out, err = run(
        capsys, "explain", "2", "--config", str(group), "--today", TODAY, "--clinic", "harbour"
    )

    assert code == 0, err
    assert "Row 2: Zoe Quinn" in out


def test_explain_found_nowhere_says_each_clinic_s_answer(
    group: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "explain", "Nobody", "--config", str(group), "--today", TODAY)

    assert code == 1
    assert out == ""
    lines = err.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "sheets-sync [marina]",
        "sheets-sync [harbour]",
        "sheets-sync [riverside]",
    ]
    assert 'no prospect is called "Nobody"' in lines[1]


def test_history_of_one_prospect_names_its_clinic(
    group: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys, "history", "Mark Ruiz", "--config", str(group), "--today", TODAY,
        "--clinic", "harbour",
    )  # fmt: skip
    assert code == 0, err
    alone = out.split("\n", 1)[1]  # under the heading

    code, out, err = run(capsys, "history", "Mark Ruiz", "--config", str(group), "--today", TODAY)

    assert code == 1
    assert MISSING in err
    assert out == "Found in Harbour Skin (harbour).\n" + alone


def test_history_to_csv_writes_one_file_per_clinic(
    group: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "once", "--config", str(group), "--today", TODAY)
    wanted = group.parent / "touches.csv"

    code, out, err = run(
        capsys, "history", "--config", str(group), "--today", TODAY, "--csv", str(wanted)
    )

    assert code == 1
    assert MISSING in err
    assert headings(out) == HEADINGS
    for key in ("harbour", "riverside"):
        written = group.parent / f"touches-{key}.csv"
        assert written.is_file()
        assert str(written) in section(out, key)
    assert not wanted.exists()


def test_report_as_a_page_writes_one_per_clinic_and_says_which(
    group: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = group.parent / "report.html"

    code, out, err = run(
        capsys, "report", "--config", str(group), "--today", TODAY, "--html", str(page)
    )

    assert code == 1
    assert MISSING in err
    assert headings(out) == HEADINGS
    for key in ("harbour", "riverside"):
        own = group.parent / f"report-{key}.html"
        assert f"Wrote the report as a page to {own}." in section(out, key)
        assert CLINICS[key][0] in own.read_text(encoding="utf-8")
    assert not page.exists()

    code, out, err = run(
        capsys, "report", "--config", str(group), "--today", TODAY, "--html", str(page),
        "--clinic", "riverside",
    )  # fmt: skip

    assert code == 0, err
    assert f"Wrote the report as a page to {page}." in out


def test_send_test_tries_each_clinic_s_mail_settings(
    group: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Marina's missing workbook is no matter here: its mail settings work."""
    code, out, err = run(capsys, "send-test", "it@group.example", "--config", str(group))

    assert code == 0, err
    assert headings(out) == HEADINGS
    for key in CLINICS:
        (sent,) = outbox(group, key)
        assert sent.startswith("send-test-")
        message = (group.parent / "outbox" / key / sent).read_text(encoding="utf-8")
        assert CLINICS[key][0] in message


def test_google_login_signs_in_for_each_clinic_on_a_google_sheet_and_no_other(
    group: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = group.parent / "client.json"
    client.write_text(json.dumps({"installed": {"client_id": "sheets-sync.example"}}))
    (group.parent / "clinics" / "online.toml").write_text(
        '[clinic]\nname = "Online Consults"\n\n[source]\nkind = "gsheets"\n'
        'spreadsheet_id = "1LoGiNaBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"\n'
        'auth = "user"\ncredentials = "../client.json"\n',
        encoding="utf-8",
    )
    signed_in: list[tuple[Path, Path]] = []

    def google_login(client_file: Path, token: Path, **how: object) -> None:
        signed_in.append((client_file, token))  # Google's own flow: tests/test_google_login.py

    monkeypatch.setattr(cli, "google_login", google_login)

    code, out, err = run(capsys, "google-login", "--config", str(group))

    assert code == 0, err
    assert headings(out) == ["=== Online Consults (online) ==="]
    assert signed_in == [(client, user_token_file(group.parent / "state" / "online"))]


def test_google_login_over_a_group_of_workbooks_says_there_is_nothing_to_sign_in_to(
    group: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "google-login", "--config", str(group))

    assert code == 1
    assert out == ""
    assert "no clinic of the group keeps its log in a Google Sheet" in err


# --- containment ---------------------------------------------------------------------------


def test_an_unexpected_error_in_one_clinic_goes_to_its_errors_log_and_the_others_go_on(
    group: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_check = cli._check

    def check_breaking_at_harbour(args: object, config: cli.Config, today: date) -> int:
        if config.clinic.name == "Harbour Skin":
            raise KeyError("Zoe Quinn")
        return real_check(args, config, today)  # type: ignore[arg-type]

    monkeypatch.setattr(cli, "_check", check_breaking_at_harbour)

    code, out, err = run(capsys, "check", "--config", str(group), "--today", TODAY)

    log = group.parent / "state" / "harbour" / ERRORS_LOG
    assert code == cli.UNEXPECTED_EXIT
    assert "7 problems found." in section(out, "riverside")
    assert (
        f"[harbour] sheets-sync hit an unexpected problem: KeyError; nothing more was written."
        f" Details are in the log {log}"
    ) in err
    assert "Traceback" not in err
    assert "`sheets-sync check` stopped on an unexpected KeyError" in log.read_text()


# --- real processes ------------------------------------------------------------------------


def sheets_sync(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sheets_sync", *args],
        cwd=folder,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # as a console shows them: each error under its heading
        text=True,
        timeout=120,
    )


def test_a_clinic_s_error_shows_under_its_heading_in_a_console(group: Path) -> None:
    done = sheets_sync(group.parent, "once", "--config", group.name, "--today", TODAY)

    assert done.returncode == 1
    lines = done.stdout.splitlines()
    marina = lines.index("=== Marina Clinic (marina) ===")
    assert lines[marina + 1].startswith("sheets-sync [marina]: ")
    assert MISSING in lines[marina + 1]
    assert lines[marina + 3] == "=== Riverside Aesthetics (riverside) ==="


def test_run_is_refused_when_another_service_holds_a_clinic_s_state_folder(group: Path) -> None:
    with only_instance([group.parent / "state" / "riverside"]):
        done = sheets_sync(group.parent, "run", "--config", group.name)

    assert done.returncode == 1
    assert "another sheets-sync is already running with the state folder" in done.stdout
    assert str(group.parent / "state" / "riverside") in done.stdout
    assert "Traceback" not in done.stdout


# --- run -----------------------------------------------------------------------------------


def test_run_serves_every_clinic_of_the_group(group: Path) -> None:
    """Tue 24 Nov 2026, from 06:00 to 09:00 UTC: Riverside's digests at 07:30 London time;
    Harbour synced but its digest time (07:30 New York, 12:30 UTC) not reached; Marina's
    failure recorded for Marina alone."""
    start = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
    logs = group.parent / "logs"
    before = {key: digest(logs / f"{key}.xlsx") for key in ("harbour", "riverside")}
    service = group_service(load_group(group), {}, FakeClock(start, start + timedelta(hours=3)))

    service.run()

    assert len(outbox(group, "riverside")) == 5
    assert outbox(group, "harbour") == []
    for key in ("harbour", "riverside"):
        assert digest(logs / f"{key}.xlsx") != before[key]
        with State(group.parent / "state" / key) as state:
            health = state.health()
        assert health is not None
        assert health.failing_since is None
    with State(group.parent / "state" / "marina") as state:
        health = state.health()
    assert health is not None
    assert health.outcome == "failed"
    assert health.error is not None
    assert MISSING in health.error


def test_run_sends_the_group_managers_summary_once(group: Path) -> None:
    """With `[group] manager`, the service `run` starts also mails the group's manager one
    summary of every clinic, after the clinics' digests (by default at the latest digest time,
    07:30, in the first clinic's zone: Harbour's New York, 12:30 UTC)."""
    text = group.read_text(encoding="utf-8")
    group.write_text(
        text.replace(
            'name = "Riverside Group"', 'name = "Riverside Group"\nmanager = "ops@group.example"'
        ),
        encoding="utf-8",
    )
    start = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
    service = group_service(load_group(group), {}, FakeClock(start, start + timedelta(hours=8)))

    service.run()

    (summary,) = outbox(group, "group")
    message = (group.parent / "outbox" / "group" / summary).read_text(encoding="utf-8")
    assert "Riverside Group" in message
    assert "ops@group.example" in message
    for name, _ in CLINICS.values():
        assert name in message
