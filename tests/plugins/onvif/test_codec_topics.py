"""What each topic in the notes means to the control room, and that nothing unknown is lost."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plugins.onvif.codec.events import Notification, parse_pull_messages
from plugins.onvif.codec.topics import KINDS, CameraSignal, classify
from plugins.onvif.codec.xml import parse_untrusted
from tests.plugins.onvif.codec_samples import notification, pull_messages


def note(topic: str, data=(), source=(), operation: str | None = "Changed") -> Notification:
    return Notification(
        topic=topic,
        operation=operation,
        utc_time=None,
        raw_utc_time=None,
        source=tuple(source),
        key=(),
        data=tuple(data),
        producer=None,
    )


@pytest.mark.parametrize(
    ("topic", "data", "source", "expected"),
    [
        ("tns1:VideoSource/MotionAlarm", [("State", "true")], [], CameraSignal("motion", True, None)),
        ("tns1:VideoSource/MotionAlarm", [("State", "false")], [], CameraSignal("motion", False, None)),
        (
            "tns1:RuleEngine/CellMotionDetector/Motion",
            [("IsMotion", "true")],
            [("VideoSourceConfigurationToken", "V1"), ("Rule", "MyMotionDetectorRule")],
            CameraSignal("motion", True, "MyMotionDetectorRule"),
        ),
        ("tns1:RuleEngine/MotionRegionDetector/Motion", [("State", "0")], [], CameraSignal("motion", False, None)),
        (
            "tns1:VideoSource/ImageTooBlurry/AnalyticsService",
            [("State", "true")],
            [],
            CameraSignal("tamper", True, "ImageTooBlurry"),
        ),
        (
            "tns1:VideoSource/ImageTooDark/ImagingService",
            [("State", "false")],
            [],
            CameraSignal("tamper", False, "ImageTooDark"),
        ),
        (
            "tns1:VideoSource/ImageTooBright/RecordingService",
            [("State", "1")],
            [],
            CameraSignal("tamper", True, "ImageTooBright"),
        ),
        (
            "tns1:VideoSource/GlobalSceneChange/AnalyticsService",
            [("State", "true")],
            [],
            CameraSignal("tamper", True, "GlobalSceneChange"),
        ),
        ("tns1:RuleEngine/TamperDetector/Tamper", [("IsTamper", "true")], [], CameraSignal("tamper", True, "Tamper")),
        ("tns1:VideoSource/SignalLoss", [("State", "true")], [], CameraSignal("video_loss", True, None)),
        (
            "tns1:Device/Trigger/DigitalInput",
            [("LogicalState", "true")],
            [("InputToken", "DIGIT_INPUT_000")],
            CameraSignal("digital_input", True, "DIGIT_INPUT_000"),
        ),
        (
            "tns1:Device/Trigger/Relay",
            [("LogicalState", "inactive")],
            [("RelayToken", "Relay1")],
            CameraSignal("relay", False, "Relay1"),
        ),
        (
            "tns1:Device/Trigger/Relay",
            [("LogicalState", "active")],
            [("RelayToken", "R")],
            CameraSignal("relay", True, "R"),
        ),
        (
            "tns1:RuleEngine/LineDetector/Crossed",
            [("ObjectId", "12")],
            [("Rule", "North gate")],
            CameraSignal("line_crossed", None, "North gate"),
        ),
        (
            "tns1:RuleEngine/FieldDetector/ObjectsInside",
            [("IsInside", "false")],
            [("Rule", "Car park")],
            CameraSignal("field", False, "Car park"),
        ),
        (
            "tns1:Device/HardwareFailure/StorageFailure",
            [("Failed", "true")],
            [("Token", "SD_DISK_00")],
            CameraSignal("storage_failure", True, "SD_DISK_00"),
        ),
        ("tns1:PTZController/PTZPresets/Reached", [("PresetToken", "3")], [], CameraSignal("preset", None, "Reached")),
        ("tns1:PTZController/PTZPresets/Invoked", [], [], CameraSignal("preset", None, "Invoked")),
        ("tns1:PTZController/PTZPresets/Aborted", [], [], CameraSignal("preset", None, "Aborted")),
        ("tns1:PTZController/PTZPresets/Left", [], [], CameraSignal("preset", None, "Left")),
    ],
)
def test_each_topic_in_the_notes_has_its_meaning(topic, data, source, expected):
    assert classify(note(topic, data, source)) == expected


def test_topics_are_matched_without_regard_to_case():
    """Cameras differ in case ("tns1:VideoSource/motionAlarm"); the meaning does not."""
    assert classify(note("TNS1:videosource/MOTIONALARM", [("state", "TRUE")])) == CameraSignal("motion", True, None)


@pytest.mark.parametrize(
    "topic",
    [
        "tns1:VideoSource/MotionAlarmX",
        "tns1:VideoSource",
        "tns1:Monitoring/ProcessorUsage",
        "tns1:PTZController/PTZPresets/Unknown",
        "tnsaxis:CameraApplicationPlatform/VMD/Camera1ProfileANY",
        "tnshik:VideoSource/MotionAlarm",  # a vendor namespace is not ONVIF's, whatever its path
        "VideoSource/MotionAlarm",
        "",
        "tns1:",
    ],
)
def test_unknown_topics_are_other_never_dropped(topic):
    assert classify(note(topic, [("State", "true")])) == CameraSignal("other", None, None)


def test_a_property_event_with_an_unreadable_state_has_state_none():
    """The adapter decides what an unreadable state means; the classifier does not guess."""
    assert classify(note("tns1:VideoSource/MotionAlarm", [("State", "maybe")])).state is None
    assert classify(note("tns1:VideoSource/MotionAlarm", [])) == CameraSignal("motion", None, None)


def test_classification_from_parsed_replies_with_other_prefixes():
    """End to end: a camera that calls the topic namespace ns2 still gets its motion recognised."""
    reply = pull_messages(
        notification(
            "ns2:VideoSource/MotionAlarm", "State=true", topic_ns='xmlns:ns2="http://www.onvif.org/ver10/topics"'
        ),
        notification(
            "ns2:RuleEngine/CellMotionDetector/Motion",
            "IsMotion=false",
            topic_ns='xmlns:ns2="http://www.onvif.org/ver10/topics"',
        ),
    )
    signals = [classify(item) for item in parse_pull_messages(parse_untrusted(reply)).notifications]
    assert signals == [CameraSignal("motion", True, None), CameraSignal("motion", False, None)]


items = st.lists(st.tuples(st.text(max_size=12), st.text(max_size=12)), max_size=4).map(tuple)


@given(topic=st.text(max_size=60), data=items, source=items)
@settings(max_examples=200, deadline=None)
def test_classify_never_raises_and_always_answers_a_known_kind(topic, data, source):
    signal = classify(note(topic, data, source))
    assert signal.kind in KINDS
    assert signal.state in (True, False, None)
