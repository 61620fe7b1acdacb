"""Installing for production (issue 13): the package installs from the checkout without the
developer set-up, and its command works from any folder.

A fresh virtual environment gets sheets-sync built and installed into it from a copy of the
checkout, as `pipx install .` or `pip install .` do: pip builds it in isolation with the
setuptools that pyproject.toml asks for (from the package index pip is set up with). The
packages sheets-sync needs at run time are borrowed from the test's own environment through a
.pth file instead of fetched (`--no-deps`).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sysconfig
import tomllib
import venv
from pathlib import Path

import pytest

from sheets_sync import __version__, cli

ROOT = Path(__file__).resolve().parent.parent
VERSION_OF_THE_INSTALL = "import importlib.metadata as m; print(m.version('sheets-sync'))"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `bin` folder of a fresh environment with sheets-sync installed, not editable."""
    tmp = tmp_path_factory.mktemp("install")
    source = tmp / "checkout"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "sheets_sync", source / "sheets_sync", ignore=shutil.ignore_patterns("__pycache__")
    )
    target = tmp / "env"
    venv.EnvBuilder(with_pip=True).create(target)
    python = target / ("Scripts" if os.name == "nt" else "bin") / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # A bare path in a .pth file adds the folder but runs none of its own .pth files, so the
    # developer's editable install of sheets-sync stays out of the new environment.
    Path(site, "borrowed-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--no-deps", str(source)],
        cwd=tmp,
        env=_clean_environment(),
        capture_output=True,
        check=True,
    )
    return python.parent


def _clean_environment() -> dict[str, str]:
    """The test run's environment without what points Python at the checkout."""
    return {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    }


def _run(bin_folder: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bin_folder / "sheets-sync"), *args],
        cwd=cwd,
        env=_clean_environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_installed_command_prints_its_version_from_outside_the_checkout(
    installed: Path, tmp_path: Path
) -> None:
    result = _run(installed, "--version", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"sheets-sync {__version__}"
    where = subprocess.run(
        [installed / "python", "-c", "import sheets_sync; print(sheets_sync.__file__)"],
        cwd=tmp_path,
        env=_clean_environment(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert not Path(where.strip()).is_relative_to(ROOT)  # the installed copy, not the checkout


def test_the_installed_command_lists_its_commands(installed: Path, tmp_path: Path) -> None:
    result = _run(installed, "--help", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    for command in ("once", "run", "status", "check", "send-test", "digest"):
        assert command in result.stdout


def test_the_version_is_the_package_s(installed: Path, tmp_path: Path) -> None:
    """pyproject.toml takes its version from sheets_sync.__version__: one place says it."""
    said = subprocess.run(
        [
            installed / "python",
            "-c",
            "import importlib.metadata as m; print(m.version('sheets-sync'))",
        ],
        cwd=tmp_path,
        env=_clean_environment(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()

    assert said == __version__


# --- the systemd units ----------------------------------------------------------------------


def _service_settings(unit: Path) -> dict[str, list[str]]:
    """A unit file's [Service] settings, each key with its values in order (a key may repeat)."""
    settings: dict[str, list[str]] = {}
    section = ""
    for line in unit.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
        elif section == "Service" and line and not line.startswith("#"):
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


def _console_script(program: str) -> str:
    """The console script `program` runs from the checkout's .venv, as pyproject.toml names it."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "scripts"
    ]
    assert program.startswith("/opt/sheets-sync/.venv/bin/"), program
    name = program.rsplit("/", 1)[1]
    assert name in scripts, f"{name} is not a command pyproject.toml installs"
    return str(scripts[name])


@pytest.mark.parametrize(
    ("unit", "instance", "config"),
    [
        ("sheets-sync.service", "", None),  # the config from SHEETS_SYNC_CONFIG
        ("sheets-sync@.service", "riverside", "/etc/sheets-sync/riverside.toml"),
    ],
)
def test_each_unit_starts_the_service_with_a_command_line_sheets_sync_accepts(
    unit: str, instance: str, config: str | None
) -> None:
    settings = _service_settings(ROOT / "contrib" / unit)
    (exec_start,) = settings["ExecStart"]
    program, *args = shlex.split(exec_start.replace("%i", instance))

    assert _console_script(program) == "sheets_sync.cli:main"
    parsed = cli._parser().parse_args(args)
    assert parsed.command_name == "run"
    assert parsed.config == config


def test_the_template_gives_each_clinic_its_own_state_folder_and_secrets() -> None:
    settings = _service_settings(ROOT / "contrib" / "sheets-sync@.service")

    assert settings["StateDirectory"] == ["sheets-sync/%i"]
    assert settings["EnvironmentFile"] == [
        "-/etc/sheets-sync/secrets.env",
        "-/etc/sheets-sync/%i.env",
    ]
