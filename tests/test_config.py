from __future__ import annotations

from collections.abc import Mapping
from datetime import date, time
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sheets_sync.config import (
    Config,
    ConfigError,
    built_in_plans,
    config_path_from,
    load_config,
    parse_config,
)
from sheets_sync.core.plans import Plan, Repeat, Step
from sheets_sync.core.rule import Settings
from sheets_sync.core.values import DateOrder, Status, read_status
from sheets_sync.errors import SheetsSyncError
from sheets_sync.public_holidays import PublicHolidays

REPO = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO / "config"

MINIMAL: dict[str, object] = {"source": {"kind": "xlsx", "path": "log.xlsx"}}


def parse(**sections: object) -> Config:
    """A config from the minimal one plus `sections`, read as if from the sample's folder."""
    return parse_config({**MINIMAL, **sections}, base_dir=CONFIG_DIR)


def problems_of(**sections: object) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(**sections)
    return caught.value.problems


def write_config(folder: Path, text: str) -> Path:
    """`text` as sheets_sync.toml in `folder`, alone: the plans are built in."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "sheets_sync.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --- the shipped configuration -------------------------------------------------------------


def test_default_config_loads() -> None:
    config = load_config(CONFIG_DIR / "sheets_sync.toml")

    assert config.clinic.name == "Riverside Aesthetics"
    assert config.clinic.timezone == ZoneInfo("Europe/London")
    assert config.clinic.date_order is DateOrder.DMY
    assert config.clinic.open_days == frozenset(range(5))
    assert config.clinic.holidays == frozenset()
    assert config.clinic.public_holidays == PublicHolidays("GB", "ENG")
    assert config.clinic.currency == "GBP"
    assert config.source.kind == "xlsx"
    assert config.source.path == REPO / "demo" / "clinic_log.xlsx"
    assert (config.source.worksheet, config.source.staff_worksheet) == ("Prospects", "Staff")
    assert config.mail.mode == "outbox"
    assert config.mail.outbox == REPO / "demo" / "outbox"
    assert config.mail.sender == "Riverside Aesthetics <followups@riverside-aesthetics.example>"
    assert config.mail.manager == "Manager <manager@riverside-aesthetics.example>"
    assert config.mail.digest_time == time(7, 30)
    assert config.mail.smtp is None
    assert config.daemon.sync_every_minutes == 15
    assert config.daemon.state_dir == REPO / "demo" / "state"
    assert set(config.plans.plans) == {"standard", "long_term"}
    assert dict(config.columns) == {}
    assert dict(config.owners) == {}


def test_default_plans_are_those_of_the_spec() -> None:
    plans = load_config(CONFIG_DIR / "sheets_sync.toml").plans.plans
    first_seven = [
        (0, "Email", "Thank-you note, with information on the provider and procedure"),
        (2, "Call", "Follow-up call: answer questions, offer to book"),
        (7, "Email", "Testimonial or provider video"),
        (14, "Call", "Check-in call"),
        (30, "Email", "Invitation to an education event or seminar"),
        (60, "Call", "Check-in call"),
        (90, "Letter", "Letter with a smaller-investment offer and newsletter sign-up"),
    ]
    long_term_more = [
        (120, "Email", "Newsletter highlight with a personal note"),
        (180, "Call", "Six-month check-in"),
        (240, "Letter", "New treatment or equipment"),
        (300, "Email", "Testimonial"),
        (365, "Call", "Annual check-in"),
    ]

    def steps(rows: list[tuple[int, str, str]]) -> tuple[Step, ...]:
        return tuple(
            Step(n, day, channel, action) for n, (day, channel, action) in enumerate(rows, 1)
        )

    assert plans["standard"] == Plan("standard", steps(first_seven))
    assert plans["long_term"] == Plan(
        "long_term", steps(first_seven + long_term_more), Repeat(90, "Call", "Check-in call")
    )
    assert plans["standard"].step(7) is None
    assert plans["long_term"].step(12) == Step(13, 455, "Call", "Check-in call")
    assert plans["long_term"].step(13) == Step(14, 545, "Call", "Check-in call")


def test_rule_settings_carry_the_clinic_and_plans() -> None:
    config = parse(
        clinic={"open_days": ["Mon", "Sat"], "holidays": ["2027-01-01"], "date_order": "MDY"},
        plans={"long_term_min_value": 2500, "min_gap_days": 3},
    )
    settings = config.rule_settings()

    assert isinstance(settings, Settings)
    assert settings.plans is config.plans.plans
    assert (settings.default_plan, settings.long_term_plan) == ("standard", "long_term")
    assert settings.long_term_min_value == Decimal(2500)
    assert settings.min_gap_days == 3
    assert settings.open_days == frozenset({0, 5})
    assert settings.holidays == frozenset({date(2027, 1, 1)})
    assert settings.date_order is DateOrder.MDY


# --- every problem at once, with its location ----------------------------------------------


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        """
[clinic]
timezone = "Europe/Londn"

