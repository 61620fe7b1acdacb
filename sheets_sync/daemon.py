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
from email.utils import format_datetime, make_msgid, parseaddr
from functools import partial
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import filelock
import schedule

from sheets_sync.backends.base import Backend, Snapshot, SourceBusy
from sheets_sync.config import ClinicConfig, Config
from sheets_sync.core.locale import settings_problems
from sheets_sync.core.report import Period
from sheets_sync.core.values import DateOrder, format_day
from sheets_sync.core.words import counted
from sheets_sync.engine import (
    UNCHANGED,
    DigestRun,
    SuspiciousChange,
    digests_for,
    message_domain,
    monthly_report_key,
    open_backend,
    open_delivery,
    send_digests,
    sync,
    unchanged_since_last_sync,
)
from sheets_sync.errors import SheetsSyncError
from sheets_sync.folders import private_folder
from sheets_sync.group import GROUP_FOLDER, Group
from sheets_sync.logs import clinic_logged, record_unexpected
from sheets_sync.mail.deliver import Delivery, DeliveryFailed, PermanentFailure
from sheets_sync.mail.group_summary import ClinicDay, render_group_summary
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

    def wait(self, jobs: Sequence[Future[None]], seconds: float) -> None:
        """Wait until the `jobs` are done, or `seconds` pass: how long the service waits for a
        clinic's job is the clock's business, so a test's clock can say what a hang is."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        stop.wait(seconds)

    def wait(self, jobs: Sequence[Future[None]], seconds: float) -> None:
        futures.wait(jobs, timeout=seconds)


class AlreadyRunning(SheetsSyncError):
    """Another daemon holds the state folder."""


class LogStalled(SheetsSyncError):
    """A clinic's job has not come back: its log does not answer."""


