"""A simulated fibre node: its ports, what they read at a given moment under the fault script, and the MIB
its SNMP agent serves, in one of three vendors' flavours.

Each flavour copies the layout, OIDs, types and encodings of a recorded walk of a real device
(snmpsim-data 1.0.1: ``cisco-unknown-01``, ``juniper-mx960-16-1r6-7-a``, ``arista-dcs-7150s-52-cl``), so
that the hub reads a simulated node exactly as it reads a real one:

- ``cisco``: CISCO-ENTITY-SENSOR-MIB sensors in dBm (type 14, scale units, precision 1) with their
  threshold table, named and tied to their port by ENTITY-MIB (containment and the alias mapping to
  ifIndex). Like the real thing its sensor status says ok whatever the value; no light reads -40.0 dBm.
- ``juniper``: JUNIPER-DOM-MIB's current table per ifIndex, in 0.01 dBm with thresholds beside each value;
  a port without light reads 0 (not 0 dBm), and copper ports have all-zero rows, as on the MX960.
- ``entity``: ENTITY-SENSOR-MIB in watts (type 6, milli, precision 4) with Arista's threshold table
  (low warning, low critical, high warning, high critical, status text), the transceiver named by its
  entPhysicalAlias; no light reads 0.0004 mW, as a dark Arista port does.

All flavours have the system group and IF-MIB (ifTable, ifXTable's ifName): ifOperStatus, ifLastChange
following the script, and ifInErrors counting up (faster while a port is in trouble).

The MIB of a flavour is one tree shared by every node of that flavour; its values are functions of a
``NodeReading``, worked out once per request by ``SimulatedNode.reading``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Literal

from attrs import frozen

from plugins.dark_fibre_health.codec.snmp import (
    OID,
    SnmpValue,
    integer,
    octets,
    parse_oid,
)
from plugins.dark_fibre_health.sim_faults import (
    DAY_S,
    FaultConfig,
    FaultScript,
    ManualFaults,
    Windows,
    dark_in_slot,
)
from plugins.dark_fibre_health.sim_mib import MibTree, Value

Vendor = Literal["cisco", "juniper", "entity"]
VENDORS: tuple[str, ...] = ("cisco", "juniper", "entity")
Role = Literal["uplink", "downlink", "access"]

#: What a port with no light reads, in dBm, where the flavour gives a number for it (Cisco).
NO_LIGHT_DBM = -40.0


def _oid(text: str, *more: int) -> OID:
    return parse_oid(text) + more


# --- Ports ---------------------------------------------------------------------------------------------


@frozen
class PortSpec:
    """One port of a flavour's layout: its ifIndex and names, its role in the ring, whether it is an
    optic with DOM, and its speed in Mb/s."""

    ifindex: int
    descr: str
    name: str
    role: Role
    speed_mbps: int

    @property
    def optical(self) -> bool:
        return self.role != "access"


LAYOUTS: dict[str, tuple[PortSpec, ...]] = {
    "cisco": (
        PortSpec(1, "GigabitEthernet1/0/1", "Gi1/0/1", "access", 1000),
        PortSpec(2, "GigabitEthernet1/0/2", "Gi1/0/2", "access", 1000),
        PortSpec(49, "TenGigabitEthernet1/1", "Te1/1", "uplink", 10000),
        PortSpec(50, "TenGigabitEthernet1/2", "Te1/2", "downlink", 10000),
    ),
    "juniper": (
        PortSpec(512, "xe-0/0/0", "xe-0/0/0", "uplink", 10000),
        PortSpec(513, "xe-0/0/1", "xe-0/0/1", "downlink", 10000),
        PortSpec(514, "ge-0/0/2", "ge-0/0/2", "access", 1000),
        PortSpec(515, "ge-0/0/3", "ge-0/0/3", "access", 1000),
    ),
    "entity": (
        PortSpec(1, "Ethernet1", "Ethernet1", "access", 1000),
        PortSpec(2, "Ethernet2", "Ethernet2", "access", 1000),
        PortSpec(49, "Ethernet49", "Ethernet49", "uplink", 10000),
        PortSpec(50, "Ethernet50", "Ethernet50", "downlink", 10000),
    ),
}

SYSTEM: dict[str, tuple[str, str]] = {  # sysDescr, sysObjectID, as the recorded devices give them
    "cisco": ("Cisco Internetwork Operating System Software", "1.3.6.1.4.1.9.1.283"),
    "juniper": ("Juniper Networks, Inc. mx960 internet router, kernel JUNOS 16.1R6.7", "1.3.6.1.4.1.2636.1.1.1.2.21"),
    "entity": ("Arista Networks EOS version 4.20.5F running on an Arista Networks DCS-7150S-52-CL",
               "1.3.6.1.4.1.30065.1.3011.7150.3282.52.2745"),
}


@frozen
class PortReading:
    """What one port reads at a moment: ``rx_dbm`` None when no light reaches it (and None for a copper
    port, which has no optic)."""

    oper_status: int
    last_change: int
    in_errors: int
    in_octets: int
    out_octets: int
    rx_dbm: float | None
    tx_dbm: float | None


@frozen
class NodeReading:
    """A node at a moment, as its agent reports it: the state every MIB value is worked out from."""

    name: str
    index: int
    uptime_ticks: int
    ports: tuple[PortReading, ...]


# --- The node --------------------------------------------------------------------------------------------


class SimulatedNode:
    """One simulated node of the ring, pure: given the seconds elapsed since the simulator started, whether
    it answers and what it reads.

    ``upstream`` and ``downstream`` are its neighbours (the node its uplink faces, and the one its downlink
    feeds); ``ancestors`` every node between it and the head end: when any of them is dark, so is this
    node, as its management traffic rides their fibre. A neighbour that is down sends no light: the port
    facing it goes down. ``manual`` (shared by the ring) adds the faults switched by hand to the script's.
    """

    def __init__(
        self,
        name: str,
        index: int,
        vendor: str,
        script: FaultScript,
        *,
        ancestors: Sequence[str] = (),
        downstream: str | None = None,
        rx_dbm: float = -5.0,
        tx_dbm: float = -2.4,
        time_scale: float = 1.0,
        wobble_db: float = 0.0,
        loss_slot_s: float = 1.0,
        seed: int = 0,
        manual: ManualFaults | None = None,
    ) -> None:
        if vendor not in LAYOUTS:
            raise ValueError(f"unknown vendor {vendor!r}; one of {', '.join(VENDORS)}")
        self.name = name
        self.index = index
        self.vendor = vendor
        self.script = script
        self.ancestors = tuple(ancestors)
        self.upstream = self.ancestors[0] if self.ancestors else None
        self.downstream = downstream
        self.layout = LAYOUTS[vendor]
        self.rx_dbm = rx_dbm
        self.tx_dbm = tx_dbm
        self.time_scale = time_scale
        self.wobble_db = wobble_db
        self.loss_slot_s = loss_slot_s
        self.seed = seed
        self.manual = manual if manual is not None else ManualFaults()
        # Booted some days before the simulator started, differently per node, as a real ring's nodes are.
        self.uptime_offset_s = 86400.0 * (3 + index % 17) + 3607.0 * (index % 11)
        self._phase = (index * 2.399963) % (2 * math.pi)
        self._dark_sources = (name, *self.ancestors)
        self._no_light = tuple(self._no_light_windows(port) for port in self.layout)

    def _no_light_windows(self, port: PortSpec) -> Windows | None:
        if not port.optical:
            return None
        neighbour = self._neighbour(port)
        intervals = list(self.script.windows(self.name, "port_down", port.role).intervals)
        if neighbour is not None:
            intervals += self.script.windows(neighbour, "down").intervals
        return Windows(intervals, self.script.period)

    # --- whether it answers ------------------------------------------------------------------------

    def down(self, elapsed: float) -> bool:
        """The node itself is down (its own ``down`` fault)."""
        return self.name in self.manual.down or self.script.windows(self.name, "down").holds(elapsed)

    def dark(self, elapsed: float) -> bool:
        """Nothing reaches the node now: it or a node on its way to the head end is down, or in a dark
        slot of a ``loss`` fault."""
        slot: int | None = None
        for source in self._dark_sources:
            if source in self.manual.down or self.script.windows(source, "down").holds(elapsed):
                return True
            for fault in self._active(source, elapsed):
                if fault.kind == "loss":
                    if slot is None:
                        slot = math.floor(elapsed / self.loss_slot_s)
                    if dark_in_slot(self.seed, source, slot, fault.loss_pct):
                        return True
        return False

    def lossy(self, elapsed: float) -> bool:
        """A ``loss`` fault is on for the node or one on its way to the head end."""
        return any(fault.kind == "loss" for source in self._dark_sources
                   for fault in self._active(source, elapsed))

    def loss_pct(self, elapsed: float) -> float:
        """The share of what reaches the node that its own ``loss`` faults drop now (the largest of them)."""
        return max((fault.loss_pct for fault in self._active(self.name, elapsed) if fault.kind == "loss"),
                   default=0.0)

    def _active(self, source: str, elapsed: float) -> tuple[FaultConfig, ...]:
        """Node ``source``'s faults on now: the script's, then those switched on by hand."""
        return (*self.script.active(source, elapsed), *self.manual.active(source))

    def _since_start(self, fault: FaultConfig, elapsed: float) -> float:
        return elapsed - fault.at_s if self.manual.holds(fault) else self.script.since_start(fault, elapsed)

    # --- what it reads -------------------------------------------------------------------------------

    def uptime_ticks(self, elapsed: float) -> int:
        return int((self.uptime_offset_s + elapsed) * 100) % 2**32

    def normal_rx_dbm(self, role: str) -> float:
        return self.rx_dbm if role == "uplink" else self.rx_dbm - 0.7

    def _neighbour(self, port: PortSpec) -> str | None:
        return self.upstream if port.role == "uplink" else self.downstream

    def unlit(self, number: int, elapsed: float) -> bool:
        """No light reaches optical port ``number`` now (by the script or by hand)."""
        windows = self._no_light[number]
        if windows is None:
            return False
        port = self.layout[number]
        return (windows.holds(elapsed) or (self.name, port.role) in self.manual.dark_ports
                or self._neighbour(port) in self.manual.down)

    def _last_change(self, number: int, elapsed: float) -> float | None:
        windows = self._no_light[number]
        if windows is None:
            return None
        port = self.layout[number]
        changes = [windows.last_change(elapsed), self.manual.changed.get((self.name, port.role)),
                   self.manual.changed.get((self._neighbour(port) or "", "down"))]
        known = [change for change in changes if change is not None and change <= elapsed]
        return max(known) if known else None

    def rx_at(self, number: int, elapsed: float) -> float | None:
        """Port ``number``'s (in the layout) receive power now in dBm; None when no light reaches it."""
        if self._no_light[number] is None or self.unlit(number, elapsed):
            return None
        port = self.layout[number]
        value = self.normal_rx_dbm(port.role)
        declining = [fault for fault in self._active(self.name, elapsed)
                     if fault.kind == "rx_decline" and fault.port == port.role]
        if declining:
            fault = declining[-1]
            start = fault.start_dbm if fault.start_dbm is not None else value
            days = self._since_start(fault, elapsed) * self.time_scale / DAY_S
            value = start - fault.db_per_day * days
        if self.wobble_db:
            value += self.wobble_db * math.sin(2 * math.pi * elapsed / 600.0 + self._phase)
        return max(value, NO_LIGHT_DBM)

    def reading(self, elapsed: float) -> NodeReading:
        ports = []
        for number, port in enumerate(self.layout):
            windows = self._no_light[number]
            unlit_s = windows.time_in(elapsed) if windows is not None else 0.0
            down = self.unlit(number, elapsed)
            changed = self._last_change(number, elapsed)
            # Errors creep up on every port, and faster on one whose light is fading or is lossy.
            troubled_s = self.script.windows(self.name, "rx_decline", port.role).time_in(elapsed) \
                if port.optical else 0.0
            if port.role == "uplink":
                troubled_s += self.script.windows(self.name, "loss").time_in(elapsed)
            errors = 17 * (self.index % 7) + int(elapsed / 120.0) + int(troubled_s * 2)
            rate = 1_250_000 if port.optical else 400_000  # bytes/s: the cameras' video, gathered up
            carried = max(0.0, elapsed - unlit_s)
            ports.append(PortReading(
                oper_status=2 if down else 1,
                last_change=self.uptime_ticks(changed if changed is not None else -60.0 - 7 * number),
                in_errors=errors % 2**32,
                in_octets=int(carried * rate + 7919 * self.index) % 2**32,
                out_octets=int(carried * rate * 0.97 + 104729 * self.index) % 2**32,
                rx_dbm=self.rx_at(number, elapsed),
                tx_dbm=(self.tx_dbm - 0.1 * (number % 3)) if port.optical else None,
            ))
        return NodeReading(self.name, self.index, self.uptime_ticks(elapsed), tuple(ports))


