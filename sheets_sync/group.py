"""Several clinics on one service (SPEC §11): a group file that lists the clinics' own files.

A clinic's file is exactly a single-clinic configuration. The group file holds what the
clinics share (the mail server, the daemon's settings, Google credentials, plans, status
words; any section a clinic file has) and a `[group]` table naming the clinic files:

    [group]
    name = "Riverside Group"
    manager = "operations@riverside-group.example"   # optional: the combined summary
    summary_time = "12:00"        # optional: by default the latest of the clinics' digest_time
    timezone = "Europe/London"    # optional: summary_time's zone, by default the first clinic's
    clinics = ["riverside.toml", "harbour/sheets_sync.toml", "sites/*.toml"]

    [mail]
    mode = "smtp"
    from = "Follow-ups <followups@riverside-group.example>"
    [mail.smtp]
    host = "smtp.riverside-group.example"
    ...

Each clinic reads the shared sections first and its own file over them, key by key; a path is
taken from the folder of the file it is written in. Each clinic keeps its own state and outbox:
`<group state_dir>/<clinic>` and `<group outbox>/<clinic>` unless its file names its own (a
clinic that ran alone before keeps the state folder it had, so its history carries on). The
clinic is known by its file's name (`riverside`, or `harbour` for `harbour/sheets_sync.toml`).

The group's manager gets one summary a day, at `summary_time` once every clinic's digests
are sent (or past their cut-off), through the first clinic's mail settings; its records and
its outbox copies are in `<group state_dir>/group` and `<group outbox>/group`.

A file without `[group]` is one clinic, as before.
"""

from __future__ import annotations

import copy
import glob
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import time
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

from sheets_sync.config import (
    Config,
    ConfigError,
    _BadValueError,
    _time_of_day,
    _timezone,
    load_config,
    parse_config,
    read_config_file,
)
from sheets_sync.core.words import slug
from sheets_sync.errors import SheetsSyncError

GROUP_TABLE = "group"
GROUP_FOLDER = "group"  # inside the group's state folder: the service's lock and its records
STATE_FILE = "state.sqlite3"  # a clinic's state database (State)

# The keys whose values are paths, taken from the folder of the file they are written in.
_PATH_KEYS: tuple[tuple[str, ...], ...] = (
    ("source", "path"),
    ("source", "credentials"),
    ("plans", "file"),
    ("mail", "outbox"),
    ("mail", "smtp", "ca_file"),
    ("daemon", "state_dir"),
)
_T = TypeVar("_T")
_GROUP_KEYS = frozenset({"name", "manager", "clinics", "summary_time", "timezone"})


@dataclass(frozen=True)
class Clinic:
    """One clinic of the group: its key (from its file's name), its file and its config."""

    key: str
    file: Path
    config: Config

    @property
    def name(self) -> str:
        return self.config.clinic.name


@dataclass(frozen=True)
class Group:
    """The clinics one service runs. A single-clinic configuration is a group of one."""

    path: Path
    clinics: tuple[Clinic, ...]
    state_dir: Path  # the service's own folder: its lock, the group summary's records
    name: str = ""
    manager: str | None = None  # the group's manager, who gets the combined summary
    is_group: bool = True  # False: a single-clinic file, read as before
    summary_time: time | None = None  # the combined summary's time; None: no manager
    timezone: ZoneInfo | None = None  # summary_time's zone
    outbox: Path | None = None  # the group's outbox folder (the clinics' are inside)

    def select(self, wanted: str | None) -> tuple[Clinic, ...]:
        """The clinics `--clinic` names (by key or by name, any case), or all of them."""
        if wanted is None:
            return self.clinics
        folded = " ".join(wanted.split()).casefold()
        chosen = tuple(
            clinic
            for clinic in self.clinics
            if folded in (clinic.key.casefold(), " ".join(clinic.name.split()).casefold())
        )
        if not chosen:
            known = ", ".join(f"{c.key} ({c.name})" for c in self.clinics)
            raise UnknownClinic(f"no clinic called {wanted!r} in {self.path}; the clinics: {known}")
        return chosen


class UnknownClinic(SheetsSyncError):
    """`--clinic` names no clinic of the group."""


