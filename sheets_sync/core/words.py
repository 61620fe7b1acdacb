"""Words for people: counts in English that reads right ("1 row", "2 rows"), and names made
fit for a file name."""

from __future__ import annotations

import re
import unicodedata


def counted(number: int, thing: str, things: str = "") -> str:
    """`number` and `thing`, plural unless it is one: `counted(1, "minute")` is "1 minute";
    `things` where the plural is not `thing` + s."""
    return f"{number:,} {thing if number == 1 else things or thing + 's'}"


def slug(text: str) -> str:
    """`text` in ASCII letters, digits and hyphens, for people reading a file name
    (`st-marys`); may be empty (a name in Greek letters)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
