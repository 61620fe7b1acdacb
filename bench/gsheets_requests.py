"""Requests, bytes and quota per sync cycle on a 10,000-row Google Sheet, in the fake API.

The Google Sheets backend (one cycle: first, changed, unchanged) against a straightforward
gspread loop that writes every managed cell with `update_cell` and colours every row with
`format`, both counted by the fake's request log in the same run. Google allows 60 read and
60 write requests per minute per user, so a cycle needs max(reads / 60, writes / 60) minutes
of quota.

    PYTHONPATH=. .venv/bin/python bench/gsheets_requests.py [--rows 10000] [--sample 500]

Bytes are the request and response bodies (JSON), without HTTP headers; the OAuth token
requests are not counted (they are not Sheets API requests and cost no quota).
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
from dataclasses import dataclass
from datetime import date, timedelta

import gspread
from google.auth import credentials as google_credentials
from google.auth.transport.requests import AuthorizedSession
from google.oauth2 import service_account

from sheets_sync.backends.gsheets import SCOPES, GSheetsBackend
from sheets_sync.config import Config, parse_config
from sheets_sync.core.columns import find_layout
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


class Bench:
    def __init__(self, fake: FakeSheets, folder: Path) -> None:
        self.fake, self.folder = fake, folder
        self.key = fake.service_account_key(folder)
        self.config: Config = parse_config(
            {
                "source": {"kind": "gsheets", "spreadsheet_id": "bench"},
                "plans": {"file": str(ROOT / "config" / "plans.toml")},
            },
            base_dir=folder,
        )

    def session(self, credentials: service_account.Credentials) -> AuthorizedSession:
        session = AuthorizedSession(credentials)
        session.mount("https://sheets.googleapis.com/", self.fake.adapter())
        return session

    def counted(self, case: str, action: object) -> Tally:
        self.fake.reset()
        action()  # type: ignore[operator]
        return Tally.of(case, list(self.fake.requests))

    def backend_cycles(self, rows: list[list[object]], edits: int) -> list[Tally]:
        self.fake.add_spreadsheet("daemon", {LOG: rows, "Staff": STAFF})
        backend = GSheetsBackend(
            "daemon", credentials=self.key, session=self.session, sleep=lambda _: None
        )
        ids = (f"{n:08x}" for n in itertools.count())
        with State(self.folder / "state") as state:

            def cycle() -> None:
                sync(backend, self.config, state, today=TODAY, new_id=lambda: next(ids))

            first = self.counted("sheets-sync: first cycle", cycle)
            pick = random.Random(11)
            for row in pick.sample(range(2, len(rows) + 1), edits):  # staff log some calls
                self.fake.set_cell("daemon", LOG, row, 3, TODAY - timedelta(days=1))
            changed = self.counted(f"sheets-sync: {edits} rows changed", cycle)
            unchanged = self.counted("sheets-sync: unchanged", cycle)
        return [first, changed, unchanged]

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000, help="prospect rows in the sheet")
    parser.add_argument(
        "--sample", type=int, default=500, help="rows the naive loop runs on (then scaled)"
    )
    parser.add_argument("--edits", type=int, default=100, help="rows staff edit before 'changed'")
    args = parser.parse_args(argv)
    sample = min(args.sample, args.rows)
    with tempfile.TemporaryDirectory() as folder, FakeSheets() as fake:
        bench = Bench(fake, Path(folder))
        started = time.monotonic()
        ours = bench.backend_cycles(prospect_rows(args.rows), args.edits)
        ours_seconds = time.monotonic() - started
        started = time.monotonic()
        naive_sample = bench.naive_cycle(prospect_rows(sample))
        naive_seconds = time.monotonic() - started
    factor = args.rows / sample
    naive = naive_sample.scaled(f"naive gspread loop, scaled x{factor:g}", factor, HEADER_WRITES)
    naive_sample.case = f"naive gspread loop, measured on {sample:,} rows"
    print(f"A {args.rows:,}-row prospect log in the fake Sheets API ({TODAY}).")
    if sample < args.rows:
        print(
            f"The naive loop ran on a {sample:,}-row sample ({naive_seconds:.1f} s over loopback)"
            f" and is scaled linearly to {args.rows:,} rows (its {naive_sample.reads} reads and"
            f" {HEADER_WRITES} header writes are once a cycle, the rest per row); it rewrites"
            " every row every cycle, so each of its cycles costs the same."
        )
    print(f"sheets-sync's three cycles took {ours_seconds:.1f} s.")
    print("Bytes are request/response bodies, without HTTP headers and OAuth token requests.")
    print("Quota minutes: max(reads, writes) / 60 (60 read and 60 write requests per minute).")
    print()
    print(table([*ours, naive_sample, naive]))
    print()
    worst = max(ours, key=lambda t: t.total)
    print(
        f"Ratio, naive / sheets-sync per cycle: requests {naive.total / ours[0].total:,.0f}x "
        f"(first), {naive.total / ours[1].total:,.0f}x (changed), "
        f"{naive.total / ours[2].total:,.0f}x (unchanged); quota minutes "
        f"{naive.minutes / worst.minutes:,.0f}x the worst sheets-sync cycle; bytes sent "
        f"{naive.sent / max(t.sent for t in ours):,.1f}x the largest sheets-sync cycle."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
