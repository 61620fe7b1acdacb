from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any

import pytest

from sheets_sync.core.digest import (
    NO_ADDRESS,
    DigestLine,
    ManagerSummary,
    OwnerCount,
    OwnerDigest,
    RowNote,
)
from sheets_sync.core.values import DateOrder
from sheets_sync.mail.render import render_manager_summary, render_owner_digest

TUESDAY = date(2026, 11, 24)
SENDER = "followups@northside.example"


def line(**changes: Any) -> DigestLine:
    """A due-today prospect with every field filled; override what the test is about."""
    prospect = DigestLine(
        row=14,
        name="Jane Doe",
        phone="+44 (0)7700 900-123",
        email="jane@example.com",
        procedure="Rhinoplasty",
        value=Decimal("12500"),
        next_action="Step 2/7 · Call · Follow-up call: ask about dates",
        status_text="DUE TODAY",
        days_overdue=0,
        days_since_consultation=12,
        last_touch=date(2026, 11, 17),
        link=None,
    )
    return replace(prospect, **changes)


def overdue(days: int, **changes: Any) -> DigestLine:
    return line(status_text=f"OVERDUE {days}d", days_overdue=days, **changes)


def digest(
    overdue_lines: tuple[DigestLine, ...] = (),
    due_lines: tuple[DigestLine, ...] = (),
    *,
    owner: str = "Anna",
) -> OwnerDigest:
    return OwnerDigest(
        day=TUESDAY,
        owner=owner,
        address="anna@northside.example",
        overdue=overdue_lines,
        due_today=due_lines,
    )


def render(owner_digest: OwnerDigest) -> EmailMessage:
    return render_owner_digest(owner_digest, clinic="Northside Clinic", sender=SENDER)


