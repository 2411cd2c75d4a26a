"""Optical readings from recorded walks of real devices (snmpsim-data 1.0.1): what ``interpret`` makes of
what a Cisco 6509, two Nexus 5000s, a Catalyst 3750, two Juniper MX960s and an Arista 7150S really said,
in dBm, with the thresholds the optics carry and the level an engineer would give each port."""

from __future__ import annotations

import pytest

from plugins.dark_fibre_health.codec.optics import (
    CISCO_SENSOR,
    ENT_PHYSICAL_NAME,
    InterfaceStatus,
    NodeReadings,
    OpticalReading,
    interpret,
)
from plugins.dark_fibre_health.codec.snmp import SnmpValue, VarBind
from plugins.dark_fibre_health.config import OpticalThresholds
from plugins.dark_fibre_health.optics_poll import WALKED_SUBTREES
from tests.plugins.dark_fibre_health.snmprec import varbinds


def read(name: str, *, extra: tuple[VarBind, ...] = (), **options) -> NodeReadings:
    options.setdefault("config_thresholds", None)
    return interpret([*varbinds(name, WALKED_SUBTREES), *extra], **options)


def optic(readings: NodeReadings, port: str, direction: str) -> OpticalReading:
    found = [reading for reading in readings.optics if reading.port == port and reading.direction == direction]
    assert len(found) == 1, f"{port} {direction}: {found}"
    return found[0]


def interface(readings: NodeReadings, name: str) -> InterfaceStatus:
    return next(status for status in readings.interfaces if status.name == name)


def limits(reading: OpticalReading) -> tuple[float | None, ...]:
    return reading.thresholds.values()


# --- Cisco Catalyst 6509 (cisco-unknown-01): CISCO-ENTITY-SENSOR-MIB, honest relations ------------------

@pytest.fixture(scope="module")
def cat6509() -> NodeReadings:
    return read("cisco-unknown-01")


def test_cisco_receive_power_under_the_low_alarm_is_an_alarm_although_the_device_says_ok(cat6509):
    """Te3/3, Te3/6 and Te3/7 read -14.7, -15.5 and -14.8 dBm against a -13.9 dBm low alarm; the
    status column says ok(1) for all three."""
    for port, dbm in (("Te3/3", -14.7), ("Te3/6", -15.5), ("Te3/7", -14.8)):
        reading = optic(cat6509, port, "rx")
        assert reading.dbm == pytest.approx(dbm, abs=0.005)
        assert reading.level == "alarm"
        assert limits(reading) == (-13.9, -9.9, -1.0, 3.0)
        assert reading.thresholds.source == "device"
        assert "below the device's low alarm -13.90 dBm" in reading.reason
        assert "status says ok" in reading.reason
        assert reading.vendor == "cisco"


def test_cisco_every_other_optic_reads_ok_in_dbm(cat6509):
    expected = {
        ("Te3/1", "rx"): -2.6, ("Te3/1", "tx"): -3.2, ("Te3/2", "rx"): -2.5, ("Te3/2", "tx"): -3.1,
        ("Te3/3", "tx"): -3.2, ("Te3/4", "rx"): -2.4, ("Te3/4", "tx"): -3.4, ("Te3/5", "rx"): -4.0,
        ("Te3/5", "tx"): -2.0, ("Te3/6", "tx"): -3.3, ("Te3/7", "tx"): -3.5, ("Te3/8", "rx"): -6.0,
        ("Te3/8", "tx"): -3.5, ("Te7/1", "rx"): -1.7, ("Te7/1", "tx"): -1.7, ("Te7/3", "rx"): -6.4,
        ("Te7/3", "tx"): -1.4, ("Te7/4", "rx"): -7.0, ("Te7/4", "tx"): -1.6,
    }
    ok = {(reading.port, reading.direction): reading.dbm for reading in cat6509.optics if reading.level == "ok"}
    assert ok == pytest.approx(expected, abs=0.005)
    assert len(cat6509.optics) == len(expected) + 3
    assert cat6509.unplaced == ()


