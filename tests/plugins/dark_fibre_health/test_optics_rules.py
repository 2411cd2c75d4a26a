"""The rules of ``interpret`` one at a time, on small hand-built walks: how Cisco thresholds are read when
their relations can and cannot be trusted, what counts as no light, what is not believed, how sensors
find their ports, and what is not optical at all."""

from __future__ import annotations

import pytest

from plugins.dark_fibre_health.codec.optics import (
    ARISTA_THRESHOLD,
    CISCO_SENSOR,
    CISCO_THRESHOLD,
    ENT_ALIAS_MAPPING,
    ENT_PHYSICAL_CONTAINED_IN,
    ENT_PHYSICAL_DESCR,
    ENT_PHYSICAL_NAME,
    ENT_SENSOR,
    IF_DESCR,
    IF_INDEX,
    IF_NAME,
    IF_OPER_STATUS,
    JUNIPER_DOM,
    NodeReadings,
    OpticalReading,
    Thresholds,
    interpret,
)
from plugins.dark_fibre_health.codec.snmp import SnmpValue, VarBind
from plugins.dark_fibre_health.config import OpticalThresholds

UP, DOWN = 1, 2
LESS, GREATER_OR_EQUAL = 1, 4
OTHER, MINOR, MAJOR = 1, 10, 20
DBM, WATTS, OTHER_TYPE, CELSIUS = 14, 6, 1, 8
UNITS, MILLI = 9, 8


def integer(oid, value):
    return VarBind(oid, SnmpValue("integer", value))


def text(oid, value):
    return VarBind(oid, SnmpValue("octets", value.encode()))


def port(ifindex, name, status=UP, descr=None):
    return [text(IF_NAME + (ifindex,), name), text(IF_DESCR + (ifindex,), descr or name),
            integer(IF_OPER_STATUS + (ifindex,), status)]


def entity(index, name, contained_in=None):
    found = [text(ENT_PHYSICAL_NAME + (index,), name)]
    if contained_in is not None:
        found.append(integer(ENT_PHYSICAL_CONTAINED_IN + (index,), contained_in))
    return found


def cisco(index, value, *, kind=DBM, scale=UNITS, precision=1, status=1, thresholds=()):
    found = [integer(CISCO_SENSOR + (column, index), number)
             for column, number in ((1, kind), (2, scale), (3, precision), (4, value), (5, status))]
    for number, (severity, relation, limit) in enumerate(thresholds, 1):
        found += [integer(CISCO_THRESHOLD + (2, index, number), severity),
                  integer(CISCO_THRESHOLD + (3, index, number), relation),
                  integer(CISCO_THRESHOLD + (4, index, number), limit)]
    return found


def sensor(index, value, *, kind=WATTS, scale=MILLI, precision=4, status=1, units=None):
    found = [integer(ENT_SENSOR + (column, index), number)
             for column, number in ((1, kind), (2, scale), (3, precision), (4, value), (5, status))]
    if units is not None:
        found.append(text(ENT_SENSOR + (6, index), units))
    return found


def juniper(ifindex, rx, tx=-250, *, rx_limits=(-200, -2148, -300, -2045), temperature=30):
    columns = {5: rx, 7: tx, 8: temperature, 9: rx_limits[0], 10: rx_limits[1], 11: rx_limits[2],
               12: rx_limits[3], 17: 0, 18: -1251, 19: -200, 20: -1050}
    return [integer(JUNIPER_DOM + (column, ifindex), value) for column, value in columns.items()]


def only(readings: NodeReadings, direction: str = "rx") -> OpticalReading:
    found = [reading for reading in readings.optics if reading.direction == direction]
    assert len(found) == 1, found
    return found[0]


def te1(*sensors, status=UP, config=None):
    walk = [*port(10, "Te1/1", status, "TenGigabitEthernet1/1"), *entity(100, "Te1/1 Receive Power Sensor"),
            *sensors]
    return interpret(walk, config_thresholds=config)


# --- Cisco thresholds ------------------------------------------------------------------------------

