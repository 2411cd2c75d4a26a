"""Simulated ONVIF cameras for the demo, the integration tests and the benchmark.

A fleet of cameras served from one process, one port each (``sim_server``), each camera a sans-IO model
(``sim_camera``) with Device, Media, Media2, PTZ and Events, WS-Security and HTTP Digest, and every quirk in
the protocol notes switchable per camera. ``ONVIF_SIMULATOR`` lets ``hub demo`` start one from a
``[simulators.NAME]`` table; ``add_arguments`` and ``run`` make ``hub onvif-sim`` for a process of its own
(the benchmark starts it so and waits for its ready line on stdout).

The simulator is written independently of the hub's ONVIF codec, so that each checks the other.
"""

from __future__ import annotations

import argparse
import os
import random as random_module
import sys
import typing
from collections.abc import Mapping
from typing import Any, Literal

import attrs
import structlog
from attrs import field, frozen
from twisted.application.service import Service
from twisted.internet.defer import Deferred, maybeDeferred

from hub.api import CueRefused, CueSpec, SimulatorContext, SimulatorType
from hub.config import Expected, between
from hub.limits import raise_open_file_limit
from hub.secrets import Secret
from plugins.onvif.discovery import DiscoveryResponder, simulated_camera_match
from plugins.onvif.sim_camera import PRESET_NAMES, CameraQuirks, SimulatedCamera
from plugins.onvif.sim_server import EVENT_KINDS, MOTION, SimulatedFleet

__all__ = [
    "ONVIF_SIMULATOR",
    "CameraQuirks",
    "OnvifSimulator",
    "OnvifSimulatorConfig",
    "SimulatedCamera",
    "SimulatedFleet",
    "add_arguments",
    "config_from_arguments",
    "run",
]


def _ports_fit(instance: Any, _attribute: object, value: int) -> None:
    if value and value + instance.cameras - 1 > 65535:
        raise Expected(f"a base port low enough for {instance.cameras} consecutive ports (at most "
                       f"{65536 - instance.cameras}), or 0 for any free ports")


def _camera_numbers(instance: Any, _attribute: object, value: Mapping[str, Any]) -> None:
    numbers = range(instance.first_number, instance.first_number + instance.cameras)
    for number in value:
        if not (number.isdigit() and int(number) in numbers and str(int(number)) == number):
            raise Expected(f"tables named by the fleet's camera numbers, {numbers.start} to {numbers.stop - 1}")


def _event_kinds(_instance: object, _attribute: object, value: tuple[str, ...]) -> None:
    if not value or any(kind not in EVENT_KINDS for kind in value):
        raise Expected(f"one or more of {', '.join(EVENT_KINDS)}")


def _preset_names(_instance: object, _attribute: object, value: tuple[str, ...]) -> None:
    if not 1 <= len(value) <= 8 or any(not (isinstance(name, str) and 0 < len(name.strip()) <= 64) for name in value):
        raise Expected('1 to 8 preset names of at most 64 characters, e.g. ["Street view", "Pub doors"]')
    if len(set(value)) != len(value):
        raise Expected("preset names that differ from one another")


@frozen(kw_only=True)
class OnvifSimulatorConfig:
    """A ``[simulators.NAME]`` table with ``type = "onvif"``: ``cameras`` cameras numbered from
    ``first_number``, camera ``first_number + i`` on port ``base_port + i`` of ``host`` (``base_port = 0``
    takes any free ports), all with one ``username`` and ``password`` (a secret reference).

    ``event_rate`` is camera events per second across the fleet (0: only those raised on demand), of the
    ``event_kinds`` listed (``motion``, ``input``: a help point's button, ``tamper``, ``line``: a line
    crossed, ``vendor``: a vendor's own topic). ``presets`` names every camera's presets (tokens "1" up).
    ``quirks`` is how every camera behaves; ``[simulators.NAME.camera."7"]`` replaces it for camera 7.
    ``discovery`` answers WS-Discovery Probes on 239.255.255.250:3702 for every camera (off by default: the
    port is the real cameras' and tests need no multicast).
    """

    password: Secret
    cameras: int = field(default=8, validator=between(1, 5000))
    first_number: int = field(default=1, validator=between(1, 1_000_000))
    host: str = "127.0.0.1"
    base_port: int = field(default=18000, validator=[between(0, 65535), _ports_fit])
    username: str = "hub"
    event_rate: float = field(default=0.0, validator=between(0, 100_000))
    event_kinds: tuple[str, ...] = field(default=EVENT_KINDS, validator=_event_kinds)
    presets: tuple[str, ...] = field(default=PRESET_NAMES, validator=_preset_names)
    quirks: CameraQuirks = field(factory=CameraQuirks)
    camera: dict[str, CameraQuirks] = field(factory=dict, validator=_camera_numbers)
    seed: int | None = None
    discovery: bool = False


