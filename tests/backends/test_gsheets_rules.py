"""The colour rules on a Google Sheet that staff keep changing (issue 12, point 3), and the
sheet's own locale and time zone (point 2), against the fake Sheets API.

Google rewrites a rule's range and relative references when rows go in or out; our rules are
found again by what survives that, exactly one set is kept, staff rules are never touched, and
a retried request whose first answer was lost never deletes one.
"""

from __future__ import annotations

import copy
import functools
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sheets_sync import engine
from sheets_sync.backends.base import Snapshot
from sheets_sync.backends.gsheets import GSheetsBackend
from sheets_sync.backends.gsheets.rules import colour_rules
from sheets_sync.backends.memory import MemoryBackend
from sheets_sync.cli import main
from sheets_sync.daemon import Daemon
from sheets_sync.state import State
from tests.backends.contract import ROWS, STAFF, TODAY, plan
from tests.backends.gsheets_helpers import Sleeps, backend, routed
from tests.backends.test_gsheets import (
    LOG_TAB,
    SHEET,
    add,
    config,
    formulas,
    gsheets_config,
)
from tests.sheets_fake import FakeSheets

# Staff rules over whole columns (from row 1), which rows inserted below never move.
STAFF_RULE = {
    "ranges": [{"sheetId": 0, "startColumnIndex": 0, "endColumnIndex": 1}],
    "booleanRule": {
        "condition": {"type": "TEXT_CONTAINS", "values": [{"userEnteredValue": "VIP"}]},
        "format": {"backgroundColor": {"red": 1}},
    },
}
OTHER_STAFF_RULE = {
    "ranges": [{"sheetId": 0, "startColumnIndex": 1, "endColumnIndex": 2}],
    "booleanRule": {
        "condition": {"type": "CUSTOM_FORMULA", "values": [{"userEnteredValue": '=$B1="Anna"'}]},
        "format": {"backgroundColor": {"green": 1}},
    },
}


def rules(fake: FakeSheets) -> list[dict[str, Any]]:
    return fake.conditional_formats(SHEET, LOG_TAB)


def set_rules(fake: FakeSheets, made: list[dict[str, Any]]) -> None:
    with fake.lock:
        fake.spreadsheets[SHEET].sheet(LOG_TAB).conditional_formats[:] = copy.deepcopy(made)


def staff_rules(fake: FakeSheets) -> list[dict[str, Any]]:
    return [rule for rule in rules(fake) if rule in (STAFF_RULE, OTHER_STAFF_RULE)]


def ours(fake: FakeSheets) -> list[dict[str, Any]]:
    return [rule for rule in rules(fake) if rule not in (STAFF_RULE, OTHER_STAFF_RULE)]


def first_rows(made: list[dict[str, Any]]) -> set[int]:
    return {box.get("startRowIndex", 0) for rule in made for box in rule["ranges"]}


# --- Google moves rules with their rows --------------------------------------------------------


def test_the_fake_moves_a_rule_and_its_relative_references_with_the_rows(
    fake: FakeSheets,
) -> None:
    add(fake, ROWS, STAFF)
    rule = {
        "ranges": [{"sheetId": 0, "startRowIndex": 1, "startColumnIndex": 7, "endColumnIndex": 8}],
        "booleanRule": {
            "condition": {
                "type": "CUSTOM_FORMULA",
                "values": [{"userEnteredValue": '=($H2>="X")*(H$1<"A2")*LOG10($G3)=1'}],
            },
            "format": {"backgroundColor": {"red": 1}},
        },
    }
    set_rules(fake, [rule])

    fake.insert_row(SHEET, LOG_TAB, 2, ["New", "Anna"])  # under the header: the rule moves
    (moved,) = rules(fake)
    assert moved["ranges"][0]["startRowIndex"] == 2
    formula = moved["booleanRule"]["condition"]["values"][0]["userEnteredValue"]
    assert formula == '=($H3>="X")*(H$1<"A2")*LOG10($G4)=1'  # absolute rows, texts stay

    fake.insert_row(SHEET, LOG_TAB, 5, ["Inside", "Ben"])  # inside the range: it grows
    assert rules(fake) == [moved]

    fake.delete_row(SHEET, LOG_TAB, 1)  # the header: everything moves up
    (back,) = rules(fake)
    assert back["ranges"][0]["startRowIndex"] == 1
    assert back["booleanRule"]["condition"]["values"][0]["userEnteredValue"] == formula.replace(
        "$H3", "$H2"
    ).replace("$G4", "$G3")