def test_cisco_thresholds_follow_severity_and_relation_per_optic(cat6509):
    """major lessThan = low alarm, minor lessThan = low warning, minor / major greaterOrEqual = high
    warning / alarm; each optic type has its own."""
    assert limits(optic(cat6509, "Te3/1", "tx")) == (-11.3, -7.3, -1.0, 3.0)
    assert limits(optic(cat6509, "Te7/1", "rx")) == (-16.4, -14.1, 0.0, 1.0)
    assert limits(optic(cat6509, "Te7/4", "rx")) == (-18.4, -14.1, 0.5, 4.5)
    assert limits(optic(cat6509, "Te7/4", "tx")) == (-12.2, -8.2, 0.5, 4.5)


def test_cisco_sensors_reach_their_interface_through_entity_containment(cat6509):
    """Sensor 2044 sits in transceiver 2039, which entAliasMappingIdentifier maps to ifIndex 51."""
    assert optic(cat6509, "Te3/3", "rx").ifindex == 51
    status = interface(cat6509, "Te3/3")
    assert status == InterfaceStatus(ifindex=51, name="Te3/3", oper_status=1, last_change=21349,
                                     in_errors=6629803)
    assert len(cat6509.interfaces) == 459


def test_watched_ports_keep_only_those_under_the_name_configured():
    readings = read("cisco-unknown-01", ports=("TenGigabitEthernet3/3", "Te7/1"))
    assert {(reading.port, reading.direction) for reading in readings.optics} == {
        ("TenGigabitEthernet3/3", "rx"), ("TenGigabitEthernet3/3", "tx"), ("Te7/1", "rx"), ("Te7/1", "tx")}
    assert [status.name for status in readings.interfaces] == ["TenGigabitEthernet3/3", "Te7/1"]
    assert optic(readings, "TenGigabitEthernet3/3", "rx").level == "alarm"


# --- Cisco Nexus 5000 (cisco-n5000, cisco-n5000-uk9): milli-dBm, relations that lie, no names ----------

#: The recordings' entPhysicalTable has 52 rows and none of them is a transceiver sensor, so nothing in
#: them says which port sensor 25827 is on. NX-OS numbers a port's transceiver sensors in a block, receive
#: power at +13 and transmit at +14 (named so on newer NX-OS: "Ethernet1/1 Lane 1 Transceiver Receive Power
#: Sensor"); here the blocks are 16 apart from 25814 = Ethernet1/1. Both recordings bear it out: the
#: transmit sensor of block 4 reads 0 where Ethernet1/4 is down (n5000) and -2.66 dBm where it is up
#: (n5000-uk9). The names below are the ones such an agent would give; the values are the recordings'.
NEXUS_NAMES = {25827: "Ethernet1/1 Lane 1 Transceiver Receive Power Sensor",
               25828: "Ethernet1/1 Lane 1 Transceiver Transmit Power Sensor",
               25875: "Ethernet1/4 Lane 1 Transceiver Receive Power Sensor",
               25876: "Ethernet1/4 Lane 1 Transceiver Transmit Power Sensor"}


def nexus(name: str) -> NodeReadings:
    named = tuple(VarBind(ENT_PHYSICAL_NAME + (index,), SnmpValue("octets", text.encode()))
                  for index, text in NEXUS_NAMES.items())
    return read(name, extra=named)


def test_nexus_sensors_nothing_names_are_listed_not_guessed():
    readings = read("cisco-n5000")
    assert readings.optics == ()
    assert len(readings.unplaced) == 30  # fifteen optics, receive and transmit
    assert readings.unplaced[0] == "cisco sensor 25827: no ENTITY-MIB name says receive or transmit"
    assert interface(readings, "Ethernet1/4").oper_status == 2


