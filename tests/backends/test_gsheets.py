"""The Google Sheets backend against the fake Sheets API (tests.sheets_fake), over real HTTP.

Issue 5: connecting with a service-account key and clear messages for every setup mistake;
one request per read; one values batch per write, RAW; colour rules neither doubled nor lost;
a request budget per cycle; bounded retries; row links; the backend contract.
"""

from __future__ import annotations

import functools
import re
from datetime import date, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from sheets_sync import engine
from sheets_sync.backends.base import SourceChanged, SourceError
from sheets_sync.backends.gsheets import GSheetsBackend, RetryingHTTPClient
from sheets_sync.cli import main
from sheets_sync.config import Config, load_config
from sheets_sync.core.sync import Changes
from sheets_sync.core.values import CellValue
from sheets_sync.engine import open_backend, sync
from sheets_sync.state import State
from tests.backends.contract import (
    FORMULA_LIKE,
    HEADER,
    MANAGED_HEADERS,
    ROOT,
    ROWS,
    STAFF,
    TODAY,
    BackendContract,
    MakeBackend,
    Rows,
    cell,
    plan,
    trimmed,
)
from tests.backends.gsheets_helpers import Sleeps, backend, calls, routed
from tests.sheets_fake import DEFAULT_EMAIL, FakeSheets

SHEET = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcd"
LOG_TAB = "Prospects"
NOTES = HEADER.index("Notes")
STATUS = HEADER.index("Status")


def add(fake: FakeSheets, rows: Rows, staff: Rows | None, sheet: str = SHEET, **kw: Any) -> None:
    tabs: dict[str, list[list[object]]] = {LOG_TAB: [list(row) for row in rows]}
    if staff is not None:
        tabs["Staff"] = [list(row) for row in staff]
    fake.add_spreadsheet(sheet, tabs, **kw)


def config() -> Config:
    return load_config(ROOT / "config" / "sheets_sync.toml")


def formulas(rules: list[dict[str, Any]]) -> list[str]:
    return [
        str(value.get("userEnteredValue"))
        for rule in rules
        for value in rule["booleanRule"]["condition"]["values"]
    ]


# --- 9. the backend contract -----------------------------------------------------------------


class TestGSheetsBackend(BackendContract):
    @pytest.fixture
    def make_backend(self, fake: FakeSheets, key: Path) -> MakeBackend:
        made = iter(range(1000))

        def make(rows: Rows, staff: Rows | None) -> GSheetsBackend:
            sheet = f"{SHEET}{next(made)}"
            add(fake, rows, staff, sheet)
            return backend(fake, key, sheet)

        return make


# --- 1. connecting, and a clear message for every setup mistake ------------------------------


def problem(gs: GSheetsBackend) -> str:
    with pytest.raises(SourceError) as raised:
        gs.read()
    assert not isinstance(raised.value, SourceChanged)
    return str(raised.value)


def test_a_sheet_not_shared_names_the_address_to_share_it_with(fake: FakeSheets, key: Path) -> None:
    add(fake, ROWS, STAFF, shared_with={"someone@clinic.example"})
    message = problem(backend(fake, key, SHEET))
    assert "not shared" in message
    assert DEFAULT_EMAIL in message
    assert "Editor" in message


def test_a_wrong_spreadsheet_id_says_where_to_find_the_right_one(
    fake: FakeSheets, key: Path
) -> None:
    add(fake, ROWS, STAFF)
    message = problem(backend(fake, key, "no-such-sheet"))
    assert "no-such-sheet" in message
    assert "spreadsheet_id" in message
    assert "/d/" in message


def test_a_missing_worksheet_names_the_tabs_there_are(fake: FakeSheets, key: Path) -> None:
    add(fake, ROWS, STAFF)
    message = problem(backend(fake, key, SHEET, worksheet="Leads"))
    assert '"Leads"' in message
    assert f'"{LOG_TAB}"' in message
    assert '"Staff"' in message
    assert "[source].worksheet" in message


def test_a_disabled_api_says_so(fake: FakeSheets, key: Path) -> None:
    add(fake, ROWS, STAFF)
    fake.api_disabled = True
    message = problem(backend(fake, key, SHEET))
    assert "Google Sheets API is not enabled" in message
    assert "console.developers.google.com" in message  # where to enable it


