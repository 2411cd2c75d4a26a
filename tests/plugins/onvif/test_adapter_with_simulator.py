"""The real ONVIF adapter against simulated cameras that misbehave, over real sockets on loopback.

Every quirk in /work/shared/protocols/onvif.md, switched on in the simulator (``CameraQuirks``), with the
whole hub side real: ``OnvifAdapter`` supervised as the runtime runs it, its HTTP transport, client and
pull points, on the real reactor, publishing to a real bus on a SQLite journal, with a directory and an
evidence store. Commands reach it through the bus as the console sends them. Each test asserts what the
room would see: the camera's health events, its alarms, its commands' outcomes, and what the simulated
camera did. Unit tests with fakes for each piece live beside this file; this is the pieces together.

Every wait is for a condition, with a deadline; stopping the adapter must leave no pull point on any
camera (checked when each scene closes).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
import structlog
from twisted.internet import reactor
from twisted.internet.defer import Deferred, TimeoutError
from twisted.internet.task import deferLater

from hub.commands import command_topic
from hub.config import SupervisionConfig
from hub.directory import Directory
from hub.events import CommandRequested, Event, EventFactory, Severity, Subject
from hub.evidence import EvidenceStore
from hub.runtime import SupervisedAdapter
from hub.secrets import Secret
from hub.testing import BusHarness
from plugins.onvif.config import CameraConfig, OnvifConfig
from plugins.onvif.events import EVENT_TYPES
from plugins.onvif.plugin import plugin
from plugins.onvif.sim_camera import (
    IGNORED_RELATIVE_TERMINATION_S,
    PRESET_NAMES,
    CameraQuirks,
    SimulatedCamera,
)
from plugins.onvif.simulator import OnvifSimulatorConfig, SimulatedFleet

#: Each wait's deadline: every step here takes milliseconds on loopback, unless a test waits for a timer.
DEADLINE_S = 5.0
USERNAME = "hub"
PASSWORD = "sim-password-4f1c"
MOTION = "tns1:VideoSource/MotionAlarm"
ADAPTER = "onvif.cameras"
HEALTH = ("onvif.camera.online", "onvif.camera.offline", "onvif.camera.auth_failed", "onvif.camera.degraded")

[ONVIF] = plugin.hub_register_adapter_types()
QUICK = SupervisionConfig(restart_initial_s=0.1, restart_max_s=0.2, restart_jitter=0.0, healthy_after_s=1.0)

#: The adapter's timings, short enough for a test and within what its config accepts.
FAST: dict[str, Any] = {
    "startup_spread_s": 0.0, "retry_min_s": 0.2, "retry_max_s": 0.5, "poll_timeout_s": 2.0,
    "subscription_s": 10.0, "request_timeout_s": 3.0, "connect_timeout_s": 1.0, "failures_before_offline": 1,
}


def pause(seconds: float) -> Deferred[None]:
    return deferLater(reactor, seconds, lambda: None)


async def until(condition: Callable[[], Any], what: str, deadline_s: float = DEADLINE_S) -> Any:
    """Poll ``condition`` on the reactor until it is truthy (its value is returned), or fail saying ``what``."""
    give_up = reactor.seconds() + deadline_s
    while True:
        value = condition()
        if value:
            return value
        if reactor.seconds() >= give_up:
            raise AssertionError(f"not within {deadline_s:g} s: {what}")
        await pause(0.02)


class Watch:
    """Every event on the bus, in order; waits for one (already seen or still to come) with a deadline."""

    def __init__(self, bus: Any) -> None:
        self.events: list[Event] = []
        self._waiting: list[tuple[Callable[[Event], bool], int, Deferred[Event]]] = []
        self.subscription = bus.subscribe("#", self._seen)

    def mark(self) -> int:
        """Where the events seen so far end: pass it as ``since`` to wait only for later ones."""
        return len(self.events)

    def first(self, wanted: Callable[[Event], bool], *, since: int = 0, deadline_s: float = DEADLINE_S,
              what: str = "") -> Deferred[Event]:
        waiting: Deferred[Event] = Deferred()
        self._waiting.append((wanted, since, waiting))
        self._check()

        def timed_out(failure: Any) -> Any:
            failure.trap(TimeoutError)
            seen = [(event.topic, event.subject.id if event.subject else None) for event in self.events[since:]]
            raise AssertionError(f"no {what or 'such event'} within {deadline_s:g} s; seen: {seen}")

        return waiting.addTimeout(deadline_s, reactor).addErrback(timed_out)

    def of(self, topic: str, camera: str, *, since: int = 0, deadline_s: float = DEADLINE_S,
           where: Callable[[Event], bool] = lambda event: True) -> Deferred[Event]:
        """The first event with ``topic`` about camera ``camera``."""
        return self.first(lambda event: event.topic == topic and about(event, camera) and where(event),
                          since=since, deadline_s=deadline_s, what=f"{topic} for camera {camera}")

    def topics(self, camera: str, *, since: int = 0, prefix: str = "onvif.camera.") -> list[str]:
        """The topics of the events about ``camera`` seen so far, starting with ``prefix``."""
        return [event.topic for event in self.events[since:]
                if event.topic.startswith(prefix) and about(event, camera)]

    def _seen(self, event: Event) -> None:
        self.events.append(event)
        self._check()

    def _check(self) -> None:
        for entry in list(self._waiting):
            wanted, since, waiting = entry
            if waiting.called:
                self._waiting.remove(entry)
                continue
            found = next((event for event in self.events[since:] if wanted(event)), None)
            if found is not None:
                self._waiting.remove(entry)
                waiting.callback(found)


def about(event: Event, camera: str) -> bool:
    return event.subject is not None and event.subject.kind == "camera" and event.subject.id == camera


class Scene:
    """A simulated fleet (one camera per ``CameraQuirks`` given, numbered from 1) and the real adapter on
    it, with a bus on a SQLite journal, a directory and an evidence store."""

    def __init__(self, tmp_path: Path) -> None:
        self.bus = BusHarness(tmp_path, clock=reactor, event_types=EVENT_TYPES).bus
        self.watch = Watch(self.bus)
        self.directory = Directory()
        self.evidence = EvidenceStore(tmp_path / "evidence")
        self.fleet: SimulatedFleet | None = None
        self.adapter: SupervisedAdapter | None = None
        self.stopped = False
        #: Pull points the hub cannot give back (the camera refuses even Unsubscribe), left to expire.
        self.unremovable_pull_points = 0

    async def start(self, *quirks: CameraQuirks, password: str = PASSWORD, **settings: Any) -> None:
        fleet_config = OnvifSimulatorConfig(
            password=Secret(PASSWORD), username=USERNAME, cameras=len(quirks), base_port=0,
            camera={str(index): each for index, each in enumerate(quirks, start=1)},
        )
        self.fleet = SimulatedFleet(reactor, fleet_config, log=structlog.get_logger().bind(side="simulator"))
        await self.fleet.start()
        cameras = {number: CameraConfig(host=camera.host, port=camera.port, name=f"Simulated {number}",
                                        site="Test Street", fibre_node="node-01")
                   for number, camera in self.fleet.cameras.items()}
        config = OnvifConfig(cameras=cameras, username=USERNAME, password=Secret(password),
                             **{**FAST, **settings})
        self.adapter = SupervisedAdapter(
            name=ADAPTER, adapter_type=ONVIF, config=config, supervision=QUICK, reactor=reactor, bus=self.bus,
            log=structlog.get_logger(), events=EventFactory(reactor, ADAPTER), directory=self.directory,
            evidence=self.evidence,
        )
        self.adapter.startService()

    def camera(self, number: str) -> SimulatedCamera:
        assert self.fleet is not None
        return self.fleet.camera(number)

    async def online(self, number: str, *, since: int = 0, deadline_s: float = DEADLINE_S) -> Event:
        return await self.watch.of("onvif.camera.online", number, since=since, deadline_s=deadline_s)

    async def motion(self, number: str, *, deadline_s: float = DEADLINE_S) -> Event:
        """Motion starts and then ends on simulated camera ``number``; the hub's started event (once its
        ended event came too, so that the hub and the camera agree motion is off again)."""
        camera = self.camera(number)
        mark = self.watch.mark()
        camera.raise_event(MOTION, state=True)
        started = await self.watch.of("onvif.motion.started", number, since=mark, deadline_s=deadline_s)
        camera.raise_event(MOTION, state=False)
        await self.watch.of("onvif.motion.ended", number, since=mark, deadline_s=deadline_s)
        return started

    async def command(self, verb: str, camera: str, *, deadline_s: float = DEADLINE_S, **arguments: Any) -> Event:
        """Ask for ``verb`` on ``camera`` as the console does; the command's outcome event."""
        command = EventFactory(reactor, "hub.api")(
            command_topic("onvif", verb),
            CommandRequested(adapter=ADAPTER, verb=verb, arguments={"camera": camera, **arguments},
                             requested_by="olive"),
            severity=Severity.INFO, subject=Subject(kind="adapter", id=ADAPTER), summary=f"olive: {verb}",
        )
        self.bus.publish(command)
        return await self.watch.first(
            lambda event: event.topic.startswith("onvif.command.")
            and getattr(event.payload, "command_id", None) == command.id,
            deadline_s=deadline_s, what=f"outcome of {verb}")

    async def stop_adapter(self) -> None:
        """Stop the adapter; no camera may be left holding a pull point of the hub's."""
        if self.adapter is not None and not self.stopped:
            self.stopped = True
            await self.adapter.stopService()
        if self.fleet is not None:
            left = {number: camera.live_pull_points() for number, camera in self.fleet.cameras.items()}
            assert all(count <= self.unremovable_pull_points for count in left.values()), (
                f"pull points left on cameras after the adapter stopped: {left}")

    async def close(self) -> None:
        try:
            await self.stop_adapter()
        finally:
            if self.fleet is not None:
                await self.fleet.stop()
            await self.bus.close()


