"""The incident engine: which events open, join or fold into incidents, and what every change publishes."""

from __future__ import annotations

import pytest

from hub.config import IncidentRuleConfig, IncidentsConfig
from hub.events import (
    CommandOutcome,
    CommandOutcomeKind,
    CommandRequested,
    Location,
    Severity,
    Subject,
)
from hub.incidents.events import IncidentChanged
from hub.incidents.model import Incident, IncidentState
from tests.hub.incidents.fakes import START, EngineHarness

CAMERA_42 = Subject(kind="camera", id="42", name="Market Street")
RADIO = Subject(kind="radio", id="unit-7", name="Boots radio")
OTHER_RADIO = Subject(kind="radio", id="unit-9", name="Greggs radio")


def rules(*rules: IncidentRuleConfig) -> IncidentsConfig:
    return IncidentsConfig(rules=rules)


@pytest.fixture
def custom(tmp_path):
    """A room whose rules the test chooses: ``custom(config)`` starts it."""
    made = []

    def make(config: IncidentsConfig) -> EngineHarness:
        harness = EngineHarness(tmp_path, config)
        made.append(harness)
        return harness

    yield make
    for harness in made:
        harness.close()


# --- opening -----------------------------------------------------------------------------------------


def test_a_high_event_opens_an_incident_numbered_from_one(room):
    """With the default rules a high event opens incident INC-000001, new, described by the event."""
    event = room.emit(summary="Emergency button pressed", subject=RADIO, location=Location(name="Boots", camera="42"))
    incident = room.only()
    assert (incident.id, incident.number, incident.state) == ("INC-000001", 1, IncidentState.NEW)
    assert incident.title == "Emergency button pressed"
    assert incident.severity is Severity.HIGH
    assert incident.subject == RADIO
    assert incident.location == Location(name="Boots", camera="42")
    assert incident.source == "shopwatch.town_centre"
    assert incident.opened_at == START
    assert (incident.event_count, incident.duplicate_count) == (1, 0)
    assert incident.cameras == ("42",)
    assert room.store.events(incident.id) == [event.seq]


def test_a_medium_event_opens_nothing_under_the_default_rules(room):
    """Below high, the default rules leave an event alone."""
    room.emit(severity=Severity.MEDIUM)
    assert room.engine.list() == []
    assert room.changes() == []


def test_the_opening_is_published_with_the_incident_snapshot_and_its_cause(room):
    """incident.opened carries the incident id, the triggering event as cause, and the to_json snapshot."""
    event = room.emit(severity=Severity.CRITICAL)
    [opened] = room.changes()
    assert opened.topic == "incident.opened"
    assert opened.incident_id == "INC-000001"
    assert opened.causation_id == event.id
    assert opened.severity is Severity.CRITICAL
    assert opened.source == "hub.incidents"
    assert isinstance(opened.payload, IncidentChanged)
    assert opened.payload.change == "opened"
    assert opened.payload.actor is None
    assert opened.payload.incident == room.only().to_json()


def test_the_first_matching_rule_decides_with_its_category_and_priority(custom):
    """Rules are tried in order: an ignore rule before an open rule silences what it matches."""
    room = custom(
        rules(
            IncidentRuleConfig(name="quiet test camera", topics=("onvif.camera.test",), action="ignore"),
            IncidentRuleConfig(name="cameras", topics=("onvif.#",), category="camera fault", priority=3),
        )
    )
    room.emit("onvif.camera.test", severity=Severity.LOW, subject=CAMERA_42)
    assert room.engine.list() == []
    room.emit("onvif.camera.offline", severity=Severity.LOW, subject=CAMERA_42)
    incident = room.only()
    assert (incident.category, incident.priority) == ("camera fault", 3)
    assert room.store.history(incident.id)[0].detail["rule"] == "cameras"


@pytest.mark.parametrize(
    "topic",
    ["incident.opened", "command.shopwatch.broadcast", "hub.plugin.failed", "shopwatch.command.failed"],
)
def test_the_engines_own_commands_and_hub_topics_never_open_an_incident(custom, topic):
    """Even a rule that matches everything cannot open an incident from these topics."""
    room = custom(rules(IncidentRuleConfig(name="everything", topics=("#",))))
    room.emit(topic, severity=Severity.CRITICAL)
    assert room.engine.list() == []


