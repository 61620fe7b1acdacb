"""Fixtures for the pure core: the shipped plans, with no holidays."""

from __future__ import annotations

from pathlib import Path

import pytest

from sheets_sync.config import parse_config
from sheets_sync.core.rule import Settings

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"


@pytest.fixture(scope="session")
def settings() -> Settings:
    """The built-in plans, Mon-Fri open, no holidays, DMY, min gap 2 days."""
    config = parse_config(
        {"source": {"kind": "xlsx", "path": "unused.xlsx"}, "clinic": {"holidays": []}},
        base_dir=CONFIG_DIR,
    )
    return config.rule_settings()