@pytest_twisted.async_yield_fixture
async def scene(tmp_path):
    opened = Scene(tmp_path)
    yield opened
    await opened.close()


def quirks(**changes: Any) -> CameraQuirks:
    return CameraQuirks(**changes)


# --- the baseline: a well-behaved camera ---------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_a_well_behaved_camera_is_identified_online_and_its_motion_reaches_the_bus(scene):
    """Without quirks: identified with its presets, online, motion started and ended on the bus, and the
    directory says online; the journal has the events (the bus published them through it)."""
    await scene.start(quirks())
    identified = (await scene.watch.of("onvif.camera.identified", "1")).payload
    assert identified.ptz and [preset.name for preset in identified.presets] == list(PRESET_NAMES)
    await scene.online("1")
    started = await scene.motion("1")
    assert started.payload.kind == "motion" and started.payload.topic == MOTION
    ended = [event for event in scene.watch.events if event.topic == "onvif.motion.ended"]
    assert [event.payload.stale for event in ended] == [False]
    assert scene.directory.get("camera", "1").state == "online"
    assert scene.camera("1").live_pull_points() == 1


# --- 1. clock skew and auth faults -------------------------------------------------------------------------


@pytest.mark.parametrize("skew_s", [3600.0, -3600.0])
@pytest_twisted.ensureDeferred
async def test_a_camera_an_hour_off_is_online_and_its_motion_arrives(scene, skew_s):
    """Quirk 1: a token signed with the hub's clock would be refused; signed with the camera's, it is not.
    The event's time is put back on the hub's clock."""
    await scene.start(quirks(clock_skew_s=skew_s))
    await scene.online("1")
    started = await scene.motion("1")
    assert abs((started.occurred_at - started.received_at).total_seconds()) < 3
    assert scene.camera("1").auth_failures["time_check"] == 0


