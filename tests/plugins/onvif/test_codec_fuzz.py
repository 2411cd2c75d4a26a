"""Hostile and broken replies: the reader and every reply parser fail only in the codec's three ways
(XmlRejected, ReplyError, SoapFault), entity tricks are refused without being expanded or fetched, and the
size cap holds."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from plugins.onvif.codec import device, events, media, ptz
from plugins.onvif.codec.soap import ReplyError, SoapFault, body_of
from plugins.onvif.codec.topics import KINDS, classify
from plugins.onvif.codec.xml import XmlRejected, parse_untrusted
from tests.plugins.onvif import codec_samples as samples

EXPECTED = (XmlRejected, ReplyError, SoapFault)

#: Every reply parser, by name, taking the parsed root.
PARSERS: dict[str, Callable[[etree._Element], object]] = {
    "system_date_and_time": device.parse_system_date_and_time,
    "services": device.parse_services,
    "capabilities": device.parse_capabilities,
    "device_information": device.parse_device_information,
    "profiles_media1": lambda root: media.parse_profiles(root, "media1"),
    "profiles_media2": lambda root: media.parse_profiles(root, "media2"),
    "stream_uri_media1": lambda root: media.parse_stream_uri(root, "media1"),
    "stream_uri_media2": lambda root: media.parse_stream_uri(root, "media2"),
    "snapshot_uri_media1": lambda root: media.parse_snapshot_uri(root, "media1"),
    "snapshot_uri_media2": lambda root: media.parse_snapshot_uri(root, "media2"),
    "presets": ptz.parse_presets,
    "create_pull_point": events.parse_create_pull_point_subscription,
    "pull_messages": lambda root: [classify(item) for item in events.parse_pull_messages(root).notifications],
    "renew": events.parse_renew,
    "fault": body_of,
    "empty": lambda root: ptz.parse_empty(root, "Stop"),
}


def read_with_every_parser(data: bytes) -> None:
    """Parse ``data`` and hand it to every parser; anything but the codec's own errors escapes."""
    try:
        root = parse_untrusted(data)
    except XmlRejected:
        return
    for parse in PARSERS.values():
        try:
            parse(root)
        except EXPECTED:
            pass


def test_every_sample_is_read_by_its_own_parser():
    """The fuzz seeds are valid: each sample parses with its parser (the fault sample raises its fault)."""
    for name, reply in samples.VALID_REPLIES.items():
        root = parse_untrusted(reply)
        if name == "fault":
            with pytest.raises(SoapFault):
                PARSERS[name](root)
        else:
            assert PARSERS[name](root) is not None or name in ("renew",)


# --- random bytes and mutations ---------------------------------------------------------------------


@given(st.binary(max_size=400))
@settings(max_examples=150, deadline=None)
def test_random_bytes_raise_nothing_but_the_codecs_errors(data):
    read_with_every_parser(data)


reply_names = st.sampled_from(sorted(samples.VALID_REPLIES))


@given(
    name=reply_names,
    edits=st.lists(
        st.tuples(
            st.sampled_from(["flip", "delete", "insert", "truncate"]), st.integers(0, 10**6), st.binary(max_size=8)
        ),
        min_size=1,
        max_size=6,
    ),
)
@settings(max_examples=200, deadline=None)
def test_byte_mutations_of_real_replies_raise_nothing_but_the_codecs_errors(name, edits):
    data = bytearray(samples.VALID_REPLIES[name])
    for kind, position, payload in edits:
        if not data:
            break
        at = position % len(data)
        if kind == "flip":
            data[at] ^= 1 << (position % 8)
        elif kind == "delete":
            del data[at : at + 1 + position % 16]
        elif kind == "insert":
            data[at:at] = payload
        else:
            del data[at:]
    read_with_every_parser(bytes(data))


