"""The API's routes as the console uses them: incidents, commands, events, status, assets, map, audit,
users, metrics, the console's files and plugin routes."""

from __future__ import annotations

import pytest_twisted
from twisted.web.resource import Resource

from hub.api import AdapterType, CommandArgument, CommandSpec, WebRoute
from hub.events import GenericPayload, Location, Subject
from tests.hub.web.conftest import METRICS_TOKEN, RADIO
from tests.hub.web.fakes import FakeAdapters, FakeIncident, FakeStatus


async def radio_event(web, topic="radio.emergency.raised", source="radio.town_centre"):
    event = web.bus.events.for_source(source)(
        topic, web.bus.note("Emergency button at the Market Tavern").payload,
        severity=40, subject=Subject(kind="radio_unit", id="2041"), summary="Emergency button",
        location=Location(name="Market Place", camera="42"))
    seq = await web.bus.publish(event)
    return event.with_seq(seq)


@pytest_twisted.ensureDeferred
async def test_incidents_list_filters_by_state_and_refuses_unknown_states(web):
    """?state= takes a comma-separated list of lifecycle states."""
    web.desk.add(FakeIncident("inc-1", "Fight", state="new"))
    web.desk.add(FakeIncident("inc-2", "Theft", state="closed"))
    olive = await web.logged_in("olive")
    reply = await olive.request("GET", "/api/incidents?state=new,acknowledged")
    assert [i["id"] for i in reply.json["incidents"]] == ["inc-1"]
    bad = await olive.request("GET", "/api/incidents?state=open")
    assert (bad.status, bad.error_code) == (400, "invalid")


@pytest_twisted.ensureDeferred
async def test_incident_detail_has_events_actions_offered_by_the_events_adapter_and_cameras(web):
    """Actions are the commands of the adapter that sent an event, whose applies_to matches it."""
    event = await radio_event(web)
    web.desk.add(FakeIncident("inc-1", "Emergency", cameras=("42",)), [event])
    olive = await web.logged_in("olive")
    detail = (await olive.request("GET", "/api/incidents/inc-1")).json
    assert detail["events"][0]["id"] == event.id and detail["events"][0]["seq"] == event.seq
    assert [(a["adapter"], a["verb"]) for a in detail["actions"]] == [("radio.town_centre", "broadcast")]
    assert detail["actions"][0]["arguments"][0]["max_length"] == 160
    assert [c["id"] for c in detail["cameras"]] == ["42"] and detail["cameras"][0]["name"] == "Market Place"
    missing = await olive.request("GET", "/api/incidents/nope")
    assert (missing.status, missing.error_code) == (404, "not_found")


async def radio_report(web, unit, payload, camera=None):
    event = web.bus.events.for_source("radio.town_centre")(
        "radio.report.received", GenericPayload("radio.report", payload), severity=30,
        subject=Subject(kind="radio_unit", id=unit), summary=f"Report from unit {unit}",
        location=Location(name="High Street", camera=camera) if camera else None)
    seq = await web.bus.publish(event)
    return event.with_seq(seq)


def arguments_of(action):
    return {argument["name"]: (argument["prefill"], argument["value"]) for argument in action["arguments"]}


@pytest_twisted.ensureDeferred
async def test_an_actions_fields_are_prefilled_from_the_newest_event_it_applies_to(web):
    """Each argument's value is read at its prefill path from the newest matching event; a missing path is null."""
    older = await radio_report(web, "2041", {"member": {"unit": "2041"}, "urgent": False}, camera="7")
    newer = await radio_report(web, "2042", {"urgent": True}, camera="42")
    emergency = await radio_event(web)  # newest of all, but reply does not apply to it
    web.desk.add(FakeIncident("inc-1", "Reports"), [older, newer, emergency])
    olive = await web.logged_in("olive")

    actions = (await olive.request("GET", "/api/incidents/inc-1")).json["actions"]

    assert [action["verb"] for action in actions] == ["broadcast", "reply"]
    broadcast, reply = actions
    assert arguments_of(reply) == {
        "unit": ("subject.id", "2042"),
        "camera": ("location.camera", "42"),
        "member": ("payload.member.unit", None),  # the newest report has no member
        "urgent": ("payload.urgent", "true"),
        "message": (None, None),
    }
    assert arguments_of(broadcast) == {"message": (None, None)}


