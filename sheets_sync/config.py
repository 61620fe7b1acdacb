"""The configuration (SPEC §6): TOML in, frozen dataclasses out, every problem listed at once.

Each kind of value has one reader (`_text`, `_integer`, `_path`, ...). A `_Table` applies
them key by key, keeps a bad value's problem with its location
(`[mail.smtp].port: expected an integer, got "abc"`) and carries on, and reports the keys
nobody asked for as unknown. Only when the whole file has been read is one `ConfigError`
raised, listing everything.
"""

from __future__ import annotations

import codecs
import difflib
import functools
import ipaddress
import json
import os
import re
import stat
import tomllib
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from email.utils import parseaddr
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Literal, TypeAlias, TypeVar, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sheets_sync.core.columns import MANAGED_COLUMNS, STAFF_COLUMNS
from sheets_sync.core.digest import DIGEST_MAX_ROWS
from sheets_sync.core.outcomes import KEYS, NO_OWN_WORDS, OutcomeWords, typed_key
from sheets_sync.core.plans import Plan, Repeat, Step
from sheets_sync.core.rule import Settings
from sheets_sync.core.values import (
    DateOrder,
    Status,
    StatusWords,
    normalise_header,
    status_word,
)
from sheets_sync.errors import SheetsSyncError
from sheets_sync.public_holidays import PublicHolidays, public_holidays

DEFAULT_CONFIG_PATH = Path("config/sheets_sync.toml")
CONFIG_ENV_VAR = "SHEETS_SYNC_CONFIG"

# The log's fields (SPEC §2) that `[columns]` may give extra header names for.
FIELDS = (
    "name",
    "owner",
    "consultation_date",
    "status",
    "last_touch",
    "touches",
    "snooze_until",
    "value",
    "plan",
    "procedure",
    "phone",
    "email",
    "notes",
    "next_touch",
    "next_action",
    "follow_up_status",
    "sync_id",
)

SourceKind: TypeAlias = Literal["xlsx", "gsheets"]
# How sheets-sync signs in to Google: a service-account key, or a person's consent given once
# with `sheets-sync google-login` (for organisations that forbid service-account keys).
GoogleAuth: TypeAlias = Literal["service-account", "user"]
MailMode: TypeAlias = Literal["outbox", "smtp"]
Security: TypeAlias = Literal["starttls", "ssl", "none"]
Detail: TypeAlias = Literal["full", "minimal"]


class ConfigError(SheetsSyncError):
    """The configuration cannot be used; `problems` lists every reason, each with its location."""

    def __init__(self, problems: list[str], *, path: Path | None = None) -> None:
        super().__init__(problems)
        self.problems = list(problems)
        self.path = path

    def lines(self) -> list[str]:
        """The message for people, a line each: how many problems and where, then each one."""
        count = "1 problem" if len(self.problems) == 1 else f"{len(self.problems)} problems"
        where = str(self.path) if self.path is not None else "the configuration"
        return [f"{count} in {where}:", *(f"  - {p}" for p in self.problems)]

    def __str__(self) -> str:
        return "\n".join(self.lines())


@dataclass(frozen=True)
class ClinicConfig:
    name: str = "Our clinic"
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/London"))
    date_order: DateOrder = Settings.date_order
    open_days: frozenset[int] = Settings.open_days  # date.weekday(): Monday is 0
    # The region's public holidays (`holidays_country = "US-NY"`), for any year; None: none.
    public_holidays: PublicHolidays | None = None
    holidays: frozenset[date] = Settings.holidays  # the clinic's own closed days
    # The ISO code of the currency values are in ("USD"), shown with them in digests; None:
    # values are shown as plain numbers.
    currency: str | None = None


@dataclass(frozen=True)
class SourceConfig:
    kind: SourceKind
    path: Path | None = None  # xlsx: the workbook
    spreadsheet_id: str | None = None  # gsheets
    worksheet: str = "Prospects"
    staff_worksheet: str = "Staff"
    # The service-account key; with auth = "user", the OAuth client file (Desktop app).
    credentials: Path | None = None
    auth: GoogleAuth = "service-account"


@dataclass(frozen=True)
class PlansConfig:
    # The defaults are the rule's own (core.rule.Settings): one place says what they are.
    plans: Mapping[str, Plan]
    default_plan: str = Settings.default_plan
    long_term_plan: str = Settings.long_term_plan
    long_term_min_value: Decimal = Settings.long_term_min_value
    min_gap_days: int = Settings.min_gap_days


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 587
    security: Security = "starttls"
    username: str | None = None
    # The NAME of the environment variable that holds the password, never the password.
    password_env: str | None = None
    ca_file: Path | None = None
    timeout: float = 30.0
    # The clinic's own relay that may take mail in plain text (security = "none"): named
    # again, so that changing `host` to a server elsewhere never keeps the permission.
    allow_plain_text_to: str | None = None


