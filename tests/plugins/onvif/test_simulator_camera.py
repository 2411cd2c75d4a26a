"""The simulated camera, sans-IO: who it lets in, and what it answers on Device, Media, Media2 and PTZ."""

from __future__ import annotations

import zlib

import pytest
from lxml import etree

from plugins.onvif.sim_camera import Reply
from plugins.onvif.sim_replies import parse_datetime, parse_duration, xsd_datetime
from tests.plugins.onvif.simulator_client import (
    DEVICE,
    MEDIA,
    MEDIA2,
    PTZ,
    START,
    call,
    digest_authorization,
    envelope,
    fault_subcodes,
    make_camera,
    operation,
    texts,
)

TIME = operation("tds", "GetSystemDateAndTime")
INFO = operation("tds", "GetDeviceInformation")


def camera_time(reply: Reply) -> float:
    fields = [int(texts(reply, f"//tt:UTCDateTime//tt:{name}/text()")[0])
              for name in ("Year", "Month", "Day", "Hour", "Minute", "Second")]
    stamp = "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}Z".format(*fields)
    parsed = parse_datetime(stamp)
    assert parsed is not None
    return parsed[0]


# --- auth ------------------------------------------------------------------------------------------------


def test_the_time_is_told_to_anyone_and_everything_else_needs_a_token():
    """GetSystemDateAndTime answers without auth; GetDeviceInformation without a token is NotAuthorized."""
    camera = make_camera()
    assert camera_time(call(camera, DEVICE, TIME, signed=False)) == START
    refused = call(camera, DEVICE, INFO, signed=False)
    assert refused.status == 400 and fault_subcodes(refused) == ["ter:NotAuthorized"]
    assert texts(call(camera, DEVICE, INFO), "//tds:Manufacturer/text()") == ["Hub Simulated Cameras"]
    assert camera.auth_failures["missing"] == 1


def test_a_token_signed_with_the_wrong_password_or_user_is_refused():
    """A digest of another password, or another user name, is NotAuthorized."""
    camera = make_camera()
    wrong_password = camera.handle(DEVICE, envelope(INFO, signed_at=camera.now(), password="guess"))
    wrong_user = camera.handle(DEVICE, envelope(INFO, signed_at=camera.now(), username="admin"))
    assert fault_subcodes(wrong_password) == fault_subcodes(wrong_user) == ["ter:NotAuthorized"]
    assert camera.auth_failures == {"bad_digest": 1, "unknown_user": 1}


def test_a_token_is_checked_against_the_cameras_clock_within_its_window():
    """Created 11 s from the camera's clock is refused ("time check"), 9 s is accepted (window 10 s)."""
    camera = make_camera(auth_window_s=10)
    late = camera.handle(DEVICE, envelope(INFO, signed_at=camera.now() - 11))
    assert fault_subcodes(late) == ["ter:NotAuthorized"]
    assert "time check" in texts(late, "//s:Reason/s:Text/text()")[0]
    assert camera.handle(DEVICE, envelope(INFO, signed_at=camera.now() + 9)).status == 200


def test_a_replayed_nonce_is_refused():
    """The same token twice: the second is refused, as a camera that remembers nonces does."""
    camera = make_camera()
    request = envelope(INFO, signed_at=camera.now(), nonce=b"0123456789abcdef")
    assert camera.handle(DEVICE, request).status == 200
    assert fault_subcodes(camera.handle(DEVICE, request)) == ["ter:NotAuthorized"]
    assert camera.auth_failures["replayed"] == 1


def test_a_plain_text_password_is_accepted():
    """PasswordText with the right password passes (most cameras accept it)."""
    camera = make_camera()
    assert camera.handle(DEVICE, envelope(INFO, signed_at=camera.now(), plain=True)).status == 200


def test_http_digest_challenges_then_accepts_the_right_answer_once_per_count():
    """auth=http_digest: no header gets a 401 challenge; the right answer passes; its count again is refused."""
    camera = make_camera(auth="http_digest")
    challenged = call(camera, DEVICE, INFO, signed=False)
    assert challenged.status == 401
    challenge = dict(challenged.headers)["WWW-Authenticate"]
    assert challenge.startswith("Digest ") and 'qop="auth"' in challenge and "algorithm=MD5" in challenge
    authorization = digest_authorization(challenge, method="POST", uri=DEVICE)
    assert call(camera, DEVICE, INFO, signed=False, authorization=authorization).status == 200
    assert call(camera, DEVICE, INFO, signed=False, authorization=authorization).status == 401
    again = digest_authorization(challenge, method="POST", uri=DEVICE, nc=2)
    assert call(camera, DEVICE, INFO, signed=False, authorization=again).status == 200