@pytest_twisted.ensureDeferred
async def test_a_camera_whose_clock_resets_on_reboot_is_reread_and_its_events_flow_again(scene):
    """Quirk 1: after a reboot the camera's clock is back in 2000; the hub's next signed request is refused
    on time, it re-reads the clock once, and events flow again without the camera being called auth_failed."""
    await scene.start(quirks(clock_resets_on_reboot=True))
    await scene.online("1")
    await scene.motion("1")
    mark = scene.watch.mark()
    scene.camera("1").reboot()
    assert abs(scene.camera("1").now() - datetime(2000, 1, 1, tzinfo=UTC).timestamp()) < 60
    await until(lambda: scene.camera("1").live_pull_points() == 1
                and scene.camera("1").requests["CreatePullPointSubscription"] >= 2, "a new pull point after reboot")
    started = await scene.motion("1")
    assert abs((started.occurred_at - started.received_at).total_seconds()) < 3
    assert "onvif.camera.auth_failed" not in scene.watch.topics("1", since=mark)


@pytest_twisted.ensureDeferred
async def test_a_camera_that_wants_auth_even_for_its_time_is_online(scene):
    """Quirk 1: GetSystemDateAndTime refused unsigned; the hub asks again signed."""
    await scene.start(quirks(time_needs_auth=True))
    await scene.online("1")
    await scene.motion("1")
    assert scene.camera("1").requests["GetSystemDateAndTime"] >= 2


