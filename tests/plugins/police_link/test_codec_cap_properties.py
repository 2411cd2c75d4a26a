"""Properties of the CAP codec over random input: any alert that can be built encodes valid against the OASIS
schema and reads back equal; any document, however mangled, is either read or refused with a CapError."""

from __future__ import annotations

import string
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plugins.police_link.codec.cap import (
    CATEGORIES,
    CERTAINTIES,
    MSG_TYPES,
    RESOURCE_SHA256,
    SEVERITIES,
    STATUSES,
    URGENCIES,
    CapAlert,
    CapArea,
    CapError,
    CapInfo,
    CapReference,
    CapResource,
    cap_listing,
    cap_time,
    decode_alert,
    encode_alert,
    identifier_for,
    parse_cap_time,
)
from tests.plugins.police_link import cap_samples as samples
from tests.plugins.police_link.conftest import assert_valid_cap

# Every character XML 1.0 allows, with the awkward ones (markup, CR, tab, line separators) made likely.
xml_chars = st.one_of(
    st.sampled_from('<>&"\'\t\n\r ]]>;#\u0085\u00a0\u2028\u3000'),
    st.characters(min_codepoint=0x20, max_codepoint=0xD7FF),
    st.characters(min_codepoint=0xE000, max_codepoint=0xFFFD),
    st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF),
)
free_text = st.text(xml_chars, max_size=30)
required_text = st.text(xml_chars, min_size=1, max_size=30).filter(str.strip)
optional_text = st.none() | free_text
token = st.text(xml_chars, min_size=1, max_size=20).filter(
    lambda text: not any(char.isspace() or char in ",<&" for char in text))
listed_name = required_text.filter(lambda text: '"' not in text)
hex40 = st.text("0123456789abcdefABCDEF", min_size=40, max_size=40)
hex64 = st.text("0123456789abcdef", min_size=64, max_size=64)
uri = st.builds("https://cctv-hub.example.gov.uk/api/evidence/{}?camera={}".format, hex64,
                st.text(string.ascii_letters + string.digits + "-._~%20", max_size=12).filter(
                    lambda text: "%" not in text.replace("%20", "")))

# Fixed offsets only (whole minutes within 14 hours are written as they are; seconds or more become UTC):
# aware datetimes in a zone with a repeated hour do not compare equal across zones, by Python's rules.
offsets = st.one_of(
    st.integers(-14 * 60, 14 * 60).map(lambda minutes: timedelta(minutes=minutes)),
    st.integers(-86_399, 86_399).map(lambda seconds: timedelta(seconds=seconds)),
).map(timezone)
moments = st.datetimes(min_value=datetime(2, 1, 2), max_value=datetime(9998, 12, 30), timezones=offsets)

latitudes = st.floats(-90, 90, allow_nan=False)
longitudes = st.floats(-180, 180, allow_nan=False)
points = st.tuples(latitudes, longitudes)
polygons = st.lists(points, min_size=3, max_size=8).map(lambda ring: (*ring, ring[0]))
geocodes = st.one_of(
    st.tuples(st.just("UPRN"), st.text("0123456789", min_size=1, max_size=12)),
    st.tuples(required_text.filter(lambda name: name != "UPRN"), required_text),
)
areas = st.builds(
    CapArea,
    description=required_text,
    circle=st.none() | st.tuples(latitudes, longitudes, st.floats(0, 40_075, allow_nan=False)),
    polygon=st.just(()) | polygons,
    geocodes=st.lists(geocodes, max_size=3).map(tuple),
)
resources = st.builds(
    CapResource,
    description=required_text,
    mime_type=st.sampled_from(["image/jpeg", "video/mp4", "application/pdf", "text/plain; charset=utf-8"]),
    size=st.none() | st.integers(0, 10**15),
    uri=st.none() | uri,
    sha1=st.none() | hex40,
    sha256=st.none() | hex64,
)
infos = st.builds(
    CapInfo,
    event=required_text,
    urgency=st.sampled_from(URGENCIES),
    severity=st.sampled_from(SEVERITIES),
    certainty=st.sampled_from(CERTAINTIES),
    category=st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=3).map(tuple),
    language=st.sampled_from(["en-GB", "cy", "en", "pa-Guru-IN", "x-klingon"]),
    headline=optional_text,
    description=optional_text,
    instruction=optional_text,
    sender_name=optional_text,
    web=st.none() | uri,
    contact=optional_text,
    parameters=st.lists(st.tuples(required_text.filter(lambda name: name != RESOURCE_SHA256), free_text),
                        max_size=3).map(tuple),
    resources=st.lists(resources, max_size=3, unique_by=lambda resource: resource.key).map(tuple),
    areas=st.lists(areas, max_size=2).map(tuple),
)
references = st.builds(CapReference, sender=token, identifier=token, sent=moments)


