"""The police link's web API under /api/plugins/police_link/, on the hub's real web server: who may read
the disclosure log, the log newest first and as an audited CSV export, the force's requests, footage held
and each link's state."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import attrs
import pytest
import pytest_twisted
from attrs import define, field

from hub.testing import BusHarness
from plugins.police_link.link import LinkState
from plugins.police_link.plugin import plugin
from plugins.police_link.records import (
    ACTIVE,
    AWAITING_CONSENT,
    CLOSED,
    DISCLOSURE_COLUMNS,
    Disclosure,
    HoldRecord,
    PoliceRecords,
    RequestRecord,
)
from plugins.police_link.schema import POLICE_SCHEMA
from tests.hub.web.fakes import FakeStatus

LINK = "police_link.force"
OTHER = "police_link.neighbours"
BASE = "/api/plugins/police_link"
T0 = 1_795_000_000.0  # 2026-11-18


@define
class FakeSession:
    state: LinkState = LinkState.UP
    backlog: int = 0
    in_flight: int = 0
    last_heard_at: float | None = None


@define
class FakeLinkService:
    """The attributes of a running PoliceLinkAdapter that the link route reads."""

    session: FakeSession = field(factory=FakeSession)
    config: Any = None
    peer: str | None = None
    fingerprint: str | None = None


@define
class Supervised:
    status: Any
    service: Any = None


@define
class FakeHub:
    """What a route factory reads of the Hub: its database, audit log and adapters."""

    database: Any
    audit: Any
    adapters: dict[str, Any] = field(factory=dict)


class Plugins:
    """The plugin's own routes and panel, their factories given the fake hub instead of the real one."""

    def __init__(self, hub: FakeHub) -> None:
        self.hub = hub

    def web_routes(self) -> list[tuple[str, Any]]:
        return [("police_link", attrs.evolve(route, resource_factory=lambda _context, make=route.resource_factory:
                                             make(self.hub)))
                for route in plugin.hub_register_web_routes()]

    def console_panels(self) -> list[tuple[str, Any]]:
        return [("police_link", panel) for panel in plugin.hub_register_console_panels()]


@define
class Police:
    web: Any
    hub: FakeHub
    store: BusHarness

    async def write(self, *jobs: Any) -> None:
        for job in jobs:
            await self.store.database.write(job)


@pytest_twisted.async_yield_fixture
async def police(harness_factory: Any, tmp_path: Path) -> Any:
    from twisted.internet import reactor

    (tmp_path / "police").mkdir()
    store = BusHarness(tmp_path / "police", clock=reactor, plugin_schemas=(POLICE_SCHEMA,))
    web = harness_factory()
    hub = FakeHub(database=store.database, audit=None)
    web.plugins = Plugins(hub)
    await web.start()
    hub.audit = web.audit
    try:
        yield Police(web=web, hub=hub, store=store)
    finally:
        await web.stop()
        await store.bus.close()
        store.database.close()


@pytest.fixture
def harness_factory(tmp_path: Path) -> Any:
    from tests.hub.web.conftest import WebHarness

    (tmp_path / "web").mkdir()
    return lambda **kwargs: WebHarness(tmp_path / "web", **kwargs)


def disclosure(number: int, **changes: Any) -> Disclosure:
    base = Disclosure(id=None, at=T0 + number, link=LINK, recipient="Derbyshire Constabulary", what="live_view",
                      item=str(number), why=f"suspect seen near camera {number}", request_id=f"R-{number}",
                      crime_reference=None, released_by="hub (automatic)", expires_at=T0 + number + 900,
                      sha256=None, detail={"uri": f"rtsp://media.example/{number}"})
    return attrs.evolve(base, **changes)


def request_record(request_id: str, state: str, **changes: Any) -> RequestRecord:
    base = RequestRecord(
        link=LINK, request_id=request_id, request_type="live_view", version=1, transaction_id=f"t-{request_id}",
        received_at=T0, deadline=None, state=state, needs_consent=state == AWAITING_CONSENT,
        payload={"request_type": "live_view", "version": 1, "request_id": request_id, "camera": "12", "minutes": 15,
                 "reason": "suspect in the market",
                 "requested_by": {"name": "PC Amy Hart", "force": "Derbyshire", "collar_number": "4417"}})
    return attrs.evolve(base, **changes)


