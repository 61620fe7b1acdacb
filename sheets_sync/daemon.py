"""The daemon: a sync every few minutes and the morning digests, unattended, for months.

`schedule` runs two jobs: the sync, every `sync_every_minutes`, and a check, every minute,
whether the day's digests are due. Whether they are due is decided here, in the clinic's
time zone: an open day, at or after `digest_time`, before `digest_cutoff`, not yet done. So a
daemon started, or woken from sleep, after the digest time still sends the day's digests,
and a daylight-saving change can neither skip nor double them. A job's error is contained:
logged, recorded for `status`, and never in the way of the other job or the next cycle.

The clock and the stop event are injected: the tests drive whole days in a moment.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from email.message import EmailMessage
from functools import partial
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import filelock
import schedule

from sheets_sync.backends.base import Backend, Snapshot, SourceBusy
from sheets_sync.config import ClinicConfig, Config
from sheets_sync.core.locale import settings_problems
from sheets_sync.core.values import format_day
from sheets_sync.core.words import counted
from sheets_sync.engine import (
    UNCHANGED,
    SuspiciousChange,
    digests_for,
    open_backend,
    open_delivery,
    send_digests,
    sync,
    unchanged_since_last_sync,
)
from sheets_sync.errors import SheetsSyncError
from sheets_sync.folders import private_folder
from sheets_sync.logs import clinic_logged, record_unexpected
from sheets_sync.mail.deliver import Delivery
from sheets_sync.mail.notices import render_alert, render_recovery
from sheets_sync.state import State, StateError

log = logging.getLogger(__name__)


class Clock(Protocol):
    def now(self) -> datetime:
        """The time now, time-zone aware."""
        ...

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        """Wait `seconds`, or less when `stop` is set meanwhile."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        stop.wait(seconds)


class AlreadyRunning(SheetsSyncError):
    """Another daemon holds the state folder."""


