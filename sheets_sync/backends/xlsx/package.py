"""An .xlsx/.xlsm file as the zip package it is: finding its parts, and rebuilding it with
a few parts replaced and every other part carried over unchanged."""

from __future__ import annotations

import copy
import io
import os
import posixpath
import struct
import zipfile
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import cached_property
from pathlib import Path
from typing import IO

from sheets_sync.backends.xlsx.safe import (
    DAMAGE,
    MAX_COMPRESSION_RATIO,
    MAX_PACKAGE_BYTES,
    MAX_PART_BYTES,
    MAX_PARTS,
    MAX_SHARED_STRINGS,
    RATIO_FLOOR_BYTES,
    READABLE_COMPRESSION,
    DamagedWorkbook,
    NotAWorkbook,
    check_text_length,
    parse_tree,
    reading,
    walk,
)
from sheets_sync.backends.xlsx.sheet import MAIN, unescape_text

DOC_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
# Strict Open XML's relationship types and SpreadsheetML namespace: every part of such a
# workbook is in namespaces of its own.
STRICT_REL = "http://purl.oclc.org/ooxml/officeDocument/relationships/"
STRICT_MAIN = "http://purl.oclc.org/ooxml/spreadsheetml/main"
NOT_XLSX = "it is not an Excel workbook (.xlsx or .xlsm): "


