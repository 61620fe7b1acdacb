"""One service for a group of clinics (issue 16, point 2; SPEC §11): each clinic's failure is
its own, and never delays another clinic's sync or digests.

Seven clinics on one service, one fake clock, one mail account (one recorder for all): two
healthy ones, in London and in New York, each sending at 07:30 its own time; one whose
workbook is missing; one whose file is not a workbook; one whose log lost its header; one
whose backend raises an error nobody foresaw; one Google clinic whose key was revoked (the
fake Sheets API answers invalid_grant, as Google does); and one whose log hangs (its read
blocks until the test lets it go at the end).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import NoReturn
from zoneinfo import ZoneInfo

import pytest

from sheets_sync.backends.base import Backend, Snapshot, SourceError
from sheets_sync.backends.memory import MemoryBackend
from sheets_sync.config import Config, ConfigError, parse_config
from sheets_sync.core.values import CellValue
from sheets_sync.daemon import Daemon, GroupSummary, Service, status_lines
from sheets_sync.engine import digest_messages, sync
from sheets_sync.group import load_group
from sheets_sync.mail.deliver import Delivery
from sheets_sync.state import State
from tests.backends.gsheets_helpers import backend as google_backend
from tests.sheets_fake import DEFAULT_EMAIL, FakeSheets
from tests.test_daemon import ALL_DAYS, PLANS, STAFF, CountingBackend, FakeClock, log_rows

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
DAY = date(2026, 11, 24)  # a Tuesday: London on GMT, New York on EST, five hours apart
SHEET = "1GroupSheetAbCdEfGhIjKlMnOpQrStUvWxYz0123456789"


def manager(key: str) -> str:
    return f"manager@{key}.example"


def clinic_config(folder: Path, key: str, zone: str = "Europe/London", **source: str) -> Config:
    """A clinic of the group: its own log, state folder and outbox, its own manager."""
    config = parse_config(
        {
            "clinic": {
                "name": f"{key.title()} Clinic",
                "timezone": zone,
                "open_days": ALL_DAYS,
                "holidays": [],
            },
            "source": source or {"kind": "xlsx", "path": "log.xlsx"},
            "plans": {"file": str(PLANS)},
            "mail": {
                "outbox": "outbox",
                "from": "Follow-ups <followups@group.example>",
                "manager": manager(key),
                "digest_time": "07:30",
            },
            "daemon": {"state_dir": "state", "sync_every_minutes": 15, "alert_after_hours": 1},
        },
        base_dir=folder / key,
    )
    return replace(config, group="Test Group")  # as group.load_group makes it


@dataclass(frozen=True)
class Mail:
    message: EmailMessage
    key: str
    at: datetime  # UTC

    @property
    def to(self) -> str:
        return parseaddr(str(self.message["To"]))[1]

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])


@dataclass
class Account:
    """The group's one mail account: every clinic's messages, with the time each went."""

    clock: FakeClock
    sent: list[Mail] = field(default_factory=list)

    def delivery(self) -> Delivery:
        return _Recorder(self)

    def to(self, address: str) -> list[Mail]:
        return [mail for mail in self.sent if mail.to == address]


@dataclass
class _Recorder:
    account: Account

    def send(self, message: EmailMessage, key: str) -> None:
        self.account.sent.append(Mail(message, key, self.account.clock.now()))

    def close(self) -> None:
        pass


class TimedBackend(CountingBackend):
    """Remembers when each sync began (each begins by asking for the log's version)."""

    def __init__(self, clock: FakeClock, rows: Sequence[Sequence[CellValue]]) -> None:
        super().__init__(rows, STAFF)
        self.clock = clock
        self.began: list[datetime] = []

    def version(self) -> str:
        self.began.append(self.clock.now())
        return super().version()


class HangingBackend(MemoryBackend):
    """A log on a file share that stalls: every call blocks until `answer` is set, and then
    fails, as a read from a share that went away does in the end."""

    def __init__(self, rows: Sequence[Sequence[CellValue]], answer: threading.Event) -> None:
        super().__init__(rows, STAFF)
        self.answer = answer
        self.calls = 0

    def version(self) -> str:
        self._stall()

    def read(self) -> Snapshot:
        self._stall()

    def _stall(self) -> NoReturn:
        self.calls += 1
        self.answer.wait()
        raise SourceError("the log's file share went away")


class Crashing(MemoryBackend):
    """A backend with a bug nobody foresaw."""

    def version(self) -> str:
        raise RuntimeError("list index out of range")

    def read(self) -> Snapshot:
        raise RuntimeError("list index out of range")


class GroupClock(FakeClock):
    """The fake clock; at the end it also lets the hung log answer, so the service can stop
    (it finishes the jobs under way first). A job that has not come back after a few seconds
    of the computer's time hangs: the healthy ones take milliseconds."""

    def __init__(self, start: datetime, end: datetime, answer: threading.Event) -> None:
        super().__init__(start, end)
        self.answer = answer
        self.patience = 5.0

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        super().sleep(seconds, stop)
        if stop.is_set():
            self.answer.set()


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeSheets]:
    with FakeSheets() as started:
        yield started


