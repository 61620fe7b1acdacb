"""The command line: parse, call the library, turn every error into one clear message."""

from __future__ import annotations

import argparse
import io
import os
import signal
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sheets_sync import __version__
from sheets_sync.backends.base import Backend
from sheets_sync.backends.gsheets.client import google_login, user_token_file
from sheets_sync.config import Config, ConfigError, config_path_from
from sheets_sync.core.check import log_problems, staff_problems
from sheets_sync.core.columns import column_letters
from sheets_sync.core.owners import address_book, missing_staff_sheet
from sheets_sync.core.rule import Flag
from sheets_sync.core.survey import placeholder_problems
from sheets_sync.core.sync import MANAGED_LABELS
from sheets_sync.core.values import DateOrder, format_day
from sheets_sync.core.words import counted
from sheets_sync.daemon import sheet_settings_problems, status_lines
from sheets_sync.engine import (
    UNCHANGED,
    CycleReport,
    DigestRun,
    clinic_report,
    digest_messages,
    monthly_report_due,
    monthly_report_key,
    monthly_report_message,
    open_backend,
    open_delivery,
    password_problem,
    send_digests,
    sync,
    unchanged_since_last_sync,
    written_words,
)
from sheets_sync.errors import SheetsSyncError
from sheets_sync.explain import ProspectNotFound as ExplainNotFound
from sheets_sync.explain import explain_lines, find_prospect, touch_log_lines
from sheets_sync.group import Clinic, Group, load_group
from sheets_sync.history import (
    HistoryLine,
    history_lines,
    history_table,
    prospect_ids,
    write_csv,
    write_xlsx,
)
from sheets_sync.history import ProspectNotFound as HistoryNotFound
from sheets_sync.logs import ERRORS_LOG, one_line, setup_logging
from sheets_sync.mail.deliver import DeliveryFailed
from sheets_sync.mail.notices import render_check_message
from sheets_sync.mail.outbox import write_preview
from sheets_sync.mail.report import report_text
from sheets_sync.per_clinic import (
    UNEXPECTED_EXIT,
    clinic_path,
    each_clinic,
    find_in_clinics,
    group_service,
    say,
    unexpected,
)
from sheets_sync.report import report_period, write_html
from sheets_sync.report import write_xlsx as write_report_xlsx
from sheets_sync.setup import InitOptions, init
from sheets_sync.state import State


def main(argv: Sequence[str] | None = None) -> int:
    # A console that cannot show a character (ASCII, Windows cp1252) gets an escape instead.
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    args = _parser().parse_args(argv)
    group: Group | None = None
    try:
        if args.command_name == "init":  # writes the config the other commands read
            return _init(args)
        group = load_group(config_path_from(args.config, os.environ))
        if args.command_name == "run":
            return _run(args, group)
        return _each_chosen_clinic(args, group)
    except ConfigError as exc:
        for line in exc.lines():
            say(line, err=True)
        return 2
    except SheetsSyncError as exc:
        say(f"sheets-sync: {exc}", err=True)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        return 0
    except Exception as exc:
        say(unexpected(exc, group.state_dir if group else None, args.command_name), err=True)
        return UNEXPECTED_EXIT


def _each_chosen_clinic(args: argparse.Namespace, group: Group) -> int:
    """The command on the clinics `--clinic` names, or on all of them: each under its heading,
    on its own today in its own time zone unless `--today` says the day."""
    clinics = group.select(args.clinic)
    several = len(clinics) > 1
    if several and args.command_name == "google-login":
        clinics = _on_google_sheets(clinics)

    def today(clinic: Clinic) -> date:
        return args.today or datetime.now(clinic.config.clinic.timezone).date()

    def act(clinic: Clinic) -> int:
        own_args = _for_clinic(args, clinic) if several else args
        result: int = args.command(own_args, clinic.config, today(clinic))
        return result

    name = args.command_name
    if several and name == "status":  # at a glance: one line a clinic

        def glance(clinic: Clinic) -> int:
            return _status_glance(clinic, today(clinic))

        return each_clinic(group, clinics, glance, command=name, headings=False)
    if several and name in _SEARCHES and args.prospect:
        look, show, not_found = _SEARCHES[name]
        return find_in_clinics(
            group,
            clinics,
            args.prospect,
            lambda clinic: look(args, clinic.config, today(clinic)),
            lambda clinic, found: show(args, clinic.config, found),
            not_found=not_found,
            command=name,
        )
    return each_clinic(group, clinics, act, command=name)


