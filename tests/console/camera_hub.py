"""``hub`` as an operator runs it, with one extra plugin: a test camera adapter for the console's cameras view,
preset drop-downs and snapshot evidence (run as ``python tests/console/camera_hub.py user add ...`` and
``... run --config FILE``).

The ``console_camera`` adapter makes two cameras known: 42 (online, presets "Market Sq" and "Bus station")
and 43 (offline, preset "Car park"). Its commands:

- ``alarm(camera)``: publishes ``console_camera.motion.started`` (high, so an incident opens) on the camera;
- ``goto_preset(camera, preset)`` (the preset from the camera's ``presets``): answered ``delivered``
  naming the camera and preset token;
- ``snapshot(camera)``: keeps a small PNG in the hub's evidence store and publishes
  ``console_camera.snapshot.taken`` with its ``evidence`` on the command's incident, then ``delivered``;
- ``set_state(camera, state)``: changes the camera's state in the directory and publishes
  ``console_camera.camera.<state>``, as a real adapter does when a camera goes offline.
"""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path
from typing import Any, ClassVar

from attrs import frozen
from twisted.application.service import Service

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from hub import cli, plugins  # noqa: E402 - after the path is set
from hub.api import AdapterContext, AdapterType, CommandArgument, CommandSpec  # noqa: E402
from hub.commands import outcome_event, subscribe_commands  # noqa: E402
from hub.directory import Asset  # noqa: E402
from hub.events import CommandOutcomeKind, Event, Location, Severity, Subject  # noqa: E402
from hub.hookspecs import hookimpl  # noqa: E402

CAMERAS = {
    "42": ("High St / Market Sq", "online", [{"token": "1", "name": "Market Sq"}, {"token": "2", "name": "Bus station"}]),
    "43": ("Car park entrance", "offline", [{"token": "P9", "name": "Car park"}]),
}


def png(width: int = 8, height: int = 6) -> bytes:
    """A tiny valid red PNG, so the browser really decodes and shows it."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@frozen
class CameraConfig:
    site: str = "Market Place"


@frozen
class MotionStarted:
    TYPE: ClassVar[str] = "console_camera.motion"

    camera: str


@frozen
class Evidence:
    sha256: str
    content_type: str
    size: int
    url: str


@frozen
class SnapshotTaken:
    TYPE: ClassVar[str] = "console_camera.snapshot"

    camera: str
    evidence: Evidence


@frozen
class CameraStateChanged:
    TYPE: ClassVar[str] = "console_camera.camera_state"

    camera: str
    state: str


_CAMERA = CommandArgument("camera", "Camera", kind="camera", max_length=20, prefill="location.camera")
COMMANDS = (
    CommandSpec("alarm", "Raise a motion alarm", arguments=(_CAMERA,)),
    CommandSpec("goto_preset", "Go to preset", arguments=(
        _CAMERA, CommandArgument("preset", "Preset", max_length=64, options_from="presets")),
        applies_to=("console_camera.#",)),
    CommandSpec("snapshot", "Take a snapshot", arguments=(_CAMERA,), applies_to=("console_camera.#",)),
    CommandSpec("set_state", "Set state", arguments=(
        _CAMERA, CommandArgument("state", "State", kind="choice", choices=("online", "offline", "degraded")))),
)


class CameraAdapter(Service):
    def __init__(self, context: AdapterContext) -> None:
        self.context = context
        self._commands: Any = None

    def startService(self) -> None:  # noqa: N802 - Twisted's name
        super().startService()
        now = self.context.reactor.seconds()
        for number, (name, state, presets) in CAMERAS.items():
            self.context.directory.put(Asset(
                kind="camera", id=number, name=name, source=self.context.name, state=state, state_since=now - 90,
                attributes={"presets": presets, "fibre_node": "node-07", "ptz": True}))
        self._commands = subscribe_commands(self.context, self._on_command)

    def stopService(self) -> None:  # noqa: N802 - Twisted's name
        super().stopService()
        if self._commands is not None:
            self._commands.cancel()

    def _event(self, topic: str, payload: Any, camera: str, summary: str, severity: Severity = Severity.INFO,
               command: Event | None = None) -> Event:
        return self.context.events(
            topic, payload, severity=severity, subject=Subject(kind="camera", id=camera),
            location=Location(name=self.context.config.site, camera=camera), summary=summary,
            incident_id=command.incident_id if command is not None else None,
            causation_id=command.id if command is not None else None)

    async def _on_command(self, command: Event) -> None:
        request = command.payload
        arguments = request.arguments
        camera = arguments["camera"]
        detail = None
        if request.verb == "alarm":
            await self.context.bus.publish(self._event(
                "console_camera.motion.started", MotionStarted(camera), camera, f"Motion on camera {camera}",
                Severity.HIGH))
        elif request.verb == "goto_preset":
            detail = f"camera {camera} at preset {arguments['preset']}"
        elif request.verb == "snapshot":
            item = await self.context.evidence.put(png(), "image/png")
            await self.context.bus.publish(self._event(
                "console_camera.snapshot.taken", SnapshotTaken(camera, Evidence(**item.to_json())), camera,
                f"Snapshot from camera {camera}", command=command))
            detail = f"kept as evidence, SHA-256 {item.sha256}"
        elif request.verb == "set_state":
            state = arguments["state"]
            self.context.directory.set_state("camera", camera, state, self.context.reactor.seconds())
            await self.context.bus.publish(self._event(
                f"console_camera.camera.{state}", CameraStateChanged(camera, state), camera,
                f"Camera {camera} is {state}"))
        await self.context.bus.publish(
            outcome_event(self.context.events, "console_camera", command, CommandOutcomeKind.DELIVERED, detail))


class ConsoleCameraPlugin:
    @hookimpl
    def hub_register_adapter_types(self) -> list[AdapterType]:
        return [AdapterType(name="console_camera", config_class=CameraConfig, factory=CameraAdapter, commands=COMMANDS)]

    @hookimpl
    def hub_register_event_types(self) -> list[type]:
        return [MotionStarted, SnapshotTaken, CameraStateChanged]


if __name__ == "__main__":
    real = plugins.make_plugin_manager
    cli.make_plugin_manager = lambda **kwargs: real(
        **kwargs, extra_plugins=[(ConsoleCameraPlugin(), "console_camera")]
    )
    sys.exit(cli.main(sys.argv[1:]))
