"""What operators and rules can ask of a camera, and how each request ends in exactly one outcome.

``goto_preset``, ``move``, ``stop`` and ``home`` steer a PTZ camera; ``snapshot`` keeps a still as
evidence on the command's incident; ``stream_uri`` fetches the live stream's address for sharing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from twisted.internet.defer import CancelledError, Deferred
from twisted.python.failure import Failure

from hub.api import CommandArgument, CommandSpec
from hub.commands import CommandRefused, check_arguments, outcome_event
from hub.events import (
    CommandOutcomeKind,
    CommandRequested,
    Event,
    EventFactory,
    Location,
    Severity,
    Subject,
)
from hub.evidence import EvidenceRefused
from hub.secrets import Secret, redact
from plugins.onvif.camera import describe, find_preset
from plugins.onvif.client import (
    AuthFailed,
    CameraBusy,
    CameraReplyError,
    CameraUnreachable,
    NoSnapshot,
)
from plugins.onvif.config import CameraConfig
from plugins.onvif.events import (
    AUTH_FAILED,
    CameraRef,
    EvidenceRef,
    SnapshotTaken,
    StreamShared,
)
from plugins.onvif.transport import Timeout

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
DEFAULT_MOVE_S = 2

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
_SPECS = {spec.verb: spec for spec in COMMANDS}
_PTZ_VERBS = ("goto_preset", "move", "stop", "home")


class _Refused(Exception):
    """The command cannot be carried out as asked; it was never sent to the camera."""


class _Failed(Exception):
    """The command was tried and failed; the message says why, for a person."""


#: Query parameters cameras put credentials in (``rtsp://cam/stream?user=admin&password=...``).
_CREDENTIAL_PARAMETERS = frozenset({"user", "username", "usr", "login", "password", "passwd", "pwd", "pass",
                                    "auth", "authorization", "token"})


def shareable_uri(uri: str, *, host: str | None = None, secrets: Iterable[Secret] = ()) -> str:
    """``uri`` fit to hand to someone outside: no user name or password in it, wherever the camera put
    them, and the configured ``host`` in place of the one the camera reported (which may be a private
    address behind NAT). ``ValueError`` if it is not an absolute URI."""
    parts = urlsplit(uri.strip())
    if not parts.scheme or not parts.netloc:
        raise ValueError(f"not an absolute address: {uri[:80]!r}")
    address = parts.netloc.rpartition("@")[2]
    # A port the camera doubled (":8106:8106", quirk 4) is taken once.
    if address.startswith("["):
        reported_host, _, rest = address[1:].partition("]")
        port_text = rest.lstrip(":").split(":")[0]
    else:
        reported_host, _, port_text = address.partition(":")
        port_text = port_text.split(":")[0]
    use_host = host if host is not None else reported_host
    netloc = f"[{use_host}]" if ":" in use_host else use_host
    if port_text.isdigit():
        netloc += f":{int(port_text)}"
    query = urlencode([(name, value) for name, value in parse_qsl(parts.query, keep_blank_values=True)
                       if name.casefold() not in _CREDENTIAL_PARAMETERS], safe="/:")
    shared = urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    return redact(shared, secrets)


class Camera(Protocol):
    """What a command needs of a camera: its client, what it said at the last connection, its names."""

    number: str
    client: Any
    camera: CameraConfig
    ref: CameraRef
    subject: Subject
    location: Location
    profile: Any
    presets: tuple[Any, ...]
    secrets: tuple[Secret, ...]

    @property
    def state(self) -> str: ...

    async def reread_presets(self) -> tuple[Any, ...]: ...


class CommandHandler:
    """Carries out the commands addressed to one adapter instance; each gets exactly one outcome event.

    ``evidence`` is the hub's evidence store (``put(content, content_type)`` fires with an item); None
    when the hub has none, and then ``snapshot`` fails saying so.
    """

    def __init__(
        self,
        *,
        adapter_type: str,
        cameras: Mapping[str, Camera],
        disabled: Iterable[str] = (),
        events: EventFactory,
        publish: Callable[[Event], None],
        evidence: Any,
        clock: Any,
        ptz_speed: float,
        log: Any,
    ) -> None:
        self._adapter_type = adapter_type
        self._cameras = cameras
        self._disabled = frozenset(disabled)
        self._events = events
        self._publish = publish
        self._evidence = evidence
        self._clock = clock
        self._ptz_speed = ptz_speed
        self._log = log
        self._auto_stops: dict[str, Any] = {}
        self._running: set[Deferred[Any]] = set()

    def __call__(self, command: Event) -> None:
        # Returns at once, so the bus delivers the next command while this one waits for its camera.
        request: CommandRequested = command.payload
        log = self._log.bind(command_id=command.id, verb=request.verb, requested_by=request.requested_by)
        spec = _SPECS.get(request.verb)
        if spec is None:
            self._outcome(command, log, CommandOutcomeKind.REFUSED, f"{self._adapter_type} has no command "
                                                                    f"{request.verb!r}")
            return
        try:
            arguments = check_arguments(spec, request.arguments)
            camera = self._camera(arguments["camera"])
        except (CommandRefused, _Refused) as error:
            self._outcome(command, log, CommandOutcomeKind.REFUSED, str(error))
            return
        log = log.bind(camera=camera.number)
        log.info("command_received")
        running = Deferred.fromCoroutine(self._run(command, request.verb, camera, arguments))
        self._running.add(running)
        running.addBoth(self._finished, running)
        running.addCallbacks(
            lambda settled: self._outcome(command, log, *settled),
            lambda failure: self._outcome(command, log, *self._failed(failure, camera, log)),
        )

    def close(self) -> None:
        """The adapter is stopping: commands still waiting for a camera end ``failed``; no timer is left."""
        for timer in self._auto_stops.values():
            if timer.active():
                timer.cancel()
        self._auto_stops.clear()
        for running in list(self._running):
            running.cancel()

    def _finished(self, result: Any, running: Deferred[Any]) -> Any:
        self._running.discard(running)
        return result

    def _camera(self, number: str) -> Camera:
        if number in self._disabled:
            raise _Refused(f"camera {number} is out of service here (enabled = false)")
        camera = self._cameras.get(number)
        if camera is None:
            raise _Refused(f"camera {number} is not one of this adapter's cameras")
        return camera

    async def _run(self, command: Event, verb: str, camera: Camera,
                   arguments: Mapping[str, Any]) -> tuple[CommandOutcomeKind, str]:
        if verb == "move":
            seconds = arguments.get("seconds", DEFAULT_MOVE_S)
            if not 1 <= seconds <= MAX_MOVE_S:
                return CommandOutcomeKind.REFUSED, f"seconds must be from 1 to {MAX_MOVE_S}"
        profile = self._profile(camera, ptz=verb in _PTZ_VERBS)
        client = camera.client
        token = profile.token
        if verb == "goto_preset":
            return await self._goto_preset(camera, token, arguments["preset"])
        if verb == "move":
            return await self._move(camera, token, arguments["direction"], seconds)
        if verb == "stop":
            self._cancel_auto_stop(camera.number)
            await client.stop(token)
            return CommandOutcomeKind.DELIVERED, f"camera {camera.number} stopped"
        if verb == "home":
            self._cancel_auto_stop(camera.number)
            await client.goto_home(token)
            return CommandOutcomeKind.DELIVERED, f"camera {camera.number} is turning to its home position"
        if verb == "snapshot":
            return await self._snapshot(command, camera, token)
        return await self._stream_uri(command, camera, token)

    def _profile(self, camera: Camera, *, ptz: bool) -> Any:
        profile = camera.profile
        if profile is None:
            raise _Failed(f"camera {camera.number} has not been reached yet ({camera.state})")
        if camera.state in (AUTH_FAILED,):
            raise _Failed(f"camera {camera.number} refuses the hub's credentials")
        if ptz and not profile.has_ptz:
            raise _Failed(f"camera {camera.number} has no PTZ (profile {profile.token})")
        return profile

    async def _goto_preset(self, camera: Camera, token: str, wanted: str) -> tuple[CommandOutcomeKind, str]:
        self._cancel_auto_stop(camera.number)
        preset = find_preset(camera.presets, wanted)
        if preset is None:
            # Not among the presets read at the last connection: they may have changed since (quirk 9).
            preset = find_preset(await camera.reread_presets(), wanted)
        if preset is None:
            known = ", ".join(_preset_label(p) for p in camera.presets[:20]) or "none"
            raise _Failed(f"camera {camera.number} has no preset {wanted!r} (it has: {known})")
        try:
            await camera.client.goto_preset(token, preset.token)
        except CameraReplyError:
            # A token from before a reboot may be gone while the same name has a new one (quirk 9).
            if preset.name is None:
                raise
            again = find_preset(await camera.reread_presets(), preset.name)
            if again is None or again.token == preset.token:
                raise
            self._log.info("preset_token_changed", camera=camera.number, old=preset.token, new=again.token)
            preset = again
            await camera.client.goto_preset(token, preset.token)
        return CommandOutcomeKind.DELIVERED, f"camera {camera.number} is turning to preset {_preset_label(preset)}"

    async def _move(self, camera: Camera, token: str, direction: str, seconds: int) -> tuple[CommandOutcomeKind, str]:
        pan, tilt, zoom = (axis * self._ptz_speed for axis in DIRECTIONS[direction])
        self._cancel_auto_stop(camera.number)
        await camera.client.continuous_move(token, pan, tilt, zoom, float(seconds))
        # Some cameras ignore the move's Timeout and keep turning: the hub sends Stop itself as well.
        self._auto_stops[camera.number] = self._clock.callLater(seconds, self._auto_stop, camera, token)
        moving = f"camera {camera.number} is moving {direction.replace('_', ' ')} for {seconds} s"
        return CommandOutcomeKind.DELIVERED, moving

    def _auto_stop(self, camera: Camera, token: str) -> None:
        self._auto_stops.pop(camera.number, None)
        stopping = Deferred.fromCoroutine(camera.client.stop(token))
        stopping.addErrback(lambda failure: self._log.warning("auto_stop_failed", camera=camera.number,
                                                              error=failure.getErrorMessage()))

    def _cancel_auto_stop(self, number: str) -> None:
        timer = self._auto_stops.pop(number, None)
        if timer is not None and timer.active():
            timer.cancel()

    async def _snapshot(self, command: Event, camera: Camera, token: str) -> tuple[CommandOutcomeKind, str]:
        if self._evidence is None:
            raise _Failed("this hub keeps no evidence, so a snapshot would be lost")
        content_type, content = await camera.client.snapshot(token)
        try:
            item = await self._evidence.put(content, content_type)
        except EvidenceRefused as error:
            raise _Failed(f"the camera's snapshot was not kept: {error}") from error
        evidence = EvidenceRef(sha256=item.sha256, content_type=item.content_type, size=item.size, url=item.url)
        request: CommandRequested = command.payload
        self._publish(self._events(
            SnapshotTaken.TYPE,
            SnapshotTaken(camera=camera.ref, evidence=evidence, requested_by=request.requested_by, profile=token),
            severity=Severity.INFO, subject=camera.subject, location=camera.location,
            summary=f"{describe(camera.ref)}: snapshot kept as evidence (SHA-256 {item.sha256})",
            incident_id=command.incident_id, causation_id=command.id,
        ))
        return CommandOutcomeKind.DELIVERED, f"snapshot kept as evidence, SHA-256 {item.sha256}"

    async def _stream_uri(self, command: Event, camera: Camera, token: str) -> tuple[CommandOutcomeKind, str]:
        # The client has already put the configured host in and dropped any user name and password from
        # the address; what is left to clear is credentials cameras put elsewhere (the query).
        reported = await camera.client.stream_uri(token)
        try:
            uri = shareable_uri(reported, secrets=camera.secrets)
        except ValueError as error:
            raise _Failed(f"camera {camera.number} gave a stream address the hub cannot use") from error
        request: CommandRequested = command.payload
        self._publish(self._events(
            StreamShared.TYPE,
            StreamShared(camera=camera.ref, uri=uri, requested_by=request.requested_by, profile=token),
            severity=Severity.INFO, subject=camera.subject, location=camera.location,
            summary=f"{describe(camera.ref)}: stream address {uri}",
            incident_id=command.incident_id, causation_id=command.id,
        ))
        return CommandOutcomeKind.DELIVERED, f"stream address: {uri}"

    def _failed(self, failure: Failure, camera: Camera, log: Any) -> tuple[CommandOutcomeKind, str]:
        error = failure.value
        number = camera.number
        if failure.check(CancelledError):
            return CommandOutcomeKind.FAILED, "the adapter stopped before the camera answered"
        if failure.check(_Failed):
            return CommandOutcomeKind.FAILED, str(error)
        if failure.check(AuthFailed):
            return CommandOutcomeKind.FAILED, f"camera {number} refuses the hub's credentials"
        if failure.check(CameraUnreachable):
            if _timed_out(error):
                return CommandOutcomeKind.TIMED_OUT, f"camera {number} did not answer in time"
            return CommandOutcomeKind.FAILED, f"camera {number} cannot be reached: {error}"
        if failure.check(NoSnapshot):
            return CommandOutcomeKind.FAILED, f"camera {number} gives no snapshot address"
        if failure.check(CameraReplyError):
            return CommandOutcomeKind.FAILED, f"camera {number} refused it: {error}"
        if failure.check(CameraBusy):
            return CommandOutcomeKind.FAILED, f"too many requests are waiting for camera {number} already"
        log.error("command_failed_unexpectedly", error=failure.getErrorMessage(), exception=failure.getTraceback())
        return CommandOutcomeKind.FAILED, f"unexpected error: {failure.type.__name__}"

    def _outcome(self, command: Event, log: Any, outcome: CommandOutcomeKind, detail: str) -> None:
        log.info("command_ended", outcome=outcome.value, detail=detail)
        self._publish(outcome_event(self._events, self._adapter_type, command, outcome, detail))


def _timed_out(error: CameraUnreachable) -> bool:
    """Whether the camera was reached but did not answer in time (rather than not reached at all)."""
    return isinstance(error.cause, Timeout)


def _preset_label(preset: Any) -> str:
    return f"{preset.name} ({preset.token})" if preset.name and preset.name != preset.token else preset.token