def _for_clinic(args: argparse.Namespace, clinic: Clinic) -> argparse.Namespace:
    """`args` with the files and folders to write made the clinic's own, when one command
    writes for several clinics: `--html report.html` becomes `report-riverside.html`."""
    own = {
        option: clinic_path(getattr(args, option), clinic, folder=option == "out")
        for option in ("html", "xlsx", "csv", "out")
        if getattr(args, option, None) is not None
    }
    return argparse.Namespace(**{**vars(args), **own})


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sheets-sync",
        description="Follow-up dates, flags and morning digests beside a clinic's prospect log.",
    )
    parser.add_argument("--version", action="version", version=f"sheets-sync {__version__}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(command_name=name)
        sub.add_argument(
            "--config",
            metavar="FILE",
            help="config file (default: $SHEETS_SYNC_CONFIG or config/sheets_sync.toml)",
        )
        sub.add_argument(
            "--today",
            type=_day,
            metavar="YYYY-MM-DD",
            help="the clinic's date to act on (default: today in the clinic's time zone)",
        )
        if name != "run":  # `run` serves the whole group
            sub.add_argument(
                "--clinic",
                metavar="NAME",
                help="one clinic of a group, by its key or its name (default: every clinic)",
            )
        return sub

    once = command("once", "one cycle: sync the log, then send the day's digests if not sent yet")
    once.add_argument(
        "--dry-run", action="store_true", help="print what would change; write and send nothing"
    )
    once.add_argument("--no-digest", action="store_true", help="sync only; send no digests")
    once.add_argument("--force-digest", action="store_true", help="send today's digests again")
    once.add_argument(
        "--accept-fewer-rows",
        action="store_true",
        help="write even though many prospects are gone since the last sync (removed on purpose)",
    )
    once.add_argument(
        "--adopt",
        action="store_true",
        help="take over a log another state folder synced (after the old one was lost)",
    )
    once.set_defaults(command=_once)

    run = command(
        "run",
        "the daemon: sync every few minutes, send the digests every morning; a group's"
        " clinics all in one service",
    )
    run.add_argument(
        "--log-format", choices=["text", "json"], default="text", help="how to write the log"
    )

    status = command("status", "the last sync, its outcome, and the next sync and digests")
    status.set_defaults(command=_status)

    check = command("check", "validate the config and the log; list every problem at once")
    check.set_defaults(command=_check)

    explain = command("explain", "why one prospect's next touch is what it is, step by step")
    explain.add_argument(
        "prospect", metavar="ROW|NAME|SYNC_ID", help="the row number, the name or the Sync ID"
    )
    explain.set_defaults(command=_explain)

    send_test = command("send-test", "send one test message, to check the mail settings")
    send_test.add_argument("address", help="where to send it, e.g. you@clinic.example")
    send_test.set_defaults(command=_send_test)

    login = command(
        "google-login",
        "sign in to Google as a person, once, instead of a service-account key",
    )
    login.add_argument(
        "--client-file",
        type=Path,
        metavar="FILE",
        help="the OAuth client file, type Desktop app (default: [source].credentials)",
    )
    login.add_argument(
        "--no-browser", action="store_true", help="only print the address to open in a browser"
    )
    login.set_defaults(command=_google_login)

    digest = command("digest", "render today's digests without sending them")
    digest.add_argument(
        "--preview",
        action="store_true",
        required=True,
        help="write each message as .eml, .html and .txt files",
    )
    digest.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="folder for the previews (default: preview/ in the state folder)",
    )
    digest.set_defaults(command=_preview)

    history = command("history", "the touch log: one prospect's or everyone's touches and changes")
    history.add_argument(
        "prospect", nargs="?", metavar="ROW|NAME|SYNC_ID", help="one prospect (default: all)"
    )
    history.add_argument(
        "--since", type=_day, metavar="YYYY-MM-DD", help="only what happened on this day or later"
    )
    export = history.add_mutually_exclusive_group()
    export.add_argument("--csv", type=Path, metavar="FILE", help="write it as CSV")
    export.add_argument("--xlsx", type=Path, metavar="FILE", help="write it as a workbook")
    history.set_defaults(command=_history)

    report = command(
        "report",
        "does follow-up pay? bookings, income by age, touches, owners, the pipeline"
        " (default: the 12 months ending today)",
    )
    period = report.add_mutually_exclusive_group()
    period.add_argument("--month", metavar="YYYY-MM", help="one month, e.g. 2026-10")
    period.add_argument("--year", metavar="YYYY", help="one calendar year, e.g. 2026")
    period.add_argument(
        "--from", dest="first", metavar="YYYY-MM-DD", help="from this day (to today, or --to)"
    )
    report.add_argument("--to", dest="last", metavar="YYYY-MM-DD", help="to this day, with --from")
    report.add_argument("--html", type=Path, metavar="FILE", help="also write it as a page")
    report.add_argument("--xlsx", type=Path, metavar="FILE", help="also write its tables")
    report.set_defaults(command=_report)
    _init_parser(commands)
    return parser


