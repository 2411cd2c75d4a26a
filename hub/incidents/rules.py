"""Which events open an incident, which may only join an open one, and which are left alone.

The configured ``[[incidents.rules]]`` are tried in order and the first that matches an event's topic
and severity decides. Some topics can never open an incident whatever the rules say: the engine's own
``incident.*`` events (or it would feed on itself), commands (``command.*``), the hub's own
``hub.*`` events, and command outcomes (``<adapter type>.command.<outcome>``), which only ever attach
to the incident they name.
"""

from __future__ import annotations

import enum

from attrs import frozen

from hub.config import BroadcastConfig, IncidentRuleConfig, IncidentsConfig, MoveCamerasConfig
from hub.events import Event, Severity
from hub.topics import TopicMatcher, TopicPatternError, parse_pattern

#: Topics no rule may open an incident from (AMQP patterns, as subscribers use).
PROTECTED_TOPICS: tuple[str, ...] = ("incident.#", "command.#", "hub.#", "*.command.*")


class RuleAction(enum.Enum):
    OPEN = "open"
    JOIN = "join"
    IGNORE = "ignore"


@frozen
class RuleActions:
    """What a rule does besides opening or joining, once per incident (docs/incidents.md)."""

    rule: str
    sop: tuple[str, ...] = ()
    move_cameras: MoveCamerasConfig | None = None
    police: str | None = None
    police_adapter: str | None = None
    broadcast: BroadcastConfig | None = None
    escalate_after_s: float | None = None


@frozen
class Decision:
    """What a rule says about one event. ``rule`` is None when no rule matched (or a guard decided).

    ``actions`` are the matching rule's actions (None when it has none); ``suppressed_by`` names the
    maintenance window that silenced the event (its action is then ignore).
    """

    action: RuleAction
    rule: str | None = None
    category: str | None = None
    priority: int | None = None
    join_on: tuple[str, ...] = ()
    window: float = 0.0
    actions: RuleActions | None = None
    suppressed_by: str | None = None


def _actions(rule: IncidentRuleConfig) -> RuleActions | None:
    if rule.action == "ignore":
        return None
    actions = RuleActions(
        rule=rule.name,
        sop=tuple(rule.sop),
        move_cameras=rule.move_cameras,
        police=rule.police,
        police_adapter=rule.police_adapter,
        broadcast=rule.broadcast,
        escalate_after_s=rule.escalate_after_s,
    )
    return actions if actions != RuleActions(rule=rule.name) else None


IGNORE = Decision(RuleAction.IGNORE)


class InvalidRule(ValueError):
    """A rule whose configuration cannot work (a bad topic pattern); the message names the rule."""


@frozen
class _Rule:
    config: IncidentRuleConfig
    matchers: tuple[TopicMatcher, ...]
    min_severity: Severity
    decision: Decision


def _compile(rule: IncidentRuleConfig) -> _Rule:
    for pattern in rule.topics:
        try:
            parse_pattern(pattern)
        except TopicPatternError as error:
            raise InvalidRule(f"incident rule {rule.name!r}: {error}") from None
    unknown = sorted(set(rule.join_on) - {"subject", "location"})
    if unknown:
        raise InvalidRule(f"incident rule {rule.name!r}: join_on may hold subject and location, not {unknown}")
    return _Rule(
        config=rule,
        matchers=tuple(TopicMatcher(pattern) for pattern in rule.topics),
        min_severity=Severity.parse(rule.min_severity),
        decision=Decision(
            action=RuleAction(rule.action),
            rule=rule.name,
            category=rule.category,
            priority=rule.priority,
            join_on=tuple(rule.join_on),
            window=float(rule.join_window_s),
            actions=_actions(rule),
        ),
    )


class IncidentRules:
    """The configured rules, compiled once. ``InvalidRule`` is raised here, at start-up, not per event."""

    def __init__(self, config: IncidentsConfig, timezone: str = "Europe/London") -> None:
        self.timezone = timezone
        self._rules = tuple(_compile(rule) for rule in config.rules)
        self._protected = tuple(TopicMatcher(pattern) for pattern in PROTECTED_TOPICS)

    def is_protected(self, topic: str) -> bool:
        """Whether ``topic`` may never open (or, by subject and location, join) an incident."""
        return any(matches(topic) for matches in self._protected)

    def decide(self, event: Event) -> Decision:
        """The first matching rule's decision for ``event``, or ignore."""
        if self.is_protected(event.topic):
            return IGNORE
        for rule in self._rules:
            if event.severity >= rule.min_severity and any(m(event.topic) for m in rule.matchers):
                return rule.decision
        return IGNORE
