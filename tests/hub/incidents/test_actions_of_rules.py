"""Rules' actions carried out: the commands a rule asks for when it opens or joins an incident, what is
skipped and why, and that nothing is done twice after a crash."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import attrs
import pytest
from attrs import frozen
from twisted.internet.defer import Deferred

from hub.api import AdapterType, CommandArgument, CommandSpec
from hub.config import (
    AdapterInstanceConfig,
    BroadcastConfig,
    HubConfig,
    IncidentRuleConfig,
    IncidentsConfig,
    MoveCamerasConfig,
)
from hub.directory import Asset, Directory
from hub.events import CommandRequested, Event, EventFactory, Location, RuleActionSkipped, Severity, Subject
from hub.ids import derived_id, id_milliseconds, is_event_id
from hub.incidents.actions import CURSOR, STARTING_GRACE_S, RuleActionService
from hub.incidents.events import INCIDENT_EVENT_TYPES, IncidentChanged
from hub.testing import BusHarness, Note, assert_no_pending_timers, success_result_of

#: 2024-03-01T22:00:00Z: a Friday night in the town centre.
START = 1_709_330_400.0
INCIDENT = "INC-000001"


@frozen
class Settings:
    """Stands in for an adapter type's config class."""


def _spec(verb: str, *arguments: CommandArgument) -> CommandSpec:
    return CommandSpec(verb=verb, title=verb.replace("_", " ").capitalize(), arguments=arguments)


# Adapter types offering the commands rules use, shaped as the real plugins' (tests/integration runs those).
ADAPTER_TYPES = {
    "onvif": AdapterType(name="onvif", config_class=Settings, factory=lambda context: None, commands=(
        _spec("goto_preset", CommandArgument(name="camera", title="Camera", kind="camera", max_length=20),
              CommandArgument(name="preset", title="Preset", max_length=64)),)),
    "police_link": AdapterType(name="police_link", config_class=Settings, factory=lambda context: None, commands=(
        _spec("send_to_police", CommandArgument(name="note", title="Note", required=False, max_length=1000)),)),
    "shopwatch": AdapterType(name="shopwatch", config_class=Settings, factory=lambda context: None, commands=(
        _spec("broadcast", CommandArgument(name="text", title="Text", max_length=32)),)),
    "fibre": AdapterType(name="fibre", config_class=Settings, factory=lambda context: None),
}


def adapter(name: str, type_name: str, enabled: bool = True) -> AdapterInstanceConfig:
    return AdapterInstanceConfig(name=name, type=type_name, settings=Settings(), enabled=enabled)


ADAPTERS = (
    adapter("cameras", "onvif"),
    adapter("north", "onvif"),
    adapter("force", "police_link"),
    adapter("pubwatch", "shopwatch"),
    adapter("fibre", "fibre"),
)

PUB_FIGHT = IncidentRuleConfig(
    name="pub fight",
    topics=("shopwatch.emergency.raised",),
    move_cameras=MoveCamerasConfig(preset="Pub door"),
    police="auto",
    broadcast=BroadcastConfig(adapter="pubwatch", text="Police called to Glumangate"),
)

BOOTS = Subject(kind="radio_unit", id="shopwatch.pubwatch.100-1001", name="The Rutland Arms")
GLUMANGATE = (53.2371, -1.4248)


class Adapters:
    """The running adapters' statuses as the hub gives them; each test sets the states it needs."""

    def __init__(self, states: dict[str, str]) -> None:
        self.states = dict(states)

    def __call__(self) -> list[Any]:
        return [SimpleNamespace(name=name, adapter_type=name.partition(".")[0], state=state)
                for name, state in self.states.items()]


ALL_RUNNING = {"onvif.cameras": "running", "onvif.north": "running", "police_link.force": "running",
               "shopwatch.pubwatch": "running", "fibre.fibre": "running"}


