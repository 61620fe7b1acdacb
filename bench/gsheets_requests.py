"""Requests, bytes and quota per sync cycle on a big Google Sheet, in the fake API.

For each `--rows` size (10,000 and 50,000 by default), three sync cycles (first, changed,
unchanged) of the Google Sheets backend as it is, and of the same backend as it was before
issue 12 (answers pretty-printed and uncompressed, as gspread asks for them; the first sync
written one range per cell), both measured by the fake's request log in the same run; and a
straightforward gspread loop that writes every managed cell with `update_cell` and colours
every row with `format`, run on a sample and scaled. Google allows 60 read and 60 write
requests per minute per user, so a cycle needs max(reads / 60, writes / 60) minutes of quota.

    PYTHONPATH=. .venv/bin/python bench/gsheets_requests.py [--rows 10000 50000] [--sample 500]

Bytes are the request and response bodies as they went over the wire (gzipped where the
answer was), without HTTP headers; the OAuth token requests are not counted (they are not
Sheets API requests and cost no quota). A body over 10 MiB is refused, as Google does.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as `python bench/gsheets_requests.py` too: put the repository root (for `sheets_sync`
# and the fake in `tests`) on the import path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import contextlib
import itertools
import random
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from unittest import mock

import gspread
from google.auth import credentials as google_credentials
from google.auth.transport.requests import AuthorizedSession
from google.oauth2 import service_account

from sheets_sync.backends.base import SourceError
from sheets_sync.backends.gsheets import SCOPES, GSheetsBackend
from sheets_sync.backends.gsheets import client as gsheets_client
from sheets_sync.backends.gsheets.grid import quoted, raw
from sheets_sync.config import Config, parse_config
from sheets_sync.core.columns import column_letters, find_layout
from sheets_sync.core.sync import plan_sync
from sheets_sync.engine import sync
from sheets_sync.state import State
from tests.sheets_fake import FakeSheets, Recorded

# google-auth asks iamcredentials.googleapis.com about "regional access boundaries" after a
# token refresh; nothing here may leave the machine (as in tests/conftest.py).
google_credentials.CredentialsWithRegionalAccessBoundary._is_regional_access_boundary_lookup_required = (  # type: ignore[method-assign]  # noqa: E501
    lambda self: False
)

ROOT = Path(__file__).resolve().parents[1]
TODAY = date(2026, 11, 24)  # a Tuesday
LOG = "Prospects"
HEADER = ["Name", "Owner", "Consultation date", "Last touch", "Value", "Notes"]
OWNERS = ["Anna", "Ben", "Cara", "Dev"]
STAFF = [["Name", "Email"], *([owner, f"{owner.lower()}@clinic.example"] for owner in OWNERS)]
HEADER_WRITES = 3  # the naive loop's titles of the three managed columns
PER_MINUTE = 60  # Google's quota: read requests, and write requests, per minute per user
COLOURS = {  # the row colour a naive loop would set by the Follow-up status
    "OVERDUE": {"red": 0.96, "green": 0.71, "blue": 0.65},
    "DUE TODAY": {"red": 1.0, "green": 0.88, "blue": 0.54},
    "UPCOMING": {"red": 0.70, "green": 0.88, "blue": 0.82},
    "NURTURE": {"red": 0.79, "green": 0.84, "blue": 0.91},
    "CLOSED": {"red": 0.89, "green": 0.89, "blue": 0.89},
    "CHECK DATA": {"red": 0.97, "green": 0.77, "blue": 0.55},
}


@dataclass
class Tally:
    case: str
    reads: int = 0
    writes: int = 0
    sent: int = 0
    received: int = 0
    refused: int = 0  # requests Google would refuse: bodies over 10 MiB

    @classmethod
    def of(cls, case: str, requests: list[Recorded]) -> Tally:
        tally = cls(case)
        for request in requests:
            if request.method == "GET":
                tally.reads += 1
            else:
                tally.writes += 1
            tally.sent += request.request_bytes
            tally.received += request.response_bytes
            tally.refused += request.status == 400
        if tally.refused:
            tally.case += f" (REFUSED: {tally.refused} body over 10 MiB)"
        return tally

    def scaled(self, case: str, factor: float, fixed_writes: int) -> Tally:
        """The naive loop on `factor` times the rows: its reads (open, find the tab, read the
        values) and its header writes are once a cycle; the rest grows with the rows."""
        return Tally(
            case,
            self.reads,
            fixed_writes + round((self.writes - fixed_writes) * factor),
            round(self.sent * factor),
            round(self.received * factor),
        )

    @property
    def total(self) -> int:
        return self.reads + self.writes

    @property
    def minutes(self) -> float:
        return max(self.reads / PER_MINUTE, self.writes / PER_MINUTE)


def prospect_rows(count: int, seed: int = 7) -> list[list[object]]:
    pick = random.Random(seed)
    rows: list[list[object]] = [HEADER]
    for number in range(count):
        consultation = TODAY - timedelta(days=pick.randint(0, 400))
        touched = pick.random() < 0.6
        last_touch = consultation + timedelta(days=pick.randint(0, (TODAY - consultation).days))
        rows.append(
            [
                f"Prospect {number:05d}",
                pick.choice(OWNERS),
                consultation,
                last_touch if touched else None,
                pick.choice([None, 450, 1800, "£2,500"]),
                pick.choice([None, "call after 5", "prefers email"]),
            ]
        )
    return rows


def gspread_defaults() -> contextlib.AbstractContextManager[object]:
    """While on, a backend making its session asks for answers as gspread does by itself:
    pretty-printed and uncompressed (the baseline)."""
    return mock.patch.object(gsheets_client, "compact_transfer", return_value=None)


class BeforeIssue12(GSheetsBackend):
    """The backend as it was before issue 12, the baseline: one range per cell in one body."""

    def _write_cells(self, title: str, cells: Mapping[tuple[int, int], str | date | None]) -> None:
        data = [
            {
                "range": f"{quoted(title)}!{column_letters(col)}{row}",
                "majorDimension": "ROWS",
                "values": [[raw(value)]],
            }
            for (row, col), value in sorted(cells.items())
        ]
        self._write_values({"valueInputOption": "RAW", "data": data})


class Bench:
    def __init__(self, fake: FakeSheets, folder: Path) -> None:
        self.fake, self.folder = fake, folder
        self.key = fake.service_account_key(folder)
        self.config: Config = parse_config(
            {
                "source": {"kind": "gsheets", "spreadsheet_id": "bench"},
                "plans": {"file": str(ROOT / "sheets_sync" / "plans.toml")},
            },
            base_dir=folder,
        )

    def session(self, credentials: service_account.Credentials) -> AuthorizedSession:
        session = AuthorizedSession(credentials)
        session.mount("https://sheets.googleapis.com/", self.fake.adapter())
        return session

    def counted(self, case: str, action: object) -> Tally:
        self.fake.reset()
        with contextlib.suppress(SourceError):  # a refused write: the tally says so
            action()  # type: ignore[operator]
        return Tally.of(case, list(self.fake.requests))

    def backend(self, sheet: str, kind: type[GSheetsBackend] = GSheetsBackend) -> GSheetsBackend:
        return kind(sheet, credentials=self.key, session=self.session, sleep=lambda _: None)

    def backend_cycles(self, rows: list[list[object]], edits: int) -> list[Tally]:
        """First, changed and unchanged cycles, each as sheets-sync runs it and as it ran
        before issue 12. Both backends take turns on one sheet and one state; the baseline's
        first cycle runs on a copy of the fresh sheet."""
        size = len(rows) - 1
        now, before = f"now-{size}", f"before-{size}"
        self.fake.add_spreadsheet(now, {LOG: rows, "Staff": STAFF})
        self.fake.add_spreadsheet(before, {LOG: rows, "Staff": STAFF})
        ids = (f"{n:08x}" for n in itertools.count())
        tallies: list[Tally] = []
        with (
            State(self.folder / f"state-{size}") as state,
            State(self.folder / f"state-before-{size}") as first_state,
        ):

            def cycle(backend: GSheetsBackend, state: State = state) -> None:
                sync(backend, self.config, state, today=TODAY, new_id=lambda: next(ids))

            ours = self.backend(now)
            tallies.append(self.counted("sheets-sync: first cycle", lambda: cycle(ours)))
            old = self.backend(before, BeforeIssue12)
            with gspread_defaults():
                tallies.append(self.counted("  before issue 12", lambda: cycle(old, first_state)))
            old = self.backend(now, BeforeIssue12)
            with gspread_defaults():
                old.read()  # its session made, its layout fetched: a daemon that has run a while
            pick = random.Random(11)
            rows_edited = pick.sample(range(2, len(rows) + 1), 2 * edits)
            for case, backend, edited in (
                (f"sheets-sync: {edits} rows changed", ours, rows_edited[:edits]),
                ("  before issue 12", old, rows_edited[edits:]),
            ):
                for row in edited:  # staff log some calls
                    self.fake.set_cell(now, LOG, row, 3, TODAY - timedelta(days=1))
                tallies.append(self.counted(case, lambda backend=backend: cycle(backend)))
            tallies.append(self.counted("sheets-sync: unchanged", lambda: cycle(ours)))
            tallies.append(self.counted("  before issue 12", lambda: cycle(old)))
        return tallies

    def naive_cycle(self, rows: list[list[object]]) -> Tally:
        """Read all values, decide, then one update_cell per managed cell and one format
        per row: what a first script with gspread does, every cycle."""
        self.fake.add_spreadsheet("naive", {LOG: rows, "Staff": STAFF})
        credentials = service_account.Credentials.from_service_account_file(
            str(self.key), scopes=SCOPES
        )
        client = gspread.Client(auth=credentials, session=self.session(credentials))
        ids = itertools.count()

        def cycle() -> None:
            sheet = client.open_by_key("naive").worksheet(LOG)
            values = sheet.get_values(value_render_option="UNFORMATTED_VALUE")
            snapshot = [[_typed(cell, col) for col, cell in enumerate(row)] for row in values]
            layout = find_layout(snapshot)
            plan = plan_sync(
                snapshot,
                layout,
                TODAY,
                self.config.rule_settings(),
                remembered={},
                new_id=lambda: str(next(ids)),  # unused: a naive loop keeps no Sync ID
            )
            columns = [layout.managed[f] for f in ("next_touch", "next_action", "follow_up_status")]
            titles = ("Next touch", "Next action", "Follow-up status")
            for col, text in zip(columns, titles, strict=True):
                sheet.update_cell(1, col + 1, text)
            for result in plan.rows:
                decision = result.decision
                touch = decision.next_touch.isoformat() if decision.next_touch else ""
                cells = (touch, decision.next_action, decision.status_text)
                for col, value in zip(columns, cells, strict=True):
                    sheet.update_cell(result.row, col + 1, value)
                colour = COLOURS[decision.flag.value]
                # The fake sets number formats only, and refuses colours: counted all the same.
                with contextlib.suppress(gspread.exceptions.APIError):
                    sheet.format(f"A{result.row}:Z{result.row}", {"backgroundColor": colour})

        return self.counted("naive gspread loop", cycle)


def _typed(cell: object, col: int) -> object:
    """Unformatted values as the rule reads them: serials in date columns as dates."""
    if col in (2, 3) and isinstance(cell, int | float) and not isinstance(cell, bool):
        return date(1899, 12, 30) + timedelta(days=int(cell))
    return None if cell == "" else cell


def table(tallies: list[Tally]) -> str:
    head = ("case", "reads", "writes", "requests", "bytes sent", "bytes received", "quota min")
    lines = [
        (
            t.case,
            *(f"{n:,}" for n in (t.reads, t.writes, t.total, t.sent, t.received)),
            f"{t.minutes:,.2f}",
        )
        for t in tallies
    ]
    widths = [max(len(row[i]) for row in [head, *lines]) for i in range(len(head))]

    def fmt(row: tuple[str, ...]) -> str:
        return "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        )

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([fmt(head), rule, *(fmt(line) for line in lines)])


def ratios(tallies: list[Tally]) -> str:
    """Before issue 12 / now, for each cycle: the bytes each way."""
    parts = []
    for now, before in zip(tallies[::2], tallies[1::2], strict=True):
        cycle = now.case.removeprefix("sheets-sync: ")
        sent = f"{before.sent / now.sent:,.1f}x" if now.sent else "-"
        received = f"{before.received / now.received:,.1f}x"
        parts.append(f"{cycle}: sent {sent}, received {received}")
    return "Bytes before issue 12 / now: " + "; ".join(parts) + "."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=int, nargs="+", default=[10_000, 50_000], help="prospect rows"
    )
    parser.add_argument(
        "--sample", type=int, default=500, help="rows the naive loop runs on (then scaled)"
    )
    parser.add_argument("--edits", type=int, default=100, help="rows staff edit before 'changed'")
    args = parser.parse_args(argv)
    sample = min(args.sample, *args.rows)
    print(f"Prospect logs in the fake Sheets API ({TODAY}).")
    print("Bytes are request/response bodies as sent (gzipped where the answer was), without")
    print("HTTP headers and OAuth token requests.")
    print("Quota minutes: max(reads, writes) / 60 (60 read and 60 write requests per minute).")
    with tempfile.TemporaryDirectory() as folder, FakeSheets() as fake:
        bench = Bench(fake, Path(folder))
        started = time.monotonic()
        naive_sample = bench.naive_cycle(prospect_rows(sample))
        naive_seconds = time.monotonic() - started
        print(
            f"The naive loop ran on a {sample:,}-row sample ({naive_seconds:.1f} s over loopback)"
            f" and is scaled linearly (its {naive_sample.reads} reads and {HEADER_WRITES} header"
            " writes are once a cycle, the rest per row); it rewrites every row every cycle,"
            " so each of its cycles costs the same."
        )
        for rows in args.rows:
            started = time.monotonic()
            tallies = bench.backend_cycles(prospect_rows(rows), args.edits)
            seconds = time.monotonic() - started
            factor = rows / sample
            naive = naive_sample.scaled(
                f"naive gspread loop, scaled x{factor:g}", factor, HEADER_WRITES
            )
            ours = tallies[::2]
            print()
            print(f"A {rows:,}-row log: the six sheets-sync cycles took {seconds:.1f} s.")
            print()
            print(table([*tallies, naive]))
            print()
            print(ratios(tallies))
            worst = max(ours, key=lambda t: t.total)
            print(
                "Ratio, naive / sheets-sync per cycle: requests"
                f" {naive.total / ours[0].total:,.0f}x (first),"
                f" {naive.total / ours[1].total:,.0f}x (changed),"
                f" {naive.total / ours[2].total:,.0f}x (unchanged); quota minutes"
                f" {naive.minutes / worst.minutes:,.0f}x the worst sheets-sync cycle."
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
