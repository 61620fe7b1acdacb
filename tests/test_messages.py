"""Issue 13, point 5: messages that name the cause and the fix."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from sheets_sync.backends.base import SourceBusy
from sheets_sync.backends.memory import MemoryBackend
from sheets_sync.backends.xlsx import XlsxBackend
from sheets_sync.config import Config, ConfigError, load_config, parse_config
from sheets_sync.core.columns import HeaderNotFound, column_letters, find_layout
from sheets_sync.core.owners import missing_staff_sheet
from sheets_sync.core.plans import Plan, Repeat, Step
from sheets_sync.core.words import counted
from sheets_sync.daemon import Daemon
from sheets_sync.engine import AnotherSetup, sync, written_words
from sheets_sync.state import State
from tests.backends.contract import plan
from tests.backends.other_editor import save_edited
from tests.backends.test_xlsx_files import excel_owner_file
from tests.test_cli import TODAY, run, write_config
from tests.test_daemon import STAFF, FailingWrites, FakeClock, Recorder, local, log_rows
from tests.test_daemon import make_config as daemon_config
from tests.test_engine import STAFF as ENGINE_STAFF
from tests.test_engine import log_rows as engine_log_rows
from tests.test_engine import make_config
from tests.workbooks import make_log

REPO = Path(__file__).resolve().parents[1]
MINIMAL: dict[str, object] = {"source": {"kind": "xlsx", "path": "log.xlsx"}}


def config_problems(**sections: object) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config({**MINIMAL, **sections}, base_dir=REPO / "config")
    return caught.value.problems


# --- a header row missing one column -------------------------------------------------------


def test_a_header_missing_one_column_names_it_and_what_the_row_has() -> None:
    rows = [
        ["Patient", "Owner", "Consult", "Notes"],
        ["Ann", "Chloe", "1/10/2026", ""],
    ]
    with pytest.raises(HeaderNotFound) as raised:
        find_layout(rows)
    assert str(raised.value) == (
        "row 1 has Name and Owner but no Consultation date (it has: Patient, Owner, Consult, "
        "Notes); rename that header, or name yours in the config, e.g. [columns] "
        'consultation_date = ["Consult"]'
    )


def test_the_row_holding_most_required_columns_is_the_one_described() -> None:
    rows = [
        ["Riverside prospects", "Owner: see Staff"],
        [],
        ["Name", "Assigned", "Consultation date"],
    ]
    with pytest.raises(HeaderNotFound) as raised:
        find_layout(rows)
    assert str(raised.value).startswith(
        "row 3 has Name and Consultation date but no Owner (it has: Name, Assigned, "
        "Consultation date)"
    )
    assert '[columns] owner = ["Assigned"]' in str(raised.value)


# --- config hints ---------------------------------------------------------------------------


def test_a_header_written_as_a_columns_key_points_at_its_field() -> None:
    (problem,) = config_problems(columns={"quote": ["Our quote"]})
    assert problem.startswith('[columns]: unknown key "quote" (did you mean "value"?')
    assert 'value = ["Our header"]' in problem


def test_a_header_close_to_a_known_one_points_at_its_field() -> None:
    (problem,) = config_problems(columns={"Consult": "Consult"})
    assert problem.startswith('[columns]: unknown key "Consult" (did you mean "consultation_date"?')
    assert 'consultation_date = ["Consult"]' in problem


@pytest.mark.parametrize("written", ["26/12/2026", "2026-12-5", "25.12.2026"])
def test_a_date_toml_cannot_read_is_explained(tmp_path: Path, written: str) -> None:
    path = tmp_path / "sheets_sync.toml"
    path.write_text(
        f'[source]\nkind = "xlsx"\npath = "log.xlsx"\n\n[clinic]\n'
        f"holidays = [2026-12-25, {written}]\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    (problem,) = raised.value.problems
    assert "line 6" in problem
    assert f"{written} is not a date TOML can read" in problem
    assert "like 2026-12-25" in problem


def test_a_quoted_date_in_another_order_says_how_dates_are_written() -> None:
    (problem,) = config_problems(clinic={"holidays": ["25/12/2026"]})
    assert problem == (
        '[clinic].holidays: not dates: "25/12/2026" (write dates year-month-day, like '
        "2026-12-25, without quotes)"
    )


# --- a missing Staff sheet ------------------------------------------------------------------


def misnamed_staff_sheet(tmp_path: Path) -> Path:
    """The sample log with a config naming a Staff sheet it does not have."""
    config = write_config(tmp_path)
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('kind = "xlsx"', 'kind = "xlsx"\nstaff_worksheet = "Team"'))
    return config


def test_a_misnamed_staff_sheet_is_one_headline_in_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = misnamed_staff_sheet(tmp_path)

    code, out, _ = run(capsys, "check", "--config", str(config), "--today", TODAY)

    assert code == 1
    headline = next(line for line in out.splitlines() if "Staff sheet" in line)
    assert headline.strip().startswith(
        'the Staff sheet "Team" is missing (the log has: "Prospects", "Staff"): set [source] '
        "staff_worksheet"
    )
    assert 'owners ("Anna Price", "Ben Okafor", "Chloe Martin", "Dev Patel", "Sam") have no' in (
        headline
    )
    assert "has no email address" not in out  # no line per row


def test_a_misnamed_staff_sheet_is_one_headline_in_the_managers_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = misnamed_staff_sheet(tmp_path)
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
    (summary,) = (path for path in out_dir.glob("*manager*.txt"))
    text = summary.read_text(encoding="utf-8")
    assert text.count("Staff sheet") == 2  # the heading and its one sentence
    assert 'The Staff sheet "Team" is missing (the log has: "Prospects", "Staff")' in text
    html = summary.with_suffix(".html").read_text(encoding="utf-8")
    assert html.count("staff_worksheet") == 1


def test_a_staff_sheet_present_keeps_its_lines_per_row() -> None:
    assert missing_staff_sheet([["Name", "Email"]], "Staff", ["Log", "Staff"]) is None
    assert missing_staff_sheet(None, None, ["Log"]) is None


# --- English that reads right ---------------------------------------------------------------


def test_counted_says_one_thing_and_many_things() -> None:
    assert [counted(1, "minute"), counted(2, "minute"), counted(0, "row")] == [
        "1 minute",
        "2 minutes",
        "0 rows",
    ]
    assert counted(1_500, "cell") == "1,500 cells"


def test_a_repeat_every_day_reads_as_one_day() -> None:
    plan = Plan("daily", (Step(1, 0, "Call", "First call"),), Repeat(1, "Call", "Call again"))
    step = plan.step(3)
    assert step is not None
    assert plan.describe(step).startswith("Step 4 (every 1 day)")


def test_the_counts_of_once_keep_the_flags_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)

    code, out, err = run(capsys, "once", "--dry-run", "--config", str(config), "--today", TODAY)

    assert code == 0, err
    assert (
        "  67 prospects: 20 overdue, 8 due today, 18 upcoming, 7 nurture, 10 closed, "
        "4 check data\n" in out
    )


def test_one_prospect_is_counted_as_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path)
    prospect = {"Name": "Ann Ames", "Owner": "Anna Price", "Consultation date": date(2026, 11, 24)}
    make_log(tmp_path / "log.xlsx", [prospect])

    code, out, err = run(capsys, "once", "--dry-run", "--config", str(config), "--today", TODAY)

    assert code == 0, err
    assert "  1 prospect: 1 due today\n" in out
    assert "  would change 8 cells in 2 rows" in out


def test_a_write_of_formatting_alone_is_not_called_zero_cells(tmp_path: Path) -> None:
    backend = MemoryBackend(
        [["Name", "Owner", "Consultation date"], ["Ann Ames", "Anna", date(2026, 11, 24)]]
    )
    config = make_config(tmp_path)
    with State(tmp_path / "state") as state:
        first = sync(backend, config, state, today=date(2026, 11, 24))
        again = sync(backend, config, state, today=date(2026, 11, 24), dry_run=True)
    assert written_words(first) == "wrote 8 cells"
    assert again.cells_changed == 0
    assert written_words(replace(again, written=True)) == (
        "wrote the managed columns' formatting; no cell changed"
    )
    assert written_words(again) == "nothing written"


# --- lock files: who, since when, and a stale one ------------------------------------------


LIBREOFFICE_LOCK = b"Anna Price,anna,FRONTDESK,30.11.2026 07:42,file:///home/anna/.config;\n"


def busy_message(log: Path, lock_name: str, content: bytes, age: timedelta) -> str:
    """What writing `log` says with a lock file made `age` ago beside it."""
    lock = log.with_name(lock_name)
    lock.write_bytes(content)
    made = (datetime.now() - age).timestamp()
    os.utime(lock, (made, made))
    backend = XlsxBackend(log)
    snapshot = backend.read()
    with pytest.raises(SourceBusy) as busy:
        backend.write(plan(snapshot).changes, snapshot.version)
    return str(busy.value)


def small_log(tmp_path: Path) -> Path:
    prospect = {"Name": "Ann Ames", "Owner": "Anna Price", "Consultation date": date(2026, 11, 24)}
    return make_log(tmp_path / "log.xlsx", [prospect])


def test_a_libreoffice_lock_says_who_on_which_computer_and_since_when(tmp_path: Path) -> None:
    made = datetime.now() - timedelta(minutes=5)
    message = busy_message(
        small_log(tmp_path), ".~lock.log.xlsx#", LIBREOFFICE_LOCK, timedelta(minutes=5)
    )
    assert message.startswith("log.xlsx is open for editing by Anna Price, on FRONTDESK (since ")
    assert f"{made:%H:%M}" in message
    assert message.endswith("If it stays open, ask them to save and close it")
    assert "delete" not in message


def test_an_excel_owner_file_says_who_and_since_when(tmp_path: Path) -> None:
    message = busy_message(
        small_log(tmp_path), "~$log.xlsx", excel_owner_file("Zoë Price"), timedelta(minutes=5)
    )
    assert message.startswith("log.xlsx is open for editing by Zoë Price (since ")


def test_a_stale_lock_file_says_how_to_clear_it(tmp_path: Path) -> None:
    log = small_log(tmp_path)
    made = datetime.now() - timedelta(hours=30)
    message = busy_message(log, ".~lock.log.xlsx#", LIBREOFFICE_LOCK, timedelta(hours=30))
    assert message.startswith(
        f"log.xlsx has a lock file from {made:%H:%M on %a %d %b} (by Anna Price, on FRONTDESK): "
        "more than 12 hours old, it was probably left behind by a crash. If nobody has the "
        f"workbook open, delete {log.with_name('.~lock.log.xlsx#')}"
    )


class KeepingRecorder(Recorder):
    """A Recorder that keeps each message's text too."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self.texts: list[str] = []

    def send(self, message: EmailMessage, key: str) -> None:
        super().send(message, key)
        body = message.get_body(("plain",))
        assert isinstance(body, EmailMessage)
        self.texts.append(body.get_content())


