"""Media (Profile S) and Media2 (Profile T): the requests in each shape, and profiles and URIs out of
either shape of answer."""

from __future__ import annotations

import pytest
from lxml import etree

from plugins.onvif.codec import media
from plugins.onvif.codec import namespaces as ns
from plugins.onvif.codec.media import Profile
from plugins.onvif.codec.soap import ReplyError, envelope
from plugins.onvif.codec.xml import parse_untrusted
from tests.plugins.onvif import codec_samples as samples


def request_body(body_xml: str) -> etree._Element:
    root = etree.fromstring(envelope(body_xml))
    return root.find(f"{{{ns.SOAP_ENV}}}Body")[0]


# --- requests ---------------------------------------------------------------------------------------


def test_get_profiles_asks_media2_for_every_configuration():
    """Media1 GetProfiles has no argument; Media2's asks Type All, without which a camera answers only
    tokens and names (no encoder, no PTZ)."""
    assert request_body(media.get_profiles("media1")).tag == f"{{{ns.TRT}}}GetProfiles"
    assert len(request_body(media.get_profiles("media1"))) == 0
    media2 = request_body(media.get_profiles("media2"))
    assert media2.tag == f"{{{ns.TR2}}}GetProfiles"
    assert [element.text for element in media2.iter(f"{{{ns.TR2}}}Type")] == ["All"]


def test_get_stream_uri_in_media1_carries_a_stream_setup_for_rtsp_unicast():
    body = request_body(media.get_stream_uri("media1", "Profile_1"))
    assert body.tag == f"{{{ns.TRT}}}GetStreamUri"
    assert body.findtext(f"{{{ns.TRT}}}StreamSetup/{{{ns.TT}}}Stream") == "RTP-Unicast"
    assert body.findtext(f"{{{ns.TRT}}}StreamSetup/{{{ns.TT}}}Transport/{{{ns.TT}}}Protocol") == "RTSP"
    assert body.findtext(f"{{{ns.TRT}}}ProfileToken") == "Profile_1"
    # The schema's order: StreamSetup before ProfileToken (strict cameras validate it).
    assert [etree.QName(element).localname for element in body] == ["StreamSetup", "ProfileToken"]


def test_get_stream_uri_in_media2_names_the_protocol():
    body = request_body(media.get_stream_uri("media2", "profile_1_h265"))
    assert body.tag == f"{{{ns.TR2}}}GetStreamUri"
    assert [(etree.QName(element).localname, element.text) for element in body] == [
        ("Protocol", "RtspUnicast"),
        ("ProfileToken", "profile_1_h265"),
    ]


@pytest.mark.parametrize("kind", ["media1", "media2"])
def test_snapshot_requests_name_the_profile_and_tokens_are_escaped(kind):
    """A token from a camera is data, never markup, in the request."""
    body = request_body(media.get_snapshot_uri(kind, 'a<b>&"c'))
    assert etree.QName(body).localname == "GetSnapshotUri"
    assert etree.QName(body).namespace == (ns.TRT if kind == "media1" else ns.TR2)
    assert body[0].text == 'a<b>&"c'


def test_an_unknown_media_kind_is_refused():
    with pytest.raises(ValueError, match="media1"):
        media.get_profiles("media3")


# --- GetProfiles ------------------------------------------------------------------------------------


def test_media1_profiles_give_token_name_ptz_and_encoder():
    """Profiles without a token are skipped; a profile without PTZConfiguration cannot move."""
    profiles = media.parse_profiles(parse_untrusted(samples.PROFILES_MEDIA1), "media1")
    assert profiles == (
        Profile("Profile_1", "mainStream", True, "PTZToken", "H264", 1920, 1080),
        Profile("Profile_2", "subStream", False, None, "JPEG", 640, 360),
    )


def test_media2_profiles_are_read_from_their_configurations():
    profiles = media.parse_profiles(parse_untrusted(samples.PROFILES_MEDIA2), "media2")
    assert profiles == (
        Profile("profile_1_h265", "profile_1 h265", True, "0", "H265", 3840, 2160),
        Profile("profile_2_jpeg", "snapshots", False, None, None, None, None),
    )