@dataclass
class GroupRun:
    configs: dict[str, Config]
    backends: dict[str, Backend]
    account: Account
    clock: GroupClock

    def health(self, key: str) -> list[str]:
        with State(self.configs[key].daemon.state_dir) as state:
            return status_lines(self.configs[key], state, self.clock.now())

    def digests(self, key: str) -> list[Mail]:
        """The clinic's owners' digests: its manager's address is its own."""
        name = self.configs[key].clinic.name
        return [
            mail
            for mail in self.account.sent
            if mail.subject.startswith("Follow-ups") and name in mail.subject
        ]


@pytest.fixture(scope="module")
def group_run(tmp_path_factory: pytest.TempPathFactory, fake: FakeSheets) -> GroupRun:
    """Nine hours of the group's service, once for all the tests below."""
    tmp_path = tmp_path_factory.mktemp("group")
    start = datetime(2026, 11, 24, 5, 0, tzinfo=LONDON)
    answer = threading.Event()
    clock = GroupClock(start, datetime(2026, 11, 24, 14, 0, tzinfo=LONDON), answer)
    rows = log_rows(DAY)
    configs = {  # the hung one first: a group's syncs are spread, the first's at 05:00
        "hung": clinic_config(tmp_path, "hung"),
        "london": clinic_config(tmp_path, "london"),
        "newyork": clinic_config(tmp_path, "newyork", "America/New_York"),
        "missing": clinic_config(tmp_path, "missing"),
        "notabook": clinic_config(tmp_path, "notabook"),
        "headless": clinic_config(tmp_path, "headless"),
        "crashing": clinic_config(tmp_path, "crashing"),
        "google": clinic_config(tmp_path, "google", kind="gsheets", spreadsheet_id=SHEET),
    }
    (tmp_path / "notabook").mkdir()
    (tmp_path / "notabook" / "log.xlsx").write_text("this is not a workbook", encoding="utf-8")
    fake.add_spreadsheet(SHEET, {"Prospects": [list(r) for r in rows], "Staff": STAFF})
    key = fake.service_account_key(tmp_path / "keys")
    fake.revoke(DEFAULT_EMAIL)
    backends: dict[str, Backend] = {
        "london": TimedBackend(clock, rows),
        "newyork": TimedBackend(clock, rows),
        "headless": MemoryBackend(rows[1:], STAFF),
        "crashing": Crashing(rows, STAFF),
        "google": google_backend(fake, key, SHEET),
        "hung": HangingBackend(rows, answer),
    }
    account = Account(clock)
    stop = threading.Event()
    daemons = [
        (
            key,
            Daemon(
                config,
                environ={},
                clock=clock,
                stop=stop,
                backend=backends.get(key),
                delivery=account.delivery,
            ),
        )
        for key, config in configs.items()
    ]
    Service(daemons, stop=stop, clock=clock).run()
    return GroupRun(configs, backends, account, clock)


