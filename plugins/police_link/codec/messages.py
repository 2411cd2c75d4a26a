"""The JSON messages the police link carries: the force's requests, the room's answers to them, and the
force's answers to alerts, each checked against its versioned JSON Schema (draft 2020-12, the files in
``plugins/police_link/schemas/``) and read into typed classes.

Every request names its ``request_type`` and the ``version`` of that type's schema, so a type can change
without the others; a type or version this hub does not know is refused saying which it knows. A message
that breaks its schema is refused with a ``MessageError`` whose ``path`` is a JSON pointer to the member at
fault. Nothing here reads a clock: whether a time is already past is for the caller to judge.
"""

from __future__ import annotations

import functools
import json
import math
from datetime import datetime
from importlib import resources
from typing import Any, ClassVar, Literal

from attrs import field, frozen
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from plugins.police_link.codec.frames import format_time, parse_time
from plugins.police_link.events import Officer

__all__ = [
    "REQUEST_TYPES", "SUPPORTED_VERSIONS", "MessageError", "Officer", "MonitoredPlace", "LiveViewRequest",
    "RetainFootageRequest", "PointCameraRequest", "MonitorLocationRequest", "PoliceRequest", "AlertAnswer",
    "StreamGrant", "RequestAnswer", "decode_request", "encode_request", "decode_alert_answer",
    "encode_alert_answer", "decode_request_answer", "encode_request_answer", "schema_for",
]

REQUEST_TYPES = ("live_view", "retain_footage", "point_camera", "monitor_location")
#: The versions of each request type's schema this hub reads.
SUPPORTED_VERSIONS: dict[str, tuple[int, ...]] = {kind: (1,) for kind in REQUEST_TYPES}
OUTCOMES = ("accepted", "refused", "done", "stale", "failed")
ANSWERS = ("accepted", "rejected")

#: The schemas that are not requests, by the name schema_for knows them by.
_OTHER_SCHEMAS = ("alert_answer", "request_answer")


class MessageError(ValueError):
    """A message that breaks its schema: ``path`` is a JSON pointer to the member at fault ("" for the
    whole message), ``reason`` says what is wrong for the people who sent it."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}" if path else reason)
        self.path = path
        self.reason = reason


# --- the classes ----------------------------------------------------------------------------------------------


@frozen
class MonitoredPlace:
    """A place the force wants watched: its name, and WGS84 coordinates and/or a UPRN where given."""

    name: str
    latitude: float | None = None
    longitude: float | None = None
    uprn: str | None = None


@frozen
class LiveViewRequest:
    """``live_view``: share ``camera``'s live stream for ``minutes``."""

    request_type: ClassVar[str] = "live_view"
    version: ClassVar[int] = 1

    request_id: str
    camera: str
    minutes: int
    reason: str
    requested_by: Officer
    force_reference: str | None = None


@frozen
class RetainFootageRequest:
    """``retain_footage``: keep ``cameras``' footage from ``start`` to ``end`` for ``crime_reference``."""

    request_type: ClassVar[str] = "retain_footage"
    version: ClassVar[int] = 1

    request_id: str
    crime_reference: str
    cameras: tuple[str, ...] = field(converter=tuple)
    start: datetime
    end: datetime
    reason: str
    requested_by: Officer
    retain_until: datetime | None = None


@frozen
class PointCameraRequest:
    """``point_camera``: move ``camera`` to ``preset``."""

    request_type: ClassVar[str] = "point_camera"
    version: ClassVar[int] = 1

    request_id: str
    camera: str
    preset: str
    reason: str
    requested_by: Officer
    force_reference: str | None = None


@frozen
class MonitorLocationRequest:
    """``monitor_location``: watch ``location`` until ``until``, on ``cameras`` (empty: the room chooses)."""

    request_type: ClassVar[str] = "monitor_location"
    version: ClassVar[int] = 1

    request_id: str
    location: MonitoredPlace
    until: datetime
    reason: str
    requested_by: Officer
    cameras: tuple[str, ...] = field(default=(), converter=tuple)
    force_reference: str | None = None


PoliceRequest = LiveViewRequest | RetainFootageRequest | PointCameraRequest | MonitorLocationRequest


@frozen
class AlertAnswer:
    """The force's business answer to a CAP Alert: ``accepted``, or ``rejected`` with a ``reason``."""

    identifier: str
    incident_id: str
    answer: Literal["accepted", "rejected"]
    reason: str | None = None
    force_reference: str | None = None
    answered_by: str | None = None


@frozen
class StreamGrant:
    """A live stream address given to the force, good until ``expires_at``."""

    camera: str
    uri: str
    expires_at: datetime


