"""What rules do to an incident: the first time a rule with actions opens or joins one, the incident records
the rule and takes its SOP checklist, its one-click offers and its escalation delay, and the change names
the rule for the rule action service; operators tick the SOP's steps off; maintenance windows silence
events (docs/incidents.md, "What rules do to an incident").

The story: Shopwatch radios report thefts and emergencies in the town centre; the pub emergency rule has
an SOP and offers the police, the theft rule has an SOP of its own.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

import attrs
import pytest

from hub.config import IncidentRuleConfig, IncidentsConfig, MaintenanceWindowConfig
from hub.events import GenericPayload, Severity, Subject
from hub.incidents.model import (
    AddNote,
    ChangeState,
    CheckStep,
    IncidentState,
    SopStep,
    TransitionRefused,
)
from tests.hub.incidents.fakes import OPERATOR, START, SUPERVISOR, EngineHarness

RADIO = Subject(kind="radio_unit", id="1001", name="Market Tavern radio")
OTHER_RADIO = Subject(kind="radio_unit", id="1002", name="Boots radio")

EMERGENCY_SOP = ("Find the unit on camera", "Call the pub's manager back", "Log the outcome")
EMERGENCY = IncidentRuleConfig(
    name="pub emergencies",
    topics=("shopwatch.emergency.*",),
    category="emergency",
    sop=EMERGENCY_SOP,
    police="offer",
)
THEFT = IncidentRuleConfig(
    name="shop thefts",
    topics=("shopwatch.status.theft",),
    min_severity="medium",
    sop=("Find the suspect on camera", "Log the outcome"),
)
PLAIN = IncidentRuleConfig(name="anything else high", min_severity="high")


def rules(*rules: IncidentRuleConfig, **settings) -> IncidentsConfig:
    return IncidentsConfig(rules=rules, **settings)


@pytest.fixture
def custom(tmp_path):
    """A room whose rules the test chooses: ``custom(config)`` starts it."""
    made = []

    def make(config: IncidentsConfig, **options) -> EngineHarness:
        harness = EngineHarness(tmp_path, config, **options)
        made.append(harness)
        return harness

    yield make
    for harness in made:
        harness.close()


@pytest.fixture
def pub(custom):
    """The pub emergency and theft rules, and a rule for any other high event."""
    return custom(rules(EMERGENCY, THEFT, PLAIN))


def texts(incident) -> list[str]:
    return [step.text for step in incident.sop]


# --- a rule acts on the incident it opens ------------------------------------------------------------


def test_a_rule_that_opens_an_incident_gives_it_its_sop_and_offers_and_names_itself(pub):
    """The incident has the SOP as a checklist with nothing done, the police offer, and the rule; the
    incident.opened event's detail says the rule acted, for the rule action service."""
    event = pub.emit("shopwatch.emergency.raised", subject=RADIO)
    incident = pub.only()
    assert incident.sop == tuple(SopStep(text) for text in EMERGENCY_SOP)
    assert incident.offers == ("send_to_police",)
    assert incident.rules == ("pub emergencies",)
    [opened] = pub.changes()
    assert opened.payload.detail == {
        "rule": "pub emergencies", "event_id": event.id, "seq": event.seq,
        "topic": "shopwatch.emergency.raised", "actions": "pub emergencies",
    }
    assert opened.payload.incident["sop"][0] == {
        "text": "Find the unit on camera", "done": False, "done_at": None, "done_by": None,
    }
    assert pub.store.history(incident.id)[0].detail["actions"] == "pub emergencies"


def test_a_rule_without_actions_leaves_the_incident_as_before(pub):
    """No checklist, no offers, no rule recorded, and no "actions" in the detail: nothing for the action
    service to do."""
    pub.emit("onvif.camera.tamper", subject=Subject(kind="camera", id="12"))
    incident = pub.only()
    assert (incident.sop, incident.offers, incident.rules, incident.escalate_after_s) == ((), (), (), None)
    [opened] = pub.changes()
    assert opened.payload.detail["rule"] == "anything else high"
    assert "actions" not in opened.payload.detail


