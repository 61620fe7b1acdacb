"""sheets-sync: follow-up dates, flags and morning digests beside a clinic's prospect log."""

__version__ = "0.1.0"
