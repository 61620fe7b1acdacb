"""The report (SPEC §10) for a clinic: read from a dry-run cycle and the touch log."""

from __future__ import annotations

from datetime import date

from sheets_sync.config import Config
from sheets_sync.core.report import Period, Report, build_report
from sheets_sync.engine import CycleReport
from sheets_sync.state import State


def clinic_report(
    cycle: CycleReport, config: Config, state: State, period: Period, today: date
) -> Report:
    """The clinic's report for `period`, from a cycle's rows (a dry run will do) and its
    touch log."""
    return build_report(
        cycle.plan.rows,
        state.touches(cycle.source),
        period,
        today=today,
        settings=config.rule_settings(),
        clinic=config.clinic.name,
        date1904=cycle.snapshot.date1904,
    )