def test_police_sent_automatically_is_not_offered(custom):
    """police = "auto" is the action service's to do: the console has nothing to offer, but the rule acts."""
    room = custom(rules(IncidentRuleConfig(name="alarms", police="auto")))
    room.emit()
    incident = room.only()
    assert (incident.offers, incident.rules) == ((), ("alarms",))
    assert room.changes()[0].payload.detail["actions"] == "alarms"


# --- and once only ------------------------------------------------------------------------------------


def test_a_rule_acts_once_on_an_incident_however_often_it_matches_again(pub):
    """A repeat is folded and another event the same rule joins to it is gathered, but neither adds the SOP
    again nor names the rule for the action service a second time."""
    pub.emit("shopwatch.emergency.raised", subject=RADIO)
    pub.emit("shopwatch.emergency.raised", subject=RADIO)
    pub.emit("shopwatch.emergency.cleared", subject=RADIO)
    incident = pub.only()
    assert incident.event_count == 3
    assert texts(incident) == list(EMERGENCY_SOP)
    assert incident.rules == ("pub emergencies",)
    changes = pub.changes()
    assert [change.topic for change in changes] == [
        "incident.opened", "incident.duplicate.folded", "incident.event.joined",
    ]
    assert [("actions" in change.payload.detail) for change in changes] == [True, False, False]
    assert changes[2].payload.detail["rule"] == "pub emergencies"


def test_a_second_rule_that_joins_adds_its_own_steps_after_the_first_ones_each_step_once(custom):
    """The theft rule joins the emergency's incident (same radio): its steps follow the emergency's, the step
    both SOPs share is there once, both rules are recorded, and the join names the theft rule."""
    room = custom(rules(EMERGENCY, IncidentRuleConfig(
        name="shop thefts", topics=("shopwatch.status.theft",), action="join",
        sop=("Find the suspect on camera", "Log the outcome"))))
    room.emit("shopwatch.emergency.raised", subject=RADIO)
    room.advance(30)
    theft = room.emit("shopwatch.status.theft", subject=RADIO, severity=Severity.MEDIUM)
    incident = room.only()
    assert texts(incident) == [*EMERGENCY_SOP, "Find the suspect on camera"]
    assert incident.rules == ("pub emergencies", "shop thefts")
    joined = room.changes()[-1]
    assert joined.topic == "incident.event.joined"
    assert joined.payload.detail == {
        "rule": "shop thefts", "event_id": theft.id, "seq": theft.seq,
        "topic": "shopwatch.status.theft", "actions": "shop thefts",
    }
    entry = room.store.history(incident.id)[-1]
    assert (entry.action, entry.actor, entry.detail["actions"]) == ("rule_actions", None, "shop thefts")


def test_steps_already_ticked_stay_ticked_when_another_rule_adds_its_own(custom):
    """A later rule's SOP is appended; what the operator has done so far is kept."""
    room = custom(rules(EMERGENCY, IncidentRuleConfig(
        name="shop thefts", topics=("shopwatch.status.theft",), action="join", sop=("Find the suspect on camera",))))
    room.emit("shopwatch.emergency.raised", subject=RADIO)
    room.act("INC-000001", CheckStep(1, True))
    room.emit("shopwatch.status.theft", subject=RADIO)
    incident = room.only()
    assert incident.sop[0] == SopStep("Find the unit on camera", done_at=START, done_by="alice")
    assert incident.sop[-1] == SopStep("Find the suspect on camera")


def test_what_rules_did_is_kept_across_a_restart_and_not_done_again(pub):
    """SOP, offers and rules are stored with the incident; after a restart the rule still counts as having
    acted, so a new event it joins does not act again."""
    pub.emit("shopwatch.emergency.raised", subject=RADIO)
    pub.act("INC-000001", CheckStep(2, True))
    pub.restart()
    incident = pub.only()
    assert incident.sop[1] == SopStep("Call the pub's manager back", done_at=START, done_by="alice")
    assert (incident.offers, incident.rules) == (("send_to_police",), ("pub emergencies",))
    pub.emit("shopwatch.emergency.cleared", subject=RADIO)
    assert "actions" not in pub.changes()[-1].payload.detail
    assert len(pub.only().sop) == 3


