"""A real web server on 127.0.0.1 (a free port) over a real bus and journal, with fakes for the user
database, the audit log and the incident engine (tests/hub/web/fakes.py), and the real session manager,
login throttle and partner gate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from attrs import define, field
from twisted.internet import reactor

from hub.api import AdapterType, CommandArgument, CommandSpec
from hub.auth.partners import PartnerGate
from hub.auth.sessions import SessionManager
from hub.auth.throttle import LoginThrottle
from hub.config import (
    HubConfig,
    HubSection,
    MapConfig,
    MapSite,
    PartnerConfig,
    WebConfig,
)
from hub.directory import Asset, Directory
from hub.secrets import Secret
from hub.testing import BusHarness
from hub.web.service import WebService
from tests.hub.web.client import WebClient
from tests.hub.web.fakes import FakeAdapters, FakeAudit, FakeDesk, FakeStatus, FakeUsers

PARTNER_KEY = "shopwatch-app-key-0123456789abcdef"
METRICS_TOKEN = "scrape-token-0123456789"

RADIO = AdapterType(
    name="radio",
    config_class=object,
    factory=lambda context: None,
    commands=(
        CommandSpec("broadcast", "Broadcast to the scheme",
                    arguments=(CommandArgument("message", "Message", max_length=160),),
                    applies_to=("radio.#",)),
        CommandSpec("reset", "Reset the gateway", roles=("supervisor", "admin")),
        CommandSpec("reply", "Reply to the unit",
                    arguments=(CommandArgument("unit", "Unit", prefill="subject.id"),
                               CommandArgument("camera", "Camera", kind="camera", required=False,
                                               prefill="location.camera"),
                               CommandArgument("member", "Member", required=False, prefill="payload.member.unit"),
                               CommandArgument("urgent", "Urgent", kind="choice", choices=("true", "false"),
                                               required=False, prefill="payload.urgent"),
                               CommandArgument("message", "Message", max_length=32)),
                    applies_to=("radio.report.#",)),
    ),
)


def web_config(**overrides: Any) -> WebConfig:
    settings = {"listen": "127.0.0.1:0", "metrics_token": Secret(METRICS_TOKEN), "login_max_failures": 3}
    settings.update(overrides)
    return WebConfig(**settings)


@define
class WebHarness:
    """The server and everything behind it, with a client per role."""

    tmp_path: Path
    web_settings: dict[str, Any] = field(factory=dict)
    static_dir: Path | None = None
    plugins: Any = None
    service: Any = None
    bus: BusHarness = None  # type: ignore[assignment]
    users: FakeUsers = field(factory=FakeUsers)
    audit: Any = None
    desk: FakeDesk = field(factory=FakeDesk)
    directory: Directory = field(factory=Directory)
    adapters: FakeAdapters = field(factory=lambda: FakeAdapters(
        FakeStatus("radio.town_centre", "radio"), FakeStatus("radio.night", "radio", state="failed")))
    sessions: Any = None
    throttle: Any = None
    evidence: Any = None
    adapter_types: dict[str, AdapterType] = field(factory=lambda: {"radio": RADIO})
    #: (instance name, service) for each adapter, as the hub gives them (None: none).
    adapter_services: Any = None

    async def start(self) -> "WebHarness":
        self.bus = BusHarness(self.tmp_path, clock=reactor)
        self.audit = self.audit or FakeAudit(reactor)
        config = HubConfig(
            path=self.tmp_path / "hub.toml",
            hub=HubSection(name="Test room"),
            web=web_config(**self.web_settings),
            partners={"shopwatch_app": PartnerConfig(key=Secret(PARTNER_KEY), display_name="Shopwatch app",
                                                     rate_per_minute=60, burst=3)},
            map=MapConfig(sites=(MapSite(name="Market Place", lat=53.2, lon=-1.4),)),
        )
        web = config.web
        self.sessions = SessionManager(reactor, web.session_idle_minutes * 60, web.session_max_hours * 3600)
        self.throttle = LoginThrottle(reactor, web.login_max_failures, web.login_window_s, web.login_lockout_s)
        for name, role in (("olive", "operator"), ("sam", "supervisor"), ("ada", "admin"), ("aud", "auditor")):
            self.users.put(name, role)
        self.directory.put(Asset(kind="camera", id="42", name="Market Place", source="onvif.main",
                                 latitude=53.2, longitude=-1.4, state="online"))
        self.directory.put(Asset(kind="fibre_node", id="cab-7", source="dark_fibre_health.net", state="up"))
        self.service = WebService(
            bus=self.bus.bus, incidents=self.desk, users=self.users, sessions=self.sessions,
            throttle=self.throttle, partners=PartnerGate(config.partners, reactor), audit=self.audit,
            directory=self.directory, evidence=self.evidence, adapters=self.adapters, adapter_types=self.adapter_types,
            plugins=self.plugins, config=config, reactor=reactor, events=self.bus.events,
            static_dir=self.static_dir, adapter_services=self.adapter_services,
        )
        self.service.startService()
        await self.service.when_listening()
        return self

    async def stop(self) -> None:
        await self.service.stopService()
        closed = self.bus.bus.close()
        await closed

    @property
    def url(self) -> str:
        return self.service.url

    def client(self) -> WebClient:
        return WebClient(self.url)

    async def logged_in(self, name: str) -> WebClient:
        client = self.client()
        reply = await client.login(name)
        assert reply.status == 200, reply
        return client


@pytest_twisted.async_yield_fixture
async def web(tmp_path: Path) -> Any:
    harness = await WebHarness(tmp_path).start()
    yield harness
    await harness.stop()


@pytest.fixture
def harness_factory(tmp_path: Path) -> Any:
    return lambda **kwargs: WebHarness(tmp_path, **kwargs)
