"""The fibre adapter end to end on the real reactor: the whole hub against a simulated ring over loopback.

The ring is ``FibreSimulator`` (``hub fibre-sim``'s service): a chain of nodes from the head end, each an
SNMP agent on its own UDP port of 127.0.0.1, answering v3 (SHA-256/AES) and v2c. The hub is
``hub.app.Hub`` itself, built from the tables a ``hub.toml`` would hold: journal, bus, the incident engine
with a room's rules (a camera going offline opens an incident, so does anything high), the directory, and
the fibre adapter probing the nodes by SNMP alone, as ``hub fibre-sim`` tells it to. The cameras are not
simulated: the test speaks for the ONVIF adapter, putting its cameras in the directory and publishing
its ``onvif.camera.*`` events through the bus, with its payload class and source.

Every wait is for a condition, with a deadline; nothing is asserted about how long anything took.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
import structlog
from structlog.testing import capture_logs
from twisted.internet import reactor
from twisted.logger import formatEvent, globalLogPublisher

from hub.api import AdapterContext
from hub.app import Hub
from hub.config import validate
from hub.directory import Asset, Directory
from hub.events import Event, EventFactory, Location, Severity, Subject
from hub.incidents.model import Incident, IncidentState
from hub.plugins import make_plugin_manager
from hub.secrets import Secret
from hub.sqlite_writer import InlineSqliteWriter
from hub.testing import BusHarness
from plugins.dark_fibre_health.adapter import FibreAdapter
from plugins.dark_fibre_health.config import (
    FibreConfig,
    JudgeConfig,
    NodeConfig,
    SnmpConfig,
    UsmConfig,
)
from plugins.dark_fibre_health.events import EVENT_TYPES
from plugins.dark_fibre_health.plugin import plugin as fibre_plugin
from plugins.dark_fibre_health.sim_faults import FaultConfig
from plugins.dark_fibre_health.simulator import FibreSimulator, FibreSimulatorConfig
from plugins.onvif.events import CameraHealthChanged, CameraRef, health_topic
from plugins.onvif.plugin import plugin as onvif_plugin
from tests.plugins.dark_fibre_health.netns_scene import Watch, pause, until

pytestmark = pytest.mark.timeout(120)

#: A wait's deadline when a few SNMP rounds are all it takes.
FIBRE = "fibre.ring"
CAMERAS = "onvif.cameras"
#: The secrets of the ring, never to be seen in a log line or the journal.
AUTH_PASSWORD = "auth-Kq7-ring-secret"
PRIV_PASSWORD = "priv-Zt3-ring-secret"
COMMUNITY = "comm-Wx9-ring-secret"
SECRETS = (AUTH_PASSWORD, PRIV_PASSWORD, COMMUNITY)
ENVIRON = {"FIBRE_TEST_AUTH": AUTH_PASSWORD, "FIBRE_TEST_PRIV": PRIV_PASSWORD, "FIBRE_TEST_COMMUNITY": COMMUNITY}
USM = UsmConfig(user="hub", auth_password=Secret(AUTH_PASSWORD), priv_password=Secret(PRIV_PASSWORD))
#: An SNMP timeout long enough that a test would notice waiting for it.
POLL_TIMEOUT_S = 5.0
#: After a node recovers, how long a camera behind it may stay dark before it is a fault of its own.
CAMERA_GRACE_S = 1.0
#: Camera numbers on each node of the chain node-01 -> node-02 -> node-03 -> node-04.
CAMERAS_ON = {"node-01": ("1", "2"), "node-02": ("3", "4"), "node-03": ("5", "6"), "node-04": ("7", "8")}

#: Incident rules as config/demo.toml has them: a camera going offline opens an incident (or joins the one
#: open for that camera), and so does anything high or critical.
RULES = {"rules": [
    {"name": "camera faults", "topics": ["onvif.camera.offline"], "action": "open", "join_on": ["subject"]},
    {"name": "high and critical events", "min_severity": "high"},
]}
OPEN = (IncidentState.NEW, IncidentState.ACKNOWLEDGED, IncidentState.IN_PROGRESS)


class LogTrap:
    """Every log line of the hub, the simulator and Twisted while it is open, as text."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def processor(self, _logger: Any, method: str, event_dict: dict[str, Any]) -> Any:
        self.lines.append(f"{method} {event_dict!r}")
        raise structlog.DropEvent

    def logger(self) -> Any:
        return structlog.wrap_logger(None, processors=[self.processor])

    def twisted(self, event: Mapping[str, Any]) -> None:
        self.lines.append(f"{formatEvent(event)} {event.get('log_failure', '')!r}")

    def text(self) -> str:
        return "\n".join(self.lines)


