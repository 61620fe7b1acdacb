"""Digest -> email: the owner's morning list and the manager's summary (SPEC §5).

Pure: no clock, no environment, no files. Date and Message-ID are left to the delivery,
which sets them at send time. Every sheet value is escaped in the HTML part and cleaned of
control characters before it goes into a header. Nothing from the sheet is trusted: half an
emoji (a lone surrogate) or a noncharacter becomes U+FFFD, and bidi controls are stripped
from headers and isolated in the bodies (FSI…PDI in the text part, `<bdi>` in the HTML), so
a right-to-left override in a name cannot reorder the rest of its line.

A message lists at most `max_rows` prospects (DIGEST_MAX_ROWS by default), the most urgent
first, and says how many more wait in the sheet: an owner with 80 overdue prospects reads the
25 that matter most, and 12,000 overdue rows never make a message no mail server takes.

`detail="minimal"` keeps patient details out of the message: per prospect only initials, the
row, the Sync ID (which a sort does not change), the status, the plan's step and the row link;
the subject only ever holds counts. Both parts show what `_shown` returns, so nothing can slip
into one part but not the other.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, is_dataclass, replace
from datetime import date
from decimal import Decimal
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import default
from email.utils import parseaddr
from html import escape
from typing import TypeVar, cast
from urllib.parse import quote

from sheets_sync.core.digest import (
    DIGEST_MAX_ROWS,
    NO_ADDRESS,
    DigestLine,
    ManagerSummary,
    OwnerCount,
    OwnerDigest,
    RowNote,
)
from sheets_sync.core.values import DateOrder, format_day

_NO_ADDRESS = "no email address"
_NO_OWNERS = "No owners have follow-ups."

_OVERDUE_COLOUR = "#b42318"
_DUE_TODAY_COLOUR = "#b54708"
_MUTED_COLOUR = "#667085"

_DETAIL_LEVELS = ("full", "minimal")

# Long values (emails, actions, names) may break anywhere rather than widen the page.
_WRAP = "overflow-wrap:anywhere;word-break:break-word;"

_Detail = tuple[str, str, str | None]  # label, text, link target (None: plain text)


def render_owner_digest(
    digest: OwnerDigest,
    *,
    clinic: str,
    sender: str,
    detail: str = "full",
    max_rows: int = DIGEST_MAX_ROWS,
    date_order: DateOrder = DateOrder.DMY,
    currency: str | None = None,
    clinic_in_subject: bool = False,
) -> EmailMessage:
    """One owner's morning email: overdue first, then due today, in the order given; the
    first `max_rows` of them, and how many more wait in the sheet.

    `detail` is "full" or "minimal" (initials, row, status, step and row link only). Days
    are shown in `date_order`, values in `currency` (an ISO code; None: plain numbers).
    `clinic_in_subject` (a clinic of a group) names the clinic in the subject: someone who
    works at two of the group's clinics gets one digest from each, and tells them apart."""
    style = _Style(_is_minimal(detail), date_order, currency)
    digest = _encodable_fields(digest)
    overdue = digest.overdue[:max_rows]
    due_today = digest.due_today[: max_rows - len(overdue)]
    left_out = [*digest.overdue[len(overdue) :], *digest.due_today[len(due_today) :]]
    shown = _Listed(overdue, due_today, len(left_out), left_out[0].link if left_out else None)
    subject = "Follow-ups {}for {}: {}".format(
        _at_clinic(clinic, clinic_in_subject),
        style.day(digest.day),
        _tally((len(digest.overdue), "overdue"), (len(digest.due_today), "due today")),
    )
    return _message(
        subject=subject,
        sender=_sender(clinic, sender),
        recipient=_address(_header_safe(_clipped(digest.owner)), digest.address),
        text=_owner_text(digest, shown, clinic, style),
        html=_owner_html(digest, shown, clinic, subject, style),
    )


