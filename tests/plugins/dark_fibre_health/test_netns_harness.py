"""The namespace harness the fibre adapter's end-to-end tests stand on, proved on its own.

A head end (this process, in the root namespace) and a small network of nodes and cameras, each a network
namespace joined by veth pairs: every address answers, a link taken down inside a node cuts off exactly
what is behind it, an nftables rule drops about the share of ICMP it says, processes run inside a namespace
and are stopped with it, and nothing is left behind. snmpd inside a node reports that node's interfaces and
a receive power the test sets. Everything here is checked with the system's own tools (iputils ping,
net-snmp's snmpget), not with the hub's code.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.plugins.dark_fibre_health.netns import (
    JNX_DOM_COLUMNS,
    JNX_DOM_ENTRY,
    FibreNetwork,
    NodeSpec,
    answering,
    namespaces,
    ping,
    root_links,
    sweep,
    wait_for,
    why_not_usable,
)

pytestmark = pytest.mark.skipif(why_not_usable("nft", "ping") is not None,
                                reason=f"network namespace tests: {why_not_usable('nft', 'ping')}")

IF_DESCR = "1.3.6.1.2.1.2.2.1.2"
IF_OPER_STATUS = "1.3.6.1.2.1.2.2.1.8"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"

Build = Callable[..., FibreNetwork]


def chain(build: Build) -> FibreNetwork:
    """head end - node-a - node-b, with node-c beside node-a; two cameras on a and b, one on c."""
    return build(NodeSpec("node-a", cameras=2), NodeSpec("node-b", upstream="node-a", cameras=2),
                 NodeSpec("node-c", cameras=1))


def behind(network: FibreNetwork, node: str) -> list[str]:
    """The node's address and those of every node and camera behind it."""
    return [address for name in network.behind(node)
            for address in (network.address(name), *network.camera_addresses(name))]


def test_every_node_and_camera_answers_from_the_head_end(fibre_network: Build):
    """Nodes are routers: the head end reaches a node two hops away and the cameras behind every node."""
    network = chain(fibre_network)
    everything = behind(network, "node-a") + behind(network, "node-c")
    assert len(everything) == 3 + 5
    assert len(set(everything)) == len(everything)
    assert answering(everything) == dict.fromkeys(everything, True)


def test_a_link_down_in_a_node_cuts_off_the_node_and_everything_behind_it(fibre_network: Build):
    """``link_down`` takes the node's upstream-facing veth down inside its namespace: it, the node behind
    it and all their cameras stop answering, the node beside it does not notice; ``link_up`` restores all."""
    network = chain(fibre_network)
    cut_off, unaffected = behind(network, "node-a"), behind(network, "node-c")

    network.link_down("node-a")
    assert network.operstate(network.namespace("node-a"), "uplink") == "DOWN"
    assert answering(cut_off + unaffected) == {**dict.fromkeys(cut_off, False), **dict.fromkeys(unaffected, True)}

    network.link_up("node-a")
    wait_for(lambda: all(answering(cut_off).values()), "everything behind node-a answering again", timeout_s=10)


def test_a_link_down_lower_in_the_chain_leaves_the_nodes_above_it_reachable(fibre_network: Build):
    network = chain(fibre_network)
    network.link_down("node-b")
    above = [network.address("node-a"), *network.camera_addresses("node-a")]
    assert answering(above + behind(network, "node-b")) == {
        **dict.fromkeys(above, True), **dict.fromkeys(behind(network, "node-b"), False)}


def test_an_nftables_rule_drops_about_the_share_of_icmp_it_says(fibre_network: Build):
    """30 % loss on node-b's input: about 30 % of 300 pings to node-b go unanswered (binomial: 30 +- 2.6 %,
    the bounds are over four deviations wide); its cameras, routed through it, lose nothing until the rule
    covers forwarded packets too (once per ping: on the way down); ``clear_loss`` ends it."""
    network = chain(fibre_network)
    node, camera = network.address("node-b"), network.camera_addresses("node-b")[0]

    network.add_loss("node-b", 30)
    assert 18.0 <= ping(node, count=300, interval_s=0.002, wait_s=0.3).loss_pct <= 42.0
    assert ping(camera, count=50, interval_s=0.002).loss_pct == 0.0

    network.add_loss("node-b", 30, forwarded=True)
    assert 18.0 <= ping(camera, count=300, interval_s=0.002, wait_s=0.3).loss_pct <= 42.0

    network.clear_loss("node-b")
    assert ping(node, count=50, interval_s=0.002).loss_pct == 0.0
    assert ping(camera, count=50, interval_s=0.002).loss_pct == 0.0


