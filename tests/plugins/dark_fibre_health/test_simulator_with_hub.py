"""The hub reads a simulated node as it reads a real one: its own SNMP client and optics poll, over loopback,
against each vendor flavour, over v3 and v2c; receive power, thresholds from the device, a dark port, a
value past its alarm beside Cisco's "ok", and a node that is down."""

from __future__ import annotations

import pytest
import pytest_twisted
import structlog
from twisted.internet import reactor

from hub.secrets import Secret
from plugins.dark_fibre_health.config import SnmpConfig, UsmConfig
from plugins.dark_fibre_health.optics_poll import poll_node
from plugins.dark_fibre_health.sim_faults import FaultConfig
from plugins.dark_fibre_health.simulator import FibreSimulator, FibreSimulatorConfig
from plugins.dark_fibre_health.snmp_client import SnmpClient, SnmpTarget, SnmpTimeout

USM = UsmConfig(user="hub", auth_password=Secret("auth-pass-phrase"), priv_password=Secret("priv-pass-phrase"))
COMMUNITY = Secret("ring-c0mmunity")
UPLINKS = {"cisco": "Te1/1", "juniper": "xe-0/0/0", "entity": "Ethernet49"}

pytestmark = pytest.mark.timeout(60)


@pytest_twisted.async_yield_fixture
async def ring():
    """Ten nodes, the flavours in turn: nodes 1-3 healthy, 4-6 with their uplinks dark, 7-9 with a receive
    power already past the low alarm, and node 10 down (in four chains, so that no node is behind another
    with a fault)."""
    faults = [FaultConfig(node=f"node-0{n}", kind="port_down", at_s=0) for n in (4, 5, 6)]
    faults += [FaultConfig(node=f"node-0{n}", kind="rx_decline", at_s=0, start_dbm=-21.0, db_per_day=0.1)
               for n in (7, 8, 9)]
    faults += [FaultConfig(node="node-10", kind="down", at_s=0)]
    config = FibreSimulatorConfig(nodes=10, chains=4, base_port=0, community=COMMUNITY, usm=USM,
                                  wobble_db=0.0, rx_spread_db=0.0, rx_dbm=-6.0, faults=tuple(faults))
    simulator = FibreSimulator(reactor, config, log=structlog.get_logger())
    client = SnmpClient(reactor)
    await simulator.startService()
    client.start()
    yield simulator, client
    await client.stop()
    await simulator.stopService()


async def poll(ring, name: str, version: str = "3"):
    simulator, client = ring
    network = simulator.network.nodes[name]
    snmp = SnmpConfig(version=version, port=network.snmp_port, community=COMMUNITY if version == "2c" else None,
                      usm=USM if version == "3" else None, timeout_s=0.5, retries=0)
    readings = await poll_node(client, SnmpTarget.from_config("127.0.0.1", snmp), config_thresholds=None)
    return network.node, readings


def uplink(node, readings, direction: str = "rx"):
    [reading] = [r for r in readings.optics if r.port == UPLINKS[node.vendor] and r.direction == direction]
    return reading


@pytest.mark.parametrize("name, version", [("node-01", "3"), ("node-02", "3"), ("node-03", "2c")])
@pytest_twisted.ensureDeferred
async def test_a_healthy_node_of_each_flavour_reads_its_receive_power_and_the_devices_thresholds(ring, name, version):
    node, readings = await poll(ring, name, version)
    rx = uplink(node, readings)
    assert rx.dbm == pytest.approx(-6.0, abs=0.01)
    assert (rx.level, rx.thresholds.source, rx.vendor) == ("ok", "device", {"entity": "arista"}.get(node.vendor,
                                                                                                     node.vendor))
    assert rx.thresholds.low_alarm == pytest.approx(
        {"cisco": -13.9, "juniper": -20.0, "entity": -14.0}[node.vendor], abs=0.01)
    interfaces = {interface.name: interface for interface in readings.interfaces}
    assert interfaces[UPLINKS[node.vendor]].up
    # the copper camera ports carry no optic, and no reading is made up for them
    assert {reading.port for reading in readings.optics} <= {UPLINKS[node.vendor], *interfaces} - {
        "Gi1/0/1", "Gi1/0/2", "ge-0/0/2", "ge-0/0/3", "Ethernet1", "Ethernet2"}


@pytest.mark.parametrize("name", ["node-04", "node-05", "node-06"])
@pytest_twisted.ensureDeferred
async def test_a_dark_uplink_is_no_light_and_down_never_a_power_of_its_own(ring, name):
    node, readings = await poll(ring, name)
    rx = uplink(node, readings)
    assert (rx.level, rx.dbm) == ("no_light", None)
    assert not {interface.name: interface for interface in readings.interfaces}[UPLINKS[node.vendor]].up


@pytest.mark.parametrize("name", ["node-07", "node-08", "node-09"])
@pytest_twisted.ensureDeferred
async def test_a_receive_power_past_the_low_alarm_is_an_alarm_whatever_the_device_status_says(ring, name):
    node, readings = await poll(ring, name)
    rx = uplink(node, readings)
    assert rx.level == "alarm" and rx.dbm == pytest.approx(-21.0, abs=0.05)


@pytest_twisted.ensureDeferred
async def test_a_down_node_fails_the_poll_by_timeout(ring):
    with pytest.raises(SnmpTimeout):
        await poll(ring, "node-10")