class Room:
    """The rule action service on a real bus and journal, on a fake clock, with the engine played by the test:
    it publishes the event a rule matched and then the incident event naming the rule."""

    def __init__(self, directory: Path, rules: tuple[IncidentRuleConfig, ...] = (PUB_FIGHT,),
                 adapters: tuple[AdapterInstanceConfig, ...] = ADAPTERS,
                 states: dict[str, str] | None = None, skipped: dict[str, str] | None = None) -> None:
        self.hub = BusHarness(directory, event_types=INCIDENT_EVENT_TYPES)
        self.clock = self.hub.clock
        self.clock.advance(START)
        self.config = HubConfig(path=directory / "hub.toml", incidents=IncidentsConfig(rules=rules),
                                adapters=adapters)
        self.adapters = Adapters(states if states is not None else ALL_RUNNING)
        self.skipped = skipped if skipped is not None else {}
        self.directory = Directory()
        for number, place, source in (("31", GLUMANGATE, "onvif.cameras"), ("38", (53.2379, -1.4220), "onvif.cameras"),
                                      ("35", (53.2347, -1.4283), "onvif.north")):
            self.directory.put(Asset(kind="camera", id=number, source=source, latitude=place[0], longitude=place[1]))
        self.service: RuleActionService
        self.start()

    def start(self) -> None:
        self.service = RuleActionService(
            bus=self.hub.bus, config=self.config, adapter_types=ADAPTER_TYPES, directory=self.directory,
            adapters=self.adapters, clock=self.clock, events=EventFactory(self.clock, "hub.rules"),
            skipped=self.skipped,
        )
        self.service.startService()
        self.hub.settle()

    def stop(self) -> None:
        stopped = self.service.stopService()
        self.hub.settle()
        success_result_of(stopped)

    def close(self) -> None:
        if self.service.running:
            self.stop()
        self.hub.close()

    # --- the engine's part ------------------------------------------------------------------------------

    def emergency(self, location: Location | None = None, subject: Subject = BOOTS) -> Event:
        """The event the rule matches: a pub's emergency button, with the pub's camera and place."""
        if location is None:
            location = Location(name="23 Glumangate", camera="31", latitude=GLUMANGATE[0], longitude=GLUMANGATE[1])
        event = EventFactory(self.clock, "shopwatch.pubwatch")(
            "shopwatch.emergency.raised", Note("emergency"), severity=Severity.CRITICAL, subject=subject,
            summary="Emergency: The Rutland Arms", location=location,
        )
        return event.with_seq(self.publish(event))

    def incident_event(self, cause: Event | None, rule: str | None = "pub fight", *, topic: str = "incident.opened",
                       incident: str = INCIDENT, **detail: Any) -> Event:
        """The engine's incident event for ``cause``; ``rule`` goes in as the detail's ``actions``."""
        change = {"incident.opened": "opened", "incident.event.joined": "event_joined"}.get(topic, "updated")
        base: dict[str, Any] = {"rule": rule}
        if cause is not None:
            base.update(event_id=cause.id, seq=cause.seq, topic=cause.topic)
        if rule is not None:
            base["actions"] = rule
        base.update(detail)
        event = EventFactory(self.clock, "hub.incidents")(
            topic, IncidentChanged(change=change, actor=None, detail=base, incident={"id": incident}),
            severity=Severity.CRITICAL, subject=Subject(kind="incident", id=incident), summary="Incident",
            incident_id=incident, causation_id=cause.id if cause is not None else None,
        )
        return event.with_seq(self.publish(event))

    def publish(self, event: Event) -> int:
        published = self.hub.bus.publish(event)
        self.hub.settle()
        return success_result_of(published)

    # --- what came of it ----------------------------------------------------------------------------------

    def published(self, pattern: str = "#") -> list[Event]:
        """What the service published (source hub.rules), in journal order."""
        return [event for event in self.hub.bus.replay(pattern=pattern, limit=100_000) if event.source == "hub.rules"]

    def commands(self) -> list[Event]:
        return self.published("command.#")

    def skipped_actions(self) -> list[RuleActionSkipped]:
        return [event.payload for event in self.published("rule.action.skipped")]


@pytest.fixture
def make_room(tmp_path):
    rooms: list[Room] = []

    def make(**kwargs: Any) -> Room:
        folder = tmp_path / f"room{len(rooms)}"
        folder.mkdir()
        room = Room(folder, **kwargs)
        rooms.append(room)
        return room

    yield make
    for room in rooms:
        room.close()


@pytest.fixture
def room(make_room):
    return make_room()


