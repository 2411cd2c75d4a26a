"""One camera's client: its clock, its services and their addresses, media and PTZ, and the one call path
that signs, limits and classifies every failure."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from hub.testing import assert_no_pending_timers, assert_no_result, failure_result_of, success_result_of
from plugins.onvif.client import (
    AuthFailed,
    CameraBusy,
    CameraReplyError,
    CameraUnreachable,
    NoSnapshot,
    split_address,
)
from plugins.onvif.codec.namespaces import TDS, TEV, TPTZ, TR2, TRT
from plugins.onvif.codec.wsse import created_text
from plugins.onvif.limiter import Limiter
from plugins.onvif.transport import ConnectionClosed, HttpError, ReplyTooLarge, Timeout
from tests.plugins.onvif.client_fakes import (
    NOT_AUTHORIZED,
    PASSWORD,
    FakeTransport,
    at,
    call_of,
    capabilities,
    empty,
    envelope,
    fault,
    make_client,
    profiles,
    services,
    snapshot_uri,
    stream_uri,
    system_time,
)

PULL_BODY = f'<tev:PullMessages xmlns:tev="{TEV}"/>'
HUB_T0 = 1_790_000_000.0  # 2026-09-21, the hub's clock when each test starts
SKEW_S = 3 * 3600 + 17  # the camera's clock runs this far ahead (reset after a reboot, wrong zone...)


@pytest.fixture
def clock() -> Clock:
    clock = Clock()
    clock.advance(HUB_T0)
    yield clock
    assert_no_pending_timers(clock)


@pytest.fixture
def transport() -> FakeTransport:
    return FakeTransport()


def camera_now(clock: Clock) -> datetime:
    return at(clock.seconds() + SKEW_S)


# --- the camera's clock ------------------------------------------------------------------------------


def test_the_clock_is_read_unsigned_and_the_offset_kept(clock, transport):
    """GetSystemDateAndTime goes without a token; the offset is the camera's time minus the hub's."""
    transport.on("GetSystemDateAndTime", system_time(camera_now(clock)))
    client = make_client(clock, transport)
    result = success_result_of(call_of(client.sync_clock()))
    assert result == camera_now(clock)
    assert client.clock_offset_s == pytest.approx(SKEW_S)
    assert transport.sent[0].created is None
    assert transport.sent[0].url == "http://10.1.2.42:80/onvif/device_service"


def test_every_request_is_signed_with_the_cameras_time_and_a_fresh_nonce(clock, transport):
    """A token's Created is the hub's time corrected by the offset; no two requests share a nonce."""
    transport.on("GetSystemDateAndTime", system_time(camera_now(clock)))
    transport.on("GetDeviceInformation", *[envelope("<tds:GetDeviceInformationResponse/>")] * 2)
    client = make_client(clock, transport)
    success_result_of(call_of(client.sync_clock()))
    clock.advance(30)
    success_result_of(call_of(client.device_information()))
    success_result_of(call_of(client.device_information()))
    signed = transport.sent[1:]
    assert [sent.created for sent in signed] == [created_text(camera_now(clock))] * 2
    assert signed[0].nonce != signed[1].nonce


def test_a_camera_that_wants_auth_for_its_clock_is_asked_again_signed(clock, transport):
    """Some cameras refuse even GetSystemDateAndTime unsigned: it is asked once more with a token."""
    transport.on("GetSystemDateAndTime", NOT_AUTHORIZED, system_time(camera_now(clock)))
    client = make_client(clock, transport)
    success_result_of(call_of(client.sync_clock()))
    assert [sent.created is not None for sent in transport.sent] == [False, True]
    assert client.clock_offset_s == pytest.approx(SKEW_S)


def test_the_http_date_of_a_refusal_is_the_last_resort_for_the_cameras_clock(clock, transport):
    """A camera that refuses both (401 with a fault body) still says its time in the Date header."""
    date = camera_now(clock).strftime("%a, %d %b %Y %H:%M:%S GMT")
    refusal = HttpError(401, NOT_AUTHORIZED, "application/soap+xml", date)
    transport.on("GetSystemDateAndTime", refusal, refusal)
    client = make_client(clock, transport)
    assert success_result_of(call_of(client.sync_clock())) == camera_now(clock)
    assert client.clock_offset_s == pytest.approx(SKEW_S)


def test_an_unreadable_camera_time_keeps_the_offset(clock, transport):
    """A camera whose clock reads 0000-00-00 (quirk 5) gives None; the offset known so far stays."""
    broken = envelope(
        "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:UTCDateTime><tt:Time><tt:Hour>0</tt:Hour>"
        "<tt:Minute>61</tt:Minute><tt:Second>0</tt:Second></tt:Time><tt:Date><tt:Year>0</tt:Year>"
        "<tt:Month>0</tt:Month><tt:Day>0</tt:Day></tt:Date></tt:UTCDateTime></tds:SystemDateAndTime>"
        "</tds:GetSystemDateAndTimeResponse>")
    transport.on("GetSystemDateAndTime", broken)
    client = make_client(clock, transport)
    client.clock_offset_s = 12.0
    assert success_result_of(call_of(client.sync_clock())) is None
    assert client.clock_offset_s == 12.0


# --- auth faults (quirk 1) ---------------------------------------------------------------------------


def test_an_auth_fault_rereads_the_clock_and_retries_once_with_the_new_time(clock, transport):
    """A camera whose clock jumped refuses the old time; the retry is signed with the time just read."""
    answer = envelope("<tds:GetDeviceInformationResponse><tds:Model>X</tds:Model></tds:GetDeviceInformationResponse>")
    transport.on("GetDeviceInformation", NOT_AUTHORIZED, answer)
    transport.on("GetSystemDateAndTime", system_time(camera_now(clock)))
    client = make_client(clock, transport)
    information = success_result_of(call_of(client.device_information()))
    assert information.model == "X"
    assert transport.operations() == ["GetDeviceInformation", "GetSystemDateAndTime", "GetDeviceInformation"]
    assert transport.sent[0].created == created_text(at(clock.seconds()))
    assert transport.sent[2].created == created_text(camera_now(clock))


def test_credentials_refused_after_the_clock_is_read_again_are_an_auth_failure(clock, transport):
    """Two refusals around a fresh clock reading: AuthFailed, and no third try."""
    transport.on("GetProfiles", NOT_AUTHORIZED, NOT_AUTHORIZED)
    transport.on("GetSystemDateAndTime", system_time(camera_now(clock)))
    client = make_client(clock, transport)
    client.services[TRT] = "http://10.1.2.42:80/onvif/media"
    failure = failure_result_of(call_of(client.profiles()))
    assert failure.check(AuthFailed)
    assert transport.operations() == ["GetProfiles", "GetSystemDateAndTime", "GetProfiles"]
    assert PASSWORD not in str(failure.value)


def test_http_401_after_digest_counts_as_refused_credentials(clock, transport):
    """A camera that only speaks HTTP Digest and refuses it: AuthFailed after the same one retry."""
    transport.on("GetDeviceInformation", HttpError(401), HttpError(401))
    transport.on("GetSystemDateAndTime", system_time(camera_now(clock)))
    client = make_client(clock, transport)
    failure_result_of(call_of(client.device_information())).trap(AuthFailed)
    assert transport.sent[0].digest.username == "hub"
    assert transport.sent[0].digest.password.reveal() == PASSWORD


def test_concurrent_auth_faults_share_one_clock_reading(clock, transport):
    """Three requests refused together cause one GetSystemDateAndTime, not three."""
    reading: Deferred = Deferred()
    transport.on("GetDeviceInformation", NOT_AUTHORIZED, NOT_AUTHORIZED, NOT_AUTHORIZED,
                 *[envelope("<tds:GetDeviceInformationResponse/>")] * 3)
    transport.on("GetSystemDateAndTime", reading)
    client = make_client(clock, transport, limiter=Limiter(overall=8, per_camera=8))
    calls = [call_of(client.device_information()) for _ in range(3)]
    reading.callback(system_time(camera_now(clock)))
    for call in calls:
        success_result_of(call)
    assert transport.operations().count("GetSystemDateAndTime") == 1


# --- how other failures come out ----------------------------------------------------------------------


def test_a_fault_in_an_http_500_is_a_reply_error_that_carries_the_fault(clock, transport):
    """SOAP faults arrive as 500s; the fault is what the caller sees, with the status."""
    transport.on("GetDeviceInformation", HttpError(500, fault("ter:InvalidArgVal", "bad token")))
    client = make_client(clock, transport)
    error = failure_result_of(call_of(client.device_information())).value
    assert isinstance(error, CameraReplyError)
    assert error.fault is not None and error.fault.subcodes == ("ter:InvalidArgVal",)
    assert error.status == 500


def test_a_fault_with_status_200_is_still_a_fault(clock, transport):
    """Some cameras send faults with 200 OK (as the ipycam peer does)."""
    transport.on("GetDeviceInformation", fault("ter:ActionNotSupported", "Action not supported"))
    error = failure_result_of(call_of(make_client(clock, transport).device_information())).value
    assert isinstance(error, CameraReplyError) and error.fault is not None


@pytest.mark.parametrize("reply", [b"<html>login</html", b"", b"<s:Envelope xmlns:s='urn:other'/>",
                                   b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'])
def test_unreadable_replies_are_reply_errors(clock, transport, reply):
    """Junk, an empty reply, a non-SOAP document, a DTD: the camera answered, but not usefully."""
    transport.on("GetDeviceInformation", reply)
    failure_result_of(call_of(make_client(clock, transport).device_information())).trap(CameraReplyError)


def test_an_http_error_without_a_fault_is_a_reply_error_with_its_status(clock, transport):
    """A 404 from a wrong path names its status."""
    transport.on("GetDeviceInformation", HttpError(404, b"Not Found", "text/plain"))
    error = failure_result_of(call_of(make_client(clock, transport).device_information())).value
    assert isinstance(error, CameraReplyError) and error.status == 404 and error.fault is None


def test_a_reply_over_the_cap_is_a_reply_error(clock, transport):
    """The transport's size cap is the camera's fault, not the network's."""
    transport.on("GetDeviceInformation", ReplyTooLarge("reply passed the 1048576-byte cap"))
    failure_result_of(call_of(make_client(clock, transport).device_information())).trap(CameraReplyError)