@pytest_twisted.ensureDeferred
async def test_prefill_reads_nested_payload_fields_and_leaves_tables_and_nulls_empty(web):
    """A dotted path reaches into nested payload objects; an object, a list or a null gives no value."""
    report = await radio_report(web, "2041", {"member": {"unit": "2041", "tags": ["a"]}, "urgent": None})
    web.desk.add(FakeIncident("inc-1", "Report"), [report])
    olive = await web.logged_in("olive")
    actions = (await olive.request("GET", "/api/incidents/inc-1")).json["actions"]
    [reply] = [action for action in actions if action["verb"] == "reply"]
    assert arguments_of(reply) == {
        "unit": ("subject.id", "2041"),
        "camera": ("location.camera", None),  # the event has no location at all
        "member": ("payload.member.unit", "2041"),
        "urgent": ("payload.urgent", None),
        "message": (None, None),
    }


POLICE = AdapterType(
    name="police_link",
    config_class=object,
    factory=lambda context: None,
    commands=(
        CommandSpec("send_to_police", "Send to the police", any_source=True, applies_to=("#",),
                    arguments=(CommandArgument("note", "Note", required=False, prefill="summary"),
                               CommandArgument("camera", "Camera", kind="camera", required=False,
                                               prefill="location.camera"))),
        CommandSpec("ask_for_patrol", "Ask for a patrol", any_source=True, applies_to=("radio.report.#",),
                    roles=("supervisor",)),
        CommandSpec("approve_request", "Approve the request", applies_to=("police.request.#",)),
    ),
)


async def police_harness(harness_factory):
    return await harness_factory(
        adapter_types={"radio": RADIO, "police_link": POLICE},
        adapters=FakeAdapters(FakeStatus("radio.town_centre", "radio"), FakeStatus("police_link.force", "police_link"),
                              FakeStatus("police_link.spare", "police_link", state="failed")),
    ).start()


@pytest_twisted.ensureDeferred
async def test_an_any_source_command_is_offered_on_an_incident_of_events_from_other_adapters(harness_factory):
    """Every configured instance of its type offers it once, prefilled from the newest event it applies to."""
    web = await police_harness(harness_factory)
    try:
        older = await radio_report(web, "2041", {"urgent": False}, camera="7")
        newer = await radio_event(web)  # from the radio, on camera 42
        web.desk.add(FakeIncident("inc-1", "Emergency"), [older, newer])
        olive = await web.logged_in("olive")

        actions = (await olive.request("GET", "/api/incidents/inc-1")).json["actions"]

        offered = [(action["adapter"], action["verb"], action["running"]) for action in actions]
        assert offered == [
            ("radio.town_centre", "broadcast", True),
            ("radio.town_centre", "reply", True),
            ("police_link.force", "send_to_police", True),
            ("police_link.spare", "send_to_police", False),
        ]
        for action in actions[2:]:
            assert arguments_of(action) == {"note": ("summary", "Emergency button"), "camera": ("location.camera", "42")}
    finally:
        await web.stop()


@pytest_twisted.ensureDeferred
async def test_any_source_still_needs_a_matching_event_and_the_users_role(harness_factory):
    """A command from anyone is offered only on events its applies_to matches, and only to its roles;
    a command without any_source still needs an event from its own adapter."""
    web = await police_harness(harness_factory)
    try:
        report = await radio_report(web, "2041", {"urgent": True})
        emergency = await radio_event(web)
        web.desk.add(FakeIncident("inc-1", "Report"), [report])
        web.desk.add(FakeIncident("inc-2", "Emergency"), [emergency])
        olive = await web.logged_in("olive")
        sam = await web.logged_in("sam")

        def verbs(actions):
            return sorted({action["verb"] for action in actions if action["adapter"].startswith("police_link.")})

        assert verbs((await olive.request("GET", "/api/incidents/inc-1")).json["actions"]) == ["send_to_police"]
        assert verbs((await sam.request("GET", "/api/incidents/inc-1")).json["actions"]) == [
            "ask_for_patrol", "send_to_police"]
        assert verbs((await sam.request("GET", "/api/incidents/inc-2")).json["actions"]) == ["send_to_police"]
    finally:
        await web.stop()


