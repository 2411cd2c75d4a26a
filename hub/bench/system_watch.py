"""What ``hub bench system``'s console client saw the room do: incidents opened, and what the rules asked for.

``RoomWatch`` reads the events of the console's stream (as JSON, as the console gets them) while
``counting`` is on: every ``incident.opened`` (by the rule that opened it, and its category), each opening or
join on which a rule's actions ran (``"actions"`` in the detail), escalations, each command a rule asked for
(``requested_by = "rule:<name>"``: a camera turned to a preset, a broadcast, a send to police) and
``rule.action.skipped``. A command's outcome (``<adapter type>.command.<outcome>``, its ``command_id`` the
command's event id) is taken whenever it comes, also after ``counting`` stops: a radio's delivery report or
the force's answer may take seconds.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

RULE_PREFIX = "rule:"
#: A command with no outcome by the end of the run.
NO_OUTCOME = "no outcome yet"


class RoomWatch:
    """Tallies incidents and rule actions from the console's events (``seen(event)`` for each, in order)."""

    def __init__(self) -> None:
        self.counting = False
        self.opened_by_rule: Counter[str] = Counter()
        self.opened_by_category: Counter[str] = Counter()
        self.rules_acted: Counter[str] = Counter()
        self.escalated = 0
        self.joined = 0
        self.skipped: list[dict[str, Any]] = []
        #: Rule commands by their event id: rule, verb, adapter, and the outcome once it came.
        self.commands: dict[str, dict[str, Any]] = {}

    def seen(self, event: dict[str, Any]) -> None:
        topic = str(event.get("topic", ""))
        payload = event.get("payload") or {}
        if ".command." in topic and not topic.startswith("command."):
            command = self.commands.get(str(payload.get("command_id")))
            if command is not None and command["outcome"] == NO_OUTCOME:
                command["outcome"] = str(payload.get("outcome") or topic.rsplit(".", 1)[-1])
                if payload.get("detail"):
                    command["detail"] = str(payload["detail"])
            return
        if not self.counting:
            return
        if topic.startswith("command.") and str(payload.get("requested_by", "")).startswith(RULE_PREFIX):
            self.commands[str(event.get("id"))] = {
                "rule": str(payload["requested_by"])[len(RULE_PREFIX):],
                "verb": str(payload.get("verb")),
                "adapter": str(payload.get("adapter")),
                "incident_id": event.get("incident_id"),
                "outcome": NO_OUTCOME,
            }
        elif topic in ("incident.opened", "incident.event.joined"):
            detail = payload.get("detail") or {}
            if topic == "incident.opened":
                self.opened_by_rule[str(detail.get("rule") or "(no rule named)")] += 1
                category = (payload.get("incident") or {}).get("category")
                self.opened_by_category[str(category or "(none)")] += 1
            else:
                self.joined += 1
            if detail.get("actions"):
                self.rules_acted[str(detail["actions"])] += 1
        elif topic == "incident.escalated":
            self.escalated += 1
        elif topic == "rule.action.skipped":
            self.skipped.append({"rule": payload.get("rule"), "action": payload.get("action"),
                                 "reason": payload.get("reason")})

    def incidents(self) -> dict[str, Any]:
        return {
            "opened": sum(self.opened_by_rule.values()),
            "opened_by_rule": dict(sorted(self.opened_by_rule.items())),
            "opened_by_category": dict(sorted(self.opened_by_category.items())),
            "events_joined": self.joined,
            "escalated": self.escalated,
        }

    def rule_actions(self) -> dict[str, Any]:
        """Per rule: how often its actions ran, and the commands it asked for, by verb, with their outcomes."""
        by_rule: dict[str, dict[str, Any]] = {}
        for rule, times in self.rules_acted.items():
            by_rule.setdefault(rule, {"acted": 0, "commands": {}})["acted"] = times
        for command in self.commands.values():
            entry = by_rule.setdefault(command["rule"], {"acted": 0, "commands": {}})
            verb = entry["commands"].setdefault(f'{command["adapter"]} {command["verb"]}',
                                                {"requested": 0, "outcomes": {}})
            verb["requested"] += 1
            verb["outcomes"][command["outcome"]] = verb["outcomes"].get(command["outcome"], 0) + 1
        outcomes = Counter(command["outcome"] for command in self.commands.values())
        return {
            "commands_requested": len(self.commands),
            "outcomes": dict(sorted(outcomes.items())),
            "by_rule": dict(sorted(by_rule.items())),
            "skipped": self.skipped,
        }
