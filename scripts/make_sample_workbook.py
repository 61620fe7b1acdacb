"""Write `sample_workbook.xlsx`: the prospect log of "Riverside Aesthetics", a made-up med spa.

Run from the repository root:

    .venv/bin/python scripts/make_sample_workbook.py [--today YYYY-MM-DD] [OUTPUT]

Without --today it writes `sample_workbook.xlsx` as kept in the repository, for 24 Nov 2026.
`make demo` writes its scratch copy for the real day instead: every date moves by the same
number of days, so each row keeps its gaps (consultation, touches, snooze) and its flag, and
the workbook's colours (which follow the computer's date) agree with its words on any day.

The workbook is what a clinic's staff keep by hand (xlsxwriter, so no trace of openpyxl):
a `Prospects` sheet with a formula column and its cached values, Excel's furniture (frozen
header, autofilter, a Status drop-down, number formats, comments, rows staff coloured), the
messy dates staff really type, and a `Staff` sheet mapping owners to email addresses.

Every date is relative to `TODAY`, the sample's day. With the default plans and settings
(standard and long_term, min gap 2 days, open Mon-Fri, holidays 25-28 Dec 2026) the rule
gives, on that day:

    ==========  ====  ==============================================================
    flag        rows  what they show
    ==========  ====  ==============================================================
    OVERDUE      20   1d to 110d late; text dates, a bare serial, a past snooze,
                      long_term steps 10 and 13, Sam's row and the email-owner row
    DUE TODAY     8   two per owner: steps 1, 3, 4, 6, 7, 8, 9 and a snooze ending today
    UPCOMING     18   a holiday roll-forward, a snooze, long_term by value and by Plan,
                      Sam's other row, the unknown status "Thinking about it"
    NURTURE       7   standard plan finished: Touches 7, or inferred from the last touch
    CLOSED       10   won 4 (Booked, ✅ Booked), lost 3, opted out 2 (DNC), deceased 1
    CHECK DATA    4   snooze "next tues", a last touch in the future, no consultation
                      date, the impossible date 31/11/2026
    ==========  ====  ==============================================================
    total        67
"""

from __future__ import annotations

import argparse
import sys
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.worksheet import Worksheet

TODAY = date(2026, 11, 24)  # the sample's day, a Tuesday

CLINIC = "Riverside Aesthetics"
DOMAIN = "riverside-aesthetics.example"
STAFF = ("Anna Price", "Ben Okafor", "Chloe Martin", "Dev Patel")
ANNA, BEN, CHLOE, DEV = STAFF
SAM = "Sam"  # a locum, not on the Staff sheet: the owner without an address
CHLOE_EMAIL = f"chloe.martin@{DOMAIN}"

HEADERS = (
    "Name",
    "Owner",
    "Consultation date",
    "Procedure",
    "Phone",
    "Email",
    "Value",
    "Deposit (20%)",
    "Status",
    "Last touch",
    "Touches",
    "Snooze until",
    "Plan",
    "Notes",
)
COLUMN = {header: index for index, header in enumerate(HEADERS)}
WIDTHS = {
    "Name": 22,
    "Owner": 16,
    "Consultation date": 17,
    "Procedure": 19,
    "Phone": 14,
    "Email": 30,
    "Value": 10,
    "Deposit (20%)": 13,
    "Status": 16,
    "Last touch": 13,
    "Touches": 9,
    "Snooze until": 13,
    "Plan": 10,
    "Notes": 44,
}
STATUS_CHOICES = ["Booked", "Declined", "Not interested", "DNC", "Deceased"]

CELL_FORMATS: dict[str, dict[str, str]] = {
    "text": {},
    "date": {"num_format": "dd/mm/yyyy"},
    "money": {"num_format": "£#,##0"},
    "deposit": {"num_format": "£#,##0.00"},
    "count": {"align": "center"},
}
YELLOW = "#FFF2CC"  # staff's "VIP / look after" highlight
PINK = "#FCE4D6"  # staff's "complaint or sensitive" highlight