def test_an_event_delivered_again_does_not_act_twice(pub):
    """The rule's actions are written with the opening itself: when the engine reads the journal again from
    the start (its position lost), the event is recognised, and there is still one SOP and one opening
    naming the rule."""
    pub.emit("shopwatch.emergency.raised", subject=RADIO)
    pub.stop()
    with sqlite3.connect(pub.hub.journal_path) as connection:
        connection.execute("UPDATE incident_engine SET position = 0")
        connection.execute("DELETE FROM cursors")
    pub.hub.restart()
    pub.start()
    assert texts(pub.only()) == list(EMERGENCY_SOP)
    assert [change.payload.detail.get("actions") for change in pub.changes()] == ["pub emergencies"]


# --- escalation -----------------------------------------------------------------------------------------


def escalations(room):
    return room.changes("incident.escalated")


def test_a_rules_escalation_delay_replaces_the_severitys(custom):
    """A high incident escalates after 300 s by default; under a rule saying 45 s, after 45 s."""
    room = custom(rules(IncidentRuleConfig(name="urgent", escalate_after_s=45)))
    room.emit()
    assert room.only().escalate_after_s == 45.0
    room.advance(44)
    assert escalations(room) == []
    room.advance(1)
    assert len(escalations(room)) == 1


def test_an_escalation_delay_of_zero_means_never(custom):
    """escalate_after_s = 0: the incident never escalates, whatever its severity."""
    room = custom(rules(IncidentRuleConfig(name="low key", escalate_after_s=0)))
    room.emit(severity=Severity.CRITICAL)
    room.advance(10_000)
    assert escalations(room) == []


def test_a_joining_rule_with_a_sooner_delay_brings_escalation_forward_and_a_later_one_does_not(custom):
    """The most urgent delay given wins (0, never, is the least urgent): opened with 600 s, a join at 100 s
    under a 120 s rule makes it escalate at 120 s from opening; a third rule's 900 s changes nothing."""
    room = custom(rules(
        IncidentRuleConfig(name="slow", topics=("shopwatch.emergency.*",), escalate_after_s=600),
        IncidentRuleConfig(name="sooner", topics=("shopwatch.status.*",), action="join", escalate_after_s=120),
        IncidentRuleConfig(name="later", topics=("shopwatch.report.*",), action="join", escalate_after_s=900),
    ))
    room.emit("shopwatch.emergency.raised", subject=RADIO)
    room.advance(100)
    room.emit("shopwatch.status.theft", subject=RADIO)
    room.emit("shopwatch.report.received", subject=RADIO)
    assert room.only().escalate_after_s == 120.0
    room.advance(19)
    assert escalations(room) == []
    room.advance(1)
    [alert] = escalations(room)
    assert alert.payload.detail["waited_s"] == 120.0


def test_a_rule_giving_a_delay_after_one_saying_never_makes_the_incident_escalate(custom):
    """Never (0) is overridden by a real delay from a later rule."""
    room = custom(rules(
        IncidentRuleConfig(name="never", topics=("shopwatch.emergency.*",), escalate_after_s=0),
        IncidentRuleConfig(name="sooner", topics=("shopwatch.status.*",), action="join", escalate_after_s=60),
    ))
    room.emit("shopwatch.emergency.raised", subject=RADIO)
    room.emit("shopwatch.status.theft", subject=RADIO)
    room.advance(60)
    assert len(escalations(room)) == 1


