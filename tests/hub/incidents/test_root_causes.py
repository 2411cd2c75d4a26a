"""Root causes: an event whose payload says what its failure ``covers`` gathers every event about those
things into its incident, and one that says it ``recovered`` resolves it (docs/incidents.md, "Root causes").

The story throughout: fibre node FN-07 feeds cameras 1, 2 and 3 and, further out, node FN-08 with
cameras 4 and 5. Camera 9 hangs off another node. The fibre adapter (source ``fibre.ring``) reports node
states; the ONVIF adapter (source ``onvif.north``) reports cameras going offline, and a rule opens an
incident for each camera that does.
"""

from __future__ import annotations

from typing import ClassVar

import attrs
import pytest
from attrs import frozen

from hub.config import IncidentRuleConfig, IncidentsConfig
from hub.events import GenericPayload, Severity, Subject
from hub.incidents.model import Acknowledge, ChangeState, IncidentState
from hub.incidents.store import add_incident_covers, create_incidents
from hub.journal import JOURNAL_MIGRATIONS
from hub.sqlite_writer import migrate
from tests.hub.incidents.fakes import MIGRATIONS, START, EngineHarness


@frozen
class NodeStateChanged:
    """Shaped like the fibre adapter's node payload: ``covers`` and ``recovered`` are properties, worked
    out from the fields, so they are not in the journal's JSON and come back only when the class does."""

    TYPE: ClassVar[str] = "test.fibre.node.state"

    node: str
    state: str
    previous: str | None
    cameras: tuple[str, ...] = ()
    nodes_behind: tuple[str, ...] = ()
    root_cause: bool = True

    @property
    def covers(self) -> tuple[str, ...]:
        if not (self.root_cause and self.state == "down"):
            return ()
        return tuple(f"camera:{camera}" for camera in self.cameras) + tuple(
            f"fibre_node:{node}" for node in self.nodes_behind
        )

    @property
    def recovered(self) -> bool:
        return self.previous in ("down", "unreachable", "flapping") and self.state in ("up", "degraded")


@frozen
class CameraWentOffline:
    TYPE: ClassVar[str] = "test.onvif.camera.offline"

    camera: str


FIBRE = "fibre.ring"
ONVIF = "onvif.north"
FN_07 = Subject(kind="fibre_node", id="FN-07", name="Market Street cabinet")
FN_08 = Subject(kind="fibre_node", id="FN-08", name="Bus station cabinet")

RULES = IncidentsConfig(
    rules=(
        IncidentRuleConfig(name="fibre", topics=("fibre.node.*",), min_severity="high", category="network"),
        IncidentRuleConfig(name="camera motion", topics=("onvif.camera.motion",), action="ignore"),
        IncidentRuleConfig(name="cameras offline", topics=("onvif.camera.offline",), min_severity="low",
                           category="camera fault"),
    )
)


def camera(number: str) -> Subject:
    return Subject(kind="camera", id=number, name=f"Camera {number}")


@pytest.fixture
def ring(tmp_path):
    """An incident engine with the fibre and camera rules, knowing the test payloads."""
    harness = EngineHarness(tmp_path, RULES, event_types=(NodeStateChanged, CameraWentOffline))
    yield harness
    harness.close()


def node_down(room, node=FN_07, *, cameras=("1", "2", "3"), nodes_behind=("FN-08",), root_cause=True,
              source=FIBRE, previous="up"):
    return room.emit(
        "fibre.node.down",
        severity=Severity.HIGH,
        subject=node,
        source=source,
        summary=f"Node {node.id} down",
        payload=NodeStateChanged(node.id, "down", previous, cameras=cameras, nodes_behind=nodes_behind,
                                 root_cause=root_cause),
    )


def node_up(room, node=FN_07, *, source=FIBRE, previous="down"):
    """Recovery is an info event: no rule would act on it."""
    return room.emit(
        "fibre.node.up",
        severity=Severity.INFO,
        subject=node,
        source=source,
        summary=f"Node {node.id} up",
        payload=NodeStateChanged(node.id, "up", previous),
    )


def camera_offline(room, number, *, topic="onvif.camera.offline", severity=Severity.MEDIUM):
    return room.emit(topic, severity=severity, subject=camera(number), source=ONVIF,
                     summary=f"Camera {number} offline", payload=CameraWentOffline(number))


def open_incidents(room):
    return [incident for incident in room.engine.list() if incident.is_open]


# --- opening ------------------------------------------------------------------------------------------


