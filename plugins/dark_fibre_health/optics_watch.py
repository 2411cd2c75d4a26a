"""From one node's SNMP readings to events: optical levels, interfaces going down, falling receive power.

Each reading is compared with the last one for the same port: an event is published only when a level
or an interface's state changes (a node that has read "ok" for a year says nothing), and the first
reading after start-up is reported only when it is not ok. Receive power is trended per port; a trend
that will cross the low alarm within ``judge.trend_warn_s`` warns once, until it clears or the alarm
itself is reached. The worst receive level of the watched ports goes to the node's judge, which may call
the node degraded.
"""

from __future__ import annotations

from typing import Any, Callable

from hub.events import Event, EventFactory, Severity, Subject
from plugins.dark_fibre_health.config import FibreConfig
from plugins.dark_fibre_health.events import (
    OPTICS_ALARM,
    OPTICS_NO_LIGHT,
    OPTICS_OK,
    OPTICS_WARNING,
    RX_TREND,
    InterfaceChanged,
    NodeRef,
    OpticalLevelChanged,
    RxPowerTrend,
    Thresholds,
    interface_topic,
    optics_topic,
)
from plugins.dark_fibre_health.trend import RxTrend

#: Worse first: what the judge is told for a node with several ports. A port with no light says nothing
#: about its own node (it still answers): the fibre or the node at the far end is out, and when that is
#: this node's uplink the node is unreachable anyway. So no light never makes a node degraded, and it is
#: medium, not high: the outage it belongs to raises the alarm (the far node's root cause).
_RANK = {OPTICS_OK: 0, OPTICS_NO_LIGHT: 0, OPTICS_WARNING: 1, OPTICS_ALARM: 2}
_SEVERITY = {OPTICS_OK: Severity.INFO, OPTICS_WARNING: Severity.MEDIUM, OPTICS_ALARM: Severity.HIGH,
             OPTICS_NO_LIGHT: Severity.MEDIUM}


class OpticsWatch:
    """Remembers each port's last level and interface state per node, and trends receive power."""

    def __init__(self, *, config: FibreConfig, events: EventFactory, publish: Callable[[Event], None],
                 clock: Any, log: Any) -> None:
        self._config = config
        self._events = events
        self._publish = publish
        self._clock = clock
        self._log = log
        self._levels: dict[tuple[str, str, str], str] = {}
        self._links: dict[tuple[str, int], bool] = {}
        self._trends: dict[tuple[str, str], RxTrend] = {}
        self._warned: set[tuple[str, str]] = set()
        self.last_rx: dict[tuple[str, str], float] = {}

    def readings(self, node: str, readings: Any) -> str:
        """Take one poll's ``NodeReadings`` for ``node``; returns the worst receive level (for the judge)."""
        now = self._clock.seconds()
        config = self._config.nodes[node]
        ref = NodeRef(name=node, address=config.address, site=config.site, upstream=config.upstream)
        watched = set(config.snmp.interfaces) if config.snmp is not None else set()
        optical_ports = {reading.ifindex for reading in readings.optics if reading.ifindex is not None}
        for interface in readings.interfaces:
            if watched and interface.name not in watched:
                continue
            if not watched and interface.ifindex not in optical_ports:
                continue
            self._interface(node, ref, interface)
        worst = OPTICS_OK
        for reading in readings.optics:
            if watched and reading.port not in watched:
                continue
            if reading.level not in _RANK:
                continue  # "unavailable": the sensor gave nothing usable this time
            self._level(node, ref, reading)
            if reading.direction == "rx":
                if _RANK[reading.level] > _RANK[worst]:
                    worst = reading.level  # never no_light: see _RANK
                if reading.dbm is not None:
                    self.last_rx[(node, reading.port)] = reading.dbm
                    self._trend(node, ref, reading, now)
        return worst

    def _interface(self, node: str, ref: NodeRef, interface: Any) -> None:
        key = (node, interface.ifindex)
        up = interface.oper_status == 1
        before = self._links.get(key)
        self._links[key] = up
        if before == up or (before is None and up):
            return
        payload = InterfaceChanged(node=ref, port=interface.name, ifindex=interface.ifindex,
                                   oper_status=interface.oper_status, up=up, last_change=interface.last_change,
                                   in_errors=interface.in_errors)
        self._publish(self._events(
            interface_topic(up), payload, severity=Severity.INFO if up else Severity.MEDIUM,
            subject=Subject(kind="fibre_node", id=node),
            summary=f"Fibre node {node}: interface {interface.name} {'up' if up else 'down'}",
        ))

    def _level(self, node: str, ref: NodeRef, reading: Any) -> None:
        key = (node, reading.port, reading.direction)
        before = self._levels.get(key)
        self._levels[key] = reading.level
        if before == reading.level or (before is None and reading.level == OPTICS_OK):
            return
        thresholds = reading.thresholds
        payload = OpticalLevelChanged(
            node=ref, port=reading.port, direction=reading.direction, level=reading.level, previous=before,
            dbm=reading.dbm, ifindex=reading.ifindex,
            thresholds=Thresholds(low_alarm=thresholds.low_alarm, low_warning=thresholds.low_warning,
                                  high_warning=thresholds.high_warning, high_alarm=thresholds.high_alarm,
                                  source=thresholds.source),
            reason=reading.reason,
        )
        power = "no light" if reading.dbm is None else f"{reading.dbm:.2f} dBm"
        what = "receive" if reading.direction == "rx" else "transmit"
        self._publish(self._events(
            optics_topic(reading.level), payload, severity=_SEVERITY[reading.level],
            subject=Subject(kind="fibre_node", id=node),
            summary=f"Fibre node {node} {reading.port} {what} power {reading.level.replace('_', ' ')}: {power}",
        ))

    def _trend(self, node: str, ref: NodeRef, reading: Any, now: float) -> None:
        key = (node, reading.port)
        trend = self._trends.get(key)
        if trend is None:
            trend = self._trends[key] = RxTrend(self._config.judge)
        trend.add(now, reading.dbm)
        threshold = reading.thresholds.low_alarm
        if threshold is None or reading.level == OPTICS_ALARM:
            self._warned.discard(key)
            return
        forecast = trend.forecast(threshold, now)
        if forecast is None or forecast.crossing_in_s > self._config.judge.trend_warn_s:
            self._warned.discard(key)
            return
        if key in self._warned:
            return
        self._warned.add(key)
        days = forecast.crossing_in_s / 86400.0
        payload = RxPowerTrend(
            node=ref, port=reading.port, dbm_now=reading.dbm, slope_db_per_day=forecast.slope_db_per_day,
            threshold_dbm=threshold, crossing_in_s=forecast.crossing_in_s, points=forecast.points,
            ifindex=reading.ifindex,
        )
        self._publish(self._events(
            RX_TREND, payload, severity=Severity.MEDIUM, subject=Subject(kind="fibre_node", id=node),
            summary=(f"Fibre node {node} {reading.port} receive power falling {forecast.slope_db_per_day:.2f} "
                     f"dB/day ({reading.dbm:.2f} dBm now): low alarm {threshold:.2f} dBm in about {days:.1f} "
                     "days; clean or check the connector and fibre"),
        ))
