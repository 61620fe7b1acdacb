"""Hostile, damaged and unusual workbooks (issue 10): each is synced within the promises or
refused with one clear message naming the file, the part and what to do, within bounded
time and memory; and nothing the sync writes is a file another program calls damaged.

The files are built here byte by byte (zipfile, zlib), the way an attacker, a crashed
program or a half-finished copy would leave them. Cases that would hang or exhaust memory
on a reader without the limits run in a subprocess with a time limit and an address-space
limit, so a failing test fails instead of taking the machine down.
"""

from __future__ import annotations

import io
import json
import os
import re
import struct
import subprocess
import sys
import time
import warnings
import zipfile
import zlib
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path

import pytest
from lxml import etree
from xlsxwriter.worksheet import Worksheet

from sheets_sync.backends.base import SourceError
from sheets_sync.backends.xlsx import XlsxBackend
from sheets_sync.backends.xlsx.sheet import unescape_text
from sheets_sync.core.columns import MANAGED_COLUMNS
from sheets_sync.core.rule import Flag
from sheets_sync.engine import sync
from sheets_sync.state import State
from tests.test_messy_input import config_for, settings, sync_once
from tests.workbooks import SMALL_LOG_DAY, make_log, make_small_log

REPO = Path(__file__).resolve().parents[2]
SHEET = "xl/worksheets/sheet1.xml"
SHARED = "xl/sharedStrings.xml"
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
PASSWD = Path("/etc/passwd")


# --- building hostile files ------------------------------------------------------------------