@dataclass(frozen=True)
class Typed:
    """A date staff typed as text (or pasted as a bare serial number) instead of a date cell."""

    days_ago: int
    style: str

    @property
    def day(self) -> date:
        return TODAY - timedelta(days=self.days_ago)

    def cell(self, today: date) -> str | int:
        """What staff typed, for a log whose day is `today`."""
        day = today - timedelta(days=self.days_ago)
        match self.style:
            case "iso":
                return day.isoformat()
            case "slashes":
                return f"{day:%d/%m/%Y}"
            case "dots":
                return f"{day.day}.{day.month}.{day:%y}"
            case "ordinal":
                return f"{day.day}{_suffix(day.day)} {day:%b %Y}"
            case "month first":
                return f"{day:%b} {day.day}, {day.year}"
            case "serial":
                return (day - date(1899, 12, 30)).days
        raise ValueError(f"unknown date style {self.style!r}")


# A date field: days before TODAY (negative: after) as a real date cell, a Typed date, free
# text staff wrote, or blank.
DateSpec = int | Typed | str | None


@dataclass(frozen=True)
class Row:
    name: str
    owner: str
    procedure: str
    value: int
    consultation: DateSpec
    last_touch: DateSpec = None
    touches: int | None = None
    status: str = ""
    snooze: DateSpec = None
    plan: str = ""
    notes: str = ""
    fill: str | None = None

    @property
    def logged(self) -> date:
        """When the row was added, for ordering: the log grows downwards."""
        if isinstance(self.consultation, int):
            return TODAY - timedelta(days=self.consultation)
        if isinstance(self.consultation, Typed):
            return self.consultation.day
        return TODAY


def _suffix(day: int) -> str:
    if day in (11, 12, 13):
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


