"""Delivery through an SMTP server (SPEC §5): one connection for the morning's batch.

The connection is opened on the first `send` and reused; before each later message a NOOP
checks that the server has not closed it meanwhile, and a closed one is replaced once,
quietly. A message is never sent twice on our own initiative: a connection lost after the
message went out is reported as a `TemporaryFailure`, and the caller decides about a retry.

Every smtplib, ssl and socket error becomes a Temporary-, Permanent- or SetupFailure whose
text names the server, says what it answered and what to check. The password never appears
in any of them, neither as typed nor in the base64 forms AUTH PLAIN and AUTH LOGIN send it
in, should a server echo those back. A message the server or smtplib cannot take (an
address that needs SMTPUTF8 from a server without it, text that will not encode) is that
message's PermanentFailure: the next message goes out as usual.
"""

from __future__ import annotations

import base64
import smtplib
import ssl
from email.message import EmailMessage

from sheets_sync.config import SmtpConfig
from sheets_sync.mail.deliver import (
    DeliveryFailed,
    PermanentFailure,
    SetupFailure,
    TemporaryFailure,
)


class Secret:
    """A password that masks itself: printed, logged or shown in a traceback it is `<SECRET>`.

    Only `reveal()` gives the text, at the one place that needs it.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<SECRET>"

    __str__ = __repr__


class SmtpDelivery:
    """Sends each message through the server `settings` names, over one connection.

    `password` is the text of the environment variable `settings.password_env` names, read
    by the caller; it is needed when `settings.username` is set.
    """

    def __init__(self, settings: SmtpConfig, *, password: Secret | None) -> None:
        self.settings = settings
        self._password = password
        self._connection: smtplib.SMTP | None = None
        self._context: ssl.SSLContext | None = None

    @property
    def _where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def send(self, message: EmailMessage, key: str) -> None:
        """Hand `message` to the server for all its recipients, or raise a `DeliveryFailed`.

        `key` is not needed: the server tells messages apart by their Message-ID.
        """
        connection: smtplib.SMTP | None = None
        try:
            connection = self._ready()
            refused = connection.send_message(message)
        except smtplib.SMTPNotSupportedError as exc:
            if connection is None:  # from the login: the settings are at fault
                self._drop(polite=False)
                raise self._failure(exc) from exc
            # Raised before a word of the message is sent: international addresses without
            # SMTPUTF8. This message's problem, not the server's settings.
            self._drop(polite=False)
            raise PermanentFailure(
                self._redacted(
                    f"the mail server {self._where} cannot take this message: {exc};"
                    " give its recipient an address in plain ASCII letters"
                )
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            # The connection's state is unknown after a failure: start afresh next time.
            self._drop(polite=False)
            raise self._failure(exc) from exc
        except (UnicodeError, ValueError) as exc:
            # The email package or smtplib could not write this message for the wire.
            self._drop(polite=False)
            raise PermanentFailure(
                f"the message could not be written for the mail server {self._where}"
                f" ({type(exc).__name__}); the other messages are not affected"
            ) from None
        if refused:
            self._drop(polite=False)
            raise PermanentFailure(
                self._redacted(
                    f"the mail server {self._where} accepted the message for some recipients"
                    f" but refused {_refusals(refused)}; check those addresses"
                )
            )

    def close(self) -> None:
        """Say goodbye to the server (QUIT), if connected; safe to call twice."""
        self._drop(polite=True)

    def _ready(self) -> smtplib.SMTP:
        """The open connection, checked with a NOOP, or a new one."""
        if self._connection is not None and not _answers(self._connection):
            self._drop(polite=False)
        if self._connection is None:
            self._connection = self._connect()
        return self._connection

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        if settings.username is not None and self._password is None:
            raise SetupFailure(
                f"no password for {settings.username} on the mail server {self._where}:"
                f" set the environment variable ${settings.password_env}"
            )
        # smtplib sends the login in ASCII only; its error would quote the character.
        if settings.username is not None and not settings.username.isascii():
            raise SetupFailure(
                f"[mail.smtp].username for the mail server {self._where} has letters outside"
                " ASCII, which the login (AUTH PLAIN or LOGIN) cannot carry; use the account's"
                " ASCII user name"
            )
        if self._password is not None and not self._password.reveal().isascii():
            raise SetupFailure(
                f"the password in ${settings.password_env} for {settings.username} on the mail"
                f" server {self._where} has characters outside ASCII (accented letters, other"
                " alphabets or emoji), which the login (AUTH PLAIN or LOGIN) cannot carry; give"
                " the mail account a password of ASCII letters, digits and symbols"
            )
        connection: smtplib.SMTP
        if settings.security == "ssl":
            connection = smtplib.SMTP_SSL(
                settings.host, settings.port, context=self._tls(), timeout=settings.timeout
            )
        else:
            connection = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        try:
            if settings.security == "starttls":
                connection.ehlo()
                connection.starttls(context=self._tls())
                connection.ehlo()
            if settings.username is not None and self._password is not None:
                connection.login(settings.username, self._password.reveal())
        except BaseException:
            connection.close()
            raise
        return connection

    def _tls(self) -> ssl.SSLContext:
        """Verifying certificates and host names, against `ca_file` or the system's CAs."""
        if self._context is None:
            ca_file = self.settings.ca_file
            try:
                self._context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
            except (OSError, ValueError) as exc:
                raise SetupFailure(
                    f"[mail.smtp].ca_file {ca_file} cannot be used: {_reason(exc)};"
                    " it should be the PEM certificate of the authority that signed the"
                    " mail server's certificate"
                ) from exc
        return self._context

    def _drop(self, *, polite: bool) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            if polite:
                connection.quit()
        except (smtplib.SMTPException, OSError):
            pass  # Already gone: nothing to say goodbye to.
        finally:
            connection.close()

    def _failure(self, exc: smtplib.SMTPException | OSError) -> DeliveryFailed:
        kind, text = _explain(exc, self.settings)
        return kind(self._redacted(text))

    def _redacted(self, text: str) -> str:
        """`text` without the password, should a server ever echo it back: as typed, as AUTH
        LOGIN sends it (base64), and inside AUTH PLAIN's base64 of `\\0user\\0password`."""
        if self._password is None or not self._password.reveal():
            return text
        password = self._password.reveal()
        plain = f"\0{self.settings.username or ''}\0{password}"
        forms = [password, *(_base64(form) for form in (password, plain))]
        for form in sorted(forms, key=len, reverse=True):
            text = text.replace(form, str(self._password))
        return text


