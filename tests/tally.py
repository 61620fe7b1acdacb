"""Figures for the README's Reliability section.

Each fault scenario records what it ran: sync cycles, faults injected, staff edits made and
staff edits lost. Nothing is recorded unless SHEETS_SYNC_TALLY names a file, which
`scripts/reliability_figures.py` sets before running the scenarios; it then adds them up.
"""

from __future__ import annotations

import json
import os


def record(scenario: str, *, cycles: int, faults: int, edits: int, lost: int) -> None:
    """Add one run of `scenario` to the tally file, when there is one."""
    if path := os.environ.get("SHEETS_SYNC_TALLY"):
        figures = {"scenario": scenario, "cycles": cycles, "faults": faults}
        figures |= {"edits": edits, "lost": lost}
        with open(path, "a", encoding="utf-8") as tally:
            tally.write(json.dumps(figures) + "\n")
