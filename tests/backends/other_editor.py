"""Someone else saving the workbook, the way office programs save: the whole file written
afresh beside it, then renamed over it. Written with zipfile and a regex, not with any of
the daemon's code, so the two never share a mistake.

Run as a program (`python -m tests.backends.other_editor WORKBOOK SAVES SEED`), it saves
the workbook again and again at random moments, each time from the newest version on disk
with one prospect's Notes and Last touch changed, and prints what each row should hold at
the end as one JSON object.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import sys
import time
import zipfile
from pathlib import Path

SHEET = "xl/worksheets/sheet1.xml"
NOTES, LAST_TOUCH = "H", "E"  # the columns of tests.workbooks.make_small_log

# Saved before any test patches os.rename or os.replace to time the daemon's swap.
_replace = os.replace


def set_cell(sheet: bytes, ref: str, value: str | int) -> bytes:
    """The worksheet XML with cell `ref` holding `value`: text inline, a number as is."""
    cell = re.compile(rb'<c r="%s"([^>]*?)(?:/>|>.*?</c>)' % ref.encode(), re.S)
    found = cell.search(sheet)
    if found is None:
        raise ValueError(f"no cell {ref} in the worksheet")
    style = re.search(rb' s="\d+"', found.group(1))
    attrs = style.group(0) if style else b""
    if isinstance(value, int):
        new = b'<c r="%s"%s><v>%d</v></c>' % (ref.encode(), attrs, value)
    else:
        text = value.replace("&", "&amp;").replace("<", "&lt;").encode()
        new = b'<c r="%s"%s t="inlineStr"><is><t>%s</t></is></c>' % (ref.encode(), attrs, text)
    return sheet[: found.start()] + new + sheet[found.end() :]


def save_edited(path: Path, base: bytes, edits: dict[str, str | int]) -> None:
    """Save `base` (the version this program has open) with `edits`, by write-and-rename."""
    with zipfile.ZipFile(io.BytesIO(base)) as old:
        parts = {info.filename: old.read(info) for info in old.infolist()}
    for ref, value in edits.items():
        parts[SHEET] = set_cell(parts[SHEET], ref, value)
    temporary = path.with_name(f"{path.stem}.saving-{os.getpid()}.tmp")
    with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as new:
        for name, data in parts.items():
            new.writestr(name, data)
    _replace(temporary, path)


def open_newest(path: Path) -> tuple[bytes, int]:
    """The workbook's bytes, and how often it was briefly not there (the daemon's swap)."""
    absent = 0
    while True:
        try:
            return path.read_bytes(), absent
        except FileNotFoundError:
            absent += 1
            time.sleep(0.0005)


def main(workbook: str, saves: str, seed: str, rows: str) -> None:
    path, rng = Path(workbook), random.Random(int(seed))
    expected: dict[int, dict[str, str | int]] = {}
    absent = 0
    for number in range(int(saves)):
        row = rng.randint(2, int(rows) + 1)
        edits: dict[str, str | int] = {
            f"{NOTES}{row}": f"save {number}",
            f"{LAST_TOUCH}{row}": 46300 + rng.randint(0, 40),  # Oct-Nov 2026
        }
        base, missed = open_newest(path)
        absent += missed
        time.sleep(rng.uniform(0, 0.004))  # someone typing, at a random moment
        save_edited(path, base, edits)
        expected[row] = {"notes": edits[f"{NOTES}{row}"], "last_touch": edits[f"{LAST_TOUCH}{row}"]}
        time.sleep(rng.uniform(0, 0.004))
    print(json.dumps({"rows": expected, "absent": absent}))


if __name__ == "__main__":
    main(*sys.argv[1:])
