"""The fibre simulator's scripted cues (a demo's scenario plays them, hub/scenario.py), on loopback and a
fake clock: a node down and back, by hand or after a while, loss, a falling receive power, a dark port, and
every cue it cannot play refused with the reason before anything changes. And namespace mode refused
plainly where it cannot run."""

from __future__ import annotations

from typing import Any

import pytest
import structlog
from twisted.internet.defer import Deferred

from hub.api import CueRefused, CueSpec
from hub.config import Expected
from hub.secrets import Secret
from hub.testing import assert_no_pending_timers, failure_result_of, success_result_of
from plugins.dark_fibre_health import netns
from plugins.dark_fibre_health.codec import snmp
from plugins.dark_fibre_health.codec.snmp import CommunityMessage, Pdu, parse_oid
from plugins.dark_fibre_health.sim_faults import FaultConfig
from plugins.dark_fibre_health.simulator import FibreSimulator, FibreSimulatorConfig
from tests.plugins.dark_fibre_health.test_simulator_network import Capture, FakeReactor

SYS_NAME = parse_oid("1.3.6.1.2.1.1.5.0")
REQUEST = snmp.encode_community_message(CommunityMessage("2c", b"ring-community", Pdu.get(1, [SYS_NAME])))
NODES = ["node-01", "node-02", "node-03", "node-04"]
PORTS = {name: 16101 + n for n, name in enumerate(NODES)}


def ring(reactor: FakeReactor, **settings: Any) -> FibreSimulator:
    settings = {"nodes": 4, "community": Secret("ring-community"), "wobble_db": 0.0, "rx_spread_db": 0.0,
                "rx_dbm": -6.0, **settings}
    simulator = FibreSimulator(reactor, FibreSimulatorConfig(**settings), log=structlog.get_logger())
    simulator.startService()
    return simulator


def answering(simulator: FibreSimulator, reactor: FakeReactor) -> dict[str, bool]:
    """Which nodes answer an SNMP get now, and keep their management port open."""
    answers = {}
    for name, network in simulator.network.nodes.items():
        capture = Capture()
        network.agent.transport = capture
        network.agent.datagramReceived(REQUEST, ("127.0.0.1", 5000))
        answers[name] = bool(capture.sent)
        assert answers[name] == reactor.open("TCP", PORTS[name]), f"{name}'s management port disagrees"
    return answers


def up_except(*dark: str) -> dict[str, bool]:
    return {name: name not in dark for name in NODES}


def played(result: Any) -> None:
    assert isinstance(result, Deferred) and success_result_of(result) is None


@pytest.fixture
def reactor() -> FakeReactor:
    return FakeReactor()


def test_the_simulator_offers_its_cues_with_their_arguments(reactor):
    """Each cue is a CueSpec naming what it does and the arguments it takes, the node always required."""
    simulator = ring(reactor)
    assert all(isinstance(cue, CueSpec) for cue in simulator.cues)
    assert {cue.name: (cue.arguments, cue.optional) for cue in simulator.cues} == {
        "node_down": (("node",), ("for_s",)),
        "node_up": (("node",), ()),
        "loss": (("node",), ("loss_pct", "for_s")),
        "rx_decline": (("node",), ("db_per_day", "start_dbm", "port", "for_s")),
        "port_down": (("node",), ("port", "for_s")),
        "port_up": (("node",), ("port",)),
        "clear": (("node",), ()),
    }
    assert all(cue.description for cue in simulator.cues)
    simulator.stopService()


def test_node_down_takes_the_node_and_those_behind_it_dark_until_node_up(reactor):
    """node-03 down: node-03 and node-04 fall silent and refuse connections; node_up brings both back."""
    simulator = ring(reactor)
    assert answering(simulator, reactor) == up_except()
    played(simulator.cue("node_down", {"node": "node-03"}))
    assert answering(simulator, reactor) == up_except("node-03", "node-04")
    reactor.advance(3600)
    assert answering(simulator, reactor) == up_except("node-03", "node-04")
    played(simulator.cue("node_up", {"node": "node-03"}))
    assert answering(simulator, reactor) == up_except()
    simulator.stopService()
    assert_no_pending_timers(reactor)


