"""The police link end to end: the whole hub against the reference force end, over real sockets on loopback and
real mutual TLS (see peer_scene.py for the pieces)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest
import pytest_twisted
import structlog
from twisted.internet import reactor
from twisted.internet.defer import gatherResults
from twisted.internet.ssl import Certificate, optionsForClientTLS

from hub.events import Severity
from plugins.police_link import events as ev
from plugins.police_link import pki
from plugins.police_link.codec.cap import decode_alert
from plugins.police_link.codec.frames import POLICE_REQUEST
from plugins.police_link.link import LinkState
from plugins.police_link.records import PoliceRecords
from plugins.police_link.transport import LinkClientService
from tests.plugins.police_link.conftest import assert_valid_cap
from tests.plugins.police_link.peer_scene import (
    FORCE,
    LINK,
    ForceEnd,
    LinkOnly,
    Relay,
    Room,
    free_port,
    link_config,
    make_pki,
    pause,
    until,
)

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def files(tmp_path):
    """A test PKI for both ends (``hub pki init``'s), valid by the system clock OpenSSL reads."""
    return make_pki(tmp_path / "pki")


@pytest_twisted.async_yield_fixture
async def scene(tmp_path, files, cap_schema):
    """The force end (not started; it checks every alert against the OASIS schema) and ``await make_room(...)``
    for the whole hub pointed at it; everything stopped after the test."""
    force = ForceEnd(files, tmp_path / "force", cap_schema=cap_schema)
    rooms: list[Room] = []

    async def room(**settings):
        made = Room(tmp_path / "room", files, force.url, **settings)
        rooms.append(made)
        await made.start()
        return made

    yield force, room
    for made in rooms:
        await made.close()
    await force.stop()


# --- incidents to the force ------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_incidents_reach_the_force_as_valid_cap_by_themselves_or_by_an_operator_and_its_answers_land_on_them(
        scene):
    """A high incident goes by itself (auto_send): the force end gets a CAP Alert valid against the OASIS schema,
    accepts it, and police.alert.delivered and police.alert.accepted land on the incident. A medium one waits
    for an operator's send_to_police, then goes too; withdraw_from_police sends a Cancel referencing it."""
    force, make_room = scene
    peer = await force.start()
    room = await make_room()
    await room.events.first(ev.LINK_CONNECTED)
    await room.report("R-1")
    await room.report("R-2", Severity.MEDIUM)
    await peer.alerts_received(1)
    first = room.incident_of("R-1")
    [alert] = peer.store.alerts()
    assert (alert["incident_id"], alert["msg_type"]) == (first.id, "Alert")
    accepted = await room.events.first(ev.ALERT_ACCEPTED)
    assert (accepted.incident_id, accepted.payload.identifier) == (first.id, alert["identifier"])
    assert accepted.payload.force_reference and accepted.payload.answered_by
    landed = await until(lambda: {event.topic for event in room.hub.incidents.detail(first.id).events}
                         >= {ev.ALERT_QUEUED, ev.ALERT_DELIVERED, ev.ALERT_ACCEPTED}, "the answers on the incident")
    assert landed

    second = await until(lambda: room.incident_of("R-2"), "the medium report's incident")
    assert peer.store.alert_count() == 1  # not sent by itself
    sent = await room.command("send_to_police", incident_id=second.id, note="Officers may want to attend")
    assert sent.topic == "police_link.command.sent", sent.summary
    await peer.alerts_received(2)
    withdrawn = await room.command("withdraw_from_police", incident_id=second.id, reason="Resolved by staff")
    assert withdrawn.topic == "police_link.command.sent", withdrawn.summary
    await peer.alerts_received(3)

    received = peer.store.alerts()
    assert [(a["incident_id"], a["msg_type"]) for a in received] == [
        (first.id, "Alert"), (second.id, "Alert"), (second.id, "Cancel")]
    documents = [row[0] for row in peer.store._connection.execute("SELECT xml FROM alerts ORDER BY seq")]
    for xml in documents:
        assert_valid_cap(xml)
    cancel = decode_alert(documents[2])
    assert [reference.identifier for reference in cancel.references] == [received[1]["identifier"]]
    assert cancel.status == "Exercise" and cancel.scope == "Private"
    assert [item["incident_id"] for item in peer.store.open_incidents()] == [first.id]
    assert peer.refused == [] and room.events.find(ev.MESSAGE_REFUSED) == []


