"""Each misbehaviour of real cameras, switched on in the simulator, and what the camera then does.

Numbers refer to the list in /work/shared/protocols/onvif.md ("What real cameras get wrong").
"""

from __future__ import annotations

import pytest

from plugins.onvif.codec.xml import XmlRejected, parse_untrusted
from plugins.onvif.sim_camera import HANGUP, LongPoll
from plugins.onvif.sim_replies import (
    FACTORY_EPOCH_S,
    SUBSCRIPTION_ID_NS,
    parse_datetime,
)
from tests.plugins.onvif.simulator_client import (
    DEVICE,
    EVENTS,
    MEDIA,
    MEDIA2,
    PTZ,
    START,
    call,
    envelope,
    fault_subcodes,
    make_camera,
    operation,
    texts,
)
from tests.plugins.onvif.test_simulator_camera import INFO, TIME, camera_time, move
from tests.plugins.onvif.test_simulator_events import (
    MOTION,
    address_path,
    create,
    lifetime,
    pull,
)

PROFILE = "<tptz:ProfileToken>Profile_1</tptz:ProfileToken>"


# --- 1. clocks -------------------------------------------------------------------------------------------


def test_clock_skew_a_token_signed_with_the_hubs_clock_is_refused_one_with_the_cameras_passes():
    """An hour fast: the time it tells is an hour ahead; a token made with the true time fails the time check."""
    camera = make_camera(clock_skew_s=3600)
    assert camera_time(call(camera, DEVICE, TIME, signed=False)) == START + 3600
    refused = camera.handle(DEVICE, envelope(INFO, signed_at=START))
    assert fault_subcodes(refused) == ["ter:NotAuthorized"] and camera.auth_failures["time_check"] == 1
    assert camera.handle(DEVICE, envelope(INFO, signed_at=START + 3600)).status == 200


def test_clock_reset_on_reboot_the_clock_starts_again_at_2000():
    """After a reboot the camera's time is 2000-01-01 plus its uptime; a token with the old time fails."""
    camera = make_camera(clock_resets_on_reboot=True)
    camera.reboot()
    camera._clock.advance(30)
    assert camera_time(call(camera, DEVICE, TIME, signed=False)) == FACTORY_EPOCH_S + 30
    assert fault_subcodes(camera.handle(DEVICE, envelope(INFO, signed_at=START + 30))) == ["ter:NotAuthorized"]
    plain = make_camera()
    plain.reboot()
    assert camera_time(call(plain, DEVICE, TIME, signed=False)) == START


def test_time_needs_auth_even_the_time_is_refused_without_a_token():
    camera = make_camera(time_needs_auth=True)
    assert fault_subcodes(call(camera, DEVICE, TIME, signed=False)) == ["ter:NotAuthorized"]
    assert camera_time(call(camera, DEVICE, TIME)) == START


# --- 2. subscription times -------------------------------------------------------------------------------


def test_relative_termination_ignored_gives_the_cameras_own_ten_seconds():
    camera = make_camera(relative_termination="ignore")
    assert lifetime(create(camera, "PT60S")) == 10
    assert lifetime(create(camera, "2027-01-15T08:01:00Z")) == 60  # an absolute time is honoured


def test_relative_termination_rejected_is_a_fault_and_absolute_works():
    camera = make_camera(relative_termination="reject")
    refused = create(camera, "PT60S")
    assert refused.status == 400 and fault_subcodes(refused) == ["ter:InvalidArgVal"]
    assert b"UnacceptableInitialTerminationTimeFault" in refused.body
    assert lifetime(create(camera, "2027-01-15T08:01:00Z")) == 60


def test_absolute_termination_needs_z_refuses_an_offset_or_no_zone():
    camera = make_camera(absolute_termination_needs_z=True, max_pull_points=3)
    for termination in ("2027-01-15T08:01:00", "2027-01-15T08:01:00+00:00"):
        assert fault_subcodes(create(camera, termination)) == ["ter:InvalidArgVal"]
    assert lifetime(create(camera, "2027-01-15T08:01:00Z")) == 60
    assert lifetime(create(camera, "PT60S")) == 60


def test_missing_initial_termination_time_is_an_http_500_without_soap():
    camera = make_camera(missing_termination_is_500=True)
    refused = create(camera, None)
    assert refused.status == 500 and refused.content_type == "text/plain"
    with pytest.raises(XmlRejected):
        parse_untrusted(refused.body)
    assert create(camera, "PT60S").status == 200


