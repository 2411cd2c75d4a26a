"""The force end as a hub simulator (``[simulators.NAME]`` with ``type = "police_peer"``), for ``hub demo``.

It makes a test PKI in ``pki_dir`` when there is none (so the demo's adapter finds its certificate and the
force's CA there), runs a ``PolicePeer`` on ``interface:port``, and, every ``request_every_s``, sends the
next of a round of requests a force would send (live view, monitoring, footage retention, pointing a camera)
about the demo's ``cameras``, so the operator sees each kind arrive.
"""

from __future__ import annotations

import random as random_module
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from attrs import field, frozen
from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.task import LoopingCall

from hub.api import CueRefused, CueSpec, SimulatorContext, SimulatorType
from hub.clock import now_utc
from hub.config import Expected, between, one_of
from plugins.police_link.codec.messages import (
    LiveViewRequest,
    MessageError,
    MonitoredPlace,
    MonitorLocationRequest,
    Officer,
    PointCameraRequest,
    RetainFootageRequest,
    decode_request,
    encode_request,
)
from plugins.police_link.peer import PeerSettings, PolicePeer, listen_for_hub
from plugins.police_link.peer_store import PeerStore
from plugins.police_link.pki import init_pki

PEER_DATABASE = "police-peer.sqlite3"


def _cameras(_instance: object, _attribute: object, value: tuple[str, ...]) -> None:
    if not value or not all(isinstance(number, str) and number for number in value):
        raise Expected('camera numbers as strings, e.g. ["1", "2"]')


@frozen
class PolicePeerSimConfig:
    """The demo's force end: where it listens, where its PKI and its records live, how it answers and asks."""

    pki_dir: Path
    records_dir: Path
    port: int = field(default=18443, validator=between(1, 65535))
    interface: str = "127.0.0.1"
    force: str = "Demo Constabulary"
    answer: Literal["accept", "reject", "manual"] = field(default="accept",
                                                           validator=one_of("accept", "reject", "manual"))
    answer_delay_s: float = field(default=20.0, validator=between(0, 3600))
    request_every_s: float = field(default=0.0, validator=between(0, 86_400))
    cameras: tuple[str, ...] = field(default=("1",), validator=_cameras)
    preset: str = "1"
    server_names: tuple[str, ...] = ("localhost", "127.0.0.1")


#: The kinds of request the ``request`` cue sends, by the names a script uses (the protocol's names work too).
REQUEST_KINDS = {"retain": "retain_footage", "live_view": "live_view", "point_camera": "point_camera",
                 "monitor": "monitor_location"}
#: Which optional arguments of the ``request`` cue each kind takes (``reason`` goes with any).
_KIND_ARGUMENTS = {
    "retain_footage": ("crime_reference", "from_minutes_ago", "to_minutes_ago"),
    "live_view": ("minutes",),
    "point_camera": ("preset",),
    "monitor_location": ("place", "for_minutes"),
}

#: What a demo's script may have the force do (``hub.scenario``); see ``PolicePeerSimulator.cue``.
CUES = (
    CueSpec("request", "the force asks something of the room about a camera: kind retain (footage from "
                       "from_minutes_ago to to_minutes_ago, default 120 to 60, for crime_reference), live_view "
                       "(for minutes, default 10), point_camera (to preset, default the simulator's) or monitor "
                       "(place, for for_minutes, default 30); reason optional",
            arguments=("kind", "camera"),
            optional=("crime_reference", "from_minutes_ago", "to_minutes_ago", "minutes", "preset", "place",
                      "for_minutes", "reason")),
)