def test_a_revoked_key_says_to_make_a_new_one(fake: FakeSheets, key: Path) -> None:
    add(fake, ROWS, STAFF)
    gs = backend(fake, key, SHEET)
    gs.read()
    fake.revoke(DEFAULT_EMAIL)
    message = problem(gs)
    assert str(key) in message
    assert "new key" in message
    assert DEFAULT_EMAIL in message


@pytest.mark.parametrize("content", [None, "{not json", '{"type": "service_account"}'])
def test_an_unusable_key_file_says_which_and_what_to_do(
    fake: FakeSheets, tmp_path: Path, content: str | None
) -> None:
    add(fake, ROWS, STAFF)
    path = tmp_path / "key.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    message = problem(backend(fake, path, SHEET))
    assert str(path) in message
    assert "[source].credentials" in message


def test_the_key_comes_from_google_application_credentials(tmp_path: Path) -> None:
    loaded = load_config(gsheets_config(tmp_path, None))
    gs = open_backend(loaded, {"GOOGLE_APPLICATION_CREDENTIALS": str(tmp_path / "k.json")})
    assert isinstance(gs, GSheetsBackend)
    assert gs.spreadsheet_id == SHEET
    assert gs._google.credentials == tmp_path / "k.json"


# --- 2. reading ------------------------------------------------------------------------------


def test_a_read_is_one_request_for_both_sheets_and_the_layout_is_fetched_once(
    fake: FakeSheets, key: Path
) -> None:
    add(fake, ROWS, STAFF)
    gs = backend(fake, key, SHEET)
    gs.read()
    assert calls(fake) == [f"GET {SHEET}", f"GET {SHEET}"]  # the layout, then the data
    fake.reset()
    for _ in range(3):
        snapshot = gs.read()
    assert calls(fake) == [f"GET {SHEET}"] * 3
    query = fake.requests[-1].query
    assert query["ranges"] == [f"'{LOG_TAB}'", "'Staff'"]
    assert query["includeGridData"] == ["true"]
    assert snapshot.staff is not None
    assert trimmed(snapshot.staff) == trimmed(STAFF)


def test_text_that_looks_like_a_date_stays_text_and_dates_are_dates(
    fake: FakeSheets, key: Path
) -> None:
    rows = [list(row) for row in ROWS]
    rows[1][NOTES] = "03/04"
    rows[2][NOTES] = "2026-12-03"
    add(fake, rows, STAFF)
    snapshot = backend(fake, key, SHEET).read()
    assert cell(snapshot.rows, 2, NOTES) == "03/04"
    assert cell(snapshot.rows, 3, NOTES) == "2026-12-03"
    assert cell(snapshot.rows, 2, 2) == date(2026, 11, 2)
    assert cell(snapshot.rows, 2, HEADER.index("Value")) == 1200


def test_the_staff_tab_before_the_log_tab_is_still_read_as_staff(
    fake: FakeSheets, key: Path
) -> None:
    fake.add_spreadsheet(SHEET, {"Staff": [list(r) for r in STAFF], LOG_TAB: ROWS})  # type: ignore[dict-item]
    snapshot = backend(fake, key, SHEET).read()
    assert trimmed(snapshot.rows) == trimmed(ROWS)
    assert snapshot.staff is not None
    assert trimmed(snapshot.staff) == trimmed(STAFF)
    assert snapshot.link(2) == (
        f"https://docs.google.com/spreadsheets/d/{SHEET}/edit"
        f"#gid={fake.sheet_id(SHEET, LOG_TAB)}&range=A2"
    )


def test_worksheet_names_match_whatever_their_case(fake: FakeSheets, key: Path) -> None:
    add(fake, ROWS, STAFF)
    gs = backend(fake, key, SHEET, worksheet="prospects", staff_worksheet="STAFF")
    before = gs.read()
    assert before.staff is not None
    assert gs.write(plan(before).changes, before.version)
    assert tuple(fake.values(SHEET, LOG_TAB)[0][len(HEADER) :]) == MANAGED_HEADERS


def test_a_renamed_tab_is_found_again_on_the_next_read(fake: FakeSheets, key: Path) -> None:
    add(fake, ROWS, STAFF)
    gs = backend(fake, key, SHEET)
    gs.read()
    with fake.lock:
        fake.spreadsheets[SHEET].sheet(LOG_TAB).title = "PROSPECTS"  # still the worksheet
    assert "Unable to parse range" in problem(gs)
    assert trimmed(gs.read().rows) == trimmed(ROWS)


