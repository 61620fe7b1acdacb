"""The spreadsheet's locale and time zone held against [clinic] (issue 12, point 2)."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from sheets_sync.core.locale import SheetSettings, date_order_of, settings_problems
from sheets_sync.core.values import DateOrder

LONDON = ZoneInfo("Europe/London")
SUMMER = date(2026, 6, 1)


@pytest.mark.parametrize(
    ("locale", "order"),
    [
        # CLDR 41 short date patterns: en_US M/d/yy, en_GB dd/MM/y, ja y/MM/dd, ...
        ("en_US", "MDY"),
        ("en", "MDY"),
        ("en_PH", "MDY"),
        ("fil_PH", "MDY"),
        ("en_GB", "DMY"),
        ("en_AU", "DMY"),
        ("en_IE", "DMY"),
        ("en_IN", "DMY"),
        ("en_CA", "YMD"),
        ("en_ZA", "YMD"),
        ("fr_CA", "YMD"),
        ("de_DE", "DMY"),
        ("fr_FR", "DMY"),
        ("es_MX", "DMY"),
        ("es_PR", "MDY"),
        ("pt_BR", "DMY"),
        ("ja_JP", "YMD"),
        ("zh_CN", "YMD"),
        ("zh_TW", "YMD"),
        ("zh_HK", "DMY"),
        ("ko_KR", "YMD"),
        ("hu_HU", "YMD"),
        ("sv_SE", "YMD"),
        ("lt_LT", "YMD"),
        ("iw_IL", "DMY"),  # Google's old code for Hebrew
        ("in_ID", "DMY"),  # and for Indonesian
    ],
)
def test_each_locale_reads_dates_in_its_cldr_order(locale: str, order: str) -> None:
    assert date_order_of(locale) == order


def problems(locale: str, zone: str, order: DateOrder = DateOrder.DMY) -> list[str]:
    return settings_problems(
        SheetSettings(locale, zone),
        date_order=order,
        clinic_zone=LONDON,
        sheet_zone=ZoneInfo(zone),
        today=date(2026, 11, 24),
    )


def test_a_uk_clinic_with_a_us_sheet_hears_what_differs_and_what_to_change() -> None:
    (problem,) = problems("en_US", "Europe/London")
    assert "locale en_US" in problem
    assert "the month first" in problem
    assert "04/03/2026 typed for 4 March is stored as 3 April" in problem
    assert "File > Settings > Locale" in problem
    assert "United Kingdom" in problem
    assert 'date_order = "MDY"' in problem


def test_a_us_clinic_with_a_uk_sheet_hears_it_the_other_way_round() -> None:
    (problem,) = problems("en_GB", "Europe/London", DateOrder.MDY)
    assert "03/04/2026 typed for 4 March is stored as 3 April" in problem
    assert "United States" in problem


def test_a_year_first_sheet_cannot_be_followed_by_the_config() -> None:
    (problem,) = problems("ja_JP", "Europe/London")
    assert "the year first" in problem
    assert "cannot follow" in problem


def test_a_sheet_in_another_time_zone_names_both_and_the_fix() -> None:
    (problem,) = problems("en_GB", "America/New_York")
    assert "America/New_York" in problem
    assert "Europe/London" in problem
    assert "File > Settings > Time zone" in problem
    assert '[clinic] timezone = "America/New_York"' in problem


def test_gmt_differs_from_london_in_summer() -> None:
    """Google's default zone for new sheets made by an API client is Etc/GMT (recorded
    traffic); London leaves it every summer."""
    assert problems("en_GB", "Etc/GMT")


def test_another_name_for_the_same_clock_is_no_problem() -> None:
    assert not problems("en_GB", "Europe/Belfast")
    assert not settings_problems(
        SheetSettings("en_IN", "Asia/Calcutta"),
        date_order=DateOrder.DMY,
        clinic_zone=ZoneInfo("Asia/Kolkata"),
        sheet_zone=ZoneInfo("Asia/Calcutta"),
        today=SUMMER,
    )


def test_a_zone_unknown_here_is_compared_by_name() -> None:
    settings = SheetSettings("en_GB", "Mars/Olympus")
    found = settings_problems(
        settings, date_order=DateOrder.DMY, clinic_zone=LONDON, sheet_zone=None, today=SUMMER
    )
    assert len(found) == 1
    assert "Mars/Olympus" in found[0]