def test_node_down_for_a_while_comes_back_by_itself_on_the_clock(reactor):
    """With for_s the node is back that many seconds later, and no timer is left behind."""
    simulator = ring(reactor)
    played(simulator.cue("node_down", {"node": "node-02", "for_s": 90}))
    reactor.advance(89.9)
    assert answering(simulator, reactor) == up_except("node-02", "node-03", "node-04")
    reactor.advance(0.1)
    assert answering(simulator, reactor) == up_except()
    assert_no_pending_timers(reactor)
    simulator.stopService()


def test_a_second_node_down_replaces_the_first_ones_end(reactor):
    """Cued again, the node stays down for the new while, not the old one."""
    simulator = ring(reactor)
    played(simulator.cue("node_down", {"node": "node-04", "for_s": 10}))
    reactor.advance(5)
    played(simulator.cue("node_down", {"node": "node-04", "for_s": 60}))
    reactor.advance(30)
    assert answering(simulator, reactor) == up_except("node-04")
    reactor.advance(30)
    assert answering(simulator, reactor) == up_except()
    simulator.stopService()


def test_stopping_forgets_the_cues_still_to_end(reactor):
    """A stop with a cued fault still running leaves no timer."""
    simulator = ring(reactor)
    played(simulator.cue("node_down", {"node": "node-02", "for_s": 600}))
    played(simulator.cue("loss", {"node": "node-01", "for_s": 600}))
    simulator.stopService()
    assert_no_pending_timers(reactor)


def test_loss_darkens_about_that_share_of_slots_on_the_node_and_behind_it_until_cleared(reactor):
    """loss 40 %: node-02 and node-03 answer about 60 % of one-second slots, node-01 all; clear ends it."""
    simulator = ring(reactor, nodes=3, loss_slot_s=1.0)
    played(simulator.cue("loss", {"node": "node-02", "loss_pct": 40}))
    counts = dict.fromkeys(NODES[:3], 0)
    for _ in range(400):
        reactor.advance(1.0)
        for name, network in simulator.network.nodes.items():
            counts[name] += not network.node.dark(simulator.network.elapsed())
    assert counts["node-01"] == 400
    assert 200 <= counts["node-02"] <= 280 and counts["node-03"] == counts["node-02"]
    played(simulator.cue("clear", {"node": "node-02"}))
    reactor.advance(1.0)
    assert all(not network.node.dark(simulator.network.elapsed()) for network in simulator.network.nodes.values())
    simulator.stopService()
    assert_no_pending_timers(reactor)


def test_rx_decline_lowers_the_ports_receive_power_day_by_day_until_it_ends(reactor):
    """1.5 dB a simulated day from -8 dBm, with a day a minute: -11 dBm two minutes on; back after for_s."""
    simulator = ring(reactor, time_scale=1440)
    node = simulator.network.nodes["node-02"].node
    uplink = next(n for n, port in enumerate(node.layout) if port.role == "uplink")
    reactor.advance(30)
    played(simulator.cue("rx_decline", {"node": "node-02", "db_per_day": 1.5, "start_dbm": -8.0, "for_s": 300}))
    assert node.rx_at(uplink, simulator.network.elapsed()) == pytest.approx(-8.0)
    reactor.advance(120)
    assert node.rx_at(uplink, simulator.network.elapsed()) == pytest.approx(-11.0)
    reactor.advance(180)
    assert node.rx_at(uplink, simulator.network.elapsed()) == pytest.approx(-6.0)
    simulator.stopService()


def test_port_down_darkens_one_port_while_the_node_answers(reactor):
    """The downlink reads no light and is down; the node and its neighbours still answer; port_up restores."""
    simulator = ring(reactor)
    node = simulator.network.nodes["node-02"].node
    downlink = next(n for n, port in enumerate(node.layout) if port.role == "downlink")
    played(simulator.cue("port_down", {"node": "node-02", "port": "downlink"}))
    reading = node.reading(simulator.network.elapsed()).ports[downlink]
    assert (reading.oper_status, reading.rx_dbm) == (2, None)
    assert answering(simulator, reactor) == up_except()
    played(simulator.cue("port_up", {"node": "node-02", "port": "downlink"}))
    reading = node.reading(simulator.network.elapsed()).ports[downlink]
    assert reading.oper_status == 1 and reading.rx_dbm is not None
    simulator.stopService()