class Package:
    """The parts of one workbook file, read from its bytes.

    Every part is held to the limits in `safe` before a byte of it is inflated, so a damaged
    or hostile file costs neither time nor memory; raises `NotAWorkbook` (a `DamagedWorkbook`
    for a workbook that is damaged) naming what is wrong and where.
    """

    def __init__(self, data: bytes) -> None:
        self.data = data
        if not data.startswith(b"PK"):
            raise NotAWorkbook(f"{NOT_XLSX}{_what_it_is(data)}")
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(data))
        except (zipfile.BadZipFile, *DAMAGE) as exc:
            raise NotAWorkbook(
                f"{NOT_XLSX}it is a damaged or unfinished zip file. Restore it from a backup, "
                "or open it in Excel and save it again"
            ) from exc
        self.parts = {info.filename: info for info in self.zip.infolist()}
        self._check_sizes()
        self._refuse_other_formats()
        self.workbook_path = self._office_document()
        with reading(self.workbook_path):
            self.workbook = parse_tree(self.part(self.workbook_path))
        if self.workbook.tag == f"{{{STRICT_MAIN}}}workbook":  # by a tool that mixed the two
            raise NotAWorkbook(_STRICT)

    def _check_sizes(self) -> None:
        """Refuse a package whose parts would inflate past the limits, from the sizes its
        zip directory states; a part whose real size differs fails its checksum on reading."""
        infos = self.zip.infolist()
        if len(infos) > MAX_PARTS:
            raise DamagedWorkbook(f"has {len(infos):,} parts, over the limit of {MAX_PARTS:,}")
        if len(self.parts) != len(infos):
            twice = next(name for name, count in Counter(self.zip.namelist()).items() if count > 1)
            raise DamagedWorkbook("is in the zip twice, so which one counts is not known", twice)
        total = 0
        for info in infos:
            if info.file_size > MAX_PART_BYTES:
                raise DamagedWorkbook(
                    f"inflates to {_size(info.file_size)}, over the {_size(MAX_PART_BYTES)} "
                    "limit for one part",
                    info.filename,
                )
            if info.file_size > RATIO_FLOOR_BYTES and info.file_size > MAX_COMPRESSION_RATIO * max(
                info.compress_size, 1
            ):
                raise DamagedWorkbook(
                    f"inflates {info.file_size // max(info.compress_size, 1):,} times over "
                    f"(to {_size(info.file_size)}), past the {MAX_COMPRESSION_RATIO} times "
                    "spreadsheet XML ever deflates",
                    info.filename,
                )
            self._compressed_span(info)
            total += info.file_size
        if total > MAX_PACKAGE_BYTES:
            raise DamagedWorkbook(
                f"inflates to {_size(total)} in all, over the {_size(MAX_PACKAGE_BYTES)} limit "
                "for a workbook"
            )

    def _refuse_other_formats(self) -> None:
        """A zip-based file that is not an .xlsx (an .xlsb is told by its workbook part)."""
        if "mimetype" in self.parts and b"opendocument" in self.part("mimetype"):
            raise NotAWorkbook(
                f"{NOT_XLSX}it is an OpenDocument spreadsheet (.ods). Open it in LibreOffice "
                "and save it as Excel 2007-365 (.xlsx)"
            )

    def part(self, name: str) -> bytes:
        """A part's bytes, inflated no further than the size the zip states for it (which
        `_check_sizes` has bounded): a part that really inflates to more fails its checksum
        instead of taking the memory."""
        with reading(name):
            info = self.parts.get(name)
            if info is None:
                raise DamagedWorkbook("is missing", name)
            if info.compress_type not in READABLE_COMPRESSION:
                raise DamagedWorkbook(
                    f"is compressed with zip method {info.compress_type}, which spreadsheet "
                    "programs never use",
                    name,
                )
            with self.zip.open(info) as stream:
                data = stream.read(info.file_size)
            if len(data) != info.file_size:
                raise DamagedWorkbook(
                    f"is {len(data):,} bytes, not the {info.file_size:,} the zip states", name
                )
            return data

    def _office_document(self) -> str:
        if "_rels/.rels" not in self.parts:
            raise NotAWorkbook(
                f"{NOT_XLSX}it is a zip file of something else. Open it in the program it came "
                "from and save it as Excel Workbook (.xlsx)"
            )
        with reading("_rels/.rels"):
            rels = parse_tree(self.part("_rels/.rels"))
        for rel in rels.iterfind(f"{{{PKG_REL}}}Relationship"):
            if rel.get("Type", "").endswith("/officeDocument"):
                if rel.get("Type", "").startswith(STRICT_REL):
                    raise NotAWorkbook(_STRICT)
                path = rel.get("Target", "").lstrip("/")
                if path.endswith(".bin"):
                    raise NotAWorkbook(
                        f"{NOT_XLSX}it is an Excel binary workbook (.xlsb). Open it in Excel "
                        "and save it as Excel Workbook (.xlsx)"
                    )
                return path
        raise DamagedWorkbook("names no workbook part", "_rels/.rels")

    def _relationships(self, part: str) -> dict[str, tuple[str, str]]:
        """Id -> (type, part path) of the relationships of `part`."""
        folder, name = posixpath.split(part)
        rels_path = posixpath.join(folder, "_rels", f"{name}.rels")
        if rels_path not in self.parts:
            return {}
        with reading(rels_path):
            rels = parse_tree(self.part(rels_path))
        found = {}
        for rel in rels.iterfind(f"{{{PKG_REL}}}Relationship"):
            if rel.get("TargetMode") == "External":
                continue
            target = rel.get("Target", "")
            path = (
                target.lstrip("/")
                if target.startswith("/")
                else posixpath.normpath(posixpath.join(folder, target))
            )
            found[rel.get("Id", "")] = (rel.get("Type", "").rpartition("/")[2], path)
        return found

    @cached_property
    def _workbook_parts(self) -> dict[str, tuple[str, str]]:
        return self._relationships(self.workbook_path)

    @cached_property
    def sheet_names(self) -> dict[str, str]:
        """Worksheet name -> part path, in the workbook's order."""
        sheets = {}
        for sheet in self.workbook.iterfind(f"{{{MAIN}}}sheets/{{{MAIN}}}sheet"):
            kind, path = self._workbook_parts.get(sheet.get(f"{{{DOC_REL}}}id", ""), ("", ""))
            if kind == "worksheet":
                sheets[sheet.get("name", "")] = path
        return sheets

    def sheet_path(self, name: str) -> str | None:
        """The part of the worksheet called `name` (matched ignoring case), if any."""
        for sheet, path in self.sheet_names.items():
            if sheet.casefold() == name.casefold():
                return path
        return None

    def _workbook_part(self, kind: str) -> str | None:
        return next((path for k, path in self._workbook_parts.values() if k == kind), None)

    @cached_property
    def styles_path(self) -> str | None:
        return self._workbook_part("styles")

    @cached_property
    def date1904(self) -> bool:
        properties = self.workbook.find(f"{{{MAIN}}}workbookPr")
        return properties is not None and properties.get("date1904") in ("1", "true")

    @cached_property
    def shared_strings(self) -> list[str]:
        path = self._workbook_part("sharedStrings")
        if path is None:
            return []
        with reading(path):
            return _SharedStrings().read(self.part(path))

    def tables_of(self, sheet_path: str) -> list[str]:
        return [path for kind, path in self._relationships(sheet_path).values() if kind == "table"]

    def save_as(self, path: Path, replacements: Mapping[str, Iterable[bytes | memoryview]]) -> None:
        """Write the package to `path` with `replacements` (part path -> its bytes, in pieces)
        and every other part carried over as its compressed bytes, never inflated; flushed to
        disk before it returns."""
        with open(path, "wb") as file:
            with zipfile.ZipFile(file, "w") as rebuilt:
                for info in self.zip.infolist():
                    pieces = replacements.get(info.filename)
                    if pieces is None:
                        self._copy_compressed(info, rebuilt)
                        continue
                    with rebuilt.open(info, "w") as part:
                        _write_in_chunks(part, pieces)  # streamed: never whole in memory
            file.flush()
            os.fsync(file.fileno())

    def _copy_compressed(self, info: zipfile.ZipInfo, rebuilt: zipfile.ZipFile) -> None:
        """Carry a part over byte for byte, as zipfile's own `mkdir` adds an entry: a local
        header from the part's directory entry (sizes and checksum in it, so no data
        descriptor follows), then its compressed bytes. zipfile has no public way to do this,
        and inflating and deflating again would cost the time and memory of every image and
        embedded file, bombs included."""
        start, stop = self._compressed_span(info)
        compressed = memoryview(self.data)[start:stop]
        copied = copy.copy(info)
        copied.flag_bits &= ~_DATA_DESCRIPTOR
        copied.extra = _without_zip64(info.extra)
        assert rebuilt.fp is not None  # open for writing
        copied.header_offset = rebuilt.fp.tell()
        rebuilt.fp.write(copied.FileHeader())
        rebuilt.fp.write(compressed)
        rebuilt.filelist.append(copied)
        rebuilt.NameToInfo[copied.filename] = copied
        rebuilt.start_dir = rebuilt.fp.tell()

    def _compressed_span(self, info: zipfile.ZipInfo) -> tuple[int, int]:
        """Where a part's compressed bytes lie in the file, past its local header."""
        header = self.data[info.header_offset : info.header_offset + _LOCAL_HEADER_SIZE]
        if len(header) < _LOCAL_HEADER_SIZE or not header.startswith(_LOCAL_HEADER_SIGNATURE):
            raise DamagedWorkbook("has no local header in the zip", info.filename)
        name_length, extra_length = struct.unpack_from("<HH", header, 26)
        start = info.header_offset + _LOCAL_HEADER_SIZE + name_length + extra_length
        if start + info.compress_size > len(self.data):
            raise DamagedWorkbook("is cut short in the zip", info.filename)
        return start, start + info.compress_size