def requests(events: list[Event]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(event.topic, event.payload.adapter, event.payload.arguments) for event in events]


def rule(**changes: Any) -> IncidentRuleConfig:
    """The pub fight rule with only the given actions."""
    actions = {"move_cameras": None, "police": None, "broadcast": None}
    return attrs.evolve(PUB_FIGHT, **{**actions, **changes})


# --- each action -------------------------------------------------------------------------------------------


def test_a_rule_with_every_action_moves_the_camera_sends_to_police_and_broadcasts(room):
    """In that order: the pub's camera to the rule's preset, the incident to the force, the text to the scheme."""
    cause = room.emergency()
    room.incident_event(cause)
    assert requests(room.commands()) == [
        ("command.onvif.goto_preset", "onvif.cameras", {"camera": "31", "preset": "Pub door"}),
        ("command.police_link.send_to_police", "police_link.force", {}),
        ("command.shopwatch.broadcast", "shopwatch.pubwatch", {"text": "Police called to Glumangate"}),
    ]
    assert room.skipped_actions() == []


def test_each_command_names_the_rule_the_incident_and_the_incident_event_as_its_cause(room):
    """requested_by rule:NAME, incident_id, causation_id = the incident event's id; the audit chain is whole."""
    cause = room.emergency()
    opened = room.incident_event(cause)
    for command in room.commands():
        assert isinstance(command.payload, CommandRequested)
        assert command.payload.requested_by == "rule:pub fight"
        assert (command.incident_id, command.causation_id) == (INCIDENT, opened.id)
        assert command.severity is Severity.INFO
    assert opened.causation_id == cause.id


def test_a_camera_command_says_which_camera_turns_to_which_preset_and_why(room):
    """The summary reads as the audit would say it, and the command is located at the camera."""
    room.incident_event(room.emergency())
    [move] = room.published("command.onvif.#")
    assert move.summary == ("Rule pub fight asked onvif.cameras to turn camera 31 to preset Pub door "
                            "(named by the event)")
    assert move.location == Location(camera="31")


def test_the_nearest_cameras_are_moved_up_to_the_rules_count(make_room):
    """count=2 with no camera named: the two closest to the event's place, closest first, each to the preset."""
    room = make_room(rules=(rule(move_cameras=MoveCamerasConfig(preset="Pub door", count=2, within_m=1000)),))
    room.incident_event(room.emergency(location=Location(latitude=GLUMANGATE[0], longitude=GLUMANGATE[1])))
    assert requests(room.commands()) == [
        ("command.onvif.goto_preset", "onvif.cameras", {"camera": "31", "preset": "Pub door"}),
        ("command.onvif.goto_preset", "onvif.cameras", {"camera": "38", "preset": "Pub door"}),
    ]


def test_move_cameras_keeps_to_the_adapter_the_rule_names(make_room):
    """adapter = "north" (by name): only that instance's camera, even though another is named by the event."""
    room = make_room(rules=(rule(move_cameras=MoveCamerasConfig(preset="Pub door", count=3, within_m=2000,
                                                                adapter="north")),))
    room.incident_event(room.emergency())
    assert requests(room.commands()) == [
        ("command.onvif.goto_preset", "onvif.north", {"camera": "35", "preset": "Pub door"})]


def test_police_auto_goes_to_every_police_link_or_to_the_one_named(make_room, tmp_path):
    """Without police_adapter, each enabled police link; with it, only that one."""
    adapters = (*ADAPTERS, adapter("regional", "police_link"), adapter("spare", "police_link", enabled=False))
    states = {**ALL_RUNNING, "police_link.regional": "running"}
    every = make_room(rules=(rule(police="auto"),), adapters=adapters, states=states)
    every.incident_event(every.emergency())
    assert requests(every.commands()) == [
        ("command.police_link.send_to_police", "police_link.force", {}),
        ("command.police_link.send_to_police", "police_link.regional", {}),
    ]
    named = make_room(rules=(rule(police="auto", police_adapter="regional"),), adapters=adapters, states=states)
    named.incident_event(named.emergency())
    assert requests(named.commands()) == [("command.police_link.send_to_police", "police_link.regional", {})]


