"""One cycle: read the log, decide every row, write the managed cells, send the day's digests.

Everything the cycle touches comes in as an argument (backend, state, delivery, the clinic's
date), so the same code serves `once`, the daemon, previews and the tests.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass, replace
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from functools import partial
from pathlib import Path
from typing import NamedTuple

from sheets_sync import __version__
from sheets_sync.backends.base import Backend, Snapshot, SourceBusy, SourceChanged, SourceError
from sheets_sync.backends.gsheets import GSheetsBackend
from sheets_sync.backends.gsheets.client import user_token_file
from sheets_sync.backends.xlsx import XlsxBackend
from sheets_sync.config import Config, credentials_problem
from sheets_sync.core.check import resorted_message
from sheets_sync.core.columns import HeaderNotFound, Layout, find_layout
from sheets_sync.core.digest import FollowedUp, OwnerDigest, OwnerTally, build_digests, followed_up
from sheets_sync.core.owners import address_book, address_problems, missing_staff_sheet
from sheets_sync.core.report import Period, Report, build_report
from sheets_sync.core.rule import Settings
from sheets_sync.core.sync import SyncPlan, plan_sync
from sheets_sync.core.touches import SeenCells, Touch, edits_between, seen_cells
from sheets_sync.core.values import read_status, read_text
from sheets_sync.core.words import counted, slug
from sheets_sync.errors import SheetsSyncError
from sheets_sync.mail.deliver import Delivery, PermanentFailure, SetupFailure, TemporaryFailure
from sheets_sync.mail.outbox import Outbox
from sheets_sync.mail.render import render_manager_summary, render_owner_digest
from sheets_sync.mail.report import render_monthly_report
from sheets_sync.mail.smtp import Secret, SmtpDelivery
from sheets_sync.state import State

log = logging.getLogger(__name__)
ATTEMPTS = 3  # reads of a log that keeps changing under us, before the cycle gives up
UNCHANGED = "log unchanged since the last sync"  # a sync's outcome when it had nothing to read


@dataclass
class CycleReport:
    """What one sync did: the snapshot it read, what it decided, whether it wrote."""

    snapshot: Snapshot
    plan: SyncPlan
    written: bool = False
    waiting: str | None = None  # why the write waits for a later cycle
    source: str = ""  # the log, as the state knows it (`Backend.description`)

    @property
    def rows(self) -> int:
        return len(self.plan.rows)

    @property
    def cells_changed(self) -> int:
        return len(self.plan.changes.cells)

    @property
    def outcome(self) -> str:
        """What the sync did, in a few words, for `status` and the log."""
        written = self.cells_changed if self.written else 0
        return f"{counted(self.rows, 'row')} read, {counted(written, 'cell')} written"


def written_words(report: CycleReport) -> str:
    """What a sync wrote, for `once` and the daemon's log: never "wrote 0 cells" for a write
    that happened (one that only put back a date format or the colour rules)."""
    if not report.written:
        return "nothing written"
    if not report.cells_changed:
        return "wrote the managed columns' formatting; no cell changed"
    return f"wrote {counted(report.cells_changed, 'cell')}"


def new_sync_id() -> str:
    return secrets.token_hex(4)


def open_backend(config: Config, environ: Mapping[str, str]) -> Backend:
    """The backend the config's [source] names; a Google key may come from `environ`."""
    source = config.source
    if source.kind == "xlsx" and source.path is not None:
        return XlsxBackend(
            source.path,
            worksheet=source.worksheet,
            staff_worksheet=source.staff_worksheet,
            backup_dir=config.daemon.state_dir / "backups",
            keep_backups=config.daemon.keep_backups,
            timezone=config.clinic.timezone,
        )
    if source.spreadsheet_id is None:
        raise SheetsSyncError("a Google Sheet needs [source].spreadsheet_id")
    if source.auth == "user":  # signed in by `sheets-sync google-login`: no key
        return GSheetsBackend(
            source.spreadsheet_id,
            credentials=user_token_file(config.daemon.state_dir),
            as_user=True,
            worksheet=source.worksheet,
            staff_worksheet=source.staff_worksheet,
        )
    key = source.credentials or environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if not key:
        raise SheetsSyncError(
            "a Google Sheet needs a service-account key: set [source].credentials to the key "
            'file, or GOOGLE_APPLICATION_CREDENTIALS; or sign in as a person: auth = "user" '
            "and `sheets-sync google-login`"
        )
    if source.credentials is None and (problem := credentials_problem(Path(key), source.auth)):
        raise SheetsSyncError(f"GOOGLE_APPLICATION_CREDENTIALS: {problem}")
    return GSheetsBackend(
        source.spreadsheet_id,
        credentials=Path(key),
        worksheet=source.worksheet,
        staff_worksheet=source.staff_worksheet,
    )