def test_a_rules_escalation_delay_holds_across_a_restart(custom):
    """The delay is stored: after a restart the timer is rebuilt from it, not from the severity."""
    room = custom(rules(IncidentRuleConfig(name="urgent", escalate_after_s=45)))
    room.emit()
    room.advance(20)
    room.restart()
    room.advance(25)
    assert len(escalations(room)) == 1


# --- ticking the SOP off ------------------------------------------------------------------------------------


def test_an_operator_ticks_a_step_and_the_incident_says_who_did_it_and_when(pub):
    """Step 2 is done by alice now: the change is incident.sop.checked with actor, step, text and done; it is
    on the history and in the audit log; the step keeps who and when."""
    pub.emit("shopwatch.emergency.raised", subject=RADIO)
    pub.advance(90)
    incident = pub.act("INC-000001", CheckStep(step=2, done=True))
    assert incident.sop[1] == SopStep("Call the pub's manager back", done_at=START + 90, done_by="alice")
    assert [step.done for step in incident.sop] == [False, True, False]
    checked = pub.changes()[-1]
    assert checked.topic == "incident.sop.checked"
    assert checked.severity is Severity.INFO
    assert checked.incident_id == "INC-000001"
    assert checked.payload.change == "sop_checked"
    assert checked.payload.actor == "alice"
    assert checked.payload.detail == {"step": 2, "text": "Call the pub's manager back", "done": True}
    assert checked.payload.incident["sop"][1]["done_by"] == "alice"
    assert checked.summary == "Incident 1: step 2 done by alice (Call the pub's manager back)"
    entry = pub.store.history(incident.id)[-1]
    assert (entry.action, entry.actor, entry.detail) == ("sop_checked", "alice", checked.payload.detail)
    assert pub.audit.written[-1] == ("alice", "incident.sop", "INC-000001", checked.payload.detail)
    assert pub.engine.get("INC-000001") == incident


def test_a_step_ticked_by_mistake_can_be_unticked(pub):
    """Unticking clears who and when; the history keeps both changes."""
    pub.emit("shopwatch.emergency.raised", subject=RADIO)
    pub.act("INC-000001", CheckStep(1, True))
    incident = pub.act("INC-000001", CheckStep(1, False), actor=SUPERVISOR)
    assert incident.sop[0] == SopStep("Find the unit on camera")
    assert [entry.detail["done"] for entry in pub.store.history(incident.id) if entry.action == "sop_checked"] == [
        True, False,
    ]
    assert pub.changes()[-1].summary == "Incident 1: step 1 not done after all by sam (Find the unit on camera)"


def test_a_step_the_sop_does_not_have_is_refused_and_says_how_many_there_are(pub):
    """Step 4 of a three-step SOP: refused, naming the range; nothing is written."""
    pub.emit("shopwatch.emergency.raised", subject=RADIO)
    before = len(pub.changes())
    refused = pub.refused("INC-000001", CheckStep(4, True))
    assert isinstance(refused, TransitionRefused)
    assert str(refused) == "INC-000001 has no step 4: its SOP has 3 steps (1 to 3)"
    assert len(pub.changes()) == before
    assert pub.audit.written == []


def test_an_incident_without_an_sop_has_no_steps_to_tick(pub):
    """An incident no rule gave an SOP refuses any step."""
    pub.emit("onvif.camera.tamper", subject=Subject(kind="camera", id="12"))
    refused = pub.refused("INC-000001", CheckStep(1, True))
    assert str(refused) == "INC-000001 has no SOP steps to tick"


def test_ticking_a_step_already_done_is_refused_naming_who_did_it(pub):
    """A change that changes nothing is refused, and says who ticked it (two operators on one incident)."""
    pub.emit("shopwatch.emergency.raised", subject=RADIO)
    pub.act("INC-000001", CheckStep(1, True))
    refused = pub.refused("INC-000001", CheckStep(1, True), actor=SUPERVISOR)
    assert str(refused) == "step 1 of INC-000001 is already done (by alice at 2024-03-01T22:00:00Z)"
    assert str(pub.refused("INC-000001", CheckStep(2, False))) == "step 2 of INC-000001 is not done already"


