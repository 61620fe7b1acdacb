"""Is a SpreadsheetML part well formed in the eyes of the standard, and of Excel?

`validate_part` checks one part against the ECMA-376 transitional schema (sml.xsd and what it
imports), after setting aside what the markup-compatibility rules tell a reader to set aside:
attributes and elements of namespaces the part declares ignorable, `mc:AlternateContent`
(its Fallback is kept), and `xml:space`, which the schema's string types leave undeclared.
Extension lists validate as they are: their content is `xsd:any` with lax processing.

It adds what a schema cannot express but Excel insists on: `<col>` ranges in ascending order
without overlaps, rows in ascending order, cells in ascending column order within their row
and each cell inside its own row (no r="B5" in row 4), no `<row>` or `<c>` in no namespace
inside a namespaced sheet, and tables whose column names are unique and match the width of
their range. `validate_package` checks each part it covers and, across parts, that tables on
one sheet do not overlap, that each table's header cells hold its column names, and that a
sheet's autofilter and its `_xlnm._FilterDatabase` name cover the same range.

The schemas are not kept in this repository: they live in the `ooxml-schemas` folder of the
project's shared data (`SHEETS_SYNC_SHARED`, by default the `shared` folder beside the
repository), with their licence note; see tests/corpus/README.md.
"""

from __future__ import annotations

import functools
import os
import posixpath
import re
from collections.abc import Mapping
from copy import deepcopy
from pathlib import Path
from typing import NamedTuple

from lxml import etree

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("SHEETS_SYNC_SHARED") or ROOT.parent / "shared")
SCHEMAS = SHARED / "ooxml-schemas"

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
XML = "http://www.w3.org/XML/1998/namespace"
PACKAGE_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"

_REF = re.compile(r"([A-Z]{1,3})([0-9]{1,7})")
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
# No DTDs, entities or network: the corpus files are someone else's.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


@functools.cache
def _schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMAS / "sml.xsd")))


def validate_part(name: str, xml: bytes) -> list[str]:
    """Every problem of one SpreadsheetML part, each naming the part and line; [] when none.

    Parts outside the transitional SpreadsheetML namespace (drawings, Strict parts) get only
    the well-formedness check.
    """
    try:
        root = etree.fromstring(xml, _PARSER)
    except etree.XMLSyntaxError as exc:
        return [f"{name}: not well-formed XML: {exc}"]
    if etree.QName(root).namespace != MAIN:
        return []
    problems = _schema_problems(name, root)
    kind = etree.QName(root).localname
    if kind == "worksheet":
        problems += _sheet_problems(name, root)
    elif kind == "table":
        problems += _table_problems(name, root)
    return problems


def validate_package(parts: Mapping[str, bytes]) -> list[str]:
    """Every problem of a package's SpreadsheetML parts, alone and taken together."""
    problems = [
        problem
        for name, data in parts.items()
        if name.endswith(".xml")
        for problem in validate_part(name, data)
    ]
    problems += _filter_name_problems(parts)
    strings = _shared_strings(parts)
    for sheet, tables in _tables_by_sheet(parts).items():
        problems += _overlaps(sheet, tables)
        cells = _cell_texts(parts[sheet], strings)
        for table_name, table in tables:
            problems += _header_problems(table_name, table, cells)
    return problems


# --- the schema ----------------------------------------------------------------------------


def _schema_problems(name: str, root: etree._Element) -> list[str]:
    schema = _schema()
    if schema.validate(_as_understood(root)):
        return []
    errors: list[etree._LogEntry] = list(schema.error_log)  # type: ignore[call-overload]
    return [f"{name}:{error.line}: {error.message}" for error in errors]


def _as_understood(root: etree._Element) -> etree._Element:
    """A copy of `root` as a reader that knows only the transitional schema must take it."""
    copy = deepcopy(root)
    ignorable = {
        copy.nsmap.get(prefix) for prefix in (copy.get(f"{{{MC}}}Ignorable") or "").split()
    }
    for alternate in list(copy.iter(f"{{{MC}}}AlternateContent")):
        fallback = alternate.find(f"{{{MC}}}Fallback")
        _replace(alternate, list(fallback) if fallback is not None else [])
    for element in list(copy.iter(etree.Element)):
        if any(etree.QName(above).localname == "ext" for above in element.iterancestors()):
            continue  # an extension's content is validated laxly, as it stands
        if element.getparent() is not None and etree.QName(element).namespace in ignorable:
            _replace(element, [])
            continue
        for attribute in list(element.attrib):
            if etree.QName(attribute).namespace in ignorable | {MC, XML}:
                del element.attrib[attribute]
    return copy