def open_delivery(config: Config, environ: Mapping[str, str]) -> Delivery:
    """The delivery [mail] names; the SMTP password comes from `environ`, never the file."""
    smtp = config.mail.smtp
    if config.mail.mode == "outbox" or smtp is None:
        return Outbox(config.mail.outbox)
    if problem := password_problem(config, environ):
        raise SheetsSyncError(problem)
    password = Secret(environ[smtp.password_env]) if smtp.password_env else None
    return SmtpDelivery(smtp, password=password)


def password_problem(config: Config, environ: Mapping[str, str]) -> str | None:
    """Why the SMTP password cannot be had from `environ`, if so: for `check`, before a
    morning's digests find out."""
    smtp = config.mail.smtp
    if config.mail.mode != "smtp" or smtp is None or smtp.password_env is None:
        return None
    if environ.get(smtp.password_env):
        return None
    return (
        f"the environment variable {smtp.password_env} (named by [mail.smtp].password_env)"
        " is not set: set it to the mail account's password for the user running"
        " sheets-sync"
    )


def decide(
    snapshot: Snapshot,
    config: Config,
    today: date,
    state: State,
    source: str,
    new_id: Callable[[], str] = new_sync_id,
) -> SyncPlan:
    """The rule applied to a snapshot: every row's decision and the cells to change."""
    try:
        layout: Layout = find_layout(
            snapshot.rows, config.columns, snapshot.merges, snapshot.tables
        )
    except HeaderNotFound as exc:
        raise SourceError(f"{source}: {exc}") from exc
    plan = plan_sync(
        snapshot.rows,
        layout,
        today,
        config.rule_settings(),
        remembered=state.remembered(source),
        writing=state.writing(source),
        written_before=state.written_before(source),
        identities=state.identities(source),
        new_id=new_id,
        date1904=snapshot.date1904,
        outcome_words=config.outcomes,
        carried_out=state.carried_out(source),
        seen=state.seen_cells(source),
        last_synced=last[1] if (last := state.last_sync(source)) else None,
    )
    for row in plan.rows:
        if row.fault is not None:
            # The row, the column and the kind of fault only: the fault's own words may
            # quote a cell, so they wait for the debug level.
            problem = row.decision.problem
            log.warning(
                "%s: row %d (%s) could not be read (%s); it is flagged CHECK DATA and the"
                " other rows synced",
                source,
                row.row,
                problem.field if problem and problem.field else "the whole row",
                type(row.fault).__name__,
            )
            log.debug("the fault on row %d", row.row, exc_info=row.fault)
    if plan.resorted:
        log.warning("%s: %s", source, resorted_message(plan.resorted))
    return plan


def sync(
    backend: Backend,
    config: Config,
    state: State,
    *,
    today: date,
    dry_run: bool = False,
    accept_fewer: bool = False,
    adopt: bool = False,
    new_id: Callable[[], str] = new_sync_id,
) -> CycleReport:
    """Read, decide and write, starting over when someone saves the log meanwhile.

    A log holding Sync IDs this state folder never made raises AnotherSetup, also in a dry
    run (the digests are sent from one): another sheets-sync syncs it. `adopt` takes such a
    log over on purpose, as after a lost state folder.

    A log that suddenly has no prospects, or lost more than `[daemon] max_prospect_loss` of
    them since the last sync, raises SuspiciousChange and is not written, unless
    `accept_fewer` says the rows were removed on purpose.

    A finished sync (a write, or nothing to write) adds the staff edits since the last one to
    the touch log, in the same transaction as what it remembers (`staff_edits`); a dry run
    or a write that waits records nothing, and the next finished sync sees the same edits.
    """
    source = backend.description
    settings = settings_key(config)
    for _ in range(ATTEMPTS):
        snapshot = backend.read()
        plan = decide(snapshot, config, today, state, source, new_id)
        report = CycleReport(snapshot, plan, source=source)
        if not adopt:
            _refuse_another_setup(snapshot, plan, state, config, source)
        if dry_run:
            return report
        if not accept_fewer:
            _refuse_sudden_loss(report.rows, state.last_prospects(source), config, source)
        remembered = [(row.sync_id, row.remembered) for row in plan.rows]
        if plan.changes:  # killed mid-write, these values may be in the log: ours, not typed
            state.remember_writing(source, remembered)
        if plan.outcomes:  # recorded before the write: carried out once, also after a crash
            state.record_outcomes(source, plan.outcomes, plan.touches)
        try:
            written = backend.write(plan.changes, snapshot.version)
        except SourceChanged:
            log.info("the log changed while it was being synced; reading it again")
            continue
        except SourceBusy as busy:
            report.waiting = str(busy)
            return report
        report.written = written is not None
        seen, edits = staff_edits(snapshot, plan, config, state, source, today)
        state.remember(source, remembered, plan.identities, seen=seen, touches=edits)
        state.record_sync(source, written or snapshot.version, today, settings, report.rows)
        return report
    raise SourceError(
        f"{source} changed {ATTEMPTS} times while it was being synced; nothing was written, "
        "and the next cycle tries again"
    )