def test_a_newest_first_log_keeps_exactly_one_set_of_colour_rules(
    fake: FakeSheets, key: Path, tmp_path: Path
) -> None:
    add(fake, ROWS, STAFF)
    gs = backend(fake, key, SHEET)
    with State(tmp_path / "state") as state:
        engine.sync(gs, config(), state, today=TODAY)
        wanted = rules(fake)
        set_rules(fake, [STAFF_RULE, *wanted, OTHER_STAFF_RULE])
        for n in range(3):  # staff put each new prospect on top, under the header
            fake.insert_row(SHEET, LOG_TAB, 2, [f"Newest {n}", "Anna", "", "", TODAY])
            assert first_rows(ours(fake)) == {2}  # Google moved ours below the new row
            engine.sync(gs, config(), state, today=TODAY)
            now = rules(fake)
            assert len(now) == 8, [formulas([rule]) for rule in now]
            assert now[0] == STAFF_RULE
            assert now[-1] == OTHER_STAFF_RULE
            assert ours(fake) == wanted  # from row 2 again, with $J2 and $H2
            assert first_rows(ours(fake)) == {1}


def test_rules_written_before_issue_12_are_replaced_not_doubled(
    fake: FakeSheets, key: Path, tmp_path: Path
) -> None:
    add(fake, ROWS, STAFF)
    gs = backend(fake, key, SHEET)
    with State(tmp_path / "state") as state:
        engine.sync(gs, config(), state, today=TODAY)
        old = copy.deepcopy(rules(fake))
        before = {
            '=($J2>="CHECK DATA")*($J2<"CHECK DATB")=1': '=LEFT($J2,10)="CHECK DATA"',
            '=($J2>="CLOSED")*($J2<"CLOSEE")=1': '=LEFT($J2,6)="CLOSED"',
            "=ISNUMBER($H2)*($H2<TODAY())=1": "=AND(ISNUMBER($H2),$H2<TODAY())",
            "=ISNUMBER($H2)*($H2=TODAY())=1": "=AND(ISNUMBER($H2),$H2=TODAY())",
            "=ISNUMBER($H2)*($H2>TODAY())=1": "=AND(ISNUMBER($H2),$H2>TODAY())",
        }
        for rule in old:
            value = rule["booleanRule"]["condition"]["values"][0]
            value["userEnteredValue"] = before.get(
                value["userEnteredValue"], value["userEnteredValue"]
            )
        assert len(set(formulas(old)) - set(formulas(rules(fake)))) == 5
        set_rules(fake, old)
        engine.sync(gs, config(), state, today=TODAY)
        assert formulas(rules(fake)) == formulas(colour_rules(plan(gs.read()).changes, 0))


def test_colour_formulas_need_no_argument_separator() -> None:
    """Locales with a decimal comma (de_DE, fr_FR...) separate arguments with `;`; the API
    reads a rule's formula as typed in the sheet's locale, so ours use none at all."""
    changes = plan(_snapshot_like_a_log()).changes
    for formula in formulas(colour_rules(changes, 0)):
        outside_quotes = formula.split('"')[::2]
        assert not any("," in part or ";" in part for part in outside_quotes), formula


def _snapshot_like_a_log() -> Snapshot:
    return MemoryBackend(ROWS, STAFF).read()


# --- a retry after a lost answer --------------------------------------------------------------


