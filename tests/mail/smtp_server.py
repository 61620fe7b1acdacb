"""A real SMTP server on loopback for the mail tests: aiosmtpd, with trustme certificates.

`smtp_server` is a factory fixture: `smtp_server("starttls", users={"anna": "pw"})` starts a
server in one of three modes (plain, STARTTLS, implicit TLS) and stops it after the test. The
server keeps what it received, counts connections, can be told how to answer RCPT and DATA
(`server.handler.script("DATA", "451 4.3.0 try later")`, or `DROP` to hang up instead of
answering) and can close every open connection, as a server does with idle clients.

A test module takes the fixtures by naming them at its top level
(`smtp_server = harness.smtp_server`); tests/conftest.py is left to the whole suite.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any, Literal, TypeAlias

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

Mode: TypeAlias = Literal["plain", "starttls", "ssl"]

HOST = "127.0.0.1"
DROP = "DROP"  # scripted instead of a reply: close the connection without answering


@dataclass(frozen=True)
class Received:
    """One message as the server took it: the envelope and the parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class Handler:
    """Stores what arrives, and answers RCPT and DATA as scripted (else with 250)."""

    received: list[Received] = field(default_factory=list)
    connections: int = 0
    _scripts: dict[str, list[str]] = field(default_factory=dict)

    def script(self, command: Literal["RCPT", "DATA"], *replies: str) -> None:
        """Answer the next calls of `command` with `replies`, one each, in order."""
        self._scripts.setdefault(command, []).extend(replies)

    def _next(self, command: str, server: SMTP) -> str | None:
        replies = self._scripts.get(command)
        reply = replies.pop(0) if replies else "250 OK"
        if reply == DROP:
            assert server.transport is not None
            server.transport.close()
            return None
        return reply

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self._next("RCPT", server)
        if reply is None:
            return "250 OK"  # never seen: the connection is already closing
        if reply.startswith("2"):
            envelope.rcpt_tos.append(address)
        return reply

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        reply = self._next("DATA", server)
        if reply is None:
            return "250 OK"  # never seen: the connection is already closing
        if reply.startswith("2"):
            # As a mail program reads it: with \n line ends, not the wire's \r\n.
            content = (envelope.original_content or b"").replace(b"\r\n", b"\n")
            message = message_from_bytes(content, policy=default)
            assert isinstance(message, EmailMessage)
            self.received.append(
                Received(str(envelope.mail_from), list(envelope.rcpt_tos), message)
            )
        return reply


class _Controller(Controller):
    """Counts connections in the handler and keeps the open ones, to close them on demand."""

    def __init__(self, handler: Handler, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.open: set[SMTP] = set()

    def factory(self) -> SMTP:
        controller, handler = self, self.handler

        class CountingSMTP(SMTP):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                if self.transport is None:  # a new client, not the TLS layer of STARTTLS
                    handler.connections += 1
                    controller.open.add(self)
                super().connection_made(transport)

            def connection_lost(self, error: Exception | None) -> None:
                controller.open.discard(self)
                super().connection_lost(error)

        return CountingSMTP(handler, **self.SMTP_kwargs)


@dataclass
class SmtpServer:
    """A running server: where it listens, and its handler."""

    host: str
    port: int
    handler: Handler
    controller: _Controller

    def close_connections(self) -> None:
        """Close every open connection, as a server does with a client idle too long."""
        loop = self.controller.loop
        for server in list(self.controller.open):
            if server.transport is not None:
                loop.call_soon_threadsafe(server.transport.close)
        deadline = time.monotonic() + 5
        while self.controller.open and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not self.controller.open, "the server did not close its connections"


@dataclass(frozen=True)
class Certificates:
    """A test CA the client may trust (`ca_file`), and a server certificate it signed for
    localhost and 127.0.0.1."""

    ca: trustme.CA
    ca_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("localhost", HOST).configure_cert(context)
        return context


def make_certificates(folder: Path) -> Certificates:
    ca = trustme.CA()
    ca_file = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return Certificates(ca, ca_file)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def authenticator(users: dict[str, str]) -> Callable[..., AuthResult]:
    """Accepts LOGIN and PLAIN with the given names and passwords."""

    def check(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: object
    ) -> AuthResult:
        known = isinstance(data, LoginPassword) and (
            users.get(data.login.decode()) == data.password.decode()
        )
        # handled=False: aiosmtpd itself answers a failure, with 535.
        return AuthResult(success=known, handled=False)

    return check


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """The CA the tests give the client as `ca_file`."""
    return make_certificates(tmp_path_factory.mktemp("trusted-ca"))


@pytest.fixture(scope="session")
def unknown_certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """Another CA, not given to the client: its server certificate must be refused."""
    return make_certificates(tmp_path_factory.mktemp("unknown-ca"))


StartServer: TypeAlias = Callable[..., SmtpServer]


@pytest.fixture
def smtp_server(certificates: Certificates) -> Iterator[StartServer]:
    """Starts servers on free loopback ports; all are stopped after the test.

    `smtp_server(mode, *, users=None, auth_require_tls=True, certificates=None)`: `users`
    turns on AUTH; `certificates` replaces the trusted CA's for the TLS modes.
    """
    started: list[_Controller] = []

    def start(
        mode: Mode = "plain",
        *,
        users: dict[str, str] | None = None,
        auth_require_tls: bool = True,
        certificates: Certificates = certificates,
    ) -> SmtpServer:
        handler = Handler()
        kwargs: dict[str, Any] = {"auth_require_tls": auth_require_tls}
        if users is not None:
            kwargs["authenticator"] = authenticator(users)
        if mode == "starttls":
            kwargs.update(tls_context=certificates.server_context(), require_starttls=True)
        elif mode == "ssl":
            kwargs["ssl_context"] = certificates.server_context()
        port = free_port()
        controller = _Controller(handler, hostname=HOST, port=port, **kwargs)
        controller.start()
        started.append(controller)
        handler.connections = 0  # not the controller's own check that the server is up
        return SmtpServer(HOST, port, handler, controller)

    yield start
    for controller in started:
        controller.stop()


def clinic_config(folder: Path, smtp: dict[str, str | int | Path], *, manager: bool) -> Path:
    """A config file in `folder` for the sample clinic, mailing through `[mail.smtp]` = `smtp`
    (the log is `folder/log.xlsx`, the state `folder/state`)."""
    repo = Path(__file__).resolve().parents[2]
    settings = "\n".join(
        f"{key} = {value}" if isinstance(value, int) else f'{key} = "{value}"'
        for key, value in smtp.items()
    )
    manager_line = 'manager = "Manager <manager@riverside-aesthetics.example>"' if manager else ""
    path = folder / "clinic.toml"
    path.write_text(
        f"""
[clinic]
name = "Riverside Aesthetics"
[source]
kind = "xlsx"
path = "log.xlsx"
[plans]
file = "{repo / "sheets_sync" / "plans.toml"}"
[mail]
mode = "smtp"
from = "Riverside Aesthetics <followups@riverside-aesthetics.example>"
{manager_line}
[mail.smtp]
{settings}
[daemon]
state_dir = "state"
""",
        encoding="utf-8",
    )
    return path
