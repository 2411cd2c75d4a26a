"""``hub`` as an operator runs it, with one extra plugin beside the real police link: a ``police_fixture``
adapter that gives the police link's console panel and the status panel something to show without a force
at the other end (run as ``python tests/console/police_hub.py user add ...`` and ``... run --config FILE``).

At start it writes, through the hub's database with the police link's own ``PoliceRecords`` jobs and in the
transaction of a ``police.disclosure.recorded`` event, one request from the force awaiting consent, one
footage hold and one disclosure, all of the link named by its ``link`` setting. Its command
``link_state(state)`` publishes ``police.link.<state>`` (``fault``, ``restored``, ``lost``) about that link,
with the police link's own payloads and subject, as the real adapter does when the line goes quiet.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path
from typing import Any

from attrs import frozen
from twisted.application.service import Service
from twisted.internet.defer import Deferred

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from hub import cli, plugins  # noqa: E402 - after the path is set
from hub.api import AdapterContext, AdapterType, CommandArgument, CommandSpec  # noqa: E402
from hub.commands import outcome_event, subscribe_commands  # noqa: E402
from hub.events import CommandOutcomeKind, Event, Severity, Subject  # noqa: E402
from hub.hookspecs import hookimpl  # noqa: E402
from plugins.police_link import events as ev  # noqa: E402
from plugins.police_link.records import (  # noqa: E402
    AWAITING_CONSENT,
    Disclosure,
    HoldRecord,
    PoliceRecords,
    RequestRecord,
    together,
)

REQUEST_ID = "DC-2026-0042"
CRIME_REFERENCE = "CR/11/2026/0042"
DISCLOSED_ITEM = "CAM-12"


@frozen
class FixtureConfig:
    link: str = "police_link.force"
    force: str = "Derbyshire Constabulary"


class PoliceFixture(Service):
    def __init__(self, context: AdapterContext) -> None:
        self.context = context
        self.config: FixtureConfig = context.config
        self._commands: Any = None

    def startService(self) -> Deferred[None]:  # noqa: N802 - Twisted's name
        super().startService()
        self._commands = subscribe_commands(self.context, self._on_command)
        return Deferred.fromCoroutine(self._seed())

    def stopService(self) -> None:  # noqa: N802 - Twisted's name
        super().stopService()
        if self._commands is not None:
            self._commands.cancel()

    async def _seed(self) -> None:
        context, link = self.context, self.config.link
        records = PoliceRecords(context.database, link)
        if REQUEST_ID in records.request_ids():
            return
        now = context.reactor.seconds()
        request = RequestRecord(
            link=link, request_id=REQUEST_ID, request_type="retain_footage", version=1, transaction_id="t-0042",
            received_at=now - 120, deadline=None, state=AWAITING_CONSENT, needs_consent=True,
            payload={"request_type": "retain_footage", "version": 1, "request_id": REQUEST_ID,
                     "crime_reference": CRIME_REFERENCE, "cameras": ["12"], "start": "2026-11-22T01:00:00+00:00",
                     "end": "2026-11-22T01:30:00+00:00", "reason": "assault outside the Market Tavern",
                     "requested_by": {"name": "DC Sam Patel", "force": self.config.force, "collar_number": "2291"}})
        hold = HoldRecord(id=records.next_hold_id(), link=link, request_id=REQUEST_ID,
                          crime_reference=CRIME_REFERENCE, cameras=("12",), start="2026-11-22T01:00:00+00:00",
                          end="2026-11-22T01:30:00+00:00", retain_until=None, created_at=now - 60)
        disclosure = Disclosure(
            id=records.next_disclosure_id(), at=now - 30, link=link, recipient=self.config.force, what="live_view",
            item=DISCLOSED_ITEM, why="suspect seen near the <b>market</b>", request_id=REQUEST_ID,
            crime_reference=CRIME_REFERENCE, released_by="olive", expires_at=now + 900, sha256=None,
            detail={"minutes": 15})
        event = context.events(
            ev.DISCLOSURE_RECORDED,
            ev.DisclosureRecorded(disclosure_id=disclosure.id, what=disclosure.what, item=disclosure.item,
                                  recipient=disclosure.recipient, why=disclosure.why,
                                  released_by=disclosure.released_by, request_id=REQUEST_ID,
                                  crime_reference=CRIME_REFERENCE),
            severity=Severity.INFO, subject=Subject(kind="police_request", id=REQUEST_ID),
            summary=f"Live view of camera 12 shared with {self.config.force}")
        try:
            await context.bus.publish(event, also=together(
                records.request_job(request), records.hold_job(hold), records.disclosure_job(disclosure)))
        except sqlite3.IntegrityError:
            context.log.warning("police_fixture_already_seeded")

    async def _on_command(self, command: Event) -> None:
        state = command.payload.arguments["state"]
        payloads = {
            "fault": (ev.LineFault(silent_for_s=90.0, backlog=3), Severity.HIGH, "Police link line fault"),
            "restored": (ev.LinkRestored(fault_lasted_s=30.0, backlog=0), Severity.INFO, "Police link restored"),
            "lost": (ev.LinkLost(reason="connection refused", backlog=3), Severity.LOW, "Police link down"),
        }
        payload, severity, summary = payloads[state]
        await self.context.bus.publish(self.context.events(
            f"police.link.{state}", payload, severity=severity,
            subject=Subject(kind="partner_link", id=self.config.link, name=self.config.force), summary=summary))
        await self.context.bus.publish(outcome_event(self.context.events, "police_fixture", command,
                                                     CommandOutcomeKind.DELIVERED, None))


COMMANDS = (
    CommandSpec("link_state", "Report the police link's state", arguments=(
        CommandArgument("state", "State", kind="choice", choices=("fault", "restored", "lost")),)),
)


class PoliceFixturePlugin:
    @hookimpl
    def hub_register_adapter_types(self) -> list[AdapterType]:
        return [AdapterType(name="police_fixture", config_class=FixtureConfig, factory=PoliceFixture,
                            commands=COMMANDS)]


if __name__ == "__main__":
    real = plugins.make_plugin_manager
    cli.make_plugin_manager = lambda **kwargs: real(
        **kwargs, extra_plugins=[(PoliceFixturePlugin(), "police_fixture")]
    )
    sys.exit(cli.main(sys.argv[1:]))