# --- 2. subscription times ---------------------------------------------------------------------------------


@pytest.mark.parametrize("quirk", [
    {"relative_termination": "reject"},
    {"absolute_termination_needs_z": True, "relative_termination": "reject"},
    {"missing_termination_is_500": True},
    {"missing_termination_is_500": True, "relative_termination": "reject"},
], ids=["relative_rejected", "absolute_needs_z", "missing_is_500", "missing_is_500_relative_rejected"])
@pytest_twisted.ensureDeferred
async def test_subscription_time_quirks_still_subscribe_and_events_flow(scene, quirk):
    """Quirk 2: whatever form of InitialTerminationTime the camera wants, one pull point is opened and
    motion arrives."""
    await scene.start(quirks(**quirk))
    await scene.online("1")
    await scene.motion("1")
    assert scene.camera("1").live_pull_points() == 1


@pytest_twisted.ensureDeferred
async def test_a_camera_that_ignores_relative_times_is_renewed_before_its_own_short_lifetime_ends(scene):
    """Quirk 2: asked for 20 s, the camera gives its own 10 s: the hub goes by the camera's times, renews
    before they run out, and events still arrive after the first lifetime would have ended."""
    await scene.start(quirks(relative_termination="ignore"), subscription_s=20.0)
    await scene.online("1")
    camera = scene.camera("1")
    [pull_point] = camera.pull_points.values()
    first_end = pull_point.termination
    assert first_end - reactor.seconds() <= IGNORED_RELATIVE_TERMINATION_S
    await until(lambda: camera.requests["Renew"] >= 1, "a renewal", deadline_s=IGNORED_RELATIVE_TERMINATION_S)
    assert [p.termination > first_end for p in camera.pull_points.values()] == [True]
    await scene.motion("1")


# --- 3. leaked pull points ---------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_a_camera_full_of_leaked_pull_points_is_degraded_until_they_expire_then_online(scene):
    """Quirk 3: all the camera's pull points are held by someone else's leaks: the camera is degraded (not
    offline, not auth failed), and online with events once they expire; the hub never holds more than one."""
    await scene.start(quirks(max_pull_points=2, leaked_pull_points=2, leaked_for_s=1.5))
    degraded = await scene.watch.of("onvif.camera.degraded", "1")
    assert "subscri" in degraded.payload.reason.lower()
    await scene.online("1", deadline_s=DEADLINE_S)
    await scene.motion("1")
    assert scene.camera("1").live_pull_points() == 1
    assert "onvif.camera.offline" not in scene.watch.topics("1")
    assert "onvif.camera.auth_failed" not in scene.watch.topics("1")


@pytest_twisted.ensureDeferred
async def test_a_camera_that_drops_every_subscription_on_unsubscribe_keeps_sending_events(scene):
    """Quirk 3: one Unsubscribe drops all the camera's pull points. The hub unsubscribes its old pull point
    only before opening another (here after a reboot), so its new one is not lost, and events flow."""
    await scene.start(quirks(unsubscribe_drops_all=True))
    await scene.online("1")
    await scene.motion("1")
    camera = scene.camera("1")
    camera.reboot()
    await until(lambda: camera.requests["CreatePullPointSubscription"] >= 2 and camera.live_pull_points() == 1,
                "a new pull point after reboot")
    await scene.motion("1")
    assert camera.live_pull_points() == 1