@pytest.mark.parametrize("name, arguments, says", [
    ("reboot", {"node": "node-01"}, "no cue 'reboot'; its cues: node_down, node_up, loss"),
    ("node_down", {}, "node_down: missing node; it takes node, for_s (optional)"),
    ("node_down", {"node": "node-01", "minutes": 3}, "node_down: unknown minutes"),
    ("node_down", {"node": "node-09"}, "node_down: no node 'node-09'; the ring has node-01 to node-04"),
    ("node_down", {"node": 3}, "node_down: no node 3"),
    ("node_down", {"node": "node-01", "for_s": -5}, "node_down: for_s must be a number of seconds above 0, not -5"),
    ("node_down", {"node": "node-01", "for_s": "90"}, "for_s must be a number of seconds above 0, not '90'"),
    ("loss", {"node": "node-01", "loss_pct": 150}, "loss: loss_pct must be a percentage above 0 and at most 100"),
    ("rx_decline", {"node": "node-01", "port": "sideways"}, 'rx_decline: port must be "uplink" or "downlink"'),
    ("port_down", {"node": "node-01", "port": True}, 'port_down: port must be "uplink" or "downlink", not True'),
])
def test_a_cue_it_cannot_play_is_refused_saying_why_and_changes_nothing(reactor, name, arguments, says):
    """Unknown cue, node or argument, a missing node, a value out of range: CueRefused, the ring as it was."""
    simulator = ring(reactor)
    with pytest.raises(CueRefused) as refused:
        simulator.cue(name, arguments)
    assert says in str(refused.value)
    assert answering(simulator, reactor) == up_except()
    assert not simulator.manual.down and not simulator.manual.dark_ports and not simulator.manual.active("node-01")
    assert not reactor.getDelayedCalls()
    simulator.stopService()


def test_node_up_does_not_undo_the_simulators_own_script(reactor):
    """A node the configured faults hold down cannot be cued up: the refusal says whose fault it is."""
    simulator = ring(reactor, faults=(FaultConfig(node="node-02", kind="down", at_s=0),))
    with pytest.raises(CueRefused, match="node-02 is down by the simulator's own script"):
        simulator.cue("node_up", {"node": "node-02"})
    simulator.stopService()


def test_a_stopped_simulator_refuses_cues(reactor):
    """Before its start or after its stop there is no ring to play a cue on."""
    simulator = ring(reactor)
    simulator.stopService()
    with pytest.raises(CueRefused, match="not running"):
        simulator.cue("node_down", {"node": "node-01"})


# --- namespace mode where it cannot run ------------------------------------------------------------------


def test_namespace_mode_refuses_to_start_without_root_and_says_so(reactor, monkeypatch):
    """Not root: the start fails with what is needed and the way out, and nothing is made."""
    monkeypatch.setattr(netns.os, "geteuid", lambda: 1000)
    made: list[Any] = []
    monkeypatch.setattr(netns, "command", lambda *args, **kwargs: made.append(args))
    simulator = FibreSimulator(reactor, FibreSimulatorConfig(network="namespaces", community=Secret("c")),
                               log=structlog.get_logger())
    failure = failure_result_of(simulator.startService())
    assert "needs root" in str(failure.value) and 'network = "loopback"' in str(failure.value)
    assert made == [] and reactor.ports == []


@pytest.mark.parametrize("settings, says", [
    ({"subnet": "198.18.8.0"}, "written with its prefix length"),
    ({"subnet": "198.18.8.1/24"}, "written with its prefix length"),
    ({"subnet": "fd00::/64"}, "an IPv4 network"),
    ({"subnet": "198.18.8.0/30", "nodes": 2}, "a subnet with a /30 for each of the 2 nodes"),
    ({"netns_prefix": "Fibre-Sim"}, "lower-case letters and digits"),
    ({"network": "veth"}, "one of: loopback, namespaces"),
])
def test_namespace_settings_are_checked(settings, says):
    """A subnet without its length or too small for the nodes, or a bad prefix, is refused saying why."""
    with pytest.raises(Expected, match=says):
        FibreSimulatorConfig(community=Secret("c"), **{"network": "namespaces", **settings})