# --- The MIBs ------------------------------------------------------------------------------------------

SYS = "1.3.6.1.2.1.1"
IF_NUMBER = "1.3.6.1.2.1.2.1.0"
IF_ENTRY = "1.3.6.1.2.1.2.2.1"
IFX_ENTRY = "1.3.6.1.2.1.31.1.1.1"
ENT_PHYSICAL = "1.3.6.1.2.1.47.1.1.1.1"
ENT_ALIAS_MAPPING = "1.3.6.1.2.1.47.1.3.2.1.2"
ENT_SENSOR = "1.3.6.1.2.1.99.1.1.1"
CISCO_SENSOR = "1.3.6.1.4.1.9.9.91.1.1.1.1"
CISCO_THRESHOLD = "1.3.6.1.4.1.9.9.91.1.2.1.1"
JUNIPER_DOM = "1.3.6.1.4.1.2636.3.60.1.1.1.1"
ARISTA_THRESHOLD = "1.3.6.1.4.1.30065.3.12.1.1.1"

Entries = list[tuple[OID, Value]]


def _gauge(value: int) -> SnmpValue:
    return SnmpValue("gauge32", value)


def _ticks(value: int) -> SnmpValue:
    return SnmpValue("timeticks", value)


def _counter(value: int) -> SnmpValue:
    return SnmpValue("counter32", value)


