"""The product's promises, held on workbooks nobody on this team made (issue 11, point 7).

Each workbook of the corpus (tests/corpus/README.md says where each comes from) is made a
prospect log by byte splices, and some have their first Excel table taken for the log
(tests/corpus_logs.py), some under a sheet autofilter; each such case is synced once for
real. Then: every part
the sync did not need to change is byte-identical; in the log's sheet every cell that was
there is unchanged, and so are its rows, its other elements and the staff columns' settings,
while the Sync ID column is hidden; no written part has a problem its original did not have
(tests/ooxml); a second sync writes nothing; LibreOffice reads the managed values the product
wrote. A workbook the product rightly refuses must be refused with a message naming what is
in the way.

Where today's product breaks a promise on a file, the case is an expected failure naming the
point of issue 11 it belongs to (strict: when the product is mended, the mark must go).
"""

from __future__ import annotations

import csv
import dataclasses
import re
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pytest
from lxml import etree

from sheets_sync.backends.base import Snapshot
from sheets_sync.backends.xlsx import XlsxBackend
from sheets_sync.config import load_config
from sheets_sync.core.values import CellValue
from sheets_sync.engine import CycleReport, sync
from sheets_sync.errors import SheetsSyncError
from sheets_sync.state import State
from tests.backends.contract import ROOT, TODAY, counter_ids
from tests.corpus_logs import CORPUS, CorpusLog, make_corpus_log, make_table_log
from tests.libreoffice import _CSV_FILTER, _CSV_OPTIONS
from tests.ooxml import SCHEMAS, split_ref, validate_package

# A case is a corpus file with a log spliced in; with AS_TABLE, a corpus file whose first Excel
# table is taken for the log, its first three columns named as name, owner and date; with
# FILTERED, a corpus file with a log spliced in under a sheet autofilter.
AS_TABLE = " as table"
FILTERED = " with a filter"
# Each case, and what the product must do with it.
EXPECTED: dict[str, str] = {
    "calamine-tables-mac.xlsx": "synced",
    "closedxml-google-sheets.xlsx": "synced",
    "closedxml-onlyoffice.xlsx": "synced",
    "closedxml-pivot-tables.xlsx": "synced",
    "closedxml-showcase.xlsx": "synced",
    "closedxml-sparklines.xlsx": "synced",
    "oxsdk-tables-totals.xlsx": "synced",
    "phpss-autofilter-table.xlsx": "synced",
    "phpss-chart-sparklines.xlsx": "synced",
    "phpss-data-bars-mac.xlsx": "synced",
    "phpss-libreoffice-7.xlsx": "synced",
    "phpss-prefixed-threaded.xlsx": "synced",
    "phpss-table-formulae.xlsx": "synced",
    "phpss-tables-online.xlsx": "synced",
    "phpss-wps-office.xlsx": "synced",
    "poi-1904-mac.xlsx": "synced",
    "poi-access-export.xlsx": "synced",
    "poi-data-bars.xlsx": "synced",
    "poi-filter-database.xlsx": "synced",
    "poi-hancell.xlsx": "synced",
    "poi-pivot-table-sample.xlsx": "synced",
    "poi-protected-sheet.xlsx": "synced",
    "poi-right-to-left.xlsx": "synced",
    "poi-several-tables.xlsx": "synced",
    "poi-simple-macro.xlsm": "synced",
    "poi-simple-strict.xlsx": "refused: strict, save",
    "poi-table-totals.xlsx": "synced",
    "poi-threaded-comments-mac.xlsx": "synced",
    "poi-wps-biaoge.xlsx": "synced",
    "poi-xlookup-online.xlsx": "synced",
    "sheetjs-dynamic-arrays.xlsx": "synced",
    "sheetjs-hidden-strict.xlsx": "refused: strict, save",
    "sheetjs-hyperlinks-mac.xlsx": "synced",
    "sheetjs-libreoffice-4.xlsx": "synced",
    "sheetjs-pivot-macro.xlsm": "synced",
    "sheetjs-rich-text.xlsx": "synced",
    "sheetjs-wps-tables.xlsx": "synced",
    "closedxml-pivot-tables.xlsx as table": "synced",
    "closedxml-showcase.xlsx as table": "synced",
    "oxsdk-tables-totals.xlsx as table": "synced",
    "phpss-autofilter-table.xlsx as table": "synced",
    "phpss-table-formulae.xlsx as table": "synced",
    "poi-pivot-table-sample.xlsx as table": "synced",
    "poi-several-tables.xlsx as table": "refused: smallcity, insert 4 empty columns after column f",
    "poi-table-totals.xlsx as table": "synced",
    "sheetjs-wps-tables.xlsx as table": "synced",
    "closedxml-showcase.xlsx with a filter": "synced",
    "phpss-libreoffice-7.xlsx with a filter": "synced",
    "poi-1904-mac.xlsx with a filter": "synced",
    "poi-data-bars.xlsx with a filter": "synced",
    "poi-simple-macro.xlsm with a filter": "synced",
    "sheetjs-rich-text.xlsx with a filter": "synced",
}