def _init_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    about = "write a config for a prospect log, asking what the log does not tell"
    init = commands.add_parser("init", help=about, description=about)
    init.set_defaults(command_name="init")
    init.add_argument(
        "source", metavar="WORKBOOK_OR_SHEET", help="the .xlsx log, or a Sheet's address"
    )
    init.add_argument(
        "--config",
        metavar="FILE",
        help="where to write it (default: $SHEETS_SYNC_CONFIG or config/sheets_sync.toml)",
    )
    init.add_argument(
        "--yes", action="store_true", help="ask nothing: take the flags and what the log shows"
    )
    init.add_argument("--force", action="store_true", help="replace an existing config")
    init.add_argument("--worksheet", help="the log's sheet (default: the one with its header)")
    init.add_argument(
        "--column",
        action="append",
        default=[],
        metavar='FIELD="HEADER"',
        help='a column under a name sheets-sync does not know, e.g. name="Client" (repeatable)',
    )
    init.add_argument("--date-order", choices=["DMY", "MDY"], help="how staff type dates")
    init.add_argument("--timezone", help="the clinic's time zone (default: this computer's)")
    init.add_argument(
        "--holidays", metavar="COUNTRY", help="public holidays of, e.g., US-NY or GB-ENG"
    )
    init.add_argument("--clinic-name", help="the clinic's name, for the emails")
    init.add_argument("--manager", metavar="EMAIL", help="who gets the daily summary")
    init.add_argument(
        "--state-dir",
        metavar="DIR",
        help="sheets-sync's own folder, from the config's folder (default: state)",
    )
    init.add_argument(
        "--outbox",
        metavar="DIR",
        help="the emails' folder, from the config's folder (default: outbox)",
    )
    init.add_argument("--credentials", metavar="FILE", help="a Google service account's key file")


def _init(args: argparse.Namespace) -> int:
    columns = dict(item.partition("=")[::2] for item in args.column)
    options = InitOptions(
        source=args.source,
        config_path=config_path_from(args.config, os.environ),
        worksheet=args.worksheet,
        columns={name.strip(): header.strip().strip('"') for name, header in columns.items()},
        date_order=DateOrder(args.date_order) if args.date_order else None,
        timezone=args.timezone,
        holidays_country=args.holidays,
        state_dir=args.state_dir,
        outbox=args.outbox,
        credentials=args.credentials,
        manager=args.manager,
        clinic_name=args.clinic_name,
        force=args.force,
    )
    interactive = not args.yes and sys.stdin.isatty()
    steps = init(options, ask=_ask if interactive else None, say=say, environ=os.environ)
    say("Next steps:")
    for step in steps:
        say(f"  {step}")
    return 0


def _ask(question: str, default: str) -> str:
    try:
        return input(f"{one_line(question)} ").strip() or default
    except EOFError:  # the input ended (Ctrl-D): no answer will come
        raise SheetsSyncError("init stopped before all its questions were answered") from None


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-24") from None