@dataclass
class Daemon:
    config: Config
    environ: Mapping[str, str]
    clock: Clock = field(default_factory=SystemClock)
    stop: threading.Event = field(default_factory=threading.Event)
    backend: Backend | None = None  # default: the one [source] names
    delivery: Callable[[], Delivery] | None = None  # default: the one [mail] names
    _settings_told: bool = field(default=False, init=False)  # the sheet's settings, once a run
    # The day's digest round, for the group's summary: its counts and who got what.
    # None: given up at the cut-off, none sent.
    last_round: tuple[date, DigestRun | None] | None = field(default=None, init=False)

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

    def stalled(self, job: str, began: datetime) -> None:
        """Record that the clinic's `job`, begun at `began`, has not come back (a file share
        or a network that hangs): `status` shows it, and the manager is alerted after
        `alert_after_hours`, as for a failing sync. Its own connection to the state: the
        job's is in use."""
        at = f"{self._local(began):%H:%M}"
        what = "sync" if job == "sync" else "round of digests"
        with State(self.config.daemon.state_dir) as state:
            self._failed(
                state,
                LogStalled(
                    f"the {what} that began at {at} has not finished: the log does not answer"
                    " (a file share or a network that hangs?); the other clinics carry on, and"
                    " this clinic's syncs resume once its log answers"
                ),
            )

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
            self.last_round = (today, None)
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
        self.last_round = (today, run)
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
        return problem_words(exc, self.config.daemon.state_dir, "the next cycle tries again")

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
    and one thread, never another clinic's sync or digests; its failure is recorded and told
    for that clinic alone (`Daemon.contained`). A job that hangs is waited for once, then
    gives its turn to the other clinics; each sync it holds up is recorded as failed, and the
    clinic's manager alerted after `alert_after_hours` (`Daemon.stalled`).

    A group's manager, if any, gets the combined summary once a day (`GroupSummary`).
    """

    clinics: Sequence[tuple[str, Daemon]]  # (the clinic's key in a group, "" alone; its jobs)
    stop: threading.Event = field(default_factory=threading.Event)
    clock: Clock = field(default_factory=SystemClock)
    workers: int = WORKERS
    group_summary: GroupSummary | None = None  # the group manager's (`GroupSummary.of`)
    _summary: Future[None] | None = field(default=None, init=False, repr=False)

    def run(self) -> None:
        """Until `stop` is set; raises AlreadyRunning if another service holds any of the
        clinics' state folders. Jobs under way when `stop` is set are finished first."""
        enough_open_files(len(self.clinics))
        # `workers` jobs run at once; a job found stalled gives its turn back, and keeps only
        # its thread: so the pool has a thread for each clinic, its stall and the summary.
        turns = threading.BoundedSemaphore(max(1, min(self.workers, len(self.clinics))))
        queues = [_Queue(key, daemon, turns) for key, daemon in self.clinics]
        folders = sorted({daemon.config.daemon.state_dir for _, daemon in self.clinics})
        if self.group_summary is not None:
            folders.append(self.group_summary.folder)
        with (
            only_instance(folders),
            _closing(queues),
            ThreadPoolExecutor(2 * len(queues) + 1, "clinic") as pool,
        ):
            self._say_running(queues)
            scheduler = schedule.Scheduler()
            with scheduled_by(self.clock):
                checks = []  # every minute, and straight away: digests (and the summary) due?
                for index, queue in enumerate(queues):
                    minutes = queue.daemon.config.daemon.sync_every_minutes
                    sync = scheduler.every(minutes).minutes.do(queue.add, "sync", pool)
                    every = timedelta(minutes=minutes)
                    # A group's syncs are spread over the interval, the first straight away:
                    # a Google account's requests come a few a minute, never all at once.
                    if sync.next_run is not None:
                        sync.next_run -= every - every * index / len(queues)
                    checks.append(scheduler.every(1).minutes.do(queue.add, "digests", pool))
                if self.group_summary is not None:
                    summary = partial(self._summarise, self.group_summary, pool)
                    checks.append(scheduler.every(1).minutes.do(summary))
                scheduler.run_pending()  # the first clinic's sync
                for check in checks:
                    check.run()
                while not self.stop.is_set():
                    scheduler.run_pending()
                    for queue in queues:
                        queue.tell_if_stalled(self.clock.now(), pool)
                    # Wait for the jobs under way, but never past the next due job: a stalled
                    # clinic holds up its own queue only.
                    _settle(queues, scheduler.idle_seconds, self.clock, self._summary)
                    wait = scheduler.idle_seconds
                    self.clock.sleep(min(max(wait or 0.0, 1.0), 60.0), self.stop)
        log.info("sheets-sync stopped")

    def _summarise(self, summary: GroupSummary, pool: ThreadPoolExecutor) -> None:
        """Look whether the group's summary is due, on a worker: one look at a time."""
        if self._summary is None or self._summary.done():
            self._summary = pool.submit(self._contained_summary, summary)

    def _contained_summary(self, summary: GroupSummary) -> None:
        with clinic_logged(GROUP_FOLDER):
            try:
                summary.send_if_due(self.clinics, self.clock.now())
            except Exception as exc:  # the clinics carry on whatever happens here
                log.warning("the group's summary: %s", summary.problem(exc))

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
    turns: threading.BoundedSemaphore  # the jobs of all clinics that may run at once
    pending: list[str] = field(default_factory=list)
    running: Future[None] | None = None
    state: State | None = None  # opened by the clinic's first job, kept for the run
    lock: threading.Lock = field(default_factory=threading.Lock)
    job: str = ""  # the job under way
    began: datetime | None = None  # when it began; None: no job under way
    waited: Future[None] | None = None  # the run the service waited for in vain, and no more
    told: int = 0  # how often the job under way was recorded as stalled
    telling: Future[None] | None = None  # recording the stall, the latest time
    has_turn: bool = False  # the job under way holds one of the `turns`

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
                        if self.state is not None:
                            self.state.release_memory()
                        return
                    job = self.pending.pop(0)
                try:
                    if self.state is None:
                        self.state = State(self.daemon.config.daemon.state_dir)
                except StateError as exc:  # this clinic's alone; tried again on its next job
                    log.warning("%s: %s", job, exc)
                    continue
                self.turns.acquire()
                self.has_turn = True
                self.job, self.began = job, self.daemon.clock.now()
                try:
                    self.daemon.contained(job, self.state)
                finally:
                    self.began, self.told = None, 0
                    self.give_turn_back()

    def done(self) -> bool:
        return self.running is None or self.running.done()

    def give_turn_back(self) -> None:
        """Let another clinic's job run: when this one ends, or is found stalled (once)."""
        with self.lock:
            if self.has_turn:
                self.has_turn = False
                self.turns.release()

    def tell_if_stalled(self, now: datetime, pool: ThreadPoolExecutor) -> None:
        """A job still under way when the clinic's next sync is due has stalled: each sync
        it holds up is recorded as failed, for `status` and the alert (after
        `alert_after_hours`), as if it had run and failed. Told from another worker: the
        job's is held."""
        began, job = self.began, self.job
        every = timedelta(minutes=self.daemon.config.daemon.sync_every_minutes)
        if began is None or now - began < every * (self.told + 1):
            return
        if self.telling is None or self.telling.done():  # one at a time: one alert
            self.told += 1
            self.telling = pool.submit(self._tell_stalled, job, began)

    def _tell_stalled(self, job: str, began: datetime) -> None:
        with clinic_logged(self.key):
            try:
                self.daemon.stalled(job, began)
            except Exception as exc:  # the service carries on whatever happens here
                log.warning("%s: the stall could not be recorded: %s", job, exc)

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


