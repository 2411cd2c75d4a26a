"""One camera kept connected: identified, in the directory, its notifications turned into hub events,
reconnected after a reboot with its presets read again, and its state changed once per change."""

from __future__ import annotations

import pytest

from hub.events import Location, Severity, Subject
from hub.testing import assert_no_pending_timers
from plugins.onvif.client import AuthFailed, CameraReplyError, CameraUnreachable
from plugins.onvif.codec.ptz import Preset
from plugins.onvif.events import (
    CameraAlarmEnded,
    CameraAlarmStarted,
    CameraEventReceived,
    CameraHealthChanged,
    CameraIdentified,
    CameraRef,
    Item,
    PresetInfo,
)
from plugins.onvif.pullpoint import PullPointRefused
from tests.plugins.onvif.adapter_fakes import (
    FIXED_PROFILE,
    Harness,
    camera_config,
    fleet,
    motion,
    notification,
)

REF = CameraRef(number="42", name="High St / Market Sq", site="Market Square", fibre_node="node-07")


@pytest.fixture
def camera(captured_logs, hub_bus):
    harness = Harness(hub_bus, fleet()).start()
    yield harness
    harness.stop()
    assert_no_pending_timers(harness.clock)


# --- connecting -------------------------------------------------------------------------------------------


def test_a_camera_is_read_in_order_then_subscribed(camera):
    """Clock before anything signed, then services, device, profiles, URIs, presets, and the pull point."""
    assert camera.cameras["42"].operations() == [
        "GetSystemDateAndTime", "GetServices", "GetDeviceInformation", "GetProfiles", "GetSnapshotUri",
        "GetStreamUri", "GetPresets", "CreatePullPointSubscription"]
    assert camera.cameras["42"].calls[-2] == ("GetPresets", "Profile_1")


def test_a_connected_camera_is_identified_online_and_in_the_directory(camera):
    """identified (device, profiles, presets) and online are published once; the directory has the rest."""
    assert camera.topics() == ["onvif.camera.identified", "onvif.camera.online"]
    identified, online = camera.events()
    payload: CameraIdentified = identified.payload
    assert payload.camera == REF
    assert (payload.manufacturer, payload.model, payload.serial_number, payload.media) == (
        "Acme", "PTZ-9000", "SN42", "media2")
    assert (payload.profile, payload.ptz, payload.snapshot) == ("Profile_1", True, True)
    assert payload.presets == (PresetInfo("1", "Market Sq"), PresetInfo("2", "Bus station"))
    assert [profile.token for profile in payload.profiles] == ["Profile_1", "Profile_2"]
    assert online.payload == CameraHealthChanged(camera=REF, state="online", previous=None,
                                                 reason="connected; events flowing")
    for event in (identified, online):
        assert event.subject == Subject(kind="camera", id="42", name="High St / Market Sq")
        assert event.location == Location(name="Market Square", camera="42", latitude=52.1, longitude=-1.2)
    asset = camera.directory.get("camera", "42")
    assert (asset.state, asset.source, asset.name, asset.latitude) == ("online", "onvif.town", "High St / Market Sq",
                                                                      52.1)
    assert asset.attributes == {
        "manufacturer": "Acme", "model": "PTZ-9000", "ptz": True, "profile": "Profile_1", "snapshot": True,
        "presets": [{"token": "1", "name": "Market Sq"}, {"token": "2", "name": "Bus station"}],
        "fibre_node": "node-07", "site": "Market Square"}
    assert camera.heard >= 1


def test_the_configured_profile_is_used_when_the_camera_has_it(captured_logs, hub_bus):
    """profile = "Profile_2" picks the fixed profile: no presets are asked for."""
    harness = Harness(hub_bus, fleet({"42": camera_config(profile="Profile_2")})).start()
    assert "GetPresets" not in harness.cameras["42"].operations()
    [identified] = harness.events("onvif.camera.identified")
    assert (identified.payload.profile, identified.payload.ptz) == ("Profile_2", False)
    harness.stop()


