"""Issue 13, point 5: messages that name the cause and the fix."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from sheets_sync.backends.memory import MemoryBackend
from sheets_sync.config import ConfigError, load_config, parse_config
from sheets_sync.core.columns import HeaderNotFound, find_layout
from sheets_sync.core.owners import missing_staff_sheet
from sheets_sync.core.plans import Plan, Repeat, Step
from sheets_sync.core.words import counted
from sheets_sync.engine import sync, written_words
from sheets_sync.state import State
from tests.test_cli import TODAY, run, write_config
from tests.test_engine import make_config
from tests.workbooks import make_log

REPO = Path(__file__).resolve().parents[1]
MINIMAL: dict[str, object] = {"source": {"kind": "xlsx", "path": "log.xlsx"}}


def config_problems(**sections: object) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config({**MINIMAL, **sections}, base_dir=REPO / "config")
    return caught.value.problems


# --- a header row missing one column -------------------------------------------------------


def test_a_header_missing_one_column_names_it_and_what_the_row_has() -> None:
    rows = [
        ["Patient", "Owner", "Consult", "Notes"],
        ["Ann", "Chloe", "1/10/2026", ""],
    ]
    with pytest.raises(HeaderNotFound) as raised:
        find_layout(rows)
    assert str(raised.value) == (
        "row 1 has Name and Owner but no Consultation date (it has: Patient, Owner, Consult, "
        "Notes); rename that header, or name yours in the config, e.g. [columns] "
        'consultation_date = ["Consult"]'
    )


def test_the_row_holding_most_required_columns_is_the_one_described() -> None:
    rows = [
        ["Riverside prospects", "Owner: see Staff"],
        [],
        ["Name", "Assigned", "Consultation date"],
    ]
    with pytest.raises(HeaderNotFound) as raised:
        find_layout(rows)
    assert str(raised.value).startswith(
        "row 3 has Name and Consultation date but no Owner (it has: Name, Assigned, "
        "Consultation date)"
    )
    assert '[columns] owner = ["Assigned"]' in str(raised.value)


# --- config hints ---------------------------------------------------------------------------


def test_a_header_written_as_a_columns_key_points_at_its_field() -> None:
    (problem,) = config_problems(columns={"quote": ["Our quote"]})
    assert problem.startswith('[columns]: unknown key "quote" (did you mean "value"?')
    assert 'value = ["Our header"]' in problem


def test_a_header_close_to_a_known_one_points_at_its_field() -> None:
    (problem,) = config_problems(columns={"Consult": "Consult"})
    assert problem.startswith('[columns]: unknown key "Consult" (did you mean "consultation_date"?')
    assert 'consultation_date = ["Consult"]' in problem


@pytest.mark.parametrize("written", ["26/12/2026", "2026-12-5", "25.12.2026"])
def test_a_date_toml_cannot_read_is_explained(tmp_path: Path, written: str) -> None:
    path = tmp_path / "sheets_sync.toml"
    path.write_text(
        f'[source]\nkind = "xlsx"\npath = "log.xlsx"\n\n[clinic]\n'
        f"holidays = [2026-12-25, {written}]\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    (problem,) = raised.value.problems
    assert "line 6" in problem
    assert f"{written} is not a date TOML can read" in problem
    assert "like 2026-12-25" in problem


def test_a_quoted_date_in_another_order_says_how_dates_are_written() -> None:
    (problem,) = config_problems(clinic={"holidays": ["25/12/2026"]})
    assert problem == (
        '[clinic].holidays: not dates: "25/12/2026" (write dates year-month-day, like '
        "2026-12-25, without quotes)"
    )


# --- a missing Staff sheet ------------------------------------------------------------------


def misnamed_staff_sheet(tmp_path: Path) -> Path:
    """The sample log with a config naming a Staff sheet it does not have."""
    config = write_config(tmp_path)
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('kind = "xlsx"', 'kind = "xlsx"\nstaff_worksheet = "Team"'))
    return config


def test_a_misnamed_staff_sheet_is_one_headline_in_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = misnamed_staff_sheet(tmp_path)

    code, out, _ = run(capsys, "check", "--config", str(config), "--today", TODAY)

    assert code == 1
    headline = next(line for line in out.splitlines() if "Staff sheet" in line)
    assert headline.strip().startswith(
        'the Staff sheet "Team" is missing (the log has: "Prospects", "Staff"): set [source] '
        "staff_worksheet"
    )
    assert 'owners ("Anna Price", "Ben Okafor", "Chloe Martin", "Dev Patel", "Sam") have no' in (
        headline
    )
    assert "has no email address" not in out  # no line per row


def test_a_misnamed_staff_sheet_is_one_headline_in_the_managers_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = misnamed_staff_sheet(tmp_path)
    out_dir = tmp_path / "preview"

    code, _, err = run(
        capsys,
        "digest",
        "--preview",
        "--out",
        str(out_dir),
        "--config",
        str(config),
        "--today",
        TODAY,
    )

    assert code == 0, err
    (summary,) = (path for path in out_dir.glob("*manager*.txt"))
    text = summary.read_text(encoding="utf-8")
    assert text.count("Staff sheet") == 2  # the heading and its one sentence
    assert 'The Staff sheet "Team" is missing (the log has: "Prospects", "Staff")' in text
    html = summary.with_suffix(".html").read_text(encoding="utf-8")
    assert html.count("staff_worksheet") == 1


def test_a_staff_sheet_present_keeps_its_lines_per_row() -> None:
    assert missing_staff_sheet([["Name", "Email"]], "Staff", ["Log", "Staff"]) is None
    assert missing_staff_sheet(None, None, ["Log"]) is None


# --- English that reads right ---------------------------------------------------------------


def test_counted_says_one_thing_and_many_things() -> None:
    assert [counted(1, "minute"), counted(2, "minute"), counted(0, "row")] == [
        "1 minute",
        "2 minutes",
        "0 rows",
    ]
    assert counted(1_500, "cell") == "1,500 cells"


def test_a_repeat_every_day_reads_as_one_day() -> None:
    plan = Plan("daily", (Step(1, 0, "Call", "First call"),), Repeat(1, "Call", "Call again"))
    step = plan.step(3)
    assert step is not None
    assert plan.describe(step).startswith("Step 4 (every 1 day)")


def test_the_counts_of_once_keep_the_flags_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)

    code, out, err = run(capsys, "once", "--dry-run", "--config", str(config), "--today", TODAY)

    assert code == 0, err
    assert (
        "  67 prospects: 20 overdue, 8 due today, 18 upcoming, 7 nurture, 10 closed, "
        "4 check data\n" in out
    )


def test_one_prospect_is_counted_as_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path)
    prospect = {"Name": "Ann Ames", "Owner": "Anna Price", "Consultation date": date(2026, 11, 24)}
    make_log(tmp_path / "log.xlsx", [prospect])

    code, out, err = run(capsys, "once", "--dry-run", "--config", str(config), "--today", TODAY)

    assert code == 0, err
    assert "  1 prospect: 1 due today\n" in out
    assert "  would change 8 cells in 2 rows" in out


def test_a_write_of_formatting_alone_is_not_called_zero_cells(tmp_path: Path) -> None:
    backend = MemoryBackend(
        [["Name", "Owner", "Consultation date"], ["Ann Ames", "Anna", date(2026, 11, 24)]]
    )
    config = make_config(tmp_path)
    with State(tmp_path / "state") as state:
        first = sync(backend, config, state, today=date(2026, 11, 24))
        again = sync(backend, config, state, today=date(2026, 11, 24), dry_run=True)
    assert written_words(first) == "wrote 8 cells"
    assert again.cells_changed == 0
    assert written_words(replace(again, written=True)) == (
        "wrote the managed columns' formatting; no cell changed"
    )
    assert written_words(again) == "nothing written"
