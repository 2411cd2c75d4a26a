"""CAP 1.2 (OASIS Common Alerting Protocol) alerts as the hub sends them to a force control room, written valid
against the official OASIS XML schema and read back safely from untrusted bytes.

The hub's CAP profile
---------------------
One ``<alert>`` per message about one incident, in the namespace ``urn:oasis:names:tc:emergency:cap:1.2``:

- ``identifier``: ``identifier_for(sender, incident_id, number)``, i.e. ``SENDER/INCIDENT/N``: the room's
  sender id, the hub's incident id and the message's number in that incident's chain (any character CAP
  forbids in an identifier, and ``/`` and ``%``, percent-encoded), so it is unique and never reused.
- ``sender``: the room's CAP sender id (``[adapters.NAME] sender``). Identifier and sender never contain
  whitespace, commas, ``<`` or ``&`` (CAP 1.2 forbids them: they would break ``references``).
- ``sent``: when the message was made, to the second, with its UTC offset: ``2026-11-22T10:15:30+01:00``;
  UTC is written ``-00:00`` as CAP 1.2 requires (never ``Z``, never a fraction: the schema's pattern forbids
  both). An offset the pattern cannot hold (seconds, beyond 14 hours) is written as UTC.
- ``status``: ``Actual`` in service, ``Exercise`` or ``Test`` in trials (``cap_status``); ``msgType``:
  ``Alert`` for a new incident, ``Update`` for a change, ``Cancel`` when the room withdraws it. An Update,
  Cancel, Ack or Error must carry ``references``.
- ``scope``: ``Private``, which CAP says needs ``addresses``: the force (``cap_listing`` quotes a name with
  spaces, since CAP separates addresses by whitespace). ``Public`` is also accepted; ``Restricted`` is not
  (it needs a ``restriction`` text this profile does not carry).
- ``source``, ``note``, ``code``: optional free text (``code`` may repeat).
- ``references``: the earlier messages of the chain this one follows or supersedes, as CAP's
  ``sender,identifier,sent`` triples separated by spaces.
- ``incidents``: the hub's incident id (a name holding spaces is double-quoted, as CAP says).
- ``info`` (any number, usually one): ``language`` (``en-GB`` unless given), ``category`` (``Security``
  unless given), ``event``, ``urgency``, ``severity``, ``certainty``; optional ``senderName``, ``headline``,
  ``description``, ``instruction``, ``web``, ``contact``; ``parameter`` name/value pairs; ``resource`` per
  still or clip (``resourceDesc``, ``mimeType``, ``size`` in bytes, ``uri`` where the force fetches it,
  ``digest``: the SHA-1 CAP 1.2 defines); and ``area`` per location (``areaDesc``; a ``circle``
  ``lat,lon radius_km``; a closed ``polygon`` of at least four WGS 84 ``lat,lon`` pairs; ``geocode``
  name/value pairs such as ``UPRN`` with the property's Unique Property Reference Number).
- Since CAP's digest is SHA-1, each resource's SHA-256 also travels in an info ``parameter`` named
  ``resource_sha256`` whose value is ``"<the resource's uri, or its description when it has none> <hex>"``
  (one per resource, after the info's other parameters). The name is reserved: ``CapInfo.parameters`` may
  not use it, and ``decode_alert`` gives the hash back on its ``CapResource``.

The schema's other optional elements (``restriction``, ``responseType``, ``audience``, ``eventCode``,
``effective``, ``onset``, ``expires``, ``derefUri``, ``altitude``, ``ceiling``, a signature) are not part of
the profile: ``decode_alert`` refuses a message carrying one rather than drop what it says.

Every class checks its values when made and raises ``CapError`` with the reason, so a message that can be
built can be encoded, and ``decode_alert(encode_alert(alert)) == alert``. ``decode_alert`` reads untrusted
bytes: no DTD, no entities, no network, a size cap, libxml2's depth limit; a document type declaration is
refused outright. Times are passed in: nothing here reads a clock.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from attrs import field, frozen
from lxml import etree

CAP_NAMESPACE = "urn:oasis:names:tc:emergency:cap:1.2"
_NS = "{" + CAP_NAMESPACE + "}"

STATUSES = ("Actual", "Exercise", "System", "Test", "Draft")
MSG_TYPES = ("Alert", "Update", "Cancel", "Ack", "Error")
SCOPES = ("Public", "Restricted", "Private")
CATEGORIES = ("Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env", "Transport", "Infra", "CBRNE", "Other")
URGENCIES = ("Immediate", "Expected", "Future", "Past", "Unknown")
SEVERITIES = ("Extreme", "Severe", "Moderate", "Minor", "Unknown")
CERTAINTIES = ("Observed", "Likely", "Possible", "Unlikely", "Unknown")
#: The info parameter that carries a resource's SHA-256 (CAP's own digest is SHA-1).
RESOURCE_SHA256 = "resource_sha256"
#: Message types that supersede or answer earlier messages, so must name them in ``references``.
_REFERRING = ("Update", "Cancel", "Ack", "Error")
DEFAULT_MAX_BYTES = 1_048_576


class CapError(ValueError):
    """A CAP alert that cannot be made or read; the message says which element and why. It never repeats
    the document's free text; a refused structured value (an identifier, a status, a number) is quoted
    clipped to 60 characters."""


# --- checks ------------------------------------------------------------------------------------------------

# XML 1.0's Char production: what an element's text may hold at all.
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_HEX40 = re.compile(r"^[0-9a-fA-F]{40}$")
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_LANGUAGE = re.compile(r"^[a-zA-Z]{1,8}(?:-[a-zA-Z0-9]{1,8})*$")  # xs:language
_TOKEN_CHARS = r"!#$%&'*+.^_`|~0-9A-Za-z-"
_MIME_TYPE = re.compile(rf"^[{_TOKEN_CHARS}]+/[{_TOKEN_CHARS}]+(?:\s*;\s*[{_TOKEN_CHARS}]+=\S+)*$")
# An absolute URI in RFC 3986's characters (a non-ASCII one must be percent-encoded first).
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+$")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_UPRN = re.compile(r"^[0-9]{1,12}$")
_CAP_TIME = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)([+-])(\d\d):(\d\d)$")
_DECIMAL = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
_SIZE = re.compile(r"^\d{1,18}$")
_MAX_OFFSET = timedelta(hours=14)


def _fail(name: str, reason: str) -> CapError:
    return CapError(f"{name} {reason}")


def _check_xml_text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise _fail(name, f"must be text, not {type(value).__name__}")
    bad = _NOT_XML_CHAR.search(value)
    if bad:
        raise _fail(name, f"holds U+{ord(bad.group()):04X} at {bad.start()}, which XML 1.0 cannot carry")
    return value


def _check_required_text(name: str, value: object) -> str:
    _check_xml_text(name, value)
    if not value.strip():  # type: ignore[union-attr]
        raise _fail(name, "must not be empty")
    return value  # type: ignore[return-value]


def _check_token(name: str, value: object) -> str:
    """CAP 1.2 on identifier and sender: no spaces, commas or restricted characters (< and &)."""
    _check_required_text(name, value)
    for char in value:  # type: ignore[union-attr]
        if char.isspace() or char in ",<&":
            raise _fail(name, f"must not contain whitespace, commas, '<' or '&' (CAP 1.2), got {_got(value)}")
    return value  # type: ignore[return-value]


def _check_uri(name: str, value: object) -> str:
    _check_xml_text(name, value)
    if not _URI.match(value) or _BAD_PERCENT.search(value):  # type: ignore[arg-type]
        raise _fail(name, f"must be an absolute URI (scheme:..., ASCII, non-ASCII percent-encoded), got {_got(value)}")
    return value  # type: ignore[return-value]


def _check_one_of(name: str, value: object, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise _fail(name, f"must be one of {', '.join(allowed)}, got {_got(value)}")
    return value  # type: ignore[return-value]


def _check_moment(name: str, value: object) -> datetime:
    if not isinstance(value, datetime):
        raise _fail(name, f"must be a datetime, not {type(value).__name__}")
    if value.utcoffset() is None:
        raise _fail(name, "must carry a timezone (CAP times always state their UTC offset)")
    return value


def _check_number(name: str, value: object, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _fail(name, f"must be a finite number, got {_got(value)}")
    if not low <= value <= high:
        raise _fail(name, f"must be from {low:g} to {high:g}, got {_got(value)}")
    return value


def _check_pairs(name: str, value: tuple, check_value: Any = _check_xml_text) -> None:
    for index, pair in enumerate(value, 1):
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise _fail(f"{name} {index}", "must be a (name, value) pair")
        _check_required_text(f"{name} {index} name", pair[0])
        check_value(f"{name} {index} value", pair[1])


# --- converters --------------------------------------------------------------------------------------------


def _optional_text(value: object) -> object:
    """An empty optional text is the same as none: the element is left out."""
    return None if value == "" else value


def _tuple(value: object) -> object:
    return tuple(value) if isinstance(value, (list, tuple)) else value


def _pairs(value: object) -> object:
    if isinstance(value, (list, tuple)):
        return tuple(tuple(pair) if isinstance(pair, list) else pair for pair in value)
    return value


def _whole_seconds(value: object) -> object:
    """CAP times have no fraction: a moment is kept to the second, so what is sent is what is read back."""
    return value.replace(microsecond=0) if isinstance(value, datetime) else value


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


# --- the model ---------------------------------------------------------------------------------------------


@frozen
class CapReference:
    """An earlier message this one follows or supersedes: CAP's ``sender,identifier,sent``."""

    sender: str
    identifier: str
    sent: datetime = field(converter=_whole_seconds)

    def __attrs_post_init__(self) -> None:
        _check_token("reference sender", self.sender)
        _check_token("reference identifier", self.identifier)
        _check_moment("reference sent", self.sent)

    def text(self) -> str:
        """The reference as ``references`` lists it."""
        return f"{self.sender},{self.identifier},{cap_time(self.sent)}"


