"""Issue 12, point 8: size on big logs, against the fake Sheets API over real HTTP.

Reads ask for compact JSON (`prettyPrint=false`) and get it gzipped (Google compresses only
for a client that accepts gzip and names "gzip" in its User-Agent); a first sync writes one
range per run of rows in a column, in bodies under Google's recommended 2 MB; the Sync ID
column is hidden when it is created. The fake behaves as Google does in each respect, and
these tests hold it to that too.
"""

from __future__ import annotations

import gzip
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from google.auth.transport.requests import AuthorizedSession
from google.oauth2 import service_account

from sheets_sync.backends.gsheets import GSheetsBackend
from sheets_sync.backends.gsheets.ranges import value_batches
from sheets_sync.config import Config, load_config
from sheets_sync.core.sync import Changes
from sheets_sync.engine import sync
from sheets_sync.state import State
from tests.backends.contract import HEADER, ROOT, ROWS, STAFF, TODAY, plan
from tests.backends.gsheets_helpers import SessionFactory, Sleeps, routed
from tests.sheets_fake import FakeSheets

SHEET = "1SizesOfBigLogs0123456789abcdefghijklmnopqr"
LOG_TAB = "Prospects"
TWO_MB = 2_000_000


def watched(fake: FakeSheets, seen: list[requests.Response]) -> SessionFactory:
    """The tests' session to the fake, keeping every Sheets API answer as the client got it
    (its request, headers, and body as sent)."""

    def session(credentials: service_account.Credentials) -> AuthorizedSession:
        made = routed(fake)(credentials)
        made.hooks["response"].append(lambda response, *args, **kwargs: seen.append(response))
        return made

    return session


def backend(fake: FakeSheets, key: Path, seen: list[requests.Response]) -> GSheetsBackend:
    return GSheetsBackend(SHEET, credentials=key, session=watched(fake, seen), sleep=Sleeps())


def config() -> Config:
    return load_config(ROOT / "config" / "sheets_sync.toml")


def big_log(count: int) -> list[list[object]]:
    owners = ("Anna Price", "Ben Okafor")
    rows: list[list[object]] = [list(HEADER)]
    for n in range(count):
        consulted = TODAY - timedelta(days=n % 90)
        status = ("Booked", None, "Declined", None, None)[n % 5]
        rows.append([f"Prospect {n:05d}", owners[n % 2], consulted, status, None, n * 10, None])
    return rows


def add(fake: FakeSheets, rows: list[list[object]]) -> None:
    fake.add_spreadsheet(SHEET, {LOG_TAB: rows, "Staff": [list(row) for row in STAFF]})


def sent(response: requests.Response) -> bytes:
    body = response.request.body
    assert isinstance(body, bytes)
    return body


def value_writes(seen: list[requests.Response]) -> list[dict[str, Any]]:
    return [
        json.loads(sent(response))
        for response in seen
        if response.request.url
        and response.request.url.split("?")[0].endswith("/values:batchUpdate")
    ]


# --- writing: one range per run of rows in a column ------------------------------------------


def test_a_first_sync_of_10000_rows_is_one_range_per_column_well_under_2_mb(
    fake: FakeSheets, key: Path, tmp_path: Path
) -> None:
    add(fake, big_log(10_000))
    seen: list[requests.Response] = []
    gs = backend(fake, key, seen)
    with State(tmp_path / "state") as state:
        report = sync(gs, config(), state, today=TODAY)
    assert report.written
    (body,) = value_writes(seen)  # one request, as before
    assert body["valueInputOption"] == "RAW"
    sync_col = len(HEADER) + 3
    width = len(HEADER) + 4
    starts = [item["range"].removeprefix(f"'{LOG_TAB}'!").split(":")[0] for item in body["data"]]
    assert starts == ["H1", "I1", "J1", "K1"]  # the managed columns, each a range from its header
    assert all(item["majorDimension"] == "COLUMNS" for item in body["data"])
    assert max(len(sent(r)) for r in seen if r.request.method == "POST") < TWO_MB / 2
    values = fake.values(SHEET, LOG_TAB)
    assert values[0][len(HEADER) :] == ["Next touch", "Next action", "Follow-up status", "Sync ID"]
    assert all(len(row) == width and row[sync_col] != "" for row in values[1:])


def test_a_first_sync_of_30000_rows_goes_in_bodies_google_accepts(
    fake: FakeSheets, key: Path, tmp_path: Path
) -> None:
    """One range per cell made a 12 MB body here, which Google refuses (over 10 MiB)."""
    add(fake, big_log(30_000))
    seen: list[requests.Response] = []
    gs = backend(fake, key, seen)
    with State(tmp_path / "state") as state:
        report = sync(gs, config(), state, today=TODAY)
    assert report.written
    writes = value_writes(seen)
    assert len(writes) > 1
    assert all(len(json.dumps(body)) <= TWO_MB for body in writes)
    assert all(r.status_code == 200 for r in seen)
    sync_col = len(HEADER) + 3
    values = fake.values(SHEET, LOG_TAB)
    assert len(values) == 30_001
    assert all(len(row) > sync_col and row[sync_col] != "" for row in values[1:])


