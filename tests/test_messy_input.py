"""Hostile and messy input (issue 6, point 6): each case handled as a clinic's staff expect.

- Text that a spreadsheet would take for a formula (`=`, `+`, `-`, `@`, tab, CR first) is
  written as text, whichever cell it lands in, and is text in the digests.
- Merged cells: a value merged down several rows (an owner beside three prospects) counts for
  each of them; a title merged across the top does not move the managed columns.
- Hidden and filtered-out rows are prospects like any other: synced, and in the digests.
- Blank rows inside the log are skipped; the rows below them are synced.
- 1904 workbooks: dates read and written in the workbook's own system.
- An empty sheet is refused with a clear message; a header-only log gets its headers.
- 32,767-character cells are kept intact; messages and digests quote them cut short.
- Emoji and right-to-left names are read, written and shown intact; a right-to-left sheet
  stays right-to-left.
- A header used twice: the first column is the one read (or written), and `check` names both.
- Two prospects with one name keep their own rows, follow-ups and Sync IDs; digests tell
  them apart by row.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date
from email.message import EmailMessage
from pathlib import Path

import pytest
from lxml import etree
from xlsxwriter.worksheet import Worksheet

from sheets_sync.backends.base import SourceError
from sheets_sync.backends.xlsx import XlsxBackend
from sheets_sync.config import Config, load_config
from sheets_sync.core.check import log_problems
from sheets_sync.core.columns import column_letters, find_layout
from sheets_sync.core.digest import build_digests
from sheets_sync.core.owners import address_book
from sheets_sync.core.plans import Plan, Step
from sheets_sync.core.rule import Flag, Settings
from sheets_sync.core.sync import Changes, Managed, SyncPlan, plan_sync
from sheets_sync.core.values import CellValue
from sheets_sync.engine import sync
from sheets_sync.mail.render import render_manager_summary, render_owner_digest
from sheets_sync.state import State
from tests.libreoffice import read_all_sheets
from tests.workbooks import make_log, make_sheet

ROOT = Path(__file__).resolve().parents[1]
TODAY = date(2026, 11, 24)  # a Tuesday
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SHEET = "xl/worksheets/sheet1.xml"
HEADER = ["Name", "Owner", "Consultation date", "Status", "Procedure", "Plan"]
STAFF = [("Anna Price", "anna@riverside.example"), ("Ben Okafor", "ben@riverside.example")]
SENDER = "followups@riverside.example"

# Text a spreadsheet program would take for a formula.
FORMULA_LIKE = ("=1+1", "+1+1", "-1+1", "@SUM(1,1)", "\t=1+1", "\r=1+1")
EVIL_LINK = '=HYPERLINK("http://evil.example","click")'
# A plan a clinic named and worded oddly: every text starts like a formula.
EVIL_PLAN = Plan("=odd", (Step(1, 0, "=Call", EVIL_LINK), Step(2, 2, "+Email", "@SUM(1,1)")))


def settings(*plans: Plan) -> Settings:
    loaded = load_config(ROOT / "config" / "sheets_sync.toml").rule_settings()
    return dataclasses.replace(
        loaded, plans={**loaded.plans, **{plan.name: plan for plan in plans}}
    )


def counter_ids() -> Callable[[], str]:
    numbers: Iterator[int] = itertools.count(1)
    return lambda: f"id{next(numbers):04d}"


def sync_once(
    backend: XlsxBackend,
    rules: Settings,
    remembered: Mapping[str, Managed] | None = None,
    extra: Mapping[tuple[int, int], str] | None = None,
) -> SyncPlan:
    """Read, decide and write once; `extra` cells are written along with the plan's."""
    snapshot = backend.read()
    layout = find_layout(snapshot.rows, merges=snapshot.merges, tables=snapshot.tables)
    plan = plan_sync(
        snapshot.rows,
        layout,
        TODAY,
        rules,
        remembered=remembered or {},
        new_id=counter_ids(),
        date1904=snapshot.date1904,
    )
    changes = plan.changes
    if extra:
        changes = Changes(layout, {**changes.cells, **extra}, changes.headers, changes.last_row)
    backend.write(changes, snapshot.version)
    return plan


def memory(plan: SyncPlan) -> dict[str, Managed]:
    return {row.sync_id: row.remembered for row in plan.rows}


def sheet_xml(path: Path) -> bytes:
    with zipfile.ZipFile(path) as package:
        return package.read(SHEET)


