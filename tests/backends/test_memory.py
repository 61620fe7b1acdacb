"""The in-memory backend against the backend contract."""

from __future__ import annotations

import pytest

from sheets_sync.backends.base import SourceBusy
from sheets_sync.backends.memory import MemoryBackend
from tests.backends.contract import ROWS, STAFF, BackendContract, MakeBackend, Rows, plan


class TestMemoryBackend(BackendContract):
    @pytest.fixture
    def make_backend(self) -> MakeBackend:
        def make(rows: Rows, staff: Rows | None) -> MemoryBackend:
            return MemoryBackend(rows, staff)

        return make


def test_busy_refuses_the_write_and_changes_nothing() -> None:
    backend = MemoryBackend(ROWS, STAFF)
    snapshot = backend.read()
    backend.busy = True
    with pytest.raises(SourceBusy):
        backend.write(plan(snapshot).changes, snapshot.version)
    assert backend.writes == 0
    assert backend.read() == snapshot
