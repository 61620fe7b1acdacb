"""The report (SPEC §10) as an email: the manager's monthly message."""

from __future__ import annotations

from email.message import EmailMessage

from sheets_sync.core.report import Report
from sheets_sync.core.values import DateOrder
from sheets_sync.mail.render import _address, _message, _sender


def render_monthly_report(
    report: Report,
    *,
    sender: str,
    to: str,
    detail: str = "full",
    date_order: DateOrder = DateOrder.DMY,
    currency: str | None = None,
) -> EmailMessage:
    """The manager's monthly report. (First cut: the counts; the charts follow.)"""
    text = f"{len(report.bookings)} bookings, value {report.booked_value}"
    return _message(
        subject=f"{report.clinic}: does follow-up pay? {report.period.first:%B %Y}",
        sender=_sender(report.clinic, sender),
        recipient=_address("", to),
        text=text,
        html=f"<p>{text}</p>",
    )
