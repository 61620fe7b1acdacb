"""The report's figures (SPEC §10) on small logs, where the count is plain to see."""

from __future__ import annotations

import itertools
from datetime import date

from sheets_sync.core.columns import find_layout
from sheets_sync.core.report import Period, build_report
from sheets_sync.core.rule import Settings
from sheets_sync.core.sync import plan_sync

TODAY = date(2026, 11, 30)


def test_an_owner_named_by_their_address_is_the_same_owner(settings: Settings) -> None:
    grid = [
        ["Name", "Owner", "Consult date", "Status"],
        ["Ann Lee", "Anna Price", date(2026, 11, 2), ""],
        ["Bo Chan", "anna.price@clinic.example", date(2026, 11, 3), ""],
        ["Cy Dale", "Ben Okafor", date(2026, 11, 4), ""],
    ]
    ids = (f"id{n}" for n in itertools.count())
    rows = plan_sync(
        grid, find_layout(grid), TODAY, settings, remembered={}, new_id=lambda: next(ids)
    ).rows

    report = build_report(
        rows,
        [],
        Period.month(2026, 11),
        today=TODAY,
        settings=settings,
        book={"anna price": "anna.price@clinic.example"},
    )

    assert [(o.owner, o.active) for o in report.owners] == [("Anna Price", 2), ("Ben Okafor", 1)]
