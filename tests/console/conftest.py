"""Fixtures for the console's browser tests: one real hub process per session, and the session's headless
Chromium (tests/conftest.py).

The hub is started as an operator would start it (``hub user add`` for each user, then ``hub run``) on
a temporary config and data folder, on a free loopback port. Partners post reports to it over HTTP with
their keys, which is how the tests put events on the bus. Every test gets a fresh browser context, so
sessions and local storage never leak from one test into another.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator

import attrs
import pytest

ROOT = Path(__file__).resolve().parents[2]
HUB = ROOT / ".venv" / "bin" / "hub"
PASSWORD = "night shift password 7"
USERS = {"olive": "operator", "sam": "supervisor", "audrey": "auditor"}
# One partner per scenario: the default incident rule joins reports from the same partner (the same
# subject) into one incident, and each scenario needs an incident of its own.
PARTNERS = ("live", "resume", "lifecycle", "markup", "critical", "keys", "status", "map", "audit")
SITE = {"name": "Market Tavern", "lat": 53.2352, "lon": -1.4213}


def post_report(url: str, key: str, **fields: Any) -> dict[str, Any]:
    """POST a high-severity partner report (a fresh reference, then ``fields``) to the hub at ``url`` with the
    partner's ``key``; returns the hub's answer (event id and seq)."""
    body = {"severity": "high", "reference": secrets.token_hex(6), **fields}
    request = urllib.request.Request(
        url + "/api/intake/reports",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202, response.status
        return json.loads(response.read())


@attrs.frozen
class RunningHub:
    """A hub process the tests talk to."""

    url: str
    config: Path
    log: Path
    keys: dict[str, str]

    def report(self, partner: str, **fields: Any) -> dict[str, Any]:
        """POST a partner report to the intake; returns the hub's answer (event id and seq)."""
        return post_report(self.url, self.keys[partner], **fields)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _free_port() -> int:
    # There is a small window between closing this socket and the hub binding the port; on a loopback
    # test machine nothing else is racing for it.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _config_text(port: int) -> str:
    partners = "\n".join(
        f'[partners.{name}]\nkey = {{env = "HUB_CONSOLE_TEST_KEY_{name.upper()}"}}\n'
        f'display_name = "{name.title()} partner"\nrate_per_minute = 600\nburst = 100\n'
        for name in PARTNERS
    )
    return f"""
[hub]
name = "Console test room"
data_dir = "data"
shutdown_grace_s = 2

[logging]
level = "info"
format = "json"

[web]
listen = "127.0.0.1:{port}"
# Small numbers so the throttling test is quick and its lockout over before anything else signs in.
login_max_failures = 3
login_window_s = 3
login_lockout_s = 2

{partners}
[map]
sites = [{{name = "{SITE['name']}", lat = {SITE['lat']}, lon = {SITE['lon']}, kind = "pub"}}]
"""


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the hub exited with {process.returncode}:\n{log.read_text(errors='replace')[-4000:]}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the hub did not answer /healthz in {timeout_s} s:\n{log.read_text(errors='replace')[-4000:]}")


@contextlib.contextmanager
def run_hub(
    folder: Path,
    config_text: str,
    users: dict[str, str],
    *,
    command: tuple[str, ...] = (str(HUB),),
    environ: dict[str, str] | None = None,
) -> Iterator[str]:
    """A real ``hub run`` in ``folder`` on ``config_text`` (which must listen on a free loopback port), with
    ``users`` (name -> role) added first; yields the console's URL and stops the hub with SIGTERM after."""
    environ = dict(os.environ) if environ is None else environ
    config = folder / "hub.toml"
    config.write_text(config_text)
    for name, role in users.items():
        subprocess.run(
            [*command, "user", "add", name, "--role", role, "--config", str(config)],
            input=(PASSWORD + "\n").encode(), env=environ, check=True, capture_output=True, timeout=60,
        )
    listen = re.search(r'^listen = "([^"]+)"', config_text, flags=re.MULTILINE)
    assert listen is not None, "the test hub's config needs a [web] listen address"
    log = folder / "hub.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [*command, "run", "--config", str(config)],
            stdout=output, stderr=subprocess.STDOUT, env=environ, cwd=folder,
        )
    url = f"http://{listen.group(1)}"
    try:
        _wait_healthy(url, process, log)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    """A real hub (``hub run``) with three users and one partner per scenario."""
    folder = tmp_path_factory.mktemp("console-hub")
    keys = {name: secrets.token_urlsafe(24) for name in PARTNERS}
    environ = {**os.environ, **{f"HUB_CONSOLE_TEST_KEY_{name.upper()}": key for name, key in keys.items()}}
    with run_hub(folder, _config_text(_free_port()), USERS, environ=environ) as url:
        yield RunningHub(url=url, config=folder / "hub.toml", log=folder / "hub.log", keys=keys)


@attrs.define
class Console:
    """One browser context on the hub's console, with what the page did on the side."""

    page: Any
    dialogs: list[str] = attrs.field(factory=list)
    errors: list[str] = attrs.field(factory=list)
    requests: list[str] = attrs.field(factory=list)

    def sign_in(self, name: str, password: str = PASSWORD) -> None:
        from playwright.sync_api import expect

        self.page.goto("/")
        self.page.fill("#login-username", name)
        self.page.fill("#login-password", password)
        self.page.click("#login-submit")
        expect(self.page.locator("#app-view")).to_be_visible()
        # The stream is open once the console says Live: only then is "appears live" meaningful.
        expect(self.page.locator("#link-state")).to_have_text("Live")

    def row(self, text: str) -> Any:
        """The queue row whose text contains ``text``."""
        return self.page.locator("#queue-body tr", has_text=text)


@pytest.fixture
def console(chromium: Any, hub: RunningHub) -> Iterator[Callable[[], Console]]:
    """Opens fresh browser contexts on the hub (usually one per test; two for two users at once)."""
    contexts = []

    def open_console() -> Console:
        context = chromium.new_context(base_url=hub.url, viewport={"width": 1400, "height": 900})
        context.set_default_timeout(5000)
        contexts.append(context)
        page = context.new_page()
        opened = Console(page=page)
        page.on("dialog", lambda dialog: (opened.dialogs.append(dialog.message), dialog.dismiss()))
        page.on("pageerror", lambda error: opened.errors.append(str(error)))
        page.on("request", lambda request: opened.requests.append(request.url))
        return opened

    yield open_console
    for context in contexts:
        context.close()