def snmp_table(port: int, version: str, **settings: Any) -> dict[str, Any]:
    """A node's ``snmp`` table: v3 with the ring's user or v2c with its community, short timings."""
    table: dict[str, Any] = {"port": port, "version": version, "interval_s": 1.0, "timeout_s": 0.3, "retries": 0}
    if version == "3":
        table["usm"] = {"user": "hub", "auth_password": {"env": "FIBRE_TEST_AUTH"},
                        "priv_password": {"env": "FIBRE_TEST_PRIV"}}
    else:
        table["community"] = {"env": "FIBRE_TEST_COMMUNITY"}
    return {**table, **settings}


class Room:
    """A simulated ring and the whole hub watching it."""

    def __init__(self, tmp_path: Path, trap: LogTrap, ring: FibreSimulatorConfig, *,
                 judge: Mapping[str, Any] | None = None, cameras: Mapping[str, tuple[str, ...]] = CAMERAS_ON,
                 snmp: Mapping[str, Any] | None = None) -> None:
        self.tmp_path = tmp_path
        self.trap = trap
        self.simulator = FibreSimulator(reactor, ring, log=trap.logger().bind(side="simulator"))
        self.judge = dict(judge or {})
        self.cameras = {node: cameras.get(node, ()) for node in (node.name for node in self.simulator.nodes)}
        self.snmp = dict(snmp or {})
        self.hub: Hub | None = None
        self.watch: Watch | None = None
        self.onvif = EventFactory(reactor, CAMERAS)

    async def start(self) -> None:
        await self.simulator.startService()
        nodes: dict[str, Any] = {}
        for number, node in enumerate(self.simulator.nodes):
            port = self.simulator.network.nodes[node.name].snmp_port
            nodes[node.name] = {
                "address": "127.0.0.1", "probes": ["snmp"], "cameras": list(self.cameras[node.name]),
                # v3 and v2c in turn, as a ring of old and new cabinets would be read
                "snmp": snmp_table(port, "3" if number % 2 == 0 else "2c", **self.snmp),
            }
            if node.upstream:
                nodes[node.name]["upstream"] = node.upstream
        adapter = {"type": "fibre", "interval_s": 1.0, "probe_timeout_s": 0.5, "camera_grace_s": CAMERA_GRACE_S,
                   "camera_sources": [CAMERAS], "judge": {"down_after": 2, "up_after": 1, **self.judge},
                   "nodes": nodes}
        host = make_plugin_manager(load_entry_points=False,
                                   extra_plugins=[(onvif_plugin, "onvif"), (fibre_plugin, "dark_fibre_health")])
        raw = {
            "hub": {"name": "Fibre test room", "data_dir": str(self.tmp_path / "data"), "shutdown_grace_s": 5},
            "web": {"enabled": False},
            "adapters": {"ring": adapter},
            "incidents": RULES,
        }
        config = validate(raw, self.tmp_path / "hub.toml", host.adapter_types(), environ=ENVIRON,
                          simulator_types=host.simulator_types())
        self.hub = Hub(config, host, reactor, writer_factory=InlineSqliteWriter, log=self.trap.logger())
        for node, numbers in self.cameras.items():
            for number in numbers:
                self.hub.directory.put(Asset(kind="camera", id=number, name=f"Camera {number}", source=CAMERAS,
                                             state="online", state_since=reactor.seconds(),
                                             attributes={"fibre_node": node}))
        starting = self.hub.startService()
        self.watch = Watch(self.hub.bus)  # the bus exists once start-up began; no adapter has spoken yet
        await starting

    async def stop(self) -> None:
        if self.hub is not None and self.hub.running:
            await self.hub.stopService()
        if self.simulator.running:
            await self.simulator.stopService()

    @property
    def events(self) -> Watch:
        assert self.watch is not None
        return self.watch

    @property
    def adapter(self) -> FibreAdapter:
        assert self.hub is not None
        return self.hub.adapters[FIBRE].service

    async def all_up(self) -> None:
        for node in self.cameras:
            await self.events.first("fibre.node.up", "fibre_node", node)

    def node_of(self, camera: str) -> str:
        return next(node for node, numbers in self.cameras.items() if camera in numbers)

    async def camera(self, number: str, state: str) -> Event:
        """Camera ``number`` goes ``state`` (online/offline) as the ONVIF adapter says it: in the directory
        and as its health event through the bus."""
        assert self.hub is not None
        asset = self.hub.directory.get("camera", number)
        previous = asset.state if asset is not None else None
        self.hub.directory.set_state("camera", number, state, reactor.seconds())
        node = self.node_of(number)
        event = self.onvif(
            health_topic(state),
            CameraHealthChanged(camera=CameraRef(number=number, name=f"Camera {number}", fibre_node=node),
                                state=state, previous=previous, reason="no answer" if state == "offline" else None,
                                failures=1 if state == "offline" else 0),
            severity=Severity.MEDIUM if state == "offline" else Severity.INFO,
            subject=Subject(kind="camera", id=number, name=f"Camera {number}"),
            summary=f"Camera {number} {state}", location=Location(camera=number),
        )
        await self.hub.bus.publish(event)
        return event

    def incidents(self, states: Any = None) -> list[Incident]:
        assert self.hub is not None and self.hub.incidents is not None
        return self.hub.incidents.list(states=states)

    def incident_about(self, kind: str, ident: str) -> Incident | None:
        found = [incident for incident in self.incidents()
                 if incident.subject.kind == kind and incident.subject.id == ident]
        return found[-1] if found else None

    def incident_events(self, incident: Incident) -> list[Event]:
        assert self.hub is not None and self.hub.incidents is not None
        return list(self.hub.incidents.detail(incident.id).events)

    def history(self, incident: Incident) -> list[Any]:
        assert self.hub is not None and self.hub.incidents is not None
        return list(self.hub.incidents.detail(incident.id).history)


