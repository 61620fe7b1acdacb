"""Benchmark of the Excel backend against openpyxl, on a large generated prospect log.

    .venv/bin/python bench/xlsx_sync.py [--rows 50000] [--repeat 3]

Cases, each run --repeat times in a fresh subprocess (so peak memory is per case):

  (a) full sync:    engine.sync on a copy of the log with a fresh state: creates the managed
                    columns and writes every row.
  (b) no-op sync, log unchanged: on (a)'s result with (a)'s state, what `once --no-digest`
                    and the daemon do: the log is as the last sync left it (its fingerprint,
                    the day and the settings match), so it is not parsed at all.
  (b') no-op sync, log re-read: engine.sync on the same, parsing and deciding every row and
                    finding nothing to change: the cost when staff changed something that
                    moves no managed cell (a note, a phone number).
  (c) openpyxl:     load_workbook + save of the original log, the cost of the obvious approach.

Time is the median wall time (time.perf_counter) of the case itself, without interpreter
start-up or imports; CPU time (time.process_time) is shown too, since this machine's wall
times wander. Peak memory is the child's ru_maxrss at the end minus its ru_maxrss
after the imports (both openpyxl and sheets_sync are imported in every child, so the
baselines match). Then (a) is split into read / decide / write, timed once.

The benchmark reports; it does not assert: the exit status is 0 whether targets pass or not.
Generated files go to bench/out/ (gitignored).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"
CONFIG = REPO / "config" / "sheets_sync.toml"
TODAY = date(2026, 11, 24)

HEADERS = [
    "Name",
    "Owner",
    "Consultation date",
    "Procedure",
    "Phone",
    "Email",
    "Value",
    "Deposit (20%)",
    "Status",
    "Last touch",
    "Touches",
    "Notes",
]
OWNERS = ["Anna Price", "Ben Okafor", "Chloe Martin", "Dev Patel"]
_FIRST_NAMES = (
    "Catherine Rebecca Eleanor Sophie Olivia Amelia Isla Grace Emily Charlotte Mia Ava Lily "
    "Jessica Hannah Chloe Ella Lucy Freya Sarah Laura Rachel Emma Zara Priya Aisha Fatima "
    "James Oliver Harry Jack George Noah Thomas Daniel Samuel Mohammed Ravi Liam Marcus"
)
FIRST = _FIRST_NAMES.split()
_LAST_NAMES = (
    "Doyle Hall Grant Smith Jones Taylor Brown Williams Wilson Johnson Davies Robinson Wright "
    "Thompson Evans Walker White Roberts Green Hughes Edwards Patel Khan Singh Clarke Lewis "
    "Harris Martin Jackson Wood Turner Cooper Hill Ward Morris Moore King Baker O'Neill"
)
LAST = _LAST_NAMES.split()
PROCEDURES = [
    "Botox",
    "Dermal fillers",
    "Lip filler",
    "CoolSculpting",
    "Microneedling",
    "Chemical peel",
    "Laser hair removal",
    "HydraFacial",
    "Profhilo",
    "Thread lift",
    "Tattoo removal",
    "IPL photofacial",
]
# (status cell, weight): mostly blank or active words, some closed, a few odd spellings.
STATUSES = [
    (None, 50),
    ("Thinking about it", 10),
    ("Follow-up", 5),
    ("Interested", 4),
    ("Booked", 10),
    ("✅ Booked", 2),
    ("booked", 2),
    ("Declined", 6),
    ("Not interested", 4),
    ("DNC", 2),
    ("Unsubscribed", 1),
    ("Deceased", 1),
    ("On hold??", 1),
]
NOTES = [
    "Wants to think it over after payday",
    "Asked about finance options",
    "Nervous about needles; send the aftercare leaflet",
    "Referred by a friend",
    "Prefers texts after 6pm",
    "Comparing prices with another clinic",
    "Came to the open evening",
    "Annual check-in done; still keen, waiting on a bonus",
    "On the newsletter",
    "Regular client of the old clinic",
    "Wedding in the spring & wants results before then",
    "Husband to call back <re: dates>",
]


# --- the log ---------------------------------------------------------------------------------


def make_log(path: Path, rows: int, seed: int = 20261124) -> None:
    """A prospect log of `rows` rows, as Excel would keep it: shared strings, date cells."""
    import xlsxwriter

    rnd = random.Random(seed)
    statuses, weights = zip(*STATUSES, strict=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = xlsxwriter.Workbook(str(path))
    bold = workbook.add_format({"bold": True})
    day = workbook.add_format({"num_format": "dd/mm/yyyy"})
    money = workbook.add_format({"num_format": "£#,##0"})
    sheet = workbook.add_worksheet("Prospects")
    sheet.write_row(0, 0, HEADERS, bold)
    sheet.freeze_panes(1, 0)
    sheet.set_column(0, 1, 18)
    sheet.set_column(2, 2, 14, day)
    sheet.set_column(3, 5, 22)
    sheet.set_column(9, 9, 14, day)
    sheet.set_column(11, 11, 40)
    for r in range(1, rows + 1):
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        consulted = TODAY - timedelta(days=rnd.randint(0, 730))
        value = rnd.choice([None, 250, 350, 450, 600, 750, 900, 1200, 1800, 2500, 4500, 6000])
        sheet.write_string(r, 0, f"{first} {last}")
        sheet.write_string(r, 1, rnd.choice(OWNERS))
        sheet.write_datetime(r, 2, consulted, day)
        sheet.write_string(r, 3, rnd.choice(PROCEDURES))
        sheet.write_string(r, 4, f"07700 9{rnd.randint(0, 99999):05d}")
        email = f"{first}.{last}{rnd.randint(1, 99)}@example.com".lower().replace("'", "")
        sheet.write_string(r, 5, email)
        if value is not None:
            sheet.write_number(r, 6, value, money)
            sheet.write_formula(r, 7, f"=G{r + 1}*0.2", money, value * 0.2)
        status = rnd.choices(statuses, weights)[0]
        if status is not None:
            sheet.write_string(r, 8, status)
        if rnd.random() < 0.6:
            touched = consulted + timedelta(days=rnd.randint(0, (TODAY - consulted).days))
            sheet.write_datetime(r, 9, touched, day)
            sheet.write_number(r, 10, rnd.randint(1, 12))
        if rnd.random() < 0.4:
            sheet.write_string(r, 11, rnd.choice(NOTES))
    sheet.autofilter(0, 0, rows, len(HEADERS) - 1)
    staff = workbook.add_worksheet("Staff")
    staff.write_row(0, 0, ["Name", "Email"], bold)
    for i, owner in enumerate(OWNERS, start=1):
        address = owner.lower().replace(" ", ".") + "@riverside-aesthetics.example"
        staff.write_row(i, 0, [owner, address])
    workbook.close()


# --- the cases, each in a child process -------------------------------------------------------


def _config(state_dir: Path, log: Path) -> Any:
    from sheets_sync.config import load_config

    config = load_config(CONFIG)
    return replace(
        config,
        source=replace(config.source, path=log),
        daemon=replace(config.daemon, state_dir=state_dir),
    )


def _fresh(work: Path) -> Path:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    return work


def child(case: str, log: Path, synced: Path, work: Path) -> dict[str, Any]:
    import openpyxl

    from sheets_sync import engine
    from sheets_sync.backends.xlsx import XlsxBackend
    from sheets_sync.state import State

    # Everything a case needs on disk is prepared before the baseline; (b) and (b') use a
    # folder the "prepare" case made in a process of its own, and change nothing in it.
    if case not in ("b", "b-full"):
        work = _fresh(work)
    target = work / "log.xlsx"
    state_dir = work / "state"
    config = _config(state_dir, log)
    if case in ("a", "phases"):
        shutil.copyfile(log, target)
    elif case == "prepare":
        shutil.copyfile(synced / "log.xlsx", target)
        shutil.copytree(synced / "state", state_dir)
        # The state knows the log by its path: one sync of the copy, as the daemon's previous
        # cycle would have done, writes nothing and records this copy as synced.
        with State(state_dir) as state:
            report = engine.sync(XlsxBackend(target), config, state, today=TODAY)
        return {"written": report.written}
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result: dict[str, Any] = {}

    start = time.perf_counter()
    cpu_start = time.process_time()
    if case == "c":
        workbook = openpyxl.load_workbook(log)
        workbook.save(work / "saved.xlsx")
        result["cells"] = None
    elif case == "b":  # what `once --no-digest` and the daemon do: skip a log just synced
        backend = XlsxBackend(target, backup_dir=work / "backups")
        with State(state_dir) as state:
            if engine.unchanged_since_last_sync(backend, config, state, today=TODAY):
                result["written"], result["cells"] = False, 0
            else:
                report = engine.sync(backend, config, state, today=TODAY)
                result["written"], result["cells"] = report.written, report.cells_changed
    elif case in ("a", "b-full"):
        backend = XlsxBackend(target, backup_dir=work / "backups")
        with State(state_dir) as state:
            report = engine.sync(backend, config, state, today=TODAY)
        result["written"] = report.written
        result["cells"] = report.cells_changed
    elif case == "phases":
        backend = XlsxBackend(target, backup_dir=work / "backups")
        with State(state_dir) as state:
            t0 = time.perf_counter()
            snapshot = backend.read()
            t1 = time.perf_counter()
            plan = engine.decide(snapshot, config, TODAY, state, backend.description)
            t2 = time.perf_counter()
            written = backend.write(plan.changes, snapshot.version)
            t3 = time.perf_counter()
            state.remember(backend.description, ((r.sync_id, r.remembered) for r in plan.rows))
            t4 = time.perf_counter()
        result.update(read=t1 - t0, decide=t2 - t1, write=t3 - t2, remember=t4 - t3)
        result["written"] = written
    else:
        raise SystemExit(f"unknown case {case!r}")
    result["seconds"] = time.perf_counter() - start
    result["cpu"] = time.process_time() - cpu_start

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    result["peak_mb"] = (peak - baseline) / 1024
    result["baseline_mb"] = baseline / 1024
    return result


def run_child(case: str, log: Path, synced: Path, work: Path) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", case, "--log", str(log)]
    command += ["--synced", str(synced), "--work", str(work)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"case {case} failed (exit {done.returncode})")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# --- the report -------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--log", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--synced", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.log, args.synced, args.work)))
        return 0

    log = OUT / f"log-{args.rows}.xlsx"
    started = time.perf_counter()
    make_log(log, args.rows)
    size = log.stat().st_size / 1e6
    print(f"log: {log.relative_to(REPO)}, {args.rows} rows, {size:.1f} MB", end="")
    print(f" (generated in {time.perf_counter() - started:.1f} s); today = {TODAY}")

    # (b) starts from (a)'s result: the synced log and the state that wrote it.
    synced = OUT / "synced"
    first = run_child("a", log, OUT, synced)
    if not first.get("written"):
        print("warning: the full sync wrote nothing")

    if run_child("prepare", log, synced, OUT / "work-b")["written"]:
        print("warning: the synced log was not up to date")
    runs: dict[str, list[dict[str, Any]]] = {"a": [first], "b": [], "b-full": [], "c": []}
    folders = {"a": "work-a", "b": "work-b", "b-full": "work-b", "c": "work-c"}
    for i in range(args.repeat):  # interleaved, so a slow spell of the machine hits all
        for case in runs:
            if not (case == "a" and i == 0):
                runs[case].append(run_child(case, log, synced, OUT / folders[case]))

    labels = {
        "a": "(a) full sync",
        "b": "(b) no-op, log unchanged",
        "b-full": "(b') no-op, log re-read",
        "c": "(c) openpyxl load+save",
    }
    median = {c: statistics.median(r["seconds"] for r in rs) for c, rs in runs.items()}
    cpu = {c: statistics.median(r["cpu"] for r in rs) for c, rs in runs.items()}
    peak = {c: max(r["peak_mb"] for r in rs) for c, rs in runs.items()}
    print()
    print(f"{args.repeat} runs per case, each in a fresh subprocess; median wall and CPU time.")
    print("peak MB = ru_maxrss at the end minus ru_maxrss after imports (max over runs).")
    print()
    header = f"{'case':<26}{'wall s':>8}{'cpu s':>8}{'peak MB':>9}"
    print(f"{header}{'time/(c)':>10}{'cpu/(c)':>9}{'mem/(c)':>9}  wall runs (s)")
    for case, label in labels.items():
        times = " ".join(f"{r['seconds']:.3f}" for r in runs[case])
        print(
            f"{label:<26}{median[case]:>8.3f}{cpu[case]:>8.3f}{peak[case]:>9.1f}"
            f"{median[case] / median['c']:>10.2f}{cpu[case] / cpu['c']:>9.2f}"
            f"{peak[case] / peak['c']:>9.2f}  {times}"
        )
    a, b, full = runs["a"][-1], runs["b"][-1], runs["b-full"][-1]
    print(
        f"(a) wrote {a['cells']} cells (written={a['written']}); "
        f"(b) written={b['written']}; (b') written={full['written']}"
    )
    print()
    targets = [
        ("(a) time <= 0.5 x (c)", median["a"] / median["c"], 0.5),
        ("(b) time <= 0.2 x (c)", median["b"] / median["c"], 0.2),
        ("(b') time <= 0.2 x (c)", median["b-full"] / median["c"], 0.2),
        ("(a) peak memory < (c)'s", peak["a"] / peak["c"], 1.0),
    ]
    for name, ratio, limit in targets:
        print(f"{'PASS' if ratio <= limit else 'MISS'}  {name:<26} ratio {ratio:.2f}")

    phases = run_child("phases", log, synced, OUT / "work-phases")
    total = sum(phases[k] for k in ("read", "decide", "write", "remember"))
    print()
    print("where (a)'s time goes (one run, fresh subprocess):")
    for key in ("read", "decide", "write", "remember"):
        print(f"  {key:<9}{phases[key]:>7.2f} s  {phases[key] / total:>4.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
