"""Small fakes of the hub pieces the web layer uses, for testing it without the incident engine or a
user database. Each keeps the interface the plan fixes (hub/auth, hub/audit, IncidentDesk)."""

from __future__ import annotations

import io
import json
from typing import Any

import attrs
from attrs import define, field, frozen
from twisted.internet.defer import fail, succeed

from hub.events import Location
from hub.web.http import conflict, not_found


@frozen
class FakeUser:
    name: str
    role: str
    disabled: bool = False
    created_at: float = 0.0


class UserExists(Exception):
    """Same name as the real store's error, which the API recognises by name."""


class FakeUsers:
    """Users with plain passwords in a dict."""

    def __init__(self) -> None:
        self.users: dict[str, tuple[FakeUser, str]] = {}
        self.audited: list[tuple[Any, str, str]] = []

    def put(self, name: str, role: str, password: str = "correct horse battery") -> FakeUser:
        user = FakeUser(name, role)
        self.users[name] = (user, password)
        return user

    def authenticate(self, name: str, password: str) -> FakeUser | None:
        found = self.users.get(name)
        if found is None or found[1] != password or found[0].disabled:
            return None
        return found[0]

    def add(self, name: str, role: str, password: str, *, actor: Any = None) -> Any:
        if name in self.users:
            return fail(UserExists(name))
        if len(password) < 12:
            return fail(ValueError("a password needs at least 12 characters"))
        self.audited.append((actor, "user.add", name))
        return succeed(self.put(name, role, password))

    def get(self, name: str) -> FakeUser | None:
        found = self.users.get(name)
        return found[0] if found else None

    def list(self) -> list[FakeUser]:
        return [self.users[name][0] for name in sorted(self.users)]

    def disable(self, name: str, *, actor: Any = None) -> Any:
        user, password = self.users[name]
        self.users[name] = (attrs.evolve(user, disabled=True), password)
        self.audited.append((actor, "user.disable", name))
        return succeed(None)


@frozen
class FakeEntry:
    id: int
    at: float
    actor: str
    role: str
    address: str | None
    action: str
    target: str
    detail: dict[str, Any]
    prev_hash: str = ""
    hash: str = ""

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


class FakeAudit:
    """An audit log in a list; ``job`` works inside a real bus transaction (it ignores the connection)."""

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self.entries: list[FakeEntry] = []

    def _append(self, actor: Any, action: str, target: str, detail: Any) -> FakeEntry:
        entry = FakeEntry(len(self.entries) + 1, self.clock.seconds(), actor.name, actor.role, actor.address,
                          action, target, dict(detail or {}))
        self.entries.append(entry)
        return entry

    def job(self, actor: Any, action: str, target: str, detail: Any = None) -> Any:
        return lambda _connection: self._append(actor, action, target, detail)

    def record(self, actor: Any, action: str, target: str, detail: Any = None) -> Any:
        return succeed(self._append(actor, action, target, detail))

    def read(self, *, after_id: int = 0, limit: int = 200, actor: str | None = None,
             action: str | None = None) -> list[FakeEntry]:
        found = [e for e in self.entries if e.id > after_id and (actor is None or e.actor == actor)
                 and (action is None or e.action == action)]
        return found[:limit]

    def export(self, out: io.StringIO, *, format: str = "csv", after_id: int = 0) -> int:
        rows = self.read(after_id=after_id, limit=10**9)
        for entry in rows:
            out.write(json.dumps(entry.to_json()) + "\n")
        return len(rows)

    def actions(self) -> list[str]:
        return [entry.action for entry in self.entries]


@frozen
class FakeIncident:
    id: str
    title: str
    state: str = "new"
    owner: str | None = None
    severity: str = "high"
    location: Location | None = None
    cameras: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        location = attrs.asdict(self.location) if self.location is not None else None
        return {"id": self.id, "title": self.title, "state": self.state, "owner": self.owner,
                "severity": self.severity, "location": location, "cameras": list(self.cameras)}


@frozen
class FakeNote:
    at: float
    author: str
    text: str


@frozen
class FakeHistory:
    at: float
    actor: str
    action: str
    detail: dict[str, Any]


@frozen
class FakeDetail:
    incident: FakeIncident
    events: list[Any]
    notes: list[FakeNote]
    history: list[FakeHistory]


_ALLOWED = {"new": {"acknowledged", "in_progress", "resolved", "closed"},
            "acknowledged": {"in_progress", "resolved", "closed"}, "in_progress": {"resolved"},
            "resolved": {"in_progress", "closed"}, "closed": set()}


@define
class FakeDesk:
    """Incidents in a dict, with a simplified lifecycle."""

    is_desk = True
    incidents: dict[str, FakeIncident] = field(factory=dict)
    events: dict[str, list[Any]] = field(factory=dict)
    notes: dict[str, list[FakeNote]] = field(factory=dict)
    acted: list[tuple[str, str, dict[str, Any], Any]] = field(factory=list)

    def add(self, incident: FakeIncident, events: list[Any] = ()) -> FakeIncident:  # type: ignore[assignment]
        self.incidents[incident.id] = incident
        self.events[incident.id] = list(events)
        self.notes[incident.id] = []
        return incident

    def list(self, *, states: Any = None, source: Any = None, location: Any = None, min_severity: Any = None,
             text: Any = None, limit: int = 200) -> list[FakeIncident]:
        found = [i for i in self.incidents.values() if not states or i.state in states]
        return found[:limit]

    def get(self, incident_id: str) -> FakeIncident | None:
        return self.incidents.get(incident_id)

    def detail(self, incident_id: str) -> FakeDetail | None:
        incident = self.incidents.get(incident_id)
        if incident is None:
            return None
        return FakeDetail(incident, self.events[incident_id], self.notes[incident_id], [])

    async def act(self, incident_id: str, verb: str, arguments: dict[str, Any], actor: Any) -> FakeIncident:
        incident = self.incidents.get(incident_id)
        if incident is None:
            raise not_found(f"no incident {incident_id}")
        self.acted.append((incident_id, verb, arguments, actor))
        if verb == "acknowledge":
            if incident.state != "new":
                raise conflict("only a new incident can be acknowledged")
            incident = attrs.evolve(incident, state="acknowledged")
        elif verb == "state":
            if arguments["state"] not in _ALLOWED[incident.state]:
                raise conflict(f"{incident.state} cannot become {arguments['state']}")
            incident = attrs.evolve(incident, state=arguments["state"])
        elif verb == "assign":
            incident = attrs.evolve(incident, owner=arguments["owner"])
        elif verb == "notes":
            self.notes[incident_id].append(FakeNote(0.0, actor.name, arguments["text"]))
        self.incidents[incident_id] = incident
        return incident

    def counts_by_state(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for incident in self.incidents.values():
            counts[incident.state] = counts.get(incident.state, 0) + 1
        return counts


@frozen
class FakeStatus:
    name: str
    adapter_type: str
    state: str = "running"
    attempt: int = 0
    last_error: str | None = None
    last_heard_at: float | None = None
    started_at: float | None = None


class FakeAdapters:
    """The adapter statuses a test sets."""

    def __init__(self, *statuses: FakeStatus) -> None:
        self.statuses = list(statuses)

    def __call__(self) -> list[FakeStatus]:
        return list(self.statuses)