def test_a_tab_made_anew_is_still_read_and_linked(fake: FakeSheets, key: Path) -> None:
    add(fake, ROWS, STAFF)
    gs = backend(fake, key, SHEET)
    gs.read()
    with fake.lock:
        fake.spreadsheets[SHEET].sheet(LOG_TAB).sheet_id = 777
    snapshot = gs.read()
    assert trimmed(snapshot.rows) == trimmed(ROWS)
    assert str(snapshot.link(3)).endswith("#gid=777&range=A3")
    assert gs.write(plan(snapshot).changes, snapshot.version)
    assert len(fake.conditional_formats(SHEET, LOG_TAB)) == 6


# --- 3. writing -----------------------------------------------------------------------------


def test_merged_cells_read_as_staff_see_them(fake: FakeSheets, key: Path) -> None:
    """As in a workbook: an owner merged down three rows owns all three, and new columns
    go right of a header merged past the log's last column."""
    rows: Rows = [
        ["Name", "Owner", "Consultation date", "Notes"],
        ["Ann Lee", "Anna", date(2026, 11, 2), "called"],
        ["Bob Kay", None, date(2026, 11, 10)],
        ["Cy Dee", None, date(2026, 11, 20)],
    ]
    add(fake, rows, STAFF)
    fake.spreadsheets[SHEET].sheet(LOG_TAB).merges = [
        {"startRowIndex": 1, "endRowIndex": 4, "startColumnIndex": 1, "endColumnIndex": 2},
        {"startRowIndex": 0, "endRowIndex": 1, "startColumnIndex": 3, "endColumnIndex": 5},
    ]
    gs = backend(fake, key, SHEET)
    snapshot = gs.read()
    assert [row[1] for row in snapshot.rows[1:]] == ["Anna"] * 3

    first = plan(snapshot)
    assert min(first.changes.layout.managed.values()) == 5  # F: right of Notes over D1:E1
    gs.write(first.changes, snapshot.version)

    values = fake.values(SHEET, LOG_TAB)
    assert values[0][5] == "Next touch"
    assert [row[1] if len(row) > 1 else "" for row in values[1:4]] == ["Anna", "", ""]


def test_a_write_is_one_values_batch_written_raw(fake: FakeSheets, key: Path) -> None:
    rows = [list(row) for row in ROWS]
    rows[1][0] = "=1+1"  # a prospect so named
    add(fake, rows, STAFF)
    gs = backend(fake, key, SHEET)
    before = gs.read()
    first = plan(before)
    layout = first.changes.layout
    action = layout.managed["next_action"]
    cells = {**first.changes.cells, (2, action): "+call back", (3, action): "=HYPERLINK(1)"}
    changes = Changes(layout, cells, first.changes.headers, first.changes.last_row)
    fake.reset()
    gs.write(changes, before.version)
    # colour rules and date format; every value, header and Sync ID; the check
    assert calls(fake) == [
        f"POST {SHEET}:batchUpdate",
        f"POST {SHEET}/values:batchUpdate",
        f"GET {SHEET}",
    ]
    values = fake.values(SHEET, LOG_TAB)
    assert values[1][0] == "=1+1"
    assert values[1][action] == "+call back"
    assert values[2][action] == "=HYPERLINK(1)"
    for n, text in enumerate(FORMULA_LIKE[:4], start=2):
        assert values[n - 1][NOTES] == text
    assert tuple(values[0][len(HEADER) :]) == MANAGED_HEADERS
    sync_col = layout.managed["sync_id"]
    assert all(isinstance(row[sync_col], str) and row[sync_col] for row in values[1:])


def test_colour_rules_are_added_once_and_restored_when_staff_delete_them(
    fake: FakeSheets, key: Path, tmp_path: Path
) -> None:
    add(fake, ROWS, STAFF)
    gs = backend(fake, key, SHEET)
    with State(tmp_path / "state") as state:
        sync(gs, config(), state, today=TODAY)
        rules = fake.conditional_formats(SHEET, LOG_TAB)
        assert len(rules) == 6
        assert len(set(formulas(rules))) == 6
        for _ in range(2):
            sync(gs, config(), state, today=TODAY)
        assert fake.conditional_formats(SHEET, LOG_TAB) == rules

        # Staff delete one rule, and add one of their own in front.
        with fake.lock:
            grid = fake.spreadsheets[SHEET].sheet(LOG_TAB)
            del grid.conditional_formats[3]
            mine = {
                "ranges": [{"sheetId": 0, "startColumnIndex": 0, "endColumnIndex": 1}],
                "booleanRule": {
                    "condition": {"type": "TEXT_CONTAINS", "values": [{"userEnteredValue": "VIP"}]},
                    "format": {"backgroundColor": {"red": 1}},
                },
            }
            grid.conditional_formats.insert(0, mine)
        fake.reset()
        sync(gs, config(), state, today=TODAY)
        assert len(fake.requests) <= 4
        after = fake.conditional_formats(SHEET, LOG_TAB)
        assert sorted(formulas(after)) == sorted([*formulas(rules), "VIP"])
        assert after == [mine, *rules]  # the staff's rule keeps its place, ours their order

        # All deleted: all back, once.
        with fake.lock:
            fake.spreadsheets[SHEET].sheet(LOG_TAB).conditional_formats.clear()
        sync(gs, config(), state, today=TODAY)
        assert fake.conditional_formats(SHEET, LOG_TAB) == rules