_LOCAL_HEADER_SIGNATURE = b"PK\x03\x04"
_LOCAL_HEADER_SIZE = 30
_DATA_DESCRIPTOR = 0x08
_ZIP64_EXTRA = 0x0001


def _without_zip64(extra: bytes) -> bytes:
    """A directory entry's extra fields without its zip64 sizes: `FileHeader` adds its own
    when the sizes need them, and two would contradict each other."""
    kept = bytearray()
    position = 0
    while position + 4 <= len(extra):
        kind, length = struct.unpack_from("<HH", extra, position)
        if kind != _ZIP64_EXTRA:
            kept += extra[position : position + 4 + length]
        position += 4 + length
    return bytes(kept)


def _write_in_chunks(part: IO[bytes], pieces: Iterable[bytes | memoryview]) -> None:
    """Many small pieces, written a megabyte at a time: each write to a zip entry costs."""
    chunk = bytearray()
    for piece in pieces:
        chunk += piece
        if len(chunk) >= 1 << 20:
            part.write(chunk)
            chunk.clear()
    part.write(chunk)


class _SharedStrings:
    """The shared strings part read with expat, one string at a time, held to Excel's limits
    on the length of a string and to a bound on their number."""

    def __init__(self) -> None:
        self.strings: list[str] = []
        self.text: list[str] = []
        self.length = 0
        self.in_text = False
        self.in_phonetic = False

    def read(self, xml: bytes) -> list[str]:
        walk(xml, start=self.start, end=self.end, text=self.characters)
        return self.strings

    def start(self, name: str, attrs: dict[str, str]) -> None:
        local = name.rpartition(":")[2]
        if local == "t" and not self.in_phonetic:
            self.in_text = True
        elif local == "rPh":
            self.in_phonetic = True
        elif local == "si":
            if len(self.strings) >= MAX_SHARED_STRINGS:
                raise DamagedWorkbook(
                    f"holds more than {MAX_SHARED_STRINGS:,} strings, more than a sheet has cells"
                )
            self.text = []
            self.length = 0
        elif local == "sst":
            count = attrs.get("uniqueCount", "0")
            if int(count) > MAX_SHARED_STRINGS:
                raise DamagedWorkbook(
                    f"says it holds {count} strings, over the limit of {MAX_SHARED_STRINGS:,}"
                )

    def characters(self, data: str) -> None:
        if self.in_text:
            self.length += len(data)
            check_text_length(self.length, f"shared string {len(self.strings)}")
            self.text.append(data)

    def end(self, name: str) -> None:
        local = name.rpartition(":")[2]
        if local == "t":
            self.in_text = False
        elif local == "rPh":
            self.in_phonetic = False
        elif local == "si":
            self.strings.append(unescape_text("".join(self.text)))