@pytest.fixture
def trap() -> Iterator[LogTrap]:
    """The log lines of everything, structlog's global loggers and Twisted's included."""
    trap = LogTrap()
    globalLogPublisher.addObserver(trap.twisted)
    try:
        with capture_logs() as stray:
            yield trap
        trap.lines += [repr(entry) for entry in stray]
    finally:
        globalLogPublisher.removeObserver(trap.twisted)


@pytest_twisted.async_yield_fixture
async def make_room(tmp_path, trap):
    """``await make_room(ring_config, judge=..., ...)``: a started ``Room``, stopped after the test."""
    rooms: list[Room] = []

    async def make(ring: FibreSimulatorConfig, **settings: Any) -> Room:
        room = Room(tmp_path / f"room-{len(rooms)}", trap, ring, **settings)
        rooms.append(room)
        await room.start()
        return room

    yield make
    for room in rooms:
        await room.stop()


def chain(**settings: Any) -> FibreSimulatorConfig:
    """Four nodes in a chain from the head end (Cisco, Juniper, Arista-style in turn), both v3 and v2c."""
    return FibreSimulatorConfig(**{"nodes": 4, "base_port": 0, "community": Secret(COMMUNITY), "usm": USM,
                                   "wobble_db": 0.0, "rx_spread_db": 0.0, "rx_dbm": -6.0, **settings})