def test_a_camera_without_ptz_profiles_uses_its_first_profile(captured_logs, hub_bus):
    harness = Harness(hub_bus, fleet())
    harness.cameras["42"].profiles = (FIXED_PROFILE,)
    harness.start()
    assert harness.directory.get("camera", "42").attributes["ptz"] is False
    harness.stop()


def test_a_camera_with_no_snapshot_uri_is_still_online(captured_logs, hub_bus):
    """GetSnapshotUri without a Uri (quirk 9) is noted, not a failure."""
    harness = Harness(hub_bus, fleet())
    harness.cameras["42"].snapshot_uri = None
    harness.start()
    assert harness.state() == "online"
    assert harness.events("onvif.camera.identified")[0].payload.snapshot is False
    harness.stop()


def test_a_camera_that_refuses_its_presets_is_online_without_them(captured_logs, hub_bus):
    harness = Harness(hub_bus, fleet())
    harness.cameras["42"].errors["GetPresets"] = CameraReplyError("GetPresets: ter:ActionNotSupported")
    harness.start()
    assert harness.state() == "online"
    assert harness.directory.get("camera", "42").attributes["presets"] == []
    harness.stop()


# --- events ---------------------------------------------------------------------------------------------


def test_motion_on_and_off_becomes_started_and_ended(camera):
    """A property event's State true/false: onvif.motion.started then ended, with the camera's items."""
    camera.cameras["42"].subscription.notify(motion(True))
    camera.advance(12)
    camera.cameras["42"].subscription.notify(motion(False, utc="2026-11-22T10:00:12Z"))
    started, ended = camera.events("onvif.motion.*")
    assert (started.topic, ended.topic) == ("onvif.motion.started", "onvif.motion.ended")
    assert started.payload == CameraAlarmStarted(
        camera=REF, kind="motion", topic="tns1:VideoSource/MotionAlarm", detail=None,
        source=(Item("Source", "VideoSource_1"),), camera_time="2026-11-22T10:00:00Z",
        data=(Item("State", "true"),))
    assert ended.payload.data == (Item("State", "false"),)
    assert (started.severity, ended.severity) == (Severity.LOW, Severity.INFO)
    assert isinstance(ended.payload, CameraAlarmEnded)
    assert (ended.payload.stale, ended.payload.lasted_s) == (False, 12)
    assert started.summary == "Camera 42 (High St / Market Sq): motion started"
    assert started.location.camera == "42"


def test_event_times_are_the_cameras_corrected_by_its_clock_offset(camera):
    """A camera 3600 s ahead: its 11:00 is the hub's 10:00; a camera time in the future is taken as now."""
    camera.clock.advance(1_800_000_000)
    camera.connections.clients["42"].clock_offset_s = 3600.0
    camera.cameras["42"].subscription.notify(motion(True, utc="2027-01-15T09:00:00Z"))
    [started] = camera.events("onvif.motion.started")
    assert started.occurred_at.isoformat() == "2027-01-15T08:00:00+00:00"
    camera.cameras["42"].subscription.notify(motion(False, utc="2099-01-01T00:00:00Z"))
    [ended] = camera.events("onvif.motion.ended")
    assert ended.occurred_at == ended.received_at


def test_a_malformed_camera_time_falls_back_to_the_time_received(camera):
    """Quirk 5: the codec gives no time for minute 61; the event still goes out, timed on arrival."""
    camera.cameras["42"].subscription.notify(motion(True, utc=None))
    [started] = camera.events("onvif.motion.started")
    assert started.occurred_at == started.received_at


def test_initialized_after_a_synchronisation_point_does_not_raise_a_known_state_again(camera):
    """Motion on; the pull point is reopened and the camera resends Initialized true: nothing new. Then
    Initialized false (it ended while the hub was away): ended."""
    subscription = camera.cameras["42"].subscription
    subscription.notify(motion(True))
    subscription.notify(motion(True, operation="Initialized"), motion(True, operation="Initialized"))
    assert camera.topics("onvif.motion.*") == ["onvif.motion.started"]
    subscription.notify(motion(False, operation="Initialized"))
    assert camera.topics("onvif.motion.*") == ["onvif.motion.started", "onvif.motion.ended"]


