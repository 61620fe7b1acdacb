"""`sheets-sync init`: a first config written from the clinic's own log.

It looks at the workbook (core.survey does the looking), settles with the IT person what the
log cannot tell (a column it does not know, the order dates are typed in, the time zone, the
public holidays), writes the config and says what to do next. Questions go through `ask`;
without it (a scripted install) every answer comes from the options, and what is missing is
an error that names the flag to pass.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sheets_sync.backends.base import Snapshot
from sheets_sync.backends.xlsx import XlsxBackend
from sheets_sync.core.columns import STAFF_COLUMNS, column_letters
from sheets_sync.core.owners import staff_entries
from sheets_sync.core.survey import (
    DATE_FIELDS,
    DateOrderFinding,
    HeaderSurvey,
    detect_date_order,
    owner_names,
    placeholder_address,
    survey_header,
)
from sheets_sync.core.values import DateOrder
from sheets_sync.errors import SheetsSyncError
from sheets_sync.public_holidays import public_holidays

# A question and the answer given when the person just presses Enter; returns the answer.
Ask = Callable[[str, str], str]
Say = Callable[[str], None]

_FIELD_WORDS = {name: headers[0].lower() for name, headers in STAFF_COLUMNS.items()}
_SHEET_ID = re.compile(r"[A-Za-z0-9_-]{25,}")


class SetupError(SheetsSyncError):
    """`init` cannot write the config; the message says what to pass or change."""


@dataclass(frozen=True)
class InitOptions:
    """What the IT person gave on the command line; None where they gave nothing."""

    source: str  # the workbook's path, or the Google Sheet's id or address
    config_path: Path
    worksheet: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)  # field -> header, from --column
    date_order: DateOrder | None = None
    timezone: str | None = None
    holidays_country: str | None = None
    state_dir: str | None = None
    outbox: str | None = None
    credentials: str | None = None
    manager: str | None = None
    clinic_name: str | None = None
    force: bool = False


@dataclass(frozen=True)
class LogLook:
    """The log as init found it: its sheet, header, columns, owners and typed dates."""

    worksheet: str
    survey: HeaderSurvey
    columns: Mapping[str, str]  # field -> header, for fields under a name sheets-sync lacks
    staff_worksheet: str | None
    staff_names: frozenset[str]  # owners the Staff sheet gives an address, casefolded
    owners: Sequence[str]  # every owner named in the log
    dates: DateOrderFinding


def init(
    options: InitOptions,
    *,
    ask: Ask | None,
    say: Say,
    environ: Mapping[str, str],
    localtime: Path = Path("/etc/localtime"),
) -> list[str]:
    """Write the config `options` describe, asking through `ask` (when given) what the log does
    not tell; `say` reports what was found as it goes. Returns the next steps, a line each."""
    path = options.config_path
    if path.exists() and not options.force:
        raise SetupError(
            f"{path} already exists: sheets-sync init does not overwrite a config. Pass "
            "--force to replace it, or --config to write another file"
        )
    google = _is_google_sheet(options.source)
    look = None if google else _look_at_workbook(Path(options.source), options, ask, say)
    date_order = _date_order(look.dates if look else None, options, ask, say)
    timezone = _timezone(options, ask, say, environ, localtime)
    country = _holidays_country(options, ask, say)
    manager = options.manager
    if manager is None and ask is not None:
        manager = ask("The manager's email address, for the daily summary (Enter for none):", "")
    text = config_text(
        options,
        look,
        date_order=date_order,
        timezone=timezone,
        holidays_country=country,
        manager=manager or None,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    say(f"Wrote {path}.")
    return next_steps(path, look, google=google, credentials=options.credentials)


def _is_google_sheet(source: str) -> bool:
    """A Sheet's address or its id (the long code in the address), as opposed to a file."""
    if "docs.google.com" in source or "drive.google.com" in source:
        return True
    return bool(_SHEET_ID.fullmatch(source)) and not Path(source).exists()


# --- the log ---------------------------------------------------------------------------------