def staff_edits(
    snapshot: Snapshot, plan: SyncPlan, config: Config, state: State, source: str, today: date
) -> tuple[dict[str, SeenCells], list[Touch]]:
    """Each prospect's staff cells as this sync saw them, and the touch log's entries for
    those staff changed since the last finished sync (`edits_between`); when the log read is
    an older copy put back, only its touches.

    A row the rule failed on keeps the cells seen before: it is read again once fixed.
    """
    before = state.seen_cells(source)
    settings = config.rule_settings()
    seen = {
        row.sync_id: seen_cells(row.prospect, row.decision, settings, date1904=snapshot.date1904)
        for row in plan.rows
        if row.fault is None
    }
    seen.update(
        {
            row.sync_id: before[row.sync_id]
            for row in plan.rows
            if row.fault and row.sync_id in before
        }
    )
    edited = [sync_id for sync_id, cells in seen.items() if before.get(sync_id, cells) != cells]
    logged = [
        as_seen(entry, settings) for sync_id in edited for entry in state.touches(source, sync_id)
    ]
    edits = edits_between(before, seen, today, logged)
    if any(row.older for row in plan.rows):
        # The log was put back from an older copy: its older statuses, snoozes and owners are
        # no staff edits (an older copy shows no touch: its Last touch is earlier, if anything).
        edits = [entry for entry in edits if entry.kind == "touch"]
    return seen, edits


def as_seen(entry: Touch, settings: Settings) -> Touch:
    """A logged entry as `edits_between` compares it with the cells: a typed status (logged
    as typed, `Booked`) by its class (`won`), as `SeenCells` holds it. Without this, the
    Status cell a typed `booked` wrote was logged a second time as an edit."""
    if entry.kind != "status" or entry.source != "typed":
        return entry
    status, _ = read_status(entry.value, settings.status_words)
    return replace(entry, value=status.value)


class AnotherSetup(SourceError):
    """Another sheets-sync, with another state folder, syncs the same log."""


# The shape of the Sync IDs sheets-sync makes (`new_sync_id`); a cell of another shape is no
# other setup's doing.
_SYNC_ID = re.compile(r"[0-9a-f]{8}")


def _refuse_another_setup(
    snapshot: Snapshot, plan: SyncPlan, state: State, config: Config, source: str
) -> None:
    """Raise AnotherSetup when the log holds Sync IDs this state folder never made.

    Every ID sheets-sync writes is in its state before the write, and staff do not make up
    eight hex digits, so an unknown one was made by another sheets-sync on this log: two
    setups send every digest twice. One that never synced the log refuses at its first
    cycle; of two already running, the one that sees the other's ID on a new row first. A
    state folder made anew after the old one was lost sees the same; `once --adopt` takes
    the log over then, and from that sync on its IDs are known.
    """
    id_col = plan.changes.layout.managed["sync_id"]
    in_log = {
        text
        for result in plan.rows
        if id_col < len(cells := snapshot.rows[result.row - 1])
        and _SYNC_ID.fullmatch(text := read_text(cells[id_col]))
    }
    unknown = sorted(state.unknown_sync_ids(in_log))
    if unknown:
        ids = (
            f"Sync IDs {unknown[0]} and {len(unknown) - 1:,} more were"
            if len(unknown) > 1
            else f"Sync ID {unknown[0]} was"
        )
        raise AnotherSetup(
            f"{source} is already synced by another sheets-sync: its {ids} not made with "
            "this state folder "
            f"({config.daemon.state_dir}), and two setups on one log send every digest twice. "
            "Run only one: stop the other, or point this one's [daemon] state_dir at the "
            "other's state folder. If this state folder replaces one that was lost, run "
            "`sheets-sync once --adopt` once to take the log over"
        )