def render_manager_summary(
    summary: ManagerSummary,
    *,
    sender: str,
    detail: str = "full",
    max_rows: int = DIGEST_MAX_ROWS,
    date_order: DateOrder = DateOrder.DMY,
    currency: str | None = None,
    clinic_in_subject: bool = False,
) -> EmailMessage:
    """The manager's summary: counts per owner, rows to check, due rows nobody receives;
    each list the first `max_rows` of its kind, and how many more there are.

    With `detail="minimal"` prospects are named by their initials only; days and values are
    shown, and the clinic named, as in `render_owner_digest`."""
    style = _Style(_is_minimal(detail), date_order, currency)
    capped = _capped_summary(_encodable_fields(summary), max_rows)
    subject = "Follow-up summary {}for {}: {}".format(
        _at_clinic(summary.clinic, clinic_in_subject),
        style.day(summary.day),
        _tally(
            (sum(count.overdue for count in summary.owners), "overdue"),
            (sum(count.due_today for count in summary.owners), "due today"),
            (len(summary.check_data), "to check"),
        ),
    )
    return _message(
        subject=subject,
        sender=_sender(summary.clinic, sender),
        recipient=_address("", summary.address),
        text=_manager_text(capped, style),
        html=_manager_html(capped, subject, style),
    )


@dataclass(frozen=True)
class _Listed:
    """The part of an owner's digest the message lists, and how many rows it leaves out."""

    overdue: Sequence[DigestLine]
    due_today: Sequence[DigestLine]
    more: int
    next_link: str | None  # the row of the most urgent one left out, where rows have links


@dataclass(frozen=True)
class _Capped:
    """A manager's summary cut to `max_rows` per list, with what each cut left out."""

    summary: ManagerSummary
    more_owners: int
    more_to_check: int
    more_unaddressed: int


def _capped_summary(summary: ManagerSummary, max_rows: int) -> _Capped:
    kept = replace(
        summary,
        owners=summary.owners[:max_rows],
        check_data=summary.check_data[:max_rows],
        unaddressed_lines=summary.unaddressed_lines[:max_rows],
    )
    return _Capped(
        kept,
        len(summary.owners) - len(kept.owners),
        len(summary.check_data) - len(kept.check_data),
        len(summary.unaddressed_lines) - len(kept.unaddressed_lines),
    )


def _more_rows(count: int) -> str:
    """What the message leaves out, said where the list ends."""
    rows = "1 more prospect waits" if count == 1 else f"{count:,} more prospects wait"
    return f"{rows} in the sheet: this message lists the most urgent first."


# What staff do after a follow-up, so that tomorrow's digest moves on: true of every log,
# whose rule counts touches from these two cells.
_RECORD_IT = "Done a follow-up? Update Last touch and Touches in the prospect's row."
_SYNC_ID_NOTE = (
    "The Sync ID stays with its prospect when the log is sorted; the row number may not."
    " It is in sheets-sync's Sync ID column, which is hidden: search the sheet for it."
)


def _footer_notes(minimal: bool) -> list[str]:
    """The owner digest's closing lines, in both parts."""
    return [_RECORD_IT, _SYNC_ID_NOTE] if minimal else [_RECORD_IT]


def _is_minimal(detail: str) -> bool:
    if detail not in _DETAIL_LEVELS:
        raise ValueError(f"detail must be one of {', '.join(_DETAIL_LEVELS)}, not {detail!r}")
    return detail == "minimal"


def _at_clinic(clinic: str, named: bool) -> str:
    """`at Riverside Aesthetics ` for a subject that names the clinic, else nothing."""
    return f"at {_header_safe(_clipped(clinic))} " if named and clinic else ""


def _sender(clinic: str, sender: str) -> Address:
    """`sender` is an address, or `Name <address>`; without a name the clinic's is used."""
    name, address = parseaddr(sender)
    return _address(_header_safe(name or clinic), address or sender)


