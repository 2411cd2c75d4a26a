"""The alert desk: incidents go to the force as CAP 1.2 Alert, Update and Cancel, and the force's answers land on
them; every CAP message made here is validated against the OASIS schema."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import attrs
import pytest
import structlog
from twisted.internet.defer import Deferred

from hub.events import (
    CommandOutcomeKind,
    CommandRequested,
    Event,
    Location,
    Severity,
    Subject,
)
from hub.evidence import EvidenceStore
from hub.incidents import INCIDENT_EVENT_TYPES, Incident, IncidentChanged, IncidentState
from hub.incidents.events import TOPICS
from hub.incidents.model import HistoryEntry
from hub.incidents.store import EventLink, change_job, location_keys, subject_key
from hub.testing import BusHarness, Note, assert_no_pending_timers, success_result_of
from plugins.onvif.events import EVENT_TYPES as ONVIF_EVENT_TYPES
from plugins.onvif.events import CameraRef, EvidenceRef, SnapshotTaken
from plugins.police_link import events as ev
from plugins.police_link.alerts import AlertDesk
from plugins.police_link.codec.cap import CapAlert, decode_alert
from plugins.police_link.codec.frames import CAP_XML
from plugins.police_link.codec.messages import AlertAnswer
from plugins.police_link.config import AutoSend, PoliceLinkConfig
from plugins.police_link.link import Acknowledged, Inbound, Verdict
from plugins.police_link.records import PoliceRecords
from plugins.police_link.schema import POLICE_SCHEMA
from plugins.police_link.sending import LinkSender
from plugins.police_link.store import HubLinkStore
from tests.plugins.police_link.conftest import assert_valid_cap

LINK = "police_link.force"
FORCE = "Derbyshire Constabulary"
SENDER = "cctv@chesterfield.gov.uk"
BASE = "https://cctv-hub.chesterfield.gov.uk/api/evidence/"
START = 1_795_000_000.0  # 2026-11-18, so CAP times are ordinary dates
JPEG = b"\xff\xd8\xff\xe0" + b"still" * 50
MARKET = Location(name="Market Place", camera="12", latitude=53.23546, longitude=-1.42735, uprn="74012345")

CONFIG = PoliceLinkConfig(
    url="wss://link.force.example:8443/cctv", client_certificate=Path("hub.pem"), client_key=Path("hub.key"),
    force=FORCE, sender=SENDER, server_fingerprint="AB" * 32, cap_status="Exercise",
    auto_send=AutoSend(min_severity="high", topics=("shopwatch.emergency.*",)),
    update_min_interval_s=30, answer_timeout_s=300, evidence_base_url=BASE,
)


class FakeSession:
    """The part of LinkSession the sender uses: link sequence numbers, and what was offered to send."""

    def __init__(self, next_seq: int = 1, offered: list[Any] | None = None) -> None:
        self.next_seq = next_seq
        self.offered: list[Any] = offered if offered is not None else []

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


class Room:
    """A control room in miniature: a real bus and database, incidents made as the engine makes them (each
    change an ``incident.*`` event written with the incident tables), and the desk under test on a real
    LinkSender and HubLinkStore over a fake session."""

    def __init__(self, directory: Path, clock: Any, config: PoliceLinkConfig = CONFIG) -> None:
        clock.advance(START)
        self.clock = clock
        self.config = config
        self.harness = BusHarness(directory, clock, event_types=(*INCIDENT_EVENT_TYPES, *ONVIF_EVENT_TYPES,
                                                                  *ev.EVENT_TYPES),
                                  plugin_schemas=(POLICE_SCHEMA,))
        self.bus = self.harness.bus
        self.evidence = EvidenceStore(directory / "evidence")
        self.incidents: dict[str, Incident] = {}
        self.published: list[Event] = []
        self.bus.subscribe("#", self.published.append, name="test-watch")
        self.session = FakeSession()
        self.desk = self._desk()
        self.desk.start()

    def _desk(self) -> AlertDesk:
        database = self.harness.database
        self.store = HubLinkStore(database, LINK)
        self.sender = LinkSender(session=self.session, store=self.store, bus=self.bus, clock=self.clock)
        return AlertDesk(clock=self.clock, config=self.config, database=database, link=LINK,
                         events=self.harness.events.for_source(LINK), sender=self.sender, evidence=self.evidence,
                         log=structlog.get_logger().bind(adapter=LINK), bus=self.bus, store=self.store)

    def restart(self) -> None:
        """Stop the desk, reopen the bus on the same journal (a hub restart), and start a new desk."""
        self.desk.stop()
        self.bus = self.harness.restart()
        self.bus.subscribe("#", self.published.append, name="test-watch")
        # What the old session was offered stays on the list: the test reads the link's whole history.
        self.session = FakeSession(next_seq=self.session.next_seq, offered=self.session.offered)
        self.desk = self._desk()
        self.desk.start()
        self.settle()

    def settle(self) -> None:
        self.harness.settle()

    def run(self, coroutine: Any) -> Any:
        deferred = Deferred.fromCoroutine(coroutine)
        self.settle()
        return success_result_of(deferred)

    def later(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.settle()

    # --- the incident engine, as far as the desk can tell ------------------------------------------------------

    def happen(self, topic: str, summary: str, *, severity: Severity = Severity.MEDIUM, payload: Any = None,
               location: Location | None = MARKET, incident_id: str | None = None,
               source: str | None = None) -> Event:
        events = self.harness.events if source is None else self.harness.events.for_source(source)
        event = events(topic, payload if payload is not None else Note(summary), severity=severity,
                                    subject=Subject(kind="camera", id="12"), summary=summary, location=location,
                                    incident_id=incident_id)
        seq = self.run(_awaited(self.bus.publish(event)))
        return event.with_seq(seq)

    def open(self, summary: str = "Emergency button pressed at Boots", *, topic: str = "shopwatch.emergency.raised",
             severity: Severity = Severity.CRITICAL, location: Location | None = MARKET, deliver: bool = True,
             category: str | None = "emergency", source: str | None = None) -> Incident:
        cause = self.happen(topic, summary, severity=severity, location=location, source=source)
        number = len(self.incidents) + 1
        incident = Incident(id=f"INC-{number:06d}", number=number, title=summary, state=IncidentState.NEW,
                            severity=severity, source=cause.source, subject=cause.subject, opened_at=self.now,
                            updated_at=self.now, last_event_at=self.now, location=location, category=category,
                            sources=(cause.source,), cameras=("12",))
        detail = {"rule": "test", "event_id": cause.id, "seq": cause.seq, "topic": topic}
        self.change(incident, "opened", detail, cause=cause, history=True, deliver=deliver)
        return incident

    def join(self, incident: Incident, topic: str, summary: str, *, severity: Severity = Severity.INFO,
             payload: Any = None, deliver: bool = True) -> Event:
        cause = self.happen(topic, summary, severity=severity, payload=payload, incident_id=incident.id)
        after = attrs.evolve(self.incidents[incident.id], severity=max(self.incidents[incident.id].severity, severity),
                             event_count=self.incidents[incident.id].event_count + 1, last_event_at=self.now)
        detail: dict[str, Any] = {"event_id": cause.id, "seq": cause.seq, "topic": topic}
        if after.severity != self.incidents[incident.id].severity:
            detail["severity"] = {"from": self.incidents[incident.id].severity.label, "to": after.severity.label}
        return self.change(after, "event_joined", detail, cause=cause, deliver=deliver)

    def snapshot(self, incident: Incident, content: bytes = JPEG, *, deliver: bool = True) -> str:
        """An operator's snapshot from camera 12, kept as evidence and joined to the incident."""
        item = success_result_of(self.evidence.put(content, "image/jpeg"))
        payload = SnapshotTaken(camera=CameraRef(number="12", name="Market Place north"),
                                evidence=EvidenceRef(sha256=item.sha256, content_type=item.content_type,
                                                     size=item.size, url=item.url),
                                requested_by="op.jones")
        self.join(incident, "onvif.snapshot.taken", "Snapshot from camera 12", payload=payload, deliver=deliver)
        return item.sha256

    def move(self, incident: Incident, state: str, *, deliver: bool = True) -> Event:
        before = self.incidents[incident.id]
        after = attrs.evolve(before, state=IncidentState(state), updated_at=self.now)
        detail = {"from": before.state.value, "to": state}
        return self.change(after, "state_changed", detail, actor="op.jones", history=True, deliver=deliver)

    def change(self, incident: Incident, change: str, detail: dict[str, Any], *, cause: Event | None = None,
               actor: str | None = None, history: bool = False, deliver: bool = True) -> Event:
        self.incidents[incident.id] = incident
        link = None
        if cause is not None:
            link = EventLink(event_seq=cause.seq, event_id=cause.id, topic=cause.topic, folded=False, at=self.now,
                             subject_key=subject_key(cause.subject), location_keys=location_keys(cause.location))
        job = change_job(incident, link=link, history=HistoryEntry(at=self.now, actor=actor, action=change,
                                                                   detail=detail) if history else None)
        event = self.harness.events(
            TOPICS[change], IncidentChanged(change=change, actor=actor, detail=detail, incident=incident.to_json()),
            severity=Severity.INFO, subject=Subject(kind="incident", id=incident.id, name=incident.title),
            summary=f"Incident {incident.number} {change}", incident_id=incident.id, location=incident.location,
            causation_id=cause.id if cause is not None else None)
        seq = self.run(_awaited(self.bus.publish(event, also=job)))
        event = event.with_seq(seq)
        if deliver:
            self.deliver(event)
        return event

    def deliver(self, event: Event) -> None:
        self.run(self.desk.incident_changed(event))

    # --- operators and the force ---------------------------------------------------------------------------------

    def command(self, verb: str, incident: Incident | str, **arguments: Any) -> Event:
        incident_id = incident if isinstance(incident, str) else incident.id
        return self.harness.events(f"command.police_link.{verb}",
                                   CommandRequested(adapter=LINK, verb=verb, arguments=arguments,
                                                    requested_by="op.jones"),
                                   severity=Severity.INFO, subject=Subject(kind="adapter", id=LINK),
                                   summary=f"op.jones asked to {verb}", incident_id=incident_id)

    def send(self, incident: Incident | str, note: str | None = None) -> tuple[CommandOutcomeKind, str]:
        arguments = {"note": note} if note else {}
        return self.run(self.desk.send_to_police(self.command("send_to_police", incident, **arguments)))

    def withdraw(self, incident: Incident | str, reason: str = "false alarm") -> tuple[CommandOutcomeKind, str]:
        return self.run(self.desk.withdraw(self.command("withdraw_from_police", incident, reason=reason)))

    def answer(self, identifier: str, incident_id: str, answer: str = "accepted", *, reason: str | None = None,
               transaction_id: str = "force-1") -> Verdict:
        inbound = Inbound(link_seq=1, transaction_id=transaction_id, content_type="application/json",
                          payload={}, sent_at=self.now, deadline=None, received_at=self.now)
        return self.run(self.desk.answered(inbound, AlertAnswer(
            identifier=identifier, incident_id=incident_id, answer=answer, reason=reason,
            force_reference="DC-2026-1122-0042", answered_by="PS 1234 Patel")))

    def ack(self, status: str = "ok", *, index: int = -1, reason: str | None = None, after: float = 0.5) -> None:
        message = self.session.offered[index]
        self.desk.acknowledged([Acknowledged(message=message, status=status, reason=reason,
                                             at=message.queued_at + after)])
        self.settle()

    # --- what came out ----------------------------------------------------------------------------------------

    @property
    def now(self) -> float:
        return self.clock.seconds()

    def alerts(self) -> list[CapAlert]:
        """Every CAP message the desk queued on the link, in order, each checked against the OASIS schema."""
        found = []
        for message in self.session.offered:
            assert message.content_type == CAP_XML
            assert_valid_cap(message.body)
            found.append(decode_alert(message.body))
        return found

    def events(self, pattern: str) -> list[Event]:
        from hub.topics import TopicMatcher

        match = TopicMatcher(pattern)
        return [event for event in self.published if match(event.topic)]

    def rows(self, sql: str, *parameters: Any) -> list[tuple]:
        return self.harness.database.read(lambda connection: connection.execute(sql, parameters).fetchall())

    def close(self) -> None:
        self.desk.stop()
        self.harness.close()