@frozen
class CapResource:
    """A still or clip the alert points at. ``sha1`` goes in CAP's ``digest``; ``sha256`` in the info's
    ``resource_sha256`` parameter. Hashes are hex, kept in lower case."""

    description: str
    mime_type: str
    size: int | None = None
    uri: str | None = field(default=None, converter=_optional_text)
    sha1: str | None = field(default=None, converter=_lower)
    sha256: str | None = field(default=None, converter=_lower)

    def __attrs_post_init__(self) -> None:
        _check_required_text("resource description", self.description)
        _check_xml_text("resource mime_type", self.mime_type)
        if not _MIME_TYPE.match(self.mime_type):
            raise _fail("resource mime_type", f"must be a MIME type such as image/jpeg, got {_got(self.mime_type)}")
        if self.size is not None and (isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0):
            raise _fail("resource size", f"must be a whole number of bytes, got {_got(self.size)}")
        if self.uri is not None:
            _check_uri("resource uri", self.uri)
        if self.sha1 is not None and (not isinstance(self.sha1, str) or not _HEX40.match(self.sha1)):
            raise _fail("resource sha1", "must be 40 hex digits (CAP's digest is SHA-1)")
        if self.sha256 is not None and (not isinstance(self.sha256, str) or not _HEX64.match(self.sha256)):
            raise _fail("resource sha256", "must be 64 hex digits")

    @property
    def key(self) -> str:
        """What the ``resource_sha256`` parameter names the resource by: its uri, else its description."""
        return self.uri or self.description