@pytest_twisted.ensureDeferred
async def test_pull_points_told_apart_by_a_subscription_id_header_deliver_events(scene):
    """Quirk 3 (Axis): every pull point shares the event service's address; the hub sends back the
    SubscriptionId reference parameter, or its polls would reach no pull point."""
    await scene.start(quirks(subscription_id_header=True))
    await scene.online("1")
    await scene.motion("1")
    await scene.motion("1")
    assert scene.camera("1").live_pull_points() == 1


# --- 4. wrong reported addresses ---------------------------------------------------------------------------


@pytest.mark.parametrize("quirk", [
    {"doubled_port": True},
    {"reported_host": "192.0.2.10"},
    {"reported_port": 9},
    {"new_pull_point_address": True},
], ids=["doubled_port", "reported_host", "reported_port", "new_pull_point_address"])
@pytest_twisted.ensureDeferred
async def test_a_camera_reporting_wrong_addresses_is_reached_at_the_configured_one(scene, quirk):
    """Quirk 4: services, pull points and the snapshot are reached at the configured host and port whatever
    the camera says; events flow and a snapshot is kept as evidence."""
    await scene.start(quirks(**quirk))
    await scene.online("1")
    await scene.motion("1")
    outcome = await scene.command("snapshot", "1")
    assert outcome.topic == "onvif.command.delivered", outcome.summary
    taken = await scene.watch.of("onvif.snapshot.taken", "1")
    assert taken.payload.evidence.content_type == "image/png"
    assert scene.evidence.get(taken.payload.evidence.sha256) is not None
    outcome = await scene.command("stream_uri", "1")
    assert outcome.topic == "onvif.command.delivered", outcome.summary
    shared = await scene.watch.of("onvif.stream.shared", "1")
    assert shared.payload.uri.startswith("rtsp://127.0.0.1:554/"), shared.payload.uri


@pytest_twisted.ensureDeferred
async def test_a_new_pull_point_address_after_a_reboot_is_followed(scene):
    """Quirk 4: the pull point's address changes with each one made; after a reboot the hub polls the new."""
    await scene.start(quirks(new_pull_point_address=True))
    await scene.online("1")
    camera = scene.camera("1")
    [before] = camera.pull_points
    camera.reboot()
    await until(lambda: camera.live_pull_points() == 1 and before not in camera.pull_points,
                "a pull point at a new address")
    await scene.motion("1")


# --- 5. malformed times ------------------------------------------------------------------------------------


@pytest.mark.parametrize("malformed", ["minute_61", "dash", "zeros"])
@pytest_twisted.ensureDeferred
async def test_an_event_with_a_malformed_time_still_arrives_with_a_sensible_time(scene, malformed):
    """Quirk 5: the event arrives; its time is the camera's when readable (put on the hub's clock: the
    camera is an hour behind), else when the hub received it; never a year-0 or an hour-off time."""
    await scene.start(quirks(malformed_times=malformed, clock_skew_s=-3600.0))
    await scene.online("1")
    started = await scene.motion("1")
    assert timedelta(0) <= started.received_at - started.occurred_at < timedelta(seconds=3)
    assert started.payload.camera_time is not None


# --- 6. connections closed mid-poll -------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_a_camera_that_hangs_up_idle_polls_stays_online(scene):
    """Quirk 6: with nothing to say, the camera closes the long poll instead of answering it empty. Several
    such polls later the camera is still online (no offline or degraded), on its one pull point, and
    motion still arrives."""
    await scene.start(quirks(close_idle_polls=True), poll_timeout_s=1.0)
    await scene.online("1")
    mark = scene.watch.mark()
    camera = scene.camera("1")
    polls = camera.requests["PullMessages"]
    await until(lambda: camera.requests["PullMessages"] >= polls + 3, "three idle polls", deadline_s=6.0)
    await scene.motion("1")
    assert scene.watch.topics("1", since=mark) == []
    assert scene.directory.get("camera", "1").state == "online"
    assert camera.requests["CreatePullPointSubscription"] == 1 and camera.live_pull_points() == 1