def load_group(path: Path) -> Group:
    """Read a group file and each clinic's file, validated whole: one `ConfigError` lists
    every problem in every file, each with its file and location."""
    data = read_config_file(path)
    if GROUP_TABLE not in data:
        config = load_config(path)
        key = clinic_key(config.clinic.name) or "clinic"
        return Group(path, (Clinic(key, path, config),), config.daemon.state_dir, is_group=False)
    folder = path.absolute().parent
    problems: list[str] = []
    group = data[GROUP_TABLE]
    shared = _absolute_paths({k: v for k, v in data.items() if k != GROUP_TABLE}, folder)
    if not isinstance(group, dict):
        raise ConfigError([f"[{GROUP_TABLE}]: expected a table"], path=path)
    problems += [f"[group].{key}: unknown key" for key in sorted(set(group) - _GROUP_KEYS)]
    name, manager = group.get("name", ""), group.get("manager")
    if not isinstance(name, str):
        problems.append("[group].name: expected text")
        name = ""
    if manager is not None and not (isinstance(manager, str) and "@" in manager):
        problems.append("[group].manager: expected an email address")
        manager = None
    summary_time = _group_value(group, "summary_time", _time_of_day, problems)
    timezone = _group_value(group, "timezone", _timezone, problems)
    files = _clinic_files(group.get("clinics"), folder, problems)
    state_dir = _shared_folder(shared, ("daemon", "state_dir"), folder / "state")
    outbox = _shared_folder(shared, ("mail", "outbox"), folder / "outbox")
    clinics: list[Clinic] = []
    folders = [file.parent for _, file in files]
    for key, file in files:
        alone = folders.count(file.parent) == 1  # a clinic file with a folder of its own
        try:
            own = read_config_file(file)
        except ConfigError as exc:
            problems += [f"{file}: {problem}" for problem in exc.problems]
            continue
        merged = _merged(shared, own)
        # The group's state folder and outbox hold each clinic's own, unless its file names one.
        own_folders = {
            ("daemon", "state_dir"): (alone and _earlier_state(file, own)) or state_dir / key,
            ("mail", "outbox"): outbox / key,
        }
        for keys, default in own_folders.items():
            if _value(own, keys) is None:
                _set(merged, keys, str(default))
        try:
            config = parse_config(merged, base_dir=file.parent)
            clinics.append(Clinic(key, file, replace(config, group=name or path.stem)))
        except ConfigError as exc:
            for problem in exc.problems:
                where = path if _from_shared(problem, shared, own) else file
                if f"{where}: {problem}" not in problems:  # a shared problem is said once
                    problems.append(f"{where}: {problem}")
    problems += _overlaps(clinics, state_dir)
    if problems:
        raise ConfigError(problems, path=path)
    return Group(
        path,
        tuple(clinics),
        state_dir,
        name=name,
        manager=manager,
        summary_time=summary_time or max(c.config.mail.digest_time for c in clinics),
        timezone=timezone or clinics[0].config.clinic.timezone,
        outbox=outbox,
    )


def _group_value(
    group: Mapping[str, object], key: str, read: Callable[[object], _T], problems: list[str]
) -> _T | None:
    """`[group].key` read by `read`, None when not given or wrong (then with its problem)."""
    if key not in group:
        return None
    try:
        return read(group[key])
    except _BadValueError as exc:
        problems.append(f"[group].{key}: {exc}")
        return None


def clinic_key(text: str) -> str:
    """A clinic's key: its file's name in ASCII letters, digits and hyphens (`st-marys`)."""
    return slug(text)


def _clinic_files(listed: object, folder: Path, problems: list[str]) -> list[tuple[str, Path]]:
    """The clinic files `clinics` names, in order, each with its key; a pattern (`*.toml`)
    stands for the files it matches, sorted."""
    if not (isinstance(listed, list) and listed and all(isinstance(p, str) for p in listed)):
        problems.append(
            '[group].clinics: expected a list of the clinics\' files, like ["riverside.toml"]'
        )
        return []
    found: list[tuple[str, Path]] = []
    keys: dict[str, Path] = {}
    for pattern in listed:
        paths = [Path(p) for p in sorted(glob.glob(str(folder / pattern)))]
        if not paths:
            problems.append(f"[group].clinics: {pattern!r}: no such file")
        for file in paths:
            key = clinic_key(file.parent.name if file.stem == "sheets_sync" else file.stem)
            if key == GROUP_FOLDER:
                problems.append(
                    f"[group].clinics: {file} would be the clinic {key!r}, whose folders the"
                    " group's own summary uses: give the clinic's file another name"
                )
            elif key in keys and keys[key] != file:
                problems.append(
                    f"[group].clinics: {keys[key]} and {file} would both be the clinic {key!r}:"
                    " give each clinic's file its own name"
                )
            elif key not in keys:
                keys[key] = file
                found.append((key or "clinic", file))
    return found