# Originals LibreOffice itself cannot open: not the product's doing, so not checked there.
LIBREOFFICE_CANNOT_OPEN = {
    "closedxml-sparklines.xlsx": "LibreOffice 7.4 aborts (signal 6) on the original file too",
}
# Where LibreOffice reads a synced file otherwise than the product and Excel's rules do.
LIBREOFFICE_DISAGREES = {
    "poi-hancell.xlsx": "Hancell wraps seven cellXfs entries in mc:AlternateContent; the date "
    'style sheets-sync adds is number 29 by the count Excel reads (count="29"), which '
    "LibreOffice counts otherwise, so it shows the Next touch as its serial number",
    "closedxml-pivot-tables.xlsx": "not yet understood: LibreOffice's CSV of this ClosedXML "
    "file's x:-prefixed log sheet holds fewer rows than the sync wrote",
}
CHANGEABLE = ("xl/styles.xml", "xl/workbook.xml")

pytestmark = pytest.mark.skipif(
    not CORPUS.is_dir() or not SCHEMAS.is_dir(),
    reason=f"the corpus and schemas are shared data, not in the repository: {CORPUS.parent}",
)


def corpus_file(case: str) -> str:
    return case.removesuffix(AS_TABLE).removesuffix(FILTERED)


def synced_cases() -> list[str]:
    return [case for case, expected in EXPECTED.items() if expected == "synced"]


def refused_cases() -> list[str]:
    return [case for case, expected in EXPECTED.items() if expected.startswith("refused")]


@dataclass
class Outcome:
    log: CorpusLog
    before: dict[str, bytes]
    after: dict[str, bytes]
    error: SheetsSyncError | None = None
    first: CycleReport | None = None
    second: CycleReport | None = None
    after_second: dict[str, bytes] | None = None
    read_back: Snapshot | None = None

    @property
    def synced_rows(self) -> set[int]:
        """The header row and every row the sync took for a prospect: the rows whose managed
        cells it may write. A row typed just under the log's table is one (LibreOffice does
        not grow a table as Excel does, so such a row is a prospect all the same)."""
        assert self.first is not None
        plan = self.first.plan
        return {plan.changes.layout.header_row, *(result.row for result in plan.rows)}


def parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as package:
        return {name: package.read(name) for name in package.namelist()}


@pytest.fixture(scope="session")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """Every corpus file made a log and synced twice, each in a folder of its own."""
    loaded = load_config(ROOT / "config" / "sheets_sync.toml")
    found = {}
    for name in EXPECTED:
        source = CORPUS / corpus_file(name)
        # Each case's log has a name of its own: LibreOffice's CSV files are named after it.
        stem = source.stem + name.removeprefix(source.name).replace(" ", "-")
        folder = tmp_path_factory.mktemp(stem)
        target = folder / f"{stem}{source.suffix}"
        if name.endswith(AS_TABLE):
            log = make_table_log(source, target)
        else:
            log = make_corpus_log(source, target, autofilter=name.endswith(FILTERED))
        config = dataclasses.replace(loaded, columns=log.columns)
        before = parts(log.path)
        backend = XlsxBackend(
            log.path, worksheet=log.worksheet, staff_worksheet=None, backup_dir=folder / "backups"
        )
        state = State(folder / "state")
        try:
            first = sync(backend, config, state, today=TODAY, new_id=counter_ids())
        except SheetsSyncError as exc:
            found[name] = Outcome(log, before, before, error=exc)
            continue
        after = parts(log.path)
        second = sync(backend, config, state, today=TODAY, new_id=counter_ids())
        found[name] = Outcome(
            log, before, after, None, first, second, parts(log.path), backend.read()
        )
    return found


def synced(outcomes: dict[str, Outcome], name: str) -> Outcome:
    outcome = outcomes[name]
    if outcome.error is not None:
        pytest.fail(f"{name} was not synced: {outcome.error}")
    return outcome


def test_the_corpus_holds_the_files_listed() -> None:
    files = sorted({corpus_file(case) for case in EXPECTED})
    assert sorted(path.name for path in CORPUS.glob("*.xls[xm]")) == files


# --- the promises --------------------------------------------------------------------------