def reparsed(message: EmailMessage) -> EmailMessage:
    parsed = message_from_bytes(message.as_bytes(), policy=default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def plain(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def html(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


@pytest.mark.parametrize(
    ("overdue_count", "due_count", "subject"),
    [
        (3, 5, "Follow-ups for Tue 24 Nov: 3 overdue, 5 due today"),
        (0, 2, "Follow-ups for Tue 24 Nov: 2 due today"),
        (1, 0, "Follow-ups for Tue 24 Nov: 1 overdue"),
    ],
)
def test_subject_counts_what_is_due_and_leaves_out_zeros(
    overdue_count: int, due_count: int, subject: str
) -> None:
    message = render(digest((overdue(2),) * overdue_count, (line(),) * due_count))

    assert message["Subject"] == subject


def test_both_parts_are_present_and_addresses_are_set() -> None:
    message = reparsed(render(digest(due_lines=(line(),))))

    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == [
        "text/plain",
        "text/html",
    ]
    assert message["To"].addresses[0].display_name == "Anna"
    assert message["To"].addresses[0].addr_spec == "anna@northside.example"
    assert message["From"].addresses[0].display_name == "Northside Clinic"
    assert message["From"].addresses[0].addr_spec == SENDER


def test_date_and_message_id_are_left_to_the_delivery() -> None:
    message = render(digest(due_lines=(line(),)))

    assert message["Date"] is None
    assert message["Message-ID"] is None


def test_plain_text_holds_every_detail_of_a_prospect() -> None:
    prospect = overdue(3, link="https://sheets.example/row/14", value=Decimal("1234567.50"))

    text = plain(render(digest((prospect,))))

    for expected in (
        "Jane Doe · OVERDUE 3d",
        "Step 2/7 · Call · Follow-up call: ask about dates",
        "Phone: +44 (0)7700 900-123",
        "Email: jane@example.com",
        "Procedure: Rhinoplasty",
        "Value: 1,234,567.50",
        "Consultation: 12 days ago",
        "Last touch: Tue 17 Nov",
        "Row: 14",
        "Open row: https://sheets.example/row/14",
    ):
        assert expected in text


def test_overdue_comes_before_due_today_in_the_given_order() -> None:
    message = render(
        digest(
            (overdue(5, name="Most overdue"), overdue(1, name="Less overdue")),
            (line(name="Due now"),),
        )
    )

    for text in (plain(message), html(message)):
        positions = [text.index(name) for name in ("Most overdue", "Less overdue", "Due now")]
        assert positions == sorted(positions)
        assert text.index("Overdue (2)") < text.index("Due today (1)")


def test_empty_cells_are_left_out_and_a_missing_touch_reads_never() -> None:
    prospect = line(phone="", email="", procedure="", value=None, last_touch=None)

    text = plain(render(digest(due_lines=(prospect,))))

    assert "Last touch: never" in text
    for label in ("Phone:", "Email:", "Procedure:", "Value:", "Open row"):
        assert label not in text


def test_html_links_phone_email_and_row() -> None:
    prospect = line(link="https://sheets.example/d/1/edit#gid=0&range=A14")

    page = html(render(digest(due_lines=(prospect,))))

    assert 'href="tel:+4407700900123"' in page
    assert 'href="mailto:jane@example.com"' in page
    assert 'href="https://sheets.example/d/1/edit#gid=0&amp;range=A14"' in page
    assert ">Open row</a>" in page


def test_mailto_link_cannot_carry_extra_recipients() -> None:
    page = html(render(digest(due_lines=(line(email="jane@example.com?bcc=evil@x.example"),))))

    assert 'href="mailto:jane@example.com%3Fbcc%3Devil@x.example"' in page


def test_values_without_digits_or_at_sign_are_shown_but_not_linked() -> None:
    page = html(render(digest(due_lines=(line(phone="ask reception", email="n/a"),))))

    assert "ask reception" in page
    assert "n/a" in page
    assert "tel:" not in page
    assert "mailto:" not in page


@pytest.mark.parametrize("name", ["<script>alert(1)</script>", 'Tom & "Jerry"'])
def test_every_sheet_value_is_escaped_in_html(name: str) -> None:
    prospect = line(
        name=name,
        phone=name,
        email=f"{name}@example.com",
        procedure=name,
        next_action=name,
        status_text=name,
        link=f"https://sheets.example/?q={name}",
    )

    page = html(render(digest((prospect,), owner=name)))

    assert "<script>" not in page
    assert 'Tom & "Jerry"' not in page
    assert '"Jerry"' not in page


def test_a_display_name_cannot_add_a_header() -> None:
    raw = render(digest(due_lines=(line(),), owner="Anna\r\nBcc: evil@example.com")).as_bytes()

    message = message_from_bytes(raw, policy=default)

    headers = raw.split(b"\n\n", 1)[0]
    assert message["Bcc"] is None
    assert b"\nBcc:" not in headers
    assert [address.addr_spec for address in message["To"].addresses] == ["anna@northside.example"]


def manager_summary(**changes: Any) -> ManagerSummary:
    summary = ManagerSummary(
        day=TUESDAY,
        clinic="Northside Clinic",
        address="manager@northside.example",
        owners=(
            OwnerCount("Anna", "anna@northside.example", overdue=9, due_today=7, upcoming=4),
            OwnerCount("Bob", None, overdue=3, due_today=1, upcoming=0),
        ),
        check_data=(
            RowNote(30, "Sam Smith", "Anna", "consultation date 31/02 is not a date"),
            RowNote(41, "Kim Lee", "Anna", "value 'lots' is not an amount"),
            RowNote(52, "Ola Berg", "", "no owner"),
        ),
        unaddressed=(RowNote(61, "Lee Park", "Bob", NO_ADDRESS),),
        unaddressed_lines=(overdue(4, row=61, name="Lee Park", phone="0161 496 0000"),),
    )
    return replace(summary, **changes)


def test_manager_subject_totals_every_owner_and_the_rows_to_check() -> None:
    message = render_manager_summary(manager_summary(), sender=SENDER)

    assert (
        message["Subject"]
        == "Follow-up summary for Tue 24 Nov: 12 overdue, 8 due today, 3 to check"
    )


def test_manager_subject_when_nothing_is_due() -> None:
    message = render_manager_summary(
        manager_summary(owners=(), check_data=(), unaddressed=(), unaddressed_lines=()),
        sender=SENDER,
    )

    assert message["Subject"] == "Follow-up summary for Tue 24 Nov: nothing due"


def test_manager_summary_counts_owners_and_marks_missing_addresses() -> None:
    message = reparsed(render_manager_summary(manager_summary(), sender=SENDER))

    assert message["To"].addresses[0].addr_spec == "manager@northside.example"
    text = plain(message)
    assert "Anna <anna@northside.example>: 9 overdue, 7 due today, 4 upcoming" in text
    assert "Bob (no email address): 3 overdue, 1 due today, 0 upcoming" in text
    assert "no email address" in html(message)


def test_manager_summary_lists_rows_to_check_with_row_and_reason() -> None:
    message = render_manager_summary(manager_summary(), sender=SENDER)

    text = plain(message)
    assert "Row 30, Sam Smith (Anna): consultation date 31/02 is not a date" in text
    assert "Row 41, Kim Lee (Anna): value 'lots' is not an amount" in text
    assert (
        "Row 41, <bdi>Kim Lee</bdi> (<bdi>Anna</bdi>): <bdi>value &#x27;lots&#x27; is not an"
        " amount</bdi>" in html(message)
    )


def test_manager_summary_gives_full_details_of_rows_nobody_receives() -> None:
    message = render_manager_summary(manager_summary(), sender=SENDER)

    assert "Due for Bob, who has no email address (1)" in plain(message)
    assert "Due for <bdi>Bob</bdi>, who has no email address (1)" in html(message)
    for text in (plain(message), html(message)):
        assert "Lee Park" in text
        assert "0161 496 0000" in text
        assert "OVERDUE 4d" in text
    assert 'href="tel:01614960000"' in html(message)


def test_manager_summary_escapes_sheet_values() -> None:
    evil = "<script>alert(1)</script>"
    summary = manager_summary(
        owners=(OwnerCount(evil, None, 1, 0, 0),),
        check_data=(RowNote(3, evil, evil, evil),),
        unaddressed=(RowNote(4, evil, evil, evil),),
        unaddressed_lines=(overdue(1, row=4, name=evil),),
    )

    page = html(render_manager_summary(summary, sender=SENDER))

    assert "<script>" not in page
    assert "&lt;script&gt;" in page


def test_a_control_character_in_a_display_name_cannot_add_a_header() -> None:
    owner = "Anna\x00\x1b[31m\u2028Bcc: evil@example.com\rX-Evil: 1"
    raw = render(digest(due_lines=(line(),), owner=owner)).as_bytes()

    message = message_from_bytes(raw, policy=default)

    assert message["Bcc"] is None
    assert message["X-Evil"] is None
    assert message["To"].addresses[0].display_name == "Anna [31m Bcc: evil@example.com X-Evil: 1"
    for said in (raw, plain(message).encode(), html(message).encode()):
        assert b"\x00" not in said
        assert b"\x1b" not in said


@pytest.mark.parametrize(
    "address", ["anna@northside.example\r\nBcc: evil@example.com", "anna@north\x00side.example"]
)
def test_an_address_holding_control_characters_is_refused(address: str) -> None:
    owner_digest = replace(digest(due_lines=(line(),)), address=address)

    with pytest.raises(ValueError, match="not a usable email address"):
        render(owner_digest)


def test_an_unknown_detail_level_is_refused() -> None:
    with pytest.raises(ValueError, match="detail"):
        render_owner_digest(
            digest(due_lines=(line(),)), clinic="Northside", sender=SENDER, detail="some"
        )


# Minimal detail: initials and row links only

ROW_LINK = "https://sheets.example/d/1/edit#gid=0&range=A14"

# What minimal mode must never send, as it appears in the message in full mode.
PATIENT_DETAILS = (
    "Siobhán",
    "O'Neill",
    "+44 (0)7700 900-123",
    "7700",
    "jane@example.com",
    "Rhinoplasty",
    "12,500",
    "12500",
)


def render_minimal(owner_digest: OwnerDigest) -> EmailMessage:
    return render_owner_digest(
        owner_digest, clinic="Northside Clinic", sender=SENDER, detail="minimal"
    )


def everything_said(message: EmailMessage) -> list[str]:
    """The message as sent (every byte) and as read (headers and decoded parts): a detail
    hidden by a transfer encoding in the bytes still shows in the decoded text."""
    parsed = reparsed(message)
    return [
        message.as_bytes().decode("utf-8", "replace"),
        *(f"{name}: {value}" for name, value in parsed.items()),
        plain(parsed),
        html(parsed),
    ]


def minimal_owner_message() -> EmailMessage:
    return render_minimal(
        digest(
            (overdue(3, name="Siobhán O'Neill", link=ROW_LINK),),
            (line(row=15, name="Siobhán", link=None),),
        )
    )


def test_minimal_mode_sends_no_patient_details_anywhere() -> None:
    message = minimal_owner_message()

    for said in everything_said(message):
        for detail in PATIENT_DETAILS:
            assert detail not in said
        for label in ("Phone", "Email", "Procedure", "Value", "Consultation", "Last touch"):
            assert f"{label}:" not in said
            assert f">{label}<" not in said
    assert message["Subject"] == "Follow-ups for Tue 24 Nov: 1 overdue, 1 due today"


def test_minimal_mode_keeps_initials_row_status_step_and_row_link() -> None:
    message = reparsed(minimal_owner_message())

    text, page = plain(message), html(message)
    assert "- S. O. · OVERDUE 3d" in text
    assert "- S. · DUE TODAY" in text
    assert "Row: 14" in text
    assert "Row: 15" in text
    assert f"Open row: {ROW_LINK}" in text
    assert text.count("Step 2/7 · Call · Follow-up call: ask about dates") == 2
    assert "S. O." in page
    assert 'data-row="14"' in page
    assert 'data-row="15"' in page
    assert 'href="https://sheets.example/d/1/edit#gid=0&amp;range=A14"' in page
    assert "OVERDUE 3d" in page
    assert "DUE TODAY" in page


@pytest.mark.parametrize(
    ("name", "initials"),
    [
        ("Siobhán O'Neill", "S. O."),
        ("Siobhán", "S."),
        ("  mary-jane   van dyke ", "M. V. D."),
        ("Élodie Zoë", "É. Z."),
        ("", "?"),
        ("<script>", "S."),
    ],
)
def test_minimal_mode_initials(name: str, initials: str) -> None:
    text = plain(render_minimal(digest(due_lines=(line(name=name),))))

    assert f"- {initials} · DUE TODAY" in text


def test_minimal_mode_escapes_html() -> None:
    page = html(render_minimal(digest(due_lines=(line(next_action="<b>Call</b> & ask"),))))

    assert "&lt;b&gt;Call&lt;/b&gt; &amp; ask" in page
    assert "<b>" not in page


def test_minimal_manager_summary_names_prospects_by_initials_only() -> None:
    summary = manager_summary(
        check_data=(RowNote(30, "Sam Smith", "Anna", 'consultation date "31/02/2026" is no date'),)
    )

    message = render_manager_summary(summary, sender=SENDER, detail="minimal")

    text = plain(reparsed(message))
    assert "Row 30, S. S. (Anna): consultation date (cell text left out) is no date" in text
    assert "- L. P. · OVERDUE 4d" in text
    assert "Row: 61" in text
    assert "Anna <anna@northside.example>: 9 overdue, 7 due today, 4 upcoming" in text
    for said in everything_said(message):
        for detail in ("Sam Smith", "Smith", "Lee Park", "0161 496 0000", "31/02/2026"):
            assert detail not in said
        for detail in PATIENT_DETAILS:
            assert detail not in said
    page = html(message)
    assert 'data-row="30"' in page
    assert 'data-row="61"' in page
    assert "S. S." in page


def test_full_mode_is_the_default() -> None:
    prospect = overdue(3, link=ROW_LINK)
    full = render_owner_digest(
        digest((prospect,)), clinic="Northside Clinic", sender=SENDER, detail="full"
    )

    default_mode = render(digest((prospect,)))
    assert full.items() == default_mode.items()
    assert plain(full) == plain(default_mode)
    assert html(full) == html(default_mode)
    assert "Phone: +44 (0)7700 900-123" in plain(full)


# --- the clinic's currency and date order -----------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "shown"),
    [
        ("USD", "$12,500"),
        ("GBP", "£12,500"),
        ("EUR", "€12,500"),
        ("CHF", "CHF 12,500"),
        (None, "12,500"),
    ],
)
def test_values_show_the_clinics_currency_in_both_parts(currency: str | None, shown: str) -> None:
    message = render_owner_digest(
        digest(due_lines=(line(),)), clinic="Northside Clinic", sender=SENDER, currency=currency
    )

    assert f"Value: {shown}\n" in plain(message)
    assert f"<bdi>{shown}</bdi>" in html(message)


def test_the_managers_rows_nobody_receives_show_the_currency() -> None:
    message = render_manager_summary(manager_summary(), sender=SENDER, currency="USD")

    assert "Value: $12,500\n" in plain(message)
    assert "<bdi>$12,500</bdi>" in html(message)


def test_a_us_clinic_reads_its_days_month_first_in_subject_text_and_html() -> None:
    message = render_owner_digest(
        digest(due_lines=(line(),)),
        clinic="Northside Clinic",
        sender=SENDER,
        date_order=DateOrder.MDY,
    )

    assert message["Subject"] == "Follow-ups for Tue Nov 24: 1 due today"
    assert "Your follow-ups for Tue Nov 24." in plain(message)
    assert "Last touch: Tue Nov 17\n" in plain(message)
    assert "Follow-ups for Tue Nov 24</h1>" in html(message)
    assert "<bdi>Tue Nov 17</bdi>" in html(message)


def test_a_us_managers_summary_reads_its_day_month_first() -> None:
    message = render_manager_summary(manager_summary(), sender=SENDER, date_order=DateOrder.MDY)

    assert message["Subject"].startswith("Follow-up summary for Tue Nov 24:")
    assert "Follow-up summary for Tue Nov 24 at Northside Clinic." in plain(message)
