"""Building a GSheetsBackend that talks to the fake Sheets API (tests.sheets_fake)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from google.auth.transport.requests import AuthorizedSession
from google.oauth2 import service_account
from requests.adapters import HTTPAdapter

from sheets_sync.backends.gsheets import GSheetsBackend
from tests.sheets_fake import FakeSheets

SHEETS_API = "https://sheets.googleapis.com/"
SessionFactory = Callable[[service_account.Credentials], AuthorizedSession]


def routed(fake: FakeSheets, adapter: HTTPAdapter | None = None) -> SessionFactory:
    """A session factory sending the Sheets API's requests to the fake (the token request
    goes to the key's token_uri, which is the fake already)."""

    def session(credentials: service_account.Credentials) -> AuthorizedSession:
        made = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
        made.mount(SHEETS_API, adapter or fake.adapter())
        return made

    return session


class Sleeps(list[float]):
    """An injected `sleep` that records the waits instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def backend(
    fake: FakeSheets,
    key: Path,
    spreadsheet_id: str,
    *,
    sleep: Callable[[float], None] | None = None,
    **options: Any,
) -> GSheetsBackend:
    return GSheetsBackend(
        spreadsheet_id,
        credentials=key,
        session=routed(fake),
        sleep=Sleeps() if sleep is None else sleep,
        **options,
    )


def calls(fake: FakeSheets) -> list[str]:
    """The requests the fake answered since the last reset, as "GET id" / "POST id:batchUpdate"
    / "POST id/values:batchUpdate"."""
    return [f"{r.method} {r.path.removeprefix('/v4/spreadsheets/')}" for r in fake.requests]
