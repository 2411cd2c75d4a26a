"""The incident record: its JSON form (what the console and API read), ids, and the transition table."""

from __future__ import annotations

import attrs
import hypothesis.strategies as st
from hypothesis import given

from hub.events import Location, Severity, Subject
import pytest

from hub.incidents.model import (
    TRANSITIONS,
    CheckStep,
    Incident,
    IncidentState,
    SopStep,
    incident_id,
)

OPENED = 1_709_330_400.0

INCIDENT = Incident(
    id="INC-000123",
    number=123,
    title="Emergency button pressed",
    state=IncidentState.ACKNOWLEDGED,
    severity=Severity.CRITICAL,
    priority=1,
    category="violence",
    owner="alice",
    source="shopwatch.town_centre",
    subject=Subject(kind="radio", id="unit-7", name="Boots radio"),
    location=Location(name="Boots", camera="42", latitude=51.5, longitude=-0.12),
    opened_at=OPENED,
    updated_at=OPENED + 30,
    last_event_at=OPENED + 20,
    acknowledged_at=OPENED + 30,
    acknowledged_by="alice",
    event_count=3,
    duplicate_count=1,
    escalation_count=0,
    sources=("shopwatch.town_centre",),
    cameras=("42",),
)


def test_to_json_has_the_shape_the_console_reads():
    """Times are ISO 8601 UTC with Z, severity and state are labels, tuples are lists."""
    assert INCIDENT.to_json() == {
        "id": "INC-000123",
        "number": 123,
        "title": "Emergency button pressed",
        "state": "acknowledged",
        "severity": "critical",
        "priority": 1,
        "category": "violence",
        "owner": "alice",
        "source": "shopwatch.town_centre",
        "subject": {"kind": "radio", "id": "unit-7", "name": "Boots radio"},
        "location": {"name": "Boots", "camera": "42", "latitude": 51.5, "longitude": -0.12, "uprn": None},
        "opened_at": "2024-03-01T22:00:00Z",
        "updated_at": "2024-03-01T22:00:30Z",
        "acknowledged_at": "2024-03-01T22:00:30Z",
        "acknowledged_by": "alice",
        "resolved_at": None,
        "closed_at": None,
        "last_event_at": "2024-03-01T22:00:20Z",
        "event_count": 3,
        "duplicate_count": 1,
        "escalation_count": 0,
        "last_escalated_at": None,
        "sources": ["shopwatch.town_centre"],
        "cameras": ["42"],
        "covers": [],
        "sop": [],
        "offers": [],
        "rules": [],
        "escalate_after_s": None,
    }


def test_the_sop_is_a_checklist_saying_who_ticked_each_step_and_when():
    """Each step has its text, whether it is done, and when and by whom it was ticked off (null while not)."""
    incident = attrs.evolve(
        INCIDENT,
        sop=(SopStep("Check the cameras", done_at=OPENED + 40, done_by="alice"), SopStep("Call the manager")),
        offers=("send_to_police",),
        rules=("pub emergencies",),
        escalate_after_s=60.0,
    )
    data = incident.to_json()
    assert data["sop"] == [
        {"text": "Check the cameras", "done": True, "done_at": "2024-03-01T22:00:40Z", "done_by": "alice"},
        {"text": "Call the manager", "done": False, "done_at": None, "done_by": None},
    ]
    assert (data["offers"], data["rules"], data["escalate_after_s"]) == (["send_to_police"], ["pub emergencies"], 60.0)
    assert Incident.from_json(data) == incident


def test_an_older_snapshot_without_rule_actions_reads_as_having_none():
    """JSON from before SOPs existed reads back with no checklist, offers or rules, escalating by severity."""
    data = INCIDENT.to_json()
    for key in ("sop", "offers", "rules", "escalate_after_s"):
        del data[key]
    assert Incident.from_json(data) == INCIDENT


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"step": 0}, "step must be a whole number from 1"),
        ({"step": True}, "step must be a whole number from 1"),
        ({"step": "2"}, "step must be a whole number from 1"),
        ({"step": 1, "done": "yes"}, "done must be true or false"),
    ],
)
def test_a_step_check_refuses_a_bad_step_number_or_flag(arguments, message):
    """CheckStep takes a step counted from 1 and a real true or false."""
    with pytest.raises(ValueError, match=message):
        CheckStep(**arguments)


def test_incident_ids_are_stable_and_sort_with_their_numbers():
    """INC- and six digits, growing past six when it must."""
    assert incident_id(1) == "INC-000001"
    assert incident_id(123) == "INC-000123"
    assert incident_id(1_234_567) == "INC-1234567"


def test_closed_is_final_and_new_cannot_skip_acknowledgement():
    """The transition table: nothing leaves closed, nothing returns to new, new must be seen first."""
    assert TRANSITIONS[IncidentState.CLOSED] == frozenset()
    assert all(IncidentState.NEW not in targets for targets in TRANSITIONS.values())
    assert IncidentState.RESOLVED not in TRANSITIONS[IncidentState.NEW]
    assert IncidentState.CLOSED not in TRANSITIONS[IncidentState.NEW]
    assert IncidentState.IN_PROGRESS in TRANSITIONS[IncidentState.RESOLVED]


_text = st.text(min_size=1, max_size=20)
_maybe_time = st.none() | st.integers(0, 4_000_000_000).map(float)


@given(
    state=st.sampled_from(IncidentState),
    severity=st.sampled_from(Severity),
    owner=st.none() | _text,
    priority=st.none() | st.integers(1, 5),
    location=st.none()
    | st.builds(
        Location,
        name=st.none() | _text,
        camera=st.none() | _text,
        latitude=st.none() | st.floats(-90, 90),
        longitude=st.none() | st.floats(-180, 180),
    ),
    acknowledged_at=_maybe_time,
    last_escalated_at=_maybe_time,
    sources=st.lists(_text, max_size=3).map(tuple),
    covers=st.lists(st.sampled_from(["camera:", "fibre_node:"]).flatmap(lambda kind: _text.map(kind.__add__)), max_size=3).map(tuple),
)
def test_to_json_and_from_json_round_trip(state, severity, owner, priority, location, acknowledged_at, last_escalated_at, sources, covers):
    """An incident read back from its JSON is the same incident (whole-second times here; JSON keeps microseconds)."""
    import attrs

    incident = attrs.evolve(
        INCIDENT,
        state=state,
        severity=severity,
        owner=owner,
        priority=priority,
        location=location,
        acknowledged_at=acknowledged_at,
        last_escalated_at=last_escalated_at,
        sources=sources,
        covers=covers,
    )
    assert Incident.from_json(incident.to_json()) == incident