async def _awaited(deferred: Deferred) -> Any:
    return await deferred


def parameters(alert: CapAlert) -> dict[str, str]:
    return dict(alert.info[0].parameters)


@pytest.fixture
def room(tmp_path, hub_clock, cap_schema):
    room = Room(tmp_path, hub_clock)
    yield room
    room.close()
    assert_no_pending_timers(hub_clock)


# --- what goes by itself ------------------------------------------------------------------------------------------


def test_an_incident_at_the_configured_severity_goes_to_the_force_as_a_cap_alert(room):
    """A critical incident reaches auto_send's min_severity: one CAP Alert, valid against the OASIS schema."""
    incident = room.open("Door forced at the jeweller's", topic="onvif.alarm.started", category=None)
    [alert] = room.alerts()
    assert alert.identifier == f"{SENDER}/INC-000001/1"
    assert (alert.sender, alert.status, alert.msg_type, alert.scope) == (SENDER, "Exercise", "Alert", "Private")
    assert alert.addresses == f'"{FORCE}"'
    assert alert.incidents == (incident.id,)
    assert alert.references == ()
    assert alert.source == "hub (automatic)"
    info = alert.info[0]
    assert (info.category, info.event, info.headline) == (("Security",), "Door forced at the jeweller's",
                                                         "Door forced at the jeweller's")
    assert (info.urgency, info.severity, info.certainty) == ("Immediate", "Extreme", "Observed")
    assert info.sender_name == CONFIG.sender_name
    assert parameters(alert) == {"incident_number": "1", "incident_state": "new", "hub_severity": "critical",
                                 "cameras": "12"}
    [area] = info.areas
    assert area.description == "Market Place"
    assert area.circle == (53.23546, -1.42735, 0.1)
    assert area.geocodes == (("UPRN", "74012345"),)
    assert "Door forced at the jeweller's" in info.description
    assert "Market Place, camera 12, UPRN 74012345" in info.description


