"""WS-Discovery codec: the Probe the hub sends, and the ProbeMatches anything on the network may send back."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plugins.onvif.codec import discovery as codec
from plugins.onvif.codec.namespaces import DN, TDS, WSA_2004, WSD
from plugins.onvif.codec.xml import XmlRejected

CAMERA = codec.ProbeMatch(
    address="urn:uuid:4d7c6a8e-0000-4000-8000-000000000042",
    types=(codec.NETWORK_VIDEO_TRANSMITTER, codec.DEVICE),
    scopes=(
        "onvif://www.onvif.org/type/video_encoder",
        "onvif://www.onvif.org/name/High%20St%20%2F%20Market%20Sq",
        "onvif://www.onvif.org/location/country/uk",
        "onvif://www.onvif.org/location/city/Leeds",
        "onvif://www.onvif.org/hardware/PTZ-2000",
    ),
    xaddrs=("http://10.1.2.42/onvif/device_service", "http://[fe80::1]/onvif/device_service"),
    metadata_version=7,
)


def read_matches(data: bytes) -> codec.ProbeMatches:
    return codec.parse_probe_matches(codec.parse_datagram(data))


def envelope(body: str, header: str = "", extra_ns: str = "") -> bytes:
    return (
        f'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="{WSA_2004}" '
        f'xmlns:d="{WSD}" {extra_ns}><s:Header>{header}</s:Header><s:Body>{body}</s:Body></s:Envelope>'
    ).encode()


def match_xml(address: str = "urn:uuid:cam", types: str = "dn:NetworkVideoTransmitter", xaddrs: str = "") -> str:
    return (
        f"<d:ProbeMatch><a:EndpointReference><a:Address>{address}</a:Address></a:EndpointReference>"
        f"<d:Types>{types}</d:Types><d:Scopes>onvif://www.onvif.org/name/x</d:Scopes>"
        f"<d:XAddrs>{xaddrs or 'http://10.0.0.1/onvif/device_service'}</d:XAddrs>"
        "<d:MetadataVersion>1</d:MetadataVersion></d:ProbeMatch>"
    )


# --- The Probe ---------------------------------------------------------------------------------------------


def test_probe_asks_for_network_video_transmitters_under_the_given_message_id():
    """The Probe carries the message id, the Probe action, the discovery To and the NVT type."""
    data = codec.probe("urn:uuid:1111")
    root = codec.parse_datagram(data)
    header = root.find("{http://www.w3.org/2003/05/soap-envelope}Header")
    assert header.findtext(f"{{{WSA_2004}}}MessageID") == "urn:uuid:1111"
    assert header.findtext(f"{{{WSA_2004}}}Action") == f"{WSD}/Probe"
    assert header.findtext(f"{{{WSA_2004}}}To") == "urn:schemas-xmlsoap-org:ws:2005:04:discovery"
    probe = codec.parse_probe(root)
    assert probe == codec.Probe(message_id="urn:uuid:1111", types=(f"{{{DN}}}NetworkVideoTransmitter",), scopes=())


def test_probe_escapes_its_message_id():
    """A message id is text, never markup."""
    probe = codec.parse_probe(codec.parse_datagram(codec.probe("urn:<x>&'\"")))
    assert probe.message_id == "urn:<x>&'\""


def test_probe_for_a_type_in_another_namespace_declares_it():
    """Types outside dn/tds get a prefix declared on the Types element, so they still resolve."""
    probe = codec.parse_probe(codec.parse_datagram(codec.probe("urn:uuid:2", types=("{urn:example}Printer",))))
    assert probe.types == ("{urn:example}Printer",)


def test_a_probe_wants_devices_with_every_asked_type_and_scope():
    """Types must all be the device's; scopes match by whole leading path segments."""
    assert codec.Probe("m", types=(codec.NETWORK_VIDEO_TRANSMITTER,), scopes=()).wants(CAMERA)
    assert codec.Probe("m", types=(codec.DEVICE,), scopes=()).wants(CAMERA)
    assert codec.Probe("m", types=(), scopes=()).wants(CAMERA)
    assert not codec.Probe("m", types=("{urn:example}Printer",), scopes=()).wants(CAMERA)
    assert codec.Probe("m", types=(), scopes=("ONVIF://www.onvif.org/location/city",)).wants(CAMERA)
    assert codec.Probe("m", types=(), scopes=("onvif://www.onvif.org/location/city/Leeds",)).wants(CAMERA)
    assert not codec.Probe("m", types=(), scopes=("onvif://www.onvif.org/location/city/Lee",)).wants(CAMERA)
    assert not codec.Probe("m", types=(), scopes=("onvif://www.onvif.org/location/city/leeds",)).wants(CAMERA)


