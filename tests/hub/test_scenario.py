"""The scenario player: a demo's script of narrated steps, played on the simulators on the hub's clock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import structlog
from twisted.application.service import MultiService
from twisted.internet.defer import Deferred, fail, succeed

from hub.api import CueRefused, CueSpec
from hub.config import HubConfig, ScenarioConfig, ScenarioCue, ScenarioStep
from hub.events import EventFactory, ScenarioStepPlayed
from hub.scenario import ScenarioPlayer, check_cue, clock_text, start_scenario
from hub.testing import assert_no_pending_timers


class Radio:
    """A simulator that can be scripted: it records each cue, and refuses a unit it does not have."""

    cues = (
        CueSpec("emergency", "a handset's emergency button", arguments=("unit",)),
        CueSpec("status", "a status button", arguments=("unit", "code"), optional=("note",)),
    )

    def __init__(self) -> None:
        self.played: list[tuple[str, dict[str, Any]]] = []
        self.answer: Any = None

    def cue(self, name: str, arguments: dict[str, Any]) -> Any:
        if arguments.get("unit") not in ("1001", "1002"):
            raise CueRefused(f"unit {arguments.get('unit')!r} is not one of the radio's handsets (1001, 1002)")
        self.played.append((name, arguments))
        return self.answer


class Mute:
    """A simulator that takes no cues."""


def step(at_s: float, say: str, *cues: ScenarioCue) -> ScenarioStep:
    return ScenarioStep(at_s=at_s, say=say, cues=cues)


def cue(simulator: str, name: str, **arguments: Any) -> ScenarioCue:
    return ScenarioCue(simulator=simulator, cue=name, arguments=arguments)


def evening(**settings: Any) -> ScenarioConfig:
    return ScenarioConfig(name="An evening", steps=(
        step(30, "Boots reports a theft", cue("radio", "status", unit="1001", code="01")),
        step(90, "The Rutland Arms presses its emergency button", cue("radio", "emergency", unit="1002")),
    ), **settings)


def player(config: ScenarioConfig, clock: Any, simulators: dict[str, Any], bus: Any = None, **kwargs: Any):
    said: list[str] = []
    made = ScenarioPlayer(config, simulators, clock=clock, say=said.append,
                          publish=bus.publish if bus is not None else None,
                          events=bus.events if bus is not None else None, **kwargs)
    return made, said


def scene_events(bus: Any) -> list[ScenarioStepPlayed]:
    bus.settle()
    found: list[Any] = []
    bus.bus.subscribe("hub.scenario.#", found.append, since=0)
    bus.settle()
    return [event.payload for event in found]


# --- playing ---------------------------------------------------------------------------------------------


def test_each_step_plays_its_cues_at_its_time(hub_clock):
    """A step's cues are played when the clock reaches its at_s, and not before."""
    radio = Radio()
    played, _said = player(evening(), hub_clock, {"radio": radio})
    played.startService()

    hub_clock.advance(29.9)
    assert radio.played == []
    hub_clock.advance(0.1)
    assert radio.played == [("status", {"unit": "1001", "code": "01"})]
    hub_clock.advance(60)
    assert radio.played[-1] == ("emergency", {"unit": "1002"})
    assert played.played == [(1, 1), (1, 2)]


def test_speed_divides_every_time(hub_clock):
    """At speed 10 a step due at 90 s plays after 9 s."""
    radio = Radio()
    played, _said = player(evening(speed=10), hub_clock, {"radio": radio})
    played.startService()

    hub_clock.advance(3)
    assert len(radio.played) == 1
    hub_clock.advance(5.9)
    assert len(radio.played) == 1
    hub_clock.advance(0.1)
    assert len(radio.played) == 2


def test_steps_play_in_time_order_whatever_the_file_order(hub_clock):
    """Steps written out of order are played by their at_s; steps at the same time keep the file's order."""
    radio = Radio()
    config = ScenarioConfig(steps=(
        step(20, "second", cue("radio", "emergency", unit="1002")),
        step(10, "first", cue("radio", "status", unit="1001", code="01")),
        step(20, "third", cue("radio", "emergency", unit="1001")),
    ))
    played, said = player(config, hub_clock, {"radio": radio})
    played.startService()
    hub_clock.advance(20)

    assert [line.split(": ", 1)[1] for line in said] == ["first", "second", "third"]
    assert radio.played == [("status", {"unit": "1001", "code": "01"}), ("emergency", {"unit": "1002"}),
                            ("emergency", {"unit": "1001"})]