def test_renew_follows_the_same_rules_as_create():
    camera = make_camera(relative_termination="reject")
    path = address_path(create(camera, "2027-01-15T08:01:00Z"))
    refused = call(camera, path, operation("wsnt", "Renew", "<wsnt:TerminationTime>PT60S</wsnt:TerminationTime>"))
    assert fault_subcodes(refused) == ["ter:InvalidArgVal"]


# --- 3. pull points --------------------------------------------------------------------------------------


def test_leaked_pull_points_fill_the_camera_until_they_expire():
    """Two left open by someone else: no pull point for us until leaked_for_s has passed."""
    camera = make_camera(leaked_pull_points=2, leaked_for_s=90)
    assert camera.live_pull_points() == 2
    refused = create(camera)
    assert "ter:TooManySubscriptions" in fault_subcodes(refused)
    camera._clock.advance(89)
    assert create(camera).status == 500
    camera._clock.advance(1)
    assert address_path(create(camera)) == "/onvif/subscription/1"


def test_leaked_pull_points_get_no_events():
    camera = make_camera(leaked_pull_points=1)
    path = address_path(create(camera))
    camera.raise_event(MOTION, state=True)
    assert len(texts(pull(camera, path), "//wsnt:Topic/text()")) == 1
    assert all(not leaked.queue for leaked in camera.pull_points.values() if leaked.leaked)


def test_unsubscribe_drops_all_one_unsubscribe_ends_every_pull_point():
    camera = make_camera(unsubscribe_drops_all=True)
    first, second = address_path(create(camera)), address_path(create(camera))
    call(camera, first, operation("wsnt", "Unsubscribe"))
    assert fault_subcodes(pull(camera, second)) == ["wsrf-rw:ResourceUnknownFault"]
    assert camera.live_pull_points() == 0


def test_unsubscribe_drops_all_answers_the_others_waiting_poll_with_a_fault():
    camera = make_camera(unsubscribe_drops_all=True)
    first, second = address_path(create(camera)), address_path(create(camera))
    waiting = pull(camera, second)
    answers = []
    waiting.pull_point.waiter = type("W", (), {
        "wake": lambda self: answers.append(camera.answer_poll(waiting, timed_out=False)), "drop": None})()
    call(camera, first, operation("wsnt", "Unsubscribe"))
    assert [fault_subcodes(answer) for answer in answers] == [["wsrf-rw:ResourceUnknownFault"]]


def test_subscription_id_header_pull_points_share_an_address_and_are_told_apart_by_a_header():
    """Like Axis: both pull points answer at the event service; the SubscriptionId sent back picks one."""
    camera = make_camera(subscription_id_header=True)
    first, second = create(camera), create(camera)
    assert texts(first, "//wsa:Address/text()") == texts(second, "//wsa:Address/text()") == [
        "http://127.0.0.1:8080/onvif/events_service"]
    ids = [texts(reply, "//wsa:ReferenceParameters/*[local-name()='SubscriptionId']/text()")[0]
           for reply in (first, second)]
    assert ids == ["1", "2"]

    def header(number: str) -> str:
        return f'<sim:SubscriptionId xmlns:sim="{SUBSCRIPTION_ID_NS}">{number}</sim:SubscriptionId>'

    camera.raise_event(MOTION, state=True)
    pulled = call(camera, EVENTS, operation("tev", "PullMessages", "<tev:Timeout>PT5S</tev:Timeout>"),
                  extra_header=header("2"))
    assert texts(pulled, "//wsnt:Topic/text()") == [MOTION]
    assert fault_subcodes(pull(camera, EVENTS)) == ["wsrf-rw:ResourceUnknownFault"]  # no header: whose?
    call(camera, EVENTS, operation("wsnt", "Unsubscribe"), extra_header=header("1"))
    assert camera.live_pull_points() == 1
    assert isinstance(call(camera, EVENTS, operation("tev", "PullMessages", "<tev:Timeout>PT5S</tev:Timeout>"),
                           extra_header=header("2")), LongPoll)


# --- 4. wrong addresses ----------------------------------------------------------------------------------