def test_police_offer_publishes_nothing(make_room):
    """An offer is the operator's one click (the engine puts it on the incident); the service sends nothing."""
    room = make_room(rules=(rule(police="offer"),))
    room.incident_event(room.emergency())
    assert room.published() == []


def test_a_broadcast_goes_to_the_scheme_named_by_its_source_too(make_room):
    """broadcast.adapter may be the instance's source name as well as its name."""
    room = make_room(rules=(rule(broadcast=BroadcastConfig(adapter="shopwatch.pubwatch", text="Fight at Rutland")),))
    room.incident_event(room.emergency(), topic="incident.event.joined")
    assert requests(room.commands()) == [("command.shopwatch.broadcast", "shopwatch.pubwatch",
                                          {"text": "Fight at Rutland"})]
    assert room.commands()[0].summary == 'Rule pub fight asked shopwatch.pubwatch to broadcast "Fight at Rutland"'


def test_only_incident_events_that_carry_a_rules_actions_are_acted_on(room):
    """No "actions" in the detail, or another incident topic: nothing is published."""
    cause = room.emergency()
    room.incident_event(cause, rule=None)
    room.incident_event(cause, topic="incident.acknowledged")
    room.incident_event(cause, topic="incident.duplicate.folded")
    assert room.published() == []


# --- what cannot be done ------------------------------------------------------------------------------------


def skipped_event(room: Room) -> Event:
    [event] = room.published("rule.action.skipped")
    return event


def test_no_camera_near_the_event_is_a_skipped_action_on_the_incident(make_room):
    """Nothing named and nothing in range: rule.action.skipped, low, on the incident, caused by its event."""
    room = make_room(rules=(rule(move_cameras=MoveCamerasConfig(preset="Pub door", within_m=50)),))
    opened = room.incident_event(room.emergency(location=Location(name="Far away", latitude=53.3, longitude=-1.5)))
    event = skipped_event(room)
    assert event.payload == RuleActionSkipped(
        rule="pub fight", action="move_cameras",
        reason="no camera for the event: it names none, its member or node has none, and none is within 50 m of it")
    assert (event.severity, event.incident_id, event.causation_id) == (Severity.LOW, INCIDENT, opened.id)
    assert event.subject == Subject(kind="rule", id="pub fight")
    assert event.summary.startswith("Rule pub fight could not move cameras: no camera")
    assert room.commands() == []


def test_a_camera_the_directory_does_not_know_is_skipped_and_the_others_still_move(make_room):
    """Camera 77 named by the event has no adapter; camera 31 nearby still turns."""
    room = make_room(rules=(rule(move_cameras=MoveCamerasConfig(preset="Pub door", count=2)),))
    room.incident_event(room.emergency(location=Location(camera="77", latitude=GLUMANGATE[0],
                                                         longitude=GLUMANGATE[1])))
    assert room.skipped_actions() == [RuleActionSkipped(
        rule="pub fight", action="move_cameras",
        reason="camera 77 is not in the hub's directory: no adapter drives it")]
    assert requests(room.commands()) == [
        ("command.onvif.goto_preset", "onvif.cameras", {"camera": "31", "preset": "Pub door"})]


@pytest.mark.parametrize("state", ["failed", "restarting", "silent", "stopped"])
def test_an_adapter_that_is_not_running_is_skipped_with_its_state(make_room, state):
    """The camera's adapter is down: the move is skipped naming its state; police and broadcast still go."""
    room = make_room(states={**ALL_RUNNING, "onvif.cameras": state})
    room.incident_event(room.emergency())
    assert room.skipped_actions() == [RuleActionSkipped(
        rule="pub fight", action="move_cameras",
        reason=f"camera 31: onvif.cameras is {state}, not running")]
    assert [event.topic for event in room.commands()] == ["command.police_link.send_to_police",
                                                           "command.shopwatch.broadcast"]


def test_an_adapter_the_hub_does_not_run_is_skipped(make_room):
    """Configured but not among the running adapters (it never started): skipped as not started."""
    states = {name: state for name, state in ALL_RUNNING.items() if name != "shopwatch.pubwatch"}
    room = make_room(rules=(rule(broadcast=PUB_FIGHT.broadcast),), states=states)
    room.incident_event(room.emergency())
    assert room.skipped_actions() == [RuleActionSkipped(
        rule="pub fight", action="broadcast", reason="shopwatch.pubwatch is not started, not running")]