def test_motion_changed_on_after_a_new_pull_point_ends_the_one_whose_end_was_lost(camera):
    """Motion on, then the camera reboots: the old pull point never delivers the end. On the new one the
    camera says motion *changed* to on: the old alarm is ended (stale) and a new one started."""
    subscription = camera.cameras["42"].subscription
    subscription.notify(motion(True))
    subscription.resubscribe()
    subscription.notify(motion(True))
    assert camera.topics("onvif.motion.*") == ["onvif.motion.started", "onvif.motion.ended", "onvif.motion.started"]
    assert camera.events("onvif.motion.ended")[0].payload.stale is True


def test_motion_still_on_after_a_new_pull_point_is_not_raised_again(camera):
    """The camera's Initialized true on the new pull point says the same detection goes on: nothing new."""
    subscription = camera.cameras["42"].subscription
    subscription.notify(motion(True))
    subscription.resubscribe()
    subscription.notify(motion(True, operation="Initialized"))
    assert camera.topics("onvif.motion.*") == ["onvif.motion.started"]


def test_initialized_off_for_an_alarm_never_seen_on_says_nothing(camera):
    """The first synchronisation point lists every input as off: no ended without a started."""
    camera.cameras["42"].subscription.notify(
        motion(False, operation="Initialized"),
        notification("tns1:Device/Trigger/DigitalInput", data=(("LogicalState", "false"),),
                     source=(("InputToken", "DI_1"),), operation="Initialized"))
    assert camera.events("onvif.motion.*") == camera.events("onvif.input.*") == []


def test_initialized_on_at_start_raises_the_alarm(camera):
    """A help point pressed before the hub subscribed: its Initialized true is an input started, high."""
    camera.cameras["42"].subscription.notify(
        notification("tns1:Device/Trigger/DigitalInput", data=(("LogicalState", "true"),),
                     source=(("InputToken", "DI_1"),), operation="Initialized"))
    [started] = camera.events("onvif.input.started")
    assert (started.payload.kind, started.payload.detail, started.severity) == ("digital_input", "DI_1",
                                                                                Severity.HIGH)


def test_each_input_of_a_camera_is_its_own_alarm(camera):
    """Input 1 on does not make input 2's on a repeat."""
    for token in ("DI_1", "DI_2"):
        camera.cameras["42"].subscription.notify(
            notification("tns1:Device/Trigger/DigitalInput", data=(("LogicalState", "true"),),
                         source=(("InputToken", token),)))
    assert [event.payload.detail for event in camera.events("onvif.input.started")] == ["DI_1", "DI_2"]


@pytest.mark.parametrize(
    ("topic", "data", "published", "severity"),
    [
        ("tns1:VideoSource/ImageTooBlurry/AnalyticsService", (("State", "true"),), "onvif.tamper.started",
         Severity.HIGH),
        ("tns1:VideoSource/SignalLoss", (("State", "true"),), "onvif.video_loss.started", Severity.MEDIUM),
        ("tns1:Device/Trigger/Relay", (("LogicalState", "active"),), "onvif.relay.started", Severity.LOW),
        ("tns1:RuleEngine/FieldDetector/ObjectsInside", (("IsInside", "true"),), "onvif.field.started",
         Severity.LOW),
        ("tns1:RuleEngine/CellMotionDetector/Motion", (("IsMotion", "true"),), "onvif.motion.started",
         Severity.LOW),
        ("tns1:RuleEngine/LineDetector/Crossed", (("ObjectId", "7"),), "onvif.line.crossed", Severity.LOW),
        ("tns1:Device/HardwareFailure/StorageFailure", (("Failed", "true"),), "onvif.storage.failed",
         Severity.MEDIUM),
        ("tns1:PTZController/PTZPresets/Reached", (("PresetToken", "1"),), "onvif.preset.reached", Severity.INFO),
    ],
)
def test_the_topics_of_the_notes_map_to_their_hub_events(camera, topic, data, published, severity):
    camera.cameras["42"].subscription.notify(notification(topic, data=data))
    [event] = camera.events()[2:]
    assert (event.topic, event.severity, event.subject.id) == (published, severity, "42")


