"""Commands to cameras: each is carried out through the camera's client and ends in exactly one outcome."""

from __future__ import annotations

import hashlib

import pytest

from hub.events import Severity
from hub.secrets import Secret
from hub.testing import assert_no_pending_timers
from plugins.onvif.client import AuthFailed, CameraReplyError, CameraUnreachable
from plugins.onvif.codec.ptz import Preset
from plugins.onvif.commands import shareable_uri
from plugins.onvif.events import EvidenceRef, SnapshotTaken, StreamShared
from plugins.onvif.transport import ConnectionFailed, Timeout
from tests.plugins.onvif.adapter_fakes import (
    FIXED_PROFILE,
    JPEG,
    NAME,
    Harness,
    camera_config,
    fleet,
)


@pytest.fixture
def cameras(captured_logs, hub_bus, tmp_path):
    config = fleet({"42": camera_config(), "43": camera_config(host="10.1.2.43", name="Bus station"),
                    "44": camera_config(host="10.1.2.44", enabled=False)},
                   username="hub", password=Secret("pa55word"))
    harness = Harness(hub_bus, config, evidence_dir=tmp_path / "evidence").start()
    yield harness
    harness.stop()
    assert_no_pending_timers(harness.clock)


def ptz_calls(harness: Harness, number: str = "42") -> list[tuple]:
    return [call for call in harness.cameras[number].calls
            if call[0] in ("GotoPreset", "ContinuousMove", "Stop", "GotoHomePosition", "GetPresets")]


# --- PTZ ----------------------------------------------------------------------------------------------------


def test_goto_preset_by_token_is_delivered_once_the_camera_accepts_it(cameras):
    """GotoPreset on the camera's PTZ profile; one outcome, delivered, on the command's incident."""
    command = cameras.command("goto_preset", camera="42", preset="2")
    assert cameras.cameras["42"].calls[-1] == ("GotoPreset", "Profile_1", "2")
    [outcome] = cameras.events("onvif.command.*")
    assert outcome.topic == "onvif.command.delivered"
    assert outcome.payload.detail == "camera 42 is turning to preset Bus station (2)"
    assert (outcome.causation_id, outcome.incident_id) == (command.id, "INC-000042")


def test_goto_preset_by_name_ignores_case(cameras):
    cameras.command("goto_preset", camera="42", preset=" market sq ")
    assert cameras.cameras["42"].calls[-1] == ("GotoPreset", "Profile_1", "1")
    assert cameras.outcomes() == [("delivered", "camera 42 is turning to preset Market Sq (1)")]


def test_a_preset_not_known_is_looked_for_again_on_the_camera(cameras):
    """Presets added on the camera since the hub connected: read again, found, delivered."""
    cameras.cameras["42"].presets += (Preset("3", "Car park"),)
    cameras.command("goto_preset", camera="42", preset="Car park")
    assert ptz_calls(cameras)[-2:] == [("GetPresets", "Profile_1"), ("GotoPreset", "Profile_1", "3")]
    assert cameras.outcomes() == [("delivered", "camera 42 is turning to preset Car park (3)")]
    assert {"token": "3", "name": "Car park"} in cameras.directory.get("camera", "42").attributes["presets"]


def test_a_preset_the_camera_does_not_have_fails_naming_those_it_has(cameras):
    cameras.command("goto_preset", camera="42", preset="Town hall")
    assert cameras.outcomes() == [
        ("failed", "camera 42 has no preset 'Town hall' (it has: Market Sq (1), Bus station (2))")]
    assert "GotoPreset" not in cameras.cameras["42"].operations()


