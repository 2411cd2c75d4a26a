"""The simulated ring on real loopback sockets, checked by a client nobody here wrote: net-snmp's snmpwalk
and snmpget (Debian package ``snmp``) walk a simulated Cisco node over v2c and v3 (SHA-256, AES) and see
its dBm sensors and thresholds; a node that is down makes them time out and refuses TCP connections."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence

import pytest
import pytest_twisted
import structlog
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.protocol import Protocol
from twisted.internet.task import deferLater
from twisted.internet.utils import getProcessOutputAndValue

from hub.secrets import Secret
from plugins.dark_fibre_health.config import UsmConfig
from plugins.dark_fibre_health.sim_device import vendor_mib
from plugins.dark_fibre_health.sim_faults import FaultConfig
from plugins.dark_fibre_health.simulator import FibreSimulator, FibreSimulatorConfig

COMMUNITY = "ring-c0mmunity"
AUTH, PRIV = "auth-pass-phrase", "priv-pass-phrase"
CISCO_SENSOR_TYPE = ".1.3.6.1.4.1.9.9.91.1.1.1.1.1"
CISCO_SENSOR_VALUE = ".1.3.6.1.4.1.9.9.91.1.1.1.1.4"
CISCO_THRESHOLD_VALUE = ".1.3.6.1.4.1.9.9.91.1.2.1.1.4"
SYS_NAME = ".1.3.6.1.2.1.1.5.0"

pytestmark = pytest.mark.timeout(60)


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"net-snmp's {name} is needed (Debian package snmp; scripts/setup-env installs it)"
    return path


V2C = ("-v2c", "-c", COMMUNITY)
V3 = ("-v3", "-l", "authPriv", "-u", "hub", "-a", "SHA-256", "-A", AUTH, "-x", "AES", "-X", PRIV)


async def net_snmp(tool: str, version: Sequence[str], port: int, *oids: str, timeout_s: float = 2.0) -> tuple[int, str]:
    """Runs a net-snmp tool against 127.0.0.1:port without loading MIBs; its exit code and its output."""
    args = ("-m", "", "-On", "-Oq", "-t", str(timeout_s), "-r", "0", *version, f"127.0.0.1:{port}", *oids)
    out, err, code = await getProcessOutputAndValue(_tool(tool), args, env={"PATH": os.environ.get("PATH", ""),
                                                                            "HOME": "/nonexistent"})
    return code, (out + err).decode("utf-8", "replace")


def lines_of(output: str) -> dict[str, str]:
    return dict(line.split(" ", 1) for line in output.splitlines() if line.startswith("."))


@pytest_twisted.async_yield_fixture
async def ring():
    config = FibreSimulatorConfig(
        nodes=3, base_port=0, vendors=("cisco",), community=Secret(COMMUNITY), wobble_db=0.0,
        usm=UsmConfig(user="hub", auth_password=Secret(AUTH), priv_password=Secret(PRIV)),
        faults=(FaultConfig(node="node-02", kind="down", at_s=0, for_s=None),))
    simulator = FibreSimulator(reactor, config, log=structlog.get_logger())
    await simulator.startService()
    yield simulator
    await simulator.stopService()


def port_of(simulator: FibreSimulator, node: str) -> int:
    return simulator.network.nodes[node].snmp_port


@pytest_twisted.ensureDeferred
async def test_snmpwalk_over_v2c_sees_the_cisco_dbm_sensors_and_their_thresholds(ring):
    code, output = await net_snmp("snmpwalk", V2C, port_of(ring, "node-01"), CISCO_SENSOR_TYPE)
    assert code == 0, output
    types = lines_of(output)
    assert types[f"{CISCO_SENSOR_TYPE}.2020"] == "14" and types[f"{CISCO_SENSOR_TYPE}.2019"] == "14"  # dBm
    code, output = await net_snmp("snmpwalk", V2C, port_of(ring, "node-01"), CISCO_SENSOR_VALUE)
    assert lines_of(output)[f"{CISCO_SENSOR_VALUE}.2020"] == "-50"  # -5.0 dBm received on Te1/1
    code, output = await net_snmp("snmpwalk", V2C, port_of(ring, "node-01"), CISCO_THRESHOLD_VALUE)
    thresholds = lines_of(output)
    assert [thresholds[f"{CISCO_THRESHOLD_VALUE}.2020.{t}"] for t in (1, 2, 3, 4)] == ["30", "-10", "-99", "-139"]


@pytest_twisted.ensureDeferred
async def test_snmpbulkwalk_over_v3_authpriv_walks_the_whole_tree_in_order(ring):
    code, output = await net_snmp("snmpbulkwalk", V3, port_of(ring, "node-01"), ".1.3")
    assert code == 0, output
    walked = [line.split(" ", 1)[0] for line in output.splitlines() if line.startswith(".")]
    assert output.splitlines()[-1].endswith("No more variables left in this MIB View (It is past the end of the MIB tree)")
    assert walked[:-1] == ["." + ".".join(map(str, oid)) for oid in vendor_mib("cisco").oids()]
    code, output = await net_snmp("snmpget", V3, port_of(ring, "node-01"), f"{CISCO_SENSOR_VALUE}.2020", SYS_NAME)
    assert lines_of(output) == {f"{CISCO_SENSOR_VALUE}.2020": "-50", SYS_NAME: '"node-01"'}


@pytest_twisted.ensureDeferred
async def test_a_wrong_v3_password_is_an_authentication_failure_not_a_silence(ring):
    wrong = tuple("not-the-password" if part == AUTH else part for part in V3)
    code, output = await net_snmp("snmpget", wrong, port_of(ring, "node-01"), SYS_NAME)
    assert code != 0 and "Authentication failure" in output


@pytest_twisted.ensureDeferred
async def test_a_down_node_and_the_node_behind_it_time_out_while_the_one_before_answers(ring):
    answers = {}
    for node in ("node-01", "node-02", "node-03"):
        answers[node] = await net_snmp("snmpget", V2C, port_of(ring, node), SYS_NAME, timeout_s=0.5)
    assert answers["node-01"][0] == 0 and '"node-01"' in answers["node-01"][1]
    for node in ("node-02", "node-03"):
        code, output = answers[node]
        assert code != 0 and "Timeout" in output, output


class _Banner(Protocol):
    def __init__(self) -> None:
        self.received = b""
        self.done: Deferred[bytes] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: object = None) -> None:
        self.done.callback(self.received)


@pytest_twisted.ensureDeferred
async def test_a_down_nodes_management_port_refuses_and_a_live_ones_says_its_banner(ring):
    live = ring.network.nodes["node-01"].tcp_port
    protocol = await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", live, timeout=5), _Banner())
    assert (await protocol.done).startswith(b"SSH-2.0-")
    for node in ("node-02", "node-03"):
        with pytest.raises(ConnectionRefusedError):
            await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", ring.network.nodes[node].tcp_port,
                                                     timeout=5), _Banner())


@pytest_twisted.ensureDeferred
async def test_a_node_that_comes_back_answers_again_on_the_real_clock():
    config = FibreSimulatorConfig(nodes=1, base_port=0, community=Secret(COMMUNITY),
                                  faults=(FaultConfig(node="node-01", kind="down", at_s=0, for_s=0.5),))
    simulator = FibreSimulator(reactor, config, log=structlog.get_logger())
    await simulator.startService()
    try:
        port = port_of(simulator, "node-01")
        code, _ = await net_snmp("snmpget", V2C, port, SYS_NAME, timeout_s=0.2)
        assert code != 0
        for _ in range(50):  # generous: the fault ends half a second after the start
            code, output = await net_snmp("snmpget", V2C, port, SYS_NAME, timeout_s=0.5)
            if code == 0:
                break
            await deferLater(reactor, 0.2, lambda: None)
        assert code == 0 and '"node-01"' in output
        tcp_port = simulator.network.nodes["node-01"].tcp_port
        protocol = await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", tcp_port, timeout=5), _Banner())
        assert (await protocol.done).startswith(b"SSH-2.0-Cisco")
    finally:
        await simulator.stopService()


@pytest_twisted.ensureDeferred
async def test_a_hundred_nodes_listen_and_the_last_answers():
    config = FibreSimulatorConfig(nodes=100, base_port=0, vendors=("juniper",), community=Secret(COMMUNITY))
    simulator = FibreSimulator(reactor, config, log=structlog.get_logger())
    await simulator.startService()
    try:
        code, output = await net_snmp("snmpget", V2C, port_of(simulator, "node-100"), SYS_NAME)
        assert code == 0 and '"node-100"' in output
    finally:
        await simulator.stopService()
