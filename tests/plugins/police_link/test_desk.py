"""The request desk: the force's requests checked, recorded, carried out or put to an operator, answered,
and every release written to the disclosure log."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import attrs
import pytest
import structlog
from twisted.internet.defer import Deferred

from hub.clock import iso
from hub.commands import CommandRequester, outcome_event
from hub.directory import Asset, Directory
from hub.events import (
    CommandOutcomeKind,
    CommandRequested,
    EventFactory,
    Severity,
    Subject,
)
from hub.secrets import Secret
from hub.testing import BusHarness, assert_no_pending_timers, success_result_of
from plugins.onvif.events import EVENT_TYPES as ONVIF_TYPES
from plugins.onvif.events import CameraRef, StreamShared
from plugins.police_link import events as ev
from plugins.police_link.codec.frames import REQUEST_ANSWER
from plugins.police_link.codec.messages import decode_request, decode_request_answer
from plugins.police_link.config import PoliceLinkConfig
from plugins.police_link.desk import (
    ManifestError,
    RequestDesk,
    manifest_text,
    parse_manifest,
    sign_stream_uri,
    stream_signature_valid,
)
from plugins.police_link.link import Acknowledged, Inbound, Verdict
from plugins.police_link.records import ACTIVE, AWAITING_CONSENT, CLOSED, PoliceRecords
from plugins.police_link.schema import POLICE_SCHEMA
from plugins.police_link.sending import LinkSender
from plugins.police_link.store import HubLinkStore

LINK = "police_link.force"
FORCE = "Derbyshire Constabulary"
NOW = 1_795_000_000.0
CAMERAS = "onvif.town_centre"
KEY = "gateway-key-that-must-stay-secret"
OFFICER = {"name": "Sgt Priya Shah", "force": FORCE, "collar_number": "2291"}


# --- fakes ---------------------------------------------------------------------------------------------------


class FakeSession:
    """The part of a LinkSession the sender uses: numbers given out, messages offered."""

    def __init__(self) -> None:
        self.next_seq = 1
        self.offered: list[Any] = []

    def allocate(self) -> int:
        self.next_seq += 1
        return self.next_seq - 1

    def release(self, link_seq: int) -> bool:
        if link_seq == self.next_seq - 1:
            self.next_seq -= 1
            return True
        return False

    def offer(self, message: Any) -> None:
        self.offered.append(message)


class FakeCameras:
    """A camera adapter on the bus: answers ``stream_uri`` and ``goto_preset`` as the ONVIF adapter does (a
    related ``onvif.stream.shared`` event, then an outcome event caused by the command). Cameras listed in
    ``silent`` never answer."""

    def __init__(self, harness: BusHarness, source: str = CAMERAS) -> None:
        self.harness = harness
        self.events = EventFactory(harness.clock, source)
        self.source = source
        self.commands: list[tuple[str, dict]] = []
        self.silent: set[str] = set()
        self.presets = {"market": "camera {camera} is turning to preset market (1)"}
        self.subscription = harness.bus.subscribe("command.onvif.*", self.handle)

    def handle(self, command: Any) -> None:
        request: CommandRequested = command.payload
        if request.adapter != self.source:
            return
        camera = request.arguments["camera"]
        self.commands.append((request.verb, dict(request.arguments)))
        if camera in self.silent:
            return
        bus = self.harness.bus
        if request.verb == "stream_uri":
            bus.publish(self.events(StreamShared.TYPE, StreamShared(
                camera=CameraRef(number=camera), uri=f"rtsp://media.example:554/cam{camera}?profile=main",
                requested_by=request.requested_by), severity=Severity.INFO,
                subject=Subject(kind="camera", id=camera), summary="stream shared", causation_id=command.id))
            outcome, detail = CommandOutcomeKind.DELIVERED, "stream address: ..."
        elif request.arguments.get("preset") in self.presets:
            outcome = CommandOutcomeKind.DELIVERED
            detail = self.presets[request.arguments["preset"]].format(camera=camera)
        else:
            outcome, detail = CommandOutcomeKind.FAILED, f"camera {camera} has no preset {request.arguments.get('preset')!r}"
        bus.publish(outcome_event(self.events, "onvif", command, outcome, detail))


@attrs.define
class World:
    harness: BusHarness
    cameras: FakeCameras
    directory: Directory
    session: FakeSession
    store: HubLinkStore
    records: PoliceRecords
    seen: list
    config: PoliceLinkConfig
    desk: RequestDesk | None = None
    requester: CommandRequester | None = None
    inbound_count: int = 0

    def make_desk(self, **config: Any) -> RequestDesk:
        if config:
            self.config = attrs.evolve(self.config, **config)
        self.requester = CommandRequester(self.harness.bus, self.harness.events.for_source(LINK), self.harness.clock,
                                          requested_by=LINK, collect=("onvif.stream.shared",))
        self.requester.start()
        sender = LinkSender(session=self.session, store=self.store, bus=self.harness.bus, clock=self.harness.clock)
        self.desk = RequestDesk(clock=self.harness.clock, config=self.config, records=self.records, link=LINK,
                                events=self.harness.events.for_source(LINK), sender=sender, store=self.store,
                                requester=self.requester, directory=self.directory, evidence=None,
                                bus=self.harness.bus, log=structlog.get_logger().bind(adapter=LINK))
        self.desk.start()
        self.harness.settle()
        return self.desk

    def stop(self) -> None:
        self.desk.stop()
        self.requester.stop()
        self.harness.settle()

    def restart_hub(self) -> None:
        """Stop the desk and reopen the journal and database, as a hub restart does."""
        self.stop()
        self.harness.restart()
        self.harness.bus.subscribe("police.#", self.seen.append)
        silent = self.cameras.silent
        self.cameras = FakeCameras(self.harness)
        self.cameras.silent = silent
        self.store = HubLinkStore(self.harness.database, LINK)
        self.records = PoliceRecords(self.harness.database, LINK)

    def inbound(self, payload: dict, *, transaction_id: str | None = None, deadline: float | None = None) -> Inbound:
        self.inbound_count += 1
        return Inbound(link_seq=self.inbound_count, transaction_id=transaction_id or f"t-{self.inbound_count}",
                       content_type="application/vnd.cctv-hub.police-request+json; version=1", payload=payload,
                       sent_at=self.harness.clock.seconds(), deadline=deadline,
                       received_at=self.harness.clock.seconds())

    def receive(self, payload: dict, **options: Any) -> Verdict:
        inbound = self.inbound(payload, **options)
        verdict = Deferred.fromCoroutine(self.desk.received(inbound, decode_request(payload)))
        self.harness.settle()
        return success_result_of(verdict)

    def command(self, verb: str, **arguments: Any) -> tuple[CommandOutcomeKind, str]:
        command = self.harness.events(f"command.police_link.{verb}", CommandRequested(
            adapter=LINK, verb=verb, arguments=arguments, requested_by="olive"), severity=Severity.INFO,
            subject=Subject(kind="adapter", id=LINK), summary=verb, incident_id="INC-7")
        self.harness.bus.publish(command)
        self.harness.settle()
        outcome = Deferred.fromCoroutine(self.desk.command(command))
        self.harness.settle()
        return success_result_of(outcome)

    def answers(self) -> list[dict]:
        """Every answer offered to the force, as JSON, each checked against the answer's schema."""
        out = []
        for message in self.session.offered:
            assert message.content_type == REQUEST_ANSWER
            body = json.loads(message.body)
            decode_request_answer(body)
            out.append(body)
        return out

    def topics(self) -> list[str]:
        return [event.topic for event in self.seen]

    def of(self, topic: str) -> list[Any]:
        return [event for event in self.seen if event.topic == topic]

    def advance(self, seconds: float) -> None:
        self.harness.clock.advance(seconds)
        self.harness.settle()