def _port_value(number: int, pick: Callable[[PortReading], SnmpValue]) -> Callable[[NodeReading], SnmpValue]:
    return lambda reading: pick(reading.ports[number])


def _system_entries(vendor: str) -> Entries:
    descr, object_id = SYSTEM[vendor]
    return [
        (_oid(SYS, 1, 0), octets(descr)),
        (_oid(SYS, 2, 0), SnmpValue("oid", parse_oid(object_id))),
        (_oid(SYS, 3, 0), lambda reading: _ticks(reading.uptime_ticks)),
        (_oid(SYS, 4, 0), octets("noc@council.example")),
        (_oid(SYS, 5, 0), lambda reading: octets(reading.name)),
        (_oid(SYS, 6, 0), lambda reading: octets(f"street cabinet {reading.name}")),
        (_oid(SYS, 7, 0), integer(6 if vendor == "juniper" else 78)),
    ]


def _interface_entries(layout: Sequence[PortSpec]) -> Entries:
    entries: Entries = [(parse_oid(IF_NUMBER), integer(len(layout)))]
    for number, port in enumerate(layout):
        i = port.ifindex
        mac = bytes((0x70, 0x81, 0x05, 0x5F, number, i % 256))
        entries += [
            (_oid(IF_ENTRY, 1, i), integer(i)),
            (_oid(IF_ENTRY, 2, i), octets(port.descr)),
            (_oid(IF_ENTRY, 3, i), integer(6)),  # ethernetCsmacd
            (_oid(IF_ENTRY, 4, i), integer(1500)),
            (_oid(IF_ENTRY, 5, i), _gauge(min(port.speed_mbps * 1_000_000, 2**32 - 1))),
            (_oid(IF_ENTRY, 6, i), octets(mac)),
            (_oid(IF_ENTRY, 7, i), integer(1)),  # adminStatus up: a port down is a fault, not a choice
            (_oid(IF_ENTRY, 8, i), _port_value(number, lambda p: integer(p.oper_status))),
            (_oid(IF_ENTRY, 9, i), _port_value(number, lambda p: _ticks(p.last_change))),
            (_oid(IF_ENTRY, 10, i), _port_value(number, lambda p: _counter(p.in_octets))),
            (_oid(IF_ENTRY, 13, i), _counter(0)),
            (_oid(IF_ENTRY, 14, i), _port_value(number, lambda p: _counter(p.in_errors))),
            (_oid(IF_ENTRY, 16, i), _port_value(number, lambda p: _counter(p.out_octets))),
            (_oid(IF_ENTRY, 20, i), _counter(0)),
            (_oid(IFX_ENTRY, 1, i), octets(port.name)),
            (_oid(IFX_ENTRY, 15, i), _gauge(port.speed_mbps)),
            (_oid(IFX_ENTRY, 18, i), octets({"uplink": "to upstream node", "downlink": "to downstream node",
                                             "access": "camera"}[port.role])),
        ]
    return entries


