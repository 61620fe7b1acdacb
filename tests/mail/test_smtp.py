"""SmtpDelivery against a real SMTP server on loopback (tests/mail/smtp_server.py)."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default
from email.utils import make_msgid
from pathlib import Path

import pytest

from sheets_sync.config import Security, SmtpConfig
from sheets_sync.mail.deliver import Delivery, PermanentFailure, SetupFailure, TemporaryFailure
from sheets_sync.mail.smtp import Secret, SmtpDelivery
from tests.mail import smtp_server as harness
from tests.mail.smtp_server import DROP, Certificates, SmtpServer, StartServer, free_port

# The harness's fixtures, for this module's tests (a conftest would share them wider).
certificates = harness.certificates
unknown_certificates = harness.unknown_certificates
smtp_server = harness.smtp_server

PASSWORD = "correct horse battery staple"


def message(to: str = "anna@northside.example", subject: str = "Follow-ups") -> EmailMessage:
    built = EmailMessage(policy=default)
    built["Subject"] = subject
    built["From"] = "followups@northside.example"
    built["To"] = to
    built["Message-ID"] = make_msgid(domain="northside.example")
    built.set_content("Hello Anna,\n")
    return built


def settings(
    server: SmtpServer,
    security: Security = "none",
    *,
    ca_file: Path | None = None,
    username: str | None = None,
    timeout: float = 2.0,
) -> SmtpConfig:
    return SmtpConfig(
        host=server.host,
        port=server.port,
        security=security,
        username=username,
        password_env="SMTP_PASSWORD" if username else None,
        ca_file=ca_file,
        timeout=timeout,
    )


@pytest.fixture
def plain(smtp_server: StartServer) -> SmtpServer:
    return smtp_server("plain")


@pytest.fixture
def delivery(plain: SmtpServer) -> Iterator[SmtpDelivery]:
    sender = SmtpDelivery(settings(plain), password=None)
    yield sender
    sender.close()


def test_smtp_delivery_is_a_delivery(plain: SmtpServer) -> None:
    delivery: Delivery = SmtpDelivery(settings(plain), password=None)

    assert delivery.send(message(), "2026-11-24-anna") is None
    delivery.close()


def test_plain_delivery_arrives_with_its_envelope_and_message_id(
    plain: SmtpServer, delivery: SmtpDelivery
) -> None:
    sent = message()

    delivery.send(sent, "2026-11-24-anna")

    [received] = plain.handler.received
    assert received.mail_from == "followups@northside.example"
    assert received.rcpt_tos == ["anna@northside.example"]
    assert received.message["Message-ID"] == sent["Message-ID"]
    assert received.message.get_content() == "Hello Anna,\n"


def test_starttls_with_the_test_ca(smtp_server: StartServer, certificates: Certificates) -> None:
    server = smtp_server("starttls")
    delivery = SmtpDelivery(
        settings(server, "starttls", ca_file=certificates.ca_file), password=None
    )

    delivery.send(message(), "2026-11-24-anna")
    delivery.close()

    assert len(server.handler.received) == 1


def test_implicit_tls_with_the_test_ca(
    smtp_server: StartServer, certificates: Certificates
) -> None:
    server = smtp_server("ssl")
    delivery = SmtpDelivery(settings(server, "ssl", ca_file=certificates.ca_file), password=None)

    delivery.send(message(), "2026-11-24-anna")
    delivery.close()

    assert len(server.handler.received) == 1


def test_login_after_starttls(smtp_server: StartServer, certificates: Certificates) -> None:
    server = smtp_server("starttls", users={"anna": PASSWORD})
    config = settings(server, "starttls", ca_file=certificates.ca_file, username="anna")
    delivery = SmtpDelivery(config, password=Secret(PASSWORD))

    delivery.send(message(), "2026-11-24-anna")
    delivery.close()

    assert len(server.handler.received) == 1


def test_refused_login_is_a_setup_failure_naming_the_user_and_hiding_the_password(
    smtp_server: StartServer,
) -> None:
    server = smtp_server("plain", users={"anna": "another password"}, auth_require_tls=False)
    delivery = SmtpDelivery(settings(server, username="anna"), password=Secret(PASSWORD))

    with pytest.raises(SetupFailure) as caught:
        delivery.send(message(), "2026-11-24-anna")

    text = str(caught.value)
    assert "anna" in text
    assert "535" in text
    assert "$SMTP_PASSWORD" in text
    assert PASSWORD not in text
    assert PASSWORD not in repr(caught.value)
    assert server.handler.received == []


def test_login_without_a_password_is_a_setup_failure(plain: SmtpServer) -> None:
    delivery = SmtpDelivery(settings(plain, username="anna"), password=None)

    with pytest.raises(SetupFailure, match=r"\$SMTP_PASSWORD"):
        delivery.send(message(), "2026-11-24-anna")


def test_certificate_from_an_unknown_ca_is_refused(
    smtp_server: StartServer, unknown_certificates: Certificates
) -> None:
    server = smtp_server("starttls", certificates=unknown_certificates)
    delivery = SmtpDelivery(settings(server, "starttls"), password=None)

    with pytest.raises(SetupFailure, match="ca_file") as caught:
        delivery.send(message(), "2026-11-24-anna")

    assert f"{server.host}:{server.port}" in str(caught.value)
    assert server.handler.received == []


def test_certificate_from_a_private_ca_is_accepted_when_ca_file_names_it(
    smtp_server: StartServer, unknown_certificates: Certificates
) -> None:
    server = smtp_server("ssl", certificates=unknown_certificates)
    config = settings(server, "ssl", ca_file=unknown_certificates.ca_file)
    delivery = SmtpDelivery(config, password=None)

    delivery.send(message(), "2026-11-24-anna")
    delivery.close()

    assert len(server.handler.received) == 1


def test_certificate_signed_by_another_ca_than_ca_file_is_refused(
    smtp_server: StartServer, certificates: Certificates, unknown_certificates: Certificates
) -> None:
    server = smtp_server("ssl", certificates=unknown_certificates)
    delivery = SmtpDelivery(settings(server, "ssl", ca_file=certificates.ca_file), password=None)

    with pytest.raises(SetupFailure, match="does not verify"):
        delivery.send(message(), "2026-11-24-anna")


def test_unreadable_ca_file_is_a_setup_failure(smtp_server: StartServer, tmp_path: Path) -> None:
    server = smtp_server("starttls")
    config = settings(server, "starttls", ca_file=tmp_path / "missing.pem")

    with pytest.raises(SetupFailure, match="ca_file"):
        SmtpDelivery(config, password=None).send(message(), "2026-11-24-anna")


def test_451_on_data_is_temporary_and_the_next_send_succeeds(
    plain: SmtpServer, delivery: SmtpDelivery
) -> None:
    plain.handler.script("DATA", "451 4.3.0 try later")

    with pytest.raises(TemporaryFailure, match=re.escape("451 4.3.0 try later")):
        delivery.send(message(), "2026-11-24-anna")
    delivery.send(message(), "2026-11-24-anna")

    assert len(plain.handler.received) == 1


def test_550_on_rcpt_is_permanent_and_names_the_address(
    plain: SmtpServer, delivery: SmtpDelivery
) -> None:
    plain.handler.script("RCPT", "550 5.1.1 no such user")

    with pytest.raises(PermanentFailure) as caught:
        delivery.send(message("ghost@northside.example"), "2026-11-24-ghost")

    assert "ghost@northside.example" in str(caught.value)
    assert "550 5.1.1 no such user" in str(caught.value)


def test_450_on_rcpt_is_temporary(plain: SmtpServer, delivery: SmtpDelivery) -> None:
    plain.handler.script("RCPT", "450 4.2.1 mailbox busy")

    with pytest.raises(TemporaryFailure, match=re.escape("anna@northside.example")):
        delivery.send(message(), "2026-11-24-anna")


def test_one_refused_recipient_among_several_is_permanent_and_named(
    plain: SmtpServer, delivery: SmtpDelivery
) -> None:
    plain.handler.script("RCPT", "250 OK", "550 5.1.1 no such user")

    with pytest.raises(PermanentFailure, match=re.escape("ghost@northside.example")):
        delivery.send(message("anna@northside.example, ghost@northside.example"), "both")


def test_550_on_data_is_permanent(plain: SmtpServer, delivery: SmtpDelivery) -> None:
    plain.handler.script("DATA", "550 5.7.1 message refused as spam")

    with pytest.raises(PermanentFailure, match=re.escape("550 5.7.1 message refused as spam")):
        delivery.send(message(), "2026-11-24-anna")


def test_connection_dropped_after_data_is_temporary(
    plain: SmtpServer, delivery: SmtpDelivery
) -> None:
    plain.handler.script("DATA", DROP)

    with pytest.raises(TemporaryFailure, match=re.escape(f"{plain.host}:{plain.port}")):
        delivery.send(message(), "2026-11-24-anna")


def test_closed_port_is_temporary_and_quick() -> None:
    config = SmtpConfig(host="127.0.0.1", port=free_port(), security="none", timeout=0.5)
    started = time.monotonic()

    with pytest.raises(TemporaryFailure, match="connection refused"):
        SmtpDelivery(config, password=None).send(message(), "2026-11-24-anna")

    assert time.monotonic() - started < 2


def test_server_that_never_answers_is_temporary_and_quick() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        config = SmtpConfig(host="127.0.0.1", port=port, security="none", timeout=0.3)

        with pytest.raises(TemporaryFailure, match=re.escape("did not answer within 0.3 seconds")):
            SmtpDelivery(config, password=None).send(message(), "2026-11-24-anna")


def test_implicit_tls_to_a_server_without_it_is_a_setup_failure(plain: SmtpServer) -> None:
    delivery = SmtpDelivery(settings(plain, "ssl"), password=None)

    with pytest.raises(SetupFailure, match=re.escape("[mail.smtp].security")):
        delivery.send(message(), "2026-11-24-anna")


def test_one_connection_for_several_messages(plain: SmtpServer, delivery: SmtpDelivery) -> None:
    for owner in ("anna", "ben", "chloe"):
        delivery.send(message(f"{owner}@northside.example"), f"2026-11-24-{owner}")
    delivery.close()

    assert plain.handler.connections == 1
    assert [r.rcpt_tos for r in plain.handler.received] == [
        ["anna@northside.example"],
        ["ben@northside.example"],
        ["chloe@northside.example"],
    ]


def test_reconnects_after_the_server_closed_an_idle_connection(
    plain: SmtpServer, delivery: SmtpDelivery
) -> None:
    delivery.send(message(), "2026-11-24-anna")
    plain.close_connections()

    delivery.send(message("ben@northside.example"), "2026-11-24-ben")

    assert plain.handler.connections == 2
    assert len(plain.handler.received) == 2


def test_close_is_idempotent_and_a_later_send_reconnects(
    plain: SmtpServer, delivery: SmtpDelivery
) -> None:
    delivery.close()
    delivery.send(message(), "2026-11-24-anna")
    delivery.close()
    delivery.close()
    delivery.send(message(), "2026-11-24-anna")

    assert plain.handler.connections == 2


def test_secret_never_shows_its_text() -> None:
    secret = Secret("hunter2")

    assert "hunter2" not in repr(secret)
    assert "hunter2" not in str(secret)
    assert "hunter2" not in f"{secret}"
    assert secret.reveal() == "hunter2"
