"""The OOXML checker (tests/ooxml): it catches each kind of defect, and accepts real files."""

from __future__ import annotations

import zipfile

import pytest

from tests.corpus_logs import CORPUS
from tests.ooxml import MAIN, PACKAGE_RELS, SCHEMAS, validate_package, validate_part

pytestmark = pytest.mark.skipif(
    not SCHEMAS.is_dir(),
    reason=f"the ECMA-376 schemas are shared data, not in the repository: {SCHEMAS}",
)

SHEET = "xl/worksheets/sheet1.xml"
TABLE_TYPE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/table"
# Originals whose own faults the checker rightly reports; every other original is clean.
FAULTY_ORIGINALS = {
    # ClosedXML keeps it to test loading a page setup the schema forbids.
    "closedxml-onlyoffice.xlsx": "attribute 'firstPageNumber': '-1' is not a valid value",
    # Hancom writes its own attribute without declaring its namespace ignorable.
    "poi-hancell.xlsx": "hclCalcId' is not allowed",
}


def sheet(rows: str, *, before: str = "", prefix: str = "", extra: str = "") -> bytes:
    declaration = f'xmlns{":" + prefix[:-1] if prefix else ""}="{MAIN}"'
    return (
        f"<{prefix}worksheet {declaration}{extra}>{before}<{prefix}sheetData>{rows}"
        f"</{prefix}sheetData></{prefix}worksheet>"
    ).encode()


def one_problem(problems: list[str], words: str) -> None:
    assert problems
    assert all(SHEET in problem for problem in problems), problems
    assert any(words in problem for problem in problems), problems


GOOD_ROWS = (
    '<row r="1"><c r="A1" t="inlineStr"><is><t>Name</t></is></c><c r="B1"><v>1</v></c></row>'
    '<row r="3"><c r="C3"><f>B1*2</f><v>2</v></c></row>'
)


# --- what it accepts -----------------------------------------------------------------------


def test_a_plain_sheet_has_no_problem() -> None:
    assert validate_part(SHEET, sheet(GOOD_ROWS)) == []


def test_a_sheet_with_prefixed_spreadsheetml_has_no_problem() -> None:
    rows = '<x:row r="1"><x:c r="A1"><x:v>1</x:v></x:c></x:row>'
    assert validate_part(SHEET, sheet(rows, prefix="x:")) == []


def test_what_markup_compatibility_sets_aside_is_not_held_against_a_sheet() -> None:
    extension = (
        ' xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'
        ' xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac"'
        ' mc:Ignorable="x14ac"'
    )
    rows = '<row r="1" x14ac:dyDescent="0.25"><c r="A1" t="inlineStr"><is>'
    rows += '<t xml:space="preserve"> a </t></is></c></row>'
    alternate = (
        "<mc:AlternateContent><mc:Choice Requires='x14ac'><x14ac:unknown/></mc:Choice>"
        '<mc:Fallback><sheetPr codeName="Log"/></mc:Fallback></mc:AlternateContent>'
    )
    assert validate_part(SHEET, sheet(rows, before=alternate, extra=extension)) == []


def test_extension_lists_validate_as_they_are() -> None:
    extension = (
        '<extLst><ext uri="{78C0D931-6437-407d-A8EE-F0AAD7539E65}" '
        'xmlns:x14="http://schemas.microsoft.com/office/spreadsheetml/2009/9/main">'
        "<x14:conditionalFormattings/></ext></extLst>"
    )
    data = sheet(GOOD_ROWS).replace(b"</worksheet>", extension.encode() + b"</worksheet>")
    assert validate_part(SHEET, data) == []


@pytest.mark.parametrize(
    "name", sorted(path.name for path in CORPUS.glob("*.xls[xm]")) if CORPUS.is_dir() else []
)
def test_the_corpus_originals_are_accepted(name: str) -> None:
    with zipfile.ZipFile(CORPUS / name) as package:
        problems = validate_package({part: package.read(part) for part in package.namelist()})
    if name in FAULTY_ORIGINALS:
        assert len(problems) == 1, problems
        assert FAULTY_ORIGINALS[name] in problems[0]
    else:
        assert problems == []