def _entity(index: int, descr: str, vendor_type: str, contained_in: int, klass: int, position: int,
            name: str = "", serial: str = "", model: str = "", alias: str = "") -> Entries:
    values = {2: octets(descr), 3: SnmpValue("oid", parse_oid(vendor_type)), 4: integer(contained_in),
              5: integer(klass), 6: integer(position), 7: octets(name), 11: octets(serial), 13: octets(model),
              14: octets(alias)}
    return [(_oid(ENT_PHYSICAL, column, index), value) for column, value in values.items()]


def _round(value: float) -> int:
    return math.floor(value + 0.5)


# Cisco: the recorded TenGigabitEthernet3/1's X2-10GB-SR sensors, thresholds and entity layout.
_CISCO_RX_THRESHOLDS = ((20, 4, 30), (10, 4, -10), (10, 2, -99), (20, 2, -139))  # severity, relation, 0.1 dBm
_CISCO_TX_THRESHOLDS = ((20, 4, 30), (10, 4, -10), (10, 2, -73), (20, 2, -113))


def _cisco_threshold_crossed(relation: int, limit: int, value: int) -> bool:
    return {1: value < limit, 2: value <= limit, 3: value > limit, 4: value >= limit}.get(relation, False)


def _cisco_entries(layout: Sequence[PortSpec]) -> Entries:
    entries = _entity(1, "Cisco Systems Catalyst Chassis System", "1.3.6.1.4.1.9.12.3.1.3.144", 0, 3, -1,
                      "WS-C6509-E", "SMC0000A1B2", "WS-C6509-E")
    entries += _entity(2000, "WS-X6708-10GE CEF720 8 port 10GE with DFC", "1.3.6.1.4.1.9.12.3.1.9.29.129", 1, 9,
                       1, "1")
    for k, (number, port) in enumerate((n, p) for n, p in enumerate(layout) if p.optical):
        entity = 2015 + 12 * k
        short = port.name
        entries += _entity(entity - 1, f"10-Gigabit Port Container {short[2:]}", "1.3.6.1.4.1.9.12.3.1.5.152",
                           2000, 5, k + 1, f"10-Gigabit Port Container {short[2:]}")
        entries += _entity(entity, "10Gbase-LR", "1.3.6.1.4.1.9.12.3.1.9.40.7", entity - 1, 10, 1, short,
                           "", "X2-10GB-LR")
        entries.append((_oid(ENT_ALIAS_MAPPING, entity, 0), SnmpValue("oid", _oid(IF_ENTRY, 1, port.ifindex))))
        sensors = (  # offset, what, vendor type, sensor type, scale, precision, value function
            (1, "Module Temperature Sensor", "50", 8, 9, 1, lambda p: integer(410)),
            (2, "Supply Voltage Sensor", "49", 4, 9, 2, lambda p: integer(329)),
            (3, "Bias Current Sensor", "48", 5, 8, 1, lambda p: integer(70 if p.tx_dbm is not None else 0)),
            (4, "Transmit Power Sensor", "47", 14, 9, 1, lambda p: integer(_cisco_tenths(p.tx_dbm))),
            (5, "Receive Power Sensor", "46", 14, 9, 1, lambda p: integer(_cisco_tenths(p.rx_dbm))),
        )
        for offset, what, vendor_type, kind, scale, precision, pick in sensors:
            sensor = entity + offset
            entries += _entity(sensor, f"{port.descr} {what}", f"1.3.6.1.4.1.9.12.3.1.8.{vendor_type}", entity,
                               8, offset, f"{short} {what}")
            entries += [
                (_oid(CISCO_SENSOR, 1, sensor), integer(kind)),
                (_oid(CISCO_SENSOR, 2, sensor), integer(scale)),
                (_oid(CISCO_SENSOR, 3, sensor), integer(precision)),
                (_oid(CISCO_SENSOR, 4, sensor), _port_value(number, pick)),
                (_oid(CISCO_SENSOR, 5, sensor), integer(1)),  # ok, always: Cisco does not judge the value
                (_oid(CISCO_SENSOR, 6, sensor), lambda reading: _ticks(reading.uptime_ticks)),
                (_oid(CISCO_SENSOR, 7, sensor), integer(0)),
            ]
            thresholds = {4: _CISCO_TX_THRESHOLDS, 5: _CISCO_RX_THRESHOLDS}.get(offset, ())
            for t, (severity, relation, limit) in enumerate(thresholds, start=1):
                evaluation = _cisco_evaluation(number, relation, limit, pick)
                entries += [
                    (_oid(CISCO_THRESHOLD, 2, sensor, t), integer(severity)),
                    (_oid(CISCO_THRESHOLD, 3, sensor, t), integer(relation)),
                    (_oid(CISCO_THRESHOLD, 4, sensor, t), integer(limit)),
                    (_oid(CISCO_THRESHOLD, 5, sensor, t), evaluation),
                    (_oid(CISCO_THRESHOLD, 6, sensor, t), integer(2)),
                ]
    return entries


