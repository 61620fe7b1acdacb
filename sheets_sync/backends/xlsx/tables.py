"""Excel tables (ListObjects): the managed columns join the log's table, so a staff sort
moves them with their rows.

A table part is read with lxml but widened by splices into its bytes, like the worksheet: every
existing column (its totals label or function, its calculated-column formula) keeps each byte.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from xml.sax.saxutils import escape

from sheets_sync.backends.xlsx.frame import Area
from sheets_sync.backends.xlsx.safe import parse_tree
from sheets_sync.core.columns import Table, column_letters
from sheets_sync.errors import SheetsSyncError

_TABLE = re.compile(rb"<([\w.-]+:)?table(?=[\s/>])")
_ATTRIBUTE = re.compile(rb"""\s([\w.:-]+)\s*=\s*("[^"]*"|'[^']*')""")
# A name in an attribute: line breaks and tabs as references, so that they survive reading.
_ATTRIBUTE_ESCAPES = {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}


def read_table(table_xml: bytes) -> Table:
    """The table a table part describes; its `totalsRowCount` last rows are totals.

    `totalsRowShown` is no guide: it says whether a totals row was ever shown, not whether
    there is one (ECMA-376 §18.5.1.2).
    """
    root = parse_tree(table_xml)
    area = Area.parse(root.get("ref", ""))
    return Table(
        name=root.get("displayName") or root.get("name") or "",
        first_row=area.first_row,
        first_col=area.first_col,
        last_row=area.last_row,
        last_col=area.last_col,
        totals_rows=int(root.get("totalsRowCount", "0")),
    )


def widen_table(table_xml: bytes, *, last_col: int, headers: Mapping[int, str]) -> bytes | None:
    """The table reaching `last_col`, with a column for each header it gains; None if unchanged.

    `headers` holds the header row's text by column. Raises when a column the table would
    take in has no header, or one another column of the table has: Excel needs every table
    column named, uniquely, as its header cell reads. The new columns have no totals, so a
    totals row stays as it was.
    """
    table = read_table(table_xml)
    if last_col <= table.last_col:
        return None
    root = parse_tree(table_xml)
    columns = next((child for child in root if _local(child.tag) == "tableColumns"), None)
    if columns is None:
        raise SheetsSyncError(f"the log's Excel table {table.name} has no column list")
    taken = {(column.get("name") or "").casefold() for column in columns}
    next_id = max((int(column.get("id", "0")) for column in columns), default=0) + 1

    start = _TABLE.search(table_xml)
    if start is None:
        raise SheetsSyncError(f"the log's Excel table {table.name} cannot be read")
    prefix = start.group(1) or b""
    added = []
    for col in range(table.last_col + 1, last_col + 1):
        name = headers.get(col, "")
        cell = f"{column_letters(col)}{table.first_row}"
        if not name:
            raise SheetsSyncError(
                f"the log's Excel table {table.name} ({table}) cannot grow to take in the "
                f"managed columns: its header cell {cell} would be empty; give it a header or "
                "remove the column"
            )
        if name.casefold() in taken:
            raise SheetsSyncError(
                f"the log's Excel table {table.name} ({table}) cannot grow to take in the "
                f'managed columns: the header "{name}" in {cell} is already one of its '
                "columns; rename one of them"
            )
        taken.add(name.casefold())
        added.append(
            f'<{prefix.decode()}tableColumn id="{next_id}" '
            f'name="{escape(name, _ATTRIBUTE_ESCAPES)}"/>'.encode()
        )
        next_id += 1
    wider = Area(table.first_col, table.first_row, last_col, table.last_row)

    edits = [_set_attribute(table_xml, start.start(), b"ref", str(wider))]
    autofilter = _start_tag(table_xml, prefix, b"autoFilter", start.end())
    if autofilter is not None:
        ref = _attributes(table_xml, autofilter).get(b"ref")
        filtered = Area.parse(ref.group(2)[1:-1].decode() if ref else str(wider))
        edits.append(
            _set_attribute(
                table_xml,
                autofilter,
                b"ref",
                str(Area(filtered.first_col, filtered.first_row, last_col, filtered.last_row)),
            )
        )
    listed = _start_tag(table_xml, prefix, b"tableColumns", start.end())
    if listed is not None and b"count" in _attributes(table_xml, listed):
        edits.append(_set_attribute(table_xml, listed, b"count", str(len(columns) + len(added))))
    end = re.search(rb"</" + re.escape(prefix) + rb"tableColumns\s*>", table_xml)
    if end is None:
        raise SheetsSyncError(f"the log's Excel table {table.name} cannot be read")
    edits.append((end.start(), end.start(), b"".join(added)))

    pieces, done = [], 0
    for first, last, new in sorted(edits):
        pieces += [table_xml[done:first], new]
        done = last
    return b"".join([*pieces, table_xml[done:]])


def _local(tag: object) -> str:
    return str(tag).rpartition("}")[2]


def _start_tag(xml: bytes, prefix: bytes, name: bytes, start: int) -> int | None:
    """Where the first start tag `name` after `start` begins."""
    match = re.compile(rb"<" + re.escape(prefix) + name + rb"(?=[\s/>])").search(xml, start)
    return match.start() if match else None


def _attributes(xml: bytes, tag_start: int) -> dict[bytes, re.Match[bytes]]:
    """The attributes of the start tag at `tag_start`, by name."""
    end = xml.index(b">", tag_start)
    return {match.group(1): match for match in _ATTRIBUTE.finditer(xml, tag_start, end)}


def _set_attribute(xml: bytes, tag_start: int, name: bytes, value: str) -> tuple[int, int, bytes]:
    """The splice giving attribute `name` of the start tag at `tag_start` a new value."""
    match = _attributes(xml, tag_start).get(name)
    if match is None:
        raise SheetsSyncError(f"an Excel table part has no {name.decode()} where one is needed")
    return match.start(2), match.end(2), f'"{value}"'.encode()
