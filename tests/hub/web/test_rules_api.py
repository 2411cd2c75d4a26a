"""``GET /api/rules`` over the real pieces (incident engine and store, users, audit log on one SQLite file): the
rules in force in order with the incidents each opened and acted on, counted from the incident store, and the
maintenance windows as the hub's clock (not the wall's) finds them; every logged-in role may read it."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest_twisted
from twisted.internet import reactor
from twisted.internet.task import Clock, deferLater

from hub.config import IncidentRuleConfig, IncidentsConfig, MaintenanceWindowConfig, MoveCamerasConfig
from hub.events import Severity, Subject
from hub.testing import Note
from tests.hub.web.client import WebClient
from tests.hub.web.test_integration import Stack

UTC = timezone.utc
ROLES = {"olive": "operator", "sam": "supervisor", "ada": "admin", "aud": "auditor"}
INCIDENTS = IncidentsConfig(
    rules=(
        IncidentRuleConfig(name="pub emergencies", topics=("radio.emergency.*",), min_severity="high",
                           category="pub emergency", priority=1, sop=("Find the unit on camera", "Call back"),
                           move_cameras=MoveCamerasConfig(preset="Pub doors"), escalate_after_s=60),
        IncidentRuleConfig(name="camera tamper", topics=("camera.tamper.*",), sop=("Book an engineer",)),
        IncidentRuleConfig(name="high events", min_severity="high"),
    ),
    maintenance=(
        # All day every day: whatever the wall clock says when the test runs, camera 43's events are left alone.
        MaintenanceWindowConfig(name="camera 43 works", daily="00:00-24:00", cameras=("43",), reason="WO-2291"),
        MaintenanceWindowConfig(name="node works", starts=datetime(2026, 11, 24, 9, 0, tzinfo=UTC),
                                ends=datetime(2026, 11, 24, 11, 0, tzinfo=UTC), subjects=("fibre_node:node-03",)),
    ),
)


class RulesStack(Stack):
    """One hub's worth of real pieces on one database file, its config holding the rules above."""

    async def start(self, tmp_path: Any) -> "RulesStack":  # type: ignore[override]
        await super().start(tmp_path, incidents=INCIDENTS, users=ROLES)
        return self

    async def publish(self, topic: str, subject: Subject, severity: Severity = Severity.HIGH) -> None:
        await self.bus.publish(self.events.for_source("radio.town_centre")(
            topic, Note(topic), severity=severity, subject=subject, summary=topic))

    async def settled(self, incidents: int) -> None:
        """Wait until the engine has opened ``incidents`` incidents (it handles events in order: everything
        published before the last one's cause is handled too)."""
        for _ in range(300):
            if len(self.engine.list()) >= incidents:
                return
            await deferLater(reactor, 0.01, lambda: None)
        raise AssertionError(f"{len(self.engine.list())} incidents, not {incidents}")


@pytest_twisted.async_yield_fixture
async def stack(tmp_path):
    built = await RulesStack().start(tmp_path)
    yield built
    await built.stop()


@pytest_twisted.ensureDeferred
async def test_the_rules_are_listed_in_order_with_what_they_match_and_do_and_the_incidents_they_opened(stack):
    """Two units' emergencies open two incidents (a repeat joins), a fibre alarm opens one by the last rule, a
    tamper on camera 43 under works opens none: the counts come from the incidents, not from the events."""
    for unit in ("2041", "2041", "2042"):
        await stack.publish("radio.emergency.raised", Subject(kind="radio_unit", id=unit), Severity.CRITICAL)
    await stack.publish("camera.tamper.started", Subject(kind="camera", id="43"))
    await stack.publish("fibre.node.down", Subject(kind="fibre_node", id="node-01"))
    await stack.settled(3)
    olive = await stack.client("olive")
    reply = await olive.request("GET", "/api/rules")
    assert reply.status == 200, reply
    rules = reply.json["rules"]
    assert [(r["position"], r["name"]) for r in rules] == [
        (1, "pub emergencies"), (2, "camera tamper"), (3, "high events")]
    first = rules[0]
    assert first["matches"]["topics"] == ["radio.emergency.*"] and first["matches"]["min_severity"] == "high"
    assert (first["does"]["action"], first["does"]["category"], first["does"]["priority"]) == ("open", "pub emergency", 1)
    assert first["does"]["sop"] == ["Find the unit on camera", "Call back"]
    assert first["does"]["move_cameras"]["preset"] == "Pub doors" and first["does"]["escalate_after_s"] == 60
    assert [r["incidents"] for r in rules] == [
        {"opened": 2, "acted_on": 2}, {"opened": 0, "acted_on": 0}, {"opened": 1, "acted_on": 0}]
    assert reply.json["timezone"] == "Europe/London"


@pytest_twisted.ensureDeferred
async def test_maintenance_windows_are_read_at_the_hubs_clock(stack):
    """With the hub's clock at 10:00 on the day of the node works they are active till 11:00; at noon, over;
    the daily works are active whatever the time, and each lists what it covers."""
    olive = await stack.client("olive")
    clock = Clock()
    clock.advance(datetime(2026, 11, 24, 10, 0, tzinfo=UTC).timestamp())
    stack.web.backend.clock = clock
    shown = (await olive.request("GET", "/api/rules")).json
    assert shown["now"] == "2026-11-24T10:00:00Z"
    daily, node = shown["maintenance"]
    assert (daily["name"], daily["active"], daily["reason"]) == ("camera 43 works", True, "WO-2291")
    assert daily["covers"]["cameras"] == ["43"] and daily["schedule"]["daily"] == "00:00-24:00"
    assert (node["name"], node["state"]) == ("node works", "active")
    assert node["current"] == {"starts_at": "2026-11-24T09:00:00Z", "ends_at": "2026-11-24T11:00:00Z"}
    assert node["covers"]["subjects"] == ["fibre_node:node-03"]
    clock.advance(2 * 3600)
    later = (await olive.request("GET", "/api/rules")).json
    assert (later["maintenance"][1]["state"], later["maintenance"][1]["current"]) == ("over", None)


@pytest_twisted.ensureDeferred
async def test_every_logged_in_role_may_read_the_rules_and_nobody_else(stack):
    """Operator, supervisor, admin and auditor get 200; no session gets 401; the OpenAPI document lists the route
    for all four roles."""
    for name in ROLES:
        client = await stack.client(name)
        assert (await client.request("GET", "/api/rules")).status == 200, name
    assert (await WebClient(stack.web.url).request("GET", "/api/rules")).status == 401
    document = (await (await stack.client("aud")).request("GET", "/api/openapi.json")).json
    operation = document["paths"]["/api/rules"]["get"]
    assert sorted(operation["x-roles"]) == sorted(ROLES.values())
    assert operation["tags"] == ["rules"]
