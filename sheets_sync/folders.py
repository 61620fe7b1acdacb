"""The state folder and what lives in it hold patient details (remembered follow-ups, the touch
log, backups of the workbook, previews): they are private to the user sheets-sync runs as."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def private_folder(folder: Path) -> Path:
    """Create `folder` (and its parents) so that only its owner may enter it; a folder already
    there that others may enter is closed to them, when it is ours to change. Returns it."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    found = folder.stat()
    if os.name == "posix" and found.st_uid == os.geteuid() and found.st_mode & 0o077:
        os.chmod(folder, stat.S_IMODE(found.st_mode) & 0o700)
    return folder
