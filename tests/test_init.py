"""`sheets-sync init`: what it finds in a log, what it asks, and the config it writes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pytest

from sheets_sync.cli import main
from sheets_sync.config import load_config
from sheets_sync.core.survey import (
    detect_date_order,
    placeholder_address,
    placeholder_problems,
    survey_header,
)
from sheets_sync.core.values import CellValue, DateOrder
from sheets_sync.setup import InitOptions, SetupError, init, machine_timezone
from tests.workbooks import make_log

REPO = Path(__file__).resolve().parents[1]


def dated(*cells: str | date | None) -> list[list[CellValue]]:
    """A log of one date column under a header, a row per cell."""
    return [["Consultation date"], *([cell] for cell in cells)]


# --- the date order, from the log's typed dates -------------------------------------------


def test_a_second_number_over_12_settles_month_first_and_names_the_cell() -> None:
    finding = detect_date_order(dated("11/7/2026", "11/23/2026"), 1, [0])
    assert finding.order is DateOrder.MDY
    assert finding.either_way == 1
    assert "month first (MDY)" in finding.explain()
    assert "A3 11/23/2026" in finding.explain()


def test_a_first_number_over_12_settles_day_first() -> None:
    finding = detect_date_order(dated("7/11/2026", "23.11.26 10:30"), 1, [0])
    assert finding.order is DateOrder.DMY
    assert "A3 23.11.26 10:30" in finding.explain()


def test_dates_that_read_either_way_leave_the_order_open_and_say_so() -> None:
    finding = detect_date_order(dated("11/7/2026", "3/4/2026", "2026-11-23", "23 Nov 2026"), 1, [0])
    assert finding.order is None
    assert finding.explain() == (
        "the log does not tell: its 2 dates typed as text read either way (no number over 12)"
    )


def test_real_date_cells_say_nothing_about_the_order() -> None:
    finding = detect_date_order(dated(date(2026, 11, 23), None), 1, [0])
    assert finding.order is None
    assert "holds no dates typed as text" in finding.explain()


def test_a_log_typed_both_ways_is_mixed_and_names_both() -> None:
    finding = detect_date_order(dated("23/11/2026", "11/24/2026"), 1, [0])
    assert finding.order is None
    assert finding.mixed
    assert "A2 23/11/2026 can only be day first, A3 11/24/2026 only month first" in (
        finding.explain()
    )


# --- the header ----------------------------------------------------------------------------


def test_the_header_is_the_row_naming_most_known_columns_and_others_are_listed() -> None:
    rows: list[list[CellValue]] = [
        ["Riverside prospects 2026"],
        ["Notes", "see below"],
        ["Client", "Coordinator", "Consult date", "Referral"],
        ["Ada", "Maria", "11/7/2026", "Instagram"],
    ]
    survey = survey_header(rows)
    assert survey is not None
    assert survey.header_row == 3
    assert survey.fields == {"owner": 1, "consultation_date": 2}
    assert survey.missing == ["name"]
    assert survey.unknown == {0: "Client", 3: "Referral"}
    named = survey_header(rows, {"name": ["Client"]})
    assert named is not None
    assert named.missing == []


# --- placeholders for owners ---------------------------------------------------------------


def test_only_placeholder_addresses_are_flagged() -> None:
    owners = {"Dan Wu": placeholder_address("Dan Wu"), "Maria": "maria@clinic.example"}
    assert owners["Dan Wu"] == "dan.wu@fill-in.invalid"
    assert placeholder_problems(owners) == [
        '[owners] "Dan Wu" still has the placeholder address dan.wu@fill-in.invalid: put in '
        "Dan Wu's real email address"
    ]


# --- the machine's time zone ---------------------------------------------------------------


def test_the_time_zone_comes_from_tz_then_localtime_then_etc_timezone(tmp_path: Path) -> None:
    localtime = tmp_path / "etc" / "localtime"
    localtime.parent.mkdir()
    zone_file = tmp_path / "usr" / "share" / "zoneinfo" / "America" / "Chicago"
    zone_file.parent.mkdir(parents=True)
    zone_file.write_bytes(b"")
    assert machine_timezone({}, localtime) is None
    (tmp_path / "etc" / "timezone").write_text("Europe/Dublin\n")
    assert machine_timezone({}, localtime) == "Europe/Dublin"
    localtime.symlink_to(zone_file)
    assert machine_timezone({}, localtime) == "America/Chicago"
    assert machine_timezone({"TZ": ":America/Denver"}, localtime) == "America/Denver"
    assert machine_timezone({"TZ": "Not/AZone"}, localtime) == "America/Chicago"


# --- init, the library -----------------------------------------------------------------------

US_LOG: list[dict[str, CellValue]] = [
    {
        "Patient": "Ada Brook",
        "Coordinator": "Maria Lopez",
        "Consult date": "11/7/2026",
        "Last contact": "11/23/2026",
        "Quote": 450,
        "Referral": "Instagram",
    },
    {
        "Patient": "Ben Cole",
        "Coordinator": "Dan Wu",
        "Consult date": "10/2/2026",
        "Last contact": None,
        "Quote": 2500,
        "Referral": "Friend",
    },
]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A clinic's config folder, empty: the plans are built in."""
    return tmp_path


