"""The SOP checklist and the police offer over HTTP, on the real incident engine, audit log and users:
``POST /api/incidents/{id}/sop`` ticks a step, and the offer's one click is the ordinary incident command."""

from __future__ import annotations

from typing import Any

import pytest_twisted
from twisted.internet import reactor
from twisted.internet.task import deferLater

from hub.api import AdapterType
from hub.config import IncidentRuleConfig, IncidentsConfig
from hub.events import Severity, Subject
from hub.testing import Note
from plugins.police_link.commands import SEND_TO_POLICE
from tests.hub.web.client import open_stream
from tests.hub.web.conftest import RADIO
from tests.hub.web.fakes import FakeStatus
from tests.hub.web.test_integration import Stack

POLICE = AdapterType(name="police_link", config_class=object, factory=lambda context: None,
                     commands=(SEND_TO_POLICE,))
RULES = IncidentsConfig(rules=(
    IncidentRuleConfig(name="pub emergencies", topics=("radio.emergency.*",),
                       sop=("Find the unit on camera", "Call the manager back"), police="offer"),
))


@pytest_twisted.async_yield_fixture
async def stack(tmp_path):
    built = await Stack().start(
        tmp_path, RULES,
        adapters=(FakeStatus("radio.town_centre", "radio"), FakeStatus("police_link.force", "police_link")),
        adapter_types={"radio": RADIO, "police_link": POLICE},
    )
    yield built
    await built.stop()


@pytest_twisted.ensureDeferred
async def test_the_incident_lists_its_sop_and_offers_and_an_operator_ticks_a_step(stack):
    """The list and the detail carry the checklist and the offer; ticking step 2 answers the incident with
    the step done by olive, streams incident.sop.checked and is audited with her address."""
    olive = await stack.client("olive")
    ws = await open_stream(stack.web.url, "?topics=incident.%23", cookie=olive.cookie)
    await ws.accepted
    incident_id = await opened(stack, ws)
    [listed] = (await olive.request("GET", "/api/incidents")).json["incidents"]
    assert [step["text"] for step in listed["sop"]] == ["Find the unit on camera", "Call the manager back"]
    assert (listed["offers"], listed["rules"]) == (["send_to_police"], ["pub emergencies"])
    ticked = await olive.request("POST", f"/api/incidents/{incident_id}/sop", {"step": 2, "done": True})
    assert ticked.status == 200, ticked
    step = ticked.json["incident"]["sop"][1]
    assert (step["done"], step["done_by"]) == (True, "olive")
    assert step["done_at"].endswith("Z")
    await ws.when(lambda c: any(e["topic"] == "incident.sop.checked" for e in c.events()))
    checked = next(e for e in ws.events() if e["topic"] == "incident.sop.checked")
    assert checked["payload"]["actor"] == "olive"
    assert checked["payload"]["detail"] == {"step": 2, "text": "Call the manager back", "done": True}
    [entry] = stack.audit.read(action="incident.sop")
    assert (entry.actor, entry.role, entry.address, entry.target) == ("olive", "operator", "127.0.0.1", incident_id)
    detail = (await olive.request("GET", f"/api/incidents/{incident_id}")).json
    assert detail["history"][-1]["action"] == "sop_checked"
    ws.close()


@pytest_twisted.ensureDeferred
async def test_bad_sop_bodies_are_refused_with_what_is_wrong_and_change_nothing(stack):
    """A missing or wrong-typed field, a step below 1 or an unknown field is 422 naming the field; a step the
    SOP lacks, or one already done, is 409 in the operator's words; an unknown incident is 404."""
    olive = await stack.client("olive")
    incident_id = await opened(stack)
    url = f"/api/incidents/{incident_id}/sop"
    for body, words in (
        ({"step": 1}, "done is required"),
        ({"done": True}, "step is required"),
        ({"step": "1", "done": True}, "step must be integer"),
        ({"step": 0, "done": True}, "step must be at least 1"),
        ({"step": 1, "done": "yes"}, "done must be boolean"),
        ({"step": 1, "done": True, "by": "sam"}, "by is not a known field"),
    ):
        reply = await olive.request("POST", url, body)
        assert reply.status == 422, (body, reply)
        assert words in reply.json["error"]["message"], (body, reply.json)
    missing = await olive.request("POST", url, {"step": 3, "done": True})
    assert missing.status == 409
    assert missing.json["error"]["message"] == f"{incident_id} has no step 3: its SOP has 2 steps (1 to 2)"
    assert (await olive.request("POST", url, {"step": 1, "done": True})).status == 200
    again = await olive.request("POST", url, {"step": 1, "done": True})
    assert again.status == 409
    assert "already done (by olive at " in again.json["error"]["message"]
    assert (await olive.request("POST", "/api/incidents/INC-999999/sop", {"step": 1, "done": True})).status == 404
    assert [e.detail["step"] for e in stack.audit.read(action="incident.sop")] == [1]


@pytest_twisted.ensureDeferred
async def test_an_auditor_may_read_the_checklist_but_not_tick_it(stack):
    """Ticking is an operator's action: an auditor is refused with 403."""
    incident_id = await opened(stack)
    aud = await stack.client("aud")
    assert (await aud.request("GET", f"/api/incidents/{incident_id}")).json["incident"]["sop"]
    refused = await aud.request("POST", f"/api/incidents/{incident_id}/sop", {"step": 1, "done": True})
    assert refused.status == 403


@pytest_twisted.ensureDeferred
async def test_the_police_offers_one_click_is_the_incident_command_to_the_police_adapter(stack):
    """What the console's "Send to police" posts publishes command.police_link.send_to_police to the
    police link instance, naming the incident and the operator."""
    olive = await stack.client("olive")
    incident_id = await opened(stack)
    sent = await olive.request("POST", f"/api/incidents/{incident_id}/commands",
                               {"adapter": "police_link.force", "verb": "send_to_police", "arguments": {}})
    assert sent.status == 202, sent
    [command] = stack.bus.replay(pattern="command.police_link.send_to_police")
    assert command.id == sent.json["command_id"]
    assert command.incident_id == incident_id
    assert (command.payload.adapter, command.payload.verb) == ("police_link.force", "send_to_police")
    assert (command.payload.requested_by, command.payload.arguments) == ("olive", {})


async def opened(stack: Stack, ws: Any = None) -> str:
    """Raise the emergency; wait for its incident (on the stream when one is given); return its id."""
    await stack.bus.publish(stack.events.for_source("radio.town_centre")(
        "radio.emergency.raised", Note("Emergency button"), severity=Severity.CRITICAL,
        subject=Subject(kind="radio_unit", id="2041"), summary="Emergency button at the Market Tavern"))
    if ws is not None:
        await ws.when(lambda c: any(e["topic"] == "incident.opened" for e in c.events()))
    else:
        for _ in range(200):
            if stack.engine.list():
                break
            await deferLater(reactor, 0.01, lambda: None)
    [incident] = stack.engine.list()
    return incident.id
