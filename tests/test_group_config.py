"""A group of clinics in one configuration (issue 16, point 1; SPEC §11): a group file with
the shared sections and `[group] clinics`, each clinic's own file over them."""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path

import pytest

from sheets_sync.config import ConfigError, load_config
from sheets_sync.group import UnknownClinic, load_group
from sheets_sync.state import State

SHARED = """
[group]
name = "Riverside Group"
manager = "ops@group.example"
clinics = ["clinics/*.toml"]

[mail]
mode = "smtp"
from = "Follow-ups <followups@group.example>"
outbox = "mail-out"
[mail.smtp]
host = "smtp.group.example"
username = "followups@group.example"
password_env = "SMTP_PASSWORD"

[daemon]
sync_every_minutes = 10
"""

RIVERSIDE = """
[clinic]
name = "Riverside Aesthetics"
timezone = "Europe/London"
[source]
kind = "xlsx"
path = "../logs/riverside.xlsx"
[mail]
manager = "manager@riverside.example"
"""

HARBOUR = """
[clinic]
name = "Harbour Skin"
timezone = "America/New_York"
date_order = "MDY"
[source]
kind = "xlsx"
path = "../logs/harbour.xlsx"
[mail]
digest_time = "08:15"
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def group_file(tmp_path: Path) -> Path:
    write(tmp_path / "clinics" / "riverside.toml", RIVERSIDE)
    write(tmp_path / "clinics" / "harbour.toml", HARBOUR)
    return write(tmp_path / "group.toml", SHARED)


def test_each_clinic_reads_the_shared_sections_under_its_own(group_file: Path) -> None:
    group = load_group(group_file)
    folder = group_file.parent

    assert group.is_group
    assert group.name == "Riverside Group"
    assert group.manager == "ops@group.example"
    assert [c.key for c in group.clinics] == ["harbour", "riverside"]  # the pattern's order
    harbour, riverside = (c.config for c in group.clinics)
    for config in (harbour, riverside):
        assert config.mail.smtp is not None
        assert config.mail.smtp.host == "smtp.group.example"
        assert config.daemon.sync_every_minutes == 10
    assert harbour.mail.digest_time == time(8, 15)
    assert riverside.mail.digest_time == time(7, 30)
    assert harbour.clinic.timezone.key == "America/New_York"
    assert riverside.mail.manager == "manager@riverside.example"
    assert harbour.mail.manager is None
    # A path is taken from the folder of the file it is written in.
    assert riverside.source.path == folder / "logs" / "riverside.xlsx"
    # Each clinic has its own state and outbox inside the group's.
    assert group.state_dir == folder / "state"
    assert riverside.daemon.state_dir == folder / "state" / "riverside"
    assert riverside.mail.outbox == folder / "mail-out" / "riverside"
    assert harbour.mail.outbox == folder / "mail-out" / "harbour"


def test_a_single_clinic_file_is_a_group_of_one_read_as_before() -> None:
    path = Path(__file__).resolve().parents[1] / "config" / "sheets_sync.toml"

    group = load_group(path)

    assert not group.is_group
    assert [c.config for c in group.clinics] == [load_config(path)]
    assert group.state_dir == load_config(path).daemon.state_dir


def test_every_problem_in_every_file_is_listed_at_once(group_file: Path) -> None:
    folder = group_file.parent
    write(folder / "clinics" / "harbour.toml", HARBOUR + "\n[owners]\nAnna = 'not an address'\n")
    write(
        folder / "clinics" / "riverside.toml",
        RIVERSIDE.replace('timezone = "Europe/London"', 'timezone = "Europe/Riverside"'),
    )
    write(
        group_file,
        SHARED.replace(
            'clinics = ["clinics/*.toml"]',
            'clinics = ["clinics/*.toml", "gone.toml"]\ncolour = "blue"',
        ),
    )

    with pytest.raises(ConfigError) as caught:
        load_group(group_file)

    problems = caught.value.problems
    assert "[group].colour: unknown key" in problems
    assert "[group].clinics: 'gone.toml': no such file" in problems
    assert any(p.startswith(f"{folder / 'clinics' / 'harbour.toml'}: [owners]") for p in problems)
    assert any(
        p.startswith(f"{folder / 'clinics' / 'riverside.toml'}: [clinic].timezone")
        for p in problems
    )
    assert caught.value.path == group_file


def test_two_clinics_on_one_log_are_refused(group_file: Path) -> None:
    folder = group_file.parent
    write(folder / "clinics" / "harbour.toml", HARBOUR.replace("harbour.xlsx", "riverside.xlsx"))

    with pytest.raises(ConfigError) as caught:
        load_group(group_file)

    assert any("[source] is the same as the clinic 'harbour'" in p for p in caught.value.problems)


def test_a_clinic_on_the_groups_own_state_folder_is_refused(group_file: Path) -> None:
    folder = group_file.parent
    write(folder / "clinics" / "harbour.toml", HARBOUR + '\n[daemon]\nstate_dir = "../state"\n')

    with pytest.raises(ConfigError) as caught:
        load_group(group_file)

    assert any("the group's own state folder" in p for p in caught.value.problems)


def test_a_clinic_that_ran_alone_keeps_its_state_folder(group_file: Path) -> None:
    """Migration (point 6): the clinic's file, listed in a group as it was, names no state
    folder; the one it used alone (`state` beside it) holds its history, so it stays."""
    folder = group_file.parent
    alone = write(
        folder / "riverside" / "sheets_sync.toml", RIVERSIDE.replace("../logs", "../elsewhere")
    )
    write(
        group_file,
        SHARED.replace('"clinics/*.toml"', '"clinics/harbour.toml", "riverside/sheets_sync.toml"'),
    )
    with State(alone.parent / "state"):
        pass  # the state it kept while it ran alone

    by_key = {c.key: c.config for c in load_group(group_file).clinics}

    assert by_key["riverside"].daemon.state_dir == alone.parent / "state"
    assert by_key["harbour"].daemon.state_dir == folder / "state" / "harbour"


def test_a_state_beside_two_clinic_files_is_nobodys(group_file: Path) -> None:
    """Whose history a `state` folder beside two clinic files holds nobody can tell: each
    clinic gets its own in the group's state folder (a clinic file naming it keeps it)."""
    folder = group_file.parent
    with State(folder / "clinics" / "state"):
        pass

    by_key = {c.key: c.config for c in load_group(group_file).clinics}

    assert by_key["harbour"].daemon.state_dir == folder / "state" / "harbour"
    assert by_key["riverside"].daemon.state_dir == folder / "state" / "riverside"