def base_config(**changes: Any) -> PoliceLinkConfig:
    config = PoliceLinkConfig(url="wss://link.force.example:8443/cctv", client_certificate=Path("hub.pem"),
                              client_key=Path("hub.key"), force=FORCE, sender="cctv@council.example",
                              server_fingerprint="AB" * 32, live_view="auto", point_camera="auto",
                              command_timeout_s=5.0)
    return attrs.evolve(config, **changes)


@pytest.fixture
def world(tmp_path, hub_clock):
    hub_clock.advance(NOW)
    harness = BusHarness(tmp_path, hub_clock, event_types=ev.EVENT_TYPES + ONVIF_TYPES,
                         plugin_schemas=(POLICE_SCHEMA,))
    directory = Directory()
    for number in ("12", "14", "30"):
        directory.put(Asset(kind="camera", id=number, source=CAMERAS))
    seen: list = []
    harness.bus.subscribe("police.#", seen.append)
    world = World(harness=harness, cameras=FakeCameras(harness), directory=directory, session=FakeSession(),
                  store=HubLinkStore(harness.database, LINK), records=PoliceRecords(harness.database, LINK),
                  seen=seen, config=base_config())
    yield world
    if world.desk is not None:
        world.stop()
    assert_no_pending_timers(hub_clock)
    harness.close()


