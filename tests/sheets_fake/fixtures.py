"""Pytest fixture for the fake Sheets API: `pytest_plugins = ["tests.sheets_fake.fixtures"]`
or `from tests.sheets_fake.fixtures import fake_sheets`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.sheets_fake.server import FakeSheets


@pytest.fixture
def fake_sheets() -> Iterator[FakeSheets]:
    """A started FakeSheets, stopped after the test."""
    with FakeSheets() as fake:
        yield fake