def test_no_reply_in_time_is_unreachable(clock, transport):
    """A time-out is the network's (or a dead camera's) failure."""
    transport.on("GetDeviceInformation", Timeout("no complete reply within 10 s"))
    error = failure_result_of(call_of(make_client(clock, transport).device_information())).value
    assert isinstance(error, CameraUnreachable) and isinstance(error.cause, Timeout)


def test_a_connection_closed_before_the_reply_is_asked_again_once_on_a_fresh_one(clock, transport):
    """A camera closing a kept-alive connection just as it is reused: a reading request is repeated."""
    transport.on("GetDeviceInformation", ConnectionClosed("closed", before_reply=True),
                 envelope("<tds:GetDeviceInformationResponse/>"))
    success_result_of(call_of(make_client(clock, transport).device_information()))
    assert transport.operations() == ["GetDeviceInformation"] * 2


def test_creating_a_pull_point_is_never_repeated_blindly(clock, transport):
    """The first CreatePullPointSubscription may have opened a pull point: repeating it could leak one."""
    transport.on("CreatePullPointSubscription", ConnectionClosed("closed", before_reply=True))
    client = make_client(clock, transport)
    client.services[TEV] = "http://10.1.2.42:80/onvif/events"
    failure_result_of(call_of(client.call(TEV, "CreatePullPointSubscription", "<x/>"))).trap(CameraUnreachable)
    assert transport.operations() == ["CreatePullPointSubscription"]


