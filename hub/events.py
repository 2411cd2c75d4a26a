"""The event envelope every message and signal becomes, its JSON form, and the registry of payload types.

An event is a fact in the past tense. Its envelope (id, topic, source, times, severity, subject, location,
summary, links to an incident and a cause) is the same for every source; its payload is a frozen attrs
class that a plugin registers under a stable type name. The JSON form is what the journal stores and what
partners read: see docs/events.md for the schema.
"""

from __future__ import annotations

import enum
import json
import math
import re
from datetime import datetime, timezone
from typing import Any, Callable, ClassVar, Iterable, Mapping

import attrs
import cattrs
import orjson
from attrs import field, frozen
from cattrs.preconf.json import make_converter
from twisted.internet.interfaces import IReactorTime

from hub.clock import now_utc
from hub.ids import EventIdGenerator, is_event_id

#: The envelope's schema version, written into every JSON event.
SCHEMA_VERSION = 1

_TOPIC = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")
_SOURCE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_-]+)*$")


class Severity(enum.IntEnum):
    """One severity scale for every source, ordered so that ``max()`` picks the worst.

    ``info``: a record, nobody needs to act. ``low``: worth a look when free. ``medium``: an operator
    should look soon. ``high``: an operator should act now. ``critical``: life or safety, act at once
    (a radio emergency button, a partner in danger).
    """

    INFO = 10
    LOW = 20
    MEDIUM = 30
    HIGH = 40
    CRITICAL = 50

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> "Severity":
        """The severity named ``text`` (case-insensitive); ValueError names the choices."""
        try:
            return cls[text.upper()]
        except (KeyError, AttributeError):
            choices = ", ".join(member.label for member in cls)
            raise ValueError(f"unknown severity {text!r}; expected one of {choices}") from None


def _check_topic(_instance: object, _attribute: object, value: str) -> None:
    if not isinstance(value, str) or not _TOPIC.match(value):
        raise ValueError(
            f"topic {value!r} must be dotted lower-case words, e.g. 'shopwatch.emergency.raised'"
        )


def _check_source(_instance: object, _attribute: object, value: str) -> None:
    if not isinstance(value, str) or not _SOURCE.match(value):
        raise ValueError(f"source {value!r} must be a dotted lower-case name, e.g. 'shopwatch.town_centre'")


def _check_aware(_instance: object, attribute: attrs.Attribute, value: datetime) -> None:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError(f"{attribute.name} must be a timezone-aware datetime, got {value!r}")


@frozen
class Subject:
    """What an event is about: a camera, a fibre node, a radio unit, a partner, an adapter."""

    kind: str
    id: str
    name: str | None = None


def _coordinate(limit: float) -> Any:
    def check(_instance: object, attribute: attrs.Attribute, value: float | None) -> None:
        if value is not None and not (isinstance(value, (int, float)) and -limit <= value <= limit):
            raise ValueError(f"{attribute.name} must be a number from -{limit:g} to {limit:g}, got {value!r}")

    return check


@frozen
class Location:
    """Where an event happened, as precisely as the source knows it. Every field is optional.

    Coordinates are WGS84 degrees; ``uprn`` is the Unique Property Reference Number of a building.
    """

    name: str | None = None
    camera: str | None = None
    latitude: float | None = field(default=None, validator=_coordinate(90))
    longitude: float | None = field(default=None, validator=_coordinate(180))
    uprn: str | None = None


@frozen
class GenericPayload:
    """The payload of an event whose type this hub does not know (or no longer can read).

    Kept whole, so that writing it back out gives the JSON it was read from.
    """

    type_name: str
    data: Mapping[str, Any]


@frozen
class Event:
    """One normalised fact on the bus.

    ``seq`` is None until the journal has stored the event; events delivered to subscribers always
    carry it.
    """

    id: str = field(validator=lambda _i, _a, v: _check_id(v))
    topic: str = field(validator=_check_topic)
    source: str = field(validator=_check_source)
    occurred_at: datetime = field(validator=_check_aware)
    received_at: datetime = field(validator=_check_aware)
    severity: Severity = field(converter=Severity)
    subject: Subject
    summary: str
    payload: Any
    location: Location | None = None
    incident_id: str | None = None
    causation_id: str | None = None
    seq: int | None = None

    @property
    def type_name(self) -> str:
        """The registered name of this event's payload type."""
        return payload_type_name(self.payload)

    def with_seq(self, seq: int) -> "Event":
        """This event as stored at ``seq``.

        Copies the fields without validating them again (they were checked when the event was
        made): the bus does this for every event it delivers, so it has to be cheap.
        """
        stored = object.__new__(Event)
        for name in _EVENT_FIELDS:
            object.__setattr__(stored, name, getattr(self, name))
        object.__setattr__(stored, "seq", seq)
        return stored


