"""The ONVIF event payloads: registered, read back from their JSON as themselves, every one naming its camera."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
from twisted.internet.task import Clock

from hub.events import (
    EventCodec,
    EventFactory,
    EventTypeRegistry,
    Location,
    Severity,
    Subject,
)
from hub.evidence import EvidenceItem
from plugins.onvif.events import (
    ALARM_TOPICS,
    CAMERA_STATES,
    EVENT_TYPES,
    CameraAlarmEnded,
    CameraAlarmStarted,
    CameraEventOccurred,
    CameraEventReceived,
    CameraHealthChanged,
    CameraIdentified,
    CameraRef,
    EvidenceRef,
    Item,
    PresetInfo,
    ProfileInfo,
    SnapshotTaken,
    StreamShared,
    health_topic,
)

REF = CameraRef(number="42", name="High St / Market Sq", site="Market Square", fibre_node="node-07")
SAMPLES = [
    (health_topic("offline"), CameraHealthChanged(camera=REF, state="offline", previous="online",
                                                  reason="no answer", failures=3, retry_in_s=20.0)),
    ("onvif.camera.identified", CameraIdentified(
        camera=REF, manufacturer="Acme", model="PTZ-9000", firmware_version="1.0", serial_number="SN42",
        media="media2", profile="Profile_1", profiles=(ProfileInfo("Profile_1", "main", True, "H264", 1920, 1080),),
        ptz=True, presets=(PresetInfo("1", "Market Sq"),), snapshot=True, clock_offset_s=-3.5)),
    ("onvif.motion.started", CameraAlarmStarted(camera=REF, kind="motion", topic="tns1:VideoSource/MotionAlarm",
                                                source=(Item("Source", "VideoSource_1"),),
                                                camera_time="2026-11-22T10:00:00Z")),
    ("onvif.motion.ended", CameraAlarmEnded(camera=REF, kind="motion", topic="tns1:VideoSource/MotionAlarm",
                                            stale=True, lasted_s=600.0)),
    ("onvif.line.crossed", CameraEventOccurred(camera=REF, kind="line_crossed",
                                               topic="tns1:RuleEngine/LineDetector/Crossed",
                                               data=(Item("ObjectId", "7"),))),
    ("onvif.camera.event", CameraEventReceived(camera=REF, topic="acme:Scream", operation=None,
                                               data=(Item("Level", "97"),))),
    ("onvif.snapshot.taken", SnapshotTaken(camera=REF, requested_by="olive", profile="Profile_1",
                                           evidence=EvidenceRef("ab" * 32, "image/jpeg", 1234,
                                                                f"/api/evidence/{'ab' * 32}"))),
    ("onvif.stream.shared", StreamShared(camera=REF, uri="rtsp://10.1.2.42:554/s1", requested_by="olive")),
]


@pytest.fixture
def codec():
    registry = EventTypeRegistry()
    registry.register_all(EVENT_TYPES)
    return EventCodec(registry)


def test_every_payload_type_is_registered_and_sampled():
    """Each class has its own TYPE; the samples below cover every one."""
    assert len({payload.TYPE for payload in EVENT_TYPES}) == len(EVENT_TYPES)
    assert {type(payload) for _topic, payload in SAMPLES} == set(EVENT_TYPES)


@pytest.mark.parametrize(("topic", "payload"), SAMPLES, ids=[topic for topic, _payload in SAMPLES])
def test_each_payload_survives_its_json_form(codec, topic, payload):
    """Written to JSON as the journal does and read back: the same payload, its camera named."""
    event = EventFactory(Clock(), "onvif.town")(
        topic, payload, severity=Severity.INFO, subject=Subject(kind="camera", id="42"),
        location=Location(camera="42"), summary="-")
    data = codec.to_dict(event)
    assert data["payload"]["camera"] == {"number": "42", "name": "High St / Market Sq", "site": "Market Square",
                                         "fibre_node": "node-07"}
    assert codec.from_dict(data).payload == payload


def test_a_snapshots_evidence_is_the_form_the_console_reads(codec):
    """payload.evidence has exactly the evidence store's own JSON form (sha256, content_type, size, url)."""
    item = EvidenceItem(sha256="cd" * 32, content_type="image/jpeg", size=99, path=Path("/x"))
    evidence = EvidenceRef(sha256=item.sha256, content_type=item.content_type, size=item.size, url=item.url)
    assert attrs.asdict(evidence) == item.to_json()


def test_alarm_and_health_topics_are_the_plans():
    assert sorted(f"{prefix}.started" for prefix in ALARM_TOPICS.values()) == [
        "onvif.field.started", "onvif.input.started", "onvif.motion.started", "onvif.relay.started",
        "onvif.tamper.started", "onvif.video_loss.started"]
    assert [health_topic(state) for state in CAMERA_STATES] == [
        "onvif.camera.online", "onvif.camera.offline", "onvif.camera.auth_failed", "onvif.camera.degraded"]