class Script:
    """Answers to init's questions, in order; records each question."""

    def __init__(self, answers: Sequence[str]) -> None:
        self.answers = list(answers)
        self.questions: list[str] = []

    def __call__(self, question: str, default: str) -> str:
        self.questions.append(question)
        return self.answers.pop(0) or default


def test_a_us_log_with_its_own_headers_gets_a_config_that_loads(folder: Path) -> None:
    log = make_log(
        folder / "log.xlsx", US_LOG, sheet="Leads", staff=[("Maria Lopez", "m@c.example")]
    )
    said: list[str] = []
    steps = init(
        InitOptions(str(log), folder / "sheets_sync.toml", timezone="America/New_York"),
        ask=None,
        say=said.append,
        environ={},
        localtime=folder / "none",
    )
    config = load_config(folder / "sheets_sync.toml")
    assert config.clinic.date_order is DateOrder.MDY
    assert str(config.clinic.timezone) == "America/New_York"
    assert config.source.path == log
    assert config.source.worksheet == "Leads"
    assert config.source.staff_worksheet == "Staff"
    assert dict(config.owners) == {"Dan Wu": "dan.wu@fill-in.invalid"}
    assert config.daemon.state_dir == folder / "state"
    assert config.mail.outbox == folder / "outbox"
    assert said[:2] == [
        f'Log: the sheet "Leads" of {log}, header on row 1.',
        '  columns read: "Patient" (A) as name, "Coordinator" (B) as owner, "Consult date" (C) '
        'as consultation date, "Last contact" (D) as last touch, "Quote" (E) as value',
    ]
    assert '  not read (sheets-sync leaves them alone): "Referral" (F)' in said
    assert "Dates: typed month first (MDY), as D2 11/23/2026 shows." in said
    assert steps[0].startswith("1. Fill in the email address of Dan Wu in [owners]")
    assert [step.split()[1:3] for step in steps[1:4]] == [
        ["sheets-sync", "check"],
        ["sheets-sync", "once"],
        ["sheets-sync", "status"],
    ]


def test_an_existing_config_is_never_overwritten_without_force(folder: Path) -> None:
    log = make_log(folder / "log.xlsx", US_LOG)
    config = folder / "sheets_sync.toml"
    config.write_text("# the clinic's own\n")
    options = InitOptions(str(log), config, timezone="America/New_York")
    with pytest.raises(SetupError, match=r"already exists.*--force"):
        init(options, ask=None, say=print, environ={})
    assert config.read_text() == "# the clinic's own\n"
    init(InitOptions(str(log), config, timezone="UTC", force=True), ask=None, say=print, environ={})
    assert 'date_order = "MDY"' in config.read_text()


def test_an_unknown_required_column_names_the_flag_to_pass(folder: Path) -> None:
    renamed = [{("Client" if k == "Patient" else k): v for k, v in row.items()} for row in US_LOG]
    log = make_log(folder / "log.xlsx", renamed)
    options = InitOptions(str(log), folder / "sheets_sync.toml", timezone="UTC")
    with pytest.raises(SetupError) as raised:
        init(options, ask=None, say=print, environ={})
    assert str(raised.value) == (
        "the log has no name column under a name sheets-sync knows (Name, Patient, Prospect, "
        'Patient name, Full name); other headers on row 1: "Client", "Referral". Pass '
        '--column name="Your header"'
    )
    given = InitOptions(
        str(log), folder / "sheets_sync.toml", timezone="UTC", columns={"name": "Client"}
    )
    init(given, ask=None, say=print, environ={})
    assert load_config(folder / "sheets_sync.toml").columns["name"] == ("Client",)


def test_ambiguous_dates_need_the_order_and_a_wrong_one_is_refused(folder: Path) -> None:
    log = make_log(folder / "log.xlsx", [{**US_LOG[0], "Last contact": "11/12/2026"}])
    path = folder / "sheets_sync.toml"
    with pytest.raises(SetupError, match="pass --date-order DMY or --date-order MDY"):
        init(InitOptions(str(log), path, timezone="UTC"), ask=None, say=print, environ={})
    init(
        InitOptions(str(log), path, timezone="UTC", date_order=DateOrder.DMY),
        ask=None,
        say=print,
        environ={},
    )
    assert load_config(path).clinic.date_order is DateOrder.DMY
    settled = make_log(folder / "settled.xlsx", US_LOG)
    wrong = InitOptions(str(settled), path, timezone="UTC", date_order=DateOrder.DMY, force=True)
    with pytest.raises(SetupError, match="D2 11/23/2026 cannot be read that way"):
        init(wrong, ask=None, say=print, environ={})