def summary(mail: Mail) -> bool:
    return mail.subject.startswith("Follow-up summary")


def text(mail: Mail) -> str:
    body = mail.message.get_body(("plain",))
    assert isinstance(body, EmailMessage)
    return body.get_content()


HEALTHY = ("london", "newyork")
FAILING = ("missing", "notabook", "headless", "crashing", "google", "hung")


def test_each_healthy_clinic_syncs_on_time_whatever_the_others_do(group_run: GroupRun) -> None:
    for key in HEALTHY:
        backend = group_run.backends[key]
        assert isinstance(backend, TimedBackend)
        syncs = backend.began
        gaps = [later - earlier for earlier, later in itertools.pairwise(syncs)]
        assert len(syncs) >= 9 * 4, key  # 05:00 to 14:00, every 15 minutes
        assert max(gaps) <= timedelta(minutes=15), key


def test_each_clinic_sends_its_digests_at_its_own_time_in_its_own_zone(
    group_run: GroupRun,
) -> None:
    for key, zone in (("london", LONDON), ("newyork", NEW_YORK)):
        digests = group_run.digests(key)
        assert sorted(mail.to for mail in digests) == ["anna@clinic.example", "ben@clinic.example"]
        due = datetime(2026, 11, 24, 7, 30, tzinfo=zone)
        for mail in digests:
            assert due <= mail.at <= due + timedelta(minutes=1), (key, mail.at)
        summaries = [mail for mail in group_run.account.to(manager(key)) if summary(mail)]
        assert len(summaries) == 1
        assert due <= summaries[0].at <= due + timedelta(minutes=1)
    london = group_run.digests("london")[0].at
    new_york = group_run.digests("newyork")[0].at
    assert timedelta(hours=5) <= new_york - london <= timedelta(hours=5, minutes=1)


def test_a_staff_member_of_two_clinics_gets_one_digest_from_each_named(
    group_run: GroupRun,
) -> None:
    to_anna = [mail for mail in group_run.account.sent if mail.to == "anna@clinic.example"]
    assert sorted(mail.subject for mail in to_anna) == [
        "Follow-ups at London Clinic for Tue 24 Nov: 2 overdue",
        "Follow-ups at Newyork Clinic for Tue 24 Nov: 2 overdue",
    ]
    assert len({str(mail.message["Message-ID"]) for mail in to_anna}) == 2


@pytest.mark.parametrize(
    ("key", "cause"),
    [
        ("missing", "log.xlsx"),
        ("notabook", "log.xlsx"),
        ("headless", "header"),
        ("crashing", "unexpected error (RuntimeError)"),
        ("google", "new key"),
        ("hung", "has not finished: the log does not answer"),
    ],
)
def test_a_failing_clinic_is_recorded_and_told_for_itself_alone(
    group_run: GroupRun, key: str, cause: str
) -> None:
    status = "\n".join(group_run.health(key))
    assert "Failing since: Tue 24 Nov 2026 05:" in status
    assert "The manager has been alerted." in status
    alerts = [mail for mail in group_run.account.to(manager(key)) if not summary(mail)]
    assert len(alerts) == 1, [mail.subject for mail in alerts]
    told = " ".join(text(alerts[0]).split())
    assert group_run.configs[key].clinic.name in told
    assert cause in told


def test_no_notice_reaches_a_healthy_clinic_and_none_goes_astray(group_run: GroupRun) -> None:
    for key in HEALTHY:
        assert "Failing since" not in "\n".join(group_run.health(key))
        assert all(summary(mail) for mail in group_run.account.to(manager(key)))
    notices = [mail for mail in group_run.account.sent if mail.key.startswith("notice-")]
    assert sorted(mail.to for mail in notices) == sorted(manager(key) for key in FAILING)