def _address(display_name: str, addr_spec: str) -> Address:
    """An address for a header. One holding a control character or any space (a CR or LF
    among them) is refused outright: cleaning it up could send the mail somewhere else."""
    if not addr_spec or any(char.isspace() or not char.isprintable() for char in addr_spec):
        raise ValueError(f"{addr_spec!r} is not a usable email address")
    return Address(display_name, addr_spec=addr_spec)


def _message(
    *, subject: str, sender: Address, recipient: Address, text: str, html: str
) -> EmailMessage:
    message = EmailMessage(policy=default)
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = recipient
    message.set_content(_printable(text))
    message.add_alternative(_printable(html), subtype="html")
    return message


def _printable(body: str) -> str:
    """A body without the control characters a cell may hold (NUL, ESC, a lone CR...): mail
    servers may refuse them and terminals act on them. Tabs and line ends stay."""
    return "".join(
        " " if unicodedata.category(char) == "Cc" and char not in "\n\t" else char
        for char in _encodable(body)
    )


def _encodable(text: str) -> str:
    """`text` with U+FFFD for what no UTF-8 message can carry, or should: half an emoji (a
    lone surrogate, which makes encoding raise) and the noncharacters U+FFFE and U+FFFF."""
    return "".join(
        "\ufffd" if unicodedata.category(char) == "Cs" or char in "\ufffe\uffff" else char
        for char in text
    )


def _encodable_fields(value: _Data) -> _Data:
    """`value` with `_encodable` applied to every text in it, through its dataclasses and
    tuples: a cell's half emoji must not reach a link, a quote() or the encoder."""
    if isinstance(value, str):
        return cast(_Data, _encodable(value))
    if isinstance(value, tuple):
        return cast(_Data, tuple(_encodable_fields(item) for item in value))
    if is_dataclass(value) and not isinstance(value, type):
        changed = {
            item.name: _encodable_fields(getattr(value, item.name)) for item in fields(value)
        }
        return cast(_Data, replace(value, **changed))
    return value


_Data = TypeVar("_Data")


# The explicit bidi controls: embeddings, overrides, isolates and the marks.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")
_ISOLATES = frozenset("\u2066\u2067\u2068\u2069")
# Bidi classes that can reorder the text around them when not isolated.
_REORDERING = frozenset(
    {"R", "AL", "AN", "LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"}
)


def _isolated(text: str) -> str:
    """Cell text for the plain text part: text that is or may turn right-to-left goes
    between FSI and PDI, so it cannot reorder the rest of its line. Its own isolate
    controls are dropped, so it cannot close ours early; overrides inside end at our PDI."""
    if not any(unicodedata.bidirectional(char) in _REORDERING for char in text):
        return text
    return "\u2068" + "".join(char for char in text if char not in _ISOLATES) + "\u2069"


def _bdi(text: str) -> str:
    """Cell text for the HTML part: escaped, and isolated like the text part's."""
    return f"<bdi>{escape(text)}</bdi>"


# Words shared by both parts


def _tally(*counts: tuple[int, str]) -> str:
    said = [f"{number} {words}" for number, words in counts if number]
    return ", ".join(said) or "nothing due"


def _days_ago(days: int) -> str:
    if days == 0:
        return "today"
    return "1 day ago" if days == 1 else f"{days} days ago"


@dataclass(frozen=True)
class _Style:
    """How one clinic's messages show things: patient details or not (`minimal`), days in its
    date order, values in its currency."""

    minimal: bool
    date_order: DateOrder
    currency: str | None

    def day(self, day: date) -> str:
        return format_day(day, self.date_order)

    def money(self, value: Decimal) -> str:
        """`$1,200`, `£1,200.50`, `€1,200`; a currency without a sign here by its code,
        `CHF 1,200`; plain `1,200` with no currency set. English-style digits throughout, as
        the rest of the message is English."""
        # "f" keeps the sheet's own decimals and never falls into exponent form (1.2E+4).
        amount = f"{value:,f}"
        if self.currency is None:
            return amount
        sign = _CURRENCY_SIGNS.get(self.currency)
        return f"{sign}{amount}" if sign else f"{self.currency} {amount}"


