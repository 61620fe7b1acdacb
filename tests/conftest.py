"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import os
import socket
from typing import Any

import pytest
from google.auth import credentials as google_credentials

from tests.chromium import chromium_path
from tests.libreoffice import soffice_path, uno_python_path


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
def uno_python(soffice: str) -> str:
    """A Python with LibreOffice's `uno` module (Debian: python3-uno), to drive soffice."""
    return required_program("Python with LibreOffice's uno module (python3-uno)", uno_python_path())


@pytest.fixture(scope="session")
def chromium() -> str:
    """The Chromium executable."""
    return required_program("Chromium", chromium_path())


LOOPBACK = {"localhost", "127.0.0.1", "::1", None, ""}


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never reach Google or a public server: only loopback names resolve.

    google-auth (2.62) also asks iamcredentials.googleapis.com about "regional access
    boundaries" after each token refresh, in a background thread; that lookup is switched
    off, as it would be for a non-Google universe.
    """
    resolve = socket.getaddrinfo

    def loopback_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name not in LOOPBACK and not str(name).startswith("127."):
            raise OSError(f"the tests may not reach {name}: only loopback is allowed")
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", loopback_only)
    monkeypatch.setattr(
        google_credentials.CredentialsWithRegionalAccessBoundary,
        "_is_regional_access_boundary_lookup_required",
        lambda self: False,
    )
