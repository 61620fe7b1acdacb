"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import os

import pytest

from tests.libreoffice import soffice_path


@pytest.fixture(scope="session")
def soffice() -> str:
    """The LibreOffice executable. Without it: skip on a laptop, fail in CI (where CI is set)."""
    path = soffice_path()
    if path is None:
        if "CI" in os.environ:
            pytest.fail("LibreOffice (soffice) is not installed, and CI must run these tests")
        pytest.skip("LibreOffice (soffice) is not installed")
    return path