@dataclass(frozen=True)
class MailConfig:
    outbox: Path
    mode: MailMode = "outbox"
    sender: str = "sheets-sync@localhost"
    manager: str | None = None
    digest_time: time = time(7, 30)
    # Digests not delivered by then (a mail server down all morning) are given up for the day;
    # by default four hours after digest_time.
    digest_cutoff: time = time(11, 30)
    # "minimal": initials and row links only, for practices that keep patient details out of
    # email.
    detail: Detail = "full"
    # At most this many prospects in one message, the most urgent first; the rest are counted.
    digest_max_rows: int = DIGEST_MAX_ROWS
    smtp: SmtpConfig | None = None


@dataclass(frozen=True)
class DaemonConfig:
    state_dir: Path
    sync_every_minutes: int = 15
    # Syncing failed for longer than this: the manager gets one alert (and one on recovery).
    alert_after_hours: float = 4.0
    # A log that suddenly lost more than this share of its prospects is not written to.
    max_prospect_loss: float = 0.5
    # How many earlier versions of the workbook to keep in <state_dir>/backups.
    keep_backups: int = 10


@dataclass(frozen=True)
class ReportConfig:
    # The manager gets last month's report (SPEC §10) on the first open day of each month.
    monthly: bool = True


@dataclass(frozen=True)
class Config:
    clinic: ClinicConfig
    source: SourceConfig
    columns: Mapping[str, tuple[str, ...]]  # field -> extra header names
    owners: Mapping[str, str]  # owner name -> email address
    plans: PlansConfig
    status: StatusWords  # the clinic's own status words, on top of the built-in ones
    mail: MailConfig
    daemon: DaemonConfig
    # The clinic's own words for typed outcomes (SPEC §8), on top of the built-in ones.
    outcomes: OutcomeWords = NO_OWN_WORDS
    report: ReportConfig = ReportConfig()
    # The group whose service runs this clinic (SPEC §11); "" alone. A group's messages name
    # their clinic in the subject: one person may get a digest from each of two clinics.
    group: str = ""

    def rule_settings(self) -> Settings:
        """What the follow-up rule (SPEC §3) needs from this configuration."""
        return Settings(
            plans=self.plans.plans,
            default_plan=self.plans.default_plan,
            long_term_plan=self.plans.long_term_plan,
            long_term_min_value=self.plans.long_term_min_value,
            min_gap_days=self.plans.min_gap_days,
            open_days=self.clinic.open_days,
            holidays=self.clinic.holidays,
            public_holidays=self.clinic.public_holidays or frozenset(),
            date_order=self.clinic.date_order,
            status_words=self.status,
        )


def config_path_from(arg: str | None, environ: Mapping[str, str]) -> Path:
    """The `--config` argument, else `SHEETS_SYNC_CONFIG`, else `config/sheets_sync.toml`."""
    return Path(arg or environ.get(CONFIG_ENV_VAR) or DEFAULT_CONFIG_PATH)


def load_config(path: Path) -> Config:
    """Read and validate the config file; relative paths in it are taken from its folder."""
    data = read_config_file(path)
    try:
        return parse_config(data, base_dir=path.absolute().parent)
    except ConfigError as exc:
        raise ConfigError(exc.problems, path=path) from None


def read_config_file(path: Path) -> dict[str, object]:
    """A config file's TOML, unchecked; a `ConfigError` when it cannot be read as TOML."""
    try:
        return _read_toml(path)
    except _BadValueError as exc:
        raise ConfigError([str(exc)], path=path) from None


def parse_config(data: Mapping[str, object], *, base_dir: Path) -> Config:
    """Validate parsed TOML whole: one `ConfigError` lists every problem, or a `Config`."""
    problems: list[str] = []
    root = _Table(data, "", problems)
    status = _status(root.table("status"))
    config = Config(
        clinic=_clinic(root.table("clinic")),
        source=_source(root.table("source"), base_dir),
        columns=_columns(root.table("columns")),
        owners=_owners(root.table("owners")),
        plans=_plans(root.table("plans"), base_dir, problems),
        status=status,
        mail=_mail(root.table("mail"), base_dir),
        daemon=_daemon(root.table("daemon"), base_dir),
        outcomes=_outcomes(root.table("outcomes"), status),
        report=_report(root.table("report")),
    )
    root.finish()
    problems += _shared_folders(config)
    if problems:
        raise ConfigError(problems)
    return config


def _shared_folders(config: Config) -> list[str]:
    """The state folder keeps sheets-sync's own files and prunes old backups in it; the outbox
    gets a file per email. Neither may hold the other, nor the state folder the workbook."""
    state, outbox, workbook = config.daemon.state_dir, config.mail.outbox, config.source.path
    apart = "give each its own folder"
    if _within(state, outbox):
        same = "the same folder as" if _within(outbox, state) else "inside"
        return [f"[daemon].state_dir: {state} is {same} [mail].outbox: {apart}"]
    problems = []
    if _within(outbox, state):
        problems.append(f"[mail].outbox: {outbox} is inside [daemon].state_dir: {apart}")
    if config.source.kind == "xlsx" and workbook is not None and _within(workbook, state):
        problems.append(
            f"[daemon].state_dir: {state} holds the workbook {workbook} ([source].path), and "
            "sheets-sync keeps its own files and prunes old backups there: give the state "
            'its own folder, like state_dir = "state"'
        )
    return problems


