"""The police link's frames: one JSON object per WebSocket text message, read strictly and written compactly.

Reading never raises anything but ``FrameError``, whatever arrives: its ``code`` is the one the ``error``
frame answers with (``oversized``, ``malformed``, ``unknown_type``, ``invalid``), its ``reason`` names the
member at fault, and it carries the frame's ``transaction_id`` and ``link_seq`` when they could be read, so
a bad ``event`` can be answered with an ``event_response`` of status ``error`` instead. Times are ISO 8601
with a UTC offset (``Z`` or ``+01:00``); numbers are finite. docs/police-link-protocol.md is the wire
specification this implements.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, ClassVar

import orjson
from attrs import field, frozen

MAX_FRAME_BYTES = 1_048_576

CAP_XML = "application/cap+xml"
POLICE_REQUEST = "application/vnd.cctv-hub.police-request+json; version=1"
REQUEST_ANSWER = "application/vnd.cctv-hub.request-answer+json; version=1"
ALERT_ANSWER = "application/vnd.cctv-hub.alert-answer+json; version=1"
CONTENT_TYPES = (CAP_XML, POLICE_REQUEST, REQUEST_ANSWER, ALERT_ANSWER)

STATUSES = ("ok", "duplicate", "error", "stale", "busy")
ERROR_CODES = ("malformed", "unknown_type", "oversized", "invalid")
FRAME_TYPES = ("event", "event_response", "resume", "snapshot", "ping", "pong", "error")

#: The largest sequence number either end may use: JavaScript's largest exact integer, so a peer written
#: in any language reads it exactly.
MAX_SEQ = 2**53 - 1
MAX_REASON = 2000

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}", re.ASCII)
_CONTENT_TYPE = re.compile(r"[!-~][ -~]{0,199}", re.ASCII)
_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:(Z)|([+-])(\d{2}):(\d{2}))", re.ASCII)


class FrameError(ValueError):
    """A frame that cannot be read. ``code``: ``oversized``, ``malformed``, ``unknown_type`` or ``invalid``;
    ``reason`` says why for the people at the other end; ``transaction_id`` and ``link_seq`` are the frame's
    own where they could be read (None otherwise)."""

    def __init__(self, code: str, reason: str, *, transaction_id: str | None = None,
                 link_seq: int | None = None) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason
        self.transaction_id = transaction_id
        self.link_seq = link_seq


class _Bad(ValueError):
    """One member of a frame is wrong; the message starts with the member's name."""


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- times ------------------------------------------------------------------------------------------------


def parse_time(text: object) -> datetime:
    """``2026-11-22T10:15:30+00:00`` (``Z`` allowed, fraction optional) as an aware datetime keeping its
    offset; ValueError for anything else, including a time without an offset."""
    if not isinstance(text, str):
        raise ValueError(f"must be ISO 8601 text with a UTC offset, not {type(text).__name__}")
    match = _TIME.fullmatch(text)
    if match is None:
        raise ValueError(f"{_show(text)} is not an ISO 8601 time with a UTC offset "
                         "(e.g. 2026-11-22T10:15:30+00:00)")
    year, month, day, hour, minute, second, fraction, zulu, sign, off_hours, off_minutes = match.groups()
    try:
        if zulu:
            zone = UTC
        else:
            if int(off_hours) > 23 or int(off_minutes) > 59:
                raise ValueError("offset out of range")
            offset = timedelta(hours=int(off_hours), minutes=int(off_minutes))
            zone = timezone(-offset if sign == "-" else offset)
        return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                        int((fraction or "0")[:6].ljust(6, "0")), tzinfo=zone)
    except ValueError:
        raise ValueError(f"{_show(text)} is not a real time") from None


def format_time(moment: datetime) -> str:
    """An aware datetime as ISO 8601 with its offset (``2026-11-22T10:15:30+00:00``); microseconds when it
    has any. An offset with seconds in it, which the wire cannot say, is written as UTC."""
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError(f"{moment!r} has no UTC offset")
    if offset % timedelta(minutes=1):
        moment = moment.astimezone(UTC)
    return moment.isoformat()


# --- member checks (shared by the classes' validators and the reader) --------------------------------------


def _seq(minimum: int, nullable: bool = False) -> Any:
    def check(_instance: object, attribute: Any, value: object) -> None:
        if value is None and nullable:
            return
        if type(value) is not int:
            raise _Bad(f"{attribute.name}: must be an integer, not {_show(value)}")
        if not minimum <= value <= MAX_SEQ:
            raise _Bad(f"{attribute.name}: must be from {minimum} to {MAX_SEQ}, not {value}")

    return check


