"""Which events open an incident, which may only join an open one, which are left alone, and what else a
rule does about them (its SOP, cameras to move, police, a broadcast, its escalation delay).

Maintenance windows (``[[incidents.maintenance]]``) are looked at first: an event one of them covers, while
it lasts, is left alone whatever the rules say. Then the configured ``[[incidents.rules]]`` are tried in
order and the first whose criteria all match decides. Some topics can never open an incident whatever the
rules say: the engine's own ``incident.*`` events (or it would feed on itself), commands (``command.*``),
the hub's own ``hub.*`` events, the rule actions' own ``rule.*`` events, and command outcomes
(``<adapter type>.command.<outcome>``), which only ever attach to the incident they name.

Times of day are read from the event's ``occurred_at`` in the room's time zone (``[hub] timezone``), never
from the clock on the wall, so a replayed event is decided as it was. A rule's ``payload`` compares the
adapter's own fields (a radio's status code, the kind of a police request) as text, booleans exactly; an
event whose payload lacks the field simply does not match. Everything is compiled once;
``decide`` runs for every event on the bus. ``explain`` says the same thing at length, for
``hub rules test``.
"""

from __future__ import annotations

import enum
import fnmatch
import json
import math
import re
from datetime import datetime
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from attrs import frozen

from hub.config import (
    BroadcastConfig,
    IncidentRuleConfig,
    IncidentsConfig,
    MaintenanceWindowConfig,
    MoveCamerasConfig,
    parse_time_range,
)
from hub.events import Event, GenericPayload, Severity
from hub.topics import TopicMatcher, TopicPatternError, parse_pattern

#: Topics no rule may open an incident from (AMQP patterns, as subscribers use).
PROTECTED_TOPICS: tuple[str, ...] = ("incident.#", "command.#", "hub.#", "rule.#", "*.command.*")

#: The room's time zone when none is given (``[hub] timezone``'s default).
DEFAULT_TIMEZONE = "Europe/London"


class RuleAction(enum.Enum):
    OPEN = "open"
    JOIN = "join"
    IGNORE = "ignore"


@frozen
class RuleActions:
    """What a rule does besides opening or joining: carried out once per incident, the first time the rule
    opens or joins it (docs/rules.md). ``rule`` is the rule's name, the cause every action names."""

    rule: str
    sop: tuple[str, ...] = ()
    move_cameras: MoveCamerasConfig | None = None
    police: str | None = None
    police_adapter: str | None = None
    broadcast: BroadcastConfig | None = None
    escalate_after_s: float | None = None


@frozen
class Decision:
    """What the rules say about one event. ``rule`` is None when no rule matched (or a guard decided).

    ``actions`` is what the rule does besides opening or joining (None when it does nothing more);
    ``suppressed_by`` names the maintenance window that left the event alone (the action is then ignore).
    """

    action: RuleAction
    rule: str | None = None
    category: str | None = None
    priority: int | None = None
    join_on: tuple[str, ...] = ()
    window: float = 0.0
    actions: RuleActions | None = None
    suppressed_by: str | None = None


IGNORE = Decision(RuleAction.IGNORE)


class InvalidRule(ValueError):
    """A rule whose configuration cannot work (a bad topic pattern); the message names the rule."""


# --- What an event says, worked out once per event and only when a criterion asks -------------------


def normalise(text: str) -> str:
    """A name as locations are compared: case folded, runs of spaces made one, ends trimmed."""
    return " ".join(text.split()).casefold()


def payload_value(event: Event, name: str) -> Any:
    """The payload's ``name`` (an attribute, or a stored field of a payload the hub cannot decode), or None."""
    payload = event.payload
    try:
        if isinstance(payload, GenericPayload):
            return payload.data.get(name)
        return getattr(payload, name, None)
    except Exception:  # noqa: BLE001 - a payload property that fails says nothing
        return None


def covered_keys(event: Event) -> tuple[str, ...]:
    """The subject keys (``kind:id``) the event's payload ``covers`` (what its failure takes down)."""
    value = payload_value(event, "covers")
    if value is None or isinstance(value, (str, bytes, Mapping)):
        return ()
    try:
        items = list(value)
    except TypeError:
        return ()
    keys: list[str] = []
    for item in items:
        if isinstance(item, str) and item not in keys:
            kind, colon, ident = item.partition(":")
            if colon and kind and ident:
                keys.append(item)
    return tuple(keys)