def test_the_unforeseen_error_is_kept_in_its_own_clinics_folder(group_run: GroupRun) -> None:
    folders = {key: config.daemon.state_dir for key, config in group_run.configs.items()}
    assert (folders["crashing"] / "errors.log").is_file()
    others = [folder for key, folder in folders.items() if key != "crashing"]
    assert not any((folder / "errors.log").exists() for folder in others)


def test_a_hung_clinic_piles_up_no_jobs(group_run: GroupRun) -> None:
    """Nine hours of syncs due every 15 minutes and digest checks every minute, while its
    first sync hangs: when its log answers at last, at most one sync and one round of digests
    wait behind it."""
    hung = group_run.backends["hung"]
    assert isinstance(hung, HangingBackend)
    assert hung.calls <= 3


def test_a_stall_counts_as_failing_from_the_next_sync_due_and_alerts_after_the_hour(
    group_run: GroupRun,
) -> None:
    """The hung sync began at 05:00; the sync due at 05:15 is the first it holds up, and the
    alert (`alert_after_hours` = 1) goes with the first sync held up an hour after that."""
    first_held_up = datetime(2026, 11, 24, 5, 15, tzinfo=LONDON)
    [alert] = group_run.account.to(manager("hung"))
    alerted_by = first_held_up + timedelta(hours=1)
    assert alerted_by <= alert.at <= alerted_by + timedelta(minutes=15 + 2)
    assert "the sync that began at 05:00 has not finished" in text(alert)


def test_each_clinic_keeps_its_own_outbox_state_and_records(group_run: GroupRun) -> None:
    folders = [config.daemon.state_dir for config in group_run.configs.values()]
    outboxes = [config.mail.outbox for config in group_run.configs.values()]
    assert len(set(folders)) == len(set(outboxes)) == len(group_run.configs)
    for key in HEALTHY:
        config = group_run.configs[key]
        with State(config.daemon.state_dir) as state:
            assert state.digests_done(DAY)
            assert state.digest(DAY, "owner-anna") is not None
    with State(group_run.configs["hung"].daemon.state_dir) as state:
        assert state.digest(DAY, "owner-anna") is None


# --- the group manager's summary ---------------------------------------------------------

GROUP_MANAGER = "ops@group.example"


def summary_run(folder: Path, start: datetime, end: datetime) -> tuple[Account, GroupSummary]:
    """London, New York and a clinic whose workbook is missing, with the group's manager:
    the service from `start` to `end`."""
    clock = GroupClock(start, end, threading.Event())
    configs = {
        "london": clinic_config(folder, "london"),
        "newyork": clinic_config(folder, "newyork", "America/New_York"),
        "missing": clinic_config(folder, "missing"),
    }
    rows = log_rows(DAY)
    account = Account(clock)
    stop = threading.Event()
    daemons = [
        (
            key,
            Daemon(
                config,
                environ={},
                clock=clock,
                stop=stop,
                backend=None if key == "missing" else MemoryBackend(rows, STAFF),
                delivery=account.delivery,
            ),
        )
        for key, config in configs.items()
    ]
    summary = GroupSummary(
        name="Test Group",
        manager=GROUP_MANAGER,
        folder=folder / "state" / "group",
        time=time(7, 30),
        zone=LONDON,
        sender="Follow-ups <followups@group.example>",
        delivery=account.delivery,
    )
    Service(daemons, stop=stop, clock=clock, group_summary=summary).run()
    return account, summary


