"""Reading a workbook that may be damaged or hostile, within bounded time and memory.

A workbook is a zip of XML parts, and both layers can be made to hurt: a part that inflates
to gigabytes, sizes that lie, XML that declares entities to expand (a billion laughs) or to
fetch (`file:///etc/passwd`). Every limit a part is held to is named here, every XML parser
is built here with nothing to expand or fetch, and every error a damaged part can raise in
a third-party library becomes one `DamagedWorkbook` naming the part.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn
from xml.parsers import expat

from lxml import etree

from sheets_sync.backends.base import SourceError
from sheets_sync.core.columns import LAST_COLUMN
from sheets_sync.errors import SheetsSyncError

# Limits a clinic's log never comes near (a 50,000-row log's sheet inflates to ~20 MB) and a
# machine with a few GiB to spare survives.
MAX_PART_BYTES = 1 << 30  # one part, inflated
MAX_PACKAGE_BYTES = 4 << 30  # all parts together, inflated
MAX_PARTS = 50_000
# Spreadsheet XML deflates 5 to 30 times; a bomb about 1,000 times. Small parts may be
# squeezed as hard as they like: they cost little whatever the ratio.
MAX_COMPRESSION_RATIO = 200
RATIO_FLOOR_BYTES = 64 << 20
# Excel's own limits.
MAX_CELL_TEXT = 32_767  # characters in one cell
LAST_ROW = 1_048_576
# Places a worksheet's cells are held in, blanks between them included: 8 bytes each.
MAX_GRID_CELLS = 50_000_000
MAX_SHARED_STRINGS = LAST_ROW * 16  # far past any log; bounds what a damaged count costs
# The only ways spreadsheet programs compress a part; Python inflates the others unbounded.
READABLE_COMPRESSION = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


class NotAWorkbook(SheetsSyncError):
    """The file is something other than an .xlsx or .xlsm workbook: the message says what it
    is and how to save it as a workbook."""


class DamagedWorkbook(NotAWorkbook):
    """The file is a workbook, damaged or hostile; `part` names where, once known."""

    def __init__(self, problem: str, part: str | None = None) -> None:
        self.problem = problem
        self.part = part
        super().__init__(f"part {part} {problem}" if part else problem)


def refusal(path: Path, exc: NotAWorkbook, backups: Path | None) -> SourceError:
    """The message for a file that cannot be synced: what it is or where it is damaged, and
    what to do about it."""
    if not isinstance(exc, DamagedWorkbook):
        return SourceError(f"{path} cannot be read: {exc}")
    kept = f"the backups folder {backups}" if backups else "a backup"
    return SourceError(
        f"{path} cannot be read: {exc}; it is not a workbook as a spreadsheet program saves "
        f"it. Open it in Excel and save it again, or restore it from {kept}"
    )


# What the zip, XML and number readers raise on damaged input, beside their own format errors.
DAMAGE = (
    etree.LxmlError,
    zlib.error,
    EOFError,
    UnicodeError,
    ValueError,
    KeyError,
    IndexError,
    OverflowError,
    RuntimeError,
    NotImplementedError,  # zipfile: "zip file version 7.0", a compression it lacks
)


@contextmanager
def reading(part: str) -> Iterator[None]:
    """Turn whatever a damaged `part` makes the parsers raise into a `DamagedWorkbook`."""
    try:
        yield
    except DamagedWorkbook as exc:
        if exc.part is not None:
            raise
        raise DamagedWorkbook(exc.problem, part) from exc
    except (expat.ExpatError, etree.XMLSyntaxError) as exc:
        raise DamagedWorkbook(f"is not well-formed XML ({exc})", part) from exc
    except zipfile.BadZipFile as exc:
        raise DamagedWorkbook(f"is damaged in the zip ({exc})", part) from exc
    except DAMAGE as exc:
        raise DamagedWorkbook(f"holds something unreadable ({_described(exc)})", part) from exc


def refusing(
    pieces: Iterable[bytes | memoryview], part: str, path: Path, backups: Path | None
) -> Iterator[bytes | memoryview]:
    """`pieces` of a part made as they are written, with what a damaged part raises on the way
    turned into the `refusal` of `path`, as on reading."""
    try:
        with reading(part):
            yield from pieces
    except NotAWorkbook as exc:
        raise refusal(path, exc, backups) from exc


def _described(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"{exc.args[0]!r} is missing"
    if isinstance(exc, IndexError):
        return "a reference points past the end of a list, such as a shared string"
    return str(exc) or type(exc).__name__


def _refuse_doctype(*_: object) -> NoReturn:
    raise DamagedWorkbook(
        "declares a DOCTYPE, which no part of a workbook has; one can expand entities or "
        "fetch other files, so it is refused"
    )


def expat_parser(*, namespaces: bool = False) -> expat.XMLParserType:
    """An expat parser that refuses any DOCTYPE, so no entity is ever declared or expanded.

    With `namespaces` it names each element "namespace local-name", so an element is told by
    its namespace whatever prefix the file binds to it, and a prefix bound to none is refused.
    """
    parser = expat.ParserCreate(namespace_separator=" " if namespaces else None)
    parser.StartDoctypeDeclHandler = _refuse_doctype
    parser.EntityDeclHandler = _refuse_doctype
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    return parser


def walk(
    xml: bytes,
    *,
    start: Callable[[str, dict[str, str]], None],
    end: Callable[[str], None],
    text: Callable[[str], None],
    namespaces: bool = False,
) -> None:
    """Read `xml` once with `expat_parser`, calling the handlers for each element's start and
    end and for its text (whole, not in pieces)."""
    parser = expat_parser(namespaces=namespaces)
    parser.buffer_text = True
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    parser.Parse(xml, True)


def check_well_formed(xml: bytes) -> None:
    """Refuse XML that is not well formed, one fast pass with no callbacks: what the regular
    expressions read is then known to close every tag they look for."""
    expat_parser().Parse(xml, True)


_LXML_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
)


def parse_tree(xml: bytes) -> etree._Element:
    """An XML part as an lxml tree, parsed with nothing fetched or expanded; a DOCTYPE is
    refused, as in `expat_parser`."""
    root = etree.fromstring(xml, _LXML_PARSER)
    if root.getroottree().docinfo.internalDTD is not None:  # any DOCTYPE, internal or not
        _refuse_doctype()
    return root


def check_text_length(length: int, where: str) -> None:
    """Refuse text longer than Excel lets a cell be (checked as it grows, where it can be,
    so an endless string is refused before it is all held)."""
    if length > MAX_CELL_TEXT:
        raise DamagedWorkbook(
            f"holds {length:,} characters or more in {where}, over Excel's limit of "
            f"{MAX_CELL_TEXT:,} for one cell"
        )


def check_cell_place(row: int, col: int, where: str) -> None:
    """Refuse a cell past Excel's last row or column before anything is allocated for it."""
    if not 1 <= row <= LAST_ROW or not 0 <= col <= LAST_COLUMN:
        raise DamagedWorkbook(
            f"holds a cell at {where}, outside the {LAST_ROW:,} rows and "
            f"{LAST_COLUMN + 1:,} columns (A to XFD) a sheet can have"
        )