def test_a_preset_token_gone_after_a_reboot_is_found_again_by_its_name(cameras):
    """Quirk 9: the camera refuses the old token; presets are read again and the same name is used."""
    fake = cameras.cameras["42"]
    fake.presets = (Preset("101", "Market Sq"), Preset("102", "Bus station"))
    refusing = CameraReplyError("GotoPreset: ter:NoEntity", status=500)
    original = fake.errors

    class RefuseOldToken(dict):
        def get(self, key, default=None):
            if key == "GotoPreset" and fake.calls[-1] == ("GotoPreset", "Profile_1", "1"):
                return refusing
            return original.get(key, default)

    fake.errors = RefuseOldToken()
    cameras.command("goto_preset", camera="42", preset="1")
    assert ptz_calls(cameras)[-3:] == [("GotoPreset", "Profile_1", "1"), ("GetPresets", "Profile_1"),
                                       ("GotoPreset", "Profile_1", "101")]
    assert cameras.outcomes() == [("delivered", "camera 42 is turning to preset Market Sq (101)")]


def test_move_turns_the_camera_and_the_hub_stops_it_after_the_seconds_asked(cameras):
    """ContinuousMove at the configured speed with the camera's own Timeout; Stop from the hub as well."""
    cameras.command("move", camera="42", direction="left", seconds=3)
    assert ptz_calls(cameras)[-1] == ("ContinuousMove", "Profile_1", -0.5, 0.0, 0.0, 3.0)
    assert cameras.outcomes() == [("delivered", "camera 42 is moving left for 3 s")]
    cameras.advance(2.9)
    assert ptz_calls(cameras)[-1][0] == "ContinuousMove"
    cameras.advance(0.1)
    assert ptz_calls(cameras)[-1] == ("Stop", "Profile_1")
    assert len(cameras.outcomes()) == 1


def test_a_second_move_replaces_the_first_ones_stop(cameras):
    """Zoom in for 2 s, then at 1 s right for 5 s: no Stop at 2 s to cut the second move short."""
    cameras.command("move", camera="42", direction="zoom_in")
    assert ptz_calls(cameras)[-1] == ("ContinuousMove", "Profile_1", 0.0, 0.0, 0.5, 2.0)
    cameras.advance(1)
    cameras.command("move", camera="42", direction="right", seconds=5)
    cameras.advance(4.9)
    assert "Stop" not in [call[0] for call in ptz_calls(cameras)]
    cameras.advance(0.1)
    assert ptz_calls(cameras)[-1] == ("Stop", "Profile_1")


def test_stop_stops_at_once_and_cancels_the_pending_stop(cameras):
    cameras.command("move", camera="42", direction="up", seconds=10)
    cameras.command("stop", camera="42")
    assert ptz_calls(cameras)[-1] == ("Stop", "Profile_1")
    cameras.advance(10)
    assert [call[0] for call in ptz_calls(cameras)].count("Stop") == 1
    assert cameras.outcomes()[-1] == ("delivered", "camera 42 stopped")


def test_home_sends_the_camera_to_its_home_position(cameras):
    cameras.command("home", camera="42")
    assert ptz_calls(cameras)[-1] == ("GotoHomePosition", "Profile_1")
    assert cameras.outcomes() == [("delivered", "camera 42 is turning to its home position")]


@pytest.mark.parametrize("seconds", [0, 31, -1])
def test_a_move_of_too_few_or_too_many_seconds_is_refused(cameras, seconds):
    cameras.command("move", camera="42", direction="up", seconds=seconds)
    assert cameras.outcomes() == [("refused", "seconds must be from 1 to 30")]
    assert "ContinuousMove" not in cameras.cameras["42"].operations()


def test_ptz_on_a_camera_without_ptz_fails_without_asking_it(captured_logs, hub_bus):
    harness = Harness(hub_bus, fleet())
    harness.cameras["42"].profiles = (FIXED_PROFILE,)
    harness.start()
    harness.command("home", camera="42")
    assert harness.outcomes() == [("failed", "camera 42 has no PTZ (profile Profile_2)")]
    assert "GotoHomePosition" not in harness.cameras["42"].operations()
    harness.stop()


# --- evidence and streams ------------------------------------------------------------------------------


