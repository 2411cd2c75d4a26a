"""Properties of the lifecycle under any sequence of operators' actions and time passing."""

from __future__ import annotations

import tempfile
from pathlib import Path

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from hub.events import Severity, Subject
from hub.incidents.model import (
    CLEAR,
    TRANSITIONS,
    Acknowledge,
    AddNote,
    Assign,
    ChangeState,
    IncidentNotFound,
    IncidentState,
    TransitionRefused,
    Update,
)
from tests.hub.incidents.fakes import EngineHarness

actions = st.one_of(
    st.just(Acknowledge()),
    st.builds(Assign, st.sampled_from([None, "alice", "bob"])),
    st.builds(AddNote, st.sampled_from(["on scene", "police called"])),
    st.builds(ChangeState, st.sampled_from(IncidentState)),
    st.builds(Update, category=st.sampled_from([None, CLEAR, "theft"]), priority=st.sampled_from([None, CLEAR, 1, 5])),
)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("act"), st.integers(1, 3), actions),
        st.tuples(st.just("emit"), st.integers(1, 3), st.sampled_from(Severity)),
        st.tuples(st.just("wait"), st.sampled_from([1.0, 60.0, 301.0, 1000.0])),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_no_sequence_of_actions_breaks_the_lifecycle(script):
    """Whatever operators do, every change follows TRANSITIONS, refusals change nothing, the stamps match the
    state, an acknowledged incident never escalates again, and counts_by_state agrees with list()."""
    with tempfile.TemporaryDirectory() as directory:
        room = EngineHarness(Path(directory))
        try:
            _run(room, script)
        finally:
            room.close()


def _run(room: EngineHarness, script: list) -> None:
    for step in script:
        if step[0] == "emit":
            _, unit, severity = step
            room.emit(subject=Subject(kind="radio", id=f"unit-{unit}"), severity=severity)
        elif step[0] == "wait":
            room.advance(step[1])
        else:
            _, number, action = step
            target = f"INC-{number:06d}"
            before = room.engine.get(target)
            done = _act(room, target, action)
            after = room.engine.get(target)
            if isinstance(done, Exception):
                assert isinstance(done, (TransitionRefused, IncidentNotFound)), done
                assert after == before
                assert isinstance(done, IncidentNotFound) == (before is None)
            else:
                assert done == after
                assert before is not None
                if after.state is not before.state:
                    assert after.state in TRANSITIONS[before.state]
        _check(room)


def _act(room, target, action):
    """The incident the action returned, or the exception it raised."""
    outcome: list = []
    Deferred.fromCoroutine(room.engine.act(target, action, _Actor())).addBoth(outcome.append)
    room.hub.settle()
    assert outcome, "the action never finished"
    return outcome[0].value if isinstance(outcome[0], Failure) else outcome[0]


class _Actor:
    name = "prop"
    role = "operator"
    address = None


def _check(room: EngineHarness) -> None:
    incidents = room.engine.list(limit=10_000)
    counts = room.engine.counts_by_state()
    assert sum(counts.values()) == len(incidents)
    for state in IncidentState:
        assert counts[state.value] == sum(1 for incident in incidents if incident.state is state)
    for incident in incidents:
        assert (incident.acknowledged_at is None) == (incident.state is IncidentState.NEW)
        assert (incident.resolved_at is not None) == (incident.state is IncidentState.RESOLVED or (
            incident.state is IncidentState.CLOSED
        ))
        assert (incident.closed_at is not None) == (incident.state is IncidentState.CLOSED)
        if incident.last_escalated_at is not None and incident.acknowledged_at is not None:
            assert incident.last_escalated_at <= incident.acknowledged_at
        assert incident.duplicate_count < incident.event_count
    ordered = [(-int(i.severity), i.opened_at, i.number) for i in incidents]
    assert ordered == sorted(ordered)