def _settle(
    queues: Sequence[_Queue], seconds: float | None, clock: Clock, summary: Future[None] | None
) -> None:
    """Wait until the jobs under way (and the group's `summary`) are done, but no longer than
    `seconds` in all. A clinic's job that outlasts a wait has stalled: it gives its turn back
    to the clinics waiting for one (whose jobs are then waited for in turn), and is not waited
    for again: a hung file share costs the other clinics one wait, never one per cycle."""
    until = clock.now() + timedelta(seconds=min(max(seconds or 0.0, 1.0), 60.0))
    while (left := (until - clock.now()).total_seconds()) > 0:
        running = [
            queue
            for queue in queues
            if queue.running is not None
            and not queue.running.done()
            and queue.running is not queue.waited
        ]
        jobs = [q.running for q in running if q.running] + [
            q.telling for q in queues if q.telling is not None and not q.telling.done()
        ]
        jobs += [summary] if summary is not None and not summary.done() else []
        if not jobs:
            return
        clock.wait(jobs, left)
        stalled = [q for q in running if q.began is not None and not q.done()]
        if not stalled:
            return
        for queue in stalled:
            queue.waited = queue.running
            queue.give_turn_back()


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


GROUP_SUMMARY = "group-manager"  # the combined summary's key in the group's records