def named_cameras(event: Event) -> tuple[str, ...]:
    """The cameras the event itself names: its location's camera, a camera subject."""
    cameras: list[str] = []
    if event.location is not None and event.location.camera:
        cameras.append(event.location.camera)
    if event.subject.kind == "camera" and event.subject.id not in cameras:
        cameras.append(event.subject.id)
    return tuple(cameras)


class _Facts:
    """One event's facts that criteria share, each worked out at most once (most events need none)."""

    __slots__ = ("event", "_zone", "_local", "_covers")

    def __init__(self, event: Event, zone: ZoneInfo) -> None:
        self.event = event
        self._zone = zone
        self._local: datetime | None = None
        self._covers: tuple[str, ...] | None = None

    @property
    def local(self) -> datetime:
        if self._local is None:
            self._local = self.event.occurred_at.astimezone(self._zone)
        return self._local

    @property
    def minute(self) -> int:
        local = self.local
        return local.hour * 60 + local.minute

    @property
    def covers(self) -> tuple[str, ...]:
        if self._covers is None:
            self._covers = covered_keys(self.event)
        return self._covers

    def cameras(self) -> tuple[str, ...]:
        """Named cameras, then the cameras the payload covers."""
        named = named_cameras(self.event)
        covered = tuple(key[7:] for key in self.covers if key.startswith("camera:") and key[7:] not in named)
        return named + covered


# --- Criteria -----------------------------------------------------------------------------------------


def _in_range(minute: int, start: int, end: int) -> bool:
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end  # past midnight


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@frozen
class Check:
    """One criterion as ``explain`` saw it: its key, whether it matched, and why, in words."""

    criterion: str
    matched: bool
    detail: str


class _Sources:
    """``sources``: exact source names or shell-style patterns (``shopwatch.*``)."""

    def __init__(self, sources: tuple[str, ...]) -> None:
        self.given = sources
        self._exact = frozenset(s for s in sources if not any(c in s for c in "*?["))
        patterns = [s for s in sources if s not in self._exact]
        self._pattern = (
            re.compile("|".join(fnmatch.translate(p) for p in patterns)).match if patterns else None
        )

    def __call__(self, source: str) -> bool:
        return source in self._exact or (self._pattern is not None and self._pattern(source) is not None)


class _Members:
    """``members``: a radio unit by its unit id (``1001``, ``100-1002``), its full id or its member name."""

    def __init__(self, members: tuple[str, ...]) -> None:
        self.given = members
        self._ids = frozenset(members)
        self._suffixes = tuple("." + m for m in members)
        self._names = frozenset(m.casefold() for m in members)

    def __call__(self, event: Event) -> bool:
        subject = event.subject
        if subject.kind != "radio_unit":
            return False
        return (
            subject.id in self._ids
            or subject.id.endswith(self._suffixes)
            or (subject.name is not None and subject.name.casefold() in self._names)
        )


#: How a rule's ``payload`` is written, for the messages that refuse one.
_PAYLOAD_EXAMPLE = ('e.g. payload = { status_code = "01" } or { request_type = ["retain_footage", "live_view"] } '
                    'or { "member.unit" = "1001" }')

PayloadValue = str | int | float | bool


def payload_fields(value: object) -> tuple[tuple[str, tuple[PayloadValue, ...]], ...]:
    """A rule's ``payload`` table as ``(dotted field name, the values it may have)`` pairs, in order.

    A nested table is read as dotted names (``{ member = { unit = "1001" } }`` is ``member.unit``). A
    ``ValueError`` says what was expected instead (the config's check words its problem with it).
    """
    if not isinstance(value, Mapping):
        # A ValueError as for every other problem: the config's check words each alike.
        raise ValueError(  # noqa: TRY004
            f"a table of payload fields and the value (or values) each must have, {_PAYLOAD_EXAMPLE}")
    found: list[tuple[str, tuple[PayloadValue, ...]]] = []
    _read_payload_table(value, (), found)
    return tuple(found)