def test_a_script_without_repeat_plays_once_and_leaves_no_timer(hub_clock):
    """Once the last step has played, nothing more is scheduled."""
    radio = Radio()
    played, _said = player(evening(), hub_clock, {"radio": radio})
    played.startService()
    hub_clock.advance(1000)

    assert len(radio.played) == 2
    assert played.finished
    assert_no_pending_timers(hub_clock)


def test_a_repeating_script_starts_again_every_repeat_s(hub_clock):
    """With repeat_s the steps come round again, each round repeat_s after the last, at the script's speed."""
    radio = Radio()
    played, said = player(evening(repeat_s=600, speed=2), hub_clock, {"radio": radio})
    played.startService()

    hub_clock.advance(299)
    assert played.played == [(1, 1), (1, 2)]
    hub_clock.advance(1 + 15)  # round 2 starts at 300 s, its first step 15 s later
    assert played.played == [(1, 1), (1, 2), (2, 1)]
    assert "round 2" in said[-1]
    hub_clock.advance(300)
    assert played.played[-1] == (3, 1)
    assert not played.finished


def test_stopping_cancels_what_is_due(hub_clock):
    """A stopped player plays nothing more and leaves no timer behind."""
    radio = Radio()
    played, _said = player(evening(repeat_s=600), hub_clock, {"radio": radio})
    played.startService()
    hub_clock.advance(30)
    played.stopService()
    hub_clock.advance(10_000)

    assert len(radio.played) == 1
    assert_no_pending_timers(hub_clock)


# --- narration -------------------------------------------------------------------------------------------


def test_each_step_is_said_with_its_number_round_and_time(hub_clock):
    """The audience reads which scene it is, of how many, in which round, how far in, and what happens."""
    played, said = player(evening(speed=2), hub_clock, {"radio": Radio()})
    played.startService()
    hub_clock.advance(45)

    assert said == [
        ">>> An evening, scene 1 of 2 (round 1, +0:15): Boots reports a theft",
        ">>> An evening, scene 2 of 2 (round 1, +0:45): The Rutland Arms presses its emergency button",
    ]


def test_each_step_is_published_as_a_hub_scenario_step_event(hub_clock, hub_bus):
    """The console's stream tells the story: one hub.scenario.step event per step, naming the cues played."""
    played, _said = player(evening(), hub_clock, {"radio": Radio()}, bus=hub_bus)
    played.startService()
    hub_clock.advance(90)

    hub_bus.settle()
    events: list[Any] = []
    hub_bus.bus.subscribe("hub.scenario.#", events.append, since=0)
    hub_bus.settle()
    assert [(event.topic, event.source, event.severity.label, event.summary) for event in events] == [
        ("hub.scenario.step", "hub.scenario", "info", "Scene 1 of 2: Boots reports a theft"),
        ("hub.scenario.step", "hub.scenario", "info", "Scene 2 of 2: The Rutland Arms presses its emergency button"),
    ]
    assert events[0].payload == ScenarioStepPlayed(scenario="An evening", step=1, steps=2, round=1,
                                                   say="Boots reports a theft", cues=("radio.status",))
    assert events[0].subject.kind == "scenario" and events[0].incident_id is None


def test_the_programme_says_what_comes_when(hub_clock):
    """Before it starts, the player lists each step at its time as played, and how often it all repeats."""
    played, _said = player(evening(speed=2, repeat_s=600), hub_clock, {"radio": Radio()})

    assert played.programme() == ["   0:15  Boots reports a theft",
                                  "   0:45  The Rutland Arms presses its emergency button",
                                  "and again every 5:00"]


def test_clock_text_reads_as_minutes_and_hours():
    """Times are M:SS, and H:MM:SS from an hour."""
    assert [clock_text(s) for s in (0, 59.6, 90, 3600, 3725)] == ["0:00", "1:00", "1:30", "1:00:00", "1:02:05"]


# --- what cannot be played -------------------------------------------------------------------------------