def cells_by_ref(xml: bytes) -> dict[str, etree._Element]:
    return {c.get("r", ""): c for c in etree.fromstring(xml).iter(f"{{{MAIN}}}c")}


def raw_cell(cells: Mapping[str, etree._Element], name: str) -> bytes | None:
    cell = cells.get(name)
    return None if cell is None else etree.tostring(cell)


def ref(row: int, col: int) -> str:
    return f"{column_letters(col)}{row}"


def messages(
    plan: SyncPlan, staff: Sequence[tuple[str, str]] = STAFF, detail: str = "full"
) -> tuple[dict[str, EmailMessage], EmailMessage]:
    """Each owner's digest (by address) and the manager's summary, for TODAY."""
    book = address_book([["Name", "Email"], *map(list, staff)], {})
    digests, tally = build_digests(plan.rows, day=TODAY, book=book, link=lambda row: None)
    owners = {
        digest.address: render_owner_digest(
            digest, clinic="Riverside", sender=SENDER, detail=detail
        )
        for digest in digests
    }
    summary = tally.summary(day=TODAY, clinic="Riverside", address="boss@riverside.example")
    return owners, render_manager_summary(summary, sender=SENDER, detail=detail)


def parts(message: EmailMessage) -> tuple[str, str]:
    text, html = (message.get_body((kind,)) for kind in ("plain", "html"))
    assert text is not None
    assert html is not None
    return str(text.get_content()), str(html.get_content())


# --- text that looks like a formula -----------------------------------------------------------


@pytest.mark.libreoffice
@pytest.mark.usefixtures("soffice")
def test_text_like_a_formula_is_written_as_text(tmp_path: Path) -> None:
    names = [EVIL_LINK, "+44 Ann", "-Bob", "@Cy", "\tDi", "\r=Ed", "=Fay"]
    prospects: list[dict[str, CellValue]] = [
        {
            "Name": name,
            "Owner": "Anna Price",
            "Consultation date": date(2026, 11, 2) if n else "=1+1",
            "Plan": "=odd",
        }
        for n, name in enumerate(names)
    ]
    path = make_log(tmp_path / "log.xlsx", prospects, staff=STAFF)
    backend = XlsxBackend(path)
    layout = find_layout(backend.read().rows)
    action, status = layout.managed["next_action"], layout.managed["follow_up_status"]
    # Beside the plan's own cells, formula-like text written straight into Follow-up status.
    straight = {(n, status): text for n, text in enumerate(FORMULA_LIKE, start=3)}
    plan = sync_once(backend, settings(EVIL_PLAN), extra=straight)

    # The unreadable date is quoted in the status cell, after "CHECK DATA", as text.
    checked = 'CHECK DATA: consultation date "=1+1" is not a date (write it like 2026-12-03)'
    assert plan.rows[0].decision.status_text == checked
    assert plan.rows[1].decision.next_action == f"Step 1/2 · =Call · {EVIL_LINK}"
    written = {**plan.changes.cells, **straight}

    cells = cells_by_ref(sheet_xml(path))
    for (row, col), value in written.items():
        if isinstance(value, str):
            cell = cells[ref(row, col)]
            assert cell.get("t") == "inlineStr", (row, col)
            assert cell.find(f"{{{MAIN}}}f") is None, (row, col)

    rows = backend.read().rows
    for (row, col), value in written.items():
        assert rows[row - 1][col] == value, (row, col)
    assert [row[0] for row in rows[1:]] == names  # staff cells as staff typed them

    seen = read_all_sheets(path, tmp_path)["Prospects"]
    # A formula would show its result: "click", 2, or an error.
    assert [row[status] for row in seen[1:]] == [checked, *FORMULA_LIKE]
    for row in range(2, len(names) + 2):
        assert seen[row - 1][action] == (rows[row - 1][action] or "")
        assert seen[row - 1][0] == names[row - 2]


