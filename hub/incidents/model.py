"""What an incident is: its lifecycle, the record the console and API show, and the actions on it.

An incident gathers the events about one thing that needs an operator (an emergency button, a camera
gone dark, a partner's report). Its ``id`` (``INC-000123``) is stable and is what events, the API and
the audit log refer to; ``number`` (123) is the same thing for people to say over a radio.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, Mapping

import attrs
from attrs import field, frozen

from hub.clock import iso
from hub.events import Event, Location, Severity, Subject

#: Longest note, owner name and category accepted from an operator.
MAX_NOTE_LENGTH = 4000
MAX_OWNER_LENGTH = 100
MAX_CATEGORY_LENGTH = 64

#: What an incident may offer the operator to do in one click (a rule's ``police = "offer"``).
OFFER_SEND_TO_POLICE = "send_to_police"


class IncidentState(enum.Enum):
    """Where an incident stands. ``closed`` is final; ``resolved`` may be reopened."""

    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"

    @classmethod
    def parse(cls, text: "str | IncidentState") -> "IncidentState":
        """The state named ``text``; ValueError names the choices."""
        if isinstance(text, IncidentState):
            return text
        try:
            return cls(text)
        except ValueError:
            choices = ", ".join(member.value for member in cls)
            raise ValueError(f"unknown incident state {text!r}; expected one of {choices}") from None


#: The moves an operator may make. Moving a new incident straight to in_progress acknowledges it on
#: the way (someone is clearly on it); a new incident cannot be resolved or closed unseen: it must be
#: acknowledged first, so every incident has a person who saw it.
TRANSITIONS: Mapping[IncidentState, frozenset[IncidentState]] = {
    IncidentState.NEW: frozenset({IncidentState.ACKNOWLEDGED, IncidentState.IN_PROGRESS}),
    IncidentState.ACKNOWLEDGED: frozenset({IncidentState.IN_PROGRESS, IncidentState.RESOLVED}),
    IncidentState.IN_PROGRESS: frozenset({IncidentState.RESOLVED}),
    IncidentState.RESOLVED: frozenset({IncidentState.IN_PROGRESS, IncidentState.CLOSED}),
    IncidentState.CLOSED: frozenset(),
}

#: States in which an incident gathers new events by subject or location.
OPEN_STATES = frozenset({IncidentState.NEW, IncidentState.ACKNOWLEDGED, IncidentState.IN_PROGRESS})


def from_iso(text: str | None) -> float | None:
    if text is None:
        return None
    return datetime.fromisoformat(text).timestamp()


def _location_json(location: Location | None) -> dict[str, Any] | None:
    return None if location is None else attrs.asdict(location)


@frozen
class SopStep:
    """One step of an incident's standard operating procedure: its text, and who ticked it off when
    (both None while it is not done)."""

    text: str
    done_at: float | None = None
    done_by: str | None = None

    @property
    def done(self) -> bool:
        return self.done_at is not None

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "done": self.done, "done_at": iso(self.done_at), "done_by": self.done_by}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "SopStep":
        return cls(text=data["text"], done_at=from_iso(data.get("done_at")), done_by=data.get("done_by"))


@frozen
class Incident:
    """One incident as stored: every time is POSIX seconds from the hub clock.

    ``severity`` is the worst of its events; ``event_count`` counts the events gathered (the opening
    one included), ``duplicate_count`` those of them that repeated an event already there (same topic
    and subject) and so raised nothing new. ``sources`` and ``cameras`` are every event source and
    camera seen in it, in order of first appearance. ``covers`` are the subject keys (``kind:id``) its
    root-cause events said are behind the failure (``camera:42``, ``fibre_node:FN-07``): while the
    incident is open, any event about one of them joins it (docs/incidents.md, "Root causes").
    """

    id: str
    number: int
    title: str
    state: IncidentState
    severity: Severity = field(converter=Severity)
    source: str
    subject: Subject
    opened_at: float
    updated_at: float
    last_event_at: float
    location: Location | None = None
    priority: int | None = None
    category: str | None = None
    owner: str | None = None
    acknowledged_at: float | None = None
    acknowledged_by: str | None = None
    resolved_at: float | None = None
    closed_at: float | None = None
    event_count: int = 1
    duplicate_count: int = 0
    escalation_count: int = 0
    last_escalated_at: float | None = None
    sources: tuple[str, ...] = ()
    cameras: tuple[str, ...] = ()
    covers: tuple[str, ...] = ()
    sop: tuple[SopStep, ...] = ()
    offers: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    escalate_after_s: float | None = None

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def to_json(self) -> dict[str, Any]:
        """The JSON form the API, the console and ``incident.*`` events carry (docs/incidents.md)."""
        return {
            "id": self.id,
            "number": self.number,
            "title": self.title,
            "state": self.state.value,
            "severity": self.severity.label,
            "priority": self.priority,
            "category": self.category,
            "owner": self.owner,
            "source": self.source,
            "subject": {"kind": self.subject.kind, "id": self.subject.id, "name": self.subject.name},
            "location": _location_json(self.location),
            "opened_at": iso(self.opened_at),
            "updated_at": iso(self.updated_at),
            "acknowledged_at": iso(self.acknowledged_at),
            "acknowledged_by": self.acknowledged_by,
            "resolved_at": iso(self.resolved_at),
            "closed_at": iso(self.closed_at),
            "last_event_at": iso(self.last_event_at),
            "event_count": self.event_count,
            "duplicate_count": self.duplicate_count,
            "escalation_count": self.escalation_count,
            "last_escalated_at": iso(self.last_escalated_at),
            "sources": list(self.sources),
            "cameras": list(self.cameras),
            "covers": list(self.covers),
            "sop": [step.to_json() for step in self.sop],
            "offers": list(self.offers),
            "rules": list(self.rules),
            "escalate_after_s": self.escalate_after_s,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Incident":
        """The incident a ``to_json`` dict describes (an ``incident.*`` event's snapshot)."""
        location = data.get("location")
        return cls(
            id=data["id"],
            number=data["number"],
            title=data["title"],
            state=IncidentState.parse(data["state"]),
            severity=Severity.parse(data["severity"]),
            priority=data.get("priority"),
            category=data.get("category"),
            owner=data.get("owner"),
            source=data["source"],
            subject=Subject(**data["subject"]),
            location=Location(**location) if location is not None else None,
            opened_at=from_iso(data["opened_at"]),  # type: ignore[arg-type]
            updated_at=from_iso(data["updated_at"]),  # type: ignore[arg-type]
            acknowledged_at=from_iso(data.get("acknowledged_at")),
            acknowledged_by=data.get("acknowledged_by"),
            resolved_at=from_iso(data.get("resolved_at")),
            closed_at=from_iso(data.get("closed_at")),
            last_event_at=from_iso(data["last_event_at"]),  # type: ignore[arg-type]
            event_count=data.get("event_count", 1),
            duplicate_count=data.get("duplicate_count", 0),
            escalation_count=data.get("escalation_count", 0),
            last_escalated_at=from_iso(data.get("last_escalated_at")),
            sources=tuple(data.get("sources", ())),
            cameras=tuple(data.get("cameras", ())),
            covers=tuple(data.get("covers", ())),
            sop=tuple(SopStep.from_json(step) for step in data.get("sop", ())),
            offers=tuple(data.get("offers", ())),
            rules=tuple(data.get("rules", ())),
            escalate_after_s=data.get("escalate_after_s"),
        )


def incident_id(number: int) -> str:
    """The stable id of incident ``number``: ``INC-`` and at least six digits."""
    return f"INC-{number:06d}"


@frozen
class IncidentNote:
    """A note an operator added: when, who, what."""

    at: float
    author: str
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"at": iso(self.at), "author": self.author, "text": self.text}