class PolicePeerSimulator(Service):
    """The force end under the hub: PKI on first start, the peer, and a round of scripted requests.

    ``cue("request", arguments)`` has the force send one request now, for a demo's script; a request the
    protocol would not carry (an unknown kind, a time range the wrong way round, a crime reference or camera
    number its schema refuses) raises ``CueRefused`` saying why, and nothing is sent.
    """

    cues = CUES

    def __init__(self, reactor: Any, config: PolicePeerSimConfig, *, log: Any = None,
                 rng: random_module.Random | None = None) -> None:
        self._reactor = reactor
        self.config = config
        self._log = log
        self._random = rng if rng is not None else random_module.Random()
        self.peer: PolicePeer | None = None
        self._requests: LoopingCall | None = None
        self._round = 0

    def startService(self) -> "Deferred[None]":  # noqa: N802 - Twisted's name
        super().startService()
        config = self.config
        pki = config.pki_dir
        if not (pki / "ca.pem").exists():
            init_pki(pki, now=now_utc(self._reactor), server_names=config.server_names, force_name=config.force)
            if self._log is not None:
                self._log.info("police_peer_pki_made", directory=str(pki))
        store = PeerStore(config.records_dir / PEER_DATABASE)
        listen = listen_for_hub(self._reactor, port=config.port, interface=config.interface,
                                certificate=pki / "force-server.pem", key=pki / "force-server.key",
                                client_ca=pki / "ca.pem", log=self._log)
        self.peer = PolicePeer(self._reactor, store, listen=listen, log=self._log, rng=self._random,
                               settings=PeerSettings(force=config.force, answer=config.answer,
                                                     answer_delay_s=config.answer_delay_s),
                               show=self._show)
        starting = self.peer.startService()
        if config.request_every_s > 0:
            self._requests = LoopingCall(self._next_request)
            self._requests.clock = self._reactor
            self._requests.start(config.request_every_s, now=False)
        return starting

    def stopService(self) -> "Deferred[None]":  # noqa: N802 - Twisted's name
        super().stopService()
        if self._requests is not None and self._requests.running:
            self._requests.stop()
        if self.peer is None:
            return Deferred.fromCoroutine(_nothing())
        peer = self.peer
        return peer.stopService().addBoth(lambda result: (peer.store.close(), result)[1])

    def _show(self, line: str) -> None:
        if self._log is not None:
            self._log.info("police_peer", said=line)

    def _next_request(self) -> None:
        peer, config = self.peer, self.config
        if peer is None:
            return
        camera = config.cameras[self._round % len(config.cameras)]
        now = now_utc(self._reactor)
        kind = self._round % 4
        self._round += 1
        if kind == 0:
            peer.request_live_view(camera, minutes=10, reason="Officers following a suspect towards the camera")
        elif kind == 1:
            peer.request_monitoring("Market Place", now + timedelta(minutes=30), reason="Pubs closing: disorder reported",
                                    cameras=(camera,))
        elif kind == 2:
            peer.request_retention(f"CR-{int(self._reactor.seconds()) % 100000:05d}-26", (camera,),
                                   now - timedelta(hours=2), now - timedelta(hours=1), reason="Assault reported")
        else:
            peer.request_point_camera(camera, config.preset, reason="Officers attending a call")


    # --- cues ---------------------------------------------------------------------------------------------

    def cue(self, name: str, arguments: dict[str, Any]) -> None:
        """Have the force send the request cue ``name`` describes, now; ``CueRefused`` if it cannot."""
        peer = self.peer
        if peer is None or not self.running:
            raise CueRefused("the force end is not running")
        if name != "request":
            raise CueRefused(f"no cue {name!r}; the force end's cue: request")
        asked = arguments.get("kind")
        kind = REQUEST_KINDS.get(asked, asked) if isinstance(asked, str) else None
        if kind not in _KIND_ARGUMENTS:
            raise CueRefused(f"kind {asked!r} is not one of: {', '.join(REQUEST_KINDS)}")
        extra = [key for key in arguments if key not in ("kind", "camera", "reason", *_KIND_ARGUMENTS[kind])]
        if extra:
            raise CueRefused(f"{', '.join(extra)} {'is' if len(extra) == 1 else 'are'} not for a {kind} request "
                             f"(it takes: {', '.join(('camera', 'reason', *_KIND_ARGUMENTS[kind]))})")
        camera = arguments.get("camera")
        camera = str(camera) if isinstance(camera, int) and not isinstance(camera, bool) else camera
        if not isinstance(camera, str):
            raise CueRefused(f"camera {camera!r} is not a camera number such as \"42\"")
        reason = arguments.get("reason", _REASONS[kind])
        request = self._cued_request(kind, camera, reason, arguments)
        try:
            decode_request(encode_request(request))  # the protocol's own schema: refused here, not by the hub
        except MessageError as error:
            raise CueRefused(f"the force would send an invalid {kind} request: {error}") from None
        if isinstance(request, RetainFootageRequest):
            peer.request_retention(request.crime_reference, request.cameras, request.start, request.end, reason)
        elif isinstance(request, LiveViewRequest):
            peer.request_live_view(camera, minutes=request.minutes, reason=reason)
        elif isinstance(request, PointCameraRequest):
            peer.request_point_camera(camera, request.preset, reason=reason)
        else:
            peer.request_monitoring(request.location.name, request.until, reason=reason, cameras=(camera,))
        if self._log is not None:
            self._log.info("police_peer_cue_played", kind=kind, camera=camera)

    def _cued_request(self, kind: str, camera: str, reason: Any, arguments: dict[str, Any]) -> Any:
        now = now_utc(self._reactor).replace(microsecond=0)  # a force sends whole seconds
        officer = Officer(name="Control room inspector", force=self.config.force)
        if kind == "retain_footage":
            since = _minutes(arguments, "from_minutes_ago", 120, least=0)
            until = _minutes(arguments, "to_minutes_ago", 60, least=0)
            if until >= since:
                raise CueRefused(f"from_minutes_ago ({since:g}) must be further back than to_minutes_ago "
                                 f"({until:g})")
            reference = arguments.get("crime_reference", f"CR-{int(self._reactor.seconds()) % 100000:05d}-26")
            return RetainFootageRequest(request_id="REQ-cue", crime_reference=reference, cameras=(camera,),
                                        start=now - timedelta(minutes=since), end=now - timedelta(minutes=until),
                                        reason=reason, requested_by=officer)
        if kind == "live_view":
            minutes = _minutes(arguments, "minutes", 10, least=1)
            if minutes != int(minutes):
                raise CueRefused(f"minutes {minutes:g} is not a whole number of minutes")
            return LiveViewRequest(request_id="REQ-cue", camera=camera, minutes=int(minutes), reason=reason,
                                   requested_by=officer)
        if kind == "point_camera":
            preset = arguments.get("preset", self.config.preset)
            return PointCameraRequest(request_id="REQ-cue", camera=camera, preset=preset, reason=reason,
                                      requested_by=officer)
        until = now + timedelta(minutes=_minutes(arguments, "for_minutes", 30, least=1))
        place = MonitoredPlace(name=arguments.get("place", "Market Place"))
        return MonitorLocationRequest(request_id="REQ-cue", location=place, until=until, reason=reason,
                                      requested_by=officer, cameras=(camera,))


_REASONS = {
    "retain_footage": "Assault reported: footage needed as evidence",
    "live_view": "Officers following a suspect towards the camera",
    "point_camera": "Officers attending a call",
    "monitor_location": "Pubs closing: disorder reported",
}


def _minutes(arguments: dict[str, Any], name: str, default: float, *, least: float) -> float:
    value = arguments.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not least <= value <= 7 * 24 * 60:
        raise CueRefused(f"{name} {value!r} is not a number of minutes from {least:g} to {7 * 24 * 60}")
    return float(value)


async def _nothing() -> None:
    return None


def simulator_factory(context: SimulatorContext) -> PolicePeerSimulator:
    return PolicePeerSimulator(context.reactor, context.config, log=context.log)


POLICE_PEER_SIMULATOR = SimulatorType(
    name="police_peer",
    config_class=PolicePeerSimConfig,
    factory=simulator_factory,
    description="a force control room's end of the police link (mutual TLS), answering alerts and sending requests",
)