def test_unknown_simulators_and_cues_are_said_once_at_start_and_the_rest_plays(hub_clock):
    """Each cue that cannot be played is one clear line at start; the steps still play, with their other cues."""
    radio = Radio()
    config = ScenarioConfig(steps=(
        step(10, "Theft", cue("radio", "status", unit="1001", code="01"), cue("cameras", "tamper", camera="3")),
        step(20, "Emergency", cue("radio", "scream", unit="1001"), cue("radio", "emergency")),
        step(30, "Node", cue("quiet", "node_down", node="node-03")),
        step(40, "Extra", cue("radio", "status", unit="1001", code="01", colour="red")),
    ))
    played, said = player(config, hub_clock, {"radio": radio, "quiet": Mute()})
    played.startService()

    assert said == [
        ("  scenario: step 1 (Theft): cameras.tamper(camera='3') left out: no simulator named cameras is running "
         "(running: quiet, radio)"),
        ("  scenario: step 2 (Emergency): radio.scream(unit='1001') left out: simulator radio has no cue 'scream' "
         "(it has: emergency, status)"),
        "  scenario: step 2 (Emergency): radio.emergency() left out: radio.emergency needs argument unit",
        "  scenario: step 3 (Node): quiet.node_down(node='node-03') left out: simulator quiet takes no cues",
        ("  scenario: step 4 (Extra): radio.status(unit='1001', code='01', colour='red') left out: radio.status "
         "takes no argument colour (it takes: unit, code, note)"),
    ]
    hub_clock.advance(40)
    assert radio.played == [("status", {"unit": "1001", "code": "01"})]
    assert played.played == [(1, 1), (1, 2), (1, 3), (1, 4)]


def test_a_simulator_that_failed_to_start_is_named_with_why(hub_clock):
    """A cue for a simulator that failed to start says so, with the reason the hub gave."""
    played, said = player(evening(), hub_clock, {}, failed={"radio": "OSError: no pseudo-terminal"})
    played.startService()

    assert said[0].endswith("left out: simulator radio is not running (OSError: no pseudo-terminal)")


def test_cues_for_a_simulator_skipped_on_purpose_are_passed_over_quietly(hub_clock):
    """The same script serves a hub run as root and one that is not: a skipped simulator's cues say nothing."""
    radio = Radio()
    config = ScenarioConfig(steps=(step(10, "Node-03 fails", cue("fibre_netns", "node_down", node="node-03"),
                                        cue("radio", "emergency", unit="1001")),))
    played, said = player(config, hub_clock, {"radio": radio}, skipped={"fibre_netns": "only_when root"})
    played.startService()
    hub_clock.advance(10)

    assert said == [">>> The scenario, scene 1 of 1 (round 1, +0:10): Node-03 fails"]
    assert radio.played == [("emergency", {"unit": "1001"})]


def test_a_cue_the_simulator_refuses_is_said_and_published_and_the_show_goes_on(hub_clock, hub_bus):
    """Arguments the simulator refuses: the step says why under its line, its event lists it, the next step plays."""
    radio = Radio()
    config = ScenarioConfig(steps=(
        step(10, "A stranger's radio", cue("radio", "emergency", unit="9999")),
        step(20, "Boots", cue("radio", "emergency", unit="1001")),
    ))
    played, said = player(config, hub_clock, {"radio": radio}, bus=hub_bus)
    played.startService()
    hub_clock.advance(20)

    assert said[1] == ("    not played: radio.emergency(unit='9999'): unit '9999' is not one of the radio's "
                       "handsets (1001, 1002)")
    assert radio.played == [("emergency", {"unit": "1001"})]
    first, second = scene_events(hub_bus)
    assert first.cues == () and first.refused == (
        "radio.emergency(unit='9999'): unit '9999' is not one of the radio's handsets (1001, 1002)",)
    assert second.cues == ("radio.emergency",)


def test_a_simulator_that_raises_does_not_stop_the_show(hub_clock, captured_logs):
    """A bug in a simulator's cue is said and logged with its type, and later steps still play."""

    class Broken(Radio):
        def cue(self, name: str, arguments: dict[str, Any]) -> Any:
            if name == "status":
                raise KeyError("oops")
            return super().cue(name, arguments)

    radio = Broken()
    played, said = player(evening(), hub_clock, {"radio": radio})
    played.startService()
    hub_clock.advance(90)

    assert said[1] == "    not played: radio.status(unit='1001', code='01'): failed (KeyError: 'oops')"
    assert radio.played == [("emergency", {"unit": "1002"})]
    assert any(entry["event"] == "scenario_cue_failed" for entry in captured_logs)


