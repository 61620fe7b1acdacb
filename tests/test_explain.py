"""`sheets-sync explain` (SPEC §9): finding one prospect, and its reasons and touch log."""

from __future__ import annotations

import re
import secrets
from datetime import date
from pathlib import Path

import openpyxl
import pytest

from sheets_sync.core.touches import Touch
from sheets_sync.core.values import DateOrder
from sheets_sync.explain import touch_log_lines
from tests.test_cli import digest, run, write_config
from tests.workbooks import make_log

TODAY = "2026-11-24"  # a Tuesday


@pytest.fixture
def config(tmp_path: Path) -> Path:
    make_log(
        tmp_path / "mine.xlsx",
        [
            {
                "Name": "Ann Lee",
                "Owner": "Chloe Martin",
                "Consultation date": date(2026, 11, 19),  # a Thursday
                "Value": "£1,500",
                "Touches": 1,
            },
            {"Name": "Hannah Walsh", "Owner": "Anna Price", "Consultation date": date(2026, 11, 2)},
            {"Name": "Ann  Lee", "Owner": "Ben Okafor", "Consultation date": date(2026, 10, 1)},
            {"Name": "Annabel Moss", "Owner": "Ben Okafor", "Consultation date": date(2026, 9, 1)},
        ],
    )
    return write_config(tmp_path, path="mine.xlsx")


