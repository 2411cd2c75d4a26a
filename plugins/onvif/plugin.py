"""The onvif plugin: the hooks through which ONVIF cameras join the hub.

The entry point ``onvif = plugins.onvif.plugin:plugin`` names the ``plugin`` object at the end.
"""

from __future__ import annotations

from hub.api import AdapterType, Benchmark, CliCommand, SimulatorType
from hub.hookspecs import hookimpl
from plugins.onvif import bench, cli, simulator
from plugins.onvif.adapter import OnvifAdapter, declared_assets
from plugins.onvif.commands import COMMANDS
from plugins.onvif.config import OnvifConfig
from plugins.onvif.events import EVENT_TYPES


class OnvifPlugin:
    """The object pluggy registers. It holds no state: every adapter instance keeps its own."""

    @hookimpl
    def hub_register_adapter_types(self) -> list[AdapterType]:
        return [
            AdapterType(
                name="onvif",
                config_class=OnvifConfig,
                factory=OnvifAdapter,
                description=(
                    "ONVIF cameras (Profile S and T): events by pull point, PTZ presets and moves, snapshots "
                    "as evidence, stream addresses, and each camera's health; many cameras per instance"
                ),
                commands=COMMANDS,
                assets=declared_assets,
            )
        ]

    @hookimpl
    def hub_register_event_types(self) -> list[type]:
        return list(EVENT_TYPES)

    @hookimpl
    def hub_register_simulators(self) -> list[SimulatorType]:
        return [simulator.ONVIF_SIMULATOR]

    @hookimpl
    def hub_register_cli_commands(self) -> list[CliCommand]:
        return [
            CliCommand(
                name="onvif",
                help="ONVIF tools: 'discover' lists the cameras that answer WS-Discovery, with config lines",
                add_arguments=cli.add_arguments,
                run=cli.run,
            ),
            CliCommand(
                name="onvif-sim",
                help="run simulated ONVIF cameras, one port each, with events and quirks, to try the adapter with",
                add_arguments=simulator.add_arguments,
                run=simulator.run,
            ),
        ]

    @hookimpl
    def hub_register_benchmarks(self) -> list[Benchmark]:
        return [
            Benchmark(
                name="onvif",
                help=("a fleet of simulated cameras with live pull points, driven by the hub and by "
                      "onvif-zeep-async: CPU per 1,000 events, camera-to-bus latency, peak memory"),
                add_arguments=bench.add_arguments,
                run=bench.run_benchmark,
            )
        ]


plugin = OnvifPlugin()