@dataclass
class Daemon:
    config: Config
    environ: Mapping[str, str]
    clock: Clock = field(default_factory=SystemClock)
    stop: threading.Event = field(default_factory=threading.Event)
    backend: Backend | None = None  # default: the one [source] names
    delivery: Callable[[], Delivery] | None = None  # default: the one [mail] names
    _settings_told: bool = field(default=False, init=False)  # the sheet's settings, once a run

    def run(self) -> None:
        """Sync and send until `stop` is set: a service of this one clinic (`Service`)."""
        Service([("", self)], stop=self.stop, clock=self.clock).run()

    def say_running(self) -> None:
        log.info(
            "sheets-sync is running: a sync every %s, digests at %s (%s)",
            counted(self.config.daemon.sync_every_minutes, "minute"),
            f"{self.config.mail.digest_time:%H:%M}",
            self.config.clinic.timezone.key,
        )

    def contained(self, job: str, state: State) -> None:
        """Run one job ("sync" or "digests"); whatever it raises is logged and recorded, and
        kept from the service."""
        self._contained(self.sync_once if job == "sync" else self.digests_if_due, state)

    # --- the two jobs ---------------------------------------------------------------------

    def sync_once(self, state: State) -> None:
        """One sync of the log; its outcome goes to the log and the health record."""
        started = self.clock.now()
        today = self._local(started).date()
        backend = self._backend()
        if unchanged_since_last_sync(backend, self.config, state, today=today):
            log.info("sync: the log is unchanged since the last sync; nothing to do")
            self._succeeded(state, UNCHANGED)
            return
        try:
            report = sync(backend, self.config, state, today=today)
        except Exception as exc:
            self._failed(state, exc)
            return
        if not self._settings_told:
            self._settings_told = True
            for problem in sheet_settings_problems(report.snapshot, self.config, today):
                log.warning("the log's settings: %s", problem)
        seconds = (self.clock.now() - started).total_seconds()
        if report.waiting:
            self._failed(state, SourceBusy(report.waiting), outcome=report.outcome)
            return
        log.info("sync: %s (%.1f s)", report.outcome, seconds)
        self._succeeded(state, report.outcome)

    def digests_if_due(self, state: State) -> None:
        """Send the day's digests when they are due and not done yet."""
        local = self._local(self.clock.now())
        today = local.date()
        mail = self.config.mail
        if state.digests_done(today) or not self.config.rule_settings().is_open(today):
            return
        if local.time() < mail.digest_time:
            return
        if local.time() >= mail.digest_cutoff:
            state.mark_digests_done(today)
            log.warning(
                "the digests for %s were not all sent before the cut-off %s (was sheets-sync "
                "stopped, the computer asleep, or the mail server down?); `sheets-sync once "
                "--force-digest` sends them by hand",
                today.isoformat(),
                f"{mail.digest_cutoff:%H:%M}",
            )
            return
        # Read and decide afresh: the digests do not wait for a write that keeps failing.
        report = sync(self._backend(), self.config, state, today=today, dry_run=True)
        run = send_digests(report, self.config, state, self._delivery(), today=today, now=local)
        if not run.waiting:
            state.mark_digests_done(today)
        log.info(
            "digests: %d sent, %d to try again, %d not delivered",
            len(run.sent),
            len(run.waiting),
            len(run.failed),
        )

    def _contained(self, job: Callable[[State], None], state: State) -> None:
        """Run a job; whatever it raises is logged and kept from the loop."""
        try:
            job(state)
        except Exception as exc:
            if job == self.sync_once:
                self._failed(state, exc)
            else:
                log.warning("%s: %s", _job_name(job), self._problem(exc))

    def _problem(self, exc: BaseException) -> str:
        """An error as one line for people. An unexpected one names only its kind: its text
        may quote a patient's cell; where in the code it happened goes to errors.log."""
        if isinstance(exc, SheetsSyncError):
            return str(exc)
        folder = self.config.daemon.state_dir
        try:
            where = f"where it happened is in {record_unexpected(exc, folder, 'run')}"
        except OSError:
            where = "its details could not be saved"
        return f"unexpected error ({type(exc).__name__}); the next cycle tries again; {where}"

    # --- health and alerts ---------------------------------------------------------------

    def _succeeded(self, state: State, outcome: str) -> None:
        before, _ = state.record_sync_outcome(self.clock.now(), outcome)
        if before is not None and before.failing_since is not None and before.alert_sent:
            self._notify(
                partial(render_recovery, since=before.failing_since.astimezone(self._zone))
            )

    def _failed(self, state: State, exc: BaseException, outcome: str = "failed") -> None:
        now = self.clock.now()
        problem = self._problem(exc)
        log.warning("sync: %s", problem)
        _, health = state.record_sync_outcome(now, outcome, problem)
        since = health.failing_since or now
        limit = timedelta(hours=self.config.daemon.alert_after_hours)
        urgent = isinstance(exc, SuspiciousChange)  # the log looks damaged: say so at once
        if not health.alert_sent and (urgent or now - since >= limit):
            local_since = since.astimezone(self._zone)
            waiting = isinstance(exc, SourceBusy)
            alert = partial(render_alert, since=local_since, problem=problem, waiting=waiting)
            if self._notify(alert):
                state.record_health(replace(health, alert_sent=True))

    def _notify(self, render: Callable[..., EmailMessage]) -> bool:
        """Send the manager a notice; False when there is no manager or it failed."""
        manager = self.config.mail.manager
        if manager is None:
            return False
        now = self._local(self.clock.now())
        message = render(
            clinic=self.config.clinic.name,
            sender=self.config.mail.sender,
            to=manager,
            now=now,
            date_order=self.config.clinic.date_order,
        )
        delivery = self._delivery()
        try:
            delivery.send(message, f"notice-{now:%Y%m%d-%H%M%S}")
        except SheetsSyncError as exc:
            log.warning("the manager could not be told: %s", exc)
            return False
        finally:
            delivery.close()
        return True

    # --- parts ---------------------------------------------------------------------------

    @property
    def _zone(self) -> ZoneInfo:
        return self.config.clinic.timezone

    def _local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.config.clinic.timezone)

    def _backend(self) -> Backend:
        if self.backend is None:
            self.backend = open_backend(self.config, self.environ)
        return self.backend

    def _delivery(self) -> Delivery:
        if self.delivery is not None:
            return self.delivery()
        return open_delivery(self.config, self.environ)