HONEST = ((MAJOR, GREATER_OR_EQUAL, 30), (MINOR, GREATER_OR_EQUAL, -10), (MINOR, LESS, -99), (MAJOR, LESS, -139))


@pytest.mark.parametrize(("value", "level"), [(-139, "warning"), (-140, "alarm"), (-99, "ok"), (-100, "warning"),
                                              (-10, "ok"), (-9, "warning"), (30, "warning"), (31, "alarm")])
def test_a_value_on_a_threshold_keeps_the_better_level_and_one_past_it_does_not(value, level):
    reading = only(te1(*cisco(100, value, thresholds=HONEST)))
    assert reading.level == level
    assert reading.thresholds == Thresholds(-13.9, -9.9, -1.0, 3.0, "device")


def test_two_low_thresholds_alone_are_a_warning_and_an_alarm_by_their_values():
    reading = only(te1(*cisco(100, -120, thresholds=((OTHER, LESS, -99), (OTHER, LESS, -139)))))
    assert reading.thresholds == Thresholds(-13.9, -9.9, None, None, "device")
    assert reading.level == "warning"


def test_a_lone_threshold_is_a_warning_when_minor_and_an_alarm_otherwise():
    minor = only(te1(*cisco(100, -120, thresholds=((MINOR, LESS, -99),))))
    assert minor.thresholds == Thresholds(None, -9.9, None, None, "device")
    assert minor.level == "warning"
    major = only(te1(*cisco(100, -120, thresholds=((MAJOR, LESS, -99),))))
    assert major.thresholds == Thresholds(-9.9, None, None, None, "device")
    assert major.level == "alarm"


def test_four_thresholds_with_relations_that_contradict_them_are_ordered():
    scrambled = ((OTHER, LESS, 1997), (OTHER, LESS, -1001), (OTHER, LESS, -13979), (OTHER, LESS, -9913))
    reading = only(te1(*cisco(100, -12000, scale=MILLI, precision=0, thresholds=scrambled)))
    assert reading.thresholds == Thresholds(-13.979, -9.913, -1.001, 1.997, "device")
    assert reading.level == "warning"


def test_three_contradictory_thresholds_are_not_used_and_the_configured_ones_are():
    scrambled = ((OTHER, LESS, 30), (OTHER, LESS, -10), (OTHER, LESS, -99))
    config = OpticalThresholds(low_alarm_dbm=-14.0)
    reading = only(te1(*cisco(100, -150, thresholds=scrambled), config=config))
    assert reading.thresholds == Thresholds(-14.0, None, None, None, "config")
    assert reading.level == "alarm"
    assert "not used" in reading.reason


def test_device_thresholds_win_over_configured_ones():
    config = OpticalThresholds(low_alarm_dbm=-5.0)
    reading = only(te1(*cisco(100, -60, thresholds=HONEST), config=config))
    assert (reading.thresholds.source, reading.level) == ("device", "ok")


def test_a_sensor_the_device_calls_unavailable_is_not_judged():
    reading = only(te1(*cisco(100, -400, status=2, thresholds=HONEST)))
    assert (reading.level, reading.dbm) == ("unavailable", None)
    assert "unavailable" in reading.reason


def test_cisco_sensors_that_are_not_dbm_are_not_optics():
    assert te1(*cisco(100, 35, kind=CELSIUS)).optics == ()


# --- No light, and what is not believed ----------------------------------------------------------

def test_zero_dbm_from_an_up_port_is_zero_dbm():
    reading = only(te1(*cisco(100, 0, thresholds=HONEST)))
    assert (reading.dbm, reading.level) == (0.0, "warning")  # above the -1.0 dBm high warning


def test_zero_dbm_from_a_down_port_is_no_light():
    reading = only(te1(*cisco(100, 0, thresholds=HONEST), status=DOWN))
    assert (reading.dbm, reading.level) == (None, "no_light")


