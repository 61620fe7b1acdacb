"""The workbook's styles part: reading which cell styles show dates, and adding the few
styles sheets-sync needs (a date format for `Next touch`, one fill per flag) exactly once."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from lxml import etree

from sheets_sync.backends.xlsx.safe import parse_tree
from sheets_sync.backends.xlsx.sheet import MAIN
from sheets_sync.core.rule import Flag

_NS = {"m": MAIN}
NEXT_TOUCH_FORMAT = "ddd d mmm yyyy"

# Built-in number formats that show dates or times (ECMA-376 §18.8.30, with the CJK ids).
_BUILTIN_DATE_FORMATS = frozenset([*range(14, 23), *range(27, 37), 45, 46, 47, *range(50, 59)])
_NOT_DATE_PARTS = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]|_.|\*.')


@dataclass(frozen=True)
class Colour:
    """One flag's look: a light fill and a dark text colour (ARGB hex), for a readable contrast."""

    fill: str
    text: str


# Colour-blind-safe (after Okabe & Ito): hues that stay apart for the common forms of
# colour blindness, light fills under dark text. The text flag is always there as well.
PALETTE: Mapping[Flag, Colour] = {
    Flag.OVERDUE: Colour(fill="FFF4B6A6", text="FF7A1F00"),  # vermillion
    Flag.DUE_TODAY: Colour(fill="FFFFE08A", text="FF5C4400"),  # amber
    Flag.UPCOMING: Colour(fill="FFB3E0D2", text="FF004D38"),  # bluish green
    Flag.NURTURE: Colour(fill="FFC9D6E8", text="FF1F3A5F"),  # blue-grey
    Flag.CLOSED: Colour(fill="FFE3E3E3", text="FF4D4D4D"),  # grey
    Flag.CHECK_DATA: Colour(fill="FFF7C58C", text="FF6B3300"),  # orange
}


def date_styles(styles_xml: bytes | None) -> frozenset[int]:
    """Indexes of the cell styles (cellXfs) whose number format shows a date."""
    if styles_xml is None:
        return frozenset()
    root = parse_tree(styles_xml)
    custom = {
        int(fmt.get("numFmtId", "-1")): fmt.get("formatCode", "")
        for fmt in root.iterfind("m:numFmts/m:numFmt", _NS)
    }
    found = set()
    for index, xf in enumerate(root.iterfind("m:cellXfs/m:xf", _NS)):
        number_format = int(xf.get("numFmtId", "0"))
        if number_format in _BUILTIN_DATE_FORMATS or (
            number_format in custom and _shows_date(custom[number_format])
        ):
            found.add(index)
    return frozenset(found)


def _shows_date(code: str) -> bool:
    bare = _NOT_DATE_PARTS.sub("", code.split(";")[0]).lower()
    return "d" in bare or "y" in bare


@dataclass(frozen=True)
class OurStyles:
    """The styles a write needs, and the styles part holding them (None: unchanged)."""

    xml: bytes | None
    date_style: int
    fills: Mapping[Flag, int]  # flag -> index of its differential format (dxf)


def ensure_styles(styles_xml: bytes, palette: Mapping[Flag, Colour] = PALETTE) -> OurStyles:
    """Add the date style and the flag fills to the styles part unless they are there already."""
    root = parse_tree(styles_xml)
    changed = False

    number_formats = _child(root, "numFmts", first=True)
    code_ids = {fmt.get("formatCode"): int(fmt.get("numFmtId", "0")) for fmt in number_formats}
    if NEXT_TOUCH_FORMAT in code_ids:
        format_id = code_ids[NEXT_TOUCH_FORMAT]
    else:
        format_id = max([163, *code_ids.values()]) + 1
        etree.SubElement(
            number_formats,
            f"{{{MAIN}}}numFmt",
            numFmtId=str(format_id),
            formatCode=NEXT_TOUCH_FORMAT,
        )
        changed = True
    number_formats.set("count", str(len(number_formats)))

    cell_styles = _child(root, "cellXfs")
    plain = {"fontId": "0", "fillId": "0", "borderId": "0"}
    for index, xf in enumerate(cell_styles):
        if xf.get("numFmtId") == str(format_id) and all(
            xf.get(key, "0") == value for key, value in plain.items()
        ):
            date_style = index
            break
    else:
        date_style = len(cell_styles)
        attributes = {"numFmtId": str(format_id), **plain, "xfId": "0", "applyNumberFormat": "1"}
        etree.SubElement(cell_styles, f"{{{MAIN}}}xf", attributes)
        cell_styles.set("count", str(len(cell_styles)))
        changed = True

    # Matched by their colours, not their bytes: Excel rewrites a dxf in its own way on save.
    dxfs = _child(root, "dxfs")
    looks = [_look(dxf) for dxf in dxfs]
    fills: dict[Flag, int] = {}
    for flag, colour in palette.items():
        if (colour.text, colour.fill) in looks:
            fills[flag] = looks.index((colour.text, colour.fill))
        else:
            dxfs.append(_dxf(colour))
            looks.append((colour.text, colour.fill))
            fills[flag] = len(looks) - 1
            changed = True
    dxfs.set("count", str(len(dxfs)))

    if not changed:
        return OurStyles(None, date_style, fills)
    xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
    return OurStyles(xml, date_style, fills)


def _look(dxf: etree._Element) -> tuple[str | None, str | None]:
    """A differential format's text and fill colours."""
    text = dxf.find("m:font/m:color", _NS)
    fill = dxf.find("m:fill/m:patternFill/m:bgColor", _NS)
    return (
        text.get("rgb") if text is not None else None,
        fill.get("rgb") if fill is not None else None,
    )


def _dxf(colour: Colour) -> etree._Element:
    dxf = etree.Element(f"{{{MAIN}}}dxf")
    font = etree.SubElement(dxf, f"{{{MAIN}}}font")
    etree.SubElement(font, f"{{{MAIN}}}color", rgb=colour.text)
    fill = etree.SubElement(dxf, f"{{{MAIN}}}fill")
    pattern = etree.SubElement(fill, f"{{{MAIN}}}patternFill", patternType="solid")
    etree.SubElement(pattern, f"{{{MAIN}}}fgColor", rgb=colour.fill)
    etree.SubElement(pattern, f"{{{MAIN}}}bgColor", rgb=colour.fill)
    return dxf


# Children of styleSheet in schema order; a missing one is created in its place.
_ORDER = [
    "numFmts",
    "fonts",
    "fills",
    "borders",
    "cellStyleXfs",
    "cellXfs",
    "cellStyles",
    "dxfs",
    "tableStyles",
    "colors",
    "extLst",
]


def _child(root: etree._Element, name: str, *, first: bool = False) -> etree._Element:
    found = root.find(f"m:{name}", _NS)
    if found is not None:
        return found
    element = etree.Element(f"{{{MAIN}}}{name}", count="0")
    later = set(_ORDER[_ORDER.index(name) + 1 :])
    for position, child in enumerate(root):
        if etree.QName(child).localname in later:
            root.insert(position, element)
            return element
    root.append(element)
    return element