def test_a_camera_with_a_full_queue_refuses_more_requests_at_once(clock, transport):
    """Past the limiter's bound, the request fails as CameraBusy and is never sent."""
    held: Deferred = Deferred()
    transport.on("GetDeviceInformation", held)
    client = make_client(clock, transport, limiter=Limiter(overall=8, per_camera=1, max_waiting_per_camera=0))
    first = call_of(client.device_information())
    failure_result_of(call_of(client.device_information())).trap(CameraBusy)
    assert len(transport.sent) == 1
    held.callback(envelope("<tds:GetDeviceInformationResponse/>"))
    success_result_of(first)


def test_the_long_poll_does_not_wait_for_a_slot(clock, transport):
    """PullMessages goes straight to the transport even when the camera's slots are all taken."""
    held: Deferred = Deferred()
    transport.on("GetDeviceInformation", held)
    transport.on("PullMessages", envelope("<tev:PullMessagesResponse/>"))
    client = make_client(clock, transport, limiter=Limiter(overall=1, per_camera=1))
    first = call_of(client.device_information())
    success_result_of(call_of(client.call(TEV, "PullMessages", PULL_BODY,
                                          url="http://10.1.2.42:80/onvif/pull/1")))
    assert_no_result(first)
    held.callback(envelope("<tds:GetDeviceInformationResponse/>"))
    success_result_of(first)


