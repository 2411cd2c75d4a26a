"""Incident rules' criteria: every one given must match; what a matching rule does comes with its decision."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import time

import attrs
import pytest

from hub.config import BroadcastConfig, IncidentRuleConfig, IncidentsConfig, MoveCamerasConfig
from hub.events import Location, Severity, Subject
from hub.incidents.rules import IGNORE, PROTECTED_TOPICS, IncidentRules, InvalidRule, RuleAction, RuleActions
from tests.hub.incidents.rule_events import NIGHT, THE_CROWN, camera, event, node_down


def rules(*configured: IncidentRuleConfig, timezone: str = "Europe/London") -> IncidentRules:
    return IncidentRules(IncidentsConfig(rules=configured), timezone=timezone)


def matches(rule: IncidentRuleConfig, an_event, **kwargs) -> bool:
    return rules(rule, **kwargs).decide(an_event).rule == rule.name


def test_rule_topics_are_protected_so_a_rule_action_never_opens_an_incident():
    """rule.* events (a rule's action skipped) are the hub's own: no rule may open an incident from them."""
    assert "rule.#" in PROTECTED_TOPICS
    assert rules(IncidentRuleConfig(name="all")).decide(event("rule.action.skipped")) == IGNORE


@pytest.mark.parametrize(
    ("sources", "source", "expected"),
    [
        (("shopwatch.pubwatch",), "shopwatch.pubwatch", True),
        (("shopwatch.pubwatch",), "shopwatch.shopwatch", False),
        (("shopwatch.*",), "shopwatch.pubwatch", True),
        (("onvif.*", "shopwatch.town"), "shopwatch.town", True),
        (("shopwatch.*",), "onvif.cameras", False),
    ],
)
def test_sources_match_exactly_or_by_pattern(sources, source, expected):
    """A source is named exactly, or by a shell-style pattern such as shopwatch.*."""
    rule = IncidentRuleConfig(name="r", sources=sources)
    assert matches(rule, event(source=source)) is expected


@pytest.mark.parametrize(
    ("locations", "place", "expected"),
    [
        (("3 Market Place",), Location(name="3  market   place "), True),
        (("3 MARKET PLACE",), Location(name="3 Market Place"), True),
        (("100012345678",), Location(name="The Crown", uprn="100012345678"), True),
        (("High Street",), Location(name="3 Market Place"), False),
        (("3 Market Place",), None, False),
    ],
)
def test_locations_match_the_name_or_uprn_ignoring_case_and_spacing(locations, place, expected):
    """Location names are compared case-folded with spaces collapsed; a UPRN matches too; no location never."""
    rule = IncidentRuleConfig(name="r", locations=locations)
    assert matches(rule, event(location=place)) is expected


@pytest.mark.parametrize(
    ("members", "subject", "expected"),
    [
        (("100-1001",), THE_CROWN, True),
        (("shopwatch.pubwatch.100-1001",), THE_CROWN, True),
        (("the crown",), THE_CROWN, True),
        (("1001",), THE_CROWN, False),
        (("100-1002",), THE_CROWN, False),
        (("23",), Subject(kind="camera", id="23", name="The Crown"), False),
    ],
)
def test_members_match_a_radio_unit_by_unit_id_full_id_or_member_name(members, subject, expected):
    """A member is its unit id (the end of the subject id after a dot), its full id or its name; only
    radio units are members (a camera named like a pub is not)."""
    rule = IncidentRuleConfig(name="r", members=members)
    assert matches(rule, event(subject=subject)) is expected


def test_cameras_match_the_location_the_subject_or_what_an_outage_covers():
    """A camera is matched in the event's location, as its subject, or among the cameras its outage covers."""
    rule = IncidentRuleConfig(name="r", cameras=("23",))
    assert matches(rule, event(location=Location(name="3 Market Place", camera="23")))
    assert matches(rule, camera("23"))
    assert matches(rule, node_down("node-03", ("23", "24")))
    assert not matches(rule, camera("24"))
    assert not matches(rule, node_down("node-02", ("17",), behind=("node-03",)))
    assert not matches(rule, event())


@pytest.mark.parametrize(
    ("ranges", "local", "expected"),
    [
        (("21:00-06:00",), (23, 14), True),
        (("21:00-06:00",), (0, 0), True),
        (("21:00-06:00",), (5, 59), True),
        (("21:00-06:00",), (6, 0), False),
        (("21:00-06:00",), (20, 59), False),
        (("21:00-06:00",), (21, 0), True),
        (("09:00-17:00", "18:00-24:00"), (23, 59), True),
        (("09:00-17:00", "18:00-24:00"), (17, 30), False),
    ],
)
def test_time_of_day_is_read_from_when_the_event_happened_in_the_rooms_time_zone(ranges, local, expected):
    """Ranges are local times, start included and end not; one that ends earlier than it starts runs past
    midnight; 24:00 is the end of the day."""
    rule = IncidentRuleConfig(name="r", time_of_day=ranges)
    # In July the room is on BST (UTC+1): the event's UTC time is an hour behind its local time.
    at = datetime(2026, 7, 4, *local, tzinfo=timezone.utc)
    assert matches(rule, event(at=at - timedelta(hours=1))) is expected


def test_time_of_day_follows_the_configured_time_zone():
    """The same moment is night in London and morning in Sydney."""
    rule = IncidentRuleConfig(name="r", time_of_day=("21:00-06:00",))
    assert matches(rule, event(at=NIGHT), timezone="Europe/London")
    assert not matches(rule, event(at=NIGHT), timezone="Australia/Sydney")


def test_time_of_day_reads_the_event_time_not_the_time_it_was_received():
    """A late-delivered event is judged by when it happened: occurred_at, never received_at or the clock."""
    rule = IncidentRuleConfig(name="r", time_of_day=("21:00-06:00",))
    late = event(at=NIGHT)
    late = attrs.evolve(late, received_at=datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc))
    assert matches(rule, late)


