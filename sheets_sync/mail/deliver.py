"""The one interface every way of delivering a digest satisfies."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Protocol


class Delivery(Protocol):
    """Takes a finished message and delivers it, or raises.

    `key` names the message among all others (for example `2026-11-24-anna`) and is safe to
    use as a file name. A retry of the same digest uses the same key, so a delivery that can
    replace by key (the outbox) never leaves two copies. `send` returns once the message is
    handed over for good; the return value is the delivery's receipt (the outbox's file path)
    and callers need not look at it.
    """

    def send(self, message: EmailMessage, key: str) -> object: ...