def fleet_discovery(reactor: Any, fleet: SimulatedFleet, log: Any = None) -> DiscoveryResponder:
    """A WS-Discovery responder answering for every camera of ``fleet`` with the address it reports."""
    return DiscoveryResponder(
        reactor, lambda: [simulated_camera_match(camera) for camera in fleet.cameras.values()], log=log
    )


#: The camera events a cue raises, by cue name: the ONVIF topic (a property that starts, and ends after ``for_s``).
CUE_TOPICS = {
    "tamper": "tns1:VideoSource/GlobalSceneChange/AnalyticsService",
    "help_point": "tns1:Device/Trigger/DigitalInput",
    "motion": MOTION,
}
#: How long a cued alarm lasts when the cue does not say.
DEFAULT_CUE_FOR_S = {"tamper": 30.0, "help_point": 5.0, "motion": 10.0}

#: What a demo's script may have the fleet's cameras do (``hub.scenario``); ``camera`` is the fleet's number.
CUES = (
    CueSpec("tamper", "a camera reports tamper (its scene changed: covered, sprayed or turned), cleared after "
                      "for_s (default 30)", arguments=("camera",), optional=("for_s",)),
    CueSpec("help_point", "a help point's button on a camera's digital input is pressed, released after for_s "
                          "(default 5)", arguments=("camera",), optional=("for_s",)),
    CueSpec("motion", "a camera detects motion, ending after for_s (default 10)", arguments=("camera",),
            optional=("for_s",)),
    CueSpec("offline", "a camera stops answering (its link or power lost), back after for_s when given",
            arguments=("camera",), optional=("for_s",)),
    CueSpec("online", "a camera that was offline answers again", arguments=("camera",)),
)


class OnvifSimulator(Service):
    """A simulated fleet as a Twisted service: listening while it runs.

    ``cue(name, arguments)`` plays one of ``CUES`` on one camera for a demo's script; a camera the fleet does
    not have or a duration that is not a number of seconds raises ``CueRefused`` saying so. What a cue
    started and has still to end (an alarm clearing, a camera coming back) is cancelled when the fleet stops.
    """

    cues = CUES

    def __init__(self, reactor: Any, config: OnvifSimulatorConfig, *, log: Any = None) -> None:
        self.config = config
        self._reactor = reactor
        self._log = log if log is not None else structlog.get_logger()
        self.fleet = SimulatedFleet(reactor, config, log=log, random=random_module.Random(config.seed))
        self.discovery = fleet_discovery(reactor, self.fleet, log) if config.discovery else None
        self._later: list[Any] = []

    def startService(self) -> Deferred[None]:
        super().startService()
        starting = self.fleet.start()
        if self.discovery is not None:  # after the cameras listen: their ports are in the answers
            discovery = self.discovery
            starting.addCallback(lambda _: discovery.startService())
        return starting

    def stopService(self) -> Deferred[Any]:
        super().stopService()
        for call in self._later:
            if call.active():
                call.cancel()
        self._later.clear()
        if self.discovery is None or not self.discovery.running:
            return self.fleet.stop()
        return maybeDeferred(self.discovery.stopService).addBoth(lambda _: self.fleet.stop())

    # --- cues ---------------------------------------------------------------------------------------------

    def cue(self, name: str, arguments: dict[str, Any]) -> Deferred[None] | None:
        """Have one camera do what cue ``name`` says, now; ``CueRefused`` if it cannot."""
        if not self.running:
            raise CueRefused("the cameras are not running")
        if name not in {spec.name for spec in CUES}:
            raise CueRefused(f"no cue {name!r}; the cameras' cues: {', '.join(spec.name for spec in CUES)}")
        camera = self._cued_camera(arguments.get("camera"))
        for_s = self._cued_seconds(arguments.get("for_s", DEFAULT_CUE_FOR_S.get(name)))
        network = camera.network
        self._log.info("camera_cue_played", cue=name, camera=camera.number, for_s=for_s)
        if name in CUE_TOPICS:
            topic = CUE_TOPICS[name]
            camera.raise_event(topic, state=True)
            self._after(for_s, camera.raise_event, topic, state=False)
            return None
        if name == "online":
            return network.come_back()
        if not network.online:
            raise CueRefused(f"camera {camera.number} is offline already")
        going = network.go_offline()
        if for_s is not None:
            self._after(for_s, network.come_back)
        return going

    def _cued_camera(self, number: object) -> SimulatedCamera:
        if isinstance(number, int) and not isinstance(number, bool):
            number = str(number)
        if not isinstance(number, str) or number not in self.fleet.cameras:
            first = self.config.first_number
            last = first + self.config.cameras - 1
            raise CueRefused(f"camera {number!r} is not one of the fleet's ({first} to {last}: the simulator's own "
                             "numbers, in the order of its ports)")
        return self.fleet.cameras[number]

    @staticmethod
    def _cued_seconds(value: object) -> float | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 86400:
            raise CueRefused(f"for_s {value!r} is not a number of seconds from 0 to 86400")
        return float(value)

    def _after(self, seconds: float | None, action: Any, *args: Any, **kwargs: Any) -> None:
        if seconds is None:
            return
        self._later = [call for call in self._later if call.active()]
        self._later.append(self._reactor.callLater(seconds, action, *args, **kwargs))