[source]
kind = "xlsx"
path = "log.xlsx"

[mail]
digest_time = "7h30"

[mail.smtp]
host = "smtp.example.com"
port = "abc"

[daemon]
sync_every_minutes = 0
""",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)

    error = caught.value
    assert error.problems == [
        '[clinic].timezone: unknown time zone "Europe/Londn" (did you mean "Europe/London"?)',
        '[mail].digest_time: expected a time of day like "07:30", got "7h30"',
        '[mail.smtp].port: expected an integer, got "abc"',
        "[daemon].sync_every_minutes: must be 1 to 1440, got 0",
    ]
    assert isinstance(error, SheetsSyncError)
    assert str(error).startswith(f"4 problems in {path}:\n")
    assert all(f"  - {problem}" in str(error) for problem in error.problems)


@pytest.mark.parametrize(
    ("sections", "problem"),
    [
        ({"sourc": {}}, 'top level: unknown key "sourc" (did you mean "source"?)'),
        ({"clinic": {"nmae": "x"}}, '[clinic]: unknown key "nmae" (did you mean "name"?)'),
        (
            {"source": {"kind": "xlsx", "path": "a.xlsx", "pth": "b.xlsx"}},
            '[source]: unknown key "pth" (did you mean "path"?)',
        ),
        ({"columns": {"nme": "Patient"}}, '[columns]: unknown key "nme" (did you mean "name"?)'),
        (
            {"plans": {"defualt": "standard"}},
            '[plans]: unknown key "defualt" (did you mean "default"?)',
        ),
        ({"mail": {"sender": "a@b.example"}}, '[mail]: unknown key "sender"'),
        (
            {"mail": {"smtp": {"host": "h", "tls": True}}},
            '[mail.smtp]: unknown key "tls"',
        ),
        ({"daemon": {"every": 5}}, '[daemon]: unknown key "every"'),
        (
            {"report": {"montly": False}},
            '[report]: unknown key "montly" (did you mean "monthly"?)',
        ),
        (
            {
                "plans": {
                    "standard": {"steps": [{"day": 0, "channel": "Call", "action": "a", "x": 1}]}
                }
            },
            '[plans.standard].steps[1]: unknown key "x"',
        ),
    ],
)
def test_unknown_keys_are_errors_with_their_location(
    sections: Mapping[str, object], problem: str
) -> None:
    assert problems_of(**sections) == [problem]


def test_a_password_in_the_config_is_refused_without_echoing_it() -> None:
    problems = problems_of(
        mail={"smtp": {"host": "smtp.example.com", "username": "u", "password": "hunter2"}}
    )

    assert len(problems) == 2
    assert problems[0].startswith("[mail.smtp].password: ")
    assert "password_env" in problems[0]
    assert problems[1] == "[mail.smtp].password_env: required when username is set"
    assert not any("hunter2" in problem for problem in problems)


def test_a_password_pasted_into_password_env_is_not_echoed() -> None:
    problems = problems_of(
        mail={"smtp": {"host": "h", "username": "u", "password_env": "s3cr et!"}}
    )

    assert problems == [
        "[mail.smtp].password_env: expected the name of an environment variable, like SMTP_PASSWORD"
    ]


def test_smtp_settings() -> None:
    smtp = parse(
        mail={
            "mode": "smtp",
            "smtp": {
                "host": "smtp.example.com",
                "security": "ssl",
                "username": "followups",
                "password_env": "SMTP_PASSWORD",
                "ca_file": "ca.pem",
                "timeout": 10,
            },
        }
    ).mail.smtp

    assert smtp is not None
    assert (smtp.host, smtp.port, smtp.security) == ("smtp.example.com", 465, "ssl")
    assert (smtp.username, smtp.password_env) == ("followups", "SMTP_PASSWORD")
    assert smtp.ca_file == CONFIG_DIR / "ca.pem"
    assert smtp.timeout == 10.0


def test_smtp_mode_needs_an_smtp_table_and_a_port_in_range() -> None:
    assert problems_of(mail={"mode": "smtp"}) == [
        '[mail].smtp: required when mode = "smtp": add a [mail.smtp] table'
    ]
    assert problems_of(mail={"smtp": {"host": "h", "port": 70000}}) == [
        "[mail.smtp].port: must be 1 to 65535, got 70000"
    ]


def test_source_needs_what_its_kind_needs() -> None:
    assert problems_of(source={"kind": "xlsx"}) == [
        '[source].path: missing; required when kind = "xlsx"'
    ]
    assert problems_of(source={"kind": "gsheets"}) == [
        '[source].spreadsheet_id: missing; required when kind = "gsheets"'
    ]
    assert problems_of(source={"kind": "xlsx", "path": "log.csv"}) == [
        '[source].path: expected a .xlsx or .xlsm file, got "log.csv"'
    ]
    assert problems_of(source={"kind": "csv", "path": "log.xlsx"}) == [
        '[source].kind: expected one of "xlsx", "gsheets", got "csv"'
    ]
    sheet = parse(source={"kind": "gsheets", "spreadsheet_id": "abc", "credentials": "sa.json"})
    assert sheet.source.spreadsheet_id == "abc"
    assert sheet.source.credentials == CONFIG_DIR / "sa.json"


def test_missing_file_and_bad_toml_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as missing:
        load_config(tmp_path / "nowhere.toml")
    assert missing.value.problems == ["file not found"]
    assert str(tmp_path / "nowhere.toml") in str(missing.value)

    path = write_config(tmp_path, '[clinic]\nname = "A"\ntimezone = \n')
    with pytest.raises(ConfigError) as broken:
        load_config(path)
    assert broken.value.problems[0].startswith("not valid TOML: ")
    assert "line 3" in broken.value.problems[0]


# --- values --------------------------------------------------------------------------------


def test_relative_paths_resolve_against_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "etc" / "clinic"
    write_config(
        folder,
        """
