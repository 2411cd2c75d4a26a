"""Maintenance windows: while one lasts, the events it covers open nothing and trigger no rule's actions."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from hub.config import IncidentRuleConfig, IncidentsConfig, MaintenanceWindowConfig
from hub.events import Location, Severity, Subject
from hub.incidents.rules import IncidentRules, RuleAction
from tests.hub.incidents.rule_events import camera, event, node_down

UTC = timezone.utc
EVERYTHING = IncidentRuleConfig(name="everything", sop=("Look",))


def rules(*windows: MaintenanceWindowConfig, timezone: str = "Europe/London") -> IncidentRules:
    return IncidentRules(IncidentsConfig(rules=(EVERYTHING,), maintenance=windows), timezone=timezone)


def suppressed_by(compiled: IncidentRules, an_event) -> str | None:
    decision = compiled.decide(an_event)
    if decision.suppressed_by is not None:
        assert decision.action is RuleAction.IGNORE and decision.actions is None and decision.rule is None
    return decision.suppressed_by


LENS = MaintenanceWindowConfig(name="lens cleaning", starts=datetime(2026, 11, 24, 9, 0, tzinfo=UTC),
                               ends=datetime(2026, 11, 24, 11, 0, tzinfo=UTC), cameras=("24",))


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (datetime(2026, 11, 24, 8, 59, 59, tzinfo=UTC), None),
        (datetime(2026, 11, 24, 9, 0, tzinfo=UTC), "lens cleaning"),
        (datetime(2026, 11, 24, 10, 59, 59, tzinfo=UTC), "lens cleaning"),
        (datetime(2026, 11, 24, 11, 0, tzinfo=UTC), None),
    ],
)
def test_a_one_off_window_lasts_from_its_start_up_to_its_end(at, expected):
    """starts is included, ends is not."""
    assert suppressed_by(rules(LENS), camera("24", at=at)) == expected


def test_a_window_covers_only_what_it_lists():
    """Camera 24's works leave camera 23's tamper to the rules."""
    at = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    compiled = rules(LENS)
    assert suppressed_by(compiled, camera("24", at=at)) == "lens cleaning"
    decision = compiled.decide(camera("23", at=at))
    assert decision.rule == "everything" and decision.actions is not None


def test_an_event_merely_in_view_of_a_listed_camera_is_never_hidden():
    """A pub's emergency whose nearest camera is being cleaned is about the pub, not the camera."""
    at = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    emergency = event(at=at, location=Location(name="Low Pavement", camera="24"))
    assert suppressed_by(rules(LENS), emergency) is None


def test_a_window_without_a_list_covers_everything_its_topics_and_sources_let_through():
    """Radio scheme works: every shopwatch.pubwatch event is left alone; other sources are not."""
    works = MaintenanceWindowConfig(name="base radio swap", starts=datetime(2026, 11, 24, 9, 0, tzinfo=UTC),
                                    ends=datetime(2026, 11, 24, 12, 0, tzinfo=UTC), sources=("shopwatch.pubwatch",),
                                    topics=("shopwatch.line.#", "shopwatch.radio.#"))
    at = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    assert suppressed_by(rules(works), event("shopwatch.line.error", at=at)) == "base radio swap"
    assert suppressed_by(rules(works), event("shopwatch.emergency.raised", at=at)) is None
    assert suppressed_by(rules(works), event("shopwatch.line.error", at=at, source="shopwatch.shopwatch")) is None


NODE_WORKS = MaintenanceWindowConfig(name="node-03 splicing", daily="02:00-04:00",
                                     subjects=("fibre_node:node-03", "fibre_node:node-04"),
                                     cameras=("23", "24", "31"))


def test_node_works_leave_the_node_and_everything_behind_it_alone():
    """The node's outage, the node behind it and each camera behind it: all expected during the works."""
    at = datetime(2026, 11, 25, 2, 31, tzinfo=UTC)  # 02:31 GMT
    compiled = rules(NODE_WORKS)
    assert suppressed_by(compiled, node_down("node-03", ("23", "24", "31"), behind=("node-04",), at=at))
    assert suppressed_by(compiled, event("fibre.node.unreachable", at=at, source="fibre.fibre",
                                         subject=Subject(kind="fibre_node", id="node-04")))
    assert suppressed_by(compiled, camera("31", "onvif.camera.offline", at=at))


def test_an_outage_that_reaches_beyond_the_works_is_never_hidden():
    """node-02 failing during node-03's works takes cameras 17 and 42 too: it is not the works' doing."""
    at = datetime(2026, 11, 25, 2, 31, tzinfo=UTC)
    upstream = node_down("node-02", ("17", "42", "23", "24", "31"), behind=("node-03", "node-04"), at=at)
    assert suppressed_by(rules(NODE_WORKS), upstream) is None
    listed_but_more = node_down("node-03", ("23", "24", "31", "99"), behind=("node-04",), at=at)
    assert suppressed_by(rules(NODE_WORKS), listed_but_more) is None


@pytest.mark.parametrize(
    ("local", "expected"),
    [((1, 59), False), ((2, 0), True), ((3, 59), True), ((4, 0), False), ((12, 0), False)],
)
def test_a_daily_window_recurs_every_day_at_its_local_times(local, expected):
    """Every day of the year, summer or winter, 02:00-04:00 on the room's clock."""
    for month, offset in ((1, 0), (7, 1)):  # GMT in January, BST in July
        at = datetime(2026, month, 14, *local, tzinfo=UTC) - timedelta(hours=offset)
        found = suppressed_by(rules(NODE_WORKS), camera("23", "onvif.camera.offline", at=at))
        assert (found == "node-03 splicing") is expected, (month, local)