def test_a_staff_sort_during_the_write_is_put_right(
    fake: FakeSheets, key: Path, tmp_path: Path
) -> None:
    """The API has no transactions: rows sorted between the read and the write end up with
    their own values all the same (compared with the same sync, undisturbed)."""
    add(fake, ROWS, STAFF)
    add(fake, ROWS, STAFF, "calm")
    undisturbed = backend(fake, key, "calm")
    undisturbed.write(*_first_plan(undisturbed))
    calm = {row[0]: row[len(HEADER) : -1] for row in fake.values("calm", LOG_TAB)[1:]}

    def sort_once(method: str, path: str) -> None:
        if path.endswith("/values:batchUpdate") and fake.before_request is not None:
            fake.before_request = None
            fake.sort_rows(SHEET, LOG_TAB, "Name", reverse=True)

    fake.before_request = sort_once
    gs = backend(fake, key, SHEET)
    written = gs.write(*_first_plan(gs))
    values = fake.values(SHEET, LOG_TAB)
    assert [row[0] for row in values[1:]] == sorted((str(r[0]) for r in ROWS[1:]), reverse=True)
    assert {row[0]: row[len(HEADER) : -1] for row in values[1:]} == calm
    assert written == gs.read().version


def _first_plan(gs: GSheetsBackend) -> tuple[Changes, str]:
    snapshot = gs.read()
    return plan(snapshot).changes, snapshot.version


# --- the request budget ------------------------------------------------------------------


def big_log(count: int) -> list[list[CellValue]]:
    owners = ("Anna Price", "Ben Okafor")
    rows: list[list[CellValue]] = [list(HEADER)]
    for n in range(count):
        consulted = TODAY - timedelta(days=n % 90)
        status = ("Booked", None, "Declined", None, None)[n % 5]
        rows.append([f"Prospect {n:04d}", owners[n % 2], consulted, status, None, n * 10, None])
    return rows


def test_request_budget_per_cycle_at_2000_rows(
    fake: FakeSheets, key: Path, tmp_path: Path, record_property: Any
) -> None:
    rows = big_log(2000)
    add(fake, rows, STAFF)
    gs = backend(fake, key, SHEET)
    counts: dict[str, int] = {}
    with State(tmp_path / "state") as state:

        def cycle(name: str) -> engine.CycleReport:
            fake.reset()
            report = sync(gs, config(), state, today=TODAY)
            counts[name] = len(fake.requests)
            assert all(r.status == 200 for r in fake.requests)
            return report

        first = cycle("first")
        assert first.written
        assert first.rows == 2000
        assert not cycle("unchanged").written
        assert counts["unchanged"] <= 1

        fake.set_cell(SHEET, LOG_TAB, 1500, STATUS, "Booked")  # one staff edit
        assert cycle("one edit").written
        fake.insert_row(SHEET, LOG_TAB, 2002, ["New One", "Ben Okafor", TODAY])
        assert cycle("a new row").written
        fake.sort_rows(SHEET, LOG_TAB, "Name", reverse=True)
        cycle("sorted")
        with fake.lock:
            del fake.spreadsheets[SHEET].sheet(LOG_TAB).conditional_formats[0]
        fake.set_cell(SHEET, LOG_TAB, 20, STATUS, "Declined")
        assert cycle("an edit and a deleted colour rule").written
        assert not cycle("unchanged again").written

    record_property("requests", counts)
    print("requests per cycle at 2,000 rows:", counts)
    assert counts["unchanged"] <= 1
    assert counts["unchanged again"] <= 1
    for name in ("one edit", "a new row", "sorted", "an edit and a deleted colour rule"):
        assert counts[name] <= 4, (name, counts)
    assert len(fake.conditional_formats(SHEET, LOG_TAB)) == 6


