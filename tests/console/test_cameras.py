"""The cameras view, preset drop-downs and snapshot evidence in a real browser, against a real hub process
that runs a test camera adapter (tests/console/camera_hub.py). The same, against the real ONVIF plugin and
its simulated cameras, is tests/console/test_onvif.py."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
from playwright.sync_api import expect

from tests.console.conftest import Console, _free_port, run_hub

CAMERA_HUB = Path(__file__).with_name("camera_hub.py")
APPEARS_S = 5


@pytest.fixture(scope="module")
def camera_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    config = (
        '[hub]\nname = "Camera test room"\ndata_dir = "data"\nshutdown_grace_s = 2\n'
        '[logging]\nlevel = "info"\nformat = "json"\n'
        f'[web]\nlisten = "127.0.0.1:{_free_port()}"\n'
        '[adapters.town]\ntype = "console_camera"\n'
    )
    folder = tmp_path_factory.mktemp("camera-hub")
    with run_hub(folder, config, {"olive": "operator", "audrey": "auditor"},
                 command=(sys.executable, str(CAMERA_HUB))) as url:
        yield url


def open_console(chromium: Any, url: str, user: str) -> tuple[Console, list[str], Any]:
    context = chromium.new_context(base_url=url, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(5000)
    page = context.new_page()
    view = Console(page=page)
    page.on("pageerror", lambda error: view.errors.append(str(error)))
    refused: list[str] = []
    # A Content-Security-Policy refusal shows only in the browser's console: collect those too.
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text else None)
    view.sign_in(user)
    return view, refused, context


@pytest.fixture
def operator(chromium: Any, camera_hub: str) -> Iterator[tuple[Console, list[str]]]:
    view, refused, context = open_console(chromium, camera_hub, "olive")
    yield view, refused
    context.close()


def camera_row(view: Console, number: str) -> Any:
    return view.page.locator(f"#cameras-view tr[data-camera='{number}']")


def test_the_cameras_view_lists_each_camera_with_its_state_and_actions(operator: tuple[Console, list[str]]) -> None:
    """Number, name, coloured state, since, source and fibre node, and the camera commands as buttons."""
    view, refused = operator
    view.page.keyboard.press("4")
    expect(view.page.locator("#cameras-view")).to_be_visible()
    online, offline = camera_row(view, "42"), camera_row(view, "43")
    expect(online).to_contain_text("High St / Market Sq")
    expect(online.locator(".health")).to_have_text("online")
    expect(online.locator(".health")).to_have_class(re.compile(r"\bgood\b"))
    expect(offline.locator(".health")).to_have_class(re.compile(r"\bbad\b"))
    expect(online).to_contain_text("ago")
    expect(online).to_contain_text("console_camera.town")
    expect(online).to_contain_text("node-07")
    expect(online.locator(".camera-buttons button")).to_have_text(
        ["Raise a motion alarm", "Go to preset", "Take a snapshot", "Set state"])
    view.page.locator("#cameras-view input[type=search]").fill("car park")
    expect(view.page.locator("#cameras-view tbody tr")).to_have_count(1)
    expect(camera_row(view, "43")).to_be_visible()
    assert view.errors == [] and refused == []


def test_a_preset_is_chosen_from_the_cameras_own_list(operator: tuple[Console, list[str]]) -> None:
    """The preset field lists the chosen camera's presets by name and sends the token; another camera
    brings its own list, and a camera with no list leaves the field as free text."""
    view, refused = operator
    view.page.keyboard.press("4")
    camera_row(view, "42").get_by_role("button", name="Go to preset").click()
    form = view.page.locator("#cameras-view .camera-actions details.command[data-verb=goto_preset]")
    expect(form).to_have_attribute("open", "")
    expect(form.get_by_label("Camera")).to_have_value("42")
    preset = form.locator("select[data-options-from=presets]")
    expect(preset.locator("option")).to_have_text(["Choose preset…", "Market Sq (1)", "Bus station (2)"])
    preset.select_option(label="Bus station (2)")
    form.get_by_role("button", name="Go to preset").click()
    status = form.locator(".command-status")
    expect(status).to_have_attribute("data-outcome", "delivered", timeout=APPEARS_S * 1000)
    expect(status).to_contain_text("camera 42 at preset 2")

    form.get_by_label("Camera").fill("43")
    expect(preset.locator("option")).to_have_text(["Choose preset…", "Car park (P9)"])
    form.get_by_label("Camera").fill("99")
    expect(preset).to_be_hidden()
    expect(form.get_by_label("Preset")).to_be_visible()
    expect(form.get_by_label("Preset")).to_have_attribute("type", "text")
    assert view.errors == [] and refused == []


def test_the_list_follows_camera_events_from_the_stream(operator: tuple[Console, list[str]]) -> None:
    """A camera going online (its adapter's camera event) changes its row without a reload."""
    view, refused = operator
    view.page.keyboard.press("4")
    row = camera_row(view, "43")
    expect(row.locator(".health")).to_have_text("offline")
    row.get_by_role("button", name="Set state").click()
    form = view.page.locator("#cameras-view .camera-actions details.command[data-verb=set_state]")
    form.get_by_label("State").select_option("degraded")
    form.get_by_role("button", name="Set state").click()
    expect(row.locator(".health")).to_have_text("degraded", timeout=APPEARS_S * 1000)
    expect(row.locator(".health")).to_have_class(re.compile(r"\bwarn\b"))
    expect(row).to_contain_text(re.compile(r"\d+ s ago"))  # it was "1 min ago" before
    assert view.errors == [] and refused == []


def test_a_snapshot_shows_in_the_incident_detail_with_its_sha256(operator: tuple[Console, list[str]],
                                                                 chromium: Any, camera_hub: str) -> None:
    """A snapshot taken from an incident shows there as an image, with its SHA-256 as text; an auditor
    opening the same incident sees it too (auditors may look at evidence)."""
    view, refused = operator
    view.page.keyboard.press("4")
    camera_row(view, "42").get_by_role("button", name="Raise a motion alarm").click()
    view.page.locator("#cameras-view details.command[data-verb=alarm]").get_by_role(
        "button", name="Raise a motion alarm").click()
    view.page.keyboard.press("1")
    row = view.row("Motion on camera 42")
    expect(row.first).to_be_visible(timeout=APPEARS_S * 1000)
    row.first.click()
    snapshot = view.page.locator("#detail details.command[data-verb=snapshot]")
    snapshot.locator("summary").click()
    expect(snapshot.get_by_label("Camera")).to_have_value("42")
    snapshot.get_by_role("button", name="Take a snapshot").click()
    expect(snapshot.locator(".command-status")).to_have_attribute("data-outcome", "delivered", timeout=APPEARS_S * 1000)

    figure = view.page.locator("#detail .timeline figure.evidence").first
    expect(figure).to_be_visible(timeout=APPEARS_S * 1000)
    sha = figure.locator("code.sha256").inner_text()
    assert re.fullmatch(r"[0-9a-f]{64}", sha)
    expect(snapshot.locator(".command-status")).to_contain_text(sha)
    image = figure.locator("img")
    expect(image).to_have_attribute("src", re.compile(rf"^/api/evidence/{sha}\?incident="))
    expect(image).to_have_attribute("alt", "Snapshot from camera 42")
    view.page.wait_for_function("image => image.complete && image.naturalWidth === 8", arg=image.element_handle())
    incident_url = view.page.url

    auditor, auditor_refused, context = open_console(chromium, camera_hub, "audrey")
    try:
        auditor.page.goto(incident_url)
        shown = auditor.page.locator(f"#detail figure.evidence[data-sha256='{sha}'] img")
        expect(shown).to_be_visible(timeout=APPEARS_S * 1000)
        auditor.page.wait_for_function("image => image.complete && image.naturalWidth === 8",
                                       arg=shown.element_handle())
        # The auditor's log names who looked at the evidence, for which incident.
        entries = auditor.page.evaluate(
            "async () => (await (await fetch('/api/audit?action=evidence.view')).json()).entries")
        viewers = {(entry["actor"], entry["target"]) for entry in entries}
        assert {("olive", f"evidence:{sha}"), ("audrey", f"evidence:{sha}")} <= viewers
        assert all(entry["detail"]["incident"] for entry in entries)
        assert auditor.errors == [] and auditor_refused == []
    finally:
        context.close()
    assert view.errors == [] and refused == []