# --- 7. capabilities that lie --------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_a_pull_point_that_answers_401_makes_the_camera_degraded_never_auth_failed(scene):
    """Quirk 7: the events service makes pull points that then refuse (HTTP 401) the credentials the device
    accepts, Unsubscribe included. With the hysteresis the room runs (three failures before a verdict) the
    camera ends degraded, saying why, and is never called auth_failed. Since the hub cannot give such a pull
    point back, it must not open another on every retry: that fills the camera with pull points nobody can
    use and locks its other clients (the recorder) out of events (quirk 3). One may be left when the
    adapter stops; it expires by itself."""
    await scene.start(quirks(pull_point_answers_401=True, max_pull_points=8), failures_before_offline=3)
    scene.unremovable_pull_points = 1
    camera = scene.camera("1")
    degraded = await scene.watch.of("onvif.camera.degraded", "1", deadline_s=4.0)
    assert "credentials" in degraded.payload.reason
    await pause(1.0)  # several retries at the adapter's back-off
    assert camera.live_pull_points() <= 1, f"{camera.requests['CreatePullPointSubscription']} pull points opened"
    assert "onvif.camera.auth_failed" not in scene.watch.topics("1")
    assert scene.directory.get("camera", "1").state == "degraded"


@pytest_twisted.ensureDeferred
async def test_unreadable_get_services_falls_back_to_get_capabilities(scene):
    """Quirk 7: GetServices answers broken XML; GetCapabilities gives the addresses; events flow."""
    await scene.start(quirks(unparseable=("GetServices",)))
    await scene.online("1")
    await scene.motion("1")
    assert scene.camera("1").requests["GetCapabilities"] >= 1


@pytest_twisted.ensureDeferred
async def test_unreadable_presets_leave_the_camera_online_without_presets(scene):
    """Quirk 7: GetPresets answers broken XML: the camera is online with no presets known, not degraded."""
    await scene.start(quirks(unparseable=("GetPresets",)))
    await scene.online("1")
    identified = (await scene.watch.of("onvif.camera.identified", "1")).payload
    assert identified.ptz and identified.presets == ()
    assert scene.directory.get("camera", "1").attributes["presets"] == []
    await scene.motion("1")
    outcome = await scene.command("goto_preset", "1", preset="Car Park")
    assert outcome.topic == "onvif.command.failed", outcome.summary
    assert "GetPresets" in outcome.payload.detail


@pytest_twisted.ensureDeferred
async def test_unreadable_pull_replies_make_the_camera_degraded(scene):
    """Quirk 7: every PullMessages reply is broken XML: the camera answers but delivers nothing usable,
    so it is degraded (not offline, not auth failed), and it keeps no more than one pull point."""
    await scene.start(quirks(unparseable=("PullMessages",)), poll_timeout_s=1.0)
    camera = scene.camera("1")
    await until(lambda: camera.live_pull_points() == 1, "a pull point")
    camera.raise_event(MOTION, state=True)
    degraded = await scene.watch.of("onvif.camera.degraded", "1", deadline_s=8.0)
    assert degraded.payload.reason
    assert not {"onvif.camera.offline", "onvif.camera.auth_failed"} & set(scene.watch.topics("1"))
    assert camera.live_pull_points() <= 1


# --- 8. stuck events ---------------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_motion_the_camera_never_clears_is_ended_stale_by_the_hub(scene):
    """Quirk 8: the clearing notification never comes; after motion_stuck_after_s the hub ends it, stale."""
    await scene.start(quirks(stuck_events=True), motion_stuck_after_s=1.0)
    await scene.online("1")
    camera = scene.camera("1")
    camera.raise_event(MOTION, state=True)
    started = await scene.watch.of("onvif.motion.started", "1")
    assert camera.raise_event(MOTION, state=False) is None  # the camera swallows it
    ended = await scene.watch.of("onvif.motion.ended", "1", deadline_s=3.0)
    assert ended.payload.stale is True
    assert ended.payload.lasted_s == pytest.approx(1.0, abs=0.5)
    assert ended.received_at - started.received_at >= timedelta(seconds=0.9)