@dataclass
class GroupSummary:
    """The group manager's summary (SPEC §11): once a day, at `time` in `zone`, once every
    clinic's digests are sent (or past their cut-off; a clinic closed that day has none),
    one message with each clinic's sync, counts, digests and monthly report.

    Recorded like a digest, in the group's own folder: pending under a fixed Message-ID
    before it is sent and sent after, so a restart sends it neither twice nor under another
    Message-ID. A failure the mail server may get over is tried again a minute later."""

    name: str
    manager: str
    folder: Path  # <group state_dir>/group: its records
    time: time
    zone: ZoneInfo
    sender: str
    delivery: Callable[[], Delivery]
    date_order: DateOrder = DateOrder.DMY

    @classmethod
    def of(cls, group: Group, environ: Mapping[str, str]) -> GroupSummary | None:
        """The summary a group file asks for (`[group] manager`), or None. It goes through
        the first clinic's mail settings; in outbox mode into `<group outbox>/group`."""
        manager, at, zone, outbox = group.manager, group.summary_time, group.timezone, group.outbox
        if manager is None or at is None or zone is None or outbox is None:
            return None  # a single clinic's file, or a group without a manager
        first = group.clinics[0].config
        mail = replace(first, mail=replace(first.mail, outbox=outbox / GROUP_FOLDER))
        return cls(
            name=group.name or group.path.stem,
            manager=manager,
            folder=group.state_dir / GROUP_FOLDER,
            time=at,
            zone=zone,
            sender=first.mail.sender,
            delivery=partial(open_delivery, mail, environ),
            date_order=first.clinic.date_order,
        )

    def send_if_due(self, clinics: Sequence[tuple[str, Daemon]], now: datetime) -> None:
        local = now.astimezone(self.zone)
        day = local.date()
        if local.time() < self.time:
            return
        daemons = [daemon for _, daemon in clinics]
        if not any(daemon.config.rule_settings().is_open(day) for daemon in daemons):
            return  # every clinic closed: nothing to sum up
        with State(self.folder) as records:
            record = records.digest(day, GROUP_SUMMARY)
            if record is not None and record.status in ("sent", "failed"):
                return
            if not all(_digests_over(daemon, day, now) for daemon in daemons):
                return
            message = render_group_summary(
                [_clinic_day(daemon, day, now) for daemon in daemons],
                group=self.name,
                day=day,
                sender=self.sender,
                to=parseaddr(self.manager)[1],
                date_order=self.date_order,
            )
            message_id = (
                record.message_id
                if record is not None
                else make_msgid(domain=message_domain(self.sender))
            )
            records.digest_pending(day, GROUP_SUMMARY, message_id, address=self.manager)
            message["Message-ID"] = message_id
            message["Date"] = format_datetime(local)
            delivery = self.delivery()
            try:
                delivery.send(message, f"{day.isoformat()}-{GROUP_SUMMARY}")
            except DeliveryFailed as exc:
                for_good = isinstance(exc, PermanentFailure)
                records.digest_failed(day, GROUP_SUMMARY, str(exc), for_good=for_good)
                again = "not sent today" if for_good else "tried again in a minute"
                log.warning("the group's summary: %s; %s", exc, again)
                return
            finally:
                delivery.close()
            records.digest_sent(day, GROUP_SUMMARY, at=now)
            log.info("the group's summary: sent to the group's manager")

    def problem(self, exc: BaseException) -> str:
        """As `Daemon._problem`, with an unexpected error's details in the group's folder."""
        return problem_words(exc, self.folder, "tried again in a minute")


def problem_words(exc: BaseException, folder: Path, again: str) -> str:
    """An error in a job as one line for people, saying when it is `again` tried. An
    unexpected one names only its kind: its text may quote a patient's cell; where in the code
    it happened goes to `folder`'s errors.log."""
    if isinstance(exc, SheetsSyncError):
        return str(exc)
    try:
        where = f"where it happened is in {record_unexpected(exc, folder, 'run')}"
    except OSError:
        where = "its details could not be saved"
    return f"unexpected error ({type(exc).__name__}); {again}; {where}"


def _digests_over(daemon: Daemon, day: date, now: datetime) -> bool:
    """Whether the clinic's digests of `day` are done with: sent, past its cut-off, or none
    that day (closed)."""
    config = daemon.config
    local = now.astimezone(config.clinic.timezone)
    if not config.rule_settings().is_open(day):
        return True
    if (local.date(), local.time()) >= (day, config.mail.digest_cutoff):
        return True
    with State(config.daemon.state_dir) as state:
        return state.digests_done(day)


def _clinic_day(daemon: Daemon, day: date, now: datetime) -> ClinicDay:
    """A clinic's line in the group's summary, from its state and its day's digest round."""
    config = daemon.config
    local = now.astimezone(config.clinic.timezone)
    with State(config.daemon.state_dir) as state:
        health = state.health()
        if health is None:
            sync, failing = "none yet", False
        elif health.failing_since is not None:
            sync = f"failing since {_when(health.failing_since, config.clinic)}: {health.error}"
            failing = True
        else:
            sync = f"last {_when(health.last_sync, config.clinic)}: {health.outcome}"
            failing = False
        counts, digests, undelivered = _digest_words(daemon, state, day)
        report, report_failed = "", False
        if config.mail.manager is not None and config.report.monthly:
            report = _monthly_report(config, state, local)
            month = Period.month_before(day)
            record = state.digest(month.first, monthly_report_key(month))
            report_failed = record is not None and record.status == "failed"
    return ClinicDay(
        name=config.clinic.name,
        sync=sync,
        counts=counts,
        digests=digests,
        report=report,
        attention=failing or undelivered or report_failed,
    )


