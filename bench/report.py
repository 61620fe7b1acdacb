"""Benchmark of the report (SPEC §10) over a year of touch-log history on a large log.

    .venv/bin/python bench/report.py [--rows 20000] [--repeat 3]

Set-up (once, not timed): the prospect log of bench/xlsx_sync.py (`--rows` rows, about 15%
booked), synced once so every row has its Sync ID, then a year of touch-log history written
straight into the state with `State.record_touches`: about five touches per prospect between
its consultation and today, and for each booked prospect the day its status became a won
word. Then, each run in a fresh subprocess:

  (base)   the dry-run read alone: `engine.sync(dry_run=True)`, reading the log and deciding
           every row, what every read-only command (`check`, `explain`, `report`) starts with.
  (report) the report end to end, as `sheets-sync report --year` does it: when the command
           exists, `cli.main(["report", "--year", ..., "--html", F, "--xlsx", F])` in-process;
           otherwise the library path: the dry-run read, the touch log, `build_report`, and
           the monthly message (plain text and HTML).

It prints the median wall and CPU time of each, the ratio to (base), the issue's target
(under 5 s) as PASS/MISS, where the report's time goes, and the report's main figures. It
reports; it does not assert: the exit status is 0 whether the target passes or not.
Generated files go to bench/out/ (gitignored).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import xlsx_sync

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out" / "report"
TODAY = xlsx_sync.TODAY
YEAR = TODAY.year
TOUCHES_PER_PROSPECT = 5  # on average


def write_config(folder: Path, log: Path) -> Path:
    path = folder / "sheets_sync.toml"
    path.write_text(
        f"""[clinic]
name = "Riverside Aesthetics"
currency = "GBP"

[source]
kind = "xlsx"
path = "{log}"

[plans]
file = "{REPO / "sheets_sync" / "plans.toml"}"

[mail]
outbox = "outbox"
from = "Riverside Aesthetics <followups@riverside-aesthetics.example>"