def explain(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> tuple[int, str, str]:
    return run(capsys, "explain", "--config", str(config), "--today", TODAY, *args)


def test_explain_a_row_tells_each_step_and_writes_nothing(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = digest(tmp_path / "mine.xlsx")

    code, out, err = explain(capsys, config, "2")

    assert code == 0, err
    assert out.splitlines() == [
        "Row 2: Ann Lee, owner Chloe Martin (no Sync ID yet), on Tue 24 Nov 2026",
        "  1. Status: blank, so active",
        "  2. Plan: long_term, because the value, 1,500, is at least 1,000 (long_term_min_value)",
        "  3. Touches done: 1, as the Touches cell says",
        "  4. Next step: Step 2/12 · Call · Follow-up call: answer questions, offer to book",
        "  5. Plan date: the consultation, Thu 19 Nov, + 2 days = Sat 21 Nov",
        "  6. Sat 21 Nov: closed (the clinic does not open on Saturdays), so on to Sun 22 Nov",
        "  7. Sun 22 Nov: closed (the clinic does not open on Sundays), so on to Mon 23 Nov",
        "  8. Next touch Mon 23 Nov, 1 day before today (Tue 24 Nov): OVERDUE 1d",
        "Touch log: none recorded yet",
    ]
    assert digest(tmp_path / "mine.xlsx") == before


def test_explain_by_sync_id_after_a_sync(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "once", "--config", str(config), "--today", TODAY, "--no-digest")
    assert code == 0, err
    _, out, _ = explain(capsys, config, "hannah walsh")
    match = re.search(r"Sync ID (\w+)\)", out)
    assert match, out

    code, by_id, err = explain(capsys, config, match.group(1).upper())

    assert code == 0, err
    assert by_id == out
    assert by_id.startswith("Row 3: Hannah Walsh, owner Anna Price (Sync ID ")
    _, _, twice = explain(capsys, config, "Ann Lee")
    assert re.search(r"\(row 2: Ann Lee \(Sync ID \w+\); row 4: Ann  Lee \(Sync ID \w+\)\)", twice)


def test_a_sync_id_of_digits_only_is_found(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = iter(["00000003", "12345678", "00000005", "00000006"])
    monkeypatch.setattr(secrets, "token_hex", lambda size: next(ids))  # new_sync_id's source
    code, _, err = run(capsys, "once", "--config", str(config), "--today", TODAY, "--no-digest")
    assert code == 0, err

    code, out, err = explain(capsys, config, "12345678")

    assert code == 0, err
    assert out.startswith("Row 3: Hannah Walsh, owner Anna Price (Sync ID 12345678)")


def test_a_name_found_by_the_starts_of_its_words(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = explain(capsys, config, "annab")

    assert code == 0, err
    assert out.startswith("Row 5: Annabel Moss")


def test_two_prospects_of_one_name_are_listed_to_choose_from(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = explain(capsys, config, "ann lee")

    assert code == 1
    assert out == ""
    assert err == (
        'sheets-sync: 2 prospects answer to "ann lee" (row 2: Ann Lee (no Sync ID yet); row 4:'
        " Ann  Lee (no Sync ID yet)); give the row number or the Sync ID of the one you mean\n"
    )


@pytest.mark.parametrize(
    ("wanted", "message"),
    [
        pytest.param(
            "99", "row 99 holds no prospect; the log's prospects are on rows 2 to 5", id="row"
        ),
        pytest.param(
            "Zoe",
            'no prospect is called "Zoe", and no row or Sync ID is "Zoe"; give a row number, a'
            " name as the log spells it, or a Sync ID",
            id="name",
        ),
    ],
)
def test_nobody_found_says_what_to_give(
    config: Path, capsys: pytest.CaptureFixture[str], wanted: str, message: str
) -> None:
    code, out, err = explain(capsys, config, wanted)

    assert (code, out, err) == (1, "", f"sheets-sync: {message}\n")


def test_explain_shows_the_clinics_date_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_log(
        tmp_path / "mine.xlsx",
        [{"Name": "Ann Lee", "Owner": "Chloe", "Consultation date": date(2026, 11, 19)}],
    )
    config = write_config(tmp_path, path="mine.xlsx", extra='[clinic]\ndate_order = "MDY"\n')

    code, out, err = explain(capsys, config, "2")

    assert code == 0, err
    assert "Plan date: the consultation, Thu Nov 19, + 0 days = Thu Nov 19" in out
    assert "on Tue Nov 24, 2026" in out


# The touch log, from hand-made entries -----------------------------------------------------


def test_the_touch_log_oldest_first_with_where_each_came_from() -> None:
    touches = [
        Touch("ab12", "status", date(2026, 11, 20), date(2026, 11, 20), "typed", value="booked"),
        Touch(
            "ab12",
            "touch",
            date(2026, 11, 16),
            date(2026, 11, 17),
            "typed",
            channel="Call",
            note="wants finance options",
        ),
        Touch(
            "ab12", "snooze", date(2026, 11, 18), date(2026, 11, 18), "edited", value="2026-12-03"
        ),
        Touch("ab12", "snooze", date(2026, 11, 19), date(2026, 11, 19), "edited"),
        Touch("ab12", "touch", date(2026, 11, 10), date(2026, 11, 10), "edited"),
        Touch("ab12", "owner", date(2026, 11, 19), date(2026, 11, 19), "edited", value="Ben"),
    ]

    assert touch_log_lines(touches, DateOrder.DMY) == [
        "Touch log:",
        "  Tue 10 Nov 2026: a touch (a staff cell edited)",
        "  Mon 16 Nov 2026: Call (a touch) (typed in the row, seen Tue 17 Nov 2026)"
        " — wants finance options",
        "  Wed 18 Nov 2026: snoozed until Thu 3 Dec 2026 (a staff cell edited)",
        "  Thu 19 Nov 2026: snooze cleared (a staff cell edited)",
        '  Thu 19 Nov 2026: owner became "Ben" (a staff cell edited)',
        '  Fri 20 Nov 2026: status became "booked" (typed in the row)',
    ]


def test_the_touch_log_in_month_first_order() -> None:
    touch = Touch(
        "ab12", "snooze", date(2026, 11, 18), date(2026, 11, 18), "typed", value="2026-12-03"
    )

    assert touch_log_lines([touch], DateOrder.MDY) == [
        "Touch log:",
        "  Wed Nov 18, 2026: snoozed until Thu Dec 3, 2026 (typed in the row)",
    ]


def test_no_touch_log_yet() -> None:
    assert touch_log_lines([], DateOrder.DMY) == ["Touch log: none recorded yet"]


def test_a_row_flagged_after_the_rule_says_so_last(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_log(
        tmp_path / "mine.xlsx",
        [
            {
                "Name": "Ann Lee",
                "Owner": "Chloe",
                "Consultation date": date(2026, 11, 19),
                "Follow-up status": "rang her, no reply",
            }
        ],
    )
    config = write_config(tmp_path, path="mine.xlsx")

    code, out, err = explain(capsys, config, "2")

    assert code == 0, err
    lines = out.splitlines()
    assert lines[-3].startswith("  6. Next touch Thu 19 Nov, 5 days before today")
    assert lines[-2].startswith(
        '  The row shows: CHECK DATA: "Follow-up status" typed by hand: "rang her, no reply" is'
        " not an outcome sheets-sync knows. Outcomes it understands: called, "
    )


def test_explain_ends_with_the_prospects_touch_log_from_the_state(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The touch log `explain` prints is the state's, for that prospect alone."""
    code, _, err = run(capsys, "once", "--config", str(config), "--today", TODAY, "--no-digest")
    assert code == 0, err
    book = openpyxl.load_workbook(tmp_path / "mine.xlsx")
    sheet = book["Prospects"]
    header = [cell.value for cell in sheet[1]]
    sheet.cell(row=2, column=header.index("Touches") + 1, value=2)  # Ann Lee: one touch more
    book.save(tmp_path / "mine.xlsx")
    code, _, err = run(capsys, "once", "--config", str(config), "--today", TODAY, "--no-digest")
    assert code == 0, err

    _, ann, _ = explain(capsys, config, "2")
    _, hannah, _ = explain(capsys, config, "3")

    log = ann.split("Touch log")[1]
    assert "Tue 24 Nov" in log, ann
    assert "none recorded yet" not in log
    assert hannah.splitlines()[-1] == "Touch log: none recorded yet"