# Structural mutations keep the XML well-formed so they reach the parsers' logic, not just the reader.
#: Text XML can hold (no control characters, no lone surrogates): anything else cannot come from a camera.
XML_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=20)
TEXTS = st.one_of(
    XML_TEXT,
    st.sampled_from(["", " ", "-1", "99999999999", "0000-00-00T00:00:00Z", "PT60S", "true", "NaN", "tns1:", "/"]),
)
TAGS = st.sampled_from(
    [
        "Uri",
        "MediaUri",
        "Profiles",
        "Preset",
        "Service",
        "XAddr",
        "Namespace",
        "NotificationMessage",
        "Topic",
        "Message",
        "SimpleItem",
        "Data",
        "Source",
        "Fault",
        "Code",
        "Subcode",
        "Value",
        "Reason",
        "Text",
        "Body",
        "UTCDateTime",
        "Date",
        "Time",
        "Year",
        "Capabilities",
        "Extension",
        "SubscriptionReference",
        "Address",
        "ReferenceParameters",
        "Configurations",
        "VideoEncoder",
        "Resolution",
        "Width",
        "x",
    ]
)
NAMESPACES = st.sampled_from(
    [
        "",
        "http://www.onvif.org/ver10/schema",
        "http://docs.oasis-open.org/wsn/b-2",
        "http://www.onvif.org/ver10/topics",
        "http://www.w3.org/2003/05/soap-envelope",
        "urn:vendor",
    ]
)
MUTATION = st.tuples(
    st.sampled_from(["remove", "duplicate", "retag", "retext", "reattribute", "empty", "nest"]),
    st.integers(0, 10**6),
    TAGS,
    NAMESPACES,
    TEXTS,
)


def mutate(tree: etree._Element, mutation) -> None:
    kind, position, tag, namespace, text = mutation
    elements = list(tree.iter())
    element = elements[position % len(elements)]
    parent = element.getparent()
    qualified = f"{{{namespace}}}{tag}" if namespace else tag
    if kind == "remove" and parent is not None:
        parent.remove(element)
    elif kind == "duplicate" and parent is not None:
        parent.insert(parent.index(element), etree.fromstring(etree.tostring(element)))
    elif kind == "retag":
        element.tag = qualified
    elif kind == "retext":
        element.text = text
    elif kind == "reattribute":
        element.set(("Name", "Value", "token", "UtcTime", "PropertyOperation")[position % 5], text)
    elif kind == "empty":
        for child in list(element):
            element.remove(child)
    elif kind == "nest":
        etree.SubElement(element, qualified).text = text


@given(name=reply_names, mutations=st.lists(MUTATION, min_size=1, max_size=5))
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_structural_mutations_of_real_replies_raise_nothing_but_the_codecs_errors(name, mutations):
    tree = etree.fromstring(samples.VALID_REPLIES[name])
    for mutation in mutations:
        mutate(tree, mutation)
    read_with_every_parser(etree.tostring(tree))


@given(topic=XML_TEXT, names=st.lists(XML_TEXT, max_size=4), values=st.lists(XML_TEXT, max_size=4))
@settings(max_examples=120, deadline=None)
def test_any_notification_content_is_read_and_classified(topic, names, values):
    """Notifications with arbitrary topics and item texts always parse and classify."""
    message = etree.Element("{http://docs.oasis-open.org/wsn/b-2}NotificationMessage")
    etree.SubElement(message, "{http://docs.oasis-open.org/wsn/b-2}Topic").text = topic
    inner = etree.SubElement(
        etree.SubElement(message, "{http://docs.oasis-open.org/wsn/b-2}Message"),
        "{http://www.onvif.org/ver10/schema}Message",
        UtcTime=values[0] if values else "",
    )
    data = etree.SubElement(inner, "{http://www.onvif.org/ver10/schema}Data")
    for item_name, value in zip(names, values, strict=False):
        etree.SubElement(data, "{http://www.onvif.org/ver10/schema}SimpleItem", Name=item_name, Value=value)
    reply = samples.pull_messages(etree.tostring(message, encoding="unicode"))
    (notification,) = events.parse_pull_messages(parse_untrusted(reply)).notifications
    assert classify(notification).kind in KINDS
    if ":" not in topic:  # (a prefix may be normalised; without one the topic is kept as sent)
        assert notification.topic == topic.strip()[: events.MAX_TEXT]


# --- entity tricks ----------------------------------------------------------------------------------