def _within(path: Path, folder: Path) -> bool:
    """Whether `path` is `folder` or inside it, once links are followed."""
    inner, outer = (Path(os.path.normcase(os.path.realpath(p))) for p in (path, folder))
    return inner == outer or outer in inner.parents


# --- the sections --------------------------------------------------------------------------


def _clinic(t: _Table) -> ClinicConfig:
    defaults = ClinicConfig()
    clinic = ClinicConfig(
        name=t.get("name", _text, defaults.name),
        timezone=t.get("timezone", _timezone, defaults.timezone),
        date_order=DateOrder(t.get("date_order", _choice("DMY", "MDY"), defaults.date_order.value)),
        open_days=t.get("open_days", _weekdays, defaults.open_days),
        public_holidays=t.get("holidays_country", _holidays_country, defaults.public_holidays),
        holidays=t.get("holidays", _dates, defaults.holidays),
        currency=t.get("currency", _currency, defaults.currency),
    )
    if closed := _longest_closure(clinic.open_days, clinic.holidays):
        first, last = closed
        t.problem(
            "holidays",
            f"the clinic would be closed every day from {first} to {last}: follow-ups need an "
            "open day within a year; remove holidays from that stretch",
        )
    t.finish()
    return clinic


def _longest_closure(
    open_days: frozenset[int], holidays: frozenset[date]
) -> tuple[date, date] | None:
    """The first stretch of a year or more with no open day, as (first, last) closed day."""
    first = last = None
    for day in sorted(d for d in holidays if d.weekday() in open_days):
        if first is None or last is None or _next_open_weekday(last, open_days) != day:
            first = day
        last = day
        if (last - first).days >= 365:
            return first, last
    return None


def _next_open_weekday(day: date, open_days: frozenset[int]) -> date:
    day += timedelta(days=1)
    while day.weekday() not in open_days:
        day += timedelta(days=1)
    return day


# The keys of [status], each a status the rule knows: booked is a won prospect.
_STATUS_KEYS = {
    "active": Status.ACTIVE,
    "booked": Status.WON,
    "lost": Status.LOST,
    "opted_out": Status.OPTED_OUT,
    "deceased": Status.DECEASED,
}


def _status(t: _Table) -> StatusWords:
    """The clinic's own words for each status; one word may mean only one status."""
    words: dict[str, str] = {}  # word, as looked up -> the key it is given under
    for key in _STATUS_KEYS:
        for text in t.get(key, _words, ()):
            word = status_word(text)
            if not word:
                t.problem(key, f"{_show(text)} has no letters or digits to match a status by")
            elif words.setdefault(word, key) != key:
                t.problem(
                    key,
                    f"{_show(text)} is also under {words[word]}: a status word can mean only "
                    "one status; keep it under one of them",
                )
    t.finish()
    return StatusWords(tuple((word, _STATUS_KEYS[key]) for word, key in words.items()))


def _outcomes(t: _Table, status: StatusWords) -> OutcomeWords:
    """The clinic's own words for each outcome (`called = ["rang", "phoned"]`); one word means
    one outcome, and no word may already be a status or another outcome's built-in word."""
    built_in = NO_OWN_WORDS.by_word()
    words: dict[str, str] = {}
    for key in KEYS:
        for text in t.get(key, _words, ()):
            word = typed_key(text)
            if not word:
                t.problem(key, f"{_show(text)} is empty")
            elif built_in.get(word, key) != key or words.setdefault(word, key) != key:
                t.problem(
                    key,
                    f"{_show(text)} already means {built_in.get(word) or words[word]}: a word"
                    " can mean only one outcome; keep it under one of them",
                )
            elif status.status_of(status_word(text)) not in (None, Status.ACTIVE):
                t.problem(
                    key,
                    f"{_show(text)} is a status word, which a typed outcome reads as that"
                    " status; choose another word",
                )
    t.finish()
    return OutcomeWords(tuple(words.items()))


def _source(t: _Table, base: Path) -> SourceConfig:
    defaults = SourceConfig(kind="xlsx")
    kind = cast(SourceKind, t.need("kind", _choice("xlsx", "gsheets"), defaults.kind))
    workbook = _path(base, suffixes=(".xlsx", ".xlsm"))
    source = SourceConfig(
        kind=kind,
        path=t.need("path", workbook, None, when='kind = "xlsx"')
        if kind == "xlsx"
        else t.get("path", workbook, None),
        spreadsheet_id=t.need("spreadsheet_id", _spreadsheet_id, None, when='kind = "gsheets"')
        if kind == "gsheets"
        else t.get("spreadsheet_id", _spreadsheet_id, None),
        worksheet=t.get("worksheet", _text, defaults.worksheet),
        staff_worksheet=t.get("staff_worksheet", _text, defaults.staff_worksheet),
        auth=cast(GoogleAuth, t.get("auth", _choice("service-account", "user"), defaults.auth)),
    )
    credentials = (
        t.need("credentials", _path(base), None, when='auth = "user"')
        if source.auth == "user"
        else t.get("credentials", _path(base), None)
    )
    google_key = credentials if kind == "gsheets" else None
    if google_key and (problem := credentials_problem(google_key, source.auth)):
        t.problem("credentials", problem)
    t.finish()
    return replace(source, credentials=credentials)