@frozen
class RequestAnswer:
    """The room's business answer to a request. ``stream`` for an accepted live view; ``hold`` (the hold
    record, as its JSON) for retained footage; ``manifest`` the exported files (``name``, ``sha256``,
    optional ``size``) once done."""

    request_id: str
    request_type: str
    outcome: Literal["accepted", "refused", "done", "stale", "failed"]
    detail: str
    stream: StreamGrant | None = None
    hold: dict | None = None
    manifest: tuple[dict, ...] = field(default=(), converter=tuple)


# --- schemas --------------------------------------------------------------------------------------------------

_FORMATS = FormatChecker(formats=())


@_FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    # Format keywords apply to strings only; the schemas' "type" catches anything else.
    if isinstance(value, str):
        parse_time(value)
    return True


def _schema_name(kind: str, version: int) -> str:
    return f"{kind}.v{version}.json"


@functools.cache
def _schema(kind: str, version: int) -> dict[str, Any]:
    text = resources.files("plugins.police_link").joinpath("schemas", _schema_name(kind, version)).read_text("utf-8")
    return json.loads(text)


@functools.cache
def _validator(kind: str, version: int) -> Draft202012Validator:
    return Draft202012Validator(_schema(kind, version), format_checker=_FORMATS)


def schema_for(request_type: str, version: int = 1) -> dict[str, Any]:
    """The JSON Schema document of a request type's version (or of ``alert_answer`` / ``request_answer``);
    MessageError for a type or version this hub does not know. A copy: change it freely."""
    if request_type in _OTHER_SCHEMAS:
        if version != 1:
            raise MessageError("/version", f"version {version!r} of {request_type} is not supported; supported: 1")
    else:
        _check_type_and_version(request_type, version)
    return json.loads(json.dumps(_schema(request_type, version)))


# --- checking -------------------------------------------------------------------------------------------------


def _pointer(parts: Any) -> str:
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


def _short(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, (str, int, float, bool, type(None))) else \
        type(value).__name__
    return text if len(text) <= 60 else text[:57] + "..."


_JSON_TYPES = {"string": "text", "integer": "a whole number", "number": "a number", "object": "an object",
               "array": "an array", "boolean": "true or false", "null": "null"}


def _explain(error: ValidationError) -> tuple[str, str]:
    """A JSON pointer and a reason for one schema violation, in words that never echo a long value."""
    path = _pointer(error.absolute_path)
    keyword, expected, schema = error.validator, error.validator_value, error.schema
    value = error.instance
    if keyword == "required":
        missing = [name for name in expected if isinstance(value, dict) and name not in value]
        name = missing[0] if missing else expected[0]
        return f"{path}/{name}", "required"
    if keyword == "additionalProperties" and isinstance(value, dict):
        allowed = set(schema.get("properties", {}))
        extra = sorted(name for name in value if name not in allowed)
        where = f"{path}/{extra[0]}" if extra else path
        return where, f"not a member here (members: {', '.join(sorted(allowed))})"
    if keyword == "dependentRequired":
        return path, "latitude and longitude go together: give both or neither"
    if keyword == "type":
        names = expected if isinstance(expected, list) else [expected]
        return path, "must be " + " or ".join(_JSON_TYPES.get(name, name) for name in names)
    if keyword == "const":
        return path, f"must be {_short(expected)}"
    if keyword == "enum":
        return path, "must be one of " + ", ".join(_short(option) for option in expected)
    if keyword == "minLength":
        return path, "must not be empty" if expected == 1 else f"must be at least {expected} characters"
    if keyword == "maxLength":
        return path, f"must be at most {expected} characters"
    if keyword == "pattern" or keyword == "format":
        return path, _pattern_reason(schema, value)
    if keyword in ("minimum", "maximum"):
        low, high = schema.get("minimum"), schema.get("maximum")
        if low is not None and high is not None:
            return path, f"must be from {low} to {high}, not {_short(value)}"
        return path, f"must be at {'least' if keyword == 'minimum' else 'most'} {expected}, not {_short(value)}"
    if keyword == "minItems":
        return path, f"must list at least {expected}"
    if keyword == "maxItems":
        return path, f"must list at most {expected}"
    if keyword == "uniqueItems":
        return path, "must not list anything twice"
    return path, error.message if len(error.message) <= 200 else error.message[:197] + "..."


