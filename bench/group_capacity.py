"""How many clinics one service carries: one `Service` over N clinics, N = 10, 100, 500.

    PYTHONPATH=. .venv/bin/python bench/group_capacity.py [--clinics 10 100 500]
        [--rows 200 1000 3000] [--gsheets-share 0.25] [--edits 5]

Each case runs in a fresh subprocess: a group file and N clinic files (as `load_group` reads
them, see tests/test_group_config.py), read by the real `load_group`, and one `Service` over
the N clinics' `Daemon`s, its worker pool as it is (`daemon.WORKERS`). The clinics' logs
take turns through `--rows` sizes: an xlsx log per size is generated once (the generator of
bench/xlsx_sync.py) and copied per clinic; a `--gsheets-share` of the clinics keep their
log in Google Sheets instead, served by the fake Sheets API (tests/sheets_fake, a real HTTP
server on loopback) in a process of its own, so its CPU and memory are not the service's.
The Google clinics' backends are pointed at it as in bench/gsheets_requests.py.

The service is driven by an injected clock for exactly three sync cycles: the clock stands
still while a cycle's syncs run, and moves to the next sync time (15 minutes on) once every
clinic's sync of the cycle is done (the clinics' digests are not due: it is 05:00 in London).

  first:      every clinic's first sync (fresh state: managed columns created, every row
              written).
  unchanged:  nothing changed since (an xlsx log is skipped by its fingerprint; a Google
              Sheet has no cheap version, so it is read and decided).
  changed:    `--edits` rows changed per clinic (a Last touch a day ago), applied between
              the cycles, outside the timing.

Per cycle: wall time from the cycle's start to the last clinic's sync done (the first
includes the service's start: the state folders' locks), CPU time of the service process
(all its threads), peak memory (VmHWM from /proc/self/status, reset at each cycle's start
through /proc/self/clear_refs, so each cycle's own peak), and the Google requests the fake
answered (reads = GET, writes = the rest; OAuth token requests not counted). The service
spreads a group's syncs over the interval, so the clock moves on as the service asks and a
cycle ends when every clinic has synced once.

The baseline, measured in the same run: each kind and size alone (a group of one clinic, the
same three cycles). A case's "x alone" is its figure over the sum of its clinics' figures
alone: 1.00 means the service costs exactly what its clinics cost one by one.

From the figures it prints how many clinics one service carries on this machine at the
default 15-minute sync (a cycle's work within half the interval), and the Google quota
arithmetic (per account and per project), and what a larger group does.

The benchmark reports; it does not assert. One run per case (a case at N=500 is a long run
already). Generated files go to bench/out/group/ (gitignored).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as `python bench/group_capacity.py` too: the repository root on the import path, for
# `sheets_sync`, the fake in `tests` and the other benchmarks' generators.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import json
import math
import os
import random
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from concurrent import futures
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from bench.xlsx_sync import TODAY, make_log
from sheets_sync.core.words import counted

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out" / "group"
PLANS = REPO / "sheets_sync" / "plans.toml"
START = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)  # TODAY, a Tuesday; digests are at 07:30
SYNC_EVERY = 15  # minutes: the default [daemon].sync_every_minutes
CYCLES = ("first", "unchanged", "changed")

# Google Sheets API quotas (https://developers.google.com/sheets/api/limits, checked
# 2026-11-30): read requests 300 per minute per project and 60 per minute per user per
# project; write requests the same. A service account is a user; a batch request counts as
# one request (https://developers.google.com/sheets/api/guides/batch).
PER_USER_PER_MINUTE = 60
PER_PROJECT_PER_MINUTE = 300
BUDGET = 0.5  # a cycle's work must fit within half the sync interval

GROUP_FILE = f"""
[group]
name = "Benchmark Group"
clinics = ["clinics/*.toml"]

[plans]
file = "{PLANS}"

[mail]
mode = "outbox"
from = "Follow-ups <followups@group.example>"