_KEY_STEPS = (
    "Google Cloud console > IAM & Admin > Service accounts > the account > Keys > Add key > "
    "Create new key > JSON"
)
_CLIENT_STEPS = (
    "Google Cloud console > APIs & Services > Credentials > Create credentials > OAuth client "
    "ID, type Desktop app, then Download JSON"
)


def credentials_problem(path: Path, auth: GoogleAuth) -> str | None:
    """What is wrong with the kind of file `path` is for this way of signing in: the three
    JSON files Google hands out look alike. None when it is the right kind, or when it cannot
    be read as JSON (the Google backend then says why)."""
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict):
        return None
    client = next((k for k in ("installed", "web") if isinstance(info.get(k), dict)), None)
    kind = info.get("type")
    if auth == "user":
        if client == "installed":
            return None
        if client == "web":
            return (
                f"{path} is the OAuth client of a web application; signing in from this PC "
                f"needs one of type Desktop app ({_CLIENT_STEPS})"
            )
        if kind == "service_account":
            return (
                f'{path} is a service-account key: remove auth = "user" to sign in with it, '
                f"or set credentials to an OAuth client file ({_CLIENT_STEPS})"
            )
        return f"{path} is not an OAuth client file ({_CLIENT_STEPS})"
    if client is not None:
        return (
            f"{path} is an OAuth client file, not a service-account key: to sign in as a "
            'person with it, set auth = "user" in [source] and run `sheets-sync '
            f"google-login`; or download a key for the service account ({_KEY_STEPS})"
        )
    if kind == "authorized_user" or "refresh_token" in info:
        return (
            f"{path} is a person's saved sign-in (as gcloud writes it), not a service-account "
            f"key: download a key for the service account ({_KEY_STEPS}), or sign in with "
            'sheets-sync itself: auth = "user", credentials = an OAuth client file of type '
            "Desktop app, then `sheets-sync google-login`"
        )
    return None


def _columns(t: _Table) -> Mapping[str, tuple[str, ...]]:
    columns = {name: names for name in FIELDS if (names := t.get(name, _names, ()))}
    for key in t:
        if key not in FIELDS and (hint := _header_as_key(key)):
            t.mark(key)
            t.problem(None, f"unknown key {_show(key)} {hint}")
    t.finish()
    return MappingProxyType(columns)


def _header_as_key(key: str) -> str:
    """A hint for a `[columns]` key that is a header, not a field (`quote = [...]`, `Consult
    = [...]`): which field it names, and how the table is written. "" when the key is no
    header sheets-sync knows, nor close to one (a misspelt field's name gets the plain hint)."""
    fields = {
        normalise_header(name): field
        for field, names in {**STAFF_COLUMNS, **MANAGED_COLUMNS}.items()
        for name in names
    }
    header = normalise_header(key)
    if header in fields:
        field = fields[header]
        return (
            f"(did you mean {_show(field)}? A column headed {_show(key)} is already read as "
            "the field " + field + "; under [columns] each key is a field and its value the "
            f'headers it has in your log, e.g. {field} = ["Our header"])'
        )
    close = difflib.get_close_matches(header, fields, n=1, cutoff=0.75)
    if not close or difflib.get_close_matches(key, FIELDS, n=1):
        return ""  # a misspelt field: the plain did-you-mean says it
    field = fields[close[0]]
    return (
        f"(did you mean {_show(field)}? Under [columns] each key is a field and its value the "
        f"headers it has in your log: {field} = [{_show(key)}])"
    )


def _owners(t: _Table) -> Mapping[str, str]:
    owners = {name: t.get(name, _email, "") for name in t}
    return MappingProxyType(owners)


def _plans(t: _Table, base: Path, problems: list[str]) -> PlansConfig:
    defaults = PlansConfig(plans={})
    # Every table in [plans] is a plan, also one named like a setting (`[plans.long_term]`).
    inline = t.take_tables()
    before = len(problems)
    plans: dict[str, Plan] | None = dict(built_in_plans())
    # A file of plans, like `[plans.<name>]`, replaces the built-in plan of each name or adds one.
    file = t.get("file", _path(base), None)
    if file is not None and len(problems) == before:
        changed = _plans_file(file, t.at("file"), problems)
        plans = None if changed is None else {**built_in_plans(), **changed}
    for name, value in inline:
        plan = _plan(name, _Table(value, f"[plans.{_key(name)}]", problems))
        if plans is not None:
            plans[name] = plan
    config = PlansConfig(
        plans=MappingProxyType(plans or {}),
        default_plan=t.get("default", _text, defaults.default_plan),
        long_term_plan=t.get("long_term", _text, defaults.long_term_plan),
        long_term_min_value=t.get("long_term_min_value", _amount, defaults.long_term_min_value),
        min_gap_days=t.get("min_gap_days", _integer(0, 365), defaults.min_gap_days),
    )
    if plans is not None:
        for key, name in (("default", config.default_plan), ("long_term", config.long_term_plan)):
            if name not in plans:
                t.problem(key, f"no plan named {_show(name)}{_did_you_mean(name, plans)}")
    t.finish()
    return config


