"""The log's colour rules and the Next touch date format, as Sheets API requests.

The formulas need no argument separator. The API parses a condition's formula "as if the user
typed into a cell" (ConditionValue.userEnteredValue), that is in the spreadsheet's locale, and
locales with a decimal comma (de_DE, fr_FR, tr_TR...) separate arguments with `;`: a `,`
there is a parse error, as API users report. So `AND(a,b)` is written `a*b=1`, and
`LEFT(s,10)="CHECK DATA"` as a range of text, `s>="CHECK DATA"` and `s<"CHECK DATB"`.

Google rewrites a rule when staff insert, delete or move rows: its ranges move, and its
relative references move with them (`$H2` becomes `$H3` when a row goes in under the header).
So our rules are known by a form that survives that: the formula with each relative row
written as its distance from the rule's first row, the colour, and the managed columns. Of
those found, exactly one set is kept, in place, and the rest deleted; staff rules are never
touched. The requests are computed from a read made just before, and are safe to send twice
(a retry after an answer was lost): see `rule_requests`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from sheets_sync.core.columns import column_letters
from sheets_sync.core.rule import Flag
from sheets_sync.core.sync import Changes

Rule = Mapping[str, Any]

# Colour rules: keyed on the date (TODAY()) so they are right after midnight before a sync.
# {S} is the row's Follow-up status, {T} its Next touch; the last formula of each flag is the
# one written before issue 12 (with argument separators), known so that it is replaced.
_RULES: tuple[tuple[Flag, tuple[str, ...], tuple[float, float, float]], ...] = (
    (
        Flag.CHECK_DATA,
        ('=({S}>="CHECK DATA")*({S}<"CHECK DATB")=1', '=LEFT({S},10)="CHECK DATA"'),
        (0.97, 0.77, 0.55),
    ),
    (
        Flag.CLOSED,
        ('=({S}>="CLOSED")*({S}<"CLOSEE")=1', '=LEFT({S},6)="CLOSED"'),
        (0.89, 0.89, 0.89),
    ),
    (Flag.NURTURE, ('={S}="NURTURE"',), (0.79, 0.84, 0.91)),
    (
        Flag.OVERDUE,
        ("=ISNUMBER({T})*({T}<TODAY())=1", "=AND(ISNUMBER({T}),{T}<TODAY())"),
        (0.96, 0.71, 0.65),
    ),
    (
        Flag.DUE_TODAY,
        ("=ISNUMBER({T})*({T}=TODAY())=1", "=AND(ISNUMBER({T}),{T}=TODAY())"),
        (1.0, 0.88, 0.54),
    ),
    (
        Flag.UPCOMING,
        ("=ISNUMBER({T})*({T}>TODAY())=1", "=AND(ISNUMBER({T}),{T}>TODAY())"),
        (0.70, 0.88, 0.82),
    ),
)

# A cell reference outside quotes: $H2, H$2, AB12 (not a function name like LOG10( ).
_REFERENCE = re.compile(r"(?<![\w.$])(\$?[A-Za-z]{1,3})(\$?)(\d+)(?![\w(])")


def colour_rules(changes: Changes, sheet_id: int) -> list[dict[str, Any]]:
    """Our rules, in their order (their priority), for the managed columns from the first row."""
    return [_rule(changes, sheet_id, formulas[0], colour) for _, formulas, colour in _RULES]


def rule_requests(present: Sequence[Rule], changes: Changes, sheet_id: int) -> list[dict[str, Any]]:
    """The requests that leave exactly one set of our rules among `present` (the log's rules
    as read), or none when it is there already. Staff rules keep their places.

    Ours found as they should be but some missing (deleted by staff): the missing ones are
    added among them. Otherwise (moved by Google, doubled, out of order): ours are rewritten
    in place in our order, spare ones deleted, missing ones added after the last. Such a
    batch changes rules by their position: send it only as computed from a read made just
    before (`by_position`).

    Sent twice (a retry after Google's answer was lost), the requests do no harm: rewriting in
    place gives the same rules again; added rules come back as spare copies of ours, deleted
    next cycle; and a batch that deletes starts with a check that the log still has as many
    rules as were read (moving the last one onto itself), which fails the repeat whole, as
    Google applies a batch whole or not at all. So a stale position never deletes a staff rule.
    """
    wanted = colour_rules(changes, sheet_id)
    known = {
        _identity(_rule(changes, sheet_id, formula, colour)): n
        for n, (_, formulas, colour) in enumerate(_RULES)
        for formula in formulas
    }
    ours = [index for index, rule in enumerate(present) if _identity(rule) in known]
    found = [_exact(present[index]) for index in ours]
    exact = [_exact(rule) for rule in wanted]
    if found == exact:
        return []
    places = [exact.index(rule) if rule in exact else -1 for rule in found]
    if -1 not in places and places == sorted(set(places)):
        return _add_missing(present, ours, places, wanted)
    kept, spare = ours[: len(wanted)], ours[len(wanted) :]
    requests: list[dict[str, Any]] = []
    if spare:
        last = len(present) - 1
        requests.append(
            {"updateConditionalFormatRule": {"sheetId": sheet_id, "index": last, "newIndex": last}}
        )
    for index, rule in zip(kept, wanted, strict=False):
        if _exact(present[index]) != _exact(rule):
            requests.append(
                {"updateConditionalFormatRule": {"sheetId": sheet_id, "index": index, "rule": rule}}
            )
    requests += [
        {"deleteConditionalFormatRule": {"sheetId": sheet_id, "index": index}}
        for index in reversed(spare)
    ]
    after = kept[-1] + 1
    requests += [
        {"addConditionalFormatRule": {"rule": rule, "index": after + n}}
        for n, rule in enumerate(wanted[len(kept) :])
    ]
    return requests


def by_position(requests: Sequence[Mapping[str, Any]]) -> bool:
    """Whether the requests rewrite or delete rules by position (adding never harms one)."""
    return any("addConditionalFormatRule" not in request for request in requests)


def _add_missing(
    present: Sequence[Rule], ours: list[int], places: list[int], wanted: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Adds for the wanted rules not found, each just before the next of ours found (so ours
    keep their order), after the last, or first of all when none is."""
    tags: list[int | None] = [None] * len(present)  # which of ours each rule is, if any
    for index, place in zip(ours, places, strict=True):
        tags[index] = place
    requests = []
    for missing in sorted(set(range(len(wanted))) - set(places)):
        later = [i for i, tag in enumerate(tags) if tag is not None and tag > missing]
        earlier = [i for i, tag in enumerate(tags) if tag is not None and tag < missing]
        index = later[0] if later else earlier[-1] + 1 if earlier else 0
        tags.insert(index, missing)
        requests.append({"addConditionalFormatRule": {"rule": wanted[missing], "index": index}})
    return requests


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


def _rule(
    changes: Changes, sheet_id: int, formula: str, colour: tuple[float, float, float]
) -> dict[str, Any]:
    managed = changes.layout.managed
    first = changes.layout.first_row
    status = f"${column_letters(managed['follow_up_status'])}{first}"
    touch = f"${column_letters(managed['next_touch'])}{first}"
    columns = sorted(managed[f] for f in ("next_touch", "next_action", "follow_up_status"))
    red, green, blue = colour
    return {
        "ranges": [
            {
                "sheetId": sheet_id,
                "startRowIndex": first - 1,
                "startColumnIndex": col,
                "endColumnIndex": col + 1,
            }
            for col in columns
        ],
        "booleanRule": {
            "condition": {
                "type": "CUSTOM_FORMULA",
                "values": [{"userEnteredValue": formula.format(S=status, T=touch)}],
            },
            "format": {"backgroundColor": {"red": red, "green": green, "blue": blue}},
        },
    }


def _identity(rule: Rule) -> tuple[object, ...] | None:
    """What makes a rule ours whatever Google did to its rows: its formula with relative rows
    counted from the rule's first row, its colour, and the columns it covers; None for a rule
    that is no custom-formula colour (never ours)."""
    boxes = rule.get("ranges") or []
    formula = _formula(rule)
    if not boxes or formula is None:
        return None
    top = int(boxes[0].get("startRowIndex", 0)) + 1

    def relative(match: re.Match[str]) -> str:
        column, fixed, row = match.groups()
        return match[0] if fixed else f"{column.upper()}[{int(row) - top}]"

    parts = formula.split('"')  # references only outside the quoted texts
    parts[::2] = [_REFERENCE.sub(relative, part) for part in parts[::2]]
    columns = frozenset(
        col
        for box in boxes
        for col in range(int(box.get("startColumnIndex", 0)), int(box.get("endColumnIndex", 0)))
    )
    return ('"'.join(parts), _colour(rule), columns)


def _exact(rule: Rule) -> tuple[object, ...]:
    """A rule as the API gives it back (defaults left out), for telling whether ours are
    exactly as wanted: the formula, the colour, and every range."""
    boxes = tuple(
        (
            int(box.get("sheetId", 0)),
            int(box.get("startRowIndex", 0)),
            int(box.get("startColumnIndex", 0)),
            box.get("endRowIndex"),
            box.get("endColumnIndex"),
        )
        for box in rule.get("ranges") or []
    )
    return (_formula(rule), _colour(rule), boxes)


def _formula(rule: Rule) -> str | None:
    condition = rule.get("booleanRule", {}).get("condition", {})
    values = condition.get("values") or []
    if condition.get("type") != "CUSTOM_FORMULA" or len(values) != 1:
        return None
    return str(values[0].get("userEnteredValue", ""))


def _colour(rule: Rule) -> tuple[float, ...]:
    """The background colour, rounded: Google keeps colours as 32-bit floats."""
    form = rule.get("booleanRule", {}).get("format", {})
    colour = form.get("backgroundColor") or form.get("backgroundColorStyle", {}).get("rgbColor", {})
    return tuple(round(float(colour.get(part, 0.0)), 3) for part in ("red", "green", "blue"))
