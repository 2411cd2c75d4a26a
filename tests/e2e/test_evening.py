"""The demo's evening end to end: ``hub demo`` on the demo's own config (config/demo.toml, rewritten only for
free ports, a private data folder and a faster clock) as a real process, with its simulators on real
pseudo-terminals, real sockets, real mutual TLS to the simulated force and, as root, fibre nodes in real
network namespaces; an operator in Chromium watches the evening's incidents appear, acknowledges the pub
emergency and sends it to the police with one click; the force receives a valid CAP alert; the hub stops
cleanly and its audit log verifies.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from playwright.sync_api import expect

from plugins.dark_fibre_health import netns
from tests.e2e.harness import HUB, NETNS_PREFIX, DemoProcess, DemoSetup, demo_config
from tests.plugins.police_link.cap_schema import cap_schema_path

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(300)]

#: The evening's last step this many seconds after the script starts (the demo takes about seven minutes).
EVENING_S = 40.0
#: How long anything the operator waits for may take to show (a generous bound, not a timing).
SHOWS_MS = 90_000
#: How long the hub may take to start, and to stop.
START_S = 90.0
STOP_S = 60.0
CAP = "urn:oasis:names:tc:emergency:cap:1.2"

#: The evening's incidents as the operator sees them on the queue (the demo's words), and their categories.
SHOP_THEFT = ("Shop theft in progress: Boots", "shop theft")
PUB_EMERGENCY = ("EMERGENCY: The Rutland Arms", "pub emergency")
TAMPER = ("Camera 23 (Knifesmithgate): tamper started", "camera tamper")
RETAIN_REQUEST = ("keep footage of camera(s) 42", "police request")
FIBRE_FAILURE = ("Fibre node node-03 down", "fibre outage")


@pytest.fixture
def demo(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[DemoSetup, DemoProcess]]:
    """``hub demo`` on a copy of the demo's config, killed with its process group if the test leaves it
    running; a failing test gets what it printed attached to its report."""
    setup = demo_config(tmp_path, evening_s=EVENING_S)
    try:
        with DemoProcess(setup.config, tmp_path) as process:
            yield setup, process
    finally:
        if os.geteuid() == 0:
            # A hub that had to be killed leaves its fibre ring's namespaces: sweep those whose owner is gone.
            netns.sweep(NETNS_PREFIX)


@contextlib.contextmanager
def output_on_failure(request: pytest.FixtureRequest, process: DemoProcess) -> Iterator[None]:
    try:
        yield
    except BaseException:
        # Its events and narration as printed, then the end of its log.
        request.node.add_report_section("call", "hub demo stdout", "\n".join(process.stdout[-400:]))
        request.node.add_report_section("call", "hub demo stderr", "\n".join(process.stderr[-150:]))
        raise


class Api:
    """The hub's API as the operator's browser session reads it."""

    def __init__(self, page: Any) -> None:
        self._request = page.request

    def get(self, path: str) -> Any:
        answer = self._request.get(path)
        assert answer.status == 200, f"GET {path}: {answer.status} {answer.text()[:500]}"
        return answer.json()

    def incident(self, incident_id: str) -> dict[str, Any]:
        return self.get(f"/api/incidents/{incident_id}")

    def incidents(self) -> list[dict[str, Any]]:
        states = "new,acknowledged,in_progress,resolved,closed"
        return self.get(f"/api/incidents?state={states}&limit=1000")["incidents"]

    def events(self, topic: str) -> list[dict[str, Any]]:
        return self.get(f"/api/events?topic={urllib.parse.quote(topic)}&since=0&limit=1000")["events"]


def test_the_demo_evening_end_to_end(
    demo: tuple[DemoSetup, DemoProcess], chromium: Any, request: pytest.FixtureRequest
) -> None:
    """The operator sees the shop theft, the pub emergency, the camera tamper, the police's retention request
    and the fibre failure appear; the pub's camera has turned to its preset by the rule; the operator
    acknowledges the pub emergency and sends it to police in one click, and the force receives it as valid
    CAP; the fibre failure is one incident covering its six cameras, none of which has one of its own; on
    SIGINT the hub stops cleanly, and its audit log verifies."""
    setup, process = demo
    with output_on_failure(request, process):
        _play_the_evening(setup, process, chromium)


def _play_the_evening(setup: DemoSetup, process: DemoProcess, chromium: Any) -> None:
    root = os.geteuid() == 0
    fibre = "fibre_ns" if root else "fibre"

    # --- The demo starts and says how to log in --------------------------------------------------------
    console = process.wait_for_line(r"^  console: +(http://127\.0\.0\.1:\d+)/$", START_S).group(1)
    password = process.wait_for_line(r"^  log in as: +operator / (\S+)$", START_S).group(1)
    assert json.loads((setup.data_dir / "demo-logins.json").read_text())["operator"] == password
    running = process.wait_for_line(r"^  adapters: +(.*)$", START_S).group(1).split(", ")
    assert f"fibre.{fibre}" in running, running
    other = "fibre" if root else "fibre_ns"
    skipped = process.wait_for_line(r"^  skipped \((.*)$", START_S).group(1)
    assert f"adapter {other}, simulator {other}" in skipped, skipped
    assert not any("FAILED" in line for line in process.stdout), process.output()

    context = chromium.new_context(base_url=console, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto("/")
        page.fill("#login-username", "operator")
        page.fill("#login-password", password)
        page.click("#login-submit")
        expect(page.locator("#app-view")).to_be_visible()
        expect(page.locator("#link-state")).to_have_text("Live")
        api = Api(page)

        def row(text: str) -> Any:
            return page.locator("#queue-body tr", has_text=text)

        def appears(seen: tuple[str, str]) -> str:
            """The incident's queue row shows up; its id, once the hub agrees on its category."""
            text, category = seen
            expect(row(text)).to_have_count(1, timeout=SHOWS_MS)
            incident_id = row(text).get_attribute("data-id")
            assert api.incident(incident_id)["incident"]["category"] == category, incident_id
            return incident_id

        # --- A shop theft by status code, with its checklist -------------------------------------------
        theft = appears(SHOP_THEFT)
        steps = len(_rule(setup, "shop theft")["sop"])
        expect(row(SHOP_THEFT[0]).locator("[data-testid=sop-count]")).to_have_text(f"SOP 0/{steps}")

        # --- The pub emergency: the rule turned the pub's camera; acknowledged, then sent to police ----
        pub = appears(PUB_EMERGENCY)
        row(PUB_EMERGENCY[0]).locator("td.num").click()
        detail = page.locator("#detail")
        expect(detail.locator("[data-testid=detail-state]")).to_have_text("new")
        detail.get_by_role("button", name="Acknowledge (a)").click()
        expect(detail.locator("[data-testid=detail-state]")).to_have_text("acknowledged")
        row(PUB_EMERGENCY[0]).get_by_role("button", name="Send to police").click()
        expect(row(PUB_EMERGENCY[0]).get_by_role("button", name="Send to police: sent")).to_be_disabled()
        _assert_rule_turned_the_pubs_camera(setup, api, pub)

        # --- A camera tamper and the force's request to retain footage --------------------------------
        appears(TAMPER)
        appears(RETAIN_REQUEST)

        # --- The fibre node fails: one incident, its six cameras inside it ----------------------------
        outage = appears(FIBRE_FAILURE)
        cameras = _cameras_behind(setup, fibre, _failed_node(setup))
        assert len(cameras) == 6, cameras
        _wait_for(page, lambda: {e["location"]["camera"] for e in api.events("onvif.camera.offline")} >= cameras,
                  f"cameras {sorted(cameras)} reported offline")
        _wait_for(page, lambda: _joined_cameras(api, outage) >= cameras,
                  f"the offline cameras joining {outage}")
        found = api.incident(outage)["incident"]
        assert {f"camera:{camera}" for camera in cameras} <= set(found["covers"]), found["covers"]
        incidents = api.incidents()
        assert [i["id"] for i in incidents if f"fibre.{fibre}" in i["sources"]] == [outage], incidents
        own = [i for i in incidents if i["state"] in ("new", "acknowledged", "in_progress")
               and i["subject"]["kind"] == "camera" and i["subject"]["id"] in cameras]
        assert own == [], own
        expect(row("Fibre node")).to_have_count(1)

        # --- The force received the pub emergency as CAP, and answered ----------------------------------
        alert = _wait_for(page, lambda: _peer_alert(setup, pub), f"the force's record of {pub}")
        _assert_valid_cap(alert["xml"])
        cap = etree.fromstring(alert["xml"].encode())
        assert cap.findtext(f"{{{CAP}}}msgType") == "Alert"
        assert cap.findtext(f"{{{CAP}}}status") == "Exercise"
        assert pub in (cap.findtext(f"{{{CAP}}}incidents") or "")
        _wait_for(page, lambda: any(e["incident_id"] == pub for e in api.events("police.alert.accepted")),
                  f"the force accepting {pub}")

        timeline = api.incident(pub)
        assert timeline["incident"]["acknowledged_by"] == "operator"
        assert [e["payload"]["requested_by"] for e in timeline["events"]
                if e["topic"] == "command.police_link.send_to_police"] == ["operator"]
        assert api.incident(theft)["incident"]["state"] == "new"
        assert errors == []
    finally:
        context.close()

    # --- Ctrl-C: the hub stops cleanly ------------------------------------------------------------------
    printed = len(process.stdout)
    assert process.stop(signal.SIGINT, timeout_s=STOP_S) == 0, process.output()
    after = process.stdout[printed:]
    assert any("hub.process.stopping" in line for line in after), process.output()
    stopped = [line.split("adapter.health.stopped", 1)[1].split()[0] for line in after
               if "adapter.health.stopped" in line]
    assert sorted(stopped) == sorted(running), process.output()
    assert any("journal_closed" in line for line in process.stderr), process.output()
    assert not any("Traceback" in line for line in process.stdout + process.stderr), process.output()
    if root:
        left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
        assert f"{NETNS_PREFIX}-{process.pid}-" not in left, left

    # --- The audit log: the operator's acknowledgement and command are in it, and it verifies ---------
    exported = subprocess.run([str(HUB), "audit", "export", "--config", str(setup.config), "--format", "jsonl"],
                              check=False, capture_output=True, text=True, timeout=60)
    assert exported.returncode == 0, exported.stderr
    audit = [json.loads(line) for line in exported.stdout.splitlines()]
    by_operator = [(entry["action"], entry["target"]) for entry in audit if entry["actor"] == "operator"]
    (police,) = [name for name, table in setup.document["adapters"].items() if table["type"] == "police_link"]
    assert ("incident.acknowledge", pub) in by_operator, by_operator
    assert ("command.request", f"adapter:police_link.{police}") in by_operator, by_operator
    verified = subprocess.run([str(HUB), "audit", "verify", "--config", str(setup.config)],
                              check=False, capture_output=True, text=True, timeout=60)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.startswith("audit log OK: "), verified.stdout