def test_loss_on_one_node_is_its_own(fibre_network: Build):
    """The rule lives in the node's namespace: traffic to the node above it is untouched."""
    network = chain(fibre_network)
    network.add_loss("node-b", 100)
    assert ping(network.address("node-b"), count=20, interval_s=0.01, wait_s=0.3).received == 0
    assert ping(network.address("node-a"), count=20, interval_s=0.01).received == 20


#: A one-connection-at-a-time TCP server that greets each client with its argv[2] and hangs up.
GREETER = """
import socket, sys
server = socket.create_server((sys.argv[1], 18080))
while True:
    client, _ = server.accept()
    client.sendall(sys.argv[2].encode())
    client.close()
"""


def test_a_process_runs_inside_a_camera_namespace_on_a_camera_address(fibre_network: Build):
    """``run`` starts a process inside a namespace: a TCP server bound to a camera's address (which only
    exists in that namespace) is reached from the head end, and ends when asked."""
    network = chain(fibre_network)
    camera = network.camera_addresses("node-b")[1]
    server = network.run(network.camera_namespace("node-b"), [sys.executable, "-c", GREETER, camera, "hello"])

    def greeting() -> str:
        try:
            with socket.create_connection((camera, 18080), timeout=1) as connection:
                return connection.recv(100).decode()
        except OSError:
            return ""

    assert wait_for(greeting, "the server in the camera namespace answering") == "hello"
    assert server.running()
    server.stop()
    assert not server.running()
    assert greeting() == ""


def test_ping_group_range_is_set_per_namespace(fibre_network: Build):
    """Unprivileged ICMP datagram sockets are allowed for the groups in ``net.ipv4.ping_group_range``, a
    per-namespace setting: opened inside node-a as group 0 only once the range includes 0, while the root
    namespace's setting stays as it was."""
    network = chain(fibre_network)
    namespace = network.namespace("node-a")
    root_before = Path("/proc/sys/net/ipv4/ping_group_range").read_text()
    opens = [sys.executable, "-c",
             "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)"]

    network.ping_group_range(namespace, 1, 0)
    assert network.exec(namespace, opens, check=False).returncode != 0

    network.ping_group_range(namespace, 0, 2147483647)
    assert network.read_sysctl(namespace, "net.ipv4.ping_group_range").split() == ["0", "2147483647"]
    assert network.exec(namespace, opens, check=False).returncode == 0
    assert Path("/proc/sys/net/ipv4/ping_group_range").read_text() == root_before


def test_nodes_route_with_forwarding_on(fibre_network: Build):
    network = chain(fibre_network)
    assert network.read_sysctl(network.namespace("node-a"), "net.ipv4.ip_forward") == "1"


def test_destroy_stops_its_processes_and_leaves_no_namespace_or_veth(netns_swept):
    network = FibreNetwork([NodeSpec("node-a", cameras=1), NodeSpec("node-b", upstream="node-a")]).build()
    try:
        made = [name for name in namespaces() if name.startswith(network.owner)]
        assert len(made) == 3  # two nodes and node-a's cameras
        assert network.root_interface("node-a") in {link["ifname"] for link in root_links()}
        sleeper = network.run(network.namespace("node-b"), ["sleep", "60"])
        assert sleeper.running()
    finally:
        assert network.destroy() == []
    assert network.leftovers() == []
    assert not sleeper.running()
    assert not any(network.address("node-a") in line or network.tag in line for line in
                   subprocess.run(["ip", "route"], capture_output=True, text=True, check=True).stdout.splitlines())
    assert network.destroy() == []  # twice is harmless


