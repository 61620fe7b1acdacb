"""The project's error base: everything sheets-sync raises on purpose derives from it.

Third-party errors are translated into these at the edge (`raise ... from exc`), so the CLI
and the daemon catch one family and turn it into one clear message.
"""

from __future__ import annotations


class SheetsSyncError(Exception):
    """A problem the user can act on; `str()` of it is the message for people."""