def hold(request_id: str, crime_reference: str) -> HoldRecord:
    return HoldRecord(id=None, link=LINK, request_id=request_id, crime_reference=crime_reference, cameras=("12", "14"),
                      start="2026-11-18T09:00:00+00:00", end="2026-11-18T09:30:00+00:00", retain_until=None,
                      created_at=T0)


# --- the disclosure log -------------------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_an_operator_may_not_read_the_disclosure_log_and_an_auditor_may(police: Police) -> None:
    """The log and its export answer 403 to an operator and the log to an auditor, newest first."""
    records = PoliceRecords(police.store.database, LINK)
    await police.write(*(records.disclosure_job(disclosure(n)) for n in (1, 2, 3)))
    olive, aud = await police.web.logged_in("olive"), await police.web.logged_in("aud")
    for path in ("disclosures", "disclosures.csv"):
        refused = await olive.request("GET", f"{BASE}/{path}")
        assert (refused.status, refused.error_code) == (403, "forbidden"), path
    reply = await aud.request("GET", f"{BASE}/disclosures")
    assert reply.status == 200
    rows = reply.json["disclosures"]
    assert [row["item"] for row in rows] == ["3", "2", "1"]
    assert rows[0] == {
        "id": 3, "at": "2026-11-18T11:06:43Z", "link": LINK, "recipient": "Derbyshire Constabulary",
        "what": "live_view", "item": "3", "why": "suspect seen near camera 3", "request_id": "R-3",
        "crime_reference": None, "released_by": "hub (automatic)", "expires_at": "2026-11-18T11:21:43Z",
        "sha256": None, "detail": {"uri": "rtsp://media.example/3"},
    }
    assert reply.json["next_before_id"] is None
    # Reading the log is not an export: nothing is audited for it.
    assert "police.disclosures.export" not in police.web.audit.actions()


@pytest_twisted.ensureDeferred
async def test_the_disclosure_log_pages_newest_first_and_filters_by_request_or_crime_reference(police: Police) -> None:
    """limit and before_id page back through the log; after_id, request_id and crime_reference narrow it."""
    records = PoliceRecords(police.store.database, LINK)
    await police.write(*(records.disclosure_job(disclosure(n, crime_reference="CR/7" if n % 2 else None))
                         for n in range(1, 6)))
    sam = await police.web.logged_in("sam")
    first = (await sam.request("GET", f"{BASE}/disclosures?limit=2")).json
    assert [row["id"] for row in first["disclosures"]] == [5, 4]
    second = (await sam.request("GET", f"{BASE}/disclosures?limit=2&before_id={first['next_before_id']}")).json
    assert [row["id"] for row in second["disclosures"]] == [3, 2]
    after = (await sam.request("GET", f"{BASE}/disclosures?after_id=3")).json["disclosures"]
    assert [row["id"] for row in after] == [5, 4]
    by_request = (await sam.request("GET", f"{BASE}/disclosures?request_id=R-2")).json["disclosures"]
    assert [row["id"] for row in by_request] == [2]
    by_crime = (await sam.request("GET", f"{BASE}/disclosures?crime_reference=CR/7")).json["disclosures"]
    assert [row["id"] for row in by_crime] == [5, 3, 1]
    bad = await sam.request("GET", f"{BASE}/disclosures?limit=many")
    assert (bad.status, bad.error_code) == (400, "invalid")
    assert "limit" in bad.json["error"]["message"]
    assert (await sam.request("GET", f"{BASE}/disclosures?limit=501")).status == 400