def test_nexus_milli_dbm_with_all_four_thresholds_saying_less_than_are_ordered():
    """Every threshold is severity other, relation lessThan (+2.0 dBm "lessThan" included): the four
    values in ascending order are low alarm, low warning, high warning, high alarm."""
    readings = nexus("cisco-n5000")
    receive = optic(readings, "Ethernet1/1", "rx")
    assert receive.dbm == pytest.approx(-1.931, abs=0.0005)
    assert limits(receive) == (-13.979, -9.913, -1.001, 1.997)
    assert receive.level == "ok"
    assert "contradict their values" in receive.reason
    transmit = optic(readings, "Ethernet1/1", "tx")
    assert transmit.dbm == pytest.approx(-2.456, abs=0.0005)
    assert limits(transmit) == (-11.307, -7.304, -1.301, 1.699)
    assert receive.ifindex == transmit.ifindex == 436207616


def test_nexus_zero_on_a_port_that_is_down_is_no_light_not_0_dbm():
    down = nexus("cisco-n5000")
    assert interface(down, "Ethernet1/4").oper_status == 2
    transmit = optic(down, "Ethernet1/4", "tx")
    assert (transmit.level, transmit.dbm) == ("no_light", None)
    assert "not 0 dBm" in transmit.reason
    # Light still arrives at the down port, below its -16.02 dBm low warning but above the alarm.
    receive = optic(down, "Ethernet1/4", "rx")
    assert receive.dbm == pytest.approx(-9.172, abs=0.0005)
    assert limits(receive) == (-18.239, -16.02, 0.996, 1.997)
    assert receive.level == "ok"

    up = nexus("cisco-n5000-uk9")
    assert interface(up, "Ethernet1/4").oper_status == 1
    transmit = optic(up, "Ethernet1/4", "tx")
    assert (transmit.level, transmit.dbm) == ("ok", pytest.approx(-2.66, abs=0.0005))


# --- Catalyst 3750 (cisco-c3750): dBm sensors without thresholds -------------------------------------

def test_c3750_without_device_thresholds_takes_the_configured_ones_for_receive_power():
    config = OpticalThresholds(low_alarm_dbm=-20.0, low_warning_dbm=-17.0, high_warning_dbm=-5.5)
    readings = read("cisco-c3750", config_thresholds=config)
    gi1 = optic(readings, "Gi1/0/1", "rx")
    assert (gi1.dbm, gi1.level, gi1.thresholds.source) == (-6.0, "ok", "config")
    assert limits(gi1) == (-20.0, -17.0, -5.5, None)
    gi6 = optic(readings, "Gi1/0/6", "rx")
    assert (gi6.dbm, gi6.level) == (-5.0, "warning")
    assert "above the configured high warning -5.50 dBm" in gi6.reason
    transmit = optic(readings, "Gi1/0/6", "tx")
    assert (transmit.dbm, transmit.level, transmit.thresholds.source) == (-5.1, "ok", "none")
    assert gi1.ifindex == 10101 and gi6.ifindex == 10106


def test_c3750_without_any_thresholds_reads_ok_and_says_there_are_none():
    gi1 = optic(read("cisco-c3750"), "Gi1/0/1", "rx")
    assert (gi1.level, gi1.thresholds.source, gi1.thresholds.any()) == ("ok", "none", False)
    assert "no thresholds" in gi1.reason


# --- Juniper MX960 (juniper-mx960-16-1r6-7-a): JUNIPER-DOM-MIB in 0.01 dBm --------------------------

@pytest.fixture(scope="module")
def mx960() -> NodeReadings:
    return read("juniper-mx960-16-1r6-7-a")


def test_juniper_receive_power_under_the_low_alarm_is_an_alarm(mx960):
    reading = optic(mx960, "ge-0/0/6", "rx")
    assert (reading.dbm, reading.level, reading.ifindex) == (-23.27, "alarm", 557)
    assert limits(reading) == (-21.48, -20.45, -2.99, -1.99)
    assert reading.thresholds.source == "device"
    assert optic(mx960, "ge-0/0/6", "tx").dbm == -6.94
    assert limits(optic(mx960, "ge-0/0/6", "tx")) == (-12.51, -10.5, -2.0, 0.0)