def _once(args: argparse.Namespace, config: Config, today: date) -> int:
    with State(config.daemon.state_dir) as state:
        try:
            backend = open_backend(config, os.environ)
            quiet = args.no_digest and not args.dry_run
            if quiet and unchanged_since_last_sync(backend, config, state, today=today):
                state.record_sync_outcome(datetime.now(UTC), UNCHANGED)
                say(f"{backend.description}: unchanged since the last sync today; nothing to do")
                return 0
            report = sync(
                backend,
                config,
                state,
                today=today,
                dry_run=args.dry_run,
                accept_fewer=args.accept_fewer_rows,
                adopt=args.adopt,
            )
        except Exception as exc:  # `status` tells of it, as of the daemon's failures
            if not args.dry_run:
                state.record_sync_outcome(datetime.now(UTC), "failed", _problem(exc))
            raise
        if not args.dry_run:
            state.record_sync_outcome(datetime.now(UTC), report.outcome, report.waiting or "")
        for line in _summary_lines(config, backend, report, today):
            say(line)
        if args.dry_run:
            _print_changes(report, config.clinic.date_order)
            return 0
        if report.written:
            kept = config.daemon.state_dir / "backups"
            backup = (
                f"; the previous version is kept in {kept}" if config.source.kind == "xlsx" else ""
            )
            say(f"  {written_words(report)}{backup}")
        elif report.waiting:
            say(f"  not written: {report.waiting}")
        else:
            say("  nothing to write: the log is up to date")
        if args.no_digest:
            return 0
        if not config.rule_settings().is_open(today):
            say(
                f"  today, {format_day(today, config.clinic.date_order)}, the clinic is closed: the"
                " log was synced,"
                " no digests are sent"
            )
            return 0
        run = send_digests(
            report,
            config,
            state,
            open_delivery(config, os.environ),
            today=today,
            now=_clinic_now(config, today),
            force=args.force_digest,
        )
        if not run.waiting:  # as the daemon does: `status` then names the next day's
            state.mark_digests_done(today)
        if any(key.startswith("report-") for key in run.sent):
            say("  last month's report sent to the manager")
    return _print_digests(run, config)


def _problem(exc: Exception) -> str:
    """A failed sync's cause for `status`: an unexpected error by its kind alone, as its text
    may quote a patient's cell."""
    if isinstance(exc, SheetsSyncError):
        return str(exc)
    return f"unexpected error ({type(exc).__name__}); its details are in {ERRORS_LOG}"


def _clinic_now(config: Config, today: date) -> datetime:
    """The clinic's time now; with `--today`, that day at the current time of day, so the
    digest time and cut-off apply as they would on it."""
    zone = config.clinic.timezone
    return datetime.combine(today, datetime.now(zone).time(), zone)


def _print_digests(run: DigestRun, config: Config) -> int:
    """The round's outcome, one line per cause; 1 when any digest is not delivered."""
    if run.sent:
        say(f"  digests: {len(run.sent)} sent through {_route(config)}")
    elif not run.waiting and not run.failed:
        say("  digests: none to send (sent already today, or nothing due)")
    for line in run.problems():
        say(f"  {line}")
    return 1 if run.waiting or run.failed else 0


def _summary_lines(config: Config, backend: Backend, report: CycleReport, today: date) -> list[str]:
    flags = Counter(row.decision.flag for row in report.plan.rows)
    # In the flags' own order, so that two days' lines read alike.
    counts = ", ".join(f"{flags[flag]} {flag.value.lower()}" for flag in Flag if flags[flag])
    return [
        f"{config.clinic.name}: {backend.description}, "
        f"{format_day(today, config.clinic.date_order, with_year=True)}",
        f"  {counted(report.rows, 'prospect')}: {counts}",
    ]


def _print_changes(report: CycleReport, date_order: DateOrder) -> None:
    changes = report.plan.changes
    names = {col: name for name, col in changes.layout.managed.items()}
    labels = {**MANAGED_LABELS, "sync_id": "Sync ID"}
    by_row: dict[int, list[str]] = {}
    for (row, col), value in sorted(changes.cells.items()):
        shown = (
            format_day(value, date_order, with_year=True)
            if isinstance(value, date)
            else (value or "(cleared)")
        )
        field = "new header" if row == changes.layout.header_row else labels[names[col]]
        by_row.setdefault(row, []).append(f"{field} → {shown}")
    count = len(changes.cells)
    changes_text = f"{counted(count, 'cell')} in {counted(len(by_row), 'row')}"
    say(f"  would change {changes_text} (dry run: nothing written):")
    for row, cells in by_row.items():
        say(f"    row {row}: " + "; ".join(cells))


def _check(args: argparse.Namespace, config: Config, today: date) -> int:
    backend = open_backend(config, os.environ)
    with State(config.daemon.state_dir) as state:
        report = sync(backend, config, state, today=today, dry_run=True)
    layout = report.plan.changes.layout
    say(f"Config: OK. Log: {backend.description}, header on row {layout.header_row}.")
    for col, header in layout.new_headers.items():
        say(f'  the column "{header}" will be created in column {column_letters(col)}')
    book = address_book(report.snapshot.staff, config.owners)
    snapshot = report.snapshot
    staff_missing = missing_staff_sheet(
        snapshot.staff, config.source.staff_worksheet, snapshot.sheet_names
    )
    problems = log_problems(report.plan.rows, layout, book, report.plan.resorted, staff_missing)
    problems += staff_problems(report.snapshot.staff)
    problems += placeholder_problems(config.owners)
    problems += sheet_settings_problems(report.snapshot, config, today)
    if password := password_problem(config, os.environ):
        problems.append(f"Mail: {password}")
    for problem in problems:
        say(f"  {problem}")
    say(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} found.")
    return 1 if problems else 0


