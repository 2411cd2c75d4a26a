"""The web layer over the real pieces: the incident engine, the user store and the audit log on one
SQLite file, with real argon2 logins, end to end over HTTP and the stream."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest_twisted
from twisted.internet import reactor

from hub.audit import AuditLog, verify_chain
from hub.auth.partners import PartnerGate
from hub.auth.sessions import SessionManager
from hub.auth.throttle import LoginThrottle
from hub.auth.users import UserStore
from hub.bus import Bus
from hub.config import HubConfig, IncidentsConfig, PartnerConfig
from hub.directory import Directory
from hub.events import (
    CORE_EVENT_TYPES,
    EventCodec,
    EventFactory,
    EventTypeRegistry,
    Severity,
    Subject,
)
from hub.incidents.engine import IncidentEngine
from hub.incidents.events import INCIDENT_EVENT_TYPES
from hub.incidents.store import IncidentStore
from hub.journal import Journal
from hub.secrets import Secret
from hub.sqlite_writer import InlineSqliteWriter, WriterSettings
from hub.store import HUB_MIGRATIONS
from hub.testing import Note
from hub.web.service import WebService
from tests.hub.web.client import WebClient, open_stream
from tests.hub.web.conftest import PARTNER_KEY, RADIO, web_config
from tests.hub.web.fakes import FakeAdapters, FakeStatus


class Stack:
    """One hub's worth of real pieces on one database file."""

    async def start(self, tmp_path: Any, incidents: IncidentsConfig | None = None,
                    adapters: tuple[FakeStatus, ...] = (FakeStatus("radio.town_centre", "radio"),),
                    adapter_types: dict[str, Any] | None = None,
                    users: dict[str, str] | None = None) -> "Stack":
        self.path = tmp_path / "journal.sqlite3"
        self.writer = InlineSqliteWriter(self.path, WriterSettings(), reactor, HUB_MIGRATIONS)
        registry = EventTypeRegistry()
        registry.register_all(CORE_EVENT_TYPES + INCIDENT_EVENT_TYPES + (Note,))
        journal = Journal(self.writer)
        journal.open()
        self.bus = Bus(journal, EventCodec(registry), reactor)
        self.events = EventFactory(reactor, "test.harness")
        self.audit = AuditLog(self.writer, reactor, self.path)
        self.users = UserStore(self.writer, reactor, self.path)
        for name, role in (users or {"olive": "operator", "aud": "auditor"}).items():
            await self.users.add(name, role, "correct horse battery")
        incidents = incidents if incidents is not None else IncidentsConfig()
        self.engine = IncidentEngine(bus=self.bus, store=IncidentStore(self.path), config=incidents,
                                     clock=reactor, events=self.events.for_source("hub.incidents"),
                                     audit=self.audit)
        self.engine.startService()
        config = HubConfig(path=tmp_path / "hub.toml", web=web_config(), incidents=incidents,
                           partners={"shopwatch_app": PartnerConfig(key=Secret(PARTNER_KEY))})
        self.sessions = SessionManager(reactor, 1800, 43200, still_allowed=self.users.is_enabled)
        self.web = WebService(
            bus=self.bus, incidents=self.engine, users=self.users, sessions=self.sessions,
            throttle=LoginThrottle(reactor, 5, 900, 300), partners=PartnerGate(config.partners, reactor),
            audit=self.audit, directory=Directory(), adapters=FakeAdapters(*adapters),
            adapter_types=adapter_types if adapter_types is not None else {"radio": RADIO}, plugins=None, config=config, reactor=reactor, events=self.events,
        )
        self.web.startService()
        await self.web.when_listening()
        return self

    async def stop(self) -> None:
        await self.web.stopService()
        await self.engine.stopService()
        await self.bus.close()
        self.audit.close()
        self.users.close()

    async def client(self, name: str) -> WebClient:
        client = WebClient(self.web.url)
        reply = await client.login(name)
        assert reply.status == 200, reply
        return client


@pytest_twisted.async_yield_fixture
async def stack(tmp_path):
    built = await Stack().start(tmp_path)
    yield built
    await built.stop()