def test_a_media1_shaped_answer_to_media2_is_still_read():
    """Some cameras answer the Media2 address in the Media1 shape; the parser reads what came."""
    profiles = media.parse_profiles(parse_untrusted(samples.PROFILES_MEDIA1), "media2")
    assert [profile.token for profile in profiles] == ["Profile_1", "Profile_2"]
    assert profiles[0].has_ptz


def test_a_camera_with_no_profiles_answers_an_empty_tuple():
    reply = samples.odd(f'<m:GetProfilesResponse xmlns:m="{ns.TRT}"/>')
    assert media.parse_profiles(parse_untrusted(reply), "media1") == ()


def test_odd_resolutions_are_none_not_an_error():
    reply = samples.odd(
        f'<m:GetProfilesResponse xmlns:m="{ns.TRT}" xmlns:t="{ns.TT}"><m:Profiles token="p">'
        "<t:VideoEncoderConfiguration><t:Encoding>H264</t:Encoding><t:Resolution><t:Width>-1</t:Width>"
        "<t:Height>1e9</t:Height></t:Resolution></t:VideoEncoderConfiguration>"
        '<t:PTZConfiguration token=""/></m:Profiles></m:GetProfilesResponse>'
    )
    (profile,) = media.parse_profiles(parse_untrusted(reply), "media1")
    assert (profile.width, profile.height) == (None, None)
    assert profile.has_ptz and profile.ptz_configuration_token is None


def test_profiles_answer_to_another_question_is_a_reply_error():
    with pytest.raises(ReplyError, match="GetProfilesResponse"):
        media.parse_profiles(parse_untrusted(samples.PRESETS), "media1")


# --- URIs -------------------------------------------------------------------------------------------


def test_stream_uris_are_read_from_either_shape_as_sent():
    assert (
        media.parse_stream_uri(parse_untrusted(samples.STREAM_URI_MEDIA1), "media1")
        == "rtsp://10.1.2.42:554/Streaming/Channels/101?transportmode=unicast&profile=Profile_1"
    )
    assert (
        media.parse_stream_uri(parse_untrusted(samples.STREAM_URI_MEDIA2), "media2")
        == "rtsp://192.168.0.90/onvif-media/media.amp?profile=profile_1_h265&sessiontimeout=60"
    )
    # Mixed: a bare Uri from the Media1 address.
    assert media.parse_stream_uri(parse_untrusted(samples.STREAM_URI_MEDIA2), "media1").startswith("rtsp://")


def test_a_stream_uri_answer_without_a_uri_is_a_reply_error():
    reply = samples.odd(f'<m:GetStreamUriResponse xmlns:m="{ns.TRT}"><m:MediaUri/></m:GetStreamUriResponse>')
    with pytest.raises(ReplyError, match="no Uri"):
        media.parse_stream_uri(parse_untrusted(reply), "media1")


def test_snapshot_uris_are_read_from_either_shape():
    assert (
        media.parse_snapshot_uri(parse_untrusted(samples.SNAPSHOT_URI_MEDIA1), "media1")
        == "http://10.1.2.42/onvif-http/snapshot?Profile_1"
    )
    assert (
        media.parse_snapshot_uri(parse_untrusted(samples.SNAPSHOT_URI_MEDIA2), "media2")
        == "http://192.168.0.90/onvif-cgi/jpg/image.cgi?resolution=1920x1080&compression=30"
    )


@pytest.mark.parametrize("reply", [samples.SNAPSHOT_URI_MISSING, samples.SNAPSHOT_URI_EMPTY])
def test_a_snapshot_answer_without_a_uri_is_none(reply):
    """Quirk 9: some cameras answer GetSnapshotUri with no Uri (or a blank one) instead of a fault."""
    assert media.parse_snapshot_uri(parse_untrusted(reply), "media1") is None


def test_doubled_ports_in_uris_are_returned_as_sent():
    """Rewriting a camera's wrong address is the client's decision; the codec reports what was said."""
    reply = samples.hik(
        "<trt:GetSnapshotUriResponse><trt:MediaUri><tt:Uri>http://10.1.2.42:8106:8106/snap.jpg</tt:Uri>"
        "</trt:MediaUri></trt:GetSnapshotUriResponse>"
    )
    assert media.parse_snapshot_uri(parse_untrusted(reply), "media1") == "http://10.1.2.42:8106:8106/snap.jpg"