_EVENT_FIELDS = tuple(a.name for a in attrs.fields(Event) if a.name != "seq")


def _check_id(value: object) -> None:
    if not is_event_id(value):
        raise ValueError(f"event id {value!r} is not a 26-character time-ordered id")


def payload_type_name(payload: object) -> str:
    """The stable type name of a payload instance."""
    if isinstance(payload, GenericPayload):
        return payload.type_name
    name = getattr(type(payload), "TYPE", None)
    if not isinstance(name, str):
        raise TypeError(f"{type(payload).__name__} is not an event payload: it has no TYPE")
    return name


class EventDecodeError(ValueError):
    """A JSON event whose envelope is unreadable. Unknown payload types are not an error."""


class EventTypeRegistry:
    """The payload classes known to one hub, by type name. Plugins add theirs through a hook."""

    def __init__(self) -> None:
        self._types: dict[str, type] = {}

    def register(self, payload_class: type) -> None:
        """Add a payload class; a second, different class under the same name is refused."""
        if not attrs.has(payload_class):
            raise TypeError(f"{payload_class!r} must be an attrs class")
        name = getattr(payload_class, "TYPE", None)
        if not isinstance(name, str) or not _TOPIC.match(name):
            raise TypeError(
                f"{payload_class.__name__} needs a class attribute TYPE: ClassVar[str], "
                "a dotted lower-case name"
            )
        known = self._types.get(name)
        if known is not None and known is not payload_class:
            raise ValueError(
                f"event type {name!r} is registered twice: {known.__module__}.{known.__qualname__} "
                f"and {payload_class.__module__}.{payload_class.__qualname__}"
            )
        self._types[name] = payload_class

    def register_all(self, payload_classes: Iterable[type]) -> None:
        for payload_class in payload_classes:
            self.register(payload_class)

    def get(self, name: str) -> type | None:
        return self._types.get(name)

    def names(self) -> list[str]:
        return sorted(self._types)

    def __contains__(self, name: object) -> bool:
        return name in self._types


