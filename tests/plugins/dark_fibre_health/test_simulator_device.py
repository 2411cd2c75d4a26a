"""A simulated node as its agent reports it: the vendors' MIBs as the recorded devices have them, and the
fault script's effect on reachability, interfaces and receive power, on elapsed time alone."""

from __future__ import annotations

import math

import pytest

from plugins.dark_fibre_health.codec.snmp import OID, SnmpValue, parse_oid
from plugins.dark_fibre_health.sim_device import (
    ARISTA_THRESHOLD,
    CISCO_SENSOR,
    CISCO_THRESHOLD,
    ENT_ALIAS_MAPPING,
    ENT_PHYSICAL,
    ENT_SENSOR,
    IF_ENTRY,
    IFX_ENTRY,
    JUNIPER_DOM,
    SimulatedNode,
    vendor_mib,
)
from plugins.dark_fibre_health.sim_faults import FaultConfig, FaultScript
from tests.plugins.dark_fibre_health.snmprec import varbinds

DAY = 86400.0


def node(vendor="cisco", faults=(), *, name="node-02", index=2, repeat_s=None, **settings) -> SimulatedNode:
    settings = {"ancestors": ("node-01",), "downstream": "node-03", "rx_dbm": -5.0, **settings}
    return SimulatedNode(name, index, vendor, FaultScript(list(faults), repeat_s), **settings)


def fault(kind, node="node-02", at_s=100.0, for_s=50.0, **settings) -> FaultConfig:
    return FaultConfig(node=node, kind=kind, at_s=at_s, for_s=for_s, **settings)


def read(simulated: SimulatedNode, elapsed: float, oid: str, *index: int) -> SnmpValue:
    return vendor_mib(simulated.vendor).get(parse_oid(oid) + index, simulated.reading(elapsed)).value


def number(simulated: SimulatedNode, elapsed: float, oid: str, *index: int) -> int:
    value = read(simulated, elapsed, oid, *index)
    assert isinstance(value.value, int), value
    return value.value


# --- Like the recorded devices -----------------------------------------------------------------------


def _columns(subtree: str, oids_and_kinds) -> set[tuple[OID, str]]:
    prefix = parse_oid(subtree)
    return {(oid[:len(prefix) + 1], kind) for oid, kind in oids_and_kinds if oid[:len(prefix)] == prefix}


@pytest.mark.parametrize("vendor, recording, subtrees", [
    ("cisco", "cisco-unknown-01", (CISCO_SENSOR, CISCO_THRESHOLD, ENT_ALIAS_MAPPING, IF_ENTRY, IFX_ENTRY)),
    ("juniper", "juniper-mx960-16-1r6-7-a", (JUNIPER_DOM, IF_ENTRY, IFX_ENTRY)),
    ("entity", "arista-dcs-7150s-52-cl", (ENT_SENSOR, ARISTA_THRESHOLD, IF_ENTRY, IFX_ENTRY)),
])
def test_each_flavour_serves_the_columns_of_its_recorded_device_with_the_same_types(vendor, recording, subtrees):
    simulated = node(vendor)
    tree, reading = vendor_mib(vendor), simulated.reading(10.0)
    served = [(oid, tree.get(oid, reading).value.kind) for oid in tree.oids()]
    recorded = [(varbind.oid, varbind.value.kind) for varbind in varbinds(recording, [parse_oid(s) for s in subtrees])]
    for subtree in subtrees:
        ours = _columns(subtree, served)
        assert ours, f"{vendor} serves nothing under {subtree}"
        assert ours <= _columns(subtree, recorded), f"{vendor} under {subtree}: {ours - _columns(subtree, recorded)}"


def test_entity_mib_names_and_classes_are_served_for_every_flavour_with_entities():
    for vendor in ("cisco", "entity"):
        tree, reading = vendor_mib(vendor), node(vendor).reading(0)
        classes = {tree.get(oid, reading).value.value for oid in tree.oids()
                   if oid[:len(parse_oid(ENT_PHYSICAL)) + 1] == parse_oid(ENT_PHYSICAL) + (5,)}
        assert {3, 5, 8} <= classes  # chassis, containers, sensors