@frozen
class CapArea:
    """Where: a description, and a circle (lat, lon, radius in km), a closed polygon of (lat, lon) pairs
    and/or geocodes such as ``("UPRN", "10023456789")``, all WGS 84."""

    description: str
    circle: tuple[float, float, float] | None = field(default=None, converter=_tuple)
    polygon: tuple[tuple[float, float], ...] = field(default=(), converter=_pairs)
    geocodes: tuple[tuple[str, str], ...] = field(default=(), converter=_pairs)

    def __attrs_post_init__(self) -> None:
        _check_required_text("area description", self.description)
        if self.circle is not None:
            if not isinstance(self.circle, tuple) or len(self.circle) != 3:
                raise _fail("area circle", "must be (latitude, longitude, radius_km)")
            _check_point("area circle centre", self.circle[:2])
            _check_number("area circle radius_km", self.circle[2], 0, 40_075)
        if not isinstance(self.polygon, tuple):
            raise _fail("area polygon", "must be a sequence of (latitude, longitude) pairs")
        if self.polygon:
            if len(self.polygon) < 4:
                raise _fail("area polygon", f"needs at least 4 points (CAP 1.2), got {len(self.polygon)}")
            for index, point in enumerate(self.polygon, 1):
                _check_point(f"area polygon point {index}", point)
            if self.polygon[0] != self.polygon[-1]:
                raise _fail("area polygon", "must be closed: its last point equal to its first (CAP 1.2)")
        if not isinstance(self.geocodes, tuple):
            raise _fail("area geocodes", "must be a sequence of (name, value) pairs")
        _check_pairs("area geocode", self.geocodes, _check_required_text)
        for name, value in self.geocodes:
            if name == "UPRN" and not _UPRN.match(value):
                raise _fail("area geocode UPRN", f"must be 1 to 12 digits, got {_got(value)}")


def _check_point(name: str, point: object) -> None:
    if not isinstance(point, tuple) or len(point) != 2:
        raise _fail(name, "must be a (latitude, longitude) pair")
    _check_number(f"{name} latitude", point[0], -90, 90)
    _check_number(f"{name} longitude", point[1], -180, 180)