# --- ProbeMatches ------------------------------------------------------------------------------------------


def test_probe_matches_round_trip():
    """What the simulator's responder sends is what the hub reads back, field for field."""
    reply = read_matches(codec.probe_matches("urn:uuid:reply", "urn:uuid:probe", [CAMERA], message_number=3))
    assert reply == codec.ProbeMatches(message_id="urn:uuid:reply", relates_to="urn:uuid:probe", matches=(CAMERA,))


def test_scopes_give_name_location_and_hardware_decoded():
    """Percent-encoding is undone; several location scopes are all kept."""
    assert CAMERA.name == "High St / Market Sq"
    assert CAMERA.location == "country/uk; city/Leeds"
    assert CAMERA.hardware == "PTZ-2000"
    assert codec.ProbeMatch("a", (), (), (), None).name is None


def test_a_camera_reply_with_its_own_prefixes_and_a_types_declaration_of_its_own():
    """Prefixes are the camera's choice: types resolve through the declarations in scope, whatever they are."""
    data = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" '
        f'xmlns:wsa="{WSA_2004}" xmlns:wsdd="{WSD}" xmlns:tdn="{DN}">'
        "<SOAP-ENV:Header><wsa:MessageID>uuid:abc</wsa:MessageID><wsa:RelatesTo>urn:uuid:p</wsa:RelatesTo>"
        "</SOAP-ENV:Header><SOAP-ENV:Body><wsdd:ProbeMatches><wsdd:ProbeMatch>"
        "<wsa:EndpointReference><wsa:Address>uuid:cam-1</wsa:Address></wsa:EndpointReference>"
        f'<wsdd:Types xmlns:dev="{TDS}">tdn:NetworkVideoTransmitter dev:Device</wsdd:Types>'
        "<wsdd:Scopes>\n onvif://www.onvif.org/name/IPCAM\n\tonvif://www.onvif.org/hardware/X1 </wsdd:Scopes>"
        "<wsdd:XAddrs>http://192.168.0.64:80/onvif/device_service</wsdd:XAddrs>"
        "<wsdd:MetadataVersion>10</wsdd:MetadataVersion>"
        "</wsdd:ProbeMatch></wsdd:ProbeMatches></SOAP-ENV:Body></SOAP-ENV:Envelope>"
    ).encode()
    reply = read_matches(data)
    assert reply.relates_to == "urn:uuid:p"
    (match,) = reply.matches
    assert match.address == "uuid:cam-1"
    assert match.types == (codec.NETWORK_VIDEO_TRANSMITTER, codec.DEVICE)
    assert match.scopes == ("onvif://www.onvif.org/name/IPCAM", "onvif://www.onvif.org/hardware/X1")
    assert match.xaddrs == ("http://192.168.0.64:80/onvif/device_service",)
    assert match.metadata_version == 10
    assert match.is_video_device


def test_the_2009_discovery_namespace_is_read_too():
    """Devices that answer in the OASIS 2009 namespaces (and 2005/08 addressing) are still found."""
    match = match_xml().replace("<d:", "<d9:").replace("</d:", "</d9:").replace("<a:", "<a5:").replace("</a:", "</a5:")
    data = envelope(
        body=f"<d9:ProbeMatches>{match}</d9:ProbeMatches>",
        extra_ns=f'xmlns:d9="{codec.WSD_2009}" xmlns:a5="{codec.WSA_2005}" xmlns:dn="{DN}"',
    )
    (found,) = read_matches(data).matches
    assert found.address == "urn:uuid:cam"
    assert found.types == (codec.NETWORK_VIDEO_TRANSMITTER,)