def live_view(request_id: str = "REQ-1", camera: str = "12", minutes: int = 30) -> dict:
    return {"request_type": "live_view", "version": 1, "request_id": request_id, "camera": camera,
            "minutes": minutes, "reason": "Fight reported outside the Market Tavern", "requested_by": OFFICER}


def point_camera(request_id: str = "REQ-2", preset: str = "market") -> dict:
    return {"request_type": "point_camera", "version": 1, "request_id": request_id, "camera": "14",
            "preset": preset, "reason": "Vehicle of interest heading for the market", "requested_by": OFFICER}


def retain(request_id: str = "REQ-3", cameras: tuple[str, ...] = ("12", "14")) -> dict:
    return {"request_type": "retain_footage", "version": 1, "request_id": request_id,
            "crime_reference": "DBY/12345/26", "cameras": list(cameras), "start": "2026-11-22T09:00:00+00:00",
            "end": "2026-11-22T10:00:00+00:00", "reason": "Assault; footage needed as evidence",
            "requested_by": OFFICER}


def monitor(request_id: str = "REQ-4", until: float = NOW + 7200) -> dict:

    return {"request_type": "monitor_location", "version": 1, "request_id": request_id,
            "location": {"name": "Market Place", "latitude": 53.235, "longitude": -1.421}, "until": iso(until),
            "cameras": ["12"], "reason": "Planned protest", "requested_by": OFFICER}


# --- live view -------------------------------------------------------------------------------------------------


def test_an_automatic_live_view_shares_the_stream_records_the_release_and_expires(world):
    """A live view allowed without consent is shared at once, logged as a disclosure, and expires."""
    world.make_desk()
    assert world.receive(live_view()) == Verdict("ok")
    received = world.of(ev.REQUEST_RECEIVED)[0]
    assert received.severity == Severity.INFO and received.payload.needs_consent is False
    assert received.subject == Subject(kind="police_request", id="REQ-1", name=f"live view for {FORCE}")
    assert world.cameras.commands == [("stream_uri", {"camera": "12"})]
    [answer] = world.answers()
    expires = NOW + 30 * 60
    assert answer["outcome"] == "accepted"
    assert answer["stream"]["uri"] == "rtsp://media.example:554/cam12?profile=main"
    assert decode_request_answer(answer).stream.expires_at.timestamp() == expires
    [disclosure] = world.records.disclosures()
    assert (disclosure.what, disclosure.item, disclosure.why, disclosure.released_by, disclosure.expires_at,
            disclosure.recipient, disclosure.request_id) == (
        "live_view", "12", "Fight reported outside the Market Tavern", "hub (automatic)", expires, FORCE, "REQ-1")
    [recorded] = world.of(ev.DISCLOSURE_RECORDED)
    assert recorded.payload.disclosure_id == disclosure.id
    assert world.topics().index(ev.DISCLOSURE_RECORDED) < world.topics().index(ev.REQUEST_ANSWERED)
    assert world.records.request("REQ-1").state == ACTIVE
    world.advance(30 * 60 - 1)
    assert world.of(ev.LIVE_VIEW_EXPIRED) == []
    world.advance(1)
    [expired] = world.of(ev.LIVE_VIEW_EXPIRED)
    assert expired.payload == ev.LiveViewExpired(request_id="REQ-1", camera="12", expired_at=iso(expires))
    assert world.records.request("REQ-1").state == CLOSED


