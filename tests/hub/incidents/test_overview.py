"""The rules and maintenance windows as a control room reads them (hub/incidents/overview.py): what each rule
matches and does, and where each window stands at a moment the caller gives (the hub's clock)."""

from __future__ import annotations

import typing
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import attrs
import pytest

from hub.config import (
    BroadcastConfig,
    IncidentRuleConfig,
    IncidentsConfig,
    MaintenanceWindowConfig,
    MoveCamerasConfig,
)
from hub.incidents.overview import Span, WindowTimes, overview, window_times
from hub.incidents.rules import IncidentRules
from hub.secrets import Secret
from tests.hub.incidents.rule_events import camera

UTC = timezone.utc
LONDON = ZoneInfo("Europe/London")


def at(*args: int, zone: typing.Any = UTC) -> float:
    return datetime(*args, tzinfo=zone).timestamp()


LENS = MaintenanceWindowConfig(name="lens cleaning", starts=datetime(2026, 11, 24, 9, 0, tzinfo=UTC),
                               ends=datetime(2026, 11, 24, 11, 0, tzinfo=UTC), cameras=("24",),
                               reason="Works order WO-1")
NIGHTLY = MaintenanceWindowConfig(name="camera 43 overnight", daily="22:00-06:00", cameras=("43",))


@pytest.mark.parametrize(
    ("now", "expected", "state"),
    [
        (at(2026, 11, 24, 8, 59), WindowTimes(None, Span(at(2026, 11, 24, 9), at(2026, 11, 24, 11))), "upcoming"),
        (at(2026, 11, 24, 9, 0), WindowTimes(Span(at(2026, 11, 24, 9), at(2026, 11, 24, 11)), None), "active"),
        (at(2026, 11, 24, 10, 59, 59), WindowTimes(Span(at(2026, 11, 24, 9), at(2026, 11, 24, 11)), None), "active"),
        (at(2026, 11, 24, 11, 0), WindowTimes(None, None), "over"),
    ],
)
def test_a_one_off_window_is_upcoming_then_active_then_over(now, expected, state):
    """Before its start it is upcoming with its one stretch next; from its start up to its end active; then over."""
    times = window_times(LENS, now, LONDON)
    assert (times, times.state, times.active) == (expected, state, state == "active")


def test_a_daily_window_past_midnight_is_active_from_last_evening_and_next_on_tonight():
    """At 02:00 the stretch begun at 22:00 yesterday runs to 06:00; the next starts at 22:00 tonight."""
    times = window_times(NIGHTLY, at(2026, 11, 24, 2, 0, zone=LONDON), LONDON)
    assert times.current == Span(at(2026, 11, 23, 22, zone=LONDON), at(2026, 11, 24, 6, zone=LONDON))
    assert times.next == Span(at(2026, 11, 24, 22, zone=LONDON), at(2026, 11, 25, 6, zone=LONDON))
    assert times.state == "active"


def test_a_daily_window_in_the_afternoon_is_upcoming_until_tonight():
    """At 15:00 it is off, its next stretch 22:00 to 06:00."""
    times = window_times(NIGHTLY, at(2026, 11, 24, 15, 0, zone=LONDON), LONDON)
    assert times == WindowTimes(None, Span(at(2026, 11, 24, 22, zone=LONDON), at(2026, 11, 25, 6, zone=LONDON)))


def test_a_daily_window_keeps_its_local_times_when_the_clocks_go_forward():
    """On the night the clocks go forward in London, 00:00-06:00 local is six wall-clock hours but five real ones."""
    window = MaintenanceWindowConfig(name="night", daily="00:00-06:00")
    times = window_times(window, at(2025, 3, 30, 0, 30, zone=LONDON), LONDON)
    assert times.current == Span(at(2025, 3, 30, 0, 0), at(2025, 3, 30, 5, 0))
    assert times.next == Span(at(2025, 3, 30, 23, 0), at(2025, 3, 31, 5, 0))


def test_a_daily_window_within_starts_and_ends_begins_at_its_start_and_never_comes_back_after_its_end():
    """Bounded by a fortnight of works: before it, the first stretch is next; in its last stretch, nothing follows."""
    window = MaintenanceWindowConfig(name="resurfacing", daily="22:00-06:00",
                                     starts=datetime(2026, 11, 10, 23, 0, tzinfo=UTC),
                                     ends=datetime(2026, 11, 24, 5, 0, tzinfo=UTC))
    before = window_times(window, at(2026, 11, 1, 12, 0), LONDON)
    assert before == WindowTimes(None, Span(at(2026, 11, 10, 23, 0), at(2026, 11, 11, 6, 0)))
    last = window_times(window, at(2026, 11, 24, 1, 0), LONDON)
    assert last == WindowTimes(Span(at(2026, 11, 23, 22, 0), at(2026, 11, 24, 5, 0)), None)
    assert window_times(window, at(2026, 11, 24, 5, 0), LONDON).state == "over"


@pytest.mark.parametrize("window", [NIGHTLY, LENS, MaintenanceWindowConfig(
    name="spring night", daily="00:30-02:30", starts=datetime(2025, 3, 28, tzinfo=UTC),
    ends=datetime(2025, 4, 2, tzinfo=UTC))])