@pytest_twisted.ensureDeferred
async def test_the_command_list_gives_each_arguments_prefill_path_and_no_value(web):
    """GET /api/commands has no incident to read from: prefill paths are listed and every value is null."""
    olive = await web.logged_in("olive")
    offered = (await olive.request("GET", "/api/commands")).json["commands"]
    [reply] = [command for command in offered if command["verb"] == "reply" and command["running"]]
    assert arguments_of(reply)["unit"] == ("subject.id", None)
    assert all(argument["value"] is None for command in offered for argument in command["arguments"])


@pytest_twisted.ensureDeferred
async def test_incident_actions_pass_the_actor_with_address_and_a_refused_transition_is_409(web):
    """The engine is told who acted and from where; a move the lifecycle forbids is a conflict."""
    web.desk.add(FakeIncident("inc-1", "Fight"))
    olive = await web.logged_in("olive")
    assert (await olive.request("POST", "/api/incidents/inc-1/notes", {"text": "Units on the way"})).status == 200
    assert (await olive.request("POST", "/api/incidents/inc-1/state", {"state": "closed"})).status == 200
    again = await olive.request("POST", "/api/incidents/inc-1/acknowledge", {})
    assert (again.status, again.error_code) == (409, "conflict")
    _id, verb, arguments, actor = web.desk.acted[0]
    assert (verb, arguments) == ("notes", {"text": "Units on the way"})
    assert (actor.name, actor.role, actor.address) == ("olive", "operator", "127.0.0.1")
    bad = await olive.request("POST", "/api/incidents/inc-1/state", {"state": "gone"})
    assert bad.status == 422


@pytest_twisted.ensureDeferred
async def test_a_command_is_published_on_the_bus_and_audited_in_the_same_transaction(web):
    """202 with the command id and seq; the bus has command.radio.broadcast asked by the user."""
    olive = await web.logged_in("olive")
    reply = await olive.request("POST", "/api/commands", {"adapter": "radio.town_centre", "verb": "broadcast",
                                                          "arguments": {"message": "Suspect heading north"}})
    assert reply.status == 202, reply
    [event] = web.bus.bus.replay(reply.json["seq"] - 1, limit=1)
    assert event.topic == "command.radio.broadcast" and event.id == reply.json["command_id"]
    assert event.payload.requested_by == "olive" and event.payload.adapter == "radio.town_centre"
    [entry] = [e for e in web.audit.entries if e.action == "command.request"]
    assert entry.target == "adapter:radio.town_centre" and entry.detail["command_id"] == event.id


@pytest_twisted.ensureDeferred
async def test_a_command_to_an_adapter_that_is_not_running_is_answered_refused_at_once(web):
    """The command is still journaled, followed by a refused outcome linked to it and its incident."""
    web.desk.add(FakeIncident("inc-1", "Emergency"))
    olive = await web.logged_in("olive")
    reply = await olive.request("POST", "/api/incidents/inc-1/commands",
                                {"adapter": "radio.night", "verb": "broadcast", "arguments": {"message": "hi"}})
    assert reply.status == 202
    command, outcome = web.bus.bus.replay(reply.json["seq"] - 1, limit=2)
    assert command.incident_id == "inc-1"
    assert outcome.topic == "radio.command.refused"
    assert outcome.causation_id == command.id and outcome.incident_id == "inc-1"
    assert "failed" in outcome.payload.detail