def test_event_requests_carry_ws_addressing_to_their_address(clock, transport):
    """Pull points are told apart by wsa:To on some cameras; it names the address actually used."""
    transport.on("PullMessages", envelope("<tev:PullMessagesResponse/>"))
    client = make_client(clock, transport)
    url = "http://10.1.2.42:80/onvif/pull?id=7"
    success_result_of(call_of(client.call(TEV, "PullMessages", PULL_BODY, url=url)))
    assert transport.sent[0].wsa_to == url
    assert transport.sent[0].action.endswith("/PullMessagesRequest")


def test_a_service_the_camera_does_not_offer_is_a_reply_error(clock, transport):
    """Asking PTZ of a camera without it fails clearly instead of guessing an address."""
    error = failure_result_of(call_of(make_client(clock, transport).presets("P1"))).value
    assert isinstance(error, CameraReplyError) and "PTZ" in str(error)
    assert transport.sent == []


def test_no_secret_reaches_logs_or_errors(clock, transport, captured_logs):
    """Across refusals, resyncs and failures, the password shows up nowhere but in the digest inputs."""
    transport.on("GetDeviceInformation", NOT_AUTHORIZED, HttpError(401, NOT_AUTHORIZED, None, None))
    transport.on("GetSystemDateAndTime", NOT_AUTHORIZED, NOT_AUTHORIZED)
    error = failure_result_of(call_of(make_client(clock, transport).device_information())).value
    assert isinstance(error, AuthFailed)
    assert captured_logs, "the refusals are logged"
    assert PASSWORD not in repr(captured_logs) and PASSWORD not in str(error) and PASSWORD not in repr(error)


# --- addresses (quirk 4) ------------------------------------------------------------------------------


@pytest.mark.parametrize(("reported", "used"), [
    ("http://10.0.0.5:8106:8106/onvif/Media", "http://10.1.2.42:80/onvif/Media"),
    ("http://192.168.1.64/onvif/Events?sub=3&x=y", "http://10.1.2.42:80/onvif/Events?sub=3&x=y"),
    ("https://admin:pw@172.16.0.9:8443/onvif/ptz#frag", "http://10.1.2.42:80/onvif/ptz"),
    ("http://[fe80::1]:8080/onvif/pull/1", "http://10.1.2.42:80/onvif/pull/1"),
    ("/onvif/pull/2", "http://10.1.2.42:80/onvif/pull/2"),
    ("http://10.0.0.5", "http://10.1.2.42:80/"),
    ("  http://10.0.0.5/onvif/é  ", "http://10.1.2.42:80/onvif/%C3%A9"),
])
def test_reported_addresses_are_replaced_by_the_configured_one_keeping_path_and_query(clock, reported, used):
    assert make_client(clock).rewrite_address(reported) == used


@pytest.mark.parametrize("junk", ["", "   ", "not a url", "onvif/device", "http://", "http://:80/x",
                                  "http://host:99999/x", "http://host:abc/x", "http://[fe80::1/x",
                                  "http://h/a b", "x" * 3000, "http://h/\x00"])