def test_a_disabled_adapter_is_skipped_as_disabled(make_room):
    """enabled = false on the scheme the rule broadcasts to."""
    adapters = tuple(attrs.evolve(each, enabled=False) if each.name == "pubwatch" else each for each in ADAPTERS)
    room = make_room(rules=(rule(broadcast=PUB_FIGHT.broadcast),), adapters=adapters)
    room.incident_event(room.emergency())
    assert room.skipped_actions() == [RuleActionSkipped(
        rule="pub fight", action="broadcast", reason="shopwatch.pubwatch is disabled in the configuration")]


def test_an_adapter_left_out_by_only_when_is_skipped_with_why(make_room):
    """The hub left the instance out (only_when): the skip says so in the hub's words."""
    room = make_room(rules=(rule(broadcast=PUB_FIGHT.broadcast),),
                     skipped={"pubwatch": 'only_when = "root" and the hub runs without root'})
    room.incident_event(room.emergency())
    assert room.skipped_actions() == [RuleActionSkipped(
        rule="pub fight", action="broadcast",
        reason='shopwatch.pubwatch does not run in this hub (only_when = "root" and the hub runs without root)')]


def test_a_camera_of_an_adapter_not_in_the_configuration_is_skipped(room):
    """The directory says camera 50 is driven by an instance this configuration does not have."""
    room.directory.put(Asset(kind="camera", id="50", source="onvif.old"))
    room.incident_event(room.emergency(location=Location(camera="50")))
    assert room.skipped_actions()[0] == RuleActionSkipped(
        rule="pub fight", action="move_cameras", reason="camera 50: onvif.old is not an adapter of this hub")


def test_police_auto_with_no_police_link_is_skipped(make_room):
    """No police link configured: skipped, saying what to configure."""
    adapters = tuple(each for each in ADAPTERS if each.type != "police_link")
    room = make_room(rules=(rule(police="auto"),), adapters=adapters)
    room.incident_event(room.emergency())
    assert room.skipped_actions() == [RuleActionSkipped(
        rule="pub fight", action="police",
        reason="no adapter in this hub can send to police (configure a police_link adapter)")]


def test_a_preset_the_command_refuses_is_skipped_with_the_commands_reason(make_room):
    """A preset name longer than the command takes: skipped, in the command's words."""
    room = make_room(rules=(rule(move_cameras=MoveCamerasConfig(preset="P" * 65)),))
    room.incident_event(room.emergency())
    assert room.skipped_actions() == [RuleActionSkipped(
        rule="pub fight", action="move_cameras",
        reason="onvif.cameras would refuse it: preset is longer than 64 characters")]


def test_a_cause_no_longer_in_the_journal_skips_the_move_and_the_rest_still_happens(room):
    """The detail's seq points past the journal: no camera can be chosen; police and broadcast need no cause."""
    room.incident_event(None, seq=9999, event_id=derived_id("01HQZ0000000000000000000AA", "gone"))
    assert room.skipped_actions() == [RuleActionSkipped(
        rule="pub fight", action="move_cameras",
        reason="the event that matched the rule (seq 9999) is no longer in the journal")]
    assert len(room.commands()) == 2


def test_a_rule_no_longer_configured_is_one_skipped_action(room):
    """The incident event names a rule the configuration has lost since (a restart with a new config)."""
    room.incident_event(room.emergency(), rule="old rule")
    assert room.skipped_actions() == [RuleActionSkipped(
        rule="old rule", action="rule", reason="the rule is no longer in the configuration")]


# --- adapters still starting ----------------------------------------------------------------------------


def test_an_adapter_still_starting_is_waited_for(make_room):
    """At start-up the first incident events come before the adapters are up: the move waits until running."""
    room = make_room(rules=(rule(move_cameras=PUB_FIGHT.move_cameras),),
                     states={**ALL_RUNNING, "onvif.cameras": "starting"})
    room.incident_event(room.emergency())
    assert room.published() == []
    room.clock.advance(2)
    room.hub.settle()
    room.adapters.states["onvif.cameras"] = "running"
    room.clock.advance(1)
    room.hub.settle()
    assert requests(room.commands()) == [("command.onvif.goto_preset", "onvif.cameras",
                                          {"camera": "31", "preset": "Pub door"})]
    assert_no_pending_timers(room.clock)


