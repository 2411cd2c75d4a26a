"""Operators' actions on an incident: the lifecycle, ownership, notes, and what each change records."""

from __future__ import annotations

import sqlite3

import pytest

from hub.events import Severity, Subject
from hub.incidents.model import (
    CLEAR,
    Acknowledge,
    AddNote,
    Assign,
    ChangeState,
    IncidentNotFound,
    IncidentState,
    TransitionRefused,
    Update,
)
from tests.hub.incidents.fakes import START, SUPERVISOR

RADIO = Subject(kind="radio", id="unit-7")


@pytest.fixture
def incident(room):
    """A new incident, opened at the start of the shift; returns its id."""
    room.emit(subject=RADIO)
    return room.only().id


def test_acknowledging_records_who_and_when_and_takes_ownership(room, incident):
    """Acknowledge moves new to acknowledged, stamps the time and user, and makes them the owner."""
    room.advance(42)
    acknowledged = room.act(incident, Acknowledge())
    assert acknowledged.state is IncidentState.ACKNOWLEDGED
    assert (acknowledged.acknowledged_at, acknowledged.acknowledged_by) == (START + 42, "alice")
    assert acknowledged.owner == "alice"
    assert acknowledged.updated_at == START + 42
    assert room.engine.get(incident) == acknowledged


def test_acknowledging_keeps_an_existing_owner(room, incident):
    """A supervisor's assignment survives someone else acknowledging."""
    room.act(incident, Assign("bob"), SUPERVISOR)
    assert room.act(incident, Acknowledge()).owner == "bob"


def test_acknowledging_twice_is_refused_naming_who_did_it(room, incident):
    """A second acknowledge (a double click, a colleague) gets a clear refusal, not a second change."""
    room.act(incident, Acknowledge())
    error = room.refused(incident, Acknowledge(), SUPERVISOR)
    assert isinstance(error, TransitionRefused)
    assert str(error) == f"{incident} is already acknowledged by alice at 2024-03-01T22:00:00Z (it is acknowledged)"
    assert len(room.changes("incident.acknowledged")) == 1


def test_the_whole_lifecycle_stamps_each_step(room, incident):
    """new -> acknowledged -> in_progress -> resolved -> closed, each step timed, attributed and published."""
    room.act(incident, Acknowledge())
    room.advance(10)
    room.act(incident, ChangeState(IncidentState.IN_PROGRESS))
    room.advance(10)
    resolved = room.act(incident, ChangeState("resolved"))
    assert resolved.resolved_at == START + 20
    room.advance(10)
    closed = room.act(incident, ChangeState("closed"), SUPERVISOR)
    assert closed.closed_at == START + 30
    history = room.store.history(incident)
    assert [(entry.action, entry.actor, entry.at) for entry in history] == [
        ("opened", None, START),
        ("acknowledged", "alice", START),
        ("state_changed", "alice", START + 10),
        ("state_changed", "alice", START + 20),
        ("state_changed", "sam", START + 30),
    ]
    assert [entry.detail.get("to") for entry in history[2:]] == ["in_progress", "resolved", "closed"]
    assert [change.topic for change in room.changes()] == [
        "incident.opened",
        "incident.acknowledged",
        "incident.state.changed",
        "incident.state.changed",
        "incident.state.changed",
    ]


def test_taking_a_new_incident_in_hand_acknowledges_it(room, incident):
    """new -> in_progress is allowed and counts as the acknowledgement."""
    started = room.act(incident, ChangeState("in_progress"))
    assert started.state is IncidentState.IN_PROGRESS
    assert (started.acknowledged_by, started.owner) == ("alice", "alice")
    assert room.changes()[-1].payload.detail["acknowledged"] is True


def test_changing_state_to_acknowledged_is_an_acknowledgement(room, incident):
    """ChangeState('acknowledged') on a new incident is the same as Acknowledge."""
    room.act(incident, ChangeState("acknowledged"))
    assert room.changes()[-1].topic == "incident.acknowledged"
    assert room.audit.written[-1][1] == "incident.acknowledge"


@pytest.mark.parametrize("target", ["resolved", "closed"])
def test_a_new_incident_cannot_be_resolved_or_closed_unseen(room, incident, target):
    """Somebody must acknowledge an incident before it is resolved or closed."""
    error = room.refused(incident, ChangeState(target))
    assert isinstance(error, TransitionRefused)
    assert str(error) == f"{incident} cannot go from new to {target}; from new it may go to acknowledged, in_progress"


def test_a_resolved_incident_may_be_reopened(room, incident):
    """resolved -> in_progress reopens it: resolved_at is cleared and the history says so."""
    room.act(incident, ChangeState("in_progress"))
    room.act(incident, ChangeState("resolved"))
    reopened = room.act(incident, ChangeState("in_progress"))
    assert (reopened.state, reopened.resolved_at) == (IncidentState.IN_PROGRESS, None)
    assert room.store.history(incident)[-1].detail["reopened"] is True


def test_a_closed_incident_takes_notes_and_nothing_else(room, incident):
    """Closed is final: state, owner and category are refused; a late note (a crime reference) is not."""
    for action in (ChangeState("in_progress"), ChangeState("resolved"), ChangeState("closed")):
        room.act(incident, action)
    for action in (ChangeState("in_progress"), Assign("bob"), Update(priority=1), Acknowledge()):
        error = room.refused(incident, action)
        assert isinstance(error, TransitionRefused)
        assert str(error) == f"{incident} is closed; only notes can be added to it"
    room.act(incident, AddNote("Police ref CAD 1234"))
    assert [note.text for note in room.store.notes(incident)] == ["Police ref CAD 1234"]