@contextmanager
def listening_server() -> Iterator[tuple[int, list[bytes]]]:
    """A loopback TCP server that records every connection (a fetch the parser must never make)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.05)
    seen: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                continue
            with connection:
                connection.settimeout(0.5)
                try:
                    seen.append(connection.recv(1024))
                except OSError:
                    seen.append(b"")
                connection.sendall(b'HTTP/1.0 200 OK\r\n\r\n<!ENTITY leak "LEAKED">')

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], seen
    finally:
        stop.set()
        thread.join(timeout=2)
        server.close()


def bombs(port: int) -> dict[str, str]:
    laughs = "".join(f'<!ENTITY lol{level} "{("&lol%d;" % (level - 1)) * 10}">' for level in range(2, 10))
    return {
        "billion_laughs": f'<!DOCTYPE lolz [<!ENTITY lol1 "lol">{laughs}]><lolz>&lol9;</lolz>',
        "quadratic_blowup": f'<!DOCTYPE kaboom [<!ENTITY a "{"x" * 50000}">]><kaboom>{"&a;" * 2000}</kaboom>',
        "external_file": '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
        "external_http": f'<!DOCTYPE x [<!ENTITY e SYSTEM "http://127.0.0.1:{port}/e">]><x>&e;</x>',
        "parameter_entity": f'<!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:{port}/p.dtd"> %p;]><x>&leak;</x>',
        "external_dtd": f'<!DOCTYPE x SYSTEM "http://127.0.0.1:{port}/x.dtd"><x>&leak;</x>',
        "soap_with_entity": (
            '<!DOCTYPE s:Envelope [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>'
            '<tds:GetDeviceInformationResponse xmlns:tds="http://www.onvif.org/ver10/device/wsdl">'
            "<tds:Model>&e;</tds:Model></tds:GetDeviceInformationResponse></s:Body></s:Envelope>"
        ),
        "spaced_doctype": '<!  doctype x [<!ENTITY e "boom">]><x>&e;</x>',
    }


ENCODINGS = ["utf-8", "utf-16", "utf-16-le-bom", "utf-32"]


def encode(text: str, encoding: str) -> bytes:
    """The document in ``encoding``, with a matching declaration: UTF-16 and UTF-32 hide ``<!DOCTYPE``
    from a byte search, so the reader must refuse them after parsing too."""
    if encoding == "utf-8":
        return ('<?xml version="1.0" encoding="UTF-8"?>' + text).encode()
    if encoding == "utf-16-le-bom":
        return b"\xff\xfe" + ('<?xml version="1.0" encoding="UTF-16"?>' + text).encode("utf-16-le")
    return (f'<?xml version="1.0" encoding="{encoding.upper()}"?>' + text).encode(encoding)


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("bomb", sorted(bombs(1)))
def test_entity_tricks_are_refused_without_expansion_or_fetching(bomb, encoding):
    with listening_server() as (port, seen):
        data = encode(bombs(port)[bomb], encoding)
        with pytest.raises(XmlRejected, match="document type declaration|not well-formed|cannot be read") as caught:
            parse_untrusted(data)
    assert seen == []  # no connection was made to fetch anything
    assert "root:" not in str(caught.value) and "LEAKED" not in str(caught.value)


def test_xinclude_is_never_processed():
    """An XInclude element is just an element: nothing is fetched or included, and parsers refuse it."""
    reply = (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:xi="http://www.w3.org/2001/XInclude">'
        '<s:Body><tds:GetDeviceInformationResponse xmlns:tds="http://www.onvif.org/ver10/device/wsdl">'
        '<tds:Model><xi:include href="file:///etc/passwd" parse="text"/></tds:Model>'
        "</tds:GetDeviceInformationResponse></s:Body></s:Envelope>"
    ).encode()
    root = parse_untrusted(reply)
    assert b"root:" not in etree.tostring(root)
    assert device.parse_device_information(root).model is None


def test_the_size_cap_refuses_before_parsing():
    reply = samples.pull_messages(*(samples.notification("tns1:VideoSource/MotionAlarm", "State=true"),) * 50)
    assert len(events.parse_pull_messages(parse_untrusted(reply, max_bytes=len(reply))).notifications) == 50
    with pytest.raises(XmlRejected, match="cap"):
        parse_untrusted(reply, max_bytes=len(reply) - 1)
    with pytest.raises(XmlRejected, match="cap"):
        parse_untrusted(b"<a>" + b" " * (1024 * 1024) + b"</a>")  # the default cap is 1 MiB


def test_deep_nesting_is_refused_not_a_recursion_error():
    """libxml2's depth limit (no huge_tree) stops a nesting bomb before any Python code recurses."""
    depth = 100_000
    data = b"<a>" * depth + b"</a>" * depth
    with pytest.raises(XmlRejected):
        parse_untrusted(data)


@given(st.integers(min_value=0, max_value=4000))
@settings(max_examples=30, deadline=None)
def test_the_cap_is_exact_for_any_size(cap):
    data = b"<a>" + b"x" * 1000 + b"</a>"
    if len(data) <= cap:
        assert parse_untrusted(data, max_bytes=cap).tag == "a"
    else:
        with pytest.raises(XmlRejected, match="cap"):
            parse_untrusted(data, max_bytes=cap)