def _explain(
    exc: smtplib.SMTPException | OSError, settings: SmtpConfig
) -> tuple[type[DeliveryFailed], str]:
    """What `exc` means, for people: temporary or permanent, and what to check.

    The order matters: the specific smtplib errors before their bases, and the ssl errors
    before the OSError they all are.
    """
    where = f"{settings.host}:{settings.port}"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        said = f"{exc.smtp_code} {_text(exc.smtp_error)}"
        if _temporary(exc.smtp_code):
            return TemporaryFailure, (
                f"the mail server {where} could not check the login for"
                f" {settings.username} just now: {said}"
            )
        return SetupFailure, (
            f"the mail server {where} refused the login for {settings.username}:"
            f" {said}; check [mail.smtp].username and the password in"
            f" ${settings.password_env}"
        )
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return _by_code(
            max(codes, default=550),
            f"the mail server {where} refused {_refusals(exc.recipients)}",
        )
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return _by_code(
            exc.smtp_code,
            f"the mail server {where} refused the sender {_text(exc.sender)}:"
            f" {exc.smtp_code} {_text(exc.smtp_error)}; check [mail].from",
        )
    if isinstance(exc, smtplib.SMTPDataError):
        return _by_code(
            exc.smtp_code,
            f"the mail server {where} did not accept the message:"
            f" {exc.smtp_code} {_text(exc.smtp_error)}",
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return _by_code(
            exc.smtp_code,
            f"the mail server {where} answered {exc.smtp_code} {_text(exc.smtp_error)}",
        )
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        if isinstance(exc.__context__, TimeoutError):  # smtplib's wrapping of a read timeout
            return TemporaryFailure, _no_answer(settings)
        return TemporaryFailure, f"the connection to the mail server {where} was lost: {exc}"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return SetupFailure, (
            f"the mail server {where}: {exc}; check [mail.smtp].security (many servers"
            " offer a login only after starttls)"
        )
    if isinstance(exc, smtplib.SMTPException):
        return PermanentFailure, f"the mail server {where}: {exc}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return SetupFailure, (
            f"the certificate of the mail server {where} does not verify"
            f" ({exc.verify_message}); if the server's certificate comes from a private"
            " certificate authority, name that authority's certificate in"
            " [mail.smtp].ca_file"
        )
    if isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return TemporaryFailure, (
            f"the mail server {where} closed the connection during TLS: {_reason(exc)}"
        )
    if isinstance(exc, ssl.SSLError):
        return SetupFailure, (
            f"TLS with the mail server {where} failed: {_reason(exc)}; check"
            ' [mail.smtp].security ("ssl" for port 465, "starttls" for 587) and, for a'
            " private certificate authority, [mail.smtp].ca_file"
        )
    if isinstance(exc, TimeoutError):
        return TemporaryFailure, _no_answer(settings)
    if isinstance(exc, ConnectionRefusedError):
        return TemporaryFailure, (
            f"nothing answers at {where} (connection refused); is the mail server"
            " running, and are [mail.smtp].host and port right?"
        )
    return TemporaryFailure, f"cannot reach the mail server {where}: {_reason(exc)}"


def _base64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _no_answer(settings: SmtpConfig) -> str:
    return (
        f"the mail server {settings.host}:{settings.port} did not answer within"
        f" {settings.timeout:g} seconds ([mail.smtp].timeout)"
    )


def _answers(connection: smtplib.SMTP) -> bool:
    """Whether the server is still there: it may close an idle connection between messages."""
    try:
        return connection.noop()[0] == 250
    except (smtplib.SMTPException, OSError):
        return False


def _temporary(code: int) -> bool:
    return 400 <= code < 500


def _by_code(code: int, text: str) -> tuple[type[DeliveryFailed], str]:
    return (TemporaryFailure if _temporary(code) else PermanentFailure), text


def _refusals(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(
        f"the recipient {address}: {code} {_text(said)}"
        for address, (code, said) in refused.items()
    )


def _text(said: bytes | str) -> str:
    return said.decode("utf-8", "replace") if isinstance(said, bytes) else said


def _reason(exc: OSError | ValueError) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