def _look_at_workbook(workbook: Path, options: InitOptions, ask: Ask | None, say: Say) -> LogLook:
    for name, header in options.columns.items():
        if name not in STAFF_COLUMNS or not header:
            raise SetupError(
                f'--column {name}="{header}": give a field and its header, like '
                f'--column name="Client"; the fields are {", ".join(STAFF_COLUMNS)}'
            )
    if not workbook.is_file():
        raise SetupError(
            f"{workbook} is not there: give the path of the clinic's workbook (.xlsx), or a "
            "Google Sheet's address"
        )
    if workbook.suffix.casefold() not in (".xlsx", ".xlsm"):
        raise SetupError(
            f"{workbook} is not an .xlsx or .xlsm workbook: save the log as an Excel workbook "
            "(.xlsx), or give a Google Sheet's address"
        )
    names = XlsxBackend(workbook).worksheet_names()
    candidates = [options.worksheet] if options.worksheet else _log_sheets_first(names)
    found = None
    for name in candidates:
        snapshot = XlsxBackend(workbook, worksheet=name, staff_worksheet=None).read()
        survey = survey_header(snapshot.rows, {k: [v] for k, v in options.columns.items()})
        if survey is not None and (found is None or len(survey.fields) > len(found[2].fields)):
            found = (name, snapshot, survey)
    if found is None:
        sheets = ", ".join(f'"{name}"' for name in candidates)
        raise SetupError(
            f"no header row in the first 20 rows of {sheets} names a column sheets-sync knows "
            "(Name, Owner, Consultation date, ...): pass --worksheet for the log's sheet"
        )
    worksheet, snapshot, survey = found
    say(f'Log: the sheet "{worksheet}" of {workbook}, header on row {survey.header_row}.')
    columns = _settle_columns(survey, options.columns, ask, say)
    survey = survey_header(snapshot.rows, {k: [v] for k, v in columns.items()}) or survey
    staff_name = next((n for n in names if n != worksheet and _is_staff_sheet(workbook, n)), None)
    staff = _staff_names(workbook, staff_name)
    if staff_name:
        given = "1 owner an address" if len(staff) == 1 else f"{len(staff)} owners addresses"
        say(f'Staff: the sheet "{staff_name}" gives {given}.')
    owners = owner_names(snapshot.rows, survey.header_row, survey.fields["owner"])
    date_columns = [survey.fields[name] for name in DATE_FIELDS if name in survey.fields]
    return LogLook(
        worksheet=worksheet,
        survey=survey,
        columns=columns,
        staff_worksheet=staff_name,
        staff_names=frozenset(staff),
        owners=owners,
        dates=detect_date_order(snapshot.rows, survey.header_row, date_columns),
    )


def _log_sheets_first(names: Sequence[str]) -> list[str]:
    """Every sheet, the usual name for a log first."""
    return sorted(names, key=lambda name: name.casefold() != "prospects")


def _is_staff_sheet(workbook: Path, name: str) -> bool:
    return name.casefold() == "staff" or bool(_staff_names(workbook, name))


def _staff_names(workbook: Path, name: str | None) -> set[str]:
    """The owners a Staff sheet (columns Name and Email) gives an address, casefolded."""
    if name is None:
        return set()
    snapshot: Snapshot = XlsxBackend(workbook, worksheet=name, staff_worksheet=None).read()
    return {
        " ".join(entry.name.split()).casefold()
        for entry in staff_entries(snapshot.rows)
        if entry.email
    }