def test_junk_addresses_are_refused_clearly(clock, junk):
    with pytest.raises(CameraReplyError):
        make_client(clock).rewrite_address(junk)


def test_without_override_the_reported_address_is_only_tidied(clock):
    """A doubled port counts once, credentials are dropped, the camera's host is kept."""
    client = make_client(clock, override_addresses=False)
    assert client.rewrite_address("http://u:p@10.0.0.5:8106:8106/onvif/x") == "http://10.0.0.5:8106/onvif/x"
    assert client.rewrite_address("https://cam.example/onvif/x") == "https://cam.example:443/onvif/x"
    with pytest.raises(CameraReplyError):
        client.rewrite_address("ftp://10.0.0.5/onvif")
    with pytest.raises(CameraReplyError):
        client.rewrite_address("/onvif/pull")


def test_the_configured_https_scheme_and_ipv6_host_are_used(clock):
    client = make_client(clock, scheme="https", host="2001:db8::42", port=8443)
    assert client.rewrite_address("http://10.0.0.5/onvif/x") == "https://[2001:db8::42]:8443/onvif/x"


def test_split_address_reads_a_doubled_port_once():
    address = split_address("http://10.0.0.5:8106:8106/onvif/Events")
    assert (address.scheme, address.host, address.port, address.rest) == ("http", "10.0.0.5", 8106, "/onvif/Events")


# --- services (quirk 7) -------------------------------------------------------------------------------


def test_services_come_from_get_services_with_addresses_rewritten(clock, transport):
    transport.on("GetServices", services({
        TDS: "http://192.168.0.2/onvif/device_service", TR2: "http://192.168.0.2:8106:8106/onvif/media2",
        TPTZ: "http://192.168.0.2/onvif/ptz", TEV: "garbage here"}))
    client = make_client(clock, transport)
    found = success_result_of(call_of(client.discover_services()))
    assert found == {TDS: "http://10.1.2.42:80/onvif/device_service", TR2: "http://10.1.2.42:80/onvif/media2",
                     TPTZ: "http://10.1.2.42:80/onvif/ptz"}
    assert client.services == found


@pytest.mark.parametrize("refusal", [fault("ter:ActionNotSupported", "Action not supported"), HttpError(500),
                                     b"<unparseable", HttpError(400, b"Bad Request")])
def test_get_capabilities_stands_in_when_get_services_fails(clock, transport, refusal):
    """A fault, an HTTP error or an unreadable reply to GetServices: GetCapabilities is asked instead."""
    transport.on("GetServices", refusal)
    transport.on("GetCapabilities", capabilities("http://192.168.0.2/onvif/Media", ptz="http://192.168.0.2/onvif/PTZ"))
    client = make_client(clock, transport)
    found = success_result_of(call_of(client.discover_services()))
    assert found[TRT] == "http://10.1.2.42:80/onvif/Media" and found[TPTZ] == "http://10.1.2.42:80/onvif/PTZ"


def test_an_auth_failure_on_get_services_is_not_hidden_by_the_fallback(clock, transport):
    transport.on("GetServices", NOT_AUTHORIZED, NOT_AUTHORIZED)
    transport.on("GetSystemDateAndTime", system_time(camera_now(clock)))
    failure_result_of(call_of(make_client(clock, transport).discover_services())).trap(AuthFailed)
    assert "GetCapabilities" not in transport.operations()


# --- media ------------------------------------------------------------------------------------------


def media_client(clock, transport, *namespaces):
    client = make_client(clock, transport)
    for namespace in namespaces:
        client.services[namespace] = f"http://10.1.2.42:80/onvif/{'media2' if namespace == TR2 else 'media'}"
    return client


def test_media2_is_preferred_when_offered(clock, transport):
    transport.on("GetProfiles", profiles("tr2", "main", "sub"))
    client = media_client(clock, transport, TRT, TR2)
    found = success_result_of(call_of(client.profiles()))
    assert [profile.token for profile in found] == ["main", "sub"]
    assert client.media == "media2" and transport.sent[0].url.endswith("/media2")
    assert transport.sent[0].action == f"{TR2}/GetProfiles"


