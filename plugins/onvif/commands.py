"""What operators and rules can ask of a camera, and how each request ends in exactly one outcome.

``goto_preset``, ``move``, ``stop`` and ``home`` steer a PTZ camera; ``snapshot`` keeps a still as
evidence on the command's incident; ``stream_uri`` fetches the live stream's address for sharing.
"""

from __future__ import annotations

from hub.api import CommandArgument, CommandSpec

#: Directions ``move`` takes, each a (pan, tilt, zoom) velocity of unit size.
DIRECTIONS: dict[str, tuple[float, float, float]] = {
    "up": (0.0, 1.0, 0.0),
    "down": (0.0, -1.0, 0.0),
    "left": (-1.0, 0.0, 0.0),
    "right": (1.0, 0.0, 0.0),
    "zoom_in": (0.0, 0.0, 1.0),
    "zoom_out": (0.0, 0.0, -1.0),
}
MAX_MOVE_S = 30

_CAMERA = CommandArgument(name="camera", title="Camera", kind="camera", max_length=20, prefill="location.camera")
_CAMERA_TOPICS = ("onvif.#",)

GOTO_PRESET = CommandSpec(
    verb="goto_preset",
    title="Go to preset",
    description="Turn the camera to one of its presets (by name or token).",
    arguments=(_CAMERA, CommandArgument(name="preset", title="Preset", max_length=64, options_from="presets")),
    applies_to=_CAMERA_TOPICS,
)
MOVE = CommandSpec(
    verb="move",
    title="Move",
    description=f"Pan, tilt or zoom for a few seconds (1 to {MAX_MOVE_S}); the hub stops the camera after them.",
    arguments=(
        _CAMERA,
        CommandArgument(name="direction", title="Direction", kind="choice", choices=tuple(DIRECTIONS)),
        CommandArgument(name="seconds", title="Seconds", kind="integer", required=False),
    ),
    applies_to=_CAMERA_TOPICS,
)
STOP = CommandSpec(verb="stop", title="Stop moving", description="Stop any pan, tilt or zoom.",
                   arguments=(_CAMERA,), applies_to=_CAMERA_TOPICS)
HOME = CommandSpec(verb="home", title="Go home", description="Turn the camera to its home position.",
                   arguments=(_CAMERA,), applies_to=_CAMERA_TOPICS)
SNAPSHOT = CommandSpec(
    verb="snapshot",
    title="Take a snapshot",
    description="Keep a still from the camera as evidence on this incident, with its SHA-256.",
    arguments=(_CAMERA,),
    applies_to=_CAMERA_TOPICS,
)
STREAM_URI = CommandSpec(
    verb="stream_uri",
    title="Share the stream address",
    description="Fetch the camera's live stream address (without credentials) for sharing, e.g. with the police.",
    arguments=(_CAMERA,),
    applies_to=_CAMERA_TOPICS,
)

COMMANDS: tuple[CommandSpec, ...] = (GOTO_PRESET, MOVE, STOP, HOME, SNAPSHOT, STREAM_URI)
