"""Finding the header row and the log's columns (SPEC §2)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from sheets_sync.core.columns import HeaderNotFound, Layout, Table, find_layout
from sheets_sync.core.values import CellValue

HEADERS = ["Name", "Owner", "Consultation date", "Status"]
MANAGED_NAMES = {
    "next_touch": "Next touch",
    "next_action": "Next action",
    "follow_up_status": "Follow-up status",
    "sync_id": "Sync ID",
}


def layout_of(*rows: Sequence[CellValue], extra: Mapping[str, Sequence[str]] = {}) -> Layout:
    return find_layout([list(row) for row in rows], extra)


def test_header_on_row_1() -> None:
    layout = layout_of(HEADERS, ["Ann", "Chloe", "1/10/2026", ""])
    assert layout.header_row == 1
    assert layout.first_row == 2
    assert dict(layout.staff) == {"name": 0, "owner": 1, "consultation_date": 2, "status": 3}


def test_header_below_a_title_block() -> None:
    layout = layout_of(
        ["Riverside Aesthetics — prospects"],
        ["Name of the list: autumn"],  # "Name" alone is not a header row
        [],
        ["Owner: see the Staff sheet"],
        ["", *HEADERS],
        ["", "Ann", "Chloe", "1/10/2026", ""],
    )
    assert layout.header_row == 5
    assert layout.staff["name"] == 1


def test_header_beyond_row_20_is_not_found() -> None:
    with pytest.raises(HeaderNotFound):
        layout_of(*([["title"]] * 20), HEADERS)


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("CONSULT-DATE", "consultation_date"),
        (" patient name ", "name"),
        ("Full Name", "name"),
        ("assigned_to", "owner"),
        ("Enquiry date", "consultation_date"),
        ("EST. VALUE", "value"),
        ("Last follow-up", "last_touch"),
        ("Next touch override", "snooze_until"),
        ("Follow-ups done", "touches"),
        ("Mobile", "phone"),
        ("Treatment", "procedure"),
    ],
)
def test_aliases_ignore_case_space_and_punctuation(header: str, field: str) -> None:
    headers = {"name": "Name", "owner": "Owner", "consultation_date": "Consultation date"}
    headers[field] = header
    layout = layout_of(list(headers.values()))
    assert layout.staff[field] == list(headers).index(field)


def test_first_matching_column_wins() -> None:
    layout = layout_of(["Name", "Patient", "Owner", "Consultation date"])
    assert layout.staff["name"] == 0


def test_config_names_extra_headers() -> None:
    extra = {"consultation_date": ("Date of consult",), "owner": ("Clinician", "Handled by")}
    layout = layout_of(["Name", "Handled by", "date of CONSULT"], extra=extra)
    assert (layout.staff["owner"], layout.staff["consultation_date"]) == (1, 2)


def test_missing_required_header_names_what_is_needed() -> None:
    with pytest.raises(HeaderNotFound) as raised:
        layout_of(["Name", "Owner", "Notes"], ["Ann", "Chloe", ""])
    message = str(raised.value)
    for needed in ("Name", "Owner", "Consultation date", "[columns]"):
        assert needed in message


def test_managed_headers_created_right_of_the_last_used_column() -> None:
    layout = layout_of(HEADERS, ["Ann", "Chloe", "1/10/2026", "", "", "", "a note, no header"])
    assert dict(layout.new_headers) == {
        7: "Next touch",
        8: "Next action",
        9: "Follow-up status",
        10: "Sync ID",
    }
    assert dict(layout.managed) == {
        "next_touch": 7,
        "next_action": 8,
        "follow_up_status": 9,
        "sync_id": 10,
    }


def test_empty_trailing_cells_do_not_count_as_used() -> None:
    layout = layout_of([*HEADERS, "", "  "], ["Ann", "Chloe", "1/10/2026", "", None])
    assert min(layout.new_headers) == len(HEADERS)


def test_existing_managed_columns_are_found_wherever_they_are() -> None:
    layout = layout_of(
        ["Sync ID", "Name", "Next action", "Owner", "Consultation date", "Notes"],
        ["abc", "Ann", "", "Chloe", "1/10/2026", "called"],
    )
    assert dict(layout.managed) == {
        "sync_id": 0,
        "next_action": 2,
        "next_touch": 6,
        "follow_up_status": 7,
    }
    assert dict(layout.new_headers) == {6: "Next touch", 7: "Follow-up status"}
    assert set(layout.staff.values()).isdisjoint(layout.managed.values())


def test_all_managed_columns_present_creates_none() -> None:
    layout = layout_of([*HEADERS, *MANAGED_NAMES.values()])
    assert layout.new_headers == {}
    assert dict(layout.managed) == {
        field: len(HEADERS) + i for i, field in enumerate(MANAGED_NAMES)
    }


def test_configured_name_for_a_managed_column_is_used_when_creating_it() -> None:
    layout = layout_of(HEADERS, extra={"next_touch": ("Follow up on",)})
    assert layout.new_headers[layout.managed["next_touch"]] == "Follow up on"


def test_of_two_tables_that_could_each_be_the_log_the_leftmost_is() -> None:
    """Found on a real workbook (Apache POI's several-tables): two tables with one set of
    headers side by side, listed right one first in the package."""
    header = ["Name", "Owner", "Consultation date", *[None] * 5, "Name", "Owner", "Consult"]
    rows: list[list[CellValue]] = [header, ["Ann", "Anna", "2026-11-02", *[None] * 5, "Bo"]]
    left = Table("Left", 1, 0, 2, 2)
    right = Table("Right", 1, 8, 2, 10)

    layout = find_layout(rows, tables=[right, left])

    assert layout.table == left
    assert layout.staff["name"] == 0