def test_a_storage_failure_repeated_on_every_synchronisation_point_is_published_once(camera):
    subscription = camera.cameras["42"].subscription
    failed = notification("tns1:Device/HardwareFailure/StorageFailure", data=(("Failed", "true"),),
                          operation="Initialized")
    subscription.notify(failed, failed)
    assert camera.topics("onvif.storage.*") == ["onvif.storage.failed"]


def test_an_unknown_topic_is_kept_whole_as_a_generic_camera_event(camera):
    """A vendor topic: onvif.camera.event with the topic and every item, never dropped."""
    camera.cameras["42"].subscription.notify(notification(
        "acme:Vendor/AudioDetector/Scream", source=(("Channel", "1"),), key=(("Id", "9"),),
        data=(("Level", "97"),), operation=None))
    [event] = camera.events("onvif.camera.event")
    assert event.payload == CameraEventReceived(
        camera=REF, topic="acme:Vendor/AudioDetector/Scream", operation=None, source=(Item("Channel", "1"),),
        key=(Item("Id", "9"),), data=(Item("Level", "97"),), camera_time="2026-11-22T10:00:00Z")
    assert event.severity == Severity.INFO


def test_preset_events_other_than_reached_are_kept_as_generic_events(camera):
    camera.cameras["42"].subscription.notify(notification("tns1:PTZController/PTZPresets/Invoked"))
    assert camera.topics()[2:] == ["onvif.camera.event"]


def test_motion_without_a_readable_state_is_kept_as_a_generic_event(camera):
    camera.cameras["42"].subscription.notify(notification("tns1:VideoSource/MotionAlarm", data=(("State", "?"),)))
    assert camera.topics()[2:] == ["onvif.camera.event"]


def test_a_notification_the_mapping_chokes_on_does_not_lose_the_others(camera, captured_logs):
    """A notification that cannot be read is logged; the one after it is published."""
    camera.cameras["42"].subscription.notify(object(), motion(True))
    assert camera.topics("onvif.motion.*") == ["onvif.motion.started"]
    assert any(entry["event"] == "notification_not_mapped" for entry in captured_logs)


def test_motion_never_cleared_is_ended_by_the_hub_marked_stale(camera):
    """Quirk 8: no clearing event within motion_stuck_after_s (600 s): ended, stale, lasted 600 s."""
    camera.cameras["42"].subscription.notify(motion(True))
    camera.advance(599)
    assert camera.topics("onvif.motion.*") == ["onvif.motion.started"]
    camera.advance(1)
    [ended] = camera.events("onvif.motion.ended")
    assert (ended.payload.stale, ended.payload.lasted_s) == (True, 600)
    assert "stale" in ended.summary


def test_after_a_stale_end_the_stuck_state_resent_raises_nothing_but_a_new_detection_does(camera):
    """The camera still says true at the next synchronisation point: known, silent. It clears, then
    detects again: a new started."""
    subscription = camera.cameras["42"].subscription
    subscription.notify(motion(True))
    camera.advance(600)
    subscription.notify(motion(True, operation="Initialized"))
    assert camera.topics("onvif.motion.*") == ["onvif.motion.started", "onvif.motion.ended"]
    subscription.notify(motion(False), motion(True))
    assert camera.topics("onvif.motion.*") == ["onvif.motion.started", "onvif.motion.ended", "onvif.motion.started"]


def test_a_cleared_motion_leaves_no_stuck_timer(camera):
    camera.cameras["42"].subscription.notify(motion(True))
    camera.cameras["42"].subscription.notify(motion(False))
    camera.settle()
    assert [call.getTime() for call in camera.clock.getDelayedCalls()] == [30]  # the adapter's heartbeat only