@pytest_twisted.ensureDeferred
async def test_unknown_adapters_verbs_and_bad_arguments_are_422_and_other_roles_verbs_403(web):
    """Nothing is published for a command the adapter would not understand or the user may not give."""
    olive = await web.logged_in("olive")
    head = web.bus.bus.head
    cases = [({"adapter": "radio.nowhere", "verb": "broadcast"}, 422),
             ({"adapter": "radio.town_centre", "verb": "explode"}, 422),
             ({"adapter": "radio.town_centre", "verb": "broadcast", "arguments": {"message": "x" * 161}}, 422),
             ({"adapter": "radio.town_centre", "verb": "broadcast", "arguments": {}}, 422),
             ({"adapter": "radio.town_centre", "verb": "reset"}, 403)]
    for body, status in cases:
        reply = await olive.request("POST", "/api/commands", body)
        assert reply.status == status, (body, reply)
    assert web.bus.bus.head == head
    offered = (await olive.request("GET", "/api/commands")).json["commands"]
    assert {(c["adapter"], c["verb"], c["running"]) for c in offered} == {
        ("radio.town_centre", "broadcast", True), ("radio.night", "broadcast", False),
        ("radio.town_centre", "reply", True), ("radio.night", "reply", False)}


@pytest_twisted.ensureDeferred
async def test_events_are_read_after_a_seq_with_a_topic_pattern(web):
    """/api/events pages through the journal."""
    for topic in ("test.alpha.one", "test.beta.one", "test.alpha.two"):
        await web.bus.publish(web.bus.note("n", topic=topic))
    aud = await web.logged_in("aud")
    reply = (await aud.request("GET", "/api/events?since=0&topic=test.alpha.*")).json
    assert [e["topic"] for e in reply["events"]] == ["test.alpha.one", "test.alpha.two"]
    assert reply["head"] == web.bus.bus.head
    assert (await aud.request("GET", "/api/events?topic=A..B")).status == 400
    assert (await aud.request("GET", "/api/events?limit=0")).status == 400


@pytest_twisted.ensureDeferred
async def test_status_lists_adapters_partners_the_bus_and_its_subscribers(web):
    """The status panel's one request."""
    status = (await (await web.logged_in("olive")).request("GET", "/api/adapters")).json
    assert [(a["name"], a["state"]) for a in status["adapters"]] == [("radio.town_centre", "running"),
                                                                     ("radio.night", "failed")]
    assert status["partners"] == [{"name": "shopwatch_app", "display_name": "Shopwatch app", "enabled": True,
                                   "last_report_at": None}]
    assert "web-stream" in [s["name"] for s in status["bus"]["subscribers"]]


@pytest_twisted.ensureDeferred
async def test_cameras_fibre_nodes_and_the_map_come_from_the_directory_and_config(web):
    """The map has the configured sites and every placed asset; no image is configured here."""
    olive = await web.logged_in("olive")
    assert [c["id"] for c in (await olive.request("GET", "/api/cameras")).json["cameras"]] == ["42"]
    assert [n["id"] for n in (await olive.request("GET", "/api/fibre-nodes")).json["fibre_nodes"]] == ["cab-7"]
    drawn = (await olive.request("GET", "/api/map")).json
    assert drawn["map"] == {"image_url": None, "bounds": None, "tile_url": None}
    assert drawn["sites"] == [{"name": "Market Place", "lat": 53.2, "lon": -1.4, "kind": "site"}]
    assert [c["id"] for c in drawn["cameras"]] == ["42"] and drawn["fibre_nodes"] == []
    assert (await olive.request("GET", "/api/map/image")).status == 404


def fibre_ring(web):
    """cab-7 (the fixture's node, no coordinates) and two placed nodes joined by two spans."""
    from hub.directory import Asset

    source = "dark_fibre_health.net"
    web.directory.put(Asset(kind="fibre_node", id="hub-1", source=source, latitude=53.21, longitude=-1.42,
                            state="up"))
    web.directory.put(Asset(kind="fibre_node", id="cab-9", source=source, latitude=53.23, longitude=-1.41,
                            state="down", state_since=1000.0, attributes={"upstream": "hub-1"}))
    web.directory.put(Asset(kind="fibre_span", id="hub-1–cab-9", source=source, state="down", state_since=1000.0,
                            attributes={"a": "hub-1", "b": "cab-9", "length_m": 1200.0, "cores": 24}))
    web.directory.put(Asset(kind="fibre_span", id="hub-1–cab-7", source=source, state="up",
                            attributes={"a": "hub-1", "b": "cab-7", "length_m": None, "cores": None}))