def test_the_alert_is_journaled_with_its_event_and_row_before_it_is_offered_to_the_link(room):
    """police.alert.queued lands on the incident naming the message's place on the link; the row and the
    outbox hold it too."""
    incident = room.open()
    [message] = room.session.offered
    [queued] = room.events(ev.ALERT_QUEUED)
    assert queued.incident_id == incident.id
    assert queued.payload == ev.AlertQueued(
        identifier=f"{SENDER}/INC-000001/1", msg_type="Alert", transaction_id=message.transaction_id,
        link_seq=message.link_seq, automatic=True,
        reason="automatic: topic shopwatch.emergency.raised matches shopwatch.emergency.*")
    assert message.incident_id == incident.id
    assert room.rows("SELECT identifier, incident_id, msg_type, transaction_id, incident_state FROM police_alerts") == [
        (f"{SENDER}/INC-000001/1", incident.id, "Alert", message.transaction_id, "new")]
    assert room.store.find_outbound(message.transaction_id) == message


def test_an_emergency_is_security_and_safety(room):
    """A radio emergency (a topic with an emergency word) is a person in danger: category Safety too."""
    room.open(topic="shopwatch.emergency.raised", severity=Severity.MEDIUM)
    [alert] = room.alerts()
    assert alert.info[0].category == ("Security", "Safety")
    assert alert.info[0].event == "emergency"
    assert (alert.info[0].urgency, alert.info[0].severity, alert.info[0].certainty) == ("Expected", "Moderate",
                                                                                      "Likely")