def test_a_window_is_shown_active_exactly_when_the_rules_leave_its_events_alone(window):
    """Every 7 minutes over several days (a change of the clocks among them), the overview's active agrees with
    the rules engine's suppression of an event the window covers."""
    compiled = IncidentRules(IncidentsConfig(rules=(IncidentRuleConfig(name="all"),), maintenance=(window,)))
    subject = window.cameras[0] if window.cameras else "7"
    start = (window.starts or datetime(2026, 11, 22, tzinfo=UTC)) - timedelta(days=1)
    for step in range(0, 5 * 24 * 60, 7):
        moment = start + timedelta(minutes=step)
        suppressed = compiled.decide(camera(subject, at=moment)).suppressed_by == window.name
        times = window_times(window, moment.timestamp(), LONDON)
        assert times.active is suppressed, moment
        if times.current is not None:
            assert times.current.starts <= moment.timestamp() < times.current.ends
        if times.next is not None:
            assert times.next.starts > moment.timestamp()


def test_the_overview_lists_each_rule_in_order_with_what_it_matches_does_and_counts():
    """Every match key and action of a rule, its position, and its counts by name (0 for a rule never counted)."""
    rules = IncidentsConfig(rules=(
        IncidentRuleConfig(name="pub emergency", topics=("shopwatch.emergency.raised",), sources=("shopwatch.pubwatch",),
                           members=("100-1001",), locations=("Market Place",), cameras=("12",),
                           time_of_day=("20:00-04:00",), payload={"status_code": ["10", "11"]},
                           min_severity="high", category="pub emergency", priority=1, sop=("Call back", "Watch"),
                           move_cameras=MoveCamerasConfig(preset="Pub doors", count=2), police="offer",
                           broadcast=BroadcastConfig(adapter="pubwatch", text="CCTV on it"), escalate_after_s=60),
        IncidentRuleConfig(name="ended", topics=("shopwatch.emergency.ended",), action="join"),
    ))
    shown = overview(rules, timezone="Europe/London", now=at(2026, 11, 24, 12), counts={"pub emergency": (3, 2)})
    first, second = shown["rules"]
    assert (first["position"], first["name"], second["position"]) == (1, "pub emergency", 2)
    assert first["matches"] == {
        "topics": ["shopwatch.emergency.raised"], "min_severity": "high", "sources": ["shopwatch.pubwatch"],
        "locations": ["Market Place"], "members": ["100-1001"], "cameras": ["12"], "time_of_day": ["20:00-04:00"],
        "payload": [{"field": "status_code", "values": ["10", "11"]}],
    }
    assert first["does"] == {
        "action": "open", "join_on": ["subject"], "join_window_s": 900.0, "category": "pub emergency",
        "priority": 1, "sop": ["Call back", "Watch"],
        "move_cameras": {"preset": "Pub doors", "count": 2, "within_m": 300.0, "adapter": None},
        "police": "offer", "police_adapter": None, "broadcast": {"adapter": "pubwatch", "text": "CCTV on it"},
        "escalate_after_s": 60.0,
    }
    assert first["incidents"] == {"opened": 3, "acted_on": 2}
    assert second["incidents"] == {"opened": 0, "acted_on": 0}
    assert second["does"]["action"] == "join"
    unknown = overview(rules, timezone="Europe/London", now=0, counts=None)
    assert unknown["rules"][0]["incidents"] == {"opened": None, "acted_on": None}


def test_the_overview_gives_each_window_its_state_stretches_schedule_and_what_it_covers():
    """Times are ISO UTC; the schedule is as configured; covers lists topics, sources, cameras and subjects."""
    works = MaintenanceWindowConfig(name="node works", starts=datetime(2026, 11, 24, 9, 0, tzinfo=UTC),
                                    ends=datetime(2026, 11, 24, 11, 0, tzinfo=UTC), topics=("fibre.#",),
                                    sources=("fibre.*",), subjects=("fibre_node:node-03",), reason="Splicing")
    shown = overview(IncidentsConfig(maintenance=(works, NIGHTLY)), timezone="Europe/London",
                     now=at(2026, 11, 24, 10), counts={})
    assert shown["now"] == "2026-11-24T10:00:00Z" and shown["timezone"] == "Europe/London"
    node, nightly = shown["maintenance"]
    assert node == {
        "name": "node works", "reason": "Splicing", "active": True, "state": "active",
        "current": {"starts_at": "2026-11-24T09:00:00Z", "ends_at": "2026-11-24T11:00:00Z"}, "next": None,
        "schedule": {"daily": None, "starts": "2026-11-24T09:00:00Z", "ends": "2026-11-24T11:00:00Z"},
        "covers": {"topics": ["fibre.#"], "sources": ["fibre.*"], "cameras": [], "subjects": ["fibre_node:node-03"]},
    }
    assert (nightly["active"], nightly["state"], nightly["current"]) == (False, "upcoming", None)
    assert nightly["next"] == {"starts_at": "2026-11-24T22:00:00Z", "ends_at": "2026-11-25T06:00:00Z"}
    assert nightly["schedule"]["daily"] == "22:00-06:00"


@pytest.mark.parametrize("config_class", [IncidentRuleConfig, MaintenanceWindowConfig, MoveCamerasConfig,
                                          BroadcastConfig, IncidentsConfig])
def test_no_rule_or_window_setting_is_a_secret(config_class):
    """The overview shows every rule and window setting: none of them may hold a Secret (a key or password)."""
    hints = typing.get_type_hints(config_class)
    for field in attrs.fields(config_class):
        assert hints[field.name] is not Secret and "Secret" not in repr(hints[field.name]), field.name
