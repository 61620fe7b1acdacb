"""Migration (issue 16, point 6): a clinic that ran alone becomes the first clinic of a group
without losing its history.

Riverside runs alone for two days on a real workbook (the daemon with a fake clock): digests
sent, values written, backups kept, staff touches logged. Then its file, unchanged, is listed
in a group file beside a second clinic, and the group's service carries on: the same state
folder, the touch log intact and growing, today's digests not sent again, its own written
values not taken for a person's typing, and the monthly report reading the history of the
days it ran alone. Also for a clinic file that names its state folder itself.
"""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from sheets_sync.config import Config, load_config
from sheets_sync.core.report import Period
from sheets_sync.daemon import Daemon, Service
from sheets_sync.engine import clinic_report, open_backend, sync
from sheets_sync.group import load_group
from sheets_sync.state import State
from tests.test_daemon import ALL_DAYS, PLANS, FakeClock
from tests.workbooks import make_log

LONDON = ZoneInfo("Europe/London")
MONDAY = date(2026, 11, 23)
STAFF = [("Anna", "anna@clinic.example"), ("Ben", "ben@clinic.example")]

CLINIC = f"""
[clinic]
name = "Riverside Aesthetics"
timezone = "Europe/London"
open_days = {ALL_DAYS!r}
holidays = []
[source]
kind = "xlsx"
path = "log.xlsx"
[plans]
file = "{PLANS.as_posix()}"
[mail]
from = "Riverside Aesthetics <followups@riverside.example>"
manager = "manager@riverside.example"
[daemon]
sync_every_minutes = 15
{{state}}
"""

HARBOUR = f"""
[clinic]
name = "Harbour Skin"
timezone = "Europe/London"
open_days = {ALL_DAYS!r}
holidays = []
[source]
kind = "xlsx"
path = "log.xlsx"
[plans]
file = "{PLANS.as_posix()}"
[mail]
from = "Harbour Skin <followups@harbour.example>"
"""

GROUP = """
[group]
name = "Riverside Group"
clinics = ["riverside/sheets_sync.toml", "harbour/sheets_sync.toml"]
"""


def prospects(start: date) -> list[dict[str, object]]:
    return [
        {
            "Name": name,
            "Owner": owner,
            "Email": f"{name.split()[0].lower()}@patients.example",
            "Consultation date": start - timedelta(days=days),
            "Status": "Open",
            "Last touch": None,
            "Touches": 0,
            "Value": 500,
        }
        for name, owner, days in (("Ann Ames", "Anna", 5), ("Bob Brown", "Ben", 6))
    ]


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, EmailMessage]] = []

    def send(self, message: EmailMessage, key: str) -> None:
        self.sent.append((key, message))

    def close(self) -> None:
        pass

    def from_clinic(self, name: str) -> list[str]:
        return [key for key, message in self.sent if name in str(message["From"])]

    def digests(self, day: date) -> list[str]:
        return sorted(key for key, _ in self.sent if key.startswith(day.isoformat()))


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LONDON)


def run_alone(config: Config, start: datetime, end: datetime) -> Recorder:
    recorder = Recorder()
    Daemon(config, environ={}, clock=FakeClock(start, end), delivery=lambda: recorder).run()
    return recorder


def run_group(group_file: Path, start: datetime, end: datetime) -> Recorder:
    recorder = Recorder()
    clock, stop = FakeClock(start, end), threading.Event()
    clinics = [
        (
            clinic.key,
            Daemon(clinic.config, environ={}, clock=clock, stop=stop, delivery=lambda: recorder),
        )
        for clinic in load_group(group_file).clinics
    ]
    Service(clinics, stop=stop, clock=clock).run()
    return recorder


def touch(workbook: Path, name: str, day: date) -> None:
    """A receptionist logs a call: the prospect's Last touch and Touches, saved in Excel."""
    book = openpyxl.load_workbook(workbook)
    sheet = book["Prospects"]
    header = [cell.value for cell in sheet[1]]
    for row in sheet.iter_rows(min_row=2):
        if row[header.index("Name")].value == name:
            row[header.index("Last touch")].value = datetime(day.year, day.month, day.day)
            row[header.index("Touches")].value = (row[header.index("Touches")].value or 0) + 1
    book.save(workbook)