def test_cisco_rx_is_a_dbm_sensor_in_tenths_tied_to_its_port_with_its_thresholds():
    simulated = node("cisco", wobble_db=0.0)
    assert [number(simulated, 0, CISCO_SENSOR, column, 2020) for column in (1, 2, 3, 4, 5)] == [14, 9, 1, -50, 1]
    assert read(simulated, 0, ENT_PHYSICAL, 7, 2020) == SnmpValue("octets", b"Te1/1 Receive Power Sensor")
    assert number(simulated, 0, ENT_PHYSICAL, 4, 2020) == 2015  # contained in the port...
    assert read(simulated, 0, ENT_ALIAS_MAPPING, 2015, 0) == SnmpValue("oid", parse_oid(IF_ENTRY) + (1, 49))
    assert read(simulated, 0, IFX_ENTRY, 1, 49) == SnmpValue("octets", b"Te1/1")  # ...which is the uplink
    limits = [(number(simulated, 0, CISCO_THRESHOLD, 3, 2020, t), number(simulated, 0, CISCO_THRESHOLD, 4, 2020, t))
              for t in (1, 2, 3, 4)]
    assert limits == [(4, 30), (4, -10), (2, -99), (2, -139)]  # >= 3.0, >= -1.0, <= -9.9, <= -13.9 dBm


def test_cisco_says_ok_beside_a_value_past_its_low_alarm_but_evaluates_the_threshold_true():
    simulated = node("cisco", [fault("rx_decline", at_s=0, for_s=None, start_dbm=-14.5)], wobble_db=0.0)
    assert number(simulated, 1, CISCO_SENSOR, 4, 2020) == -145
    assert number(simulated, 1, CISCO_SENSOR, 5, 2020) == 1  # ok, as a real Cisco says
    assert number(simulated, 1, CISCO_THRESHOLD, 5, 2020, 4) == 1  # but the low alarm (<= -13.9) is crossed
    assert number(simulated, 1, CISCO_THRESHOLD, 5, 2020, 1) == 2


def test_a_dark_port_is_down_since_the_fault_began_and_reads_no_light_in_each_flavours_way():
    faults = [fault("port_down", at_s=100, for_s=50)]
    cisco, juniper, entity = (node(vendor, faults, wobble_db=0.0) for vendor in ("cisco", "juniper", "entity"))
    assert [number(cisco, t, IF_ENTRY, 8, 49) for t in (99, 100, 149, 150)] == [1, 2, 2, 1]
    assert number(cisco, 120, IF_ENTRY, 9, 49) == cisco.uptime_ticks(100)
    assert number(cisco, 160, IF_ENTRY, 9, 49) == cisco.uptime_ticks(150)
    assert number(cisco, 120, CISCO_SENSOR, 4, 2020) == -400  # -40.0 dBm
    assert number(juniper, 120, IF_ENTRY, 8, 512) == 2
    assert number(juniper, 120, JUNIPER_DOM, 5, 512) == 0  # 0, which is not 0 dBm
    assert number(juniper, 120, JUNIPER_DOM, 10, 512) == -2000  # the optic's thresholds are still there
    assert number(entity, 120, IF_ENTRY, 8, 49) == 2
    assert number(entity, 120, ENT_SENSOR, 4, 100349213) == 4  # 0.0004 mW, as a dark Arista port reads
    assert read(entity, 120, ARISTA_THRESHOLD, 5, 100349213).value == (
        b"Sensor value 4 is below the low critical threshold (398)")
    assert number(cisco, 120, CISCO_SENSOR, 4, 2032) == -57  # the other port is untouched


def test_juniper_reads_hundredths_of_a_dbm_and_copper_ports_have_all_zero_rows():
    juniper = node("juniper", wobble_db=0.0)
    assert number(juniper, 0, JUNIPER_DOM, 5, 512) == -500
    assert [number(juniper, 0, JUNIPER_DOM, column, 512) for column in (9, 10, 11, 12)] == [250, -2000, 200, -1801]
    assert {number(juniper, 0, JUNIPER_DOM, column, 514) for column in range(5, 30)} == {0}


def test_entity_reads_tenths_of_a_microwatt_with_aristas_thresholds_low_warning_first():
    entity = node("entity", wobble_db=0.0)
    assert number(entity, 0, ENT_SENSOR, 4, 100349213) == round(10 ** (-5 / 10) * 10000)
    assert read(entity, 0, ENT_SENSOR, 6, 100349213) == SnmpValue("octets", b"mW")
    assert [number(entity, 0, ARISTA_THRESHOLD, column, 100349213) for column in (1, 2, 3, 4)] == [
        631, 398, 12589, 14125]
    assert read(entity, 0, ENT_PHYSICAL, 14, 100349100) == SnmpValue("octets", b"Ethernet49")


# --- The script's effects -----------------------------------------------------------------------------


def test_rx_falls_by_the_given_db_per_simulated_day_and_time_scale_makes_days_pass_faster():
    declining = [fault("rx_decline", at_s=60, for_s=None, db_per_day=2.0)]
    real_time = node(faults=declining, wobble_db=0.0)
    assert real_time.rx_at(2, 60 + DAY / 2) == pytest.approx(-6.0)
    fast = node(faults=declining, wobble_db=0.0, time_scale=1440)  # a day a minute
    assert fast.rx_at(2, 60) == pytest.approx(-5.0)
    assert fast.rx_at(2, 60 + 180) == pytest.approx(-11.0)
    assert fast.rx_at(3, 60 + 180) == pytest.approx(-5.7)  # only the uplink's connector is dirty


