"""A small JSON Schema checker for request bodies: the subset the route table uses, nothing more.

The same schema dict is published in the OpenAPI document, so what the document says is what the
server enforces. Supported keywords: type (one or a list), properties, required,
additionalProperties (false), minLength, maxLength, enum, minimum, maximum, format "date-time",
maxProperties.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
    and math.isfinite(v),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def problems(schema: dict[str, Any], value: Any, path: str = "") -> list[dict[str, str]]:
    """Every way ``value`` does not fit ``schema``, as ``{"field", "message"}`` (empty when it fits)."""
    found: list[dict[str, str]] = []
    _check(schema, value, path, found)
    return found


def _check(schema: dict[str, Any], value: Any, path: str, found: list[dict[str, str]]) -> None:
    where = path or "(body)"
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else list(kinds)
        if not any(_TYPES[kind](value) for kind in kinds):
            found.append({"field": where, "message": f"must be {' or '.join(kinds)}"})
            return
    if "enum" in schema and value not in schema["enum"]:
        choices = ", ".join(str(choice) for choice in schema["enum"] if choice is not None)
        found.append({"field": where, "message": f"must be one of {choices}"})
        return
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            found.append({"field": where, "message": f"must be at least {schema['minLength']} characters"})
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            found.append({"field": where, "message": f"must be at most {schema['maxLength']} characters"})
        if schema.get("format") == "date-time" and not _is_datetime(value):
            found.append({"field": where, "message": "must be an ISO 8601 time with a timezone"})
    if _TYPES["number"](value):
        if "minimum" in schema and value < schema["minimum"]:
            found.append({"field": where, "message": f"must be at least {schema['minimum']}"})
        if "maximum" in schema and value > schema["maximum"]:
            found.append({"field": where, "message": f"must be at most {schema['maximum']}"})
    if isinstance(value, dict):
        if "maxProperties" in schema and len(value) > schema["maxProperties"]:
            found.append({"field": where, "message": f"must have at most {schema['maxProperties']} fields"})
            return
        properties = schema.get("properties", {})
        for name in schema.get("required", ()):
            if name not in value:
                found.append({"field": _join(path, name), "message": "is required"})
        for name, item in value.items():
            if name in properties:
                _check(properties[name], item, _join(path, name), found)
            elif schema.get("additionalProperties") is False:
                found.append({"field": _join(path, str(name)[:64]), "message": "is not a known field"})
            elif isinstance(schema.get("additionalProperties"), dict):
                _check(schema["additionalProperties"], item, _join(path, str(name)[:64]), found)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _is_datetime(text: str) -> bool:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        return False
    return value.tzinfo is not None


def obj(properties: dict[str, Any], required: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    """An object schema that refuses unknown fields."""
    schema = {"type": "object", "properties": properties, "additionalProperties": False, **extra}
    if required:
        schema["required"] = list(required)
    return schema


def text(max_length: int, min_length: int = 0, nullable: bool = False, **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": ["string", "null"] if nullable else "string", "maxLength": max_length}
    if min_length:
        schema["minLength"] = min_length
    schema.update(extra)
    return schema
