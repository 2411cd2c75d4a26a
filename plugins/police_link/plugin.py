"""The police_link plugin: the hooks through which a link to a force control room joins the hub.

The entry point ``police_link = plugins.police_link.plugin:plugin`` names the ``plugin`` object at the end.
"""

from __future__ import annotations

from pathlib import Path

from hub.api import (
    AdapterType,
    Benchmark,
    CliCommand,
    ConsolePanel,
    PluginSchema,
    SimulatorType,
    WebRoute,
)
from hub.hookspecs import hookimpl
from plugins.police_link import bench, peer_cli
from plugins.police_link.adapter import PoliceLinkAdapter
from plugins.police_link.cli import PKI_COMMAND
from plugins.police_link.commands import COMMANDS
from plugins.police_link.config import PoliceLinkConfig
from plugins.police_link.events import EVENT_TYPES
from plugins.police_link.schema import POLICE_SCHEMA
from plugins.police_link.simulator import POLICE_PEER_SIMULATOR
from plugins.police_link.web import WEB_ROUTES


class PoliceLinkPlugin:
    """The object pluggy registers. It holds no state: every adapter instance keeps its own."""

    @hookimpl
    def hub_register_adapter_types(self) -> list[AdapterType]:
        return [
            AdapterType(
                name="police_link",
                config_class=PoliceLinkConfig,
                factory=PoliceLinkAdapter,
                description=(
                    "a force control room over one mutual-TLS WebSocket: incidents out as CAP 1.2 alerts, "
                    "the force's requests in (live view, footage, presets, monitoring), nothing confirmed "
                    "lost, every release in the disclosure log"
                ),
                commands=COMMANDS,
            )
        ]

    @hookimpl
    def hub_register_event_types(self) -> list[type]:
        return list(EVENT_TYPES)

    @hookimpl
    def hub_register_schemas(self) -> list[PluginSchema]:
        return [POLICE_SCHEMA]

    @hookimpl
    def hub_register_simulators(self) -> list[SimulatorType]:
        return [POLICE_PEER_SIMULATOR]

    @hookimpl
    def hub_register_web_routes(self) -> list[WebRoute]:
        return list(WEB_ROUTES)

    @hookimpl
    def hub_register_console_panels(self) -> list[ConsolePanel]:
        return [
            ConsolePanel(
                name="police",
                title="Police link",
                script_path=str(Path(__file__).with_name("static") / "police.js"),
                description="Each link to the force, its open requests, footage held and the disclosure log",
            )
        ]

    @hookimpl
    def hub_register_cli_commands(self) -> list[CliCommand]:
        return [
            PKI_COMMAND,
            CliCommand(
                name="police-peer",
                help="run the force's end of the police link: see what the hub sends, answer it, send requests",
                add_arguments=peer_cli.add_arguments,
                run=peer_cli.run,
            ),
        ]

    @hookimpl
    def hub_register_benchmarks(self) -> list[Benchmark]:
        return [
            Benchmark(
                name="police",
                help=("alerts queued during an outage drained over mutual TLS to a reference force end, beside "
                      "raw WebSocket round trips on the same connection; latency of a new alert on an idle link"),
                add_arguments=bench.add_arguments,
                run=bench.run_benchmark,
            )
        ]


plugin = PoliceLinkPlugin()
