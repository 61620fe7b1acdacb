"""Counts in messages, in English that reads right: "1 row", "2 rows"."""

from __future__ import annotations


def counted(number: int, thing: str, things: str = "") -> str:
    """`number` and `thing`, plural unless it is one: `counted(1, "minute")` is "1 minute";
    `things` where the plural is not `thing` + s."""
    return f"{number:,} {thing if number == 1 else things or thing + 's'}"