def test_every_criterion_given_must_match():
    """One criterion failing is enough for the rule not to match, however many others do."""
    rule = IncidentRuleConfig(name="pub night", topics=("shopwatch.emergency.#",), min_severity="high",
                              sources=("shopwatch.pubwatch",), members=("100-1001",),
                              locations=("3 Market Place",), cameras=("23",), time_of_day=("21:00-06:00",))
    place = Location(name="3 Market Place", camera="23")
    assert matches(rule, event(location=place))
    assert not matches(rule, event(location=place, severity=Severity.MEDIUM))
    assert not matches(rule, event(location=place, source="shopwatch.shopwatch"))
    assert not matches(rule, event(location=Location(name="3 Market Place", camera="24")))
    assert not matches(rule, event(location=place, at=datetime(2026, 11, 21, 14, 0, tzinfo=timezone.utc)))
    assert not matches(rule, event("shopwatch.report.received", location=place))


def test_the_first_rule_whose_criteria_match_decides():
    """Rules are tried in order: a narrower rule first, a catch-all after it."""
    night = IncidentRuleConfig(name="pub night", sources=("shopwatch.pubwatch",), time_of_day=("21:00-06:00",),
                               priority=1)
    any_time = IncidentRuleConfig(name="pub any time", sources=("shopwatch.pubwatch",), priority=3)
    both = rules(night, any_time)
    assert both.decide(event(at=NIGHT)).rule == "pub night"
    assert both.decide(event(at=datetime(2026, 11, 21, 14, 0, tzinfo=timezone.utc))).rule == "pub any time"


def test_a_rule_with_actions_carries_them_in_its_decision():
    """The decision of a rule with an SOP, cameras, police, broadcast or escalation names them all."""
    rule = IncidentRuleConfig(
        name="pub night", category="emergency", priority=1, sop=("Find the caller", "Call back"),
        move_cameras=MoveCamerasConfig(preset="Doorway", count=2), police="offer", police_adapter="police",
        broadcast=BroadcastConfig(adapter="pubwatch", text="Doors shut"), escalate_after_s=30,
    )
    decision = rules(rule).decide(event())
    assert decision.action is RuleAction.OPEN
    assert decision.actions == RuleActions(
        rule="pub night", sop=("Find the caller", "Call back"), move_cameras=MoveCamerasConfig(preset="Doorway", count=2),
        police="offer", police_adapter="police", broadcast=BroadcastConfig(adapter="pubwatch", text="Doors shut"),
        escalate_after_s=30.0,
    )
    assert decision.suppressed_by is None


