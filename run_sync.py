"""Run sheets-sync from a checkout: `python run_sync.py once|check|digest --preview`.

Any `python` will do. Where sheets-sync's packages are not installed for it (the usual case
outside the virtual environment), this runs itself again with the checkout's `.venv`, which
`make demo` or `make test` create; without one, it says what to run instead of a traceback.
Without type hints or newer syntax, so that a Python older than 3.11 gets that message too.
"""

import os
import subprocess
import sys
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent
VENV = CHECKOUT / ".venv"


def _venv_python():
    """The checkout's virtual environment's Python, unless it is the one running this."""
    if Path(sys.prefix).resolve() == VENV.resolve():
        return None
    for python in (VENV / "bin" / "python", VENV / "Scripts" / "python.exe"):
        if python.is_file():
            return python
    return None


def _run_in_venv(python, args):
    command = [str(python), str(Path(__file__).resolve()), *args]
    if os.name == "nt":  # Windows has no exec that keeps the console's process
        return subprocess.call(command)
    os.execv(command[0], command)
    return 1  # not reached: execv replaced this process


def _not_installed(problem):
    version = ".".join(str(part) for part in sys.version_info[:3])
    print(
        f"run_sync.py: sheets-sync cannot run with this Python ({sys.executable}, {version}):"
        f" {problem}.\nRun `make demo` once in {CHECKOUT} to create its virtual environment"
        " (.venv), then `python run_sync.py …` uses it; or install sheets-sync with"
        " `pipx install .` and run `sheets-sync …` (README: Installing for production).",
        file=sys.stderr,
    )
    return 1


def main():
    try:
        from sheets_sync.cli import main as sheets_sync
    except (ImportError, SyntaxError) as exc:
        python = _venv_python()
        if python is not None:
            return _run_in_venv(python, sys.argv[1:])
        if sys.version_info < (3, 11):  # noqa: UP036 (this file runs on any Python)
            return _not_installed("sheets-sync needs Python 3.11 or newer")
        return _not_installed(f"{type(exc).__name__}: {exc}")
    return sheets_sync()


if __name__ == "__main__":
    raise SystemExit(main())