@pytest_twisted.ensureDeferred
async def test_an_incident_opened_by_an_event_is_acknowledged_through_the_api_and_streamed_and_audited(stack):
    """Event in, incident listed, acknowledged over HTTP; the change streams live and audits with the IP."""
    olive = await stack.client("olive")
    ws = await open_stream(stack.web.url, "?topics=incident.%23", cookie=olive.cookie)
    await ws.accepted
    await stack.bus.publish(stack.events.for_source("radio.town_centre")(
        "radio.emergency.raised", Note("Emergency button"), severity=Severity.CRITICAL,
        subject=Subject(kind="radio_unit", id="2041"), summary="Emergency button at the Market Tavern"))
    await ws.when(lambda c: any(e["topic"] == "incident.opened" for e in c.events()))
    [incident] = (await olive.request("GET", "/api/incidents?state=new")).json["incidents"]
    detail = (await olive.request("GET", f"/api/incidents/{incident['id']}")).json
    assert [e["topic"] for e in detail["events"]] == ["radio.emergency.raised"]
    assert [a["verb"] for a in detail["actions"]] == ["broadcast"]
    acknowledged = await olive.request("POST", f"/api/incidents/{incident['id']}/acknowledge", {})
    assert acknowledged.status == 200, acknowledged
    assert acknowledged.json["incident"]["state"] == "acknowledged"
    again = await olive.request("POST", f"/api/incidents/{incident['id']}/acknowledge", {})
    assert again.status == 409
    await ws.when(lambda c: any(e["topic"] == "incident.acknowledged" for e in c.events()))
    updated = await olive.request("POST", f"/api/incidents/{incident['id']}/update", {"priority": 2})
    assert updated.json["incident"]["priority"] == 2
    kept = await olive.request("POST", f"/api/incidents/{incident['id']}/update", {"category": "disorder"})
    assert kept.json["incident"]["priority"] == 2
    entries = stack.audit.read(action="incident.acknowledge")
    assert [(e.actor, e.role, e.address) for e in entries] == [("olive", "operator", "127.0.0.1")]
    assert [e.action for e in stack.audit.read(action="session.*")] == ["session.login"]
    ws.close()


@pytest_twisted.ensureDeferred
async def test_real_logins_partner_reports_and_exports_leave_an_intact_audit_chain(stack):
    """Failed and good logins, a partner report and an export, all chained; auditors export the rows."""
    bad = await WebClient(stack.web.url).login("olive", "not the password")
    assert bad.status == 401
    ghost = await WebClient(stack.web.url).login("ghost", "whatever it is")
    assert ghost.status == 401
    report = await WebClient(stack.web.url).request(
        "POST", "/api/intake/reports", {"reference": "R1", "summary": "Theft"},
        headers={"Authorization": f"Bearer {PARTNER_KEY}"})
    assert report.status == 202
    aud = await stack.client("aud")
    export = await aud.request("GET", "/api/audit/export?format=csv")
    assert export.status == 200 and b"partner.report" in export.body
    listed = (await aud.request("GET", "/api/audit")).json["entries"]
    assert [e["action"] for e in listed][-5:] == ["session.login_failed", "session.login_failed",
                                                  "partner.report", "session.login", "audit.export"]
    # Whoever typed is anonymous; a real user's name is kept as the target, a made-up one is not.
    assert {(e["actor"], e["role"]) for e in listed[-5:-3]} == {("(unknown)", "anonymous")}
    assert (listed[-5]["target"], listed[-4]["target"]) == ("user:olive", "user:(unknown)")
    assert "ghost" not in export.body.decode()
    connection = sqlite3.connect(stack.path)
    assert verify_chain(connection).ok
    assert stack.audit.read(action="audit.export")[0].actor == "aud"


@pytest_twisted.ensureDeferred
async def test_an_admin_disabling_a_user_through_the_store_ends_their_web_session(stack):
    """A user disabled by the command line (another process) is refused at their next request."""
    olive = await stack.client("olive")
    await stack.users.disable("olive")
    assert (await olive.request("GET", "/api/session")).status == 401