# --- 1. an outage ------------------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_a_node_down_is_one_incident_covering_everything_behind_it_until_it_recovers(make_room):
    """node-03 of the chain node-01 -> node-02 -> node-03 -> node-04 goes down: one incident, opened by
    node-03's root-cause ``fibre.node.down``, covering cameras 5 to 8 and node-04; node-04 is unreachable
    and raises nothing of its own. The covered cameras' offline events join that incident; camera 3's
    (on node-02, which still answers) opens its own. node-03 back resolves its incident by the hub itself;
    ``camera_grace_s`` later cameras 6 and 8, still offline, each have an incident of their own
    (``fibre.camera.still_dark``, from their own nodes), while 5 and 7, back online, have none."""
    room = await make_room(chain())
    events = room.events
    await room.all_up()
    assert room.incidents() == []
    mark = events.mark()

    room.simulator.set_down("node-03", True)

    down = await events.first("fibre.node.down", "fibre_node", "node-03", since=mark)
    assert down.payload.root_cause is True
    assert set(down.payload.cameras) == {"5", "6", "7", "8"}
    assert down.payload.nodes_behind == ("node-04",)
    assert set(down.payload.covers) == {"camera:5", "camera:6", "camera:7", "camera:8", "fibre_node:node-04"}
    assert down.severity == Severity.HIGH
    unreachable = await events.first("fibre.node.unreachable", "fibre_node", "node-04", since=mark)
    assert (unreachable.payload.because_of, unreachable.payload.root_cause) == ("node-03", False)
    root = await until(lambda: room.incident_about("fibre_node", "node-03"), "an incident about node-03")
    assert set(root.covers) == {"camera:5", "camera:6", "camera:7", "camera:8", "fibre_node:node-04"}
    assert set(root.cameras) == {"5", "6", "7", "8"}

    for number in ("5", "6", "7", "8"):
        await room.camera(number, "offline")
    own = await room.camera("3", "offline")

    def joined() -> set[str]:
        root_now = room.incident_about("fibre_node", "node-03")
        assert root_now is not None
        return {event.subject.id for event in room.incident_events(root_now) if event.topic == "onvif.camera.offline"}

    await until(lambda: joined() == {"5", "6", "7", "8"}, "the covered cameras' offline events in node-03's incident")
    camera_3 = await until(lambda: room.incident_about("camera", "3"), "an incident about camera 3")
    assert [event.id for event in room.incident_events(camera_3)] == [own.id]
    assert {incident.id for incident in room.incidents()} == {root.id, camera_3.id}, "no other incident"
    assert events.find("fibre.node.down", "fibre_node", "node-04", since=mark) == []
    assert room.incident_about("fibre_node", "node-04") is None
    for number in ("5", "6", "7", "8"):
        assert room.incident_about("camera", number) is None
    # node-02 still answers: the light it lost on the port facing node-03 is no alarm of its own
    assert room.adapter.state_of("node-02") == "up"

    recovery = events.mark()
    room.simulator.set_down("node-03", False)

    back = await events.first("fibre.node.up", "fibre_node", "node-03", since=recovery)
    assert back.payload.recovered is True
    await room.camera("5", "online")
    await room.camera("7", "online")
    resolved = await until(lambda: room.incident_about("fibre_node", "node-03").state == IncidentState.RESOLVED
                           and room.incident_about("fibre_node", "node-03"), "node-03's incident resolved")
    [change] = [entry for entry in room.history(resolved) if entry.action == "state_changed"]
    assert change.actor is None
    assert (change.detail["to"], change.detail["reason"]) == ("resolved", "recovered")
    await events.first("fibre.node.up", "fibre_node", "node-04", since=recovery)

    dark_6 = await events.first("fibre.camera.still_dark", "camera", "6", since=recovery)
    dark_8 = await events.first("fibre.camera.still_dark", "camera", "8", since=recovery)
    assert (dark_6.payload.node, dark_8.payload.node) == ("node-03", "node-04")
    assert dark_6.causation_id == back.id
    for number in ("6", "8"):
        incident = await until(lambda number=number: room.incident_about("camera", number),
                               f"an incident about camera {number}")
        assert incident.state in OPEN and incident.id != root.id
    # each node checks all its cameras at once: with 6's and 8's events both nodes' checks are done
    assert {event.subject.id for event in events.find("fibre.camera.still_dark", since=recovery)} == {"6", "8"}
    assert room.incident_about("camera", "5") is None and room.incident_about("camera", "7") is None
    assert room.incident_about("camera", "3").state in OPEN, "camera 3's own fault is still open"



@pytest_twisted.ensureDeferred
async def test_a_node_behind_polled_just_after_the_fault_is_no_root_cause_when_polls_are_seconds_apart(make_room):
    """Polled every 5 s (the SNMP interval, longer than the adapter's 1 s probe interval), node-04's poll
    comes a second after node-03's. node-03 goes down just after its poll answered: node-04 misses its
    polls first, and for four seconds its failures are all the adapter has. Still node-03 is the one root
    cause when its own polls have failed, node-04 only unreachable behind it, and there is one incident."""
    room = await make_room(chain(), snmp={"interval_s": 5.0})
    events = room.events
    await room.all_up()
    agent = room.simulator.network.nodes["node-03"].agent
    answered = agent.stats["answered"]
    await until(lambda: agent.stats["answered"] > answered, "node-03 polled")
    await pause(0.4)  # its poll's last walks answered too
    mark = events.mark()
    room.simulator.set_down("node-03", True)

    down = await events.first("fibre.node.down", "fibre_node", "node-03", since=mark, deadline_s=30)
    assert down.payload.root_cause is True
    await events.first("fibre.node.unreachable", "fibre_node", "node-04", since=mark)
    assert events.find("fibre.node.down", "fibre_node", "node-04", since=mark) == []
    await until(lambda: room.incident_about("fibre_node", "node-03"), "an incident about node-03")
    assert [incident.subject.id for incident in room.incidents()] == ["node-03"]