def test_moving_to_the_same_state_is_refused(room, incident):
    """A no-op move is refused rather than recorded."""
    room.act(incident, ChangeState("in_progress"))
    error = room.refused(incident, ChangeState("in_progress"))
    assert str(error) == f"{incident} is already in_progress"


def test_assigning_and_unassigning_record_from_and_to(room, incident):
    """Assign sets or clears the owner; the same owner again is refused."""
    room.act(incident, Assign("bob"), SUPERVISOR)
    assert room.engine.get(incident).owner == "bob"
    assert str(room.refused(incident, Assign("bob"))) == f"{incident} is already assigned to bob"
    assert room.act(incident, Assign(None), SUPERVISOR).owner is None
    assert [entry.detail for entry in room.store.history(incident)[1:]] == [
        {"from": None, "to": "bob"},
        {"from": "bob", "to": None},
    ]
    assert room.changes()[-1].summary == "Incident 1 unassigned by sam"


def test_notes_are_kept_in_order_with_author_and_time(room, incident):
    """Notes keep who wrote them and when, and each is published."""
    room.act(incident, AddNote("Suspect left towards the station"))
    room.advance(5)
    room.act(incident, AddNote("Police informed"), SUPERVISOR)
    notes = room.store.notes(incident)
    assert [(note.author, note.text, note.at) for note in notes] == [
        ("alice", "Suspect left towards the station", START),
        ("sam", "Police informed", START + 5),
    ]
    assert room.changes()[-1].payload.detail == {"text": "Police informed"}


def test_update_changes_only_what_it_names(room, incident):
    """Update sets category and priority; None keeps a field; CLEAR removes it; nothing to do is refused."""
    updated = room.act(incident, Update(category="shoplifting", priority=2))
    assert (updated.category, updated.priority) == ("shoplifting", 2)
    updated = room.act(incident, Update(category=None, priority=CLEAR))
    assert (updated.category, updated.priority) == ("shoplifting", None)
    assert room.store.history(incident)[-1].detail == {"priority": {"from": 2, "to": None}}
    error = room.refused(incident, Update(category="shoplifting", priority=None))
    assert str(error) == f"{incident} already has that category and priority"


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: AddNote(""), "a note must be non-empty text"),
        (lambda: AddNote("x" * 4001), "a note is longer than 4000 characters"),
        (lambda: Assign("  "), "owner must be non-empty text"),
        (lambda: Update(priority=6), "priority must be a whole number from 1"),
        (lambda: Update(priority=True), "priority must be a whole number from 1"),
        (lambda: Update(category="c" * 65), "category is longer than 64 characters"),
        (lambda: ChangeState("open"), "unknown incident state 'open'"),
    ],
)
def test_bad_action_arguments_are_refused_when_the_action_is_made(make, message):
    """Actions check their own arguments, so nothing invalid reaches the engine."""
    with pytest.raises(ValueError, match=message):
        make()


def test_an_unknown_incident_is_not_found(room):
    """Acting on an id nobody has raises IncidentNotFound naming it."""
    error = room.refused("INC-000404", Acknowledge())
    assert isinstance(error, IncidentNotFound)
    assert str(error) == "no incident 'INC-000404'"


def test_each_action_is_audited_in_its_own_transaction(room, incident):
    """Every action writes one audit row with the plan's action name, the incident and the particulars."""
    room.act(incident, Acknowledge())
    room.act(incident, Assign("bob"))
    room.act(incident, AddNote("on scene"))
    room.act(incident, ChangeState("in_progress"))
    room.act(incident, Update(category="disorder"))
    assert room.audit.written == [
        ("alice", "incident.acknowledge", incident, {"from": "new", "to": "acknowledged", "owner": "alice"}),
        ("alice", "incident.assign", incident, {"from": "alice", "to": "bob"}),
        ("alice", "incident.note", incident, {"text": "on scene"}),
        ("alice", "incident.state", incident, {"from": "acknowledged", "to": "in_progress"}),
        ("alice", "incident.update", incident, {"category": {"from": None, "to": "disorder"}}),
    ]


def test_an_action_whose_audit_row_fails_changes_nothing(room, incident):
    """The incident, its event and the audit row are one transaction: if the audit fails, none is kept."""
    room.audit.fail_with = sqlite3.OperationalError("audit table is locked")
    error = room.refused(incident, Acknowledge())
    assert isinstance(error, sqlite3.OperationalError)
    assert room.engine.get(incident).state is IncidentState.NEW
    assert room.changes("incident.acknowledged") == []
    assert len(room.store.history(incident)) == 1
    room.audit.fail_with = None
    assert room.act(incident, Acknowledge()).state is IncidentState.ACKNOWLEDGED


def test_acknowledging_stops_escalation_even_when_it_comes_late(room, incident):
    """After an acknowledgement, no more escalations are raised."""
    room.advance(300)
    assert len(room.changes("incident.escalated")) == 1
    room.act(incident, Acknowledge())
    room.advance(3600)
    assert len(room.changes("incident.escalated")) == 1


def test_actions_publish_quiet_events_attributed_to_the_actor(room, incident):
    """Operator changes are info-severity incident.* events naming the actor, with no cause event."""
    room.act(incident, Acknowledge())
    change = room.changes()[-1]
    assert (change.severity, change.payload.actor, change.causation_id) == (Severity.INFO, "alice", None)
    assert change.summary == "Incident 1 acknowledged by alice"
    assert change.incident_id == incident