@pytest.mark.parametrize("name", refused_cases())
def test_a_refused_workbook_gets_a_message_naming_what_is_in_the_way(
    outcomes: dict[str, Outcome], name: str
) -> None:
    error = outcomes[name].error
    assert error is not None, f"{name} was synced, not refused"
    words = EXPECTED[name].removeprefix("refused:").split(",")
    missing = [word.strip() for word in words if word.strip() not in str(error).casefold()]
    assert not missing, f"the message lacks {missing}: {error}"


@pytest.mark.parametrize("name", synced_cases())
def test_parts_the_sync_need_not_change_are_byte_identical(
    outcomes: dict[str, Outcome], name: str
) -> None:
    outcome = synced(outcomes, name)
    assert list(outcome.after) == list(outcome.before), "parts added, removed or reordered"
    changeable = {outcome.log.part, *CHANGEABLE} | ({outcome.log.table} - {None})
    changed = [part for part, data in outcome.before.items() if outcome.after[part] != data]
    assert outcome.log.part in changed, "the log's sheet was not written"
    assert set(changed) <= changeable, f"changed: {sorted(set(changed) - changeable)}"


def cell_contents(
    sheet: bytes,
) -> dict[str, tuple[tuple[str, tuple[tuple[str, str], ...], str], ...]]:
    """Each cell by reference: its own and its descendants' names, attributes and text."""
    return {
        cell.get("r", ""): tuple(
            (
                etree.QName(element).localname,
                tuple(sorted((str(key), str(value)) for key, value in element.attrib.items())),
                element.text or "",
            )
            for element in cell.iter(etree.Element)
        )
        for cell in etree.fromstring(sheet).iter("{*}c")
    }


@pytest.mark.parametrize("name", synced_cases())
def test_every_cell_of_the_log_sheet_is_unchanged(outcomes: dict[str, Outcome], name: str) -> None:
    outcome = synced(outcomes, name)
    assert outcome.first is not None
    layout = outcome.first.plan.changes.layout
    managed = {column + 1 for column in layout.managed.values()}
    rows = outcome.synced_rows

    def ours(ref: str) -> bool:
        place = split_ref(ref)
        return place is not None and place[0] in rows and place[1] in managed

    old = cell_contents(outcome.before[outcome.log.part])
    new = cell_contents(outcome.after[outcome.log.part])
    changed = [ref for ref, content in old.items() if not ours(ref) and new.get(ref) != content]
    added = [ref for ref in new if ref not in old and not ours(ref)]
    assert not changed, f"cells changed or gone: {changed[:10]}"
    assert not added, f"cells added outside the managed columns: {added[:10]}"


def sheet_elements(sheet: bytes) -> list[bytes]:
    """The sheet's own elements other than its cells, columns and dimension, canonicalised.

    An autofilter counts without its range, which grows to take in the managed columns.
    """
    elements = []
    for element in etree.fromstring(sheet):
        if not isinstance(element.tag, str):
            continue
        if etree.QName(element).localname in ("sheetData", "cols", "dimension"):
            continue
        if etree.QName(element).localname == "autoFilter":
            element.attrib.pop("ref", "")
        elements.append(etree.tostring(element, method="c14n"))
    return elements


def row_attributes(sheet: bytes) -> dict[str, dict[str, str]]:
    return {
        row.get("r", ""): {str(key): str(value) for key, value in row.attrib.items()}
        for row in etree.fromstring(sheet).iter("{*}row")
    }


@pytest.mark.parametrize("name", synced_cases())
def test_the_log_sheet_keeps_its_rows_and_everything_else(
    outcomes: dict[str, Outcome], name: str
) -> None:
    outcome = synced(outcomes, name)
    old, new = outcome.before[outcome.log.part], outcome.after[outcome.log.part]
    kept = sheet_elements(new)
    lost = [element[:80] for element in sheet_elements(old) if element not in kept]
    assert not lost, f"sheet elements changed or gone: {lost}"
    log_rows = {str(row) for row in outcome.synced_rows}
    new_rows = row_attributes(new)
    for number, attributes in row_attributes(old).items():
        if number in log_rows:  # its span of columns grows with the managed cells
            attributes.pop("spans", None)
            new_rows.get(number, {}).pop("spans", None)
        assert new_rows.get(number) == attributes, f"row {number}"


def column_settings(sheet: bytes) -> dict[int, dict[str, str]]:
    """Each column's `<col>` settings (width, style, hidden...), by 1-based column number."""
    settings = {}
    for col in etree.fromstring(sheet).iter("{*}col"):
        attributes = {str(key): str(value) for key, value in col.attrib.items()}
        first, last = int(attributes.pop("min")), int(attributes.pop("max"))
        for column in range(first, last + 1):
            settings[column] = attributes
    return settings