def _read_payload_table(table: Mapping[Any, Any], prefix: tuple[str, ...],
                        found: list[tuple[str, tuple[PayloadValue, ...]]]) -> None:
    for key, wanted in table.items():
        parts = tuple(part.strip() for part in key.split(".")) if isinstance(key, str) else ("",)
        path = prefix + parts
        name = ".".join(path)
        if not all(parts) or len(name) > 200:
            shown = json.dumps(".".join((*prefix, key)) if isinstance(key, str) else key, ensure_ascii=False,
                               default=repr)
            raise ValueError(f"payload field names of 1 to 200 characters with no empty part between dots "
                             f"(found {shown}), {_PAYLOAD_EXAMPLE}")
        if isinstance(wanted, Mapping):
            if not wanted:
                raise ValueError(f"a value, or a table of its fields and their values, for payload field {name} "
                                 "(found an empty table)")
            _read_payload_table(wanted, path, found)
            continue
        values = wanted if isinstance(wanted, list) else [wanted]
        if not values:
            raise ValueError(f"at least one value for payload field {name} (an empty array would match nothing)")
        kept: dict[tuple[bool, Any], PayloadValue] = {}
        for item in values:
            problem = _not_a_payload_value(item)
            if problem is not None:
                raise ValueError(f"a string, a number, true or false, or an array of them for payload field {name} "
                                 f"(found {problem})")
            # 1 and "1" are the same text; true is not 1.
            kept.setdefault((isinstance(item, bool), _as_text(item)), item)
        found.append((name, tuple(kept.values())))


def _not_a_payload_value(value: object) -> str | None:
    """What is wrong with ``value`` as a value a payload field may have, or None when nothing is."""
    if isinstance(value, str):
        return None if len(value) <= 1000 else f"a string of {len(value)} characters, more than 1000"
    if isinstance(value, float):
        return None if math.isfinite(value) else "a number that is not finite"
    if isinstance(value, int):
        return None
    if isinstance(value, Mapping):
        return "a table inside the array"
    if isinstance(value, list):
        return "an array inside the array"
    return f"a {type(value).__name__}"


def _as_text(value: Any) -> str | bool | None:
    """A payload value as a rule compares it: booleans as they are, strings and numbers as text (``2.0``
    as ``2``), anything else (a table, an object) as nothing any rule matches."""
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return None


def _spread(value: Any) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, (list, tuple)) else (value,)


def _field(value: Any, name: str) -> Any:
    if isinstance(value, GenericPayload):
        value = value.data
    if isinstance(value, Mapping):
        return value.get(name)
    if name.startswith("_") or isinstance(value, (str, bytes, int, float)):
        return None
    found = getattr(value, name, None)
    return None if callable(found) else found


def payload_values(event: Event, path: tuple[str, ...]) -> tuple[Any, ...]:
    """What the event's payload holds at ``path`` (field names, outermost first), read as attributes or
    mapping keys; a way through an array goes through each of its items. Empty when the payload has no
    such field, never an error."""
    current: tuple[Any, ...] = (event.payload,)
    try:
        for name in path:
            current = tuple(
                found for item in current for each in _spread(item)
                if (found := _field(each, name)) is not None
            )
            if not current:
                break
    except Exception:  # noqa: BLE001 - a payload property that fails holds nothing a rule matches
        return ()
    return current