def test_a_root_cause_opens_one_incident_listing_what_it_covers_and_its_cameras(ring):
    """The node-down event's covers are stored on the incident, and each covered camera is one of its cameras."""
    event = node_down(ring)
    incident = ring.only()
    assert incident.subject == FN_07
    assert incident.covers == ("camera:1", "camera:2", "camera:3", "fibre_node:FN-08")
    assert incident.cameras == ("1", "2", "3")
    assert ring.store.events(incident.id) == [event.seq]
    [opened] = ring.changes()
    assert opened.payload.incident["covers"] == ["camera:1", "camera:2", "camera:3", "fibre_node:FN-08"]


def test_an_event_with_nothing_to_cover_opens_an_ordinary_incident(ring):
    """A node that is down only because its upstream is (not a root cause) covers nothing."""
    node_down(ring, root_cause=False)
    incident = ring.only()
    assert (incident.covers, incident.cameras) == ((), ())


@pytest.mark.parametrize(
    "covers",
    ["camera:1", {"camera:1": True}, 42, [None, "camera", ":1", "camera:", 7, "camera:1", "camera:1"]],
)
def test_covers_that_are_not_a_list_of_subject_keys_cover_nothing_but_the_keys_among_them(ring, covers):
    """Text, mappings and numbers cover nothing; from a list only the ``kind:id`` texts count, once each."""
    ring.emit("fibre.node.down", subject=FN_08, source=FIBRE,
              payload=GenericPayload("test.unknown.root", {"covers": covers}))
    assert ring.only().covers == (("camera:1",) if isinstance(covers, list) else ())


# --- covered events join -----------------------------------------------------------------------------


def test_covered_cameras_going_offline_join_the_root_cause_instead_of_opening_their_own(ring):
    """The camera rule would open an incident per camera; covered ones join the node's, repeats fold."""
    node_down(ring)
    for number in ("1", "2", "3", "1"):
        ring.advance(5)
        camera_offline(ring, number)
    incident = ring.only()
    assert (incident.event_count, incident.duplicate_count) == (5, 1)
    assert incident.severity is Severity.HIGH
    assert incident.sources == (FIBRE, ONVIF)
    topics = [change.topic for change in ring.changes()]
    assert topics == ["incident.opened"] + ["incident.event.joined"] * 3 + ["incident.duplicate.folded"]


def test_an_event_about_a_covered_node_joins_too(ring):
    """Covers are subject keys of any kind: the node behind the failed one is covered as its cameras are."""
    node_down(ring)
    node_down(ring, FN_08, cameras=("4", "5"), nodes_behind=(), root_cause=False)
    assert ring.only().event_count == 2


def test_a_covered_event_the_outage_explains_joins_even_when_its_rule_would_ignore_it(ring):
    """A covered camera coming back online (ignored by the rules) is on the root cause's timeline."""
    node_down(ring)
    camera_offline(ring, "2", topic="onvif.camera.online", severity=Severity.INFO)
    assert ring.only().event_count == 2


def test_an_alarm_the_outage_does_not_explain_is_never_hidden_in_it(ring):
    """A node judged down whose cameras still stream (its management link alone failed) must not swallow
    a real alarm: a tamper or motion on a covered camera is decided by the rules as usual (these rules
    ignore both), never gathered into the outage."""
    node_down(ring)
    camera_offline(ring, "2", topic="onvif.camera.motion", severity=Severity.LOW)
    camera_offline(ring, "2", topic="onvif.tamper.started", severity=Severity.HIGH)
    assert [(incident.number, incident.subject.id) for incident in ring.engine.list()] == [(1, "FN-07")]
    assert ring.engine.get("INC-000001").event_count == 1


def test_a_camera_not_covered_still_opens_its_own_incident(ring):
    """Camera 9 is on another node: the rule opens an incident for it as usual."""
    node_down(ring)
    camera_offline(ring, "9")
    assert [(incident.number, incident.subject.id) for incident in ring.engine.list()] == [(1, "FN-07"), (2, "9")]


def test_hub_and_command_events_about_a_covered_camera_do_not_join(ring):
    """Protected topics never join by covers, just as they never join by subject."""
    node_down(ring)
    ring.emit("command.onvif.reboot", severity=Severity.INFO, subject=camera("1"), source="hub.web")
    ring.emit("hub.camera.noted", severity=Severity.HIGH, subject=camera("1"), source="hub")
    assert ring.only().event_count == 1