def simulator_factory(context: SimulatorContext) -> OnvifSimulator:
    return OnvifSimulator(context.reactor, context.config, log=context.log)


ONVIF_SIMULATOR = SimulatorType(
    name="onvif",
    config_class=OnvifSimulatorConfig,
    factory=simulator_factory,
    description="ONVIF cameras (Device, Media, PTZ, pull-point events) on one port each, quirks switchable",
)


# --- hub onvif-sim ---------------------------------------------------------------------------------------

_QUIRK_TYPES = typing.get_type_hints(CameraQuirks)


def quirk_value(name: str, text: str) -> Any:
    """A quirk's value from command-line text, by the field's type (``true``, ``3600``, ``a,b``)."""
    if name not in _QUIRK_TYPES:
        raise ValueError(f"no quirk named {name!r}; one of: {', '.join(sorted(_QUIRK_TYPES))}")
    kind = _QUIRK_TYPES[name]
    options = [arg for arg in typing.get_args(kind) if arg is not type(None)]
    if kind is bool:
        if text.lower() not in ("true", "false", "yes", "no", "1", "0", "on", "off"):
            raise ValueError(f"{name} is true or false")
        return text.lower() in ("true", "yes", "1", "on")
    if typing.get_origin(kind) is Literal:
        if text not in options:
            raise ValueError(f"{name} is one of {', '.join(map(str, options))}")
        return text
    if typing.get_origin(kind) is tuple:
        return tuple(part.strip() for part in text.split(",") if part.strip())
    if options and text.lower() in ("none", ""):
        return None
    target = options[0] if options else kind
    return target(text)


