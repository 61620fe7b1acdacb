"""Fuzzing the whole product with damaged packages and hostile cells (issue 10, point 9).

Random workbooks go through the real command line, `check`, `once` and `digest --preview`,
as an IT person would run them. Whatever the input, each command ends with an exit code and a
message, never a traceback; a workbook it refuses is left byte for byte as it was; and each
run stays within a time and memory bound.

Two kinds of input:

- hostile cells: a log whose cells hold random text (lone surrogates, noncharacters, control
  characters, right-to-left overrides), huge and odd numbers, errors and booleans, in every
  column, beside one ordinary prospect, who must still be synced and reach her owner;
- damaged packages: a good workbook cut short, with bytes flipped, a part replaced by noise or
  by cut XML, a part given twice, a DOCTYPE with entities, or a part that inflates far.

CI runs a bounded slice (`FUZZ_EXAMPLES`, 25 by default); a long run sets the environment
variable SHEETS_SYNC_FUZZ_EXAMPLES, e.g. 2000. Failing examples found once are pinned with
`@example`.
"""

from __future__ import annotations

import io
import math
import os
import tempfile
import time
import tracemalloc
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sheets_sync.backends.xlsx import XlsxBackend
from sheets_sync.cli import main
from tests.test_hostile_config_cli import write_config

SENDER = "Riverside Aesthetics <followups@riverside.example>"
FUZZ_EXAMPLES = int(os.environ.get("SHEETS_SYNC_FUZZ_EXAMPLES", "25"))
TODAY = "2026-11-24"  # a Tuesday: an open day, so digests are due
SECONDS_PER_RUN = 20.0  # one command on a tiny workbook; generous for a loaded CI machine
MEMORY_PER_RUN = 256 << 20  # bytes Python may allocate at the peak of one command

HEADER = (
    "Name",
    "Owner",
    "Consultation date",
    "Status",
    "Last touch",
    "Touches",
    "Snooze until",
    "Value",
    "Notes",
)
DATE_COLUMNS = {2, 4, 6}  # Consultation date, Last touch, Snooze until: formatted as dates
# The ordinary prospect beside the hostile ones: consulted on Mon 16 Nov (serial 46342),
# no touch yet, so her thank-you note is overdue and Anna's digest must go out.
ORDINARY = ("Olivia Good", "Anna Price", 46342.0, "", None, None, None, 500.0, "")
STAFF = (("Name", "Email"), ("Anna Price", "anna@riverside.example"))

fuzz = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,  # the bound is asserted per command below, with its figure
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,  # capsys is read out before every command
    ],
    derandomize="CI" in os.environ,  # CI sees the same examples on every run
)

pytestmark = pytest.mark.fuzz


# --- a workbook written byte by byte, so that any content at all can go in ------------------

Cell = str | float | bool | None


@dataclass(frozen=True)
class Error:
    """A formula error as a cell holds it (`t="e"`), like #N/A."""

    code: str


def _escaped(text: str) -> str:
    """Text as XML character data, with what XML 1.0 cannot carry as Excel's `_xHHHH_`."""
    out = []
    for char in text.replace("_x", "_x005F_x"):
        code = ord(char)
        allowed = (
            code in (0x9, 0xA)
            or 0x20 <= code <= 0xD7FF
            or 0xE000 <= code <= 0xFFFD
            or code >= 0x10000
        )
        out.append(escape(char) if allowed else f"_x{code:04X}_")
    return "".join(out)


def _cell_xml(ref: str, value: Cell | Error, *, dated: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, Error):
        return f'<c r="{ref}" t="e"><v>{escape(value.code)}</v></c>'
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, float):
        shown = repr(value) if math.isfinite(value) else str(value).upper()
        style = ' s="1"' if dated else ""  # a date-formatted column, as staff keep them
        return f'<c r="{ref}"{style}><v>{shown}</v></c>'
    return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{_escaped(value)}</t></is></c>'


def _sheet_xml(rows: Sequence[Sequence[Cell | Error]]) -> bytes:
    lines = []
    for number, row in enumerate(rows, start=1):
        cells = "".join(
            _cell_xml(f"{chr(ord('A') + col)}{number}", value, dated=col in DATE_COLUMNS)
            for col, value in enumerate(row)
        )
        lines.append(f'<row r="{number}">{cells}</row>')
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"<sheetData>{''.join(lines)}</sheetData></worksheet>"
    ).encode()


_PARTS = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/worksheets/sheet2.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/styles.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        "</Types>"
    ),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    ),
    "xl/workbook.xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        '<sheets><sheet name="Prospects" sheetId="1" r:id="rId1"/>'
        '<sheet name="Staff" sheetId="2" r:id="rId2"/></sheets></workbook>'
    ),
    "xl/_rels/workbook.xml.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/worksheet" Target="worksheets/sheet1.xml"/>'
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/worksheet" Target="worksheets/sheet2.xml"/>'
        '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/styles" Target="styles.xml"/></Relationships>'
    ),
    "xl/styles.xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
        "</cellStyleXfs>"
        '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        '<xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
        "</cellXfs></styleSheet>"
    ),
}


