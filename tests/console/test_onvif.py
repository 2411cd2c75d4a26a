"""The cameras in a real browser against a real ``hub run`` with the real ONVIF plugin: its adapter talks
ONVIF over loopback to the plugin's simulated cameras, which the same hub runs as a simulator.

Four cameras: 41 and 42 answer with the right password, 43 is given a wrong one (auth failed), 44's
address has nothing listening (offline). The console lists them with their states; a preset picked by
name from camera 41's own list turns the simulated camera (its PresetReached event comes back through
the adapter into the journal); a snapshot taken on a motion incident shows in the incident detail as the
simulated camera's image with its SHA-256."""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
from typing import Any, Iterator

import pytest
from playwright.sync_api import expect

from tests.console.conftest import Console, run_hub

APPEARS_S = 15


def _free_ports(count: int) -> int:
    """The first of ``count`` consecutive free loopback ports (the simulator listens on base_port + index)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + count > 65000:
            continue
        sockets = []
        try:
            for offset in range(count):
                held = socket.socket()
                sockets.append(held)
                held.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
        finally:
            for held in sockets:
                held.close()
    raise RuntimeError("no run of free ports")


@pytest.fixture(scope="module")
def camera_room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = _free_ports(3)
    dead = _free_ports(1)  # nothing listens here: camera 44 is offline
    web = _free_ports(1)
    password = secrets.token_urlsafe(12)
    config = f"""
[hub]
name = "Camera room"
data_dir = "data"
shutdown_grace_s = 2

[logging]
level = "info"
format = "json"

[web]
listen = "127.0.0.1:{web}"

[[incidents.rules]]
name = "motion"
topics = ["onvif.motion.#"]
join_on = ["subject"]

[[incidents.rules]]
name = "everything else from the cameras"
topics = ["onvif.#"]
action = "ignore"

[simulators.street]
type = "onvif"
host = "127.0.0.1"
base_port = {base}
cameras = 3
first_number = 41
username = "hub"
password = {{ env = "ONVIF_TEST_PASSWORD" }}
event_rate = 0.5

[adapters.cameras]
type = "onvif"
username = "hub"
password = {{ env = "ONVIF_TEST_PASSWORD" }}
failures_before_offline = 1
retry_min_s = 1
retry_max_s = 5

[adapters.cameras.cameras."41"]
name = "High St / Market Sq"
host = "127.0.0.1"
port = {base}
fibre_node = "node-07"

[adapters.cameras.cameras."42"]
name = "Bus station"
host = "127.0.0.1"
port = {base + 1}
fibre_node = "node-07"

[adapters.cameras.cameras."43"]
name = "Car park"
host = "127.0.0.1"
port = {base + 2}
password = {{ env = "ONVIF_WRONG_PASSWORD" }}
fibre_node = "node-08"

[adapters.cameras.cameras."44"]
name = "Old bridge"
host = "127.0.0.1"
port = {dead}
fibre_node = "node-08"
"""
    environ = {**os.environ, "ONVIF_TEST_PASSWORD": password, "ONVIF_WRONG_PASSWORD": password + "-wrong"}
    folder = tmp_path_factory.mktemp("camera-room")
    with run_hub(folder, config, {"olive": "operator"}, environ=environ) as url:
        yield url


@pytest.fixture
def operator(chromium: Any, camera_room: str) -> Iterator[tuple[Console, list[str]]]:
    context = chromium.new_context(base_url=camera_room, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(5000)
    page = context.new_page()
    view = Console(page=page)
    refused: list[str] = []
    page.on("pageerror", lambda error: view.errors.append(str(error)))
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text else None)
    view.sign_in("olive")
    yield view, refused
    context.close()


def camera_row(view: Console, number: str) -> Any:
    return view.page.locator(f"#cameras-view tr[data-camera='{number}']")


def journal(view: Console, topic: str) -> list[dict[str, Any]]:
    """Events on ``topic`` (a pattern) from the hub's journal, read with the operator's session."""
    return view.page.evaluate(
        "async (topic) => (await (await fetch('/api/events?limit=1000&since=0&topic=' + encodeURIComponent(topic)))"
        ".json()).events", topic)


def test_the_camera_list_shows_each_cameras_state(operator: tuple[Console, list[str]]) -> None:
    """Online, auth failed and offline, coloured, with the fibre node and the adapter's camera commands."""
    view, refused = operator
    view.page.keyboard.press("4")
    for number, state, colour in (("41", "online", "good"), ("42", "online", "good"),
                                  ("43", "auth failed", "bad"), ("44", "offline", "bad")):
        health = camera_row(view, number).locator(".health")
        expect(health).to_have_text(state, timeout=APPEARS_S * 1000)
        expect(health).to_have_class(re.compile(rf"\b{colour}\b"))
    expect(camera_row(view, "41")).to_contain_text("node-07")
    expect(camera_row(view, "41")).to_contain_text("onvif.cameras")
    expect(camera_row(view, "41").locator(".camera-buttons button")).to_contain_text(
        ["Go to preset", "Move", "Stop moving", "Go home", "Take a snapshot"])
    assert view.errors == [] and refused == []


