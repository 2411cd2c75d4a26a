"""A node's interfaces and optical power from its SNMP tables, pure: walked varbinds in, dBm, thresholds and
a level per port and direction out.

Where the figures come from, and the rules a network engineer would apply to them:

- **IF-MIB**: ``ifOperStatus``, ``ifLastChange``, ``ifInErrors``, with ``ifName`` (short, "Te3/3") and
  ``ifDescr`` (long, "TenGigabitEthernet3/3") to name the port.
- **CISCO-ENTITY-SENSOR-MIB**: sensors of type dBm (14); value x 10^(3 x (scale - 9)) / 10^precision. Its
  threshold table gives each threshold a severity and a relation, but not every agent fills them in
  truthfully: NX-OS says ``lessThan`` with severity ``other`` for all four thresholds of an optic, high
  ones included. The rule (``_ordered_thresholds``): the relations are believed when they are consistent
  (at most two below, two above, every "below" value under every "above" value); then of two lows the
  lower is the alarm, of two highs the higher is, and a lone threshold is a warning when its severity is
  minor and an alarm otherwise. When they are not consistent and there are exactly four values, the four
  values in ascending order are low alarm, low warning, high warning, high alarm (true of every optic:
  the alarm band lies outside the warning band). Any other inconsistent set is not used.
- **ENTITY-SENSOR-MIB** (RFC 3433): the standard has no dBm type; optical power comes as watts (6) at a
  scale (Arista: milli, precision 4), converted with dBm = 10 log10(mW), or as a vendor's dBm type (14, as
  Cisco numbers it, or ``other``/``unknown`` with "dBm" as its units display). Thresholds for these from
  ARISTA-ENTITY-SENSOR-MIB, in the sensor's own units: column 1 low warning, 2 low critical, 3 high warning,
  4 high critical (the recorded DCS-7150S's status text "Sensor value 5 is below the low critical threshold
  (398)" beside column 2 = 398 settles which is which); -1000000000 means "no threshold".
- **JUNIPER-DOM-MIB** ``jnxDomCurrentTable``, indexed by ifIndex, in 0.01 dBm: receive power column 5,
  transmit 7, module temperature 8; receive thresholds 9 high alarm, 10 low alarm, 11 high warning, 12 low
  warning; transmit thresholds 17 to 20 in the same order.
- **ENTITY-MIB** ties an entity sensor to its interface: up ``entPhysicalContainedIn`` to an entity that
  ``entAliasMappingIdentifier`` maps to an ifIndex; failing that, an ``ifName`` or ``ifDescr`` that
  appears whole in the sensor's ``entPhysicalName`` or ``entPhysicalDescr`` ("Te3/3 Receive Power Sensor",
  "DOM RX Power Sensor for Ethernet5"); the name also says receive or transmit. A sensor nothing ties to a
  port (the recorded Nexus 5000 names none of its optics' sensors) is listed in ``NodeReadings.unplaced``
  rather than guessed at.

Levels (``OpticalReading.level``):

- ``alarm`` / ``warning``: the value is strictly past an alarm / warning threshold, whatever the device's
  status column says (Cisco keeps saying "ok" beside a receive power under its low alarm).
- ``no_light``: 0 (in dBm units) from a port whose ifOperStatus is not up (Juniper, NX-OS: 0 is "nothing",
  not 0 dBm = 1 mW); 0 W; or -30 dBm and below (``NO_LIGHT_DBM``), up or down: under the sensitivity of any
  receiver a street cabinet has (1000BASE-ZX about -24 dBm, APD DWDM optics about -28 dBm), where a dark
  port's noise sits (the recorded Arista's dark Ethernet50 reads 0.0004 mW, -33.98 dBm; Arista's CLI shows
  -30.00 dBm for a dark lane, Cisco's -40.0, the SFF-8472 register's floor). Light between the low alarm and
  -30 dBm is an alarm, not no light: something is lit at the far end. ``dbm`` is None (the figure is in the
  reason): there is no power to report.
- ``unavailable``: the device says the sensor is not working, or the reading is not physically possible:
  above +8.2 dBm (6.5535 mW, the most an SFF-8472/8636 register holds) for the value or any of its device
  thresholds. JUNOS 12.3 reports receive power and its thresholds 20 dB high (+17.55 dBm with a low alarm of
  +4.96 dBm; the same optic type reads -15.04 dBm low alarm on JUNOS 13.3): a scale nobody can trust is not
  read, so it neither raises nor clears an alarm. ``dbm`` is None.
- ``ok`` otherwise.

A Juniper row that is all zeros (value, thresholds, temperature) is a port with no optic or one without
digital diagnostics (copper SFP, empty cage): it is left out, up or down; its interface state is still
reported in ``NodeReadings.interfaces``.

Thresholds come from the device when it gives any for that sensor, from ``OpticalThresholds`` in the
configuration otherwise (receive power only: they are the span's loss budget, not a transmitter's
limits), and the reading says which (``Thresholds.source``). "Past" a threshold means strictly beyond it:
a value sitting on a limit keeps the better level (Cisco's relations are lessThan / greaterOrEqual,
Juniper's and Arista's alarms are "below" / "above").
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

from attrs import field, frozen

from plugins.dark_fibre_health.codec.snmp import OID, SnmpValue, VarBind
from plugins.dark_fibre_health.config import OpticalThresholds

__all__ = [
    "ARISTA_THRESHOLD",
    "CISCO_SENSOR",
    "CISCO_THRESHOLD",
    "ENT_ALIAS_MAPPING",
    "ENT_PHYSICAL_CONTAINED_IN",
    "ENT_PHYSICAL_DESCR",
    "ENT_PHYSICAL_NAME",
    "ENT_SENSOR",
    "IF_DESCR",
    "IF_IN_ERRORS",
    "IF_LAST_CHANGE",
    "IF_NAME",
    "IF_OPER_STATUS",
    "JUNIPER_DOM",
    "MAX_DOM_DBM",
    "NO_LIGHT_DBM",
    "InterfaceStatus",
    "NodeReadings",
    "OpticalReading",
    "Thresholds",
    "interpret",
]

# --- Where the figures are -------------------------------------------------------------------------

_IF_ENTRY = (1, 3, 6, 1, 2, 1, 2, 2, 1)
IF_INDEX = _IF_ENTRY + (1,)
IF_DESCR = _IF_ENTRY + (2,)
IF_OPER_STATUS = _IF_ENTRY + (8,)
IF_LAST_CHANGE = _IF_ENTRY + (9,)
IF_IN_ERRORS = _IF_ENTRY + (14,)
IF_NAME = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 1)

_ENT_PHYSICAL_ENTRY = (1, 3, 6, 1, 2, 1, 47, 1, 1, 1, 1)
ENT_PHYSICAL_DESCR = _ENT_PHYSICAL_ENTRY + (2,)
ENT_PHYSICAL_CONTAINED_IN = _ENT_PHYSICAL_ENTRY + (4,)
ENT_PHYSICAL_NAME = _ENT_PHYSICAL_ENTRY + (7,)
ENT_ALIAS_MAPPING = (1, 3, 6, 1, 2, 1, 47, 1, 3, 2, 1, 2)

#: entPhySensorEntry: 1 type, 2 scale, 3 precision, 4 value, 5 oper status, 6 units display.
ENT_SENSOR = (1, 3, 6, 1, 2, 1, 99, 1, 1, 1)
#: entSensorValueEntry: 1 type, 2 scale, 3 precision, 4 value, 5 status.
CISCO_SENSOR = (1, 3, 6, 1, 4, 1, 9, 9, 91, 1, 1, 1, 1)
#: entSensorThresholdEntry, indexed (entPhysicalIndex, thresholdIndex): 2 severity, 3 relation, 4 value.
CISCO_THRESHOLD = (1, 3, 6, 1, 4, 1, 9, 9, 91, 1, 2, 1, 1)
#: jnxDomCurrentEntry, indexed by ifIndex (columns in the module docstring).
JUNIPER_DOM = (1, 3, 6, 1, 4, 1, 2636, 3, 60, 1, 1, 1, 1)
#: aristaEntSensorThresholdEntry, indexed by entPhysicalIndex: 1 low warning, 2 low critical, 3 high
#: warning, 4 high critical.
ARISTA_THRESHOLD = (1, 3, 6, 1, 4, 1, 30065, 3, 12, 1, 1, 1)

_TABLES = (IF_DESCR, IF_OPER_STATUS, IF_LAST_CHANGE, IF_IN_ERRORS, IF_NAME, ENT_PHYSICAL_DESCR,
           ENT_PHYSICAL_CONTAINED_IN, ENT_PHYSICAL_NAME, ENT_ALIAS_MAPPING, ENT_SENSOR, CISCO_SENSOR,
           CISCO_THRESHOLD, JUNIPER_DOM, ARISTA_THRESHOLD)

# Enumerations.
IF_UP = 1
IF_UNKNOWN = 4
SENSOR_WATTS = 6
SENSOR_DBM = 14  # CISCO-ENTITY-SENSOR-MIB's; some vendors use it in ENTITY-SENSOR-MIB too
_SENSOR_OTHER_TYPES = (1, 2)  # other, unknown: dBm only when the units display says so
SENSOR_OK = 1
_SENSOR_STATUS = {2: "unavailable", 3: "nonoperational"}
_UNITS = 9  # SensorDataScale units(9); each step is a factor of 1000
_LESS = (1, 2)  # lessThan, lessOrEqual
_GREATER = (3, 4)  # greaterThan, greaterOrEqual
_MINOR = 10
_ARISTA_NO_THRESHOLD = -1000000000
_JUNIPER_RX, _JUNIPER_TX, _JUNIPER_TEMPERATURE = 5, 7, 8
#: (high alarm, low alarm, high warning, low warning) columns per direction.
_JUNIPER_THRESHOLDS = {"rx": (9, 10, 11, 12), "tx": (17, 18, 19, 20)}

#: The most an SFF-8472 / SFF-8636 optical power register can hold: 65535 x 0.1 uW = 6.5535 mW.
MAX_DOM_DBM = 8.2
#: At or below this, no light to speak of (see ``no_light`` in the module docstring).
NO_LIGHT_DBM = -30.0

_VENDOR_PREFERENCE = {"cisco": 0, "arista": 1, "juniper": 2, "entity": 3}

Direction = Literal["rx", "tx"]
Level = Literal["ok", "warning", "alarm", "no_light", "unavailable"]
Vendor = Literal["cisco", "juniper", "entity", "arista"]
Source = Literal["device", "config", "none"]


# --- Results ---------------------------------------------------------------------------------------

def _dbm_field(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


@frozen
class Thresholds:
    """Optical power limits in dBm (to 0.001 dB) and where they came from: ``device`` (the optic's own),
    ``config`` (``OpticalThresholds``, for a receiver whose device reports none) or ``none``."""

    low_alarm: float | None = field(default=None, converter=_dbm_field)
    low_warning: float | None = field(default=None, converter=_dbm_field)
    high_warning: float | None = field(default=None, converter=_dbm_field)
    high_alarm: float | None = field(default=None, converter=_dbm_field)
    source: Source = "none"

    def any(self) -> bool:
        return any(value is not None for value in self.values())

    def values(self) -> tuple[float | None, float | None, float | None, float | None]:
        return (self.low_alarm, self.low_warning, self.high_warning, self.high_alarm)


NO_THRESHOLDS = Thresholds()


@frozen
class InterfaceStatus:
    """One interface as IF-MIB has it: ``oper_status`` 1 up, 2 down, 3 testing, 4 unknown, 5 dormant, 6
    notPresent, 7 lowerLayerDown; ``last_change`` in TimeTicks (sysUpTime at the last change)."""

    ifindex: int
    name: str
    oper_status: int
    last_change: int | None
    in_errors: int | None

    @property
    def up(self) -> bool:
        return self.oper_status == IF_UP


@frozen
class OpticalReading:
    """One port's receive or transmit power. ``dbm`` is None when there is no power to report (no light)
    or none to believe (unavailable); ``reason`` says in words what the level rests on."""

    ifindex: int | None
    port: str
    direction: Direction
    dbm: float | None
    thresholds: Thresholds
    level: Level
    reason: str
    vendor: Vendor


@frozen
class NodeReadings:
    """What one poll of a node found. ``unplaced`` names the optical sensors nothing tied to a port (so
    they are not in ``optics``), for the log."""

    interfaces: tuple[InterfaceStatus, ...]
    optics: tuple[OpticalReading, ...]
    unplaced: tuple[str, ...] = ()


# --- Reading the walk ------------------------------------------------------------------------------

class _Walk:
    """The walked varbinds sorted into their tables: ``column(table, n)`` maps an index (the OID's tail
    after the column) to its value."""

    def __init__(self, varbinds: Iterable[VarBind]) -> None:
        self._columns: dict[tuple[OID, int], dict[OID, SnmpValue]] = {}
        for varbind in varbinds:
            if varbind.value.is_exception:
                continue
            oid = varbind.oid
            for table in _TABLES:
                depth = len(table)
                if oid[:depth] == table:
                    if table in _ENTRY_TABLES:
                        if len(oid) > depth + 1:
                            self._columns.setdefault((table, oid[depth]), {})[oid[depth + 1:]] = varbind.value
                    elif len(oid) > depth:
                        self._columns.setdefault((table, 0), {})[oid[depth:]] = varbind.value
                    break

    def column(self, table: OID, number: int = 0) -> Mapping[OID, SnmpValue]:
        return self._columns.get((table, number), {})

    def integers(self, table: OID, number: int = 0) -> dict[int, int]:
        """A column indexed by one integer (ifIndex, entPhysicalIndex) as ints."""
        found = {}
        for index, value in self.column(table, number).items():
            number_value = _integer(value)
            if len(index) == 1 and number_value is not None:
                found[index[0]] = number_value
        return found

    def texts(self, table: OID, number: int = 0) -> dict[int, str]:
        found = {}
        for index, value in self.column(table, number).items():
            text = _text(value)
            if len(index) == 1 and text:
                found[index[0]] = text
        return found


#: Tables whose varbinds are entry.column.index (the rest are one column, given whole).
_ENTRY_TABLES = frozenset({ENT_SENSOR, CISCO_SENSOR, CISCO_THRESHOLD, JUNIPER_DOM, ARISTA_THRESHOLD})


def _integer(value: SnmpValue) -> int | None:
    if value.kind in ("integer", "counter32", "gauge32", "timeticks", "counter64") and isinstance(value.value,
                                                                                               int):
        return value.value
    return None


def _text(value: SnmpValue) -> str:
    if value.kind != "octets" or not isinstance(value.value, bytes):
        return ""
    return value.value.decode("utf-8", errors="replace").replace("\x00", "").strip()


# --- Interfaces and how sensors find them --------------------------------------------------------

@frozen
class _Port:
    ifindex: int
    if_name: str | None
    if_descr: str | None
    status: InterfaceStatus


class _Ports:
    """The node's interfaces, looked up by ifIndex or by any spelling of their name."""

    def __init__(self, walk: _Walk, watched: Sequence[str]) -> None:
        names = walk.texts(IF_NAME)
        descrs = walk.texts(IF_DESCR)
        oper = walk.integers(IF_OPER_STATUS)
        last_change = walk.integers(IF_LAST_CHANGE)
        errors = walk.integers(IF_IN_ERRORS)
        watched_set = set(watched)
        self.by_index: dict[int, _Port] = {}
        self.by_name: dict[str, int] = {}
        for ifindex in sorted(set(names) | set(descrs) | set(oper)):
            if_name, if_descr = names.get(ifindex), descrs.get(ifindex)
            spellings = [spelling for spelling in (if_name, if_descr) if spelling]
            # The configuration's spelling, so that a port watched as "TenGigabitEthernet3/3" is reported so.
            label = next((spelling for spelling in spellings if spelling in watched_set),
                         spellings[0] if spellings else f"ifIndex {ifindex}")
            status = InterfaceStatus(ifindex=ifindex, name=label, oper_status=oper.get(ifindex, IF_UNKNOWN),
                                     last_change=last_change.get(ifindex), in_errors=errors.get(ifindex))
            self.by_index[ifindex] = _Port(ifindex, if_name, if_descr, status)
            for spelling in reversed(spellings):  # ifName wins a clash with another port's ifDescr
                self.by_name[spelling] = ifindex
        self._longest = max((len(name.split()) for name in self.by_name), default=1)

    def named_in(self, text: str) -> int | None:
        """The ifIndex of the interface whose name appears whole in ``text`` (the longest such name)."""
        words = text.split()
        best: tuple[int, int] | None = None
        for start in range(len(words)):
            for length in range(1, min(self._longest, len(words) - start) + 1):
                ifindex = self.by_name.get(" ".join(words[start:start + length]))
                if ifindex is not None:
                    size = len(" ".join(words[start:start + length]))
                    if best is None or size > best[0]:
                        best = (size, ifindex)
        return None if best is None else best[1]


class _Entities:
    """ENTITY-MIB: names of physical entities, what contains what, and which are interfaces."""

    def __init__(self, walk: _Walk) -> None:
        self.names = walk.texts(ENT_PHYSICAL_NAME)
        self.descrs = walk.texts(ENT_PHYSICAL_DESCR)
        self.contained_in = walk.integers(ENT_PHYSICAL_CONTAINED_IN)
        self.ifindex: dict[int, int] = {}
        for index, value in sorted(walk.column(ENT_ALIAS_MAPPING).items(), key=lambda item: item[0][1:]):
            # Index (entPhysicalIndex, logical index or 0), value ifIndex.N; logical 0 sorts first and wins.
            if (len(index) == 2 and value.kind == "oid" and isinstance(value.value, tuple)
                    and value.value[:-1] == IF_INDEX):
                self.ifindex.setdefault(index[0], value.value[-1])

    def label(self, entity: int) -> str:
        return self.names.get(entity) or self.descrs.get(entity) or ""

    def texts(self, entity: int) -> list[str]:
        return [text for text in (self.names.get(entity), self.descrs.get(entity)) if text]

    def interface_of(self, entity: int) -> int | None:
        """The ifIndex mapped to the entity or the nearest entity containing it."""
        seen = set()
        while entity and entity not in seen and len(seen) < 16:
            seen.add(entity)
            if entity in self.ifindex:
                return self.ifindex[entity]
            entity = self.contained_in.get(entity, 0)
        return None


_RX = re.compile(r"\b(rx|receive|receiver|received)\b", re.IGNORECASE)
_TX = re.compile(r"\b(tx|transmit|transmitter|transmitted)\b", re.IGNORECASE)
_POWER = re.compile(r"\bpower\b", re.IGNORECASE)
_LANE = re.compile(r"\blane\s*(\d+)\b", re.IGNORECASE)
_SENSOR_WORDS = re.compile(r"\b(lane|transceiver|receive|transmit|rx|tx|dom|power|sensor|optical)\b",
                           re.IGNORECASE)


def _direction(text: str) -> Direction | None:
    rx, tx = bool(_RX.search(text)), bool(_TX.search(text))
    if rx == tx:
        return None
    return "rx" if rx else "tx"


def _port_in_name(text: str) -> str:
    """The port a sensor's name speaks of, when no interface matched it: what follows " for ", or what
    comes before the first sensor word ("Te3/3" of "Te3/3 Receive Power Sensor")."""
    if " for " in text:
        return text.rsplit(" for ", 1)[1].strip()
    match = _SENSOR_WORDS.search(text)
    return (text[:match.start()] if match else text).strip()


# --- Sensors ---------------------------------------------------------------------------------------

@frozen
class _Sensor:
    """One optical power sensor before it is judged."""

    vendor: Vendor
    key: str  # for unplaced and ordering: "cisco sensor 2044", "juniper ifIndex 557"
    ifindex: int | None
    port: str | None
    lane: int | None
    direction: Direction
    dbm: float | None  # None: 0 W
    zero: bool  # the device said 0 in dBm units: no light on a port that is down
    thresholds: Thresholds  # the device's (source "device"), or NO_THRESHOLDS
    status_problem: str | None  # the device's status column, when not ok
    status_ok_said: bool  # the device has a status column and it says ok
    note: str = ""  # why device thresholds were not used, if they were not


def _scaled(value: int, scale: int, precision: int) -> float:
    return value * 10.0 ** (3 * (scale - _UNITS) - precision)


def _mw_to_dbm(milliwatts: float) -> float | None:
    return 10.0 * math.log10(milliwatts) if milliwatts > 0 else None


def _ordered_thresholds(entries: Sequence[tuple[int, int, float]]) -> tuple[Thresholds, str]:
    """Cisco's (severity, relation, dBm) thresholds as four limits; the rule is in the module docstring.
    Returns the thresholds (NO_THRESHOLDS when unusable) and a note when the relations were overruled."""
    lows = sorted((value, severity) for severity, relation, value in entries if relation in _LESS)
    highs = sorted((value, severity) for severity, relation, value in entries if relation in _GREATER)
    if len(lows) <= 2 and len(highs) <= 2 and (not lows or not highs or lows[-1][0] < highs[0][0]):
        low_alarm = low_warning = high_warning = high_alarm = None
        if len(lows) == 2:
            low_alarm, low_warning = lows[0][0], lows[1][0]
        elif lows:
            value, severity = lows[0]
            low_warning, low_alarm = (value, None) if severity == _MINOR else (None, value)
        if len(highs) == 2:
            high_warning, high_alarm = highs[0][0], highs[1][0]
        elif highs:
            value, severity = highs[0]
            high_warning, high_alarm = (value, None) if severity == _MINOR else (None, value)
        if lows or highs:
            return Thresholds(low_alarm, low_warning, high_warning, high_alarm, "device"), ""
        return NO_THRESHOLDS, ""
    values = sorted(value for _severity, _relation, value in entries)
    if len(values) == 4:
        note = ("; the device's threshold relations contradict their values, so its four thresholds are "
                "taken in ascending order")
        return Thresholds(*values, source="device"), note
    return NO_THRESHOLDS, f"; the device's {len(values)} thresholds have contradictory relations and are not used"


def _cisco_sensors(walk: _Walk, entities: _Entities, ports: _Ports) -> tuple[list[_Sensor], list[str]]:
    types = walk.integers(CISCO_SENSOR, 1)
    scales = walk.integers(CISCO_SENSOR, 2)
    precisions = walk.integers(CISCO_SENSOR, 3)
    values = walk.integers(CISCO_SENSOR, 4)
    statuses = walk.integers(CISCO_SENSOR, 5)
    thresholds: dict[int, list[tuple[int, int, int]]] = {}
    severities, relations = walk.column(CISCO_THRESHOLD, 2), walk.column(CISCO_THRESHOLD, 3)
    for index, value in walk.column(CISCO_THRESHOLD, 4).items():
        # A missing severity is "other"; a missing relation is none, which leaves the values to their order.
        raw = _integer(value)
        severity, relation = severities.get(index), relations.get(index)
        if len(index) == 2 and raw is not None:
            thresholds.setdefault(index[0], []).append((
                (_integer(severity) if severity is not None else None) or 1,
                (_integer(relation) if relation is not None else None) or 0,
                raw,
            ))
    sensors, unplaced = [], []
    for entity, kind in sorted(types.items()):
        if kind != SENSOR_DBM or entity not in values:
            continue
        scale, precision = scales.get(entity, _UNITS), precisions.get(entity, 0)
        raw = values[entity]
        entries = [(severity, relation, round(_scaled(value, scale, precision), 6))
                   for severity, relation, value in thresholds.get(entity, [])]
        device_thresholds, note = _ordered_thresholds(entries)
        placed = _place(entity, entities, ports, "cisco", unplaced)
        if placed is None:
            continue
        ifindex, port, lane, direction = placed
        status = statuses.get(entity, SENSOR_OK)
        sensors.append(_Sensor(
            vendor="cisco", key=f"cisco sensor {entity}", ifindex=ifindex, port=port, lane=lane,
            direction=direction, dbm=_scaled(raw, scale, precision), zero=raw == 0, thresholds=device_thresholds,
            status_problem=_SENSOR_STATUS.get(status) if status != SENSOR_OK else None,
            status_ok_said=status == SENSOR_OK and entity in statuses, note=note,
        ))
    return sensors, unplaced


def _entity_sensors(walk: _Walk, entities: _Entities, ports: _Ports,
                    cisco: set[int]) -> tuple[list[_Sensor], list[str]]:
    types = walk.integers(ENT_SENSOR, 1)
    scales = walk.integers(ENT_SENSOR, 2)
    precisions = walk.integers(ENT_SENSOR, 3)
    values = walk.integers(ENT_SENSOR, 4)
    statuses = walk.integers(ENT_SENSOR, 5)
    units = walk.texts(ENT_SENSOR, 6)
    arista = {column: walk.integers(ARISTA_THRESHOLD, column) for column in (1, 2, 3, 4)}
    sensors, unplaced = [], []
    for entity, kind in sorted(types.items()):
        if entity in cisco or entity not in values:
            continue  # the same sensor in CISCO-ENTITY-SENSOR-MIB, which has its thresholds
        dbm_units = kind == SENSOR_DBM or (kind in _SENSOR_OTHER_TYPES and "dbm" in units.get(entity, "").lower())
        watts = kind == SENSOR_WATTS
        if not (dbm_units or watts):
            continue
        texts = entities.texts(entity)
        if watts and not any(_POWER.search(text) and _direction(text) for text in texts):
            continue  # a power supply's watts, not light
        scale, precision = scales.get(entity, _UNITS), precisions.get(entity, 0)
        limits = [arista[column].get(entity) for column in (2, 1, 3, 4)]  # low crit, low warn, high warn, high crit
        limits = [None if raw is None or raw == _ARISTA_NO_THRESHOLD else raw for raw in limits]
        device_thresholds = NO_THRESHOLDS
        if any(raw is not None for raw in limits):
            converted = [None if raw is None else _entity_dbm(raw, scale, precision, dbm_units)
                         for raw in limits]
            device_thresholds = Thresholds(*converted, source="device")
        vendor: Vendor = "arista" if device_thresholds.any() else "entity"
        placed = _place(entity, entities, ports, vendor, unplaced)
        if placed is None:
            continue
        ifindex, port, lane, direction = placed
        raw = values[entity]
        status = statuses.get(entity, SENSOR_OK)
        sensors.append(_Sensor(
            vendor=vendor, key=f"{vendor} sensor {entity}", ifindex=ifindex, port=port, lane=lane,
            direction=direction, dbm=_entity_dbm(raw, scale, precision, dbm_units), zero=dbm_units and raw == 0,
            thresholds=device_thresholds,
            status_problem=_SENSOR_STATUS.get(status) if status != SENSOR_OK else None,
            status_ok_said=status == SENSOR_OK and entity in statuses,
        ))
    return sensors, unplaced


def _entity_dbm(raw: int, scale: int, precision: int, dbm_units: bool) -> float | None:
    """An ENTITY-SENSOR value in dBm: as it is for a dBm type, converted from watts otherwise (None: 0 W)."""
    scaled = _scaled(raw, scale, precision)
    return scaled if dbm_units else _mw_to_dbm(scaled * 1000.0)


def _place(entity: int, entities: _Entities, ports: _Ports, vendor: str,
           unplaced: list[str]) -> tuple[int | None, str | None, int | None, Direction] | None:
    """(ifIndex, port name if no ifIndex, lane, direction) of an entity sensor, or None (noted) when its
    name does not say receive or transmit or nothing ties it to a port."""
    texts = entities.texts(entity)
    direction = next((found for found in map(_direction, texts) if found), None)
    if direction is None:
        unplaced.append(f"{vendor} sensor {entity}: no ENTITY-MIB name says receive or transmit"
                        if not texts else f"{vendor} sensor {entity} ({texts[0]!r}): not receive or transmit")
        return None
    lane_match = next((match for match in map(_LANE.search, texts) if match), None)
    lane = int(lane_match.group(1)) if lane_match else None
    ifindex = entities.interface_of(entity)
    if ifindex is None:
        ifindex = next((found for found in map(ports.named_in, texts) if found is not None), None)
    if ifindex is not None:
        return ifindex, None, lane, direction
    port = next((found for found in map(_port_in_name, texts) if found), None)
    if port is None:
        unplaced.append(f"{vendor} sensor {entity} ({texts[0]!r}): no port in its name or containment")
        return None
    return None, port, lane, direction


def _juniper_sensors(walk: _Walk) -> list[_Sensor]:
    columns = {number: walk.integers(JUNIPER_DOM, number)
               for number in (_JUNIPER_RX, _JUNIPER_TX, _JUNIPER_TEMPERATURE,
                              *_JUNIPER_THRESHOLDS["rx"], *_JUNIPER_THRESHOLDS["tx"])}
    sensors = []
    for ifindex in sorted(set(columns[_JUNIPER_RX]) | set(columns[_JUNIPER_TX])):
        row = {number: column.get(ifindex, 0) for number, column in columns.items()}
        if not any(row.values()):
            continue  # no optic, or one without diagnostics: nothing optical to say
        for direction, value_column in (("rx", _JUNIPER_RX), ("tx", _JUNIPER_TX)):
            if ifindex not in columns[value_column]:
                continue
            high_alarm, low_alarm, high_warning, low_warning = (
                row[number] for number in _JUNIPER_THRESHOLDS[direction])
            limits = (low_alarm, low_warning, high_warning, high_alarm)
            device_thresholds = (Thresholds(*(limit / 100.0 for limit in limits), source="device")
                                 if any(limits) else NO_THRESHOLDS)
            raw = row[value_column]
            sensors.append(_Sensor(
                vendor="juniper", key=f"juniper ifIndex {ifindex} {direction}", ifindex=ifindex, port=None,
                lane=None, direction=direction, dbm=raw / 100.0, zero=raw == 0, thresholds=device_thresholds,
                status_problem=None, status_ok_said=False,
            ))
    return sensors


# --- Judging ---------------------------------------------------------------------------------------

def _fmt(dbm: float) -> str:
    return f"{dbm:+.2f} dBm"


def _judge(sensor: _Sensor, port: _Port | None, config: OpticalThresholds | None) -> tuple[float | None,
                                                                                         Thresholds, Level, str]:
    what = "receive" if sensor.direction == "rx" else "transmit"
    thresholds = sensor.thresholds
    if not thresholds.any() and config is not None and sensor.direction == "rx":
        configured = Thresholds(config.low_alarm_dbm, config.low_warning_dbm, config.high_warning_dbm,
                                config.high_alarm_dbm, "config")
        thresholds = configured if configured.any() else NO_THRESHOLDS
    if sensor.status_problem is not None:
        return None, thresholds, "unavailable", f"the device says its {what} power sensor is {sensor.status_problem}"
    port_down = port is not None and not port.status.up
    if sensor.zero and port_down:
        return None, thresholds, "no_light", f"{what} power reads 0 with the port down: no light, not 0 dBm"
    dbm = sensor.dbm
    if dbm is None or dbm <= NO_LIGHT_DBM:
        reading = "0 W" if dbm is None else _fmt(dbm)
        return None, thresholds, "no_light", (
            f"{what} power {reading}: at or below {_fmt(NO_LIGHT_DBM)}, under any receiver's sensitivity: no light")
    implausible = [value for value in (dbm, *sensor.thresholds.values()) if value is not None and value > MAX_DOM_DBM]
    if implausible:
        return None, thresholds, "unavailable", (
            f"{what} power reported as {_fmt(dbm)} with device thresholds "
            f"{', '.join(_fmt(value) for value in sensor.thresholds.values() if value is not None) or 'none'}: "
            f"above {_fmt(MAX_DOM_DBM)}, the most an optic's diagnostics can report, so not believed")
    dbm = round(dbm, 3)
    source = {"device": "the device's", "config": "the configured", "none": "no"}[thresholds.source]
    level: Level = "ok"
    reason = f"{what} power {_fmt(dbm)}"
    for limit, name, below, bad in ((thresholds.low_alarm, "low alarm", True, "alarm"),
                                    (thresholds.high_alarm, "high alarm", False, "alarm"),
                                    (thresholds.low_warning, "low warning", True, "warning"),
                                    (thresholds.high_warning, "high warning", False, "warning")):
        if limit is not None and (dbm < limit if below else dbm > limit):
            level = bad  # type: ignore[assignment]
            reason += f" {'below' if below else 'above'} {source} {name} {_fmt(limit)}"
            if sensor.status_ok_said:
                reason += " (the device's own status says ok)"
            break
    else:
        reason += f", within {source} thresholds" if thresholds.any() else ", and no thresholds to judge it by"
    if sensor.zero and port is None:
        reason += " (reads 0 and its port's state is unknown)"
    return dbm, thresholds, level, reason + sensor.note


def interpret(varbinds: Iterable[VarBind], *, config_thresholds: OpticalThresholds | None,
              ports: Sequence[str] = ()) -> NodeReadings:
    """Interfaces and optical readings from one walk of a node (any of the tables in the module
    docstring; the absent ones are simply not there). ``ports`` (ifName or ifDescr) keeps only those
    interfaces and their optics, reported under the names given; empty keeps every interface and every
    optical port found. ``config_thresholds`` apply to sensors the device gives no thresholds for."""
    walk = _Walk(varbinds)
    interfaces = _Ports(walk, ports)
    entities = _Entities(walk)
    cisco, unplaced = _cisco_sensors(walk, entities, interfaces)
    cisco_entities = set(walk.integers(CISCO_SENSOR, 1))
    entity, entity_unplaced = _entity_sensors(walk, entities, interfaces, cisco_entities)
    sensors = cisco + entity + _juniper_sensors(walk)
    unplaced += entity_unplaced

    chosen: dict[tuple[object, int | None, Direction], _Sensor] = {}
    for sensor in sensors:
        where = sensor.ifindex if sensor.ifindex is not None else sensor.port
        key = (where, sensor.lane, sensor.direction)
        kept = chosen.get(key)
        if kept is None or _VENDOR_PREFERENCE[sensor.vendor] < _VENDOR_PREFERENCE[kept.vendor]:
            chosen[key] = sensor
    lanes: dict[object, set[int | None]] = {}
    for where, lane, _direction_ in chosen:
        lanes.setdefault(where, set()).add(lane)

    watched = set(ports)
    readings = []
    for sensor in chosen.values():
        port = interfaces.by_index.get(sensor.ifindex) if sensor.ifindex is not None else None
        if port is not None:
            name = port.status.name
            spellings = {port.if_name, port.if_descr, name}
        else:
            name = sensor.port or (f"ifIndex {sensor.ifindex}" if sensor.ifindex is not None else sensor.key)
            spellings = {name}
        if watched and not (spellings & watched):
            continue
        where = sensor.ifindex if sensor.ifindex is not None else sensor.port
        if sensor.lane is not None and len(lanes[where]) > 1:
            name = f"{name} lane {sensor.lane}"
        dbm, thresholds, level, reason = _judge(sensor, port, config_thresholds)
        readings.append(OpticalReading(ifindex=sensor.ifindex, port=name, direction=sensor.direction, dbm=dbm,
                                       thresholds=thresholds, level=level, reason=reason, vendor=sensor.vendor))
    readings.sort(key=lambda reading: (reading.ifindex is None, reading.ifindex or 0, reading.port,
                                       reading.direction))
    statuses = tuple(port.status for port in interfaces.by_index.values()
                     if not watched or {port.if_name, port.if_descr} & watched)
    return NodeReadings(interfaces=statuses, optics=tuple(readings), unplaced=tuple(unplaced))