def test_a_later_event_with_covers_joining_the_incident_extends_them(ring):
    """FN-08 judged down on its own, while FN-07's incident covers it, adds its cameras to that incident."""
    node_down(ring, cameras=("1",), nodes_behind=("FN-08",))
    ring.advance(2)
    node_down(ring, FN_08, cameras=("4", "5"), nodes_behind=())
    incident = ring.only()
    assert incident.covers == ("camera:1", "fibre_node:FN-08", "camera:4", "camera:5")
    assert incident.cameras == ("1", "4", "5")
    assert ring.changes()[-1].payload.detail["covers_added"] == 2
    camera_offline(ring, "5")
    assert ring.only().event_count == 3


def test_an_incident_open_by_subject_and_covering_the_event_gathers_it_once(ring):
    """Covers come before the rules: a camera offline joins the covering incident, not its own rule's match."""
    camera_offline(ring, "1")
    ring.act("INC-000001", Acknowledge())  # taken in hand: stays an incident of its own
    node_down(ring)
    camera_offline(ring, "1")
    root = ring.engine.get("INC-000002")
    assert (root.event_count, ring.engine.get("INC-000001").event_count) == (2, 1)


# --- recovery ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("operator_moves", [(), ("acknowledged",), ("in_progress",)])
def test_recovery_resolves_the_root_cause_incident_whatever_the_operator_has_done(ring, operator_moves):
    """The node coming back (an info event no rule takes) joins its incident and the hub resolves it,
    from new, acknowledged or in progress: the hub is the actor, the reason is recovery."""
    node_down(ring)
    camera_offline(ring, "1")
    for state in operator_moves:
        ring.act("INC-000001", ChangeState(state))
    state_before = ring.only().state
    ring.advance(60)
    up = node_up(ring)
    incident = ring.only()
    assert incident.state is IncidentState.RESOLVED
    assert incident.resolved_at == START + 60
    assert incident.event_count == 3
    assert ring.store.events(incident.id)[-1] == up.seq
    last = ring.store.history(incident.id)[-1]
    assert (last.actor, last.action) == (None, "state_changed")
    assert last.detail == {"from": state_before.value, "to": "resolved", "reason": "recovered",
                           "event_id": up.id, "seq": up.seq, "topic": "fibre.node.up"}
    change = ring.changes()[-1]
    assert (change.topic, change.payload.actor, change.causation_id) == ("incident.state.changed", None, up.id)
    assert change.summary == f"Incident 1 {state_before.value.replace('_', ' ')} -> resolved: recovered (fibre.node.up)"


def test_a_recovered_incident_no_longer_escalates(ring):
    """Resolving disarms the escalation timer: nobody is paged about a failure that has ended."""
    node_down(ring)
    ring.advance(10)
    node_up(ring)
    ring.advance(3600)
    assert ring.changes("incident.escalated") == []


def test_after_recovery_a_camera_going_offline_opens_its_own_incident(ring):
    """Covers apply to open incidents only: a camera still dark after the node is back is its own problem."""
    node_down(ring)
    camera_offline(ring, "2")
    node_up(ring)
    ring.advance(180)
    camera_offline(ring, "2")
    assert [(incident.number, incident.subject.id, incident.state) for incident in ring.engine.list()] == [
        (1, "FN-07", IncidentState.RESOLVED),
        (2, "2", IncidentState.NEW),
    ]


def test_a_recovered_event_from_another_source_does_not_resolve(ring):
    """Only the source that raised the root cause may say it is over (another fibre instance may not)."""
    node_down(ring)
    node_up(ring, source="fibre.backup")
    assert ring.only().state is IncidentState.NEW


def test_a_recovered_event_about_another_subject_does_not_resolve(ring):
    """FN-08 coming back says nothing about FN-07: it joins FN-07's incident, which it is covered by."""
    node_down(ring)
    node_up(ring, FN_08, previous="unreachable")
    incident = ring.only()
    assert (incident.state, incident.event_count) == (IncidentState.NEW, 2)


def test_an_incident_without_covers_is_not_resolved_by_a_recovery(ring):
    """A node incident opened without covers (not a root cause) stays for an operator to resolve."""
    node_down(ring, root_cause=False)
    node_up(ring)
    assert ring.only().state is IncidentState.NEW


def test_recovery_resolves_every_open_root_cause_of_that_subject_and_source(ring):
    """Two incidents for FN-07 (the second after the first's window ran out) both end; the event is
    gathered into the first, the second is resolved with the event named in its history."""
    node_down(ring)
    ring.advance(901)
    node_down(ring, previous="flapping")
    assert len(open_incidents(ring)) == 2
    up = node_up(ring)
    assert open_incidents(ring) == []
    assert [incident.event_count for incident in ring.engine.list()] == [2, 1]
    second = ring.store.history("INC-000002")[-1]
    assert (second.actor, second.detail["reason"], second.detail["event_id"]) == (None, "recovered", up.id)