def _history(args: argparse.Namespace, config: Config, today: date) -> int:
    return _show_history(args, config, _history_of(args, config, today))


def _history_of(args: argparse.Namespace, config: Config, today: date) -> list[HistoryLine]:
    """The touch log's lines, of the prospect asked for or of everyone."""
    backend = open_backend(config, os.environ)
    with State(config.daemon.state_dir) as state:
        report = sync(backend, config, state, today=today, dry_run=True)
        logged = state.touches(backend.description, since=args.since)
    rows = report.plan.rows
    chosen = prospect_ids(rows, logged, args.prospect) if args.prospect else None
    return history_lines(rows, logged, chosen)


def _show_history(args: argparse.Namespace, config: Config, lines: list[HistoryLine]) -> int:
    if out := args.csv or args.xlsx:
        (write_csv if args.csv else write_xlsx)(lines, out)
        say(f"Wrote {counted(len(lines), 'entry', 'entries')} of the touch log to {out}.")
        return 0
    for line in history_table(lines, config.clinic.date_order):
        say(line)
    return 0


def _report(args: argparse.Namespace, config: Config, today: date) -> int:
    """The report (default: the 12 months ending today), printed; as a page or a workbook."""
    period = report_period(
        today=today, month=args.month, year=args.year, first=args.first, last=args.last
    )
    backend = open_backend(config, os.environ)
    with State(config.daemon.state_dir) as state:
        cycle = sync(backend, config, state, today=today, dry_run=True)
        report = clinic_report(cycle, config, state, period, today)
    order, currency = config.clinic.date_order, config.clinic.currency
    for line in report_text(report, date_order=order, currency=currency).splitlines():
        say(line)
    if args.html:
        write_html(report, args.html, date_order=order, currency=currency)
        say(f"Wrote the report as a page to {args.html}.")
    if args.xlsx:
        write_report_xlsx(report, args.xlsx, date_order=order)
        say(f"Wrote the report's tables to {args.xlsx}.")
    return 0


def _explain(args: argparse.Namespace, config: Config, today: date) -> int:
    return _say_lines(args, config, _explained(args, config, today))


def _explained(args: argparse.Namespace, config: Config, today: date) -> list[str]:
    """Why the prospect's next touch is what it is, and its touch log."""
    backend = open_backend(config, os.environ)
    order = config.clinic.date_order
    with State(config.daemon.state_dir) as state:
        report = sync(backend, config, state, today=today, dry_run=True)
        changes = report.plan.changes
        prospect = find_prospect(report.plan.rows, changes, args.prospect)
        touches = state.touches(backend.description, sync_id=prospect.sync_id)
    return explain_lines(prospect, changes, today, order) + touch_log_lines(touches, order)


def _say_lines(args: argparse.Namespace, config: Config, lines: list[str]) -> int:
    for line in lines:
        say(line)
    return 0


# Commands about one prospect: how to look for it in a clinic, how to show what was found, and
# what a clinic without it raises (`find_in_clinics`, when no `--clinic` says where it is).
_SEARCHES: dict[str, tuple[Callable[..., Any], Callable[..., int], type[SheetsSyncError]]] = {
    "explain": (_explained, _say_lines, ExplainNotFound),
    "history": (_history_of, _show_history, HistoryNotFound),
}


def _run(args: argparse.Namespace, group: Group) -> int:
    """The whole group as one service (a clinic alone is a group of one)."""
    setup_logging(args.log_format)
    service = group_service(group, os.environ)
    stops = [
        signal.SIGTERM,
        signal.SIGINT,
        *([signal.SIGBREAK] if hasattr(signal, "SIGBREAK") else []),
    ]
    for stop in stops:  # finish the jobs under way, then leave
        signal.signal(stop, lambda number, frame: service.stop.set())
    service.run()
    return 0


def _status(args: argparse.Namespace, config: Config, today: date) -> int:
    with State(config.daemon.state_dir) as state:
        for line in status_lines(config, state, _clinic_now(config, today)):
            say(line)
    return 0