class SuspiciousChange(SourceError):
    """The log suddenly looks wrong (emptied, or most rows gone): nothing is written."""


def _refuse_sudden_loss(now: int, before: int, config: Config, source: str) -> None:
    limit = config.daemon.max_prospect_loss
    if before and (now == 0 or now < before * (1 - limit)):
        raise SuspiciousChange(
            f"{source} now has {counted(now, 'prospect')}, {before:,} at the last sync: more than "
            f"{limit:.0%} are gone, so nothing was written. If the rows were removed on "
            "purpose, run `sheets-sync once --accept-fewer-rows` once; otherwise restore them "
            "(the workbook's backups are in the state folder)"
        )


def unchanged_since_last_sync(
    backend: Backend, config: Config, state: State, *, today: date
) -> bool:
    """Whether the log is exactly as the last finished sync left it, on the same day and
    with the same settings: then a sync would change nothing, and reading it can wait."""
    version = backend.version()
    last = state.last_sync(backend.description)
    return version is not None and last == (version, today, settings_key(config))


def settings_key(config: Config) -> str:
    """A digest of everything that shapes a sync's result besides the log and the day.

    Sets are sorted first: their order, and so their repr, changes from one run to the next.
    """
    settings = json.dumps(_canonical(config), sort_keys=True)
    return hashlib.sha256(f"{__version__}|{settings}".encode()).hexdigest()


