"""The one interface every way of delivering a digest satisfies, and how it fails."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Protocol

from sheets_sync.errors import SheetsSyncError


class DeliveryFailed(SheetsSyncError):
    """A message was not delivered; the text says what the server said and what to check."""


class TemporaryFailure(DeliveryFailed):
    """Worth trying again: a dropped connection, a timeout, a 4xx reply."""


class PermanentFailure(DeliveryFailed):
    """This message will not go through: a 5xx reply to it, a refused recipient."""


class SetupFailure(DeliveryFailed):
    """Nothing can be sent until a person fixes the settings: a refused login, a certificate
    that does not verify. No message is at fault; all wait for a later cycle."""


class Delivery(Protocol):
    """Takes finished messages and delivers them, or raises a `DeliveryFailed`.

    `key` names the message among all others (for example `2026-11-24-owner-anna`) and is
    safe to use as a file name; a retry of the same digest uses the same key. `send` returns
    once the message is handed over for good. A delivery may keep a connection open between
    messages (one for the whole morning's batch); `close` ends it, and is safe to call twice.
    No third-party or socket error escapes: each becomes one of the failures above.
    """

    def send(self, message: EmailMessage, key: str) -> object: ...

    def close(self) -> None: ...