@frozen
class CapInfo:
    """What the alert says: the event and how urgent, severe and certain it is, text for people, parameters,
    resources and areas."""

    event: str
    urgency: str
    severity: str
    certainty: str
    category: tuple[str, ...] = field(default=("Security",), converter=_tuple)
    language: str = "en-GB"
    headline: str | None = field(default=None, converter=_optional_text)
    description: str | None = field(default=None, converter=_optional_text)
    instruction: str | None = field(default=None, converter=_optional_text)
    sender_name: str | None = field(default=None, converter=_optional_text)
    web: str | None = field(default=None, converter=_optional_text)
    contact: str | None = field(default=None, converter=_optional_text)
    parameters: tuple[tuple[str, str], ...] = field(default=(), converter=_pairs)
    resources: tuple[CapResource, ...] = field(default=(), converter=_tuple)
    areas: tuple[CapArea, ...] = field(default=(), converter=_tuple)

    def __attrs_post_init__(self) -> None:
        _check_required_text("info event", self.event)
        _check_one_of("info urgency", self.urgency, URGENCIES)
        _check_one_of("info severity", self.severity, SEVERITIES)
        _check_one_of("info certainty", self.certainty, CERTAINTIES)
        if not isinstance(self.category, tuple) or not self.category:
            raise _fail("info category", "must name at least one category")
        for category in self.category:
            _check_one_of("info category", category, CATEGORIES)
        if not isinstance(self.language, str) or not _LANGUAGE.match(self.language):
            raise _fail("info language", f"must be a language tag such as en-GB, got {_got(self.language)}")
        for name in ("headline", "description", "instruction", "sender_name", "contact"):
            value = getattr(self, name)
            if value is not None:
                _check_xml_text(f"info {name}", value)
        if self.web is not None:
            _check_uri("info web", self.web)
        if not isinstance(self.parameters, tuple):
            raise _fail("info parameters", "must be a sequence of (name, value) pairs")
        _check_pairs("info parameter", self.parameters)
        if any(name == RESOURCE_SHA256 for name, _ in self.parameters):
            raise _fail("info parameter", f"{RESOURCE_SHA256!r} is reserved: give the hash as CapResource.sha256")
        _check_items("info resources", self.resources, CapResource)
        _check_items("info areas", self.areas, CapArea)
        keys = [resource.key for resource in self.resources]
        for resource in self.resources:
            if resource.sha256 is not None and keys.count(resource.key) > 1:
                raise _fail("info resources", f"share the uri or description {resource.key!r}, so their SHA-256 "
                                              "parameters could not be told apart")


def _check_items(name: str, value: object, kind: type) -> None:
    if not isinstance(value, tuple) or not all(isinstance(item, kind) for item in value):
        raise _fail(name, f"must be a sequence of {kind.__name__}")


@frozen
class CapAlert:
    """One CAP 1.2 alert message (see the module docstring for how the hub fills it)."""

    identifier: str
    sender: str
    sent: datetime = field(converter=_whole_seconds)
    status: str
    msg_type: str
    scope: str = "Private"
    addresses: str | None = field(default=None, converter=_optional_text)
    source: str | None = field(default=None, converter=_optional_text)
    note: str | None = field(default=None, converter=_optional_text)
    references: tuple[CapReference, ...] = field(default=(), converter=_tuple)
    incidents: tuple[str, ...] = field(default=(), converter=_tuple)
    code: tuple[str, ...] = field(default=(), converter=_tuple)
    info: tuple[CapInfo, ...] = field(default=(), converter=_tuple)

    def __attrs_post_init__(self) -> None:
        _check_token("identifier", self.identifier)
        _check_token("sender", self.sender)
        _check_moment("sent", self.sent)
        _check_one_of("status", self.status, STATUSES)
        _check_one_of("msg_type", self.msg_type, MSG_TYPES)
        _check_one_of("scope", self.scope, SCOPES)
        if self.scope == "Restricted":
            raise _fail("scope", "Restricted needs a <restriction> text the hub's CAP profile does not carry; "
                                 "use Private with addresses")
        if self.addresses is not None:
            _check_xml_text("addresses", self.addresses)
            _split_listing("addresses", self.addresses)
        if self.scope == "Private" and (self.addresses is None or not _split_listing("addresses", self.addresses)):
            raise _fail("addresses", "are required when scope is Private (CAP 1.2)")
        for name in ("source", "note"):
            value = getattr(self, name)
            if value is not None:
                _check_xml_text(name, value)
        _check_items("references", self.references, CapReference)
        if self.msg_type in _REFERRING and not self.references:
            raise _fail("references", f"are required for a {self.msg_type}: the messages it follows or supersedes")
        _check_items("incidents", self.incidents, str)
        for incident in self.incidents:
            _check_required_text("incident", incident)
            if '"' in incident:
                raise _fail("incident", f"must not contain '\"' (CAP quotes names with spaces), got {_got(incident)}")
        _check_items("code", self.code, str)
        for code in self.code:
            _check_required_text("code", code)
        _check_items("info", self.info, CapInfo)


# --- helpers -----------------------------------------------------------------------------------------------


def cap_time(moment: datetime) -> str:
    """``moment`` as CAP 1.2 writes a time: to the second, with its own UTC offset
    (``2026-11-22T10:15:30+01:00``); UTC as ``-00:00`` (CAP 1.2: never ``Z``). An offset the schema's
    ``±hh:mm`` cannot hold (seconds, more than 14 hours) is converted to UTC."""
    _check_moment("time", moment)
    offset = moment.utcoffset()
    assert offset is not None
    if offset.microseconds or offset.seconds % 60 or abs(offset) > _MAX_OFFSET:
        try:
            moment, offset = moment.astimezone(UTC), timedelta(0)
        except OverflowError:
            raise _fail("time", f"{moment!r} has no UTC equivalent") from None
    # isoformat, not strftime: glibc's %Y does not pad years before 1000 to the schema's four digits.
    local = moment.replace(tzinfo=None, microsecond=0).isoformat()
    if offset == timedelta(0):
        return local + "-00:00"
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(offset) // timedelta(minutes=1)
    return f"{local}{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def parse_cap_time(text: str, name: str = "time") -> datetime:
    """A CAP 1.2 time (``YYYY-MM-DDThh:mm:ss±hh:mm``) as an aware datetime, or ``CapError``."""
    match = _CAP_TIME.match(text) if isinstance(text, str) else None
    if match is None:
        raise _fail(name, f"must be a CAP time such as 2026-11-22T10:15:30-00:00, got {_got(text)}")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _fail(name, f"is not a real time: {text!r}") from None
    if abs(moment.utcoffset()) > _MAX_OFFSET:  # type: ignore[operator]
        raise _fail(name, f"has an offset beyond 14 hours: {text!r}")
    return moment