# --- 9. snapshots and PTZ --------------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_a_snapshot_from_a_camera_with_no_snapshot_uri_fails_saying_so(scene):
    """Quirk 9: GetSnapshotUri answers without a Uri: the camera is online, and the snapshot command fails
    with a reason an operator can read, keeping nothing."""
    await scene.start(quirks(snapshot_uri_missing=True))
    await scene.online("1")
    outcome = await scene.command("snapshot", "1")
    assert outcome.topic == "onvif.command.failed"
    assert "snapshot address" in outcome.payload.detail
    assert not [event for event in scene.watch.events if event.topic == "onvif.snapshot.taken"]


@pytest_twisted.ensureDeferred
async def test_a_preset_picked_by_name_is_reached_after_a_reboot_renumbers_the_presets(scene):
    """Quirk 9: after a reboot the camera's preset tokens are new; go to "Car Park" by name is delivered and
    the camera turns there and says so (the preset-reached event reaches the bus)."""
    await scene.start(quirks(presets_change_on_reboot=True))
    await scene.online("1")
    camera = scene.camera("1")
    assert camera.preset_tokens() == ("1", "2", "3", "4")
    camera.reboot()
    assert camera.preset_tokens() == ("101", "102", "103", "104")
    await until(lambda: camera.live_pull_points() == 1, "a new pull point after reboot")
    mark = scene.watch.mark()
    outcome = await scene.command("goto_preset", "1", preset="Car Park")
    assert outcome.topic == "onvif.command.delivered", outcome.summary
    assert "103" in outcome.payload.detail
    (pan, tilt, zoom), moving = camera.ptz_status()
    assert (pan, tilt, zoom) == pytest.approx((0.25, 0.3, 0.6)) and not moving
    reached = await scene.watch.of("onvif.preset.reached", "1", since=mark)
    assert ("PresetToken", "103") in [(item.name, item.value) for item in reached.payload.data]


@pytest_twisted.ensureDeferred
async def test_goto_preset_is_delivered_to_a_camera_that_refuses_speed(scene):
    """Quirk 9: GotoPreset with a Speed is a fault on this camera; the hub's goto is delivered and done."""
    await scene.start(quirks(goto_preset_rejects_speed=True))
    await scene.online("1")
    outcome = await scene.command("goto_preset", "1", preset="High Street")
    assert outcome.topic == "onvif.command.delivered", outcome.summary
    assert scene.camera("1").ptz_status()[0] == pytest.approx((-0.25, 0.2, 0.4))


@pytest_twisted.ensureDeferred
async def test_stop_halts_a_camera_that_ignores_the_stop_operation(scene):
    """Quirk 9: Stop is answered and ignored; only a zero-velocity move stops this camera. After move and
    stop through the bus, the simulated head is not moving and stays where it stopped."""
    await scene.start(quirks(stop_ignored=True))
    await scene.online("1")
    camera = scene.camera("1")
    outcome = await scene.command("move", "1", direction="right", seconds=10)
    assert outcome.topic == "onvif.command.delivered", outcome.summary
    await until(lambda: camera.ptz_status()[0][0] > 0.02, "the head panning right")
    outcome = await scene.command("stop", "1")
    assert outcome.topic == "onvif.command.delivered", outcome.summary
    position, moving = camera.ptz_status()
    assert not moving
    await pause(0.2)
    assert camera.ptz_status()[0] == position


# --- reboots, outages, credentials -----------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_events_flow_again_after_a_reboot_drops_the_pull_point(scene):
    """A reboot loses every pull point: the hub opens a new one (and only one) and events flow again."""
    await scene.start(quirks())
    await scene.online("1")
    await scene.motion("1")
    camera = scene.camera("1")
    camera.reboot()
    assert camera.live_pull_points() == 0
    await until(lambda: camera.live_pull_points() == 1, "a new pull point after reboot")
    await scene.motion("1")
    assert camera.live_pull_points() == 1


