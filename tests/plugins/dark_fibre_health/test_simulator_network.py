"""The simulated ring's sockets on a fake reactor: ports as configured, management ports closed and opened
as the fault script says, on the reactor's clock, with one timer for the whole ring and none left at stop."""

from __future__ import annotations

from typing import Any

import pytest
import structlog
import structlog.testing
from twisted.internet.address import IPv4Address
from twisted.internet.error import CannotListenError
from twisted.internet.testing import MemoryReactorClock

from hub.secrets import Secret
from hub.testing import assert_no_pending_timers
from plugins.dark_fibre_health.codec import snmp
from plugins.dark_fibre_health.codec.snmp import CommunityMessage, Pdu, parse_oid
from plugins.dark_fibre_health.sim_faults import FaultConfig
from plugins.dark_fibre_health.simulator import (
    FibreSimulator,
    FibreSimulatorConfig,
    console_command,
)

SYS_NAME = parse_oid("1.3.6.1.2.1.1.5.0")


class FakePort:
    def __init__(self, kind: str, interface: str, port: int, owner: Any) -> None:
        self.kind, self.interface, self.port, self.owner = kind, interface, port, owner
        self.listening = True

    def getHost(self) -> IPv4Address:
        return IPv4Address(self.kind, self.interface, self.port)

    def stopListening(self) -> None:
        self.listening = False


class FakeReactor(MemoryReactorClock):
    """A clock that also takes UDP and TCP listeners, remembers them, and can refuse a port."""

    def __init__(self, taken: tuple[int, ...] = ()) -> None:
        super().__init__()
        self.ports: list[FakePort] = []
        self.taken = set(taken)
        self._free = 40000

    def _listen(self, kind: str, port: int, owner: Any, interface: str) -> FakePort:
        if port in self.taken:
            raise CannotListenError(interface, port, OSError("in use"))
        if not port:
            self._free += 1
            port = self._free
        listening = FakePort(kind, interface, port, owner)
        self.ports.append(listening)
        return listening

    def listenTCP(self, port, factory, backlog=50, interface=""):
        return self._listen("TCP", port, factory, interface)

    def listenUDP(self, port, protocol, interface="", maxPacketSize=8192):
        return self._listen("UDP", port, protocol, interface)

    def open(self, kind: str, port: int) -> bool:
        return any(p.kind == kind and p.port == port and p.listening for p in self.ports)


class Capture:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, Any]] = []

    def write(self, data: bytes, addr: Any) -> None:
        self.sent.append((data, addr))


def ring(reactor: FakeReactor, **settings) -> FibreSimulator:
    settings = {"nodes": 3, "community": Secret("ring-community"), **settings}
    return FibreSimulator(reactor, FibreSimulatorConfig(**settings), log=structlog.get_logger())


def down(node: str, at_s: float, for_s: float | None) -> FaultConfig:
    return FaultConfig(node=node, kind="down", at_s=at_s, for_s=for_s)


def test_each_node_listens_on_its_own_port_number_for_snmp_and_management():
    reactor = FakeReactor()
    simulator = ring(reactor, base_port=16100)
    simulator.startService()
    assert [(n.snmp_port, n.tcp_port) for n in simulator.network.nodes.values()] == [
        (16101, 16101), (16102, 16102), (16103, 16103)]
    assert all(reactor.open(kind, port) for kind in ("UDP", "TCP") for port in (16101, 16102, 16103))
    assert {p.interface for p in reactor.ports} == {"127.0.0.1"}
    simulator.stopService()
    assert not any(p.listening for p in reactor.ports)


def test_with_base_port_zero_the_system_picks_and_the_ring_reports_what_it_got():
    reactor = FakeReactor()
    simulator = ring(reactor, base_port=0)
    simulator.startService()
    networks = list(simulator.network.nodes.values())
    assert all(network.snmp_port > 40000 and network.tcp_port > 40000 for network in networks)
    assert len({network.snmp_port for network in networks}) == 3
    simulator.stopService()