def test_a_blank_inside_a_run_clears_its_cell_and_rows_outside_are_untouched(
    fake: FakeSheets, key: Path
) -> None:
    add(fake, [list(row) for row in ROWS])
    seen: list[requests.Response] = []
    gs = backend(fake, key, seen)
    before = gs.read()
    first = plan(before)
    layout = first.changes.layout
    gs.write(first.changes, before.version)
    action = layout.managed["next_action"]
    fake.set_cell(SHEET, LOG_TAB, 5, action, "left alone")  # not in the write below
    after = gs.read()
    cells: dict[tuple[int, int], str | date | None] = {
        (2, action): "call",
        (3, action): None,
        (4, action): "write",
        (6, action): "email",
    }
    seen.clear()
    gs.write(Changes(layout, cells, first.changes.headers, first.changes.last_row), after.version)
    (body, *_) = value_writes(seen)
    letter = "ABCDEFGHIJ"[action]
    assert body["data"] == [
        {
            "range": f"'{LOG_TAB}'!{letter}2:{letter}6",
            "majorDimension": "COLUMNS",
            "values": [["call", "", "write", None, "email"]],
        }
    ]
    column = [row[action] if len(row) > action else "" for row in fake.values(SHEET, LOG_TAB)]
    assert column[1:6] == ["call", "", "write", "left alone", "email"]


def test_bodies_stay_under_the_limit_and_cover_each_cell_once() -> None:
    cells: dict[tuple[int, int], str | date | None] = {
        (row, col): f"value {row}-{col}" if row % 7 else None
        for row in range(1, 3001)
        for col in (3, 4)
        if row % 500 and not 1000 < row < 1020  # a row bridged with null; a gap that is not
    }
    cells[(10, 5)] = date(2026, 11, 24)
    batches = value_batches("'Log'", cells, limit=20_000)
    assert len(batches) > 1
    assert all(
        len(json.dumps({"valueInputOption": "RAW", "data": data})) <= 20_000 for data in batches
    )
    written: dict[tuple[int, int], object] = {}
    for data in batches:
        for item in data:
            cells_a1 = item["range"].removeprefix("'Log'!")
            first, _, last = cells_a1.partition(":")
            col = "ABCDEFGHIJ".index(first[0])
            start = int(first[1:])
            (values,) = item["values"]
            assert len(values) == (int(last[1:]) - start + 1 if last else 1)
            assert values[0] is not None
            assert values[-1] is not None
            for offset, value in enumerate(values):
                assert (start + offset, col) not in written
                written[(start + offset, col)] = value
    left_alone = {cell for cell, value in written.items() if value is None}
    assert left_alone
    assert not left_alone & set(cells)
    expected = {
        cell: "" if value is None else 46350 if isinstance(value, date) else value
        for cell, value in cells.items()
    }
    assert {cell: value for cell, value in written.items() if value is not None} == expected
    assert not any(1000 < row < 1020 for row, _ in written)  # 19 rows: two ranges, no nulls


# --- reading: compact and compressed ----------------------------------------------------------


def test_every_call_asks_for_compact_json_and_gets_it_gzipped(
    fake: FakeSheets, key: Path, tmp_path: Path
) -> None:
    add(fake, big_log(200))
    seen: list[requests.Response] = []
    gs = backend(fake, key, seen)
    with State(tmp_path / "state") as state:
        sync(gs, config(), state, today=TODAY)
    assert {r.request.method for r in seen} == {"GET", "POST"}
    for response in seen:
        assert "prettyPrint=false" in (response.request.url or "")
        assert response.request.headers["Accept-Encoding"] == "gzip"
        assert "(gzip)" in response.request.headers["User-Agent"]
        assert response.headers["Content-Encoding"] == "gzip"
        assert b"\n" not in response.content  # compact JSON, decompressed by requests
    reads = [r for r in fake.requests if r.method == "GET"]
    assert reads
    assert all(r.query["prettyPrint"] == ["false"] for r in reads)


# --- the Sync ID column ------------------------------------------------------------------------


def test_the_sync_id_column_is_hidden_when_it_is_created(
    fake: FakeSheets, key: Path, tmp_path: Path
) -> None:
    add(fake, [list(row) for row in ROWS])
    gs = backend(fake, key, [])
    with State(tmp_path / "state") as state:
        sync(gs, config(), state, today=TODAY)
    sync_col = len(HEADER) + 3
    assert fake.hidden_columns(SHEET, LOG_TAB) == [sync_col]


