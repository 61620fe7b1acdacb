"""Hostile cells and settings against the mail layer (issue 10): half an emoji, bidi
overrides, 12,000 overdue rows, a password in non-ASCII letters, a server that echoes the
login, an address only SMTPUTF8 servers take. Each is refused with a clear message, or
neutralised; none crashes the morning's other digests."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from email.policy import compat32
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from sheets_sync.core.digest import OwnerDigest, RowNote
from sheets_sync.mail.deliver import PermanentFailure, SetupFailure
from sheets_sync.mail.render import render_manager_summary, render_owner_digest
from sheets_sync.mail.smtp import Secret, SmtpDelivery
from tests.mail import smtp_server as harness
from tests.mail.smtp_server import HOST, Handler, SmtpServer, StartServer, free_port
from tests.mail.test_render import (
    SENDER,
    digest,
    html,
    line,
    manager_summary,
    overdue,
    plain,
    render,
    reparsed,
)
from tests.mail.test_smtp import message, settings

smtp_server = harness.smtp_server
certificates = harness.certificates

BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f]")
FSI, PDI, RLO = "\u2068", "\u2069", "\u202e"


# --- cells no message can carry ------------------------------------------------------------


@pytest.mark.parametrize(
    "poison",
    [chr(0xD83D), chr(0xDE00), "\ufffe", "\uffff"],
    ids=["high surrogate", "low surrogate", "U+FFFE", "U+FFFF"],
)
def test_half_an_emoji_or_a_noncharacter_in_every_field_still_renders(poison: str) -> None:
    bad = line(
        name=f"Jo{poison}",
        phone=f"0161{poison}",
        email=f"jo{poison}@example.com",
        procedure=f"Botox{poison}",
        next_action=f"Call{poison}",
        status_text=f"DUE TODAY{poison}",
    )

    message = reparsed(render(digest(due_lines=(bad,), owner=f"Anna{poison}")))

    for part in (plain(message), html(message)):
        assert poison not in part
        assert "Jo\ufffd" in part
        assert "Botox\ufffd" in part
    assert str(message["To"]).startswith("Anna\ufffd")


def test_half_an_emoji_in_the_manager_summary_still_renders() -> None:
    half = chr(0xD83D)
    summary = manager_summary(
        check_data=(RowNote(3, f"Jo{half}", f"Anna{half}", f'"3{half}" is not a date'),),
        unaddressed=(RowNote(4, f"Lee{half}", f"Bob{half}", "no address"),),
        unaddressed_lines=(overdue(1, row=4, name=f"Lee{half}"),),
    )

    message = reparsed(render_manager_summary(summary, sender=SENDER))

    assert "Jo\ufffd" in plain(message)
    assert "Lee\ufffd" in html(message)


# --- bidi overrides ------------------------------------------------------------------------


def test_a_right_to_left_override_never_reaches_a_header() -> None:
    owner = f"{RLO}anna\u2066 Price\u200f"

    message = reparsed(render(digest(due_lines=(line(),), owner=owner)))

    assert not BIDI_CONTROLS.search(str(message["To"]))
    assert message["To"].addresses[0].display_name == "anna Price"
    assert not BIDI_CONTROLS.search(str(message["Subject"]))


def test_a_right_to_left_override_in_a_name_is_isolated_in_the_text_part() -> None:
    # RLO would show the rest of the line backwards: "DUE TODAY" as "YADOT EUD".
    name = f"{RLO}Jane{PDI} Doe"  # its own PDI must not close the isolate early

    text = plain(render(digest(due_lines=(line(name=name, procedure=f"Botox{RLO}"),))))

    assert f"- {FSI}{RLO}Jane Doe{PDI} · DUE TODAY" in text
    assert f"Procedure: {FSI}Botox{RLO}{PDI}" in text
    for row in text.splitlines():
        opened = row.count(FSI)
        assert opened == row.count(PDI)  # every isolate closed on its own line


def test_right_to_left_names_are_isolated_and_left_to_right_ones_untouched() -> None:
    arabic = "فاطمة الزهراء"

    text = plain(render(digest(due_lines=(line(name=arabic), line(name="Jane Doe")))))

    assert f"- {FSI}{arabic}{PDI} · DUE TODAY" in text
    assert "- Jane Doe · DUE TODAY" in text


def test_the_html_part_puts_every_sheet_value_in_bdi() -> None:
    bad = line(name=f"{RLO}Jane", procedure=f"{RLO}Botox", next_action=f"{RLO}Call")

    page = html(render(digest(due_lines=(bad,), owner=f"{RLO}Anna")))

    for value in ("Jane", "Botox", "Call", "Anna"):
        assert f"<bdi>{RLO}{value}</bdi>" in page
    assert 'Procedure</td><td style="width:100%' in page


# --- 12,000 overdue rows -------------------------------------------------------------------


def test_twelve_thousand_overdue_rows_make_a_message_well_under_a_megabyte() -> None:
    rows = tuple(overdue(12_000 - number, row=number + 2) for number in range(12_000))
    today = (line(row=20_000),)

    message = render(digest(rows, today))

    assert len(message.as_bytes()) < 150_000  # the default lists 25
    assert message["Subject"] == "Follow-ups for Tue 24 Nov: 12000 overdue, 1 due today"
    text, page = plain(message), html(message)
    for part in (text, page):
        assert "11,976 more prospects wait in the sheet" in part
        assert "Overdue (12000)" in part
        assert "OVERDUE 12000d" in part  # the most overdue first
        assert "OVERDUE 11976d" in part
        assert "OVERDUE 11975d" not in part
    assert text.count("\n- ") == 25


def test_the_most_the_config_allows_still_makes_a_message_every_server_takes() -> None:
    rows = tuple(overdue(12_000 - number, row=number + 2) for number in range(12_000))

    message = render_owner(digest(rows), max_rows=1000)  # [mail] digest_max_rows's maximum

    assert len(message.as_bytes()) < 4_000_000  # Gmail takes 25 MB
    assert plain(message).count("\n- ") == 1000


def test_the_cap_fills_with_due_today_when_few_are_overdue() -> None:
    rows = tuple(overdue(3, row=number) for number in range(2))
    today = tuple(line(row=100 + number) for number in range(5))

    text = plain(render_owner(digest(rows, today), max_rows=4))

    assert text.count("\n- ") == 4
    assert "Due today (5)" in text
    assert "3 more prospects wait in the sheet" in text


def render_owner(owner_digest: OwnerDigest, **options: Any) -> EmailMessage:
    return render_owner_digest(owner_digest, clinic="Northside Clinic", sender=SENDER, **options)


def test_the_manager_summary_of_twelve_thousand_rows_stays_small() -> None:
    notes = tuple(RowNote(n, "Sam Smith", "Anna", "31/02 is not a date") for n in range(12_000))
    nobody = tuple(RowNote(n, "Lee Park", "Bob", "no address") for n in range(12_000))
    lines = tuple(overdue(4, row=n, name="Lee Park") for n in range(12_000))
    summary = manager_summary(check_data=notes, unaddressed=nobody, unaddressed_lines=lines)

    message = render_manager_summary(summary, sender=SENDER, max_rows=200)

    assert len(message.as_bytes()) < 1_000_000
    for part in (plain(message), html(message)):
        assert "11,800 more rows to check are in the sheet" in part
        assert "11,800 more prospects wait in the sheet" in part


# --- SMTP secrets ----------------------------------------------------------------------


@pytest.mark.parametrize("password", ["pässwörd", "pass🔑word", "парольé"])
def test_a_non_ascii_password_is_a_setup_failure_that_quotes_none_of_it(
    smtp_server: StartServer, password: str
) -> None:
    server = smtp_server("plain", users={"anna": password}, auth_require_tls=False)
    delivery = SmtpDelivery(settings(server, username="anna"), password=Secret(password))

    with pytest.raises(SetupFailure) as caught:
        delivery.send(message(), "2026-11-24-anna")

    text = str(caught.value)
    assert "$SMTP_PASSWORD" in text
    assert "outside ASCII" in text
    for char in password:
        if not char.isascii():
            assert char not in text
    assert "position" not in text
    assert caught.value.__cause__ is None
    assert server.handler.received == []


def echo(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: object
) -> AuthResult:
    """Refuses every login and quotes back what it received, as the PLAIN and LOGIN
    mechanisms carry it: what a badly written server's error reply might hold."""
    assert isinstance(data, LoginPassword)
    user, password = data.login, data.password
    plain_blob = base64.b64encode(b"\0" + user + b"\0" + password).decode()
    login_blob = base64.b64encode(password).decode()
    said = f"535 5.7.8 {mechanism} {plain_blob} {login_blob} {password.decode()} refused"
    return AuthResult(success=False, handled=False, message=said)