def test_text_like_a_formula_stays_text_in_digests() -> None:
    rows: list[list[CellValue]] = [
        [*HEADER, "Phone"],
        [EVIL_LINK, "Anna Price", date(2026, 11, 2), None, "<b>@lips</b>", "=odd", "=2+2"],
        ["Eve\rSubject: hi", "Anna Price", "=1+1", None, None, None, None],
        ["Fay Lu", "Anna Price", 'next\r\n"Tues"\x1b[2J', None, None, None, None],
    ]
    plan = plan_sync(
        rows, find_layout(rows), TODAY, settings(EVIL_PLAN), remembered={}, new_id=counter_ids()
    )
    owners, manager = messages(plan)
    text, html = parts(owners["anna@riverside.example"])
    assert f"- {EVIL_LINK} · OVERDUE" in text
    assert f"  Step 1/2 · =Call · {EVIL_LINK}" in text
    assert "Procedure: <b>@lips</b>" in text
    assert "=HYPERLINK(&quot;http://evil.example&quot;,&quot;click&quot;)" in html
    assert "&lt;b&gt;@lips&lt;/b&gt;" in html
    assert "<b>" not in html
    # A carriage return in a name cannot start a line of its own.
    summary, summary_html = parts(manager)
    assert 'Row 3, Eve Subject: hi (Anna Price): consultation date "=1+1" is not a date' in summary
    assert all("\r" not in part for part in (text, html, summary, summary_html))
    # A reason quotes its cell on one line, without control characters, its ends clear.
    reason = "consultation date \"next 'Tues' [2J\" is not a date"
    assert f"Row 4, Fay Lu (Anna Price): {reason}" in summary
    assert f"Row 4, Consultation date (C4): {reason}" in "\n".join(
        log_problems(plan.rows, plan.changes.layout, {"anna price": "anna@riverside.example"})
    )
    _, minimal = messages(plan, detail="minimal")
    assert (
        "Row 4, F. L. (Anna Price): consultation date (cell text left out) is not a date"
        in (parts(minimal)[0])
    )
    assert all("Tues" not in part for part in parts(minimal))


# --- merged cells ---------------------------------------------------------------------------


def test_merged_cells_count_for_every_row_they_cover(tmp_path: Path) -> None:
    rows: list[list[CellValue]] = [
        ["Riverside Aesthetics — prospects"],  # merged across A1:L1, wider than the log
        ["Name", "Owner", "Consultation date", "Status", "Phone", None],  # Phone over E2:F2
        ["Ann Lee", "Anna Price", date(2026, 11, 2), None, "07700 900001", "0161 000 001"],
        ["Bob Kay", None, date(2026, 11, 10), None, None, None],  # Anna's: B3:B5
        ["Cy Dee", None, date(2026, 11, 20), None, None, None],
        ["Di Fox", "Ben Okafor", "16/11/2026", None, None, None],  # C6:C7
        ["Ed Gray", "Ben Okafor", None, None, None, None],
    ]

    def merge(sheet: Worksheet) -> None:
        sheet.merge_range(0, 0, 0, 11, rows[0][0])
        sheet.merge_range(1, 4, 1, 5, "Phone")
        sheet.merge_range(2, 1, 4, 1, "Anna Price")
        sheet.merge_range(5, 2, 6, 2, "16/11/2026")

    path = make_sheet(tmp_path / "merged.xlsx", rows, staff=STAFF, customise=merge)
    before = sheet_xml(path)
    backend = XlsxBackend(path)
    snapshot = backend.read()
    assert [row[1] for row in snapshot.rows[2:]] == ["Anna Price"] * 3 + ["Ben Okafor"] * 2

    plan = sync_once(backend, settings())
    layout = plan.changes.layout
    # The managed columns follow the log (A:F), not the title merged across to L.
    assert (layout.header_row, min(layout.managed.values())) == (2, 6)
    decisions = {row.prospect.text("name"): row.decision for row in plan.rows}
    assert all(d.flag is Flag.OVERDUE for d in decisions.values()), decisions
    assert decisions["Ed Gray"].consultation == date(2026, 11, 16)

    owners, _ = messages(plan)
    anna, _ = parts(owners["anna@riverside.example"])
    assert all(f"- {name} · OVERDUE" in anna for name in ("Ann Lee", "Bob Kay", "Cy Dee"))

    # Nothing of the merges, or of the cells under them, was touched.
    after = sheet_xml(path)
    merges = re.compile(rb"<mergeCells.*?</mergeCells>")
    assert merges.findall(after) == merges.findall(before)
    old, new = cells_by_ref(before), cells_by_ref(after)
    for cell in ("B4", "B5", "C7", "F2", "B1"):
        assert raw_cell(new, cell) == raw_cell(old, cell), cell
    assert not sync_once(backend, settings(), memory(plan)).changes