def test_an_incident_below_the_rules_waits_for_an_operator(room):
    """Medium and a topic no rule names: nothing goes by itself."""
    room.open("Camera 12 lost video", topic="onvif.camera.offline", severity=Severity.MEDIUM)
    assert room.session.offered == []
    assert room.rows("SELECT count(*) FROM police_alerts") == [(0,)]


def test_the_links_own_incidents_never_go_to_the_force_by_themselves(room):
    """A line fault or a request from the force opens a critical incident: neither is sent back over the link."""
    room.open("Police link line fault", topic="police.link.fault", severity=Severity.CRITICAL, category=None,
              source=LINK)
    room.open("Police ask for a live view of camera 12", topic="police.request.received",
              severity=Severity.CRITICAL, category=None, source=LINK)
    assert room.session.offered == []
    assert room.rows("SELECT count(*) FROM police_alerts") == [(0,)]


def test_an_incident_that_rises_to_the_configured_severity_goes_then(room):
    """A medium incident joined by a high event reaches min_severity: the Alert goes at that change."""
    incident = room.open("Loitering at the cash machine", topic="onvif.analytics.loitering", severity=Severity.MEDIUM)
    joined = room.join(incident, "onvif.analytics.intrusion", "Intrusion at the bank's back door",
                       severity=Severity.HIGH)
    [alert] = room.alerts()
    assert parameters(alert)["hub_severity"] == "high"
    assert (alert.info[0].urgency, alert.info[0].severity, alert.info[0].certainty) == ("Immediate", "Severe",
                                                                                      "Likely")
    assert room.session.offered[0].transaction_id == f"{LINK}:{joined.id}"
    assert "Intrusion at the bank's back door" in alert.info[0].description


def test_the_same_change_handled_twice_sends_one_message(room):
    """A cause delivered again (a restart before the cursor was saved) is recognised by its transaction id."""
    room.open()
    opened = room.events("incident.opened")[-1]
    room.deliver(opened)
    assert len(room.alerts()) == 1
    room.restart()
    room.deliver(opened)
    assert len(room.alerts()) == 1
    assert room.rows("SELECT count(*) FROM police_outbox") == room.rows("SELECT count(*) FROM police_alerts") == [(1,)]
    assert len(room.events(ev.ALERT_QUEUED)) == 1
    assert room.desk.snapshot_items()[0]["identifier"] == f"{SENDER}/INC-000001/1"


def test_the_same_command_handled_twice_sends_one_message(room):
    """send_to_police carried out twice for one command event: one Update, the same answer both times."""
    incident = room.open()
    command = room.command("send_to_police", incident, note="Suspect in a red coat")
    first = room.run(room.desk.send_to_police(command))
    second = room.run(room.desk.send_to_police(command))
    assert first == second == (CommandOutcomeKind.SENT, f"queued for {FORCE} as CAP Update {SENDER}/INC-000001/2")
    assert [alert.msg_type for alert in room.alerts()] == ["Alert", "Update"]
    [_, queued] = room.events(ev.ALERT_QUEUED)
    assert queued.causation_id == command.id
    assert room.session.offered[1].transaction_id == f"{LINK}:{command.id}"
    room.send(incident)
    assert room.alerts()[-1].identifier == f"{SENDER}/INC-000001/3"


# --- the operator -------------------------------------------------------------------------------------------------