def test_juniper_zero_from_a_down_port_with_an_optic_is_no_light(mx960):
    """xe-0/2/0 is down; its optic reports thresholds, temperature and -2.89 dBm transmit, and 0 receive."""
    assert interface(mx960, "xe-0/2/0").oper_status == 2
    receive = optic(mx960, "xe-0/2/0", "rx")
    assert (receive.level, receive.dbm) == ("no_light", None)
    assert limits(receive) == (-15.04, -12.14, 0.0, 1.0)
    assert optic(mx960, "xe-0/2/0", "tx").dbm == -2.89


def test_juniper_down_port_with_some_light_is_judged_on_it_and_with_less_than_minus_30_dbm_is_dark(mx960):
    """xe-0/3/0 (down) still receives -26.98 dBm, far under its -20 dBm low alarm: something is lit at the
    far end. xe-1/2/0 (down) reads -35.22 dBm: nothing is."""
    reading = optic(mx960, "xe-0/3/0", "rx")
    assert (reading.dbm, reading.level) == (-26.98, "alarm")
    dark = optic(mx960, "xe-1/2/0", "rx")
    assert (dark.dbm, dark.level) == (None, "no_light")
    assert "-35.22 dBm" in dark.reason


def test_juniper_rows_of_zeros_are_ports_without_diagnostics_and_left_out(mx960):
    """ge-0/0/5 (up) and ge-0/0/7 (down) report 0 for power, every threshold, temperature and bias: a
    copper SFP or an empty cage says nothing about light. Their interfaces are still reported."""
    ports = {reading.port for reading in mx960.optics}
    assert "ge-0/0/5" not in ports and "ge-0/0/7" not in ports
    assert interface(mx960, "ge-0/0/5").oper_status == 1
    assert interface(mx960, "ge-0/0/7").oper_status == 2
    assert len(mx960.optics) == 2 * 37  # of 64 rows, 27 are zeros


def test_juniper_levels_across_the_chassis(mx960):
    levels = {}
    for reading in mx960.optics:
        levels.setdefault(reading.level, set()).add((reading.port, reading.direction))
    assert levels["alarm"] == {("ge-0/0/6", "rx"), ("xe-0/3/0", "rx")}
    assert levels["no_light"] == {("xe-0/2/0", "rx"), ("xe-0/3/1", "rx"), ("ge-1/1/3", "rx"), ("xe-1/3/1", "rx"),
                                  ("ge-1/1/0", "rx"), ("xe-1/2/0", "rx")}
    assert set(levels) == {"ok", "alarm", "no_light"}


# --- Juniper MX960 on JUNOS 12.3 (juniper-mx960-12-3r6-6): receive power 20 dB high ------------------

def test_junos_12_3_receive_power_that_no_optic_can_report_is_unavailable_not_judged():
    """xe-0/2/0 reads 1755 (+17.55 dBm) with thresholds 2100/496/2000/785; the same optic type on JUNOS
    13.3 (juniper-mx960-13-3r9-13) has 100/-1504/0/-1214: receive figures 20.00 dB high. Above +8.2 dBm
    (the most an SFF-8472 register holds) nothing is believed: no alarm, no ok, no dBm."""
    readings = read("juniper-mx960-12-3r6-6")
    receive = optic(readings, "xe-0/2/0", "rx")
    assert (receive.level, receive.dbm) == ("unavailable", None)
    assert "+17.55 dBm" in receive.reason and "not believed" in receive.reason
    # A value that looks possible (+7.54 dBm) under thresholds that are not (+20 dBm high alarm).
    assert optic(readings, "xe-1/2/0", "rx").level == "unavailable"
    # Transmit power is reported right on the same release.
    transmit = optic(readings, "xe-0/2/0", "tx")
    assert (transmit.dbm, transmit.level) == (-2.06, "ok")
    assert limits(transmit) == (-8.01, -7.49, 0.0, 1.0)
    # 0 on a down port is still no light.
    assert optic(readings, "xe-1/3/1", "rx").level == "no_light"


