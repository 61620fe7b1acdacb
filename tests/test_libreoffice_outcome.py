"""A typed outcome from a real LibreOffice (issue 14, point 6): a headless LibreOffice opens
the synced workbook, a person types `called` into a row's Next action cell, saves as xlsx and
closes; the next `sheets-sync once` carries it out, and logs it once.

LibreOffice is driven over UNO by a short script run in a Python that has the `uno` module
(Debian's python3-uno), with tests/lo_editor.py's headless LibreOffice of its own.
"""

from __future__ import annotations

import json
import subprocess
from datetime import date
from pathlib import Path

import pytest

from sheets_sync.backends.xlsx import XlsxBackend
from sheets_sync.cli import main
from sheets_sync.core.values import CellValue, DateOrder, read_date
from sheets_sync.state import State
from tests.test_cli import write_config
from tests.workbooks import make_log

pytestmark = pytest.mark.libreoffice

TESTS = Path(__file__).resolve().parent
TUESDAY = date(2026, 11, 24)
THURSDAY = date(2026, 11, 26)

# Runs in the uno Python: open the workbook, type into one cell of the row holding a Sync ID,
# save as xlsx over it, close. Arguments: workbook, Sync ID, header, text.
TYPE_IN_LIBREOFFICE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import uno
from lo_editor import XLSX_FILTER, _load, _property, _used_area, headless_office

path, sync_id, header, text = sys.argv[2:6]
url = uno.systemPathToFileUrl(path)
with headless_office("soffice") as desktop:
    doc, _ = _load(desktop, url)
    try:
        sheet = doc.Sheets.getByName("Prospects")
        headers, _, last_row = _used_area(sheet)
        (row,) = [
            row for row in range(1, last_row + 1)
            if sheet.getCellByPosition(headers["Sync ID"], row).getString() == sync_id
        ]
        sheet.getCellByPosition(headers[header], row).setString(text)
        doc.storeAsURL(url, (_property("FilterName", XLSX_FILTER),))
    finally:
        doc.close(True)
print(json.dumps({"typed": text, "row": row + 1}))
"""


def rows_of(path: Path) -> tuple[list[str], list[list[CellValue]]]:
    rows = XlsxBackend(path, staff_worksheet=None).read().rows
    return [str(cell) for cell in rows[0]], rows[1:]


def test_called_typed_and_saved_in_libreoffice_is_carried_out_by_the_next_sync(
    tmp_path: Path, uno_python: str
) -> None:
    path = make_log(
        tmp_path / "mine.xlsx",
        [
            {
                "Name": "Ann Lee",
                "Owner": "Chloe",
                "Consultation date": date(2026, 11, 2),
                "Last touch": date(2026, 11, 9),
                "Touches": 3,
            },
            {"Name": "Bob Ray", "Owner": "Chloe", "Consultation date": date(2026, 11, 16)},
        ],
    )
    config = write_config(tmp_path, path="mine.xlsx")

    def once(day: date) -> None:
        command = ["once", "--config", str(config), "--today", day.isoformat(), "--no-digest"]
        assert main(command) == 0

    once(TUESDAY)
    header, rows = rows_of(path)
    ann = str(rows[0][header.index("Sync ID")])

    typed = subprocess.run(
        [uno_python, "-c", TYPE_IN_LIBREOFFICE, str(TESTS), str(path), ann, "Next action",
         "called - wants finance options"],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert typed.returncode == 0, typed.stderr
    assert json.loads(typed.stdout.splitlines()[-1]) == {
        "typed": "called - wants finance options",
        "row": 2,
    }
    header, rows = rows_of(path)
    assert rows[0][header.index("Next action")] == "called - wants finance options"

    once(THURSDAY)
    once(THURSDAY)  # the second finds nothing left to do, and logs nothing again

    header, rows = rows_of(path)
    (row,) = [cells for cells in rows if cells[header.index("Sync ID")] == ann]
    assert read_date(row[header.index("Last touch")], DateOrder.DMY) == THURSDAY
    assert row[header.index("Touches")] == 4
    assert str(row[header.index("Next action")]).startswith("Step 5/7 · Email")
    with State(tmp_path / "state") as state:
        (source,) = {s for (s,) in state.db.execute("SELECT DISTINCT source FROM touches")}
        logged = state.touches(source)
    assert [(t.sync_id, t.kind, t.happened, t.source, t.channel, t.note) for t in logged] == [
        (ann, "touch", THURSDAY, "typed", "Call", "wants finance options")
    ]
