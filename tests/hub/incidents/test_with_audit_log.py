"""With the real audit log and the hub's whole schema: an action, its incident rows, its event and its
audit row are one transaction."""

from __future__ import annotations

import sqlite3

import pytest

from hub.audit import Actor, AuditLog, verify_chain
from hub.core_plugin import hub_register_event_types
from hub.events import Subject
from hub.incidents.events import IncidentChanged
from hub.incidents.model import Acknowledge, AddNote, IncidentState
from hub.store import HUB_MIGRATIONS
from tests.hub.incidents.fakes import EngineHarness

ALICE = Actor(name="alice", role="operator", address="192.0.2.10")


@pytest.fixture
def audited(tmp_path):
    room = EngineHarness(tmp_path, migrations=HUB_MIGRATIONS)
    room.audit = AuditLog(room.bus.journal._writer, room.clock, room.hub.journal_path)
    room.restart()
    yield room
    room.audit.close()
    room.close()


def test_an_action_writes_one_chained_audit_row_with_the_change(audited):
    """Acknowledging and noting leave two audit rows naming the user, address, action and incident."""
    audited.emit(subject=Subject(kind="radio", id="unit-7"))
    audited.act("INC-000001", Acknowledge(), ALICE)
    audited.act("INC-000001", AddNote("on scene"), ALICE)
    entries = audited.audit.read()
    assert [(e.actor, e.role, e.address, e.action, e.target) for e in entries] == [
        ("alice", "operator", "192.0.2.10", "incident.acknowledge", "INC-000001"),
        ("alice", "operator", "192.0.2.10", "incident.note", "INC-000001"),
    ]
    assert entries[1].detail == {"text": "on scene"}
    with sqlite3.connect(audited.hub.journal_path) as connection:
        assert verify_chain(connection).ok


def test_when_the_audit_row_cannot_be_written_the_change_is_not_made(audited):
    """If the audit insert fails, the incident, its history and its incident.* event are rolled back too."""
    audited.emit(subject=Subject(kind="radio", id="unit-7"))
    with sqlite3.connect(audited.hub.journal_path) as connection:
        connection.execute(
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'disk says no'); END"
        )
    error = audited.refused("INC-000001", Acknowledge(), ALICE)
    assert "disk says no" in str(error)
    assert audited.only().state is IncidentState.NEW
    assert [entry.action for entry in audited.store.history("INC-000001")] == ["opened"]
    assert audited.changes("incident.acknowledged") == []
    assert audited.audit.read() == []


def test_the_core_plugin_registers_the_incident_payload():
    """IncidentChanged is contributed through hub_register_event_types, so every hub can decode it."""
    assert IncidentChanged in hub_register_event_types()
