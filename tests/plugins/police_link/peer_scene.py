"""The police link end to end on the real reactor: the whole hub and the reference force end, over real sockets
on loopback and real mutual TLS.

``ForceEnd`` is ``PolicePeer`` (what ``hub police-peer`` runs) on its own SQLite file and a fixed port, so it can
be stopped and started again from its store. ``Room`` is ``hub.app.Hub`` itself, built from the tables a
``hub.toml`` would hold: journal, bus, the incident engine, the police link adapter and, when asked, the ONVIF
adapter on a simulated camera; it too can be stopped and built again on the same data folder. ``Relay`` is a
TCP relay between them that can go silent (a line that stops carrying without closing) or cut every connection.

Every wait is for a condition, with a deadline; nothing is asserted about how long anything took.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from twisted.internet import reactor
from twisted.internet.defer import Deferred, TimeoutError
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import deferLater

from hub.app import Hub
from hub.commands import command_topic
from hub.config import validate
from hub.events import (
    CommandRequested,
    Event,
    EventFactory,
    PartnerReportReceived,
    Severity,
    Subject,
)
from hub.plugins import make_plugin_manager
from hub.secrets import Secret
from plugins.onvif.plugin import plugin as onvif_plugin
from plugins.onvif.simulator import OnvifSimulatorConfig, SimulatedFleet
from plugins.police_link import pki
from plugins.police_link.peer import PeerSettings, PolicePeer, listen_for_hub
from plugins.police_link.peer_store import PeerStore
from plugins.police_link.plugin import plugin as police_plugin

#: Each wait's deadline: every step here takes milliseconds on loopback, unless a test waits for a timer.
DEADLINE_S = 10.0
LINK = "police_link.police"
CAMERAS = "onvif.cameras"
FORCE = "Test Constabulary"
CAMERA_PASSWORD = "sim-password-7e2a"
FORCE_SETTINGS = PeerSettings(force=FORCE)

#: Partner reports open an incident each (one per subject); the force's requests that need a person open one.
RULES = {"rules": [
    {"name": "partner reports", "topics": ["partner.report.received"], "action": "open", "join_on": []},
    {"name": "police requests", "topics": ["police.request.received", "police.hold.created",
                                           "police.monitor.started"],
     "min_severity": "medium", "action": "open", "join_on": ["subject"], "category": "police request",
     "join_window_s": 86400},
    {"name": "police request follow-ups", "topics": ["police.request.*", "police.hold.*", "police.monitor.*",
                                                     "police.disclosure.*", "police.live_view.*"],
     "action": "join", "join_on": ["subject"], "join_window_s": 86400},
]}


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


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now (for a force end that starts later)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_pki(directory: Path) -> pki.PkiFiles:
    # OpenSSL judges validity against the system clock, so the certificates are made for it.
    return pki.init_pki(directory, now=datetime.now(UTC))


class Watch:
    """Every event the bus delivers, in order; waits for one (already seen or still to come) with a deadline."""

    def __init__(self, bus: Any) -> None:
        self.events: list[Event] = []
        self._waiting: list[list[Any]] = []
        self.subscription = bus.subscribe("#", self._seen)

    def mark(self) -> int:
        return len(self.events)

    def find(self, topic: str, *, since: int = 0, where: Callable[[Event], bool] = lambda event: True) -> list[Event]:
        return [event for event in self.events[since:] if event.topic == topic and where(event)]

    def first(self, topic: str, *, since: int = 0, deadline_s: float = DEADLINE_S,
              where: Callable[[Event], bool] = lambda event: True) -> Deferred[Event]:
        waiting: Deferred[Event] = Deferred()
        # Each waiter keeps where it has looked up to, so thousands of events are each looked at once.
        entry = [lambda event: event.topic == topic and where(event), since, waiting]
        self._waiting.append(entry)
        self._check()

        def timed_out(failure: Any) -> Any:
            failure.trap(TimeoutError)
            seen = [(event.topic, event.summary[:100]) for event in self.events[since:]][-40:]
            raise AssertionError(f"no {topic} within {deadline_s:g} s; seen (latest 40): {seen}")

        return waiting.addTimeout(deadline_s, reactor).addErrback(timed_out)

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
            entry[1] = len(self.events)
            if found is not None:
                self._waiting.remove(entry)
                waiting.callback(found)


class ForceEnd:
    """The reference force end on ``port``, its records in ``directory``; restartable from its store."""

    def __init__(self, files: pki.PkiFiles, directory: Path, *, port: int = 0, cap_schema: Any = None,
                 settings: PeerSettings = FORCE_SETTINGS) -> None:
        self.files = files
        self.directory = directory
        self.port = port
        self.cap_schema = cap_schema
        self.settings = settings
        self.peer: PolicePeer | None = None
        self.lines: list[str] = []
        #: Every text the force end's session was given (what the hub sent), across restarts.
        self.heard: list[str] = []

    async def start(self) -> PolicePeer:
        log = structlog.get_logger().bind(side="force")
        listen = listen_for_hub(reactor, port=self.port, interface="127.0.0.1",
                                certificate=self.files.server_certificate, key=self.files.server_key,
                                client_ca=self.files.ca_certificate, log=log)
        store = PeerStore(self.directory / "police-peer.sqlite3")
        peer = PolicePeer(reactor, store, listen=listen, settings=self.settings, cap_schema=self.cap_schema,
                          log=log, show=self.lines.append, rng=random.Random(len(self.lines)))
        await peer.startService()
        self.port = peer.port or self.port
        session = peer.session
        assert session is not None
        taking = session.text_received

        def heard(text: str) -> None:
            self.heard.append(text)
            taking(text)

        session.text_received = heard  # type: ignore[method-assign]
        self.peer = peer
        return peer

    async def stop(self) -> None:
        peer, self.peer = self.peer, None
        if peer is not None:
            await peer.stopService()
            peer.store.close()

    @property
    def url(self) -> str:
        return f"wss://127.0.0.1:{self.port}/cctv"

    def transport(self) -> Any:
        """The force end's side of the live connection (a ``FrameTransport``), or None."""
        current = self.peer._current if self.peer is not None else None
        return current._transport if current is not None else None

    def drop(self) -> None:
        """Drop the live connection from the force's side, at once (no close handshake)."""
        transport = self.transport()
        assert transport is not None, "no live connection to drop"
        transport._protocol.transport.abortConnection()