# The signs of common currencies, written before the amount; other codes are shown as codes.
_CURRENCY_SIGNS = {
    "USD": "$",
    "GBP": "£",
    "EUR": "€",
    "JPY": "¥",
    "INR": "₹",
    "AUD": "A$",
    "CAD": "CA$",
    "NZD": "NZ$",
}


def _header_safe(text: str) -> str:
    """Sheet text fit for a display name: control characters (CR and LF among them) become
    spaces, so a cell can never start a header of its own; bidi controls go, as a header
    cannot isolate them."""
    spaced = "".join(
        " " if unicodedata.category(char) in {"Cc", "Zl", "Zp"} else char
        for char in _encodable(text)
        if char not in _BIDI_CONTROLS
    )
    return " ".join(spaced.split())


# The most of one sheet value a message shows: a cell may hold 32,767 characters, and a
# digest names a prospect, it does not reprint the sheet.
_SHOWN_LIMIT = 200


def _clipped(text: str) -> str:
    """`text`, or its first _SHOWN_LIMIT characters ending in "…"."""
    if len(text) <= _SHOWN_LIMIT:
        return text
    return text[: _SHOWN_LIMIT - 1].rstrip() + "…"


def _tel_link(phone: str) -> str | None:
    dialable = "".join(char for char in phone if char.isdigit() or char == "+")
    return f"tel:{dialable}" if any(char.isdigit() for char in dialable) else None


def _mailto_link(email: str) -> str | None:
    # Quoted, so a cell like "a@b.com?bcc=x@y" cannot prefill the staff's mail client.
    return f"mailto:{quote(email.strip(), safe='@')}" if "@" in email else None


def _initials(name: str) -> str:
    """Initials for minimal mode: "Siobhán O'Neill" -> "S. O.", "Siobhán" -> "S.", "" -> "?"."""
    firsts = [
        next((char for char in word if char.isalnum()), "")
        for word in unicodedata.normalize("NFC", name).split()
    ]
    return " ".join(f"{first.upper()}." for first in firsts if first) or "?"


# A cell's own text, as the rule quotes it in a CHECK DATA reason: `"31/02/2026" is not ...`.
_QUOTED_CELL = re.compile(r'"[^"]*"')


@dataclass(frozen=True)
class _Shown:
    """What the message says about one prospect, in both parts."""

    row: int
    title: str  # the name, or in minimal mode the initials
    status: str
    overdue: bool
    action: str
    details: list[_Detail]
    link: str | None


def _shown(line: DigestLine, style: _Style) -> _Shown:
    """The one place that decides what of a prospect goes into the message."""
    return _Shown(
        row=line.row,
        title=_initials(line.name) if style.minimal else _clipped(line.name),
        status=line.status_text,
        overdue=line.days_overdue > 0,
        action=_clipped(line.next_action),
        details=_details(line, style),
        link=line.link,
    )


def _details(line: DigestLine, style: _Style) -> list[_Detail]:
    """The facts under a prospect's name; empty cells are left out. Minimal: the row and the
    Sync ID only (the Notes cell may name the patient, so it stays in the sheet)."""
    if style.minimal:
        return [
            (label, text, None)
            for label, text in (("Row", str(line.row)), ("Sync ID", line.sync_id))
            if text
        ]
    details: list[_Detail] = [
        ("Phone", line.phone, _tel_link(line.phone)),
        ("Email", line.email, _mailto_link(line.email)),
        ("Procedure", line.procedure, None),
        ("Value", style.money(line.value) if line.value is not None else "", None),
        ("Consultation", _days_ago(line.days_since_consultation), None),
        ("Last touch", style.day(line.last_touch) if line.last_touch else "never", None),
        ("Row", str(line.row), None),
        ("Notes", line.notes, None),
    ]
    # A value cut short is shown, not linked: a link to part of a number dials someone else.
    return [
        (label, _clipped(text), link if len(text) <= _SHOWN_LIMIT else None)
        for label, text, link in details
        if text.strip()
    ]