[daemon]
sync_every_minutes = {SYNC_EVERY}
"""


# --- the group on disk -------------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    """One clinic of the benchmark group: its key, its log's kind and size."""

    key: str
    kind: str  # "xlsx" or "gsheets"
    rows: int


def sites(count: int, sizes: Sequence[int], share: float, kinds: Sequence[str] = ()) -> list[Site]:
    """`count` clinics taking turns through the sizes; a `share` of them, spread evenly, on
    Google Sheets. `kinds` forces the kind of each (the baselines)."""
    found = []
    for i in range(count):
        google = math.floor((i + 1) * share) > math.floor(i * share)
        kind = kinds[i] if kinds else ("gsheets" if google else "xlsx")
        found.append(Site(f"clinic-{i:03d}", kind, sizes[i % len(sizes)]))
    return found


def write_group(folder: Path, clinics: Sequence[Site], key_file: Path | None) -> Path:
    """The group file and a clinic file per clinic; each xlsx clinic gets a copy of the log of
    its size."""
    (folder / "clinics").mkdir(parents=True)
    (folder / "logs").mkdir()
    for site in clinics:
        if site.kind == "xlsx":
            log = folder / "logs" / f"{site.key}.xlsx"
            shutil.copyfile(OUT / f"log-{site.rows}.xlsx", log)
            source = f'kind = "xlsx"\npath = "{log}"'
        else:
            source = f'kind = "gsheets"\nspreadsheet_id = "{site.key}"\ncredentials = "{key_file}"'
        text = f'[clinic]\nname = "{site.key}"\ntimezone = "Europe/London"\n[source]\n{source}\n'
        (folder / "clinics" / f"{site.key}.toml").write_text(text, encoding="utf-8")
    group = folder / "group.toml"
    group.write_text(GROUP_FILE, encoding="utf-8")
    return group


# --- the fake Sheets API, in a process of its own ------------------------------------------------


def serve_fake(folder: Path, spec: dict[str, int]) -> None:
    """The fake Sheets API with a spreadsheet per Google clinic, answering commands on stdin
    (one JSON line back each): `count` (the requests since the last count), `edit N` (N rows
    of each spreadsheet get a Last touch a day ago). Ends at end of input."""
    from bench.gsheets_requests import LOG, STAFF, prospect_rows
    from tests.sheets_fake import FakeSheets

    with FakeSheets() as fake:
        for seed, (sheet, rows) in enumerate(sorted(spec.items())):
            fake.add_spreadsheet(sheet, {LOG: prospect_rows(rows, seed), "Staff": STAFF})
        key = fake.service_account_key(folder)
        answer({"url": fake.url, "key": str(key)})
        pick = random.Random(5)
        for line in sys.stdin:
            command, *rest = line.split()
            if command == "count":
                with fake.lock:
                    recorded = list(fake.requests)
                    fake.requests.clear()
                answer(
                    {
                        "reads": sum(r.method == "GET" for r in recorded),
                        "writes": sum(r.method != "GET" for r in recorded),
                        "failed": sum(r.status != 200 for r in recorded),
                    }
                )
            elif command == "edit":
                for sheet, rows in spec.items():
                    for row in pick.sample(range(2, rows + 2), int(rest[0])):
                        fake.set_cell(sheet, LOG, row, 3, TODAY - timedelta(days=1))
                answer({"edited": len(spec)})


def answer(data: dict[str, Any], out: TextIO = sys.stdout) -> None:
    out.write(json.dumps(data) + "\n")
    out.flush()