def _canonical(value: object) -> object:
    if is_dataclass(value) and not isinstance(value, type):
        return {field.name: _canonical(getattr(value, field.name)) for field in fields(value)}
    if isinstance(value, Mapping):
        return {str(key): _canonical(item) for key, item in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((_canonical(item) for item in value), key=str)
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    return str(value)


@dataclass
class DigestRun:
    """What one round of sending did, by recipient key (`owner-<name>`,
    `owner-<name>--<hash>` or `manager`), and who each recipient is, for people."""

    sent: list[str] = field(default_factory=list)
    waiting: dict[str, str] = field(default_factory=dict)  # tried again on a later cycle: why
    failed: dict[str, str] = field(default_factory=dict)  # given up for the day: why
    names: dict[str, str] = field(default_factory=dict)  # `Anna Price`, `the manager`
    # The day's counts, as the manager's summary gives them (a group's summary repeats them).
    overdue: int = 0
    due_today: int = 0
    to_check: int = 0

    def problems(self) -> list[str]:
        """The digests not delivered, one line per cause naming everyone it holds up: a mail
        server that is down is one line, not one per owner."""
        lines = []
        for outcome, whys in (
            ("not sent yet, tried again next cycle", self.waiting),
            ("not delivered today", self.failed),
        ):
            by_cause: dict[str, list[str]] = {}
            for recipient, why in whys.items():
                by_cause.setdefault(why, []).append(self.names.get(recipient, recipient))
            lines += [f"{digests_for(who)} {outcome}: {why}" for why, who in by_cause.items()]
        return lines


def digests_for(who: Sequence[str]) -> str:
    """`digest for Anna Price`, or `3 digests, for Anna Price, Ben Okafor and the manager,`."""
    if len(who) == 1:
        return f"digest for {who[0]}"
    return f"{len(who)} digests, for {', '.join(who[:-1])} and {who[-1]},"


SEND_ATTEMPTS = 3  # tries of one message within a cycle when the failure is temporary


def send_digests(
    report: CycleReport,
    config: Config,
    state: State,
    delivery: Delivery,
    *,
    today: date,
    now: datetime,
    force: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> DigestRun:
    """Send each owner's digest, then the manager's summary, each once a day.

    A message is recorded as pending under a fixed Message-ID before it is sent, and as
    sent after, so a crash in between sends it again under the same Message-ID. A temporary
    failure is tried again with backoff, then on later cycles until the day's cut-off; a
    permanent one is given up for the day; a setup failure (login, certificate) stops the
    round and waits for a later cycle. A message that cannot be made, or that the delivery
    chokes on in any other way, is given up for the day for its recipient alone. All are
    reported; none is raised.
    """
    run = DigestRun()
    built = _build(report, config, today)
    if built is None:
        return run
    digests, tally = built
    run.overdue = sum(count.overdue for count in tally.owners)
    run.due_today = sum(count.due_today for count in tally.owners)
    run.to_check = len(tally.check_data)
    past_cutoff = (now.date(), now.time()) >= (today, config.mail.digest_cutoff)
    owners = {due.recipient: due.digest.owner for due in digests}
    run.names = {
        **{due.recipient: due.digest.owner or due.digest.address for due in digests},
        "manager": "the manager",
    }
    _adopt_earlier_records(state, today, digests)

    def give_up(recipient: str, why: str, day: date) -> None:
        state.digest_failed(day, recipient, why, for_good=True)
        run.failed[recipient] = why

    def deliver(
        recipient: str,
        address: str,
        render: Callable[[], EmailMessage],
        *,
        day: date = today,
        again: bool = force,
    ) -> bool:
        """Try one message, recorded under (`day`, `recipient`); False when the round must
        stop (the setup is broken). `again` sends it anew though it was sent or given up."""
        record = state.digest(day, recipient)
        if record is not None and not again:
            if record.status in ("sent", "failed"):
                return True
            if past_cutoff and record.attempts:
                reason = f"not delivered by the cut-off ({config.mail.digest_cutoff:%H:%M})"
                give_up(recipient, f"{record.error}; {reason}", day)
                return True
        reuse = record is not None and record.status == "pending" and not again
        domain = message_domain(config.mail.sender)
        message_id = record.message_id if record and reuse else make_msgid(domain=domain)
        state.digest_pending(day, recipient, message_id, address=address)
        try:
            message = render()
            message["Message-ID"] = message_id
            message["Date"] = format_datetime(now)
        except Exception as exc:  # one digest's bad data must not stop the others
            give_up(recipient, _unsendable("could not be made", exc), day)
            log.debug("the digest for %s could not be made", recipient, exc_info=True)
            return True
        key = f"{day.isoformat()}-{recipient}"
        tries = SEND_ATTEMPTS if not run.waiting else 1  # the server is down: no long waits
        for attempt in range(tries):
            try:
                delivery.send(message, key)
            except TemporaryFailure as exc:
                problem = str(exc)
                if attempt + 1 < tries:
                    sleep(2.0**attempt)
                continue
            except PermanentFailure as exc:
                give_up(recipient, str(exc), day)
                return True
            except SetupFailure as exc:
                state.digest_failed(day, recipient, str(exc), for_good=False)
                run.waiting[recipient] = str(exc)
                return False
            except Exception as exc:  # a message the delivery chokes on stays this one's problem
                give_up(recipient, _unsendable("could not be delivered", exc), day)
                log.debug("the digest for %s could not be delivered", recipient, exc_info=True)
                return True
            state.digest_sent(day, recipient, at=now)
            run.sent.append(recipient)
            return True
        state.digest_failed(day, recipient, problem, for_good=False)
        run.waiting[recipient] = problem
        return True

    month = monthly_report_due(config, state, today, again=force)
    if month is not None:
        run.names[monthly_report_key(month)] = f"the manager ({month.first:%B %Y} report)"

    def send_report(month: Period, address: str) -> None:
        """Last month's report, after the summary; figures that cannot be made (the touch
        log unreadable) wait for a later cycle, with no record begun."""
        key = monthly_report_key(month)
        try:
            figures = clinic_report(report, config, state, month, today)
        except Exception as exc:
            run.waiting[key] = f"the report's figures could not be made ({_kind(exc)})"
            log.debug("the figures of %s could not be made", key, exc_info=True)
            return
        deliver(key, address, partial(_report_message, figures, config), day=month.first)

    try:
        for index, due in enumerate(digests):
            message = partial(_owner_message, due.digest, config)
            if not deliver(due.recipient, due.digest.address, message):
                # The setup is broken: everyone after waits for the same fix.
                held = [later.recipient for later in digests[index + 1 :]]
                held += ["manager"] if config.mail.manager else []
                held += [monthly_report_key(month)] if month else []
                for recipient in held:
                    run.waiting[recipient] = run.waiting[due.recipient]
                break
        else:
            if config.mail.manager:
                undelivered = [
                    (owners[recipient], why)
                    for recipient, why in {**run.waiting, **run.failed}.items()
                    if recipient in owners
                ]
                touches = followed_up_since(report, config, state, today)
                summary = partial(_summary, tally, config, today, undelivered, touches)
                address = parseaddr(config.mail.manager)[1]
                if deliver("manager", address, summary) and month is not None:
                    send_report(month, address)
    finally:
        delivery.close()
    for line in run.problems():
        log.warning("%s", line)
    return run


def monthly_report_key(month: Period) -> str:
    """The monthly report's key in the state and the outbox, `report-2026-10`: recorded under
    the first day of the month it reports, so each month's report has one record."""
    return f"report-{month.first:%Y-%m}"


def monthly_report_due(
    config: Config, state: State, today: date, *, again: bool = False
) -> Period | None:
    """The month whose report (SPEC §10) the manager gets today, if any: last month's, on an
    open day, until it is sent or given up. The first open day of a month sends it; a day
    missed (the computer off) leaves it to the next open day of the same month, and never
    to the month after. `again` (`--force-digest`) tries a report given up anew; a sent one
    is never sent twice.

    Only a month in which the manager was already getting the daily summary is reported: a
    clinic that starts sheets-sync mid-November gets no report on an October it never saw.
    """
    if config.mail.manager is None or not config.report.monthly:
        return None
    if not config.rule_settings().is_open(today):
        return None
    month = Period.month_before(today)
    began = state.first_digest_day("manager")
    if began is None or began > month.last:
        return None
    record = state.digest(month.first, monthly_report_key(month))
    if record is None or record.status == "pending" or (again and record.status == "failed"):
        return month
    return None


def monthly_report_message(
    report: CycleReport, config: Config, state: State, month: Period, today: date
) -> EmailMessage:
    """The manager's report on `month`, from this cycle's rows and the touch log."""
    return _report_message(clinic_report(report, config, state, month, today), config)


def clinic_report(
    report: CycleReport, config: Config, state: State, period: Period, today: date
) -> Report:
    """The clinic's report (SPEC §10) for `period`, from a cycle's rows (a dry run will do)
    and its touch log."""
    return build_report(
        report.plan.rows,
        state.touches(report.source),
        period,
        today=today,
        settings=config.rule_settings(),
        clinic=config.clinic.name,
        date1904=report.snapshot.date1904,
        book=address_book(report.snapshot.staff, config.owners),
    )


def _report_message(figures: Report, config: Config) -> EmailMessage:
    return render_monthly_report(
        figures,
        sender=config.mail.sender,
        to=parseaddr(config.mail.manager or "")[1],
        detail=config.mail.detail,
        date_order=config.clinic.date_order,
        currency=config.clinic.currency,
    )


def _unsendable(what: str, exc: Exception) -> str:
    """Why a digest was given up for the day, without the exception's own text: it may quote a
    patient's cell."""
    return (
        f"the message {what} ({_kind(exc)}), probably because of unusual characters in one"
        " of its rows; no other digest is held up by it. Please report this to whoever looks"
        " after sheets-sync"
    )


def _kind(exc: Exception) -> str:
    return type(exc).__name__


def _adopt_earlier_records(state: State, today: date, digests: Sequence[_Due]) -> None:
    """Give today's digest records made under the keys of schema 6 and before to the owner
    they were sent to, so an upgrade in the middle of a day resends nothing.

    Those keys came from names, and colliding owners shared one; the first of them in the
    digest's order was sent and the others were skipped. The order has not changed, so the
    first owner with each earlier key takes its record and the others now get their digest.
    """
    claimed: set[str] = set()
    for due in digests:
        if due.earlier not in claimed:
            claimed.add(due.earlier)
            state.adopt_earlier_digest(today, due.earlier, due.recipient, due.digest.address)


def digest_messages(
    report: CycleReport, config: Config, today: date
) -> list[tuple[str, EmailMessage]]:
    """The day's messages, (recipient, message): owners with anything due, and the manager.

    The recipient is a file-name-safe key, one per address (see `_recipient`) or `manager`,
    that also names the digest in the state store.
    """
    built = _build(report, config, today)
    if built is None:
        return []
    digests, tally = built
    messages = [(due.recipient, _owner_message(due.digest, config)) for due in digests]
    if config.mail.manager:
        messages.append(("manager", _summary(tally, config, today)))
    return messages


class _Due(NamedTuple):
    """An owner's digest for the day, with its key and the key it had before schema 7."""

    recipient: str
    earlier: str
    digest: OwnerDigest


def _build(
    report: CycleReport, config: Config, today: date
) -> tuple[list[_Due], OwnerTally] | None:
    """The day's digests by recipient, and the manager's tallies; None on a day the clinic
    is closed."""
    if not config.rule_settings().is_open(today):
        return None
    snapshot = report.snapshot
    book = address_book(snapshot.staff, config.owners)
    digests, tally = build_digests(
        report.plan.rows,
        day=today,
        book=book,
        link=snapshot.link,
        problems=address_problems(snapshot.staff, config.owners),
        resorted=report.plan.resorted,
        staff_missing=missing_staff_sheet(
            snapshot.staff, config.source.staff_worksheet, snapshot.sheet_names
        )
        or "",
    )
    return [
        _Due(_recipient(d.address, book), _legacy_recipient(d.address, book), d) for d in digests
    ], tally


def _recipient(address: str, book: Mapping[str, str]) -> str:
    """An owner's key in the state and the outbox: one per address, ignoring case.

    It follows the address, so that owner cells naming the person in the morning and holding
    their address later (or the other way round) never make two digests in one day. An owner
    whose name is plain ASCII words keeps the readable `owner-anna-price`: such names map to
    their slugs one to one. Any other name (Zoë, Anne-Marie, Ольга) loses letters in a slug,
    so its key also carries a hash of the address, after a double hyphen no plain slug has:
    `owner-zoe-smith--3f2a9c1b`.
    """
    name = _book_name(address, book)
    if name is not None and _PLAIN_NAME.fullmatch(name):
        return f"owner-{name.replace(' ', '-')}"
    readable = slug(name or "") or slug(address.partition("@")[0])
    digest = hashlib.sha256(address.casefold().encode("utf-8")).hexdigest()[:8]
    return f"owner-{readable[:40].strip('-')}--{digest}"


_PLAIN_NAME = re.compile(r"[a-z0-9]+( [a-z0-9]+)*")  # an owner key whose slug loses nothing


def _legacy_recipient(address: str, book: Mapping[str, str]) -> str:
    """The key sheets-sync gave this owner before keys followed addresses (schema 6), when
    different names could share one (every Greek name was `owner-owner`)."""
    name = _book_name(address, book)
    return f"owner-{slug(name if name is not None else address) or 'owner'}"


def _book_name(address: str, book: Mapping[str, str]) -> str | None:
    """The first of the owner keys the book maps to `address`, if any."""
    names = sorted(name for name, known in book.items() if known.casefold() == address.casefold())
    return names[0] if names else None


def _owner_message(digest: OwnerDigest, config: Config) -> EmailMessage:
    return render_owner_digest(
        digest,
        clinic=config.clinic.name,
        sender=config.mail.sender,
        detail=config.mail.detail,
        max_rows=config.mail.digest_max_rows,
        date_order=config.clinic.date_order,
        currency=config.clinic.currency,
        clinic_in_subject=bool(config.group),
    )


def followed_up_since(report: CycleReport, config: Config, state: State, today: date) -> FollowedUp:
    """The touches logged by owner since the last open day's summary: on a Monday, those of
    Friday and the weekend (at most a fortnight back, after a long closure)."""
    settings = config.rule_settings()
    since = today - timedelta(days=1)
    while not settings.is_open(since) and since > today - timedelta(days=14):
        since -= timedelta(days=1)
    logged = state.touches(report.source)
    return followed_up(report.plan.rows, logged, since=since, day=today)


def _summary(
    tally: OwnerTally,
    config: Config,
    today: date,
    undelivered: Sequence[tuple[str, str]] = (),
    touches: FollowedUp | None = None,
) -> EmailMessage:
    manager = config.mail.manager or ""
    summary = tally.summary(
        day=today,
        clinic=config.clinic.name,
        address=parseaddr(manager)[1],
        undelivered=undelivered,
        touches=touches,
    )
    return render_manager_summary(
        summary,
        sender=config.mail.sender,
        detail=config.mail.detail,
        max_rows=config.mail.digest_max_rows,
        date_order=config.clinic.date_order,
        currency=config.clinic.currency,
        clinic_in_subject=bool(config.group),
    )


def message_domain(sender: str) -> str:
    """The domain of the Message-IDs sheets-sync makes: the sender's."""
    return parseaddr(sender)[1].rpartition("@")[2] or "sheets-sync.invalid"