def test_sweep_removes_what_a_dead_run_left_and_spares_live_runs(netns_swept):
    """Names carry their creator's pid: a namespace and a root veth of a process that has exited are
    removed; those of a process still running (this one) are not."""
    finished = subprocess.Popen(["true"])
    finished.wait()
    dead, alive = f"hubfib-{finished.pid}-dead00", f"hubfib-{os.getpid()}-live00"
    subprocess.run(["ip", "netns", "add", dead], check=True)
    subprocess.run(["ip", "netns", "add", alive], check=True)
    subprocess.run(["ip", "link", "add", "hfdead00", "type", "veth", "peer", "name", "hfdead01"], check=True)
    subprocess.run(["ip", "link", "set", "hfdead00", "alias", dead], check=True)
    try:
        removed = sweep()
        assert dead in removed and "hfdead00" in removed
        assert alive not in removed
        assert dead not in namespaces() and alive in namespaces()
        assert "hfdead00" not in {link["ifname"] for link in root_links()}
    finally:
        for name in (dead, alive):
            subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)
        subprocess.run(["ip", "link", "del", "hfdead00"], check=False, capture_output=True)


# --- net-snmp's snmpd inside a node -------------------------------------------------------------------------

def test_snmpd_in_a_node_reports_the_node_s_own_interfaces_over_v2c_and_v3(fibre_network: Build, snmpd_agent):
    network = chain(fibre_network)
    agent = snmpd_agent(network, "node-a")
    expected = {"lo", "uplink", "cams", "dn-node-b"}
    assert set(agent.tool("snmpwalk", IF_DESCR).values()) == expected
    assert set(agent.tool("snmpwalk", IF_DESCR, version="3").values()) == expected
    assert agent.tool("snmpget", f"{IF_DESCR}.{agent.ifindex}") == {f"{IF_DESCR}.{agent.ifindex}": "uplink"}


def test_snmpd_answers_no_one_with_a_wrong_community(fibre_network: Build, snmpd_agent):
    network = chain(fibre_network)
    agent = snmpd_agent(network, "node-a")
    agent.community = "not-the-community"
    assert agent.tool("snmpget", SYS_UPTIME, check=False, timeout_s=0.3) == {}


def test_snmpd_sees_a_link_go_down_in_its_namespace(fibre_network: Build, snmpd_agent):
    """node-b's uplink taken down leaves node-a's interface towards it without carrier: ifOperStatus 2
    (down) once the agent's interface cache expires (a few seconds in net-snmp)."""
    network = chain(fibre_network)
    agent = snmpd_agent(network, "node-a")
    towards_b = network.ifindex(network.namespace("node-a"), "dn-node-b")
    status = f"{IF_OPER_STATUS}.{towards_b}"
    assert agent.tool("snmpget", status) == {status: "1"}

    network.link_down("node-b")
    wait_for(lambda: agent.tool("snmpget", status)[status] == "2", "ifOperStatus down", timeout_s=15, every_s=0.25)


def test_snmpd_serves_the_receive_power_the_test_writes(fibre_network: Build, snmpd_agent):
    """The ``pass_persist`` script answers JUNIPER-DOM-MIB's row for the node's uplink: receive power in 0.01 dBm
    as the file says at each request, the other columns (thresholds) as a real Juniper optic gave them;
    with no value, the row's other columns are still walked."""
    network = chain(fibre_network)
    agent = snmpd_agent(network, "node-a", rx_dbm=-7.5)
    rx = f"{JNX_DOM_ENTRY}.5.{agent.ifindex}"
    low_alarm = f"{JNX_DOM_ENTRY}.10.{agent.ifindex}"

    walked = agent.tool("snmpwalk", JNX_DOM_ENTRY)
    assert walked[rx] == "-750"
    assert walked[low_alarm] == str(JNX_DOM_COLUMNS[10]) == "-1504"
    assert len(walked) == 1 + len(JNX_DOM_COLUMNS)

    agent.set_rx(-14.26)
    assert agent.tool("snmpget", rx, version="3") == {rx: "-1426"}

    agent.set_rx(None)
    walked = agent.tool("snmpwalk", JNX_DOM_ENTRY)
    assert rx not in walked and walked[low_alarm] == "-1504"
