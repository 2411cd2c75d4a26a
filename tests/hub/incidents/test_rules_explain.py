"""explain(): the rules' decision at length, with why each window and rule did or did not match."""

from __future__ import annotations

from datetime import datetime, timezone

from hub.config import IncidentRuleConfig, IncidentsConfig, MaintenanceWindowConfig
from hub.events import Location, Severity
from hub.incidents.rules import IncidentRules
from tests.hub.incidents.rule_events import NIGHT, camera, event, node_down

UTC = timezone.utc

RULES = (
    IncidentRuleConfig(name="shop theft", topics=("shopwatch.report.received",), min_severity="high",
                       sources=("shopwatch.shopwatch",)),
    IncidentRuleConfig(name="pub night", topics=("shopwatch.emergency.#",), sources=("shopwatch.pubwatch",),
                       members=("100-1001",), time_of_day=("21:00-06:00",), sop=("Look",)),
    IncidentRuleConfig(name="doorway", locations=("3 Market Place",), cameras=("23",)),
    IncidentRuleConfig(name="the rest", min_severity="high"),
)
WINDOWS = (
    MaintenanceWindowConfig(name="lens cleaning", starts=datetime(2026, 11, 24, 9, 0, tzinfo=UTC),
                            ends=datetime(2026, 11, 24, 11, 0, tzinfo=UTC), cameras=("24",)),
    MaintenanceWindowConfig(name="node works", daily="02:00-04:00", subjects=("fibre_node:node-03",),
                            cameras=("23", "24")),
)
COMPILED = IncidentRules(IncidentsConfig(rules=RULES, maintenance=WINDOWS), timezone="Europe/London")


def by_criterion(tried) -> dict[str, tuple[bool, str]]:
    return {check.criterion: (check.matched, check.detail) for check in tried.checks}


def test_it_lists_the_rules_tried_up_to_the_one_that_decides():
    """Rules before the match say why not; the match says why; later rules are only counted."""
    explained = COMPILED.explain(event(at=NIGHT))
    assert [(t.name, t.matched) for t in explained.rules] == [("shop theft", False), ("pub night", True)]
    assert explained.untried == 2
    assert explained.decision == COMPILED.decide(event(at=NIGHT))
    assert explained.decision.rule == "pub night"
    theft = by_criterion(explained.rules[0])
    assert theft["topics"] == (False, "shopwatch.emergency.raised matches none of shopwatch.report.received")
    assert theft["min_severity"] == (True, "critical is at least high")
    assert theft["sources"] == (False, "shopwatch.pubwatch is not one of shopwatch.shopwatch")
    night = by_criterion(explained.rules[1])
    assert night["time_of_day"] == (True, "23:14 GMT (Europe/London) is within 21:00-06:00")
    assert night["members"][0] is True and "The Crown" in night["members"][1]


def test_it_says_why_a_criterion_failed_in_the_rooms_words():
    """A daytime emergency fails on time of day, shown in local time with its zone (BST in summer)."""
    explained = COMPILED.explain(event(at=datetime(2026, 7, 4, 13, 5, tzinfo=UTC), severity=Severity.MEDIUM))
    night = by_criterion(explained.rules[1])
    assert night["time_of_day"] == (False, "14:05 BST (Europe/London) is outside 21:00-06:00")
    assert explained.decision.rule is None and explained.untried == 0
    assert explained.local_time.hour == 14 and explained.timezone == "Europe/London"


def test_it_explains_locations_members_and_cameras():
    """Each criterion names what the event had and what the rule wanted."""
    explained = COMPILED.explain(
        camera("24", severity=Severity.LOW, at=datetime(2026, 11, 21, 12, 0, tzinfo=UTC))
    )
    doorway = by_criterion(explained.rules[2])
    assert doorway["cameras"] == (False, "camera 24 is none of 23")
    assert doorway["locations"] == (False, "the event has no location name or UPRN")
    pub = by_criterion(explained.rules[1])
    assert pub["members"] == (False, "the event is about a camera, not a radio unit")
    inside = COMPILED.explain(event("shopwatch.report.received", severity=Severity.LOW,
                                    location=Location(name="3 market place", camera="23")))
    doorway = by_criterion(inside.rules[2])
    assert doorway["cameras"] == (True, "camera 23 is one of 23")
    assert doorway["locations"] == (True, "location name '3 market place' is one of the rule's")