@functools.cache
def built_in_plans() -> Mapping[str, Plan]:
    """The plans shipped in the package (sheets_sync/plans.toml), so that a config copied
    anywhere works without a plans file of its own and needs one only to change them."""
    raw = resources.files("sheets_sync").joinpath("plans.toml").read_bytes()
    problems: list[str] = []
    file = _Table(_parse_toml(raw), "", problems)
    plans = {name: _plan(name, file.table(name, f"plans.toml: [{name}]")) for name in file}
    if problems:
        raise RuntimeError(f"the built-in plans are broken: {problems}")
    return MappingProxyType(plans)


def _plans_file(path: Path, where: str, problems: list[str]) -> dict[str, Plan] | None:
    """The plans in `path`, or None when it cannot be read at all (that is one problem)."""
    try:
        data = _read_toml(path)
    except _BadValueError as exc:
        problems.append(f"{where}: {path}: {exc}")
        return None
    file = _Table(data, "", problems)
    return {name: _plan(name, file.table(name, f"{path.name}: [{_key(name)}]")) for name in data}


def _plan(name: str, t: _Table) -> Plan:
    steps: list[Step] = []
    last_day: int | None = None
    for number, item in enumerate(t.need("steps", _non_empty_list, []), start=1):
        s = _Table(item, f"{t.where}.steps[{number}]", t.problems)
        day = s.need("day", _integer(0, _LONGEST_PLAN_DAYS), None)
        if day is not None and last_day is not None and day <= last_day:
            s.problem("day", f"must be after the day of the step before ({last_day}), got {day}")
        last_day = day if day is not None else last_day
        channel, action = s.need("channel", _text, ""), s.need("action", _text, "")
        steps.append(Step(number, day or 0, channel, action))
        s.finish()
    repeat = None
    if "repeat" in t:
        r = t.table("repeat")
        repeat = Repeat(
            every_days=r.need("every_days", _integer(1, _LONGEST_PLAN_DAYS), 1),
            channel=r.need("channel", _text, ""),
            action=r.need("action", _text, ""),
        )
        r.finish()
    t.finish()
    return Plan(name, tuple(steps), repeat)


# Ten years: a plan step or repeat beyond it is a typo, and would run dates off the calendar.
_LONGEST_PLAN_DAYS = 3650

_DEFAULT_PORTS: Mapping[str, int] = {"starttls": 587, "ssl": 465, "none": 25}


def _mail(t: _Table, base: Path) -> MailConfig:
    defaults = MailConfig(outbox=base / "outbox")
    mode = cast(MailMode, t.get("mode", _choice("outbox", "smtp"), defaults.mode))
    if mode == "smtp" and "smtp" not in t:
        t.problem("smtp", 'required when mode = "smtp": add a [mail.smtp] table')
    digest_time = t.get("digest_time", _time_of_day, defaults.digest_time)
    # Four hours later, but never past midnight: the cut-off is a time of the same day.
    later = datetime.combine(date.min, digest_time) + timedelta(hours=4)
    usual_cutoff = later.time() if later.date() == date.min else time.max
    mail = MailConfig(
        mode=mode,
        outbox=t.get("outbox", _path(base), defaults.outbox),
        sender=t.get("from", _email, defaults.sender),
        manager=t.get("manager", _email, defaults.manager),
        digest_time=digest_time,
        digest_cutoff=t.get("digest_cutoff", _time_of_day, usual_cutoff),
        detail=cast(Detail, t.get("detail", _choice("full", "minimal"), defaults.detail)),
        digest_max_rows=t.get("digest_max_rows", _integer(1, 1000), defaults.digest_max_rows),
        smtp=_smtp(t.table("smtp", "[mail.smtp]"), base) if "smtp" in t else None,
    )
    if mail.digest_cutoff <= mail.digest_time:
        key = "digest_cutoff" if "digest_cutoff" in t else "digest_time"
        t.problem(key, "must leave time to send the digests: digest_cutoff later than digest_time")
    t.finish()
    return mail


def _smtp(t: _Table, base: Path) -> SmtpConfig:
    if "password" in t:
        t.mark("password")
        t.problem(
            "password",
            "passwords do not belong in the config file: put it in an environment variable"
            " and name that variable in password_env",
        )
    defaults = SmtpConfig(host="")
    security = cast(
        Security, t.get("security", _choice("starttls", "ssl", "none"), defaults.security)
    )
    smtp = SmtpConfig(
        host=t.need("host", _text, ""),
        port=t.get("port", _integer(1, 65535), _DEFAULT_PORTS[security]),
        security=security,
        username=t.get("username", _text, None),
        password_env=t.get("password_env", _env_name, None),
        ca_file=t.get("ca_file", _path(base), None),
        timeout=t.get("timeout", _positive("seconds", 300), defaults.timeout),
        allow_plain_text_to=t.get("allow_plain_text_to", _text, None),
    )
    _check_plain_text(t, smtp)
    # Logging in takes both; one without the other is a half-finished edit.
    for key, other in (("username", "password_env"), ("password_env", "username")):
        if key in t and other not in t:
            t.problem(other, f"required when {key} is set")
    t.finish()
    return smtp