@pytest.fixture
def custom_server() -> Iterator[Callable[..., SmtpServer]]:
    """Starts an aiosmtpd server with the given options (the harness's lacks these two)."""
    started: list[Controller] = []

    def start(**options: Any) -> SmtpServer:
        handler = Handler()
        controller = Controller(handler, hostname=HOST, port=free_port(), **options)
        controller.start()
        started.append(controller)
        return SmtpServer(HOST, controller.port, handler, controller)  # type: ignore[arg-type]

    yield start
    for controller in started:
        controller.stop()


def test_the_password_is_redacted_also_in_its_base64_forms(
    custom_server: Callable[..., SmtpServer],
) -> None:
    echoing = custom_server(authenticator=echo, auth_require_tls=False)
    password = "correct horse battery staple"
    delivery = SmtpDelivery(settings(echoing, username="anna"), password=Secret(password))

    with pytest.raises(SetupFailure) as caught:
        delivery.send(message(), "2026-11-24-anna")

    text = str(caught.value)
    assert "535" in text
    assert "<SECRET>" in text
    for form in (
        password,
        base64.b64encode(password.encode()).decode(),
        base64.b64encode(f"\0anna\0{password}".encode()).decode(),
    ):
        assert form not in text


# --- a message the server cannot take --------------------------------------------------


def test_an_address_needing_smtputf8_fails_that_message_only(
    custom_server: Callable[..., SmtpServer],
) -> None:
    server = custom_server(enable_SMTPUTF8=False)
    delivery = SmtpDelivery(settings(server), password=None)

    with pytest.raises(PermanentFailure, match="SMTPUTF8") as caught:
        delivery.send(message(to="zoë@northside.example"), "2026-11-24-zoe")
    delivery.send(message(), "2026-11-24-anna")
    delivery.close()

    assert "plain ASCII letters" in str(caught.value)
    assert [received.rcpt_tos for received in server.handler.received] == [
        ["anna@northside.example"]
    ]


def test_a_message_that_will_not_encode_fails_that_message_only(
    smtp_server: StartServer,
) -> None:
    server = smtp_server("plain")
    delivery = SmtpDelivery(settings(server), password=None)
    # Built by hand, as render would never let half an emoji through.
    broken = EmailMessage(policy=compat32)
    broken["From"], broken["To"] = "followups@northside.example", "anna@northside.example"
    broken["Subject"] = "Follow-ups " + chr(0xD83D)
    broken.set_payload("Hello Anna")

    with pytest.raises(PermanentFailure, match="UnicodeEncodeError"):
        delivery.send(broken, "2026-11-24-broken")
    delivery.send(message(), "2026-11-24-anna")
    delivery.close()

    assert len(server.handler.received) == 1
