"""Fixtures for the Google Sheets tests: a started fake Sheets API, a key it accepts, and a
state folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sheets_sync.state import State
from tests.sheets_fake import FakeSheets


@pytest.fixture
def fake() -> Iterator[FakeSheets]:
    with FakeSheets() as started:
        yield started


@pytest.fixture
def key(fake: FakeSheets, tmp_path: Path) -> Path:
    return fake.service_account_key(tmp_path / "keys")


@pytest.fixture
def state(tmp_path: Path) -> Iterator[State]:
    with State(tmp_path / "state") as opened:
        yield opened