def _cisco_tenths(dbm: float | None) -> int:
    return _round((NO_LIGHT_DBM if dbm is None else dbm) * 10)


def _cisco_evaluation(number: int, relation: int, limit: int,
                      pick: Callable[[PortReading], SnmpValue]) -> Callable[[NodeReading], SnmpValue]:
    def evaluate(reading: NodeReading) -> SnmpValue:
        value = pick(reading.ports[number]).value
        return integer(1 if _cisco_threshold_crossed(relation, limit, value) else 2)  # type: ignore[arg-type]

    return evaluate


# Juniper: the recorded xe-2/0/0's thresholds (0.01 dBm; bias in µA, temperature in °C, voltage in mV).
_JUNIPER_RX = (250, -2000, 200, -1801)  # high alarm, low alarm, high warning, low warning
_JUNIPER_BIAS = (10500, 2000, 9000, 2500)
_JUNIPER_TX = (150, -701, 100, -600)
_JUNIPER_TEMP = (90, -5, 85, 0)
_JUNIPER_VOLTS = (3600, 3000, 3465, 3135)


def _juniper_entries(layout: Sequence[PortSpec]) -> Entries:
    entries: Entries = []
    for number, port in enumerate(layout):
        i = port.ifindex
        if not port.optical:  # a port without DOM: every column zero, as the MX960 reports its ge- ports
            columns: dict[int, Value] = {column: integer(0) for column in range(5, 30)}
        else:
            columns = {
                5: _port_value(number, lambda p: integer(0 if p.rx_dbm is None else _round(p.rx_dbm * 100))),
                6: integer(5820),
                7: _port_value(number, lambda p: integer(_round((p.tx_dbm or 0.0) * 100))),
                8: integer(38),
            }
            for first, values in ((9, _JUNIPER_RX), (13, _JUNIPER_BIAS), (17, _JUNIPER_TX), (21, _JUNIPER_TEMP)):
                columns.update({first + n: integer(value) for n, value in enumerate(values)})
            columns[25] = integer(3290)
            columns.update({26 + n: integer(value) for n, value in enumerate(_JUNIPER_VOLTS)})
        columns.update({1: octets(bytes(3)), 2: octets(bytes(11)), 3: octets(bytes(3)), 4: octets(bytes(3)),
                        30: integer(1)})
        entries += [(_oid(JUNIPER_DOM, column, i), value) for column, value in sorted(columns.items())]
    return entries