# --- restarts ----------------------------------------------------------------------------------------


def test_covers_survive_a_restart_and_keep_gathering(ring):
    """Covers are stored with the incident and reloaded with the open incidents at start."""
    node_down(ring)
    before = ring.only()
    ring.restart()
    assert ring.only() == before
    camera_offline(ring, "3")
    assert ring.only().event_count == 2
    node_up(ring)
    assert ring.only().state is IncidentState.RESOLVED


def test_a_resolved_root_cause_covers_nothing_after_a_restart(ring):
    """Only open incidents' covers are reloaded."""
    node_down(ring)
    node_up(ring)
    ring.restart()
    camera_offline(ring, "3")
    assert len(ring.engine.list()) == 2


def test_a_root_cause_handled_only_after_a_restart_is_read_from_the_journal_with_its_covers(ring):
    """Published while the engine was down: the journal gives the payload back as its class, whose
    covers and recovery are worked out again, so nothing differs from handling it live."""
    ring.stop()
    ring.hub.restart()
    payload = NodeStateChanged("FN-07", "down", "up", cameras=("1", "2"))
    ring.hub.bus.publish(ring.hub.events.for_source(FIBRE)(
        "fibre.node.down", payload, severity=Severity.HIGH, subject=FN_07, summary="Node FN-07 down"))
    ring.hub.settle()
    ring.start()
    assert ring.only().covers == ("camera:1", "camera:2")
    camera_offline(ring, "2")
    assert ring.only().event_count == 2


def test_a_payload_the_hub_cannot_decode_is_read_by_its_stored_fields(ring):
    """A payload whose class is unknown (a plugin removed) keeps its covers and recovery as stored JSON
    fields; one without those fields changes nothing."""
    ring.emit("fibre.node.down", subject=FN_07, source=FIBRE,
              payload=GenericPayload("gone.node", {"covers": ["camera:1"], "recovered": False}))
    ring.emit("gone.node.noise", subject=FN_08, severity=Severity.INFO, source=FIBRE,
              payload=GenericPayload("gone.node", {"state": "down"}))
    camera_offline(ring, "1")
    assert ring.only().event_count == 2
    ring.emit("fibre.node.up", subject=FN_07, severity=Severity.INFO, source=FIBRE,
              payload=GenericPayload("gone.node", {"covers": [], "recovered": True}))
    assert ring.only().state is IncidentState.RESOLVED


def test_the_covers_column_is_added_to_an_older_database(tmp_path):
    """A hub upgraded onto incidents stored before covers existed reads them as covering nothing, and
    stores covers from then on."""
    import sqlite3

    path = tmp_path / "journal.sqlite3"
    older = JOURNAL_MIGRATIONS + (create_incidents,)
    connection = sqlite3.connect(path, isolation_level=None)
    migrate(connection, older)
    connection.execute(
        "INSERT INTO incidents (id, number, title, state, severity, source, subject, opened_at, updated_at, "
        "last_event_at, event_count, duplicate_count, escalation_count, sources, cameras) VALUES "
        "('INC-000001', 1, 'Camera 1 offline', 'new', 30, 'onvif.north', "
        "'{\"kind\": \"camera\", \"id\": \"1\", \"name\": null}', 0, 0, 0, 1, 0, 0, '[\"onvif.north\"]', '[\"1\"]')"
    )
    connection.close()
    assert add_incident_covers not in older
    room = EngineHarness(tmp_path, RULES, event_types=(NodeStateChanged, CameraWentOffline))
    try:
        assert room.only().covers == ()
        node_down(room)
        assert room.engine.get("INC-000002").covers[0] == "camera:1"
    finally:
        room.close()
    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)
    connection.close()


# --- a camera that noticed first ---------------------------------------------------------------------


def test_a_new_camera_incident_opened_just_before_the_root_cause_is_absorbed_into_it(ring):
    """Camera 2 went offline 8 s before FN-07 was judged down: its incident is resolved by the hub as
    covered by the node's, which names it, so the operator has one incident to act on."""
    camera_offline(ring, "2")
    ring.advance(8)
    node_down(ring)
    camera, root = ring.engine.get("INC-000001"), ring.engine.get("INC-000002")
    assert [incident.id for incident in open_incidents(ring)] == [root.id]
    assert (camera.state, camera.resolved_at) == (IncidentState.RESOLVED, START + 8)
    history = ring.store.history(camera.id)[-1]
    assert (history.actor, history.detail["reason"], history.detail["root"]) == (None, "covered", root.id)
    assert ring.store.history(root.id)[0].detail["absorbed"] == [camera.id]
    assert ring.changes()[-1].summary == "Incident 1 new -> resolved: covered by INC-000002 (fibre.node.down)"
    # Its events stay where they were; the camera's next ones join the root cause.
    assert camera.event_count == 1
    camera_offline(ring, "2")
    assert ring.engine.get(root.id).event_count == 2


