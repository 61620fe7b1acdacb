"""The manager's notices about sheets-sync itself speak the clinic's date order."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from sheets_sync.core.values import DateOrder
from sheets_sync.mail.notices import render_alert, render_check_message, render_recovery

LONDON = ZoneInfo("Europe/London")
SINCE = datetime(2026, 11, 30, 7, 15, tzinfo=LONDON)  # a Monday
NOW = datetime(2026, 11, 30, 11, 40, tzinfo=LONDON)
WHO = {"clinic": "Riverside", "sender": "s@x.example", "to": "m@x.example", "now": NOW}


@pytest.mark.parametrize(
    ("order", "day", "not_day"),
    [(DateOrder.MDY, "Mon Nov 30", "Mon 30 Nov"), (DateOrder.DMY, "Mon 30 Nov", "Mon Nov 30")],
)
def test_alerts_and_their_all_clear_follow_the_clinics_date_order(
    order: DateOrder, day: str, not_day: str
) -> None:
    messages = [
        render_alert(**WHO, since=SINCE, problem="the workbook is missing", date_order=order),
        render_alert(**WHO, since=SINCE, problem="open by Anna", waiting=True, date_order=order),
        render_recovery(**WHO, since=SINCE, date_order=order),
        render_check_message(**WHO, route="the outbox", date_order=order),
    ]
    for message in messages:
        text = f"{message['Subject']}\n{message.get_content()}"
        assert day in text, text
        assert not_day not in text, text