def test_a_live_view_is_capped_at_the_configured_minutes(world):
    """A live view longer than live_view_max_minutes is granted for the maximum, and the answer says so."""
    world.make_desk(live_view_max_minutes=20)
    world.receive(live_view(minutes=90))
    [answer] = world.answers()
    assert decode_request_answer(answer).stream.expires_at.timestamp() == NOW + 20 * 60
    assert "capped from 90" in answer["detail"]


def test_a_signed_stream_address_carries_its_expiry_and_the_key_is_nowhere(world, captured_logs):
    """With a signing key the address carries a valid expiring signature; the key is in no event, log or
    message."""
    world.make_desk(stream_signing_key=Secret(KEY))
    world.receive(live_view())
    uri = world.answers()[0]["stream"]["uri"]
    assert uri.startswith("rtsp://media.example:554/cam12?profile=main&expires=")
    assert stream_signature_valid(uri, KEY, NOW)
    assert not stream_signature_valid(uri.replace("cam12", "cam14"), KEY, NOW)
    assert not stream_signature_valid(uri, "another-key", NOW)
    assert not stream_signature_valid(uri, KEY, NOW + 30 * 60)
    assert world.records.disclosures()[0].detail["uri"] == "rtsp://media.example:554/cam12?profile=main"
    stored = world.harness.journal_path.read_bytes()
    for path in world.harness.directory.iterdir():
        stored += path.read_bytes()
    assert KEY.encode() not in stored
    assert captured_logs and KEY not in repr(captured_logs)


def test_a_live_view_needing_consent_waits_for_an_operator_who_releases_it(world):
    """A live view needing consent goes to an operator; approved, it is shared and released by them."""
    world.make_desk(live_view="consent")
    assert world.receive(live_view()) == Verdict("ok")
    received = world.of(ev.REQUEST_RECEIVED)[0]
    assert received.severity == Severity.MEDIUM and received.payload.needs_consent is True
    assert world.cameras.commands == [] and world.answers() == []
    assert world.desk.snapshot_items() == [{"request_id": "REQ-1", "request_type": "live_view",
                                            "state": AWAITING_CONSENT}]
    kind, detail = world.command("approve_request", request_id="REQ-1")
    assert kind is CommandOutcomeKind.DELIVERED and "camera 12 shared for 30 min" in detail
    [answer] = world.answers()
    assert answer["outcome"] == "accepted"
    assert world.of(ev.REQUEST_ANSWERED)[0].payload.answered_by == "olive"
    assert world.records.disclosures()[0].released_by == "olive"
    assert world.of(ev.REQUEST_ANSWERED)[0].incident_id == "INC-7"


def test_an_operator_refuses_a_request_with_a_reason_the_force_gets(world):
    """Refused, the request is answered refused with the operator's reason, and nothing is released."""
    world.make_desk(live_view="consent")
    world.receive(live_view())
    kind, detail = world.command("refuse_request", request_id="REQ-1", reason="Camera covers a private garden")
    assert kind is CommandOutcomeKind.DELIVERED and "Camera covers a private garden" in detail
    [answer] = world.answers()
    assert (answer["outcome"], answer["detail"]) == ("refused", "Camera covers a private garden")
    assert world.cameras.commands == [] and world.records.disclosures() == []
    assert world.records.request("REQ-1").state == CLOSED
    assert world.desk.snapshot_items() == []


def test_consent_given_after_the_deadline_answers_stale_and_tells_the_operator(world):
    """Approving after the force's deadline answers the request stale, and the operator hears it was too late."""
    world.make_desk(live_view="consent")
    world.receive(live_view(), deadline=NOW + 60)
    world.advance(61)
    kind, detail = world.command("approve_request", request_id="REQ-1")
    assert kind is CommandOutcomeKind.FAILED and detail.startswith("too late: ")
    [answer] = world.answers()
    assert answer["outcome"] == "stale"
    assert world.cameras.commands == [] and world.records.disclosures() == []
    assert world.command("refuse_request", request_id="REQ-1", reason="no")[0] is CommandOutcomeKind.REFUSED