def _replace(element: etree._Element, children: list[etree._Element]) -> None:
    parent = element.getparent()
    if parent is None:
        return
    index = parent.index(element)
    parent.remove(element)
    for offset, child in enumerate(children):
        parent.insert(index + offset, child)


# --- rows and cells ------------------------------------------------------------------------


def split_ref(ref: str) -> tuple[int, int] | None:
    """ "B5" -> (row 5, column 2), both 1-based; None for anything else."""
    match = _REF.fullmatch(ref)
    if match is None:
        return None
    number = 0
    for char in match.group(1):
        number = number * 26 + ord(char) - 64
    return int(match.group(2)), number


def _sheet_problems(name: str, root: etree._Element) -> list[str]:
    namespace = etree.QName(root).namespace
    problems = [
        f"{name}:{element.sourceline}: <{element.tag}> in no namespace in a sheet in {namespace}"
        for element in root.iter("{}row", "{}c")
    ]
    last_column = 0
    for col in root.iterfind(f"{{{namespace}}}cols/{{{namespace}}}col"):
        first, last = (
            int(text) if text.isdigit() else 0 for text in (col.get("min", ""), col.get("max", ""))
        )
        if not last_column < first <= last:
            problems.append(
                f"{name}:{col.sourceline}: <col> {first}-{last} overlaps, runs backwards or "
                f"comes after column {last_column}"
            )
        last_column = max(last_column, last)
    last_row = 0
    for row in root.iterfind(f"{{{namespace}}}sheetData/{{{namespace}}}row"):
        number_text = row.get("r", "")
        number = int(number_text) if number_text.isdigit() else last_row + 1
        if number <= last_row:
            problems.append(f"{name}:{row.sourceline}: row {number} comes after row {last_row}")
        last_row = number
        last_column = 0
        for cell in row.iterfind(f"{{{namespace}}}c"):
            ref = cell.get("r")
            place = split_ref(ref) if ref else (number, last_column + 1)
            if place is None:
                problems.append(f"{name}:{cell.sourceline}: cell reference {ref!r} is not A1-style")
                continue
            if place[0] != number:
                problems.append(f"{name}:{cell.sourceline}: cell {ref} is inside row {number}")
            if place[1] <= last_column:
                problems.append(
                    f"{name}:{cell.sourceline}: cell {ref} comes after column {last_column}"
                )
            last_column = place[1]
    return problems


# --- autofilters --------------------------------------------------------------------------


def _filter_name_problems(parts: Mapping[str, bytes]) -> list[str]:
    """Each sheet autofilter whose `_xlnm._FilterDatabase` name covers another range."""
    workbook = next(
        (
            found.part
            for found in relationships(parts, "")
            if found.type.endswith("/officeDocument")
        ),
        "",
    )
    if workbook not in parts:
        return []
    root = etree.fromstring(parts[workbook], _PARSER)
    namespace = etree.QName(root).namespace
    targets = {found.id: found.part for found in relationships(parts, workbook)}
    names = {
        name.get("localSheetId"): (name.text or "").rpartition("!")[2].replace("$", "")
        for name in root.iter(f"{{{namespace}}}definedName")
        if name.get("name") == "_xlnm._FilterDatabase"
    }
    problems = []
    for index, sheet in enumerate(root.iter(f"{{{namespace}}}sheet")):
        part = next(
            (targets.get(str(v), "") for k, v in sheet.attrib.items() if str(k).endswith("}id")),
            "",
        )
        named = names.get(str(index))
        if part not in parts or named is None:
            continue
        autofilter = etree.fromstring(parts[part], _PARSER).find(f"{{{namespace}}}autoFilter")
        if autofilter is not None and autofilter.get("ref") != named:
            problems.append(
                f"{workbook}: _xlnm._FilterDatabase of sheet {sheet.get('name')!r} covers "
                f"{named}, but the sheet's autofilter covers {autofilter.get('ref')}"
            )
    return problems


# --- tables --------------------------------------------------------------------------------


def _area(ref: str) -> tuple[int, int, int, int] | None:
    """ "B2:D9" -> (top, left, bottom, right); None when not a range of A1 references."""
    first, _, last = ref.partition(":")
    start, end = split_ref(first), split_ref(last or first)
    if start is None or end is None:
        return None
    return start[0], start[1], end[0], end[1]


def _columns(table: etree._Element) -> list[str]:
    namespace = etree.QName(table).namespace
    path = f"{{{namespace}}}tableColumns/{{{namespace}}}tableColumn"
    return [column.get("name", "") for column in table.iterfind(path)]