def test_a_preset_chosen_from_the_list_moves_the_simulated_camera(operator: tuple[Console, list[str]]) -> None:
    """The preset drop-down lists camera 41's own presets; the one picked is the one the camera reaches."""
    view, refused = operator
    view.page.keyboard.press("4")
    expect(camera_row(view, "41").locator(".health")).to_have_text("online", timeout=APPEARS_S * 1000)
    camera_row(view, "41").get_by_role("button", name="Go to preset").click()
    form = view.page.locator("#cameras-view .camera-actions details.command[data-verb=goto_preset]")
    preset = form.locator("select[data-options-from=presets]")
    expect(preset).to_be_visible(timeout=APPEARS_S * 1000)
    options = preset.locator("option")
    expect(options.nth(1)).to_be_attached()
    labels = options.all_inner_texts()[1:]
    assert len(labels) >= 2, labels
    chosen = labels[-1]
    token = preset.locator("option", has_text=chosen).get_attribute("value")
    preset.select_option(label=chosen)
    form.get_by_role("button", name="Go to preset").click()
    status = form.locator(".command-status")
    expect(status).to_have_attribute("data-outcome", re.compile("delivered|sent"), timeout=APPEARS_S * 1000)

    def reached() -> list[dict[str, Any]]:
        return [event for event in journal(view, "onvif.preset.#")
                if json.dumps(event.get("payload", {})).find(f'"{token}"') != -1
                and (event.get("location") or {}).get("camera") == "41"]

    view.page.wait_for_timeout(200)
    for _ in range(int(APPEARS_S / 0.5)):
        if reached():
            break
        view.page.wait_for_timeout(500)
    assert reached(), "camera 41 never reported reaching the preset chosen"
    requests = [event for event in journal(view, "command.onvif.goto_preset")
                if event["payload"]["arguments"] == {"camera": "41", "preset": token}]
    assert requests, "the command did not carry the preset's token"
    assert view.errors == [] and refused == []


def test_a_snapshot_shows_in_the_incident_detail(operator: tuple[Console, list[str]]) -> None:
    """On a motion incident, a snapshot of its camera shows as the camera's image, with its SHA-256."""
    view, refused = operator
    row = view.page.locator("#queue-body tr", has_text=re.compile("[Mm]otion")).first
    expect(row).to_be_visible(timeout=APPEARS_S * 2 * 1000)
    row.click()
    snapshot = view.page.locator("#detail details.command[data-verb=snapshot]")
    expect(snapshot).to_have_count(1, timeout=APPEARS_S * 1000)
    snapshot.locator("summary").click()
    camera = snapshot.get_by_label("Camera").input_value()
    assert camera in ("41", "42", "43"), camera
    if camera == "43":
        snapshot.get_by_label("Camera").fill("41")
    snapshot.get_by_role("button", name="Take a snapshot").click()
    status = snapshot.locator(".command-status")
    expect(status).to_have_attribute("data-outcome", re.compile("delivered|sent"), timeout=APPEARS_S * 1000)
    figure = view.page.locator("#detail .timeline figure.evidence").first
    expect(figure).to_be_visible(timeout=APPEARS_S * 1000)
    sha = figure.locator("code.sha256").inner_text()
    assert re.fullmatch(r"[0-9a-f]{64}", sha)
    expect(status).to_contain_text(sha)
    image = figure.locator("img")
    expect(image).to_have_attribute("src", re.compile(rf"^/api/evidence/{sha}\?incident="))
    view.page.wait_for_function("image => image.complete && image.naturalWidth > 0", arg=image.element_handle())
    # The bytes the browser showed are the ones the hash names.
    digest = view.page.evaluate(
        """async (url) => {
             const data = await (await fetch(url)).arrayBuffer();
             const hash = await crypto.subtle.digest("SHA-256", data);
             return Array.from(new Uint8Array(hash)).map((b) => b.toString(16).padStart(2, "0")).join("");
           }""", f"/api/evidence/{sha}")
    assert digest == sha
    assert view.errors == [] and refused == []