_IDENTIFIER_SAFE_EXTRA = ",<&/%"


def identifier_for(sender: str, incident_id: str, number: int) -> str:
    """The CAP identifier of message ``number`` about ``incident_id`` from ``sender``: ``SENDER/INCIDENT/N``.

    Unique per sender, incident and number, and never the same for two different inputs: a character of the
    incident id that CAP forbids in an identifier (whitespace, ``,``, ``<``, ``&``), a control character,
    ``/`` or ``%`` is percent-encoded (as UTF-8)."""
    _check_token("sender", sender)
    if not isinstance(incident_id, str) or not incident_id:
        raise _fail("incident_id", "must be non-empty text")
    if isinstance(number, bool) or not isinstance(number, int) or number < 0:
        raise _fail("number", f"must be a whole number from 0, got {_got(number)}")
    encoded = "".join(
        char if char.isprintable() and not char.isspace() and char not in _IDENTIFIER_SAFE_EXTRA
        and not _NOT_XML_CHAR.match(char)
        else "".join(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
        for char in incident_id
    )
    return f"{sender}/{encoded}/{number}"


def cap_listing(items: Iterable[str]) -> str:
    """Names as a CAP group listing (``addresses``, ``incidents``): separated by spaces, a name holding
    whitespace in double quotes. A name may not contain a double quote (CAP has no escape for one)."""
    parts = []
    for item in items:
        _check_required_text("listed name", item)
        if '"' in item:
            raise _fail("listed name", f"must not contain '\"', got {_got(item)}")
        parts.append(f'"{item}"' if any(char.isspace() for char in item) else item)
    return " ".join(parts)


def _split_listing(name: str, text: str) -> list[str]:
    """The names in a CAP group listing: whitespace-separated, a quoted name may hold whitespace."""
    items: list[str] = []
    index, length = 0, len(text)
    while index < length:
        if text[index].isspace():
            index += 1
            continue
        if text[index] == '"':
            end = text.find('"', index + 1)
            if end < 0:
                raise _fail(name, "have an unclosed double quote")
            items.append(text[index + 1:end])
            index = end + 1
            if index < length and not text[index].isspace():
                raise _fail(name, "need whitespace after a quoted name")
            continue
        start = index
        while index < length and not text[index].isspace():
            if text[index] == '"':
                raise _fail(name, "have a double quote inside a name")
            index += 1
        items.append(text[start:index])
    return items


def _number(value: float) -> str:
    """A coordinate or radius as a plain decimal (never ``1e-05``) that reads back as the same float."""
    text = format(Decimal(repr(float(value))), "f")
    return text.removesuffix(".0")


def _read_number(name: str, text: str) -> float:
    if not _DECIMAL.match(text):
        raise _fail(name, f"must be a decimal number, got {_got(text)}")
    return float(text)


def _read_point(name: str, text: str) -> tuple[float, float]:
    parts = text.split(",")
    if len(parts) != 2:
        raise _fail(name, f"must be 'latitude,longitude', got {_got(text)}")
    return (_read_number(f"{name} latitude", parts[0]), _read_number(f"{name} longitude", parts[1]))


def _got(value: object) -> str:
    """A refused value as a reason quotes it: short, since it may come from an untrusted document."""
    return repr(_clip(value, 60))


def _clip(text: object, limit: int = 80) -> object:
    if isinstance(text, str) and len(text) > limit:
        return text[: limit - 1] + "…"
    return text


# --- writing -----------------------------------------------------------------------------------------------


def _sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, _NS + name)
    if text is not None:
        element.text = text
    return element


def _pair(parent: etree._Element, name: str, value_name: str, value: str) -> None:
    element = _sub(parent, name)
    _sub(element, "valueName", value_name)
    _sub(element, "value", value)


