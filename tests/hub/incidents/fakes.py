"""Fakes for the incident engine's collaborators, and a harness that runs the engine on a real bus."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import attrs
from twisted.internet.defer import Deferred

from hub.config import IncidentsConfig
from hub.events import Event, EventFactory, Location, Severity, Subject
from hub.incidents.engine import IncidentEngine
from hub.incidents.events import INCIDENT_EVENT_TYPES
from hub.incidents.model import Incident, IncidentAction
from hub.incidents.store import IncidentStore, add_incident_covers, add_incident_rule_actions, create_incidents
from hub.journal import JOURNAL_MIGRATIONS
from hub.testing import BusHarness, Note, failure_result_of, success_result_of

MIGRATIONS = JOURNAL_MIGRATIONS + (create_incidents, add_incident_covers, add_incident_rule_actions)

RADIO = Subject(kind="radio", id="unit-7", name="Boots radio")

#: A realistic starting time (2024-03-01T22:00:00Z), so times in assertions read like a night shift.
START = 1_709_330_400.0


@attrs.frozen
class FakeActor:
    """Stands in for hub.audit.Actor: who did something, with what role, from where."""

    name: str
    role: str = "operator"
    address: str | None = "192.0.2.10"


OPERATOR = FakeActor("alice")
SUPERVISOR = FakeActor("sam", role="supervisor")


class FakeAuditLog:
    """Stands in for hub.audit.AuditLog: its jobs write nothing, but record that they ran (inside the
    transaction that carries them). Set ``fail_with`` to make the job raise, as a broken audit table would."""

    def __init__(self) -> None:
        self.written: list[tuple[str, str, str, dict[str, Any]]] = []
        self.fail_with: BaseException | None = None

    def job(self, actor: Any, action: str, target: str, detail: dict[str, Any] | None = None) -> Any:
        def write(_connection: sqlite3.Connection) -> None:
            if self.fail_with is not None:
                raise self.fail_with
            self.written.append((actor.name, action, target, dict(detail or {})))

        return write


class EngineHarness:
    """An IncidentEngine on a real bus and SQLite file, on a fake clock; restartable on the same file."""

    def __init__(
        self,
        directory: Path,
        config: IncidentsConfig | None = None,
        audit: Any = None,
        migrations: tuple[Any, ...] = MIGRATIONS,
        event_types: tuple[type, ...] = (),
        timezone: str = "Europe/London",
    ) -> None:
        self.timezone = timezone
        self.hub = BusHarness(directory, migrations=migrations, event_types=INCIDENT_EVENT_TYPES + event_types)
        self.clock = self.hub.clock
        self.clock.advance(START)
        self.config = config if config is not None else IncidentsConfig()
        self.audit = audit if audit is not None else FakeAuditLog()
        self.engine: IncidentEngine
        self.store: IncidentStore
        self.start()

    @property
    def bus(self) -> Any:
        return self.hub.bus

    def start(self) -> None:
        self.store = IncidentStore(self.hub.journal_path)
        self.engine = IncidentEngine(
            bus=self.hub.bus,
            store=self.store,
            config=self.config,
            clock=self.clock,
            events=EventFactory(self.clock, "hub.incidents"),
            audit=self.audit,
            timezone=self.timezone,
        )
        self.engine.startService()
        self.hub.settle()

    def stop(self) -> None:
        stopped = self.engine.stopService()
        self.hub.settle()
        success_result_of(stopped)
        self.store.close()

    def restart(self) -> None:
        """A clean restart: the engine stops, the bus closes, both open again on the same file."""
        self.stop()
        self.hub.restart()
        self.start()

    def crash(self) -> None:
        """The process dies: the database is gone before the engine can save anything on its way out."""
        self.hub.bus.close()
        self.hub.settle()
        self.engine.stopService()
        self.hub.settle()
        self.store.close()
        self.hub.bus = self.hub._open()
        self.start()

    def close(self) -> None:
        self.stop()
        self.hub.close()

    # --- driving it -----------------------------------------------------------------------------------

    def emit(
        self,
        topic: str = "shopwatch.emergency.raised",
        *,
        severity: Severity = Severity.HIGH,
        subject: Subject = RADIO,
        location: Location | None = None,
        summary: str | None = None,
        incident_id: str | None = None,
        source: str = "shopwatch.town_centre",
        payload: Any = None,
    ) -> Event:
        """Publish an event and let the engine handle it; returns it with its seq."""
        event = self.hub.events.for_source(source)(
            topic,
            payload if payload is not None else Note(summary or topic),
            severity=severity,
            subject=subject,
            summary=summary or f"{topic} from {subject.id}",
            location=location,
            incident_id=incident_id,
        )
        published = self.hub.bus.publish(event)
        self.hub.settle()
        return event.with_seq(success_result_of(published))

    def act(self, incident_id: str, action: IncidentAction, actor: Any = OPERATOR) -> Incident:
        done = Deferred.fromCoroutine(self.engine.act(incident_id, action, actor))
        self.hub.settle()
        return success_result_of(done)

    def refused(self, incident_id: str, action: IncidentAction, actor: Any = OPERATOR) -> Exception:
        done = Deferred.fromCoroutine(self.engine.act(incident_id, action, actor))
        self.hub.settle()
        return failure_result_of(done).value

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.hub.settle()

    def changes(self, pattern: str = "incident.#") -> list[Event]:
        """Every incident.* event journaled so far, in order."""
        return self.hub.bus.replay(pattern=pattern, limit=100_000)

    def only(self) -> Incident:
        """The one incident there is."""
        incidents = self.engine.list()
        assert len(incidents) == 1, incidents
        return incidents[0]