def test_http_digest_refuses_a_wrong_password_a_foreign_nonce_and_another_uri():
    """A wrong password and a URI other than the request's are refused; an unknown nonce is 'stale'."""
    camera = make_camera(auth="http_digest", digest_algorithm="SHA-256")
    challenge = dict(call(camera, DEVICE, INFO, signed=False).headers)["WWW-Authenticate"]
    assert "algorithm=SHA-256" in challenge
    wrong = digest_authorization(challenge, method="POST", uri=DEVICE, password="guess")
    elsewhere = digest_authorization(challenge, method="POST", uri=MEDIA)
    foreign = digest_authorization(challenge.replace('nonce="', 'nonce="ff'), method="POST", uri=DEVICE)
    for authorization in (wrong, elsewhere):
        assert call(camera, DEVICE, INFO, signed=False, authorization=authorization).status == 401
    stale = call(camera, DEVICE, INFO, signed=False, authorization=foreign)
    assert stale.status == 401 and "stale=true" in dict(stale.headers)["WWW-Authenticate"]
    right = digest_authorization(challenge, method="POST", uri=DEVICE)
    assert call(camera, DEVICE, INFO, signed=False, authorization=right).status == 200


def test_both_wants_digest_and_token_and_either_takes_one():
    """auth=both: a right digest without a token is NotAuthorized. auth=either: either alone passes."""
    both = make_camera(auth="both")
    challenge = dict(call(both, DEVICE, INFO, signed=False).headers)["WWW-Authenticate"]
    no_token = call(both, DEVICE, INFO, signed=False,
                    authorization=digest_authorization(challenge, method="POST", uri=DEVICE))
    assert fault_subcodes(no_token) == ["ter:NotAuthorized"]
    assert call(both, DEVICE, INFO, authorization=digest_authorization(challenge, method="POST", uri=DEVICE,
                                                                       nc=2)).status == 200
    either = make_camera(auth="either")
    assert call(either, DEVICE, INFO).status == 200
    challenge = dict(call(either, DEVICE, INFO, signed=False).headers)["WWW-Authenticate"]
    assert call(either, DEVICE, INFO, signed=False,
                authorization=digest_authorization(challenge, method="POST", uri=DEVICE)).status == 200


# --- device ----------------------------------------------------------------------------------------------


def test_services_and_capabilities_name_where_each_service_answers():
    """GetServices lists Device, Media, Media2, PTZ and Events at this camera's address; GetCapabilities too."""
    camera = make_camera()
    namespaces = texts(call(camera, DEVICE, operation("tds", "GetServices", "<tds:IncludeCapability>false"
                                                      "</tds:IncludeCapability>")), "//tds:Namespace/text()")
    assert namespaces == ["http://www.onvif.org/ver10/device/wsdl", "http://www.onvif.org/ver10/media/wsdl",
                          "http://www.onvif.org/ver20/media/wsdl", "http://www.onvif.org/ver20/ptz/wsdl",
                          "http://www.onvif.org/ver10/events/wsdl"]
    capabilities = call(camera, DEVICE, operation("tds", "GetCapabilities"))
    assert texts(capabilities, "//tt:Events/tt:XAddr/text()") == ["http://127.0.0.1:8080/onvif/events_service"]
    assert texts(capabilities, "//tt:PTZ/tt:XAddr/text()") == ["http://127.0.0.1:8080/onvif/ptz_service"]
    assert texts(capabilities, "//tt:WSPullPointSupport/text()") == ["true"]


def test_a_media1_only_fixed_camera_offers_neither_media2_nor_ptz():
    """media=media1, ptz=false: GetServices leaves them out and their paths answer 404."""
    camera = make_camera(media="media1", ptz=False)
    xaddrs = texts(call(camera, DEVICE, operation("tds", "GetServices")), "//tds:XAddr/text()")
    assert not any("media2" in x or "ptz" in x for x in xaddrs)
    assert call(camera, MEDIA2, operation("tr2", "GetProfiles")).status == 404
    assert call(camera, PTZ, operation("tptz", "GetPresets", "<tptz:ProfileToken>Profile_1</tptz:ProfileToken>"
                                       )).status == 404
    assert texts(call(camera, DEVICE, INFO), "//tds:Model/text()") == ["SIM-FIXED-1"]