def test_an_adapter_that_never_finishes_starting_is_skipped_after_the_grace(make_room):
    """Still starting after STARTING_GRACE_S: skipped as starting."""
    room = make_room(rules=(rule(move_cameras=PUB_FIGHT.move_cameras),),
                     states={**ALL_RUNNING, "onvif.cameras": "starting"})
    room.incident_event(room.emergency())
    for _ in range(int(STARTING_GRACE_S * 4) + 4):
        room.clock.advance(0.25)
        room.hub.settle()
    assert room.skipped_actions() == [RuleActionSkipped(
        rule="pub fight", action="move_cameras", reason="camera 31: onvif.cameras is starting, not running")]
    assert_no_pending_timers(room.clock)


def test_stopping_while_waiting_for_an_adapter_skips_the_action_and_leaves_no_timer(make_room):
    """The hub stops meanwhile: the wait ends at once, the action is skipped saying why, the stop completes."""
    room = make_room(rules=(rule(move_cameras=PUB_FIGHT.move_cameras),),
                     states={**ALL_RUNNING, "onvif.cameras": "starting"})
    room.incident_event(room.emergency())
    stopped = room.service.stopService()
    room.hub.settle()
    success_result_of(stopped)
    assert [payload.reason for payload in room.skipped_actions()] == [
        "camera 31: onvif.cameras is starting, not running"]
    assert_no_pending_timers(room.clock)


# --- nothing twice ----------------------------------------------------------------------------------------


def test_ids_are_derived_from_the_incident_event_and_the_action(room):
    """Each published id is well formed, in the incident event's millisecond, and derived from it and the action."""
    opened = room.incident_event(room.emergency())
    published = room.published()
    assert [event.id for event in published] == [
        derived_id(opened.id, "move_cameras:31"), derived_id(opened.id, "police:police_link.force"),
        derived_id(opened.id, "broadcast")]
    assert all(is_event_id(event.id) and id_milliseconds(event.id) == id_milliseconds(opened.id)
               for event in published)


def test_a_restart_reads_on_from_the_cursor_and_acts_on_nothing_again(room):
    """A clean restart: the durable cursor is past the incident event, so nothing is done again."""
    opened = room.incident_event(room.emergency())
    room.stop()
    room.hub.restart()
    room.start()
    assert len(room.published()) == 3
    assert room.hub.bus.journal.cursor(CURSOR) == opened.seq


def test_a_crash_before_the_cursor_was_saved_publishes_nothing_twice(room, captured_logs):
    """The cursor is back before the incident event (its save never reached the disk): after the restart the
    event is read again and the same commands asked for again, with the same ids, so the journal keeps one
    of each (it answers a known id with the seq it already has)."""
    opened = room.incident_event(room.emergency())
    first = room.published()
    room.stop()
    room.hub.bus.close()
    room.hub.settle()
    with sqlite3.connect(room.hub.journal_path) as connection:  # the position the crash left on the disk
        connection.execute("UPDATE cursors SET seq = ? WHERE name = ?", (opened.seq - 1, CURSOR))
    connection.close()
    room.hub.bus = room.hub._open()
    del captured_logs[:]
    room.start()
    again = [(entry["event_id"], entry["published_seq"]) for entry in captured_logs
             if entry["event"] == "rule_action_requested"]
    assert again == [(event.id, event.seq) for event in first]
    assert room.hub.bus.journal.cursor(CURSOR) == opened.seq
    assert [event.id for event in room.published()] == [event.id for event in first]