def test_send_to_police_sends_an_incident_no_rule_sent_with_the_operators_note(room):
    """An Alert naming the operator as its source, the note as a parameter and in the description."""
    incident = room.open("Camera 12 lost video", topic="onvif.camera.offline", severity=Severity.LOW)
    outcome = room.send(incident, note="Group of youths seen before the camera went dark")
    [alert] = room.alerts()
    assert outcome == (CommandOutcomeKind.SENT, f"queued for {FORCE} as CAP Alert {alert.identifier}")
    assert alert.msg_type == "Alert"
    assert alert.source == "op.jones"
    assert parameters(alert)["operator_note"] == "Group of youths seen before the camera went dark"
    assert "Note from the operator: Group of youths seen" in alert.info[0].description
    assert (alert.info[0].urgency, alert.info[0].severity) == ("Future", "Minor")
    [queued] = room.events(ev.ALERT_QUEUED)
    assert (queued.payload.automatic, queued.payload.requested_by) == (False, "op.jones")


def test_send_to_police_on_a_shared_incident_sends_an_update_with_the_note(room):
    """The force has it already: an Update referencing the Alert, carrying the note, at once."""
    incident = room.open()
    room.send(incident, note="Suspect left towards Low Pavement")
    alert, update = room.alerts()
    assert update.msg_type == "Update"
    assert update.identifier == f"{SENDER}/INC-000001/2"
    assert [(reference.sender, reference.identifier, reference.sent) for reference in update.references] == [
        (SENDER, alert.identifier, alert.sent)]
    assert parameters(update)["operator_note"] == "Suspect left towards Low Pavement"


def test_send_to_police_reads_an_incident_the_desk_never_saw_from_the_incident_store(room):
    """An old incident (no event since the desk started) is read from the hub's incident store, stills included."""
    incident = room.open("Camera 12 lost video", topic="onvif.camera.offline", severity=Severity.LOW, deliver=False)
    sha256 = room.snapshot(incident, deliver=False)
    room.send(incident)
    [alert] = room.alerts()
    assert alert.info[0].headline == "Camera 12 lost video"
    assert [resource.sha256 for resource in alert.info[0].resources] == [sha256]


def test_send_to_police_refuses_an_incident_that_does_not_exist(room):
    """An unknown incident id is refused, saying so; nothing is sent."""
    assert room.send("INC-009999") == (CommandOutcomeKind.REFUSED, "there is no incident INC-009999")
    assert room.session.offered == []


# --- stills -------------------------------------------------------------------------------------------------------


def test_a_still_goes_as_a_resource_with_its_uri_sha1_digest_and_sha256(room):
    """A snapshot joined to a shared incident is an Update whose resource the force can fetch and check."""
    incident = room.open()
    room.later(31)
    sha256 = room.snapshot(incident)
    _, update = room.alerts()
    [resource] = update.info[0].resources
    assert resource.mime_type == "image/jpeg"
    assert resource.size == len(JPEG)
    assert resource.uri == BASE + sha256
    assert resource.sha1 == hashlib.sha1(JPEG).hexdigest()
    assert resource.sha256 == sha256 == hashlib.sha256(JPEG).hexdigest()
    assert resource.description.startswith("Still from camera 12 at ")
    [queued] = room.events(ev.ALERT_QUEUED)[1:]
    assert queued.payload.evidence == (sha256,)
    assert queued.payload.reason == "1 new still"


def test_every_still_released_is_in_the_disclosure_log_once(room):
    """The first message carrying a still records its release; later messages carrying it again do not."""
    incident = room.open()
    room.later(31)
    sha256 = room.snapshot(incident)
    room.later(31)
    room.send(incident, note="Still attached again")
    assert len(room.alerts()) == 3
    [disclosure] = PoliceRecords(room.harness.database, LINK).disclosures()
    update_identifier = f"{SENDER}/INC-000001/2"
    assert (disclosure.what, disclosure.item, disclosure.recipient, disclosure.sha256) == (
        "still", sha256, FORCE, sha256)
    assert disclosure.why == f"alert {update_identifier} for incident {incident.id}"
    assert disclosure.released_by == f"hub (automatic: update of {SENDER}/INC-000001/1)"
    [recorded] = room.events(ev.DISCLOSURE_RECORDED)
    assert recorded.incident_id == incident.id
    assert recorded.payload == ev.DisclosureRecorded(
        disclosure_id=disclosure.id, what="still", item=sha256, recipient=FORCE, why=disclosure.why,
        released_by=disclosure.released_by, sha256=sha256)


def test_a_still_sent_by_an_operator_is_released_by_the_operator(room):
    """send_to_police on an incident with a still: the disclosure names the operator."""
    incident = room.open("Camera 12 lost video", topic="onvif.camera.offline", severity=Severity.LOW)
    room.snapshot(incident)
    room.send(incident)
    [disclosure] = PoliceRecords(room.harness.database, LINK).disclosures()
    assert disclosure.released_by == "op.jones"