@pytest.mark.parametrize("name", synced_cases())
def test_staff_columns_keep_their_settings_and_the_sync_id_column_is_hidden(
    outcomes: dict[str, Outcome], name: str
) -> None:
    outcome = synced(outcomes, name)
    assert outcome.first is not None
    managed = {column + 1 for column in outcome.first.plan.changes.layout.managed.values()}
    old = column_settings(outcome.before[outcome.log.part])
    new = column_settings(outcome.after[outcome.log.part])
    changed = [
        column
        for column in sorted(old.keys() | new.keys())
        if column not in managed and old.get(column) != new.get(column)
    ]
    assert not changed, f"staff columns whose settings changed: {changed[:10]}"
    sync_id = outcome.first.plan.changes.layout.managed["sync_id"] + 1
    assert new.get(sync_id, {}).get("hidden") in ("1", "true"), "the Sync ID column shows"


def without_lines(problems: list[str]) -> set[str]:
    return {re.sub(r":\d+:", ":", problem, count=1) for problem in problems}


@pytest.mark.parametrize("name", synced_cases())
def test_the_written_parts_have_no_new_problem(outcomes: dict[str, Outcome], name: str) -> None:
    outcome = synced(outcomes, name)
    new = without_lines(validate_package(outcome.after)) - without_lines(
        validate_package(outcome.before)
    )
    assert not new, "\n".join(sorted(new))


@pytest.mark.parametrize("name", synced_cases())
def test_a_second_sync_writes_nothing(outcomes: dict[str, Outcome], name: str) -> None:
    outcome = synced(outcomes, name)
    assert outcome.second is not None
    assert not outcome.second.written
    assert outcome.after_second == outcome.after


# --- LibreOffice ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def libreoffice_csv(
    outcomes: dict[str, Outcome], soffice: str, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """Every synced log's sheets as LibreOffice reads them, in one soffice run."""
    outdir = tmp_path_factory.mktemp("csv")
    paths = [
        str(outcome.log.path)
        for name, outcome in outcomes.items()
        if outcome.error is None and corpus_file(name) not in LIBREOFFICE_CANNOT_OPEN
    ]
    options = _CSV_OPTIONS.format(as_shown="false")
    with tempfile.TemporaryDirectory(prefix="lo-profile-") as profile:
        subprocess.run(
            [
                soffice,
                "--headless",
                "--norestore",
                f"-env:UserInstallation={Path(profile).as_uri()}",
                "--convert-to",
                _CSV_FILTER + options,
                "--outdir",
                str(outdir),
                *paths,
            ],
            capture_output=True,
            timeout=300,
            check=True,
        )
    return outdir


def as_libreoffice_shows(value: CellValue) -> CellValue:
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else str(value)


def libreoffice_value(text: str) -> str:
    try:
        return datetime.strptime(text, "%m/%d/%Y").date().isoformat()
    except ValueError:
        return text


@pytest.mark.libreoffice
@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.skip(reason=LIBREOFFICE_CANNOT_OPEN[name]))
        if name in LIBREOFFICE_CANNOT_OPEN
        else pytest.param(
            name, marks=pytest.mark.xfail(strict=True, reason=LIBREOFFICE_DISAGREES[name])
        )
        if name in LIBREOFFICE_DISAGREES
        else name
        for name in synced_cases()
    ],
)
def test_libreoffice_reads_the_managed_values(
    outcomes: dict[str, Outcome], libreoffice_csv: Path, name: str
) -> None:
    outcome = synced(outcomes, name)
    assert outcome.read_back is not None
    assert outcome.first is not None
    exported = libreoffice_csv / f"{outcome.log.path.stem}-{outcome.log.worksheet}.csv"
    with exported.open(encoding="utf-8", newline="") as handle:
        shown = list(csv.reader(handle))
    layout = outcome.first.plan.changes.layout
    header = outcome.log.header_row - 1
    for row in range(header, outcome.log.last_row):
        for field, column in layout.managed.items():
            ours = outcome.read_back.rows[row][column]
            theirs = shown[row][column] if column < len(shown[row]) else ""
            assert libreoffice_value(theirs) == as_libreoffice_shows(ours), (
                f"row {row + 1}, {field}"
            )
    if outcome.log.table is None:
        next_touch = layout.managed["next_touch"]
        ann, bob = (outcome.read_back.rows[header + offset][next_touch] for offset in (1, 2))
        assert ann == bob, "a serial consultation date was read in the wrong date system"
