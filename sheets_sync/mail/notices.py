"""Short messages about sheets-sync itself: the test message of `send-test`, and the
manager's alert when syncing has been failing for hours (and the all-clear after it)."""

from __future__ import annotations

from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import default
from email.utils import format_datetime, make_msgid, parseaddr

from sheets_sync.core.values import DateOrder, format_day
from sheets_sync.errors import SheetsSyncError


def render_check_message(
    *,
    clinic: str,
    sender: str,
    to: str,
    route: str,
    now: datetime,
    date_order: DateOrder = DateOrder.DMY,
) -> EmailMessage:
    """A short message to `to` saying which way (`route`) it went; no patient data."""
    return _notice(
        clinic=clinic,
        sender=sender,
        to=to,
        now=now,
        subject=f"sheets-sync test message from {clinic}",
        text=(
            f"This is a test message from sheets-sync at {clinic}.\n\n"
            f"It went through {route} at {_moment(now, date_order, with_year=True)}.\n"
            "If you can read this, the morning digests will arrive the same way.\n"
        ),
    )


def render_alert(
    *,
    clinic: str,
    sender: str,
    to: str,
    now: datetime,
    since: datetime,
    problem: str,
    waiting: bool = False,
    date_order: DateOrder = DateOrder.DMY,
) -> EmailMessage:
    """Syncing has been failing since `since`: what the last attempt said, what to do.
    `waiting`: nothing failed, the workbook has been open in someone's program since then,
    and `problem` says whose: the manager has a desk to visit, not a fault to look into."""
    if waiting:
        return _notice(
            clinic=clinic,
            sender=sender,
            to=to,
            now=now,
            subject=f"sheets-sync at {clinic}: the prospect log has been open on someone's "
            f"desk since {_moment(since, date_order)}, so it is not being synced",
            text=(
                f"sheets-sync at {clinic} has been waiting since "
                f"{_moment(since, date_order, with_year=True)} to write the prospect log: it "
                "is open for editing in Excel or LibreOffice, "
                "so Next touch dates and flags are not being kept up to date.\n\n"
                f"The last attempt said:\n  {problem}\n\n"
                "Once the workbook is saved and closed, the next cycle syncs it, and you will "
                "get one more message.\n"
            ),
        )
    return _notice(
        clinic=clinic,
        sender=sender,
        to=to,
        now=now,
        subject=f"sheets-sync at {clinic}: the follow-up sync has been failing since "
        f"{_moment(since, date_order)}",
        text=(
            f"sheets-sync at {clinic} has not been able to sync the prospect log since "
            f"{_moment(since, date_order, with_year=True)}, so Next touch dates and flags are "
            "not being kept up to date.\n\n"
            f"The last attempt said:\n  {problem}\n\n"
            "It keeps trying every cycle; you will get one more message when it works "
            "again. `sheets-sync status` on the computer it runs on shows the details.\n"
        ),
    )


def render_recovery(
    *,
    clinic: str,
    sender: str,
    to: str,
    now: datetime,
    since: datetime,
    date_order: DateOrder = DateOrder.DMY,
) -> EmailMessage:
    """Syncing works again after the failures the alert was about."""
    return _notice(
        clinic=clinic,
        sender=sender,
        to=to,
        now=now,
        subject=f"sheets-sync at {clinic}: the follow-up sync works again",
        text=(
            f"sheets-sync at {clinic} synced the prospect log again at "
            f"{_moment(now, date_order, with_year=True)}, after failing since "
            f"{_moment(since, date_order)}.\n"
            "Nothing needs doing.\n"
        ),
    )


def _notice(
    *, clinic: str, sender: str, to: str, now: datetime, subject: str, text: str
) -> EmailMessage:
    name, address = parseaddr(to)
    if address.count("@") != 1 or address.startswith("@") or address.endswith("@"):
        raise SheetsSyncError(f'"{to}" is not an email address')
    sender_name, sender_address = parseaddr(sender)
    message = EmailMessage(policy=default)
    message["Subject"] = subject
    message["From"] = Address(sender_name or clinic, addr_spec=sender_address)
    message["To"] = Address(name, addr_spec=address)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=sender_address.rpartition("@")[2] or None)
    message.set_content(text)
    return message


def _moment(moment: datetime, order: DateOrder, *, with_year: bool = False) -> str:
    """`07:30 on Mon 30 Nov`, or `07:30 on Mon Nov 30` for a clinic that writes months first."""
    return f"{moment:%H:%M} on {format_day(moment.date(), order, with_year=with_year)}"
