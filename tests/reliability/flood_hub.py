"""A real hub process whose one adapter publishes without pause, printing each confirmed publish.

Used by the crash-safety tests: ``python flood_hub.py CONFIG`` runs the hub as ``hub run`` does (real
reactor, threaded journal writer, supervision) with a ``flood`` adapter type added as a plugin. Every
time a publish's Deferred fires, one line ``seq event_id`` is written to stdout: that is the hub's
promise that the event is durable.
"""

from __future__ import annotations

import sys
from typing import ClassVar

import attrs
from twisted.application.service import Service

from hub import hookimpl
from hub.api import AdapterType
from hub.cli import _serve
from hub.config import load_config
from hub.events import Severity, Subject
from hub.plugins import make_plugin_manager


@attrs.frozen
class FloodSettings:
    per_tick: int = 50


@attrs.frozen
class Flooded:
    TYPE: ClassVar[str] = "flood.message"

    number: int


class FloodAdapter(Service):
    def __init__(self, context):
        self.context = context
        self.number = 0
        self.call = None

    def startService(self):
        super().startService()
        self.call = self.context.reactor.callLater(0, self.tick)

    def stopService(self):
        if self.call is not None and self.call.active():
            self.call.cancel()
        return super().stopService()

    def tick(self):
        for _ in range(self.context.config.per_tick):
            self.number += 1
            event = self.context.events(
                "flood.message.sent",
                Flooded(self.number),
                severity=Severity.INFO,
                subject=Subject(kind="test", id="flood"),
                summary=f"message {self.number}",
            )
            self.context.bus.publish(event).addCallback(self.confirmed, event.id)
        self.call = self.context.reactor.callLater(0.001, self.tick)

    def confirmed(self, seq, event_id):
        sys.stdout.write(f"{seq} {event_id}\n")
        sys.stdout.flush()


class FloodPlugin:
    @hookimpl
    def hub_register_adapter_types(self):
        return [AdapterType("flood", FloodSettings, FloodAdapter, "publishes without pause")]

    @hookimpl
    def hub_register_event_types(self):
        return [Flooded]


def main(config_path: str) -> int:
    host = make_plugin_manager(load_entry_points=False, extra_plugins=[(FloodPlugin(), "flood")])
    config = load_config(config_path, host.adapter_types())
    return _serve(config, host, banner=None)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