def test_media1_is_used_when_it_is_all_there_is(clock, transport):
    transport.on("GetProfiles", profiles("trt", "Profile_1"))
    client = media_client(clock, transport, TRT)
    success_result_of(call_of(client.profiles()))
    assert client.media == "media1" and transport.sent[0].action == f"{TRT}/GetProfiles"


def test_a_media2_that_does_not_answer_falls_back_to_media1_and_stays_there(clock, transport):
    """Capabilities that lie (quirk 7): Media2 offered but faulting; Media1 is used from then on."""
    transport.on("GetProfiles", fault("ter:ActionNotSupported"), profiles("trt", "Profile_1"))
    transport.on("GetStreamUri", stream_uri("rtsp://192.168.0.2:554/Streaming/101"))
    client = media_client(clock, transport, TRT, TR2)
    success_result_of(call_of(client.profiles()))
    assert client.media == "media1"
    assert success_result_of(call_of(client.stream_uri("Profile_1"))) == "rtsp://10.1.2.42:554/Streaming/101"
    assert transport.sent[-1].url.endswith("/media")


def test_the_stream_uri_loses_credentials_and_keeps_its_rtsp_port(clock, transport):
    """A stream URI is shared with the police: never with credentials in it; RTSP keeps its own port."""
    transport.on("GetStreamUri", stream_uri("rtsp://admin:hunter2@192.168.0.2:8554:8554/live?ch=1"))
    client = media_client(clock, transport, TRT)
    uri = success_result_of(call_of(client.stream_uri("Profile_1")))
    assert uri == "rtsp://10.1.2.42:8554/live?ch=1"


def test_a_missing_snapshot_uri_is_no_snapshot(clock, transport):
    """GetSnapshotUri answered without a Uri (quirk 9): snapshot_uri is None, snapshot says NoSnapshot."""
    transport.on("GetSnapshotUri", snapshot_uri(None), snapshot_uri(None))
    client = media_client(clock, transport, TRT)
    assert success_result_of(call_of(client.snapshot_uri("Profile_1"))) is None
    failure_result_of(call_of(client.snapshot("Profile_1"))).trap(NoSnapshot)
    assert transport.gets == []


def test_a_snapshot_is_fetched_from_the_rewritten_uri_with_digest_and_a_cap(clock, transport):
    transport.on("GetSnapshotUri", snapshot_uri("http://192.168.0.2:8106:8106/snap.jpg?profile=1"))
    transport.on_get(("image/jpeg", b"\xff\xd8\xff jpeg"))
    client = media_client(clock, transport, TRT)
    assert success_result_of(call_of(client.snapshot("Profile_1"))) == ("image/jpeg", b"\xff\xd8\xff jpeg")
    url, digest, max_bytes = transport.gets[0]
    assert url == "http://10.1.2.42:80/snap.jpg?profile=1"
    assert digest.username == "hub" and max_bytes == client.max_snapshot_bytes


def test_a_snapshot_refused_is_an_auth_failure_and_a_missing_one_a_reply_error(clock, transport):
    transport.on("GetSnapshotUri", snapshot_uri("http://x/snap.jpg"), snapshot_uri("http://x/snap.jpg"))
    transport.on_get(HttpError(401), HttpError(404))
    client = media_client(clock, transport, TRT)
    failure_result_of(call_of(client.snapshot("P"))).trap(AuthFailed)
    failure_result_of(call_of(client.snapshot("P"))).trap(CameraReplyError)


# --- PTZ (quirk 9) ------------------------------------------------------------------------------------


def ptz_client(clock, transport):
    client = make_client(clock, transport)
    client.services[TPTZ] = "http://10.1.2.42:80/onvif/ptz"
    return client


def test_goto_preset_faulting_with_speed_is_sent_again_without(clock, transport):
    transport.on("GotoPreset", fault("ter:InvalidArgVal", "Speed"), empty("GotoPreset"))
    client = ptz_client(clock, transport)
    success_result_of(call_of(client.goto_preset("P1", "7", speed=0.5)))
    assert "Speed" in transport.sent[0].body_names() and "Speed" not in transport.sent[1].body_names()