@pytest_twisted.ensureDeferred
async def test_motion_that_starts_again_after_a_reboot_is_reported(scene):
    """Motion is on when the camera reboots; a reboot forgets it (the camera's property states start
    afresh, and it never sends the clearing event). When the camera next reports motion starting, on its
    new pull point, the room must hear of it: the hub may end the old one (stale or not) but must not
    swallow the new start as a repeat of the one before the reboot."""
    await scene.start(quirks())
    await scene.online("1")
    camera = scene.camera("1")
    camera.raise_event(MOTION, state=True)
    await scene.watch.of("onvif.motion.started", "1")
    camera.reboot()
    await until(lambda: camera.live_pull_points() == 1, "a new pull point after reboot")
    await pause(0.3)  # the synchronisation burst of the new pull point is in
    mark = scene.watch.mark()
    camera.raise_event(MOTION, state=True)
    await scene.watch.of("onvif.motion.started", "1", since=mark)


@pytest_twisted.ensureDeferred
async def test_a_camera_that_goes_away_is_offline_once_and_online_once_when_back(scene):
    """With the room's hysteresis (three failures), a camera that stops listening is called offline once
    (not once per retry), and online once when it listens again; its events then flow."""
    await scene.start(quirks(), quirks(), failures_before_offline=3)
    await scene.online("1")
    await scene.online("2")
    mark = scene.watch.mark()
    camera = scene.camera("1")
    await camera.go_offline()
    await scene.watch.of("onvif.camera.offline", "1", since=mark, deadline_s=8.0)
    failures = camera.requests.total()
    await pause(1.0)  # several retries while away, none of them reported
    assert scene.watch.topics("1", since=mark) == ["onvif.camera.offline"]
    await camera.come_back()
    await scene.online("1", since=mark, deadline_s=3.0)
    await scene.motion("1")
    assert scene.watch.topics("1", since=mark) == ["onvif.camera.offline", "onvif.camera.online"]
    assert scene.watch.topics("2", since=mark) == []  # the other camera never noticed
    assert camera.requests.total() > failures


@pytest_twisted.ensureDeferred
async def test_a_wrong_password_makes_the_camera_auth_failed_and_names_no_secret(scene):
    await scene.start(quirks(), password="not-the-password")
    failed = await scene.watch.of("onvif.camera.auth_failed", "1")
    assert scene.directory.get("camera", "1").state == "auth_failed"
    assert "onvif.camera.online" not in scene.watch.topics("1")
    assert "not-the-password" not in repr(failed) and PASSWORD not in repr(failed)


@pytest.mark.parametrize("auth", ["http_digest", "both", "either"])
@pytest_twisted.ensureDeferred
async def test_a_camera_that_wants_http_digest_is_online_and_its_events_and_snapshots_flow(scene, auth):
    """Some cameras want HTTP Digest instead of (or as well as) WS-Security; the snapshot is behind it too."""
    await scene.start(quirks(auth=auth))
    await scene.online("1")
    await scene.motion("1")
    outcome = await scene.command("snapshot", "1")
    assert outcome.topic == "onvif.command.delivered", outcome.summary


# --- a fleet of quirks at once ----------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_a_fleet_of_differently_broken_cameras_are_all_online_with_events(scene):
    """Every quirk that should leave a camera fully usable, each on its own camera of one fleet, all at
    once through one adapter: each is online and its motion reaches the bus."""
    fleet = [
        quirks(),
        quirks(clock_skew_s=7200.0, time_needs_auth=True, auth="either"),
        quirks(relative_termination="reject", absolute_termination_needs_z=True, missing_termination_is_500=True),
        quirks(subscription_id_header=True, unsubscribe_drops_all=True),
        quirks(doubled_port=True, reported_host="192.0.2.10", new_pull_point_address=True),
        quirks(malformed_times="minute_61", close_idle_polls=True),
        quirks(unparseable=("GetServices", "GetPresets"), snapshot_uri_missing=True),
        quirks(auth="http_digest", digest_algorithm="SHA-256", goto_preset_rejects_speed=True, stop_ignored=True),
    ]
    await scene.start(*fleet)
    numbers = [str(index) for index in range(1, len(fleet) + 1)]
    for number in numbers:
        await scene.online(number)
    mark = scene.watch.mark()
    for number in numbers:
        scene.camera(number).raise_event(MOTION, state=True)
    for number in numbers:
        await scene.watch.of("onvif.motion.started", number, since=mark)
    assert {number: scene.directory.get("camera", number).state for number in numbers} == dict.fromkeys(
        numbers, "online")
