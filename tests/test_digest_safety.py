"""One bad cell never stops the clinic (issue 10): no digest silently lost, one owner's
problem stays with that owner, and the state of an earlier version upgrades without a resend.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from sheets_sync import engine
from sheets_sync.backends.memory import MemoryBackend
from sheets_sync.config import Config, parse_config
from sheets_sync.core.check import staff_problems
from sheets_sync.core.values import CellValue
from sheets_sync.daemon import status_lines
from sheets_sync.engine import DigestRun, send_digests, sync
from sheets_sync.mail.outbox import Outbox
from sheets_sync.state import _MIGRATIONS, State
from tests.test_engine import HEADER, NOW, PLANS, TODAY, parsed

ZWSP, BOM, LRM, RLO = "\u200b", "\ufeff", "\u200e", "\u202e"

NON_LATIN = {
    "Ελένη Παπαδοπούλου": "eleni@clinic.example",
    "فاطمة الزهراء": "fatima@clinic.example",
    "Ольга Иванова": "olga@clinic.example",
    "王芳": "wang@clinic.example",
}
LOOKALIKES = {
    "Zoë Smith": "zoe.umlaut@clinic.example",
    "Zoe Smith": "zoe.plain@clinic.example",
    "Anne-Marie Roy": "annemarie@clinic.example",
    "Anne Marie Roy": "anne.marie@clinic.example",
}


def make_config(tmp_path: Path, owners: dict[str, str] | None = None) -> Config:
    return parse_config(
        {
            "source": {"kind": "xlsx", "path": "log.xlsx"},
            "plans": {"file": str(PLANS)},
            "owners": owners or {},
            "mail": {
                "outbox": "outbox",
                "from": "Riverside Aesthetics <followups@riverside.example>",
                "manager": "Manager <manager@riverside.example>",
            },
            "daemon": {"state_dir": "state"},
        },
        base_dir=tmp_path,
    )


def due_rows(owners: list[str], *, name: str = "Pat Doe") -> list[list[CellValue]]:
    """One prospect due today per owner, in the order given."""
    return [HEADER] + [
        [f"{name} {number}", owner, TODAY, "Open", None, 0, 500]
        for number, owner in enumerate(owners, start=1)
    ]


def staff(book: dict[str, str]) -> list[list[CellValue]]:
    return [["Name", "Email"], *([name, email] for name, email in book.items())]


@pytest.fixture
def state(tmp_path: Path) -> Iterator[State]:
    with State(tmp_path / "state") as opened:
        yield opened


def send(
    rows: list[list[CellValue]],
    staff_rows: list[list[CellValue]],
    config: Config,
    state: State,
    delivery: object | None = None,
) -> DigestRun:
    report = sync(MemoryBackend(rows, staff_rows), config, state, today=TODAY, dry_run=True)
    chosen = delivery if delivery is not None else Outbox(config.mail.outbox)
    return send_digests(report, config, state, chosen, today=TODAY, now=NOW)  # type: ignore[arg-type]


def delivered_to(config: Config) -> list[str]:
    return sorted(
        parsed(path)["To"].addresses[0].addr_spec for path in config.mail.outbox.glob("*.eml")
    )


def manager_text(config: Config) -> str:
    [path] = config.mail.outbox.glob("*-manager.eml")
    body = parsed(path).get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


# --- 1. no digest is silently lost ---------------------------------------------------------


@pytest.mark.parametrize("book", [NON_LATIN, LOOKALIKES], ids=["non-latin", "lookalikes"])
def test_every_owner_gets_their_own_digest_whatever_their_name(
    tmp_path: Path, state: State, book: dict[str, str]
) -> None:
    config = make_config(tmp_path)

    run = send(due_rows(list(book)), staff(book), config, state)

    assert len(run.sent) == len(book) + 1  # each owner, and the manager
    assert len(set(run.sent)) == len(run.sent)
    assert delivered_to(config) == sorted([*book.values(), "manager@riverside.example"])


def test_keys_follow_the_address_ignoring_case_and_stay_plain_file_names(
    tmp_path: Path, state: State
) -> None:
    config = make_config(tmp_path)
    book = {**NON_LATIN, **LOOKALIKES, "Anna": "anna@clinic.example"}

    run = send(due_rows(list(book)), staff(book), config, state)

    keys = [key for key in run.sent if key != "manager"]
    assert "owner-anna" in keys  # a plain name keeps its readable key
    for key in keys:
        assert key.startswith("owner-")
        assert key.isascii()
        assert not any(char in key for char in '/\\:*?"<>| ')
    again = send(due_rows(["ANNA@CLINIC.EXAMPLE"]), staff(book), config, state)
    assert again.sent == []  # Anna's address in capitals is Anna: already sent today


def schema_6_state(folder: Path, *records: tuple[str, str]) -> None:
    """A state folder as sheets-sync left it before keys followed addresses, with today's
    digests (recipient, status) under their name keys."""
    folder.mkdir(parents=True)
    db = sqlite3.connect(folder / "state.sqlite3")
    for migration in _MIGRATIONS[:6]:
        for statement in migration.split(";"):
            db.execute(statement)
    db.executemany(
        "INSERT INTO digests (day, recipient, message_id, status, attempts) VALUES (?, ?, ?, ?, 1)",
        [(TODAY.isoformat(), key, f"<{key}@old.example>", status) for key, status in records],
    )
    db.execute("PRAGMA user_version = 6")
    db.commit()
    db.close()


def test_upgrading_mid_day_resends_nothing_and_the_skipped_owners_get_theirs(
    tmp_path: Path,
) -> None:
    # The old key of every one of them was owner-owner: the first was sent, three skipped.
    config = make_config(tmp_path)
    schema_6_state(config.daemon.state_dir, ("owner-owner", "sent"), ("manager", "sent"))
    others = list(NON_LATIN)[1:]

    with State(config.daemon.state_dir) as state:
        run = send(due_rows(list(NON_LATIN)), staff(NON_LATIN), config, state)
        records = state.db.execute("SELECT recipient, message_id FROM digests").fetchall()

    assert delivered_to(config) == sorted(NON_LATIN[owner] for owner in others)
    assert "manager" not in run.sent
    adopted = [key for key, message_id in records if message_id == "<owner-owner@old.example>"]
    assert len(adopted) == 1
    assert adopted[0] != "owner-owner"


@pytest.mark.parametrize(
    "order",
    [["Zoë Smith", "Zoe Smith"], ["Zoe Smith", "Zoë Smith"]],
    ids=["zoë first", "zoe first"],
)
def test_upgrading_gives_the_old_record_to_the_owner_it_was_sent_to(
    tmp_path: Path, order: list[str]
) -> None:
    config = make_config(tmp_path)
    schema_6_state(config.daemon.state_dir, ("owner-zoe-smith", "sent"))

    with State(config.daemon.state_dir) as state:
        send(due_rows(order), staff(LOOKALIKES), config, state)
        second = send(due_rows(order), staff(LOOKALIKES), config, state)

    assert delivered_to(config) == sorted([LOOKALIKES[order[1]], "manager@riverside.example"])
    assert second.sent == []


# --- 2. one owner's problem stays with that owner -----------------------------------------


@pytest.mark.parametrize("invisible", [ZWSP, BOM, LRM, RLO], ids=["zwsp", "bom", "lrm", "rlo"])
@pytest.mark.parametrize("where", ["staff sheet", "owners table", "owner cell"])
def test_invisible_characters_in_an_address_are_left_out(
    tmp_path: Path, state: State, invisible: str, where: str
) -> None:
    hidden = f"{invisible}ben{invisible}@clinic.example{invisible}"
    book = {"Anna": "anna@clinic.example", "Ben": "ben@clinic.example"}
    owners = {"Ben": hidden} if where == "owners table" else {}
    if where == "staff sheet":
        book["Ben"] = hidden
    config = make_config(tmp_path, owners)
    ben = hidden if where == "owner cell" else "Ben"

    run = send(due_rows(["Anna", ben]), staff(book), config, state)

    assert run.failed == {}
    assert run.waiting == {}
    assert delivered_to(config) == [
        "anna@clinic.example",
        "ben@clinic.example",
        "manager@riverside.example",
    ]


@pytest.mark.parametrize("where", ["staff sheet", "owner cell"])
def test_an_address_no_server_takes_sends_the_rows_to_the_manager_with_the_reason(
    tmp_path: Path, state: State, where: str
) -> None:
    book = {"Anna": "anna@clinic.example", "Zoë": "zoë@clinic.example"}
    config = make_config(tmp_path)
    zoe = "Zoë" if where == "staff sheet" else "zoë@clinic.example"

    run = send(due_rows(["Anna", zoe], name="Lee"), staff(book), config, state)

    assert run.failed == {}
    assert run.waiting == {}
    assert delivered_to(config) == ["anna@clinic.example", "manager@riverside.example"]
    summary = manager_text(config)
    assert "Lee 2" in summary
    assert '"zoë@clinic.example" has letters outside ASCII before the @' in summary


class ChokingDelivery(Outbox):
    """An outbox that fails, as no delivery should, with a bare exception for one address."""

    def __init__(self, folder: Path, chokes_on: str) -> None:
        super().__init__(folder)
        self.chokes_on = chokes_on

    def send(self, message: EmailMessage, key: str) -> Path:
        if message["To"].addresses[0].addr_spec == self.chokes_on:
            # What smtplib raised on half an emoji.
            raise UnicodeEncodeError("utf-8", "\ud83d", 0, 1, "surrogates not allowed")
        return super().send(message, key)


def test_a_delivery_that_chokes_on_one_digest_sends_all_the_others(
    tmp_path: Path, state: State
) -> None:
    book = {"Anna": "anna@clinic.example", "Ben": "ben@clinic.example", "Cat": "cat@clinic.example"}
    config = make_config(tmp_path)
    delivery = ChokingDelivery(config.mail.outbox, chokes_on="ben@clinic.example")

    run = send(due_rows(list(book)), staff(book), config, state, delivery)

    assert list(run.failed) == ["owner-ben"]
    assert "UnicodeEncodeError" in run.failed["owner-ben"]
    assert delivered_to(config) == [
        "anna@clinic.example",
        "cat@clinic.example",
        "manager@riverside.example",
    ]
    assert "Ben: the message could not be delivered (UnicodeEncodeError)" in manager_text(config)
    status = "\n".join(status_lines(config, state, NOW))
    assert "Digest for ben@clinic.example not delivered today: the message could not" in status
    assert send(due_rows(list(book)), staff(book), config, state, delivery).sent == []


def test_a_digest_that_cannot_be_made_stays_with_its_owner(
    tmp_path: Path, state: State, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = {"Anna": "anna@clinic.example", "Ben": "ben@clinic.example"}
    config = make_config(tmp_path)
    render = engine.render_owner_digest

    def breaks_for_ben(digest: engine.OwnerDigest, **options: object) -> EmailMessage:
        if digest.owner == "Ben":
            raise ValueError("the email package refused a header")
        return render(digest, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "render_owner_digest", breaks_for_ben)

    run = send(due_rows(list(book)), staff(book), config, state)

    assert list(run.failed) == ["owner-ben"]
    assert "could not be made (ValueError)" in run.failed["owner-ben"]
    assert "refused a header" not in run.failed["owner-ben"]  # the text may quote a cell
    assert delivered_to(config) == ["anna@clinic.example", "manager@riverside.example"]
    assert state.digest(TODAY, "owner-ben").status == "failed"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "poison",
    [chr(0xD83D), chr(0xDC00), "\ufffe", "\uffff"],
    ids=["high surrogate", "low surrogate", "U+FFFE", "U+FFFF"],
)
def test_half_an_emoji_or_a_noncharacter_in_any_cell_still_sends(
    tmp_path: Path, state: State, poison: str
) -> None:
    config = make_config(tmp_path)
    rows = due_rows(["Anna", "Ben"])
    rows[1] = [f"Ann{poison}", f"Anna{poison}", TODAY, f"Open{poison}", None, 0, 500]

    run = send(
        rows, staff({"Anna": "anna@clinic.example", "Ben": "ben@clinic.example"}), config, state
    )

    assert run.failed == {}
    assert run.waiting == {}
    assert "ben@clinic.example" in delivered_to(config)
    assert "Ann\ufffd" in manager_text(config)  # Anna{poison} has no address: the manager's


def test_undelivered_digests_are_only_todays(tmp_path: Path, state: State) -> None:
    state.digest_pending(TODAY, "owner-ben", "<id@x>", address="ben@clinic.example")
    state.digest_failed(TODAY, "owner-ben", "550 no such user", for_good=True)
    tomorrow = datetime(2026, 11, 25, 9, 0, tzinfo=NOW.tzinfo)

    today_lines = status_lines(make_config(tmp_path), state, NOW)
    tomorrow_lines = status_lines(make_config(tmp_path), state, tomorrow)

    assert "Digest for ben@clinic.example not delivered today: 550 no such user" in today_lines
    assert not any("not delivered today" in line for line in tomorrow_lines)


def test_check_says_invisible_characters_are_left_out_and_names_unusable_addresses() -> None:
    book = {"Ben": f"{BOM}ben@clinic.example{ZWSP}", "Zoë": "zoë@clinic.example"}

    problems = staff_problems(staff(book))

    assert problems == [
        "Staff sheet row 2, Email (B2): the address holds invisible characters (U+FEFF ZERO"
        " WIDTH NO-BREAK SPACE, U+200B ZERO WIDTH SPACE); sheets-sync leaves them out when"
        " reading it, and the cell is better without them",
        'Staff sheet row 3, Email (B3): "zoë@clinic.example" has letters outside ASCII before'
        " the @, which most mail servers refuse; give this owner an address in plain ASCII"
        " letters",
    ]


def test_digest_max_rows_caps_each_owner_s_digest_and_counts_the_rest(
    tmp_path: Path, state: State
) -> None:
    config = make_config(tmp_path)
    config = dataclasses.replace(config, mail=dataclasses.replace(config.mail, digest_max_rows=3))
    rows = due_rows(["anna@clinic.example"] * 7)

    send(rows, staff({}), config, state)

    [path] = config.mail.outbox.glob("*owner*.eml")
    body = parsed(path).get_body(preferencelist=("plain",))
    assert body is not None
    text = str(body.get_content())
    assert [n for n in range(1, 8) if f"Pat Doe {n}" in text] == [1, 2, 3]
    assert "4 more" in text
