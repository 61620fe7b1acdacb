"""The connection to Google: signing in (a service-account key, or a person's consent given
with `sheets-sync google-login`), the session, retries, and Google's errors in a person's
words. Everything third-party that can go wrong on the way to Google is translated here, once."""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import requests
from google.auth.credentials import Credentials
from google.auth.exceptions import GoogleAuthError, RefreshError, TransportError
from google.auth.transport.requests import AuthorizedSession
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account
from google_auth_oauthlib.flow import InstalledAppFlow, WSGITimeoutError
from gspread.exceptions import APIError
from gspread.http_client import HTTPClient
from oauthlib.oauth2.rfc6749.errors import OAuth2Error

from sheets_sync import __version__
from sheets_sync.backends.base import SourceError
from sheets_sync.core.columns import column_letters
from sheets_sync.errors import SheetsSyncError
from sheets_sync.folders import private_folder

SCOPES = ["https://www.googleapis.com/auth/spreadsheets"]

# Where `sheets-sync google-login` keeps the person's refresh token, in the private state folder.
USER_TOKEN_FILE = "google-login.json"
LOGIN_AGAIN = "run `sheets-sync google-login` again to sign in"
# Google's sign-in and quotas fail for a while, then recover: the daemon's next cycle retries.
TEMPORARY = "this is usually temporary, and the next cycle tries again"


