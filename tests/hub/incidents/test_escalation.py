"""Escalation: an incident nobody acknowledges raises a supervisor alert, and keeps raising it."""

from __future__ import annotations

from hub.config import EscalationConfig, IncidentsConfig
from hub.events import Severity, Subject
from hub.incidents.model import Acknowledge, ChangeState, IncidentState
from hub.testing import assert_no_pending_timers
from tests.hub.incidents.fakes import START, EngineHarness

RADIO = Subject(kind="radio", id="unit-7")


def escalations(room):
    return room.changes("incident.escalated")


def test_an_unacknowledged_high_incident_escalates_after_its_time(room):
    """With the default five minutes for high, nothing before 300 s, one alert at 300 s."""
    room.emit(subject=RADIO)
    room.advance(299)
    assert escalations(room) == []
    room.advance(1)
    [alert] = escalations(room)
    assert alert.severity is Severity.HIGH
    assert alert.incident_id == "INC-000001"
    assert alert.payload.detail == {"waited_s": 300.0, "escalation_count": 1}
    assert alert.summary.startswith("Incident 1 not acknowledged after 5 min (high)")
    incident = room.only()
    assert (incident.escalation_count, incident.last_escalated_at) == (1, START + 300)
    assert room.store.history(incident.id)[-1].action == "escalated"


def test_a_critical_incident_escalates_sooner_and_as_critical(room):
    """Critical incidents escalate after their own (shorter) time, with a critical alert."""
    room.emit(subject=RADIO, severity=Severity.CRITICAL)
    room.advance(60)
    [alert] = escalations(room)
    assert alert.severity is Severity.CRITICAL


def test_the_alert_repeats_every_interval_until_acknowledged(room):
    """After the first alert, another every repeat_s (120 s by default), then none once acknowledged."""
    room.emit(subject=RADIO)
    room.advance(300)
    for _ in range(3):
        room.advance(120)
    assert [alert.payload.detail["escalation_count"] for alert in escalations(room)] == [1, 2, 3, 4]
    room.act("INC-000001", Acknowledge())
    room.advance(10_000)
    assert len(escalations(room)) == 4


def test_taking_an_incident_in_hand_also_stops_escalation(room):
    """new -> in_progress acknowledges, so it stops the timer too."""
    room.emit(subject=RADIO)
    room.act("INC-000001", ChangeState(IncidentState.IN_PROGRESS))
    room.advance(10_000)
    assert escalations(room) == []


def test_a_severity_with_no_time_never_escalates(tmp_path):
    """A severity whose escalation time is 0 is never escalated."""
    room = EngineHarness(tmp_path, IncidentsConfig(escalation=EscalationConfig(high=0)))
    room.emit(subject=RADIO)
    room.advance(86_400)
    assert escalations(room) == []
    room.close()


def test_a_worse_event_joining_brings_escalation_forward(room):
    """When a critical event joins a high incident, the critical time applies from the opening."""
    room.emit(subject=RADIO)
    room.advance(30)
    room.emit("shopwatch.report.received", subject=RADIO, severity=Severity.CRITICAL)
    room.advance(29)
    assert escalations(room) == []
    room.advance(1)
    assert [alert.severity for alert in escalations(room)] == [Severity.CRITICAL]


def test_an_incident_overdue_after_a_restart_escalates_at_once(room):
    """Timers are rebuilt from the stored incidents: one overdue while the hub was down fires on start."""
    room.emit(subject=RADIO)
    room.advance(100)
    room.stop()
    room.hub.restart()
    room.clock.advance(1000)  # the hub was down for a while
    room.start()
    assert len(escalations(room)) == 1
    room.advance(119)
    assert len(escalations(room)) == 1
    room.advance(1)
    assert len(escalations(room)) == 2


def test_repeats_continue_on_schedule_after_a_restart(room):
    """A restart does not reset the repeat interval: the next alert is due repeat_s after the last."""
    room.emit(subject=RADIO)
    room.advance(300)
    room.advance(60)
    room.restart()
    assert len(escalations(room)) == 1
    room.advance(59)
    assert len(escalations(room)) == 1
    room.advance(1)
    assert len(escalations(room)) == 2


def test_stopping_leaves_no_timer_behind(room):
    """A stopped engine has cancelled every escalation timer."""
    room.emit(subject=RADIO)
    room.emit(subject=Subject(kind="radio", id="unit-9"))
    room.stop()
    assert_no_pending_timers(room.clock)
    room.hub.restart()
    room.start()