def _shown(value: Any) -> str:
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (int, float)):
        return str(_as_text(value))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_shown(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return "an object"
    return f"a {type(value).__name__}"


def _brief(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _PayloadField:
    """One ``payload`` field of a rule: its dotted name and the values (as text, or booleans) it may have."""

    __slots__ = ("_wanted", "given", "name", "path")

    def __init__(self, name: str, given: tuple[PayloadValue, ...]) -> None:
        self.name = name
        self.path = tuple(name.split("."))
        self.given = given
        self._wanted = frozenset(_as_text(value) for value in given)

    def matches(self, event: Event) -> bool:
        return self._found_in(payload_values(event, self.path))

    def _found_in(self, found: tuple[Any, ...]) -> bool:
        # Numbers are compared as text, so a boolean (equal to 1 or 0 in Python) only ever meets a boolean.
        wanted = self._wanted
        return any(_as_text(item) in wanted for value in found for item in _spread(value))

    def check(self, event: Event) -> Check:
        found = payload_values(event, self.path)
        ok = self._found_in(found)
        wanted = ", ".join(_shown(value) for value in self.given)
        if not found:
            return Check("payload", False, f"the payload has no {self.name} (the rule wants "
                         f"{wanted if len(self.given) == 1 else 'one of ' + wanted})")
        shown = _brief(_shown(found[0]) if len(found) == 1 else _shown(found))
        if len(self.given) == 1:
            detail = f"{self.name} is {shown}" if ok else f"{self.name} is {shown}, not {wanted}"
        else:
            detail = f"{self.name} is {shown}, {'one' if ok else 'none'} of {wanted}"
        return Check("payload", ok, detail)


class _Payload:
    """``payload``: the adapter's own fields and the values each may have; every field given must match."""

    def __init__(self, fields: tuple[tuple[str, tuple[PayloadValue, ...]], ...]) -> None:
        self.fields = tuple(_PayloadField(name, values) for name, values in fields)

    def __call__(self, event: Event) -> bool:
        return all(field.matches(event) for field in self.fields)

    def checks(self, event: Event) -> list[Check]:
        return [field.check(event) for field in self.fields]


@frozen
class _Criteria:
    """A rule's criteria, compiled: an empty one matches anything."""

    matchers: tuple[TopicMatcher, ...]
    min_severity: Severity
    sources: _Sources | None
    locations: frozenset[str]
    members: _Members | None
    cameras: frozenset[str]
    times: tuple[tuple[int, int], ...]
    payload: _Payload | None = None

    def matches(self, event: Event, facts: _Facts) -> bool:
        if event.severity < self.min_severity:
            return False
        topic = event.topic
        for matches in self.matchers:
            if matches(topic):
                break
        else:
            return False
        if self.sources is not None and not self.sources(event.source):
            return False
        if self.members is not None and not self.members(event):
            return False
        if self.locations and not self._location_matches(event):
            return False
        if self.cameras and not any(camera in self.cameras for camera in facts.cameras()):
            return False
        if self.times:
            minute = facts.minute
            if not any(_in_range(minute, start, end) for start, end in self.times):
                return False
        return self.payload is None or self.payload(event)

    def _location_matches(self, event: Event) -> bool:
        place = event.location
        if place is None:
            return False
        return (place.name is not None and normalise(place.name) in self.locations) or (
            place.uprn is not None and normalise(place.uprn) in self.locations
        )

    def checks(self, event: Event, facts: _Facts, zone_name: str) -> list[Check]:
        """Every criterion given, each with whether it matched and why (for ``explain``)."""
        found: list[Check] = []
        patterns = [m.pattern for m in self.matchers]
        hit = next((p for m, p in zip(self.matchers, patterns) if m(event.topic)), None)
        if patterns != ["#"]:
            found.append(Check("topics", hit is not None,
                               f"{event.topic} matches {hit}" if hit is not None
                               else f"{event.topic} matches none of {', '.join(patterns)}"))
        if self.min_severity > Severity.INFO:
            ok = event.severity >= self.min_severity
            found.append(Check("min_severity", ok, f"{event.severity.label} is "
                               f"{'at least' if ok else 'below'} {self.min_severity.label}"))
        if self.sources is not None:
            ok = self.sources(event.source)
            found.append(Check("sources", ok, f"{event.source} is {'' if ok else 'not '}"
                               f"one of {', '.join(self.sources.given)}"))
        if self.members is not None:
            ok = self.members(event)
            subject = event.subject
            if subject.kind == "radio_unit":
                who = f"radio unit {subject.id}" + (f" ({subject.name})" if subject.name else "")
                detail = f"{who} is {'' if ok else 'not '}one of {', '.join(self.members.given)}"
            else:
                detail = f"the event is about a {subject.kind}, not a radio unit"
            found.append(Check("members", ok, detail))
        if self.locations:
            ok = self._location_matches(event)
            place = event.location
            said = [f"{label} {value!r}" for label, value in
                    (("name", place.name if place else None), ("UPRN", place.uprn if place else None)) if value]
            if said:
                detail = f"location {' / '.join(said)} is {'one' if ok else 'none'} of the rule's"
            else:
                detail = "the event has no location name or UPRN"
            found.append(Check("locations", ok, detail))
        if self.cameras:
            cameras = facts.cameras()
            hits = [camera for camera in cameras if camera in self.cameras]
            if hits:
                detail = f"camera {', '.join(hits)} is one of {', '.join(sorted(self.cameras))}"
            elif cameras:
                detail = f"camera {', '.join(cameras)} is none of {', '.join(sorted(self.cameras))}"
            else:
                detail = "the event names no camera"
            found.append(Check("cameras", bool(hits), detail))
        if self.times:
            minute = facts.minute
            ranges = ", ".join(f"{_hhmm(s)}-{_hhmm(e)}" for s, e in self.times)
            ok = any(_in_range(minute, s, e) for s, e in self.times)
            found.append(Check("time_of_day", ok, f"{_hhmm(minute)} {facts.local.tzname()} ({zone_name}) is "
                               f"{'within' if ok else 'outside'} {ranges}"))
        if self.payload is not None:
            found.extend(self.payload.checks(event))
        return found


def _criteria(config: IncidentRuleConfig | None, *, topics: tuple[str, ...], sources: tuple[str, ...],
              cameras: tuple[str, ...], where: str) -> _Criteria:
    for pattern in topics:
        try:
            parse_pattern(pattern)
        except TopicPatternError as error:
            raise InvalidRule(f"{where}: {error}") from None
    times: list[tuple[int, int]] = []
    for text in (config.time_of_day if config is not None else ()):
        try:
            times.append(parse_time_range(text))
        except ValueError as error:
            raise InvalidRule(f"{where}: time_of_day {error}") from None
    payload = None
    if config is not None and config.payload:
        try:
            payload = _Payload(payload_fields(config.payload))
        except ValueError as error:
            raise InvalidRule(f"{where}: payload: expected {error}") from None
    return _Criteria(
        matchers=tuple(TopicMatcher(pattern) for pattern in topics),
        min_severity=Severity.parse(config.min_severity) if config is not None else Severity.INFO,
        sources=_Sources(tuple(sources)) if sources else None,
        locations=frozenset(normalise(l) for l in config.locations) if config is not None else frozenset(),
        members=_Members(tuple(config.members)) if config is not None and config.members else None,
        cameras=frozenset(c.strip() for c in cameras),
        times=tuple(times),
        payload=payload if payload is not None and payload.fields else None,
    )


# --- Rules --------------------------------------------------------------------------------------------


@frozen
class _Rule:
    config: IncidentRuleConfig
    criteria: _Criteria
    decision: Decision


def _actions(rule: IncidentRuleConfig) -> RuleActions | None:
    acts = bool(rule.sop) or rule.move_cameras is not None or rule.police is not None \
        or rule.broadcast is not None or rule.escalate_after_s is not None
    where = f"incident rule {rule.name!r}"
    if rule.action == "ignore" and acts:
        raise InvalidRule(f"{where}: a rule whose action is ignore does nothing else; remove its sop, "
                          "move_cameras, police, broadcast and escalate_after_s, or make it open or join")
    if rule.police_adapter is not None and rule.police is None:
        raise InvalidRule(f'{where}: police_adapter is set but police is not; add police = "auto" or "offer"')
    if not acts:
        return None
    return RuleActions(
        rule=rule.name, sop=tuple(rule.sop), move_cameras=rule.move_cameras, police=rule.police,
        police_adapter=rule.police_adapter, broadcast=rule.broadcast,
        escalate_after_s=float(rule.escalate_after_s) if rule.escalate_after_s is not None else None,
    )


def _compile(rule: IncidentRuleConfig) -> _Rule:
    where = f"incident rule {rule.name!r}"
    criteria = _criteria(rule, topics=tuple(rule.topics), sources=tuple(rule.sources),
                         cameras=tuple(rule.cameras), where=where)
    unknown = sorted(set(rule.join_on) - {"subject", "location"})
    if unknown:
        raise InvalidRule(f"{where}: join_on may hold subject and location, not {unknown}")
    return _Rule(
        config=rule,
        criteria=criteria,
        decision=Decision(
            action=RuleAction(rule.action),
            rule=rule.name,
            category=rule.category,
            priority=rule.priority,
            join_on=tuple(rule.join_on),
            window=float(rule.join_window_s),
            actions=_actions(rule),
        ),
    )


# --- Maintenance windows ------------------------------------------------------------------------------


def _about(event: Event) -> str:
    """What the event is about, as a subject key (``camera:24``, ``fibre_node:node-03``)."""
    return f"{event.subject.kind}:{event.subject.id}"


@frozen
class _Window:
    """A maintenance window, compiled. ``things`` are the subject keys it covers (its ``cameras`` as
    ``camera:N`` and its ``subjects``); an empty set covers anything its other criteria let through."""

    config: MaintenanceWindowConfig
    starts: float | None
    ends: float | None
    daily: tuple[int, int] | None
    criteria: _Criteria
    things: frozenset[str]
    decision: Decision

    def active(self, facts: _Facts) -> bool:
        at = facts.event.occurred_at.timestamp()
        if self.starts is not None and at < self.starts:
            return False
        if self.ends is not None and at >= self.ends:
            return False
        return self.daily is None or _in_range(facts.minute, *self.daily)

    def covers(self, event: Event, facts: _Facts) -> bool:
        """Whether what the event is about is under the works: its subject is listed, and anything more its
        failure takes down (its ``covers``) is listed too. An outage that takes down things outside the works
        is not the works' doing, and is never hidden by them; nor is an event about something else that
        merely happened in view of a listed camera (a pub's emergency by a camera being cleaned)."""
        if not self.things:
            return True
        if _about(event) not in self.things:
            return False
        return all(key in self.things for key in facts.covers)

    def suppresses(self, event: Event, facts: _Facts) -> bool:
        return self.criteria.matches(event, facts) and self.active(facts) and self.covers(event, facts)


def _compile_window(window: MaintenanceWindowConfig) -> _Window:
    where = f"maintenance window {window.name!r}"
    daily = None
    if window.daily is not None:
        try:
            daily = parse_time_range(window.daily)
        except ValueError as error:
            raise InvalidRule(f"{where}: daily {error}") from None
    cameras = tuple(c.strip() for c in window.cameras)
    return _Window(
        config=window,
        starts=window.starts.timestamp() if window.starts is not None else None,
        ends=window.ends.timestamp() if window.ends is not None else None,
        daily=daily,
        # The window's cameras and subjects are one criterion (what the works cover), checked in covers().
        criteria=_criteria(None, topics=tuple(window.topics), sources=tuple(window.sources), cameras=(),
                           where=where),
        things=frozenset((*(f"camera:{c}" for c in cameras), *window.subjects)),
        decision=Decision(RuleAction.IGNORE, suppressed_by=window.name),
    )


# --- What explain() gives -------------------------------------------------------------------------------


@frozen
class Tried:
    """A maintenance window or rule as ``explain`` tried it: whether it matched, and each criterion."""

    kind: str  # "maintenance" or "rule"
    name: str
    matched: bool
    checks: tuple[Check, ...]


@frozen
class Explanation:
    """Why the rules decide what they do about one event: ``decision`` (as ``decide`` gives it), the
    event's time in the room's time zone, a ``guard`` that decided before any rule (a protected topic),
    every maintenance window with why it does or does not cover the event, and the rules tried in order
    up to the one that matched (``untried``: how many came after it)."""

    decision: Decision
    timezone: str
    local_time: datetime
    guard: str | None
    maintenance: tuple[Tried, ...]
    rules: tuple[Tried, ...]
    untried: int


# --- The rules as a whole ---------------------------------------------------------------------------------


class IncidentRules:
    """The configured rules and maintenance windows, compiled once. ``InvalidRule`` is raised here, at
    start-up, not per event. ``timezone`` is the room's (``[hub] timezone``): ``time_of_day`` and daily
    maintenance windows are read in it."""

    def __init__(self, config: IncidentsConfig, timezone: str = DEFAULT_TIMEZONE) -> None:
        try:
            self._zone = ZoneInfo(timezone)
        except (ValueError, OSError, LookupError):
            raise InvalidRule(f"time zone {timezone!r} is not an IANA time zone name") from None
        self.timezone = timezone
        self._rules = tuple(_compile(rule) for rule in config.rules)
        self._windows = tuple(_compile_window(window) for window in config.maintenance)
        self._protected = tuple(TopicMatcher(pattern) for pattern in PROTECTED_TOPICS)
        # The engine asks about one event several times in a row; the answer is kept for the last one.
        self._last: tuple[Event | None, Decision] = (None, IGNORE)

    def is_protected(self, topic: str) -> bool:
        """Whether ``topic`` may never open (or, by subject and location, join) an incident."""
        return any(matches(topic) for matches in self._protected)

    def decide(self, event: Event) -> Decision:
        """What to do with ``event``: left alone by a maintenance window, else the first matching rule's
        decision, else ignore."""
        last_event, last_decision = self._last
        if event is last_event:
            return last_decision
        decision = self._decide(event)
        self._last = (event, decision)
        return decision

    def _decide(self, event: Event) -> Decision:
        if self.is_protected(event.topic):
            return IGNORE
        facts = _Facts(event, self._zone)
        if self._windows and event.incident_id is None:
            for window in self._windows:
                if window.suppresses(event, facts):
                    return window.decision
        for rule in self._rules:
            if rule.criteria.matches(event, facts):
                return rule.decision
        return IGNORE

    def explain(self, event: Event) -> Explanation:
        """``decide`` at length: every maintenance window and every rule tried, and why each did or did
        not match (for ``hub rules test``)."""
        facts = _Facts(event, self._zone)
        decision = self.decide(event)
        guard = None
        if self.is_protected(event.topic):
            patterns = [p for p, m in zip(PROTECTED_TOPICS, self._protected) if m(event.topic)]
            guard = (f"{event.topic} is one of the hub's own topics ({', '.join(patterns)}): no rule or window "
                     "applies; it only ever lands on the incident it names")
            return Explanation(decision=decision, timezone=self.timezone, local_time=facts.local, guard=guard,
                               maintenance=(), rules=(), untried=len(self._rules))
        windows = tuple(self._explain_window(window, event, facts) for window in self._windows)
        tried: list[Tried] = []
        untried = 0
        for index, rule in enumerate(self._rules):
            checks = tuple(rule.criteria.checks(event, facts, self.timezone))
            matched = rule.criteria.matches(event, facts)
            tried.append(Tried("rule", rule.config.name, matched, checks))
            if matched:
                untried = len(self._rules) - index - 1
                break
        return Explanation(decision=decision, timezone=self.timezone, local_time=facts.local, guard=guard,
                           maintenance=windows, rules=tuple(tried), untried=untried)

    def _explain_window(self, window: _Window, event: Event, facts: _Facts) -> Tried:
        checks = [Check("when", window.active(facts), self._when(window, facts))]
        checks.extend(window.criteria.checks(event, facts, self.timezone))
        if window.things:
            checks.append(Check("covers", window.covers(event, facts), self._what(window, event, facts)))
        if event.incident_id is not None:
            checks.append(Check("incident_id", False, f"the event names incident {event.incident_id}; "
                                "maintenance never hides what happens on an incident"))
        matched = all(check.matched for check in checks)
        return Tried("maintenance", window.config.name, matched, tuple(checks))

    def _when(self, window: _Window, facts: _Facts) -> str:
        at = f"{facts.local:%a %d %b %Y %H:%M} {facts.local.tzname()}"
        config = window.config
        starts = config.starts.astimezone(self._zone) if config.starts is not None else None
        ends = config.ends.astimezone(self._zone) if config.ends is not None else None
        if window.daily is not None:
            period = f"daily {_hhmm(window.daily[0])}-{_hhmm(window.daily[1])} {self.timezone} time"
            if starts is not None:
                period += f", from {starts:%a %d %b %Y %H:%M %Z}"
            if ends is not None:
                period += f", until {ends:%a %d %b %Y %H:%M %Z}"
        else:
            assert starts is not None and ends is not None
            end_format = "%H:%M %Z" if ends.date() == starts.date() else "%a %d %b %Y %H:%M %Z"
            period = f"{starts:%a %d %b %Y %H:%M} to {ends.strftime(end_format)}"
        return f"{at} is {'within' if window.active(facts) else 'outside'} {period}"

    @staticmethod
    def _what(window: _Window, event: Event, facts: _Facts) -> str:
        listed = ", ".join(sorted(window.things))
        subject = _about(event)
        if subject not in window.things:
            return f"the event is about {subject}, which the works do not list ({listed})"
        outside = [key for key in facts.covers if key not in window.things]
        if outside:
            return (f"the event is about {subject}, but its failure also takes down {', '.join(outside)}, "
                    f"which the works do not list: an outage beyond the works is never hidden")
        return f"the event is about {subject}, which the works list"


__all__ = [
    "PROTECTED_TOPICS",
    "Check",
    "Decision",
    "Explanation",
    "IGNORE",
    "IncidentRules",
    "InvalidRule",
    "RuleAction",
    "RuleActions",
    "Tried",
    "covered_keys",
    "named_cameras",
    "normalise",
    "payload_fields",
    "payload_values",
]