def _size(count: int) -> str:
    """A byte count as people read it: 4.2 GB, 1 GiB for the round limits."""
    if count % (1 << 30) == 0:
        return f"{count >> 30} GiB"
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"


def _what_it_is(data: bytes) -> str:
    """What a file that is not a zip is, by its first bytes, and how to make it a workbook."""
    save = "Open it in Excel and save it as Excel Workbook (.xlsx)"
    if not data:
        return "it is empty (0 bytes). Restore it from a backup"
    if data.startswith(_OLE2):
        if "EncryptedPackage".encode("utf-16-le") in data:
            return (
                "it is protected with a password, which sheets-sync cannot open. Open it in "
                "Excel, remove the password (File > Info > Protect Workbook > Encrypt with "
                "Password) and save it"
            )
        return f"it is an Excel 97-2003 workbook (.xls). {save}"
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        return f"it is a web page (HTML), as some programs export under an Excel name. {save}"
    if head.startswith(b"<?xml") or head.startswith(b"<"):
        return f"it is an XML file, perhaps an Excel 2003 XML spreadsheet. {save}"
    try:
        data[:4096].decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < 4090:  # not just a character cut in two at the end
            return f"its content is not a spreadsheet that sheets-sync knows. {save}"
    return f"it is a text file, such as a CSV export. {save}"


# Refused rather than synced: each part a sync writes (worksheet, styles, tables) would have to
# be written in Strict's namespaces and only in the forms its schema allows, a second dialect
# for a format Excel saves only when asked to; one save in Excel makes the file an .xlsx.
_STRICT = (
    "it is saved as Strict Open XML Spreadsheet, which sheets-sync does not read or write. "
    "In Excel use File > Save As > Excel Workbook (.xlsx); in LibreOffice, save it as "
    "Excel 2007-365 (.xlsx)"
)

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