class Connection:
    """One spreadsheet's connection: made on first use, each call's errors explained."""

    def __init__(
        self,
        spreadsheet_id: str,
        *,
        credentials: Path,
        as_user: bool = False,
        session: Callable[[Credentials], AuthorizedSession] = AuthorizedSession,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 30.0,
    ) -> None:
        """`credentials` is a service-account key, or with `as_user` the token file that
        `sheets-sync google-login` wrote (a person's consent: no key needed)."""
        self.spreadsheet_id = spreadsheet_id
        self.credentials = credentials
        self.as_user = as_user
        self._make_session = session
        self._sleep = sleep
        self._timeout = timeout
        self._client: HTTPClient | None = None
        self._account = ""
        self._token_uri = ""

    @property
    def description(self) -> str:
        return f"the Google Sheet {self.spreadsheet_id}"

    def _http(self) -> HTTPClient:
        if self._client is None:
            credentials = self._sign_in()
            session = self._make_session(credentials)
            compact_transfer(session)
            client = RetryingHTTPClient(credentials, session, sleep=self._sleep)
            client.set_timeout(self._timeout)
            self._client = client
        return self._client

    def _sign_in(self) -> Credentials:
        """The credentials from the key file, or from the signed-in person's token file."""
        if self.as_user:
            try:
                person = user_credentials.Credentials.from_authorized_user_file(  # type: ignore[no-untyped-call]
                    str(self.credentials), scopes=SCOPES
                )
            except FileNotFoundError as exc:
                raise SourceError(
                    "nobody has signed in to Google for sheets-sync yet: run `sheets-sync "
                    "google-login` as the user sheets-sync runs as"
                ) from exc
            except (OSError, ValueError, KeyError) as exc:
                raise SourceError(
                    f"the Google sign-in kept in {self.credentials} cannot be used ({exc}); "
                    + LOGIN_AGAIN
                ) from exc
            self._account = "the Google account signed in with `sheets-sync google-login`"
            return person  # type: ignore[no-any-return]
        try:
            info = json.loads(self.credentials.read_text(encoding="utf-8"))
            key = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                info, scopes=SCOPES
            )
        except (OSError, ValueError, KeyError, AttributeError) as exc:
            raise SourceError(
                f"the service-account key {self.credentials} cannot be used ({exc});"
                " download a JSON key for the service account from the Google Cloud "
                "console and set [source].credentials to it"
            ) from exc
        self._account = key.service_account_email
        self._token_uri = str(info.get("token_uri", ""))
        return key  # type: ignore[no-any-return]

    def call(self, doing: str, call: Callable[[HTTPClient], Any]) -> Any:
        """One API call, its faults retried, its errors turned into one clear message."""
        try:
            return call(self._http())
        except APIError as exc:
            raise SourceError(self._explain(doing, exc)) from exc
        except RefreshError as exc:
            raise SourceError(self._refused(exc)) from exc
        except TransportError as exc:  # the token request never got an answer
            raise SourceError(
                f"Google's sign-in could not be reached ({exc}): {TEMPORARY}; if it lasts, "
                "check this PC's internet connection and proxy"
            ) from exc
        except (GoogleAuthError, requests.RequestException) as exc:
            raise SourceError(f"could not {doing} in {self.description}: {exc}") from exc

    def _refused(self, exc: RefreshError) -> str:
        """Why Google's token endpoint said no, told apart: the wrong remedy costs a clinic a
        good key (a wrong clock looks like a bad key) or a needless new sign-in."""
        answer = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], dict) else {}
        error, said = str(answer.get("error", "")), str(answer.get("error_description", ""))
        if exc.retryable:
            return f"Google's sign-in is not answering right now ({exc}): {TEMPORARY}"
        if "iat and exp" in said or "reasonable timeframe" in said:
            return (
                f"Google refused to sign in because this PC's clock is wrong{self._clock_offset()}"
                " (the service-account key is fine: do not replace it). Set the clock right and "
                "turn on automatic time (Windows: Settings > Time & language > Set time "
                "automatically; Linux: timedatectl set-ntp true)"
            )
        if self.as_user:
            if error == "invalid_client":
                return (
                    f"Google no longer knows the OAuth client sheets-sync signed in with ({said}):"
                    " download the OAuth client file (Desktop app) again, point "
                    "[source].credentials at it, and " + LOGIN_AGAIN
                )
            return f"Google refused the saved sign-in ({said or exc}): " + LOGIN_AGAIN
        return (
            f"Google refused the service-account key {self.credentials} ({said or exc}); "
            "the key or the service account was deleted or disabled: create a new key for "
            f"{self._account or 'the service account'} and point [source].credentials at it"
        )

    def _clock_offset(self) -> str:
        """How far this PC's clock is from Google's, from the Date header of an answer from
        Google's token endpoint; empty when that cannot be had."""
        try:
            answer = requests.head(self._token_uri, timeout=10)
            google = parsedate_to_datetime(answer.headers["Date"]).timestamp()
        except (requests.RequestException, KeyError, TypeError, ValueError):
            return ""
        minutes = round((time.time() - google) / 60)
        if abs(minutes) < 2:
            return ""
        way = "ahead of" if minutes > 0 else "behind"
        hours, rest = divmod(abs(minutes), 60)
        size = f"{hours} h {rest} min" if hours else f"{rest} min"
        return f": it is about {size} {way} Google's"

    def _explain(self, doing: str, exc: APIError) -> str:
        error = exc.error if isinstance(exc.error, dict) else {}
        code, message = status_of(exc), str(error.get("message", exc))
        reasons = {d.get("reason") for d in error.get("details", []) if isinstance(d, dict)}
        writing = getattr(getattr(exc.response, "request", None), "method", "GET") != "GET"
        if code == 404:
            return (
                f"{self.description} was not found: check [source].spreadsheet_id (the long "
                "id in the sheet's web address, between /d/ and /edit)"
            )
        if error.get("status") == "FAILED_PRECONDITION" and "not supported for this document" in (
            message
        ):
            return (
                f"{self.description} is an Excel file stored in Google Drive, not a Google "
                "Sheet, and Google's API cannot open it: open it in the browser, choose File > "
                "Save as Google Sheets, and set [source].spreadsheet_id to the new sheet's id "
                "(staff then work in the new sheet)"
            )
        if code == 400 and "protected cell or object" in message:
            return self._protected(doing)
        if code == 403 and "CONSUMER_SUSPENDED" in reasons:
            return (
                "Google has suspended the Google Cloud project of "
                f"{self._account or 'the service account'}, and answers none of its requests "
                f"({message}): its owner finds why, and how to appeal, in the Google Cloud "
                "console (the project's page, and Billing); nothing can be synced until then"
            )
        if code == 403 and "has not been used in project" in message:
            return (
                f"the Google Sheets API is not enabled for the service account's project: {message}"
            )
        if code == 403 and writing:
            return (
                f"{self.description} is shared with {self._account} as Viewer or Commenter: "
                "sheets-sync can read it but not write its columns; share it as Editor"
            )
        if code == 403:
            return (
                f"{self.description} is not shared with the service account: share it, as "
                f"Editor, with {self._account}"
            )
        if code == 429:
            return (
                f"Google's request quota for the project of {self._account} is used up "
                f"({code} {message}): {TEMPORARY}. If it happens every day, see the quotas "
                "of the Google Sheets API in the Google Cloud console (APIs & Services > "
                "Google Sheets API > Quotas), and whether other programs use the same project"
            )
        return f"could not {doing} in {self.description}: {code} {message}"

    def _protected(self, doing: str) -> str:
        """A write refused by a protected range or sheet: which ones, and the two remedies."""
        who = self._account or "the service account"
        ranges = self._protected_ranges()
        where = "; ".join(ranges) if ranges else "a protected range or sheet"
        return (
            f"could not {doing} in {self.description}: Google refused because it is protected "
            f"({where}) and {who} is not allowed to edit it. The sheets-sync columns (Next "
            "touch, Next action, Follow-up status, Sync ID) and their header must stay "
            "editable: in the sheet, open Data > Protect sheets and ranges, and remove that "
            f"protection or add {who} to who may edit it. Nothing was written this cycle"
        )

    def _protected_ranges(self) -> list[str]:
        """The protected ranges the account may not edit, in A1 words; none if the look-up
        itself fails (the message then stays general)."""
        fields = (
            "sheets(properties(sheetId,title),protectedRanges(range,description,warningOnly,"
            "requestingUserCanEdit))"
        )
        if self._client is None:
            return []
        try:
            answer = self._client.fetch_sheet_metadata(
                self.spreadsheet_id, params={"fields": fields}
            )
        except (APIError, GoogleAuthError, requests.RequestException):
            return []
        found = []
        for sheet in answer.get("sheets", []):
            title = str(sheet.get("properties", {}).get("title", ""))
            for protection in sheet.get("protectedRanges", []):
                if protection.get("warningOnly") or protection.get("requestingUserCanEdit"):
                    continue
                what = _a1(title, protection.get("range", {}))
                if protection.get("description"):
                    what += f' ("{protection["description"]}")'
                found.append(what)
        return found


