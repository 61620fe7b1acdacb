"""Issue 12, point 7: signing in as a person, with no service-account key, for organisations
that forbid keys. `sheets-sync google-login` runs Google's installed-app flow against the fake
(its consent page, authorization codes with PKCE, refresh tokens), everything on loopback: the
test plays the browser, and the sync then signs in with the kept refresh token."""

from __future__ import annotations

import functools
import stat
import threading
import webbrowser
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from google.auth.credentials import Credentials
from google.auth.transport.requests import AuthorizedSession, Request

from sheets_sync import engine
from sheets_sync.backends.gsheets import GSheetsBackend
from sheets_sync.backends.gsheets.client import USER_TOKEN_FILE, google_login
from sheets_sync.cli import main
from sheets_sync.errors import SheetsSyncError
from tests.backends.contract import ROOT, ROWS, STAFF, TODAY
from tests.backends.gsheets_helpers import SHEETS_API, Sleeps
from tests.sheets_fake import FakeSheets
from tests.sheets_fake.auth import GOOGLE_TOKEN_URI

SHEET = "1LoGiNaBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"
PERSON = "manager@clinic.example"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSheets]:
    # oauthlib sends tokens over HTTPS only; the fake's endpoints are plain HTTP on loopback.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    with FakeSheets() as started:
        started.auth.browser_user = PERSON
        started.add_spreadsheet(
            SHEET,
            {"Prospects": [list(r) for r in ROWS], "Staff": [list(r) for r in STAFF]},
            shared_with={PERSON},
        )
        yield started


class Browser:
    """The person's browser: it opens Google's consent page (the fake's, which answers as if
    they chose Allow) and follows the redirect back to sheets-sync's one-time local address."""

    def __init__(self) -> None:
        self.pages: list[requests.Response] = []

    def open(self, url: str, new: int = 0, autoraise: bool = True) -> bool:
        threading.Thread(target=self.visit, args=(url,), daemon=True).start()
        return True

    def visit(self, url: str) -> None:
        self.pages.append(requests.get(url, timeout=30))


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Browser:
    opened = Browser()
    monkeypatch.setattr(webbrowser, "get", lambda using=None: opened)
    return opened


def to_the_fake(fake: FakeSheets) -> Callable[[Credentials], AuthorizedSession]:
    """Sessions whose Sheets requests and token requests go to the fake. google-auth sends a
    person's refresh token to Google's own token endpoint, whatever the saved file says, so
    that endpoint is routed here as well."""

    def session(credentials: Credentials) -> AuthorizedSession:
        sign_in = requests.Session()
        sign_in.mount(GOOGLE_TOKEN_URI, fake.adapter())
        made = AuthorizedSession(credentials, auth_request=Request(sign_in))  # type: ignore[no-untyped-call]
        made.mount(SHEETS_API, fake.adapter())
        return made

    return session


@pytest.fixture
def routed_cli(fake: FakeSheets, monkeypatch: pytest.MonkeyPatch) -> None:
    made = functools.partial(GSheetsBackend, session=to_the_fake(fake), sleep=Sleeps())
    monkeypatch.setattr(engine, "GSheetsBackend", made)


def user_config(tmp_path: Path, client_file: Path) -> Path:
    path = tmp_path / "sheets_sync.toml"
    path.write_text(
        f"""
[source]
kind = "gsheets"
spreadsheet_id = "https://docs.google.com/spreadsheets/d/{SHEET}/edit#gid=0"
auth = "user"
credentials = "{client_file.as_posix()}"

[plans]
file = "{(ROOT / "sheets_sync" / "plans.toml").as_posix()}"

[mail]
outbox = "outbox"
from = "Riverside Aesthetics <followups@riverside.example>"
manager = "Manager <manager@riverside.example>"

[daemon]
state_dir = "state"
""",
        encoding="utf-8",
    )
    return path


def once(config: Path) -> list[str]:
    return ["once", "--config", str(config), "--today", TODAY.isoformat(), "--no-digest"]


def test_google_login_then_the_sync_signs_in_as_that_person(
    fake: FakeSheets,
    browser: Browser,
    routed_cli: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = user_config(tmp_path, fake.oauth_client(tmp_path / "downloads"))
    assert main(["google-login", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "choose Allow" in out
    assert f"{fake.url}/o/oauth2/auth?" in out  # the address, for a PC whose browser stays shut
    assert browser.pages[0].status_code == 200  # the local page after the redirect

    token = tmp_path / "state" / USER_TOKEN_FILE
    assert "refresh_token" in token.read_text(encoding="utf-8")
    assert '"token"' not in token.read_text(encoding="utf-8")  # no short-lived access token
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    assert stat.S_IMODE(token.parent.stat().st_mode) == 0o700

    assert main(once(config)) == 0
    assert "wrote" in capsys.readouterr().out
    assert fake.values(SHEET, "Prospects")[0][-4:] == [
        "Next touch",
        "Next action",
        "Follow-up status",
        "Sync ID",
    ]


def test_a_revoked_sign_in_says_to_run_google_login_again(
    fake: FakeSheets,
    browser: Browser,
    routed_cli: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = user_config(tmp_path, fake.oauth_client(tmp_path / "downloads"))
    assert main(["google-login", "--config", str(config)]) == 0
    fake.auth.revoke_consent(PERSON)
    capsys.readouterr()
    assert main(once(config)) == 1
    err = capsys.readouterr().err
    assert "Token has been expired or revoked." in err
    assert "run `sheets-sync google-login` again" in err
    assert "new key" not in err


def test_the_sync_before_any_sign_in_says_to_sign_in(
    fake: FakeSheets, routed_cli: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = user_config(tmp_path, fake.oauth_client(tmp_path / "downloads"))
    assert main(once(config)) == 1
    assert "run `sheets-sync google-login`" in capsys.readouterr().err


def test_cancelling_on_googles_page_says_so_and_keeps_nothing(
    fake: FakeSheets, browser: Browser, tmp_path: Path
) -> None:
    fake.auth.consents = False
    token = tmp_path / "state" / USER_TOKEN_FILE
    with pytest.raises(SheetsSyncError, match="cancelled on Google's page"):
        google_login(fake.oauth_client(tmp_path), token, show=lambda url: None)
    assert not token.exists()


def test_the_address_is_shown_and_a_browser_elsewhere_can_finish(
    fake: FakeSheets, tmp_path: Path
) -> None:
    """--no-browser: nothing opens; the person copies the printed address."""
    elsewhere = Browser()
    token = tmp_path / "state" / USER_TOKEN_FILE
    google_login(fake.oauth_client(tmp_path), token, show=elsewhere.open, open_browser=False)
    assert token.exists()
    assert fake.auth.refresh_tokens