@pytest.mark.parametrize(
    ("types", "extra_ns", "video"),
    [
        ("dn:NetworkVideoTransmitter", f'xmlns:dn="{DN}"', True),
        ("tds:Device", f'xmlns:tds="{TDS}"', True),
        ("dn:NetworkVideoTransmitter", "", True),  # prefix never declared: the name is clear enough
        ("wsdp:Device", 'xmlns:wsdp="http://schemas.xmlsoap.org/ws/2006/02/devprof"', False),  # a printer
        ("", "", True),  # no types: it answered a typed Probe
    ],
)
def test_video_devices_are_told_from_other_devices_by_type(types, extra_ns, video):
    """NetworkVideoTransmitter and tds:Device are cameras; a WS-Discovery printer is not."""
    data = envelope(f"<d:ProbeMatches>{match_xml(types=types)}</d:ProbeMatches>", "", extra_ns)
    (match,) = read_matches(data).matches
    assert match.is_video_device is video


# --- Hostile and broken replies ----------------------------------------------------------------------------


def test_an_entity_bomb_is_refused_before_parsing():
    """A DTD in a datagram is refused outright: no entity is ever expanded."""
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
        + envelope("<d:ProbeMatches>&lol2;</d:ProbeMatches>")
    )
    with pytest.raises(XmlRejected, match="document type"):
        codec.parse_datagram(bomb)


def test_an_external_entity_is_refused():
    data = b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + envelope("<d:ProbeMatches/>")
    with pytest.raises(XmlRejected):
        codec.parse_datagram(data)


def test_a_datagram_larger_than_udp_allows_is_refused():
    with pytest.raises(XmlRejected, match="cap"):
        codec.parse_datagram(b" " * 70_000 + envelope("<d:ProbeMatches/>"))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<html><body>hi</body></html>", "not a SOAP 1.2 envelope"),
        (envelope("<d:Hello/>"), "not ProbeMatches"),
        (envelope("<d:Probe/>"), "not ProbeMatches"),
        (envelope(""), "not ProbeMatches"),
        (envelope('<x:ProbeMatches xmlns:x="urn:other"/>'), "not ProbeMatches"),
        (b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"/>', "no Body"),
    ],
)
def test_what_is_not_probe_matches_is_refused_by_name(data, message):
    """Hellos, other clients' Probes and strangers' packets are told apart from answers."""
    with pytest.raises(codec.DiscoveryError, match=message):
        read_matches(data)


def test_the_refusal_never_repeats_the_datagram():
    secret_looking = "ProbeMatchesButNot" + "A" * 500
    with pytest.raises(codec.DiscoveryError) as caught:
        read_matches(envelope(f"<d:{secret_looking}/>"))
    assert "A" * 50 not in str(caught.value)


def test_a_match_without_an_endpoint_reference_is_skipped():
    """The endpoint reference is what tells devices apart; a match without one is useless."""
    no_address = "<d:ProbeMatch><d:Types>dn:NetworkVideoTransmitter</d:Types></d:ProbeMatch>"
    reply = read_matches(envelope(f"<d:ProbeMatches>{no_address}{match_xml('urn:uuid:ok')}</d:ProbeMatches>"))
    assert [match.address for match in reply.matches] == ["urn:uuid:ok"]


def test_lists_in_a_reply_are_bounded():
    """Thousands of matches, scopes or addresses in one datagram are cut to a readable few."""
    many_matches = "".join(match_xml(f"urn:uuid:{n}") for n in range(200))
    assert len(read_matches(envelope(f"<d:ProbeMatches>{many_matches}</d:ProbeMatches>")).matches) == 64
    many_xaddrs = " ".join(f"http://10.0.{n // 256}.{n % 256}/" for n in range(1000))
    (match,) = read_matches(envelope(f"<d:ProbeMatches>{match_xml(xaddrs=many_xaddrs)}</d:ProbeMatches>")).matches
    assert len(match.xaddrs) == 64
    huge = "http://10.0.0.1/" + "a" * 5000
    data = envelope(f"<d:ProbeMatches>{match_xml(xaddrs=huge + ' http://10.0.0.2/')}</d:ProbeMatches>")
    (match,) = read_matches(data).matches
    assert match.xaddrs == ("http://10.0.0.2/",)