def test_a_still_whose_file_no_longer_matches_its_hash_is_never_released(room, captured_logs):
    """Evidence altered on disk is left out of the message and logged; the rest still goes."""
    incident = room.open("Camera 12 lost video", topic="onvif.camera.offline", severity=Severity.LOW)
    sha256 = room.snapshot(incident)
    [path] = (room.evidence.root / sha256[:2]).glob(f"{sha256}.*")
    path.write_bytes(JPEG + b"tampered")
    room.send(incident)
    [alert] = room.alerts()
    assert alert.info[0].resources == ()
    assert PoliceRecords(room.harness.database, LINK).disclosures() == []
    assert any(entry["event"] == "still_unreadable" for entry in captured_logs)


# --- updates ------------------------------------------------------------------------------------------------------


def test_changes_within_the_quiet_interval_go_as_one_update_with_the_latest_state(room):
    """Acknowledged then in progress within 30 s of the Alert: one Update when the interval has passed."""
    incident = room.open()
    room.later(5)
    room.move(incident, "acknowledged")
    room.later(5)
    room.move(incident, "in_progress")
    assert len(room.alerts()) == 1
    room.later(19.9)
    assert len(room.alerts()) == 1
    room.later(0.1)
    _, update = room.alerts()
    assert update.msg_type == "Update"
    assert parameters(update)["incident_state"] == "in_progress"
    assert room.events(ev.ALERT_QUEUED)[-1].payload.reason == "state new -> in_progress"


def test_a_change_after_the_quiet_interval_goes_at_once(room):
    """Severity rising a minute after the Alert: an Update straight away, referencing the chain."""
    incident = room.open(severity=Severity.HIGH)
    room.later(60)
    room.join(incident, "shopwatch.emergency.raised", "Second emergency call", severity=Severity.CRITICAL)
    alert, update = room.alerts()
    assert parameters(update)["hub_severity"] == "critical"
    assert [reference.identifier for reference in update.references] == [alert.identifier]


def test_an_event_that_changes_nothing_the_force_sees_sends_nothing(room):
    """A note-like event of the same severity, or an assignment, is not worth an Update."""
    incident = room.open()
    room.later(60)
    room.join(incident, "shopwatch.message.received", "Boots: all calm now", severity=Severity.INFO)
    room.later(60)
    assert len(room.alerts()) == 1


def test_the_links_own_events_on_the_incident_send_nothing(room):
    """police.alert.unanswered raising the incident's severity in the room is not news for the force."""
    incident = room.open(severity=Severity.MEDIUM, topic="shopwatch.emergency.raised")
    room.later(60)
    room.join(incident, "police.alert.unanswered", "Force has not answered", severity=Severity.HIGH)
    room.later(60)
    assert len(room.alerts()) == 1


def test_resolved_and_closed_are_told_to_the_force(room):
    """Resolved: an Update saying so (urgency Past); closed: another, and the incident leaves the snapshot."""
    incident = room.open()
    room.later(60)
    room.move(incident, "acknowledged")
    room.later(60)
    room.move(incident, "resolved")
    resolved = room.alerts()[-1]
    assert parameters(resolved)["incident_state"] == "resolved"
    assert resolved.info[0].urgency == "Past"
    assert "The control room has resolved it" in resolved.info[0].description
    assert [item["incident_id"] for item in room.desk.snapshot_items()] == [incident.id]
    room.later(60)
    room.move(incident, "closed")
    closed = room.alerts()[-1]
    assert parameters(closed)["incident_state"] == "closed"
    assert "The control room has closed it" in closed.info[0].description
    assert len(closed.references) == 3
    assert room.desk.snapshot_items() == []


def test_an_update_waiting_when_the_hub_stops_goes_after_the_restart(room):
    """The change was journaled but its Update still waited for the interval: start() finds the difference."""
    incident = room.open()
    room.later(5)
    room.move(incident, "acknowledged")
    assert len(room.alerts()) == 1
    room.restart()
    assert len(room.alerts()) == 1
    room.later(25)
    _, update = room.alerts()
    assert parameters(update)["incident_state"] == "acknowledged"
    room.restart()
    room.later(60)
    assert len(room.alerts()) == 2


# --- withdrawing ----------------------------------------------------------------------------------------------


def test_withdraw_sends_a_cancel_referencing_the_chain_and_then_nothing_more(room):
    """A Cancel referencing every earlier message; later changes send nothing; a second withdraw is refused."""
    incident = room.open()
    room.later(60)
    room.move(incident, "acknowledged")
    outcome = room.withdraw(incident, "false alarm: the button was knocked")
    alert, update, cancel = room.alerts()
    assert outcome == (CommandOutcomeKind.SENT, f"queued for {FORCE} as CAP Cancel {cancel.identifier}")
    assert cancel.msg_type == "Cancel"
    assert [reference.identifier for reference in cancel.references] == [alert.identifier, update.identifier]
    assert cancel.note == "false alarm: the button was knocked"
    assert parameters(cancel)["withdrawal_reason"] == "false alarm: the button was knocked"
    assert cancel.info[0].resources == ()
    room.later(60)
    room.move(incident, "in_progress")
    room.later(60)
    assert len(room.alerts()) == 3
    assert room.desk.snapshot_items() == []
    assert room.withdraw(incident) == (CommandOutcomeKind.REFUSED,
                                       f"{incident.id} was already withdrawn from {FORCE}")