@dataclass(frozen=True)
class _Unaddressed:
    """Due rows whose owner no digest reaches, grouped by owner and reason."""

    owner: str
    reason: str
    total: int  # all such rows of this owner, also those the message leaves out
    lines: list[DigestLine]


def _unaddressed_by_owner(summary: ManagerSummary) -> list[_Unaddressed]:
    groups: dict[tuple[str, str], _Unaddressed] = {}
    group_of_row = {}
    for note in summary.unaddressed:
        owner = _clipped(note.owner) or "no owner named"
        group = groups.setdefault((owner, note.reason), _Unaddressed(owner, note.reason, 0, []))
        groups[(owner, note.reason)] = replace(group, total=group.total + 1)
        group_of_row[note.row] = (owner, note.reason)
    for line in summary.unaddressed_lines:
        key = group_of_row.get(line.row, ("no owner named", ""))
        groups.setdefault(key, _Unaddressed(*key, 1, [])).lines.append(line)
    return [group for group in groups.values() if group.lines]


def _unaddressed_title(group: _Unaddressed) -> tuple[str, str]:
    """A group's heading, before and after the owner's name (isolated in each part)."""
    if group.reason in ("", NO_ADDRESS):
        return "Due for ", f", who has {_NO_ADDRESS}"
    return "Due for ", f", whose address cannot be used: {group.reason}"


def _counts_text(count: OwnerCount) -> str:
    return f"{count.overdue} overdue, {count.due_today} due today, {count.upcoming} upcoming"


def _note_parts(note: RowNote, style: _Style) -> tuple[str, str, str]:
    """A CHECK DATA note's name, owner and reason, as the message shows them."""
    if style.minimal:
        # The reason may quote the cell; in minimal mode the cell's text stays in the sheet.
        return (
            _initials(note.name),
            _clipped(note.owner),
            _QUOTED_CELL.sub("(cell text left out)", note.reason),
        )
    return _clipped(note.name), _clipped(note.owner), _clipped(note.reason)


# Plain text part


def _owner_text(digest: OwnerDigest, shown: _Listed, clinic: str, style: _Style) -> str:
    blocks = [
        f"Hello {_isolated(_clipped(digest.owner))},",
        f"Your follow-ups for {style.day(digest.day)}.",
        *_section_text("Overdue", shown.overdue, style, len(digest.overdue)),
        *_section_text("Due today", shown.due_today, style, len(digest.due_today)),
    ]
    if shown.more:
        blocks.append(_more_rows(shown.more))
    if shown.next_link:
        blocks.append(f"Open the next of them: {shown.next_link}")
    return _join_text(
        [*blocks, *_footer_notes(style.minimal), f"Sent by sheets-sync for {clinic}."]
    )


# Mail-server trouble reaches the manager first: staff with no digest do not know it.
_UNDELIVERED = "Digests not delivered"
_RESORTED = "The log was sorted without its sheets-sync columns"
_STAFF_MISSING = "The Staff sheet is missing"


def _followed_up_title(summary: ManagerSummary, style: _Style) -> str:
    """`Touches logged yesterday`, or since the last open day (on a Monday: since Friday)."""
    since = summary.touches.since if summary.touches else summary.day
    if (summary.day - since).days <= 1:
        return "Touches logged yesterday"
    return f"Touches logged since {style.day(since)}"