def test_a_cue_whose_deferred_fails_later_is_said_then(hub_clock):
    """A cue that starts something and fails afterwards (a node that could not be taken down) is said when it fails."""
    radio = Radio()
    radio.answer = Deferred()
    played, said = player(evening(), hub_clock, {"radio": radio})
    played.startService()
    hub_clock.advance(30)
    radio.answer.errback(CueRefused("the link is already down"))

    assert said[-1] == "    radio.status(unit='1001', code='01') failed: the link is already down"


@pytest.mark.parametrize("answer", [None, succeed(None)])
def test_a_cue_that_answers_at_once_is_counted_played(hub_clock, hub_bus, answer):
    """Whether a cue returns nothing or a Deferred that has fired, it is played."""
    radio = Radio()
    radio.answer = answer
    played, _said = player(evening(), hub_clock, {"radio": radio}, bus=hub_bus)
    played.startService()
    hub_clock.advance(30)

    assert scene_events(hub_bus)[0].cues == ("radio.status",)


def test_a_narration_that_cannot_be_published_is_logged_and_the_show_goes_on(hub_clock, captured_logs):
    """The journal refusing the step's event does not stop the next step."""
    radio = Radio()
    played = ScenarioPlayer(evening(), {"radio": radio}, clock=hub_clock, events=EventFactory(hub_clock, "test.hub"),
                            publish=lambda event: fail(RuntimeError("journal closed")))
    played.startService()
    hub_clock.advance(90)

    assert len(radio.played) == 2
    assert [entry["error"] for entry in captured_logs if entry["event"] == "scenario_step_not_published"] == [
        "journal closed", "journal closed"]


# --- checking one cue ------------------------------------------------------------------------------------


def test_check_cue_accepts_a_cue_with_its_arguments_and_optional_ones():
    """A cue the simulator has, with every argument it needs and only ones it takes, can be played."""
    radio = Radio()
    assert check_cue(cue("radio", "status", unit="1001", code="01"), {"radio": radio}) is None
    assert check_cue(cue("radio", "status", unit="1001", code="01", note="x"), {"radio": radio}) is None
    assert check_cue(cue("radio", "status", unit="1001"), {"radio": radio}) == "radio.status needs argument code"


# --- in a hub --------------------------------------------------------------------------------------------


class FakeHub(MultiService):
    """What start_scenario reads of a running hub."""

    def __init__(self, config: ScenarioConfig, clock: Any, bus: Any, simulators: dict[str, Any]) -> None:
        super().__init__()
        self.config = HubConfig(path=Path("hub.toml"), scenario=config)
        self.reactor, self.bus, self.events = clock, bus.bus, bus.events
        self.simulators = simulators
        self.simulator_failures: dict[str, str] = {}
        self.skipped_simulators = {"fibre_ns": "only_when root"}
        self.log = structlog.get_logger()


def test_start_scenario_plays_as_a_child_of_the_hub_and_stops_with_it(hub_clock, hub_bus):
    """The player runs under the hub (stopped with it, before its simulators) and publishes on its bus."""
    radio = Radio()
    hub = FakeHub(evening(), hub_clock, hub_bus, {"radio": radio})
    hub.startService()
    said: list[str] = []
    player = start_scenario(hub, say=said.append)

    assert player is not None and player.running and hub.getServiceNamed("scenario") is player
    hub_clock.advance(30)
    assert radio.played == [("status", {"unit": "1001", "code": "01"})]
    assert [event.step for event in scene_events(hub_bus)] == [1]
    hub.stopService()
    assert not player.running
    hub_clock.advance(100)
    assert len(radio.played) == 1


def test_start_scenario_without_steps_plays_nothing(hub_clock, hub_bus):
    """A config with no [scenario] steps starts no player."""
    hub = FakeHub(ScenarioConfig(), hub_clock, hub_bus, {})
    hub.startService()
    assert start_scenario(hub, say=print) is None
    assert list(hub) == []
