"""The log's colour rules and the Next touch date format, as Sheets API requests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sheets_sync.core.columns import column_letters
from sheets_sync.core.rule import Flag
from sheets_sync.core.sync import Changes

# Colour rules: keyed on the date (TODAY()) so they are right after midnight before a sync.
_RULES: tuple[tuple[Flag, str, tuple[float, float, float]], ...] = (
    (Flag.CHECK_DATA, '=LEFT({S},10)="CHECK DATA"', (0.97, 0.77, 0.55)),
    (Flag.CLOSED, '=LEFT({S},6)="CLOSED"', (0.89, 0.89, 0.89)),
    (Flag.NURTURE, '={S}="NURTURE"', (0.79, 0.84, 0.91)),
    (Flag.OVERDUE, "=AND(ISNUMBER({T}),{T}<TODAY())", (0.96, 0.71, 0.65)),
    (Flag.DUE_TODAY, "=AND(ISNUMBER({T}),{T}=TODAY())", (1.0, 0.88, 0.54)),
    (Flag.UPCOMING, "=AND(ISNUMBER({T}),{T}>TODAY())", (0.70, 0.88, 0.82)),
)


def colour_rules(changes: Changes, sheet_id: int) -> list[dict[str, Any]]:
    managed = changes.layout.managed
    first = changes.layout.first_row
    status = f"${column_letters(managed['follow_up_status'])}{first + 0}"
    touch = f"${column_letters(managed['next_touch'])}{first + 0}"
    columns = sorted(managed[f] for f in ("next_touch", "next_action", "follow_up_status"))
    ranges = [
        {
            "sheetId": sheet_id,
            "startRowIndex": first - 1,
            "startColumnIndex": col,
            "endColumnIndex": col + 1,
        }
        for col in columns
    ]
    return [
        {
            "ranges": ranges,
            "booleanRule": {
                "condition": {
                    "type": "CUSTOM_FORMULA",
                    "values": [{"userEnteredValue": formula.format(S=status, T=touch)}],
                },
                "format": {"backgroundColor": {"red": r, "green": g, "blue": b}},
            },
        }
        for _, formula, (r, g, b) in _RULES
    ]


def date_format(changes: Changes, sheet_id: int) -> dict[str, Any]:
    """Show the Next touch column as dates (they are written as serial numbers)."""
    col = changes.layout.managed["next_touch"]
    return {
        "repeatCell": {
            "range": {
                "sheetId": sheet_id,
                "startRowIndex": changes.layout.first_row - 1,
                "startColumnIndex": col,
                "endColumnIndex": col + 1,
            },
            "cell": {
                "userEnteredFormat": {"numberFormat": {"type": "DATE", "pattern": "ddd d mmm yyyy"}}
            },
            "fields": "userEnteredFormat.numberFormat",
        }
    }


def has_rules(present: Sequence[Mapping[str, Any]], wanted: Sequence[Mapping[str, Any]]) -> bool:
    """Whether every wanted rule's formula is there (the API omits defaults, so compare the
    formulas, which identify the rules)."""
    return formulas(wanted) <= formulas(present)


def formulas(rules: Sequence[Mapping[str, Any]]) -> set[str]:
    found = set()
    for rule in rules:
        condition = rule.get("booleanRule", {}).get("condition", {})
        for value in condition.get("values", []):
            found.add(str(value.get("userEnteredValue", "")))
    return found
