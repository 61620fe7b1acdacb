"""Validation of request bodies and query parameters against Google's sheets.v4 discovery doc."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

from tests.sheets_fake.model import ApiError


def discovery_path() -> Path:
    import googleapiclient  # test dependency, only for its copy of the discovery document

    return Path(googleapiclient.__file__).parent / "discovery_cache/documents/sheets.v4.json"


@functools.cache
def discovery() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(discovery_path().read_text(encoding="utf-8"))
    return document


def methods() -> dict[str, dict[str, Any]]:
    """Every method by id, e.g. "sheets.spreadsheets.values.batchGet"."""
    found: dict[str, dict[str, Any]] = {}

    def walk(resource: dict[str, Any]) -> None:
        for method in resource.get("methods", {}).values():
            found[method["id"]] = method
        for sub in resource.get("resources", {}).values():
            walk(sub)

    walk(discovery())
    return found


def snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


class Violation:
    def __init__(self, field: str, description: str) -> None:
        self.field = field
        self.description = description


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


_SCALAR_TYPES = {"integer": "TYPE_INT32", "number": "TYPE_DOUBLE", "boolean": "TYPE_BOOL"}


def _check(value: Any, schema: dict[str, Any], path: str, out: list[Violation]) -> None:
    schemas = discovery()["schemas"]
    if "$ref" in schema:
        if value is None:
            return  # JSON null: the message field is unset
        ref = schema["$ref"]
        target = schemas[ref]
        if target.get("type") == "object" and not isinstance(value, dict):
            where = path or "body"
            text = json.dumps(value) if not isinstance(value, str) else f'"{value}"'
            message = (
                f"Invalid value at '{where}' (type.googleapis.com/google.apps.sheets.v4.{ref}), "
                f"{text}"
            )
            out.append(Violation(where, message))
            return
        _check(value, target, path, out)
        return
    kind = schema.get("type")
    if kind == "any":
        return
    if kind == "object":
        if not isinstance(value, dict):
            out.append(Violation(path, f"Invalid value at '{path}', {json.dumps(value)}"))
            return
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if properties is not None and key in properties:
                _check(item, properties[key], _join(path, snake(key)), out)
            elif extra is not None:
                _check(item, extra, f"{path}[{key}]", out)
            else:
                where = f" at '{path}'" if path else ""
                message = f'Invalid JSON payload received. Unknown name "{key}"{where}: ' + (
                    "Cannot find field."
                )
                out.append(Violation(path, message))
        return
    if kind == "array":
        if not isinstance(value, list):
            if schema.get("items", {}).get("type") == "array":
                proto = "type.googleapis.com/google.protobuf.ListValue"
                text = f'"{value}"' if isinstance(value, str) else json.dumps(value)
                out.append(Violation(path, f"Invalid value at '{path}' ({proto}), {text}"))
            else:
                out.append(
                    Violation(
                        path,
                        f"Invalid JSON payload received. Expected , or ] after key:value pair"
                        f" at '{path}'.",
                    )
                )
            return
        for index, item in enumerate(value):
            if item is None and schema.get("items", {}).get("type") == "any":
                continue
            _check(item, schema.get("items", {}), f"{path}[{index}]", out)
        return
    if value is None:
        return  # JSON null: the field is unset
    ok = True
    if kind == "string":
        ok = isinstance(value, str)
        if ok and "enum" in schema and value not in schema["enum"]:
            ok = False
    elif kind == "integer":
        if isinstance(value, bool):
            ok = False
        elif isinstance(value, int):
            ok = True
        elif isinstance(value, float):
            ok = value.is_integer()
        elif isinstance(value, str):
            ok = re.fullmatch(r"-?\d+", value) is not None
        else:
            ok = False
    elif kind == "number":
        ok = (isinstance(value, int | float) and not isinstance(value, bool)) or value in (
            "NaN",
            "Infinity",
            "-Infinity",
        )
    elif kind == "boolean":
        ok = isinstance(value, bool)
    if not ok:
        text = f'"{value}"' if isinstance(value, str) else json.dumps(value)
        if "enum" in schema:
            type_name = "type.googleapis.com/google.apps.sheets.v4." + _enum_name(path)
        else:
            type_name = _SCALAR_TYPES.get(str(kind), "TYPE_STRING")
        out.append(Violation(path, f"Invalid value at '{path}' ({type_name}), {text}"))


def _enum_name(path: str) -> str:
    last = path.rsplit(".", 1)[-1]
    last = re.sub(r"\[.*\]$", "", last)
    return "".join(part.capitalize() for part in last.split("_"))


def validate_body(body: Any, schema_name: str, prefix: str = "") -> list[Violation]:
    """Violations of a request body against a schema of the discovery document."""
    out: list[Violation] = []
    _check(body, {"$ref": schema_name}, prefix, out)
    return out


def body_error(violations: list[Violation]) -> ApiError:
    message = "\n".join(v.description for v in violations)
    details = [
        {
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [
                {"field": v.field, "description": v.description} for v in violations
            ],
        }
    ]
    return ApiError(400, message, "INVALID_ARGUMENT", details)


def check_body(body: Any, method_id: str) -> None:
    """Raise a Google-style 400 unless the body matches the method's request schema."""
    method = methods()[method_id]
    request = method.get("request")
    if request is None:
        return
    prefix = "data" if method_id.endswith("values.update") or method_id.endswith("append") else ""
    violations = validate_body(body, request["$ref"], prefix)
    if violations:
        raise body_error(violations)


def check_query(query: dict[str, list[str]], method_id: str) -> None:
    """Raise a Google-style 400 for a query parameter the method does not know or accept."""
    method = methods()[method_id]
    known = dict(discovery()["parameters"])
    for name, spec in method.get("parameters", {}).items():
        if spec.get("location") == "query":
            known[name] = spec
    for name, values in query.items():
        spec = known.get(name)
        if spec is None:
            message = (
                f'Invalid JSON payload received. Unknown name "{name}": Cannot bind query'
                f" parameter. Field '{name}' could not be found in request message."
            )
            raise ApiError(
                400,
                message,
                "INVALID_ARGUMENT",
                [
                    {
                        "@type": "type.googleapis.com/google.rpc.BadRequest",
                        "fieldViolations": [{"description": message}],
                    }
                ],
            )
        if len(values) > 1 and not spec.get("repeated"):
            raise ApiError(400, f"Repeated values for parameter '{name}'.", "INVALID_ARGUMENT")
        for value in values:
            bad = False
            if "enum" in spec and value not in spec["enum"]:
                bad = True
            if spec.get("type") == "boolean" and value.lower() not in ("true", "false"):
                bad = True
            if bad:
                type_name = "".join(p.capitalize() for p in snake(name).split("_"))
                kind = (
                    f"type.googleapis.com/google.apps.sheets.v4.{type_name}"
                    if "enum" in spec
                    else "TYPE_BOOL"
                )
                message = f"Invalid value at '{snake(name)}' ({kind}), \"{value}\""
                raise ApiError(400, message, "INVALID_ARGUMENT")