def test_doubled_port_every_reported_address_says_the_port_twice():
    camera = make_camera(doubled_port=True)
    xaddrs = texts(call(camera, DEVICE, operation("tds", "GetServices")), "//tds:XAddr/text()")
    assert xaddrs[0] == "http://127.0.0.1:8080:8080/onvif/device_service"
    created = create(camera)
    assert texts(created, "//wsa:Address/text()") == ["http://127.0.0.1:8080:8080/onvif/subscription/1"]
    # It still answers where it really is: the path is what matters.
    assert isinstance(pull(camera, "/onvif/subscription/1"), LongPoll)


def test_reported_host_and_port_are_a_private_address_nobody_can_reach():
    camera = make_camera(reported_host="192.168.254.254", reported_port=81)
    capabilities = call(camera, DEVICE, operation("tds", "GetCapabilities"))
    assert texts(capabilities, "//tt:Media/tt:XAddr/text()") == ["http://192.168.254.254:81/onvif/media_service"]
    token = "<trt:ProfileToken>Profile_1</trt:ProfileToken>"
    assert texts(call(camera, MEDIA, operation("trt", "GetSnapshotUri", token)), "//tt:Uri/text()") == [
        "http://192.168.254.254:81/snapshot/Profile_1.png"]
    assert texts(call(camera, MEDIA, operation("trt", "GetStreamUri", token)), "//tt:Uri/text()") == [
        "rtsp://192.168.254.254:554/stream/7/Profile_1"]


def test_new_pull_point_address_every_subscription_gets_an_address_never_seen_before():
    quirky, plain = make_camera(new_pull_point_address=True), make_camera()
    seen = []
    for camera in (quirky, plain):
        first = address_path(create(camera))
        call(camera, first, operation("wsnt", "Unsubscribe"))
        seen.append((first, address_path(create(camera))))
    (quirky_first, quirky_second), (plain_first, plain_second) = seen
    assert quirky_first != quirky_second and quirky_second.startswith("/onvif/pull_point/")
    assert plain_first == plain_second
    assert isinstance(pull(quirky, quirky_second), LongPoll)


# --- 5. malformed times ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("malformed", "expected"), [
    ("minute_61", "2027-01-15T08:61:00Z"),
    ("dash", "2027-01-15-08:00:00Z"),
    ("zeros", "0000-00-00T00:00:00Z"),
    ("none", "2027-01-15T08:00:00Z"),
])
def test_malformed_times_in_notifications(malformed, expected):
    camera = make_camera(malformed_times=malformed)
    path = address_path(create(camera))
    camera.raise_event(MOTION, state=True)
    reply = pull(camera, path)
    assert texts(reply, "//tt:Message/@UtcTime") == [expected]
    assert parse_datetime(texts(reply, "//tev:CurrentTime/text()")[0]) is not None  # only notifications


# --- 6. connection closed mid-poll -----------------------------------------------------------------------


def test_close_idle_polls_a_poll_with_nothing_to_say_is_hung_up_on():
    camera = make_camera(close_idle_polls=True)
    path = address_path(create(camera))
    poll = pull(camera, path)
    assert camera.answer_poll(poll, timed_out=True) is HANGUP
    waiting = pull(camera, path)
    camera.raise_event(MOTION, state=True)  # something to say after all: it is said
    assert texts(camera.answer_poll(waiting, timed_out=True), "//wsnt:Topic/text()") == [MOTION]


# --- 7. capabilities that lie ----------------------------------------------------------------------------


def test_pull_point_answers_401_creating_works_but_the_pull_point_refuses_everyone():
    camera = make_camera(pull_point_answers_401=True)
    path = address_path(create(camera))
    for body in (operation("tev", "PullMessages", "<tev:Timeout>PT5S</tev:Timeout>"),
                 operation("wsnt", "Renew", "<wsnt:TerminationTime>PT60S</wsnt:TerminationTime>")):
        refused = call(camera, path, body)
        assert refused.status == 401 and dict(refused.headers)["WWW-Authenticate"].startswith("Digest ")


def test_unparseable_the_chosen_operations_answer_xml_that_does_not_parse():
    camera = make_camera(unparseable=("GetProfiles", "PullMessages"))
    broken = call(camera, MEDIA, operation("trt", "GetProfiles"))
    assert broken.status == 200
    with pytest.raises(XmlRejected):
        parse_untrusted(broken.body)
    path = address_path(create(camera))
    camera.raise_event(MOTION, state=True)
    with pytest.raises(XmlRejected):
        parse_untrusted(pull(camera, path).body)
    assert parse_untrusted(call(camera, DEVICE, INFO).body) is not None


# --- 8. stuck events -------------------------------------------------------------------------------------