@pytest.mark.parametrize("final", [IncidentState.RESOLVED, IncidentState.CLOSED])
def test_steps_cannot_be_ticked_once_the_incident_is_resolved_or_closed(pub, final):
    """The checklist is for while the incident is being dealt with; a note is still taken afterwards."""
    pub.emit("shopwatch.emergency.raised", subject=RADIO)
    pub.act("INC-000001", ChangeState(IncidentState.IN_PROGRESS))
    pub.act("INC-000001", ChangeState(IncidentState.RESOLVED))
    if final is IncidentState.CLOSED:
        pub.act("INC-000001", ChangeState(IncidentState.CLOSED))
    refused = pub.refused("INC-000001", CheckStep(1, True))
    assert str(refused) == (
        f"INC-000001 is {final.value}; its SOP steps can be ticked only while it is open "
        "(new, acknowledged or in progress)"
    )
    pub.act("INC-000001", AddNote("Manager called back after all"))


def test_ticking_a_step_does_not_acknowledge_or_stop_escalation(pub):
    """The checklist is not the acknowledgement: a new incident with a step ticked still escalates."""
    pub.emit("shopwatch.emergency.raised", subject=RADIO)
    incident = pub.act("INC-000001", CheckStep(1, True))
    assert incident.state is IncidentState.NEW
    pub.advance(300)
    assert len(escalations(pub)) == 1


# --- maintenance windows -----------------------------------------------------------------------------------

CAMERA_1 = Subject(kind="camera", id="1", name="Market Street")
WORKS = MaintenanceWindowConfig(
    name="camera 1 works",
    starts=datetime(2024, 3, 1, 21, 0, tzinfo=timezone.utc),
    ends=datetime(2024, 3, 1, 23, 0, tzinfo=timezone.utc),
    cameras=("1",),
)
CAMERAS = IncidentRuleConfig(name="cameras", topics=("onvif.#", "fibre.#"), min_severity="low",
                             sop=("Check the camera",))


def test_an_event_a_maintenance_window_covers_opens_nothing_and_stays_in_the_journal(custom):
    """Camera 1 going offline during its works opens no incident and runs no rule's actions; camera 2,
    outside the window, opens one as usual."""
    room = custom(rules(CAMERAS, maintenance=(WORKS,)))
    silenced = room.emit("onvif.camera.offline", subject=CAMERA_1)
    assert room.engine.list() == []
    assert room.changes() == []
    assert [event.id for event in room.bus.replay(pattern="onvif.#")] == [silenced.id]
    room.emit("onvif.camera.offline", subject=Subject(kind="camera", id="2"))
    assert room.only().rules == ("cameras",)


def test_a_suppressed_event_does_not_join_an_open_incident_either(custom):
    """Camera 1's tamper alarm opened an incident before the works; its offline during the works joins
    nothing, by rule or otherwise."""
    room = custom(rules(CAMERAS, maintenance=(attrs.evolve(WORKS, starts=datetime(2024, 3, 1, 22, 5, tzinfo=timezone.utc)),)))
    room.emit("onvif.camera.tamper", subject=CAMERA_1)
    room.advance(600)
    room.emit("onvif.camera.offline", subject=CAMERA_1)
    assert room.only().event_count == 1


def test_a_suppressed_event_is_not_gathered_by_the_root_cause_that_covers_it(custom):
    """Fibre node FN-07 is down, covering camera 1: camera 1's offline would join the node's incident, but
    the camera's works silence it, so the node's incident does not gather it."""
    room = custom(rules(CAMERAS, maintenance=(WORKS,)))
    room.emit("fibre.node.down", subject=Subject(kind="fibre_node", id="FN-07"), source="fibre.ring",
              payload=GenericPayload("test.node", {"covers": ["camera:1", "camera:2"]}))
    room.emit("onvif.camera.offline", subject=CAMERA_1, source="onvif.north")
    room.emit("onvif.camera.offline", subject=Subject(kind="camera", id="2"), source="onvif.north")
    node = room.only()
    assert node.event_count == 2
    assert [change.payload.detail["topic"] for change in room.changes()] == [
        "fibre.node.down", "onvif.camera.offline",
    ]


