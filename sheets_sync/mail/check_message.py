"""The message `sheets-sync send-test` sends: proof that the mail settings work."""

from __future__ import annotations

from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import default
from email.utils import format_datetime, make_msgid, parseaddr

from sheets_sync.errors import SheetsSyncError


def render_check_message(
    *, clinic: str, sender: str, to: str, route: str, now: datetime
) -> EmailMessage:
    """A short message to `to` saying which way (`route`) it went; no patient data."""
    name, address = parseaddr(to)
    if address.count("@") != 1 or address.startswith("@") or address.endswith("@"):
        raise SheetsSyncError(f'"{to}" is not an email address')
    sender_name, sender_address = parseaddr(sender)
    message = EmailMessage(policy=default)
    message["Subject"] = f"sheets-sync test message from {clinic}"
    message["From"] = Address(sender_name or clinic, addr_spec=sender_address)
    message["To"] = Address(name, addr_spec=address)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=sender_address.rpartition("@")[2] or None)
    message.set_content(
        f"This is a test message from sheets-sync at {clinic}.\n\n"
        f"It went through {route} at {now:%H:%M on %a %d %b %Y}.\n"
        "If you can read this, the morning digests will arrive the same way.\n"
    )
    return message