def _settle_columns(
    survey: HeaderSurvey, given: Mapping[str, str], ask: Ask | None, say: Say
) -> dict[str, str]:
    """Header names for the fields sheets-sync does not recognise in this log: those given
    with --column, then asked for (the required ones always; the others one header at a time),
    or else the required ones are an error and the unknown headers are listed."""
    columns = dict(given)
    known = ", ".join(
        f'"{survey.headers[col]}" ({column_letters(col)}) as {_FIELD_WORDS.get(name, name)}'
        for name, col in sorted(survey.fields.items(), key=lambda item: item[1])
        if name in STAFF_COLUMNS
    )
    say(f"  columns read: {known}")
    unknown = dict(survey.unknown)
    for name in survey.missing:
        if ask is None:
            seen = ", ".join(f'"{text}"' for text in survey.unknown.values()) or "none"
            raise SetupError(
                f"the log has no {_FIELD_WORDS[name]} column under a name sheets-sync knows "
                f"({', '.join(STAFF_COLUMNS[name])}); other headers on row {survey.header_row}: "
                f'{seen}. Pass --column {name}="Your header"'
            )
        header = _choose_header(
            ask, f"Which column holds the {_FIELD_WORDS[name]}? (required)", unknown
        )
        if header is None:
            raise SetupError(f"sheets-sync needs a {_FIELD_WORDS[name]} column to work")
        columns[name] = header
    unread = [name for name in STAFF_COLUMNS if name not in survey.fields and name not in columns]
    for col, header in list(unknown.items()):
        if ask is None or not unread:
            break
        offered = ", ".join(_FIELD_WORDS[name] for name in unread)
        answer = ask(
            f'Column {column_letters(col)} "{header}": is it one of {offered}? (Enter if none)', ""
        )
        chosen = next((name for name in unread if _same_field(answer, name)), None)
        if chosen is not None:
            columns[chosen] = header
            unread.remove(chosen)
            del unknown[col]
    if unknown:
        listed = ", ".join(
            f'"{text}" ({column_letters(col)})' for col, text in unknown.items() if text
        )
        say(f"  not read (sheets-sync leaves them alone): {listed}")
    return columns


def _same_field(answer: str, name: str) -> bool:
    """Whether `answer` names the field `name`, in words ("snooze until") or as its key."""
    typed = re.sub(r"[\s_-]+", " ", answer).strip().casefold()
    return typed in (_FIELD_WORDS[name], name.replace("_", " "))


def _choose_header(ask: Ask, question: str, unknown: dict[int, str]) -> str | None:
    choices = {column_letters(col): text for col, text in unknown.items()}
    listed = ", ".join(f'{letter} "{text}"' for letter, text in choices.items())
    while True:
        answer = ask(f"{question} Type its letter: {listed}", "").strip().upper()
        if not answer:
            return None
        if answer in choices:
            unknown.pop(next(col for col in unknown if column_letters(col) == answer))
            return choices[answer]


# --- dates, time zone, holidays --------------------------------------------------------------


def _date_order(
    finding: DateOrderFinding | None, options: InitOptions, ask: Ask | None, say: Say
) -> DateOrder:
    """The order the log's dates settle, checked against --date-order; asked for (or required
    as a flag) when the log cannot tell."""
    if finding is not None:
        say(f"Dates: {finding.explain()}.")
    given = options.date_order
    settled = finding.order if finding is not None else None
    if finding is not None and settled is not None and given not in (None, settled):
        wrong = finding.month_first if given is DateOrder.DMY else finding.day_first
        raise SetupError(
            f"--date-order {given.value} disagrees with the log: {wrong[0]} cannot be read that "
            f"way. Leave out --date-order, or pass --date-order {settled.value}"
        )
    if chosen := given or settled:
        if finding is not None and finding.mixed:
            say(
                f"  dates typed the other way will be flagged CHECK DATA until they are "
                f"retyped as {chosen.value}; `check` lists them"
            )
        return chosen
    if ask is None:
        raise SetupError(
            "the log does not tell whether staff type dates day first (23/11/2026) or month "
            "first (11/23/2026): pass --date-order DMY or --date-order MDY"
        )
    while True:
        answer = ask(
            "How do staff type dates: DMY (23/11/2026, day first) or MDY (11/23/2026)?", ""
        )
        if answer.strip().upper() in ("DMY", "MDY"):
            return DateOrder(answer.strip().upper())