class FakeProcess:
    """The fake Sheets API in a child process, spoken to over its stdin and stdout."""

    def __init__(self, folder: Path, spec: dict[str, int]) -> None:
        (folder / "fake-spec.json").write_text(json.dumps(spec), encoding="utf-8")
        command = [sys.executable, __file__, "--fake", str(folder)]
        self.process = subprocess.Popen(
            command, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.ready = self.ask(None)

    def ask(self, command: str | None) -> dict[str, Any]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        if command is not None:
            self.process.stdin.write(command + "\n")
            self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit("the fake Sheets API stopped")
        result: dict[str, Any] = json.loads(line)
        return result

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


# --- one case: the service over a group, in a child process -------------------------------------


def memory_kb(field_name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field_name} in /proc/self/status")


def reset_peak() -> bool:
    """Reset VmHWM to the present RSS (Linux 4.0+); False where not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


@dataclass
class Cycles:
    """The three cycles' measurements, taken by the clock at the cycles' edges."""

    clinics: int
    between: Callable[[int], None]  # before cycle i (1, 2): change what that cycle finds
    done: int = 0  # clinics' syncs done, all cycles
    failed: list[str] = field(default_factory=list)
    figures: list[dict[str, Any]] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)
    _wall: float = 0.0
    _cpu: float = 0.0

    def start(self) -> None:
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def sync_done(self, failure: str | None) -> None:
        with self.changed:
            self.done += 1
            if failure:
                self.failed.append(failure)
            self.changed.notify_all()

    def cycle_done(self) -> bool:
        with self.changed:
            return self.done >= self.clinics * (len(self.figures) + 1)

    def wait_for_cycle(self) -> dict[str, Any]:
        """Block until every clinic's sync of the cycle under way is done; its figures."""
        with self.changed:
            self.changed.wait_for(lambda: self.done >= self.clinics * (len(self.figures) + 1))
        figures = {
            "wall": time.perf_counter() - self._wall,
            "cpu": time.process_time() - self._cpu,
            "peak_mb": memory_kb("VmHWM") / 1024,
            "rss_mb": memory_kb("VmRSS") / 1024,
            "open_files": len(os.listdir("/proc/self/fd")),
            "failed": len(self.failed),
        }
        self.failed.clear()
        self.figures.append(figures)
        return figures


@dataclass
class CycleClock:
    """The service's clock: it stands still while a cycle's syncs run; once they are all done,
    it jumps to the next sync time, or stops the service after the last cycle."""

    cycles: Cycles
    count_google: Callable[[], dict[str, Any]]
    moment: datetime = START

    def now(self) -> datetime:
        return self.moment

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        """Time moves on as the service asks (its syncs are spread over the interval); once
        every clinic's sync of the cycle is done, the cycle's figures are taken."""
        self.moment += timedelta(seconds=seconds)
        if not self.cycles.cycle_done():
            return
        figures = self.cycles.wait_for_cycle()
        figures.update(self.count_google())
        done = len(self.cycles.figures)
        if done == len(CYCLES):
            stop.set()
            return
        self.cycles.between(done)
        reset_peak()
        self.cycles.start()

    def wait(self, jobs: Sequence[Future[None]], seconds: float) -> None:
        """The clock stands still while the jobs due run: wait for them whatever it takes."""
        futures.wait(jobs)


def run_case(folder: Path, clinics: list[Site], edits: int) -> dict[str, Any]:
    """One service over `clinics` for three cycles, in this (fresh) process."""
    import openpyxl
    from google.auth.transport.requests import AuthorizedSession

    import bench.gsheets_requests  # noqa: F401  (keeps google-auth from calling out)
    from sheets_sync.backends.gsheets import GSheetsBackend
    from sheets_sync.daemon import Daemon, Service
    from sheets_sync.group import load_group
    from sheets_sync.state import State
    from tests.sheets_fake import FakeAdapter

    imports_mb = memory_kb("VmRSS") / 1024
    google = {s.key: s.rows for s in clinics if s.kind == "gsheets"}
    fake = FakeProcess(folder, google) if google else None
    key = Path(fake.ready["key"]) if fake else None
    group = load_group(write_group(folder, clinics, key))
    loaded_mb = memory_kb("VmRSS") / 1024

    def session(credentials: Any) -> AuthorizedSession:
        made = AuthorizedSession(credentials)
        assert fake is not None
        made.mount("https://sheets.googleapis.com/", FakeAdapter(fake.ready["url"]))
        return made

    def between(cycle: int) -> None:
        if CYCLES[cycle] != "changed":
            return
        pick = random.Random(cycle)
        for clinic in group.clinics:  # staff log a few calls in each workbook
            path = clinic.config.source.path
            if path is not None:
                workbook = openpyxl.load_workbook(path)
                sheet = workbook["Prospects"]
                for row in pick.sample(range(2, sheet.max_row + 1), edits):
                    sheet.cell(row, 10).value = TODAY - timedelta(days=1)
                workbook.save(path)
        if fake:
            fake.ask(f"edit {edits}")

    cycles = Cycles(len(clinics), between)

    def count_google() -> dict[str, Any]:
        return fake.ask("count") if fake else {}

    clock = CycleClock(cycles, count_google)

    class TimedDaemon(Daemon):
        def contained(self, job: str, state: State) -> None:
            super().contained(job, state)
            if job == "sync":
                health = state.health()
                failing = health is not None and health.failing_since is not None
                cycles.sync_done(health.error if failing and health else None)

    daemons: list[tuple[str, Daemon]] = []
    for clinic in group.clinics:
        source = clinic.config.source
        backend = None
        if source.kind == "gsheets" and source.spreadsheet_id and source.credentials:
            backend = GSheetsBackend(
                source.spreadsheet_id, credentials=source.credentials, session=session
            )
        daemon = TimedDaemon(clinic.config, {}, clock=clock, backend=backend)
        daemons.append((clinic.key, daemon))
    peak_resettable = reset_peak()
    cycles.start()
    Service(daemons, clock=clock).run()
    if fake:
        fake.close()
    return {
        "imports_mb": imports_mb,
        "loaded_mb": loaded_mb,
        "peak_resettable": peak_resettable,
        "cycles": cycles.figures,
        "mails": sum(1 for path in (folder / "outbox").rglob("*") if path.is_file()),
    }


def run_child(label: str, clinics: list[Site], edits: int, quiet: bool = False) -> dict[str, Any]:
    """A case in a fresh subprocess, on a fresh folder."""
    folder = OUT / "cases" / label
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    plan = [[s.key, s.kind, s.rows] for s in clinics]
    (folder / "clinics.json").write_text(json.dumps(plan), encoding="utf-8")
    command = [sys.executable, __file__, "--child", str(folder), "--edits", str(edits)]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-5000:])
        raise SystemExit(f"case {label} failed (exit {done.returncode})")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["clinics"] = clinics
    if not quiet:
        print(f"  {label}: done in {time.perf_counter() - started:.0f} s", flush=True)
    shutil.rmtree(folder, ignore_errors=True)
    return result