# Arista: the recorded Ethernet47's SFP-10G-LR, thresholds in 0.1 µW (low warning first, as Arista has it).
_ARISTA_RX = (631, 398, 12589, 14125)
_ARISTA_TX = (1778, 1584, 7413, 7943)
_ARISTA_DARK = 4  # what a dark Arista port reads: 0.0004 mW


def _tenth_microwatts(dbm: float | None) -> int:
    return _ARISTA_DARK if dbm is None else max(_ARISTA_DARK, _round(10 ** (dbm / 10) * 10000))


def _arista_status(value: int, thresholds: tuple[int, int, int, int]) -> str:
    low_warning, low_critical, high_warning, high_critical = thresholds
    for limit, name, below in ((low_critical, "low critical", True), (high_critical, "high critical", False),
                               (low_warning, "low warning", True), (high_warning, "high warning", False)):
        if (value < limit) if below else (value > limit):
            return f"Sensor value {value} is {'below' if below else 'above'} the {name} threshold ({limit})"
    return f"Sensor value {value} is within bounds"


def _entity_entries(layout: Sequence[PortSpec]) -> Entries:
    entries = _entity(1, "52-port SFP+ 10GigE 1RU + Clock", "0.0", 0, 3, -1, "", "JPE00000000", "DCS-7150S-52-CL")
    entries += _entity(1100300000, "Xcvr Slot Container", "0.0", 1, 5, 0)
    for number, port in enumerate(layout):
        if not port.optical:
            continue
        base = 100_300_000 + port.ifindex * 1000
        name = port.name
        entries += _entity(base, f"Xcvr Slot {port.ifindex}", "0.0", 1100300000, 5, port.ifindex)
        entries += _entity(base + 100, f"Xcvr for {name}", "0.0", base, 5, 1, "", f"XCVR{port.ifindex:04d}",
                           "SFP-10G-LR", name)
        entries += _entity(base + 210, f"Lane 0 for Xcvr for {name}", "0.0", base + 100, 9, 0)
        sensors = (  # suffix, descr, contained in, type, scale, precision, units, value, thresholds
            (201, "DOM Temperature Sensor", base + 100, 8, 9, 1, "Celsius", lambda p: 229, (0, -50, 800, 850)),
            (202, "DOM Voltage Sensor", base + 100, 4, 9, 2, "Volts", lambda p: 330, (313, 300, 346, 360)),
            (211, "DOM TX Bias Sensor", base + 210, 5, 8, 2, "mA", lambda p: 509, (250, 250, 1050, 1050)),
            (212, "DOM TX Power Sensor", base + 210, 6, 8, 4, "mW", lambda p: _tenth_microwatts(p.tx_dbm),
             _ARISTA_TX),
            (213, "DOM RX Power Sensor", base + 210, 6, 8, 4, "mW", lambda p: _tenth_microwatts(p.rx_dbm),
             _ARISTA_RX),
        )
        for suffix, descr, parent, kind, scale, precision, units, pick, thresholds in sensors:
            sensor = base + suffix
            entries += _entity(sensor, f"{descr} for {name}", "0.0", parent, 8, suffix % 100)
            entries += [
                (_oid(ENT_SENSOR, 1, sensor), integer(kind)),
                (_oid(ENT_SENSOR, 2, sensor), integer(scale)),
                (_oid(ENT_SENSOR, 3, sensor), integer(precision)),
                (_oid(ENT_SENSOR, 4, sensor), _port_value(number, lambda p, pick=pick: integer(pick(p)))),
                (_oid(ENT_SENSOR, 5, sensor), integer(1)),
                (_oid(ENT_SENSOR, 6, sensor), octets(units)),
                (_oid(ENT_SENSOR, 7, sensor), lambda reading: _ticks(reading.uptime_ticks)),
                (_oid(ENT_SENSOR, 8, sensor), _gauge(6000)),
            ]
            entries += [(_oid(ARISTA_THRESHOLD, column, sensor), integer(limit))
                        for column, limit in enumerate(thresholds, start=1)]
            entries.append((_oid(ARISTA_THRESHOLD, 5, sensor), _port_value(
                number, lambda p, pick=pick, limits=thresholds: octets(_arista_status(pick(p), limits)))))
    return entries


_VENDOR_ENTRIES: dict[str, Callable[[Sequence[PortSpec]], Entries]] = {
    "cisco": _cisco_entries, "juniper": _juniper_entries, "entity": _entity_entries,
}


@functools.cache
def vendor_mib(vendor: str) -> MibTree[NodeReading]:
    """The MIB every node of flavour ``vendor`` serves (one tree shared by all of them)."""
    layout = LAYOUTS[vendor]
    entries: Iterable[tuple[OID, Value]] = (_system_entries(vendor) + _interface_entries(layout)
                                            + _VENDOR_ENTRIES[vendor](layout))
    return MibTree(entries)