def _check_plain_text(t: _Table, smtp: SmtpConfig) -> None:
    """Plain text (security = "none") goes to a server on this computer, or to the one relay
    the config names in allow_plain_text_to; never with a login, whose password anyone on the
    network could read."""
    allowed = smtp.allow_plain_text_to
    if allowed is not None and allowed.casefold() != smtp.host.casefold():
        t.problem(
            "allow_plain_text_to",
            f'names "{allowed}", but host is "{smtp.host}": it allows plain text only to the'
            " server it names",
        )
    if smtp.security != "none" or _is_loopback(smtp.host):
        return
    if allowed is None:
        t.problem(
            "security",
            '"none" sends patient details in the clear: it is allowed to a server on this'
            " computer (localhost), or to the clinic's own mail relay when you name it again in"
            f' allow_plain_text_to = "{smtp.host}"; otherwise use starttls or ssl',
        )
    elif "username" in t:
        t.problem(
            "username",
            'a login with security = "none" sends the password in the clear to'
            f" {smtp.host}: remove username and password_env (a relay for the clinic's own"
            " network takes mail without one), or use starttls or ssl",
        )


def _is_loopback(host: str) -> bool:
    if host.casefold() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _daemon(t: _Table, base: Path) -> DaemonConfig:
    defaults = DaemonConfig(state_dir=base / "state")
    daemon = DaemonConfig(
        sync_every_minutes=t.get(
            "sync_every_minutes", _integer(1, 24 * 60), defaults.sync_every_minutes
        ),
        state_dir=t.get("state_dir", _path(base), defaults.state_dir),
        alert_after_hours=t.get(
            "alert_after_hours", _positive("hours", 30 * 24), defaults.alert_after_hours
        ),
        max_prospect_loss=t.get("max_prospect_loss", _share, defaults.max_prospect_loss),
        keep_backups=t.get("keep_backups", _integer(1, 1000), defaults.keep_backups),
    )
    t.finish()
    return daemon


def _report(t: _Table) -> ReportConfig:
    report = ReportConfig(monthly=t.get("monthly", _boolean, ReportConfig.monthly))
    t.finish()
    return report


# --- tables and locations ------------------------------------------------------------------

_T = TypeVar("_T")
_D = TypeVar("_D")
_Kind: TypeAlias = Callable[[object], _T]  # reads one value, or raises _BadValueError


class _BadValueError(ValueError):
    """One value is not what its key needs; the message says why, for people."""


class _Table:
    """One TOML table being read: problems go to `problems` with their location, and the
    keys never asked for are reported as unknown by `finish`."""

    def __init__(self, data: object, where: str, problems: list[str]) -> None:
        self.where = where  # "" for the top level of a file
        self.problems = problems
        self._known: set[str] = set()
        self._data: Mapping[str, object] = {}
        # Not a table at all is one problem, not one more for each key it then lacks.
        self._is_table = isinstance(data, dict)
        if isinstance(data, dict):
            self._data = data
        else:
            problems.append(f"{where}: expected a table, got {_show(data)}")

    def __contains__(self, key: str) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._data))

    def take_tables(self) -> list[tuple[str, object]]:
        """Take out the keys whose values are tables, leaving the plain values to `get`."""
        tables = {key: value for key, value in self._data.items() if isinstance(value, dict)}
        self._data = {key: value for key, value in self._data.items() if key not in tables}
        return list(tables.items())

    def at(self, key: str) -> str:
        return f"{self.where}.{_key(key)}" if self.where else f"[{_key(key)}]"

    def mark(self, key: str) -> None:
        self._known.add(key)

    def problem(self, key: str | None, message: str) -> None:
        where = self.at(key) if key is not None else self.where or "top level"
        self.problems.append(f"{where}: {message}")

    def get(self, key: str, kind: _Kind[_T], default: _D) -> _T | _D:
        """The value at `key` read as `kind`; `default` when it is missing or bad."""
        self.mark(key)
        if key not in self._data:
            return default
        try:
            return kind(self._data[key])
        except _BadValueError as exc:
            self.problem(key, str(exc))
            return default

    def need(self, key: str, kind: _Kind[_T], default: _D, *, when: str = "") -> _T | _D:
        """Like `get`, and a missing key is a problem too."""
        if key not in self._data and self._is_table:
            self.problem(key, f"missing; required when {when}" if when else "missing")
        return self.get(key, kind, default)

    def table(self, key: str, where: str | None = None) -> _Table:
        """The sub-table at `key` (empty when missing)."""
        self.mark(key)
        return _Table(self._data.get(key, {}), where or self.at(key), self.problems)

    def finish(self) -> None:
        for key in self._data:
            if key not in self._known:
                self.problem(None, f"unknown key {_show(key)}{_did_you_mean(key, self._known)}")


# A config or plans file is a few kilobytes; anything near this is not one.
_LARGEST_FILE_BYTES = 1_000_000