# --- the report ---------------------------------------------------------------------------------


def alone_sum(result: dict[str, Any], alone: dict[tuple[str, int], dict[str, Any]]) -> Any:
    """Per cycle, the sum over the case's clinics of each clinic's figures alone."""
    sums = []
    for i in range(len(CYCLES)):
        total: dict[str, float] = {}
        for site in result["clinics"]:
            for name, value in alone[(site.kind, site.rows)]["cycles"][i].items():
                if isinstance(value, int | float):
                    total[name] = total.get(name, 0.0) + value
        sums.append(total)
    return sums


def ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}" if base else "-"


def report(
    results: dict[int, dict[str, Any]],
    alone: dict[tuple[str, int], dict[str, Any]],
    args: argparse.Namespace,
) -> None:
    print()
    print("Alone (the baseline): one clinic, a group of one, the same three cycles.")
    head = f"{'clinic':<16}{'cycle':<11}{'wall s':>8}{'cpu s':>8}{'peak MB':>9}"
    print(f"{head}{'reads':>7}{'writes':>7}")
    for (kind, rows), result in sorted(alone.items()):
        for name, c in zip(CYCLES, result["cycles"], strict=True):
            print(
                f"{kind + ' ' + str(rows):<16}{name:<11}{c['wall']:>8.2f}{c['cpu']:>8.2f}"
                f"{c['peak_mb']:>9.0f}{c.get('reads', 0):>7}{c.get('writes', 0):>7}"
            )
    print()
    print("One service over N clinics. 'x alone': over the sum of its clinics' figures alone.")
    print(
        f"{'N':>4} {'cycle':<10}{'wall s':>8}{'x alone':>8}{'cpu s':>8}{'x alone':>8}"
        f"{'peak MB':>8}{'MB/clinic':>10}{'reads':>7}{'writes':>7}"
        f"{'req/min':>8}{'files':>6}{'failed':>7}"
    )
    for n, result in sorted(results.items()):
        sums = alone_sum(result, alone)
        base_mb = result["imports_mb"]
        for name, c, s in zip(CYCLES, result["cycles"], sums, strict=True):
            reads, writes = c.get("reads", 0), c.get("writes", 0)
            per_minute = max(reads, writes) / SYNC_EVERY
            print(
                f"{n:>4} {name:<10}{c['wall']:>8.1f}{ratio(c['wall'], s['wall']):>8}"
                f"{c['cpu']:>8.1f}{ratio(c['cpu'], s['cpu']):>8}{c['peak_mb']:>8.0f}"
                f"{(c['peak_mb'] - base_mb) / n:>10.2f}{reads:>7}{writes:>7}"
                f"{per_minute:>8.1f}{c['open_files']:>6}{c['failed']:>7}"
            )
        print(
            f"{'':>5}(RSS after imports {base_mb:.0f} MB, after load_group"
            f" {result['loaded_mb']:.0f} MB, after the run {result['cycles'][-1]['rss_mb']:.0f}"
            f" MB; {sum(s.kind == 'gsheets' for s in result['clinics'])} clinics on Google)"
        )
        if result["mails"]:
            print(f"{'':>5}warning: {result['mails']} mails went out: the cycles were not alone")
    capacity(results)