def test_new_columns_go_right_of_a_header_merged_past_the_log(tmp_path: Path) -> None:
    """Notes is merged over E1:F1 and nothing is in column F: the managed columns start
    at G, not under the merge, where Excel would hide their headers."""
    rows: list[list[CellValue]] = [
        ["Name", "Owner", "Consultation date", "Status", "Notes", None],
        ["Ann Lee", "Anna Price", date(2026, 11, 2), None, "called", None],
        ["Bob Kay", "Ben Okafor", date(2026, 11, 10), None, None, None],
    ]
    path = make_sheet(
        tmp_path / "merged-header.xlsx",
        rows,
        staff=STAFF,
        customise=lambda sheet: sheet.merge_range(0, 4, 0, 5, "Notes"),
    )
    backend = XlsxBackend(path)

    plan = sync_once(backend, settings())

    assert min(plan.changes.layout.managed.values()) == 6
    header = backend.read().rows[0]
    assert header[:7] == [
        "Name",
        "Owner",
        "Consultation date",
        "Status",
        "Notes",
        None,
        "Next touch",
    ]
    assert not sync_once(backend, settings(), memory(plan)).changes


# --- hidden, filtered-out and blank rows ------------------------------------------------------


def test_hidden_and_filtered_out_rows_are_synced_and_stay_hidden(tmp_path: Path) -> None:
    prospects: list[dict[str, CellValue]] = [
        {"Name": "Ann Lee", "Owner": "Anna Price", "Consultation date": date(2026, 11, 2)},
        {"Name": "Bob Kay", "Owner": "Anna Price", "Consultation date": date(2026, 10, 1)},
        {"Name": "Cy Dee", "Owner": "Ben Okafor", "Consultation date": date(2026, 11, 20)},
        {"Name": "Di Fox", "Owner": "Ben Okafor", "Consultation date": date(2026, 11, 16)},
    ]
    prospects[1]["Status"] = "Booked"

    def filter_booked(sheet: Worksheet) -> None:
        # Staff filtered the log to the booked prospect: Excel hides the other rows.
        sheet.filter_column(3, "x == Booked")
        for row in (1, 3, 4):
            sheet.set_row(row, None, None, {"hidden": True})

    path = make_log(
        tmp_path / "filtered.xlsx",
        prospects,
        autofilter=True,
        staff=STAFF,
        customise=filter_booked,
    )
    plan = sync_once(XlsxBackend(path), settings())
    layout = plan.changes.layout
    status = layout.managed["follow_up_status"]
    assert {row.row for row in plan.rows} == {2, 3, 4, 5}
    cells = cells_by_ref(sheet_xml(path))
    assert all(cells[ref(row.row, status)].findtext(f".//{{{MAIN}}}t") for row in plan.rows)

    root = etree.fromstring(sheet_xml(path))
    hidden = {int(row.get("r", 0)) for row in root.iter(f"{{{MAIN}}}row") if row.get("hidden")}
    assert hidden == {2, 4, 5}
    autofilter = root.find(f"{{{MAIN}}}autoFilter")
    assert autofilter is not None
    assert autofilter.get("ref") == f"A1:{column_letters(max(layout.managed.values()))}5"
    criteria = autofilter.find(f"{{{MAIN}}}filterColumn")
    assert criteria is not None
    assert criteria.get("colId") == "3"

    owners, _ = messages(plan)
    assert set(owners) == {"anna@riverside.example", "ben@riverside.example"}
    ben, _ = parts(owners["ben@riverside.example"])
    assert "- Cy Dee · OVERDUE" in ben
    assert "- Di Fox · OVERDUE" in ben


def test_blank_rows_inside_the_log_are_skipped_and_the_rows_below_synced(
    tmp_path: Path,
) -> None:
    prospects: list[dict[str, CellValue]] = [
        {"Name": "Ann Lee", "Owner": "Anna Price", "Consultation date": date(2026, 11, 2)},
        {},
        {"Name": "  ", "Owner": " ", "Consultation date": None, "Notes": "\t"},
        {},
        {"Name": "Bob Kay", "Owner": "Ben Okafor", "Consultation date": date(2026, 11, 20)},
    ]
    path = make_log(tmp_path / "gaps.xlsx", prospects, autofilter=True, staff=STAFF)
    backend = XlsxBackend(path)
    plan = sync_once(backend, settings())
    layout = plan.changes.layout
    assert [row.row for row in plan.rows] == [2, 6]
    assert {row for row, _ in plan.changes.cells} == {1, 2, 6}
    assert plan.changes.last_row == 6
    assert log_problems(plan.rows, layout, address_book(backend.read().staff, {})) == []
    rows = backend.read().rows
    managed = sorted(layout.managed.values())
    for number in (3, 4, 5):
        assert all(col >= len(rows[number - 1]) or rows[number - 1][col] is None for col in managed)
    assert rows[5][layout.managed["next_touch"]] == date(2026, 11, 20)