def test_a_join_rule_never_opens(custom):
    """A join rule adds to a matching open incident, and otherwise leaves the event alone."""
    room = custom(
        rules(
            IncidentRuleConfig(name="camera offline", topics=("onvif.camera.offline",)),
            IncidentRuleConfig(name="camera chatter", topics=("onvif.#",), action="join"),
        )
    )
    room.emit("onvif.camera.motion", severity=Severity.LOW, subject=CAMERA_42)
    assert room.engine.list() == []
    room.emit("onvif.camera.offline", severity=Severity.MEDIUM, subject=CAMERA_42)
    room.emit("onvif.camera.motion", severity=Severity.LOW, subject=CAMERA_42)
    assert room.only().event_count == 2


# --- joining and folding -----------------------------------------------------------------------------


def test_an_event_about_the_same_subject_within_the_window_joins(room):
    """A second, different event about the same subject joins the open incident instead of opening one."""
    room.emit("shopwatch.emergency.raised", subject=RADIO)
    room.advance(30)
    joined = room.emit("shopwatch.report.received", subject=RADIO, severity=Severity.CRITICAL, source="shopwatch.pubwatch")
    incident = room.only()
    assert incident.event_count == 2
    assert incident.duplicate_count == 0
    assert incident.severity is Severity.CRITICAL  # the worst of its events
    assert incident.sources == ("shopwatch.town_centre", "shopwatch.pubwatch")
    assert incident.last_event_at == START + 30
    change = room.changes()[-1]
    assert change.topic == "incident.event.joined"
    assert change.causation_id == joined.id
    assert change.payload.detail["severity"] == {"from": "high", "to": "critical"}


def test_an_event_after_the_window_opens_a_new_incident(room):
    """Once the subject has been quiet for longer than the window, it is a new incident."""
    room.emit(subject=RADIO)
    room.advance(901)
    room.emit("shopwatch.report.received", subject=RADIO)
    assert [incident.number for incident in room.engine.list()] == [1, 2]


def test_the_window_runs_from_the_last_event_not_the_first(room):
    """Each event about the subject keeps the incident joinable for another window."""
    room.emit(subject=RADIO)
    for _ in range(3):
        room.advance(600)
        room.emit("shopwatch.report.received", subject=RADIO)
    assert room.only().event_count == 4


def test_a_different_subject_opens_its_own_incident(room):
    """Subject joining does not gather events about other things."""
    room.emit(subject=RADIO)
    room.emit(subject=OTHER_RADIO)
    assert len(room.engine.list()) == 2


def test_location_joining_gathers_events_about_the_same_place(custom):
    """A rule joining on location gathers a camera alarm and a radio report at the same named site."""
    room = custom(rules(IncidentRuleConfig(name="all", join_on=("subject", "location"), min_severity="high")))
    room.emit(subject=RADIO, location=Location(name="Boots, High Street"))
    room.emit("onvif.camera.tamper", subject=CAMERA_42, location=Location(name="boots,  high street", camera="42"))
    room.emit("onvif.camera.tamper", subject=Subject(kind="camera", id="43"), location=Location(camera="42"))
    incident = room.only()
    assert incident.event_count == 3
    assert incident.cameras == ("42", "43")


def test_location_is_not_compared_unless_the_rule_says_so(room):
    """The default rule joins on subject only: the same place, different subjects, two incidents."""
    room.emit(subject=RADIO, location=Location(name="Boots"))
    room.emit(subject=OTHER_RADIO, location=Location(name="Boots"))
    assert len(room.engine.list()) == 2


def test_a_repeat_is_folded_in_with_a_count_and_raises_nothing_new(room):
    """The same topic about the same subject again counts as a duplicate, published quietly."""
    room.emit(subject=RADIO)
    room.emit(subject=RADIO)
    room.emit(subject=RADIO)
    incident = room.only()
    assert (incident.event_count, incident.duplicate_count) == (3, 2)
    topics = [change.topic for change in room.changes()]
    assert topics == ["incident.opened", "incident.duplicate.folded", "incident.duplicate.folded"]
    assert {change.severity for change in room.changes()[1:]} == {Severity.INFO}
    detail = room.engine.detail(incident.id)
    assert len(detail.events) == 3
    assert detail.folded == frozenset(event.seq for event in detail.events[1:])


