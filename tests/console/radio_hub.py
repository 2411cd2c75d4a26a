"""``hub`` as an operator runs it, with one extra plugin: a test radio adapter whose commands the console
tests use (run as ``python tests/console/radio_hub.py user add ...`` and ``... run --config FILE``).

The ``console_radio`` adapter offers three commands:

- ``report`` (status panel only): the adapter publishes ``console_radio.report.received`` (high, so an
  incident opens) for the unit and camera given, then answers ``sent``; cameras named in ``covers``
  (numbers, space-separated) are what the report's payload says it covers, as a root cause's would;
- ``broadcast`` (status panel only): answered ``sent``;
- ``reply``, offered on incidents holding a report: its unit and camera are prefilled from the report;
  answered ``delivered`` with the text it was given.

It reports ``console_radio_reports_total`` (reports simulated) through ``metrics()``, for ``/metrics``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, ClassVar

from attrs import frozen
from twisted.application.service import Service

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from hub import cli, plugins  # noqa: E402 - after the path is set
from hub.api import AdapterContext, AdapterType, CommandArgument, CommandSpec, MetricSample  # noqa: E402
from hub.commands import outcome_event, subscribe_commands  # noqa: E402
from hub.events import CommandOutcomeKind, Event, Location, Severity, Subject  # noqa: E402
from hub.hookspecs import hookimpl  # noqa: E402


@frozen
class RadioConfig:
    site: str = "High Street"


@frozen
class Member:
    unit: str


@frozen
class RadioReportReceived:
    """A handset's report."""

    TYPE: ClassVar[str] = "console_radio.report"

    member: Member
    text: str
    covers: tuple[str, ...] = ()


COMMANDS = (
    CommandSpec("report", "Simulate a report", arguments=(
        CommandArgument("unit", "Unit", max_length=20),
        CommandArgument("camera", "Camera", kind="camera", required=False),
        CommandArgument("text", "Report text", max_length=100),
        CommandArgument("covers", "Covers cameras", required=False, max_length=100),
    )),
    CommandSpec("broadcast", "Broadcast to the scheme", arguments=(CommandArgument("text", "Text", max_length=32),)),
    CommandSpec("reply", "Reply to the unit", arguments=(
        CommandArgument("unit", "Unit", max_length=20, prefill="payload.member.unit"),
        CommandArgument("camera", "Camera on it", kind="camera", required=False, prefill="location.camera"),
        CommandArgument("text", "Text", max_length=32),
    ), applies_to=("console_radio.report.received",)),
)


class RadioAdapter(Service):
    def __init__(self, context: AdapterContext) -> None:
        self.context = context
        self._commands: Any = None
        self.reports = 0

    def metrics(self) -> list[MetricSample]:
        return [MetricSample("console_radio_reports_total", "counter", "Reports simulated since start.",
                             self.reports, {"site": self.context.config.site})]

    def startService(self) -> None:  # noqa: N802 - Twisted's name
        super().startService()
        self._commands = subscribe_commands(self.context, self._on_command)

    def stopService(self) -> None:  # noqa: N802 - Twisted's name
        super().stopService()
        if self._commands is not None:
            self._commands.cancel()

    async def _on_command(self, command: Event) -> None:
        request = command.payload
        arguments = request.arguments
        if request.verb == "report":
            unit, camera = arguments["unit"], arguments.get("camera")
            covers = tuple(f"camera:{number}" for number in (arguments.get("covers") or "").split())
            self.reports += 1
            await self.context.bus.publish(self.context.events(
                "console_radio.report.received",
                RadioReportReceived(member=Member(unit), text=arguments["text"], covers=covers),
                severity=Severity.HIGH,
                subject=Subject(kind="radio_unit", id=f"{self.context.name}.{unit}", name=f"Unit {unit}"),
                location=Location(name=self.context.config.site, camera=camera),
                summary=f"{arguments['text']} (unit {unit})",
            ))
            outcome, detail = CommandOutcomeKind.SENT, None
        elif request.verb == "reply":
            outcome, detail = CommandOutcomeKind.DELIVERED, f"unit {arguments['unit']} has it"
        else:
            outcome, detail = CommandOutcomeKind.SENT, f"to all units: {arguments['text']}"
        await self.context.bus.publish(outcome_event(self.context.events, "console_radio", command, outcome, detail))


class ConsoleRadioPlugin:
    @hookimpl
    def hub_register_adapter_types(self) -> list[AdapterType]:
        return [AdapterType(name="console_radio", config_class=RadioConfig, factory=RadioAdapter, commands=COMMANDS)]

    @hookimpl
    def hub_register_event_types(self) -> list[type]:
        return [RadioReportReceived]


if __name__ == "__main__":
    real = plugins.make_plugin_manager
    cli.make_plugin_manager = lambda **kwargs: real(
        **kwargs, extra_plugins=[(ConsoleRadioPlugin(), "console_radio")]
    )
    sys.exit(cli.main(sys.argv[1:]))