def _read_toml(path: Path) -> dict[str, object]:
    try:
        # Non-blocking, so that a named pipe is refused below instead of waited on forever.
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise _BadValueError("file not found") from None
    except OSError as exc:
        raise _BadValueError(f"cannot read the file: {exc.strerror}") from None
    try:
        mode = os.fstat(descriptor).st_mode
        if stat.S_ISDIR(mode):
            raise _BadValueError("is a folder, not a file")
        if not stat.S_ISREG(mode):
            raise _BadValueError("is not a plain file (a pipe or a device?)")
        with open(descriptor, "rb", closefd=False) as file:
            raw = file.read(_LARGEST_FILE_BYTES + 1)
    except OSError as exc:
        raise _BadValueError(f"cannot read the file: {exc.strerror}") from None
    finally:
        os.close(descriptor)
    if len(raw) > _LARGEST_FILE_BYTES:
        raise _BadValueError(
            f"is larger than {_LARGEST_FILE_BYTES // 1_000_000} MB: not a configuration file"
        )
    return _parse_toml(raw)


def _parse_toml(raw: bytes) -> dict[str, object]:
    if raw.startswith(codecs.BOM_UTF8):
        raise _BadValueError(
            "starts with a byte-order mark (BOM): save it as UTF-8 without one"
            ' (Notepad: "UTF-8", not "UTF-8 with BOM")'
        )
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise _BadValueError('is saved as UTF-16 ("Unicode"): save it as UTF-8')
    if b"\0" in raw:
        line = raw[: raw.index(b"\0")].count(b"\n") + 1
        raise _BadValueError(f"has a NUL byte on line {line}: it is not a text file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise _BadValueError(f"is not UTF-8 text (line {line}): save it as UTF-8") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _BadValueError(f"not valid TOML: {exc}{_date_hint(text, str(exc))}") from None
    except RecursionError:
        raise _BadValueError("not valid TOML: lists or tables nested too deeply") from None


def _date_hint(text: str, error: str) -> str:
    """What TOML's terse "(at line 5, column 14)" means when a date is written the way people
    write them (`26/12/2026`, `2026-12-5`): TOML reads only year-month-day."""
    where = re.search(r"at line (\d+), column (\d+)", error)
    lines = text.splitlines()
    if where is None or int(where[1]) > len(lines):
        return ""
    line, column = lines[int(where[1]) - 1], int(where[2]) - 1
    for word in re.finditer(r"[\w/.:-]+", line):
        if word.start() <= column <= word.end() and re.fullmatch(
            r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}", word[0]
        ):
            return (
                f". {word[0]} is not a date TOML can read: write dates as year-month-day "
                "with two-digit months and days and no quotes, like 2026-12-25"
            )
    return ""


def _key(key: str) -> str:
    """A key as TOML would write it: bare when it can be, else quoted."""
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _show(key)


def _show(value: object) -> str:
    """A value as the user wrote it in TOML, for messages."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return str(value)


def _did_you_mean(word: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=1)
    return f" (did you mean {_show(close[0])}?)" if close else ""


# --- one reader per kind of value ----------------------------------------------------------


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise _BadValueError(f"expected text, got {_show(value)}")
    if not value.strip():
        raise _BadValueError("must not be empty")
    # Names go into email headers, file names and the console: one line, nothing hidden.
    if any(unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp") for char in value.strip()):
        raise _BadValueError(
            f"must be one line without control characters, got {_show(value.strip())}"
        )
    return value.strip()


def _boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise _BadValueError(f"expected true or false, got {_show(value)}")
    return value


def _choice(*options: str) -> _Kind[str]:
    def read(value: object) -> str:
        for option in options:
            if isinstance(value, str) and value.strip().casefold() == option.casefold():
                return option
        expected = ", ".join(_show(option) for option in options)
        raise _BadValueError(f"expected one of {expected}, got {_show(value)}")

    return read


def _integer(lowest: int, highest: int | None = None) -> _Kind[int]:
    def read(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _BadValueError(f"expected an integer, got {_show(value)}")
        if value < lowest or (highest is not None and value > highest):
            limits = f"at least {lowest}" if highest is None else f"{lowest} to {highest}"
            raise _BadValueError(f"must be {limits}, got {value}")
        return value

    return read


def _positive(unit: str, highest: float) -> _Kind[float]:
    def read(value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _BadValueError(f"expected a number of {unit}, got {_show(value)}")
        if not 0 < value <= highest:
            raise _BadValueError(
                f"must be more than 0 and at most {highest:g} {unit}, got {_show(value)}"
            )
        return float(value)

    return read


def _share(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise _BadValueError(f"expected a share between 0 and 1, like 0.5, got {_show(value)}")
    return float(value)


def _amount(value: object) -> Decimal:
    try:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise InvalidOperation
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise _BadValueError(f"expected an amount like 1000, got {_show(value)}") from None
    if not amount.is_finite() or amount < 0:
        raise _BadValueError(f"must be 0 or more, got {_show(value)}")
    return amount


def _path(base: Path, *, suffixes: tuple[str, ...] = ()) -> _Kind[Path]:
    """A path; a relative one is taken from `base`, the config file's folder."""

    def read(value: object) -> Path:
        path = Path(os.path.normpath(base / Path(_text(value)).expanduser()))
        if suffixes and path.suffix.casefold() not in suffixes:
            raise _BadValueError(f"expected a {' or '.join(suffixes)} file, got {_show(value)}")
        return path

    return read