def capacity(results: dict[int, dict[str, Any]]) -> None:
    """The clinics one service carries, and the Google quota arithmetic, from the largest N."""
    n = max(results)
    result = results[n]
    by_cycle = dict(zip(CYCLES, result["cycles"], strict=True))
    budget = SYNC_EVERY * 60 * BUDGET
    steady = max(by_cycle["unchanged"]["wall"], by_cycle["changed"]["wall"])
    per_clinic = steady / n
    carried = int(budget / per_clinic)
    # Python runs the clinics' parsing and deciding on one core at a time (the GIL), so on
    # an idle machine a cycle takes at least its CPU seconds: the estimate from the work alone.
    steady_cpu = max(by_cycle["unchanged"]["cpu"], by_cycle["changed"]["cpu"])
    carried_cpu = int(budget / (steady_cpu / n))
    mb = by_cycle["changed"]["peak_mb"]
    mb_per_clinic = (mb - result["imports_mb"]) / n
    print()
    print(f"Capacity, from N={n} (the worse steady cycle, every clinic changed a few rows):")
    print(
        f"  {steady:.1f} s for {n} clinics = {per_clinic:.3f} s a clinic; a {SYNC_EVERY}-minute"
        f" sync leaves {budget:.0f} s ({BUDGET:.0%} of it) -> about {carried:,} clinics"
        f" of this mix ({result['share']:.0%} on Google) on this machine."
    )
    print(
        f"  By CPU time ({steady_cpu:.1f} s, on one core: the work itself, without the waits"
        f" of a busy machine): about {carried_cpu:,} clinics."
    )
    print(
        f"  First cycle (a start with every log new): {by_cycle['first']['wall']:.1f} s;"
        f" peak memory {mb:.0f} MB at N={n} ({mb_per_clinic:.2f} MB a clinic over the"
        f" {result['imports_mb']:.0f} MB of the imports), so about"
        f" {result['imports_mb'] + mb_per_clinic * carried:,.0f} MB at {carried:,} clinics."
    )
    google = sum(s.kind == "gsheets" for s in result["clinics"])
    if not google:
        return
    changed = by_cycle["changed"]
    per_sync = max(changed["reads"], changed["writes"]) / google
    reads, writes = changed["reads"] / google, changed["writes"] / google
    quota = PER_USER_PER_MINUTE * SYNC_EVERY
    per_account = int(quota / per_sync)
    accounts_per_project = PER_PROJECT_PER_MINUTE // PER_USER_PER_MINUTE
    print()
    print("Google quota (developers.google.com/sheets/api/limits): 60 reads and 60 writes a")
    print("minute per user (a service account) per project, 300 of each per project.")
    print(
        f"  A Google clinic's steady sync (a few rows changed): {reads:.1f} reads,"
        f" {writes:.1f} writes. At a {SYNC_EVERY}-minute sync one service account has"
        f" {quota} reads and {quota} writes a cycle -> {per_account} Google clinics per"
        f" account, on average over the interval."
    )
    most = math.ceil(per_account / SYNC_EVERY) * per_sync
    print(
        f"  The service spreads a group's syncs over the interval, so an account with"
        f" {per_account} Google clinics gets about {most:.0f} requests of each kind in any"
        f" minute. At a digest time the clinics sharing it read their logs in the same minute"
        f" ({reads:.0f} reads each): beyond {int(PER_USER_PER_MINUTE / max(reads, 1))} Google"
        f" clinics an account with one digest time, Google answers 429, the backend waits and"
        f" tries again, and those digests go a minute or two later (they are tried each minute"
        f" until the cut-off)."
    )
    print(
        f"  A larger group: a service account (a key, named in the clinics'"
        f" [source].credentials) per {per_account} Google clinics, a Google Cloud project"
        f" (300 a minute) per {accounts_per_project} accounts; e.g. 1,000 Google clinics ="
        f" {counted(math.ceil(1000 / per_account), 'account')} in"
        f" {counted(math.ceil(math.ceil(1000 / per_account) / accounts_per_project), 'project')},"
        f" the clinics split over as many services as the machines carry (above)."
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clinics", type=int, nargs="+", default=[10, 100, 500])
    parser.add_argument("--rows", type=int, nargs="+", default=[200, 1000, 3000])
    parser.add_argument("--gsheets-share", type=float, default=0.25)
    parser.add_argument("--edits", type=int, default=5, help="rows changed per clinic")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--fake", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fake:
        spec = json.loads((args.fake / "fake-spec.json").read_text(encoding="utf-8"))
        serve_fake(args.fake, spec)
        return 0
    if args.child:
        plan = json.loads((args.child / "clinics.json").read_text(encoding="utf-8"))
        clinics = [Site(key, kind, rows) for key, kind, rows in plan]
        print(json.dumps(run_case(args.child, clinics, args.edits)))
        return 0

    started = time.perf_counter()
    for rows in args.rows:
        make_log(OUT / f"log-{rows}.xlsx", rows)
    print(
        f"Logs of {', '.join(map(str, args.rows))} prospects, {args.gsheets_share:.0%} of the"
        f" clinics on Google Sheets (the fake); today = {TODAY}; {args.edits} rows changed"
        f" per clinic before the 'changed' cycle."
    )
    print(f"Load average at the start: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores).")
    alone: dict[tuple[str, int], dict[str, Any]] = {}
    kinds = ["xlsx"] + (["gsheets"] if args.gsheets_share > 0 else [])
    for kind in kinds:
        for rows in args.rows:
            site = Site("clinic-000", kind, rows)
            alone[(kind, rows)] = run_child(f"alone-{kind}-{rows}", [site], args.edits, True)
    results: dict[int, dict[str, Any]] = {}
    for n in args.clinics:
        results[n] = run_child(f"n{n}", sites(n, args.rows, args.gsheets_share), args.edits)
        results[n]["share"] = args.gsheets_share
    report(results, alone, args)
    print(f"\nLoad average at the end: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores).")
    print(f"\nThe whole run took {(time.perf_counter() - started) / 60:.1f} minutes.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