def test_a_retry_after_a_lost_answer_never_deletes_staff_rules(
    fake: FakeSheets, key: Path, tmp_path: Path
) -> None:
    add(fake, ROWS, STAFF)
    sleeps = Sleeps()
    gs = backend(fake, key, SHEET, sleep=sleeps)
    with State(tmp_path / "state") as state:
        engine.sync(gs, config(), state, today=TODAY)
        wanted = rules(fake)

        # Staff rules in front; one of ours deleted by staff.
        set_rules(fake, [STAFF_RULE, OTHER_STAFF_RULE, *wanted[:3], *wanted[4:]])
        fake.lose_next_answer(f"{SHEET}:batchUpdate")
        engine.sync(gs, config(), state, today=TODAY)
        assert sleeps, "the lost answer was retried"
        assert staff_rules(fake) == [STAFF_RULE, OTHER_STAFF_RULE]
        engine.sync(gs, config(), state, today=TODAY)  # a spare copy of ours goes
        assert rules(fake) == [STAFF_RULE, OTHER_STAFF_RULE, *wanted]

        # Two sets of ours (as the old pile-up left them) between staff rules: the batch
        # deletes, its retry is refused whole, and the cycle goes on.
        set_rules(fake, [STAFF_RULE, *wanted, *wanted, OTHER_STAFF_RULE])
        fake.lose_next_answer(f"{SHEET}:batchUpdate")
        sleeps.clear()
        engine.sync(gs, config(), state, today=TODAY)
        assert sleeps, "the lost answer was retried"
        assert rules(fake) == [STAFF_RULE, *wanted, OTHER_STAFF_RULE]


# --- the sheet's locale and time zone ---------------------------------------------------------


@pytest.fixture
def routed_cli(fake: FakeSheets, monkeypatch: pytest.MonkeyPatch) -> None:
    made = functools.partial(GSheetsBackend, session=routed(fake), sleep=Sleeps())
    monkeypatch.setattr(engine, "GSheetsBackend", made)


def test_check_says_when_the_sheets_locale_and_time_zone_differ_from_the_clinics(
    fake: FakeSheets,
    key: Path,
    tmp_path: Path,
    routed_cli: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    add(fake, ROWS, STAFF, locale="en_US", time_zone="America/New_York")
    cfg = gsheets_config(tmp_path, key)  # a UK clinic: Europe/London, DMY
    assert main(["check", "--config", str(cfg), "--today", TODAY.isoformat()]) == 1
    out = capsys.readouterr().out
    locale_line = next(line for line in out.splitlines() if "locale en_US" in line)
    assert "month first" in locale_line
    assert "04/03/2026 typed for 4 March is stored as 3 April" in locale_line
    assert "File > Settings > Locale" in locale_line
    assert 'date_order = "MDY"' in locale_line
    zone_line = next(line for line in out.splitlines() if "America/New_York" in line)
    assert "Europe/London" in zone_line
    assert "File > Settings > Time zone" in zone_line
    assert "2 problems found." in out


def test_check_is_quiet_when_the_sheet_matches_the_clinic(
    fake: FakeSheets,
    key: Path,
    tmp_path: Path,
    routed_cli: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    add(fake, ROWS, STAFF, locale="en_GB", time_zone="Europe/London")
    cfg = gsheets_config(tmp_path, key)
    main(["check", "--config", str(cfg), "--today", TODAY.isoformat()])
    out = capsys.readouterr().out
    assert "locale" not in out
    assert "time zone" not in out


class _Clock:
    def now(self) -> datetime:
        return datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

    def sleep(self, seconds: float, stop: Any) -> None:
        raise AssertionError("not run here")


def test_the_daemon_warns_once_a_run_about_the_sheets_settings(
    fake: FakeSheets, key: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    add(fake, ROWS, STAFF, locale="en_US", time_zone="Europe/London")
    daemon = Daemon(config(), {}, clock=_Clock(), backend=backend(fake, key, SHEET))
    with State(tmp_path / "state") as state, caplog.at_level(logging.WARNING):
        for _ in range(3):
            fake.set_cell(SHEET, LOG_TAB, 2, 0, f"Renamed {_}")  # something to sync each time
            daemon.sync_once(state)
    told = [r.getMessage() for r in caplog.records if "locale en_US" in r.getMessage()]
    assert len(told) == 1, told
    assert "File > Settings > Locale" in told[0]