def test_a_workbook_left_open_all_day_alerts_the_manager_with_whose_desk(tmp_path: Path) -> None:
    config = daemon_config(tmp_path, alert_hours=2)
    start = local(2026, 11, 24, 8, 0)
    clock = FakeClock(start, local(2026, 11, 24, 12, 0))
    held = SourceBusy(
        "log.xlsx is open for editing by Anna Price, on FRONTDESK (since 08:00; lock file "
        ".~lock.log.xlsx#); nothing was written, and the sync tries again each cycle. If it "
        "stays open, ask them to save and close it"
    )
    backend = FailingWrites(log_rows(start.date()), STAFF, clock=clock, error=held)
    recorder = KeepingRecorder(clock)
    daemon = Daemon(config, environ={}, clock=clock, backend=backend, delivery=lambda: recorder)
    daemon.run()

    (alert,) = [sent for sent in recorder.notices()]
    assert alert.subject == (
        "sheets-sync at Our clinic: the prospect log has been open on someone's desk "
        "since 08:00 on Tue 24 Nov, so it is not being synced"
    )
    text = recorder.texts[recorder.sent.index(alert)]
    assert "has been waiting since 08:00" in text
    assert "by Anna Price, on FRONTDESK" in text
    assert "failing" not in text


# --- two setups on one log -----------------------------------------------------------------


