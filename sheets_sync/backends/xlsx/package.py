"""An .xlsx/.xlsm file as the zip package it is: finding its parts, and rebuilding it with
a few parts replaced and every other part carried over unchanged."""

from __future__ import annotations

import io
import os
import posixpath
import zipfile
from collections.abc import Iterable, Mapping
from functools import cached_property
from pathlib import Path
from typing import IO

from lxml import etree

from sheets_sync.backends.xlsx.sheet import unescape_text
from sheets_sync.errors import SheetsSyncError

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
DOC_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"


class NotAWorkbook(SheetsSyncError):
    pass


class Package:
    """The parts of one workbook file, read from its bytes."""

    def __init__(self, data: bytes) -> None:
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(data))
            self.workbook_path = self._office_document()
            self.workbook = etree.fromstring(self.zip.read(self.workbook_path))
        except (zipfile.BadZipFile, KeyError, etree.XMLSyntaxError) as exc:
            raise NotAWorkbook("it is not an Excel workbook (.xlsx or .xlsm)") from exc

    def part(self, name: str) -> bytes:
        return self.zip.read(name)

    def _office_document(self) -> str:
        rels = etree.fromstring(self.zip.read("_rels/.rels"))
        for rel in rels.iterfind(f"{{{PKG_REL}}}Relationship"):
            if rel.get("Type", "").endswith("/officeDocument"):
                return rel.get("Target", "").lstrip("/")
        raise KeyError("officeDocument")

    def _relationships(self, part: str) -> dict[str, tuple[str, str]]:
        """Id -> (type, part path) of the relationships of `part`."""
        folder, name = posixpath.split(part)
        rels_path = posixpath.join(folder, "_rels", f"{name}.rels")
        if rels_path not in self.zip.namelist():
            return {}
        rels = etree.fromstring(self.zip.read(rels_path))
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
        strings = []
        for _, item in etree.iterparse(io.BytesIO(self.zip.read(path)), tag=f"{{{MAIN}}}si"):
            strings.append(
                unescape_text(
                    "".join(
                        text.text or ""
                        for text in item.iter(f"{{{MAIN}}}t")
                        if text.getparent() is not None
                        and etree.QName(text.getparent()).localname != "rPh"
                    )
                )
            )
            item.clear()
        return strings

    def tables_of(self, sheet_path: str) -> list[str]:
        return [path for kind, path in self._relationships(sheet_path).values() if kind == "table"]

    def save_as(self, path: Path, replacements: Mapping[str, Iterable[bytes | memoryview]]) -> None:
        """Write the package to `path` with `replacements` (part path -> its bytes, in pieces)
        and every other part carried over; flushed to disk before it returns."""
        with open(path, "wb") as file:
            with zipfile.ZipFile(file, "w") as rebuilt:
                for info in self.zip.infolist():
                    pieces = replacements.get(info.filename)
                    if pieces is None:
                        rebuilt.writestr(
                            info, self.zip.read(info), compress_type=info.compress_type
                        )
                        continue
                    with rebuilt.open(info, "w") as part:  # streamed: never whole in memory
                        _write_in_chunks(part, pieces)
            file.flush()
            os.fsync(file.fileno())


def _write_in_chunks(part: IO[bytes], pieces: Iterable[bytes | memoryview]) -> None:
    """Many small pieces, written a megabyte at a time: each write to a zip entry costs."""
    chunk = bytearray()
    for piece in pieces:
        chunk += piece
        if len(chunk) >= 1 << 20:
            part.write(chunk)
            chunk.clear()
    part.write(chunk)