def test_only_a_request_awaiting_consent_can_be_approved_or_refused(world):
    """Approving an unknown request, or one carried out already, is refused with the reason."""
    world.make_desk()
    world.receive(live_view())
    kind, detail = world.command("approve_request", request_id="REQ-1")
    assert kind is CommandOutcomeKind.REFUSED and "not waiting for consent" in detail
    kind, detail = world.command("approve_request", request_id="REQ-9")
    assert kind is CommandOutcomeKind.REFUSED and "no police request REQ-9" in detail
    assert len(world.answers()) == 1


def test_a_camera_that_does_not_answer_fails_the_live_view(world):
    """When the camera's adapter does not answer in time, the force is told it failed, and nothing is released."""
    world.make_desk()
    world.cameras.silent.add("30")
    world.receive(live_view(camera="30"))
    assert world.answers() == []
    world.advance(5)
    [answer] = world.answers()
    assert answer["outcome"] == "failed" and "did not answer within 5 s" in answer["detail"]
    assert world.records.disclosures() == [] and world.records.request("REQ-1").state == CLOSED


# --- what is refused at the door -----------------------------------------------------------------------------


def test_a_camera_the_room_does_not_have_is_refused_at_once(world):
    """A request naming an unknown camera gets an error verdict, an invalid event and an inbox row."""
    world.make_desk()
    verdict = world.receive(retain(cameras=("12", "99")))
    assert verdict == Verdict("error", "camera 99 is not one of the room's cameras")
    [invalid] = world.of(ev.REQUEST_INVALID)
    assert (invalid.payload.path, invalid.payload.request_id) == ("/cameras/1", "REQ-3")
    assert world.records.request("REQ-3") is None
    assert "t-1" in world.store.load().seen
    assert world.of(ev.REQUEST_RECEIVED) == [] and world.answers() == []


def test_a_request_id_reused_by_another_message_is_refused(world):
    """A request id already used by another message is an error; the same message again is a duplicate."""
    world.make_desk(live_view="consent")
    world.receive(live_view(), transaction_id="t-a")
    verdict = world.receive(live_view(camera="14"), transaction_id="t-b")
    assert verdict.status == "error" and "used already" in verdict.reason
    assert world.of(ev.REQUEST_INVALID)[0].payload.path == "/request_id"
    assert world.records.request("REQ-1").payload["camera"] == "12"
    assert world.receive(live_view(), transaction_id="t-a").status == "duplicate"
    assert len(world.of(ev.REQUEST_RECEIVED)) == 1
    assert world.desk.known_requests() == {"REQ-1"}


# --- pointing a camera -------------------------------------------------------------------------------------------


def test_point_camera_turns_the_camera_at_once_when_allowed(world):
    """An automatic point_camera asks the camera's adapter for the preset and answers what it said."""
    world.make_desk()
    world.receive(point_camera())
    assert world.cameras.commands == [("goto_preset", {"camera": "14", "preset": "market"})]
    [answer] = world.answers()
    assert (answer["outcome"], answer["detail"]) == ("accepted", "camera 14 is turning to preset market (1)")
    assert world.records.request("REQ-2").state == CLOSED


def test_point_camera_with_consent_turns_once_approved_and_fails_with_why(world):
    """With consent, the camera turns once approved; a preset it lacks fails with the camera's reason."""
    world.make_desk(point_camera="consent")
    world.receive(point_camera(preset="harbour"))
    assert world.cameras.commands == []
    kind, detail = world.command("approve_request", request_id="REQ-2")
    assert kind is CommandOutcomeKind.FAILED and "has no preset 'harbour'" in detail
    [answer] = world.answers()
    assert answer["outcome"] == "failed" and "has no preset 'harbour'" in answer["detail"]


# --- footage ---------------------------------------------------------------------------------------------------


MANIFEST = ("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08  cam12-0900.mp4\n"
            "60303AE22B998861BCE3B28F33EEC1BE758A213C86C93C076DBE9F558C11C752 *cam14-0900.mp4\n")