@pytest_twisted.ensureDeferred
async def test_the_csv_export_has_the_header_and_every_row_and_is_itself_audited(police: Police) -> None:
    """disclosures.csv is an attachment with DISCLOSURE_COLUMNS and each row oldest first, and the audit log
    names the auditor who took it and how many rows it held."""
    records = PoliceRecords(police.store.database, LINK)
    await police.write(records.disclosure_job(disclosure(1)),
                       records.disclosure_job(disclosure(2, what="footage", item="EXP-9", why="=HYPERLINK(\"x\")",
                                                         crime_reference="CR/7", sha256="ab" * 32)))
    aud = await police.web.logged_in("aud")
    reply = await aud.request("GET", f"{BASE}/disclosures.csv")
    assert reply.status == 200
    assert reply.header("content-type") == "text/csv; charset=utf-8"
    assert reply.header("content-disposition") == 'attachment; filename="disclosures.csv"'
    rows = list(csv.reader(io.StringIO(reply.body.decode("utf-8"), newline="")))
    assert tuple(rows[0]) == DISCLOSURE_COLUMNS
    assert [(row[0], row[4], row[5]) for row in rows[1:]] == [("1", "live_view", "1"), ("2", "footage", "EXP-9")]
    assert rows[2][6] == "'=HYPERLINK(\"x\")"  # a formula from the force stays text in a spreadsheet
    exports = [entry for entry in police.web.audit.entries if entry.action == "police.disclosures.export"]
    assert len(exports) == 1
    entry = exports[0]
    assert (entry.actor, entry.role, entry.address) == ("aud", "auditor", "127.0.0.1")
    assert entry.target == "police_disclosures"
    assert entry.detail == {"format": "csv", "rows": 2, "after_id": 0, "link": None}


@pytest_twisted.ensureDeferred
async def test_an_empty_or_narrowed_export_still_has_its_header_and_is_audited(police: Police) -> None:
    """An export of nothing is a header alone; one link's export names the link in its file and audit row."""
    records = PoliceRecords(police.store.database, OTHER)
    await police.write(records.disclosure_job(disclosure(1, link=OTHER)))
    sam = await police.web.logged_in("sam")
    reply = await sam.request("GET", f"{BASE}/disclosures.csv?link={LINK}")
    assert reply.status == 200
    assert reply.body.decode("utf-8") == ",".join(DISCLOSURE_COLUMNS) + "\r\n"
    assert reply.header("content-disposition") == f'attachment; filename="disclosures-{LINK}.csv"'
    assert police.web.audit.entries[-1].detail == {"format": "csv", "rows": 0, "after_id": 0, "link": LINK}
    bad = await sam.request("GET", f"{BASE}/disclosures.csv?after_id=-1")
    assert (bad.status, bad.error_code) == (400, "invalid")
    assert len([e for e in police.web.audit.entries if e.action == "police.disclosures.export"]) == 1


# --- requests, holds, the link ----------------------------------------------------------------------------------


def configure(police: Police, *names: str) -> None:
    for name in names:
        police.hub.adapters[name] = Supervised(FakeStatus(name, "police_link"), FakeLinkService())


@pytest_twisted.ensureDeferred
async def test_the_requests_are_the_open_ones_first_then_the_latest_closed(police: Police) -> None:
    """An operator reads each link's open requests, oldest first, with what was asked in words, then the
    closed ones newest first, as many as ?recent says."""
    configure(police, LINK)
    records = PoliceRecords(police.store.database, LINK)
    await police.write(
        records.request_job(request_record("R-1", CLOSED, received_at=T0 - 300, answered_at=T0 - 200, outcome="done")),
        records.request_job(request_record("R-2", AWAITING_CONSENT, received_at=T0 - 100)),
        records.request_job(request_record("R-3", CLOSED, received_at=T0 - 250, answered_at=T0 - 50,
                                           outcome="refused")),
        records.request_job(request_record("R-4", ACTIVE, received_at=T0 - 10, expires_at=T0 + 890)),
    )
    olive = await police.web.logged_in("olive")
    reply = await olive.request("GET", f"{BASE}/requests")
    assert reply.status == 200
    found = reply.json["requests"]
    assert [(row["request_id"], row["state"]) for row in found] == [
        ("R-2", AWAITING_CONSENT), ("R-4", ACTIVE), ("R-3", CLOSED), ("R-1", CLOSED)]
    first = found[0]
    assert first["summary"] == "Live view of camera 12 for 15 min"
    assert first["requested_by"] == "PC Amy Hart, 4417, Derbyshire"
    assert first["needs_consent"] is True and first["reason"] == "suspect in the market"
    assert found[1]["expires_at"] == "2026-11-18T11:21:30Z"
    assert found[2]["outcome"] == "refused"
    recent = (await olive.request("GET", f"{BASE}/requests?recent=1")).json["requests"]
    assert [row["request_id"] for row in recent] == ["R-2", "R-4", "R-3"]
    unknown = await olive.request("GET", f"{BASE}/requests?link=police_link.nowhere")
    assert (unknown.status, unknown.error_code) == (404, "not_found")