def _pattern_reason(schema: dict[str, Any], value: object) -> str:
    if schema.get("format") == "date-time":
        try:
            parse_time(value)
        except ValueError as error:
            return str(error)
    description = schema.get("description")
    if description:
        return f"{_short(value)} does not fit: {description}"
    return f"{_short(value)} is not in the expected form ({schema.get('pattern')})"


def _condition(root: dict[str, Any], error: ValidationError) -> str | None:
    """For a member required only in some cases (an ``if``/``then`` at the top of the schema), the case."""
    parts = list(error.schema_path)
    if "then" not in parts or "$ref" in parts:
        return None
    node: Any = root
    for part in parts[:parts.index("then")]:
        node = node[part]
    words = []
    for name, rule in node.get("if", {}).get("properties", {}).items():
        if "const" in rule:
            words.append(f"{name} is {rule['const']}")
        elif "enum" in rule:
            words.append(f"{name} is {' or '.join(map(str, rule['enum']))}")
    return " and ".join(words) or None


def _check(kind: str, version: int, payload: object) -> None:
    validator = _validator(kind, version)
    # The deepest error is the most useful one to a person: "/requested_by/name: required" rather than
    # "/requested_by: not valid". Ties go to the first, in the schema's own order.
    error = max(validator.iter_errors(payload), key=lambda error: len(error.absolute_path), default=None)
    if error is not None:
        path, reason = _explain(error)
        if error.validator == "required":
            condition = _condition(_schema(kind, version), error)
            if condition:
                reason = f"required when {condition}"
        raise MessageError(path, reason)


def _check_type_and_version(request_type: object, version: object) -> None:
    if not isinstance(request_type, str) or request_type not in SUPPORTED_VERSIONS:
        raise MessageError("/request_type", f"unknown request type {_short(request_type)}; this hub takes "
                                            + ", ".join(REQUEST_TYPES))
    supported = SUPPORTED_VERSIONS[request_type]
    if type(version) is not int or version not in supported:
        if type(version) is float and version.is_integer() and int(version) in supported:
            return
        raise MessageError("/version", f"version {_short(version)} of {request_type} is not supported; "
                                       f"supported: {', '.join(map(str, supported))}")


# --- requests ------------------------------------------------------------------------------------------------


def _officer(data: dict[str, Any]) -> Officer:
    return Officer(name=data["name"], force=data["force"], collar_number=data.get("collar_number"),
                   role=data.get("role"))


def _time_or_none(value: str | None) -> datetime | None:
    return None if value is None else parse_time(value)


def _coordinate(value: float | None) -> float | None:
    return None if value is None else float(value)


def decode_request(payload: dict) -> PoliceRequest:
    """A request from the force, checked against its type's schema; MessageError when it does not fit."""
    if not isinstance(payload, dict):
        raise MessageError("", "a request is a JSON object")
    if "request_type" not in payload:
        raise MessageError("/request_type", "required")
    if "version" not in payload:
        raise MessageError("/version", "required")
    kind, version = payload["request_type"], payload["version"]
    _check_type_and_version(kind, version)
    _check(kind, int(version), payload)
    common = {"request_id": payload["request_id"], "reason": payload["reason"],
              "requested_by": _officer(payload["requested_by"])}
    if kind == "live_view":
        return LiveViewRequest(camera=payload["camera"], minutes=int(payload["minutes"]),
                               force_reference=payload.get("force_reference"), **common)
    if kind == "point_camera":
        return PointCameraRequest(camera=payload["camera"], preset=payload["preset"],
                                  force_reference=payload.get("force_reference"), **common)
    if kind == "retain_footage":
        start, end = parse_time(payload["start"]), parse_time(payload["end"])
        retain_until = _time_or_none(payload.get("retain_until"))
        if end <= start:
            raise MessageError("/end", "must be after start")
        if retain_until is not None and retain_until <= end:
            raise MessageError("/retain_until", "must be after end")
        return RetainFootageRequest(crime_reference=payload["crime_reference"], cameras=payload["cameras"],
                                    start=start, end=end, retain_until=retain_until, **common)
    location = payload["location"]
    place = MonitoredPlace(name=location["name"], latitude=_coordinate(location.get("latitude")),
                           longitude=_coordinate(location.get("longitude")), uprn=location.get("uprn"))
    return MonitorLocationRequest(location=place, until=parse_time(payload["until"]),
                                  cameras=payload.get("cameras", ()), force_reference=payload.get("force_reference"),
                                  **common)


def _without_none(data: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in data.items() if value is not None}


def _officer_json(officer: Officer) -> dict[str, Any]:
    return _without_none({"name": officer.name, "force": officer.force, "collar_number": officer.collar_number,
                          "role": officer.role})


