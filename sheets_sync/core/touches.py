"""The touch log's entries: what the daemon learns about each prospect (SPEC §8).

An entry comes either from an outcome staff typed into the row (`typed`), or from a staff cell
that changed between two cycles (`edited`). The state keeps them, by log and Sync ID, only ever
adding; `explain`, `history` and the monthly report read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

TouchKind = Literal["touch", "status", "snooze", "owner"]
TouchSource = Literal["typed", "edited"]


@dataclass(frozen=True, slots=True)
class Touch:
    """One entry of the touch log."""

    sync_id: str
    kind: TouchKind  # a contact, a status change, a snooze set or cleared, a new owner
    happened: date  # the day it happened: a touch's date, or the day a change was first seen
    seen: date  # the day the daemon learned of it
    source: TouchSource  # typed into the row, or a staff cell edited between cycles
    channel: str = ""  # for a touch: Call, Email, Text, … as typed or as the plan's step says
    note: str = ""  # the free text typed after the outcome (`called - wants finance options`)
    value: str = ""  # the new status, the snooze date (ISO) or "" when cleared, the new owner