def statuses(workbook: Path) -> list[str]:
    sheet = openpyxl.load_workbook(workbook)["Prospects"]
    header = [cell.value for cell in sheet[1]]
    column = header.index("Follow-up status")
    return [str(row[column].value) for row in sheet.iter_rows(min_row=2)]


@pytest.mark.parametrize(
    "state_line", ["", 'state_dir = "history"'], ids=["state-beside-it", "state-named"]
)
def test_a_clinic_that_ran_alone_carries_on_in_a_group_with_its_history(
    tmp_path: Path, state_line: str
) -> None:
    riverside = tmp_path / "riverside"
    riverside.mkdir()
    clinic_file = riverside / "sheets_sync.toml"
    clinic_file.write_text(CLINIC.format(state=state_line), encoding="utf-8")
    workbook = make_log(riverside / "log.xlsx", prospects(MONDAY), staff=STAFF)
    alone = load_config(clinic_file)
    folder = alone.daemon.state_dir
    tuesday = MONDAY + timedelta(days=1)

    # Two days alone: Monday's digests, a call logged on Monday, Tuesday's digests.
    monday_mail = run_alone(alone, at(MONDAY, 6), at(MONDAY, 9))
    touch(workbook, "Ann Ames", MONDAY)
    tuesday_mail = run_alone(alone, at(tuesday, 6), at(tuesday, 9))
    assert monday_mail.digests(MONDAY)
    assert tuesday_mail.digests(tuesday)
    source = open_backend(alone, {}).description
    with State(folder) as state:
        logged_alone = state.touches(source)
        written_alone = state.remembered(source)
    assert logged_alone
    assert written_alone
    backups_alone = sorted((folder / "backups").iterdir())
    assert backups_alone

    # The same file, listed in a group beside a second clinic; the group's service on Tuesday.
    harbour = tmp_path / "harbour"
    harbour.mkdir()
    (harbour / "sheets_sync.toml").write_text(HARBOUR, encoding="utf-8")
    make_log(harbour / "log.xlsx", prospects(MONDAY), staff=STAFF)
    group_file = tmp_path / "group.toml"
    group_file.write_text(GROUP, encoding="utf-8")
    in_group = {clinic.key: clinic.config for clinic in load_group(group_file).clinics}
    assert in_group["riverside"].daemon.state_dir == folder
    assert open_backend(in_group["riverside"], {}).description == source

    later_tuesday = run_group(group_file, at(tuesday, 9, 5), at(tuesday, 10))
    assert later_tuesday.from_clinic("Riverside") == []  # Tuesday's went while it ran alone

    # Wednesday in the group: a call logged, the day's digests, once.
    wednesday = tuesday + timedelta(days=1)
    touch(workbook, "Bob Brown", tuesday)
    wednesday_mail = run_group(group_file, at(wednesday, 6), at(wednesday, 9))
    assert sorted(wednesday_mail.from_clinic("Riverside")) == [
        f"{wednesday.isoformat()}-{who}" for who in ("manager", "owner-anna")
    ]  # Ben called Bob on Tuesday: nothing due for him today

    config = in_group["riverside"]
    with State(folder) as state:
        logged = state.touches(source)
        assert logged[: len(logged_alone)] == logged_alone  # intact
        assert len(logged) > len(logged_alone)  # and growing
        # Its own written values are its own: nothing taken for a person's typing.
        assert not any(status.startswith("CHECK DATA") for status in statuses(workbook))
        report = sync(open_backend(config, {}), config, state, today=wednesday, dry_run=True)
        assert report.plan.afresh == ()  # every prospect keeps its Sync ID
        november = Period.month(MONDAY.year, MONDAY.month)
        figures = clinic_report(report, config, state, november, wednesday)
    # The monthly report reads the log from the days it ran alone: Monday's call was logged
    # by Tuesday morning's first sync, before the group's service began at 09:05.
    assert figures.log_began == tuesday
    assert sorted((folder / "backups").iterdir())[: len(backups_alone)] == backups_alone
    # The second clinic keeps its backups in its own state folder.
    harbour_state = in_group["harbour"].daemon.state_dir
    assert harbour_state == tmp_path / "state" / "harbour"
    assert list((harbour_state / "backups").iterdir())