class Room:
    """The whole hub, with the police link (and, when asked, the ONVIF adapter on a simulated camera)."""

    def __init__(self, directory: Path, files: pki.PkiFiles, url: str, *, police: Mapping[str, Any] = (),
                 camera: bool = False) -> None:
        self.directory = directory
        self.files = files
        self.url = url
        self.police = dict(police)
        self.camera = camera
        self.fleet: SimulatedFleet | None = None
        self.hub: Hub | None = None
        self.watch: Watch | None = None
        self.partner = EventFactory(reactor, "partner.test")
        self.console = EventFactory(reactor, "hub.api")

    def police_table(self) -> dict[str, Any]:
        return {
            "type": "police_link", "url": self.url,
            "client_certificate": str(self.files.client_certificate), "client_key": str(self.files.client_key),
            "ca_certificate": str(self.files.ca_certificate), "force": FORCE, "sender": "cctv@test-room.example",
            "sender_name": "Test room", "cap_status": "Exercise", "live_view": "consent", "point_camera": "auto",
            "reconnect_initial_s": 0.1, "reconnect_max_s": 1, "update_min_interval_s": 0,
            "auto_send": {"min_severity": "high"},
            "supervision": {"restart_initial_s": 0.1, "restart_max_s": 0.5},
            **self.police,
        }

    async def start(self) -> Hub:
        adapters: dict[str, Any] = {"police": self.police_table()}
        if self.camera:
            if self.fleet is None:
                self.fleet = SimulatedFleet(reactor, OnvifSimulatorConfig(
                    password=Secret(CAMERA_PASSWORD), username="hub", cameras=1, base_port=0),
                    log=structlog.get_logger().bind(side="camera"))
                await self.fleet.start()
            camera = self.fleet.camera("1")
            adapters["cameras"] = {
                "type": "onvif", "username": "hub", "password": {"env": "POLICE_TEST_CAMERA_PASSWORD"},
                "startup_spread_s": 0.0, "retry_min_s": 0.2, "retry_max_s": 0.5, "request_timeout_s": 3.0,
                "connect_timeout_s": 1.0,
                "cameras": {"1": {"name": "Simulated 1", "host": camera.host, "port": camera.port,
                                  "site": "Test Street"}},
            }
        host = make_plugin_manager(load_entry_points=False,
                                   extra_plugins=[(onvif_plugin, "onvif"), (police_plugin, "police_link")])
        raw = {
            "hub": {"name": "Police link test room", "data_dir": str(self.directory / "data"),
                    "shutdown_grace_s": 5},
            # Durable across a killed process, not a power cut: the tests kill no machine, and it is quicker.
            "journal": {"synchronous": "normal"},
            "web": {"enabled": False},
            "adapters": adapters,
            "incidents": RULES,
        }
        config = validate(raw, self.directory / "hub.toml", host.adapter_types(),
                          environ={"POLICE_TEST_CAMERA_PASSWORD": CAMERA_PASSWORD},
                          simulator_types=host.simulator_types())
        self.hub = Hub(config, host, reactor, log=structlog.get_logger().bind(side="hub"),
                       rng=random.Random(7))
        starting = self.hub.startService()
        self.watch = Watch(self.hub.bus)  # the bus exists once start-up began; no adapter has spoken yet
        await starting
        return self.hub

    async def stop(self) -> None:
        hub, self.hub = self.hub, None
        if hub is not None:
            await hub.stopService()

    async def close(self) -> None:
        await self.stop()
        if self.fleet is not None:
            await self.fleet.stop()
            self.fleet = None

    @property
    def events(self) -> Watch:
        assert self.watch is not None
        return self.watch

    @property
    def adapter(self) -> Any:
        assert self.hub is not None
        return self.hub.adapters[LINK].service

    def pending(self) -> int:
        """Messages in the hub's outbox not yet acknowledged (read from the database)."""
        assert self.hub is not None and self.hub.database is not None
        return self.hub.database.read(lambda connection: connection.execute(
            "SELECT count(*) FROM police_outbox WHERE link = ? AND acked_at IS NULL", (LINK,)).fetchone()[0])

    def outbox(self) -> list[tuple[int, str, str | None]]:
        assert self.hub is not None and self.hub.database is not None
        return self.hub.database.read(lambda connection: connection.execute(
            "SELECT link_seq, content_type, status FROM police_outbox WHERE link = ? ORDER BY link_seq",
            (LINK,)).fetchall())

    def report(self, reference: str, severity: Severity = Severity.HIGH) -> Deferred[int]:
        """A partner's report: the incident engine opens an incident for it, which auto_send sends when it is
        high or critical (and leaves for an operator when not)."""
        assert self.hub is not None and self.hub.bus is not None
        return self.hub.bus.publish(self.partner(
            "partner.report.received",
            PartnerReportReceived(partner="test", reference=reference, summary=f"Report {reference}",
                                  category="disorder"),
            severity=severity, subject=Subject(kind="report", id=reference, name=f"Report {reference}"),
            summary=f"Report {reference}: disorder on Test Street"))

    async def command(self, verb: str, *, incident_id: str | None = None, **arguments: Any) -> Event:
        """An operator's command to the police link, as the console sends it; its outcome event."""
        assert self.hub is not None and self.hub.bus is not None
        command = self.console(
            command_topic("police_link", verb),
            CommandRequested(adapter=LINK, verb=verb, arguments=arguments, requested_by="olive"),
            severity=Severity.INFO, subject=Subject(kind="adapter", id=LINK), summary=f"olive: {verb}",
            incident_id=incident_id)
        watch = self.events
        mark = watch.mark()
        await self.hub.bus.publish(command)

        def outcome() -> Event | None:
            return next((event for event in watch.events[mark:] if event.topic.startswith("police_link.command.")
                         and getattr(event.payload, "command_id", None) == command.id), None)

        return await until(outcome, f"the outcome of {verb}")

    def incident_of(self, reference: str) -> Any:
        """The incident the report ``reference`` opened."""
        assert self.hub is not None and self.hub.incidents is not None
        found = [incident for incident in self.hub.incidents.list()
                 if incident.subject.kind == "report" and incident.subject.id == reference]
        return found[-1] if found else None