def test_a_tamper_that_lasts_is_not_ended_by_the_hub(camera):
    """Only detections are ended as stuck; a camera covered for an hour is still covered."""
    camera.cameras["42"].subscription.notify(
        notification("tns1:VideoSource/ImageTooDark/AnalyticsService", data=(("State", "true"),)))
    camera.advance(3600)
    assert camera.topics("onvif.tamper.*") == ["onvif.tamper.started"]


# --- losing the camera ------------------------------------------------------------------------------------


def test_a_reboot_loses_the_pull_point_then_the_camera_is_read_again_with_new_preset_tokens(camera):
    """Quirk 9: the pull point fails, the camera is down for a while, comes back with new preset tokens;
    the hub reads it again, gives the old pull point back before opening a new one (quirk 3), and the
    directory has the new tokens."""
    fake = camera.cameras["42"]
    fake.down()
    fake.subscription.lose()
    camera.advance(5)
    fake.presets = (Preset("101", "Market Sq"), Preset("102", "Bus station"))
    fake.up()
    del fake.calls[:]
    camera.advance(10)
    assert fake.operations()[-3:] == ["GetPresets", "Unsubscribe", "CreatePullPointSubscription"]
    assert len(fake.subscriptions) == 1 and fake.subscription.opened == 2
    assert camera.directory.get("camera", "42").attributes["presets"] == [
        {"token": "101", "name": "Market Sq"}, {"token": "102", "name": "Bus station"}]
    # Two failed attempts are below failures_before_offline (3): no offline/online flapping.
    assert camera.topics("onvif.camera.*") == ["onvif.camera.identified", "onvif.camera.online",
                                               "onvif.camera.identified"]
    assert camera.events("onvif.camera.identified")[-1].payload.presets[0] == PresetInfo("101", "Market Sq")


def test_an_unchanged_camera_reconnecting_is_not_identified_again(camera):
    fake = camera.cameras["42"]
    fake.subscription.lose()
    camera.advance(5)
    assert fake.subscription.opened == 2
    assert camera.topics("onvif.camera.identified") == ["onvif.camera.identified"]


def test_a_pull_point_reopened_by_the_subscription_itself_has_the_presets_read_again(camera):
    """The camera rebooted between two polls: the subscription reopens its pull point on its own; the
    runner reads the presets again and publishes the camera identified with the new tokens."""
    fake = camera.cameras["42"]
    fake.presets = (Preset("7", "Market Sq"),)
    fake.subscription.resubscribe()
    assert camera.directory.get("camera", "42").attributes["presets"] == [{"token": "7", "name": "Market Sq"}]
    assert camera.events("onvif.camera.identified")[-1].payload.presets == (PresetInfo("7", "Market Sq"),)
    assert camera.state() == "online"


def test_renewals_and_notifications_count_as_hearing_from_the_camera(camera):
    before = camera.heard
    camera.cameras["42"].subscription.on_state("renewed", "renewal in 45 s")
    camera.cameras["42"].subscription.notify(motion(True))
    assert camera.heard == before + 2


def test_a_camera_down_goes_offline_once_after_three_attempts_and_back_online_once(camera):
    """Attempts at 0, 5, 10 s fail: offline once, with the reason and the next wait; then online once."""
    fake = camera.cameras["42"]
    fake.down("GetSystemDateAndTime: connection refused")
    fake.subscription.lose()
    camera.advance(5)
    assert camera.state() == "online"
    camera.advance(10)
    [offline] = camera.events("onvif.camera.offline")
    assert offline.payload.failures == 3 and offline.payload.retry_in_s == 20
    assert "connection refused" in offline.payload.reason and offline.severity == Severity.MEDIUM
    assert camera.state() == "offline"
    camera.advance(200)
    assert camera.topics("onvif.camera.offline") == ["onvif.camera.offline"]
    fake.up()
    camera.advance(40)
    assert camera.topics("onvif.camera.*")[-2:] == ["onvif.camera.offline", "onvif.camera.online"]
    assert camera.state() == "online"


