"""The whole hub on the real reactor, for the fibre adapter's end-to-end tests in network namespaces.

``HubScene`` is ``hub.app.Hub`` itself (journal, bus, incident engine with its rules, directory, adapters
under supervision), built from the tables a ``hub.toml`` would hold and the plugins registered by hand,
so what the tests see is what a control room would. ``Watch`` keeps every event the bus delivers and
waits for one with a deadline. ``start_cameras`` runs ``hub onvif-sim`` inside a network's camera
namespaces, one process per camera so that one camera can be switched off on its own.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater

from hub.app import Hub
from hub.config import validate
from hub.events import Event
from hub.incidents.model import Incident, IncidentState
from hub.plugins import make_plugin_manager
from hub.sqlite_writer import InlineSqliteWriter
from plugins.dark_fibre_health.plugin import plugin as fibre_plugin
from plugins.onvif.plugin import plugin as onvif_plugin
from tests.plugins.dark_fibre_health.netns import FibreNetwork, Process

#: A wait's deadline when nothing slower than a probe round or a camera's retry is involved.
DEADLINE_S = 15.0
CAMERA_PORT = 8000
CAMERA_USER = "hub"
CAMERA_PASSWORD = "fibre-sim-6Hq2"
HUB_COMMAND = Path(sys.executable).with_name("hub")
OPEN_STATES = (IncidentState.NEW, IncidentState.ACKNOWLEDGED, IncidentState.IN_PROGRESS)


def pause(seconds: float) -> Deferred[None]:
    return deferLater(reactor, seconds, lambda: None)


async def until(condition: Callable[[], Any], what: str, deadline_s: float = DEADLINE_S) -> Any:
    """Poll ``condition`` on the reactor until it is truthy (its value is returned), or fail saying ``what``."""
    give_up = reactor.seconds() + deadline_s
    while True:
        value = condition()
        if value:
            return value
        if reactor.seconds() >= give_up:
            raise AssertionError(f"not within {deadline_s:g} s: {what}")
        await pause(0.05)


def about(event: Event, kind: str, ident: str) -> bool:
    return event.subject is not None and event.subject.kind == kind and event.subject.id == ident


class Watch:
    """Every event the bus delivers, in order."""

    def __init__(self, bus: Any) -> None:
        self.events: list[Event] = []
        self.subscription = bus.subscribe("#", self.events.append)

    def mark(self) -> int:
        """Where the events seen so far end: pass it as ``since`` to look only at later ones."""
        return len(self.events)

    def find(self, topic: str, kind: str | None = None, ident: str | None = None, *, since: int = 0,
             where: Callable[[Event], bool] = lambda event: True) -> list[Event]:
        return [event for event in self.events[since:]
                if event.topic == topic and (kind is None or about(event, kind, ident or ""))
                and where(event)]

    async def first(self, topic: str, kind: str | None = None, ident: str | None = None, *, since: int = 0,
                    deadline_s: float = DEADLINE_S, where: Callable[[Event], bool] = lambda event: True) -> Event:
        def found() -> Event | None:
            matches = self.find(topic, kind, ident, since=since, where=where)
            return matches[0] if matches else None

        try:
            return await until(found, f"{topic} about {kind}:{ident}", deadline_s)
        except AssertionError as error:
            seen = [(event.topic, event.subject.id if event.subject else None) for event in self.events[since:]
                    if not event.topic.startswith("incident.")]
            raise AssertionError(f"{error}; seen since: {seen}") from None


def inline_writer(path: Path, settings: Any, clock: Any, migrations: Any) -> InlineSqliteWriter:
    return InlineSqliteWriter(path, settings, clock, migrations)


class HubScene:
    """``Hub`` with the ONVIF and fibre plugins, configured by ``adapters`` and ``incidents`` tables."""

    def __init__(self, tmp_path: Path, *, adapters: Mapping[str, Any], incidents: Mapping[str, Any],
                 environ: Mapping[str, str] | None = None) -> None:
        host = make_plugin_manager(load_entry_points=False,
                                   extra_plugins=[(onvif_plugin, "onvif"), (fibre_plugin, "dark_fibre_health")])
        raw = {
            "hub": {"name": "Fibre test room", "data_dir": str(tmp_path / "data"), "shutdown_grace_s": 5},
            "web": {"enabled": False},
            "adapters": dict(adapters),
            "incidents": dict(incidents),
        }
        config = validate(raw, tmp_path / "hub.toml", host.adapter_types(), environ=dict(environ or {}),
                          simulator_types=host.simulator_types())
        self.hub = Hub(config, host, reactor, writer_factory=inline_writer, rng=random.Random(6))
        self.watch: Watch | None = None
        self.started = False

    async def start(self) -> None:
        # The watch subscribes once the bus exists (during start-up) and before any adapter speaks: the
        # incident engine and adapters start with the hub's services, after the bus is open.
        starting = self.hub.startService()
        self.watch = Watch(self.hub.bus)
        await starting
        self.started = True

    async def stop(self) -> None:
        if self.started:
            self.started = False
            await self.hub.stopService()

    @property
    def events(self) -> Watch:
        assert self.watch is not None
        return self.watch

    def adapter(self, source: str) -> Any:
        """The running adapter service of instance ``source`` (e.g. ``fibre.ring``)."""
        return self.hub.adapters[source].service

    def incidents(self, states: Iterable[IncidentState] | None = None) -> list[Incident]:
        assert self.hub.incidents is not None
        return self.hub.incidents.list(states=states)

    def open_incidents(self) -> list[Incident]:
        return self.incidents(OPEN_STATES)

    def incident_about(self, kind: str, ident: str) -> Incident | None:
        found = [incident for incident in self.incidents()
                 if incident.subject.kind == kind and incident.subject.id == ident]
        return found[-1] if found else None

    def incident_events(self, incident: Incident) -> list[Event]:
        assert self.hub.incidents is not None
        return list(self.hub.incidents.detail(incident.id).events)


def start_cameras(network: FibreNetwork, cameras: Mapping[str, tuple[str, str]], logs: Path,
                  timeout_s: float = 20.0) -> dict[str, Process]:
    """``hub onvif-sim`` for each camera number in ``cameras`` (number -> (node, address)), inside the camera
    namespace of its node, listening on its address, logging to ``logs``/camera-N.log; returns once all
    say they are ready."""
    logs.mkdir(parents=True, exist_ok=True)
    started: dict[str, Process] = {}
    environ = {**os.environ, "ONVIF_PASSWORD": CAMERA_PASSWORD}
    for number, (node, address) in cameras.items():
        with open(logs / f"camera-{number}.log", "w") as log:
            started[number] = network.run(
                network.camera_namespace(node),
                [str(HUB_COMMAND), "onvif-sim", "--cameras", "1", "--first-number", number, "--host", address,
                 "--base-port", str(CAMERA_PORT), "--username", CAMERA_USER],
                env=environ, stdout=subprocess.PIPE, stderr=log,
            )
    for number, process in started.items():
        line = process.readline(timeout_s)
        if not line.startswith("onvif-sim ready"):
            process.stop()
            errors = (logs / f"camera-{number}.log").read_text()[-2000:]
            raise AssertionError(f"simulated camera {number} did not start: {line!r} {errors}")
    return started


def onvif_adapter(cameras: Mapping[str, tuple[str, str]]) -> dict[str, Any]:
    """An ``[adapters.NAME]`` table for the ONVIF adapter watching ``cameras``, with timings short enough for
    a test: a camera is offline at its first failed request, a request fails after 2 s."""
    return {
        "type": "onvif",
        "username": CAMERA_USER,
        "password": {"env": "FIBRE_TEST_ONVIF_PASSWORD"},
        "startup_spread_s": 0.0, "retry_min_s": 0.2, "retry_max_s": 0.5, "poll_timeout_s": 1.0,
        "subscription_s": 10.0, "request_timeout_s": 2.0, "connect_timeout_s": 0.5,
        "failures_before_offline": 1,
        "cameras": {number: {"host": address, "port": CAMERA_PORT, "name": f"Camera {number}", "fibre_node": node}
                    for number, (node, address) in cameras.items()},
    }


ONVIF_ENVIRON = {"FIBRE_TEST_ONVIF_PASSWORD": CAMERA_PASSWORD}