def test_the_rules_read_times_of_day_in_the_rooms_time_zone(tmp_path):
    """22:00 UTC on 1 March is 22:00 in London and 07:00 in Tokyo: a rule for the evening opens an
    incident in the first room and not in the second."""
    evening = rules(IncidentRuleConfig(name="evening", time_of_day=("21:00-23:00",)))
    opened = {}
    for zone in ("Europe/London", "Asia/Tokyo"):
        folder = tmp_path / zone.replace("/", "-")
        folder.mkdir()
        room = EngineHarness(folder, evening, timezone=zone)
        try:
            room.emit()
            opened[zone] = len(room.engine.list())
        finally:
            room.close()
    assert opened == {"Europe/London": 1, "Asia/Tokyo": 0}


def test_steps_are_each_incidents_own(pub):
    """The emergency's SOP has a step 3; the theft's, of two steps, does not."""
    pub.emit("shopwatch.emergency.raised", subject=RADIO)
    pub.emit("shopwatch.status.theft", subject=OTHER_RADIO, severity=Severity.MEDIUM)
    assert pub.act("INC-000001", CheckStep(3, True)).sop[2].done_by == OPERATOR.name
    assert str(pub.refused("INC-000002", CheckStep(3, True))) == "INC-000002 has no step 3: its SOP has 2 steps (1 to 2)"


# --- storage ------------------------------------------------------------------------------------------------


def test_a_database_at_version_7_gains_the_columns_and_its_incidents_read_as_having_no_rule_actions(tmp_path):
    """Migration 8 on a hub's file from before SOPs: the stored incident has no checklist, offers or rules and
    escalates by severity; new incidents store all four from then on."""
    from hub.sqlite_writer import migrate
    from hub.store import HUB_MIGRATIONS

    path = tmp_path / "journal.sqlite3"
    connection = sqlite3.connect(path, isolation_level=None)
    migrate(connection, HUB_MIGRATIONS[:7])
    connection.execute(
        "INSERT INTO incidents (id, number, title, state, severity, source, subject, opened_at, updated_at, "
        "last_event_at, event_count, duplicate_count, escalation_count, sources, cameras) VALUES "
        "('INC-000001', 1, 'Emergency button', 'new', 40, 'shopwatch.town_centre', "
        "'{\"kind\": \"radio_unit\", \"id\": \"1009\", \"name\": null}', ?, ?, ?, 1, 0, 0, "
        "'[\"shopwatch.town_centre\"]', '[]')",
        (START, START, START),
    )
    connection.close()
    room = EngineHarness(tmp_path, rules(EMERGENCY, PLAIN), migrations=HUB_MIGRATIONS)
    try:
        older = room.engine.get("INC-000001")
        assert (older.sop, older.offers, older.rules, older.escalate_after_s) == ((), (), (), None)
        room.emit("shopwatch.emergency.raised", subject=RADIO)
        room.act("INC-000002", CheckStep(1, True))
        room.restart()
        newer = room.engine.get("INC-000002")
        assert newer.sop[0] == SopStep("Find the unit on camera", done_at=START, done_by="alice")
        assert (newer.offers, newer.rules) == (("send_to_police",), ("pub emergencies",))
        # The older incident escalates by its severity's time, as before the upgrade.
        room.advance(299)
        assert escalations(room) == []
        room.advance(1)
        assert "INC-000001" in [alert.incident_id for alert in escalations(room)]
    finally:
        room.close()
    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA user_version").fetchone() == (len(HUB_MIGRATIONS),)
    assert connection.execute(
        "SELECT sop, offers, rules, escalate_after_s FROM incidents WHERE id = 'INC-000001'"
    ).fetchone() == ("[]", "[]", "[]", None)
    connection.close()