[source]
kind = "xlsx"
path = "../shared/log.XLSM"
credentials = "/secure/sa.json"

[mail]
outbox = "mail/out"

[daemon]
state_dir = "state"
""",
    )
    monkeypatch.chdir(tmp_path)  # a relative --config, and a working folder that is not its own

    config = load_config(Path("etc/clinic/sheets_sync.toml"))

    assert config.source.path == tmp_path / "etc" / "shared" / "log.XLSM"
    assert config.source.credentials == Path("/secure/sa.json")
    assert config.mail.outbox == folder / "mail" / "out"
    assert config.daemon.state_dir == folder / "state"


def test_default_folders_are_beside_the_config() -> None:
    config = parse()

    assert config.mail.outbox == CONFIG_DIR / "outbox"
    assert config.daemon.state_dir == CONFIG_DIR / "state"


@pytest.mark.parametrize(
    ("names", "days"),
    [
        (["Mon", "Tue", "Wed", "Thu", "Fri"], {0, 1, 2, 3, 4}),
        (["monday", "TUESDAY", " Sat ", "Sunday"], {0, 1, 5, 6}),
        (["Tues", "Thurs", "wed"], {1, 2, 3}),
        (["Fri", "Friday"], {4}),
    ],
)
def test_open_days_are_day_names(names: list[str], days: set[int]) -> None:
    assert parse(clinic={"open_days": names}).clinic.open_days == frozenset(days)


def test_open_days_that_are_not_day_names() -> None:
    assert problems_of(clinic={"open_days": ["Mon", "Mo", "Funday", 2]}) == [
        '[clinic].open_days: not day names: "Mo", "Funday", 2'
        ' (expected names like "Mon" or "Monday")'
    ]
    assert problems_of(clinic={"open_days": []}) == [
        "[clinic].open_days: the clinic must be open on at least one day"
    ]
    assert problems_of(clinic={"open_days": "Mon-Fri"}) == [
        '[clinic].open_days: expected a list of day names, got "Mon-Fri"'
    ]


@pytest.mark.parametrize(
    ("written", "region"),
    [
        ("US-NY", PublicHolidays("US", "NY")),
        ("gb-eng", PublicHolidays("GB", "ENG")),
        ("GB-England", PublicHolidays("GB", "ENG")),
        ("UK", PublicHolidays("GB")),
        ("USA", PublicHolidays("US")),
    ],
)
def test_holidays_country_is_a_country_code_and_an_optional_region(
    written: str, region: PublicHolidays
) -> None:
    assert parse(clinic={"holidays_country": written}).clinic.public_holidays == region


def test_an_unknown_country_or_region_is_named_with_the_close_ones() -> None:
    assert problems_of(clinic={"holidays_country": "Germany"}) == [
        '[clinic].holidays_country: no public holidays are known for the country "Germany" '
        '(did you mean "DE" (Germany), "GG" (Guernsey)?): give the country\'s two-letter code '
        'and, where holidays differ by region, the region after a hyphen, like "US", '
        '"US-NY" or "GB-ENG"'
    ]
    assert problems_of(clinic={"holidays_country": "GB-EN"}) == [
        '[clinic].holidays_country: GB (United Kingdom) has no region "EN" (did you mean '
        '"GB-ENG"?); its regions are ENG, NIR, SCT, WLS, or give "GB" alone for the holidays '
        "common to all of them"
    ]
    [problem] = problems_of(clinic={"holidays_country": "US-NYC"})
    assert problem.startswith(
        '[clinic].holidays_country: US (United States) has no region "NYC" '
        '(did you mean "US-NY", "US-NC"?); its regions are AK, AL, '
    )


def test_public_holidays_close_the_clinic_in_any_year_and_own_days_add_to_them() -> None:
    settings = parse(
        clinic={"holidays_country": "GB-ENG", "holidays": [date(2026, 12, 29)]}
    ).rule_settings()
    scotland = parse(clinic={"holidays_country": "GB-SCT"}).rule_settings()
    new_york = parse(clinic={"holidays_country": "US-NY"}).rule_settings()

    # Christmas, the Boxing Day substitute, and the clinic's own day after it.
    assert not any(settings.is_open(date(2026, 12, day)) for day in (25, 28, 29))
    assert settings.is_open(date(2026, 12, 30))
    # Far past the end of any typed list: Easter Monday 2061, Christmas 2099.
    assert not settings.is_open(date(2061, 4, 11))
    assert not settings.is_open(date(2099, 12, 25))
    # By region: 2 January is a bank holiday in Scotland, not in England.
    assert not scotland.is_open(date(2029, 1, 2))
    assert settings.is_open(date(2029, 1, 2))
    # Thanksgiving 2045; New Year's Day 2028 (a Saturday) observed on Friday 31 Dec 2027.
    assert not new_york.is_open(date(2045, 11, 23))
    assert not new_york.is_open(date(2027, 12, 31))
    assert new_york.is_open(date(2026, 12, 28))


def test_currency_is_an_iso_code() -> None:
    assert parse(clinic={"currency": "usd"}).clinic.currency == "USD"
    assert parse().clinic.currency is None
    assert problems_of(clinic={"currency": "$"}) == [
        '[clinic].currency: expected a three-letter currency code like "USD", got "$"'
    ]
    assert problems_of(clinic={"currency": "dollars"}) == [
        '[clinic].currency: expected a three-letter currency code like "USD", "GBP" or "EUR", '
        'got "dollars"'
    ]


def test_status_words_add_to_each_status() -> None:
    settings = parse(
        status={"booked": ["Paid deposit", "surgery-date set"], "lost": "went elsewhere"}
    ).rule_settings()

    assert read_status("paid deposit", settings.status_words) == (Status.WON, True)
    assert read_status("🎉 Surgery date set", settings.status_words) == (Status.WON, True)
    assert read_status("Went elsewhere - price", settings.status_words) == (Status.LOST, True)
    assert read_status("paid deposit") == (Status.ACTIVE, False)


def test_a_status_word_means_one_status() -> None:
    assert problems_of(
        status={"booked": ["Paid deposit"], "active": ["paid-deposit", "?"], "won": ["x"]}
    ) == [
        '[status].active: "?" has no letters or digits to match a status by',
        '[status].booked: "Paid deposit" is also under active: a status word can mean only one '
        "status; keep it under one of them",
        '[status]: unknown key "won"',
    ]


def test_holidays_are_toml_dates_or_iso_text() -> None:
    holidays = parse(clinic={"holidays": [date(2026, 12, 25), "2026-12-28"]}).clinic.holidays
    assert holidays == frozenset({date(2026, 12, 25), date(2026, 12, 28)})

    assert problems_of(clinic={"holidays": ["25/12/2026", "2026-02-30"]}) == [
        '[clinic].holidays: not dates: "25/12/2026", "2026-02-30" (write dates '
        "year-month-day, like 2026-12-25, without quotes)"
    ]


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ('"07:30"', time(7, 30)),
        ('"7:05"', time(7, 5)),
        ('"18:45:30"', time(18, 45, 30)),
        ("06:15:00", time(6, 15)),  # a TOML local time
    ],
)
def test_digest_time(tmp_path: Path, toml: str, expected: time) -> None:
    path = write_config(
        tmp_path, f'[source]\nkind = "xlsx"\npath = "a.xlsx"\n[mail]\ndigest_time = {toml}\n'
    )
    assert load_config(path).mail.digest_time == expected


@pytest.mark.parametrize("value", ["24:00", "7.30", "7:3", "noon", 730])
def test_digest_time_that_is_not_a_time(value: object) -> None:
    assert len(problems_of(mail={"digest_time": value})) == 1


def test_owners_and_columns() -> None:
    config = parse(
        owners={"Jane Smith": "jane@clinic.example", "Raj": "Raj Patel <raj@clinic.example>"},
        columns={"name": "Client", "owner": ["Clinician", "Handled by"]},
    )
    assert dict(config.owners) == {
        "Jane Smith": "jane@clinic.example",
        "Raj": "Raj Patel <raj@clinic.example>",
    }
    assert dict(config.columns) == {"name": ("Client",), "owner": ("Clinician", "Handled by")}

    assert problems_of(owners={"Jane Smith": "jane", "Raj": "raj@@clinic"}) == [
        '[owners]."Jane Smith": expected an email address like "name@clinic.example", got "jane"',
        '[owners].Raj: expected an email address like "name@clinic.example", got "raj@@clinic"',
    ]


# --- plans ---------------------------------------------------------------------------------

ONE_CALL = {"steps": [{"day": 0, "channel": "Call", "action": "Welcome call"}]}


def test_inline_plans_override_the_file_and_add_new_ones() -> None:
    plans = parse(
        plans={
            "default": "vip",
            "long_term_min_value": "2500",
            "standard": ONE_CALL,
            "long_term": {
                **ONE_CALL,
                "repeat": {"every_days": 30, "channel": "Call", "action": "Hi"},
            },
            "vip": ONE_CALL,
        }
    ).plans

    assert plans.default_plan == "vip"
    assert plans.long_term_plan == "long_term"
    assert plans.long_term_min_value == Decimal(2500)
    assert plans.plans["standard"] == Plan("standard", (Step(1, 0, "Call", "Welcome call"),))
    assert plans.plans["long_term"].repeat == Repeat(30, "Call", "Hi")
    assert plans.plans["long_term"].step(1) == Step(2, 30, "Call", "Hi")
    assert plans.plans["vip"].length == 1


def test_plans_from_another_file(tmp_path: Path) -> None:
    (tmp_path / "cadence.toml").write_text(
        '[quick]\nsteps = [{ day = 0, channel = "Call", action = "Call" }]\n', encoding="utf-8"
    )
    plans = parse(
        plans={"file": str(tmp_path / "cadence.toml"), "default": "quick", "long_term": "quick"}
    ).plans

    assert set(plans.plans) == {"standard", "long_term", "quick"}


def test_a_config_copied_alone_into_a_folder_has_the_built_in_plans(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[source]\nkind = "xlsx"\npath = "log.xlsx"\n')

    plans = load_config(path).plans.plans

    assert plans == built_in_plans()
    assert set(plans) == {"standard", "long_term"}
    assert plans["standard"].step(1) == Step(
        2, 2, "Call", "Follow-up call: answer questions, offer to book"
    )


def test_a_plans_file_changes_only_the_plans_it_names(tmp_path: Path) -> None:
    (tmp_path / "our_plans.toml").write_text(
        '[standard]\nsteps = [{ day = 0, channel = "Call", action = "Welcome call" }]\n',
        encoding="utf-8",
    )
    plans = parse(plans={"file": str(tmp_path / "our_plans.toml")}).plans.plans

    assert plans["standard"] == Plan("standard", (Step(1, 0, "Call", "Welcome call"),))
    assert plans["long_term"] == built_in_plans()["long_term"]


def test_plan_problems_name_the_file_plan_and_step(tmp_path: Path) -> None:
    (tmp_path / "plans.toml").write_text(
        """