# Clinics synced at the same moment, at most. Most of a sync is waiting on a file share or on
# Google; a few workers keep a stalled clinic from holding up the rest.
WORKERS = 8


@dataclass
class Service:
    """One service for one clinic or a group (SPEC §11): each clinic's syncs and digests,
    side by side.

    `schedule` says when each clinic's jobs are due: its sync every `sync_every_minutes`,
    and every minute a check whether its digests are due (in its own time zone, at its own
    `digest_time`). A due job joins the clinic's queue; a pool of worker threads runs the
    queues, one job of a clinic at a time, clinics side by side. So a clinic whose workbook
    is locked, whose Google key was revoked or whose file share stalls holds up its own queue
    and one worker, never another clinic's sync or digests; its failure is recorded and told
    for that clinic alone (`Daemon.contained`).
    """

    clinics: Sequence[tuple[str, Daemon]]  # (the clinic's key in a group, "" alone; its jobs)
    stop: threading.Event = field(default_factory=threading.Event)
    clock: Clock = field(default_factory=SystemClock)
    workers: int = WORKERS

    def run(self) -> None:
        """Until `stop` is set; raises AlreadyRunning if another service holds any of the
        clinics' state folders. Jobs under way when `stop` is set are finished first."""
        enough_open_files(len(self.clinics))
        queues = [_Queue(key, daemon) for key, daemon in self.clinics]
        folders = sorted({daemon.config.daemon.state_dir for _, daemon in self.clinics})
        workers = max(1, min(self.workers, len(queues)))
        with (
            only_instance(folders),
            _closing(queues),
            ThreadPoolExecutor(workers, "clinic") as pool,
        ):
            self._say_running(queues)
            scheduler = schedule.Scheduler()
            with scheduled_by(self.clock):
                for queue in queues:
                    minutes = queue.daemon.config.daemon.sync_every_minutes
                    scheduler.every(minutes).minutes.do(queue.add, "sync", pool)
                    scheduler.every(1).minutes.do(queue.add, "digests", pool)
                scheduler.run_all()  # straight away: a sync each, and any digests still due
                while not self.stop.is_set():
                    scheduler.run_pending()
                    # Wait for the jobs under way, but never past the next due job: a stalled
                    # clinic holds up its own queue only.
                    _settle(queues, scheduler.idle_seconds)
                    wait = scheduler.idle_seconds
                    self.clock.sleep(min(max(wait or 0.0, 1.0), 60.0), self.stop)
        log.info("sheets-sync stopped")

    def _say_running(self, queues: Sequence[_Queue]) -> None:
        if len(queues) > 1:
            keys = ", ".join(queue.key for queue in queues)
            log.info("sheets-sync is running for %d clinics: %s", len(queues), keys)
        for queue in queues:
            with clinic_logged(queue.key):
                queue.daemon.say_running()


@dataclass
class _Queue:
    """One clinic's due jobs, run one at a time in the order they fell due."""

    key: str
    daemon: Daemon
    pending: list[str] = field(default_factory=list)
    running: Future[None] | None = None
    state: State | None = None  # opened by the clinic's first job, kept for the run
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, job: str, pool: ThreadPoolExecutor) -> None:
        """Queue `job` (once: one already waiting covers it), and start the queue unless a
        worker is on it."""
        with self.lock:
            if job not in self.pending:
                self.pending.append(job)
            if self.running is None or self.running.done():
                self.running = pool.submit(self._drain)

    def _drain(self) -> None:
        with clinic_logged(self.key):
            while True:
                with self.lock:
                    if not self.pending:
                        return
                    job = self.pending.pop(0)
                try:
                    if self.state is None:
                        self.state = State(self.daemon.config.daemon.state_dir)
                except StateError as exc:  # this clinic's alone; tried again on its next job
                    log.warning("%s: %s", job, exc)
                    continue
                self.daemon.contained(job, self.state)

    def close(self) -> None:
        if self.state is not None:
            self.state.close()