def machine_timezone(environ: Mapping[str, str], localtime: Path) -> str | None:
    """This computer's time zone name: `TZ`, else where /etc/localtime points (Linux, macOS),
    else /etc/timezone (Debian). None when none of them names one (Windows: it is asked for).

    The standard library reads these in a few lines; tzlocal would add Windows' registry
    names, but a front-desk PC answers one question instead of the project carrying a
    dependency for it."""
    named = environ.get("TZ", "").removeprefix(":")
    if _valid_zone(named):
        return named
    target = os.path.realpath(localtime)
    if "zoneinfo/" in target and _valid_zone(zone := target.split("zoneinfo/", 1)[1]):
        return zone
    try:
        written = (localtime.parent / "timezone").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return written if _valid_zone(written) else None


def _valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return bool(name)


def _timezone(
    options: InitOptions, ask: Ask | None, say: Say, environ: Mapping[str, str], localtime: Path
) -> str:
    if options.timezone is not None:
        if not _valid_zone(options.timezone):
            raise SetupError(
                f'--timezone "{options.timezone}" is not a time zone name: give one like '
                "America/New_York or Europe/London"
            )
        return options.timezone
    machine = machine_timezone(environ, localtime)
    if ask is not None:
        while True:
            answer = ask(
                "The clinic's time zone (like America/New_York)"
                + (f" [{machine}]:" if machine else ":"),
                machine or "",
            ).strip()
            if _valid_zone(answer):
                return answer
    if machine is None:
        raise SetupError(
            "this computer does not say its time zone: pass --timezone, like America/New_York"
        )
    if machine.removeprefix("Etc/") in ("UTC", "UCT", "GMT", "Universal", "Zulu"):
        say(
            f"Time zone: this computer runs on {machine}; if the clinic is elsewhere, pass "
            "--timezone (digests go out at 07:30 clinic time)."
        )
    else:
        say(f"Time zone: {machine}, this computer's.")
    return machine


def _holidays_country(options: InitOptions, ask: Ask | None, say: Say) -> str | None:
    """The public-holiday calendar: a country code, optionally with a region (US-NY, GB-ENG)."""
    answer = options.holidays_country
    if answer is None and ask is not None:
        answer = ask(
            "Public holidays of which country or region? (like US-NY or GB-ENG; Enter for none)",
            "",
        ).strip()
    if not answer:
        say(
            "Public holidays: none. Pass --holidays with the country or region (like US-NY) "
            "for its holidays, or set holidays_country in [clinic]."
        )
        return None
    try:
        public_holidays(answer)
    except ValueError as exc:
        raise SetupError(f"--holidays: {exc}") from exc
    return answer.upper()


# --- the config --------------------------------------------------------------------------------