# Grouped by the flag each row should get on TODAY; the sheet lists them by consultation date.
# The comment after a row is the arithmetic: c = consultation, lt = last touch, in days ago.
ROWS: tuple[Row, ...] = (
    # DUE TODAY
    Row("Olivia Bennett", ANNA, "Botox", 240, 0, notes="Consultation this morning"),
    Row("Grace Holloway", BEN, "Lip filler", 320, 7, 5),  # 2 done, step 3 at day 7
    Row("Priya Shah", CHLOE, "Dermal fillers", 650, 14, 7, 3),  # step 4 at day 14
    Row("Tom Fletcher", DEV, "Microneedling", 540, 60, 29, notes="Course of 3 quoted"),
    Row("Hannah Walsh", ANNA, "Chemical peel", 195, 90, 29, 6),  # step 7 at day 90
    Row(
        "Marcus Reid",
        BEN,
        "CoolSculpting",
        2800,
        120,
        28,
        notes="Abdomen and flanks; wants to see results first",
        fill=YELLOW,
    ),  # long_term by value: step 8 at day 120
    Row(
        "Emily Carter",
        CHLOE,
        "Laser hair removal",
        960,
        20,
        18,
        snooze=0,
        notes="Away until the 24th",
    ),  # the snooze replaces step 3 (day 7)
    Row("Rachel Osei", DEV, "Dermal fillers", 1350, 180, 56, 8),  # long_term step 9 at day 180
    # OVERDUE
    Row("Jack Morrison", ANNA, "Botox", 210, 1),  # step 1 yesterday: 1d
    Row("Sophie Turner", BEN, "Lip filler", 280, 6, 6),  # step 2 at day 2, a Friday: 4d
    Row("Liam Hughes", SAM, "Botox", 260, 14, 12, notes="Saw Sam while Anna was on leave"),
    Row("Amelia Clarke", CHLOE, "Microneedling", 720, 26, 19, 3),  # step 4 at day 14: 12d
    Row("Daniel Kowalski", DEV, "Botox", 360, 53, 39, 4),  # step 5 on a Sunday, rolled: 22d
    Row(
        "Megan Lloyd",
        ANNA,
        "Chemical peel",
        165,
        112,
        112,
        notes="Thank-you email sent, nothing since",
    ),  # step 2 in August: 110d
    Row("Ryan Gallagher", BEN, "Dermal fillers", 480, 84, 82),  # step 3 in September: 77d
    Row("Chloe Evans", CHLOE, "Lip filler", 350, 75, 61),  # step 5 on a Saturday, rolled: 43d
    Row("Fiona Campbell", CHLOE, "Botox", 310, 42, 40, 2),  # step 3 in October: 35d
    Row(
        "Victoria Ashworth",
        DEV,
        "CoolSculpting",
        3900,
        245,
        70,
        9,
        notes="Did the six-month call early",
    ),  # long_term step 10 at day 240: 5d
    Row(
        "Catherine Doyle",
        ANNA,
        "CoolSculpting",
        4500,
        470,
        105,
        12,
        notes="Annual check-in done; still keen, waiting on a bonus",
        fill=YELLOW,
    ),  # long_term repeat: step 13 at day 455, 15d
    Row(
        "Natalie Brooks",
        BEN,
        "Laser hair removal",
        720,
        40,
        snooze=8,
        notes="Asked us to ring after her holiday",
    ),  # a past snooze with no last touch: 8d
    Row("Aisha Rahman", DEV, "Lip filler", 290, Typed(35, "iso"), 28),  # step 4: 21d
    Row("Bethany Price", CHLOE, "Microneedling", 480, Typed(21, "slashes"), 19),  # 14d
    Row("Harriet Simms", ANNA, "Botox", 230, Typed(21, "dots"), 14),  # step 4: 7d
    Row(
        "Joshua Adeyemi",
        BEN,
        "Dermal fillers",
        560,
        Typed(22, "month first"),
        notes="Never contacted after consult",
    ),  # step 1 on the consultation day: 22d
    Row("Laura McKenzie", DEV, "Chemical peel", 180, 35, Typed(21, "ordinal")),  # step 5: 5d
    Row("Zoe Whitaker", CHLOE, "Botox", 270, 34, Typed(20, "serial")),  # step 5: 4d
    Row(
        "Kieran Walsh",
        CHLOE_EMAIL,
        "Microneedling",
        630,
        13,
        11,
        notes="Owner typed as an email address",
    ),  # step 3: 6d
    Row("Isla Robertson", ANNA, "Lip filler", 300, 21, 19, 2),  # step 3: 14d
    # UPCOMING
    Row("Charlotte Hayes", ANNA, "Botox", 260, 4, 1, 2),
    Row("Ellie Parsons", BEN, "Chemical peel", 150, 1, 0),
    Row("Mia Sullivan", CHLOE, "Dermal fillers", 780, 11, 4),
    Row("Freya Dunn", DEV, "Microneedling", 690, 27, 13, 4),
    Row("Lucy Chapman", ANNA, "Lip filler", 340, 55, 25, 5),
    Row("Ruby Jenkins", BEN, "Botox", 420, 57, 27, 5),
    Row("Ava Thompson", CHLOE, "Chemical peel", 210, 78, 18, 6),
    Row(
        "Nathan Cole",
        DEV,
        "Dermal fillers",
        880,
        29,
        4,
        5,
        notes="Sent the seminar invite early",
    ),  # step 6 falls on Christmas Day and rolls to 29 Dec
    Row("Jessica Hart", SAM, "Lip filler", 300, 6, 4),
    Row(
        "Poppy Marsh",
        ANNA,
        "Laser hair removal",
        840,
        15,
        13,
        snooze=-7,
        notes="In Spain until the end of the month",
    ),
    Row(
        "Imogen Baker",
        BEN,
        "Lip filler",
        600,
        110,
        20,
        plan="long_term",
        notes="Top-ups every 6 months expected",
    ),  # long_term by the Plan cell despite the value
    Row(
        "Eleanor Grant",
        CHLOE,
        "Botox",
        450,
        295,
        50,
        plan="long_term",
        notes="Regular client of the old clinic",
    ),
    Row("Oliver Knight", DEV, "CoolSculpting", 2400, 113, 22),  # long_term by value: step 8
    Row(
        "Georgia Fox",
        ANNA,
        "Dermal fillers",
        700,
        12,
        5,
        status="Thinking about it",
        notes="Discussing with partner",
    ),
    Row("Samuel Ward", BEN, "Microneedling", 570, 19, 5, 4),
    Row("Alice Moore", CHLOE, "Laser hair removal", 900, 41, 11),
    Row("Ethan Price", DEV, "Botox", 180, 0, 0, 1, notes="Thank-you sent straight after"),
    Row("Holly Davies", DEV, "Lip filler", 280, 7, 0, 3),
    # NURTURE
    Row("Lauren Mitchell", ANNA, "Chemical peel", 180, 152, 60),  # day 92 done: 7 inferred
    Row("Jade Foster", BEN, "Botox", 300, 200, 110, 7),
    Row("Sarah O'Connor", CHLOE, "Lip filler", 400, 97, 6),
    Row("Rebecca Hall", DEV, "Microneedling", 750, 371, 270, 7, notes="On the newsletter"),
    Row("Kate Dawson", ANNA, "Botox", 220, 120, 33, 7, notes="Letter went out early"),
    Row("Connor Byrne", BEN, "Dermal fillers", 650, 182, 91),
    Row("Phoebe Lawrence", CHLOE, "Botox", 220, 140, 48, 7),
    # CLOSED
    Row("James Wilson", ANNA, "Botox", 280, 33, 26, 3, status="Booked"),
    Row(
        "Siobhán O'Neill",
        BEN,
        "Dermal fillers",
        900,
        18,
        15,
        status="✅ Booked",
        notes="Booked for 2 Dec",
        fill=YELLOW,
    ),
    Row(
        "Helen Armstrong",
        CHLOE,
        "CoolSculpting",
        3200,
        210,
        95,
        status="Booked",
        notes="Booked after the six-month call",
    ),
    Row("Matthew Young", DEV, "Laser hair removal", 1450, 47, 40, status="booked"),
    Row(
        "Emma Richardson",
        ANNA,
        "Lip filler",
        300,
        40,
        33,
        status="Declined",
        notes="Went with another clinic",
    ),
    Row("Chris Patterson", BEN, "Chemical peel", 160, 68, 54, status="Not interested"),
    Row("Nicola Barnes", CHLOE, "Botox", 250, 25, 18, status="declined"),
    Row(
        "Gemma Rhodes",
        DEV,
        "Microneedling",
        450,
        55,
        46,
        status="DNC",
        notes="Asked not to be contacted again",
        fill=PINK,
    ),
    Row("Adam Sinclair", ANNA, "Dermal fillers", 520, 99, 97, status="DNC"),
    Row(
        "Margaret Ellis",
        BEN,
        "Botox",
        330,
        160,
        131,
        status="Deceased",
        notes="Family let us know. Do not contact",
        fill=PINK,
    ),
    # CHECK DATA
    Row(
        "Tara Quinn",
        CHLOE,
        "Lip filler",
        310,
        8,
        6,
        snooze="next tues",
        notes="Call back next week",
    ),
    Row("Ben Carter", DEV, "Botox", 240, 12, -2, notes="Left voicemail"),  # last touch ahead
    Row("Lily Edwards", ANNA, "Chemical peel", 150, None, 4, notes="Walk-in enquiry"),
    Row("Owen Price", BEN, "Microneedling", 500, "31/11/2026", notes="Consult date to confirm"),
)

