"""`python run_sync.py …` works as the README writes it, with any `python` (issue 13): outside
the virtual environment it runs itself with the checkout's `.venv`, and without one it says
what to run, never a traceback.

"Outside the virtual environment" is the base Python of the test's environment started with
-S, so that no site-packages (and none of sheets-sync's packages) are on its path."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from sheets_sync import __version__

ROOT = Path(__file__).resolve().parent.parent
BASE_PYTHON = Path(sys.base_prefix) / "bin" / "python3"


def checkout_copy(folder: Path) -> Path:
    shutil.copy2(ROOT / "run_sync.py", folder / "run_sync.py")
    shutil.copytree(
        ROOT / "sheets_sync", folder / "sheets_sync", ignore=shutil.ignore_patterns("__pycache__")
    )
    return folder / "run_sync.py"


def run_outside(script: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run(
        [str(BASE_PYTHON), "-S", str(script), *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_outside_the_virtual_environment_it_runs_with_the_checkout_s(tmp_path: Path) -> None:
    script = checkout_copy(tmp_path)
    (tmp_path / ".venv").symlink_to(sys.prefix, target_is_directory=True)

    result = run_outside(script, "--version", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"sheets-sync {__version__}"


def test_without_a_virtual_environment_it_says_what_to_run(tmp_path: Path) -> None:
    script = checkout_copy(tmp_path)

    result = run_outside(script, "check", cwd=tmp_path)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"cannot run with this Python ({BASE_PYTHON}" in result.stderr
    assert f"Run `make demo` once in {tmp_path}" in result.stderr
    assert "pipx install ." in result.stderr
