from __future__ import annotations

from email import message_from_bytes
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest

from sheets_sync.mail.deliver import Delivery, TemporaryFailure
from sheets_sync.mail.outbox import Outbox, write_preview


def message(subject: str = "Follow-ups for Tue 24 Nov: 2 due today") -> EmailMessage:
    built = EmailMessage(policy=default)
    built["Subject"] = subject
    built["From"] = Address("Northside Clinic", addr_spec="followups@northside.example")
    built["To"] = Address("Zoë", addr_spec="zoe@northside.example")
    built.set_content("Hello Zoë,\n")
    built.add_alternative("<p>Hello Zo&euml;,</p>", subtype="html")
    return built


def test_outbox_is_a_delivery(tmp_path: Path) -> None:
    delivery: Delivery = Outbox(tmp_path)

    assert delivery.send(message(), "2026-11-24-zoe") == tmp_path / "2026-11-24-zoe.eml"


def test_sent_file_parses_back_to_the_same_message(tmp_path: Path) -> None:
    path = Outbox(tmp_path).send(message(), "2026-11-24-zoe")

    parsed = message_from_bytes(path.read_bytes(), policy=default)

    assert parsed["Subject"] == "Follow-ups for Tue 24 Nov: 2 due today"
    assert str(parsed["To"]) == "Zoë <zoe@northside.example>"


def test_missing_folder_is_created(tmp_path: Path) -> None:
    folder = tmp_path / "state" / "outbox"

    path = Outbox(folder).send(message(), "2026-11-24-zoe")

    assert path.parent == folder
    assert path.is_file()


def test_sending_the_same_key_again_replaces_the_file_and_leaves_no_temporaries(
    tmp_path: Path,
) -> None:
    outbox = Outbox(tmp_path)
    outbox.send(message("first"), "2026-11-24-zoe")

    path = outbox.send(message("second"), "2026-11-24-zoe")

    assert [entry.name for entry in tmp_path.iterdir()] == ["2026-11-24-zoe.eml"]
    assert message_from_bytes(path.read_bytes(), policy=default)["Subject"] == "second"


def test_a_failed_write_leaves_neither_file_nor_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.fsync", full_disk)

    with pytest.raises(TemporaryFailure, match="No space left"):
        Outbox(tmp_path).send(message(), "2026-11-24-zoe")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "key", ["", ".hidden", "..", "../escape", "sub/dir", "sub\\dir", "nul\0byte"]
)
def test_keys_that_are_not_plain_file_names_are_refused(tmp_path: Path, key: str) -> None:
    folder = tmp_path / "outbox"

    with pytest.raises(ValueError, match="not a plain file name"):
        Outbox(folder).send(message(), key)
    assert not folder.exists()


def test_preview_writes_message_text_and_html(tmp_path: Path) -> None:
    paths = write_preview(message(), tmp_path, "preview-zoe")

    assert sorted(path.name for path in paths) == [
        "preview-zoe.eml",
        "preview-zoe.html",
        "preview-zoe.txt",
    ]
    assert sorted(tmp_path.iterdir()) == sorted(paths)
    assert (tmp_path / "preview-zoe.txt").read_text(encoding="utf-8") == "Hello Zoë,\n"
    assert "<p>Hello Zo&euml;,</p>" in (tmp_path / "preview-zoe.html").read_text(encoding="utf-8")


def test_preview_refuses_bad_keys(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a plain file name"):
        write_preview(message(), tmp_path, "../escape")