# --- 2. a dark port ------------------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_a_port_without_light_is_an_interface_down_and_no_light_but_no_outage(make_room):
    """node-02's uplink loses its light (a ``port_down`` fault) while node-02 itself answers: the room is
    told its interface is down and it receives no light, and that is all: node-02 is not degraded, nothing
    behind it is touched, and there is no incident."""
    room = await make_room(chain(faults=(FaultConfig(node="node-02", kind="port_down", at_s=0.0),)))
    events = room.events
    await room.all_up()
    interface = await events.first("fibre.interface.down", "fibre_node", "node-02")
    assert (interface.payload.port, interface.payload.up) == ("xe-0/0/0", False)
    light = await events.first("fibre.optics.no_light", "fibre_node", "node-02")
    assert (light.payload.port, light.payload.direction, light.payload.dbm) == ("xe-0/0/0", "rx", None)

    # a few more rounds of node-02 read the same dark port
    polls = room.adapter.snmp_polls
    await until(lambda: room.adapter.snmp_polls >= polls + 3 * 4, "three more rounds of polls")
    assert room.adapter.state_of("node-02") == "up"
    node_changes = [(event.topic, event.subject.id) for event in events.events if event.topic.startswith("fibre.node.")]
    assert sorted(node_changes) == sorted(("fibre.node.up", node) for node in room.cameras)
    assert len(events.find("fibre.optics.no_light")) == 1 and len(events.find("fibre.interface.down")) == 1
    assert room.incidents() == []


# --- 3. a receive power falling --------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_a_falling_receive_power_is_forecast_before_its_warning_and_alarm(make_room):
    """A Cisco node's uplink receive power falls 0.3 dB a second (a dB a simulated day, 25,920 days a day)
    from -5 dBm, toward the device's own low warning (-9.9) and alarm (-13.9): with a one-minute trend
    window the hub's ``fibre.optics.trend`` comes first, forecasting the low alarm, then the warning."""
    ring = FibreSimulatorConfig(
        nodes=1, base_port=0, vendors=("cisco",), usm=USM, wobble_db=0.0, rx_spread_db=0.0, rx_dbm=-5.0,
        time_scale=0.3 * 86400, faults=(FaultConfig(node="node-01", kind="rx_decline", at_s=0.0, db_per_day=1.0),))
    room = await make_room(ring, judge={"trend_window_s": 60.0, "trend_warn_s": 600.0, "trend_min_points": 4})
    events = room.events
    warning = await events.first("fibre.optics.warning", "fibre_node", "node-01", deadline_s=60)
    trends = events.find("fibre.optics.trend", "fibre_node", "node-01")
    assert trends, f"no trend before the warning at {warning.payload.dbm} dBm"
    trend = trends[0]
    assert events.events.index(trend) < events.events.index(warning)
    assert events.find("fibre.optics.alarm") == []
    assert trend.payload.port == "Te1/1" and trend.payload.threshold_dbm == pytest.approx(-13.9)
    assert trend.payload.slope_db_per_day == pytest.approx(-0.3 * 86400, rel=0.25)
    assert trend.payload.dbm_now > warning.payload.dbm
    assert warning.payload.thresholds.low_warning == pytest.approx(-9.9)
    alarm = await events.first("fibre.optics.alarm", "fibre_node", "node-01", deadline_s=60)
    assert alarm.payload.dbm <= -13.9
    assert len(events.find("fibre.optics.trend")) == 1, "one warning until it clears or the alarm comes"