# --- What the demo's config says --------------------------------------------------------------------------


def _rule(setup: DemoSetup, name: str) -> dict[str, Any]:
    (rule,) = [rule for rule in setup.document["incidents"]["rules"] if rule["name"] == name]
    return rule


def _failed_node(setup: DemoSetup) -> str:
    """The node the evening's script takes down."""
    nodes = {cue["arguments"]["node"] for step in setup.scenario["steps"] for cue in step.get("cues", ())
             if cue["cue"] == "node_down"}
    assert len(nodes) == 1, nodes
    return nodes.pop()


def _cameras_behind(setup: DemoSetup, adapter: str, failed: str) -> set[str]:
    """The cameras of ``failed`` and of every node downstream of it, in the fibre adapter's config."""
    nodes = setup.document["adapters"][adapter]["nodes"]

    def behind(name: str) -> bool:
        while name is not None:
            if name == failed:
                return True
            name = nodes[name].get("upstream")
        return False

    return {camera for name, node in nodes.items() if behind(name) for camera in node.get("cameras", ())}


# --- What the hub and the force did ------------------------------------------------------------------------


def _assert_rule_turned_the_pubs_camera(setup: DemoSetup, api: Api, pub: str) -> None:
    """The pub emergency rule asked the member's camera to go to its preset, on the incident, and the camera
    got there: the journal has the command (requested by the rule), its delivery and the preset reached."""
    rule = _rule(setup, "pub emergency")
    preset = rule["move_cameras"]["preset"]
    (camera,) = setup.document["adapters"]["pubwatch"]["members"]["100-1001"]["cameras"][:1]
    moves = [e for e in api.events("command.onvif.goto_preset") if e["incident_id"] == pub]
    assert [(e["payload"]["requested_by"], e["payload"]["arguments"]) for e in moves] == [
        (f"rule:{rule['name']}", {"camera": camera, "preset": preset})], moves
    opened = [e for e in api.events("incident.opened") if e["incident_id"] == pub]
    assert moves[0]["causation_id"] == opened[0]["id"]
    assert opened[0]["payload"]["detail"]["actions"] == rule["name"]
    delivered = [e for e in api.events("onvif.command.delivered") if e["causation_id"] == moves[0]["id"]]
    assert len(delivered) == 1 and delivered[0]["incident_id"] == pub, delivered
    reached = [e for e in api.events("onvif.preset.reached") if e["location"]["camera"] == camera]
    assert reached, f"camera {camera} never reported reaching a preset"


