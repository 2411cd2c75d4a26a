"""Incident rules: the first matching rule decides; some topics can never open an incident."""

from __future__ import annotations

import pytest

from hub.config_reader import Expected
from twisted.internet.task import Clock

from hub.config import IncidentRuleConfig, IncidentsConfig
from hub.events import EventFactory, Severity, Subject
from hub.incidents.rules import Decision, IncidentRules, RuleAction
from hub.testing import Note


def event(topic: str, severity: Severity = Severity.HIGH):
    return EventFactory(Clock(), "test.rules")(
        topic, Note("x"), severity=severity, subject=Subject(kind="test", id="x"), summary="x"
    )


def decide(*rules: IncidentRuleConfig, topic: str, severity: Severity = Severity.HIGH) -> Decision:
    config = IncidentsConfig(rules=rules) if rules else IncidentsConfig()
    return IncidentRules(config).decide(event(topic, severity))


def test_the_default_rule_opens_high_and_critical_events_only():
    """With no rules configured, high and critical open; medium and below are ignored."""
    assert decide(topic="onvif.camera.offline", severity=Severity.HIGH).action is RuleAction.OPEN
    assert decide(topic="onvif.camera.offline", severity=Severity.CRITICAL).action is RuleAction.OPEN
    assert decide(topic="onvif.camera.offline", severity=Severity.MEDIUM).action is RuleAction.IGNORE


def test_the_first_rule_matching_topic_and_severity_decides():
    """A rule whose severity floor is not met is passed over for the next."""
    rules = (
        IncidentRuleConfig(name="urgent radio", topics=("shopwatch.#",), min_severity="critical", priority=1),
        IncidentRuleConfig(name="radio", topics=("shopwatch.*.raised", "pubwatch.#"), join_on=("subject", "location"), join_window_s=60),
    )
    assert decide(*rules, topic="shopwatch.emergency.raised", severity=Severity.CRITICAL).rule == "urgent radio"
    decision = decide(*rules, topic="shopwatch.emergency.raised", severity=Severity.LOW)
    assert decision == Decision(RuleAction.OPEN, "radio", None, None, ("subject", "location"), 60.0)
    assert decide(*rules, topic="pubwatch.ban.issued", severity=Severity.INFO).rule == "radio"
    assert decide(*rules, topic="onvif.camera.offline").action is RuleAction.IGNORE


@pytest.mark.parametrize(
    "topic",
    ["incident.opened", "incident.escalated", "command.shopwatch.broadcast", "hub.process.started", "onvif.command.failed"],
)
def test_protected_topics_are_ignored_whatever_the_rules(topic):
    """The engine's own events, commands, hub events and command outcomes never open or join by rule."""
    assert decide(IncidentRuleConfig(name="all", topics=("#",)), topic=topic, severity=Severity.CRITICAL).action is RuleAction.IGNORE


def test_a_bad_topic_pattern_is_refused_with_the_config_naming_the_word_at_fault():
    """An invalid pattern never reaches the engine: the rule's config refuses it, naming the word."""
    with pytest.raises(Expected, match=r"topic pattern 'onvif.Camera.\*': 'Camera'"):
        IncidentRuleConfig(name="cameras", topics=("onvif.Camera.*",))