def _identifier(nullable: bool = False) -> Any:
    def check(_instance: object, attribute: Any, value: object) -> None:
        if value is None and nullable:
            return
        if not isinstance(value, str) or not _ID.fullmatch(value):
            raise _Bad(f"{attribute.name}: must be 1 to 128 of A-Z a-z 0-9 . _ : - (starting with a letter or "
                       f"digit), not {_show(value)}")

    return check


def _content_type(_instance: object, attribute: Any, value: object) -> None:
    if not isinstance(value, str) or not _CONTENT_TYPE.fullmatch(value):
        raise _Bad(f"{attribute.name}: must be a media type of 1 to 200 printable ASCII characters, not {_show(value)}")


def _is_json_media(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _payload(instance: Any, attribute: Any, value: object) -> None:
    if _is_json_media(instance.content_type):
        if not isinstance(value, dict):
            raise _Bad(f"{attribute.name}: must be a JSON object for {instance.content_type}, "
                       f"not {_json_kind(value)}")
    elif not isinstance(value, str):
        raise _Bad(f"{attribute.name}: must be a string for {instance.content_type}, not {_json_kind(value)}")


def _aware(nullable: bool = False) -> Any:
    def check(_instance: object, attribute: Any, value: object) -> None:
        if value is None and nullable:
            return
        if not isinstance(value, datetime) or value.utcoffset() is None:
            raise _Bad(f"{attribute.name}: must be a time with a UTC offset, not {_show(value)}")

    return check


def _status(_instance: object, attribute: Any, value: object) -> None:
    if value not in STATUSES:
        raise _Bad(f"{attribute.name}: must be one of {', '.join(STATUSES)}, not {_show(value)}")


def _code(_instance: object, attribute: Any, value: object) -> None:
    if value not in ERROR_CODES:
        raise _Bad(f"{attribute.name}: must be one of {', '.join(ERROR_CODES)}, not {_show(value)}")


def _reason(nullable: bool) -> Any:
    def check(_instance: object, attribute: Any, value: object) -> None:
        if value is None and nullable:
            return
        if not isinstance(value, str) or len(value) > MAX_REASON:
            raise _Bad(f"{attribute.name}: must be text of at most {MAX_REASON} characters, not {_show(value)}")

    return check


def _clock(_instance: object, attribute: Any, value: object) -> None:
    if type(value) not in (int, float) or not math.isfinite(value) or value < 0:  # type: ignore[arg-type]
        raise _Bad(f"{attribute.name}: must be a finite, non-negative number of POSIX seconds, not {_show(value)}")


_INCIDENT_ITEM = {"incident_id": False, "identifier": False, "msg_type": False, "state": False, "answer": True}
_REQUEST_ITEM = {"request_id": False, "request_type": False, "state": False}


def _items(required: dict[str, bool]) -> Any:
    """Each item an object with these members as strings (those marked True may be null); other members
    are allowed, so either end may say more about an item without breaking the other."""

    def check(_instance: object, attribute: Any, value: object) -> None:
        if not isinstance(value, tuple):
            raise _Bad(f"{attribute.name}: must be an array, not {_json_kind(value)}")
        for index, item in enumerate(value):
            where = f"{attribute.name}[{index}]"
            if not isinstance(item, dict):
                raise _Bad(f"{where}: must be an object, not {_json_kind(item)}")
            for name, nullable in required.items():
                if name not in item:
                    raise _Bad(f"{where}.{name}: required")
                member = item[name]
                if not (isinstance(member, str) and 0 < len(member) <= 200) and not (nullable and member is None):
                    raise _Bad(f"{where}.{name}: must be text of 1 to 200 characters"
                               f"{' or null' if nullable else ''}, not {_show(member)}")

    return check


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


# --- frames -------------------------------------------------------------------------------------------------


@frozen
class EventFrame:
    """``event``: one message for the other end's business. ``payload`` is text for XML content (CAP) and
    an object for JSON content; ``deadline`` the time after which it must not be applied."""

    TYPE: ClassVar[str] = "event"

    link_seq: int = field(validator=_seq(1))
    transaction_id: str = field(validator=_identifier())
    content_type: str = field(validator=_content_type)
    payload: str | dict = field(validator=_payload)
    sent_at: datetime = field(validator=_aware())
    deadline: datetime | None = field(default=None, validator=_aware(nullable=True))


@frozen
class EventResponse:
    """``event_response``: what became of one ``event`` (``status`` one of ``STATUSES``)."""

    TYPE: ClassVar[str] = "event_response"

    transaction_id: str = field(validator=_identifier())
    status: str = field(validator=_status)
    link_seq: int | None = field(default=None, validator=_seq(1, nullable=True))
    reason: str | None = field(default=None, validator=_reason(nullable=True))


@frozen
class Resume:
    """``resume``: the highest ``link_seq`` this end has durably processed from the other (0: none yet)."""

    TYPE: ClassVar[str] = "resume"

    last_seq_received: int = field(validator=_seq(0))


@frozen
class Snapshot:
    """``snapshot``: the incidents and requests this end holds open, once both ends are level after a
    resume."""

    TYPE: ClassVar[str] = "snapshot"

    sent_at: datetime = field(validator=_aware())
    incidents: tuple[dict, ...] = field(default=(), converter=tuple, validator=_items(_INCIDENT_ITEM))
    requests: tuple[dict, ...] = field(default=(), converter=tuple, validator=_items(_REQUEST_ITEM))


@frozen
class Ping:
    """``ping``: the sender's clock, in POSIX seconds."""

    TYPE: ClassVar[str] = "ping"

    clock: float = field(validator=_clock)


@frozen
class Pong:
    """``pong``: the answer to a ping: the answerer's own clock, and the ping's clock echoed."""

    TYPE: ClassVar[str] = "pong"

    clock: float = field(validator=_clock)
    echo: float = field(validator=_clock)


@frozen
class ErrorFrame:
    """``error``: the answer to a frame that could not be read at all (``code`` one of ``ERROR_CODES``)."""

    TYPE: ClassVar[str] = "error"

    code: str = field(validator=_code)
    reason: str = field(validator=_reason(nullable=False))
    transaction_id: str | None = field(default=None, validator=_identifier(nullable=True))


Frame = EventFrame | EventResponse | Resume | Snapshot | Ping | Pong | ErrorFrame

# --- reading ------------------------------------------------------------------------------------------------


def _members(data: dict[str, Any], kind: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> None:
    for name in required:
        if name not in data:
            raise _Bad(f"{name}: required in a {kind} frame")
    allowed = {"type", *required, *optional}
    for name in data:
        if name not in allowed:
            raise _Bad(f"{_show(name)}: not a member of {kind} frames "
                       f"(members: {', '.join(sorted(allowed - {'type'}))})")


def _time(data: dict[str, Any], name: str, nullable: bool = False) -> datetime | None:
    value = data.get(name)
    if value is None and nullable:
        return None
    try:
        return parse_time(value)
    except ValueError as error:
        raise _Bad(f"{name}: {error}") from None


def _number(value: object) -> object:
    # JSON has one number type: 5 and 5.0 are the same clock. Booleans stay as they are, to be refused.
    return float(value) if type(value) is int else value


def _array(data: dict[str, Any], name: str) -> tuple:
    value = data.get(name, [])
    if not isinstance(value, list):
        raise _Bad(f"{name}: must be an array, not {_json_kind(value)}")
    return tuple(value)


def _read_event(data: dict[str, Any]) -> EventFrame:
    _members(data, "event", ("link_seq", "transaction_id", "content_type", "sent_at", "payload"), ("deadline",))
    return EventFrame(link_seq=data["link_seq"], transaction_id=data["transaction_id"],
                      content_type=data["content_type"], payload=data["payload"],
                      sent_at=_time(data, "sent_at"), deadline=_time(data, "deadline", nullable=True))


def _read_event_response(data: dict[str, Any]) -> EventResponse:
    _members(data, "event_response", ("transaction_id", "status"), ("link_seq", "reason"))
    return EventResponse(transaction_id=data["transaction_id"], status=data["status"],
                         link_seq=data.get("link_seq"), reason=data.get("reason"))


def _read_resume(data: dict[str, Any]) -> Resume:
    _members(data, "resume", ("last_seq_received",))
    return Resume(last_seq_received=data["last_seq_received"])


def _read_snapshot(data: dict[str, Any]) -> Snapshot:
    _members(data, "snapshot", ("sent_at", "incidents", "requests"))
    return Snapshot(sent_at=_time(data, "sent_at"), incidents=_array(data, "incidents"),
                    requests=_array(data, "requests"))


def _read_ping(data: dict[str, Any]) -> Ping:
    _members(data, "ping", ("clock",))
    return Ping(clock=_number(data["clock"]))  # type: ignore[arg-type]


def _read_pong(data: dict[str, Any]) -> Pong:
    _members(data, "pong", ("clock", "echo"))
    return Pong(clock=_number(data["clock"]), echo=_number(data["echo"]))  # type: ignore[arg-type]


def _read_error(data: dict[str, Any]) -> ErrorFrame:
    _members(data, "error", ("code", "reason"), ("transaction_id",))
    return ErrorFrame(code=data["code"], reason=data["reason"], transaction_id=data.get("transaction_id"))


_READERS = {
    "event": _read_event,
    "event_response": _read_event_response,
    "resume": _read_resume,
    "snapshot": _read_snapshot,
    "ping": _read_ping,
    "pong": _read_pong,
    "error": _read_error,
}


def _readable_ids(data: dict[str, Any]) -> dict[str, Any]:
    """The frame's transaction id and link sequence number, where each is well formed (never echo a bad one)."""
    transaction_id = data.get("transaction_id")
    link_seq = data.get("link_seq")
    return {
        "transaction_id": transaction_id if isinstance(transaction_id, str) and _ID.fullmatch(transaction_id) else None,
        "link_seq": link_seq if type(link_seq) is int and 1 <= link_seq <= MAX_SEQ else None,
    }


def decode_frame(text: str | bytes, *, max_bytes: int = MAX_FRAME_BYTES) -> Frame:
    """One frame from one WebSocket message (text, or the bytes of one); FrameError when it cannot be read.

    The size is checked before anything is parsed: more than ``max_bytes`` bytes of UTF-8 is ``oversized``.
    """
    if isinstance(text, str):
        if len(text) > max_bytes:  # a character is at least one byte: too long already
            raise FrameError("oversized", f"more than {max_bytes} bytes (the most a frame may be)")
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:
            raise FrameError("malformed", "not UTF-8 text (it holds a lone surrogate)") from None
    elif isinstance(text, (bytes, bytearray, memoryview)):
        data = bytes(text)
    else:
        raise TypeError(f"a frame is text or bytes, not {type(text).__name__}")
    if len(data) > max_bytes:
        raise FrameError("oversized", f"{len(data)} bytes, more than {max_bytes} (the most a frame may be)")
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        if "UTF-8" in error.msg and "byte order mark" not in error.msg:
            raise FrameError("malformed", "not UTF-8 text") from None
        raise FrameError("malformed", f"not JSON: {error.msg} at character {error.pos}") from None
    except RecursionError:  # orjson caps nesting itself; this is a second line
        raise FrameError("malformed", "nested too deeply") from None
    if not isinstance(parsed, dict):
        raise FrameError("malformed", f"a frame is a JSON object, not {_json_kind(parsed)}")
    ids = _readable_ids(parsed)
    kind = parsed.get("type")
    if kind is None:
        raise FrameError("malformed", "type: required (every frame is an object with a type)", **ids)
    if not isinstance(kind, str):
        raise FrameError("malformed", f"type: must be a string, not {_json_kind(kind)}", **ids)
    reader = _READERS.get(kind)
    if reader is None:
        raise FrameError("unknown_type", f"type: {_show(kind)} is not a frame type ({', '.join(FRAME_TYPES)})",
                         **ids)
    try:
        return reader(parsed)
    except _Bad as error:
        raise FrameError("invalid", str(error), **ids) from None


# --- writing ------------------------------------------------------------------------------------------------


def _frame_dict(frame: Frame) -> dict[str, Any]:
    if isinstance(frame, EventFrame):
        return {"type": "event", "link_seq": frame.link_seq, "transaction_id": frame.transaction_id,
                "content_type": frame.content_type, "sent_at": format_time(frame.sent_at),
                "deadline": None if frame.deadline is None else format_time(frame.deadline),
                "payload": frame.payload}
    if isinstance(frame, EventResponse):
        return {"type": "event_response", "transaction_id": frame.transaction_id, "link_seq": frame.link_seq,
                "status": frame.status, "reason": frame.reason}
    if isinstance(frame, Resume):
        return {"type": "resume", "last_seq_received": frame.last_seq_received}
    if isinstance(frame, Snapshot):
        return {"type": "snapshot", "sent_at": format_time(frame.sent_at), "incidents": list(frame.incidents),
                "requests": list(frame.requests)}
    if isinstance(frame, Ping):
        return {"type": "ping", "clock": frame.clock}
    if isinstance(frame, Pong):
        return {"type": "pong", "clock": frame.clock, "echo": frame.echo}
    if isinstance(frame, ErrorFrame):
        return {"type": "error", "code": frame.code, "reason": frame.reason, "transaction_id": frame.transaction_id}
    raise TypeError(f"not a frame: {type(frame).__name__}")


def encode_frame(frame: Frame) -> str:
    """The frame as compact JSON text, ``type`` first; times as ISO 8601 with their offset."""
    return orjson.dumps(_frame_dict(frame)).decode("utf-8")