_LOCATION = re.compile(r"\[([\w.-]+)\](?:\.([\w-]+))?")


def _from_shared(problem: str, shared: Mapping[str, object], own: Mapping[str, object]) -> bool:
    """Whether a problem's location (`[mail.smtp].port: ...`) is in the group file's shared
    sections, not in the clinic's own file."""
    found = _LOCATION.match(problem)
    if found is None:
        return False
    keys = (*found[1].split("."), *([found[2]] if found[2] else []))
    return _value(own, keys) is None and _value(shared, keys) is not None


def _earlier_state(file: Path, own: Mapping[str, object]) -> Path | None:
    """The state folder a clinic used when its file ran alone (`state` beside it), when the
    file names none and that folder holds a state: its history carries on there. Only for a
    clinic file with a folder of its own, which no other clinic's file could have used."""
    if _value(own, ("daemon", "state_dir")) is not None:
        return None
    earlier = file.absolute().parent / "state"
    return earlier if (earlier / STATE_FILE).is_file() else None


def _overlaps(clinics: Sequence[Clinic], state_dir: Path) -> list[str]:
    """Two clinics on one state folder, one outbox or one log would mix their records."""
    problems = []
    for what, folder_of in (
        ("[daemon].state_dir", lambda c: c.config.daemon.state_dir),
        ("[mail].outbox", lambda c: c.config.mail.outbox),
        ("[source]", _source_of),
    ):
        seen: dict[object, Clinic] = {}
        for clinic in clinics:
            place = folder_of(clinic)
            if place in seen:
                problems.append(
                    f"{clinic.file}: {what} is the same as the clinic {seen[place].key!r}'s"
                    f" ({place}): give each clinic its own"
                )
            seen.setdefault(place, clinic)
    for clinic in clinics:
        if clinic.config.daemon.state_dir.absolute() == state_dir.absolute():
            problems.append(
                f"{clinic.file}: [daemon].state_dir is the group's own state folder"
                f" ({state_dir}): give the clinic a folder of its own, like"
                f' state_dir = "state/{clinic.key}"'
            )
    return problems


def _source_of(clinic: Clinic) -> object:
    source = clinic.config.source
    return source.path.absolute() if source.path else source.spreadsheet_id


def _absolute_paths(data: dict[str, object], folder: Path) -> dict[str, object]:
    """`data` with its relative paths taken from `folder`, so that they keep their meaning
    in a clinic file elsewhere."""
    data = copy.deepcopy(data)
    for keys in _PATH_KEYS:
        table: object = data
        for key in keys[:-1]:
            table = table.get(key) if isinstance(table, dict) else None
        if isinstance(table, dict) and isinstance(table.get(keys[-1]), str):
            table[keys[-1]] = str(folder / table[keys[-1]])
    return data


def _shared_folder(shared: Mapping[str, object], keys: tuple[str, ...], default: Path) -> Path:
    value = _value(shared, keys)
    return Path(value) if isinstance(value, str) else default


def _value(data: Mapping[str, object], keys: tuple[str, ...]) -> object:
    found: object = data
    for key in keys:
        found = found.get(key) if isinstance(found, dict) else None
    return found


def _merged(shared: Mapping[str, object], own: Mapping[str, object]) -> dict[str, object]:
    """The shared sections with a clinic's own over them, table by table, key by key."""
    merged = copy.deepcopy(dict(shared))
    for key, value in own.items():
        base = merged.get(key)
        if isinstance(base, dict) and isinstance(value, dict):
            merged[key] = _merged(base, value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _set(data: dict[str, object], keys: tuple[str, ...], value: str) -> None:
    table = data
    for key in keys[:-1]:
        inner = table.setdefault(key, {})
        if not isinstance(inner, dict):
            return  # not a table: parse_config reports it
        table = inner
    table[keys[-1]] = value
