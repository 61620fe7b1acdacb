"""The group manager's daily summary (SPEC §11): one line of health per clinic, the clinics
that need attention first, so whoever looks after a group of sites reads at a glance which
one to call.

Pure, like render.py: the words come in ready (the daemon says when a sync was, in the
clinic's own time), and every text is escaped in the HTML part and kept to one line in a
header. No patient detail is in it: counts, times and the clinics' own problems only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from email.message import EmailMessage
from html import escape

from sheets_sync.core.values import DateOrder, format_day
from sheets_sync.mail.render import (
    _MUTED_COLOUR,
    _WRAP,
    _address,
    _footer,
    _header_safe,
    _heading,
    _join_text,
    _message,
    _page,
    _sender,
    _underlined,
)

_ATTENTION_COLOUR = "#b42318"
_FINE_COLOUR = "#067647"


@dataclass(frozen=True)
class ClinicDay:
    """One clinic's day, in words: its sync, its counts, its digests, its monthly report."""

    name: str
    sync: str  # `last sync 09:45 GMT (Europe/London): nothing to write`, or its failure
    counts: str  # `3 overdue, 2 due today, 1 to check`, or why they are not known
    digests: str  # `3 sent`, `2 sent, 1 not delivered: ...`, `not sent yet: due 07:30 ...`
    report: str = ""  # the monthly report's state; "" when the clinic has none
    attention: bool = False  # failing, or a message not delivered: someone should look

    def lines(self) -> list[tuple[str, str]]:
        said = [("Sync", self.sync), ("Today", self.counts), ("Digests", self.digests)]
        return said + ([("Monthly report", self.report)] if self.report else [])


def render_group_summary(
    clinics: Sequence[ClinicDay],
    *,
    group: str,
    day: date,
    sender: str,
    to: str,
    date_order: DateOrder = DateOrder.DMY,
) -> EmailMessage:
    """The summary of `day` for the group's manager at `to`: the clinics that need attention
    first, then the others, each in the order given."""
    ordered = [c for c in clinics if c.attention] + [c for c in clinics if not c.attention]
    needing = sum(clinic.attention for clinic in clinics)
    verdict = (
        f"{needing} of {len(clinics)} clinics need attention"
        if needing
        else f"all {len(clinics)} clinics in order"
    )
    shown_day = format_day(day, date_order)
    subject = _header_safe(f"{group} on {shown_day}: {verdict}")
    return _message(
        subject=subject,
        sender=_sender(group, sender),
        recipient=_address("", to),
        text=_text(ordered, subject),
        html=_html(ordered, subject),
    )


_FOOTER = (
    "Sent by sheets-sync, once a day after the clinics' digests. Each clinic's manager gets "
    "its own summary; `sheets-sync status` shows a clinic's state at any time."
)


def _mark(clinic: ClinicDay) -> str:
    return "needs attention" if clinic.attention else "in order"


def _text(clinics: Sequence[ClinicDay], subject: str) -> str:
    blocks = [_underlined(subject)]
    for clinic in clinics:
        rows = [f"{clinic.name}: {_mark(clinic)}"]
        rows += [f"  {label}: {words}" for label, words in clinic.lines()]
        blocks.append("\n".join(rows))
    blocks.append(_FOOTER)
    return _join_text(blocks)


def _html(clinics: Sequence[ClinicDay], subject: str) -> str:
    parts = [_heading(subject)]
    for clinic in clinics:
        colour = _ATTENTION_COLOUR if clinic.attention else _FINE_COLOUR
        rows = "".join(
            f'<tr><td style="padding:2px 12px 2px 0;color:{_MUTED_COLOUR};vertical-align:top;'
            f'white-space:nowrap;">{escape(label)}</td>'
            f'<td style="padding:2px 0;{_WRAP}">{escape(words)}</td></tr>'
            for label, words in clinic.lines()
        )
        parts.append(
            f'<div style="background:#ffffff;border-left:4px solid {colour};'
            f'padding:8px 12px;margin:0 0 12px;">'
            f'<div style="font-weight:bold;{_WRAP}">{escape(clinic.name)} '
            f'<span style="color:{colour};font-weight:normal;">({_mark(clinic)})</span></div>'
            f'<table style="border-collapse:collapse;font-size:14px;">{rows}</table></div>'
        )
    parts.append(_footer(_FOOTER))
    return _page(subject, parts)
