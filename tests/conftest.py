"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import os

import pytest

from tests.chromium import chromium_path
from tests.libreoffice import soffice_path


def required_program(name: str, path: str | None) -> str:
    """A program the tests really run. Without it: skip on a laptop, fail in CI (CI is set)."""
    if path is None:
        if "CI" in os.environ:
            pytest.fail(f"{name} is not installed, and CI must run these tests")
        pytest.skip(f"{name} is not installed")
    return path


@pytest.fixture(scope="session")
def soffice() -> str:
    """The LibreOffice executable."""
    return required_program("LibreOffice (soffice)", soffice_path())


@pytest.fixture(scope="session")
def chromium() -> str:
    """The Chromium executable."""
    return required_program("Chromium", chromium_path())