def two_state_configs(tmp_path: Path) -> tuple[Config, Config]:
    first = make_config(tmp_path / "front-desk")
    return first, replace(first, daemon=replace(first.daemon, state_dir=tmp_path / "server"))


def test_a_second_setup_with_its_own_state_folder_refuses_the_log(tmp_path: Path) -> None:
    backend = MemoryBackend(engine_log_rows(), ENGINE_STAFF)
    first, second = two_state_configs(tmp_path)
    with State(first.daemon.state_dir) as state:
        assert sync(backend, first, state, today=date(2026, 11, 24)).written
    synced = [list(row) for row in backend.rows]

    with State(second.daemon.state_dir) as state:
        for dry_run in (False, True):  # the digests are sent from a dry run: it refuses too
            with pytest.raises(AnotherSetup) as raised:
                sync(backend, second, state, today=date(2026, 11, 25), dry_run=dry_run)
    message = str(raised.value)
    assert message.startswith("the in-memory log is already synced by another sheets-sync: its ")
    assert f"this state folder ({second.daemon.state_dir})" in message
    assert "Run only one" in message
    assert "`sheets-sync once --adopt`" in message
    assert backend.rows == synced

    # The first setup goes on as before.
    with State(first.daemon.state_dir) as state:
        sync(backend, first, state, today=date(2026, 11, 25))