def test_a_snapshot_is_kept_as_evidence_and_joins_the_commands_incident(cameras, tmp_path):
    """The bytes are stored under their SHA-256; onvif.snapshot.taken carries the descriptor, on the incident."""
    command = cameras.command("snapshot", camera="42", requested_by="olive")
    sha256 = hashlib.sha256(JPEG).hexdigest()
    [taken] = cameras.events("onvif.snapshot.taken")
    assert taken.payload == SnapshotTaken(
        camera=taken.payload.camera, requested_by="olive", profile="Profile_1",
        evidence=EvidenceRef(sha256=sha256, content_type="image/jpeg", size=len(JPEG),
                             url=f"/api/evidence/{sha256}"))
    assert (taken.incident_id, taken.causation_id, taken.subject.id, taken.severity) == (
        "INC-000042", command.id, "42", Severity.INFO)
    assert taken.location.camera == "42"
    assert cameras.outcomes() == [("delivered", f"snapshot kept as evidence, SHA-256 {sha256}")]
    stored = cameras.evidence.get(sha256)
    assert stored is not None and stored.path.read_bytes() == JPEG


def test_a_snapshot_that_is_not_the_picture_it_claims_is_not_kept(cameras):
    """An HTML error page labelled image/jpeg: refused by the evidence store, the command fails saying so."""
    cameras.cameras["42"].snapshot = ("image/jpeg", b"<html>500</html>")
    cameras.command("snapshot", camera="42")
    [(outcome, detail)] = cameras.outcomes()
    assert outcome == "failed" and detail.startswith("the camera's snapshot was not kept:")
    assert cameras.events("onvif.snapshot.taken") == []


def test_a_camera_with_no_snapshot_uri_fails_the_snapshot(cameras):
    cameras.cameras["42"].snapshot_uri = None
    cameras.command("snapshot", camera="42")
    assert cameras.outcomes() == [("failed", "camera 42 gives no snapshot address")]


def test_without_an_evidence_store_a_snapshot_fails_rather_than_being_lost(captured_logs, hub_bus):
    harness = Harness(hub_bus, fleet()).start()
    harness.command("snapshot", camera="42")
    assert harness.outcomes() == [("failed", "this hub keeps no evidence, so a snapshot would be lost")]
    assert "GetSnapshot" not in harness.cameras["42"].operations()
    harness.stop()


def test_a_stream_uri_is_shared_without_any_credentials(cameras):
    """The client drops user:password; a password the camera put in the query goes too, and any other
    place the password appears is blanked."""
    cameras.cameras["42"].stream_uri = "rtsp://10.1.2.42:554/Streaming/pa55word/1?user=hub&pwd=pa55word&ch=1"
    command = cameras.command("stream_uri", camera="42", requested_by="olive")
    [shared] = cameras.events("onvif.stream.shared")
    assert shared.payload == StreamShared(camera=shared.payload.camera, uri="rtsp://10.1.2.42:554/Streaming/***/1?ch=1",
                                          requested_by="olive", profile="Profile_1")
    assert (shared.incident_id, shared.causation_id) == ("INC-000042", command.id)
    assert cameras.outcomes() == [("delivered", "stream address: rtsp://10.1.2.42:554/Streaming/***/1?ch=1")]
    assert not any("pa55word" in str(event.payload) + event.summary for event in cameras.events())


@pytest.mark.parametrize(
    ("uri", "shared"),
    [
        ("rtsp://admin:secret@192.168.0.9:554/s1", "rtsp://192.168.0.9:554/s1"),
        ("rtsp://192.168.0.9:554:554/s1", "rtsp://192.168.0.9:554/s1"),
        ("rtsp://[fd00::9]:8554/live?token=abc&profile=2", "rtsp://[fd00::9]:8554/live?profile=2"),
        ("rtsp://cam/live", "rtsp://cam/live"),
    ],
)
def test_shareable_uris_lose_userinfo_credential_parameters_and_doubled_ports(uri, shared):
    assert shareable_uri(uri) == shared


def test_a_stream_address_that_is_not_one_is_refused():
    with pytest.raises(ValueError):
        shareable_uri("/Streaming/1")


# --- refusals and failures ---------------------------------------------------------------------------


def test_a_camera_not_in_this_adapter_is_refused(cameras):
    cameras.command("home", camera="99")
    assert cameras.outcomes() == [("refused", "camera 99 is not one of this adapter's cameras")]


