"""Issue 12, point 6: a sheet's whole address is accepted as [source].spreadsheet_id, and the
wrong kind of Google JSON file given as [source].credentials is named, with what to get."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sheets_sync.config import ConfigError, parse_config
from sheets_sync.engine import open_backend
from sheets_sync.errors import SheetsSyncError
from tests.test_config import CONFIG_DIR, MINIMAL, parse

SHEET_ID = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcd"


def google(**source: object) -> dict[str, object]:
    return {"kind": "gsheets", "spreadsheet_id": SHEET_ID, **source}


@pytest.mark.parametrize(
    "address",
    [
        f"https://docs.google.com/spreadsheets/d/{SHEET_ID}/edit#gid=0",
        f"https://docs.google.com/spreadsheets/d/{SHEET_ID}/edit?usp=sharing",
        f"https://docs.google.com/spreadsheets/u/1/d/{SHEET_ID}/edit#gid=1234",
        f"  docs.google.com/spreadsheets/d/{SHEET_ID}  ",
        f"https://drive.google.com/open?id={SHEET_ID}",
        SHEET_ID,
    ],
)
def test_the_sheet_address_or_its_id_gives_the_id(address: str) -> None:
    config = parse(source={"kind": "gsheets", "spreadsheet_id": address})
    assert config.source.spreadsheet_id == SHEET_ID


def test_an_address_that_is_not_a_sheet_is_a_problem_with_its_location() -> None:
    with pytest.raises(ConfigError) as caught:
        parse(source={"kind": "gsheets", "spreadsheet_id": "https://example.com/my-log"})
    [problem] = caught.value.problems
    assert problem.startswith("[source].spreadsheet_id: ")
    assert "/d/" in problem


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


INSTALLED = {"installed": {"client_id": "1.apps.googleusercontent.com", "client_secret": "s"}}
WEB = {"web": {"client_id": "1.apps.googleusercontent.com", "client_secret": "s"}}
SERVICE_ACCOUNT = {"type": "service_account", "client_email": "a@p.iam.gserviceaccount.com"}
GCLOUD_LOGIN = {"type": "authorized_user", "client_id": "1", "refresh_token": "1//0x"}


def credentials_problem_for(tmp_path: Path, data: object, **source: object) -> str:
    key = write_json(tmp_path / "file.json", data)
    settings = {"source": google(credentials=str(key), **source)}
    with pytest.raises(ConfigError) as caught:
        parse_config({**MINIMAL, **settings}, base_dir=CONFIG_DIR)
    [problem] = caught.value.problems
    assert problem.startswith("[source].credentials: ")
    assert str(key) in problem
    return problem


def test_an_oauth_client_file_as_the_key_says_how_to_use_it_or_what_to_get(
    tmp_path: Path,
) -> None:
    for client in (INSTALLED, WEB):
        problem = credentials_problem_for(tmp_path, client)
        assert "OAuth client file, not a service-account key" in problem
        assert 'auth = "user"' in problem
        assert "sheets-sync google-login" in problem
        assert "Keys > Add key" in problem


def test_a_saved_sign_in_as_the_key_is_named(tmp_path: Path) -> None:
    problem = credentials_problem_for(tmp_path, GCLOUD_LOGIN)
    assert "saved sign-in" in problem
    assert "Keys > Add key" in problem


def test_signing_in_as_a_person_needs_a_desktop_app_client(tmp_path: Path) -> None:
    assert "Desktop app" in credentials_problem_for(tmp_path, WEB, auth="user")
    problem = credentials_problem_for(tmp_path, SERVICE_ACCOUNT, auth="user")
    assert "is a service-account key" in problem


def test_the_right_files_are_accepted(tmp_path: Path) -> None:
    key = write_json(tmp_path / "key.json", SERVICE_ACCOUNT)
    client = write_json(tmp_path / "client.json", INSTALLED)
    assert parse(source=google(credentials=str(key))).source.auth == "service-account"
    person = parse(source=google(credentials=str(client), auth="user")).source
    assert (person.auth, person.credentials) == ("user", client)


def test_signing_in_as_a_person_needs_the_client_file() -> None:
    with pytest.raises(ConfigError) as caught:
        parse(source={"kind": "gsheets", "spreadsheet_id": SHEET_ID, "auth": "user"})
    assert caught.value.problems == ['[source].credentials: missing; required when auth = "user"']


def test_an_oauth_client_file_in_google_application_credentials_is_named(tmp_path: Path) -> None:
    client = write_json(tmp_path / "client.json", INSTALLED)
    config = parse(source=google())
    with pytest.raises(SheetsSyncError) as raised:
        open_backend(config, {"GOOGLE_APPLICATION_CREDENTIALS": str(client)})
    message = str(raised.value)
    assert message.startswith("GOOGLE_APPLICATION_CREDENTIALS: ")
    assert "OAuth client file, not a service-account key" in message