[daemon]
state_dir = "state"
""",
        encoding="utf-8",
    )
    return path


def set_up(rows: int) -> Path:
    """The synced log and its state with a year of history; returns the config file."""
    from sheets_sync import engine
    from sheets_sync.backends.xlsx import XlsxBackend
    from sheets_sync.config import load_config
    from sheets_sync.core.touches import Touch
    from sheets_sync.core.values import Status, Unreadable, read_date, read_status
    from sheets_sync.state import State

    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    log = OUT / "log.xlsx"
    xlsx_sync.make_log(log, rows)
    config_file = write_config(OUT, log)
    config = load_config(config_file)
    settings = config.rule_settings()
    rng = random.Random(YEAR)
    year_ago = TODAY - timedelta(days=365)
    with State(config.daemon.state_dir) as state:
        backend = XlsxBackend(log, backup_dir=OUT / "backups")
        cycle = engine.sync(backend, config, state, today=year_ago)  # gives every row its ID
        history: list[Touch] = []
        for result in cycle.plan.rows:
            try:
                consulted = read_date(
                    result.prospect.cells.get("consultation_date"), settings.date_order
                )
            except Unreadable:
                consulted = None
            first = max(consulted or year_ago, year_ago)
            span = (TODAY - first).days
            if span <= 0:
                continue
            days = sorted(
                first + timedelta(days=rng.randint(0, span))
                for _ in range(rng.randint(1, 2 * TOUCHES_PER_PROSPECT - 1))
            )
            for day in days:
                history.append(Touch(result.sync_id, "touch", day, day, "edited", "Call"))
            status, _ = read_status(result.prospect.cells.get("status"), settings.status_words)
            if status is Status.WON:
                booked = min(days[-1] + timedelta(days=rng.randint(0, 3)), TODAY)
                history.append(
                    Touch(result.sync_id, "status", booked, booked, "edited", value="won")
                )
        state.record_touches(backend.description, history)
    booked = sum(1 for t in history if t.kind == "status")
    touches = len(history) - booked
    print(f"history: {touches} touches, {booked} bookings, {year_ago} to {TODAY}")
    return config_file


# --- the cases, each in a child process ---------------------------------------------------------


def has_report_command() -> bool:
    from sheets_sync import cli

    try:
        cli.main(["report", "--help"])
    except SystemExit as done:
        return done.code == 0
    return False


def child(case: str, config_file: Path) -> dict[str, Any]:
    import contextlib
    import io

    from sheets_sync import cli, engine
    from sheets_sync.config import load_config
    from sheets_sync.core.report import Period, build_report
    from sheets_sync.engine import open_backend
    from sheets_sync.mail.report import render_monthly_report
    from sheets_sync.state import State

    config = load_config(config_file)
    period = Period.year(YEAR)
    result: dict[str, Any] = {}
    with contextlib.redirect_stdout(io.StringIO()):
        command = case == "report" and has_report_command()
    start, cpu = time.perf_counter(), time.process_time()
    if case == "base":
        with State(config.daemon.state_dir) as state:
            engine.sync(open_backend(config, {}), config, state, today=TODAY, dry_run=True)
    elif command:
        argv = ["report", "--config", str(config_file), "--year", str(YEAR)]
        argv += ["--html", str(OUT / "report.html"), "--xlsx", str(OUT / "report.xlsx")]
        with contextlib.redirect_stdout(io.StringIO()):
            result["exit"] = cli.main(argv)
        result["path"] = "sheets-sync report"
    else:
        phases: dict[str, float] = {}
        mark = time.perf_counter()

        def lap(name: str) -> None:
            nonlocal mark
            now = time.perf_counter()
            phases[name] = now - mark
            mark = now

        with State(config.daemon.state_dir) as state:
            backend = open_backend(config, {})
            cycle = engine.sync(backend, config, state, today=TODAY, dry_run=True)
            lap("dry-run read")
            logged = state.touches(cycle.source)
            lap("touch log")
            report = build_report(
                cycle.plan.rows,
                logged,
                period,
                today=TODAY,
                settings=config.rule_settings(),
                clinic=config.clinic.name,
                date1904=cycle.snapshot.date1904,
            )
            lap("build")
            message = render_monthly_report(report, sender=config.mail.sender, to="m@example.com")
            message.as_bytes()
            lap("render")
        result["phases"] = phases
        result["path"] = "library (no report command yet: no --xlsx)"
        days = report.days_to_book
        result["figures"] = {
            "prospects": len(cycle.plan.rows),
            "touches logged": len([t for t in logged if t.kind == "touch"]),
            "bookings": len(report.bookings),
            "value": str(report.booked_value),
            "approximate": report.approximate,
            "days to book": None if days is None else [days.youngest, days.median, days.oldest],
            "over 200 days": f"{report.long_term_share:.3f}" if report.long_term_share else None,
            "five or more": f"{report.five_or_more_share:.3f}" if report.bookings else None,
            "overdue": report.overdue,
            "overdue value": str(report.overdue_value),
        }
    result["seconds"] = time.perf_counter() - start
    result["cpu"] = time.process_time() - cpu
    return result


def run_child(case: str, config_file: Path) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", case, "--config", str(config_file)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"case {case} failed (exit {done.returncode})")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.config)))
        return 0

    started = time.perf_counter()
    config_file = set_up(args.rows)
    print(
        f"log: {args.rows} rows; set up in {time.perf_counter() - started:.1f} s; today = {TODAY}"
    )
    runs: dict[str, list[dict[str, Any]]] = {"base": [], "report": []}
    for _ in range(args.repeat):  # interleaved, so a slow spell of the machine hits both
        for case in runs:
            runs[case].append(run_child(case, config_file))

    median = {c: statistics.median(r["seconds"] for r in rs) for c, rs in runs.items()}
    cpu = {c: statistics.median(r["cpu"] for r in rs) for c, rs in runs.items()}
    labels = {"base": "(base) dry-run read", "report": f"(report) --year {YEAR}"}
    print()
    print(f"{args.repeat} runs per case, each in a fresh subprocess; median wall and CPU time.")
    print(f"{'case':<26}{'wall s':>8}{'cpu s':>8}{'/(base)':>9}  wall runs (s)")
    for case, label in labels.items():
        times = " ".join(f"{r['seconds']:.3f}" for r in runs[case])
        ratio = median[case] / median["base"]
        print(f"{label:<26}{median[case]:>8.3f}{cpu[case]:>8.3f}{ratio:>9.2f}  {times}")
    last = runs["report"][-1]
    print(f"(report) ran: {last['path']}")
    print()
    verdict = "PASS" if median["report"] < 5 else "MISS"
    print(f"{verdict}  (report) under 5 s: {median['report']:.2f} s")
    if "phases" in last:
        print()
        print("where (report)'s time goes (last run):")
        for name, seconds in last["phases"].items():
            print(f"  {name:<14}{seconds:>7.2f} s")
        print()
        print("the report's figures:")
        for name, value in last["figures"].items():
            print(f"  {name:<16}{value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