def test_an_incident_someone_has_taken_in_hand_is_not_absorbed(ring):
    """Acknowledged means a person is on it: it stays theirs."""
    camera_offline(ring, "2")
    ring.act("INC-000001", Acknowledge())
    node_down(ring)
    assert len(open_incidents(ring)) == 2


def test_an_incident_older_than_the_join_window_is_not_absorbed(ring):
    """A camera dark since long before the node failed is a separate problem."""
    camera_offline(ring, "2")
    ring.advance(901)
    node_down(ring)
    assert len(open_incidents(ring)) == 2


def test_covers_gained_by_joining_absorb_too(ring):
    """FN-08's own down event brings cameras 4 and 5 into FN-07's incident; camera 4's fresh incident
    is absorbed then."""
    node_down(ring, cameras=("1",), nodes_behind=("FN-08",))
    camera_offline(ring, "4")
    node_down(ring, FN_08, cameras=("4", "5"), nodes_behind=())
    assert [incident.id for incident in open_incidents(ring)] == ["INC-000001"]
    assert ring.store.history("INC-000001")[-1].detail["absorbed"] == ["INC-000002"]


# --- crashes -----------------------------------------------------------------------------------------


def crash_after_first_change(room):
    """Make the engine's second write of one event fail, as if the process died between them, then crash."""
    commit = room.engine._commit
    made = []

    async def first_only(change, **kwargs):
        if made:
            raise RuntimeError("the process died here")
        made.append(change)
        return await commit(change, **kwargs)

    room.engine._commit = first_only
    return made


def test_absorbing_cut_short_by_a_crash_is_finished_at_start(ring):
    """The root cause was stored, the camera incident not yet absorbed: read again at start, the event is
    recognised as counted and the absorbing is done then."""
    camera_offline(ring, "2")
    made = crash_after_first_change(ring)
    down = node_down(ring)
    assert [change.change for change in made] == ["opened"]
    assert len(open_incidents(ring)) == 2
    assert ring.store.engine_position() < down.seq  # the opening did not record it: more was to come
    ring.crash()
    assert [incident.id for incident in open_incidents(ring)] == ["INC-000002"]
    assert ring.store.history("INC-000001")[-1].detail["root"] == "INC-000002"
    assert ring.store.engine_position() == down.seq
    ring.restart()
    assert [incident.id for incident in open_incidents(ring)] == ["INC-000002"]
    assert len(ring.changes("incident.state.changed")) == 1


def test_recovery_cut_short_by_a_crash_is_finished_at_start(ring):
    """Of two incidents the recovery ends, the second is resolved after the restart, and only once."""
    node_down(ring)
    ring.advance(901)
    node_down(ring, previous="flapping")
    crash_after_first_change(ring)
    node_up(ring)
    assert len(open_incidents(ring)) == 1
    ring.crash()
    assert open_incidents(ring) == []
    ring.restart()
    assert len(ring.changes("incident.state.changed")) == 2


def test_an_incident_reopened_after_its_recovery_is_not_resolved_again_when_the_journal_is_read_again(ring):
    """Reading old events again (a lost position) never undoes what an operator did since."""
    import sqlite3

    node_down(ring)
    node_up(ring)
    ring.advance(30)
    ring.act("INC-000001", ChangeState("in_progress"))
    ring.stop()
    with sqlite3.connect(ring.hub.journal_path) as connection:
        connection.execute("UPDATE incident_engine SET position = 0")
        connection.execute("DELETE FROM cursors")
    ring.hub.restart()
    ring.start()
    assert ring.only().state is IncidentState.IN_PROGRESS


def test_incident_events_carry_covers_in_their_snapshots(ring):
    """A consumer rebuilding incidents from incident.* events gets the covers too."""
    from hub.incidents.model import Incident

    node_down(ring)
    camera_offline(ring, "1")
    assert Incident.from_json(ring.changes()[-1].payload.incident) == ring.only()
    assert attrs.asdict(ring.only())["covers"] == ("camera:1", "camera:2", "camera:3", "fibre_node:FN-08")