def _quirk_argument(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals:
        raise argparse.ArgumentTypeError("written NAME=VALUE, e.g. clock_skew_s=3600")
    return name.strip(), value.strip()


def _camera_quirk_argument(text: str) -> tuple[str, str, str]:
    number, colon, rest = text.partition(":")
    if not colon:
        raise argparse.ArgumentTypeError("written NUMBER:NAME=VALUE, e.g. 7:stuck_events=true")
    return (number.strip(), *_quirk_argument(rest))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cameras", type=int, default=8, help="how many cameras (default 8)")
    parser.add_argument("--first-number", type=int, default=1, help="the first camera's number (default 1)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--base-port", type=int, default=18000,
                        help="port of the first camera; the others follow it (default 18000; 0: any free)")
    parser.add_argument("--event-rate", type=float, default=0.0,
                        help="camera events per second across the fleet (default 0: only typed ones)")
    parser.add_argument("--username", default="hub", help="the cameras' user name (default hub)")
    parser.add_argument("--password-env", default="ONVIF_PASSWORD", metavar="NAME",
                        help="environment variable holding the cameras' password (default ONVIF_PASSWORD)")
    parser.add_argument("--quirk", action="append", type=_quirk_argument, default=[], metavar="NAME=VALUE",
                        help="a quirk for every camera, repeatable (e.g. clock_skew_s=3600)")
    parser.add_argument("--camera-quirk", action="append", type=_camera_quirk_argument, default=[],
                        metavar="NUMBER:NAME=VALUE", help="a quirk for one camera, repeatable")
    parser.add_argument("--seed", type=int, default=None, help="seed for the event generator's choices")
    parser.add_argument("--discovery", action="store_true",
                        help="answer WS-Discovery probes (239.255.255.250:3702) for every camera")


def config_from_arguments(args: argparse.Namespace, environ: Mapping[str, str]) -> OnvifSimulatorConfig:
    """The fleet the command line asks for; ``ValueError`` (``Expected`` included) saying what is wrong."""
    password = environ.get(args.password_env)
    if not password:
        raise ValueError(f"set {args.password_env} to the cameras' password (it is never taken on the command line)")
    try:
        quirks = CameraQuirks(**{name: quirk_value(name, value) for name, value in args.quirk})
        per_camera: dict[str, dict[str, Any]] = {}
        for number, name, value in args.camera_quirk:
            per_camera.setdefault(number, {})[name] = quirk_value(name, value)
        cameras = {number: attrs.evolve(quirks, **changes) for number, changes in per_camera.items()}
    except TypeError as error:
        raise ValueError(str(error)) from None
    return OnvifSimulatorConfig(
        password=Secret(password), cameras=args.cameras, first_number=args.first_number, host=args.host,
        base_port=args.base_port, username=args.username, event_rate=args.event_rate, quirks=quirks,
        camera=cameras, seed=args.seed, discovery=args.discovery)


#: What can be typed at ``hub onvif-sim`` while it runs.
CONSOLE_HELP = ("motion N on|off | input N on|off | event N TOPIC [on|off] | reboot N | offline N | online N | "
                "stats | help")


def console_command(fleet: SimulatedFleet, line: str) -> str:
    """Do what one typed line asks of the fleet; the answer to print."""
    words = line.split()
    if not words:
        return ""
    verb, rest = words[0].lower(), words[1:]
    try:
        if verb == "stats" and not rest:
            return " ".join(f"{key}={value}" for key, value in fleet.stats().items())
        if not rest or rest[0] not in fleet.cameras:
            return CONSOLE_HELP
        camera = fleet.camera(rest[0])
        states = {"on": True, "off": False}
        if verb in ("motion", "input") and len(rest) == 2 and rest[1] in states:
            topic = MOTION if verb == "motion" else "tns1:Device/Trigger/DigitalInput"
            camera.raise_event(topic, state=states[rest[1]])
        elif verb == "event" and len(rest) in (2, 3) and (len(rest) == 2 or rest[2] in states):
            camera.raise_event(rest[1], state=states[rest[2]] if len(rest) == 3 else None)
        elif verb == "reboot" and len(rest) == 1:
            camera.reboot()
        elif verb == "offline" and len(rest) == 1:
            camera.go_offline()
        elif verb == "online" and len(rest) == 1:
            camera.come_back()
        else:
            return CONSOLE_HELP
    except (ValueError, RuntimeError, OSError) as error:
        return f"cannot: {error}"
    return "ok"


def ready_line(fleet: SimulatedFleet) -> str:
    """The line printed on stdout once every camera listens: what a script starting the fleet waits for.

    ``onvif-sim ready cameras=N host=H first_port=P last_port=Q first_number=F event_rate=R``, and with
    ``--base-port 0`` also ``ports=P1,P2,...`` in camera order."""
    first, last = fleet.ports
    line = (f"onvif-sim ready cameras={len(fleet.cameras)} host={fleet.config.host} first_port={first} "
            f"last_port={last} first_number={fleet.config.first_number} event_rate={fleet.config.event_rate:g}")
    if not fleet.config.base_port:  # ports the system chose are in no order: name each camera's
        line += " ports=" + ",".join(str(camera.port) for camera in fleet.cameras.values())
    return line


def run(args: argparse.Namespace) -> int:
    # The one place that starts the real reactor; imported here so that importing this module never does.
    from twisted.internet import stdio
    from twisted.internet.task import react
    from twisted.protocols.basic import LineReceiver

    from hub.logging_setup import configure_logging

    try:
        config = config_from_arguments(args, os.environ)
    except ValueError as error:
        print(f"hub onvif-sim: {error}", file=sys.stderr)
        return 2
    configure_logging(level="info", format="console", stream=sys.stderr)
    raise_open_file_limit(config.cameras * 4 + 256)
    log = structlog.get_logger().bind(simulator="onvif-sim")

    class Console(LineReceiver):
        delimiter = b"\n"

        def __init__(self, fleet: SimulatedFleet) -> None:
            self._fleet = fleet

        def lineReceived(self, line: bytes) -> None:
            answer = console_command(self._fleet, line.decode("utf-8", "replace"))
            if answer:
                self.sendLine(answer.encode("utf-8"))

    def main(reactor: Any) -> Deferred[None]:
        fleet = SimulatedFleet(reactor, config, log=log, random=random_module.Random(config.seed))
        responder = fleet_discovery(reactor, fleet, log) if config.discovery else None

        def started(_: object) -> Deferred[None]:
            print(ready_line(fleet), flush=True)
            if sys.stdin.isatty():
                stdio.StandardIO(Console(fleet), reactor=reactor)
                print(f"type: {CONSOLE_HELP}", file=sys.stderr)

            def stopping() -> Deferred[Any]:
                log.info("camera_fleet_stopping", **fleet.stats())
                if responder is None:
                    return fleet.stop()
                return maybeDeferred(responder.stopService).addBoth(lambda _: fleet.stop())

            reactor.addSystemEventTrigger("before", "shutdown", stopping)
            return Deferred()  # runs until interrupted

        starting = fleet.start()
        if responder is not None:
            starting.addCallback(lambda _: responder.startService())
        return starting.addCallback(started)

    react(main)
    return 0  # pragma: no cover - react exits the process