def test_retained_footage_is_held_exported_disclosed_and_answered(world):
    """A retention makes a hold and an operator task; once exported, the release is logged and the force
    gets the manifest."""
    world.make_desk()
    world.receive(retain())
    assert world.of(ev.REQUEST_RECEIVED)[0].severity == Severity.MEDIUM
    [created] = world.of(ev.HOLD_CREATED)
    [hold] = world.records.holds()
    assert created.severity == Severity.MEDIUM and created.payload.hold_id == hold.id
    assert created.payload.cameras == ("12", "14")
    [accepted] = world.answers()
    assert accepted["outcome"] == "accepted"
    assert accepted["detail"].startswith(f"hold H-{hold.id} made for crime reference DBY/12345/26")
    assert accepted["hold"]["hold_id"] == hold.id
    kind, detail = world.command("complete_retention", request_id="REQ-3", export_reference="EXP-77",
                                 manifest=MANIFEST)
    assert kind is CommandOutcomeKind.DELIVERED
    files = ({"name": "cam12-0900.mp4", "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
             {"name": "cam14-0900.mp4", "sha256": "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"})
    [completed] = world.of(ev.HOLD_COMPLETED)
    assert completed.payload.manifest == files and completed.payload.completed_by == "olive"
    [disclosure] = world.records.disclosures()
    digest = hashlib.sha256(manifest_text(files).encode()).hexdigest()
    assert (disclosure.what, disclosure.item, disclosure.crime_reference, disclosure.sha256,
            disclosure.released_by) == ("footage", "EXP-77", "DBY/12345/26", digest, "olive")
    assert digest in detail
    done = world.answers()[1]
    assert done["outcome"] == "done" and done["manifest"] == list(files)
    assert done["hold"]["export_reference"] == "EXP-77"
    assert world.records.request("REQ-3").state == CLOSED
    kind, detail = world.command("complete_retention", request_id="REQ-3", export_reference="EXP-77")
    assert kind is CommandOutcomeKind.REFUSED and len(world.records.disclosures()) == 1


def test_a_bad_manifest_line_is_refused_and_nothing_changes(world):
    """A manifest that is not sha256sum output is refused naming the line; the hold stays open."""
    world.make_desk()
    world.receive(retain())
    kind, detail = world.command("complete_retention", request_id="REQ-3", export_reference="EXP-77",
                                 manifest=MANIFEST + "d41d8cd98f00b204e9800998ecf8427e  short.mp4\n")
    assert kind is CommandOutcomeKind.REFUSED and detail.startswith("manifest line 3 is not")
    assert world.records.holds(open_only=True) and world.records.disclosures() == []
    assert world.of(ev.HOLD_COMPLETED) == [] and len(world.answers()) == 1


# --- monitoring -------------------------------------------------------------------------------------------------


def test_monitoring_starts_at_once_and_ends_at_its_time(world):
    """A monitoring request is accepted at once and answered done when its period ends."""
    world.make_desk()
    world.receive(monitor(until=NOW + 3600))
    [started] = world.of(ev.MONITOR_STARTED)
    assert started.payload.place == "Market Place" and started.location.latitude == 53.235
    assert [a["outcome"] for a in world.answers()] == ["accepted"]
    world.advance(3599)
    assert world.of(ev.MONITOR_ENDED) == []
    world.advance(1)
    assert len(world.of(ev.MONITOR_ENDED)) == 1
    assert [a["outcome"] for a in world.answers()] == ["accepted", "done"]
    assert world.records.request("REQ-4").state == CLOSED


# --- restarts -----------------------------------------------------------------------------------------------------


def test_a_restart_rearms_expiries_and_ends_and_one_past_fires_at_once(world):
    """After a restart the live view still expires and the monitoring still ends on time; one already due
    fires at once."""
    world.make_desk()
    world.receive(live_view(minutes=10))
    world.receive(monitor(until=NOW + 3600))
    world.restart_hub()
    assert_no_pending_timers(world.harness.clock)
    world.harness.clock.advance(20 * 60)  # the hub is down while the live view's expiry passes
    world.make_desk()
    assert len(world.of(ev.LIVE_VIEW_EXPIRED)) == 1
    assert world.records.request("REQ-1").state == CLOSED
    world.advance(40 * 60 - 1)
    assert world.of(ev.MONITOR_ENDED) == []
    world.advance(1)
    assert len(world.of(ev.MONITOR_ENDED)) == 1


def test_a_restart_carries_on_with_a_request_left_half_done(world):
    """A request stopped before its answer is carried out after the restart, and answered once."""
    world.make_desk()
    world.cameras.silent.add("12")
    world.receive(live_view())
    world.restart_hub()
    assert world.answers() == [] and world.records.request("REQ-1").state == "working"
    world.cameras.silent.clear()
    world.make_desk()
    [answer] = world.answers()
    assert answer["outcome"] == "accepted" and world.records.request("REQ-1").state == ACTIVE


def test_stopping_leaves_no_timer(world):
    """Stopping the desk cancels expiries, monitoring ends and work under way."""
    world.make_desk()
    world.cameras.silent.add("30")
    world.receive(live_view())
    world.receive(monitor())
    world.receive(live_view(request_id="REQ-5", camera="30"))
    world.stop()
    assert_no_pending_timers(world.harness.clock)


# --- acknowledgements -----------------------------------------------------------------------------------------


def test_an_answer_the_force_refuses_is_reported(world):
    """An answer refused by the force at link level is reported with its request; one taken is not."""
    world.make_desk(live_view="consent")
    world.receive(live_view())
    world.command("refuse_request", request_id="REQ-1", reason="No")
    [message] = world.session.offered
    world.desk.acknowledged([Acknowledged(message=message, status="ok", reason=None, at=NOW)])
    world.harness.settle()
    assert world.of(ev.MESSAGE_REFUSED) == []
    world.desk.acknowledged([Acknowledged(message=message, status="error", reason="unknown request", at=NOW)])
    world.harness.settle()
    [refused] = world.of(ev.MESSAGE_REFUSED)
    assert refused.payload == ev.MessageRefused(transaction_id=message.transaction_id, link_seq=message.link_seq,
                                                status="error", what="answer", reason="unknown request",
                                                request_id="REQ-1")
    assert refused.severity == Severity.MEDIUM


# --- the pure parts --------------------------------------------------------------------------------------------


def test_a_manifest_reads_as_sha256sum_writes_it():
    """sha256sum lines (text and binary mode, escaped names, blank lines) read into names and hashes."""
    text = "\n" + "a" * 64 + "  plain.mp4\r\n" + "\\" + "b" * 64 + "  back\\\\slash.mp4\n"
    files = parse_manifest(text)
    assert files == ({"name": "plain.mp4", "sha256": "a" * 64}, {"name": "back\\slash.mp4", "sha256": "b" * 64})
    assert parse_manifest(manifest_text(files)) == files
    assert parse_manifest("") == ()


@pytest.mark.parametrize(("text", "reason"), [
    ("a" * 63 + "  x.mp4", "line 1 is not"),
    ("a" * 64 + " x.mp4", "line 1 is not"),
    ("a" * 64 + "  x.mp4\n" + "b" * 64 + "  x.mp4", "line 2: 'x.mp4' is listed twice"),
    ("\\" + "a" * 64 + "  new\\nline", "printable"),
    ("\\" + "a" * 64 + "  odd\\q", "unknown escape"),
])
def test_a_bad_manifest_is_refused_naming_its_line(text, reason):
    """A line that is not sha256sum output, a repeated name or an unprintable one is refused, saying where."""
    with pytest.raises(ManifestError, match=reason):
        parse_manifest(text)


def test_signing_replaces_an_old_signature_and_covers_the_whole_address():
    """Signing drops any earlier expires and signature; the signature is HMAC-SHA256 over address and expiry."""
    signed = sign_stream_uri("rtsp://m.example/cam1?a=1&expires=5&signature=00", 2000, KEY)
    assert signed.count("expires=") == 1 and signed.count("signature=") == 1
    expected = hmac.new(KEY.encode(), b"rtsp://m.example/cam1?a=1\n2000", hashlib.sha256).hexdigest()
    assert signed == f"rtsp://m.example/cam1?a=1&expires=2000&signature={expected}"
    assert stream_signature_valid(signed, KEY, 1999) and not stream_signature_valid(signed, KEY, 2000)