def _manager_text(capped: _Capped, style: _Style) -> str:
    summary = capped.summary
    owners = "\n".join(
        f"- {_isolated(_clipped(count.owner))} "
        f"{f'<{count.address}>' if count.address else f'({_NO_ADDRESS})'}: {_counts_text(count)}"
        for count in summary.owners
    )
    blocks = [
        f"Follow-up summary for {style.day(summary.day)} at {summary.clinic}.",
        f"{_underlined('Owners')}\n{owners}" if summary.owners else _NO_OWNERS,
    ]
    if capped.more_owners:
        blocks.append(f"{capped.more_owners:,} more owners are in the sheet.")
    if summary.touches:
        counts = "\n".join(
            f"- {_isolated(_clipped(owner))}: {count:,}"
            for owner, count in summary.touches.by_owner
        )
        blocks.append(f"{_underlined(_followed_up_title(summary, style))}\n{counts}")
    if summary.undelivered:
        failures = "\n".join(
            f"- {_isolated(_clipped(owner))}: {why}" for owner, why in summary.undelivered
        )
        blocks.append(f"{_underlined(_UNDELIVERED)}\n{failures}")
    if summary.resorted:
        blocks.append(f"{_underlined(_RESORTED)}\n{_sentence(summary.resorted)}")
    if summary.check_data:
        notes = "\n".join(
            "- Row {}, {} ({}): {}".format(
                note.row, *(_isolated(part) for part in _note_parts(note, style))
            )
            for note in summary.check_data
        )
        blocks.append(f"{_underlined('Rows to check (CHECK DATA)')}\n{notes}")
    if capped.more_to_check:
        blocks.append(f"{capped.more_to_check:,} more rows to check are in the sheet.")
    if summary.staff_missing:
        blocks.append(f"{_underlined(_STAFF_MISSING)}\n{_sentence(summary.staff_missing)}")
    for group in _unaddressed_by_owner(summary):
        before, after = _unaddressed_title(group)
        title = f"{before}{_isolated(group.owner)}{after}"
        blocks += _section_text(title, group.lines, style, group.total)
    if capped.more_unaddressed:
        blocks.append(_more_rows(capped.more_unaddressed))
    blocks.append("Sent by sheets-sync.")
    return _join_text(blocks)


def _sentence(text: str) -> str:
    return f"{text[:1].upper()}{text[1:]}."


def _section_text(title: str, lines: Sequence[DigestLine], style: _Style, total: int) -> list[str]:
    if not lines:
        return []
    return [
        _underlined(f"{title} ({total})"),
        *(_line_text(_shown(line, style)) for line in lines),
    ]


def _underlined(title: str) -> str:
    return f"{title}\n{'=' * len(title)}"


def _line_text(shown: _Shown) -> str:
    text = [f"- {_isolated(shown.title)} · {shown.status}"]
    if shown.action:
        text.append(f"  {_isolated(shown.action)}")
    text += [f"  {label}: {_isolated(value)}" for label, value, _ in shown.details]
    if shown.link:
        text.append(f"  Open row: {shown.link}")
    return "\n".join(text)


def _join_text(blocks: Iterable[str]) -> str:
    return "\n\n".join(blocks) + "\n"


# HTML part: inline styles only (mail clients drop <style>), no images, one column at most
# 640px wide that narrows with the screen. Nothing has a fixed width, and long values wrap
# anywhere, so nothing runs off a 375px phone. Each prospect's block carries data-row="N".
# Sheet text goes in <bdi>, so a right-to-left name keeps to itself.


def _owner_html(
    digest: OwnerDigest, shown: _Listed, clinic: str, subject: str, style: _Style
) -> str:
    return _page(
        subject,
        [
            _heading(f"Follow-ups for {style.day(digest.day)}"),
            _paragraph_html(f"Hello {_bdi(_clipped(digest.owner))}, here is your list for today."),
            _section_html(escape("Overdue"), shown.overdue, style, len(digest.overdue)),
            _section_html(escape("Due today"), shown.due_today, style, len(digest.due_today)),
            _paragraph(_more_rows(shown.more)) if shown.more else "",
            _paragraph_html(_link(shown.next_link, "Open the next of them"))
            if shown.next_link
            else "",
            *(_paragraph(note) for note in _footer_notes(style.minimal)),
            _footer(f"Sent by sheets-sync for {clinic}."),
        ],
    )