COMMENTS = {
    ("Catherine Doyle", "Value"): "Quote covers three cycles, abdomen and thighs.",
    ("Georgia Fox", "Notes"): "Prefers WhatsApp to calls. - Anna",
}


def build(path: Path, today: date = TODAY) -> None:
    """Write the whole sample workbook to `path`, its dates placed relative to `today`."""
    workbook = xlsxwriter.Workbook(str(path))
    workbook.set_properties(
        {
            "title": f"{CLINIC} prospect log",
            "author": "Anna Price",
            "company": CLINIC,
            # A fixed creation time keeps the file byte-for-byte the same on every run.
            "created": datetime.combine(today - timedelta(days=500), time(9, 0)),
        }
    )
    formats = _Formats(workbook)
    _write_prospects(workbook.add_worksheet("Prospects"), formats, today)
    _write_staff(workbook.add_worksheet("Staff"), formats)
    workbook.close()


class _Formats:
    """Cell formats by kind and fill, made once each (xlsxwriter formats are per cell)."""

    def __init__(self, workbook: xlsxwriter.Workbook) -> None:
        self._workbook = workbook
        self._made: dict[tuple[str, str | None], Format] = {}
        self.header = workbook.add_format(
            {"bold": True, "bg_color": "#1F4E78", "font_color": "#FFFFFF", "border": 1}
        )

    def __call__(self, kind: str, fill: str | None) -> Format | None:
        properties = dict(CELL_FORMATS[kind])
        if fill is not None:
            properties["bg_color"] = fill
        if not properties:
            return None
        key = (kind, fill)
        if key not in self._made:
            self._made[key] = self._workbook.add_format(properties)
        return self._made[key]


