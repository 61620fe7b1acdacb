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
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, is_dataclass
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

from sheets_sync import __version__
from sheets_sync.backends.base import Backend, Snapshot, SourceBusy, SourceChanged, SourceError
from sheets_sync.backends.xlsx import XlsxBackend
from sheets_sync.config import Config
from sheets_sync.core.columns import HeaderNotFound, Layout, find_layout
from sheets_sync.core.digest import OwnerTally, build_digests
from sheets_sync.core.owners import address_book
from sheets_sync.core.sync import SyncPlan, plan_sync
from sheets_sync.errors import SheetsSyncError
from sheets_sync.mail.deliver import Delivery
from sheets_sync.mail.render import render_manager_summary, render_owner_digest
from sheets_sync.state import State

log = logging.getLogger(__name__)
ATTEMPTS = 3  # reads of a log that keeps changing under us, before the cycle gives up


@dataclass
class CycleReport:
    """What one sync did: the snapshot it read, what it decided, whether it wrote."""

    snapshot: Snapshot
    plan: SyncPlan
    written: bool = False
    waiting: str | None = None  # why the write waits for a later cycle

    @property
    def rows(self) -> int:
        return len(self.plan.rows)

    @property
    def cells_changed(self) -> int:
        return len(self.plan.changes.cells)


def new_sync_id() -> str:
    return secrets.token_hex(4)


def open_backend(config: Config) -> Backend:
    """The backend the config's [source] names."""
    source = config.source
    if source.kind == "xlsx" and source.path is not None:
        return XlsxBackend(
            source.path,
            worksheet=source.worksheet,
            staff_worksheet=source.staff_worksheet,
            backup_dir=config.daemon.state_dir / "backups",
        )
    raise SheetsSyncError(
        f'[source].kind = "{source.kind}" is not supported by this version; use "xlsx"'
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
        layout: Layout = find_layout(snapshot.rows, config.columns)
    except HeaderNotFound as exc:
        raise SourceError(f"{source}: {exc}") from exc
    return plan_sync(
        snapshot.rows,
        layout,
        today,
        config.rule_settings(),
        remembered=state.remembered(source),
        new_id=new_id,
        date1904=snapshot.date1904,
    )


def sync(
    backend: Backend,
    config: Config,
    state: State,
    *,
    today: date,
    dry_run: bool = False,
    new_id: Callable[[], str] = new_sync_id,
) -> CycleReport:
    """Read, decide and write, starting over when someone saves the log meanwhile."""
    source = backend.description
    settings = settings_key(config)
    for _ in range(ATTEMPTS):
        snapshot = backend.read()
        report = CycleReport(snapshot, decide(snapshot, config, today, state, source, new_id))
        plan = report.plan
        if dry_run:
            return report
        try:
            written = backend.write(plan.changes, snapshot.version)
        except SourceChanged:
            log.info("the log changed while it was being synced; reading it again")
            continue
        except SourceBusy as busy:
            report.waiting = str(busy)
            return report
        report.written = written is not None
        state.remember(source, ((row.sync_id, row.remembered) for row in plan.rows))
        state.record_sync(source, written or snapshot.version, today, settings)
        return report
    raise SourceError(
        f"{source} changed {ATTEMPTS} times while it was being synced; nothing was written, "
        "and the next cycle tries again"
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


def send_digests(
    report: CycleReport,
    config: Config,
    state: State,
    delivery: Delivery,
    *,
    today: date,
    now: datetime,
    force: bool = False,
) -> list[str]:
    """Send each owner's digest, and the manager's summary, unless sent already today."""
    messages = digest_messages(report, config, today)
    sent = []
    for recipient, message in messages:
        begun = state.digest(today, recipient)
        if begun is not None and begun[1] == "sent" and not force:
            continue
        message_id = begun[0] if begun and not force else make_msgid(domain=_domain(config))
        state.digest_pending(today, recipient, message_id)
        message["Message-ID"] = message_id
        message["Date"] = format_datetime(now)
        delivery.send(message, f"{today.isoformat()}-{recipient}")
        state.digest_sent(today, recipient)
        sent.append(recipient)
    return sent


def digest_messages(
    report: CycleReport, config: Config, today: date
) -> list[tuple[str, EmailMessage]]:
    """The day's messages, (recipient, message): owners with anything due, and the manager.

    The recipient is a file-name-safe key, `owner-<name>` or `manager`, that also names the
    digest in the state store.
    """
    if not config.rule_settings().is_open(today):
        return []
    snapshot = report.snapshot
    book = address_book(snapshot.staff, config.owners)
    digests, tally = build_digests(report.plan.rows, day=today, book=book, link=snapshot.link)
    messages = [
        (
            f"owner-{_slug(digest.owner)}",
            render_owner_digest(digest, clinic=config.clinic.name, sender=config.mail.sender),
        )
        for digest in digests
    ]
    if config.mail.manager:
        messages.append(("manager", _summary(tally, config, today)))
    return messages


def _summary(tally: OwnerTally, config: Config, today: date) -> EmailMessage:
    manager = config.mail.manager or ""
    summary = tally.summary(day=today, clinic=config.clinic.name, address=parseaddr(manager)[1])
    return render_manager_summary(summary, sender=config.mail.sender)


def _domain(config: Config) -> str:
    return parseaddr(config.mail.sender)[1].rpartition("@")[2] or "sheets-sync.invalid"


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "owner"