# --- a backlog through cuts and restarts ---------------------------------------------------------------

COUNT = 3000


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest_twisted.ensureDeferred
async def test_thousands_of_alerts_queued_while_the_force_is_down_arrive_once_and_in_order_through_cuts_and_restarts(
        scene):
    """3,000 incidents auto-sent while the force end is down; then the link comes up, is cut mid-backlog, the hub
    is restarted mid-backlog and so is the force end (each from its own database): the force has every alert
    exactly once, in link order, with no gap, and the hub owes nothing; both ends' snapshots agree."""
    force, make_room = scene
    force.port = free_port()
    room = await make_room()
    lost = await room.events.first(ev.LINK_LOST)
    assert "connection refused" in lost.payload.reason
    await gatherResults([room.report(f"R-{number}") for number in range(COUNT)])
    await until(lambda: room.pending() == COUNT, f"{COUNT} alerts owed", deadline_s=60)

    peer = await force.start()
    connected = await room.events.first(ev.LINK_CONNECTED)
    assert (connected.payload.backlog, connected.payload.resend_from) == (COUNT, 1)
    # Each cut comes the moment the force end has taken the n-th alert, before its answer goes out.
    await peer.alerts_received(COUNT // 5)
    force.drop()  # the cable cut mid-backlog, from the force's side
    await peer.alerts_received(2 * COUNT // 5)
    await room.stop()  # the hub stopped mid-backlog...
    assert peer.store.alert_count() < COUNT
    until_at = datetime.fromtimestamp(reactor.seconds() + 3600, UTC)
    asked = [peer.request_monitoring(f"Place {number}", until_at) for number in range(3)]  # while it is down
    await room.start()  # ...and started again on the same database
    connected = await room.events.first(ev.LINK_CONNECTED)
    assert 0 < connected.payload.backlog < COUNT
    await peer.alerts_received(3 * COUNT // 5)
    await force.stop()  # the force end stopped mid-backlog...
    assert 3 * COUNT // 5 <= force_count(force) < COUNT
    peer = await force.start()  # ...and started again from its own store
    await peer.alerts_received(COUNT)
    await until(lambda: room.pending() == 0, "nothing owed by the hub", deadline_s=30)

    received = peer.store.alerts()
    sent = room.outbox()
    assert len(received) == COUNT == len(sent)
    seqs = [alert["link_seq"] for alert in received]
    assert seqs == sorted(set(seqs)) == [row[0] for row in sent]
    assert len({alert["identifier"] for alert in received}) == COUNT
    # What the force had taken before each cut was acknowledged by its resume, never sent twice as new.
    assert {row[2] for row in sent} <= {"ok", "duplicate"}
    assert peer.gaps == [] and peer.refused == [] and room.events.find(ev.LINK_GAP) == []
    snapshot = await room.events.first(ev.LINK_SNAPSHOT, deadline_s=30)
    assert snapshot.payload.force_incidents == COUNT and snapshot.payload.missing_incidents == ()

    # The other way, through the same cuts and restarts: the force's answer to every alert and the requests it
    # sent while the hub was down, each taken once.
    await until(lambda: peer.session.backlog == 0, "nothing owed by the force", deadline_s=30)
    answered = room.hub.database.read(lambda connection: connection.execute(
        "SELECT answer, count(*) FROM police_alerts WHERE link = ? GROUP BY answer", (LINK,)).fetchall())
    assert answered == [("accepted", COUNT)]
    inbox = room.hub.database.read(lambda connection: connection.execute(
        "SELECT count(*), count(DISTINCT link_seq), max(link_seq) FROM police_inbox WHERE link = ?",
        (LINK,)).fetchone())
    assert inbox == (COUNT + len(asked),) * 3
    await until(lambda: all(answer_to(peer, request_id, "accepted") for request_id in asked),
                "the requests sent while the hub was down answered")


def force_count(force):
    from plugins.police_link.peer_store import PeerStore

    store = PeerStore(force.directory / "police-peer.sqlite3")
    try:
        return store.alert_count()
    finally:
        store.close()


# --- mutual TLS -----------------------------------------------------------------------------------------


@pytest.fixture
def other(tmp_path):
    """An unrelated PKI: its CA and certificates are nobody's here."""
    return pki.init_pki(tmp_path / "other-pki", now=datetime.now(UTC), force_name="impostor")


@pytest_twisted.async_yield_fixture
async def bench(tmp_path, files):
    """The force end up, and the adapter alone on a real bus: ``await bench.start(config)``."""
    force = ForceEnd(files, tmp_path / "force")
    await force.start()
    link = LinkOnly(tmp_path / "hub")
    link.force = force
    yield link
    await link.close()
    await force.stop()


def expired_client(files, tmp_path):
    now = datetime.now(UTC)
    certificate, key = tmp_path / "expired.pem", tmp_path / "expired.key"
    pki.issue_certificate(files.ca_certificate, files.ca_key, certificate, key, common_name="cctv-hub",
                          not_before=now - timedelta(days=30), not_after=now - timedelta(days=1))
    return {"client_certificate": certificate, "client_key": key}


@pytest.mark.parametrize("case", ["another CA", "expired", "none at all"])
@pytest_twisted.ensureDeferred
async def test_a_client_certificate_the_force_does_not_accept_never_attaches_and_the_link_is_reported_lost(
        bench, files, other, tmp_path, case):
    """A hub certificate from another CA, an expired one, or none: the force end never attaches, and
    police.link.lost says the force refused the handshake."""
    force = bench.force
    transport_factory = None
    if case == "another CA":
        config = link_config(files, force.url, client_certificate=other.client_certificate,
                             client_key=other.client_key)
    elif case == "expired":
        config = link_config(files, force.url, **expired_client(files, tmp_path))
    else:
        config = link_config(files, force.url)

        def transport_factory(endpoint):
            anonymous = optionsForClientTLS("127.0.0.1", trustRoot=Certificate.loadPEM(
                files.ca_certificate.read_bytes()))
            return LinkClientService(reactor=reactor, url=force.url, tls_options=anonymous, endpoint=endpoint,
                                     log=structlog.get_logger(), rng=random.Random(1), backoff_initial_s=0.1,
                                     backoff_max_s=1.0, on_failure=endpoint._connect_failed)

    await bench.start(config, transport_factory=transport_factory)
    lost = await bench.watch.first(ev.LINK_LOST)
    said = "requires a client certificate" if case == "none at all" else "the force refused the TLS handshake"
    assert lost.payload.reason.startswith("the force") and said in lost.payload.reason, lost.payload.reason
    await pause(0.3)  # a few more attempts, each refused
    assert force.peer.session.state is LinkState.DISCONNECTED and force.peer._current is None
    assert not any(line.startswith("link open") for line in force.lines)
    assert bench.watch.find(ev.LINK_CONNECTED) == [] and len(bench.watch.find(ev.LINK_LOST)) == 1


@pytest.mark.parametrize("case", ["another CA", "a wrong pinned fingerprint"])
@pytest_twisted.ensureDeferred
async def test_a_force_certificate_the_hub_does_not_trust_is_refused_saying_so(bench, files, other, case):
    """The force shows a certificate the hub does not trust (issued by another CA; not the pinned one): no
    link, and police.link.lost says the force's certificate was refused."""
    force = bench.force
    if case == "another CA":
        config = link_config(files, force.url, ca_certificate=other.ca_certificate)
    else:
        config = link_config(files, force.url, ca_certificate=None,
                             server_fingerprint=pki.fingerprint_sha256(other.server_certificate))
    await bench.start(config)
    lost = await bench.watch.first(ev.LINK_LOST)
    reason = lost.payload.reason
    assert "the force's certificate" in reason, reason
    assert ("not trusted" in reason) if case == "another CA" else ("fingerprint" in reason), reason
    assert force.peer._current is None and bench.watch.find(ev.LINK_CONNECTED) == []


@pytest_twisted.ensureDeferred
async def test_a_good_pair_of_certificates_connects(bench, files):
    """The hub's certificate from the force's CA and the force's from the CA the hub trusts (and pinned too):
    police.link.connected names the force's fingerprint, and both ends are up."""
    force = bench.force
    pinned = pki.fingerprint_sha256(files.server_certificate)
    await bench.start(link_config(files, force.url, server_fingerprint=pinned))
    connected = await bench.watch.first(ev.LINK_CONNECTED)
    assert connected.payload.fingerprint == pinned and connected.payload.backlog == 0
    await until(lambda: force.peer.state is LinkState.UP, "the force end up")
    assert bench.watch.find(ev.LINK_LOST) == []


# --- what the force sends that the hub cannot take ----------------------------------------------------


def frames_of(force, kind):
    found = []
    for text in force.heard:
        try:
            frame = json.loads(text)
        except ValueError:
            continue
        if frame.get("type") == kind:
            found.append(frame)
    return found


@pytest_twisted.ensureDeferred
async def test_frames_the_hub_cannot_take_are_answered_with_errors_and_the_link_stays_up(bench, files):
    """From the force end's side of the live link: text that is not JSON, an unknown frame type, an oversized
    frame and a binary message each get an error frame; an event with an unreadable member, a request of an
    unknown type and a content type the hub does not take each get an event_response of error; the hub reports
    police.link.frame_refused and police.request.invalid; the link stays up and a good request is answered."""
    force = bench.force
    await bench.start(link_config(files, force.url))
    await bench.watch.first(ev.LINK_CONNECTED)
    peer = force.peer
    await until(lambda: peer.state is LinkState.UP, "the force end up")
    live = force.transport()

    live.send_text("this is not JSON {")
    live.send_text('{"type":"hello","from":"the force"}')
    live.send_text('{"type":"ping","clock":1.0,"padding":"' + "x" * 1_100_000 + '"}')
    live._protocol.sendMessage(b"\x00\x01binary", isBinary=True)
    await until(lambda: len(frames_of(force, "error")) >= 4, "four error frames")
    codes = sorted(frame["code"] for frame in frames_of(force, "error"))
    assert codes == ["malformed", "malformed", "oversized", "unknown_type"], frames_of(force, "error")

    unreadable = peer.session.allocate()
    live.send_text(json.dumps({"type": "event", "link_seq": unreadable, "transaction_id": "force-unreadable",
                               "content_type": POLICE_REQUEST, "sent_at": "yesterday at noon", "deadline": None,
                               "payload": {}}))
    unknown = peer._send(POLICE_REQUEST, json.dumps({"request_type": "fly_drone", "version": 1,
                                                      "request_id": "REQ-DRONE"}))
    foreign = peer._send("application/vnd.example.gossip+json", json.dumps({"said": "hello"}))
    await until(lambda: {frame["transaction_id"] for frame in frames_of(force, "event_response")}
                >= {"force-unreadable", unknown.transaction_id, foreign.transaction_id}, "the three answered")
    answers = {frame["transaction_id"]: frame for frame in frames_of(force, "event_response")}
    for transaction_id in ("force-unreadable", unknown.transaction_id, foreign.transaction_id):
        assert answers[transaction_id]["status"] == "error" and answers[transaction_id]["reason"]
    assert "fly_drone" in answers[unknown.transaction_id]["reason"]

    refused = await bench.watch.first(ev.LINK_FRAME_REFUSED)
    assert refused.payload.code == "malformed"
    await until(lambda: len(bench.watch.find(ev.REQUEST_INVALID)) >= 2, "two police.request.invalid")
    invalid = {event.payload.transaction_id: event.payload for event in bench.watch.find(ev.REQUEST_INVALID)}
    assert set(invalid) == {unknown.transaction_id, foreign.transaction_id}
    assert invalid[unknown.transaction_id].request_id == "REQ-DRONE"

    until_at = datetime.fromtimestamp(reactor.seconds() + 3600, UTC)
    good = peer.request_monitoring("Market Place", until_at, reason="Expected disorder")
    await until(lambda: any(r["request_id"] == good and r["outcome"] == "accepted" for r in peer.store.requests()),
                "the good request answered")
    assert bench.watch.find(ev.LINK_LOST) == [] and len(bench.watch.find(ev.LINK_CONNECTED)) == 1
    assert bench.adapter.session.state is LinkState.UP and peer.state is LinkState.UP
    assert force.transport() is live and peer.gaps == [] and bench.watch.find(ev.LINK_GAP) == []


# --- the line ----------------------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_a_silent_line_is_a_line_fault_within_seconds_and_restored_when_the_force_is_heard_again(
        bench, files):
    """The line to the force goes silent without closing (ping every 1 s, a fault after 3 s of silence):
    police.link.fault; when it carries again the hub reconnects, police.link.restored follows, and a request
    the force sent meanwhile is answered."""
    force = bench.force
    relay = Relay(force.port)
    port = await relay.start()
    try:
        await bench.start(link_config(files, f"wss://127.0.0.1:{port}/cctv", ping_interval_s=1.0,
                                      line_fault_after_s=3.0))
        await bench.watch.first(ev.LINK_CONNECTED)
        mark = bench.watch.mark()
        relay.hush()
        fault = await bench.watch.first(ev.LINK_FAULT, since=mark)
        assert fault.payload.silent_for_s >= 3.0 and fault.payload.last_heard is not None
        asked = force.peer.request_monitoring("Station Approach", datetime.fromtimestamp(
            reactor.seconds() + 3600, UTC), reason="Match day")
        relay.speak()
        restored = await bench.watch.first(ev.LINK_RESTORED, since=mark)
        assert restored.payload.fault_lasted_s > 0
        await bench.watch.first(ev.LINK_CONNECTED, since=mark)  # and up again
        await until(lambda: any(r["request_id"] == asked and r["outcome"] == "accepted"
                                for r in force.peer.store.requests()), "the request sent meanwhile answered")
        assert len(bench.watch.find(ev.LINK_FAULT)) == 1
    finally:
        await relay.stop()


# --- the force's requests --------------------------------------------------------------------------------


def answer_to(peer, request_id, outcome=None):
    """The force end's record of ``request_id`` once answered (with ``outcome``, when given), else None."""
    for request in peer.store.requests():
        if request["request_id"] == request_id and request["outcome"] and outcome in (None, request["outcome"]):
            return request
    return None


def incident_for(room, request_id):
    found = [incident for incident in room.hub.incidents.list()
             if incident.subject.kind == "police_request" and incident.subject.id == request_id]
    return found[-1] if found else None


@pytest_twisted.ensureDeferred
async def test_the_forces_requests_are_carried_out_end_to_end_with_a_real_camera(scene):
    """With the ONVIF adapter on a simulated camera in the same hub: a live view waits for consent (an incident
    for the operator), is approved, and the force gets the camera's stream address with an expiry, logged as
    a disclosure; pointing a camera is done at once; footage is held until an operator completes the
    retention, then answered done with the manifest; monitoring ends at its time with a done answer; a
    request arriving after its deadline is answered stale."""
    force, make_room = scene
    peer = await force.start()
    room = await make_room(camera=True)
    await room.events.first(ev.LINK_CONNECTED)
    await room.events.first("onvif.camera.online", deadline_s=15)

    live = peer.request_live_view("1", minutes=5, reason="Suspect heading for the market")
    received = await room.events.first(ev.REQUEST_RECEIVED, where=lambda e: e.payload.request_id == live)
    assert received.payload.needs_consent
    task = await until(lambda: incident_for(room, live), "an incident for the operator to approve the live view")
    assert answer_to(peer, live) is None
    approved = await room.command("approve_request", incident_id=task.id, request_id=live)
    assert approved.topic == "police_link.command.delivered", approved.summary
    answer = (await until(lambda: answer_to(peer, live), "the live view answered"))["answer"]
    assert answer["outcome"] == "accepted" and answer["stream"]["camera"] == "1"
    assert answer["stream"]["uri"].startswith("rtsp://") and answer["stream"]["expires_at"]
    [disclosure] = PoliceRecords(room.hub.database, LINK).disclosures(request_id=live)
    assert (disclosure.what, disclosure.item, disclosure.released_by, disclosure.recipient) == (
        "live_view", "1", "olive", FORCE)
    assert disclosure.expires_at is not None

    point = peer.request_point_camera("1", "High Street", reason="Officers attending")
    answer = (await until(lambda: answer_to(peer, point), "the camera pointed"))["answer"]
    assert answer["outcome"] == "accepted" and "High Street" in answer["detail"], answer

    now = datetime.fromtimestamp(reactor.seconds(), UTC)
    retain = peer.request_retention("CR-0042-26", ("1",), now - timedelta(hours=2), now - timedelta(hours=1))
    hold = await room.events.first(ev.HOLD_CREATED, where=lambda e: e.payload.request_id == retain)
    assert (await until(lambda: answer_to(peer, retain, "accepted"), "the hold answered"))["answer"]["hold"]
    task = await until(lambda: incident_for(room, retain), "an incident for the export")
    manifest = f"{'ab' * 32}  camera-1.mp4\n"
    completed = await room.command("complete_retention", incident_id=task.id, request_id=retain,
                                   export_reference="EXP-0042", manifest=manifest)
    assert completed.topic == "police_link.command.delivered", completed.summary
    answer = (await until(lambda: answer_to(peer, retain, "done"), "the retention answered done"))["answer"]
    assert answer["manifest"] == [{"name": "camera-1.mp4", "sha256": "ab" * 32}]
    assert answer["hold"]["hold_id"] == hold.payload.hold_id and answer["hold"]["export_reference"] == "EXP-0042"

    ends = datetime.fromtimestamp(int(reactor.seconds()) + 3, UTC)
    watch = peer.request_monitoring("Market Place", ends, reason="Pubs closing", cameras=("1",))
    await until(lambda: answer_to(peer, watch, "accepted"), "the monitoring accepted")
    await until(lambda: answer_to(peer, watch, "done"), "the monitoring done at its time")
    ended = await room.events.first(ev.MONITOR_ENDED, where=lambda e: e.payload.request_id == watch)
    assert ended.payload.place == "Market Place"

    late = peer.request_live_view("1", minutes=5, deadline_s=-60)
    stale = await room.events.first(ev.REQUEST_STALE, where=lambda e: e.payload.request_id == late)
    assert stale.payload.transaction_id
    await until(lambda: peer.store._connection.execute(
        "SELECT status FROM outbox WHERE transaction_id = ?", (stale.payload.transaction_id,)).fetchone()[0] == "stale",
        "the late request answered stale")
    assert room.events.find(ev.REQUEST_RECEIVED, where=lambda e: e.payload.request_id == late) == []
    assert answer_to(peer, late, "stale")  # over at the force's end too
    assert room.events.find(ev.MESSAGE_REFUSED) == [] and peer.refused == []

    # After a reconnect both ends compare what they hold open: only the live view, still being watched.
    mark = room.events.mark()
    force.drop()
    compared = await room.events.first(ev.LINK_SNAPSHOT, since=mark)
    assert [item["request_id"] for item in peer.snapshots[-1].requests] == [live]
    assert (compared.payload.force_requests, compared.payload.unknown_requests,
            compared.payload.answered_requests, compared.payload.missing_incidents) == (1, (), (), ())