def rezip(path: Path, changed: Mapping[str, bytes | Callable[[bytes], bytes]]) -> Path:
    """Rewrite the workbook at `path` with some parts replaced (by bytes, or by a function of
    their old bytes), each keeping its place and compression."""
    with zipfile.ZipFile(path) as source:
        parts = [(info, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w") as rebuilt:
        for info, data in parts:
            new = changed.get(info.filename, data)
            rebuilt.writestr(info, new(data) if callable(new) else new)
    return path


def add_raw_part(path: Path, name: str, compressed: bytes, *, file_size: int, crc: int) -> None:
    """Add a deflated part whose directory entry says whatever the caller likes."""
    with zipfile.ZipFile(path) as source:
        parts = [(info, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w") as package:
        for info, data in parts:
            package.writestr(info, data)
        info = zipfile.ZipInfo(name, date_time=(2026, 11, 1, 9, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.file_size, info.compress_size, info.CRC = file_size, len(compressed), crc
        assert package.fp is not None
        info.header_offset = package.fp.tell()
        package.fp.write(info.FileHeader())
        package.fp.write(compressed)
        package.filelist.append(info)
        package.NameToInfo[name] = info
        package.start_dir = package.fp.tell()


def state_size(path: Path, part: str, size: int) -> None:
    """Make the zip directory (and the local header) state `size` as `part`'s inflated size."""
    data = bytearray(path.read_bytes())
    name = part.encode()
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        name_length = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46 : at + 46 + name_length] == name:
            struct.pack_into("<I", data, at + 24, size)
            offset = struct.unpack_from("<I", data, at + 42)[0]
            struct.pack_into("<I", data, offset + 22, size)
        at = data.find(b"PK\x01\x02", at + 4)
    path.write_bytes(bytes(data))


def deflated_zeros(size: int) -> bytes:
    """Raw deflate of `size` zero bytes, made a chunk at a time (about 1 kB per MB)."""
    squeeze = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(1 << 24)
    out = [squeeze.compress(chunk) for _ in range(size >> 24)]
    return b"".join([*out, squeeze.compress(bytes(size % (1 << 24))), squeeze.flush()])


def in_sheet_data(xml: bytes, extra: bytes) -> bytes:
    """The worksheet with `extra` just before </sheetData>."""
    return xml.replace(b"</sheetData>", extra + b"</sheetData>")


def with_doctype(xml: bytes) -> bytes:
    """A part declaring an external entity, right after its XML declaration."""
    declaration_end = xml.index(b"?>") + 2 if xml.startswith(b"<?xml") else 0
    doctype = f'<!DOCTYPE x [<!ENTITY passwd SYSTEM "file://{PASSWD}">]>'.encode()
    return xml[:declaration_end] + doctype + xml[declaration_end:]


BILLION_LAUGHS = (
    b'<!DOCTYPE x [<!ENTITY a "'
    + b"ha" * 5
    + b'">'
    + b"".join(
        b'<!ENTITY %c "%s">' % (ord("b") + n, b"&%c;" % (ord("a") + n) * 10) for n in range(9)
    )
    + b"]>"
)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return make_small_log(tmp_path / "clinic_log.xlsx")


def part_of(path: Path, name: str) -> bytes:
    with zipfile.ZipFile(path) as package:
        return package.read(name)


def refusal(path: Path) -> str:
    """The message reading `path` is refused with; the file is left as it was."""
    before = path.read_bytes()
    with pytest.raises(SourceError) as raised:
        XlsxBackend(path, backup_dir=path.parent / "backups").read()
    assert path.read_bytes() == before
    message = str(raised.value)
    assert str(path) in message
    return message


# Reading in a child process: its time, its peak memory and what it came to. The peak is the
# kernel's VmHWM, which counts this program alone: ru_maxrss keeps the parent's size across the
# fork and exec, so a test run that had grown to 600 MB would be blamed on the child.
_CHILD = """
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
from sheets_sync.backends.base import SourceError
from sheets_sync.backends.xlsx import XlsxBackend
from pathlib import Path
backend = XlsxBackend(Path(sys.argv[1]))
start = time.perf_counter()
try:
    snapshot = backend.read()
    outcome = "read"
    if sys.argv[2] == "write":
        from sheets_sync.core.columns import find_layout
        from sheets_sync.core.sync import Changes
        layout = find_layout(snapshot.rows)
        cell = {(layout.first_row, layout.managed["next_action"]): "Call"}
        backend.write(Changes(layout, cell, {}, len(snapshot.rows)), snapshot.version)
        outcome = "written"
except SourceError as exc:
    outcome = "refused: " + str(exc)
except BaseException as exc:
    outcome = "crashed: " + type(exc).__name__
seconds = time.perf_counter() - start
with open("/proc/self/status") as status:
    peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
print(json.dumps({"outcome": outcome, "seconds": seconds, "peak_mb": peak}))
"""


def in_a_child(path: Path, *, write: bool = False, limit: float = 60) -> dict[str, object]:
    try:
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, str(path), "write" if write else "read"],
            capture_output=True,
            text=True,
            timeout=limit,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            cwd=REPO,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"reading {path.name} took more than {limit} s")
    found: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


# --- 1. never write a damaged workbook ---------------------------------------------------------


NOT_IN_XML = {
    "a control character": "bell\x07here",
    "U+FFFE": "odd\ufffeone",
    "U+FFFF": "odd\uffffone",
    "a lone high surrogate": "broken \ud83d emoji",
    "a lone low surrogate": "broken \ude00 emoji",
    "an emoji as two surrogates": "split \ud83d\ude00 emoji",
}
READ_BACK = {
    "a control character": "bell\x07here",
    "U+FFFE": "odd\ufffeone",
    "U+FFFF": "odd\uffffone",
    "a lone high surrogate": "broken \ufffd emoji",
    "a lone low surrogate": "broken \ufffd emoji",
    "an emoji as two surrogates": "split \U0001f600 emoji",
}


@pytest.mark.parametrize("case", NOT_IN_XML)
def test_characters_xml_cannot_carry_are_written_escaped(log: Path, case: str) -> None:
    sync_once(XlsxBackend(log), settings(), extra={(2, 9): NOT_IN_XML[case]})  # J2: Next action
    written = part_of(log, SHEET)
    etree.fromstring(written)  # well formed: a strict parser takes it
    assert b'<c r="J2" t="inlineStr"><is><t>' in written
    assert XlsxBackend(log).read().rows[1][9] == READ_BACK[case]


def test_escapes_read_back_never_hold_a_lone_surrogate() -> None:
    assert unescape_text("_xD83D__xDE00_") == "\U0001f600"
    assert unescape_text("_xd83d__xde00_") == "\U0001f600"
    assert unescape_text("a_xD83D_b") == "a\ufffdb"
    assert unescape_text("_xDE00__xD83D_") == "\ufffd\ufffd"
    assert unescape_text("_x005F_xD83D_") == "_xD83D_"  # an escaped escape stays text
    assert unescape_text("_x0007_") == "\x07"


def test_a_lone_surrogate_in_a_shared_or_inline_string_is_read_as_a_replacement(
    log: Path,
) -> None:
    rezip(
        log,
        {
            SHARED: lambda xml: xml.replace(b"first call", b"first _xD800_ call"),
            SHEET: lambda xml: in_sheet_data(
                xml, b'<row r="20"><c r="A20" t="inlineStr"><is><t>Zo_xDBFF_e</t></is></c></row>'
            ),
        },
    )
    rows = XlsxBackend(log).read().rows
    assert rows[1][7] == "first \ufffd call"
    assert rows[19][0] == "Zo\ufffde"


@pytest.mark.parametrize(
    ("cell", "handed_over"),
    [
        (b'<c r="C2" s="2"><v>24112026</v></c>', 24112026),  # a date typed without separators
        (b'<c r="C2" s="2"><v>1E+308</v></c>', 1e308),
        (b'<c r="C2" t="d"><v>99999-01-01</v></c>', "99999-01-01"),
    ],
    ids=["24112026", "1E+308", "year 99999"],
)
def test_a_date_cell_that_can_be_no_date_is_that_row_s_problem_only(
    log: Path, cell: bytes, handed_over: object
) -> None:
    """Found by the fuzzing test: one such cell used to refuse the whole workbook."""
    rezip(log, {SHEET: lambda xml: re.sub(rb'<c r="C2".*?</c>', cell, xml, count=1)})

    rows = XlsxBackend(log).read().rows
    plan = sync_once(XlsxBackend(log), settings())

    assert rows[1][2] == handed_over
    flags = [result.decision.flag for result in plan.rows]
    assert flags[0] == Flag.CHECK_DATA
    assert Flag.CHECK_DATA not in flags[1:]


def test_a_log_reaching_column_xfd_leaves_no_room_and_the_cell_in_the_way_is_named(
    tmp_path: Path,
) -> None:
    def far_right(sheet: Worksheet) -> None:
        sheet.write(4, 16_381, "stray note")  # XFB5: three columns left, four needed

    path = make_log(
        tmp_path / "clinic_log.xlsx",
        [{"Name": "Ann", "Owner": "Anna", "Consultation date": date(2026, 10, 1)}],
        customise=far_right,
    )
    before = path.read_bytes()
    with State(tmp_path / "state") as state, pytest.raises(SourceError) as raised:
        sync(XlsxBackend(path), config_for(path, tmp_path / "state"), state, today=SMALL_LOG_DAY)
    message = str(raised.value)
    assert "cell XFB5 is in use" in message
    assert "XFD" in message
    assert all(names[0] in message for names in MANAGED_COLUMNS.values())
    assert path.read_bytes() == before


# --- 2. linear time, bounded memory ------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "change"),
    [
        (
            "3,000 unclosed cells",
            lambda xml: in_sheet_data(
                xml, b'<row r="20">' + b'<c r="A20"><v>1</v>' * 3000 + b"</row>"
            ),
        ),
        (
            "20,000 unclosed merge fragments",
            lambda xml: xml.replace(
                b"</sheetData>", b"</sheetData><mergeCells>" + b'<mergeCell ref="A1:B2' * 20_000
            ),
        ),
    ],
)
def test_malformed_sheets_are_refused_in_linear_time(
    log: Path, case: str, change: Callable[[bytes], bytes]
) -> None:
    rezip(log, {SHEET: change})
    result = in_a_child(log, limit=30)
    assert str(result["outcome"]).startswith("refused"), result
    assert f"part {SHEET} is not well-formed XML" in str(result["outcome"])
    assert float(str(result["seconds"])) < 2, result


def test_a_truncated_sheet_is_refused_never_read_as_a_shorter_log(log: Path) -> None:
    rezip(log, {SHEET: lambda xml: xml[: xml.index(b"</row>", xml.index(b'<row r="4"')) + 6]})
    message = refusal(log)
    assert f"part {SHEET} is not well-formed XML" in message
    assert "Open it in Excel and save it again, or restore it from the backups folder" in message


@pytest.mark.parametrize(
    ("size", "words"),
    [
        (4_200_000_000, "inflates to 4.2 GB, over the 1 GiB limit for one part"),
        (1_500_000_000, "inflates to 1.5 GB, over the 1 GiB limit for one part"),
    ],
)
def test_a_sheet_stating_a_bomb_of_a_size_is_refused_before_inflating(
    log: Path, size: int, words: str
) -> None:
    state_size(log, SHEET, size)
    result = in_a_child(log)
    assert f"part {SHEET} {words}" in str(result["outcome"]), result
    assert float(str(result["peak_mb"])) < 300, result


def test_a_part_squeezed_past_any_spreadsheet_ratio_is_refused(log: Path) -> None:
    compressed = deflated_zeros(80 << 20)
    add_raw_part(
        log, "xl/media/image9.bmp", compressed, file_size=80 << 20, crc=zlib.crc32(bytes(80 << 20))
    )
    message = refusal(log)
    assert "part xl/media/image9.bmp inflates" in message
    assert "past the 200 times spreadsheet XML ever deflates" in message


def test_a_sheet_that_inflates_past_its_stated_size_fails_its_checksum(log: Path) -> None:
    real = len(part_of(log, SHEET))
    state_size(log, SHEET, real // 2)
    message = refusal(log)
    assert f"part {SHEET} is damaged in the zip (Bad CRC-32" in message


def test_a_bomb_in_a_part_the_sync_never_reads_costs_no_memory(log: Path) -> None:
    bomb = deflated_zeros(1 << 30)  # 1 GiB of zeros, stated as 1 kB
    add_raw_part(log, "xl/media/image9.bin", bomb, file_size=1000, crc=zlib.crc32(bytes(1000)))
    result = in_a_child(log, write=True, limit=120)
    assert result["outcome"] == "written", result
    assert float(str(result["peak_mb"])) < 400, result
    with zipfile.ZipFile(log) as package:
        info = package.getinfo("xl/media/image9.bin")
        assert (info.file_size, info.compress_size) == (1000, len(bomb))


@pytest.mark.parametrize(
    ("case", "cell", "words"),
    [
        ("a row past 1,048,576", b'<c r="A999999999"><v>1</v></c>', "a cell at A999999999"),
        ("a column past XFD", b'<c r="XFE20"><v>1</v></c>', "a cell at XFE20"),
    ],
)
def test_cells_past_excels_limits_are_refused_before_anything_is_allocated(
    log: Path, case: str, cell: bytes, words: str
) -> None:
    rezip(log, {SHEET: lambda xml: in_sheet_data(xml, b'<row r="20">' + cell + b"</row>")})
    result = in_a_child(log)
    assert f"part {SHEET} holds {words}, outside the 1,048,576 rows" in str(result["outcome"])
    assert float(str(result["peak_mb"])) < 300, result


def test_a_value_in_column_xfd_of_every_row_is_refused_before_it_spreads(log: Path) -> None:
    far = b"".join(
        b'<row r="%d"><c r="XFD%d"><v>1</v></c></row>' % (n, n) for n in range(20, 20_020)
    )
    rezip(log, {SHEET: lambda xml: in_sheet_data(xml, far)})
    result = in_a_child(log)
    assert "spreads its cells over" in str(result["outcome"]), result
    assert float(str(result["peak_mb"])) < 600, result


def test_text_longer_than_a_cell_can_hold_is_refused(log: Path) -> None:
    long = b"x" * 40_000
    rezip(
        log,
        {
            SHEET: lambda xml: in_sheet_data(
                xml, b'<row r="20"><c r="A20" t="inlineStr"><is><t>' + long + b"</t></is></c></row>"
            )
        },
    )
    message = refusal(log)
    assert f"part {SHEET} holds 40,000 characters or more in cell A20" in message
    assert "over Excel's limit of 32,767 for one cell" in message


def test_a_shared_string_longer_than_a_cell_can_hold_is_refused(log: Path) -> None:
    rezip(log, {SHARED: lambda xml: xml.replace(b"first call", b"y" * 40_000)})
    assert f"part {SHARED} holds 40,000 characters or more" in refusal(log)


def test_a_shared_strings_part_with_an_absurd_count_is_refused(log: Path) -> None:
    rezip(log, {SHARED: lambda xml: xml.replace(b'uniqueCount="', b'uniqueCount="99999999999')})
    assert f"part {SHARED} says it holds 99999999999" in refusal(log)


def test_parts_the_sync_does_not_change_keep_their_compressed_bytes(log: Path) -> None:
    # Deflated harder than zipfile's default, as Excel does: any re-deflating shows.
    with zipfile.ZipFile(log) as source:
        parts = [(info, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(log, "w") as rebuilt:
        for info, data in parts:
            rebuilt.writestr(info, data, compresslevel=1)

    def compressed(path: Path) -> dict[str, tuple[int, bytes]]:
        data = path.read_bytes()
        found = {}
        with zipfile.ZipFile(path) as package:
            for info in package.infolist():
                name_length, extra_length = struct.unpack_from("<HH", data, info.header_offset + 26)
                start = info.header_offset + 30 + name_length + extra_length
                found[info.filename] = (info.CRC, data[start : start + info.compress_size])
        return found

    before = compressed(log)
    sync_once(XlsxBackend(log), settings())
    after = compressed(log)
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {SHEET, "xl/styles.xml"}
    assert before.keys() == after.keys()


# --- 3. damaged packages and other formats ----------------------------------------------------


def test_duplicate_part_names_are_refused(log: Path) -> None:
    with warnings.catch_warnings(), zipfile.ZipFile(log, "a") as package:
        warnings.simplefilter("ignore")
        package.writestr(SHEET, b"<worksheet/>")
    assert f"part {SHEET} is in the zip twice" in refusal(log)


@pytest.mark.parametrize(
    ("case", "part", "change", "words"),
    [
        (
            "a missing sheet",
            "xl/_rels/workbook.xml.rels",
            lambda xml: xml.replace(b"worksheets/sheet1.xml", b"worksheets/sheet7.xml"),
            "part xl/worksheets/sheet7.xml is missing",
        ),
        (
            "a shared string out of range",
            SHEET,
            lambda xml: in_sheet_data(xml, b'<row r="20"><c r="A20" t="s"><v>9999</v></c></row>'),
            f"part {SHEET} refers to shared string 9,999",
        ),
        (
            "a number that is not one",
            SHEET,
            lambda xml: in_sheet_data(xml, b'<row r="20"><c r="A20"><v>twelve</v></c></row>'),
            f"part {SHEET} holds something unreadable",
        ),
        (
            "bytes that are not UTF-8",
            SHEET,
            lambda xml: xml.replace(b"<sheetData>", b"<sheetData>\xff\xfe"),
            f"part {SHEET} is not well-formed XML",
        ),
        (
            "styles that are not XML",
            "xl/styles.xml",
            lambda xml: xml[: len(xml) // 2],
            "part xl/styles.xml is not well-formed XML",
        ),
    ],
)
def test_a_damaged_part_gets_one_clear_message_naming_it(
    log: Path, case: str, part: str, change: Callable[[bytes], bytes], words: str
) -> None:
    rezip(log, {part: change})
    message = refusal(log)
    assert words in message, case
    assert "Open it in Excel and save it again, or restore it from the backups folder" in message


def bzip2_sheet(path: Path) -> None:
    """The sheet deflated with bzip2, which Python would inflate without bound."""
    with zipfile.ZipFile(path) as source:
        parts = [(info, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w") as rebuilt:
        for info, data in parts:
            if info.filename == SHEET:
                info.compress_type = zipfile.ZIP_BZIP2
            rebuilt.writestr(info, data)


def encrypted_sheet(path: Path) -> None:
    """The sheet marked as encrypted with a zip password (flag bit 0)."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as package:
        info = package.getinfo(SHEET)
    data[info.header_offset + 6] |= 1
    at = data.find(b"PK\x01\x02")
    while data[at + 46 : at + 46 + len(SHEET)] != SHEET.encode():
        at = data.find(b"PK\x01\x02", at + 4)
    data[at + 8] |= 1
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("case", "damage", "words"),
    [
        ("bzip2", bzip2_sheet, f"part {SHEET} is compressed with zip method 12"),
        ("a zip password", encrypted_sheet, f"part {SHEET} holds something unreadable (File"),
    ],
)
def test_a_part_compressed_or_encrypted_as_no_spreadsheet_program_does_is_refused(
    log: Path, case: str, damage: Callable[[Path], None], words: str
) -> None:
    damage(log)
    assert words in refusal(log), case


CFB = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)


def zip_of(parts: Mapping[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        for name, data in parts.items():
            package.writestr(name, data)
    return buffer.getvalue()


XLSB_RELS = (
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'relationships/officeDocument" Target="xl/workbook.bin"/></Relationships>'
)


@pytest.mark.parametrize(
    ("case", "content", "words"),
    [
        (
            "a password-protected workbook",
            CFB + "EncryptedPackage".encode("utf-16-le") + bytes(64),
            "it is protected with a password",
        ),
        ("an Excel 97-2003 file", CFB + "Workbook".encode("utf-16-le"), "(.xls)"),
        ("an .xlsb", zip_of({"_rels/.rels": XLSB_RELS, "xl/workbook.bin": b"\0"}), "(.xlsb)"),
        (
            "an .ods",
            zip_of({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet"}),
            "OpenDocument spreadsheet (.ods)",
        ),
        ("a CSV", b"Name,Owner,Consultation date\nAnn,Anna,2026-10-01\n", "a text file"),
        (
            "a web page",
            b"<html><body><table><tr><td>Ann</td></tr></table></body></html>",
            "a web page",
        ),
    ],
)
def test_other_formats_are_named_with_how_to_save_them_as_xlsx(
    tmp_path: Path, case: str, content: bytes, words: str
) -> None:
    path = tmp_path / "clinic_log.xlsx"
    path.write_bytes(content)
    message = refusal(path)
    assert "cannot be read: it is not an Excel workbook (.xlsx or .xlsm)" in message
    assert words in message, case
    assert "save it" in message


# Every kind of part a read parses, with the parser that parses it.
DOCTYPE_PARTS = [
    "_rels/.rels",
    "xl/workbook.xml",
    "xl/_rels/workbook.xml.rels",
    "xl/styles.xml",
    SHARED,
    SHEET,
]


@pytest.mark.parametrize("part", DOCTYPE_PARTS)
def test_a_doctype_in_any_part_is_refused(log: Path, part: str) -> None:
    rezip(log, {part: with_doctype})
    message = refusal(log)
    assert f"part {part} declares a DOCTYPE" in message


def test_a_doctype_in_a_table_part_is_refused_before_writing(tmp_path: Path) -> None:
    path = make_log(
        tmp_path / "clinic_log.xlsx",
        [{"Name": "Ann", "Owner": "Anna", "Consultation date": date(2026, 10, 1)}],
        table=True,
    )
    rezip(path, {"xl/tables/table1.xml": with_doctype})
    before = path.read_bytes()
    with pytest.raises(SourceError) as raised:
        sync_once(XlsxBackend(path), settings())
    assert "part xl/tables/table1.xml declares a DOCTYPE" in str(raised.value)
    assert path.read_bytes() == before


@pytest.mark.parametrize("part", [SHEET, SHARED, "xl/styles.xml"])
def test_billion_laughs_are_refused_at_once(log: Path, part: str) -> None:
    def laughing(xml: bytes) -> bytes:
        declaration_end = xml.index(b"?>") + 2
        return (
            xml[:declaration_end]
            + BILLION_LAUGHS
            + xml[declaration_end:].replace(b"Prospect 1<", b"&j;<")
        )

    rezip(log, {part: laughing})
    start = time.perf_counter()
    assert f"part {part} declares a DOCTYPE" in refusal(log)
    assert time.perf_counter() - start < 2


@pytest.mark.parametrize("where", ["a shared string", "an inline string", "the sheet's plain path"])
def test_an_external_entity_is_never_read_into_the_log(log: Path, where: str) -> None:
    secret = PASSWD.read_text().splitlines()[0]
    reference = b"&passwd;"
    if where == "a shared string":
        changes = {SHARED: lambda xml: with_doctype(xml.replace(b"first call", reference))}
    else:
        cell = b'<row r="20"><c r="A20" t="inlineStr"><is><t>%s</t></is></c></row>' % reference
        if where == "the sheet's plain path":
            cell = b'<row r="20"><c r="A20" t="str"><v>%s</v></c></row>' % reference
        changes = {SHEET: lambda xml: with_doctype(in_sheet_data(xml, cell))}
    rezip(log, changes)
    message = refusal(log)
    assert "declares a DOCTYPE" in message
    assert secret not in message
    with pytest.raises(SourceError):
        sync_once(XlsxBackend(log), settings())
    with zipfile.ZipFile(log) as package:
        assert all(secret.encode() not in package.read(name) for name in package.namelist())


def test_the_messages_name_the_file_and_the_backups_folder(log: Path) -> None:
    rezip(log, {SHEET: lambda xml: xml[:-40]})
    message = refusal(log)
    assert message.startswith(f"{log} cannot be read: part {SHEET} is not well-formed XML")
    assert str(log.parent / "backups") in message
