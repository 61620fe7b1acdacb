"""A spreadsheet's own settings that change what staff's entries mean, held against the config.

Google Sheets turns a date staff type into a date by the spreadsheet's locale (File > Settings
> Locale), so `[clinic] date_order` never applies to those dates: in a sheet set to United
States, 04/03/2026 typed for 4 March is stored as 3 April, and nothing afterwards can tell.
The colour rules' TODAY() runs in the spreadsheet's time zone (File > Settings > Time zone),
so in another zone the colours change day at another midnight than the clinic's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sheets_sync.core.values import DateOrder, typed_like

# Which part of a date each locale writes first, from the Unicode CLDR (release 41) short
# date patterns: common/main/<locale>.xml, calendar "gregorian", dateFormatLength "short"
# (en_US "M/d/yy", en_GB "dd/MM/y", ja "y/MM/dd"), each locale resolved through CLDR's
# parent locales. Google Sheets' locales are CLDR's. Most languages write the day first;
# these do not:
_LANGUAGE_ORDER = {
    **dict.fromkeys(("fil", "tl", "ceb", "chr", "ee", "ks", "lkt", "or", "zu"), "MDY"),
    **dict.fromkeys(
        (
            "af", "ak", "bo", "brx", "ce", "ckb", "dz", "eo", "eu", "fa", "hu", "ii", "ja",
            "jgo", "kl", "ko", "ku", "lrc", "lt", "mg", "mgo", "mn", "mzn", "ne", "ps", "rw",
            "sah", "sd", "se", "si", "sn", "sv", "ug", "wae", "xh", "yue", "zh",
        ),
        "YMD",
    ),
}  # fmt: skip
# Regions that differ from their language. English is day first everywhere (CLDR's en_001,
# "world English") except in the United States, the Philippines and the places that follow
# the US, and in Canada, South Africa and Sweden (year first). Bare "en" is US English.
_LOCALE_ORDER = {
    **dict.fromkeys(
        ("en", "en_US", "en_PH", "en_AS", "en_BI", "en_GU", "en_MH", "en_MP", "en_PR", "en_UM"),
        "MDY",
    ),
    **dict.fromkeys(("en_VI", "es_PA", "es_PR"), "MDY"),
    **dict.fromkeys(("en_CA", "en_ZA", "en_SE", "fr_CA"), "YMD"),
    **dict.fromkeys(("zh_HK", "zh_MO", "zh_SG", "se_FI"), "DMY"),
}

_ORDER_WORDS = {"DMY": "the day first", "MDY": "the month first", "YMD": "the year first"}


@dataclass(frozen=True)
class SheetSettings:
    """The spreadsheet's locale (like "en_GB") and time zone (like "Europe/London"), as the
    source reports them."""

    locale: str
    time_zone: str


def date_order_of(locale: str) -> str:
    """ "DMY", "MDY" or "YMD": how a date typed in a sheet of this locale is read."""
    code = locale.replace("-", "_")
    language = code.split("_")[0].lower()
    return _LOCALE_ORDER.get(code) or _LANGUAGE_ORDER.get(language, "DMY")


def settings_problems(
    settings: SheetSettings,
    *,
    date_order: DateOrder,
    clinic_zone: ZoneInfo,
    sheet_zone: ZoneInfo | None,
    today: date,
) -> list[str]:
    """Where the sheet's own settings disagree with the config, what differs and what to do.
    `sheet_zone` is the sheet's time zone looked up (None: unknown on this computer)."""
    problems = []
    sheet_order = date_order_of(settings.locale)
    if sheet_order != date_order.value:
        first = _ORDER_WORDS[sheet_order]
        wanted = _ORDER_WORDS[date_order.value]
        typed = typed_like(date(today.year, 3, 4), date_order)
        stored = "is stored as 3 April" if sheet_order != "YMD" else "may be stored as another day"
        other = "United Kingdom" if date_order is DateOrder.DMY else "United States"
        config_fix = (
            f'or set [clinic] date_order = "{sheet_order}" if staff do type {first}'
            if sheet_order in ("DMY", "MDY")
            else "([clinic] date_order cannot follow a year-first locale)"
        )
        problems.append(
            f"the Google Sheet's locale {settings.locale} reads the dates staff type with "
            f'{first}, but [clinic] date_order = "{date_order.value}" says staff type '
            f"{wanted}: {typed} typed for 4 March {stored}. In the Google Sheet choose "
            f"File > Settings > Locale and pick one that writes {wanted} (such as {other}), "
            f"{config_fix}; dates typed before the change keep the meaning Google gave them, "
            "so check them"
        )
    if not _same_clock(clinic_zone, sheet_zone, settings.time_zone, today):
        problems.append(
            f"the Google Sheet's time zone is {settings.time_zone} but [clinic] timezone is "
            f"{clinic_zone.key}, so the colours (overdue, due today) change day at another "
            f"midnight than the clinic's: in the Google Sheet choose File > Settings > Time "
            f'zone and pick the clinic\'s, or set [clinic] timezone = "{settings.time_zone}" '
            "if that is where the clinic is"
        )
    return problems


def _same_clock(clinic: ZoneInfo, sheet: ZoneInfo | None, name: str, today: date) -> bool:
    """Whether both zones show the same time every hour of the coming year: another name
    for the same clock (Asia/Calcutta, Asia/Kolkata) is no problem."""
    if sheet is None:
        return name.casefold() == clinic.key.casefold()
    start = datetime(today.year, today.month, today.day, tzinfo=UTC)
    for hour in range(0, 366 * 24):
        moment = start + timedelta(hours=hour)
        if moment.astimezone(clinic).utcoffset() != moment.astimezone(sheet).utcoffset():
            return False
    return True
