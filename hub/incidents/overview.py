"""The rules and maintenance windows in force, as a control room reads them (``GET /api/rules``, the
console's Rules view): each rule in order with what it matches, what it does and how many incidents it has
opened and acted on; each maintenance window with what it covers, whether it is on now and when it next
starts and ends.

Nothing here decides anything: ``hub.incidents.rules`` does that. A window is on at ``now`` by the same
reading as the rules': within ``starts``/``ends`` when given, and for a ``daily`` one, within its times of
day in the room's time zone. ``now`` is passed in (the hub's clock), never read from the wall.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from attrs import frozen

from hub.clock import iso
from hub.config import IncidentRuleConfig, IncidentsConfig, MaintenanceWindowConfig, parse_time_range
from hub.incidents.rules import payload_fields


@frozen
class Span:
    """One stretch of a window, in POSIX seconds: from ``starts`` up to (not including) ``ends``."""

    starts: float
    ends: float


@frozen
class WindowTimes:
    """A window at one moment: the stretch it is in (``current``, None when off) and the next one that has
    not begun (``next``, None when it never comes again)."""

    current: Span | None
    next: Span | None

    @property
    def active(self) -> bool:
        return self.current is not None

    @property
    def state(self) -> str:
        """``active`` (on now), ``upcoming`` (off now, on again later) or ``over`` (never again)."""
        if self.current is not None:
            return "active"
        return "upcoming" if self.next is not None else "over"


def _at(day: date, minute: int, zone: ZoneInfo) -> float:
    """Local wall-clock ``minute`` of ``day`` (1440: the next midnight) in ``zone``, as POSIX seconds."""
    day += timedelta(days=minute // 1440)
    minute %= 1440
    return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone).timestamp()


def _daily_spans(start: int, end: int, first: date, days: int, zone: ZoneInfo) -> list[Span]:
    spans = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        # An end at or before the start runs past midnight into the next day.
        spans.append(Span(_at(day, start, zone), _at(day, end if end > start else end + 1440, zone)))
    return spans


def window_times(window: MaintenanceWindowConfig, now: float, zone: ZoneInfo) -> WindowTimes:
    """Where ``window`` stands at ``now``: the stretch it is in and the next one to come."""
    lower = window.starts.timestamp() if window.starts is not None else None
    upper = window.ends.timestamp() if window.ends is not None else None
    if window.daily is None:
        assert lower is not None and upper is not None  # the config requires both without daily
        if now >= upper:
            return WindowTimes(None, None)
        span = Span(lower, upper)
        return WindowTimes(span, None) if now >= lower else WindowTimes(None, span)
    start, end = parse_time_range(window.daily)
    # From the day before the later of now and the window's start (a stretch begun yesterday evening may
    # still run), three days hold the current stretch and the next.
    anchor = max(now, lower) if lower is not None else now
    first = datetime.fromtimestamp(anchor, zone).date() - timedelta(days=1)
    current = following = None
    for span in _daily_spans(start, end, first, 4, zone):
        clipped = Span(max(span.starts, lower) if lower is not None else span.starts,
                       min(span.ends, upper) if upper is not None else span.ends)
        if clipped.ends <= clipped.starts or clipped.ends <= now:
            continue
        if clipped.starts <= now and current is None:
            current = clipped
        elif clipped.starts > now:
            following = clipped
            break
    return WindowTimes(current, following)


def _rule_json(position: int, rule: IncidentRuleConfig, counts: Mapping[str, tuple[int, int]] | None) -> dict[str, Any]:
    move = rule.move_cameras
    opened, acted = counts.get(rule.name, (0, 0)) if counts is not None else (None, None)
    return {
        "position": position,
        "name": rule.name,
        "matches": {
            "topics": list(rule.topics),
            "min_severity": rule.min_severity,
            "sources": list(rule.sources),
            "locations": list(rule.locations),
            "members": list(rule.members),
            "cameras": list(rule.cameras),
            "time_of_day": list(rule.time_of_day),
            "payload": [{"field": name, "values": list(values)} for name, values in payload_fields(rule.payload)],
        },
        "does": {
            "action": rule.action,
            "join_on": list(rule.join_on),
            "join_window_s": rule.join_window_s,
            "category": rule.category,
            "priority": rule.priority,
            "sop": list(rule.sop),
            "move_cameras": None if move is None else {"preset": move.preset, "count": move.count,
                                                       "within_m": move.within_m, "adapter": move.adapter},
            "police": rule.police,
            "police_adapter": rule.police_adapter,
            "broadcast": None if rule.broadcast is None else {"adapter": rule.broadcast.adapter,
                                                              "text": rule.broadcast.text},
            "escalate_after_s": rule.escalate_after_s,
        },
        "incidents": {"opened": opened, "acted_on": acted},
    }


def _span_json(span: Span | None) -> dict[str, str | None] | None:
    return None if span is None else {"starts_at": iso(span.starts), "ends_at": iso(span.ends)}


def _window_json(window: MaintenanceWindowConfig, now: float, zone: ZoneInfo) -> dict[str, Any]:
    times = window_times(window, now, zone)
    return {
        "name": window.name,
        "reason": window.reason,
        "active": times.active,
        "state": times.state,
        "current": _span_json(times.current),
        "next": _span_json(times.next),
        "schedule": {
            "daily": window.daily,
            "starts": iso(window.starts.timestamp()) if window.starts is not None else None,
            "ends": iso(window.ends.timestamp()) if window.ends is not None else None,
        },
        "covers": {
            "topics": list(window.topics),
            "sources": list(window.sources),
            "cameras": list(window.cameras),
            "subjects": list(window.subjects),
        },
    }


def overview(incidents: IncidentsConfig, *, timezone: str, now: float,
             counts: Mapping[str, tuple[int, int]] | None) -> dict[str, Any]:
    """The rules in order and the maintenance windows at ``now``, as JSON. ``counts`` is, per rule name,
    (incidents opened, incidents acted on) (``IncidentStore.rule_counts``); None when not known, and each
    rule's counts are then null."""
    zone = ZoneInfo(timezone)
    return {
        "timezone": timezone,
        "now": iso(now),
        "rules": [_rule_json(index, rule, counts) for index, rule in enumerate(incidents.rules, start=1)],
        "maintenance": [_window_json(window, now, zone) for window in incidents.maintenance],
    }


__all__ = ["Span", "WindowTimes", "overview", "window_times"]