def encode_request(request: PoliceRequest) -> dict:
    """A request as its JSON object (optional members left out when empty); MessageError when it would
    break its own schema, so nothing invalid is ever sent."""
    if not isinstance(request, (LiveViewRequest, PointCameraRequest, RetainFootageRequest, MonitorLocationRequest)):
        raise TypeError(f"not a police request: {type(request).__name__}")
    data: dict[str, Any] = {"request_type": request.request_type, "version": request.version,
                            "request_id": request.request_id, "reason": request.reason,
                            "requested_by": _officer_json(request.requested_by)}
    if isinstance(request, LiveViewRequest):
        data.update(camera=request.camera, minutes=request.minutes, force_reference=request.force_reference)
    elif isinstance(request, PointCameraRequest):
        data.update(camera=request.camera, preset=request.preset, force_reference=request.force_reference)
    elif isinstance(request, RetainFootageRequest):
        data.update(crime_reference=request.crime_reference, cameras=list(request.cameras),
                    start=format_time(request.start), end=format_time(request.end),
                    retain_until=None if request.retain_until is None else format_time(request.retain_until))
    else:
        place = request.location
        data.update(location=_without_none({"name": place.name, "latitude": place.latitude,
                                            "longitude": place.longitude, "uprn": place.uprn}),
                    until=format_time(request.until), cameras=list(request.cameras) or None,
                    force_reference=request.force_reference)
    data = _without_none(data)
    _check_numbers(data)
    decode_request(data)  # the same checks the other end makes, including end after start
    return data


def _check_numbers(data: Any, path: str = "") -> None:
    # JSON has no NaN or infinity; a writer that let one through would send null or fail at the far end.
    if isinstance(data, float) and not math.isfinite(data):
        raise MessageError(path, "must be a finite number")
    if isinstance(data, dict):
        for name, value in data.items():
            _check_numbers(value, f"{path}/{name}")
    elif isinstance(data, list):
        for index, value in enumerate(data):
            _check_numbers(value, f"{path}/{index}")


# --- answers --------------------------------------------------------------------------------------------------


def decode_alert_answer(payload: dict) -> AlertAnswer:
    """The force's answer to a CAP Alert; MessageError when it does not fit its schema."""
    if not isinstance(payload, dict):
        raise MessageError("", "an alert answer is a JSON object")
    _check("alert_answer", 1, payload)
    return AlertAnswer(identifier=payload["identifier"], incident_id=payload["incident_id"],
                       answer=payload["answer"], reason=payload.get("reason"),
                       force_reference=payload.get("force_reference"), answered_by=payload.get("answered_by"))


def encode_alert_answer(answer: AlertAnswer) -> dict:
    """An alert answer as its JSON object; MessageError when it would break its schema."""
    data = _without_none({"identifier": answer.identifier, "incident_id": answer.incident_id,
                          "answer": answer.answer, "reason": answer.reason,
                          "force_reference": answer.force_reference, "answered_by": answer.answered_by})
    _check("alert_answer", 1, data)
    return data


def decode_request_answer(payload: dict) -> RequestAnswer:
    """The room's answer to a request; MessageError when it does not fit its schema."""
    if not isinstance(payload, dict):
        raise MessageError("", "a request answer is a JSON object")
    _check("request_answer", 1, payload)
    stream = payload.get("stream")
    return RequestAnswer(
        request_id=payload["request_id"], request_type=payload["request_type"], outcome=payload["outcome"],
        detail=payload["detail"],
        stream=None if stream is None else StreamGrant(camera=stream["camera"], uri=stream["uri"],
                                                       expires_at=parse_time(stream["expires_at"])),
        hold=payload.get("hold"), manifest=payload.get("manifest", ()))


def _plain(value: Any) -> Any:
    """Python values as JSON's: a time as ISO 8601 text with its offset, a tuple as an array."""
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {name: _plain(item) for name, item in value.items()}
    return value


def encode_request_answer(answer: RequestAnswer) -> dict:
    """A request answer as its JSON object; MessageError when it would break its schema (an accepted live
    view without its stream, a hold without its id)."""
    stream = answer.stream
    data = _without_none({
        "request_id": answer.request_id, "request_type": answer.request_type, "outcome": answer.outcome,
        "detail": answer.detail,
        "stream": None if stream is None else {"camera": stream.camera, "uri": stream.uri,
                                               "expires_at": format_time(stream.expires_at)},
        "hold": None if answer.hold is None else _plain(answer.hold),
        "manifest": _plain(answer.manifest) or None,
    })
    _check_numbers(data)
    _check("request_answer", 1, data)
    return data