def test_staff_who_show_the_sync_id_column_again_keep_it_shown(
    fake: FakeSheets, key: Path, tmp_path: Path
) -> None:
    add(fake, [list(row) for row in ROWS])
    gs = backend(fake, key, [])
    sync_col = len(HEADER) + 3
    with State(tmp_path / "state") as state:
        sync(gs, config(), state, today=TODAY)
        fake.show_column(SHEET, LOG_TAB, sync_col)
        fake.insert_row(SHEET, LOG_TAB, len(ROWS) + 1, ["New One", "Anna Price", TODAY])
        assert sync(gs, config(), state, today=TODAY).written
    assert fake.hidden_columns(SHEET, LOG_TAB) == []


# --- the fake, as Google behaves --------------------------------------------------------------


def plain_session(fake: FakeSheets, key: Path) -> AuthorizedSession:
    """A session as gspread makes it: python-requests' User-Agent, `gzip, deflate`."""
    credentials = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
        str(key), scopes=["https://www.googleapis.com/auth/spreadsheets"]
    )
    return routed(fake)(credentials)


URL = f"https://sheets.googleapis.com/v4/spreadsheets/{SHEET}"


def test_the_fake_answers_pretty_and_uncompressed_by_default_as_recorded(
    fake: FakeSheets, key: Path
) -> None:
    add(fake, [list(row) for row in ROWS])
    session = plain_session(fake, key)
    answer = session.get(URL, params={"fields": "spreadsheetId"})
    assert "Content-Encoding" not in answer.headers
    assert answer.text == f'{{\n  "spreadsheetId": "{SHEET}"\n}}\n'
    compact = session.get(URL, params={"fields": "spreadsheetId", "prettyPrint": "false"})
    assert compact.text == f'{{"spreadsheetId":"{SHEET}"}}'
    session.headers["User-Agent"] = "clinic-script/1 (gzip)"
    zipped = session.get(URL, params={"fields": "spreadsheetId"}, stream=True)
    assert zipped.headers["Content-Encoding"] == "gzip"
    wire = zipped.raw.read(decode_content=False)
    assert gzip.decompress(wire).decode() == answer.text
    assert fake.requests[-1].response_bytes == len(wire)


def test_the_fake_refuses_a_body_over_10_mib_as_google_does(fake: FakeSheets, key: Path) -> None:
    add(fake, [list(row) for row in ROWS])
    session = plain_session(fake, key)
    body: dict[str, Any] = {
        "valueInputOption": "RAW",
        "data": [{"range": "Prospects!Z1", "values": [["x" * (11 * 1024 * 1024)]]}],
    }
    answer = session.post(f"{URL}/values:batchUpdate", json=body)
    assert answer.status_code == 400
    assert answer.json()["error"] == {
        "code": 400,
        "message": "Request payload size exceeds the limit: 10485760 bytes.",
        "status": "INVALID_ARGUMENT",
    }
    assert fake.values(SHEET, LOG_TAB)[0][-1] != "x"


def hide(col: int, **extra: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "range": {"sheetId": 0, "dimension": "COLUMNS", "startIndex": col, "endIndex": col + 1},
        "properties": {"hiddenByUser": True, "pixelSize": 40},
        "fields": "hiddenByUser",
    }
    request.update(extra)
    return {"requests": [{"updateDimensionProperties": request}]}


def test_the_fake_keeps_column_widths_and_hidden_state_in_grid_data(
    fake: FakeSheets, key: Path
) -> None:
    add(fake, [list(row) for row in ROWS])
    session = plain_session(fake, key)
    assert session.post(f"{URL}:batchUpdate", json=hide(2)).json()["replies"] == [{}]
    widths = hide(3, fields="pixelSize")
    assert session.post(f"{URL}:batchUpdate", json=widths).status_code == 200
    answer = session.get(
        URL, params={"ranges": "Prospects!A1:E2", "fields": "sheets.data.columnMetadata"}
    ).json()
    assert answer["sheets"][0]["data"][0]["columnMetadata"] == [
        {"pixelSize": 100},
        {"pixelSize": 100},
        {"pixelSize": 100, "hiddenByUser": True},
        {"pixelSize": 40},
        {"pixelSize": 100},
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"fields": ""}, "At least one field must be updated"),
        ({"range": {"sheetId": 0, "dimension": "COLUMNS", "endIndex": 30}}, "exceeds grid"),
        ({"range": {"sheetId": 9, "dimension": "COLUMNS"}}, "No grid with id: 9"),
        ({"range": {"sheetId": 0, "dimension": "ROWS"}}, "column properties only"),
        ({"fields": "developerMetadata"}, "only pixelSize and hiddenByUser"),
    ],
)
def test_the_fake_refuses_bad_dimension_properties(
    fake: FakeSheets, key: Path, change: dict[str, Any], message: str
) -> None:
    add(fake, [list(row) for row in ROWS])
    session = plain_session(fake, key)
    answer = session.post(f"{URL}:batchUpdate", json=hide(2, **change))
    assert answer.status_code == 400
    assert message in answer.json()["error"]["message"]
    assert fake.hidden_columns(SHEET, LOG_TAB) == []