def _timestamp(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _parse_timestamp(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no timezone")
    return value.astimezone(timezone.utc)


def _make_payload_converter() -> cattrs.Converter:
    converter = make_converter()
    converter.register_unstructure_hook(datetime, _timestamp)
    converter.register_structure_hook(datetime, lambda value, _type: _parse_timestamp(value))
    converter.register_unstructure_hook(Severity, lambda value: value.label)
    converter.register_structure_hook(Severity, lambda value, _type: Severity.parse(value))
    return converter


_ENVELOPE_KEYS = frozenset(
    {
        "schema",
        "id",
        "seq",
        "topic",
        "type",
        "source",
        "occurred_at",
        "received_at",
        "severity",
        "subject",
        "location",
        "summary",
        "incident_id",
        "causation_id",
        "payload",
    }
)


class EventCodec:
    """Turns events into JSON-ready dicts and back, losing nothing.

    A payload whose type is not registered, or whose fields no longer fit its class, comes back as a
    ``GenericPayload`` holding the original data.
    """

    def __init__(self, registry: EventTypeRegistry) -> None:
        self._registry = registry
        self._converter = _make_payload_converter()

    def to_dict(self, event: Event) -> dict[str, Any]:
        payload = event.payload
        if isinstance(payload, GenericPayload):
            payload_data = dict(payload.data)
        else:
            payload_data = self._converter.unstructure(payload)
        _require_finite(payload_data, "payload")
        result: dict[str, Any] = {
            "schema": SCHEMA_VERSION,
            "id": event.id,
            "topic": event.topic,
            "type": event.type_name,
            "source": event.source,
            "occurred_at": _timestamp(event.occurred_at),
            "received_at": _timestamp(event.received_at),
            "severity": event.severity.label,
            "subject": _subject_dict(event.subject),
            "location": _location_dict(event.location),
            "summary": event.summary,
            "incident_id": event.incident_id,
            "causation_id": event.causation_id,
            "payload": payload_data,
        }
        if event.seq is not None:
            result["seq"] = event.seq
        return result

    def to_json(self, event: Event) -> str:
        return dumps_json(self.to_dict(event))

    def from_json(self, text: str | bytes, *, seq: int | None = None) -> Event:
        try:
            data = loads_json(text)
        except (ValueError, UnicodeDecodeError) as error:
            raise EventDecodeError(f"not JSON: {error}") from None
        return self.from_dict(data, seq=seq)

    def from_dict(self, data: Mapping[str, Any], *, seq: int | None = None) -> Event:
        if not isinstance(data, Mapping):
            raise EventDecodeError(f"an event must be a JSON object, got {type(data).__name__}")
        missing = sorted({"id", "topic", "type", "source", "occurred_at", "received_at",
                          "severity", "subject", "summary", "payload"} - set(data))
        if missing:
            raise EventDecodeError(f"event is missing {', '.join(missing)}")
        try:
            subject = Subject(**data["subject"])
            location = Location(**data["location"]) if data.get("location") is not None else None
            return Event(
                id=data["id"],
                topic=data["topic"],
                source=data["source"],
                occurred_at=_parse_timestamp(data["occurred_at"]),
                received_at=_parse_timestamp(data["received_at"]),
                severity=Severity.parse(data["severity"]),
                subject=subject,
                location=location,
                summary=_require_str(data["summary"], "summary"),
                incident_id=data.get("incident_id"),
                causation_id=data.get("causation_id"),
                payload=self._payload(data["type"], data["payload"]),
                seq=seq if seq is not None else data.get("seq"),
            )
        except EventDecodeError:
            raise
        except (TypeError, ValueError, AttributeError) as error:
            raise EventDecodeError(f"bad event envelope: {error}") from None

    def _payload(self, type_name: Any, data: Any) -> Any:
        if not isinstance(type_name, str):
            raise EventDecodeError(f"event type must be a string, got {type_name!r}")
        if not isinstance(data, Mapping):
            raise EventDecodeError(f"payload must be a JSON object, got {type(data).__name__}")
        payload_class = self._registry.get(type_name)
        if payload_class is not None:
            try:
                return self._converter.structure(data, payload_class)
            except Exception:  # noqa: BLE001 - any mismatch means "keep it generic", never lose it
                pass
        return GenericPayload(type_name=type_name, data=dict(data))


def dumps_json(data: Any) -> str:
    """Compact UTF-8 JSON. orjson is several times faster than the standard library on the publish
    path; values it refuses (integers beyond 64 bits) fall back to the standard encoder."""
    try:
        return orjson.dumps(data).decode()
    except TypeError:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def loads_json(text: str | bytes) -> Any:
    """Parse JSON, accepting whatever ``dumps_json`` can write."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        # The standard parser also reads NaN and Infinity, which older writers may have produced.
        return json.loads(text)


def _require_finite(value: Any, path: str) -> None:
    """Refuse inf and NaN: JSON cannot carry them, and a partner's parser would choke or guess."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{path} is {value!r}; events carry only finite numbers")
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (float, dict, list)):
                _require_finite(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _require_finite(item, f"{path}[{index}]")


def _subject_dict(subject: Subject) -> dict[str, Any]:
    # Written out by hand: attrs.asdict is general and several times slower on the publish path.
    return {"kind": subject.kind, "id": subject.id, "name": subject.name}


def _location_dict(location: Location | None) -> dict[str, Any] | None:
    if location is None:
        return None
    return {
        "name": location.name,
        "camera": location.camera,
        "latitude": location.latitude,
        "longitude": location.longitude,
        "uprn": location.uprn,
    }


def _require_str(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise EventDecodeError(f"{name} must be a string, got {type(value).__name__}")
    return value


class EventFactory:
    """Makes events for one source: fresh time-ordered id, ``received_at`` from the hub clock.

    Adapters are given one bound to their instance name, so they only say what happened.
    """

    def __init__(self, clock: IReactorTime, source: str, ids: Callable[[], str] | None = None) -> None:
        _check_source(None, None, source)
        self._clock = clock
        self.source = source
        self._ids = ids if ids is not None else EventIdGenerator(clock)

    def __call__(
        self,
        topic: str,
        payload: object,
        *,
        severity: Severity,
        subject: Subject,
        summary: str,
        occurred_at: datetime | None = None,
        location: Location | None = None,
        incident_id: str | None = None,
        causation_id: str | None = None,
    ) -> Event:
        received_at = now_utc(self._clock)
        return Event(
            id=self._ids(),
            topic=topic,
            source=self.source,
            occurred_at=occurred_at if occurred_at is not None else received_at,
            received_at=received_at,
            severity=severity,
            subject=subject,
            summary=summary,
            payload=payload,
            location=location,
            incident_id=incident_id,
            causation_id=causation_id,
        )

    def for_source(self, source: str) -> "EventFactory":
        """A factory for another source sharing this one's id sequence."""
        return EventFactory(self._clock, source, self._ids)


# --- The hub's own event types -------------------------------------------------------------------


class AdapterState(enum.Enum):
    """Where a supervised adapter instance stands."""

    STARTING = "starting"
    RUNNING = "running"
    FAILED = "failed"
    RESTARTING = "restarting"
    SILENT = "silent"
    STOPPED = "stopped"


@frozen
class AdapterHealthChanged:
    """An adapter instance changed health (topic ``adapter.health.<state>``).

    ``attempt`` counts consecutive failures (0 when healthy); ``retry_in_s`` is the back-off before the
    next start after a failure; ``reason`` is the error or watchdog finding, never containing secrets.
    """

    TYPE: ClassVar[str] = "adapter.health"

    adapter: str
    adapter_type: str
    state: AdapterState
    reason: str | None = None
    attempt: int = 0
    retry_in_s: float | None = None
    silent_for_s: float | None = None


@frozen
class PluginFailed:
    """A plugin raised in one of its hooks; its contribution from that hook was left out."""

    TYPE: ClassVar[str] = "hub.plugin.failed"

    plugin: str
    hook: str
    error: str


@frozen
class SimulatorFailed:
    """A configured simulator (``[simulators.NAME]``) could not be built or started; the hub runs without it.

    ``simulator`` is the instance name, ``simulator_type`` its type, ``error`` why (secrets removed).
    """

    TYPE: ClassVar[str] = "hub.simulator.failed"

    simulator: str
    simulator_type: str
    error: str


@frozen
class HubStarted:
    """The hub process started (topic ``hub.process.started``)."""

    TYPE: ClassVar[str] = "hub.process.started"

    version: str
    plugins: tuple[str, ...]
    adapters: tuple[str, ...]


@frozen
class HubStopping:
    """The hub process is shutting down cleanly (topic ``hub.process.stopping``)."""

    TYPE: ClassVar[str] = "hub.process.stopping"

    reason: str


class CommandOutcomeKind(enum.Enum):
    """How a command ended, as far as the adapter can tell."""

    DELIVERED = "delivered"  # the far end confirmed it (a radio's delivery report)
    SENT = "sent"  # written to the wire; the far end gives no confirmation
    FAILED = "failed"  # refused or errored, with ``detail`` saying why
    TIMED_OUT = "timed_out"  # no answer within the adapter's time-out
    REFUSED = "refused"  # never attempted: unknown verb, bad arguments, adapter not running


@frozen
class CommandRequested:
    """A request addressed to one adapter instance (topic ``command.<adapter type>.<verb>``).

    ``adapter`` is the instance's source name (``shopwatch.town_centre``); ``requested_by`` the user,
    rule or partner that asked. The adapter answers with a ``CommandOutcome`` event whose
    ``causation_id`` is this event's id (see hub/commands.py).
    """

    TYPE: ClassVar[str] = "command.requested"

    adapter: str
    verb: str
    arguments: dict[str, Any]
    requested_by: str


@frozen
class CommandOutcome:
    """How a command ended (topic ``<adapter type>.command.<outcome>``, e.g. ``shopwatch.command.delivered``)."""

    TYPE: ClassVar[str] = "command.outcome"

    command_id: str
    adapter: str
    verb: str
    outcome: CommandOutcomeKind
    detail: str | None = None


@frozen
class PartnerReportReceived:
    """A partner posted an incident report over HTTP (topic ``partner.report.received``).

    ``partner`` is the configured partner name; ``reference`` the partner's own id for the report (a
    repeat with the same reference is the same report). Text fields are the partner's, untouched: they
    are shown as text, never as markup.
    """

    TYPE: ClassVar[str] = "partner.report"

    partner: str
    reference: str | None
    summary: str
    details: str | None = None
    category: str | None = None
    reporter: str | None = None


@frozen
class RuleActionSkipped:
    """A rule's action that could not be done (topic ``rule.action.skipped``, on the rule's incident).

    ``rule`` is the rule's name; ``action`` what it could not do (``move_cameras``, ``police``,
    ``broadcast``); ``reason`` why, for a person (no camera near the event, the adapter is not running...).
    Its ``causation_id`` is the ``incident.*`` event that carried the rule's actions.
    """

    TYPE: ClassVar[str] = "rule.action.skipped"

    rule: str
    action: str
    reason: str


@frozen
class ScenarioStepPlayed:
    """A demo's script reached one of its steps (topic ``hub.scenario.step``, severity info): the narrator's
    line, so the console's event stream tells the story as it happens (hub/scenario.py).

    ``scenario`` is the script's name; ``step`` the step's number (from 1) of ``steps``; ``round`` which time
    through the script (from 1, when it repeats); ``say`` the line; ``cues`` the cues played, each
    ``simulator.cue``; ``refused`` a line for each cue that could not be played, saying why.
    """

    TYPE: ClassVar[str] = "hub.scenario.step"

    scenario: str
    step: int
    steps: int
    round: int
    say: str
    cues: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()


CORE_EVENT_TYPES: tuple[type, ...] = (
    AdapterHealthChanged,
    PluginFailed,
    SimulatorFailed,
    HubStarted,
    HubStopping,
    CommandRequested,
    CommandOutcome,
    PartnerReportReceived,
    RuleActionSkipped,
    ScenarioStepPlayed,
)