class _Inside(Protocol):
    """The relay's side facing the hub: holds what the hub sends until the force's side is connected."""

    def __init__(self, relay: Relay) -> None:
        self.relay = relay
        self.other: _Outside | None = None
        self.held: list[bytes] = []

    def connectionMade(self) -> None:
        self.relay.sides.add(self)
        connecting = TCP4ClientEndpoint(reactor, "127.0.0.1", self.relay.target).connect(
            Factory.forProtocol(lambda: _Outside(self)))
        connecting.addErrback(lambda _failure: self.transport.abortConnection())

    def dataReceived(self, data: bytes) -> None:
        self.relay.pass_on(self, data)

    def connectionLost(self, reason: Any) -> None:
        self.relay.sides.discard(self)
        if self.other is not None:
            self.other.transport.abortConnection()


class _Outside(Protocol):
    """The relay's side facing the force end."""

    def __init__(self, inside: _Inside) -> None:
        self.inside = inside
        self.other = inside
        self.held: list[bytes] = []

    def connectionMade(self) -> None:
        self.inside.relay.sides.add(self)
        self.inside.other = self
        self.inside.relay.pass_on(self.inside, b"")

    def dataReceived(self, data: bytes) -> None:
        self.inside.relay.pass_on(self, data)

    def connectionLost(self, reason: Any) -> None:
        self.inside.relay.sides.discard(self)
        self.inside.transport.abortConnection()