# Files a clinic keeps open for the run: its lock and its state database, with SQLite's
# write-ahead log and its index; a sync opens its log and a backup besides, for a moment.
FILES_PER_CLINIC = 4


def enough_open_files(clinics: int) -> None:
    """Raise this process's limit on open files as far as the computer allows.

    A systemd service starts with a soft limit of 1024 open files and a hard one far higher;
    systemd.exec(5) (LimitNOFILE=) asks programs that can work with more to raise the soft
    one themselves. At about four files a clinic, a group of some 250 clinics outgrows 1024,
    and every clinic after that fails to open its state (bench/group_capacity.py). Where even
    the hard limit is too low, the log says so and what to change."""
    if sys.platform == "win32":  # no such limit on a Windows service's files
        return
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        with suppress(ValueError, OSError):  # an unlimited hard limit above the kernel's
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
    needed = FILES_PER_CLINIC * clinics + 64  # and the service's own: logs, sockets
    if soft != resource.RLIM_INFINITY and soft < needed:
        log.warning(
            "this computer lets sheets-sync keep %d files open, and %s need about %d: some"
            " clinics may fail to open their state; raise the limit (LimitNOFILE=%d in the"
            " systemd unit, or `ulimit -n %d` before starting it)",
            soft,
            counted(clinics, "clinic"),
            needed,
            needed,
            needed,
        )


@contextmanager
def _closing(queues: Sequence[_Queue]) -> Iterator[None]:
    try:
        yield
    finally:
        for queue in queues:
            queue.close()


def _settle(queues: Sequence[_Queue], seconds: float | None) -> None:
    """Wait until the jobs under way are done, or `seconds` (of the computer's time) pass."""
    running = [q.running for q in queues if q.running is not None and not q.running.done()]
    if running:
        futures.wait(running, timeout=min(max(seconds or 0.0, 1.0), 60.0))


@contextmanager
def only_instance(folders: Sequence[Path]) -> Iterator[None]:
    """Hold each clinic's state folder for the whole run: a second service, or `sheets-sync
    run` with one clinic's own file, is refused instead of syncing the same log twice."""
    with ExitStack() as held:
        for folder in folders:
            private = private_folder(folder)
            lock = filelock.FileLock(str(private / "daemon.lock"))
            try:
                lock.acquire(timeout=0)
            except filelock.Timeout:
                raise AlreadyRunning(
                    f"another sheets-sync is already running with the state folder {private}"
                    f"{pid_note(private)}; stop it first, or give this one another"
                    " [daemon].state_dir"
                ) from None
            held.callback(lock.release)
            pid_file = private / "daemon.pid"
            pid_file.write_text(str(os.getpid()), encoding="ascii")
            held.callback(pid_file.unlink, missing_ok=True)
        yield


def pid_note(folder: Path) -> str:
    try:
        return f" (process {int((folder / 'daemon.pid').read_text(encoding='ascii'))})"
    except (OSError, ValueError):
        return ""


def _job_name(job: Callable[..., object]) -> str:
    return getattr(job, "__name__", "job").replace("_", " ")