@frozen
class HistoryEntry:
    """One change to an incident: when, who (None for the hub itself), what, and its particulars."""

    at: float
    actor: str | None
    action: str
    detail: Mapping[str, Any] = field(factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"at": iso(self.at), "actor": self.actor, "action": self.action, "detail": dict(self.detail)}


@frozen
class IncidentDetail:
    """An incident with its events (decoded from the journal, oldest first), notes and history.

    ``folded`` holds the seqs of the events that were folded in as duplicates. Events the journal no
    longer holds (pruned by retention) are left out; ``missing_events`` counts them.
    """

    incident: Incident
    events: tuple[Event, ...]
    notes: tuple[IncidentNote, ...]
    history: tuple[HistoryEntry, ...]
    folded: frozenset[int] = frozenset()
    missing_events: int = 0


# --- What an operator can do to an incident -------------------------------------------------------


class _Clear(enum.Enum):
    CLEAR = "clear"

    def __repr__(self) -> str:
        return "CLEAR"


#: "Remove this value" in ``Update`` (``None`` leaves it as it is).
CLEAR = _Clear.CLEAR


def _text(limit: int, what: str, *, optional: bool = False) -> Any:
    def check(_instance: object, _attribute: object, value: object) -> None:
        if value is None and optional:
            return
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{what} must be non-empty text")
        if len(value) > limit:
            raise ValueError(f"{what} is longer than {limit} characters")

    return check