def _digest_words(daemon: Daemon, state: State, day: date) -> tuple[str, str, bool]:
    """The clinic's counts and digests of `day`, in words, and whether any was not
    delivered. The counts come from the day's digest round in this run; a round before the
    service last started left its records, not its counts."""
    if not daemon.config.rule_settings().is_open(day):
        return "closed today", "none: closed today", False
    undelivered = state.undelivered_digests(day)
    if daemon.last_round is not None and daemon.last_round[0] == day:
        run = daemon.last_round[1]
        if run is None:
            return "not known: no digests today", "not sent by the cut-off", True
        counts = f"{run.overdue} overdue, {run.due_today} due today, {run.to_check} to check"
        words = [f"{len(run.sent)} sent", *run.problems()]
        return counts, "; ".join(words), bool(run.waiting or run.failed)
    if state.digests_done(day):
        why = "; ".join(f"{address or who}: {reason}" for who, address, reason in undelivered)
        said = "sent before the service last started"
        return (
            "not known (the digests went before the service last started)",
            (f"{said}; not delivered: {why}" if why else said),
            bool(undelivered),
        )
    return "not known: no digests today", "not sent by the cut-off", True


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
    clinic's time with its zone, today's digests that failed, with why, and whether the manager
    got last month's report."""
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
    if config.mail.manager is not None and config.report.monthly:
        lines.append(f"Monthly report: {_monthly_report(config, state, local)}")
    undelivered: dict[str, list[str]] = {}
    for recipient, address, why in state.undelivered_digests(local.date()):
        undelivered.setdefault(why, []).append(address or recipient)
    for why, who in undelivered.items():
        what = digests_for(who)
        lines.append(f"{what[0].upper()}{what[1:]} not delivered today: {why}")
    return lines


def _next_digest_day(config: Config, state: State, local: datetime) -> date:
    day = local.date()
    if state.digests_done(day) or local.time() >= config.mail.digest_cutoff:
        day += timedelta(days=1)
    return config.rule_settings().next_open_day(day)


def _next_digests(config: Config, state: State, local: datetime, daemon: bool) -> str:
    day = _next_digest_day(config, state, local)
    due = datetime.combine(day, config.mail.digest_time, local.tzinfo)
    when = _when(due, config.clinic)
    if due > local:
        return when if daemon else f"{when}, sent by the first `sheets-sync once` from then on"
    if daemon:
        return f"due now ({when}, not sent yet)"
    return f"due since {when}, not sent yet: the next `sheets-sync once` sends them"


def _monthly_report(config: Config, state: State, local: datetime) -> str:
    """Last month's report: when it was sent, or why not yet."""
    month = Period.month_before(local.date())
    name = f"{month.first:%B %Y}"
    record = state.digest(month.first, monthly_report_key(month))
    if record is not None and record.status == "sent":
        return f"{name}, sent" + (
            f" {_when(record.sent_at, config.clinic)}" if record.sent_at else ""
        )
    if record is not None and record.status == "failed":
        return (
            f"{name}, not delivered: {record.error}; `sheets-sync once --force-digest` tries again"
        )
    if record is not None and record.error:
        return f"{name}, not sent yet, tried again with the next cycle: {record.error}"
    began = state.first_digest_day("manager")
    if began is None or began > month.last:
        following = (local.replace(day=1) + timedelta(days=32)).replace(day=1)
        return f"the first, on {local:%B %Y}, goes on the first open day of {following:%B %Y}"
    day = _next_digest_day(config, state, local)
    if (day.year, day.month) != (local.year, local.month):
        return f"{name}, not sent: no open day was left for it this month"
    return f"{name}, due with the digests of {format_day(day, config.clinic.date_order)}"


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