@pytest_twisted.ensureDeferred
async def test_fibre_spans_are_listed_with_their_ends_and_state(web):
    """GET /api/fibre-spans lists every span asset, placed or not, as the directory has it."""
    fibre_ring(web)
    olive = await web.logged_in("olive")
    spans = (await olive.request("GET", "/api/fibre-spans")).json["fibre_spans"]
    assert [(span["id"], span["state"], span["attributes"]["a"], span["attributes"]["b"]) for span in spans] == [
        ("hub-1–cab-7", "up", "hub-1", "cab-7"), ("hub-1–cab-9", "down", "hub-1", "cab-9")]
    assert spans[1]["attributes"]["length_m"] == 1200.0 and spans[1]["state_since"] == 1000.0


@pytest_twisted.ensureDeferred
async def test_the_map_draws_a_fibre_span_only_when_both_its_nodes_are_placed(web):
    """Each drawn span carries its two ends' coordinates (a then b); one to an unplaced node is left out."""
    fibre_ring(web)
    olive = await web.logged_in("olive")
    drawn = (await olive.request("GET", "/api/map")).json
    assert [node["id"] for node in drawn["fibre_nodes"]] == ["cab-9", "hub-1"]
    assert [(span["id"], span["state"], span["ends"]) for span in drawn["fibre_spans"]] == [
        ("hub-1–cab-9", "down", [[53.21, -1.42], [53.23, -1.41]])]


@pytest_twisted.ensureDeferred
async def test_auditors_read_and_export_the_audit_log_and_the_export_is_itself_audited(web):
    """Entries come as JSON; the export is a download and leaves an audit.export row."""
    await web.logged_in("olive")
    aud = await web.logged_in("aud")
    entries = (await aud.request("GET", "/api/audit?action=session.login")).json["entries"]
    assert [e["actor"] for e in entries] == ["olive", "aud"]
    export = await aud.request("GET", "/api/audit/export?format=jsonl")
    assert export.status == 200 and "attachment" in export.header("content-disposition")
    assert len(export.body.decode().splitlines()) == 2
    assert web.audit.actions()[-1] == "audit.export"
    assert (await aud.request("GET", "/api/audit/export?format=xml")).status == 400


@pytest_twisted.ensureDeferred
async def test_admins_add_and_disable_users_and_disabling_ends_their_sessions(web):
    """A disabled user's open sessions end at once; the store audits both changes with the admin as actor."""
    ada = await web.logged_in("ada")
    added = await ada.request("POST", "/api/users", {"name": "nina", "role": "operator",
                                                     "password": "correct horse battery"})
    assert added.status == 201 and added.json["user"]["name"] == "nina"
    assert (await ada.request("POST", "/api/users", {"name": "nina", "role": "operator",
                                                     "password": "correct horse battery"})).status == 409
    nina = await web.logged_in("nina")
    assert (await ada.request("POST", "/api/users/nina/disable", {})).status == 204
    assert (await nina.request("GET", "/api/session")).status == 401
    assert [(actor.name, action) for actor, action, _name in web.users.audited] == [
        ("ada", "user.add"), ("ada", "user.disable")]
    assert (await ada.request("POST", "/api/users/ghost/disable", {})).status == 404
    names = [u["name"] for u in (await ada.request("GET", "/api/users")).json["users"]]
    assert "nina" in names