def test_a_state_folder_made_anew_takes_the_log_over_with_adopt(tmp_path: Path) -> None:
    backend = MemoryBackend(engine_log_rows(), ENGINE_STAFF)
    lost, anew = two_state_configs(tmp_path)
    with State(lost.daemon.state_dir) as state:
        sync(backend, lost, state, today=date(2026, 11, 24))

    with State(anew.daemon.state_dir) as state:
        sync(backend, anew, state, today=date(2026, 11, 25), adopt=True)
        # From then on the log's IDs are this state folder's own.
        sync(backend, anew, state, today=date(2026, 11, 26))
        sync(backend, anew, state, today=date(2026, 11, 26), dry_run=True)


def test_once_on_a_log_another_setup_syncs_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    assert run(capsys, "once", "--config", str(config), "--today", TODAY)[0] == 0
    other = config.with_name("other.toml")
    other.write_text(
        config.read_text(encoding="utf-8").replace('state_dir = "state"', 'state_dir = "other"')
    )
    before = (tmp_path / "log.xlsx").read_bytes()

    code, out, err = run(capsys, "once", "--config", str(other), "--today", TODAY)

    assert code != 0
    assert "is already synced by another sheets-sync" in out + err
    assert (tmp_path / "log.xlsx").read_bytes() == before
    code, out, err = run(capsys, "once", "--adopt", "--config", str(other), "--today", TODAY)
    assert code == 0, out + err


# --- a renamed managed header ---------------------------------------------------------------


def test_a_renamed_managed_header_is_found_again_in_memory(tmp_path: Path) -> None:
    backend = MemoryBackend(engine_log_rows(), ENGINE_STAFF)
    config = make_config(tmp_path)
    with State(config.daemon.state_dir) as state:
        sync(backend, config, state, today=date(2026, 11, 24))
        header = list(backend.rows[0])
        col = header.index("Next touch")
        backend.edit(1, col, "Next call")
        due = backend.rows[2][col]
        backend.edit(3, col, None)  # a Next touch cleared: put back in the renamed column

        report = sync(backend, config, state, today=date(2026, 11, 25))

    assert report.written
    assert dict(report.plan.changes.layout.new_headers) == {}
    assert backend.rows[0] == [*header[:col], "Next call", *header[col + 1 :]]
    assert isinstance(due, date)
    assert isinstance(backend.rows[2][col], date)


def test_a_renamed_managed_header_is_found_again_in_a_workbook(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    log = tmp_path / "log.xlsx"
    assert run(capsys, "once", "--no-digest", "--config", str(config), "--today", TODAY)[0] == 0
    header = XlsxBackend(log).read().rows[0]
    col = header.index("Next action")
    save_edited(log, log.read_bytes(), {f"{column_letters(col)}1": "What to do"})

    code, out, err = run(
        capsys, "once", "--no-digest", "--config", str(config), "--today", "2026-11-25"
    )

    assert code == 0, out + err
    rows = XlsxBackend(log).read().rows
    assert rows[0] == [*header[:col], "What to do", *header[col + 1 :]]
    assert all(len(row) <= len(header) for row in rows)  # no second set of columns


def test_a_deleted_managed_block_is_not_guessed_from_the_sync_id_alone() -> None:
    rows = [["Name", "Owner", "Consultation date", "Referral", "Sync ID"], ["Ann", "Bo", 1, "", ""]]
    layout = find_layout(rows)
    assert layout.managed["sync_id"] == 4
    assert set(layout.new_headers.values()) == {"Next touch", "Next action", "Follow-up status"}
