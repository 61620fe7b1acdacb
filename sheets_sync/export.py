"""Tables written to files for people to open in a spreadsheet (`history`, `report`): text
that a spreadsheet would run as a formula stays text, and a file that cannot be written says
why in plain words."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path

import pandas as pd

from sheets_sync.errors import SheetsSyncError


def inert(text: str) -> str:
    """CSV text a spreadsheet cannot run: `=…`, `+…`, `-…`, `@…` start with an apostrophe,
    as OWASP's advice on CSV injection has it."""
    return f"'{text}" if text.startswith(("=", "+", "-", "@", "\t", "\r")) else text


def write_workbook(path: Path, sheets: Mapping[str, pd.DataFrame], what: str) -> None:
    """A workbook with one sheet per table, in order; text starting with `=` stays text (in
    a workbook a text cell is never run, so nothing else needs an apostrophe)."""

    def write() -> None:
        with pd.ExcelWriter(path, engine="openpyxl") as writer:
            for name, frame in sheets.items():
                frame.to_excel(writer, sheet_name=name, index=False)
                for cells in writer.sheets[name].iter_rows():
                    for cell in cells:
                        if cell.data_type == "f":  # openpyxl takes text starting with = for one
                            cell.data_type = "s"
                        if isinstance(cell.value, date):
                            cell.number_format = "yyyy-mm-dd"

    written(path, what, write)


def written(path: Path, what: str, write: Callable[[], object]) -> None:
    """Run `write`; a file it cannot write becomes a message naming `what` and the fix."""
    try:
        write()
    except OSError as exc:
        raise SheetsSyncError(
            f"{what} could not be written to {path} ({exc.strerror or exc}); check the "
            "folder exists and the file is not open in another program"
        ) from exc