@contextmanager
def scheduled_by(clock: Clock) -> Iterator[None]:
    """`schedule` reads `datetime.datetime.now()`; make it read `clock`, as naive UTC, so
    the jobs follow the daemon's clock and intervals never jump at a daylight-saving change.
    """

    class ClockTime(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> ClockTime:
            moment = clock.now().astimezone(UTC)
            local = moment.astimezone(tz) if tz is not None else moment.replace(tzinfo=None)
            return cls.combine(local.date(), local.timetz())

    names = vars(schedule)  # the module's own namespace, where its `datetime` lives
    original = names["datetime"]
    names["datetime"] = types.SimpleNamespace(
        datetime=ClockTime, timedelta=timedelta, time=time, date=date
    )
    try:
        yield
    finally:
        names["datetime"] = original


def sheet_settings_problems(snapshot: Snapshot, config: Config, today: date) -> list[str]:
    """Where the log's own locale and time zone (a Google Sheet's File > Settings) disagree
    with [clinic], for `check` and for the daemon's log once a run."""
    settings = snapshot.settings
    if settings is None:
        return []
    try:
        zone: ZoneInfo | None = ZoneInfo(settings.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = None
    return settings_problems(
        settings,
        date_order=config.clinic.date_order,
        clinic_zone=config.clinic.timezone,
        sheet_zone=zone,
        today=today,
    )


def status_lines(config: Config, state: State, now: datetime) -> list[str]:
    """What `sheets-sync status` shows: the last sync, by the daemon or by `sheets-sync once`,
    its outcome and error, the next sync (when a daemon runs) and the next digests, in the
    clinic's time with its zone, and today's digests that failed, with why."""
    zone = config.clinic.timezone
    local = now.astimezone(zone)
    daemon = _running(config.daemon.state_dir)
    lines = [f"State folder: {config.daemon.state_dir} ({daemon or 'the daemon is not running'})"]
    health = state.health()
    if health is None:
        lines.append("Last sync: none yet")
    else:
        lines.append(f"Last sync: {_when(health.last_sync, config.clinic)}: {health.outcome}")
        if health.failing_since is not None:
            lines.append(f"Failing since: {_when(health.failing_since, config.clinic)}")
            lines.append(f"Last error: {health.error}")
            if health.alert_sent:
                lines.append("The manager has been alerted.")
    if daemon is None:
        lines.append(
            "Next sync: none planned, as no daemon is running: the log is synced when"
            " `sheets-sync once` runs (from cron or Task Scheduler), or start `sheets-sync run`"
        )
    elif health is not None:
        every = timedelta(minutes=config.daemon.sync_every_minutes)
        lines.append(f"Next sync: {_when(max(health.last_sync + every, now), config.clinic)}")
    lines.append(f"Next digests: {_next_digests(config, state, local, daemon is not None)}")
    undelivered: dict[str, list[str]] = {}
    for recipient, address, why in state.undelivered_digests(local.date()):
        undelivered.setdefault(why, []).append(address or recipient)
    for why, who in undelivered.items():
        what = digests_for(who)
        lines.append(f"{what[0].upper()}{what[1:]} not delivered today: {why}")
    return lines


def _next_digests(config: Config, state: State, local: datetime, daemon: bool) -> str:
    settings = config.rule_settings()
    day = local.date()
    if state.digests_done(day) or local.time() >= config.mail.digest_cutoff:
        day += timedelta(days=1)
    day = settings.next_open_day(day)
    due = datetime.combine(day, config.mail.digest_time, local.tzinfo)
    when = _when(due, config.clinic)
    if due > local:
        return when if daemon else f"{when}, sent by the first `sheets-sync once` from then on"
    if daemon:
        return f"due now ({when}, not sent yet)"
    return f"due since {when}, not sent yet: the next `sheets-sync once` sends them"


def _when(moment: datetime, clinic: ClinicConfig) -> str:
    """A moment in the clinic's time and date order, saying which zone:
    `Tue 24 Nov 2026 07:30 GMT (Europe/London)`."""
    local = moment.astimezone(clinic.timezone)
    day = format_day(local.date(), clinic.date_order, with_year=True)
    return f"{day} {local:%H:%M %Z} ({clinic.timezone.key})"


def _running(folder: Path) -> str | None:
    """`the daemon is running (process 123)`, or None when no daemon holds the state folder."""
    lock = filelock.FileLock(str(folder / "daemon.lock"))
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        return f"the daemon is running{pid_note(folder)}"
    lock.release()
    return None