# --- 5. retries ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_faults_are_retried_with_bounded_backoff(fake: FakeSheets, key: Path, status: int) -> None:
    add(fake, ROWS, STAFF)
    sleeps = Sleeps()
    gs = backend(fake, key, SHEET, sleep=sleeps)
    fake.fail_next(status, 2)
    assert trimmed(gs.read().rows) == trimmed(ROWS)
    assert [r.status for r in fake.requests] == [status, status, 200, 200]
    assert len(sleeps) == 2
    assert all(0 <= s <= 2.0**n for n, s in enumerate(sleeps))


def test_a_fault_that_lasts_gives_up_for_this_cycle_with_a_message(
    fake: FakeSheets, key: Path
) -> None:
    add(fake, ROWS, STAFF)
    sleeps = Sleeps()
    gs = backend(fake, key, SHEET, sleep=sleeps)
    fake.fail_next(429, 100)
    message = problem(gs)
    assert "429" in message
    assert "Quota exceeded" in message
    assert len(fake.requests) == RetryingHTTPClient.ATTEMPTS
    assert len(sleeps) == RetryingHTTPClient.ATTEMPTS - 1
    assert all(0 <= s <= min(RetryingHTTPClient.MAX_BACKOFF, 2.0**n) for n, s in enumerate(sleeps))


def test_backoff_grows_exponentially_with_full_jitter() -> None:
    sleeps = Sleeps()
    client = RetryingHTTPClient.__new__(RetryingHTTPClient)
    client._sleep, client._jitter = sleeps, lambda: 1.0
    attempts = iter(range(100))

    def failing(*args: Any, **kwargs: Any) -> requests.Response:
        next(attempts)
        raise requests.ConnectionError("down")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("gspread.http_client.HTTPClient.request", failing)
        with pytest.raises(requests.ConnectionError):
            client.request("get", "https://sheets.googleapis.com/v4/spreadsheets/x")
    assert sleeps == [1.0, 2.0, 4.0, 8.0]
    assert next(attempts) == RetryingHTTPClient.ATTEMPTS


def test_client_errors_are_not_retried(fake: FakeSheets, key: Path) -> None:
    add(fake, ROWS, STAFF)
    sleeps = Sleeps()
    gs = backend(fake, key, SHEET, sleep=sleeps)
    fake.fail_next(400)
    assert "400" in problem(gs)
    assert len(fake.requests) == 1
    assert not sleeps


def test_timeouts_are_retried_then_given_up(fake: FakeSheets, key: Path) -> None:
    add(fake, ROWS, STAFF)
    sleeps = Sleeps()
    gs = backend(fake, key, SHEET, sleep=sleeps, timeout=0.2)
    gs.read()
    fake.stall_next(0.6)
    assert trimmed(gs.read().rows) == trimmed(ROWS)
    assert len(sleeps) == 1
    for _ in range(RetryingHTTPClient.ATTEMPTS):
        fake.stall_next(0.4)
    message = problem(gs)
    assert "read the log" in message
    assert "timed out" in message
    assert len(sleeps) == 1 + RetryingHTTPClient.ATTEMPTS - 1


class HtmlBadGateway(HTTPAdapter):
    """A proxy in front of Google answering 502 with an HTML page, `times` times."""

    def __init__(self, inner: HTTPAdapter, times: int) -> None:
        super().__init__()
        self.inner, self.times = inner, times

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        if self.times:
            self.times -= 1
            response = requests.Response()
            response.status_code = 502
            response._content = b"<html><body>502 Bad Gateway</body></html>"
            response.headers["Content-Type"] = "text/html"
            response.url = request.url or ""
            response.request = request
            return response
        return self.inner.send(request, *args, **kwargs)


def test_a_5xx_without_a_json_body_is_retried(fake: FakeSheets, key: Path) -> None:
    add(fake, ROWS, STAFF)
    sleeps = Sleeps()
    gs = GSheetsBackend(
        SHEET,
        credentials=key,
        session=routed(fake, HtmlBadGateway(fake.adapter(), 2)),
        sleep=sleeps,
    )
    assert trimmed(gs.read().rows) == trimmed(ROWS)
    assert len(sleeps) == 2


