"""The dark_fibre_health plugin: the hooks through which the fibre network joins the hub.

The entry point ``dark_fibre_health = plugins.dark_fibre_health.plugin:plugin`` names the ``plugin``
object at the end.
"""

from __future__ import annotations

from hub.api import AdapterType, Benchmark, CliCommand, SimulatorType
from hub.hookspecs import hookimpl
from plugins.dark_fibre_health import bench, simulator
from plugins.dark_fibre_health.adapter import FibreAdapter
from plugins.dark_fibre_health.config import FibreConfig
from plugins.dark_fibre_health.events import EVENT_TYPES
from plugins.dark_fibre_health.outage import declared_assets


class FibrePlugin:
    """The object pluggy registers. It holds no state: every adapter instance keeps its own."""

    @hookimpl
    def hub_register_adapter_types(self) -> list[AdapterType]:
        return [
            AdapterType(
                name="fibre",
                config_class=FibreConfig,
                factory=FibreAdapter,
                description=(
                    "dark-fibre node health: ICMP, TCP and SNMP probes paced over the interval, optical "
                    "power and thresholds, up/degraded/down/unreachable/flapping with hysteresis, and one "
                    "root-cause incident per failed node naming its span and every camera behind it"
                ),
                assets=declared_assets,
            )
        ]

    @hookimpl
    def hub_register_event_types(self) -> list[type]:
        return list(EVENT_TYPES)

    @hookimpl
    def hub_register_simulators(self) -> list[SimulatorType]:
        return [simulator.FIBRE_SIMULATOR]

    @hookimpl
    def hub_register_cli_commands(self) -> list[CliCommand]:
        return [
            CliCommand(
                name="fibre-sim",
                help="run simulated fibre nodes (SNMP agents and management ports) with scripted faults",
                add_arguments=simulator.add_arguments,
                run=simulator.run,
            ),
        ]

    @hookimpl
    def hub_register_benchmarks(self) -> list[Benchmark]:
        return [
            Benchmark(
                name="fibre",
                help=("1,000 nodes probed by ICMP once a second by the hub and by fping in the same run: CPU "
                      "per 1,000 probes and their ratio; and the time from a link going down to its incident"),
                add_arguments=bench.add_arguments,
                run=bench.run_benchmark,
            )
        ]


plugin = FibrePlugin()