@pytest.mark.parametrize("value", [-400, -301, -300])
def test_minus_30_dbm_and_less_is_no_light_even_on_an_up_port(value):
    """-40 dBm is what Cisco reports with nothing plugged in; -30 dBm is under any receiver's sensitivity."""
    reading = only(te1(*cisco(100, value, thresholds=HONEST)))
    assert (reading.dbm, reading.level) == (None, "no_light")
    assert f"{value / 10:+.2f} dBm" in reading.reason


def test_light_just_above_minus_30_dbm_is_judged_on_the_thresholds():
    reading = only(te1(*cisco(100, -299, thresholds=HONEST), status=DOWN))
    assert (reading.dbm, reading.level) == (-29.9, "alarm")


def test_zero_watts_is_no_light():
    walk = [*port(5, "Ethernet5"), *entity(200, "DOM RX Power Sensor for Ethernet5"), *sensor(200, 0)]
    reading = only(interpret(walk, config_thresholds=None))
    assert (reading.dbm, reading.level) == (None, "no_light")


def test_more_power_than_a_register_can_hold_is_not_believed():
    reading = only(te1(*cisco(100, 90, thresholds=HONEST)))
    assert (reading.dbm, reading.level) == (None, "unavailable")
    assert "+9.00 dBm" in reading.reason


def test_juniper_receive_power_is_hundredths_of_a_dbm_with_its_own_column_order():
    walk = [*port(557, "ge-0/0/6"), *juniper(557, -1500)]
    readings = interpret(walk, config_thresholds=None)
    reading = only(readings)
    assert reading.thresholds == Thresholds(-21.48, -20.45, -3.0, -2.0, "device")
    assert (reading.dbm, reading.level) == (-15.0, "ok")
    assert only(readings, "tx").thresholds == Thresholds(-12.51, -10.5, -2.0, 0.0, "device")


def test_a_juniper_row_of_zeros_is_left_out_up_or_down():
    walk = [*port(556, "ge-0/0/5"), *port(558, "ge-0/0/7", DOWN)]
    walk += [integer(JUNIPER_DOM + (column, ifindex), 0)
             for column in (5, 7, 8, 9, 10, 11, 12, 17, 18, 19, 20) for ifindex in (556, 558)]
    readings = interpret(walk, config_thresholds=None)
    assert readings.optics == ()
    assert [status.name for status in readings.interfaces] == ["ge-0/0/5", "ge-0/0/7"]


# --- ENTITY-SENSOR-MIB -----------------------------------------------------------------------------

def test_watts_become_dbm_and_arista_thresholds_are_in_the_same_units():
    walk = [*port(5, "Ethernet5"), *entity(200, "DOM TX Power Sensor for Ethernet5"), *sensor(200, 10000)]
    walk += [integer(ARISTA_THRESHOLD + (column, 200), value)
             for column, value in ((1, 1000), (2, -1000000000), (3, 15849), (4, 20000))]
    reading = only(interpret(walk, config_thresholds=None), "tx")
    assert reading.dbm == 0.0  # 1 mW
    assert reading.thresholds == Thresholds(None, -10.0, 2.0, 3.01, "device")
    assert reading.vendor == "arista"


def test_an_entity_sensor_of_type_other_in_dbm_units_is_read_as_dbm():
    walk = [*port(7, "xe-0/0/7"), *entity(300, "xe-0/0/7 Rx Power"),
            *sensor(300, -712, kind=OTHER_TYPE, scale=UNITS, precision=2, units="dBm")]
    reading = only(interpret(walk, config_thresholds=None))
    assert (reading.dbm, reading.vendor, reading.thresholds.source) == (-7.12, "entity", "none")


def test_a_power_supplys_watts_are_not_light():
    walk = [*entity(400, "PSU1 Input Power Sensor"), *sensor(400, 1200000, precision=0),
            *entity(401, "PowerSupply2 Output Power"), *sensor(401, 900000, precision=0)]
    readings = interpret(walk, config_thresholds=None)
    assert readings.optics == () and readings.unplaced == ()


