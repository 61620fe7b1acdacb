"""Plain-text SMTP to the clinic's own relay (issue 13): `security = "none"` is allowed to a
server other than this computer only when `allow_plain_text_to` names that server again, never
with a login, and then mail goes through it.

In the end-to-end test the name relay.clinic.lan leads to aiosmtpd on loopback, as an entry
in /etc/hosts or the clinic's DNS would lead it to the relay."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from sheets_sync.cli import main
from tests.mail import smtp_server as harness
from tests.mail.smtp_server import StartServer, clinic_config
from tests.test_config import parse, problems_of

certificates = harness.certificates
smtp_server = harness.smtp_server

RELAY = "relay.clinic.lan"


def test_plain_text_to_a_server_elsewhere_is_refused_and_says_how_to_allow_it() -> None:
    [problem] = problems_of(mail={"smtp": {"host": RELAY, "security": "none"}})

    assert problem.startswith('[mail.smtp].security: "none" sends patient details in the clear')
    assert f'allow_plain_text_to = "{RELAY}"' in problem


def test_the_relay_named_again_may_take_plain_text() -> None:
    smtp = parse(
        mail={
            "smtp": {"host": RELAY, "security": "none", "allow_plain_text_to": "Relay.Clinic.LAN"}
        }
    ).mail.smtp

    assert smtp is not None
    assert (smtp.host, smtp.security, smtp.port) == (RELAY, "none", 25)


def test_the_permission_names_one_server_only() -> None:
    problems = problems_of(
        mail={
            "smtp": {"host": "smtp.example.com", "security": "none", "allow_plain_text_to": RELAY}
        }
    )

    assert problems == [
        f'[mail.smtp].allow_plain_text_to: names "{RELAY}", but host is "smtp.example.com":'
        " it allows plain text only to the server it names"
    ]


def test_no_login_in_plain_text_to_a_relay() -> None:
    [problem] = problems_of(
        mail={
            "smtp": {
                "host": RELAY,
                "security": "none",
                "allow_plain_text_to": RELAY,
                "username": "followups",
                "password_env": "SMTP_PASSWORD",
            }
        }
    )

    assert problem.startswith('[mail.smtp].username: a login with security = "none" sends')


@pytest.fixture
def relay_on_loopback(monkeypatch: pytest.MonkeyPatch) -> str:
    """RELAY resolves to 127.0.0.1 (tests/conftest.py lets only loopback names resolve)."""
    resolve = socket.getaddrinfo

    def with_relay(host: Any, *args: Any, **kwargs: Any) -> Any:
        return resolve("127.0.0.1" if host == RELAY else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", with_relay)
    return RELAY


def test_mail_goes_through_the_named_relay(
    smtp_server: StartServer,
    relay_on_loopback: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    relay = relay_on_loopback
    server = smtp_server("plain")
    settings: dict[str, str | int | Path] = {
        "host": relay,
        "port": server.port,
        "security": "none",
        "timeout": 5,
    }
    unnamed = clinic_config(tmp_path, settings, manager=False)
    assert main(["send-test", "it@clinic.example", "--config", str(unnamed)]) == 2
    assert f'allow_plain_text_to = "{RELAY}"' in capsys.readouterr().err
    assert not server.handler.received

    named = clinic_config(tmp_path, {**settings, "allow_plain_text_to": relay}, manager=False)
    code = main(["send-test", "it@clinic.example", "--config", str(named)])

    assert code == 0, capsys.readouterr().err
    [received] = server.handler.received
    assert received.rcpt_tos == ["it@clinic.example"]
