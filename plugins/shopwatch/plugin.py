"""The shopwatch plugin: the hooks through which radio schemes join the hub.

The entry point ``shopwatch = plugins.shopwatch.plugin:plugin`` names the ``plugin`` object at the end.
"""

from __future__ import annotations

from hub.api import AdapterType, Benchmark, CliCommand, SimulatorType
from hub.hookspecs import hookimpl
from plugins.shopwatch import bench, simulator
from plugins.shopwatch.adapter import ShopwatchAdapter
from plugins.shopwatch.commands import COMMANDS
from plugins.shopwatch.config import ShopwatchConfig
from plugins.shopwatch.events import EVENT_TYPES
from plugins.shopwatch.members import declared_assets


class ShopwatchPlugin:
    """The object pluggy registers. It holds no state: every adapter instance keeps its own."""

    @hookimpl
    def hub_register_adapter_types(self) -> list[AdapterType]:
        return [
            AdapterType(
                name="shopwatch",
                config_class=ShopwatchConfig,
                factory=ShopwatchAdapter,
                description=(
                    "Shopwatch and Pubwatch radio schemes: a base radio on a serial port speaking Tait CCDI "
                    "or Kenwood FleetSync; emergencies, status codes and texts in, broadcasts and replies out"
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
        return [simulator.SHOPWATCH_SIMULATOR]

    @hookimpl
    def hub_register_cli_commands(self) -> list[CliCommand]:
        return [
            CliCommand(
                name="shopwatch-sim",
                help="run a simulated base radio and handsets on a pseudo-terminal, to try the adapter with",
                add_arguments=simulator.add_arguments,
                run=simulator.run,
            )
        ]

    @hookimpl
    def hub_register_benchmarks(self) -> list[Benchmark]:
        return [
            Benchmark(
                name="shopwatch",
                help="radio decoding against a 115200-baud line, and emergency latency from a pty to the bus",
                add_arguments=bench.add_arguments,
                run=bench.run_benchmark,
            )
        ]


plugin = ShopwatchPlugin()