@pytest_twisted.ensureDeferred
async def test_holds_awaiting_export_come_before_those_exported(police: Police) -> None:
    """Open holds come first, oldest first; exported ones follow with who exported them."""
    configure(police, LINK)
    records = PoliceRecords(police.store.database, LINK)
    await police.write(records.hold_job(hold("R-5", "CR/1")), records.hold_job(hold("R-6", "CR/2")))
    await police.write(records.hold_done_job(1, at=T0 + 60, completed_by="olive", export_reference="EXP-1",
                                             manifest=[{"name": "cam12.mp4", "sha256": "cd" * 32}]))
    aud = await police.web.logged_in("aud")
    holds = (await aud.request("GET", f"{BASE}/holds")).json["holds"]
    assert [(row["crime_reference"], row["state"]) for row in holds] == [("CR/2", "open"), ("CR/1", "completed")]
    assert holds[0]["cameras"] == ["12", "14"]
    assert (holds[1]["completed_by"], holds[1]["export_reference"]) == ("olive", "EXP-1")
    assert holds[1]["manifest"] == [{"name": "cam12.mp4", "sha256": "cd" * 32}]
    only_open = (await aud.request("GET", f"{BASE}/holds?recent=0")).json["holds"]
    assert [row["crime_reference"] for row in only_open] == ["CR/2"]


@pytest_twisted.ensureDeferred
async def test_the_link_route_reads_each_running_link_and_says_when_one_is_not_running(police: Police) -> None:
    """Each police link instance with its state, backlog, in flight, last heard, peer and fingerprint; a
    stopped adapter has no session; adapters of other types are not listed."""
    configure(police, LINK, OTHER)
    service = police.hub.adapters[LINK].service
    service.session = FakeSession(state=LinkState.FAULT, backlog=1204, in_flight=256, last_heard_at=T0)
    config = attrs.make_class("Config", ["force", "url"])
    service.config = config("Derbyshire Constabulary", "wss://127.0.0.1:9443/cctv")
    service.peer, service.fingerprint = "127.0.0.1:9443", "AB:" * 31 + "CD"
    police.hub.adapters[OTHER] = Supervised(FakeStatus(OTHER, "police_link", state="failed", last_error="no key"))
    police.hub.adapters["radio.town"] = Supervised(FakeStatus("radio.town", "radio"), FakeLinkService())
    olive = await police.web.logged_in("olive")
    links = (await olive.request("GET", f"{BASE}/link")).json["links"]
    assert links == [
        {"name": LINK, "force": "Derbyshire Constabulary", "url": "wss://127.0.0.1:9443/cctv",
         "adapter_state": "running", "last_error": None, "state": "fault", "state_label": "line fault",
         "backlog": 1204, "in_flight": 256, "last_heard_at": "2026-11-18T11:06:40Z", "peer": "127.0.0.1:9443",
         "fingerprint": "AB:" * 31 + "CD"},
        {"name": OTHER, "force": None, "url": None, "adapter_state": "failed", "last_error": "no key", "state": None,
         "state_label": "not running", "backlog": None, "in_flight": None, "last_heard_at": None, "peer": None,
         "fingerprint": None},
    ]


@pytest_twisted.ensureDeferred
async def test_the_panel_is_offered_and_served_and_the_routes_are_documented(police: Police) -> None:
    """/api/panels lists the Police link panel, its script is served as JavaScript, and OpenAPI names each
    route with its roles."""
    olive = await police.web.logged_in("olive")
    panels = (await olive.request("GET", "/api/panels")).json["panels"]
    assert [(p["plugin"], p["name"], p["title"], p["script_url"]) for p in panels] == [
        ("police_link", "police", "Police link", "/plugins/police_link/police.js")]
    script = await olive.request("GET", "/plugins/police_link/police.js")
    assert script.status == 200 and b"export function mount" in script.body
    paths = (await olive.request("GET", "/api/openapi.json")).json["paths"]
    assert paths[f"{BASE}/disclosures"]["get"]["x-roles"] == ["auditor", "supervisor", "admin"]
    assert paths[f"{BASE}/disclosures.csv"]["get"]["x-roles"] == ["auditor", "supervisor", "admin"]
    assert paths[f"{BASE}/requests"]["get"]["x-roles"] == ["operator", "supervisor", "admin", "auditor"]
