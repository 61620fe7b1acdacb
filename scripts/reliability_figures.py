"""Run the fault scenarios of issue 6 and print the README's Reliability table.

    .venv/bin/python scripts/reliability_figures.py

Each scenario's tests record their figures (tests/tally.py); this adds them up per
scenario: sync cycles run, faults injected, staff edits made, staff edits lost.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = [
    "tests/backends/test_xlsx_crash.py",
    "tests/backends/test_libreoffice_editor.py",
    "tests/backends/test_xlsx_race.py",
    "tests/test_file_faults.py",
    "tests/test_stateful.py",
]
COLUMNS = ("cycles", "faults", "edits", "lost")


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        tally = Path(folder) / "tally.jsonl"
        environ = os.environ | {"SHEETS_SYNC_TALLY": str(tally)}
        tests = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", *SCENARIOS]
        if subprocess.run(tests, cwd=REPO, env=environ, check=False).returncode != 0:
            print("some scenarios failed: no figures", file=sys.stderr)
            return 1
        lines = tally.read_text(encoding="utf-8").splitlines()
    totals: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COLUMNS, 0))
    for line in lines:
        figures = json.loads(line)
        for column in COLUMNS:
            totals[figures["scenario"]][column] += figures[column]
    print("\n| scenario | cycles run | faults injected | staff edits made | staff edits lost |")
    print("|---|---|---|---|---|")
    for scenario, figures in totals.items():
        print(f"| {scenario} | " + " | ".join(f"{figures[c]:,}" for c in COLUMNS) + " |")
    overall = {c: sum(figures[c] for figures in totals.values()) for c in COLUMNS}
    print("| **all** | " + " | ".join(f"**{overall[c]:,}**" for c in COLUMNS) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