@frozen
class Acknowledge:
    """Say that someone has seen a new incident; stops its escalation. Takes ownership if it has none."""

    name = "acknowledge"


@frozen
class Assign:
    """Give the incident an owner (a user name), or take it away with ``None``."""

    owner: str | None = field(validator=_text(MAX_OWNER_LENGTH, "owner", optional=True))
    name = "assign"


@frozen
class AddNote:
    """Add a note to the incident's log (allowed in every state, closed included)."""

    text: str = field(validator=_text(MAX_NOTE_LENGTH, "a note"))
    name = "note"


@frozen
class ChangeState:
    """Move the incident along its lifecycle (see ``TRANSITIONS``)."""

    state: IncidentState = field(converter=IncidentState.parse)
    name = "state"


def _priority(_instance: object, _attribute: object, value: object) -> None:
    if value is CLEAR or value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise ValueError("priority must be a whole number from 1 (most urgent) to 5")


def _category(_instance: object, _attribute: object, value: object) -> None:
    if value is CLEAR or value is None:
        return
    _text(MAX_CATEGORY_LENGTH, "category")(_instance, _attribute, value)


@frozen
class Update:
    """Change the category and/or priority. A field left ``None`` is kept as it is; ``CLEAR`` removes it.

    (None keeps rather than clears so that an API body that leaves a field out, or sends it as null,
    can never wipe what an operator set.)
    """

    category: str | _Clear | None = field(default=None, validator=_category)
    priority: int | _Clear | None = field(default=None, validator=_priority)
    name = "update"


def _step_number(_instance: object, _attribute: object, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("step must be a whole number from 1 (the SOP's first step)")


def _flag(_instance: object, _attribute: object, value: object) -> None:
    if not isinstance(value, bool):
        raise ValueError("done must be true or false")


@frozen
class CheckStep:
    """Tick (``done=True``) or untick step ``step`` (1 is the first) of the incident's SOP checklist.

    Allowed while the incident is open (new, acknowledged, in progress)."""

    step: int = field(validator=_step_number)
    done: bool = field(default=True, validator=_flag)
    name = "sop"


IncidentAction = Acknowledge | Assign | AddNote | ChangeState | Update | CheckStep


class IncidentNotFound(LookupError):
    """No incident has that id."""

    def __init__(self, incident_id: str) -> None:
        super().__init__(f"no incident {incident_id!r}")
        self.incident_id = incident_id


class TransitionRefused(ValueError):
    """The action does not fit the incident as it stands; the message says why, for the operator."""