def _manager_html(capped: _Capped, subject: str, style: _Style) -> str:
    summary = capped.summary
    parts = [
        _heading(f"Follow-up summary for {style.day(summary.day)}"),
        _paragraph(summary.clinic),
        _owners_table(summary.owners),
    ]
    if capped.more_owners:
        parts.append(_paragraph(f"{capped.more_owners:,} more owners are in the sheet."))
    if summary.touches:
        counts = [
            (None, f"{_bdi(_clipped(owner))}: {count:,}")
            for owner, count in summary.touches.by_owner
        ]
        parts += [_subheading(_followed_up_title(summary, style)), _bullets(counts)]
    if summary.undelivered:
        failures = [
            (None, f"{_bdi(_clipped(owner))}: {escape(why)}") for owner, why in summary.undelivered
        ]
        parts += [_subheading(_UNDELIVERED), _bullets(failures)]
    if summary.resorted:
        parts += [_subheading(_RESORTED), _paragraph(_sentence(summary.resorted))]
    if summary.check_data:
        parts += [
            _subheading("Rows to check (CHECK DATA)"),
            _notes_list(summary.check_data, style),
        ]
    if capped.more_to_check:
        parts.append(_paragraph(f"{capped.more_to_check:,} more rows to check are in the sheet."))
    if summary.staff_missing:
        parts += [_subheading(_STAFF_MISSING), _paragraph(_sentence(summary.staff_missing))]
    for group in _unaddressed_by_owner(summary):
        before, after = _unaddressed_title(group)
        heading = f"{escape(before)}{_bdi(group.owner)}{escape(after)}"
        parts.append(_section_html(heading, group.lines, style, group.total))
    if capped.more_unaddressed:
        parts.append(_paragraph(_more_rows(capped.more_unaddressed)))
    parts.append(_footer("Sent by sheets-sync."))
    return _page(subject, parts)


def _page(title: str, parts: Iterable[str]) -> str:
    body = "\n".join(part for part in parts if part)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n</head>\n"
        '<body style="margin:0;padding:0;background:#f2f4f7;">\n'
        '<div style="max-width:640px;margin:0 auto;padding:16px;box-sizing:border-box;'
        "font-family:Arial,Helvetica,sans-serif;font-size:15px;line-height:1.45;"
        f'color:#101828;{_WRAP}">\n'
        f"{body}\n</div>\n</body>\n</html>\n"
    )


def _heading(text: str) -> str:
    return f'<h1 style="font-size:20px;margin:0 0 8px;{_WRAP}">{escape(text)}</h1>'


def _subheading(text: str) -> str:
    return _subheading_html(escape(text))


def _subheading_html(html: str) -> str:
    return f'<h2 style="font-size:16px;margin:20px 0 8px;{_WRAP}">{html}</h2>'


def _paragraph(text: str) -> str:
    return _paragraph_html(escape(text))


def _paragraph_html(html: str) -> str:
    return f'<p style="margin:0 0 12px;{_WRAP}">{html}</p>'


def _footer(text: str) -> str:
    return (
        f'<p style="margin:24px 0 0;font-size:12px;color:{_MUTED_COLOUR};{_WRAP}">'
        f"{escape(text)}</p>"
    )


def _link(target: str, text: str) -> str:
    return f'<a href="{escape(target)}" style="color:#1849a9;{_WRAP}">{escape(text)}</a>'


def _section_html(title: str, lines: Sequence[DigestLine], style: _Style, total: int) -> str:
    """`title` is HTML already; `total` counts also the lines the message leaves out."""
    if not lines:
        return ""
    blocks = "\n".join(_line_html(_shown(line, style)) for line in lines)
    return f"{_subheading_html(f'{title} ({total})')}\n{blocks}"