def test_a_down_node_and_those_behind_it_refuse_management_connections_for_the_faults_length():
    reactor = FakeReactor()
    simulator = ring(reactor, faults=(down("node-02", 60, 120),))
    simulator.startService()
    reactor.advance(59.9)
    assert [reactor.open("TCP", port) for port in (16101, 16102, 16103)] == [True, True, True]
    reactor.advance(0.1)
    assert [reactor.open("TCP", port) for port in (16101, 16102, 16103)] == [True, False, False]
    assert all(reactor.open("UDP", port) for port in (16101, 16102, 16103))  # silent, not closed
    reactor.advance(120)
    assert [reactor.open("TCP", port) for port in (16101, 16102, 16103)] == [True, True, True]
    assert len(reactor.getDelayedCalls()) == 0  # the script is over: nothing more to wait for
    simulator.stopService()
    assert_no_pending_timers(reactor)


def test_a_dark_node_reads_snmp_requests_and_answers_none():
    reactor = FakeReactor()
    simulator = ring(reactor, faults=(down("node-02", 10, None),))
    simulator.startService()
    agents = {name: network.agent for name, network in simulator.network.nodes.items()}
    captures = {name: Capture() for name in agents}
    for name, agent in agents.items():
        agent.transport = captures[name]
    request = snmp.encode_community_message(CommunityMessage("2c", b"ring-community", Pdu.get(1, [SYS_NAME])))
    reactor.advance(11)
    for agent in agents.values():
        agent.datagramReceived(request, ("127.0.0.1", 5000))
    assert [len(capture.sent) for capture in captures.values()] == [1, 0, 0]
    assert agents["node-02"].stats["dropped_dark"] == 1
    simulator.stopService()
    assert_no_pending_timers(reactor)


def test_a_node_down_from_the_start_never_takes_a_management_connection():
    reactor = FakeReactor()
    simulator = ring(reactor, faults=(down("node-03", 0, None),))
    simulator.startService()
    assert not reactor.open("TCP", 16103) and reactor.open("UDP", 16103)
    simulator.stopService()


def test_the_script_plays_again_every_round():
    reactor = FakeReactor()
    simulator = ring(reactor, faults=(down("node-01", 10, 5),), repeat_s=30)
    simulator.startService()
    timeline = []
    for _ in range(70):
        reactor.advance(1)
        timeline.append(reactor.open("TCP", 16101))
    closed = [second + 1 for second, is_open in enumerate(timeline) if not is_open]
    assert closed == [10, 11, 12, 13, 14, 40, 41, 42, 43, 44, 70]
    simulator.stopService()
    assert_no_pending_timers(reactor)


def test_a_lossy_node_opens_and_closes_its_management_port_slot_by_slot():
    reactor = FakeReactor()
    fault = FaultConfig(node="node-01", kind="loss", at_s=0, for_s=100, loss_pct=50)
    simulator = ring(reactor, faults=(fault,), loss_slot_s=1.0)
    simulator.startService()
    node = simulator.nodes[0]
    states = []
    for second in range(100):
        reactor.advance(0.5 if second == 0 else 1)
        states.append(reactor.open("TCP", 16101))
        assert states[-1] == (not node.dark(second + 0.5))
    assert 30 < states.count(False) < 70
    reactor.advance(10)
    assert reactor.open("TCP", 16101)
    assert reactor.getDelayedCalls() == []  # the loss is over: the slot timer stopped with it
    simulator.stopService()


def test_a_ring_without_faults_sets_no_timer():
    reactor = FakeReactor()
    simulator = ring(reactor)
    simulator.startService()
    assert reactor.getDelayedCalls() == []
    simulator.stopService()


def test_a_port_already_taken_fails_the_start_and_leaves_nothing_listening():
    reactor = FakeReactor(taken=(16102,))
    simulator = ring(reactor)
    failure = simulator.startService()
    errors: list[Any] = []
    failure.addErrback(errors.append)
    assert errors and errors[0].check(CannotListenError)
    assert not any(p.listening for p in reactor.ports)