def _toml(text: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's."""
    return json.dumps(text, ensure_ascii=False)


def config_text(
    options: InitOptions,
    look: LogLook | None,
    *,
    date_order: DateOrder,
    timezone: str,
    holidays_country: str | None,
    manager: str | None,
) -> str:
    """The config file, commented for the person who will read it next."""
    name = options.clinic_name or "Our clinic"
    holidays = (
        f"holidays_country = {_toml(holidays_country)}"
        if holidays_country
        else '# holidays_country = "US-NY"   # a country, or country-region, like "GB-ENG"'
    )
    lines = [
        "# sheets-sync configuration, written by `sheets-sync init`.",
        "# Relative paths are taken from the folder of this file.",
        "# `sheets-sync check` validates it and the log, and lists every problem at once.",
        "",
        "[clinic]",
        f"name = {_toml(name)}",
        "# It decides what 'today' is, and when the digests go out.",
        f"timezone = {_toml(timezone)}",
        '# How staff type numeric dates: "DMY" reads 03/12/2026 as 3 December, "MDY" as March 12.',
        f"date_order = {_toml(date_order.value)}",
        'open_days = ["Mon", "Tue", "Wed", "Thu", "Fri"]',
        "# Public holidays: no follow-up falls on them. Add the clinic's own closed days as",
        "#   holidays = [2026-12-24, 2026-12-31]",
        holidays,
        "",
        *_source_lines(options, look),
        "",
        *_owner_lines(look),
        "",
        "[mail]",
        '# "outbox" writes each email as an .eml file into the outbox folder and sends nothing;',
        '# "smtp" sends through a mail server ([mail.smtp], see the README).',
        'mode = "outbox"',
        f"outbox = {_toml(options.outbox or 'outbox')}",
        '# from = "Our clinic <followups@clinic.example>"',
        f"manager = {_toml(manager)}" if manager else '# manager = "manager@clinic.example"',
        'digest_time = "07:30"',
        "",
        "[daemon]",
        "# Where sheets-sync remembers what it wrote and sent: a folder of its own.",
        f"state_dir = {_toml(options.state_dir or 'state')}",
        "sync_every_minutes = 15",
        "",
    ]
    return "\n".join(lines)


def _source_lines(options: InitOptions, look: LogLook | None) -> list[str]:
    if look is None:
        credentials = options.credentials or "service-account.json"
        return [
            "[source]",
            'kind = "gsheets"',
            f"spreadsheet_id = {_toml(options.source)}",
            "# The service account's key (a JSON file from the Google Cloud console).",
            f"credentials = {_toml(credentials)}",
            f"worksheet = {_toml(options.worksheet or 'Prospects')}",
            'staff_worksheet = "Staff"',
        ]
    lines = [
        "[source]",
        'kind = "xlsx"',
        f"path = {_toml(str(Path(options.source).absolute()))}",
        f"worksheet = {_toml(look.worksheet)}",
        f"staff_worksheet = {_toml(look.staff_worksheet or 'Staff')}",
        "",
        "# This log's own header names for the columns sheets-sync reads.",
        "[columns]",
    ]
    return lines + [f"{name} = {_toml(header)}" for name, header in look.columns.items()]


def _owner_lines(look: LogLook | None) -> list[str]:
    lines = ["# Owners' email addresses, for owners the Staff sheet does not give one.", "[owners]"]
    missing = placeholder_owners(look)
    if missing:
        lines.insert(1, "# FILL IN each placeholder (@fill-in.invalid) with the real address.")
    return lines + [f"{_toml(owner)} = {_toml(placeholder_address(owner))}" for owner in missing]


def placeholder_owners(look: LogLook | None) -> list[str]:
    """The owners init gave a placeholder address."""
    if look is None:
        return []
    return [owner for owner in look.owners if owner.casefold() not in look.staff_names]


def next_steps(
    path: Path, look: LogLook | None, *, google: bool, credentials: str | None
) -> list[str]:
    """What the IT person does next, in order."""
    config = f"--config {_shell_word(str(path))}"
    steps = []
    if google:
        if credentials is None:
            steps.append(
                "Get a key for a service account (Google Cloud console > IAM & Admin > Service "
                "accounts > the account > Keys > Add key > JSON), save it beside the config as "
                "service-account.json, and share the sheet with the account's email address"
            )
        steps.append(
            "Check the worksheet name and the columns: init did not read the sheet; "
            "`check` will name any column it cannot find"
        )
    if owners := placeholder_owners(look):
        steps.append(
            f"Fill in the email address of {_names(owners)} in [owners] of {path} (or add "
            "them to a Staff sheet with columns Name and Email)"
        )
    steps += [
        f"sheets-sync check {config}    (lists every problem in the config and the log)",
        f"sheets-sync once {config}     (writes the follow-up columns; digests into the outbox)",
        f"sheets-sync status {config}",
        f"Then run it for good: sheets-sync run {config} as a service (see the README), or "
        f"`sheets-sync once {config}` from cron or Task Scheduler",
    ]
    return [f"{number}. {step}" for number, step in enumerate(steps, start=1)]


def _names(owners: Sequence[str]) -> str:
    if len(owners) == 1:
        return owners[0]
    return f"{', '.join(owners[:-1])} and {owners[-1]}"


def _shell_word(text: str) -> str:
    return text if re.fullmatch(r"[\w./:\\-]+", text) else f'"{text}"'