def test_the_group_manager_gets_one_summary_after_the_last_clinics_digests(
    tmp_path: Path,
) -> None:
    start = datetime(2026, 11, 24, 5, 0, tzinfo=LONDON)
    account, _ = summary_run(tmp_path, start, datetime(2026, 11, 24, 14, 0, tzinfo=LONDON))
    [sent] = account.to(GROUP_MANAGER)
    new_york_digests = datetime(2026, 11, 24, 7, 30, tzinfo=NEW_YORK)
    # The missing clinic's digests are over at its cut-off (11:30 London), New York's at 12:30.
    assert new_york_digests <= sent.at <= new_york_digests + timedelta(minutes=2)
    assert sent.subject == "Test Group on Tue 24 Nov: 1 of 3 clinics need attention"
    said = text(sent)
    missing = said.index("Missing Clinic: needs attention")
    assert missing < said.index("London Clinic: in order") < said.index("Newyork Clinic: in order")
    # The third clinic's first sync is at 05:10: a group's syncs are spread over 15 minutes.
    assert "Sync: failing since Tue 24 Nov 2026 05:10 GMT (Europe/London)" in said
    assert "log.xlsx is not there" in said
    assert said.count("Today: 3 overdue, 0 due today, 0 to check") == 2
    assert said.count("Digests: 3 sent") == 2  # Anna, Ben and the clinic's manager
    assert "Digests: not sent by the cut-off" in said
    html = sent.message.get_body(("html",))
    assert isinstance(html, EmailMessage)
    assert "Missing Clinic" in html.get_content()
    # Each clinic's own manager still gets its own summary.
    for key in ("london", "newyork"):
        assert [m.subject for m in account.to(manager(key))] == [
            f"Follow-up summary at {key.title()} Clinic for Tue 24 Nov: 3 overdue"
        ]


def test_a_restart_the_same_day_sends_the_group_summary_once(tmp_path: Path) -> None:
    first, _ = summary_run(
        tmp_path,
        datetime(2026, 11, 24, 5, 0, tzinfo=LONDON),
        datetime(2026, 11, 24, 13, 0, tzinfo=LONDON),
    )
    again, summary = summary_run(
        tmp_path,
        datetime(2026, 11, 24, 13, 5, tzinfo=LONDON),
        datetime(2026, 11, 24, 18, 0, tzinfo=LONDON),
    )
    assert len(first.to(GROUP_MANAGER)) == 1
    assert again.to(GROUP_MANAGER) == []
    with State(summary.folder) as records:
        record = records.digest(DAY, "group-manager")
    assert record is not None
    assert record.status == "sent"
    assert record.message_id == str(first.to(GROUP_MANAGER)[0].message["Message-ID"])


def test_no_group_summary_before_its_time_or_before_the_clinics_digests(tmp_path: Path) -> None:
    account, _ = summary_run(
        tmp_path,
        datetime(2026, 11, 24, 5, 0, tzinfo=LONDON),
        datetime(2026, 11, 24, 12, 0, tzinfo=LONDON),  # New York's digests are at 12:30
    )
    assert account.to(GROUP_MANAGER) == []


# --- the group file's [group] keys for the summary ------------------------------------------

GROUP_FILE = """
[group]
name = "Riverside Group"
clinics = ["clinics/*.toml"]
{extra}
[mail]
from = "followups@group.example"
"""

CLINIC_FILE = """
[clinic]
name = "{name}"
timezone = "{zone}"
[source]
kind = "xlsx"
path = "../logs/{key}.xlsx"
[mail]
digest_time = "{time}"
"""


def group_folder(tmp_path: Path, extra: str = "") -> Path:
    for key, name, zone, at in (
        ("harbour", "Harbour Skin", "America/New_York", "08:15"),
        ("riverside", "Riverside Aesthetics", "Europe/London", "07:30"),
    ):
        clinic = tmp_path / "clinics" / f"{key}.toml"
        clinic.parent.mkdir(parents=True, exist_ok=True)
        text = CLINIC_FILE.format(name=name, zone=zone, key=key, time=at)
        clinic.write_text(text, encoding="utf-8")
    path = tmp_path / "group.toml"
    path.write_text(GROUP_FILE.format(extra=extra), encoding="utf-8")
    return path