def test_credentials_refused_make_the_camera_auth_failed_at_once(captured_logs, hub_bus):
    """The client re-synced the clock and retried before saying AuthFailed: one event, no offline."""
    harness = Harness(hub_bus, fleet())
    harness.cameras["42"].errors["GetDeviceInformation"] = AuthFailed("camera refused the credentials")
    harness.start()
    [event] = harness.events("onvif.camera.*")
    assert (event.topic, event.payload.previous, event.severity) == ("onvif.camera.auth_failed", None,
                                                                     Severity.MEDIUM)
    assert harness.state() == "auth_failed"
    harness.advance(300)
    assert harness.topics("onvif.camera.*") == ["onvif.camera.auth_failed"]
    harness.stop()


def test_a_pull_point_that_refuses_the_credentials_leaves_the_camera_degraded_not_auth_failed(
        captured_logs, hub_bus):
    """Quirk 7: events advertised but the pull point answers 401: usable for PTZ, degraded after 3 tries."""
    harness = Harness(hub_bus, fleet())
    harness.cameras["42"].subscribe_error = PullPointRefused("events service refuses the credentials")
    harness.start()
    harness.advance(5)
    harness.advance(10)
    [degraded] = harness.events("onvif.camera.degraded")
    assert "events service refuses" in degraded.payload.reason and degraded.severity == Severity.LOW
    assert harness.topics("onvif.camera.*") == ["onvif.camera.identified", "onvif.camera.degraded"]
    assert harness.state() == "degraded"
    harness.cameras["42"].subscribe_error = None
    harness.advance(20)
    assert harness.topics("onvif.camera.*")[-1] == "onvif.camera.online"
    harness.stop()


def test_unreadable_replies_make_a_camera_degraded(captured_logs, hub_bus):
    harness = Harness(hub_bus, fleet(failures_before_offline=1))
    harness.cameras["42"].errors["GetProfiles"] = CameraReplyError("GetProfiles: not well-formed XML")
    harness.start()
    assert harness.state() == "degraded"
    harness.stop()


def test_a_camera_with_no_profiles_is_degraded(captured_logs, hub_bus):
    harness = Harness(hub_bus, fleet(failures_before_offline=1))
    harness.cameras["42"].profiles = ()
    harness.start()
    [degraded] = harness.events("onvif.camera.degraded")
    assert degraded.payload.reason == "the camera has no media profiles"
    harness.stop()


def test_stopping_while_the_camera_is_down_leaves_no_timer(captured_logs, hub_bus):
    harness = Harness(hub_bus, fleet())
    harness.cameras["42"].down()
    harness.start()
    assert harness.clock.getDelayedCalls()
    harness.stop()
    assert_no_pending_timers(harness.clock)


def test_stopping_mid_connection_cancels_the_request(captured_logs, hub_bus):
    harness = Harness(hub_bus, fleet())
    harness.cameras["42"].held.add("GetProfiles")
    harness.start()
    [waiting] = harness.cameras["42"].pending["GetProfiles"]
    harness.stop()
    assert waiting.called
    assert_no_pending_timers(harness.clock)


def test_a_timeout_unreachable_error_is_a_failure_like_any_other(camera):
    fake = camera.cameras["42"]
    fake.subscription.lose(CameraUnreachable("PullMessages: timed out"))
    assert camera.state() == "online"
    assert fake.subscription.opened == 1
    camera.advance(5)
    assert fake.subscription.opened == 2


def test_a_camera_without_an_events_service_is_degraded_but_still_steerable(captured_logs, hub_bus):
    """GetServices lists no Events service: the subscription cannot open; the camera is degraded, and
    its presets still work."""
    harness = Harness(hub_bus, fleet(failures_before_offline=1))
    harness.cameras["42"].subscribe_error = CameraReplyError("camera offers no Events service")
    harness.start()
    [degraded] = harness.events("onvif.camera.degraded")
    assert degraded.payload.reason == "events cannot be subscribed: camera offers no Events service"
    harness.command("goto_preset", camera="42", preset="Market Sq")
    assert harness.outcomes() == [("delivered", "camera 42 is turning to preset Market Sq (1)")]
    harness.stop()
    assert_no_pending_timers(harness.clock)