def test_after_a_withdrawal_an_operator_can_send_the_incident_again_as_a_new_alert(room):
    """A new Alert, a new identifier, no references: a new chain that later updates reference."""
    incident = room.open()
    room.withdraw(incident)
    room.later(60)
    room.send(incident, note="It was real after all")
    alert = room.alerts()[-1]
    assert (alert.msg_type, alert.identifier, alert.references) == ("Alert", f"{SENDER}/INC-000001/3", ())
    room.later(60)
    room.move(incident, "acknowledged")
    update = room.alerts()[-1]
    assert [reference.identifier for reference in update.references] == [alert.identifier]


def test_withdraw_refuses_an_incident_the_force_never_had(room):
    """Nothing was sent: nothing to cancel."""
    incident = room.open("Camera 12 lost video", topic="onvif.camera.offline", severity=Severity.LOW)
    assert room.withdraw(incident) == (CommandOutcomeKind.REFUSED, f"{FORCE} was never sent {incident.id}")
    assert room.session.offered == []


# --- the force's answers ------------------------------------------------------------------------------------------


def test_the_forces_acceptance_lands_on_the_incident_with_its_inbox_row(room):
    """police.alert.accepted on the incident; the inbox row and the alert row's answer in the same transaction."""
    incident = room.open()
    [alert] = room.alerts()
    room.later(42)
    assert room.answer(alert.identifier, incident.id, transaction_id="force-7") == Verdict("ok")
    [accepted] = room.events(ev.ALERT_ACCEPTED)
    assert accepted.incident_id == incident.id
    assert accepted.severity == Severity.INFO
    assert accepted.payload == ev.AlertAnswered(identifier=alert.identifier, answer="accepted",
                                                force_reference="DC-2026-1122-0042", answered_by="PS 1234 Patel",
                                                waited_s=42.0)
    assert room.rows("SELECT transaction_id, status FROM police_inbox") == [("force-7", "ok")]
    assert room.rows("SELECT answer, force_reference FROM police_alerts") == [("accepted", "DC-2026-1122-0042")]
    assert room.desk.snapshot_items()[0]["answer"] == "accepted"


def test_a_rejection_is_medium_and_says_why(room):
    """police.alert.rejected carries the force's reason."""
    incident = room.open()
    [alert] = room.alerts()
    room.answer(alert.identifier, incident.id, "rejected", reason="No officers free: call 101")
    [rejected] = room.events(ev.ALERT_REJECTED)
    assert rejected.severity == Severity.MEDIUM
    assert rejected.payload.reason == "No officers free: call 101"
    assert "No officers free: call 101" in rejected.summary


def test_an_answer_about_an_alert_never_sent_is_refused(room):
    """An unknown identifier, or the wrong incident for a known one: an error verdict, nothing published."""
    incident = room.open()
    [alert] = room.alerts()
    unknown = room.answer(f"{SENDER}/INC-000042/1", "INC-000042")
    wrong = room.answer(alert.identifier, "INC-000042")
    assert unknown.status == wrong.status == "error"
    assert "INC-000042/1" in unknown.reason
    assert incident.id in wrong.reason
    assert room.events("police.alert.accepted") == []


def test_no_answer_within_the_timeout_raises_an_operator_alert_once(room):
    """answer_timeout_s after the Alert: police.alert.unanswered, high, on the incident; never again."""
    incident = room.open()
    room.ack("ok")
    room.later(299)
    assert room.events(ev.ALERT_UNANSWERED) == []
    room.later(1)
    [unanswered] = room.events(ev.ALERT_UNANSWERED)
    assert unanswered.severity == Severity.HIGH
    assert unanswered.incident_id == incident.id
    assert unanswered.payload == ev.AlertUnanswered(identifier=room.alerts()[0].identifier, waited_s=300.0,
                                                    delivered=True)
    room.restart()
    room.later(600)
    assert len(room.events(ev.ALERT_UNANSWERED)) == 1


def test_the_answer_timer_survives_a_restart(room):
    """The timer is re-armed from the table at start, for what is left of the timeout."""
    room.open()
    room.later(100)
    room.restart()
    room.later(199)
    assert room.events(ev.ALERT_UNANSWERED) == []
    room.later(1)
    [unanswered] = room.events(ev.ALERT_UNANSWERED)
    assert unanswered.payload.delivered is False


