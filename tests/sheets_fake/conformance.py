"""Replay recorded gspread traffic (vcrpy cassettes in ../shared) against the fake and compare
the shapes of the answers. The recordings are read in place, never copied into the repo."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from tests.sheets_fake.server import DEFAULT_EMAIL, FakeSheets

RECORDINGS = Path(__file__).resolve().parents[2].parent / "shared" / "recorded" / "sheets-api-v4"

# Keys whose presence differs between the fake and the recordings and is tolerated (documented):
TOLERATED_KEYS: frozenset[str] = frozenset()


def kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    return type(value).__name__


def shape_differences(recorded: Any, fake: Any, path: str = "$") -> list[str]:
    """Where the two JSON values differ in keys or types (ids, titles and values ignored)."""
    if kind(recorded) != kind(fake):
        return [f"{path}: recorded {kind(recorded)}, fake {kind(fake)}"]
    out: list[str] = []
    if isinstance(recorded, dict):
        for key in sorted(set(recorded) | set(fake)):
            if key in TOLERATED_KEYS:
                continue
            if key not in fake:
                out.append(f"{path}.{key}: missing in fake")
            elif key not in recorded:
                out.append(f"{path}.{key}: extra in fake")
            else:
                out += shape_differences(recorded[key], fake[key], f"{path}.{key}")
    elif isinstance(recorded, list):
        if len(recorded) != len(fake):
            out.append(f"{path}: recorded {len(recorded)} items, fake {len(fake)}")
        for index, (a, b) in enumerate(zip(recorded, fake, strict=False)):
            out += shape_differences(a, b, f"{path}[{index}]")
    return out


@dataclass
class Replay:
    cassette: str
    compared: int = 0
    differences: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)


def _json(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _body_text(body: Any) -> str | None:
    if isinstance(body, dict):
        body = body.get("string")
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    return body


def _collect_ids(recorded: Any, fake: Any, ids: dict[str, str], sheet_ids: dict[int, int]) -> None:
    if isinstance(recorded, dict) and isinstance(fake, dict):
        for key, value in recorded.items():
            if key not in fake:
                continue
            if key in ("spreadsheetId", "id") and isinstance(value, str):
                ids[value] = fake[key]
            elif key == "sheetId" and isinstance(value, int):
                sheet_ids[value] = fake[key]
            else:
                _collect_ids(value, fake[key], ids, sheet_ids)
    elif isinstance(recorded, list) and isinstance(fake, list):
        for a, b in zip(recorded, fake, strict=False):
            _collect_ids(a, b, ids, sheet_ids)


def _map_sheet_ids(value: Any, sheet_ids: dict[int, int]) -> Any:
    if isinstance(value, dict):
        return {
            k: (sheet_ids.get(v, v) if k == "sheetId" else _map_sheet_ids(v, sheet_ids))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_map_sheet_ids(v, sheet_ids) for v in value]
    return value


def replay(fake: FakeSheets, name: str) -> Replay:
    """Replay one cassette's Sheets and Drive (create/get/delete) requests against the fake."""
    cassette = json.loads((RECORDINGS / name).read_text(encoding="utf-8"))
    token = fake.auth.issue(DEFAULT_EMAIL)
    session = requests.Session()
    result = Replay(name)
    ids: dict[str, str] = {}
    sheet_ids: dict[int, int] = {0: 0}
    for interaction in cassette["interactions"]:
        request = interaction["request"]
        response = interaction["response"]
        parts = urlsplit(request["uri"])
        host_path = parts.netloc + parts.path
        supported = parts.netloc == "sheets.googleapis.com" or (
            parts.netloc == "www.googleapis.com" and parts.path.startswith("/drive/v3/files")
        )
        if parts.netloc == "www.googleapis.com" and parts.path.count("/") > 4:
            supported = False  # export, copy, comments
        if parts.netloc == "www.googleapis.com" and request["method"] == "GET":
            supported = parts.path != "/drive/v3/files"  # listing files: not implemented
        if not supported:
            result.unsupported.append(f"{request['method']} {host_path}")
            continue
        url = fake.url + parts.path + (f"?{parts.query}" if parts.query else "")
        for recorded_id, fake_id in ids.items():
            url = url.replace(recorded_id, fake_id)
        body_text = _body_text(request.get("body"))
        body: bytes | None = None
        if body_text:
            payload = _json(body_text)
            body = json.dumps(_map_sheet_ids(payload, sheet_ids)).encode("utf-8")
        answer = session.request(
            request["method"],
            url,
            data=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            timeout=10,
        )
        status = response["status"]["code"]
        recorded_json = _json(_body_text(response.get("body")))
        fake_json = _json(answer.text)
        result.compared += 1
        where = f"{request['method']} {parts.path}"
        if answer.status_code != status:
            result.differences.append(
                f"{where}: status recorded {status}, fake {answer.status_code}: {answer.text[:300]}"
            )
            continue
        _collect_ids(recorded_json, fake_json, ids, sheet_ids)
        for diff in shape_differences(recorded_json, fake_json):
            result.differences.append(f"{where}: {diff}")
    return result