def workbook_bytes(
    rows: Sequence[Sequence[Cell | Error]], *, parts: dict[str, bytes] | None = None
) -> bytes:
    """A workbook with the log `rows` on its Prospects sheet and Anna on its Staff sheet;
    `parts` replaces or adds parts by name."""
    contents: dict[str, bytes] = {name: text.encode() for name, text in _PARTS.items()}
    contents["xl/worksheets/sheet1.xml"] = _sheet_xml(rows)
    contents["xl/worksheets/sheet2.xml"] = _sheet_xml(STAFF)
    contents.update(parts or {})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        for name, data in contents.items():
            package.writestr(name, data)
    return buffer.getvalue()


GOOD = workbook_bytes([HEADER, ORDINARY])


# --- running the commands -------------------------------------------------------------------


@dataclass
class Outcome:
    command: str
    code: int
    out: str
    err: str
    seconds: float
    peak_bytes: int


COMMANDS = {
    "check": ["check"],
    "once": ["once", "--today", TODAY],
    "digest --preview": ["digest", "--preview", "--today", TODAY],
}


def run_all(
    data: bytes, folder: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[list[Outcome], bytes]:
    """Run every command on a workbook holding `data` in `folder`; the outcomes, and the
    workbook's bytes after `once`."""
    workbook = folder / "log.xlsx"
    workbook.write_bytes(data)
    config = write_config(folder, mail=f'from = "{SENDER}"')
    outcomes = []
    after_once = data
    for name, argv in COMMANDS.items():
        capsys.readouterr()
        tracemalloc.start()
        started = time.perf_counter()
        try:
            code = main([*argv[:1], "--config", str(config), *argv[1:]])
        finally:
            seconds = time.perf_counter() - started
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        out, err = capsys.readouterr()
        outcomes.append(Outcome(name, code, out, err, seconds, peak))
        if name == "once":
            after_once = workbook.read_bytes()
    return outcomes, after_once


def assert_well_behaved(outcome: Outcome) -> None:
    """An exit code and a message for people: never a traceback, within the bounds."""
    said = outcome.out + outcome.err
    assert "Traceback" not in said, f"{outcome.command} printed a traceback:\n{said}"
    assert outcome.code in (0, 1, 2), f"{outcome.command} exited {outcome.code}:\n{said}"
    if outcome.code != 0:
        assert outcome.err.strip() or outcome.out.strip(), f"{outcome.command} said nothing"
    assert outcome.seconds < SECONDS_PER_RUN, f"{outcome.command} took {outcome.seconds:.1f} s"
    assert outcome.peak_bytes < MEMORY_PER_RUN, (
        f"{outcome.command} peaked at {outcome.peak_bytes / 2**20:.0f} MiB"
    )


# --- hostile cells --------------------------------------------------------------------------

_HOSTILE_TEXT = st.one_of(
    st.text(max_size=40),  # any code point, lone surrogates included
    st.lists(
        st.sampled_from(
            [
                "\ud83d",
                "\ude00",
                "\ufffe",
                "\uffff",
                "\u202e",
                "\u200b",
                "\ufeff",
                "\x1b",
                "\r",
                "\n",
                "\x00",
                "=",
                "@",
                "+",
                "-",
                "<",
                "&",
                "_x0000_",
                "é",
                "😀",
                "1",
                "/",
            ]
        ),
        max_size=20,
    ).map("".join),
    st.sampled_from(
        [
            "24112026",
            "1E+308",
            "-5",
            "0/0/0",
            "31/02/2026",
            "99999-01-01",
            "0000-01-01",
            "booked",
            "DNC",
            "£1e400",
            "nan",
            "inf",
            "<script>x</script>",
            '=HYPERLINK("x")',
            "anna@riverside.example\u200b",
            "\ufeffanna@riverside.example",
            "zoë@riverside.example",
        ]
    ),
)
_HOSTILE_NUMBER = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([24112026.0, 1e308, -5.0, 1e30, 2958466.0, 0.5, -0.0, 60.0]),
)
_HOSTILE_CELL: st.SearchStrategy[Cell | Error] = st.one_of(
    st.none(),
    _HOSTILE_TEXT,
    _HOSTILE_NUMBER,
    st.booleans(),
    st.sampled_from([Error("#N/A"), Error("#REF!"), Error("#DIV/0!")]),
)
_HOSTILE_ROW = st.lists(_HOSTILE_CELL, min_size=len(HEADER), max_size=len(HEADER))


def _log_row(folder: Path, name: str) -> dict[str, object]:
    """The synced row of the prospect called `name`, by header."""
    snapshot = XlsxBackend(folder / "log.xlsx").read()
    header = [str(cell) for cell in snapshot.rows[0]]
    for row in snapshot.rows[1:]:
        if row and row[0] == name:
            return dict(zip(header, row, strict=False))
    raise AssertionError(f"{name} is not in the synced log")


