"""`sheets-sync send-test ADDRESS`: the IT person's one-step check of the mail settings,
through a real SMTP server on loopback with STARTTLS and a login."""

from __future__ import annotations

from pathlib import Path

import pytest

from sheets_sync.cli import main
from tests.mail import smtp_server as harness
from tests.mail.smtp_server import Certificates, SmtpServer, StartServer, clinic_config

PASSWORD = "correct horse battery staple"

certificates = harness.certificates
smtp_server = harness.smtp_server


def write_config(tmp_path: Path, server: SmtpServer, certificates: Certificates) -> Path:
    smtp: dict[str, str | int | Path] = {
        "host": "localhost",
        "port": server.port,
        "security": "starttls",
        "username": "followups",
        "password_env": "TEST_SMTP_PASSWORD",
        "ca_file": certificates.ca_file,
        "timeout": 5,
    }
    return clinic_config(tmp_path, smtp, manager=False)


@pytest.fixture
def server(smtp_server: StartServer) -> SmtpServer:
    return smtp_server("starttls", users={"followups": PASSWORD})


def test_send_test_delivers_one_message_and_says_where_it_went(
    server: SmtpServer,
    certificates: Certificates,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEST_SMTP_PASSWORD", PASSWORD)
    config = write_config(tmp_path, server, certificates)

    code = main(["send-test", "it@riverside-aesthetics.example", "--config", str(config)])

    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"localhost:{server.port} (starttls)" in out
    [received] = server.handler.received
    assert received.rcpt_tos == ["it@riverside-aesthetics.example"]
    assert received.message["Subject"] == "sheets-sync test message from Riverside Aesthetics"
    assert PASSWORD not in out + err


def test_a_wrong_password_is_one_clear_message_without_the_password(
    server: SmtpServer,
    certificates: Certificates,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "hunter2")
    config = write_config(tmp_path, server, certificates)

    code = main(["send-test", "it@riverside-aesthetics.example", "--config", str(config)])

    out, err = capsys.readouterr()
    assert code == 1
    assert "refused the login for followups" in err
    assert "TEST_SMTP_PASSWORD" in err
    assert "hunter2" not in out + err
    assert "Traceback" not in err
    assert server.handler.received == []


def test_a_missing_password_variable_is_named(
    server: SmtpServer,
    certificates: Certificates,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TEST_SMTP_PASSWORD", raising=False)
    config = write_config(tmp_path, server, certificates)

    code = main(["send-test", "it@riverside-aesthetics.example", "--config", str(config)])

    _, err = capsys.readouterr()
    assert code == 1
    assert "TEST_SMTP_PASSWORD" in err
    assert "is not set" in err
