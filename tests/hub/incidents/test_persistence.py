"""Incidents survive restarts and crashes: same incidents, numbering continues, nothing counted twice."""

from __future__ import annotations

import sqlite3

from hub.events import Severity, Subject
from hub.incidents.model import Acknowledge, AddNote
from hub.incidents.store import create_incidents
from hub.journal import JOURNAL_MIGRATIONS
from hub.sqlite_writer import migrate
from tests.hub.incidents.fakes import EngineHarness

RADIO = Subject(kind="radio", id="unit-7")


def test_incidents_and_their_numbering_survive_a_restart(room):
    """After the engine and bus are stopped and reopened on the same file, the same incidents are there
    and the next incident gets the next number."""
    room.emit(subject=RADIO)
    room.act("INC-000001", Acknowledge())
    room.act("INC-000001", AddNote("on it"))
    before = room.only()
    room.restart()
    assert room.engine.list() == [before]
    assert [note.text for note in room.store.notes(before.id)] == ["on it"]
    room.emit(subject=Subject(kind="radio", id="unit-9"))
    assert [incident.id for incident in room.engine.list()] == ["INC-000001", "INC-000002"]


def test_an_open_incident_keeps_gathering_events_after_a_restart(room):
    """The join index and duplicate memory are rebuilt from the stored events."""
    room.emit(subject=RADIO)
    room.restart()
    room.emit(subject=RADIO)
    room.emit("shopwatch.report.received", subject=RADIO)
    incident = room.only()
    assert (incident.event_count, incident.duplicate_count) == (3, 1)


def test_events_published_while_the_engine_was_down_are_handled_on_start(room):
    """The engine reads the journal from its saved position, so nothing published meanwhile is lost."""
    room.stop()
    room.hub.restart()
    published = room.hub.bus.publish(
        room.hub.events("shopwatch.emergency.raised", room.hub.note("x").payload, severity=Severity.HIGH, subject=RADIO, summary="while down")
    )
    room.hub.settle()
    assert published.called
    room.start()
    assert room.only().title == "while down"


def test_an_event_delivered_again_after_a_crash_is_not_counted_twice(captured_logs, room):
    """If the position was not saved (a crash, an older hub), events already in incidents come again and are
    skipped: no second incident, no higher count, no second incident.* event."""
    room.emit(subject=RADIO)
    room.emit("shopwatch.report.received", subject=RADIO)
    room.emit("shopwatch.chatter", severity=Severity.LOW)  # changes nothing; position only in memory
    before = room.only()
    changes_before = len(room.changes())
    room.crash()
    assert room.store.engine_position() < room.hub.bus.head
    room.emit("shopwatch.chatter", severity=Severity.LOW)
    assert room.engine.list() == [before]

    # Now rewind the stored position to the very beginning, as if it had never been saved at all.
    room.stop()
    with sqlite3.connect(room.hub.journal_path) as connection:
        connection.execute("UPDATE incident_engine SET position = 0")
        connection.execute("DELETE FROM cursors")
    room.hub.restart()
    room.start()
    assert room.engine.list() == [before]
    assert len(room.changes()) == changes_before
    recognised = [entry["seq"] for entry in captured_logs if entry["event"] == "incident_event_already_counted"]
    assert recognised == [1, 3]
    assert not [entry for entry in captured_logs if entry["log_level"] == "error"]


def test_a_crash_between_events_loses_none(room):
    """Everything published before a crash is in an incident after it, whether handled before it or not."""
    room.emit(subject=RADIO)
    room.hub.bus.publish(
        room.hub.events("shopwatch.report.received", room.hub.note("x").payload, severity=Severity.HIGH, subject=RADIO, summary="late")
    )
    room.crash()  # the report is journaled, but the engine had no turn to handle it
    room.hub.settle()
    assert room.only().event_count == 2


def test_the_engine_saves_its_position_while_events_change_nothing(room):
    """Many events that change nothing still move the saved position on, so a restart does not re-read them."""
    from hub.incidents.engine import SAVE_POSITION_EVERY

    for index in range(SAVE_POSITION_EVERY + 5):
        room.hub.bus.publish(room.hub.note(str(index)))
    room.hub.settle()
    assert room.store.engine_position() >= SAVE_POSITION_EVERY


def test_an_upgraded_journal_does_not_raise_its_past_as_incidents(tmp_path):
    """The migration starts the engine at the journal's head: old events are history, not new alarms."""
    path = tmp_path / "journal.sqlite3"
    connection = sqlite3.connect(path, isolation_level=None)
    migrate(connection, JOURNAL_MIGRATIONS)
    connection.execute("INSERT INTO events (seq, id, topic, received_at, body) VALUES (7, 'x', 't.a', 0, '{}')")
    migrate(connection, JOURNAL_MIGRATIONS + (create_incidents,))
    assert connection.execute("SELECT position FROM incident_engine").fetchone() == (7,)
    connection.close()
    room = EngineHarness(tmp_path)
    assert room.engine.list() == []
    room.close()
