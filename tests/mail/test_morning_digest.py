"""The owner's digest on a real morning (issue 13): the most urgent 25 by default, how many
more wait and where the next one is, the Notes cell, how to record a follow-up, and in
minimal mode a name for each row that a sort does not change."""

from __future__ import annotations

from sheets_sync.mail.render import render_owner_digest
from tests.mail.test_render import (
    ROW_LINK,
    SENDER,
    digest,
    html,
    line,
    overdue,
    plain,
    render,
    reparsed,
)

RECORD_IT = "Done a follow-up? Update Last touch and Touches in the prospect's row."


def test_eighty_overdue_list_the_most_urgent_25_and_link_the_next() -> None:
    rows = tuple(
        overdue(100 - number, row=number + 2, link=f"https://sheets.example/row{number + 2}")
        for number in range(80)
    )

    message = reparsed(render(digest(rows)))

    text, page = plain(message), html(message)
    assert text.count("\n- ") == 25
    assert "OVERDUE 76d" in text
    assert "OVERDUE 75d" not in text
    for part in (text, page):
        assert "55 more prospects wait in the sheet" in part
    assert "Open the next of them: https://sheets.example/row27" in text
    assert 'href="https://sheets.example/row27"' in page


def test_no_link_to_the_next_when_the_log_has_no_row_links() -> None:
    rows = tuple(overdue(30 - number, row=number + 2) for number in range(30))

    text = plain(render(digest(rows)))

    assert "5 more prospects wait in the sheet" in text
    assert "Open the next of them" not in text


def test_the_notes_cell_is_shown_clipped_and_escaped() -> None:
    note = "Prefers <b>WhatsApp</b> & evenings " + "x" * 300

    message = reparsed(render(digest((), (line(notes=note),))))

    text, page = plain(message), html(message)
    assert "  Notes: Prefers <b>WhatsApp</b> & evenings xxx" in text
    assert "Prefers &lt;b&gt;WhatsApp&lt;/b&gt; &amp; evenings" in page
    assert "<b>WhatsApp" not in page
    assert "x" * 200 not in text + page
    assert "…" in text


def test_staff_are_told_how_to_record_a_follow_up() -> None:
    message = reparsed(render(digest((overdue(3),))))

    assert RECORD_IT in plain(message)
    assert RECORD_IT.replace("'", "&#x27;") in html(message)


def test_minimal_mode_names_each_row_by_its_sync_id_and_leaves_the_notes_out() -> None:
    owner_digest = digest(
        (overdue(3, sync_id="k3f9q2", notes="Jane's husband answers", link=ROW_LINK),)
    )

    message = reparsed(
        render_owner_digest(
            owner_digest, clinic="Northside Clinic", sender=SENDER, detail="minimal"
        )
    )

    text, page = plain(message), html(message)
    assert "  Row: 14\n  Sync ID: k3f9q2" in text
    assert "k3f9q2" in page
    for part in (text, page):
        assert "husband" not in part
        assert "search the sheet for it" in part
        assert "Update Last touch and Touches" in part