@pytest.mark.parametrize("text", ["x", "-1", "99999999999999999999", "1.5", ""])
def test_a_garbled_metadata_version_is_none(text):
    xml = match_xml().replace("<d:MetadataVersion>1<", f"<d:MetadataVersion>{text}<")
    (match,) = read_matches(envelope(f"<d:ProbeMatches>{xml}</d:ProbeMatches>")).matches
    assert match.metadata_version is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_are_read_or_refused_cleanly(data):
    """Whatever arrives on the socket ends as ProbeMatches, XmlRejected or DiscoveryError, nothing else."""
    try:
        read_matches(data)
    except (XmlRejected, codec.DiscoveryError):
        pass


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), st.text(max_size=300), st.text(max_size=100))
def test_any_text_in_the_fields_is_read_or_refused_cleanly(types, scopes, address):
    """Hostile field contents inside a valid envelope never raise anything unexpected."""
    from xml.sax.saxutils import escape

    body = (
        f"<d:ProbeMatches><d:ProbeMatch><a:EndpointReference><a:Address>{escape(address)}</a:Address>"
        f"</a:EndpointReference><d:Types>{escape(types)}</d:Types><d:Scopes>{escape(scopes)}</d:Scopes>"
        f"<d:XAddrs>{escape(scopes)}</d:XAddrs></d:ProbeMatch></d:ProbeMatches>"
    )
    try:
        reply = read_matches(envelope(body))
    except (XmlRejected, codec.DiscoveryError):
        return
    for match in reply.matches:
        assert isinstance(match.is_video_device, bool)
        match.name, match.location, match.hardware  # noqa: B018 - must not raise
        codec.preferred_address(match, answered_from="10.0.0.1")


# --- XAddrs ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("xaddr", "expected"),
    [
        ("http://10.1.2.42/onvif/device_service", ("http", "10.1.2.42", 80, "/onvif/device_service")),
        ("https://cam-7.example/onvif/device_service", ("https", "cam-7.example", 443, "/onvif/device_service")),
        ("http://10.1.2.42:8106:8106/onvif/device_service", ("http", "10.1.2.42", 8106, "/onvif/device_service")),
        ("http://[2001:db8::42]:8080/onvif/dev", ("http", "2001:db8::42", 8080, "/onvif/dev")),
        ("http://admin:pw@10.0.0.5/onvif/device_service", ("http", "10.0.0.5", 80, "/onvif/device_service")),
        ("HTTP://10.0.0.5", ("http", "10.0.0.5", 80, "/onvif/device_service")),
        ("ftp://10.0.0.5/", None),
        ("http://10.0.0.5:99999/", None),
        ("http://10.0.0.5:80:81/", None),
        ("http:///onvif", None),
        ("http://bad host/x", None),
        ("not a url", None),
    ],
)
def test_xaddrs_are_read_leniently_but_only_as_http(xaddr, expected):
    """Doubled ports (quirk 4) read once; credentials dropped; anything but http(s) with a host refused."""
    address = codec.parse_xaddr(xaddr)
    if expected is None:
        assert address is None
    else:
        assert (address.scheme, address.host, address.port, address.path) == expected


def test_the_preferred_xaddr_is_on_the_host_that_answered_then_ipv4_then_http():
    match = codec.ProbeMatch(
        "a",
        (),
        (),
        (
            "http://[fe80::1]/onvif/device_service",
            "https://10.0.0.9/onvif/device_service",
            "http://10.0.0.9/onvif/device_service",
            "http://172.16.0.9/onvif/device_service",
        ),
        None,
    )
    assert codec.preferred_address(match).url == "http://10.0.0.9:80/onvif/device_service"
    assert codec.preferred_address(match, answered_from="172.16.0.9").host == "172.16.0.9"
    assert codec.preferred_address(codec.ProbeMatch("a", (), (), ("ftp://x",), None)) is None