# --- the 1904 date system, right-to-left sheets, emoji and right-to-left names --------------

NAMES = ["דנה כהן", "مريم العلي", "Zoë 🌸 Okafor", "👩🏽‍⚕️"]
OWNER = "נועה לוי"
HEBREW_PLAN = Plan("שגרה", (Step(1, 0, "שיחה 📞", "שיחת מעקב: תודה 🙏"),))


@pytest.fixture(scope="module")
def mac_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SyncPlan, list[list[str]]]:
    """A right-to-left sheet of a 1904 workbook, synced once, and what LibreOffice sees."""
    folder = tmp_path_factory.mktemp("mac")
    serial_1904 = (date(2026, 11, 10) - date(1904, 1, 1)).days  # a plain number, typed
    rows: list[list[CellValue]] = [
        ["Name", "Owner", "Consultation date", "Plan"],
        [NAMES[0], OWNER, date(2026, 11, 2), "שגרה"],
        [NAMES[1], OWNER, serial_1904, None],
        [NAMES[2], "Anna Price", date(2026, 11, 24), None],
        [NAMES[3], OWNER, "🙂", None],
    ]
    path = make_sheet(
        folder / "mac.xlsx",
        rows,
        date1904=True,
        staff=[(OWNER, "noa@riverside.example"), *STAFF],
        customise=lambda sheet: sheet.right_to_left(),
    )
    plan = sync_once(XlsxBackend(path), settings(HEBREW_PLAN))
    return path, plan, read_all_sheets(path, folder, as_shown=True)["Prospects"]


@pytest.mark.libreoffice
@pytest.mark.usefixtures("soffice")
def test_a_1904_workbook_reads_and_writes_its_own_dates(
    mac_log: tuple[Path, SyncPlan, list[list[str]]],
) -> None:
    path, plan, seen = mac_log
    decisions = [row.decision for row in plan.rows]
    assert [d.consultation for d in decisions[:3]] == [
        date(2026, 11, 2),
        date(2026, 11, 10),
        date(2026, 11, 24),
    ]
    touches = [d.next_touch for d in decisions]
    assert touches[:3] == [d.consultation for d in decisions[:3]]  # step 1 is on day 0
    assert seen[1][2] == "2026-11-02"

    touch = plan.changes.layout.managed["next_touch"]
    cells = cells_by_ref(sheet_xml(path))
    for number, day in enumerate(touches[:3], start=2):
        assert day is not None
        assert cells[ref(number, touch)].findtext(f"{{{MAIN}}}v") == str(
            (day - date(1904, 1, 1)).days
        )
        assert seen[number - 1][touch] == f"{day:%a} {day.day} {day:%b %Y}"
    assert not sync_once(XlsxBackend(path), settings(HEBREW_PLAN), memory(plan)).changes


@pytest.mark.libreoffice
@pytest.mark.usefixtures("soffice")
def test_emoji_and_right_to_left_names_are_read_written_and_shown(
    mac_log: tuple[Path, SyncPlan, list[list[str]]],
) -> None:
    path, plan, seen = mac_log
    assert [row.prospect.text("name") for row in plan.rows] == NAMES
    layout = plan.changes.layout
    action, status = layout.managed["next_action"], layout.managed["follow_up_status"]
    assert [row[0] for row in seen[1:5]] == NAMES
    assert seen[1][action] == "Step 1/1 · שיחה 📞 · שיחת מעקב: תודה 🙏"
    assert (
        seen[4][status]
        == 'CHECK DATA: consultation date "🙂" is not a date (write it like 2026-12-03)'
    )
    assert b'rightToLeft="1"' in sheet_xml(path)

    owners, manager = messages(plan, [(OWNER, "noa@riverside.example"), *STAFF])
    noa = owners["noa@riverside.example"]
    text, html = parts(noa)
    # In the text part right-to-left cell text sits between FSI and PDI (issue 10).
    assert f"Hello {isolated(OWNER)}," in text
    for name in NAMES[:2]:
        assert f"- {isolated(name)} · OVERDUE" in text
        assert f"<bdi>{name}</bdi>" in html
    assert f"  {isolated('Step 1/1 · שיחה 📞 · שיחת מעקב: תודה 🙏')}" in text
    assert OWNER in str(noa["To"])
    summary, _ = parts(manager)
    assert f'Row 5, {NAMES[3]} ({isolated(OWNER)}): consultation date "🙂" is not a date' in summary