# A sheet's address: https://docs.google.com/spreadsheets/d/<id>/edit#gid=0, also with /u/1/
# for a second signed-in account, or Drive's open?id=<id>.
_SHEET_ADDRESS = re.compile(r"/spreadsheets/(?:u/\d+/)?d/([A-Za-z0-9_-]+)|[?&]id=([A-Za-z0-9_-]+)")


def _spreadsheet_id(value: object) -> str:
    """The sheet's id, or its whole address as copied from the browser: the id is taken out."""
    text = _text(value)
    if "/" not in text and "?" not in text:
        return text
    found = _SHEET_ADDRESS.search(text)
    if found is None:
        raise _BadValueError(
            f"{_show(text)} is not the address of a Google Sheet: give the sheet's address "
            "(https://docs.google.com/spreadsheets/d/.../edit) or the long id between /d/ "
            "and /edit in it"
        )
    return found.group(1) or found.group(2)


def _timezone(value: object) -> ZoneInfo:
    name = _text(value)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        hint = (
            _did_you_mean(name, available_timezones()) or ' (expected a name like "Europe/London")'
        )
        raise _BadValueError(f"unknown time zone {_show(name)}{hint}") from None


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _weekdays(value: object) -> frozenset[int]:
    """Day names, full or shortened to at least three letters (`Mon`, `Thurs`)."""
    days, bad = set(), []
    for item in _list(value, "day names"):
        word = item.strip().casefold() if isinstance(item, str) else ""
        found = [n for n, name in enumerate(_WEEKDAYS) if len(word) >= 3 and name.startswith(word)]
        if found:
            days.add(found[0])
        else:
            bad.append(_show(item))
    if bad:
        raise _BadValueError(
            f'not day names: {", ".join(bad)} (expected names like "Mon" or "Monday")'
        )
    if not days:
        raise _BadValueError("the clinic must be open on at least one day")
    return frozenset(days)


def _holidays_country(value: object) -> PublicHolidays:
    try:
        return public_holidays(_text(value))
    except ValueError as exc:
        raise _BadValueError(str(exc)) from None


# Signs people may write for a currency, and the code meant.
_CURRENCY_SIGNS = {"$": "USD", "£": "GBP", "€": "EUR", "¥": "JPY", "₹": "INR"}


def _currency(value: object) -> str:
    """An ISO 4217 code, like "USD"."""
    text = _text(value)
    if re.fullmatch(r"[A-Za-z]{3}", text):
        return text.upper()
    hint = f'"{_CURRENCY_SIGNS[text]}"' if text in _CURRENCY_SIGNS else '"USD", "GBP" or "EUR"'
    raise _BadValueError(f"expected a three-letter currency code like {hint}, got {_show(text)}")


def _words(value: object) -> tuple[str, ...]:
    """Words: one text, or a list of them."""
    items = [value] if isinstance(value, str) else _list(value, "words")
    return tuple(_text(item) for item in items)


def _dates(value: object) -> frozenset[date]:
    """TOML dates, or ISO `YYYY-MM-DD` text."""
    days, bad = set(), []
    for item in _list(value, "dates"):
        if isinstance(item, date) and not isinstance(item, datetime):
            days.add(item)
            continue
        try:
            if not (isinstance(item, str) and re.fullmatch(r"\d{4}-\d\d-\d\d", item.strip())):
                raise ValueError
            days.add(date.fromisoformat(item.strip()))
        except ValueError:
            bad.append(_show(item))
    if bad:
        raise _BadValueError(
            f"not dates: {', '.join(bad)} (write dates year-month-day, like 2026-12-25, "
            "without quotes)"
        )
    return frozenset(days)


def _time_of_day(value: object) -> time:
    """A TOML local time, or text like `07:30`."""
    if isinstance(value, time):
        return value
    text = value.strip() if isinstance(value, str) else ""
    if match := re.fullmatch(r"(\d\d?):(\d\d)(?::(\d\d))?", text):
        hour, minute, second = match.groups()
        try:
            return time(int(hour), int(minute), int(second or 0))
        except ValueError:
            pass
    raise _BadValueError(f'expected a time of day like "07:30", got {_show(value)}')


def _email(value: object) -> str:
    """An address, bare or with a display name (`Manager <manager@clinic.example>`)."""
    text = _text(value)
    address = parseaddr(text)[1]
    local, _, domain = address.partition("@")
    if not local or not domain or "@" in domain or any(c.isspace() for c in address):
        raise _BadValueError(
            f'expected an email address like "name@clinic.example", got {_show(text)}'
        )
    return text


def _names(value: object) -> tuple[str, ...]:
    """Header names: one text, or a list of them."""
    items = [value] if isinstance(value, str) else _list(value, "header names")
    return tuple(_text(item) for item in items)


def _env_name(value: object) -> str:
    # The value is never echoed: it may be the password itself, pasted in the wrong place.
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value.strip()):
        return value.strip()
    raise _BadValueError("expected the name of an environment variable, like SMTP_PASSWORD")


def _non_empty_list(value: object) -> list[object]:
    items = _list(value, "items")
    if not items:
        raise _BadValueError("must not be empty")
    return items


def _list(value: object, of: str) -> list[object]:
    if not isinstance(value, list):
        raise _BadValueError(f"expected a list of {of}, got {_show(value)}")
    return value