@st.composite
def alerts(draw: st.DrawFn) -> CapAlert:
    msg_type = draw(st.sampled_from(MSG_TYPES))
    scope = draw(st.sampled_from(["Private", "Public"]))
    names = draw(st.lists(listed_name, min_size=1 if scope == "Private" else 0, max_size=3))
    return CapAlert(
        identifier=draw(token | st.builds(identifier_for, token, st.text(min_size=1, max_size=20), st.integers(0, 10**6))),
        sender=draw(token),
        sent=draw(moments),
        status=draw(st.sampled_from(STATUSES)),
        msg_type=msg_type,
        scope=scope,
        addresses=cap_listing(names) if names else None,
        source=draw(optional_text),
        note=draw(optional_text),
        references=tuple(draw(st.lists(references, min_size=0 if msg_type == "Alert" else 1, max_size=3))),
        incidents=tuple(draw(st.lists(listed_name, max_size=3))),
        code=tuple(draw(st.lists(required_text, max_size=2))),
        info=tuple(draw(st.lists(infos, max_size=3))),
    )


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(alerts())
def test_any_alert_that_can_be_built_is_valid_cap_and_reads_back_equal(alert):
    """Unicode, markup characters, CR, tabs, odd offsets, tiny floats: the XSD accepts it and nothing changes."""
    xml = encode_alert(alert)
    assert_valid_cap(xml)
    assert decode_alert(xml) == alert
    assert decode_alert(xml.encode("utf-8")) == alert


@given(moments)
def test_cap_time_reads_back_as_the_same_instant_to_the_second(moment):
    written = cap_time(moment)
    assert len(written) == 25 and "Z" not in written and "." not in written
    assert parse_cap_time(written) == moment.replace(microsecond=0)
    if moment.utcoffset() == timedelta(0):
        assert written.endswith("-00:00")


@given(token, st.text(min_size=1, max_size=30), st.integers(0, 10**9), st.text(min_size=1, max_size=30),
       st.integers(0, 10**9))
def test_identifier_for_is_a_valid_identifier_and_never_the_same_for_two_inputs(sender, first, one, second, two):
    identifier = identifier_for(sender, first, one)
    CapReference(sender, identifier, samples.SENT)  # raises if CAP forbids anything in it
    assert (identifier == identifier_for(sender, second, two)) == ((first, one) == (second, two))


VALID = encode_alert(samples.update_of(samples.alert())).encode("utf-8")


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_a_mangled_alert_is_read_or_refused_with_a_cap_error_and_what_is_read_is_valid(data):
    """Bytes cut, dropped, repeated or replaced anywhere: decode_alert raises nothing but CapError, and an
    alert it does accept encodes valid against the schema again."""
    document = bytearray(VALID)
    for _ in range(data.draw(st.integers(1, 4))):
        start = data.draw(st.integers(0, len(document)))
        end = data.draw(st.integers(start, min(len(document), start + 40)))
        replacement = data.draw(st.one_of(st.binary(max_size=8), st.sampled_from(
            [b"", b"<", b">", b"&", b"&amp;", b"<!DOCTYPE a>", b"]]>", b"\x00", b"\xc3", b"<x/>", b"</info>"])))
        document[start:end] = replacement
    try:
        alert = decode_alert(bytes(document))
    except CapError:
        return
    assert_valid_cap(encode_alert(alert))


@given(st.binary(max_size=200) | st.text(max_size=200))
def test_random_input_is_refused_with_a_cap_error(document):
    try:
        decode_alert(document)
    except CapError:
        pass