def _table_problems(name: str, table: etree._Element) -> list[str]:
    problems = []
    columns = _columns(table)
    seen: set[str] = set()
    for column in columns:
        if column.casefold() in seen:
            problems.append(f"{name}: table column name {column!r} is used twice")
        seen.add(column.casefold())
    area = _area(table.get("ref", ""))
    if area is None:
        problems.append(f"{name}: table range {table.get('ref')!r} is not a range")
    elif area[3] - area[1] + 1 != len(columns):
        problems.append(
            f"{name}: table range {table.get('ref')} is {area[3] - area[1] + 1} columns wide "
            f"but the table names {len(columns)} columns"
        )
    return problems


class Relationship(NamedTuple):
    id: str
    type: str
    part: str  # the target's part name


def relationships(parts: Mapping[str, bytes], source: str) -> list[Relationship]:
    """The internal relationships of the part `source` ("" for the package itself)."""
    folder, base = posixpath.split(source)
    rels = parts.get(posixpath.join(folder, "_rels", f"{base}.rels"))
    if rels is None:
        return []
    found = []
    for relationship in etree.fromstring(rels, _PARSER).iter(f"{{{PACKAGE_RELS}}}Relationship"):
        if relationship.get("TargetMode") == "External":
            continue
        target = relationship.get("Target", "")
        name = target.lstrip("/") if target.startswith("/") else posixpath.join(folder, target)
        found.append(
            Relationship(
                relationship.get("Id", ""), relationship.get("Type", ""), posixpath.normpath(name)
            )
        )
    return found


def _tables_by_sheet(
    parts: Mapping[str, bytes],
) -> dict[str, list[tuple[str, etree._Element]]]:
    found: dict[str, list[tuple[str, etree._Element]]] = {}
    for sheet in parts:
        if not re.fullmatch(r"xl/worksheets/[^/]+\.xml", sheet):
            continue
        for relationship in relationships(parts, sheet):
            if relationship.type.endswith("/table") and relationship.part in parts:
                table = etree.fromstring(parts[relationship.part], _PARSER)
                found.setdefault(sheet, []).append((relationship.part, table))
    return found


def _overlaps(sheet: str, tables: list[tuple[str, etree._Element]]) -> list[str]:
    problems = []
    for index, (name, table) in enumerate(tables):
        for other_name, other in tables[index + 1 :]:
            one, two = _area(table.get("ref", "")), _area(other.get("ref", ""))
            if (
                one
                and two
                and one[0] <= two[2]
                and two[0] <= one[2]
                and one[1] <= two[3]
                and two[1] <= one[3]
            ):
                problems.append(f"{sheet}: tables {name} and {other_name} overlap")
    return problems


def _text(element: etree._Element | None) -> str:
    """The text of a string item, leaving out phonetic runs."""
    if element is None:
        return ""
    namespace = etree.QName(element).namespace
    return "".join(
        t.text or ""
        for t in element.iter(f"{{{namespace}}}t")
        if etree.QName(t.getparent()).localname != "rPh"
    )


def _shared_strings(parts: Mapping[str, bytes]) -> list[str]:
    data = parts.get("xl/sharedStrings.xml")
    if data is None:
        return []
    root = etree.fromstring(data, _PARSER)
    return [_text(item) for item in root.iterfind(f"{{{etree.QName(root).namespace}}}si")]


def _cell_texts(sheet: bytes, strings: list[str]) -> dict[tuple[int, int], str]:
    root = etree.fromstring(sheet, _PARSER)
    namespace = etree.QName(root).namespace
    texts = {}
    for cell in root.iter(f"{{{namespace}}}c"):
        place = split_ref(cell.get("r", ""))
        if place is None:
            continue
        value = cell.findtext(f"{{{namespace}}}v") or ""
        kind = cell.get("t")
        if kind == "s" and value.isdigit() and int(value) < len(strings):
            texts[place] = strings[int(value)]
        elif kind == "inlineStr":
            texts[place] = _text(cell.find(f"{{{namespace}}}is"))
        else:
            texts[place] = value
    return texts


def _header_problems(
    name: str, table: etree._Element, cells: Mapping[tuple[int, int], str]
) -> list[str]:
    area = _area(table.get("ref", ""))
    if area is None or table.get("headerRowCount") == "0":
        return []
    problems = []
    for offset, column in enumerate(_columns(table)):
        expected = _ESCAPE.sub(lambda match: chr(int(match.group(1), 16)), column)
        found = cells.get((area[0], area[1] + offset))
        if found != expected:
            problems.append(
                f"{name}: header cell of column {column!r} holds {found!r}, not the column name"
            )
    return problems
