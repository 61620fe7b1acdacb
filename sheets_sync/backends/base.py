"""The one small interface every prospect-log backend implements.

Contract:

- `read()` returns a `Snapshot`: the log sheet's cells, the Staff sheet's cells (if there is
  one), and a `version` token. The token names this exact state of the source; any change by
  anyone afterwards gives a different token.
- `write(changes, version)` writes the managed cells in `changes`, plus whatever the backend
  needs to show them (headers, date format, colour rules), and returns the source's new
  version; or returns None, touching nothing, when the source already shows all of it. It
  writes only when the source is still at `version`, else raises `SourceChanged`, so nothing
  is written over an edit it has not seen. A workbook's write is all or nothing. Google
  Sheets has no transactions: its write is several requests, read back and checked, and
  whatever a fault between them leaves undone the next cycle finishes (the values being
  written are remembered as ours first, so they never look typed).
- `version()` is the current version token without reading the log, or None when the
  backend cannot tell that cheaply. Equal tokens mean the very same log.
- Errors: `SourceBusy` (open in another program: try again next cycle), `SourceChanged`
  (changed since read: read again), `SourceError` (anything else, with a message for
  people). Third-party errors never escape.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sheets_sync.core.columns import Merge, Table
from sheets_sync.core.locale import SheetSettings
from sheets_sync.core.sync import Changes
from sheets_sync.core.values import CellValue
from sheets_sync.errors import SheetsSyncError


class SourceError(SheetsSyncError):
    """The prospect log cannot be read or written; the message says why and what to do."""


class SourceBusy(SourceError):
    """Another program holds the log open for editing; the write waits for a later cycle."""


class SourceChanged(SourceError):
    """The log changed between read and write; the cycle must read it again."""


@dataclass(frozen=True)
class Snapshot:
    rows: Sequence[Sequence[CellValue]]  # the log sheet; index 0 is sheet row 1
    staff: Sequence[Sequence[CellValue]] | None  # the Staff sheet, when there is one
    version: str
    date1904: bool = False
    row_links: str | None = None  # a template with {row}, where the backend has row links
    merges: Sequence[Merge] = ()  # the log sheet's merged cells
    tables: Sequence[Table] = ()  # the log sheet's tables, where the backend has them
    settings: SheetSettings | None = None  # its locale and time zone, where it has its own
    sheet_names: Sequence[str] = ()  # every sheet of the workbook, for messages

    def link(self, row: int) -> str | None:
        return self.row_links.format(row=row) if self.row_links else None


class Backend(Protocol):
    @property
    def description(self) -> str:
        """The source in a user's words, for messages: a file name or a sheet title."""
        ...

    def read(self) -> Snapshot: ...

    def version(self) -> str | None: ...

    def write(self, changes: Changes, version: str) -> str | None: ...
