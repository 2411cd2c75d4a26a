"""Reading untrusted camera XML: prefixes a camera forgot to declare, lookups by local name, the size cap.
(Entity bombs and fuzzing are in test_codec_fuzz.py.)"""

from __future__ import annotations

import pytest

from plugins.onvif.codec import ptz
from plugins.onvif.codec.soap import body_of
from plugins.onvif.codec.xml import XmlRejected, child, children, local_name, parse_untrusted, path, text_of

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"

# ipycam (and some firmware) writes PTZ replies with a ptz: prefix it never declares.
UNDECLARED_PTZ = (
    f'<s:Envelope xmlns:s="{SOAP12}"><s:Body><ptz:GetPresetsResponse>'
    '<tptz:Preset token="1"><tt:Name>Gate</tt:Name></tptz:Preset>'
    '<tptz:Preset token="2"/></ptz:GetPresetsResponse></s:Body></s:Envelope>'
).encode()


def test_a_reply_whose_only_fault_is_an_undeclared_prefix_is_read():
    """Elements with undeclared prefixes keep their literal names and are found by local name."""
    root = parse_untrusted(UNDECLARED_PTZ)
    body = body_of(root)
    assert local_name(body) == "GetPresetsResponse"
    assert [preset.get("token") for preset in children(body, "Preset")] == ["1", "2"]
    assert ptz.parse_presets(root) == (ptz.Preset("1", "Gate"), ptz.Preset("2", None))


def test_an_empty_reply_to_a_command_with_an_undeclared_prefix_is_accepted():
    reply = f'<s:Envelope xmlns:s="{SOAP12}"><s:Body><ptz:StopResponse/></s:Body></s:Envelope>'.encode()
    assert ptz.parse_empty(parse_untrusted(reply), "Stop") is None


@pytest.mark.parametrize(
    "reply",
    [
        b"<a><b></a>",  # mismatched tags
        b"<x:a><b></x:a>",  # an undeclared prefix *and* a broken structure
        f'<s:Envelope xmlns:s="{SOAP12}"><s:Body><ptz:StopResponse></s:Body>'.encode(),
        b"<a>&undefined;</a>",
        b"<a>\x00</a>",
        b"not xml at all",
    ],
)
def test_other_malformations_are_still_refused(reply):
    """Leniency covers undeclared prefixes only: anything else not well-formed is XmlRejected."""
    with pytest.raises(XmlRejected, match="not well-formed|cannot be read"):
        parse_untrusted(reply)


def test_the_size_cap_is_checked_before_parsing():
    data = b"<a>" + b"x" * 2000 + b"</a>"
    assert parse_untrusted(data, max_bytes=len(data)).tag == "a"
    with pytest.raises(XmlRejected, match="over the 2000-byte cap"):
        parse_untrusted(data, max_bytes=2000)


def test_lookups_match_by_local_name_under_any_prefix_and_follow_paths():
    root = parse_untrusted(
        b'<r xmlns:a="urn:a" xmlns:b="urn:b"><a:MediaUri><b:Uri> rtsp://x </b:Uri></a:MediaUri>'
        b"<Uri>second</Uri><!-- comment --><a:Uri>third</a:Uri></r>"
    )
    assert text_of(path(root, "MediaUri", "Uri")) == "rtsp://x"
    assert [text_of(found) for found in children(root, "Uri")] == ["second", "third"]
    assert child(root, "Missing") is None
    assert path(root, "MediaUri", "Missing", "Uri") is None
    assert child(None, "Uri") is None and children(None, "Uri") == []
    assert text_of(child(root, "MediaUri")) is None  # only whitespace-free text counts


def test_earlier_broken_replies_do_not_change_the_verdict_on_the_next_one():
    """lxml keeps a per-thread log of past errors: judging a reply must look at its own errors only."""
    for broken in (b"<a><b></a>", b"<a>&x;</a>", b"\x00"):
        with pytest.raises(XmlRejected):
            parse_untrusted(broken)
    assert ptz.parse_presets(parse_untrusted(UNDECLARED_PTZ))[0].token == "1"
    # And the other way round: a reply read leniently does not excuse the next one's real fault.
    with pytest.raises(XmlRejected):
        parse_untrusted(b"<x:a><b></x:a>")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
def test_a_doctype_hidden_from_the_byte_check_by_its_encoding_is_still_refused(encoding):
    data = f'<?xml version="1.0" encoding="{encoding.upper()}"?><!DOCTYPE x><x/>'.encode(encoding)
    assert b"DOCTYPE" not in data
    with pytest.raises(XmlRejected, match="document type declaration"):
        parse_untrusted(data)