def test_an_answer_or_a_withdrawal_stops_the_answer_timer(room):
    """Answered in time, or withdrawn: no unanswered alert."""
    first = room.open()
    second = room.open("Fight outside the Spa Lane bar")
    alerts = room.alerts()
    room.answer(alerts[0].identifier, first.id)
    room.withdraw(second)
    room.later(3600)
    assert room.events(ev.ALERT_UNANSWERED) == []


def test_delivery_and_refusal_at_link_level_are_recorded(room):
    """ok: police.alert.delivered with the wait; error: police.message.refused with the force's reason."""
    incident = room.open()
    room.ack("ok", after=0.25)
    [delivered] = room.events(ev.ALERT_DELIVERED)
    message = room.session.offered[0]
    assert delivered.payload == ev.AlertDelivered(identifier=f"{SENDER}/INC-000001/1", msg_type="Alert",
                                                  transaction_id=message.transaction_id, link_seq=message.link_seq,
                                                  waited_s=0.25)
    assert delivered.incident_id == incident.id
    assert room.rows("SELECT delivered_at FROM police_alerts") == [(message.queued_at + 0.25,)]
    room.send(incident, note="more")
    room.ack("error", reason="schema violation")
    [refused] = room.events(ev.MESSAGE_REFUSED)
    assert (refused.payload.status, refused.payload.what, refused.payload.reason) == (
        "error", "alert", "schema violation")
    assert refused.payload.identifier == f"{SENDER}/INC-000001/2"
    assert refused.severity == Severity.MEDIUM


# --- the snapshot and stopping ------------------------------------------------------------------------------------


def test_the_snapshot_lists_what_the_force_holds(room):
    """Shared incidents with their latest message, state and answer; withdrawn ones are left out."""
    first = room.open()
    second = room.open("Fight outside the Spa Lane bar")
    third = room.open("Shoplifter detained at Boots")
    alerts = room.alerts()
    room.answer(alerts[1].identifier, second.id, "rejected", reason="No officers free")
    room.withdraw(third)
    room.send(first, note="Ambulance on scene")
    assert room.desk.snapshot_items() == [
        {"incident_id": first.id, "identifier": f"{SENDER}/{first.id}/2", "msg_type": "Update", "state": "new",
         "answer": None},
        {"incident_id": second.id, "identifier": alerts[1].identifier, "msg_type": "Alert", "state": "new",
         "answer": "rejected"},
    ]
    room.restart()
    assert [item["incident_id"] for item in room.desk.snapshot_items()] == [first.id, second.id]


def test_stop_leaves_no_timer(room):
    """A waiting update and an answer timer are both cancelled by stop()."""
    incident = room.open()
    room.later(1)
    room.move(incident, "acknowledged")
    assert room.clock.getDelayedCalls()
    room.desk.stop()
    assert_no_pending_timers(room.clock)


def test_the_description_quotes_the_latest_events(room):
    """What happened, newest last: the events' own summaries, not the incident engine's."""
    incident = room.open("Emergency button pressed at Boots")
    room.later(60)
    room.join(incident, "shopwatch.emergency.raised", "Boots: male with a knife", severity=Severity.CRITICAL)
    room.send(incident)
    description = room.alerts()[-1].info[0].description
    assert description.index("Emergency button pressed at Boots") < description.index("Boots: male with a knife")
    assert "gathered" not in description
    assert json.dumps(description)  # plain text the force's systems can show


def test_a_disclosure_id_taken_by_another_link_meanwhile_is_chosen_again(room, monkeypatch):
    """The id chosen before the transaction is taken when it runs: nothing is kept, and it goes with a fresh id."""
    other = PoliceRecords(room.harness.database, "police_link.other_force")
    taken = other.disclosure_job(attrs.evolve(_disclosure(), id=1))
    room.run(_awaited(room.harness.database.write(taken)))
    chosen = iter([1])
    real = room.desk._records.next_disclosure_id
    monkeypatch.setattr(room.desk._records, "next_disclosure_id", lambda: next(chosen, None) or real())
    incident = room.open("Camera 12 lost video", topic="onvif.camera.offline", severity=Severity.LOW)
    sha256 = room.snapshot(incident)
    room.send(incident)
    assert len(room.alerts()) == 1
    [mine] = PoliceRecords(room.harness.database, LINK).disclosures(link=LINK)
    assert (mine.id, mine.item) == (2, sha256)
    [recorded] = room.events(ev.DISCLOSURE_RECORDED)
    assert recorded.payload.disclosure_id == 2


def _disclosure() -> Any:
    from plugins.police_link.records import Disclosure

    return Disclosure(id=None, at=START, link="police_link.other_force", recipient="Another force", what="still",
                      item="a" * 64, why="test", request_id=None, crime_reference=None, released_by="op.smith",
                      expires_at=None, sha256=None, detail={})