[standard]
steps = [
  { day = 0, channel = "Email", action = "Hello" },
  { day = 7, channel = "Call", action = "Call" },
  { day = 7, channel = "", action = "Again" },
  { day = -1, channel = "Letter", action = "Letter" },
  { day = 2.5, channel = "Letter" },
]
repeat = { every_days = 0, channel = "Call", action = "Check-in" }

[long_term]
steps = []
""",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        parse_config({**MINIMAL, "plans": {"file": "plans.toml"}}, base_dir=tmp_path)

    assert caught.value.problems == [
        "plans.toml: [standard].steps[3].day: must be after the day of the step before (7), got 7",
        "plans.toml: [standard].steps[3].channel: must not be empty",
        "plans.toml: [standard].steps[4].day: must be 0 to 3650, got -1",
        "plans.toml: [standard].steps[5].day: expected an integer, got 2.5",
        "plans.toml: [standard].steps[5].action: missing",
        "plans.toml: [standard].repeat.every_days: must be 1 to 3650, got 0",
        "plans.toml: [long_term].steps: must not be empty",
    ]


def test_the_default_and_long_term_plans_must_exist(tmp_path: Path) -> None:
    assert problems_of(plans={"default": "standrd", "long_term": "vip"}) == [
        '[plans].default: no plan named "standrd" (did you mean "standard"?)',
        '[plans].long_term: no plan named "vip"',
    ]
    assert problems_of(plans={"file": str(tmp_path / "none.toml")}) == [
        f"[plans].file: {tmp_path / 'none.toml'}: file not found"
    ]


# --- which file ----------------------------------------------------------------------------


def test_config_path_from_argument_environment_or_default() -> None:
    environ = {"SHEETS_SYNC_CONFIG": "/etc/sheets-sync/clinic.toml"}

    assert config_path_from("mine.toml", environ) == Path("mine.toml")
    assert config_path_from(None, environ) == Path("/etc/sheets-sync/clinic.toml")
    assert config_path_from(None, {}) == Path("config/sheets_sync.toml")
    assert config_path_from(None, {"SHEETS_SYNC_CONFIG": ""}) == Path("config/sheets_sync.toml")


def test_max_prospect_loss_is_a_share() -> None:
    assert parse().daemon.max_prospect_loss == 0.5
    assert parse(daemon={"max_prospect_loss": 0.8}).daemon.max_prospect_loss == 0.8
    [problem] = problems_of(daemon={"max_prospect_loss": 50})
    assert problem.startswith("[daemon].max_prospect_loss: expected a share between 0 and 1")


def test_keep_backups_is_a_positive_whole_number() -> None:
    assert parse().daemon.keep_backups == 10
    assert parse(daemon={"keep_backups": 3}).daemon.keep_backups == 3
    [problem] = problems_of(daemon={"keep_backups": 0})
    assert problem.startswith("[daemon].keep_backups:")


# --- [report] ------------------------------------------------------------------------------


def test_the_monthly_report_is_on_unless_turned_off() -> None:
    assert parse().report.monthly is True
    assert parse(report={"monthly": False}).report.monthly is False
    assert load_config(CONFIG_DIR / "sheets_sync.toml").report.monthly is True


def test_monthly_must_be_true_or_false() -> None:
    assert problems_of(report={"monthly": "no"}) == [
        '[report].monthly: expected true or false, got "no"'
    ]
