"""The console narrates a demo's script: each scene's hub.scenario.step event shows as it happens."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.console.conftest import HUB, _wait_healthy


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def narrated_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """``hub demo`` on a room with no adapters and a script of one scene, played every four seconds; yields
    the console's URL and the operator's demo password."""
    folder = tmp_path_factory.mktemp("narrated-demo")
    config = folder / "demo.toml"
    config.write_text(f"""
[hub]
name = "Narrated room"
data_dir = "data"
shutdown_grace_s = 2

[logging]
format = "json"

[web]
listen = "127.0.0.1:{_free_port()}"

[scenario]
name = "A short evening"
repeat_s = 4

[[scenario.steps]]
at_s = 1
say = "Boots presses its status button: a <b>shop theft</b>."
""")
    log = folder / "hub.log"
    with open(log, "wb") as output:
        process = subprocess.Popen([str(HUB), "demo", "--config", str(config)], stdout=output,
                                   stderr=subprocess.STDOUT, cwd=folder)
    try:
        url = "http://" + config.read_text().split('listen = "')[1].split('"')[0]
        _wait_healthy(url, process, log)
        logins = json.loads((folder / "data" / "demo-logins.json").read_text())
        yield url, logins["operator"]
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_each_scene_of_the_script_shows_in_the_console_as_it_happens(chromium: Any, narrated_demo: tuple[str, str]):
    """A signed-in operator sees the scene's line (as text, never markup) without doing anything."""
    from playwright.sync_api import expect

    url, password = narrated_demo
    context = chromium.new_context(base_url=url, viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto("/")
        page.fill("#login-username", "operator")
        page.fill("#login-password", password)
        page.click("#login-submit")
        expect(page.locator("#link-state")).to_have_text("Live", timeout=10_000)
        scene = page.locator("#toasts .toast", has_text="Scene 1 of 1: Boots presses its status button")
        expect(scene.first).to_be_visible(timeout=10_000)
        expect(scene.first).to_contain_text("a <b>shop theft</b>.")
        assert page.locator("#toasts b").count() == 0
        assert errors == []
    finally:
        context.close()