def test_the_same_optic_on_junos_13_3_reads_in_range():
    reading = optic(read("juniper-mx960-13-3r9-13"), "xe-0/2/0", "rx")
    assert (reading.dbm, reading.level) == (-2.63, "ok")
    assert limits(reading) == (-15.04, -12.14, 0.0, 1.0)


# --- Arista DCS-7150S (arista-dcs-7150s-52-cl): ENTITY-SENSOR-MIB watts + ARISTA thresholds ----------

@pytest.fixture(scope="module")
def arista() -> NodeReadings:
    return read("arista-dcs-7150s-52-cl")


def test_arista_milliwatts_at_precision_4_in_dbm(arista):
    """Ethernet5: receive 4025 (0.4025 mW), transmit 6015 (0.6015 mW), scale milli, precision 4."""
    receive = optic(arista, "Ethernet5", "rx")
    assert receive.dbm == pytest.approx(-3.95, abs=0.005)
    assert receive.vendor == "arista" and receive.ifindex == 5
    transmit = optic(arista, "Ethernet5", "tx")
    assert transmit.dbm == pytest.approx(-2.21, abs=0.005)


def test_arista_thresholds_in_the_sensors_own_units(arista):
    """Columns 1 to 4 are low warning, low critical, high warning, high critical: 3170/1260/7900/20000 is
    -4.99/-9.00/-1.02/+3.01 dBm."""
    transmit = optic(arista, "Ethernet5", "tx")
    assert limits(transmit) == pytest.approx((-9.0, -4.99, -1.02, 3.01), abs=0.005)
    assert transmit.thresholds.source == "device"
    receive = optic(arista, "Ethernet19", "rx")
    assert limits(receive) == pytest.approx((-14.0, -12.0, 1.0, 1.5), abs=0.005)


def test_arista_dark_port_is_no_light_not_minus_34_dbm(arista):
    """Ethernet50 is down with 0.0004 mW (-33.98 dBm) at its receiver: a dark port's noise, under any
    receiver's sensitivity, below the -30 dBm Arista's own CLI shows for a dark lane. Arista's status text
    calls it "below the low critical threshold (398)"; the engineer calls it no light."""
    reading = optic(arista, "Ethernet50", "rx")
    assert (reading.level, reading.dbm) == ("no_light", None)
    assert "-33.98 dBm" in reading.reason
    assert reading.thresholds.values() == pytest.approx((-14.0, -12.0, 1.0, 1.5), abs=0.005)
    assert interface(arista, "Ethernet50").oper_status == 2


def test_arista_every_optic_is_found_and_none_is_another_ports(arista):
    """"DOM RX Power Sensor for Ethernet5" is Ethernet5, not Ethernet50."""
    ports = sorted({(reading.ifindex, reading.port) for reading in arista.optics})
    assert ports == [(5, "Ethernet5"), (7, "Ethernet7"), (19, "Ethernet19"), (23, "Ethernet23"),
                     (47, "Ethernet47"), (48, "Ethernet48"), (50, "Ethernet50"), (51, "Ethernet51"),
                     (52, "Ethernet52")]
    assert len(arista.optics) == 18
    assert {reading.level for reading in arista.optics if reading.port != "Ethernet50"} == {"ok"}


def test_a_walk_without_optical_tables_still_reports_interfaces():
    readings = interpret([vb for vb in varbinds("cisco-c3750", WALKED_SUBTREES) if vb.oid[:13] != CISCO_SENSOR],
                         config_thresholds=None)
    assert readings.optics == ()
    assert len(readings.interfaces) == 19