@pytest.mark.parametrize(
    ("utc", "expected"),
    [((21, 59), False), ((22, 0), True), ((23, 59), True), ((0, 0), True), ((5, 59), True), ((6, 0), False)],
)
def test_a_daily_window_may_run_past_midnight(utc, expected):
    """22:00-06:00 covers the late evening and the small hours of the next day (GMT: local is UTC)."""
    night = MaintenanceWindowConfig(name="night works", daily="22:00-06:00", cameras=("23",))
    at = datetime(2026, 1, 14, *utc, tzinfo=UTC)
    assert (suppressed_by(rules(night), camera("23", at=at)) is not None) is expected


def test_a_daily_window_follows_the_clocks_going_forward_in_london():
    """29 March 2026: at 01:00 GMT the clocks go to 02:00 BST. A 02:00-04:00 window starts at once, and
    ends at 04:00 BST, 03:00 UTC: it lasts one hour of real time that night."""
    works = MaintenanceWindowConfig(name="works", daily="02:00-04:00", cameras=("23",))
    compiled = rules(works)

    def at(hour: int, minute: int) -> bool:
        return suppressed_by(compiled, camera("23", at=datetime(2026, 3, 29, hour, minute, tzinfo=UTC))) is not None

    assert not at(0, 59)  # 00:59 GMT
    assert at(1, 0)  # 02:00 BST
    assert at(2, 59)  # 03:59 BST
    assert not at(3, 0)  # 04:00 BST


def test_a_daily_window_follows_the_clocks_going_back_in_london():
    """25 October 2026: at 02:00 BST the clocks go back to 01:00 GMT. A 01:00-02:00 window is on for the
    hour from 01:00 BST and again for the hour from 01:00 GMT: both are 01:xx on the room's clock."""
    works = MaintenanceWindowConfig(name="works", daily="01:00-02:00", cameras=("23",))
    compiled = rules(works)

    def at(hour: int, minute: int) -> bool:
        return suppressed_by(compiled, camera("23", at=datetime(2026, 10, 25, hour, minute, tzinfo=UTC))) is not None

    assert at(0, 0)  # 01:00 BST
    assert at(0, 59)  # 01:59 BST
    assert at(1, 0)  # 01:00 GMT, the second time round
    assert at(1, 59)  # 01:59 GMT
    assert not at(2, 0)  # 02:00 GMT


def test_the_dst_day_time_of_day_of_a_rule_follows_the_clocks_too():
    """A rule for 21:00-06:00 on the night the clocks go forward: 06:00 BST is 05:00 UTC."""
    rule = IncidentRuleConfig(name="night", time_of_day=("21:00-06:00",))
    compiled = IncidentRules(IncidentsConfig(rules=(rule,)))
    assert compiled.decide(event(at=datetime(2026, 3, 29, 4, 59, tzinfo=UTC))).rule == "night"
    assert compiled.decide(event(at=datetime(2026, 3, 29, 5, 0, tzinfo=UTC))).rule is None


def test_a_daily_window_with_starts_and_ends_recurs_only_within_them():
    """Nightly splicing for one week: 02:30 before the week, in it and after it."""
    week = MaintenanceWindowConfig(name="week of works", daily="02:00-04:00", cameras=("23",),
                                   starts=datetime(2026, 11, 23, 0, 0, tzinfo=UTC),
                                   ends=datetime(2026, 11, 30, 0, 0, tzinfo=UTC))
    compiled = rules(week)
    assert suppressed_by(compiled, camera("23", at=datetime(2026, 11, 22, 2, 30, tzinfo=UTC))) is None
    assert suppressed_by(compiled, camera("23", at=datetime(2026, 11, 25, 2, 30, tzinfo=UTC))) == "week of works"
    assert suppressed_by(compiled, camera("23", at=datetime(2026, 11, 30, 2, 30, tzinfo=UTC))) is None
    assert suppressed_by(compiled, camera("23", at=datetime(2026, 11, 25, 12, 0, tzinfo=UTC))) is None


def test_a_window_never_hides_an_event_that_names_an_incident():
    """What happens on an incident (a command's outcome, an answer) is never maintenance's to hide."""
    at = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    assert suppressed_by(rules(LENS), camera("24", at=at, incident_id="INC-1")) is None


def test_the_hubs_own_topics_are_ignored_before_any_window_is_looked_at():
    """A protected topic is ignored plainly, not as suppressed by a window."""
    everything = MaintenanceWindowConfig(name="all", daily="00:00-24:00")
    decision = rules(everything).decide(event("incident.opened"))
    assert decision.action is RuleAction.IGNORE and decision.suppressed_by is None


def test_the_first_window_that_covers_an_event_names_it():
    """Two windows covering the same event: the first configured is the one named."""
    also = MaintenanceWindowConfig(name="also", daily="00:00-24:00", cameras=("24",))
    at = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    assert suppressed_by(rules(LENS, also), camera("24", at=at)) == "lens cleaning"
    assert suppressed_by(rules(also, LENS), camera("24", at=at)) == "also"


def test_a_window_covers_events_of_every_severity():
    """Windows have no severity floor: a critical event about covered things is covered too."""
    at = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    assert suppressed_by(rules(LENS), camera("24", at=at, severity=Severity.CRITICAL)) == "lens cleaning"