def test_stuck_events_the_clearing_event_never_comes():
    camera = make_camera(stuck_events=True)
    path = address_path(create(camera))
    assert camera.raise_event(MOTION, state=True) == 424242
    assert camera.raise_event(MOTION, state=False) is None
    reply = pull(camera, path)
    assert texts(reply, "//tt:SimpleItem[@Name='State']/@Value") == ["true"]
    assert camera.property_state(MOTION) is True


# --- 9. snapshots, presets, Speed, Stop ------------------------------------------------------------------


@pytest.mark.parametrize(("path", "prefix", "uri"), [(MEDIA, "trt", "//tt:Uri"), (MEDIA2, "tr2", "//tr2:Uri")])
def test_snapshot_uri_missing_the_answer_has_no_uri(path, prefix, uri):
    camera = make_camera(snapshot_uri_missing=True)
    reply = call(camera, path, operation(prefix, "GetSnapshotUri", f"<{prefix}:ProfileToken>Profile_1"
                                         f"</{prefix}:ProfileToken>"))
    assert reply.status == 200 and b"GetSnapshotUriResponse" in reply.body
    assert texts(reply, uri) == []


def test_presets_change_on_reboot_the_old_tokens_are_unknown_after_it():
    camera = make_camera(presets_change_on_reboot=True)
    before = camera.preset_tokens()
    camera.reboot()
    after = texts(call(camera, PTZ, operation("tptz", "GetPresets", PROFILE)), "//tptz:Preset/@token")
    assert before == ("1", "2", "3", "4") and after == ["101", "102", "103", "104"]
    stale = call(camera, PTZ, operation("tptz", "GotoPreset", f"{PROFILE}<tptz:PresetToken>1</tptz:PresetToken>"))
    assert fault_subcodes(stale) == ["ter:InvalidArgVal", "ter:NoToken"]
    steady = make_camera()
    steady.reboot()
    assert steady.preset_tokens() == before


def test_goto_preset_rejects_speed_it_faults_with_speed_and_goes_without():
    camera = make_camera(goto_preset_rejects_speed=True)
    speed = '<tptz:Speed><tt:PanTilt x="1" y="1"/><tt:Zoom x="1"/></tptz:Speed>'
    refused = call(camera, PTZ, operation("tptz", "GotoPreset",
                                          f"{PROFILE}<tptz:PresetToken>2</tptz:PresetToken>{speed}"))
    assert fault_subcodes(refused) == ["ter:InvalidArgVal"] and camera.ptz_status()[0] == (0, 0, 0)
    assert call(camera, PTZ, operation("tptz", "GotoPreset", f"{PROFILE}<tptz:PresetToken>2</tptz:PresetToken>"
                                       )).status == 200
    assert camera.ptz_status()[0][0] == pytest.approx(-0.25)


def test_stop_ignored_only_a_zero_velocity_move_stops_it():
    camera = make_camera(stop_ignored=True)
    call(camera, PTZ, move(1.0, timeout="PT10S"))
    assert call(camera, PTZ, operation("tptz", "Stop", PROFILE)).status == 200
    camera._clock.advance(1)
    assert camera.ptz_status()[1] is True
    call(camera, PTZ, move(0.0))
    camera._clock.advance(1)
    position, moving = camera.ptz_status()
    assert not moving and position[0] == pytest.approx(0.5)


def test_quirks_can_be_switched_on_while_the_camera_runs():
    """update_quirks: the next reply reflects the change (cached replies are made again)."""
    camera = make_camera()
    token = "<trt:ProfileToken>Profile_1</trt:ProfileToken>"
    assert texts(call(camera, MEDIA, operation("trt", "GetSnapshotUri", token)), "//tt:Uri/text()")
    camera.update_quirks(snapshot_uri_missing=True, clock_skew_s=-600)
    assert texts(call(camera, MEDIA, operation("trt", "GetSnapshotUri", token)), "//tt:Uri/text()") == []
    assert camera.now() == START - 600


def test_quirks_that_do_not_exist_or_have_wrong_values_are_refused():
    from plugins.onvif.sim_camera import CameraQuirks

    with pytest.raises(TypeError):
        CameraQuirks(no_such_quirk=True)  # type: ignore[call-arg]
    with pytest.raises(ValueError):
        CameraQuirks(max_pull_points=0)
    with pytest.raises(ValueError):
        CameraQuirks(unparseable=("Get Profiles",))
    assert EVENTS == "/onvif/events_service"