# --- 4. stopping -------------------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_the_adapter_stops_with_a_poll_in_flight_leaving_no_timer_and_starts_again(tmp_path, trap):
    """The adapter (as the runtime runs it, on a real bus) is stopped while an SNMP poll is out to a node
    that does not answer: it stops at once, leaves no timer on the reactor and publishes nothing more. A
    new adapter on the same context (what the runtime's restart does) reads the ring again."""
    ring = chain(nodes=2)
    simulator = FibreSimulator(reactor, ring, log=trap.logger())
    await simulator.startService()
    harness = BusHarness(tmp_path, clock=reactor, event_types=EVENT_TYPES)
    watch = Watch(harness.bus)
    try:
        nodes = {}
        for number, node in enumerate(simulator.nodes):
            port = simulator.network.nodes[node.name].snmp_port
            # node-02's polls would wait long for an answer: stopping must not wait with them
            snmp = (SnmpConfig(version="3", port=port, usm=USM, interval_s=1.0, timeout_s=0.5, retries=0)
                    if number == 0 else
                    SnmpConfig(version="2c", port=port, community=Secret(COMMUNITY), interval_s=1.0,
                               timeout_s=POLL_TIMEOUT_S, retries=0))
            nodes[node.name] = NodeConfig(address="127.0.0.1", upstream=node.upstream, probes=("snmp",), snmp=snmp)
        config = FibreConfig(nodes=nodes, judge=JudgeConfig(down_after=2, up_after=1))
        context = AdapterContext(name=FIBRE, adapter_type="fibre", reactor=reactor, bus=harness.bus,
                                 log=trap.logger(), config=config, events=EventFactory(reactor, FIBRE),
                                 directory=Directory())
        adapter = FibreAdapter(context)
        adapter.startService()
        for name in nodes:
            await watch.first("fibre.node.up", "fibre_node", name)

        simulator.set_down("node-02", True)  # silent from now: each of its polls waits out its timeout
        await pause(0.05)
        timers_before = set(reactor.getDelayedCalls())
        agent = simulator.network.nodes["node-02"].agent
        unanswered = agent.stats["dropped_dark"]
        # a request the dark node drops: that poll waits for its answer until its timeout
        await until(lambda: agent.stats["dropped_dark"] > unanswered, "a poll of node-02 going out")
        stopping = adapter.stopService()
        await until(lambda: stopping.called, "the adapter stopped, not waiting for the poll out",
                    deadline_s=POLL_TIMEOUT_S / 2)
        await pause(0)
        left = [call for call in reactor.getDelayedCalls() if call not in timers_before and call.active()]
        assert left == [], f"timers left behind: {[repr(call) for call in left]}"
        mark = watch.mark()
        await pause(1.5)  # more than an interval: the schedules are stopped
        assert watch.events[mark:] == [], "nothing published after stopping"

        again = FibreAdapter(context)
        again.startService()
        mark = watch.mark()
        unanswered = agent.stats["dropped_dark"]
        await watch.first("fibre.node.up", "fibre_node", "node-01", since=mark)
        await until(lambda: agent.stats["dropped_dark"] > unanswered, "node-02 polled again")
        await again.stopService()
        assert [call for call in reactor.getDelayedCalls() if call not in timers_before and call.active()] == []
    finally:
        harness.close()
        await simulator.stopService()


# --- 5. secrets --------------------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_the_rings_secrets_are_never_in_a_log_line_or_the_journal(make_room, trap):
    """The v3 passwords and the v2c community reach the agents only: through a whole outage and recovery,
    and a node whose password is wrong, no log line (the hub's, the simulator's, Twisted's) and nothing
    the hub keeps on disk (journal, incidents, audit) holds one of them."""
    room = await make_room(chain(nodes=3))
    events = room.events
    await room.all_up()
    room.simulator.set_down("node-02", True)
    await events.first("fibre.node.down", "fibre_node", "node-02")
    await until(lambda: room.incident_about("fibre_node", "node-02"), "an incident about node-02")
    room.simulator.set_down("node-02", False)
    await events.first("fibre.node.up", "fibre_node", "node-02")
    await room.stop()

    wrong = Room(room.tmp_path.parent / "wrong", trap, chain(nodes=1),
                 snmp={"usm": {"user": "hub", "auth_password": {"env": "FIBRE_TEST_PRIV"},
                               "priv_password": {"env": "FIBRE_TEST_AUTH"}}})
    await wrong.start()
    try:
        await wrong.events.first("fibre.node.down", "fibre_node", "node-01")
        assert any("fibre_snmp_poll_failed" in line for line in trap.lines)
    finally:
        await wrong.stop()

    logged = trap.text()
    assert "fibre_node_state" in logged, "the trap caught the hub's log lines"
    for secret in SECRETS:
        assert secret not in logged
    stored = b"".join(path.read_bytes() for path in room.tmp_path.rglob("*") if path.is_file())
    stored += b"".join(path.read_bytes() for path in wrong.tmp_path.rglob("*") if path.is_file())
    assert b"fibre.node.down" in stored
    for secret in SECRETS:
        assert secret.encode() not in stored
    with sqlite3.connect(next(room.tmp_path.rglob("*.sqlite3"))) as database:
        tables = [name for (name,) in database.execute("select name from sqlite_master where type = 'table'")]
        for table in tables:
            for row in database.execute(f'select * from "{table}"'):
                assert not any(secret in str(value) for value in row for secret in SECRETS), table