def _line_html(shown: _Shown) -> str:
    colour = _OVERDUE_COLOUR if shown.overdue else _DUE_TODAY_COLOUR
    action = f'<div style="margin:4px 0 8px;{_WRAP}">{_bdi(shown.action)}</div>'
    rows = "".join(_detail_row(detail) for detail in shown.details)
    open_row = (
        f'<p style="margin:8px 0 0;">{_link(shown.link, "Open row")}</p>' if shown.link else ""
    )
    return (
        f'<div data-row="{shown.row}" style="margin:0 0 12px;padding:12px;background:#ffffff;'
        f'border-left:4px solid {colour};border-radius:4px;{_WRAP}">'
        f'<div style="font-size:16px;font-weight:bold;{_WRAP}">{_bdi(shown.title)} '
        f'<span style="display:inline-block;font-size:12px;color:{colour};">'
        f"{escape(shown.status)}</span></div>"
        f"{action if shown.action else ''}"
        '<table role="presentation" style="width:100%;border-collapse:collapse;font-size:14px;">'
        f"{rows}</table>{open_row}</div>"
    )


def _detail_row(detail: _Detail) -> str:
    label, text, target = detail
    value = _link(target, text) if target else escape(text)
    value = f"<bdi>{value}</bdi>"
    return (
        f'<tr><td style="padding:2px 12px 2px 0;color:{_MUTED_COLOUR};'
        f'vertical-align:top;white-space:nowrap;">{escape(label)}</td>'
        f'<td style="width:100%;padding:2px 0;vertical-align:top;{_WRAP}">{value}</td></tr>'
    )


def _owners_table(owners: Sequence[OwnerCount]) -> str:
    if not owners:
        return _paragraph(_NO_OWNERS)
    cell = "padding:6px 4px;border-bottom:1px solid #eaecf0;vertical-align:top;"
    # Counts and their headings wrap between words only: "Due / today", never "Ove / rdue".
    number = f"{cell}text-align:right;overflow-wrap:normal;word-break:normal;"
    header = "".join(
        f'<th style="{style}">{heading}</th>'
        for heading, style in (
            ("Owner", f"{cell}text-align:left;"),
            ("Overdue", number),
            ("Due today", number),
            ("Upcoming", number),
        )
    )
    rows = "".join(
        f'<tr><td style="{cell}{_WRAP}">{_bdi(_clipped(count.owner))}<br>'
        f'<span style="font-size:12px;color:{_address_colour(count)};">'
        f"{escape(count.address or _NO_ADDRESS)}</span></td>"
        f'<td style="{number}">{count.overdue}</td>'
        f'<td style="{number}">{count.due_today}</td>'
        f'<td style="{number}">{count.upcoming}</td></tr>'
        for count in owners
    )
    return (
        '<table role="presentation" style="width:100%;border-collapse:collapse;'
        f'background:#ffffff;font-size:14px;"><tr>{header}</tr>{rows}</table>'
    )


def _address_colour(count: OwnerCount) -> str:
    return _MUTED_COLOUR if count.address else _OVERDUE_COLOUR


def _notes_list(notes: Sequence[RowNote], style: _Style) -> str:
    return _bullets(
        (
            note.row,
            "Row {}, {} ({}): {}".format(
                note.row, *(_bdi(part) for part in _note_parts(note, style))
            ),
        )
        for note in notes
    )


def _bullets(items: Iterable[tuple[int | None, str]]) -> str:
    """A list of HTML items; an item with a row number carries `data-row`."""
    entries = "".join(
        f'<li{_row_attribute(row)} style="margin:0 0 4px;{_WRAP}">{html}</li>'
        for row, html in items
    )
    return f'<ul style="margin:0;padding-left:20px;">{entries}</ul>'


def _row_attribute(row: int | None) -> str:
    return f' data-row="{row}"' if row is not None else ""
