"""The fake Sheets API: gspread through it, Google's error bodies, schema checks, counting,
field masks, and conformance with recorded real traffic (read from ../shared)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import google.auth.transport.requests as google_requests
import gspread
import pytest
import requests
from google.oauth2 import service_account

from tests.sheets_fake import DEFAULT_EMAIL, FakeSheets, validate_body
from tests.sheets_fake.conformance import RECORDINGS, replay
from tests.sheets_fake.fixtures import fake_sheets  # noqa: F401  (the fixture)

SCOPES = ["https://www.googleapis.com/auth/spreadsheets"]
BOOK = "1ClinicLogSpreadsheetId"
ROWS: list[list[object]] = [
    ["Name", "First contact", "Called", "Notes"],
    ["Ann", dt.date(2024, 1, 31), True, ""],
    [],
    ["Bob", None, 3.5],
]


@pytest.fixture
def client(fake_sheets: FakeSheets, tmp_path: Path) -> Iterator[gspread.Client]:  # noqa: F811
    fake_sheets.add_spreadsheet(BOOK, {"Prospects": ROWS, "Staff": [["Who"], ["Dr A"]]})
    key = fake_sheets.service_account_key(tmp_path)
    creds = service_account.Credentials.from_service_account_file(str(key), scopes=SCOPES)
    session = google_requests.AuthorizedSession(creds)
    session.mount("https://sheets.googleapis.com/", fake_sheets.adapter())
    yield gspread.Client(auth=creds, session=session)
    session.close()


def raw(fake: FakeSheets, method: str, path: str, **kwargs: Any) -> requests.Response:
    token = fake.auth.issue(DEFAULT_EMAIL)
    headers = {"Authorization": f"Bearer {token}"}
    kwargs.setdefault("timeout", 10)
    return requests.request(method, fake.url + path, headers=headers, **kwargs)


def test_gspread_reads_and_writes(fake_sheets: FakeSheets, client: gspread.Client) -> None:  # noqa: F811
    sheet = client.open_by_key(BOOK).worksheet("Prospects")
    assert sheet.get_all_values()[:2] == [
        ["Name", "First contact", "Called", "Notes"],
        ["Ann", "31/01/2024", "TRUE", ""],
    ]
    assert sheet.get_values(value_render_option="UNFORMATTED_VALUE")[1][:3] == ["Ann", 45322, True]
    sheet.batch_update([{"range": "D2:E2", "values": [["=1+1", "x"]]}], raw=True)
    assert fake_sheets.values(BOOK, "Prospects")[1] == ["Ann", 45322, True, "=1+1", "x"]
    with pytest.raises(gspread.exceptions.APIError) as error:
        sheet.update([["too far"]], "AB1")
    assert "exceeds grid limits. Max rows: 1000, max columns: 26" in str(error.value)


def test_values_shapes(fake_sheets: FakeSheets) -> None:  # noqa: F811
    fake_sheets.add_spreadsheet(BOOK, {"Prospects": ROWS, "Empty": []})
    answer = raw(
        fake_sheets,
        "GET",
        f"/v4/spreadsheets/{BOOK}/values:batchGet",
        params={"ranges": ["Prospects", "'Empty'!A:B"], "valueRenderOption": "UNFORMATTED_VALUE"},
    ).json()
    full, empty = answer["valueRanges"]
    assert full["range"] == "Prospects!A1:Z1000"
    assert full["values"] == [ROWS[0], ["Ann", 45322, True], [], ["Bob", "", 3.5]]
    assert empty == {"range": "Empty!A1:B1000", "majorDimension": "ROWS"}


def test_error_bodies(fake_sheets: FakeSheets, client: gspread.Client) -> None:  # noqa: F811
    fake_sheets.add_spreadsheet("private", {"S": [["x"]]}, shared_with={"someone@else.com"})
    cases = {
        "missing": (404, "NOT_FOUND", "Requested entity was not found."),
        "private": (403, "PERMISSION_DENIED", "The caller does not have permission"),
    }
    for book, (code, status, message) in cases.items():
        answer = raw(fake_sheets, "GET", f"/v4/spreadsheets/{book}")
        assert answer.status_code == code
        assert answer.json() == {"error": {"code": code, "message": message, "status": status}}
    answer = requests.get(f"{fake_sheets.url}/v4/spreadsheets/{BOOK}", timeout=5)
    assert (answer.status_code, answer.json()["error"]["status"]) == (401, "UNAUTHENTICATED")
    fake_sheets.api_disabled = True
    error = raw(fake_sheets, "GET", f"/v4/spreadsheets/{BOOK}").json()["error"]
    assert (error["code"], error["status"]) == (403, "PERMISSION_DENIED")
    assert error["message"].startswith("Google Sheets API has not been used in project 123456")
    assert error["details"][0]["reason"] == "SERVICE_DISABLED"
    fake_sheets.api_disabled = False
    fake_sheets.fail_next(429)
    with pytest.raises(gspread.exceptions.APIError) as caught:
        client.open_by_key(BOOK)
    assert caught.value.response.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert client.open_by_key(BOOK).title == "Clinic log"


def test_token_endpoint_and_revoke(fake_sheets: FakeSheets, tmp_path: Path) -> None:  # noqa: F811
    key = fake_sheets.service_account_key(tmp_path)
    creds = service_account.Credentials.from_service_account_file(str(key), scopes=SCOPES)
    creds.refresh(google_requests.Request())
    assert fake_sheets.auth.email_for(f"Bearer {creds.token}") == DEFAULT_EMAIL
    fake_sheets.revoke(DEFAULT_EMAIL)
    with pytest.raises(Exception, match="Invalid JWT Signature"):
        creds.refresh(google_requests.Request())
    assert fake_sheets.requests == []  # token requests are not counted


def test_schema_validation() -> None:
    good = {
        "requests": [
            {
                "addConditionalFormatRule": {
                    "index": 0,
                    "rule": {
                        "ranges": [{"sheetId": 0, "startRowIndex": 1, "endRowIndex": 1000}],
                        "booleanRule": {
                            "condition": {
                                "type": "CUSTOM_FORMULA",
                                "values": [{"userEnteredValue": "=$C2=TRUE"}],
                            },
                            "format": {"backgroundColor": {"red": 1, "green": 0.9}},
                        },
                    },
                }
            }
        ]
    }
    assert validate_body(good, "BatchUpdateSpreadsheetRequest") == []
    bad = {"requests": [{"addConditionalFormatRule": {"xyz": 1, "index": "one"}}]}
    messages = [v.description for v in validate_body(bad, "BatchUpdateSpreadsheetRequest")]
    assert messages[0] == (
        'Invalid JSON payload received. Unknown name "xyz" at'
        " 'requests[0].add_conditional_format_rule': Cannot find field."
    )
    assert "requests[0].add_conditional_format_rule.index" in messages[1]
    enum = {"valueInputOption": "RAWISH", "data": []}
    assert validate_body(enum, "BatchUpdateValuesRequest")


def test_schema_rejection_over_http(fake_sheets: FakeSheets) -> None:  # noqa: F811
    fake_sheets.add_spreadsheet(BOOK, {"Prospects": ROWS})
    body = {"requests": [{"appendDimension": {"sheetId": 0, "dimension": "ROWS", "lenght": 5}}]}
    answer = raw(fake_sheets, "POST", f"/v4/spreadsheets/{BOOK}:batchUpdate", json=body)
    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == (
        'Invalid JSON payload received. Unknown name "lenght" at'
        " 'requests[0].append_dimension': Cannot find field."
    )
    answer = raw(fake_sheets, "GET", f"/v4/spreadsheets/{BOOK}", params={"rangez": "A1"})
    assert answer.status_code == 400
    assert 'Unknown name "rangez"' in answer.json()["error"]["message"]


def test_conditional_formats_and_staff_edits(fake_sheets: FakeSheets) -> None:  # noqa: F811
    fake_sheets.add_spreadsheet(BOOK, {"Prospects": ROWS})
    rule = {
        "ranges": [{"sheetId": 0, "startRowIndex": 1, "endRowIndex": 4}],
        "booleanRule": {
            "condition": {"type": "CUSTOM_FORMULA", "values": [{"userEnteredValue": "=$C2"}]},
            "format": {"backgroundColor": {"red": 0, "green": 1, "blue": 1}},
        },
    }
    body = {"requests": [{"addConditionalFormatRule": {"rule": rule, "index": 0}}]}
    answer = raw(fake_sheets, "POST", f"/v4/spreadsheets/{BOOK}:batchUpdate", json=body)
    assert answer.json() == {"spreadsheetId": BOOK, "replies": [{}]}
    stored = fake_sheets.conditional_formats(BOOK, "Prospects")
    assert stored[0]["booleanRule"]["format"]["backgroundColor"] == {"green": 1, "blue": 1}
    assert stored[0]["ranges"] == [{"startRowIndex": 1, "endRowIndex": 4}]
    fake_sheets.sort_rows(BOOK, "Prospects", "Name", reverse=True)
    assert [row[0] for row in fake_sheets.values(BOOK, "Prospects")] == ["Name", "Bob", "Ann"]
    assert fake_sheets.conditional_formats(BOOK, "Prospects") == stored
    fake_sheets.insert_row(BOOK, "Prospects", 2, ["Cy"])
    assert fake_sheets.grid_size(BOOK, "Prospects") == (1001, 26)
    assert fake_sheets.conditional_formats(BOOK, "Prospects")[0]["ranges"][0]["endRowIndex"] == 5
    fake_sheets.set_cell(BOOK, "Prospects", 2, 1, dt.date(1899, 12, 31))
    fake_sheets.delete_row(BOOK, "Prospects", 3)
    assert fake_sheets.values(BOOK, "Prospects")[1:] == [["Cy", 1], ["Ann", 45322, True]]
    delete = {"requests": [{"deleteConditionalFormatRule": {"sheetId": 0, "index": 0}}]}
    reply = raw(fake_sheets, "POST", f"/v4/spreadsheets/{BOOK}:batchUpdate", json=delete).json()
    assert "rule" in reply["replies"][0]["deleteConditionalFormatRule"]
    assert fake_sheets.conditional_formats(BOOK, "Prospects") == []


def test_field_masks_and_grid_data(fake_sheets: FakeSheets) -> None:  # noqa: F811
    fake_sheets.add_spreadsheet(BOOK, {"Prospects": ROWS, "Staff": [["Who"]]})
    fields = (
        "properties(timeZone,locale),sheets(properties(sheetId,title,gridProperties),"
        "conditionalFormats,data(rowData(values(effectiveValue,userEnteredFormat))))"
    )
    params = {"ranges": "Prospects!A1:Z", "fields": fields}
    answer = raw(fake_sheets, "GET", f"/v4/spreadsheets/{BOOK}", params=params).json()
    assert answer["properties"] == {"timeZone": "Europe/London", "locale": "en_GB"}
    (sheet,) = answer["sheets"]
    assert set(sheet) == {"properties", "data"}
    rows = sheet["data"][0]["rowData"]
    assert rows[1]["values"][1] == {
        "effectiveValue": {"numberValue": 45322},
        "userEnteredFormat": {"numberFormat": {"type": "DATE", "pattern": "dd/mm/yyyy"}},
    }
    assert rows[1]["values"][2] == {"effectiveValue": {"boolValue": True}}
    assert rows[2] == {}
    assert rows[3]["values"][1] == {}
    params = {"ranges": "'Staff'!B2:C3", "includeGridData": "true"}
    staff = raw(fake_sheets, "GET", f"/v4/spreadsheets/{BOOK}", params=params).json()
    assert staff["sheets"][0]["data"][0]["startRow"] == 1
    assert "rowData" not in staff["sheets"][0]["data"][0]


def test_counting_hooks_and_stall(fake_sheets: FakeSheets, client: gspread.Client) -> None:  # noqa: F811
    seen: list[tuple[str, str]] = []
    fake_sheets.before_request = lambda method, path: seen.append((method, path))
    client.open_by_key(BOOK).worksheet("Prospects").get_all_values()
    # open_by_key and worksheet() each read the metadata, get_all_values reads the values
    assert [r.method for r in fake_sheets.requests] == ["GET", "GET", "GET"]
    assert seen == [(r.method, r.path) for r in fake_sheets.requests]
    assert all(r.status == 200 and r.response_bytes > 0 for r in fake_sheets.requests)
    assert fake_sheets.requests[0].query == {"includeGridData": ["false"]}
    fake_sheets.reset()
    assert fake_sheets.requests == []
    fake_sheets.stall_next(1.0)
    with pytest.raises(requests.exceptions.ReadTimeout):
        raw(fake_sheets, "GET", f"/v4/spreadsheets/{BOOK}", timeout=0.2)


# The recorded calls the product makes: values batchGet / get / update / batchUpdate,
# spreadsheets.get with and without fields, spreadsheets.batchUpdate, and error answers.
CONFORMANCE = [
    "SpreadsheetTest.test_values_batch_get.json",
    "SpreadsheetTest.test_values_get.json",
    "WorksheetTest.test_batch_get.json",
    "WorksheetTest.test_batch_update.json",
    "WorksheetTest.test_get_all_values.json",
    "WorksheetTest.test_get_all_values_date_time_render_options.json",
    "WorksheetTest.test_get_all_records_value_render_options.json",
    "WorksheetTest.test_get_returns_ValueRange_with_metadata.json",
    "WorksheetTest.test_range_get_all_values.json",
    "WorksheetTest.test_update_and_get.json",
    "WorksheetTest.test_update_cells_noncontiguous.json",
    "WorksheetTest.test_clear.json",
    "WorksheetTest.test_resize.json",
    "WorksheetTest.test_freeze.json",
    "WorksheetTest.test_update_tab_color.json",
    "WorksheetTest.test_clear_tab_color.json",
    "SpreadsheetTest.test_add_del_worksheet.json",
    "SpreadsheetTest.test_timezone_and_locale.json",
    "ClientTest.test_access_non_existing_spreadsheet.json",
    "ClientTest.test_open_by_key_has_metadata.json",
]


@pytest.mark.skipif(not RECORDINGS.is_dir(), reason="no recordings in ../shared")
@pytest.mark.parametrize("cassette", CONFORMANCE)
def test_conformance_with_recorded_traffic(fake_sheets: FakeSheets, cassette: str) -> None:  # noqa: F811
    result = replay(fake_sheets, cassette)
    assert result.compared > 0
    assert result.unsupported == []
    assert result.differences == []
