"""``hub`` as an operator runs it, with one extra plugin: a test fibre adapter for the console's map of fibre
nodes and spans (run as ``python tests/console/fibre_hub.py user add ...`` and ``... run --config FILE``).

The ``console_fibre`` adapter makes a small fibre tree known in the directory, as the dark-fibre health
adapter does (plugins/dark_fibre_health): a core node and cabinets in every node state, each joined to
its upstream by a span whose state is the cabinet's. ``cab-6`` has no coordinates, so its span cannot be
drawn. Its one command, ``set_node(node, state)``, does what the real adapter does when its judge changes
a node's state: it sets the node and its upstream span in the directory and publishes
``fibre.node.<state>`` with the real ``NodeStateChanged`` payload. ``announce_node(node, state)`` publishes
the event alone and leaves the directory as it was: what a console sees when it read the map just before
the adapter wrote the change.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import attrs
from attrs import frozen
from twisted.application.service import Service

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from hub import cli, plugins  # noqa: E402 - after the path is set
from hub.api import AdapterContext, AdapterType, CommandArgument, CommandSpec  # noqa: E402
from hub.commands import outcome_event, subscribe_commands  # noqa: E402
from hub.directory import Asset  # noqa: E402
from hub.events import CommandOutcomeKind, Event, Severity, Subject  # noqa: E402
from hub.hookspecs import hookimpl  # noqa: E402
from plugins.dark_fibre_health.events import (  # noqa: E402
    DOWN,
    EVENT_TYPES,
    NODE_STATES,
    NodeRef,
    NodeStateChanged,
    node_topic,
)

# name: (upstream, state, latitude, longitude, cameras behind, figures)
NODES: dict[str, tuple[str | None, str, float | None, float | None, tuple[str, ...], dict[str, Any]]] = {
    "core-1": (None, "up", 53.2352, -1.4213, ("21", "31", "32", "51", "71"),
               {"loss_pct": 0.0, "rtt_ms": 0.4, "rx_dbm_worst": -4.1}),
    "cab-2": ("core-1", "degraded", 53.2380, -1.4150, ("71",),
              {"reason": "loss 25 % over 20 rounds", "loss_pct": 25.0, "rtt_ms": 3.2, "rx_dbm_worst": -21.7}),
    "cab-3": ("core-1", "down", 53.2320, -1.4120, ("31", "32"),
              {"reason": "no answer to 3 rounds", "loss_pct": 100.0, "rtt_ms": None, "rx_dbm_worst": None}),
    "cab-4": ("cab-3", "unreachable", 53.2290, -1.4060, ("32",), {"reason": "behind cab-3, which is down"}),
    "cab-5": ("core-1", "flapping", 53.2400, -1.4280, ("51",),
              {"reason": "changed state in 45 % of the last 21 rounds", "loss_pct": 40.0, "rtt_ms": 1.1}),
    "cab-6": ("cab-2", "unknown", None, None, (), {}),
    "cab-7": ("cab-2", "up", 53.2420, -1.4100, ("71",), {"loss_pct": 0.0, "rtt_ms": 0.9, "rx_dbm_worst": -6.3}),
}
LENGTHS_M = {"cab-2": 1200.0, "cab-3": 850.0, "cab-4": 640.0, "cab-5": 2300.0, "cab-6": 300.0, "cab-7": 410.0}


def span_name(node: str) -> str:
    """The span from a node's upstream to it, named as the topology names an unconfigured one."""
    return f"{NODES[node][0]}–{node}"


@frozen
class FibreConfig:
    site: str = "Town centre"


_NODE_ARGUMENTS = (
    CommandArgument("node", "Node", max_length=20),
    CommandArgument("state", "State", kind="choice", choices=NODE_STATES),
)
COMMANDS = (
    CommandSpec("set_node", "Set a node's state", arguments=_NODE_ARGUMENTS),
    CommandSpec("announce_node", "Announce a node's state without recording it", arguments=_NODE_ARGUMENTS),
)


class FibreAdapter(Service):
    def __init__(self, context: AdapterContext) -> None:
        self.context = context
        self._commands: Any = None

    def startService(self) -> None:  # noqa: N802 - Twisted's name
        super().startService()
        since = self.context.reactor.seconds() - 300
        for index, (name, (upstream, state, latitude, longitude, cameras, figures)) in enumerate(NODES.items(), 1):
            self.context.directory.put(Asset(
                kind="fibre_node", id=name, source=self.context.name, latitude=latitude, longitude=longitude,
                state=state, state_since=since, attributes={
                    "upstream": upstream, "address": f"10.20.0.{index}",
                    "site": self.context.config.site, "cameras": list(cameras),
                    "span": span_name(name) if upstream else None, "probes": ["icmp", "snmp"],
                    "reason": None, "loss_pct": None, "rtt_ms": None, "rx_dbm_worst": None, **figures}))
            if upstream is not None:
                self.context.directory.put(Asset(
                    kind="fibre_span", id=span_name(name), source=self.context.name, state=state, state_since=since,
                    attributes={"a": upstream, "b": name, "length_m": LENGTHS_M[name], "cores": 24}))
        self._commands = subscribe_commands(self.context, self._on_command)

    def stopService(self) -> None:  # noqa: N802 - Twisted's name
        super().stopService()
        if self._commands is not None:
            self._commands.cancel()

    async def _on_command(self, command: Event) -> None:
        arguments = command.payload.arguments
        name, state = arguments["node"], arguments["state"]
        directory = self.context.directory
        node = directory.get("fibre_node", name)
        if node is None:
            await self.context.bus.publish(outcome_event(
                self.context.events, "console_fibre", command, CommandOutcomeKind.FAILED, f"no node {name}"))
            return
        now = self.context.reactor.seconds()
        span = node.attributes.get("span")
        reason = f"set to {state} by command"
        if command.payload.verb == "set_node":
            directory.put(attrs.evolve(node, state=state, state_since=now,
                                       attributes={**node.attributes, "reason": reason}))
            if span is not None:
                directory.set_state("fibre_span", span, state, now)
        payload = NodeStateChanged(
            node=NodeRef(name=name, address=node.attributes["address"], site=node.attributes["site"],
                         upstream=node.attributes["upstream"]),
            state=state, previous=node.state, reason=reason, span=span, root_cause=state == DOWN,
            cameras=tuple(node.attributes["cameras"]), failed_probes=3 if state == DOWN else 0)
        await self.context.bus.publish(self.context.events(
            node_topic(state), payload, severity=Severity.HIGH if state == DOWN else Severity.INFO,
            subject=Subject(kind="fibre_node", id=name), summary=f"Fibre node {name} is {state}"))
        await self.context.bus.publish(
            outcome_event(self.context.events, "console_fibre", command, CommandOutcomeKind.DELIVERED, reason))


class ConsoleFibrePlugin:
    @hookimpl
    def hub_register_adapter_types(self) -> list[AdapterType]:
        return [AdapterType(name="console_fibre", config_class=FibreConfig, factory=FibreAdapter, commands=COMMANDS)]

    @hookimpl
    def hub_register_event_types(self) -> list[type]:
        # The dark-fibre plugin's own payloads (the same classes, so registering them twice is harmless
        # once that plugin is installed too).
        return list(EVENT_TYPES)


if __name__ == "__main__":
    real = plugins.make_plugin_manager
    cli.make_plugin_manager = lambda **kwargs: real(
        **kwargs, extra_plugins=[(ConsoleFibrePlugin(), "console_fibre")]
    )
    sys.exit(cli.main(sys.argv[1:]))