@fuzz
@given(hostile=st.lists(_HOSTILE_ROW, min_size=1, max_size=4), where=st.integers(0, 4))
@example(hostile=[["Zed", "Anna Price", 24112026.0, "", None, None, None, None, ""]], where=0)
@example(hostile=[["Zed", "Anna Price", 46342.0, "", None, 1e308, None, None, ""]], where=1)
@example(hostile=[[None, None, None, None, None, None, None, None, 2958466.0]], where=0)  # found
@example(
    hostile=[["Ha\ud83d", "anna@x.example\u200b", "1E+308", "\uffff", "", "", "", "", ""]], where=1
)
def test_hostile_cells_never_stop_the_clinic(
    hostile: list[list[Cell | Error]], where: int, capsys: pytest.CaptureFixture[str]
) -> None:
    rows: list[Sequence[Cell | Error]] = [HEADER, *hostile]
    rows.insert(1 + min(where, len(hostile)), ORDINARY)
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        folder = Path(tmp)
        outcomes, _ = run_all(workbook_bytes(rows), folder, capsys)
        for outcome in outcomes:
            assert_well_behaved(outcome)
        once = outcomes[1]
        assert once.code == 0, once.out + once.err
        ordinary = _log_row(folder, ORDINARY[0])
        assert str(ordinary["Follow-up status"]).startswith("OVERDUE"), ordinary
        digests = [path.read_bytes() for path in (folder / "outbox").iterdir()]
        assert any(b"Olivia Good" in digest for digest in digests), "Anna's digest is missing"


# --- damaged packages -----------------------------------------------------------------------


def _parts_of(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        return {info.filename: package.read(info) for info in package.infolist()}


def _repacked(parts: Sequence[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of a name given twice: that is the point
        for name, data in parts:
            package.writestr(name, data)
    return buffer.getvalue()


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (n, (b"&lol%d;" % (n - 1) if n > 1 else b"&lol;") * 10)
        for n in range(1, 10)
    )
    + b']><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row>'
    b"</sheetData></worksheet>"
)
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY secret SYSTEM "file:///etc/passwd">]>'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&secret;</t></is></c></row>'
    b"</sheetData></worksheet>"
)


def needing_zip_version(data: bytes, version: int) -> bytes:
    """The package with its first central-directory entry asking for a newer zip version: a
    flipped byte there made zipfile raise NotImplementedError (found by a long run)."""
    at = data.index(b"PK\x01\x02") + 6  # "version needed to extract"
    return data[:at] + version.to_bytes(2, "little") + data[at + 2 :]


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    """The good workbook, damaged in one of the ways files get damaged in the wild."""
    how = draw(
        st.sampled_from(
            ["cut", "flip", "noise part", "cut part", "twice", "entities", "inflates", "drop"]
        )
    )
    if how == "cut":
        return GOOD[: draw(st.integers(0, len(GOOD) - 1))]
    if how == "flip":
        data = bytearray(GOOD)
        for at in draw(st.lists(st.integers(0, len(GOOD) - 1), min_size=1, max_size=8)):
            data[at] ^= draw(st.integers(1, 255))
        return bytes(data)
    parts = list(_parts_of(GOOD).items())
    index = draw(st.integers(0, len(parts) - 1))
    name, content = parts[index]
    if how == "noise part":
        parts[index] = (name, draw(st.binary(max_size=200)))
    elif how == "cut part":
        parts[index] = (name, content[: draw(st.integers(0, max(len(content) - 1, 0)))])
    elif how == "twice":
        parts.append((name, content))
    elif how == "entities":
        parts[index] = (name, draw(st.sampled_from([BILLION_LAUGHS, EXTERNAL_ENTITY])))
    elif how == "inflates":  # 64 MiB of nothing, a few dozen kB packed
        parts[index] = (name, content + b" " * (64 << 20))
    else:
        del parts[index]
    return _repacked(parts)


@fuzz
@given(data=damaged())
@example(data=needing_zip_version(GOOD, 70))  # found
@example(data=GOOD[:100])
@example(data=b"")
@example(data=b"Name,Owner,Consultation date\nOlivia,Anna,16/11/2026\n")
@example(data=_repacked([*_parts_of(GOOD).items(), ("xl/worksheets/sheet1.xml", GOOD[:50])]))
def test_damaged_packages_get_a_message_and_stay_as_they_were(
    data: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        folder = Path(tmp)
        outcomes, after_once = run_all(data, folder, capsys)
        for outcome in outcomes:
            assert_well_behaved(outcome)
        once = outcomes[1]
        if once.code != 0:
            assert after_once == data, "a workbook refused by `once` was changed"
            assert "log.xlsx" in once.err, f"the message names no file: {once.err}"
        for outcome in outcomes:
            assert "root:x:0:0" not in outcome.out + outcome.err  # /etc/passwd never shows
        for path in folder.rglob("*"):
            if path.is_file():
                assert b"root:x:0:0" not in path.read_bytes(), f"{path} holds /etc/passwd"