def test_the_summary_goes_at_the_time_and_in_the_zone_the_group_file_says(
    tmp_path: Path,
) -> None:
    extra = 'manager = "ops@group.example"\nsummary_time = "12:45"\ntimezone = "Asia/Tokyo"'
    group = load_group(group_folder(tmp_path, extra))
    summary = GroupSummary.of(group, environ={})
    assert summary is not None
    assert (summary.time, summary.zone.key) == (time(12, 45), "Asia/Tokyo")
    assert summary.folder == tmp_path / "state" / "group"
    assert summary.manager == "ops@group.example"
    assert summary.name == "Riverside Group"


def test_by_default_the_summary_goes_at_the_latest_digest_time_in_the_first_clinics_zone(
    tmp_path: Path,
) -> None:
    group = load_group(group_folder(tmp_path, 'manager = "ops@group.example"'))
    summary = GroupSummary.of(group, environ={})
    assert summary is not None
    assert (summary.time, summary.zone.key) == (time(8, 15), "America/New_York")


def test_no_group_manager_no_summary(tmp_path: Path) -> None:
    assert GroupSummary.of(load_group(group_folder(tmp_path)), environ={}) is None


def test_the_summary_keys_are_checked_with_their_location(tmp_path: Path) -> None:
    extra = 'summary_time = "noon"\ntimezone = "Europe/Lundon"'
    with pytest.raises(ConfigError) as raised:
        load_group(group_folder(tmp_path, extra))
    problems = "\n".join(raised.value.problems)
    assert '[group].summary_time: expected a time of day like "07:30"' in problems
    assert "[group].timezone: unknown time zone" in problems
    assert "Europe/London" in problems  # did you mean


def test_a_group_file_makes_each_clinics_digests_name_their_clinic(tmp_path: Path) -> None:
    """The subject names the clinic in a group only: a single clinic's keeps its words."""
    group = load_group(group_folder(tmp_path))
    assert [clinic.config.group for clinic in group.clinics] == ["Riverside Group"] * 2
    for config, owner_subject, summary_subject in (
        (
            group.clinics[1].config,
            "Follow-ups at Riverside Aesthetics for Tue 24 Nov: 2 overdue",
            "Follow-up summary at Riverside Aesthetics for Tue 24 Nov: 3 overdue",
        ),
        (
            replace(group.clinics[1].config, group=""),
            "Follow-ups for Tue 24 Nov: 2 overdue",
            "Follow-up summary for Tue 24 Nov: 3 overdue",
        ),
    ):
        config = replace(config, mail=replace(config.mail, manager="m@riverside.example"))
        with State(tmp_path / "records") as state:
            report = sync(MemoryBackend(log_rows(DAY), STAFF), config, state, today=DAY)
        subjects = [str(message["Subject"]) for _, message in digest_messages(report, config, DAY)]
        assert subjects[0] == owner_subject
        assert subjects[-1] == summary_subject


def test_clinics_that_hang_never_take_every_worker(tmp_path: Path) -> None:
    """Three logs hang on a service of two workers: the healthy clinic still syncs and sends
    its digests on time, and each hung clinic's manager is alerted."""
    answer = threading.Event()
    start = datetime(2026, 11, 24, 5, 0, tzinfo=LONDON)
    clock = GroupClock(start, datetime(2026, 11, 24, 9, 0, tzinfo=LONDON), answer)
    rows = log_rows(DAY)
    account, stop = Account(clock), threading.Event()
    hung = ("hung1", "hung2", "hung3")
    backends: dict[str, Backend] = {key: HangingBackend(rows, answer) for key in hung}
    backends["london"] = TimedBackend(clock, rows)
    daemons = [
        (
            key,
            Daemon(
                clinic_config(tmp_path, key),
                environ={},
                clock=clock,
                stop=stop,
                backend=backend,
                delivery=account.delivery,
            ),
        )
        for key, backend in backends.items()
    ]
    Service(daemons, stop=stop, clock=clock, workers=2).run()
    london = backends["london"]
    assert isinstance(london, TimedBackend)
    assert len(london.began) >= 4 * 4
    due = datetime(2026, 11, 24, 7, 30, tzinfo=LONDON)
    digests = [mail for mail in account.sent if "London Clinic" in mail.subject]
    assert len(digests) == 3  # Anna, Ben and the manager's summary
    assert all(due <= mail.at <= due + timedelta(minutes=1) for mail in digests)
    for key in hung:
        assert [mail.key[:7] for mail in account.to(manager(key))] == ["notice-"]