# --- what it catches -----------------------------------------------------------------------


def test_broken_xml_is_caught() -> None:
    one_problem(validate_part(SHEET, b"<worksheet><sheetData>"), "not well-formed")


def test_what_the_schema_forbids_is_caught() -> None:
    one_problem(validate_part(SHEET, sheet('<row r="one"/>')), "'one' is not a valid value")
    one_problem(validate_part(SHEET, sheet("<cell/>")), "This element is not expected")


def test_rows_out_of_order_are_caught() -> None:
    rows = '<row r="2"><c r="A2"><v>1</v></c></row><row r="1"><c r="A1"><v>1</v></c></row>'
    one_problem(validate_part(SHEET, sheet(rows)), "row 1 comes after row 2")


def test_a_repeated_row_is_caught() -> None:
    one_problem(validate_part(SHEET, sheet('<row r="4"/><row r="4"/>')), "row 4 comes after row 4")


def test_cells_out_of_order_are_caught() -> None:
    rows = '<row r="1"><c r="B1"><v>1</v></c><c r="A1"><v>1</v></c></row>'
    one_problem(validate_part(SHEET, sheet(rows)), "cell A1 comes after column 2")


def test_a_cell_outside_its_row_is_caught() -> None:
    rows = '<row r="4"><c r="B5"><v>1</v></c></row>'
    one_problem(validate_part(SHEET, sheet(rows)), "cell B5 is inside row 4")


def test_a_cell_in_no_namespace_inside_a_prefixed_sheet_is_caught() -> None:
    rows = '<x:row r="1"><x:c r="A1"><x:v>1</x:v></x:c><c r="B1"><v>2</v></c></x:row>'
    one_problem(validate_part(SHEET, sheet(rows, prefix="x:")), "<c> in no namespace")


def test_a_row_in_no_namespace_inside_a_prefixed_sheet_is_caught() -> None:
    rows = '<x:row r="1"><x:c r="A1"><x:v>1</x:v></x:c></x:row><row r="2"/>'
    one_problem(validate_part(SHEET, sheet(rows, prefix="x:")), "<row> in no namespace")


def test_overlapping_column_ranges_are_caught() -> None:
    cols = '<cols><col min="1" max="5" width="9"/><col min="4" max="4" width="20"/></cols>'
    one_problem(validate_part(SHEET, sheet(GOOD_ROWS, before=cols)), "<col> 4-4 overlaps")


# --- tables --------------------------------------------------------------------------------


def table(name: str, ref: str, columns: list[str], number: int) -> bytes:
    names = "".join(
        f'<tableColumn id="{index}" name="{column}"/>'
        for index, column in enumerate(columns, start=1)
    )
    return (
        f'<table xmlns="{MAIN}" id="{number}" name="{name}" displayName="{name}" ref="{ref}">'
        f'<tableColumns count="{len(columns)}">{names}</tableColumns></table>'
    ).encode()


def package(*tables: bytes) -> dict[str, bytes]:
    """A sheet with Name | Owner in A1:B1 and D1:E1, and the given tables on it."""
    header = (
        '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c>'
        '<c r="D1" t="inlineStr"><is><t>Name</t></is></c>'
        '<c r="E1" t="inlineStr"><is><t>Owner</t></is></c></row>'
    )
    relationships = "".join(
        f'<Relationship Id="rId{number}" Type="{TABLE_TYPE}" Target="../tables/table{number}.xml"/>'
        for number in range(1, len(tables) + 1)
    )
    strings = (
        f'<sst xmlns="{MAIN}"><si><t>Name</t></si><si><r><t>Ow</t></r><r><t>ner</t></r></si></sst>'
    )
    parts = {
        SHEET: sheet(header + '<row r="2"/>'),
        "xl/worksheets/_rels/sheet1.xml.rels": (
            f'<Relationships xmlns="{PACKAGE_RELS}">{relationships}</Relationships>'
        ).encode(),
        "xl/sharedStrings.xml": strings.encode(),
    }
    for number, data in enumerate(tables, start=1):
        parts[f"xl/tables/table{number}.xml"] = data
    return parts


