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

from hub.api import SimulatorContext, SimulatorType
from hub.clock import now_utc
from hub.config import Expected, between, one_of
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


class PolicePeerSimulator(Service):
    """The force end under the hub: PKI on first start, the peer, and a round of scripted requests."""

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