def test_clinics_are_chosen_by_key_or_name(group_file: Path) -> None:
    group = load_group(group_file)

    assert [c.key for c in group.select("harbour")] == ["harbour"]
    assert [c.key for c in group.select("  riverside   AESTHETICS")] == ["riverside"]
    assert len(group.select(None)) == 2
    with pytest.raises(UnknownClinic, match=r"harbour \(Harbour Skin\), riverside"):
        group.select("Seaside")


def test_the_readmes_group_example_reads_as_it_says(tmp_path: Path) -> None:
    """The README's group file and clinic file, as printed there, make the group it describes."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Several clinics on one service", 1)[1]
    blocks = re.findall(r"```toml\n(.*?)```", section, re.DOTALL)[:2]
    group_text, clinic_text = blocks
    assert group_text.startswith("# /etc/sheets-sync/group.toml")
    write(tmp_path / "clinics" / "harbour.toml", clinic_text)

    group = load_group(write(tmp_path / "group.toml", group_text))

    (harbour,) = group.clinics
    assert harbour.key == "harbour"
    assert harbour.config.clinic.name == "Harbour Skin"
    assert harbour.config.mail.smtp is not None
    assert harbour.config.mail.smtp.host == "smtp.riverside-group.example"
    assert harbour.config.daemon.state_dir == Path("/var/lib/sheets-sync/harbour")
    assert harbour.config.mail.digest_time == time(8, 0)
