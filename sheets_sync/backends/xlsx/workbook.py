"""The one edit the workbook part (`xl/workbook.xml`) ever gets: the hidden name Excel keeps
for a sheet's autofilter, `_xlnm._FilterDatabase`, widened with the filter.

Excel and LibreOffice write that name beside every sheet autofilter, always saying the same
range; when the sync widens the filter over the managed columns, a name left at the old range
contradicts it. The name's text is spliced into the original bytes: every other byte of the
part, the sheet name's quoting included, stays as it was.
"""

from __future__ import annotations

import html
import re

from sheets_sync.backends.xlsx.frame import Area, tag_attributes
from sheets_sync.core.columns import column_letters

_FILTER = "_xlnm._FilterDatabase"
_SHEET = re.compile(rb"<(?:\w+:)?sheet\s[^>]*>")
_DEFINED_NAME = re.compile(rb"<((?:\w+:)?)definedName(\s[^>]*)>([^<]*)</\1definedName>")


def with_filter_name(xml: bytes, sheet: str, area: Area) -> bytes | None:
    """The workbook part with the filter name of the worksheet called `sheet` covering
    `area`; None when it does already, or the workbook has no such name.

    None too when there is no name to widen: none is added, since Excel and LibreOffice take
    the filter from the sheet and write the name themselves on their next save.
    """
    index = _sheet_index(xml, sheet)
    if index is None:
        return None
    for match in _DEFINED_NAME.finditer(xml):
        attributes = tag_attributes(match.group(2))
        if (attributes.get("name"), attributes.get("localSheetId")) != (_FILTER, str(index)):
            continue
        text = match.group(3)
        where, bang, ref = text.rpartition(b"!")
        named = _sheet_named(html.unescape(where.decode()))
        if not bang or named.casefold() != sheet.casefold():
            return None  # a name for another sheet's cells: not the filter of this one
        try:
            if Area.parse(ref.decode()) == area:
                return None
        except ValueError:
            return None  # no range (#REF!, a formula): what it should say is not ours to guess
        wanted = (
            f"${column_letters(area.first_col)}${area.first_row}"
            f":${column_letters(area.last_col)}${area.last_row}"
        )
        start = match.start(3) + len(where) + 1
        return xml[:start] + wanted.encode() + xml[match.end(3) :]
    return None


def _sheet_index(xml: bytes, sheet: str) -> int | None:
    """The 0-based place of `sheet` among every sheet of the workbook (chart sheets count):
    what a defined name's localSheetId means."""
    start = re.search(rb"<(?:\w+:)?sheets\s*>", xml)
    stop = re.search(rb"</(?:\w+:)?sheets\s*>", xml)
    if start is None or stop is None:
        return None
    for index, match in enumerate(_SHEET.finditer(xml, start.end(), stop.start())):
        if tag_attributes(match.group()).get("name") == sheet:
            return index
    return None


def _sheet_named(where: str) -> str:
    """The sheet name in a reference's sheet part: `Prospects`, `'O''Brien log'`."""
    if len(where) >= 2 and where[0] == where[-1] == "'":
        return where[1:-1].replace("''", "'")
    return where