def encode_alert(alert: CapAlert) -> str:
    """The alert as CAP 1.2 XML text (UTF-8 declaration, indented), valid against the OASIS schema."""
    if not isinstance(alert, CapAlert):
        raise CapError(f"encode_alert needs a CapAlert, not {type(alert).__name__}")
    root = etree.Element(_NS + "alert", nsmap={None: CAP_NAMESPACE})
    _sub(root, "identifier", alert.identifier)
    _sub(root, "sender", alert.sender)
    _sub(root, "sent", cap_time(alert.sent))
    _sub(root, "status", alert.status)
    _sub(root, "msgType", alert.msg_type)
    if alert.source is not None:
        _sub(root, "source", alert.source)
    _sub(root, "scope", alert.scope)
    if alert.addresses is not None:
        _sub(root, "addresses", alert.addresses)
    for code in alert.code:
        _sub(root, "code", code)
    if alert.note is not None:
        _sub(root, "note", alert.note)
    if alert.references:
        _sub(root, "references", " ".join(reference.text() for reference in alert.references))
    if alert.incidents:
        _sub(root, "incidents", cap_listing(alert.incidents))
    for info in alert.info:
        _write_info(_sub(root, "info"), info)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True).decode("utf-8")


def _write_info(element: etree._Element, info: CapInfo) -> None:
    _sub(element, "language", info.language)
    for category in info.category:
        _sub(element, "category", category)
    _sub(element, "event", info.event)
    _sub(element, "urgency", info.urgency)
    _sub(element, "severity", info.severity)
    _sub(element, "certainty", info.certainty)
    for name, tag in (("sender_name", "senderName"), ("headline", "headline"), ("description", "description"),
                      ("instruction", "instruction"), ("web", "web"), ("contact", "contact")):
        value = getattr(info, name)
        if value is not None:
            _sub(element, tag, value)
    for value_name, value in info.parameters:
        _pair(element, "parameter", value_name, value)
    for resource in info.resources:
        if resource.sha256 is not None:
            _pair(element, "parameter", RESOURCE_SHA256, f"{resource.key} {resource.sha256}")
    for resource in info.resources:
        node = _sub(element, "resource")
        _sub(node, "resourceDesc", resource.description)
        _sub(node, "mimeType", resource.mime_type)
        if resource.size is not None:
            _sub(node, "size", str(resource.size))
        if resource.uri is not None:
            _sub(node, "uri", resource.uri)
        if resource.sha1 is not None:
            _sub(node, "digest", resource.sha1)
    for area in info.areas:
        node = _sub(element, "area")
        _sub(node, "areaDesc", area.description)
        if area.polygon:
            _sub(node, "polygon", " ".join(f"{_number(lat)},{_number(lon)}" for lat, lon in area.polygon))
        if area.circle is not None:
            lat, lon, radius = area.circle
            _sub(node, "circle", f"{_number(lat)},{_number(lon)} {_number(radius)}")
        for value_name, value in area.geocodes:
            _pair(node, "geocode", value_name, value)


# --- reading -----------------------------------------------------------------------------------------------

