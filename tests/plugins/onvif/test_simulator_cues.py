"""The camera simulator's cues for a demo's script (tamper, a help point, motion, offline and back), its preset
names and its quieter chatter; on a fake clock, and then heard by the real adapter over real sockets."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
import structlog
from twisted.internet import reactor
from twisted.internet.testing import MemoryReactorClock

from hub.api import CueRefused
from hub.config import Expected
from hub.secrets import Secret
from hub.testing import assert_no_pending_timers
from plugins.onvif.sim_camera import PRESET_NAMES
from plugins.onvif.sim_server import EVENT_MIX, MOTION, EventGenerator, event_mix
from plugins.onvif.simulator import CUE_TOPICS, OnvifSimulator, OnvifSimulatorConfig
from tests.plugins.onvif.test_adapter_with_simulator import PASSWORD, USERNAME, Scene

TAMPER = CUE_TOPICS["tamper"]
INPUT = CUE_TOPICS["help_point"]


@pytest.fixture
def fleet():
    """Three simulated cameras on a fake clock, started."""
    clock = MemoryReactorClock()
    service = OnvifSimulator(clock, OnvifSimulatorConfig(password=Secret("pw"), cameras=3, base_port=18100))
    service.startService()
    yield clock, service
    if service.running:
        service.stopService()


def test_the_cameras_offer_tamper_a_help_point_motion_offline_and_online():
    """The fleet's cues, each naming the camera by the simulator's own number."""
    assert [(spec.name, spec.arguments, spec.optional) for spec in OnvifSimulator.cues] == [
        ("tamper", ("camera",), ("for_s",)), ("help_point", ("camera",), ("for_s",)),
        ("motion", ("camera",), ("for_s",)), ("offline", ("camera",), ("for_s",)), ("online", ("camera",), ())]


@pytest.mark.parametrize(("name", "topic", "lasts_s"), [("tamper", TAMPER, 30), ("help_point", INPUT, 5),
                                                        ("motion", MOTION, 10)])
def test_an_alarm_cue_starts_the_alarm_and_clears_it_after_its_default_time(fleet, name, topic, lasts_s):
    """The alarm is on at once and off again when its time is up."""
    clock, service = fleet
    service.cue(name, {"camera": "2"})
    camera = service.fleet.camera("2")
    assert camera.property_state(topic) is True
    clock.advance(lasts_s - 0.1)
    assert camera.property_state(topic) is True
    clock.advance(0.1)
    assert camera.property_state(topic) is False
    assert service.fleet.camera("1").property_state(topic) is None


def test_for_s_sets_how_long_an_alarm_lasts(fleet):
    """A tamper cued for 2 s clears after 2 s; a camera number may be written as an integer."""
    clock, service = fleet
    service.cue("tamper", {"camera": 3, "for_s": 2})
    clock.advance(2)
    assert service.fleet.camera("3").property_state(TAMPER) is False


def test_offline_for_some_seconds_and_back(fleet):
    """offline with for_s stops the camera answering, and it listens again when the time is up."""
    clock, service = fleet
    network = service.fleet.camera("1").network
    service.cue("offline", {"camera": "1", "for_s": 20})
    assert not network.online
    clock.advance(19.9)
    assert not network.online
    clock.advance(0.1)
    assert network.online


def test_offline_without_for_s_lasts_until_online(fleet):
    """Without for_s the camera stays dark until the online cue."""
    clock, service = fleet
    network = service.fleet.camera("2").network
    service.cue("offline", {"camera": "2"})
    clock.advance(3600)
    assert not network.online
    service.cue("online", {"camera": "2"})
    assert network.online


@pytest.mark.parametrize(("name", "arguments", "reason"), [
    ("tamper", {"camera": "4"}, ("camera '4' is not one of the fleet's (1 to 3: the simulator's own numbers, "
                                "in the order of its ports)")),
    ("motion", {"camera": None}, ("camera None is not one of the fleet's (1 to 3: the simulator's own numbers, "
                                 "in the order of its ports)")),
    ("offline", {"camera": "1", "for_s": "soon"}, "for_s 'soon' is not a number of seconds from 0 to 86400"),
    ("tamper", {"camera": "1", "for_s": 0}, "for_s 0 is not a number of seconds from 0 to 86400"),
    ("explode", {"camera": "1"}, "no cue 'explode'; the cameras' cues: tamper, help_point, motion, offline, online"),
])
def test_a_cue_it_cannot_play_is_refused_saying_why(fleet, name, arguments, reason):
    """Arguments the fleet cannot use are refused with the reason, and no camera changes."""
    _clock, service = fleet
    with pytest.raises(CueRefused) as refused:
        service.cue(name, arguments)
    assert str(refused.value) == reason
    assert all(camera.network.online and not camera.properties for camera in service.fleet.cameras.values())


def test_a_camera_already_offline_refuses_to_go_offline_again(fleet):
    """Going dark twice is refused: a script that does so has a mistake worth seeing."""
    _clock, service = fleet
    service.cue("offline", {"camera": "1"})
    with pytest.raises(CueRefused, match="camera 1 is offline already"):
        service.cue("offline", {"camera": "1", "for_s": 5})


def test_stopping_cancels_what_a_cue_left_to_do(fleet):
    """An alarm still to clear and a camera still to come back are forgotten when the fleet stops."""
    clock, service = fleet
    service.cue("tamper", {"camera": "1"})
    service.cue("offline", {"camera": "2", "for_s": 60})
    service.stopService()
    assert_no_pending_timers(clock)
    with pytest.raises(CueRefused, match="not running"):
        service.cue("tamper", {"camera": "1"})


# --- presets and chatter ---------------------------------------------------------------------------------


def test_every_camera_has_the_configured_presets_in_order():
    """presets names each camera's presets, tokens 1 up, spread across the head's range."""
    service = OnvifSimulator(MemoryReactorClock(), OnvifSimulatorConfig(
        password=Secret("pw"), cameras=2, presets=("Street view", "Pub doors", "Taxi rank")))
    presets = service.fleet.camera("2")._presets()
    assert [(token, name) for token, name, _position in presets] == [
        ("1", "Street view"), ("2", "Pub doors"), ("3", "Taxi rank")]
    assert [position[0] for _token, _name, position in presets] == [-0.75, 0.0, 0.75]
    default = OnvifSimulator(MemoryReactorClock(), OnvifSimulatorConfig(password=Secret("pw"), cameras=1))
    assert [name for _token, name, _position in default.fleet.camera("1")._presets()] == list(PRESET_NAMES)


@pytest.mark.parametrize("presets", [(), ("a",) * 2, tuple("abcdefghi"), ("",)])
def test_preset_names_must_be_a_few_different_names(presets):
    with pytest.raises(Expected):
        OnvifSimulatorConfig(password=Secret("pw"), presets=presets)


def test_event_kinds_keep_the_chatter_to_the_kinds_listed():
    """A fleet told to chatter only motion and lines crossed raises nothing else."""
    assert event_mix(("motion", "input", "tamper", "line", "vendor")) == EVENT_MIX
    mix = event_mix(("motion", "line"))
    assert [topic for _share, topic, _property in mix] == [MOTION, "tns1:RuleEngine/LineDetector/Crossed"]
    assert sum(share for share, _topic, _property in mix) == pytest.approx(1.0)
    service = OnvifSimulator(MemoryReactorClock(), OnvifSimulatorConfig(password=Secret("pw"), cameras=2,
                                                                        event_kinds=("motion", "line"), seed=1))
    generator: EventGenerator = service.fleet.events
    for _ in range(200):
        generator.one()
    raised = {topic for camera in service.fleet.cameras.values() for (topic, _source) in camera.properties}
    assert raised == {MOTION}
    with pytest.raises(Expected):
        OnvifSimulatorConfig(password=Secret("pw"), event_kinds=("motion", "fireworks"))
    with pytest.raises(Expected):
        OnvifSimulatorConfig(password=Secret("pw"), event_kinds=())


def test_the_default_chatter_is_the_whole_mix():
    """Without event_kinds every kind of event still comes, as before."""
    generator = EventGenerator(MemoryReactorClock(), [], 1, random.Random(0))
    assert generator._mix == EVENT_MIX


# --- the adapter hears them ------------------------------------------------------------------------------


class CuedScene(Scene):
    """The real adapter on a fleet run as the demo runs it: an OnvifSimulator service, cued by the script."""

    async def start(self, cameras: int = 2, **settings: Any) -> None:  # type: ignore[override]
        self.simulator = OnvifSimulator(reactor, OnvifSimulatorConfig(
            password=Secret(PASSWORD), username=USERNAME, cameras=cameras, base_port=0),
            log=structlog.get_logger().bind(side="simulator"))
        await self.simulator.startService()
        self.fleet = self.simulator.fleet
        await self._start_adapter(**settings)

    async def _start_adapter(self, **settings: Any) -> None:
        from hub.events import EventFactory
        from hub.runtime import SupervisedAdapter
        from plugins.onvif.config import CameraConfig, OnvifConfig
        from tests.plugins.onvif.test_adapter_with_simulator import (
            ADAPTER,
            FAST,
            ONVIF,
            QUICK,
        )

        assert self.fleet is not None
        cameras = {number: CameraConfig(host=camera.host, port=camera.port, name=f"Simulated {number}")
                   for number, camera in self.fleet.cameras.items()}
        config = OnvifConfig(cameras=cameras, username=USERNAME, password=Secret(PASSWORD), **{**FAST, **settings})
        self.adapter = SupervisedAdapter(
            name=ADAPTER, adapter_type=ONVIF, config=config, supervision=QUICK, reactor=reactor, bus=self.bus,
            log=structlog.get_logger(), events=EventFactory(reactor, ADAPTER), directory=self.directory,
            evidence=self.evidence)
        self.adapter.startService()

    async def close(self) -> None:
        try:
            await self.stop_adapter()
        finally:
            await self.simulator.stopService()
            self.fleet = None
            await self.bus.close()


@pytest_twisted.async_yield_fixture
async def cued(tmp_path: Path):
    opened = CuedScene(tmp_path)
    yield opened
    await opened.close()


@pytest_twisted.ensureDeferred
async def test_the_adapter_hears_a_cued_tamper_and_help_point_start_and_end(cued):
    """The hub sees tamper and the help point's input start, then end, on the cued camera only."""
    await cued.start()
    await cued.online("1")
    await cued.online("2")
    mark = cued.watch.mark()
    cued.simulator.cue("tamper", {"camera": "2", "for_s": 0.3})
    cued.simulator.cue("help_point", {"camera": "2", "for_s": 0.3})
    for topic in ("onvif.tamper.started", "onvif.input.started", "onvif.tamper.ended", "onvif.input.ended"):
        await cued.watch.of(topic, "2", since=mark)
    assert not [event for event in cued.watch.events[mark:] if event.topic.startswith("onvif.tamper.")
                and event.subject.id == "1"]


@pytest_twisted.ensureDeferred
async def test_the_adapter_sees_a_cued_camera_go_offline_and_come_back(cued):
    """offline, then online: the hub reports the camera offline, then online again by itself."""
    await cued.start(cameras=1)
    await cued.online("1")
    mark = cued.watch.mark()
    cued.simulator.cue("offline", {"camera": "1"})
    # Noticed at the pull point's next renewal at the latest (a few seconds with the test's timings).
    await cued.watch.of("onvif.camera.offline", "1", since=mark, deadline_s=10.0)
    cued.simulator.cue("online", {"camera": "1"})
    await cued.online("1", since=mark)
    assert cued.watch.topics("1", since=mark) == ["onvif.camera.offline", "onvif.camera.online"]