def test_a_failed_write_is_a_message_and_the_next_cycle_completes_it(
    fake: FakeSheets, key: Path, tmp_path: Path
) -> None:
    add(fake, ROWS, STAFF)
    gs = backend(fake, key, SHEET)
    with State(tmp_path / "state") as state:
        gs.read()
        fake.fail_next(503, 100)
        with pytest.raises(SourceError, match="503"):
            sync(gs, config(), state, today=TODAY)
        fake.fail_next(503, 0)
        with fake.lock:
            fake._faults.clear()
        assert sync(gs, config(), state, today=TODAY).written
        assert not sync(gs, config(), state, today=TODAY).written


# --- 6. row links, and the command line end to end -------------------------------------------


def test_row_links_go_straight_to_the_row(fake: FakeSheets, key: Path) -> None:
    add(fake, ROWS, STAFF)
    snapshot = backend(fake, key, SHEET).read()
    assert snapshot.link(5) == (
        f"https://docs.google.com/spreadsheets/d/{SHEET}/edit#gid=0&range=A5"
    )


def gsheets_config(tmp_path: Path, credentials: Path | None) -> Path:
    key_line = f'credentials = "{credentials.as_posix()}"' if credentials else ""
    path = tmp_path / "sheets_sync.toml"
    path.write_text(
        f"""
[source]
kind = "gsheets"
spreadsheet_id = "{SHEET}"
{key_line}

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


@pytest.fixture
def routed_cli(fake: FakeSheets, monkeypatch: pytest.MonkeyPatch) -> Sleeps:
    """`open_backend` builds its GSheetsBackend with the fake's session and a recorded sleep."""
    sleeps = Sleeps()
    made = functools.partial(GSheetsBackend, session=routed(fake), sleep=sleeps)
    monkeypatch.setattr(engine, "GSheetsBackend", made)
    return sleeps


def test_once_end_to_end(
    fake: FakeSheets,
    key: Path,
    tmp_path: Path,
    routed_cli: Sleeps,
    capsys: pytest.CaptureFixture[str],
) -> None:
    add(fake, ROWS, STAFF)
    cfg = gsheets_config(tmp_path, key)
    assert main(["once", "--config", str(cfg), "--today", TODAY.isoformat()]) == 0
    out = capsys.readouterr().out
    assert "the Google Sheet" in out
    assert "wrote" in out
    values = fake.values(SHEET, LOG_TAB)
    assert tuple(values[0][len(HEADER) :]) == MANAGED_HEADERS
    assert len(fake.conditional_formats(SHEET, LOG_TAB)) == 6

    mails = sorted((tmp_path / "outbox").glob("*.eml"))
    assert mails
    links: set[str] = set()
    for mail in mails:
        message = message_from_bytes(mail.read_bytes(), policy=policy.default)
        for part in message.walk():
            if part.get_content_type() == "text/html":
                links |= set(re.findall(r'href="([^"]*#gid=[^"]*)"', part.get_content()))
    base = re.escape(f"https://docs.google.com/spreadsheets/d/{SHEET}/edit#gid=0&amp;range=A")
    assert links
    assert all(re.fullmatch(base + r"\d+", link) for link in links), links

    fake.reset()
    args = ["once", "--config", str(cfg), "--today", TODAY.isoformat(), "--no-digest"]
    assert main(args) == 0
    assert "nothing to write" in capsys.readouterr().out
    assert len(fake.requests) == 2  # a new process: the layout, then the read


def test_once_with_the_key_in_the_environment(
    fake: FakeSheets,
    key: Path,
    tmp_path: Path,
    routed_cli: Sleeps,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    add(fake, ROWS, STAFF)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    cfg = gsheets_config(tmp_path, None)
    args = ["once", "--config", str(cfg), "--today", TODAY.isoformat(), "--no-digest"]
    assert main(args) == 0
    assert "wrote" in capsys.readouterr().out


def test_once_on_a_sheet_not_shared_is_one_line_not_a_traceback(
    fake: FakeSheets,
    key: Path,
    tmp_path: Path,
    routed_cli: Sleeps,
    capsys: pytest.CaptureFixture[str],
) -> None:
    add(fake, ROWS, STAFF, shared_with=set())
    cfg = gsheets_config(tmp_path, key)
    assert main(["once", "--config", str(cfg), "--today", TODAY.isoformat()]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith("sheets-sync: ")
    assert DEFAULT_EMAIL in err
    assert len(err.strip().splitlines()) == 1
