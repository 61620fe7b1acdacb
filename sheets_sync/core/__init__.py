"""The pure heart of sheets-sync: rows in, follow-up decisions out.

Nothing in this package reads the clock, the environment or a file; `today`, the settings
and the sheet's cells all arrive as arguments.
"""