class Relay:
    """A TCP relay from a loopback port to ``target``: ``hush`` makes the line silent (bytes held, connections
    left open, as a cable that stops carrying), ``speak`` lets them through again, ``cut`` drops everything."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.silent = False
        self.sides: set[Any] = set()
        self.port: Any = None

    async def start(self) -> int:
        self.port = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(
            Factory.forProtocol(lambda: _Inside(self)))
        return self.port.getHost().port

    def pass_on(self, side: Any, data: bytes) -> None:
        if data:
            side.held.append(data)
        if self.silent or side.other is None or getattr(side.other, "transport", None) is None:
            return
        held, side.held = b"".join(side.held), []
        if held:
            side.other.transport.write(held)

    def hush(self) -> None:
        self.silent = True

    def speak(self) -> None:
        self.silent = False
        for side in list(self.sides):
            self.pass_on(side, b"")

    def cut(self) -> None:
        for side in list(self.sides):
            side.transport.abortConnection()

    async def stop(self) -> None:
        self.cut()
        if self.port is not None:
            await self.port.stopListening()


class LinkOnly:
    """The police link adapter alone on a real bus and database (no incident engine), for the link's own
    behaviour: started with ``config`` and, when given, its own ``transport_factory``."""

    def __init__(self, directory: Path) -> None:
        from hub.testing import BusHarness
        from plugins.police_link.events import EVENT_TYPES
        from plugins.police_link.schema import POLICE_SCHEMA

        directory.mkdir(parents=True, exist_ok=True)
        self.harness = BusHarness(directory, clock=reactor, event_types=EVENT_TYPES, plugin_schemas=(POLICE_SCHEMA,))
        self.watch = Watch(self.harness.bus)
        self.adapter: Any = None

    async def start(self, config: Any, *, transport_factory: Any = None) -> Any:
        from hub.api import AdapterContext
        from hub.directory import Directory
        from plugins.police_link.adapter import PoliceLinkAdapter

        context = AdapterContext(
            name=LINK, adapter_type="police_link", reactor=reactor, bus=self.harness.bus,
            log=structlog.get_logger().bind(adapter=LINK), config=config, events=EventFactory(reactor, LINK),
            directory=Directory(), database=self.harness.database)
        self.adapter = PoliceLinkAdapter(context, rng=random.Random(3), transport_factory=transport_factory)
        await self.adapter.startService()
        return self.adapter

    async def close(self) -> None:
        if self.adapter is not None and self.adapter.running:
            await self.adapter.stopService()
        await self.harness.bus.close()
        self.harness.database.close()


def link_config(files: pki.PkiFiles, url: str, **changes: Any) -> Any:
    """A police link configuration for ``url`` with the hub's files of ``files``, short timings."""
    from plugins.police_link.config import PoliceLinkConfig

    settings: dict[str, Any] = {
        "url": url, "client_certificate": files.client_certificate, "client_key": files.client_key,
        "ca_certificate": files.ca_certificate, "force": FORCE, "sender": "cctv@test-room.example",
        "reconnect_initial_s": 0.1, "reconnect_max_s": 1.0}
    settings.update(changes)
    return PoliceLinkConfig(**settings)
