"""Run sheets-sync from a checkout: `python run_sync.py once|check|digest --preview`."""

from sheets_sync.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
