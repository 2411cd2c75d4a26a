"""One SNMP poll of a node's interfaces and optics: which subtrees to walk, in what order, and when not to.

The sensor tables are walked first, one column each, to learn what the agent has: a vendor table the agent
does not implement costs one request (the walk ends at once) and its other columns, its thresholds and the
ENTITY-MIB names are then not asked for. Every walk is bounded (``walk_limit`` varbinds). What was walked
goes to ``codec.optics.interpret``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog

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
    IF_IN_ERRORS,
    IF_LAST_CHANGE,
    IF_NAME,
    IF_OPER_STATUS,
    JUNIPER_DOM,
    SENSOR_DBM,
    SENSOR_WATTS,
    NodeReadings,
    interpret,
)
from plugins.dark_fibre_health.codec.snmp import OID, VarBind, format_oid
from plugins.dark_fibre_health.config import OpticalThresholds
from plugins.dark_fibre_health.snmp_client import SnmpClient, SnmpResponseError, SnmpTarget

__all__ = ["WALKED_SUBTREES", "WALK_LIMIT", "poll_node"]

#: The most varbinds one walk may bring back: a chassis with thousands of entities is cut short (and
#: logged by the client) rather than polled for minutes.
WALK_LIMIT = 5000

# The columns that tell whether the agent has a table at all.
_CISCO_TYPES = CISCO_SENSOR + (1,)
_ENTITY_TYPES = ENT_SENSOR + (1,)
_JUNIPER_RX = JUNIPER_DOM + (5,)
_ARISTA_LOW_WARNING = ARISTA_THRESHOLD + (1,)

#: Walked when the agent has a table (its probe column found something optical).
_CISCO_MORE = tuple(CISCO_SENSOR + (column,) for column in (2, 3, 4, 5)) + tuple(
    CISCO_THRESHOLD + (column,) for column in (2, 3, 4))
_ENTITY_MORE = tuple(ENT_SENSOR + (column,) for column in (2, 3, 4, 5, 6))
_ARISTA_MORE = tuple(ARISTA_THRESHOLD + (column,) for column in (2, 3, 4))
_JUNIPER_MORE = tuple(JUNIPER_DOM + (column,) for column in (7, 8, 9, 10, 11, 12, 17, 18, 19, 20))
_ENTITY_NAMES = (ENT_PHYSICAL_NAME, ENT_PHYSICAL_DESCR, ENT_PHYSICAL_CONTAINED_IN, ENT_ALIAS_MAPPING)
_INTERFACES = (IF_NAME, IF_DESCR, IF_OPER_STATUS, IF_LAST_CHANGE, IF_IN_ERRORS)

#: Every subtree a poll may walk, in the order it walks them (the later ones only when wanted).
WALKED_SUBTREES: tuple[OID, ...] = (
    _CISCO_TYPES, _ENTITY_TYPES, _JUNIPER_RX,
    *_CISCO_MORE, *_ENTITY_MORE, _ARISTA_LOW_WARNING, *_ARISTA_MORE, *_JUNIPER_MORE,
    *_ENTITY_NAMES, *_INTERFACES,
)

_ENTITY_OPTICAL_TYPES = frozenset({SENSOR_WATTS, SENSOR_DBM, 1, 2})  # 1 other, 2 unknown: by units display


async def poll_node(client: SnmpClient, target: SnmpTarget, *, config_thresholds: OpticalThresholds | None,
                    ports: Sequence[str] = (), walk_limit: int = WALK_LIMIT, log: Any = None) -> NodeReadings:
    """Walks what the node has of ``WALKED_SUBTREES`` and interprets it. SNMP errors other than an agent
    refusing one subtree (timeouts, authentication) are raised: the poll failed."""
    log = (log or structlog.get_logger()).bind(agent=f"{target.host}:{target.port}")
    walked: list[VarBind] = []

    async def walk(prefix: OID) -> list[VarBind]:
        try:
            found = await client.walk(target, prefix, limit=walk_limit)
        except SnmpResponseError as error:
            # Some agents answer genErr / noSuchName for a vendor subtree they half implement.
            log.info("fibre_snmp_subtree_refused", subtree=format_oid(prefix), status=error.status)
            return []
        walked.extend(found)
        return found

    cisco_types = await walk(_CISCO_TYPES)
    entity_types = await walk(_ENTITY_TYPES)
    juniper = await walk(_JUNIPER_RX)

    cisco = any(varbind.value.value == SENSOR_DBM for varbind in cisco_types)
    entity = any(varbind.value.value in _ENTITY_OPTICAL_TYPES for varbind in entity_types)
    if cisco:
        for prefix in _CISCO_MORE:
            await walk(prefix)
    if entity:
        for prefix in _ENTITY_MORE:
            await walk(prefix)
        if await walk(_ARISTA_LOW_WARNING):
            for prefix in _ARISTA_MORE:
                await walk(prefix)
    if juniper:
        for prefix in _JUNIPER_MORE:
            await walk(prefix)
    if cisco or entity:
        for prefix in _ENTITY_NAMES:
            await walk(prefix)
    for prefix in _INTERFACES:
        await walk(prefix)

    readings = interpret(walked, config_thresholds=config_thresholds, ports=ports)
    if readings.unplaced:
        log.info("fibre_optics_unplaced", sensors=len(readings.unplaced), first=readings.unplaced[0])
    return readings