def test_it_shows_every_window_and_the_one_that_covers_the_event():
    """Each window says whether it is on at the event's time and whether it covers what the event is about."""
    at = datetime(2026, 11, 25, 2, 30, tzinfo=UTC)
    explained = COMPILED.explain(camera("24", "onvif.camera.offline", at=at))
    assert explained.decision.suppressed_by == "node works"
    lens, works = explained.maintenance
    assert not lens.matched and works.matched
    assert by_criterion(lens)["when"] == (
        False, "Wed 25 Nov 2026 02:30 GMT is outside Tue 24 Nov 2026 09:00 to 11:00 GMT")
    assert by_criterion(works)["when"] == (True, "Wed 25 Nov 2026 02:30 GMT is within daily 02:00-04:00 "
                                                 "Europe/London time")
    assert by_criterion(works)["covers"] == (True, "the event is about camera:24, which the works list")


def test_it_says_an_outage_beyond_the_works_is_not_hidden():
    """The window is on, but the outage takes a camera the works do not list: it says which."""
    at = datetime(2026, 11, 25, 2, 30, tzinfo=UTC)
    explained = COMPILED.explain(node_down("node-03", ("23", "24", "31"), at=at))
    works = explained.maintenance[1]
    matched, detail = by_criterion(works)["covers"]
    assert not matched and "camera:31" in detail and "never hidden" in detail
    assert explained.decision.suppressed_by is None


def test_it_says_an_event_naming_an_incident_is_never_hidden():
    """An event that names an incident is shown as not covered, with the reason."""
    at = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    explained = COMPILED.explain(camera("24", at=at, incident_id="INC-9"))
    lens = explained.maintenance[0]
    assert not lens.matched
    assert by_criterion(lens)["incident_id"][0] is False
    assert explained.decision.suppressed_by is None


def test_it_says_when_a_guard_decides_before_any_rule():
    """A protected topic gets a guard sentence and no rule or window."""
    explained = COMPILED.explain(event("command.onvif.goto_preset"))
    assert explained.guard is not None and "command.#" in explained.guard
    assert explained.rules == () and explained.maintenance == ()


def test_explain_always_agrees_with_decide():
    """For a spread of events at every hour, explain's decision and its 'matched' marks agree with decide."""
    events = []
    for hour in range(24):
        at = datetime(2026, 11, 24, hour, 30, tzinfo=UTC)
        events += [
            event(at=at), event("shopwatch.report.received", at=at, source="shopwatch.shopwatch"),
            camera("23", at=at), camera("24", at=at), camera("31", at=at, severity=Severity.LOW),
            node_down("node-03", ("23", "24"), at=at), node_down("node-03", ("23", "99"), at=at),
            event(at=at, location=Location(name="3 Market Place", camera="23"), severity=Severity.LOW),
        ]
    rules_alone = IncidentRules(IncidentsConfig(rules=RULES))
    for each in events:
        explained = COMPILED.explain(each)
        decision = COMPILED.decide(each)
        assert explained.decision == decision
        # Under a window the rules are still shown: what would decide the event outside it.
        deciding = rules_alone.decide(each).rule
        matched_rules = [t.name for t in explained.rules if t.matched]
        assert matched_rules == ([deciding] if deciding else [])
        covering = [t.name for t in explained.maintenance if t.matched]
        if decision.suppressed_by is not None:
            assert covering[0] == decision.suppressed_by
        else:
            assert covering == []
        for tried in (*explained.rules, *explained.maintenance):
            assert tried.matched == all(check.matched for check in tried.checks)