def test_an_event_naming_an_incident_joins_it_whatever_the_rules_say(room):
    """An explicit incident_id attaches even an info event that no rule would take."""
    room.emit(subject=RADIO)
    room.emit("police.reply.received", severity=Severity.INFO, subject=Subject(kind="partner", id="police"), incident_id="INC-000001")
    assert room.only().event_count == 2


def test_an_event_naming_an_unknown_incident_is_decided_by_the_rules(room):
    """A stale or foreign incident id does not swallow the event: the rules decide as usual."""
    room.emit(subject=RADIO, incident_id="INC-999999")
    assert room.only().id == "INC-000001"


def test_a_command_and_its_outcome_join_the_incident_they_name(room):
    """The console's command and the adapter's answer land on the incident's timeline, never folded."""
    room.emit(subject=RADIO)
    adapter = Subject(kind="adapter", id="shopwatch.town_centre")
    for _ in range(2):
        command = room.emit(
            "command.shopwatch.broadcast",
            severity=Severity.INFO,
            subject=adapter,
            incident_id="INC-000001",
            source="hub.web",
            payload=CommandRequested(adapter="shopwatch.town_centre", verb="broadcast", arguments={}, requested_by="alice"),
        )
        room.emit(
            "shopwatch.command.delivered",
            severity=Severity.INFO,
            subject=adapter,
            incident_id="INC-000001",
            payload=CommandOutcome(
                command_id=command.id, adapter="shopwatch.town_centre", verb="broadcast", outcome=CommandOutcomeKind.DELIVERED
            ),
        )
    incident = room.only()
    assert (incident.event_count, incident.duplicate_count) == (5, 0)
    topics = [event.topic for event in room.engine.detail(incident.id).events]
    assert topics[1:] == ["command.shopwatch.broadcast", "shopwatch.command.delivered"] * 2


def test_commands_on_an_incident_do_not_make_it_gather_their_adapters_events(room):
    """An adapter health alarm does not join an emergency just because the emergency sent a command through it."""
    room.emit(subject=RADIO)
    adapter = Subject(kind="adapter", id="shopwatch.town_centre")
    room.emit("command.shopwatch.broadcast", severity=Severity.INFO, subject=adapter, incident_id="INC-000001")
    room.emit("adapter.health.failed", severity=Severity.HIGH, subject=adapter)
    assert len(room.engine.list()) == 2


def test_a_resolved_incident_gathers_no_new_events_by_subject(room):
    """Once resolved, the same subject raising again is a new incident."""
    from hub.incidents.model import ChangeState

    room.emit(subject=RADIO)
    room.act("INC-000001", ChangeState("in_progress"))
    room.act("INC-000001", ChangeState("resolved"))
    room.emit("shopwatch.report.received", subject=RADIO)
    assert [incident.number for incident in room.engine.list()] == [1, 2]


def test_events_of_the_engine_itself_never_join(room):
    """incident.* events carry an incident_id but never join an incident (or the engine would loop)."""
    room.emit(subject=RADIO)
    room.hub.settle()
    assert room.only().event_count == 1
    assert len(room.changes()) == 1


# --- reading -----------------------------------------------------------------------------------------


def test_the_list_is_ordered_by_severity_then_age(room):
    """Worst first; among equals, the oldest first."""
    room.emit(subject=Subject(kind="radio", id="a"), severity=Severity.HIGH)
    room.advance(1)
    room.emit(subject=Subject(kind="radio", id="b"), severity=Severity.CRITICAL)
    room.advance(1)
    room.emit(subject=Subject(kind="radio", id="c"), severity=Severity.HIGH)
    room.advance(1)
    room.emit(subject=Subject(kind="radio", id="d"), severity=Severity.CRITICAL)
    assert [incident.subject.id for incident in room.engine.list()] == ["b", "d", "a", "c"]


