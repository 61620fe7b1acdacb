"""A prospect log held in memory: the backend the tests and previews run on."""

from __future__ import annotations

from collections.abc import Sequence

from sheets_sync.backends.base import Snapshot, SourceBusy, SourceChanged
from sheets_sync.core.columns import Table
from sheets_sync.core.sync import Changes
from sheets_sync.core.values import CellValue, readable


class MemoryBackend:
    """Rows of cells in a list. `busy` makes writes fail as if the file were open elsewhere;
    `tables` lie on the sheet as given (a write does not widen them)."""

    def __init__(
        self,
        rows: Sequence[Sequence[CellValue]],
        staff: Sequence[Sequence[CellValue]] | None = None,
        *,
        date1904: bool = False,
        tables: Sequence[Table] = (),
    ) -> None:
        self.rows: list[list[CellValue]] = [list(row) for row in rows]
        self.staff = [list(row) for row in staff] if staff is not None else None
        self.date1904 = date1904
        self.tables = tables
        self.busy = False
        self.generation = 0
        self.writes = 0
        self.formatted = False

    @property
    def description(self) -> str:
        return "the in-memory log"

    def read(self) -> Snapshot:
        return Snapshot(
            rows=[_readable(row) for row in self.rows],
            staff=[_readable(row) for row in self.staff] if self.staff is not None else None,
            version=str(self.generation),
            date1904=self.date1904,
            tables=self.tables,
        )

    def edit(self, row: int, col: int, value: CellValue) -> None:
        """A person changing a cell (sheet row, 0-based column)."""
        self._set(row, col, value)
        self.generation += 1

    def version(self) -> str:
        return str(self.generation)

    def write(self, changes: Changes, version: str) -> str | None:
        if version != str(self.generation):
            raise SourceChanged("the log changed since it was read")
        if not changes and self.formatted:
            return None
        if self.busy:
            raise SourceBusy("the log is open elsewhere")
        # The generation already proves the log unchanged; a staff cell is checked on its
        # own too, as the promise is about each one (SPEC §7).
        for (row, col), (read, _) in changes.staff_cells.items():
            if self._cell(row, col) != read:
                raise SourceChanged(f"a staff cell in row {row} changed since it was read")
        for (row, col), value in changes.all_cells().items():
            self._set(row, col, value)
        self.formatted = True
        self.generation += 1
        self.writes += 1
        return str(self.generation)

    def _cell(self, row: int, col: int) -> CellValue:
        cells = self.rows[row - 1] if row <= len(self.rows) else []
        value = cells[col] if col < len(cells) else None
        return readable(value) if isinstance(value, str) else value

    def _set(self, row: int, col: int, value: CellValue) -> None:
        while len(self.rows) < row:
            self.rows.append([])
        cells = self.rows[row - 1]
        while len(cells) <= col:
            cells.append(None)
        cells[col] = value


def _readable(row: Sequence[CellValue]) -> list[CellValue]:
    """A copy of a row as every backend hands it over: text without half-emoji."""
    return [readable(cell) if isinstance(cell, str) else cell for cell in row]