_DOCTYPE = re.compile(r"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_DECLARED_ENCODING = re.compile(r"""^\ufeff?<\?xml[^>]*?\sencoding\s*=\s*["']([^"']*)["']""")
_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
    collect_ids=False,
)

# Each element's children in the schema's order: (name, how many) with "1" required, "?" optional, "*" any.
_ALERT = (("identifier", "1"), ("sender", "1"), ("sent", "1"), ("status", "1"), ("msgType", "1"),
          ("source", "?"), ("scope", "1"), ("restriction", "?"), ("addresses", "?"), ("code", "*"),
          ("note", "?"), ("references", "?"), ("incidents", "?"), ("info", "*"))
_INFO = (("language", "?"), ("category", "+"), ("event", "1"), ("responseType", "*"), ("urgency", "1"),
         ("severity", "1"), ("certainty", "1"), ("audience", "?"), ("eventCode", "*"), ("effective", "?"),
         ("onset", "?"), ("expires", "?"), ("senderName", "?"), ("headline", "?"), ("description", "?"),
         ("instruction", "?"), ("web", "?"), ("contact", "?"), ("parameter", "*"), ("resource", "*"),
         ("area", "*"))
_RESOURCE = (("resourceDesc", "1"), ("mimeType", "1"), ("size", "?"), ("uri", "?"), ("derefUri", "?"),
             ("digest", "?"))
_AREA = (("areaDesc", "1"), ("polygon", "*"), ("circle", "*"), ("geocode", "*"), ("altitude", "?"),
         ("ceiling", "?"))
_PAIR = (("valueName", "1"), ("value", "1"))
# In the schema, not in the hub's profile: refused rather than silently dropped.
_OUTSIDE_PROFILE = {"restriction", "responseType", "audience", "eventCode", "effective", "onset", "expires",
                    "derefUri", "altitude", "ceiling"}


def decode_alert(xml: str | bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> CapAlert:
    """The ``CapAlert`` in a CAP 1.2 document, or ``CapError`` saying why not. Safe on hostile input: the
    size is checked before parsing, a DTD is refused, and the parser never expands entities or fetches.

    The link carries UTF-8 only. Holding the document to strict UTF-8 with no character XML forbids (NUL
    above all) and no other declared encoding means libxml2 reads exactly the text checked here: a
    declaration spelt in UTF-16, UTF-32 or EBCDIC, which a byte search would miss, never reaches it."""
    if isinstance(xml, str):
        text = xml
        try:
            data = xml.encode("utf-8")
        except UnicodeEncodeError:
            raise CapError("the alert holds characters that are not Unicode scalar values") from None
    elif isinstance(xml, (bytes, bytearray, memoryview)):
        data = bytes(xml)
        text = None
    else:
        raise CapError(f"an alert must be text or bytes, not {type(xml).__name__}")
    if len(data) > max_bytes:
        raise CapError(f"the alert is {len(data)} bytes, over the {max_bytes}-byte cap")
    if text is None:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise CapError(f"the alert is not UTF-8 (byte {error.start}), the only encoding the link carries") from None
    if not text.strip():
        raise CapError("the alert is empty")
    bad = _NOT_XML_CHAR.search(text)
    if bad:
        raise CapError(f"the alert holds U+{ord(bad.group()):04X} at {bad.start()}, which XML 1.0 forbids")
    declared = _DECLARED_ENCODING.match(text)
    if declared and declared.group(1).lower() != "utf-8":
        raise CapError(f"the alert declares the encoding {_got(declared.group(1))}; the link carries UTF-8 only")
    if _DOCTYPE.search(text):
        raise CapError("the alert carries a document type declaration, which is refused (no DTDs, no entities)")
    etree.clear_error_log()
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as error:
        raise CapError(f"the alert is not well-formed XML ({_clip(str(error), 160)})") from None
    except ValueError as error:
        raise CapError(f"the alert cannot be read as XML ({_clip(str(error), 160)})") from None
    if root is None:
        raise CapError("the alert holds no element")
    # Belt and braces: the checks above leave the parser no declaration to meet; were one to slip past, the
    # parser would neither load nor expand it, and it is refused here.
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise CapError("the alert carries a document type declaration, which is refused (no DTDs, no entities)")
    if root.tag != _NS + "alert":
        raise CapError(f"the root element is {_clip(str(root.tag))}, not a CAP 1.2 <alert> in {CAP_NAMESPACE}")
    return _read_alert(root)


def _children(element: etree._Element, layout: tuple, where: str) -> dict[str, list[etree._Element]]:
    """``element``'s children by name, checked against ``layout``: the CAP namespace, the schema's order,
    how many of each, nothing outside the profile, no stray text."""
    order = {name: index for index, (name, _) in enumerate(layout)}
    found: dict[str, list[etree._Element]] = {name: [] for name, _ in layout}
    if element.text is not None and element.text.strip():
        raise CapError(f"{where}: holds text outside its elements")
    last = -1
    for child in element:
        if child.tail is not None and child.tail.strip():
            raise CapError(f"{where}: holds text outside its elements")
        tag = child.tag
        if not isinstance(tag, str):
            continue
        if not tag.startswith(_NS):
            raise CapError(f"{where}: element {_clip(tag)} is not in the CAP 1.2 namespace")
        name = tag[len(_NS):]
        if name not in order:
            raise CapError(f"{where}: <{_clip(name)}> is not a CAP 1.2 element here")
        if name in _OUTSIDE_PROFILE:
            raise CapError(f"{where}: <{name}> is valid CAP but outside the hub's profile, so it is refused "
                           "rather than dropped")
        index = order[name]
        if index < last:
            raise CapError(f"{where}: <{name}> is out of the schema's order")
        if index == last and layout[index][1] in "1?":
            raise CapError(f"{where}: <{name}> appears more than once")
        last = index
        found[name].append(child)
    for name, count in layout:
        if count in "1+" and not found[name]:
            raise CapError(f"{where}: <{name}> is missing")
    return found


def _text(element: etree._Element, where: str) -> str:
    if len(element):
        raise CapError(f"{where}: <{element.tag[len(_NS):]}> must hold text, not elements")
    return element.text or ""


def _one(found: dict[str, list[etree._Element]], name: str, where: str) -> str | None:
    elements = found[name]
    return _text(elements[0], where) if elements else None


def _pairs_of(elements: list[etree._Element], where: str) -> list[tuple[str, str]]:
    pairs = []
    for element in elements:
        parts = _children(element, _PAIR, where)
        pairs.append((_text(parts["valueName"][0], where), _text(parts["value"][0], where)))
    return pairs


def _read_alert(root: etree._Element) -> CapAlert:
    found = _children(root, _ALERT, "alert")
    references = []
    for triple in (_one(found, "references", "alert") or "").split():
        parts = triple.split(",")
        if len(parts) != 3:
            raise CapError(f"alert: references must be 'sender,identifier,sent' triples, got {_got(triple)}")
        try:
            references.append(CapReference(parts[0], parts[1], parse_cap_time(parts[2], "reference sent")))
        except CapError as error:
            raise CapError(f"alert: {error}") from None
    incidents_text = _one(found, "incidents", "alert")
    try:
        incidents = _split_listing("incidents", incidents_text) if incidents_text is not None else []
        return CapAlert(
            identifier=_one(found, "identifier", "alert"),
            sender=_one(found, "sender", "alert"),
            sent=parse_cap_time(_one(found, "sent", "alert"), "sent"),
            status=_one(found, "status", "alert"),
            msg_type=_one(found, "msgType", "alert"),
            scope=_one(found, "scope", "alert"),
            addresses=_one(found, "addresses", "alert"),
            source=_one(found, "source", "alert"),
            note=_one(found, "note", "alert"),
            references=tuple(references),
            incidents=tuple(incidents),
            code=tuple(_text(element, "alert") for element in found["code"]),
            info=tuple(_read_info(element, f"info {index}") for index, element in enumerate(found["info"], 1)),
        )
    except CapError as error:
        if str(error).startswith("info "):
            raise
        raise CapError(f"alert: {error}") from None


def _read_info(element: etree._Element, where: str) -> CapInfo:
    found = _children(element, _INFO, where)
    parameters = _pairs_of(found["parameter"], f"{where} parameter")
    resources = [_read_resource(node, f"{where} resource {index}") for index, node in enumerate(found["resource"], 1)]
    hashed: set[int] = set()
    own_parameters = []
    for value_name, value in parameters:
        if value_name != RESOURCE_SHA256:
            own_parameters.append((value_name, value))
            continue
        key, _, digest = value.rpartition(" ")
        if not _HEX64.match(digest):
            raise CapError(f"{where}: a {RESOURCE_SHA256} parameter must end with 64 hex digits")
        matches = [index for index, resource in enumerate(resources) if resource.key == key]
        if not matches:
            raise CapError(f"{where}: a {RESOURCE_SHA256} parameter names no resource by its uri or description")
        if len(matches) > 1 or matches[0] in hashed:
            raise CapError(f"{where}: the {RESOURCE_SHA256} of resource {matches[0] + 1} is ambiguous or given twice")
        hashed.add(matches[0])
        resources[matches[0]] = CapResource(**{**_fields(resources[matches[0]]), "sha256": digest})
    try:
        return CapInfo(
            language=_one(found, "language", where) or "en-US",  # the schema's default
            category=tuple(_text(node, where) for node in found["category"]),
            event=_one(found, "event", where),
            urgency=_one(found, "urgency", where),
            severity=_one(found, "severity", where),
            certainty=_one(found, "certainty", where),
            sender_name=_one(found, "senderName", where),
            headline=_one(found, "headline", where),
            description=_one(found, "description", where),
            instruction=_one(found, "instruction", where),
            web=_one(found, "web", where),
            contact=_one(found, "contact", where),
            parameters=tuple(own_parameters),
            resources=tuple(resources),
            areas=tuple(_read_area(node, f"{where} area {index}") for index, node in enumerate(found["area"], 1)),
        )
    except CapError as error:
        if str(error).startswith(where):
            raise
        raise CapError(f"{where}: {error}") from None


def _fields(resource: CapResource) -> dict[str, Any]:
    return {name: getattr(resource, name) for name in ("description", "mime_type", "size", "uri", "sha1", "sha256")}


def _read_resource(element: etree._Element, where: str) -> CapResource:
    found = _children(element, _RESOURCE, where)
    size_text = _one(found, "size", where)
    if size_text is not None and not _SIZE.match(size_text):
        raise CapError(f"{where}: <size> must be a whole number of bytes, got {_got(size_text)}")
    try:
        return CapResource(
            description=_one(found, "resourceDesc", where),
            mime_type=_one(found, "mimeType", where),
            size=int(size_text) if size_text is not None else None,
            uri=_one(found, "uri", where),
            sha1=_one(found, "digest", where),
        )
    except CapError as error:
        raise CapError(f"{where}: {error}") from None


def _read_area(element: etree._Element, where: str) -> CapArea:
    found = _children(element, _AREA, where)
    if len(found["polygon"]) > 1 or len(found["circle"]) > 1:
        raise CapError(f"{where}: the hub's profile carries one polygon and one circle per area")
    try:
        polygon: tuple[tuple[float, float], ...] = ()
        if found["polygon"]:
            polygon = tuple(_read_point("polygon point", pair) for pair in _text(found["polygon"][0], where).split())
        circle = None
        if found["circle"]:
            parts = _text(found["circle"][0], where).split()
            if len(parts) != 2:
                raise CapError("circle must be 'latitude,longitude radius_km'")
            circle = (*_read_point("circle centre", parts[0]), _read_number("circle radius_km", parts[1]))
        return CapArea(
            description=_one(found, "areaDesc", where),
            circle=circle,
            polygon=polygon,
            geocodes=tuple(_pairs_of(found["geocode"], f"{where} geocode")),
        )
    except CapError as error:
        raise CapError(f"{where}: {error}") from None
