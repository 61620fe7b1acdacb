"""The connection to Google: the key, the session, retries, and Google's errors in a person's
words. Everything third-party that can go wrong on the way to Google is translated here, once."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from google.auth.exceptions import GoogleAuthError, RefreshError
from google.auth.transport.requests import AuthorizedSession
from google.oauth2 import service_account
from gspread.exceptions import APIError
from gspread.http_client import HTTPClient

from sheets_sync import __version__
from sheets_sync.backends.base import SourceError

SCOPES = ["https://www.googleapis.com/auth/spreadsheets"]


class Connection:
    """One spreadsheet's connection: made on first use, each call's errors explained."""

    def __init__(
        self,
        spreadsheet_id: str,
        *,
        credentials: Path,
        session: Callable[[service_account.Credentials], AuthorizedSession] = AuthorizedSession,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 30.0,
    ) -> None:
        self.spreadsheet_id = spreadsheet_id
        self.credentials = credentials
        self._make_session = session
        self._sleep = sleep
        self._timeout = timeout
        self._client: HTTPClient | None = None
        self._account = ""

    @property
    def description(self) -> str:
        return f"the Google Sheet {self.spreadsheet_id}"

    def _http(self) -> HTTPClient:
        if self._client is None:
            try:
                credentials = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
                    str(self.credentials), scopes=SCOPES
                )
            except (OSError, ValueError, KeyError) as exc:
                raise SourceError(
                    f"the service-account key {self.credentials} cannot be used ({exc});"
                    " download a JSON key for the service account from the Google Cloud "
                    "console and set [source].credentials to it"
                ) from exc
            self._account = credentials.service_account_email
            session = self._make_session(credentials)
            compact_transfer(session)
            client = RetryingHTTPClient(credentials, session, sleep=self._sleep)
            client.set_timeout(self._timeout)
            self._client = client
        return self._client

    def call(self, doing: str, call: Callable[[HTTPClient], Any]) -> Any:
        """One API call, its faults retried, its errors turned into one clear message."""
        try:
            return call(self._http())
        except APIError as exc:
            raise SourceError(self._explain(doing, exc)) from exc
        except RefreshError as exc:
            raise SourceError(
                f"Google refused the service-account key {self.credentials} ({exc}); "
                "the key may have been deleted or disabled: create a new key for "
                f"{self._account or 'the service account'} and point [source].credentials "
                "at it"
            ) from exc
        except (GoogleAuthError, requests.RequestException) as exc:
            raise SourceError(f"could not {doing} in {self.description}: {exc}") from exc

    def _explain(self, doing: str, exc: APIError) -> str:
        error = exc.error if isinstance(exc.error, dict) else {}
        code, message = status_of(exc), str(error.get("message", exc))
        if code == 404:
            return (
                f"{self.description} was not found: check [source].spreadsheet_id (the long "
                "id in the sheet's web address, between /d/ and /edit)"
            )
        if code == 403 and "has not been used in project" in message:
            return (
                f"the Google Sheets API is not enabled for the service account's project: {message}"
            )
        if code == 403:
            return (
                f"{self.description} is not shared with the service account: share it, as "
                f"Editor, with {self._account}"
            )
        return f"could not {doing} in {self.description}: {code} {message}"


def compact_transfer(session: requests.Session) -> None:
    """Ask Google for compact JSON, gzipped, on every call: a 10,000-row read is then some 80
    times smaller (17.8 MB to 0.2 MB in bench/gsheets_requests.py, against the fake). Google
    pretty-prints unless told `prettyPrint=false` (a standard query parameter of every Google
    API), and gzips only for a client that both accepts gzip and names "gzip" in its
    User-Agent (Google's performance guide, "Compression using gzip"). The token requests go
    through google-auth's own session, untouched."""
    session.params["prettyPrint"] = "false"
    session.headers["Accept-Encoding"] = "gzip"
    session.headers["User-Agent"] = f"sheets-sync/{__version__} (gzip)"


class RetryingHTTPClient(HTTPClient):
    """gspread's client with bounded retries: 429, 5xx and timeouts are tried again after
    an exponential backoff with full jitter (Google's recipe), at most `ATTEMPTS` times; then
    the error goes to the caller, and the cycle gives up with a message."""

    ATTEMPTS = 5
    MAX_BACKOFF = 32.0
    RETRIED = frozenset({408, 429, 500, 502, 503, 504})

    def __init__(
        self,
        auth: service_account.Credentials,
        session: AuthorizedSession,
        *,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        super().__init__(auth, session)
        self._sleep = sleep
        self._jitter = jitter

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        for attempt in range(self.ATTEMPTS):
            last = attempt == self.ATTEMPTS - 1
            try:
                return super().request(*args, **kwargs)
            except APIError as exc:
                if last or status_of(exc) not in self.RETRIED:
                    raise
            except (requests.Timeout, requests.ConnectionError):
                if last:
                    raise
            self._sleep(min(self.MAX_BACKOFF, 2.0**attempt) * self._jitter())
        raise AssertionError("unreachable")


def status_of(exc: APIError) -> int:
    """The HTTP status of a failed call (gspread's `code` is -1 when the body is not JSON)."""
    status = getattr(exc.response, "status_code", None)
    return int(status) if isinstance(status, int) else int(exc.code)
