"""Public holidays by country and region, from the maintained `holidays` package.

A typed list of bank holidays runs out at its last date, and a daemon that runs for years
then plans follow-ups on Christmas Day. The `holidays` package computes any year's holidays
from rules kept up to date by its maintainers, offline (no network at run time). The core
only asks `day in closed`; `PublicHolidays` answers for whatever year it is asked about,
working each year out once.

The package's names and errors stay in this module: the config reads `holidays_country`
through `public_holidays`, which says in plain words what is wrong with a code.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import date
from functools import cache

import holidays
from holidays import registry


@dataclass(frozen=True)
class PublicHolidays:
    """The public holidays of `country` (a two-letter code, "US"), and of its `region`
    ("NY") when given. Only the two codes are kept: the same codes give the same days."""

    country: str
    region: str | None = None

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and day in _holidays_of(self.country, self.region, day.year)

    def __str__(self) -> str:
        return f"{self.country}-{self.region}" if self.region else self.country


@cache
def _holidays_of(country: str, region: str | None, year: int) -> frozenset[date]:
    # The package puts a holiday observed in the year before (New Year's Day on a Saturday,
    # observed on Friday 31 December) in the year its date falls in.
    return frozenset(holidays.country_holidays(country, subdiv=region, years=year))


_EXAMPLES = 'like "US", "US-NY" or "GB-ENG"'


def public_holidays(text: str) -> PublicHolidays:
    """`text` read as a country code with an optional region after a hyphen ("US-NY",
    "GB-ENG"; any case, three-letter codes too); ValueError says what is wrong, for people."""
    country_text, _, region_text = text.strip().partition("-")
    country = _COUNTRY_CODES.get(country_text.strip().upper())
    if country is None:
        raise ValueError(_unknown_country(country_text.strip()))
    if not region_text.strip():
        return PublicHolidays(country)
    regions = _regions(country)
    region = regions.get(region_text.strip().casefold())
    if region is None:
        raise ValueError(_unknown_region(country, region_text.strip(), regions))
    return PublicHolidays(country, region)


def _country_names() -> dict[str, str]:
    """Two-letter code -> country name in English ("GB" -> "United Kingdom")."""
    return {
        codes[1]: re.sub(r"(?<=[a-z])(?=[A-Z])", " ", codes[0])
        for codes in registry.COUNTRIES.values()
    }


_NAMES = _country_names()
# Every code and alias the package knows (GB, GBR, UK), to the two-letter code.
_COUNTRY_CODES = {code: codes[1] for codes in registry.COUNTRIES.values() for code in codes[1:]}


def _regions(country: str) -> dict[str, str]:
    """Region code or name, casefolded -> region code: "eng" and "england" -> "ENG"."""
    calendar = holidays.country_holidays(country)
    regions = {code.casefold(): code for code in calendar.subdivisions}
    aliases = calendar.subdivisions_aliases.items()
    regions.update((name.casefold(), code) for name, code in aliases)
    return regions


def _unknown_country(text: str) -> str:
    by_name = {name.casefold(): code for code, name in _NAMES.items()}
    close = [by_name[name] for name in difflib.get_close_matches(text.casefold(), by_name, n=3)]
    close += [
        _COUNTRY_CODES[code]
        for code in difflib.get_close_matches(text.upper(), _COUNTRY_CODES, n=3, cutoff=0.5)
        if len(text) > 1
    ]
    shown = ", ".join(f'"{code}" ({_NAMES[code]})' for code in dict.fromkeys(close))
    hint = f" (did you mean {shown}?)" if shown else ""
    return (
        f'no public holidays are known for the country "{text}"{hint}: give the country\'s '
        f"two-letter code and, where holidays differ by region, the region after a hyphen, "
        f"{_EXAMPLES}"
    )


def _unknown_region(country: str, text: str, regions: dict[str, str]) -> str:
    where = f"{country} ({_NAMES[country]})"
    codes = sorted(set(regions.values()))
    if not codes:
        return f'{where} has no regions for public holidays: give "{country}" alone'
    close = dict.fromkeys(
        regions[match] for match in difflib.get_close_matches(text.casefold(), regions, n=3)
    )
    shown = ", ".join(f'"{country}-{code}"' for code in close)
    hint = f" (did you mean {shown}?)" if shown else ""
    return (
        f'{where} has no region "{text}"{hint}; its regions are {", ".join(codes)}, '
        f'or give "{country}" alone for the holidays common to all of them'
    )
