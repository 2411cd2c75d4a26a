"""A whole hub on the real reactor for integration tests: journal, incident engine, rule actions, real adapters
and their simulators, started from a TOML config as ``hub run`` starts one (web console off).

The real ONVIF and shopwatch plugins are registered by hand, so the test runs with exactly the peers it names.
Every wait is for a condition, with a deadline.
"""

from __future__ import annotations

import socket
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater

from hub.app import Hub
from hub.config import validate
from hub.events import Event
from hub.plugins import make_plugin_manager
from plugins.onvif.plugin import plugin as onvif_plugin
from plugins.shopwatch.plugin import plugin as shopwatch_plugin

#: Each wait's deadline: every step takes milliseconds on loopback; this is for a loaded CI machine.
DEADLINE_S = 10.0
CAMERA_PASSWORD = "integration-camera-pw-93d1"

#: The ONVIF adapter's timings, short enough for a test.
FAST_ONVIF = """
startup_spread_s = 0
retry_min_s = 0.2
retry_max_s = 0.5
poll_timeout_s = 2
subscription_s = 10
request_timeout_s = 3
connect_timeout_s = 1
failures_before_offline = 1
"""


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive TCP ports free on loopback now (a simulated fleet takes a run)."""
    for _attempt in range(50):
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        first = probe.getsockname()[1]
        probe.close()
        if first + count > 65535:
            continue
        held = []
        try:
            for port in range(first, first + count):
                sock = socket.socket()
                held.append(sock)
                sock.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for sock in held:
                sock.close()
    raise RuntimeError(f"no {count} consecutive free ports on 127.0.0.1")


def onvif_tables(cameras: dict[str, tuple[float, float]], presets: list[str], base_port: int) -> str:
    """A simulator playing ``cameras`` (numbers in a run, each with its place) and the ONVIF adapter on them."""
    numbers = sorted(cameras, key=int)
    first = int(numbers[0])
    assert [int(number) for number in numbers] == list(range(first, first + len(numbers)))
    presets_toml = ", ".join(f'"{name}"' for name in presets)
    text = f"""
[simulators.camera_fleet]
type = "onvif"
cameras = {len(numbers)}
first_number = {first}
base_port = {base_port}
username = "hub"
password = {{ env = "CAMERA_PASSWORD" }}
presets = [{presets_toml}]

[adapters.cameras]
type = "onvif"
username = "hub"
password = {{ env = "CAMERA_PASSWORD" }}
{FAST_ONVIF}
"""
    for index, number in enumerate(numbers):
        latitude, longitude = cameras[number]
        text += f"""
[adapters.cameras.cameras."{number}"]
name = "Camera {number}"
host = "127.0.0.1"
port = {base_port + index}
latitude = {latitude}
longitude = {longitude}
"""
    return text


async def pause(seconds: float) -> None:
    await deferLater(reactor, seconds, lambda: None)


class LiveHub:
    """A ``Hub`` built from ``text`` (TOML) in ``folder``, on the real reactor; every event it journals is kept."""

    def __init__(self, folder: Path, text: str) -> None:
        self.folder = folder
        host = make_plugin_manager(load_entry_points=False,
                                   extra_plugins=[(onvif_plugin, "onvif"), (shopwatch_plugin, "shopwatch")])
        raw = tomllib.loads(f'[hub]\ndata_dir = "data"\n[web]\nenabled = false\n{text}')
        self.config = validate(raw, folder / "hub.toml", host.adapter_types(), {"CAMERA_PASSWORD": CAMERA_PASSWORD},
                               simulator_types=host.simulator_types())
        self.hub = Hub(self.config, host, reactor)
        self.events: list[Event] = []
        self._started = False

    async def start(self) -> None:
        await self.hub.startService()
        self._started = True
        assert self.hub.bus is not None
        self.hub.bus.subscribe("#", self.events.append, name="integration-watch", since=0)
        assert not self.hub.simulator_failures, self.hub.simulator_failures

    async def stop(self) -> None:
        if self._started:
            self._started = False
            await self.hub.stopService()

    def simulator(self, name: str) -> Any:
        return self.hub.simulators[name]

    async def first(self, wanted: Callable[[Event], bool], what: str, deadline_s: float = DEADLINE_S) -> Event:
        """The first event (already journaled or still to come) for which ``wanted`` is true."""
        found = await until(lambda: next((event for event in self.events if wanted(event)), None),
                            what, deadline_s, lambda: [event.topic for event in self.events])
        return found

    def of(self, topic: str) -> list[Event]:
        return [event for event in self.events if event.topic == topic]


async def until(condition: Callable[[], Any], what: str, deadline_s: float = DEADLINE_S,
                seen: Callable[[], Any] | None = None) -> Any:
    """Poll ``condition`` on the reactor until it is truthy (its value is returned), or fail saying ``what``."""
    give_up = reactor.seconds() + deadline_s
    while True:
        value = condition()
        if value:
            return value
        if reactor.seconds() >= give_up:
            extra = f"; seen: {seen()}" if seen is not None else ""
            raise AssertionError(f"not within {deadline_s:g} s: {what}{extra}")
        await pause(0.02)


def waiting(deferred: Deferred[Any], what: str, deadline_s: float = DEADLINE_S) -> Deferred[Any]:
    """``deferred`` with a deadline that fails saying ``what``."""

    def timed_out(failure: Any) -> Any:
        from twisted.internet.defer import TimeoutError

        failure.trap(TimeoutError)
        raise AssertionError(f"not within {deadline_s:g} s: {what}")

    return deferred.addTimeout(deadline_s, reactor).addErrback(timed_out)