@pytest.mark.parametrize(
    "extra",
    [{"sop": ("x",)}, {"police": "auto"}, {"escalate_after_s": 0}, {"move_cameras": MoveCamerasConfig(preset="1")},
     {"broadcast": BroadcastConfig(adapter="pubwatch", text="x")}],
)
def test_any_one_action_makes_the_rule_act(extra):
    """Each action key alone gives the decision actions (escalate_after_s = 0, never escalate, included)."""
    decision = rules(IncidentRuleConfig(name="r", **extra)).decide(event())
    assert decision.actions is not None and decision.actions.rule == "r"


def test_a_rule_without_actions_has_none():
    """Opening or joining alone: actions is None, so the engine has nothing more to do."""
    assert rules(IncidentRuleConfig(name="r", category="x")).decide(event()).actions is None


def test_an_ignore_rule_with_actions_is_refused_naming_the_rule():
    """A rule that ignores events can do nothing else: it is an error at start, not a silent no-op."""
    with pytest.raises(InvalidRule, match="'quiet'.*ignore"):
        rules(IncidentRuleConfig(name="quiet", action="ignore", sop=("x",)))


def test_a_police_adapter_without_police_is_refused_naming_the_rule():
    """police_adapter alone would do nothing: the error says to add police."""
    with pytest.raises(InvalidRule, match="'r'.*police = "):
        rules(IncidentRuleConfig(name="r", police_adapter="police"))


def test_an_unknown_time_zone_is_refused():
    """A time zone that is not an IANA name is an error at start."""
    with pytest.raises(InvalidRule, match="Mars/Olympus"):
        IncidentRules(IncidentsConfig(), timezone="Mars/Olympus")


def test_the_constructor_keeps_its_old_form_and_defaults_to_london():
    """IncidentRules(config) still works, in the room's default time zone."""
    assert IncidentRules(IncidentsConfig()).timezone == "Europe/London"


def test_decide_gives_the_same_answer_for_the_same_event_asked_again():
    """The engine asks several times about one event; the answer does not change, nor for a new event."""
    both = rules(IncidentRuleConfig(name="night", time_of_day=("21:00-06:00",)))
    night = event(at=NIGHT)
    assert both.decide(night) is both.decide(night)
    day = event(at=datetime(2026, 11, 21, 14, 0, tzinfo=timezone.utc))
    assert both.decide(day) == IGNORE
    assert both.decide(night).rule == "night"


def test_decide_is_fast_enough_for_every_event_on_the_bus():
    """Twenty rules with every criterion, no match: 20,000 decisions in well under a second."""
    configured = tuple(
        IncidentRuleConfig(name=f"r{n}", topics=("shopwatch.#",), sources=("shopwatch.*",), members=(f"u{n}",),
                           locations=("Nowhere",), time_of_day=("21:00-06:00",))
        for n in range(20)
    )
    compiled = rules(*configured)
    events = [event() for _ in range(20_000)]
    started = time.perf_counter()
    for each in events:
        compiled.decide(each)
    assert time.perf_counter() - started < 5.0  # generous: about 0.3 s on a laptop


def test_a_camera_covered_by_a_payload_that_is_not_a_list_covers_nothing():
    """covers that is text or a mapping names no camera."""
    rule = IncidentRuleConfig(name="r", cameras=("23",))
    assert not matches(rule, event(payload={"covers": "camera:23"}))
    assert not matches(rule, event(payload={"covers": {"camera:23": True}}))
    assert matches(rule, event(payload={"covers": ["camera:23", 7, "nonsense"]}))