def _joined_cameras(api: Api, incident_id: str) -> set[str]:
    events = api.incident(incident_id)["events"]
    return {e["location"]["camera"] for e in events if e["topic"] == "onvif.camera.offline"}


def _peer_alert(setup: DemoSetup, incident_id: str) -> dict[str, Any] | None:
    """What the simulated force stored of the first alert about ``incident_id`` (None: nothing yet)."""
    (force,) = [table for table in setup.document["simulators"].values() if table["type"] == "police_peer"]
    database = Path(force["records_dir"]) / "police-peer.sqlite3"
    if not database.exists():
        return None
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as connection:
        found = connection.execute(
            "SELECT identifier, msg_type, xml FROM alerts WHERE incident_id = ? ORDER BY seq LIMIT 1", (incident_id,)
        ).fetchone()
    connection.close()
    return None if found is None else {"identifier": found[0], "msg_type": found[1], "xml": found[2]}


def _assert_valid_cap(xml: str) -> None:
    schema = etree.XMLSchema(etree.parse(str(cap_schema_path())))
    document = etree.fromstring(xml.encode(), etree.XMLParser(resolve_entities=False, no_network=True))
    if not schema.validate(document.getroottree()):
        problems = "\n".join(f"line {entry.line}: {entry.message}" for entry in schema.error_log)
        raise AssertionError(f"the force received CAP the OASIS schema refuses:\n{problems}\n{xml[:3000]}")


def _wait_for(page: Any, condition: Any, what: str, timeout_ms: int = SHOWS_MS) -> Any:
    """``condition()``'s first truthy value, polled while the page keeps running."""
    waited = 0
    while waited <= timeout_ms:
        value = condition()
        if value:
            return value
        page.wait_for_timeout(250)
        waited += 250
    raise AssertionError(f"no {what} within {timeout_ms / 1000:g} s")