def _a1(title: str, area: dict[str, int]) -> str:
    """A protected GridRange as the Protect dialog shows it: 'Prospects'!K1:N1, 'Prospects'!1:1
    (whole rows), 'Prospects'!K:N (whole columns), or the whole sheet."""
    quoted = "'" + title.replace("'", "''") + "'"
    columns = "startColumnIndex" in area or "endColumnIndex" in area
    rows = "startRowIndex" in area or "endRowIndex" in area
    if not (columns or rows):
        return f"the whole sheet {quoted}"
    start, end = "", ""
    if columns:
        start = column_letters(area.get("startColumnIndex", 0))
        end = column_letters(area.get("endColumnIndex", 18278) - 1)
    if rows:
        start += str(area.get("startRowIndex", 0) + 1)
        end += str(area.get("endRowIndex", 10_000_000))
    return f"{quoted}!{start}:{end}"


class _LoginFlow(InstalledAppFlow):  # type: ignore[misc]
    """Google's installed-app flow, handing the consent page's address to `show` (the command
    line prints it, for a PC whose browser does not open by itself; a test plays the browser)."""

    show: Callable[[str], None] = print

    def authorization_url(self, **kwargs: Any) -> tuple[str, str]:
        url, state = super().authorization_url(**kwargs)
        self.show(url)
        return url, state


def google_login(
    client_file: Path,
    token_file: Path,
    *,
    show: Callable[[str], None],
    open_browser: bool = True,
    port: int = 0,
    wait_seconds: float = 300.0,
) -> None:
    """Sign a person in with their consent in the browser (OAuth's installed-app flow: Google
    sends the browser back to a one-time address on this PC), and keep the refresh token in
    `token_file`, which only its owner may read. For organisations that forbid
    service-account keys: the sync then acts as that person, with their access to the sheet."""
    try:
        flow = _LoginFlow.from_client_secrets_file(str(client_file), scopes=SCOPES)
    except (OSError, ValueError, KeyError) as exc:
        raise SheetsSyncError(
            f"the OAuth client file {client_file} cannot be used ({exc}): download it from "
            "the Google Cloud console (APIs & Services > Credentials > Create credentials > "
            "OAuth client ID, type Desktop app, then Download JSON)"
        ) from exc
    flow.show = show
    try:
        person = flow.run_local_server(
            host="localhost",
            port=port,
            open_browser=open_browser,
            authorization_prompt_message="",
            timeout_seconds=wait_seconds,
            access_type="offline",  # a refresh token, so the daemon signs in by itself later
            prompt="consent",
        )
    except WSGITimeoutError as exc:
        raise SheetsSyncError(
            f"no answer from the browser within {wait_seconds / 60:.0f} minutes: run "
            "`sheets-sync google-login` again and choose Allow on Google's page"
        ) from exc
    except OAuth2Error as exc:
        if exc.error == "access_denied":
            raise SheetsSyncError(
                "the sign-in was cancelled on Google's page: run `sheets-sync google-login` "
                "again and choose Allow"
            ) from exc
        raise SheetsSyncError(f"Google refused the sign-in ({exc.description or exc})") from exc
    except requests.RequestException as exc:
        raise SheetsSyncError(
            f"Google's sign-in could not be reached ({exc}): {TEMPORARY.split(',')[0]}; "
            "try again in a few minutes"
        ) from exc
    private_folder(token_file.parent)
    saved = token_file.with_name(token_file.name + ".new")
    descriptor = os.open(saved, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(person.to_json(strip=["token", "expiry"]))
    os.chmod(saved, 0o600)
    os.replace(saved, token_file)


def user_token_file(state_dir: Path) -> Path:
    """Where the signed-in person's token is kept: the private state folder."""
    return state_dir / USER_TOKEN_FILE


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
        auth: Credentials,
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