def isolated(text: str) -> str:
    return f"\u2068{text}\u2069"


# --- empty sheets -----------------------------------------------------------------------------


def config_for(path: Path, state: Path) -> Config:
    loaded = load_config(ROOT / "config" / "sheets_sync.toml")
    return dataclasses.replace(
        loaded,
        source=dataclasses.replace(loaded.source, path=path),
        daemon=dataclasses.replace(loaded.daemon, state_dir=state),
    )


@pytest.mark.parametrize("kind", ["no cells", "formatted but empty rows"])
def test_an_empty_sheet_is_refused_with_a_clear_message(tmp_path: Path, kind: str) -> None:
    def formatted(sheet: Worksheet) -> None:
        if kind != "no cells":
            for row in range(5):
                sheet.set_row(row, 30)

    path = make_sheet(tmp_path / "empty.xlsx", [], customise=formatted)
    before = path.read_bytes()
    config = config_for(path, tmp_path / "state")
    with State(tmp_path / "state") as state, pytest.raises(SourceError) as raised:
        sync(XlsxBackend(path), config, state, today=TODAY)
    message = str(raised.value)
    assert str(path) in message
    assert "no header row in the first 20 rows" in message
    assert "Name, Owner, Consultation date" in message
    assert path.read_bytes() == before


@pytest.mark.parametrize("table", [False, True])
def test_a_header_only_log_gets_its_managed_headers_and_nothing_else(
    tmp_path: Path, table: bool
) -> None:
    blank: dict[str, CellValue] = {"Name": None, "Owner": None, "Consultation date": None}
    path = make_log(tmp_path / "new.xlsx", [blank], table=table)
    backend = XlsxBackend(path)
    plan = sync_once(backend, settings())
    assert plan.rows == ()
    assert set(plan.changes.cells) == {(1, col) for col in range(3, 7)}
    header = backend.read().rows[0]
    assert header == [
        "Name",
        "Owner",
        "Consultation date",
        "Next touch",
        "Next action",
        "Follow-up status",
        "Sync ID",
    ]
    if table:
        with zipfile.ZipFile(path) as package:
            assert b'ref="A1:G2"' in package.read("xl/tables/table1.xml")
    assert not sync_once(backend, settings()).changes


# --- the longest cells ------------------------------------------------------------------------

LONGEST = 32_767  # Excel's most characters in a cell