def test_a_crash_half_way_through_an_incidents_actions_does_the_rest_after_the_restart(room):
    """The process dies after the camera command was journaled and before the rest: after the restart the
    move is not asked for again, and police and broadcast are."""
    real_publish = room.hub.bus.publish
    journaled: list[Event] = []

    def dies_after_one(event: Event, **kwargs: Any) -> Deferred:
        if event.source == "hub.rules":
            if journaled:
                return Deferred()  # the process is gone: this publish never completes
            journaled.append(event)
        return real_publish(event, **kwargs)

    room.hub.bus.publish = dies_after_one  # type: ignore[method-assign]
    room.incident_event(room.emergency())
    assert [event.topic for event in room.published()] == ["command.onvif.goto_preset"]
    # The crash: the bus goes without the service stopping; a new service starts on the reopened journal.
    room.hub.restart()
    room.start()
    assert [event.topic for event in room.published()] == [
        "command.onvif.goto_preset", "command.police_link.send_to_police", "command.shopwatch.broadcast"]


def test_a_second_incident_event_with_the_same_rule_acts_again_for_its_own_incident(room):
    """Two incidents opened by the same rule: each gets its own commands (ids differ by incident event)."""
    room.incident_event(room.emergency())
    room.incident_event(room.emergency(), incident="INC-000002")
    commands = room.commands()
    assert [event.incident_id for event in commands] == [INCIDENT] * 3 + ["INC-000002"] * 3
    assert len({event.id for event in commands}) == 6


def test_stopping_leaves_no_timer_and_no_subscription(room):
    """After stop the bus has no subscriber of the service's and the clock no timer."""
    room.incident_event(room.emergency())
    room.stop()
    assert all(subscription.name != CURSOR for subscription in room.hub.bus.subscriptions)
    assert_no_pending_timers(room.clock)


# --- with the real incident engine ---------------------------------------------------------------------------


@pytest.fixture
def engine_room(tmp_path):
    """The incident engine and the rule action service on one bus: the whole path from event to command."""
    from tests.hub.incidents.fakes import EngineHarness

    harness = EngineHarness(tmp_path, config=IncidentsConfig(rules=(PUB_FIGHT,)))
    directory = Directory()
    directory.put(Asset(kind="camera", id="31", source="onvif.cameras"))
    config = HubConfig(path=tmp_path / "hub.toml", incidents=harness.config, adapters=ADAPTERS)
    service = RuleActionService(bus=harness.bus, config=config, adapter_types=ADAPTER_TYPES, directory=directory,
                                adapters=Adapters(ALL_RUNNING), clock=harness.clock,
                                events=EventFactory(harness.clock, "hub.rules"))
    service.startService()
    harness.hub.settle()
    yield harness
    stopped = service.stopService()
    harness.hub.settle()
    success_result_of(stopped)
    harness.close()


def test_the_audit_can_follow_a_camera_move_back_to_the_event_that_caused_it(engine_room):
    """command (requested_by rule:NAME) -> caused by incident.opened -> caused by the radio emergency; the
    command and its siblings land on the incident."""
    emergency = engine_room.emit(subject=BOOTS, location=Location(camera="31"), source="shopwatch.pubwatch",
                                 severity=Severity.CRITICAL)
    by_id = {event.id: event for event in engine_room.hub.bus.replay(limit=100_000)}
    [move] = [event for event in by_id.values() if event.topic == "command.onvif.goto_preset"]
    assert move.payload.requested_by == "rule:pub fight"
    opened = by_id[move.causation_id]
    assert (opened.topic, opened.payload.detail["actions"]) == ("incident.opened", "pub fight")
    assert by_id[opened.causation_id].id == emergency.id
    incident = engine_room.only()
    assert move.incident_id == opened.incident_id == incident.id
    gathered = [event.topic for event in engine_room.engine.detail(incident.id).events]
    assert {"command.onvif.goto_preset", "command.police_link.send_to_police",
            "command.shopwatch.broadcast"} <= set(gathered)


def test_a_rule_acts_once_per_incident_however_often_it_matches(engine_room):
    """A second press of the same emergency button joins the incident; no command is asked for again."""
    engine_room.emit(subject=BOOTS, location=Location(camera="31"), source="shopwatch.pubwatch")
    engine_room.advance(30)
    engine_room.emit(subject=BOOTS, location=Location(camera="31"), source="shopwatch.pubwatch")
    commands = engine_room.hub.bus.replay(pattern="command.#", limit=100_000)
    assert [event.topic for event in commands] == [
        "command.onvif.goto_preset", "command.police_link.send_to_police", "command.shopwatch.broadcast"]
    assert len(engine_room.engine.list()) == 1