def test_goto_preset_faulting_without_speed_is_not_repeated(clock, transport):
    transport.on("GotoPreset", fault("ter:NoToken", "no such preset"))
    failure_result_of(call_of(ptz_client(clock, transport).goto_preset("P1", "99"))).trap(CameraReplyError)
    assert transport.operations() == ["GotoPreset"]


def test_stop_sends_a_zero_velocity_move_and_then_stop(clock, transport):
    """Some cameras accept Stop and keep moving; every one obeys a zero velocity."""
    transport.on("ContinuousMove", empty("ContinuousMove"))
    transport.on("Stop", empty("Stop"))
    success_result_of(call_of(ptz_client(clock, transport).stop("P1")))
    assert transport.operations() == ["ContinuousMove", "Stop"]
    velocity = transport.sent[0].root.find(".//{http://www.onvif.org/ver20/ptz/wsdl}Velocity")
    assert {element.get("x") for element in velocity} == {"0"}


def test_stop_succeeds_if_either_halt_was_accepted_and_fails_if_neither(clock, transport):
    transport.on("ContinuousMove", empty("ContinuousMove"), fault(), fault())
    transport.on("Stop", fault(), empty("Stop"), fault("ter:NoProfile", "stop refused"))
    client = ptz_client(clock, transport)
    success_result_of(call_of(client.stop("P1")))  # zero move accepted, Stop refused
    success_result_of(call_of(client.stop("P1")))  # zero move refused, Stop accepted
    error = failure_result_of(call_of(client.stop("P1"))).value
    assert isinstance(error, CameraReplyError) and "stop refused" in str(error)


def test_moves_presets_and_home_reach_the_ptz_service(clock, transport):
    transport.on("ContinuousMove", empty("ContinuousMove"))
    transport.on("GotoHomePosition", empty("GotoHomePosition"))
    transport.on("GetPresets", envelope('<tptz:GetPresetsResponse><tptz:Preset token="1"><tt:Name>Gate</tt:Name>'
                                        "</tptz:Preset></tptz:GetPresetsResponse>"))
    client = ptz_client(clock, transport)
    success_result_of(call_of(client.continuous_move("P1", 0.5, 0.0, 0.0, 2.0)))
    success_result_of(call_of(client.goto_home("P1")))
    presets = success_result_of(call_of(client.presets("P1")))
    assert [(preset.token, preset.name) for preset in presets] == [("1", "Gate")]
    assert {sent.url for sent in transport.sent} == {"http://10.1.2.42:80/onvif/ptz"}
    assert "Timeout" in transport.sent[0].body_names()


def test_a_camera_without_credentials_sends_no_token_and_no_digest(clock, transport):
    transport.on("GetDeviceInformation", envelope("<tds:GetDeviceInformationResponse/>"))
    client = make_client(clock, transport, username=None, password=None)
    success_result_of(call_of(client.device_information()))
    assert transport.sent[0].created is None and transport.sent[0].digest is None


def test_camera_time_follows_the_hub_clock_plus_the_offset(clock):
    client = make_client(clock)
    client.clock_offset_s = -120.0
    assert client.camera_time() == datetime.fromtimestamp(HUB_T0 - 120, UTC)


def test_a_snapshot_whose_connection_closed_before_any_reply_is_fetched_once_more(clock, transport):
    """A GET is safe to repeat; a second closed connection is reported as unreachable."""
    transport.on("GetSnapshotUri", snapshot_uri("http://x/snap.jpg"), snapshot_uri("http://x/snap.jpg"))
    closed = ConnectionClosed("closed", before_reply=True)
    transport.on_get(closed, ("image/jpeg", b"\xff\xd8\xff"), closed, closed)
    client = media_client(clock, transport, TRT)
    assert success_result_of(call_of(client.snapshot("P"))) == ("image/jpeg", b"\xff\xd8\xff")
    failure_result_of(call_of(client.snapshot("P"))).trap(CameraUnreachable)
    assert len(transport.gets) == 4