def test_tables_side_by_side_whose_headers_hold_their_names_have_no_problem() -> None:
    parts = package(
        table("Log", "A1:B2", ["Name", "Owner"], 1), table("Copy", "D1:E2", ["Name", "Owner"], 2)
    )
    assert validate_package(parts) == []


def test_overlapping_tables_are_caught() -> None:
    parts = package(
        table("Log", "A1:B2", ["Name", "Owner"], 1), table("Copy", "B1:C2", ["Owner", "C"], 2)
    )
    problems = validate_package(parts)
    assert f"{SHEET}: tables xl/tables/table1.xml and xl/tables/table2.xml overlap" in problems


def test_a_header_cell_not_holding_its_column_name_is_caught() -> None:
    problems = validate_package(package(table("Log", "A1:B2", ["Name", "Staff"], 1)))
    assert problems == [
        "xl/tables/table1.xml: header cell of column 'Staff' holds 'Owner', not the column name"
    ]


def test_duplicate_table_column_names_are_caught() -> None:
    problems = validate_part("xl/tables/table1.xml", table("Log", "A1:B2", ["Name", "NAME"], 1))
    assert problems == ["xl/tables/table1.xml: table column name 'NAME' is used twice"]


def test_a_table_wider_than_its_columns_is_caught() -> None:
    problems = validate_part("xl/tables/table1.xml", table("Log", "A1:C2", ["Name", "Owner"], 1))
    assert problems == [
        "xl/tables/table1.xml: table range A1:C2 is 3 columns wide but the table names 2 columns"
    ]


# --- autofilters ---------------------------------------------------------------------------

RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
WORKBOOK_TYPE = f"{RELATIONSHIPS}/officeDocument"
SHEET_TYPE = f"{RELATIONSHIPS}/worksheet"


def filtered(autofilter: str, named: str) -> dict[str, bytes]:
    """A workbook whose one sheet has an autofilter over `autofilter`, its name over `named`."""
    workbook = (
        f'<workbook xmlns="{MAIN}" xmlns:r="{RELATIONSHIPS}">'
        '<sheets><sheet name="Log" sheetId="1" r:id="rId1"/></sheets><definedNames>'
        '<definedName name="_xlnm._FilterDatabase" localSheetId="0" hidden="1">'
        f"Log!{named}</definedName></definedNames></workbook>"
    )
    return {
        "_rels/.rels": (
            f'<Relationships xmlns="{PACKAGE_RELS}"><Relationship Id="rId1" '
            f'Type="{WORKBOOK_TYPE}" Target="xl/workbook.xml"/></Relationships>'
        ).encode(),
        "xl/workbook.xml": workbook.encode(),
        "xl/_rels/workbook.xml.rels": (
            f'<Relationships xmlns="{PACKAGE_RELS}"><Relationship Id="rId1" '
            f'Type="{SHEET_TYPE}" Target="worksheets/sheet1.xml"/></Relationships>'
        ).encode(),
        SHEET: sheet(GOOD_ROWS).replace(
            b"</sheetData>", f'</sheetData><autoFilter ref="{autofilter}"/>'.encode()
        ),
    }


def test_an_autofilter_and_its_filter_name_over_one_range_have_no_problem() -> None:
    assert validate_package(filtered("A1:C3", "$A$1:$C$3")) == []


def test_a_filter_name_over_another_range_than_the_autofilter_is_caught() -> None:
    assert validate_package(filtered("A1:G3", "$A$1:$C$3")) == [
        "xl/workbook.xml: _xlnm._FilterDatabase of sheet 'Log' covers A1:C3, "
        "but the sheet's autofilter covers A1:G3"
    ]