def test_an_operation_sent_to_another_service_path_is_not_found():
    """A Device operation posted to the Media path is 404: the address the client chose is checked."""
    assert call(make_camera(), MEDIA, INFO).status == 404


def test_an_unknown_operation_is_a_receiver_fault_and_a_broken_request_a_sender_fault():
    """GetHostname (not simulated): ActionNotSupported, 500. Not XML: a sender fault, 400."""
    camera = make_camera()
    unknown = call(camera, DEVICE, operation("tds", "GetHostname"))
    assert unknown.status == 500 and fault_subcodes(unknown) == ["ter:ActionNotSupported"]
    assert camera.handle(DEVICE, b"<not xml").status == 400
    assert camera.handle(DEVICE, b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>').status == 400


def test_scopes_name_the_camera():
    assert "onvif://www.onvif.org/name/Camera_7" in texts(
        call(make_camera(), DEVICE, operation("tds", "GetScopes")), "//tt:ScopeItem/text()")


# --- media -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "prefix"), [(MEDIA, "trt"), (MEDIA2, "tr2")])
def test_profiles_and_uris_through_media_and_media2(path, prefix):
    """Two profiles (main 1920x1080, sub 640x360) with PTZ; stream and snapshot URIs per profile."""
    camera = make_camera()
    profiles = call(camera, path, operation(prefix, "GetProfiles"))
    assert texts(profiles, f"//{prefix}:Profiles/@token") == ["Profile_1", "Profile_2"]
    assert texts(profiles, "//tt:Resolution/tt:Width/text()") == ["1920", "640"]
    assert len(texts(profiles, "//tt:NodeToken/text()")) == 2
    token = f"<{prefix}:ProfileToken>Profile_2</{prefix}:ProfileToken>"
    uri = "//tt:Uri/text()" if prefix == "trt" else "//tr2:Uri/text()"
    assert texts(call(camera, path, operation(prefix, "GetStreamUri", token)), uri) == [
        "rtsp://127.0.0.1:554/stream/7/Profile_2"]
    assert texts(call(camera, path, operation(prefix, "GetSnapshotUri", token)), uri) == [
        "http://127.0.0.1:8080/snapshot/Profile_2.png"]
    nope = f"<{prefix}:ProfileToken>nope</{prefix}:ProfileToken>"
    unknown = call(camera, path, operation(prefix, "GetStreamUri", nope))
    assert fault_subcodes(unknown) == ["ter:InvalidArgVal", "ter:NoProfile"]


def test_a_snapshot_is_a_png_that_differs_by_camera():
    """GET /snapshot/Profile_1.png is a valid PNG (signature, CRCs), not the same for two cameras."""
    seven, eight = make_camera(number="7"), make_camera(number="8")
    image = seven.snapshot("/snapshot/Profile_1.png")
    assert image.status == 200 and image.content_type == "image/png"
    assert image.body.startswith(b"\x89PNG\r\n\x1a\n")
    position = 8
    while position < len(image.body):  # every chunk's CRC is right
        length = int.from_bytes(image.body[position:position + 4], "big")
        kind_and_data = image.body[position + 4:position + 8 + length]
        crc = int.from_bytes(image.body[position + 8 + length:position + 12 + length], "big")
        assert zlib.crc32(kind_and_data) == crc
        position += 12 + length
    assert image.body != eight.snapshot("/snapshot/Profile_1.png").body
    assert seven.snapshot("/snapshot/nope.png").status == 404


def test_a_digest_camera_wants_digest_for_its_snapshot_too():
    camera = make_camera(auth="http_digest")
    challenged = camera.snapshot("/snapshot/Profile_1.png")
    assert challenged.status == 401
    authorization = digest_authorization(dict(challenged.headers)["WWW-Authenticate"], method="GET",
                                         uri="/snapshot/Profile_1.png")
    assert camera.snapshot("/snapshot/Profile_1.png", authorization=authorization).status == 200


# --- PTZ -------------------------------------------------------------------------------------------------

PROFILE = "<tptz:ProfileToken>Profile_1</tptz:ProfileToken>"


def move(pan: float, tilt: float = 0.0, zoom: float = 0.0, timeout: str | None = "PT2S") -> str:
    timeout_xml = f"<tptz:Timeout>{timeout}</tptz:Timeout>" if timeout else ""
    return operation("tptz", "ContinuousMove", f'{PROFILE}<tptz:Velocity><tt:PanTilt x="{pan}" y="{tilt}"/>'
                     f'<tt:Zoom x="{zoom}"/></tptz:Velocity>{timeout_xml}')


def test_presets_are_listed_and_goto_preset_points_there_and_says_so():
    """Four presets; GotoPreset moves the head to the preset and raises PTZPresets/Reached."""
    camera = make_camera()
    presets = call(camera, PTZ, operation("tptz", "GetPresets", PROFILE))
    assert texts(presets, "//tptz:Preset/@token") == ["1", "2", "3", "4"]
    assert texts(presets, "//tptz:Preset/tt:Name/text()")[0] == "Market Square"
    raised = camera.events_raised
    reply = call(camera, PTZ, operation("tptz", "GotoPreset", f"{PROFILE}<tptz:PresetToken>3</tptz:PresetToken>"))
    assert reply.status == 200 and etree.QName(etree.fromstring(reply.body)[0][0]).localname == "GotoPresetResponse"
    assert camera.ptz_status() == ((0.25, pytest.approx(0.3), pytest.approx(0.6)), False)
    assert camera.events_raised == raised + 1
    unknown = call(camera, PTZ, operation("tptz", "GotoPreset", f"{PROFILE}<tptz:PresetToken>9</tptz:PresetToken>"))
    assert fault_subcodes(unknown) == ["ter:InvalidArgVal", "ter:NoToken"]


def test_continuous_move_runs_until_its_timeout_and_stop_stops_it():
    """Pan at 0.5 for 2 s moves 0.5 units (0.5 units/s at full speed); Stop halts it where it is."""
    camera = make_camera()
    clock = camera._clock
    assert call(camera, PTZ, move(0.5)).status == 200
    clock.advance(1)
    (pan, _tilt, _zoom), moving = camera.ptz_status()
    assert pan == pytest.approx(0.25) and moving
    clock.advance(5)
    assert camera.ptz_status() == ((pytest.approx(0.5), 0.0, 0.0), False)
    call(camera, PTZ, move(-1.0, timeout=None))
    clock.advance(0.5)
    assert call(camera, PTZ, operation("tptz", "Stop", PROFILE)).status == 200
    clock.advance(3)
    assert camera.ptz_status() == ((pytest.approx(0.25), 0.0, 0.0), False)
    status = call(camera, PTZ, operation("tptz", "GetStatus", PROFILE))
    assert texts(status, "//tt:MoveStatus/tt:PanTilt/text()") == ["IDLE"]
    assert texts(status, "//tt:Position/tt:PanTilt/@x") == ["0.2500"]


def test_home_returns_the_head_to_the_middle():
    camera = make_camera()
    call(camera, PTZ, operation("tptz", "GotoPreset", f"{PROFILE}<tptz:PresetToken>1</tptz:PresetToken>"))
    assert call(camera, PTZ, operation("tptz", "GotoHomePosition", PROFILE)).status == 200
    assert camera.ptz_status() == ((0.0, 0.0, 0.0), False)


# --- the reply helpers -----------------------------------------------------------------------------------


def test_durations_and_times_read_as_xsd_has_them():
    """PT60S, PT1M, P0DT0H1M0S and PT0.5S read; P1Y and rubbish do not; Z and offsets are told apart."""
    assert [parse_duration(text) for text in ("PT60S", "PT1M", "P0DT0H1M0S", "PT0.5S", "P1D")] == [
        60, 60, 60, 0.5, 86400]
    assert parse_duration("P1Y") is None and parse_duration("soon") is None and parse_duration("PT") is None
    assert parse_datetime("2027-01-15T08:00:00Z") == (START, True)
    assert parse_datetime("2027-01-15T09:00:00+01:00") == (START, False)
    assert parse_datetime("2027-01-15T08:00:00") == (START, False)
    assert parse_datetime("2027-02-30T08:00:00Z") is None
    assert xsd_datetime(START) == "2027-01-15T08:00:00Z"