def test_the_same_sensor_in_both_sensor_mibs_is_read_once_from_ciscos():
    walk = [*port(10, "Te1/1"), *entity(100, "Te1/1 Receive Power Sensor"), *cisco(100, -147, thresholds=HONEST),
            *sensor(100, -147, kind=DBM, scale=UNITS, precision=1)]
    reading = only(interpret(walk, config_thresholds=None))
    assert (reading.vendor, reading.level) == ("cisco", "alarm")


# --- Finding the port ------------------------------------------------------------------------------

def test_containment_up_to_an_aliased_port_wins_over_the_name():
    """The sensor is named for Te1/2, but ENTITY-MIB puts it in the transceiver of ifIndex 10."""
    walk = [*port(10, "Te1/1"), *port(11, "Te1/2"), *entity(100, "Te1/2 Receive Power Sensor", 99),
            *entity(99, "Transceiver", 98), *entity(98, "Te1/1 container"),
            VarBind(ENT_ALIAS_MAPPING + (98, 0), SnmpValue("oid", IF_INDEX + (10,))), *cisco(100, -50)]
    assert only(interpret(walk, config_thresholds=None)).ifindex == 10


def test_a_containment_loop_ends_in_the_name():
    walk = [*port(10, "Te1/1"), *entity(100, "Te1/1 Receive Power Sensor", 99), *entity(99, "x", 100),
            *cisco(100, -50)]
    assert only(interpret(walk, config_thresholds=None)).ifindex == 10


def test_the_longest_interface_name_in_the_sensor_name_is_its_port():
    walk = [*port(5, "Ethernet5"), *port(50, "Ethernet50"), *entity(200, "DOM RX Power Sensor for Ethernet50"),
            *sensor(200, 5000), *entity(201, "DOM RX Power Sensor for Ethernet5"), *sensor(201, 5000)]
    readings = interpret(walk, config_thresholds=None)
    assert sorted((reading.ifindex, reading.port) for reading in readings.optics) == [
        (5, "Ethernet5"), (50, "Ethernet50")]


def test_lanes_of_one_port_are_told_apart():
    walk = [*port(49, "Ethernet1/49")]
    for lane, index in ((1, 500), (2, 501)):
        walk += [*entity(index, f"Ethernet1/49 Lane {lane} Transceiver Receive Power Sensor"),
                 *cisco(index, -30 - lane)]
    readings = interpret(walk, config_thresholds=None)
    assert [(reading.port, reading.dbm) for reading in readings.optics] == [
        ("Ethernet1/49 lane 1", -3.1), ("Ethernet1/49 lane 2", -3.2)]


def test_a_sensor_whose_port_is_not_in_if_mib_keeps_the_port_its_name_gives():
    walk = [*entity(100, "Gi0/1 Transmit Power Sensor"), *cisco(100, -55)]
    reading = only(interpret(walk, config_thresholds=None), "tx")
    assert (reading.ifindex, reading.port, reading.dbm) == (None, "Gi0/1", -5.5)


def test_sensors_that_do_not_say_which_way_are_listed_unplaced():
    walk = [*port(10, "Te1/1"), *entity(100, "Te1/1 Optical Power Sensor"), *cisco(100, -50), *cisco(101, -50)]
    readings = interpret(walk, config_thresholds=None)
    assert readings.optics == ()
    assert readings.unplaced == ("cisco sensor 100 ('Te1/1 Optical Power Sensor'): not receive or transmit",
                                 "cisco sensor 101: no ENTITY-MIB name says receive or transmit")


def test_descriptions_name_a_sensor_when_names_are_empty():
    walk = [*port(5, "Ethernet5"), text(ENT_PHYSICAL_NAME + (200,), ""),
            text(ENT_PHYSICAL_DESCR + (200,), "DOM RX Power Sensor for Ethernet5"), *sensor(200, 5000)]
    assert only(interpret(walk, config_thresholds=None)).ifindex == 5


def test_agent_exceptions_in_the_walk_are_nothing():
    walk = [*port(10, "Te1/1"), VarBind(IF_OPER_STATUS + (11,), SnmpValue("no_such_instance"))]
    readings = interpret(walk, config_thresholds=None)
    assert [status.ifindex for status in readings.interfaces] == [10]
