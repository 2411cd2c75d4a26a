"""Fakes for the ONVIF adapter tests: cameras that answer from a script, pull points the test drives, and a
harness that runs the real adapter on the test clock and bus and reads back events and the directory."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import structlog
from twisted.internet.defer import CancelledError, Deferred, succeed

from hub.api import AdapterContext
from hub.commands import command_event
from hub.directory import Directory
from hub.events import CommandRequested, Event, EventFactory, Severity, Subject
from hub.evidence import EvidenceStore
from hub.testing import BusHarness, settle
from plugins.onvif.adapter import OnvifAdapter
from plugins.onvif.client import CameraUnreachable, NoSnapshot
from plugins.onvif.codec.device import DeviceInformation
from plugins.onvif.codec.events import Notification
from plugins.onvif.codec.media import Profile
from plugins.onvif.codec.ptz import Preset
from plugins.onvif.commands import COMMANDS
from plugins.onvif.config import CameraConfig, OnvifConfig
from plugins.onvif.events import EVENT_TYPES

NAME = "onvif.town"
JPEG = b"\xff\xd8\xff\xe0" + b"snapshot" * 10

PTZ_PROFILE = Profile(token="Profile_1", name="main", has_ptz=True, ptz_configuration_token="PTZ_1",
                      encoding="H264", width=1920, height=1080)
FIXED_PROFILE = Profile(token="Profile_2", name="sub", has_ptz=False, ptz_configuration_token=None,
                        encoding="H264", width=640, height=360)


def camera_config(**overrides: Any) -> CameraConfig:
    values: dict[str, Any] = {"host": "10.1.2.42", "name": "High St / Market Sq", "site": "Market Square",
                              "fibre_node": "node-07", "latitude": 52.1, "longitude": -1.2}
    return CameraConfig(**{**values, **overrides})


def fleet(cameras: dict[str, CameraConfig] | None = None, **overrides: Any) -> OnvifConfig:
    values: dict[str, Any] = {"startup_spread_s": 0, "retry_min_s": 5, "retry_max_s": 40}
    return OnvifConfig(cameras=cameras if cameras is not None else {"42": camera_config()}, **{**values, **overrides})


def notification(topic: str, *, data: tuple[tuple[str, str], ...] = (), source: tuple[tuple[str, str], ...] = (),
                 operation: str | None = "Changed", utc: str | None = "2026-11-22T10:00:00Z",
                 key: tuple[tuple[str, str], ...] = ()) -> Notification:
    parsed = datetime.fromisoformat(utc) if utc else None
    return Notification(topic=topic, operation=operation, utc_time=parsed, raw_utc_time=utc, source=source,
                        key=key, data=data, producer=None)


def motion(state: bool, operation: str = "Changed", **kwargs: Any) -> Notification:
    return notification("tns1:VideoSource/MotionAlarm", data=(("State", "true" if state else "false"),),
                        source=(("Source", "VideoSource_1"),), operation=operation, **kwargs)


@attrs.define
class FakeCamera:
    """What one simulated camera answers. ``errors`` maps an operation to the exception it raises;
    ``held`` names operations that wait until the test fires them (``pending``)."""

    info: DeviceInformation = attrs.field(factory=lambda: DeviceInformation(
        manufacturer="Acme", model="PTZ-9000", firmware_version="1.0", serial_number="SN42", hardware_id="HW1"))
    profiles: tuple[Profile, ...] = (PTZ_PROFILE, FIXED_PROFILE)
    presets: tuple[Preset, ...] = (Preset("1", "Market Sq"), Preset("2", "Bus station"))
    snapshot_uri: str | None = "http://10.1.2.42/snap.jpg"
    snapshot: tuple[str, bytes] = ("image/jpeg", JPEG)
    stream_uri: str = "rtsp://10.1.2.42:554/stream1"
    media: str = "media2"
    errors: dict[str, BaseException] = attrs.Factory(dict)
    held: set[str] = attrs.Factory(set)
    pending: dict[str, list[Deferred[Any]]] = attrs.Factory(dict)
    calls: list[tuple[Any, ...]] = attrs.Factory(list)
    subscriptions: list[FakeSubscription] = attrs.Factory(list)
    #: Subscription: what open() raises, whether close() answers.
    subscribe_error: BaseException | None = None
    close_hangs: bool = False

    def down(self, why: str = "connection refused") -> None:
        """The camera stops answering anything (a reboot, a cable cut)."""
        self.errors["*"] = CameraUnreachable(why)

    def up(self) -> None:
        self.errors.pop("*", None)

    def operations(self) -> list[str]:
        return [call[0] for call in self.calls]

    @property
    def subscription(self) -> FakeSubscription:
        return self.subscriptions[-1]


class FakeClient:
    """A ``CameraClient`` for one ``FakeCamera``: same methods, answers from the script."""

    def __init__(self, camera: FakeCamera, number: str) -> None:
        self.camera = camera
        self.number = number
        self.clock_offset_s = 0.0
        self.media: str | None = None
        self.services: dict[str, str] = {}

    async def _answer(self, operation: str, *arguments: Any, value: Any = None) -> Any:
        camera = self.camera
        camera.calls.append((operation, *arguments))
        if operation in camera.held:
            waiting: Deferred[Any] = Deferred()
            camera.pending.setdefault(operation, []).append(waiting)
            await waiting
        error = camera.errors.get(operation) or camera.errors.get("*")
        if error is not None:
            raise error
        return value() if callable(value) else value

    async def sync_clock(self) -> datetime:
        return await self._answer("GetSystemDateAndTime", value=datetime(2026, 11, 22, tzinfo=UTC))

    async def discover_services(self) -> dict[str, str]:
        self.services = await self._answer("GetServices", value={"events": "http://x/onvif/events"})
        return self.services

    async def device_information(self) -> DeviceInformation:
        return await self._answer("GetDeviceInformation", value=lambda: self.camera.info)

    async def profiles(self) -> tuple[Profile, ...]:
        profiles = await self._answer("GetProfiles", value=lambda: self.camera.profiles)
        self.media = self.camera.media
        return profiles

    async def stream_uri(self, token: str) -> str:
        return await self._answer("GetStreamUri", token, value=lambda: self.camera.stream_uri)

    async def snapshot_uri(self, token: str) -> str | None:
        return await self._answer("GetSnapshotUri", token, value=lambda: self.camera.snapshot_uri)

    async def snapshot(self, token: str) -> tuple[str, bytes]:
        if self.camera.snapshot_uri is None:
            self.camera.calls.append(("GetSnapshot", token))
            raise NoSnapshot(f"camera {self.number} gives no snapshot URI")
        return await self._answer("GetSnapshot", token, value=lambda: self.camera.snapshot)

    async def presets(self, token: str) -> tuple[Preset, ...]:
        return await self._answer("GetPresets", token, value=lambda: self.camera.presets)

    async def goto_preset(self, token: str, preset: str, speed: float | None = None) -> None:
        await self._answer("GotoPreset", token, preset)

    async def continuous_move(self, token: str, pan: float, tilt: float, zoom: float,
                              timeout_s: float | None) -> None:
        await self._answer("ContinuousMove", token, pan, tilt, zoom, timeout_s)

    async def stop(self, token: str) -> None:
        await self._answer("Stop", token)

    async def goto_home(self, token: str) -> None:
        await self._answer("GotoHomePosition", token)


class FakeSubscription:
    """A ``PullPointSubscription`` the test drives: ``notify`` delivers notifications, ``lose`` ends the
    pull loop with an error as a camera that went away does."""

    def __init__(self, camera: FakeCamera, on_notifications: Callable[[tuple[Notification, ...]], None],
                 on_state: Callable[[str, str], None]) -> None:
        self.camera = camera
        self.on_notifications = on_notifications
        self.on_state = on_state
        self.opened = 0
        self.closed = 0
        self.running: Deferred[None] | None = None
        self.closing = False
        camera.subscriptions.append(self)

    async def open(self) -> None:
        if self.opened > self.closed:
            self.camera.calls.append(("Unsubscribe",))  # the real one gives its old pull point back first
            self.closed += 1
        self.camera.calls.append(("CreatePullPointSubscription",))
        error = self.camera.subscribe_error or self.camera.errors.get("*")
        if error is not None:
            raise error
        self.opened += 1
        self.on_state("subscribed", "relative termination")

    async def run(self) -> None:
        self.running = Deferred()
        self.on_state("pulling", "a pull was answered")  # the real one says so after its first pull
        try:
            await self.running
        except CancelledError:
            if self.closing:
                return
            raise

    async def close(self) -> None:
        self.closing = True
        if self.running is not None and not self.running.called:
            self.running.cancel()
        if self.opened > self.closed:
            self.camera.calls.append(("Unsubscribe",))
            self.closed += 1
            if self.camera.close_hangs:
                await Deferred()

    def resubscribe(self) -> None:
        """The pull point was lost while the camera answered (a reboot): the real one reopens it itself."""
        self.on_state("resubscribing", "ResourceUnknownFault")
        self.camera.calls.append(("CreatePullPointSubscription",))
        self.on_state("subscribed", "relative termination")

    def notify(self, *notifications: Notification) -> None:
        self.on_notifications(tuple(notifications))

    def lose(self, error: BaseException | None = None) -> None:
        assert self.running is not None and not self.running.called
        self.running.errback(error or CameraUnreachable("PullMessages: connection refused"))


@attrs.define
class FakeConnections:
    cameras: dict[str, FakeCamera]
    clients: dict[str, FakeClient] = attrs.Factory(dict)
    closed: int = 0

    def client(self, number: str, camera: CameraConfig) -> FakeClient:
        client = self.clients[number] = FakeClient(self.cameras[number], number)
        return client

    def subscription(self, client: FakeClient, on_notifications: Callable[..., None],
                     on_state: Callable[[str, str], None]) -> FakeSubscription:
        return FakeSubscription(client.camera, on_notifications, on_state)

    def close(self) -> Any:
        self.closed += 1
        return succeed(None)


class SequenceRandom:
    """An injected random source: always ``value`` (1.0 gives the shortest jittered wait, 0.0 the full)."""

    def __init__(self, value: float = 0.0) -> None:
        self.value = value

    def __call__(self) -> float:
        return self.value


class Harness:
    """The real adapter on the test clock and bus, its cameras fakes the test scripts."""

    def __init__(self, bus: BusHarness, config: OnvifConfig, *, evidence_dir: Path | None = None,
                 cameras: dict[str, FakeCamera] | None = None, random: float = 0.0) -> None:
        self.bus = bus
        self.clock = bus.clock
        self.config = config
        self.directory = Directory()
        self.heard = 0
        self.failures: list[BaseException] = []
        self.cameras = cameras if cameras is not None else {number: FakeCamera() for number in config.cameras}
        self.connections = FakeConnections(self.cameras)
        self.evidence = EvidenceStore(evidence_dir) if evidence_dir is not None else None
        if EVENT_TYPES[0].TYPE not in bus.registry:
            bus.registry.register_all(EVENT_TYPES)

        def heard() -> None:
            self.heard += 1

        self.context = AdapterContext(
            name=NAME, adapter_type="onvif", reactor=self.clock, bus=bus.bus,
            log=structlog.get_logger().bind(adapter=NAME), config=config, events=EventFactory(self.clock, NAME),
            heard=heard, fail=self.failures.append, directory=self.directory, evidence=self.evidence,
        )
        self.adapter = OnvifAdapter(self.context, connections=lambda _context: self.connections,
                                    random=SequenceRandom(random))

    def start(self) -> Harness:
        self.adapter.startService()
        self.settle()
        return self

    def stop(self) -> Deferred[None]:
        stopped = self.adapter.stopService()
        self.settle()
        return stopped

    def settle(self) -> None:
        settle(self.clock)

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.settle()

    def events(self, pattern: str = "onvif.#") -> list[Event]:
        self.settle()
        return [event for event in self.bus.bus.replay(pattern=pattern) if event.source == NAME]

    def topics(self, pattern: str = "onvif.#") -> list[str]:
        return [event.topic for event in self.events(pattern)]

    def outcomes(self) -> list[tuple[str, str | None]]:
        return [(event.payload.outcome.value, event.payload.detail) for event in self.events("onvif.command.*")]

    def command(self, verb: str, incident_id: str | None = "INC-000042", requested_by: str = "olive",
                **arguments: Any) -> Event:
        spec = {spec.verb: spec for spec in COMMANDS}[verb]
        event = command_event(self.bus.events, adapter=NAME, adapter_type="onvif", spec=spec, arguments=arguments,
                              requested_by=requested_by, incident_id=incident_id)
        self.bus.publish(event)
        self.settle()
        return event

    def raw_command(self, verb: str, arguments: dict[str, Any]) -> Event:
        """A command whose arguments nobody checked (a rule or a partner may send anything)."""
        event = self.bus.events(
            f"command.onvif.{verb}",
            CommandRequested(adapter=NAME, verb=verb, arguments=arguments, requested_by="rule:night"),
            severity=Severity.INFO, subject=Subject(kind="adapter", id=NAME), summary="raw",
        )
        self.bus.publish(event)
        self.settle()
        return event

    def state(self, number: str = "42") -> str | None:
        asset = self.directory.get("camera", number)
        return asset.state if asset is not None else None