@pytest.mark.parametrize("count", [100])
def test_a_hundred_nodes_cost_two_ports_each_and_no_timer_per_node(count):
    reactor = FakeReactor()
    faults = tuple(down(f"node-{n:03d}", 5 + n, 10) for n in range(1, count + 1, 10))
    simulator = ring(reactor, nodes=count, base_port=20000, faults=faults)
    simulator.startService()
    assert len(reactor.ports) == 2 * count
    assert len(reactor.getDelayedCalls()) == 1
    reactor.advance(6.5)
    assert not reactor.open("TCP", 20001) and not reactor.open("TCP", 20100)  # the first node's chain
    simulator.stopService()
    assert_no_pending_timers(reactor)


# --- By hand, from hub fibre-sim's console -------------------------------------------------------------


def test_a_node_taken_down_by_hand_goes_dark_at_once_with_those_behind_it_until_brought_back():
    reactor = FakeReactor()
    simulator = ring(reactor)
    simulator.startService()
    reactor.advance(30)
    assert console_command(simulator, "down node-02") == "ok"
    assert [reactor.open("TCP", port) for port in (16101, 16102, 16103)] == [True, False, False]
    assert console_command(simulator, "status") == "t=30.0s dark: node-02, node-03"
    first = simulator.nodes[0]
    assert first.reading(31).ports[3].oper_status == 2  # node-01's downlink faces the dead node
    assert first.reading(31).ports[3].last_change == first.uptime_ticks(30)
    reactor.advance(10)
    assert console_command(simulator, "up node-02") == "ok"
    assert all(reactor.open("TCP", port) for port in (16101, 16102, 16103))
    assert first.reading(41).ports[3].oper_status == 1
    simulator.stopService()
    assert_no_pending_timers(reactor)


def test_a_port_darkened_by_hand_reads_no_light_while_the_node_still_answers():
    reactor = FakeReactor()
    simulator = ring(reactor, faults=(down("node-03", 100, 10),))
    simulator.startService()
    reactor.advance(5)
    assert console_command(simulator, "dark node-01 uplink") == "ok"
    node = simulator.nodes[0]
    assert node.reading(6).ports[2].rx_dbm is None and node.reading(6).ports[2].oper_status == 2
    assert reactor.open("TCP", 16101)
    assert console_command(simulator, "light node-01 uplink") == "ok"
    assert node.reading(7).ports[2].rx_dbm is not None
    assert len(reactor.getDelayedCalls()) == 1  # the script's own timer is still there, for node-03
    reactor.advance(95)
    assert not reactor.open("TCP", 16103)
    simulator.stopService()


@pytest.mark.parametrize("line, answer", [
    ("down node-09", "cannot: no node 'node-09'; the ring has node-01 to node-03"),
    ("dark node-01 sideways", "cannot: no port 'sideways': uplink or downlink"),
    ("explode node-01", "down NODE | up NODE"),
    ("", ""),
])
def test_the_console_says_what_it_cannot_do(line, answer):
    simulator = ring(FakeReactor())
    simulator.startService()
    assert console_command(simulator, line).startswith(answer)
    assert "nodes=3" in console_command(simulator, "stats")
    simulator.stopService()


def test_outages_are_logged_and_a_lossy_nodes_slot_by_slot_changes_are_not():
    reactor = FakeReactor()
    faults = (down("node-01", 5, 5), FaultConfig(node="node-03", kind="loss", at_s=20, for_s=30, loss_pct=50))
    with structlog.testing.capture_logs() as logs:
        simulator = ring(reactor, faults=faults)
        simulator.startService()
        reactor.pump([1] * 60)
        simulator.stopService()
    info = [(entry["event"], entry["node"]) for entry in logs if entry["log_level"] == "info" and "node" in entry]
    assert info == [("node_dark", "node-01"), ("node_dark", "node-02"), ("node_dark", "node-03"),
                    ("node_reachable", "node-01"), ("node_reachable", "node-02"), ("node_reachable", "node-03")]
    assert any(entry["event"] == "node_dark" and entry["log_level"] == "debug" for entry in logs)