def test_the_longest_cells_are_kept_and_quoted_cut_short(tmp_path: Path) -> None:
    name = "Annabelle " + "x" * (LONGEST - 10)
    procedure = "Lips; " * (LONGEST // 6)
    notes = "🌸" * LONGEST  # characters beyond the Basic Multilingual Plane
    garbage = "3" * LONGEST
    prospects: list[dict[str, CellValue]] = [
        {
            "Name": name,
            "Owner": "Anna Price",
            "Consultation date": date(2026, 11, 2),
            "Procedure": procedure,
            "Notes": notes[: LONGEST // 2],
            "Phone": "7" * LONGEST,
        },
        {"Name": "Bob Kay", "Owner": "Anna Price", "Consultation date": garbage},
        {"Name": name, "Owner": name, "Consultation date": date(2026, 11, 2)},
    ]
    path = make_log(tmp_path / "long.xlsx", prospects, staff=STAFF)
    backend = XlsxBackend(path)
    plan = sync_once(backend, settings())

    rows = backend.read().rows
    assert rows[1][:5] == [name, "Anna Price", date(2026, 11, 2), procedure, notes[: LONGEST // 2]]
    assert rows[2][2] == garbage

    status = rows[2][plan.changes.layout.managed["follow_up_status"]]
    assert isinstance(status, str)
    assert len(status) < 200
    assert status.startswith('CHECK DATA: consultation date "333')
    assert '3…"' in status
    book = address_book(backend.read().staff, {})
    problems = log_problems(plan.rows, plan.changes.layout, book)
    assert problems
    assert all(len(problem) < 300 for problem in problems)

    owners, manager = messages(plan)
    for message in (owners["anna@riverside.example"], manager):
        text, html = parts(message)
        assert "Annabelle xxx" in text
        assert "xxx…" in text
        assert name not in text
        assert len(text) < 5_000
        assert len(html) < 20_000
    text, html = parts(owners["anna@riverside.example"])
    assert "tel:" not in html  # a number cut short is not dialled
    assert "Phone: 777" in text
    assert "Procedure: Lips; Lips;" in text
    assert procedure.strip() not in text


# --- a header used twice ----------------------------------------------------------------------


def test_a_header_used_twice_reads_the_first_and_check_names_both(tmp_path: Path) -> None:
    rows: list[list[CellValue]] = [
        ["Name", "Owner", "Consultation date", "Status", "Notes", "Status", "Patient"],
        ["Ann Lee", "Anna Price", date(2026, 11, 2), None, "call back", "Booked", "Ann L."],
    ]
    path = make_sheet(tmp_path / "twice.xlsx", rows, staff=STAFF)
    backend = XlsxBackend(path)
    before = cells_by_ref(sheet_xml(path))
    plan = sync_once(backend, settings())
    layout = plan.changes.layout
    assert (layout.staff["status"], layout.staff["name"]) == (3, 0)
    assert plan.rows[0].decision.flag is Flag.OVERDUE  # column D is blank: active
    assert min(layout.managed.values()) == 7

    problems = log_problems(plan.rows, layout, address_book(backend.read().staff, {}))
    assert problems == [
        "Row 1, Name (A1, G1): 2 columns are headed as Name; sheets-sync reads column A and "
        "leaves G alone. Rename or remove the one that is not meant",
        "Row 1, Status (D1, F1): 2 columns are headed as Status; sheets-sync reads column D and "
        "leaves F alone. Rename or remove the one that is not meant",
    ]
    after = cells_by_ref(sheet_xml(path))
    for cell in ("F1", "F2", "G1", "G2"):
        assert raw_cell(after, cell) == raw_cell(before, cell)


# --- two prospects with one name --------------------------------------------------------------


def test_two_prospects_with_one_name_keep_their_own_rows(tmp_path: Path) -> None:
    twin = "Sam Lee"
    prospects: list[dict[str, CellValue]] = [
        {"Name": twin, "Owner": "Anna Price", "Consultation date": date(2026, 11, 2)},
        {"Name": "Cy Dee", "Owner": "Anna Price", "Consultation date": date(2026, 12, 1)},
        {"Name": twin, "Owner": "Anna Price", "Consultation date": date(2026, 11, 20)},
    ]
    path = make_log(tmp_path / "twins.xlsx", prospects, staff=STAFF)
    backend = XlsxBackend(path)
    plan = sync_once(backend, settings())
    first, _, second = plan.rows
    assert first.sync_id != second.sync_id
    assert (first.decision.next_touch, second.decision.next_touch) == (
        date(2026, 11, 2),
        date(2026, 11, 20),
    )

    owners, _ = messages(plan)
    text, html = parts(owners["anna@riverside.example"])
    blocks = [block for block in text.split("\n- ") if block.startswith(twin)]
    assert [re.findall(r"Row: (\d+)", block) for block in blocks] == [["2"], ["4"]]
    assert re.findall(rf'data-row="(\d+)"[^>]*><div[^>]*><bdi>{twin}</bdi>', html) == ["2", "4"]

    # Staff sort the log the other way round: each Sync ID moves with its own row.
    rows = backend.read().rows
    resorted = [rows[0], rows[3], rows[2], rows[1]]
    layout = find_layout(resorted)
    again = plan_sync(
        resorted, layout, TODAY, settings(), remembered=memory(plan), new_id=counter_ids()
    )
    assert not again.changes
    assert [(row.sync_id, row.decision.next_touch) for row in again.rows] == [
        (second.sync_id, date(2026, 11, 20)),
        (plan.rows[1].sync_id, plan.rows[1].decision.next_touch),
        (first.sync_id, date(2026, 11, 2)),
    ]