@pytest_twisted.ensureDeferred
async def test_metrics_are_prometheus_text_for_supervisors_and_the_scrape_token(web):
    """Counters and gauges by name, readable with a session or the bearer token, not with a wrong token."""
    await web.bus.publish(web.bus.note("n", topic="test.alpha.one"))
    web.desk.add(FakeIncident("inc-1", "Fight"))
    scraper = web.client()
    reply = await scraper.request("GET", "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert reply.status == 200 and reply.header("content-type").startswith("text/plain; version=0.0.4")
    text = reply.body.decode()
    for line in ('hub_events_by_topic_prefix{prefix="test"} 1', 'hub_incidents{state="new"} 1',
                 'hub_adapter_up{adapter="radio.town_centre",type="radio",state="running"} 1',
                 'hub_adapter_up{adapter="radio.night",type="radio",state="failed"} 0',
                 "hub_websocket_clients 0", 'hub_bus_subscriber_queue_depth{subscriber="web-stream"} 0',
                 "# TYPE hub_events_published_total counter"):
        assert line in text, line
    assert "hub_bus_head " in text and "hub_sessions_active 0" in text
    wrong = await scraper.request("GET", "/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status == 401
    sam = await web.logged_in("sam")
    again = (await sam.request("GET", "/metrics")).body.decode()
    assert 'hub_http_requests_total{route="/metrics",code="200"} 1' in again
    assert "hub_sessions_active 1" in again


@pytest_twisted.ensureDeferred
async def test_the_console_files_are_served_from_the_static_folder_and_nothing_outside_it(harness_factory, tmp_path):
    """/ is index.html, /static/ the rest, with types; traversal and hidden files are 404."""
    static = tmp_path / "static"
    static.mkdir()
    (static / "index.html").write_text("<!doctype html><title>Hub</title>")
    (static / "app.js").write_text("console.log('hub')")
    (static / ".secret.js").write_text("no")
    (tmp_path / "outside.js").write_text("no")
    web = await harness_factory(static_dir=static).start()
    try:
        client = web.client()
        index = await client.request("GET", "/")
        assert index.status == 200 and index.header("content-type").startswith("text/html")
        assert index.header("content-security-policy").startswith("default-src 'self'")
        script = await client.request("GET", "/static/app.js")
        assert script.body == b"console.log('hub')" and script.header("content-type").startswith("text/javascript")
        for path in ("/static/../outside.js", "/static/%2e%2e/outside.js", "/static/.secret.js", "/static/nope.js"):
            assert (await client.request("GET", path)).status == 404, path
    finally:
        await web.stop()


class Hello(Resource):
    isLeaf = True

    def render_GET(self, request):  # noqa: N802
        request.setHeader("content-type", "application/json")
        return b'{"hello": "plugin"}'


class Broken(Resource):
    isLeaf = True

    def render_GET(self, request):  # noqa: N802
        raise RuntimeError("plugin bug")


class Plugins:
    def web_routes(self):
        return [("demo", WebRoute(path="hello", resource_factory=lambda hub: Hello(), roles=("supervisor",))),
                ("demo", WebRoute(path="broken", resource_factory=lambda hub: Broken(), roles=("supervisor",)))]

    def console_panels(self):
        return []


@pytest_twisted.ensureDeferred
async def test_plugin_routes_are_mounted_under_their_plugin_behind_the_same_auth_and_documented(harness_factory):
    """A plugin's WebRoute answers at /api/plugins/<plugin>/<path> for its roles only, and is in OpenAPI."""
    web = await harness_factory(plugins=Plugins()).start()
    try:
        sam, olive = await web.logged_in("sam"), await web.logged_in("olive")
        reply = await sam.request("GET", "/api/plugins/demo/hello")
        assert (reply.status, reply.json) == (200, {"hello": "plugin"})
        assert reply.header("x-frame-options") == "DENY"
        assert (await olive.request("GET", "/api/plugins/demo/hello")).status == 403
        assert (await web.client().request("GET", "/api/plugins/demo/hello")).status == 401
        document = (await sam.request("GET", "/api/openapi.json")).json
        assert document["paths"]["/api/plugins/demo/hello"]["get"]["x-roles"] == ["supervisor"]
        # A plugin resource that raises answers 500 at once rather than leaving the request hanging.
        broken = await sam.request("GET", "/api/plugins/demo/broken")
        assert (broken.status, broken.error_code) == (500, "internal")
    finally:
        await web.stop()
