"""A second editor for the concurrency test: LibreOffice, driven over UNO, editing the log.

Run with the interpreter that has LibreOffice's `uno` module (Debian's /usr/bin/python3 with
python3-uno), not the project's virtual environment; it imports nothing of the project.

    /usr/bin/python3 tests/lo_editor.py WORKBOOK --rounds 15 --seed 1

It starts a headless LibreOffice with a fresh user profile, then, round after round, opens
the workbook, changes a few staff cells of rows that have a Sync ID, sorts the rows below
the header, saves as xlsx and closes, as a person at a desktop would. Each round prints one
JSON line to stdout: the edits (Sync ID -> header -> new value; a date as ISO text, a blank
as null), the sort, and `time.monotonic()` as the load began ("opening") and returned
("opened"), and before and after the close ("closing", "closed"). The clock is system-wide
on Linux, so the caller can compare these with its own. A first line {"soffice_pid": ...}
names LibreOffice's process, which runs in this script's process group.

LibreOffice's lock file, `.~lock.<name>#`, is what tells others the file is open. It exists
from some milliseconds into the load (LibreOffice has opened and read the file by then)
until the close; during each save LibreOffice deletes and re-creates it, a gap of a millisecond
or so. Each round reports whether the lock was there once the load returned.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import uno  # type: ignore[import-not-found]
from com.sun.star.beans import PropertyValue  # type: ignore[import-not-found]
from com.sun.star.connection import NoConnectException  # type: ignore[import-not-found]
from com.sun.star.lang import Locale  # type: ignore[import-not-found]
from com.sun.star.table import TableSortField  # type: ignore[import-not-found]
from com.sun.star.uno import Exception as UnoException  # type: ignore[import-not-found]

XLSX_FILTER = "Calc MS Excel 2007 XML"
STARTUP_SECONDS = 60
DATE_TYPE = 2  # com.sun.star.util.NumberFormat.DATE, a bit of a format's Type
STATUSES = ("Booked", "Declined", "Opted out", None)
SORT_KEYS = ("Name", "Owner", "Consultation date", "Value", "Notes", "Status")
EDITS_PER_ROUND = 3
LOAD_ATTEMPTS = 20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("workbook", type=Path)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--soffice", default="soffice")
    parser.add_argument("--sheet", default="Prospects")
    parser.add_argument(
        "--profile-in", type=Path, help="folder for LibreOffice's throwaway profile"
    )
    args = parser.parse_args()
    rng = random.Random(args.seed)
    path = args.workbook.resolve()
    with headless_office(args.soffice, args.profile_in) as desktop:
        for number in range(1, args.rounds + 1):
            result = edit_round(desktop, path, args.sheet, number, rng)
            print(json.dumps(result), flush=True)
            # Every other round reopens at once, before the daemon has written what the last
            # save asks for, so its writes meet the open file; the others leave it time.
            time.sleep(rng.uniform(0.0, 0.05) if number % 2 else rng.uniform(0.5, 0.9))
    return 0


@contextlib.contextmanager
def headless_office(soffice: str, folder: Path | None = None) -> Iterator[Any]:
    """A headless LibreOffice of its own, with a throwaway profile made in `folder` (the
    system's temporary folder by default); its Desktop object."""
    profile = Path(tempfile.mkdtemp(prefix="lo-editor-profile-", dir=folder))
    port = _free_port()
    office = subprocess.Popen(
        [
            soffice,
            "--headless",
            "--invisible",
            "--norestore",
            "--nologo",
            "--nodefault",
            f"-env:UserInstallation={profile.as_uri()}",
            f"--accept=socket,host=127.0.0.1,port={port};urp;",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    print(json.dumps({"soffice_pid": office.pid}), flush=True)
    desktop = None
    try:
        context = _connect(port, office)
        desktop = context.ServiceManager.createInstanceWithContext(
            "com.sun.star.frame.Desktop", context
        )
        yield desktop
    finally:
        if desktop is not None:
            with contextlib.suppress(Exception):  # it answers by dropping the connection
                desktop.terminate()
        try:
            office.wait(timeout=15)
        except subprocess.TimeoutExpired:
            office.kill()
            office.wait()
        shutil.rmtree(profile, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _connect(port: int, office: subprocess.Popen[bytes]) -> Any:
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext(
        "com.sun.star.bridge.UnoUrlResolver", local
    )
    url = f"uno:socket,host=127.0.0.1,port={port};urp;StarOffice.ComponentContext"
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        try:
            return resolver.resolve(url)
        except NoConnectException:
            if office.poll() is not None:
                raise SystemExit(
                    f"LibreOffice exited ({office.returncode}) before it listened"
                ) from None
            if time.monotonic() > deadline:
                raise SystemExit(f"LibreOffice did not listen within {STARTUP_SECONDS}s") from None
            time.sleep(0.1)


def edit_round(desktop: Any, path: Path, sheet_name: str, number: int, rng: random.Random) -> dict:
    """Open, edit, sort, save and close the workbook once; what was done, and when."""
    url = uno.systemPathToFileUrl(str(path))
    lock = path.with_name(f".~lock.{path.name}#")
    opening = time.monotonic()
    doc, retries = _load(desktop, url)
    opened = time.monotonic()
    # The daemon trusts this lock file, so a round without it would test nothing.
    locked = lock.exists()
    try:
        sheet = doc.Sheets.getByName(sheet_name)
        edits = _edit_cells(doc, sheet, number, rng)
        time.sleep(rng.uniform(0.1, 0.3))  # a person takes a moment between keystrokes
        sort = _sort_rows(sheet, rng)
        doc.storeAsURL(url, (_property("FilterName", XLSX_FILTER),))
        # Still open after saving, as a person reads over their work: the daemon sees a new
        # version it must not write while the lock file stands.
        time.sleep(rng.uniform(0.3, 0.5))
    finally:
        closing = time.monotonic()
        doc.close(True)
    return {
        "round": number,
        "opening": opening,
        "opened": opened,
        "closing": closing,
        "closed": time.monotonic(),
        "load_retries": retries,
        "locked": locked,
        "unlocked_after_close": not lock.exists(),
        "sort": sort,
        "edits": edits,
    }


def _load(desktop: Any, url: str) -> tuple[Any, int]:
    """The document, and how many loads failed first.

    The daemon swaps its version in by moving the workbook aside and linking the new one in
    its place; a load in that instant finds no file, as a person's would, and tries again.
    """
    for retries in range(LOAD_ATTEMPTS):
        try:
            doc = desktop.loadComponentFromURL(url, "_blank", 0, (_property("Hidden", True),))
        except UnoException:
            doc = None
        if doc is not None:
            return doc, retries
        time.sleep(0.05)
    raise SystemExit(f"LibreOffice could not open {url} in {LOAD_ATTEMPTS} attempts")


def _edit_cells(doc: Any, sheet: Any, number: int, rng: random.Random) -> dict[str, dict]:
    headers, _, last_row = _used_area(sheet)
    id_col = headers["Sync ID"]
    rows = [
        (row, text)
        for row in range(1, last_row + 1)
        if (text := sheet.getCellByPosition(id_col, row).getString().strip())
    ]
    edits: dict[str, dict] = {}
    for index, (row, sync_id) in enumerate(rng.sample(rows, min(EDITS_PER_ROUND, len(rows)))):
        changed = edits.setdefault(sync_id, {})
        if "Notes" in headers:
            note = f"LO round {number} edit {index} ({rng.randrange(16**6):06x})"
            sheet.getCellByPosition(headers["Notes"], row).setString(note)
            changed["Notes"] = note
        if "Status" in headers and rng.random() < 0.5:
            status = rng.choice(STATUSES)
            cell = sheet.getCellByPosition(headers["Status"], row)
            if status is None:
                cell.setString("")
            else:
                cell.setString(status)
            changed["Status"] = status
        if "Last touch" in headers and rng.random() < 0.5:
            day = date(2026, 9, 1) + timedelta(days=rng.randrange(80))
            _set_date(doc, sheet.getCellByPosition(headers["Last touch"], row), day)
            changed["Last touch"] = day.isoformat()
    return edits


def _set_date(doc: Any, cell: Any, day: date) -> None:
    """A real date cell: a serial number from the document's own null date, date-formatted."""
    null = doc.NullDate
    cell.setValue((day - date(null.Year, null.Month, null.Day)).days)
    formats = doc.NumberFormats
    if not formats.getByKey(cell.NumberFormat).Type & DATE_TYPE:
        locale = Locale()
        key = formats.queryKey("YYYY-MM-DD", locale, False)
        if key == -1:
            key = formats.addNew("YYYY-MM-DD", locale)
        cell.NumberFormat = key


def _sort_rows(sheet: Any, rng: random.Random) -> dict:
    """Sort every row below the header, whole rows across the used columns."""
    headers, last_col, last_row = _used_area(sheet)
    key = rng.choice([name for name in SORT_KEYS if name in headers])
    ascending = rng.random() < 0.5
    field = TableSortField()
    field.Field = headers[key]  # relative to the range, which starts in column A
    field.IsAscending = ascending
    field.IsCaseSensitive = False
    rows = sheet.getCellRangeByPosition(0, 1, last_col, last_row)
    descriptor = (
        _property("ContainsHeader", False),
        # A sequence of structs must be typed by hand, or the bridge cannot convert it.
        _property("SortFields", uno.Any("[]com.sun.star.table.TableSortField", (field,))),
    )
    uno.invoke(rows, "sort", (descriptor,))
    return {"by": key, "ascending": ascending}


def _used_area(sheet: Any) -> tuple[dict[str, int], int, int]:
    """The header row's text by column, and the last used column and row (0-based)."""
    cursor = sheet.createCursor()
    cursor.gotoEndOfUsedArea(False)
    end = cursor.RangeAddress
    headers: dict[str, int] = {}
    for col in range(end.EndColumn + 1):
        text = sheet.getCellByPosition(col, 0).getString().strip()
        if text:
            headers.setdefault(text, col)
    if "Sync ID" not in headers:
        raise SystemExit("the log has no Sync ID column: run one sync before editing")
    return headers, end.EndColumn, end.EndRow


def _property(name: str, value: object) -> Any:
    prop = PropertyValue()
    prop.Name = name
    prop.Value = value
    return prop


if __name__ == "__main__":
    sys.exit(main())
