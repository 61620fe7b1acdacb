"""Excel tables (ListObjects): the managed columns join the log's table, so a staff sort
moves them with their rows."""

from __future__ import annotations

from collections.abc import Mapping

from lxml import etree

from sheets_sync.backends.xlsx.frame import Area
from sheets_sync.backends.xlsx.safe import parse_tree
from sheets_sync.errors import SheetsSyncError

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def table_area(table_xml: bytes) -> Area:
    return Area.parse(parse_tree(table_xml).get("ref", ""))


def widen_table(table_xml: bytes, *, last_col: int, headers: Mapping[int, str]) -> bytes | None:
    """The table reaching `last_col`, with a column for each header it gains; None if unchanged.

    `headers` holds the header row's text by column. Raises when a column the table would
    take in has no header, since Excel needs every table column named.
    """
    root = parse_tree(table_xml)
    area = Area.parse(root.get("ref", ""))
    if last_col <= area.last_col:
        return None
    columns = root.find(f"{{{MAIN}}}tableColumns")
    if columns is None:
        raise SheetsSyncError("the log's Excel table has no column list")
    next_id = max((int(column.get("id", "0")) for column in columns), default=0) + 1
    for col in range(area.last_col + 1, last_col + 1):
        name = headers.get(col, "")
        if not name:
            raise SheetsSyncError(
                "the log's Excel table cannot grow to take in the managed columns: "
                "the column between them has no header; give it one or remove it"
            )
        column = etree.SubElement(columns, f"{{{MAIN}}}tableColumn", id=str(next_id), name=name)
        column.tail = columns[-2].tail if len(columns) > 1 else None
        next_id += 1
    columns.set("count", str(len(columns)))
    wider = Area(area.first_col, area.first_row, last_col, area.last_row)
    root.set("ref", str(wider))
    autofilter = root.find(f"{{{MAIN}}}autoFilter")
    if autofilter is not None:
        totals = int(root.get("totalsRowCount", "0"))
        autofilter.set(
            "ref", str(Area(wider.first_col, wider.first_row, last_col, wider.last_row - totals))
        )
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