def test_a_disabled_camera_is_refused_and_shown_disabled(cameras):
    cameras.command("home", camera="44")
    assert cameras.outcomes() == [("refused", "camera 44 is out of service here (enabled = false)")]
    assert cameras.state("44") == "disabled"


def test_bad_arguments_are_refused(cameras):
    cameras.raw_command("move", {"camera": "42", "direction": "sideways"})
    cameras.raw_command("goto_preset", {"camera": "42"})
    cameras.raw_command("pan_wildly", {"camera": "42"})
    assert cameras.outcomes() == [("refused", "direction must be one of up, down, left, right, zoom_in, zoom_out"),
                                  ("refused", "goto_preset needs preset (preset)"),
                                  ("refused", "onvif has no command 'pan_wildly'")]


def test_a_camera_that_does_not_answer_in_time_times_the_command_out(cameras):
    cameras.cameras["42"].errors["GotoHomePosition"] = CameraUnreachable(
        "GotoHomePosition: no reply in 10 s", cause=Timeout("no reply in 10 s"))
    cameras.command("home", camera="42")
    assert cameras.outcomes() == [("timed_out", "camera 42 did not answer in time")]


def test_a_camera_that_cannot_be_reached_fails_the_command(cameras):
    cameras.cameras["42"].errors["Stop"] = CameraUnreachable("Stop: connection refused",
                                                             cause=ConnectionFailed("connection refused"))
    cameras.command("stop", camera="42")
    assert cameras.outcomes() == [("failed", "camera 42 cannot be reached: Stop: connection refused")]


def test_credentials_refused_fail_the_command(cameras):
    cameras.cameras["42"].errors["GotoPreset"] = AuthFailed("GotoPreset refused")
    cameras.command("goto_preset", camera="42", preset="1")
    assert cameras.outcomes() == [("failed", "camera 42 refuses the hub's credentials")]


def test_a_fault_fails_the_command_with_the_cameras_reason(cameras):
    cameras.cameras["42"].errors["GotoHomePosition"] = CameraReplyError("GotoHomePosition: ter:NoHomePosition")
    cameras.command("home", camera="42")
    assert cameras.outcomes() == [("failed", "camera 42 refused it: GotoHomePosition: ter:NoHomePosition")]


def test_a_camera_never_reached_fails_the_command_at_once(captured_logs, hub_bus):
    harness = Harness(hub_bus, fleet())
    harness.cameras["42"].down()
    harness.start()
    harness.command("home", camera="42")
    assert harness.outcomes() == [("failed", "camera 42 has not been reached yet (connecting)")]
    harness.stop()


def test_a_command_waiting_for_its_camera_when_the_adapter_stops_ends_failed(captured_logs, hub_bus):
    """Nothing is left without an outcome, and no timer is left behind."""
    harness = Harness(hub_bus, fleet()).start()
    harness.cameras["42"].held.add("GotoHomePosition")
    harness.command("home", camera="42")
    assert harness.outcomes() == []
    harness.stop()
    assert harness.outcomes() == [("failed", "the adapter stopped before the camera answered")]
    assert_no_pending_timers(harness.clock)


def test_commands_to_one_camera_do_not_wait_for_another(cameras):
    """Camera 42 holds its answer; camera 43's command is delivered meanwhile."""
    cameras.cameras["42"].held.add("GotoHomePosition")
    cameras.command("home", camera="42")
    cameras.command("home", camera="43")
    assert cameras.outcomes() == [("delivered", "camera 43 is turning to its home position")]
    cameras.cameras["42"].pending["GotoHomePosition"][0].callback(None)
    assert [detail for _outcome, detail in cameras.outcomes()] == [
        "camera 43 is turning to its home position", "camera 42 is turning to its home position"]


def test_commands_for_another_adapter_are_not_taken(cameras):
    from hub.commands import command_event
    from plugins.onvif.commands import COMMANDS

    event = command_event(cameras.bus.events, adapter="onvif.other", adapter_type="onvif", spec=COMMANDS[3],
                          arguments={"camera": "42"}, requested_by="olive")
    cameras.bus.publish(event)
    cameras.settle()
    assert cameras.outcomes() == []
    assert NAME != "onvif.other"