def _write_prospects(sheet: Worksheet, formats: _Formats, today: date) -> None:
    for column, header in enumerate(HEADERS):
        sheet.write_string(0, column, header, formats.header)
        sheet.set_column(column, column, WIDTHS[header])
    sheet.set_row(0, 20)
    sheet.freeze_panes(1, 0)

    rows = sorted(ROWS, key=lambda row: row.logged)
    for index, row in enumerate(rows, start=1):
        _write_row(sheet, index, row, formats, today)
    last = len(rows)

    sheet.autofilter(0, 0, last, len(HEADERS) - 1)
    status = COLUMN["Status"]
    sheet.data_validation(
        1,
        status,
        last + 200,
        status,
        {
            "validate": "list",
            "source": STATUS_CHOICES,
            "error_type": "warning",
            "error_title": "Status",
            "error_message": "Not one of the usual statuses. Keep it anyway?",
            "input_title": "Status",
            "input_message": "Leave blank while we are still following up.",
        },
    )
    for index, row in enumerate(rows, start=1):
        for (name, header), text in COMMENTS.items():
            if row.name == name:
                sheet.write_comment(index, COLUMN[header], text, {"author": "Anna Price"})


def _write_row(sheet: Worksheet, index: int, row: Row, formats: _Formats, today: date) -> None:
    fill = row.fill
    text = formats("text", fill)
    value_column = xl_col_to_name(COLUMN["Value"])
    cells: dict[str, str | int | None] = {
        "Name": row.name,
        "Owner": row.owner,
        "Procedure": row.procedure,
        "Phone": f"07700 900{index * 37 % 1000:03d}",
        "Email": f"{_slug(row.name)}@example.com",
        "Status": row.status,
        "Plan": row.plan,
        "Notes": row.notes,
    }
    for header, content in cells.items():
        if content:
            sheet.write_string(index, COLUMN[header], str(content), text)
        elif fill is not None:
            sheet.write_blank(index, COLUMN[header], None, text)

    sheet.write_number(index, COLUMN["Value"], row.value, formats("money", fill))
    sheet.write_formula(
        index,
        COLUMN["Deposit (20%)"],
        f"={value_column}{index + 1}*0.2",
        formats("deposit", fill),
        row.value * 0.2,
    )
    if row.touches is not None:
        sheet.write_number(index, COLUMN["Touches"], row.touches, formats("count", fill))
    elif fill is not None:
        sheet.write_blank(index, COLUMN["Touches"], None, formats("count", fill))

    for header, spec in (
        ("Consultation date", row.consultation),
        ("Last touch", row.last_touch),
        ("Snooze until", row.snooze),
    ):
        _write_date(sheet, index, COLUMN[header], spec, formats, fill, today)


def _write_date(
    sheet: Worksheet,
    index: int,
    column: int,
    spec: DateSpec,
    formats: _Formats,
    fill: str | None,
    today: date,
) -> None:
    if isinstance(spec, int):
        day = today - timedelta(days=spec)
        sheet.write_datetime(index, column, day, formats("date", fill))
        return
    cell = spec.cell(today) if isinstance(spec, Typed) else spec
    if isinstance(cell, int):
        # A bare serial number in a General cell, as a paste-special-values leaves it.
        sheet.write_number(index, column, cell, formats("text", fill))
    elif cell:
        sheet.write_string(index, column, cell, formats("text", fill))
    elif fill is not None:
        sheet.write_blank(index, column, None, formats("text", fill))


def _slug(name: str) -> str:
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    first, _, last = plain.lower().replace("'", "").partition(" ")
    return f"{first}.{last.replace(' ', '')}"


def _write_staff(sheet: Worksheet, formats: _Formats) -> None:
    sheet.write_row(0, 0, ["Name", "Email"], formats.header)
    sheet.set_column(0, 0, 18)
    sheet.set_column(1, 1, 34)
    sheet.freeze_panes(1, 0)
    for index, name in enumerate(STAFF, start=1):
        sheet.write_string(index, 0, name)
        sheet.write_string(index, 1, f"{_slug(name)}@{DOMAIN}")


def main(argv: list[str]) -> int:
    root = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description="Write the sample prospect log.")
    parser.add_argument(
        "--today",
        type=date.fromisoformat,
        default=TODAY,
        metavar="YYYY-MM-DD",
        help=f"the log's day: its dates are placed relative to it (default: {TODAY})",
    )
    parser.add_argument("output", nargs="?", type=Path, default=root / "sample_workbook.xlsx")
    args = parser.parse_args(argv)
    build(args.output, args.today)
    print(f"wrote {args.output} ({len(ROWS)} prospects, for {args.today:%a %d %b %Y})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