# What a group's `status` shows of each clinic's status lines, and in which words.
_AT_A_GLANCE = {
    "Last sync": "last sync",
    "Failing since": "failing since",
    "Next digests": "next digests",
    "Monthly report": "monthly report",
}


def _status_glance(clinic: Clinic, today: date) -> int:
    """One clinic of a group in one line: its last sync and outcome, failing since when,
    its next digests and its monthly report (`status --clinic` shows it all)."""
    config = clinic.config
    with State(config.daemon.state_dir) as state:
        lines = status_lines(config, state, _clinic_now(config, today))
    told = dict(line.partition(": ")[::2] for line in lines)
    parts = [f"{words} {told[label]}" for label, words in _AT_A_GLANCE.items() if label in told]
    say(f"{clinic.key} ({clinic.name}): " + "; ".join(parts))
    return 0


def _send_test(args: argparse.Namespace, config: Config, today: date) -> int:
    now = datetime.now(config.clinic.timezone)
    route = _route(config)
    message = render_check_message(
        clinic=config.clinic.name,
        sender=config.mail.sender,
        to=args.address,
        route=route,
        now=now,
        date_order=config.clinic.date_order,
    )
    delivery = open_delivery(config, os.environ)
    try:
        delivery.send(message, f"send-test-{now:%Y%m%d-%H%M%S}")
    except DeliveryFailed as exc:
        say(f"sheets-sync: the test message was not sent: {exc}", err=True)
        return 1
    finally:
        delivery.close()
    say(f"Sent a test message to {args.address} through {route}.")
    if config.mail.mode == "outbox":
        say('Nothing goes out by email with mode = "outbox": set [mail] mode = "smtp" to send.')
    else:
        say("Look for it in that inbox, and in its spam folder.")
    return 0


def _route(config: Config) -> str:
    """Which way mail goes, in the IT person's words."""
    smtp = config.mail.smtp
    if config.mail.mode == "smtp" and smtp:
        return f"{smtp.host}:{smtp.port} ({smtp.security})"
    return f"the outbox folder {config.mail.outbox}"


def _google_login(args: argparse.Namespace, config: Config, today: date) -> int:
    client_file = args.client_file or config.source.credentials
    if client_file is None:
        raise SheetsSyncError(
            "google-login needs the OAuth client file (type Desktop app): pass --client-file "
            'FILE, or set [source].credentials to it with auth = "user"'
        )
    token = user_token_file(config.daemon.state_dir)

    def show(url: str) -> None:
        say("Open this address in a browser, sign in with a Google account that may edit")
        say("the sheet, and choose Allow (sheets-sync waits here for 5 minutes):")
        say(url)

    google_login(client_file, token, show=show, open_browser=not args.no_browser)
    say(f"Signed in. The sign-in is kept in {token}, readable by this user only.")
    if config.source.auth != "user":
        say('Set auth = "user" in [source] so that sheets-sync signs in this way.')
    return 0


def _on_google_sheets(clinics: Sequence[Clinic]) -> tuple[Clinic, ...]:
    """The clinics whose log is a Google Sheet: `google-login` over a group signs in for each
    of them, and for no clinic whose log is a workbook."""
    chosen = tuple(clinic for clinic in clinics if clinic.config.source.kind == "gsheets")
    if not chosen:
        raise SheetsSyncError(
            "no clinic of the group keeps its log in a Google Sheet: there is nothing to sign in"
            " to (for one clinic whose log moves to Google, pass --clinic NAME)"
        )
    return chosen


def _preview(args: argparse.Namespace, config: Config, today: date) -> int:
    day = config.rule_settings().next_open_day(today)
    if day != today:
        say(
            f"Today, {format_day(today, config.clinic.date_order)}, the clinic is closed: these"
            f" are the digests for {format_day(day, config.clinic.date_order, with_year=True)},"
            " the next open day."
        )
    backend = open_backend(config, os.environ)
    with State(config.daemon.state_dir) as state:
        report = sync(backend, config, state, today=day, dry_run=True)
        messages = digest_messages(report, config, day)
        if month := monthly_report_due(config, state, day):  # last month's, when it would go
            made = monthly_report_message(report, config, state, month, day)
            messages.append((monthly_report_key(month), made))
    folder = args.out or config.daemon.state_dir / "preview"
    for recipient, message in messages:
        for path in write_preview(message, folder, f"{day.isoformat()}-{recipient}"):
            say(str(path))
    if not messages:
        say(
            f"No digests for {format_day(day, config.clinic.date_order, with_year=True)}:"
            " nothing is due."
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