def test_rx_declines_from_a_start_value_and_is_back_to_normal_when_the_fault_ends():
    simulated = node(faults=[fault("rx_decline", at_s=0, for_s=DAY, start_dbm=-9.0)], wobble_db=0.0)
    assert simulated.rx_at(2, 0) == pytest.approx(-9.0)
    assert simulated.rx_at(2, DAY - 1) == pytest.approx(-10.0, abs=0.01)
    assert simulated.rx_at(2, DAY) == pytest.approx(-5.0)


def test_rx_wobbles_a_little_around_its_value():
    simulated = node(wobble_db=0.2)
    values = [simulated.rx_at(2, t) for t in range(0, 600, 10)]
    assert max(values) - min(values) == pytest.approx(0.4, abs=0.02)


def test_in_errors_count_up_and_faster_while_the_light_fades():
    calm = node()
    fading = node(faults=[fault("rx_decline", at_s=0, for_s=None)])
    calm_errors = [number(calm, t, IF_ENTRY, 14, 49) for t in (0, 600, 1200)]
    assert calm_errors[0] < calm_errors[1] < calm_errors[2]
    assert number(fading, 1200, IF_ENTRY, 14, 49) - number(fading, 0, IF_ENTRY, 14, 49) > (
        calm_errors[2] - calm_errors[0]) * 10


def test_a_down_node_is_dark_and_so_is_every_node_behind_it_but_not_the_one_before():
    script = [fault("down", node="node-02", at_s=100, for_s=50)]
    before = node(faults=script, name="node-01", index=1, ancestors=(), downstream="node-02")
    down = node(faults=script)
    behind = node(faults=script, name="node-03", index=3, ancestors=("node-02", "node-01"), downstream=None)
    assert [(before.dark(t), down.dark(t), behind.dark(t)) for t in (99, 100, 149, 150)] == [
        (False, False, False), (False, True, True), (False, True, True), (False, False, False)]
    assert down.down(120) and not behind.down(120)


def test_the_port_facing_a_down_node_loses_light():
    script = [fault("down", node="node-03", at_s=100, for_s=50)]
    simulated = node(faults=script, wobble_db=0.0)
    assert number(simulated, 120, IF_ENTRY, 8, 50) == 2  # the downlink, towards node-03
    assert number(simulated, 120, IF_ENTRY, 9, 50) == simulated.uptime_ticks(100)
    assert number(simulated, 120, CISCO_SENSOR, 4, 2032) == -400
    assert number(simulated, 120, IF_ENTRY, 8, 49) == 1


def test_a_lossy_node_is_dark_in_about_its_share_of_slots_and_those_behind_it_with_it():
    script = [fault("loss", at_s=0, for_s=None, loss_pct=40)]
    lossy = node(faults=script, loss_slot_s=0.5)
    behind = node(faults=script, name="node-03", index=3, ancestors=("node-02", "node-01"), downstream=None,
                  loss_slot_s=0.5)
    dark = [lossy.dark(t * 0.5 + 0.25) for t in range(1000)]
    assert 0.33 < sum(dark) / len(dark) < 0.47
    assert dark == [behind.dark(t * 0.5 + 0.25) for t in range(1000)]
    assert lossy.dark(0.1) == lossy.dark(0.4)  # one slot, one answer


def test_uptime_counts_in_ticks_from_before_the_simulator_started():
    simulated = node()
    assert number(simulated, 0, "1.3.6.1.2.1.1.3", 0) > 3 * 86400 * 100
    assert number(simulated, 12.5, "1.3.6.1.2.1.1.3", 0) - number(simulated, 0, "1.3.6.1.2.1.1.3", 0) == 1250


def test_nodes_of_a_flavour_share_one_tree_and_differ_by_their_readings():
    first, second = node(name="node-01", index=1), node(name="node-07", index=7, rx_dbm=-8.0, wobble_db=0.0)
    assert vendor_mib("cisco") is vendor_mib(first.vendor) is vendor_mib(second.vendor)
    assert read(second, 0, "1.3.6.1.2.1.1.5", 0) == SnmpValue("octets", b"node-07")
    assert number(second, 0, CISCO_SENSOR, 4, 2020) == -80
    assert not math.isnan(second.rx_at(2, 0))


def test_an_unknown_vendor_is_refused():
    with pytest.raises(ValueError, match="cisco, juniper, entity"):
        node("huawei")
