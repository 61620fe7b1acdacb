"""LibreOffice as a test oracle: does a real office suite open our workbooks, and see what?

Each conversion runs headless with its own fresh user profile, so conversions never share
state with a desktop LibreOffice, with each other, or with the previous test.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import tempfile
from pathlib import Path

TIMEOUT_SECONDS = 120

# Comma, double quotes, UTF-8 (76), from line 1, default column formats, default language,
# quoted fields not forced to text, special numbers detected, cells as stored rather than as
# shown (the 9th token, flipped by `as_shown`), no formulas, no space trimming, and the 12th
# token -1: every sheet, each to `<stem>-<SheetName>.csv` (LibreOffice 7.2 and later).
_CSV_OPTIONS = "44,34,76,1,,0,false,true,{as_shown},false,false,-1"
_CSV_FILTER = "csv:Text - txt - csv (StarCalc):"

_MAC_SOFFICE = Path("/Applications/LibreOffice.app/Contents/MacOS/soffice")
# Pythons that can import LibreOffice's `uno` module: Debian's with python3-uno, and the one
# bundled with LibreOffice on macOS. A virtual environment's cannot.
_UNO_PYTHONS = (
    Path("/usr/bin/python3"),
    Path("/Applications/LibreOffice.app/Contents/Resources/python"),
)


class LibreOfficeError(RuntimeError):
    """LibreOffice could not be found, or failed to convert a file."""


def soffice_path() -> str | None:
    """The LibreOffice executable, or None when LibreOffice is not installed."""
    for name in ("soffice", "libreoffice"):
        if found := shutil.which(name):
            return found
    return str(_MAC_SOFFICE) if _MAC_SOFFICE.exists() else None


def uno_python_path() -> str | None:
    """A Python that can drive LibreOffice over UNO, or None when there is none."""
    for python in _UNO_PYTHONS:
        if python.exists():
            probe = subprocess.run(
                [str(python), "-c", "import uno"], capture_output=True, timeout=60, check=False
            )
            if probe.returncode == 0:
                return str(python)
    return None


def convert(path: Path, fmt: str, outdir: Path, *, soffice: str | None = None) -> Path:
    """Convert `path` with `soffice --convert-to fmt` into `outdir`; return the new file.

    `fmt` is what `--convert-to` takes: an extension, optionally with `:filter:options`.
    """
    _run(path, fmt, outdir, soffice)
    converted = outdir / f"{path.stem}.{fmt.partition(':')[0]}"
    if not converted.exists():
        raise LibreOfficeError(f"LibreOffice reported success but wrote no {converted}")
    return converted


def read_all_sheets(path: Path, tmp: Path, *, as_shown: bool = False) -> dict[str, list[list[str]]]:
    """Every sheet of the workbook at `path` as LibreOffice reads it: sheet name -> rows.

    Cells come back as the text LibreOffice exports: with `as_shown` in each cell's own
    number format (`£4,500`, `24/11/2026`), otherwise as plain values (`4500`; a date still
    as text, but a dd/mm/yyyy one in the en-US default order, `11/24/2026`). Rows are padded
    to the sheet's used range, which LibreOffice stretches to any sparkline. Sheets are
    ordered by name.
    """
    outdir = Path(tempfile.mkdtemp(prefix="csv-", dir=tmp))
    options = _CSV_OPTIONS.format(as_shown="true" if as_shown else "false")
    _run(path, _CSV_FILTER + options, outdir, None)
    prefix = f"{path.stem}-"
    sheets: dict[str, list[list[str]]] = {}
    for csv_path in sorted(outdir.iterdir()):
        if csv_path.name.startswith(prefix) and csv_path.suffix == ".csv":
            with csv_path.open(encoding="utf-8", newline="") as handle:
                sheets[csv_path.stem.removeprefix(prefix)] = list(csv.reader(handle))
    if not sheets:
        raise LibreOfficeError(
            f"LibreOffice exported no sheets of {path.name} into {outdir} "
            "(exporting every sheet to CSV needs LibreOffice 7.2 or later)"
        )
    return sheets


def _run(path: Path, fmt: str, outdir: Path, soffice: str | None) -> None:
    executable = soffice or soffice_path()
    if executable is None:
        raise LibreOfficeError("LibreOffice (soffice) is not installed")
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lo-profile-") as profile:
        command = [
            executable,
            "--headless",
            "--norestore",
            f"-env:UserInstallation={Path(profile).as_uri()}",
            "--convert-to",
            fmt,
            "--outdir",
            str(outdir),
            str(path),
        ]
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise LibreOfficeError(
                f"LibreOffice did not convert {path.name} to {fmt} within {TIMEOUT_SECONDS}s"
            ) from exc
    # soffice exits 0 even when it cannot load the file; it then says so on stderr only.
    if result.returncode != 0 or "Error:" in result.stderr:
        raise LibreOfficeError(
            f"LibreOffice failed to convert {path.name} to {fmt} (exit {result.returncode}):\n"
            f"{result.stderr.strip() or result.stdout.strip()}"
        )
