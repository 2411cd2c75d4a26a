"""``hub rules test --config FILE EVENT.json``: what the rules would do with one event, without doing it.

It reads the config as ``hub run`` would (without its secrets: nothing is connected), reads the event (as
the API, the journal and ``hub events`` print it; what a person writing one by hand leaves out is filled in
and said), and prints each maintenance window and rule tried with why it did or did not match, then what
would happen: an incident opened or joined, its category, priority and SOP, the cameras that would turn to
a preset (from the assets each adapter instance's config declares), police, a broadcast, the escalation.
``--json`` prints the same as one JSON object. Exit 0; a bad config or event file is exit 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from hub.api import AdapterType
from hub.commands import CommandRefused, check_arguments
from hub.config import HubConfig, only_when_holds
from hub.directory import Directory
from hub.events import (
    Event,
    EventCodec,
    EventDecodeError,
    EventTypeRegistry,
    GenericPayload,
    Location,
    Severity,
    Subject,
)
from hub.ids import encode_id, is_event_id
from hub.incidents.nearest import nearest_cameras
from hub.incidents.rules import Decision, Explanation, IncidentRules, InvalidRule, RuleAction

#: The keys an event file may have: the JSON form of an event (docs/events.md).
EVENT_KEYS = ("schema", "id", "seq", "topic", "type", "source", "occurred_at", "received_at", "severity",
              "subject", "location", "summary", "incident_id", "causation_id", "payload")
_LOCATION_KEYS = ("name", "camera", "latitude", "longitude", "uprn")
_SUBJECT_KEYS = ("kind", "id", "name")

NOTHING_DONE = "Nothing was done: this only shows what the rules would do with the event."


class EventFileError(ValueError):
    """An event file that cannot be used; the message names the file and the field at fault."""


# --- The event file ---------------------------------------------------------------------------------------


def _found(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{json.dumps(value)} (true/false)"
    if isinstance(value, (int, float)):
        return f"{value!r} (a number)"
    if isinstance(value, str):
        text = value if len(value) <= 60 else value[:57] + "..."
        return f"{json.dumps(text, ensure_ascii=False)} (a string)"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def read_event(text: str, *, file: str, registry: EventTypeRegistry, timezone_name: str) -> tuple[Event, list[str]]:
    """The event a file holds, and what was filled in for it (each as a sentence). ``EventFileError``
    names the field at fault. ``timezone_name`` is the room's: a time written without an offset is read
    in it."""

    def refuse(field: str, found: str, expected: str) -> EventFileError:
        where = f"{file}: {field}" if field else file
        return EventFileError(f"{where}: found {found}, expected {expected}")

    stripped = text.strip()
    if not stripped:
        raise refuse("", "an empty file", "one event as a JSON object (docs/rules.md, \"hub rules test\")")
    try:
        data = json.loads(stripped)
    except ValueError as error:
        lines = [line for line in stripped.splitlines() if line.strip()]
        if len(lines) > 1 and all(line.lstrip().startswith("{") for line in lines):
            raise refuse("", f"{len(lines)} lines of JSON", "one event (pick one line of `hub events`)") from None
        raise refuse("", f"text that is not JSON ({error})", "one event as a JSON object") from None
    if not isinstance(data, dict):
        raise refuse("", _found(data), "one event as a JSON object")
    unknown = sorted(set(data) - set(EVENT_KEYS))
    if unknown:
        raise refuse(unknown[0], "an unknown key", f"one of: {', '.join(EVENT_KEYS)}")
    notes: list[str] = []
    zone = ZoneInfo(timezone_name)

    def text_field(name: str, example: str, required: bool = True) -> str | None:
        value = data.get(name)
        if value is None:
            if required:
                raise refuse(name, "nothing" if name not in data else "null", f"text, e.g. {example}")
            return None
        if not isinstance(value, str) or not value.strip():
            raise refuse(name, _found(value), f"text, e.g. {example}")
        return value

    def when(name: str) -> datetime:
        value = data[name]
        example = '"2026-11-21T23:14:00Z" or "2026-11-21T23:14:00+00:00"'
        if not isinstance(value, str):
            raise refuse(name, _found(value), f"a date and time, e.g. {example}")
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise refuse(name, _found(value), f"a date and time, e.g. {example}") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
            notes.append(f"{name}: no offset given; read as {timezone_name} time "
                         f"({moment:%Y-%m-%d %H:%M:%S %Z})")
        return moment.astimezone(timezone.utc)

    topic = text_field("topic", '"shopwatch.emergency.raised"')
    source = text_field("source", '"shopwatch.pubwatch" (the adapter type and instance name)')
    severity_text = text_field("severity", '"critical"')
    try:
        severity = Severity.parse(severity_text or "")
    except ValueError:
        raise refuse("severity", _found(severity_text), "one of info, low, medium, high, critical") from None
    if data.get("occurred_at") is None:
        raise refuse("occurred_at", "nothing", 'when it happened, e.g. "2026-11-21T23:14:00Z": times of day and '
                     "maintenance windows are read from it")
    occurred_at = when("occurred_at")
    if data.get("received_at") is None:
        received_at = occurred_at
        notes.append("received_at: not given; taken as occurred_at")
    else:
        received_at = when("received_at")

    subject = data.get("subject")
    subject_example = '{"kind": "radio_unit", "id": "shopwatch.pubwatch.100-1001", "name": "The Crown"}'
    if not isinstance(subject, dict):
        raise refuse("subject", _found(subject) if "subject" in data else "nothing",
                      f"what the event is about, e.g. {subject_example}")
    for key in subject:
        if key not in _SUBJECT_KEYS:
            raise refuse(f"subject.{key}", "an unknown key", f"one of: {', '.join(_SUBJECT_KEYS)}")
    for key in ("kind", "id"):
        value = subject.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and key == "id":
            subject = {**subject, "id": str(value)}
            notes.append(f"subject.id: given as a number; read as the text {str(value)!r}")
        elif not isinstance(value, str) or not value.strip():
            raise refuse(f"subject.{key}", _found(value) if key in subject else "nothing",
                         f"text, e.g. {subject_example}")
    if subject.get("name") is not None and not isinstance(subject["name"], str):
        raise refuse("subject.name", _found(subject["name"]), "text, or leave it out")

    location = data.get("location")
    if location is not None:
        if not isinstance(location, dict):
            raise refuse("location", _found(location), 'an object, e.g. {"name": "3 Market Place", "camera": "17"}')
        for key in location:
            if key not in _LOCATION_KEYS:
                raise refuse(f"location.{key}", "an unknown key", f"one of: {', '.join(_LOCATION_KEYS)}")
        for key in ("camera", "uprn"):
            value = location.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                location = {**location, key: str(value)}
                notes.append(f"location.{key}: given as a number; read as the text {str(value)!r}")
        for key in ("name", "camera", "uprn"):
            if location.get(key) is not None and not isinstance(location[key], str):
                raise refuse(f"location.{key}", _found(location[key]), "text, or leave it out")
        for key, limit in (("latitude", 90), ("longitude", 180)):
            value = location.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not -limit <= value <= limit):
                raise refuse(f"location.{key}", _found(value), f"degrees from -{limit} to {limit} (WGS84)")

    summary = data.get("summary")
    if summary is None:
        summary = topic
        notes.append("summary: not given; the topic is used")
    elif not isinstance(summary, str):
        raise refuse("summary", _found(summary), "text")
    payload = data.get("payload")
    if payload is None:
        payload = {}
        notes.append("payload: not given; an empty one is used")
    elif not isinstance(payload, dict):
        raise refuse("payload", _found(payload), "an object (the adapter's own fields)")
    type_name = data.get("type")
    if type_name is None:
        if topic in registry:
            type_name = topic
            notes.append(f"type: not given; {topic} (the payload type named like the topic)")
        else:
            type_name = topic
            notes.append("type: not given, and no payload type is named like the topic; the payload is read "
                         "as it is")
    elif not isinstance(type_name, str):
        raise refuse("type", _found(type_name), "the payload's type name, e.g. \"shopwatch.emergency.raised\"")
    for name in ("incident_id", "causation_id"):
        if data.get(name) is not None and not isinstance(data[name], str):
            raise refuse(name, _found(data[name]), "text, or leave it out")
    event_id = data.get("id")
    if event_id is None:
        event_id = encode_id(int(occurred_at.timestamp() * 1000), 0)
        notes.append("id: not given; a made-up one is used (it changes nothing the rules do)")
    elif not is_event_id(event_id):
        notes.append(f"id: {_found(event_id)} is not an event id; a made-up one is used (it changes nothing "
                     "the rules do)")
        event_id = encode_id(int(occurred_at.timestamp() * 1000), 0)
    seq = data.get("seq")
    if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int)):
        raise refuse("seq", _found(seq), "a whole number, or leave it out")

    whole = {
        "id": event_id, "topic": topic, "type": type_name, "source": source,
        "occurred_at": occurred_at.isoformat(), "received_at": received_at.isoformat(),
        "severity": severity.label, "subject": subject, "location": location, "summary": summary,
        "incident_id": data.get("incident_id"), "causation_id": data.get("causation_id"), "payload": payload,
        "seq": seq,
    }
    try:
        event = EventCodec(registry).from_dict(whole)
    except EventDecodeError as error:
        message = str(error)
        for field in ("topic", "source"):
            if f"{field} " in message:
                raise refuse(field, _found(whole[field]), "dotted lower-case words, e.g. "
                             + ('"shopwatch.emergency.raised"' if field == "topic" else '"shopwatch.pubwatch"')) from None
        raise refuse("", f"an event that cannot be read ({message})", "an event as docs/events.md describes")
    if isinstance(event.payload, GenericPayload) and registry.get(type_name) is not None and "payload" in data:
        notes.append(f"payload: does not fit the type {type_name}; read as it is")
    return event, notes


# --- What the rules would do ------------------------------------------------------------------------------


def _as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _runs(instance: Any, root: bool) -> bool:
    """Whether the hub would run this adapter instance: enabled, and its ``only_when`` holds."""
    return instance.enabled and only_when_holds(getattr(instance, "only_when", None), root=root)


def declared_directory(config: HubConfig, adapter_types: Mapping[str, AdapterType], *,
                       root: bool | None = None) -> tuple[Directory, list[str]]:
    """A directory filled from what each adapter instance the hub would run declares in its config
    (``AdapterType.assets``), as the running adapters fill theirs, and a sentence for each instance whose
    assets could not be read. ``root``: whether the hub would run as root (this process's, by default)."""
    root = _as_root() if root is None else root
    directory = Directory()
    problems: list[str] = []
    for instance in config.adapters:
        adapter_type = adapter_types.get(instance.type)
        if not _runs(instance, root) or adapter_type is None or adapter_type.assets is None:
            continue
        try:
            for asset in adapter_type.assets(instance.settings, instance.source):
                directory.put(asset)
        except Exception as error:  # noqa: BLE001 - one plugin's mistake must not hide the rest
            problems.append(f"the assets of adapter {instance.name} could not be read "
                            f"({type(error).__name__}: {error}); cameras it knows are left out")
    return directory, problems


def _instances(config: HubConfig, type_name: str | None = None) -> list[Any]:
    root = _as_root()
    return [a for a in config.adapters if _runs(a, root) and (type_name is None or a.type == type_name)]


def _instance(config: HubConfig, name: str) -> Any:
    """The adapter instance called ``name`` (its table's name, or its source ``type.name``), or None."""
    for adapter in config.adapters:
        if adapter.name == name or adapter.source == name:
            return adapter
    return None


def _spec(adapter_types: Mapping[str, AdapterType], type_name: str, verb: str) -> Any:
    adapter_type = adapter_types.get(type_name)
    if adapter_type is None:
        return None
    return next((spec for spec in adapter_type.commands if spec.verb == verb), None)


def _escalation(config: HubConfig, decision: Decision, severity: Severity) -> dict[str, Any]:
    escalation = config.incidents.escalation
    repeat = escalation.repeat_s
    if decision.actions is not None and decision.actions.escalate_after_s is not None:
        after, source = decision.actions.escalate_after_s, "rule"
    else:
        after, source = float(getattr(escalation, severity.label)), "severity"
    return {"after_s": after, "from": source, "severity": severity.label, "repeat_s": repeat}


def _cameras(config: HubConfig, adapter_types: Mapping[str, AdapterType], event: Event, directory: Directory,
             move: Any) -> dict[str, Any]:
    result: dict[str, Any] = {"preset": move.preset, "count": move.count, "within_m": move.within_m,
                              "adapter": move.adapter, "cameras": [], "skipped": None}
    only = None
    if move.adapter is not None:
        instance = _instance(config, move.adapter)
        if instance is None:
            result["skipped"] = f"no adapter instance is called {move.adapter}"
            return result
        only = instance.source
    chosen = nearest_cameras(event, directory, count=move.count, within_m=move.within_m, adapter=only)
    for near in chosen:
        asset = directory.get("camera", near.camera)
        entry = {"camera": near.camera, "name": asset.name if asset is not None else None, "adapter": near.adapter,
                 "why": near.why, "metres": near.metres, "skipped": None}
        if near.adapter is None:
            entry["skipped"] = "no configured adapter knows this camera"
        else:
            instance = _instance(config, near.adapter)
            spec = _spec(adapter_types, instance.type, "goto_preset") if instance is not None else None
            if spec is None:
                entry["skipped"] = f"adapter {near.adapter} has no goto_preset command"
            else:
                try:
                    check_arguments(spec, {"camera": near.camera, "preset": move.preset})
                except CommandRefused as error:
                    entry["skipped"] = str(error)
        result["cameras"].append(entry)
    if not chosen:
        result["skipped"] = ("no camera found: the event names none, its member or node has none, and no "
                             f"camera is within {move.within_m:g} m of it")
    return result


def _police(config: HubConfig, actions: Any) -> dict[str, Any]:
    result: dict[str, Any] = {"mode": actions.police, "adapters": [], "skipped": None}
    if actions.police_adapter is not None:
        instance = _instance(config, actions.police_adapter)
        if instance is None or instance.type != "police_link":
            result["skipped"] = f"no police_link adapter instance is called {actions.police_adapter}"
        elif not instance.enabled:
            result["skipped"] = f"adapter {instance.name} is disabled"
        else:
            result["adapters"] = [instance.source]
    else:
        result["adapters"] = [instance.source for instance in _instances(config, "police_link")]
        if not result["adapters"]:
            result["skipped"] = "no police_link adapter is configured"
    return result


def _broadcast(config: HubConfig, adapter_types: Mapping[str, AdapterType], broadcast: Any) -> dict[str, Any]:
    result: dict[str, Any] = {"adapter": broadcast.adapter, "adapter_type": None, "text": broadcast.text,
                              "skipped": None}
    instance = _instance(config, broadcast.adapter)
    if instance is None:
        result["skipped"] = f"no adapter instance is called {broadcast.adapter}"
        return result
    result["adapter"], result["adapter_type"] = instance.source, instance.type
    spec = _spec(adapter_types, instance.type, "broadcast")
    if not instance.enabled:
        result["skipped"] = f"adapter {instance.name} is disabled"
    elif spec is None:
        result["skipped"] = f"adapter {instance.name} ({instance.type}) has no broadcast command"
    else:
        try:
            check_arguments(spec, {"text": broadcast.text})
        except CommandRefused as error:
            result["skipped"] = str(error)
    return result


def _checks(tried: Any) -> list[dict[str, Any]]:
    return [{"criterion": c.criterion, "matched": c.matched, "detail": c.detail} for c in tried.checks]


def _event_json(event: Event, explanation: Explanation) -> dict[str, Any]:
    place = event.location
    return {
        "topic": event.topic, "source": event.source, "severity": event.severity.label, "summary": event.summary,
        "subject": {"kind": event.subject.kind, "id": event.subject.id, "name": event.subject.name},
        "location": None if place is None else {"name": place.name, "camera": place.camera,
                                                "latitude": place.latitude, "longitude": place.longitude,
                                                "uprn": place.uprn},
        "occurred_at": event.occurred_at.isoformat().replace("+00:00", "Z"),
        "local_time": explanation.local_time.isoformat(),
        "timezone": explanation.timezone,
        "zone": explanation.local_time.tzname(),
        "incident_id": event.incident_id,
    }


def rules_report(config: HubConfig, adapter_types: Mapping[str, AdapterType], event: Event,
                 notes: list[str] | None = None) -> dict[str, Any]:
    """What the rules of ``config`` would do with ``event``, as a JSON-ready dict (``--json`` prints it;
    the text output is made from it). ``InvalidRule`` for rules that cannot work."""
    rules = IncidentRules(config.incidents, timezone=config.hub.timezone)
    explanation = rules.explain(event)
    decision = explanation.decision
    directory, problems = declared_directory(config, adapter_types)
    reasons = {window.name: window.reason for window in config.incidents.maintenance}
    report: dict[str, Any] = {
        "event": _event_json(event, explanation),
        "filled_in": list(notes or ()),
        "guard": explanation.guard,
        "maintenance": [{"name": t.name, "reason": reasons.get(t.name), "matched": t.matched,
                         "checks": _checks(t)} for t in explanation.maintenance],
        "rules": [{"name": t.name, "matched": t.matched, "checks": _checks(t)} for t in explanation.rules],
        "rules_not_tried": explanation.untried,
        "problems": problems,
    }
    outcome: dict[str, Any] = {
        "action": decision.action.value, "rule": decision.rule, "suppressed_by": decision.suppressed_by,
        "incident_id": event.incident_id,
    }
    if decision.suppressed_by is not None:
        outcome["reason"] = reasons.get(decision.suppressed_by)
    if decision.action is not RuleAction.IGNORE:
        outcome.update(category=decision.category, priority=decision.priority, join_on=list(decision.join_on),
                       join_window_s=decision.window)
        actions = decision.actions
        outcome["sop"] = list(actions.sop) if actions is not None else []
        outcome["move_cameras"] = (_cameras(config, adapter_types, event, directory, actions.move_cameras)
                                   if actions is not None and actions.move_cameras is not None else None)
        outcome["police"] = _police(config, actions) if actions is not None and actions.police else None
        outcome["broadcast"] = (_broadcast(config, adapter_types, actions.broadcast)
                                if actions is not None and actions.broadcast is not None else None)
        outcome["escalation"] = _escalation(config, decision, event.severity)
    report["outcome"] = outcome
    report["note"] = NOTHING_DONE
    return report


# --- Text for people --------------------------------------------------------------------------------------


def _seconds(value: float) -> str:
    value = float(value)
    if value >= 3600 and value % 3600 == 0:
        return f"{value / 3600:g} h"
    if value >= 60 and value % 60 == 0:
        return f"{value / 60:g} min"
    return f"{value:g} s"


def _tried_lines(entries: list[dict[str, Any]], numbered: bool) -> list[str]:
    lines = []
    for index, entry in enumerate(entries, 1):
        label = f"{index}. " if numbered else "- "
        if entry["matched"]:
            verdict = "MATCHES" if numbered else "COVERS THE EVENT"
        else:
            verdict = "does not match" if numbered else "does not cover it"
        lines.append(f"  {label}{entry['name']!r} {verdict}")
        if entry.get("reason"):
            lines.append(f"            {'reason':<12} {entry['reason']}")
        for check in entry["checks"]:
            mark = "yes" if check["matched"] else "NO "
            lines.append(f"       {mark}  {check['criterion']:<12} {check['detail']}")
        if not entry["checks"]:
            lines.append("       yes  (no criteria: matches every event)")
    return lines


def render(report: dict[str, Any]) -> str:
    """The report as text for a scheme manager."""
    event, outcome = report["event"], report["outcome"]
    subject = event["subject"]
    about = f"{subject['kind']} {subject['id']}" + (f" ({subject['name']})" if subject["name"] else "")
    place = event["location"]
    where = ""
    if place is not None:
        parts = [part for part in (place["name"], f"camera {place['camera']}" if place["camera"] else None,
                                   f"UPRN {place['uprn']}" if place["uprn"] else None) if part]
        if place["latitude"] is not None and place["longitude"] is not None:
            parts.append(f"{place['latitude']:.5f}, {place['longitude']:.5f}")
        where = f" at {', '.join(parts)}" if parts else ""
    local = datetime.fromisoformat(event["local_time"])
    lines = [
        f"Event      {event['topic']} ({event['severity']}) from {event['source']}",
        f"           {event['summary']}",
        f"           about {about}{where}",
        f"           happened {local:%a %d %b %Y %H:%M:%S} {event['zone']} ({event['timezone']})",
    ]
    if event["incident_id"]:
        lines.append(f"           names incident {event['incident_id']}")
    if report["filled_in"]:
        lines.append("Filled in  " + report["filled_in"][0])
        lines.extend(f"           {note}" for note in report["filled_in"][1:])
    for problem in report["problems"]:
        lines.append(f"Warning    {problem}")
    lines.append("")
    if report["guard"]:
        lines += ["Rules", f"  none apply: {report['guard']}", ""]
    else:
        if report["maintenance"]:
            lines += ["Maintenance windows", *_tried_lines(report["maintenance"], numbered=False), ""]
        else:
            lines += ["Maintenance windows: none configured", ""]
        if report["rules"]:
            heading = ("Rules, in order (what would decide it outside the maintenance window)"
                       if outcome["suppressed_by"] else "Rules, in order (the first that matches decides)")
            lines += [heading, *_tried_lines(report["rules"], True)]
            if report["rules_not_tried"]:
                lines.append(f"  ({report['rules_not_tried']} later rule(s) not tried)")
        else:
            lines.append("Rules: none configured")
        lines.append("")
    lines += _outcome_lines(outcome)
    lines += ["", report["note"]]
    return "\n".join(lines) + "\n"


_WHY = {"named": "named by the event", "member": "the member's camera", "node": "behind the fibre node",
        "distance": "near the event"}


def _outcome_lines(outcome: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    named = outcome["incident_id"]
    if named:
        lines.append(f"The event names incident {named}: while that incident is open the event joins it, "
                     "whatever the rules say. If it is closed:")
    if outcome["suppressed_by"]:
        lines.append(f"Outcome    LEFT ALONE: maintenance window {outcome['suppressed_by']!r} covers it"
                     + (f" ({outcome['reason']})." if outcome.get("reason") else "."))
        lines.append("           No incident, no actions; the event is still kept in the journal.")
        return lines
    action = outcome["action"]
    if action == "ignore":
        why = (f"rule {outcome['rule']!r} says ignore" if outcome["rule"]
               else "no rule matches")
        lines.append(f"Outcome    IGNORED: {why}.")
        lines.append("           No incident, no actions; the event is still kept in the journal.")
        return lines
    join = " and ".join(outcome["join_on"]) or "nothing"
    window = _seconds(outcome["join_window_s"])
    if action == "open":
        lines.append(f"Outcome    OPENS AN INCIDENT by rule {outcome['rule']!r} (or joins an open one with the "
                     f"same {join}, seen in the last {window})")
    else:
        lines.append(f"Outcome    JOINS an open incident with the same {join} seen in the last {window}, "
                     f"by rule {outcome['rule']!r}; if there is none, nothing happens")
    details = []
    if outcome["category"] is not None:
        details.append(f"category {outcome['category']}")
    if outcome["priority"] is not None:
        details.append(f"priority {outcome['priority']}")
    if details:
        lines.append(f"           {', '.join(details)}")
    if outcome["sop"]:
        lines.append("SOP        the operator's checklist on the incident:")
        lines.extend(f"           {index}. {step}" for index, step in enumerate(outcome["sop"], 1))
    move = outcome["move_cameras"]
    if move is not None:
        head = f"Cameras    turn to preset {move['preset']!r}"
        if move["skipped"] and not move["cameras"]:
            lines.append(f"{head}: none would move: {move['skipped']}")
        else:
            lines.append(f"{head} (nearest {move['count']}, within {move['within_m']:g} m):")
            for camera in move["cameras"]:
                why = _WHY.get(camera["why"], camera["why"])
                if camera["why"] == "distance" and camera["metres"] is not None:
                    why = f"{camera['metres']:g} m away"
                line = f"           camera {camera['camera']}" + (f" {camera['name']}" if camera["name"] else "")
                line += f" ({why})" + (f" through {camera['adapter']}" if camera["adapter"] else "")
                lines.append(line + (f"; WOULD BE SKIPPED: {camera['skipped']}" if camera["skipped"] else ""))
    police = outcome["police"]
    if police is not None:
        through = ", ".join(police["adapters"])
        if police["skipped"]:
            lines.append(f"Police     {police['mode']}: WOULD BE SKIPPED: {police['skipped']}")
        elif police["mode"] == "auto":
            lines.append(f"Police     sent to the police at once, through {through}")
        else:
            lines.append(f"Police     offered: the operator gets a one-click \"Send to police\" ({through})")
    broadcast = outcome["broadcast"]
    if broadcast is not None:
        skipped = f"; WOULD BE SKIPPED: {broadcast['skipped']}" if broadcast["skipped"] else ""
        lines.append(f"Broadcast  to every unit of {broadcast['adapter']}: {broadcast['text']!r}{skipped}")
    escalation = outcome["escalation"]
    if escalation["after_s"] == 0:
        why = "the rule's escalate_after_s is 0" if escalation["from"] == "rule" else \
            f"[incidents.escalation] {escalation['severity']} is 0"
        lines.append(f"Escalation never ({why})")
    else:
        why = "the rule's escalate_after_s" if escalation["from"] == "rule" else \
            f"[incidents.escalation] for {escalation['severity']}"
        lines.append(f"Escalation to a supervisor if not acknowledged within {_seconds(escalation['after_s'])} "
                     f"({why}), again every {_seconds(escalation['repeat_s'])}")
    return lines


# --- The command ------------------------------------------------------------------------------------------


def cmd_rules_test(args: argparse.Namespace) -> int:
    from hub.cli import EXIT_OK, CliError, load

    config, host = load(args.config, read_secrets=False)
    registry = EventTypeRegistry()
    for payload_class in host.event_types():
        try:
            registry.register(payload_class)
        except (TypeError, ValueError):
            pass  # the hub logs a refused type when it runs; here the payload is then read as it is
    name = "standard input" if args.event == "-" else args.event
    try:
        text = sys.stdin.read() if args.event == "-" else Path(args.event).read_text(encoding="utf-8-sig")
    except OSError as error:
        raise CliError(f"{name}: cannot read the event file ({error.strerror or type(error).__name__})") from None
    except UnicodeDecodeError as error:
        raise CliError(f"{name}: not UTF-8 text (at byte {error.start})") from None
    try:
        event, notes = read_event(text, file=name, registry=registry, timezone_name=config.hub.timezone)
        report = rules_report(config, host.adapter_types(), event, notes)
    except (EventFileError, InvalidRule) as error:
        raise CliError(str(error)) from None
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(render(report))
    return EXIT_OK


def add_rules_command(commands: Any) -> None:
    """Add ``hub rules test`` to the ``hub`` parser's sub-commands."""
    rules = commands.add_parser("rules", help="try the incident rules on an event, without doing anything")
    actions = rules.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    test = actions.add_parser(
        "test", help="show what the rules would do with an event (nothing is done)",
        description=("Show which maintenance window or rule would decide the event, why the others did not, "
                     "and what would happen: an incident, its SOP, cameras moved, police, broadcast, "
                     "escalation. Nothing is done. Exit 0; 2 for a bad config or event file."),
    )
    test.add_argument("--config", required=True, help="TOML configuration file")
    test.add_argument("event", metavar="EVENT.json",
                      help="an event as the API and `hub events` print it ('-' reads standard input)")
    test.add_argument("--json", action="store_true", help="print the same as one JSON object")
    test.set_defaults(handler=cmd_rules_test)
