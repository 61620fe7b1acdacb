"""Commands over a group's clinics (SPEC §11): each clinic's output under a heading naming it,
each clinic's failure told there and kept from the others, one exit code for the whole.

A single-clinic configuration is a group of one: no heading, and its errors read and exit as
they always did, so that the commands behave exactly as before for a clinic alone.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from sheets_sync.config import ConfigError
from sheets_sync.core.values import quoted
from sheets_sync.daemon import Clock, Daemon, GroupSummary, Service, SystemClock
from sheets_sync.errors import SheetsSyncError
from sheets_sync.group import Clinic, Group
from sheets_sync.logs import one_line, record_unexpected

# A bug in sheets-sync itself, or something it did not foresee (sysexits' EX_SOFTWARE).
UNEXPECTED_EXIT = 70

Found = TypeVar("Found")


def say(line: str, *, err: bool = False) -> None:
    """Print one line of output; text in it from a cell, a sheet or a file name cannot break the
    line, move the cursor or reorder what the console shows. Flushed, so that a clinic's error
    (on standard error) shows under its heading (on standard output) when both go to one place.
    """
    print(one_line(line), file=sys.stderr if err else sys.stdout, flush=True)


def heading(clinic: Clinic) -> str:
    return f"=== {clinic.name} ({clinic.key}) ==="


def each_clinic(
    group: Group,
    clinics: Sequence[Clinic],
    act: Callable[[Clinic], int],
    *,
    command: str,
    headings: bool = True,
) -> int:
    """`act` on each clinic in turn, under its heading when the group has several; a clinic's
    failure is told and the next clinic goes on. The exit code is the worst clinic's."""
    named = len(group.clinics) > 1
    codes = []
    for number, clinic in enumerate(clinics):
        if named and headings:
            if number:
                say("")
            say(heading(clinic))
        codes.append(contained(clinic, act, command=command, named=named))
    return max(codes, default=0)


def contained(clinic: Clinic, act: Callable[[Clinic], int], *, command: str, named: bool) -> int:
    """`act(clinic)`'s exit code, or its failure told in one line (naming the clinic when
    `named`) and turned into the exit code a clinic alone has always given for it."""
    try:
        return act(clinic)
    except ConfigError as exc:
        for line in exc.lines():
            say(line, err=True)
        return 2
    except SheetsSyncError as exc:
        say(f"sheets-sync{_tag(clinic, named)}: {exc}", err=True)
        return 1
    except BrokenPipeError:  # output piped into `head`: nobody reads the other clinics either
        raise
    except Exception as exc:
        message = unexpected(exc, clinic.config.daemon.state_dir, command)
        say(f"[{clinic.key}] {message}" if named else message, err=True)
        return UNEXPECTED_EXIT


def find_in_clinics(
    group: Group,
    clinics: Sequence[Clinic],
    wanted: str,
    look: Callable[[Clinic], Found],
    show: Callable[[Clinic, Found], int],
    *,
    not_found: type[SheetsSyncError],
    command: str,
) -> int:
    """One prospect (`explain`, `history`) without `--clinic`: `look` for it in every clinic
    and `show` it from the one clinic that has it, saying which. Found in several, they are
    listed for `--clinic` to choose; found in none, each clinic's answer is told."""
    found: list[tuple[Clinic, Found]] = []
    answers: list[tuple[Clinic, str]] = []

    def search(clinic: Clinic) -> int:
        try:
            found.append((clinic, look(clinic)))
        except not_found as exc:
            answers.append((clinic, str(exc)))
        return 0

    code = each_clinic(group, clinics, search, command=command, headings=False)
    if len(found) == 1:
        clinic, result = found[0]
        say(f"Found in {clinic.name} ({clinic.key}).")
        shown = contained(clinic, lambda c: show(c, result), command=command, named=True)
        return max(code, shown)
    if found:
        listed = ", ".join(f"{clinic.key} ({clinic.name})" for clinic, _ in found)
        say(
            f"sheets-sync: {quoted(wanted)} is in {len(found)} clinics: {listed}; pass"
            " --clinic NAME to choose one",
            err=True,
        )
    else:
        for clinic, answer in answers:
            say(f"sheets-sync{_tag(clinic, True)}: {answer}", err=True)
    return max(code, 1)


def clinic_path(path: Path, clinic: Clinic, *, folder: bool = False) -> Path:
    """A clinic's own file (`report-riverside.html` for `report.html`) or folder (`out/riverside`)
    when one command writes for several clinics."""
    if folder:
        return path / clinic.key
    return path.with_name(f"{path.stem}-{clinic.key}{path.suffix}")


def group_service(group: Group, environ: Mapping[str, str], clock: Clock | None = None) -> Service:
    """The service `sheets-sync run` runs: every clinic of the group side by side, and the
    group manager's summary when the group file names one; a clinic alone keeps the key ""
    (its log lines name no clinic, as before)."""
    clock = clock or SystemClock()
    return Service(
        clinics=[
            (clinic.key if group.is_group else "", Daemon(clinic.config, environ, clock=clock))
            for clinic in group.clinics
        ],
        clock=clock,
        group_summary=GroupSummary.of(group, environ),
    )


def unexpected(exc: Exception, folder: Path | None, command: str) -> str:
    """Record an error nobody foresaw in the state folder's errors.log; the line for people."""
    what = f"sheets-sync hit an unexpected problem: {type(exc).__name__}; nothing more was written."
    if folder is None:
        return f"{what} The configuration was not read yet, so no details were saved."
    try:
        log = record_unexpected(exc, folder, command)
    except OSError as error:
        return f"{what} Its details could not be saved either: {error.strerror}."
    return f"{what} Details are in the log {log}; pass it to whoever looks after sheets-sync."


def _tag(clinic: Clinic, named: bool) -> str:
    return f" [{clinic.key}]" if named else ""