def test_questions_settle_what_the_log_does_not_tell(folder: Path) -> None:
    rows = [
        {"Client": "Ada Brook", "Owner": "Maria", "Consult date": "3/4/2026", "Deposit": 200},
    ]
    log = make_log(folder / "log.xlsx", rows)
    script = Script(["A", "value", "day first", "mdy", "", "US-NY", "boss@clinic.example"])
    init(
        InitOptions(str(log), folder / "sheets_sync.toml"),
        ask=script,
        say=print,
        environ={"TZ": "America/Chicago"},
    )
    text = (folder / "sheets_sync.toml").read_text()
    assert 'name = "Client"' in text
    assert 'value = "Deposit"' in text
    assert 'date_order = "MDY"' in text
    assert 'timezone = "America/Chicago"' in text
    assert 'holidays_country = "US-NY"' in text
    assert 'manager = "boss@clinic.example"' in text
    settings = load_config(folder / "sheets_sync.toml").rule_settings()
    assert not settings.is_open(date(2026, 11, 26))  # Thanksgiving in New York
    assert settings.is_open(date(2026, 11, 25))

    assert script.questions[0].startswith("Which column holds the name? (required)")
    assert script.questions[1] == (
        'Column D "Deposit": is it one of status, last touch, touches, booked on, snooze until,'
        " value, plan, procedure, phone, email, notes? (Enter if none)"
    )
    # "day first" is not one of the answers offered, so it is asked again
    assert script.questions[2] == script.questions[3]
    assert (
        script.questions[4] == "The clinic's time zone (like America/New_York) [America/Chicago]:"
    )


def test_a_holiday_region_that_does_not_exist_is_named_with_the_close_ones(
    folder: Path,
) -> None:
    log = make_log(folder / "log.xlsx", US_LOG)
    options = InitOptions(str(log), folder / "sheets_sync.toml", holidays_country="GB-EN")
    with pytest.raises(SetupError, match='did you mean "GB-ENG"'):
        init(options, ask=None, say=print, environ={"TZ": "Europe/London"})
    assert not (folder / "sheets_sync.toml").exists()


def test_without_a_staff_sheet_every_owner_gets_a_placeholder_that_check_flags(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = make_log(folder / "log.xlsx", US_LOG)
    config = folder / "sheets_sync.toml"
    argv = ["init", str(log), "--config", str(config), "--yes", "--timezone", "UTC"]
    assert main(argv) == 0
    shown = capsys.readouterr().out
    assert "Next steps:" in shown
    assert "1. Fill in the email address of Maria Lopez and Dan Wu in [owners]" in shown
    assert main(["check", "--config", str(config)]) == 1
    problems = [line.strip() for line in capsys.readouterr().out.splitlines()][-3:]
    assert problems == [
        '[owners] "Maria Lopez" still has the placeholder address maria.lopez@fill-in.invalid: '
        "put in Maria Lopez's real email address",
        '[owners] "Dan Wu" still has the placeholder address dan.wu@fill-in.invalid: put in '
        "Dan Wu's real email address",
        "2 problems found.",
    ]
    assert main(argv) == 1
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize(
    "address",
    [
        "https://docs.google.com/spreadsheets/d/1AbCdEfGhIjKlMnOp_qrs-TUV/edit#gid=0",
        "1AbCdEfGhIjKlMnOp_qrs-TUV",
    ],
)
def test_a_google_sheet_gets_its_source_and_the_steps_to_a_key(folder: Path, address: str) -> None:
    options = InitOptions(
        address, folder / "sheets_sync.toml", timezone="UTC", date_order=DateOrder.MDY
    )
    steps = init(options, ask=None, say=print, environ={})
    config = load_config(folder / "sheets_sync.toml")
    assert config.source.kind == "gsheets"
    assert config.source.spreadsheet_id == "1AbCdEfGhIjKlMnOp_qrs-TUV"
    assert config.source.credentials == folder / "service-account.json"
    assert steps[0].startswith("1. Get a key for a service account")


def test_a_mistyped_workbook_or_column_flag_says_what_to_give(folder: Path) -> None:
    config = folder / "sheets_sync.toml"
    with pytest.raises(SetupError, match="Prospect log is not there: give the path"):
        init(InitOptions("Prospect log", config), ask=None, say=print, environ={})
    log = make_log(folder / "log.xlsx", US_LOG)
    bad = InitOptions(str(log), config, columns={"client": "Client"})
    with pytest.raises(SetupError, match=r"the fields are name, owner, consultation_date"):
        init(bad, ask=None, say=print, environ={})
    assert not config.exists()


def test_a_log_typed_both_ways_takes_the_given_order_and_says_what_check_will_flag(
    folder: Path,
) -> None:
    log = make_log(folder / "log.xlsx", [{**US_LOG[0], "Consult date": "23/10/2026"}])
    said: list[str] = []
    options = InitOptions(
        str(log), folder / "sheets_sync.toml", timezone="UTC", date_order=DateOrder.MDY
    )
    init(options, ask=None, say=said.append, environ={})
    assert (
        "Dates: the log holds dates typed both ways: C2 23/10/2026 can only be day first, "
        "D2 11/23/2026 only month first." in said
    )
    assert (
        "  dates typed the other way will be flagged CHECK DATA until they are retyped as MDY; "
        "`check` lists them" in said
    )