def test_the_group_file_alone_is_enough_for_the_summary_in_the_outbox(tmp_path: Path) -> None:
    """What `sheets-sync run` does with a group file: each clinic's Daemon and the summary
    `GroupSummary.of` makes; in outbox mode each clinic's mail and the group's land in
    folders of their own, under Message-IDs of their own."""
    group = load_group(group_folder(tmp_path, 'manager = "ops@group.example"'))
    start = datetime(2026, 11, 24, 5, 0, tzinfo=LONDON)
    clock = GroupClock(start, datetime(2026, 11, 24, 14, 0, tzinfo=LONDON), threading.Event())
    stop = threading.Event()
    daemons = [
        (
            clinic.key,
            Daemon(
                clinic.config,
                environ={},
                clock=clock,
                stop=stop,
                backend=MemoryBackend(log_rows(DAY), STAFF),
            ),
        )
        for clinic in group.clinics
    ]
    summary = GroupSummary.of(group, environ={})
    Service(daemons, stop=stop, clock=clock, group_summary=summary).run()
    outbox = tmp_path / "outbox"
    assert sorted(p.name for p in (outbox / "group").iterdir()) == ["2026-11-24-group-manager.eml"]
    ids = []
    for key in ("harbour", "riverside"):
        mails = sorted(p.name for p in (outbox / key).iterdir())
        assert mails == ["2026-11-24-owner-anna.eml", "2026-11-24-owner-ben.eml"]
        ids += [message_id(outbox / key / name) for name in mails]
    assert len(set(ids)) == len(ids)
    said = (outbox / "group" / "2026-11-24-group-manager.eml").read_text(encoding="utf-8")
    assert "Subject: Riverside Group on Tue 24 Nov: all 2 clinics in order" in said


def message_id(path: Path) -> str:
    return str(message_from_bytes(path.read_bytes(), policy=policy.default)["Message-ID"])


def test_no_clinic_may_take_the_groups_own_folder(tmp_path: Path) -> None:
    path = group_folder(tmp_path)
    (tmp_path / "clinics" / "riverside.toml").rename(tmp_path / "clinics" / "group.toml")
    with pytest.raises(ConfigError) as raised:
        load_group(path)
    assert "would be the clinic 'group'" in "\n".join(raised.value.problems)


def test_a_groups_syncs_are_spread_over_the_interval(tmp_path: Path) -> None:
    """Three clinics syncing every 15 minutes begin 5 minutes apart, the first at once, and
    keep their turns: a Google account shared by many clinics gets a few requests a minute,
    never every clinic's at the same moment (Google allows 60 reads a minute per account)."""
    start = datetime(2026, 11, 24, 5, 0, tzinfo=LONDON)
    clock = FakeClock(start, start + timedelta(minutes=44))
    stop, account = threading.Event(), Account(clock)
    backends = {key: TimedBackend(clock, log_rows(DAY)) for key in ("a", "b", "c")}
    daemons = [
        (
            key,
            Daemon(
                clinic_config(tmp_path, key),
                environ={},
                clock=clock,
                stop=stop,
                backend=backend,
                delivery=account.delivery,
            ),
        )
        for key, backend in backends.items()
    ]

    Service(daemons, stop=stop, clock=clock).run()

    minutes = {
        key: [int((began - start).total_seconds() // 60) for began in backend.began]
        for key, backend in backends.items()
    }
    assert minutes == {"a": [0, 15, 30], "b": [5, 20, 35], "c": [10, 25, 40]}
