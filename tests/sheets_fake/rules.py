"""How Google rewrites a conditional-format rule's custom formula when its rows move.

A custom formula is written for the first cell of the rule's range, and its relative
references are kept as offsets from that cell: when the range's first row moves, the row
numbers of the relative references move with it and the absolute ones (`H$2`) stay. Issue 12
reports the effect on the real service: a row inserted under the header turns the range F2:F
into F3:F and `$H2` into `$H3`. (Not checked against the live service from here.)
"""

from __future__ import annotations

import re

# A cell reference outside quoted text: $H2, H$2, AB12 (not a function name like LOG10( ).
_REFERENCE = re.compile(r"(?<![\w.$])(\$?[A-Za-z]{1,3})(\$?)(\d+)(?![\w(])")


def shift_relative_rows(formula: str, rows: int) -> str:
    """The formula with every relative row reference moved by `rows`."""

    def moved(match: re.Match[str]) -> str:
        column, fixed, row = match.groups()
        return match[0] if fixed else f"{column}{max(1, int(row) + rows)}"

    parts = formula.split('"')
    parts[::2] = [_REFERENCE.sub(moved, part) for part in parts[::2]]
    return '"'.join(parts)