def test_the_list_filters_by_state_source_location_severity_and_text(room):
    """Each filter narrows the list; filters combine."""
    from hub.incidents.model import Acknowledge

    room.emit(subject=Subject(kind="radio", id="a"), summary="Shoplifter at Boots", location=Location(name="Boots High St"))
    room.emit(
        "onvif.camera.offline",
        subject=CAMERA_42,
        severity=Severity.CRITICAL,
        source="onvif.north",
        summary="Camera 42 offline",
        location=Location(camera="42"),
    )
    room.act("INC-000001", Acknowledge())

    def ids(**filters):
        return [incident.id for incident in room.engine.list(**filters)]

    assert ids(states=["new"]) == ["INC-000002"]
    assert ids(states=["new", "acknowledged"]) == ["INC-000002", "INC-000001"]
    assert ids(states=[]) == []
    assert ids(source="onvif") == ["INC-000002"]
    assert ids(source="shopwatch.town_centre") == ["INC-000001"]
    assert ids(source="shop") == []
    assert ids(location="boots") == ["INC-000001"]
    assert ids(location="42") == ["INC-000002"]
    assert ids(min_severity="critical") == ["INC-000002"]
    assert ids(min_severity=Severity.HIGH) == ["INC-000002", "INC-000001"]
    assert ids(text="shoplifter") == ["INC-000001"]
    assert ids(text="INC-000002") == ["INC-000002"]
    assert ids(text="100%") == []
    assert ids(text="shoplifter", states=["new"]) == []
    assert ids(limit=1) == ["INC-000002"]


def test_an_unknown_state_filter_is_refused_with_the_choices(room):
    """A typo in a state filter is an error naming the states, not an empty list."""
    with pytest.raises(ValueError, match="expected one of new, acknowledged"):
        room.engine.list(states=["open"])


def test_counts_by_state_names_every_state(room):
    """Every state is counted, zero included."""
    room.emit(subject=RADIO)
    assert room.engine.counts_by_state() == {
        "new": 1, "acknowledged": 0, "in_progress": 0, "resolved": 0, "closed": 0
    }


def test_get_returns_none_for_an_unknown_incident(room):
    """An id nobody has is None, not an error."""
    assert room.engine.get("INC-000404") is None


def test_detail_decodes_the_incidents_events_from_the_journal(room):
    """The detail holds the events themselves, payloads included, oldest first."""
    first = room.emit(subject=RADIO, summary="button")
    second = room.emit("shopwatch.report.received", subject=RADIO, summary="report")
    detail = room.engine.detail("INC-000001")
    assert [event.id for event in detail.events] == [first.id, second.id]
    assert detail.events[1].payload.text == "report"
    assert detail.missing_events == 0


def test_detail_of_an_unknown_incident_is_not_found(room):
    """detail() raises IncidentNotFound for an id nobody has."""
    from hub.incidents.model import IncidentNotFound

    with pytest.raises(IncidentNotFound, match="INC-000404"):
        room.engine.detail("INC-000404")


def test_detail_leaves_out_events_the_journal_has_pruned(room):
    """Retention may delete old events; the detail says how many are missing instead of failing."""
    room.emit(subject=RADIO)
    room.advance(10)
    room.emit("shopwatch.report.received", subject=RADIO)
    room.bus.journal.prune(before=START + 5)
    room.hub.settle()
    detail = room.engine.detail("INC-000001")
    assert (len(detail.events), detail.missing_events) == (1, 1)
    assert room.only().event_count == 2


def test_every_incident_event_decodes_to_its_snapshot(room):
    """A consumer can rebuild the incident from any incident.* event's payload."""
    room.emit(subject=RADIO, location=Location(name="Boots", latitude=51.5, longitude=-0.1))
    room.emit(subject=RADIO)
    snapshots = [Incident.from_json(change.payload.incident) for change in room.changes()]
    assert snapshots[-1] == room.only()


def test_a_late_outcome_still_lands_on_a_closed_incident_without_reopening_it(room):
    """An event naming a closed incident is added to its timeline; the incident stays closed."""
    from hub.incidents.model import ChangeState

    room.emit(subject=RADIO)
    for state in ("in_progress", "resolved", "closed"):
        room.act("INC-000001", ChangeState(state))
    room.emit("shopwatch.command.failed", severity=Severity.MEDIUM, subject=Subject(kind="adapter", id="x"), incident_id="INC-000001")
    incident = room.only()
    assert (incident.state, incident.event_count) == (IncidentState.CLOSED, 2)
